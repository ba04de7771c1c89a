#!/usr/bin/env bash
# Soak of the release credentials-fetcherd against the real Samba DCs (dc1 and dc2), with faults:
# lease churn, renewals every few seconds, dc2 killed, dc1 frozen, the daemon restarted, one at a
# time, for as long as asked. What it checks and how: scripts/soak.py. Appends its figures to
# benches/SOAK.md; exits 1 when a promise broke (the problems are listed there too).
#
#   scripts/soak.sh [--minutes N] [--leases N] [--renew SECS] [--fault-every SECS] [--outage SECS]
#
# Starts dc1 and dc2 if they are not running (testenv/samba-dc.sh, samba-dc2.sh) and leaves them
# running. Not part of scripts/test.sh (it kills and freezes the DCs the tests share).
set -euo pipefail

# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"

testenv/samba-dc.sh status >/dev/null 2>&1 || { testenv/samba-dc.sh install && testenv/samba-dc.sh start; }
testenv/samba-dc2.sh status >/dev/null 2>&1 || testenv/samba-dc2.sh start

cargo build --release --bin gmsa --bin credentials-fetcherd
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
OUT=$TESTENV_DIR/soak
rm -rf -- "$OUT"
mkdir -p "$OUT"
chmod 700 "$OUT"

start=$(date -u '+%Y-%m-%d %H:%M')
commit=$(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- crates || echo +dirty)
rc=0
python3 scripts/soak.py --bin-dir "$TARGET_DIR/release" --testenv "$TESTENV_DIR" --root "$ROOT" --out "$OUT" "$@" \
    >"$OUT/soak.out" || rc=$?
cat "$OUT/soak.out"
python3 - "$OUT/summary.json" "$start" "$commit" "$rc" >>benches/SOAK.md <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
f = s["faults"]
print(f"| {sys.argv[2]} | `{sys.argv[3]}` | {s['minutes']} | {s['leases']}+{s['long_leases']} / {s['renew_secs']} s | "
      f"{f['dc2_killed']} / {f['dc1_frozen']} / {f['daemon_restarted']} ({s['outage_secs']} s) | "
      f"{s['adds']} / {s['deletes']} / {s['tickets_renewed']} | {s['add_failures']} / {s['delete_failures']} / "
      f"{s['health_not_ok']} of {s['health_checks']} | {s['add_ms_p50']} / {s['add_ms_p99']} / "
      f"{s['add_ms_max_during_faults']} | {s['max_ccache_age_secs']} | "
      f"{s['rss_kib']['base']}-{s['rss_kib']['max']}-{s['rss_kib']['end']} | "
      f"{s['fds']['base']}-{s['fds']['max']}-{s['fds']['end']} | "
      f"{'PASS' if sys.argv[4] == '0' else 'FAIL: ' + '; '.join(s['problems'])[:600]} |")
PY
echo "soak: figures appended to benches/SOAK.md (summary: $OUT/summary.json, samples: $OUT/samples.csv, log: $OUT/daemon.log)"
exit "$rc"
