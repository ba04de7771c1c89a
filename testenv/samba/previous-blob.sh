#!/usr/bin/env bash
# An msDS-ManagedPassword blob that carries a previous password, from the running test DC.
#
#     testenv/samba/previous-blob.sh OUTDIR [DAYS]      (root)
#
# A gMSA's password changes every msDS-ManagedPasswordInterval days (30 here), and Samba computes
# the constructed attribute msDS-ManagedPassword from the KDS root key and the current time. So
# a COPY of the DC's sam.ldb read under libfaketime shifted into the next password interval gives
# the blob of that future moment: its previous password is today's current one, and its current
# password is the next interval's.
#
# The shift: by default the time until today's password changes (the QueryPasswordInterval of
# the blob read from the copy without a shift) plus one day, so the shifted moment is always in
# the NEXT interval (the intervals follow Samba's key schedule, not the gMSA's creation: a fixed
# "+31 days" lands two intervals ahead when the current one ends within a day). DAYS forces a
# fixed shift of +DAYS days instead. Samba 4.22 only includes the previous password from about
# 10 hours (one GKDI key cycle) after a change: +1 hour or +5 hours give a blob without it.
#
# A second shift to 2 minutes BEFORE the change gives a blob in the rollover window (MS-ADTS:
# QueryPasswordInterval <= 5 minutes), where Samba already returns the next password as
# CurrentPassword and today's as PreviousPassword.
#
# The live DC is only read, under a transaction, for a consistent copy (as `samba-tool domain
# backup offline` does); the shifted steps run on the copy without a network (`unshare --net`).
#
# Writes into OUTDIR (created; its previous content is replaced):
#   private/, smb.conf, ...   the copy (smb.conf points every directory into OUTDIR); private/
#                             (~45 MB) is removed at the end unless PREVIOUS_BLOB_KEEP_COPY=1
#   today.b64                 the gMSA's blob from the copy, unshifted (no previous password)
#   rollover.b64              the blob 2 minutes before today's password changes
#   blob.b64                  the gMSA's msDS-ManagedPassword after the shift, base64 on one line
#                             (as ldbsearch prints `msDS-ManagedPassword:: ...`)
#   future.keytab             `samba-tool domain exportkeytab --principal=SAM` of the copy under the
#                             same shift: its newest kvno holds the keys of blob.b64's CURRENT password
# and prints `shift_secs=N` and `rollover_shift_secs=N`. The shifted reads are done in that order
# (rollover, blob, keytab) on one copy: reads leave the copy's state usable, the export may not.
# Needs `testenv/samba-dc.sh start` and faketime (`samba-dc.sh install`). Takes ~2-7 s.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${TESTENV_DIR:-/tmp/gmsa-testenv}/samba"
JSON="$WORK/testenv.json"
PY=/usr/bin/python3

die() {
    printf '[previous-blob] ERROR: %s\n' "$*" >&2
    exit 1
}

[[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 OUTDIR [DAYS]"
OUT="$1"
DAYS="${2:-}"
[[ -z "$DAYS" || "$DAYS" =~ ^[0-9]+$ ]] || die "DAYS must be a whole number of days, not '$DAYS'"
[[ -f "$JSON" ]] || die "$JSON is missing: run testenv/samba-dc.sh start"
command -v faketime >/dev/null || die "faketime is not installed: run testenv/samba-dc.sh install"
[[ $EUID -eq 0 ]] || die "run as root (the DC's private dir is root-only)"

jget() { "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])); [v:=v[k] for k in sys.argv[2].split("/")]; print(v)' "$JSON" "$1"; }
LIVE_CONF="$(jget smb_conf)"
LIVE_PRIVATE="$(jget private_dir)"
SAM="$(jget gmsa/sam)"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
case "$OUT/" in
"$LIVE_PRIVATE/"*) die "OUTDIR must not be inside the live private dir" ;;
esac
rm -rf "$OUT/private" "$OUT/smb.conf" "$OUT/today.b64" "$OUT/rollover.b64" "$OUT/blob.b64" "$OUT/future.keytab"
for d in private lock state cache binddns run ncalrpc winbindd ntp_signd log; do
    mkdir -p "$OUT/$d"
done
chmod 700 "$OUT/private"

# The copy's smb.conf: every path that pointed into WORK points into OUTDIR.
sed "s#$WORK/#$OUT/#g" "$LIVE_CONF" >"$OUT/smb.conf"
grep -q "private dir = $OUT/private" "$OUT/smb.conf" || die "could not redirect the private dir in $OUT/smb.conf"

export TDB_NO_FSYNC=1
"$PY" "$HERE/previous_blob.py" copy "$LIVE_CONF" "$LIVE_PRIVATE" "$OUT/private" ||
    die "copying $LIVE_PRIVATE/sam.ldb failed"

unshare --net -- "$PY" "$HERE/previous_blob.py" read "$OUT/smb.conf" "$SAM" "$OUT/today.b64" ||
    die "reading msDS-ManagedPassword of $SAM from the copy failed"
UNTIL_CHANGE="$("$PY" "$HERE/previous_blob.py" interval "$OUT/today.b64")"
[[ "$UNTIL_CHANGE" -gt 300 ]] ||
    die "today's password changes in ${UNTIL_CHANGE}s: the DC is in the rollover window now; retry in 5 minutes"
if [[ -n "$DAYS" ]]; then
    SHIFT=$((DAYS * 86400))
else
    SHIFT=$((UNTIL_CHANGE + 86400))
fi
ROLLOVER_SHIFT=$((UNTIL_CHANGE - 120))

unshare --net -- faketime -f "+${ROLLOVER_SHIFT}s" "$PY" "$HERE/previous_blob.py" read "$OUT/smb.conf" "$SAM" "$OUT/rollover.b64" ||
    die "reading msDS-ManagedPassword of $SAM from the copy shifted by +${ROLLOVER_SHIFT}s failed"
unshare --net -- faketime -f "+${SHIFT}s" "$PY" "$HERE/previous_blob.py" read "$OUT/smb.conf" "$SAM" "$OUT/blob.b64" ||
    die "reading msDS-ManagedPassword of $SAM from the copy shifted by +${SHIFT}s failed"
unshare --net -- faketime -f "+${SHIFT}s" samba-tool domain exportkeytab -s "$OUT/smb.conf" \
    "$OUT/future.keytab" --principal="$SAM" >"$OUT/log/exportkeytab.log" 2>&1 ||
    die "samba-tool domain exportkeytab on the shifted copy failed: $(cat "$OUT/log/exportkeytab.log")"

[[ "${PREVIOUS_BLOB_KEEP_COPY:-0}" == 1 ]] || rm -rf "$OUT/private"
printf 'shift_secs=%s\nrollover_shift_secs=%s\n' "$SHIFT" "$ROLLOVER_SHIFT"
