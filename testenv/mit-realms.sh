#!/usr/bin/env bash
# Three MIT krb5 KDCs with cross-realm trusts, for the cross-realm tests (issue 13).
#
#   testenv/mit-realms.sh start    (re)create realms A.TEST, B.TEST, C.TEST under $TESTENV_DIR/realms, start 3 krb5kdc
#   testenv/mit-realms.sh stop     stop our three KDCs (by their pid files)
#   testenv/mit-realms.sh status   exit 0 when all three run and answer
#
# Packages: the same as testenv/mit-kdc.sh (run `testenv/mit-kdc.sh install` first).
#
# Topology (each KDC on its own loopback address, port 18888; 127.0.0.1 moto, .2 Samba, .3 MIT.TEST, .12 H6):
#
#   A.TEST 127.0.0.21  <-- two-way trust -->  B.TEST 127.0.0.22  <-- two-way trust -->  C.TEST 127.0.0.23
#
#   krbtgt/B.TEST@A.TEST and krbtgt/A.TEST@B.TEST exist in both A's and B's databases with the same
#   keys and kvno (same password, same salt); likewise B<->C. A and C share no key: A -> C is the
#   two-hop path A -> B -> C, which the CLIENT's krb5.conf names in [capaths]. KDC A does not know
#   that path (its own krb5.conf has no capaths for C.TEST), so asked for krbtgt/C.TEST@A.TEST it
#   answers "principal unknown" and the client must fall back to its [capaths].
#   The KDCs map hosts to realms with [domain_realm] (.a.test, .b.test, .c.test), so a TGS-REQ with
#   canonicalize for host/svc.b.test (name type NT-SRV-HST) sent to A is answered with a referral
#   TGT krbtgt/B.TEST@A.TEST (RFC 6806).
#   Loop: hosts under .x.test belong to realm X.TEST, which has no KDC; KDC A's [capaths] say X is
#   reached through B, KDC B's say through A: a client asking for krbtgt/X.TEST goes A -> B -> A.
#
# WORK=${TESTENV_DIR:-/tmp/gmsa-testenv}/realms: testenv.json (realms, KDCs, users, password files,
# services, keytabs), krb5.conf (client: [realms], [domain_realm], [capaths]), <realm>/ per KDC.
# Passwords are random per start, written to WORK/passwords/<name> (mode 600), never printed.
set -euo pipefail

TESTENV_DIR=${TESTENV_DIR:-/tmp/gmsa-testenv}
WORK=$TESTENV_DIR/realms
PORT=${TESTENV_REALMS_PORT:-18888}
REALMS=(A.TEST B.TEST C.TEST)
declare -A ADDR=([A.TEST]=127.0.0.21 [B.TEST]=127.0.0.22 [C.TEST]=127.0.0.23)
declare -A DOMAIN=([A.TEST]=a.test [B.TEST]=b.test [C.TEST]=c.test)
# Trusts (both directions each): pairs of realms.
TRUSTS=("A.TEST B.TEST" "B.TEST C.TEST")
ENCTYPES=(aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96)

log() { printf 'mit-realms: %s\n' "$*" >&2; }
die() { printf 'mit-realms: ERROR: %s\n' "$*" >&2; exit 1; }

alive() {
    local stat
    stat=$(cat /proc/"$1"/stat 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# Prints the pid of realm $1's KDC if its pid file names a live krb5kdc.
our_pid() {
    local f=$WORK/$1/krb5kdc.pid pid
    [[ -r $f ]] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [[ -n $pid && -r /proc/$pid/comm && $(</proc/"$pid"/comm) == krb5kdc ]] || return 1
    alive "$pid" || return 1
    echo "$pid"
}

port_answers() { (exec 3<>"/dev/tcp/$1/$PORT") 2>/dev/null; }

cmd_stop() {
    local r pid i
    for r in "${REALMS[@]}"; do
        if pid=$(our_pid "$r"); then
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 500; i++)); do alive "$pid" || break; sleep 0.01; done
            alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
            log "stopped krb5kdc of $r (pid $pid)"
        fi
        rm -f -- "$WORK/$r/krb5kdc.pid"
    done
}

cmd_status() {
    local r pid rc=0
    for r in "${REALMS[@]}"; do
        if ! pid=$(our_pid "$r"); then
            log "$r: not running"; rc=1
        elif ! port_answers "${ADDR[$r]}"; then
            log "$r: krb5kdc pid $pid runs but ${ADDR[$r]}:$PORT does not answer"; rc=1
        else
            log "$r: running, pid $pid, ${ADDR[$r]}:$PORT"
        fi
    done
    return $rc
}

randpw() { head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 32; }

# The KDC side of the configuration for realm $1 (what krb5kdc and kadmin.local read).
kdc_krb5_conf() {
    local me=$1 r
    cat <<EOF
[libdefaults]
    default_realm = $me
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    permitted_enctypes = ${ENCTYPES[*]}

[realms]
EOF
    for r in "${REALMS[@]}"; do printf '    %s = {\n        kdc = %s:%s\n    }\n' "$r" "${ADDR[$r]}" "$PORT"; done
    printf '\n[domain_realm]\n'
    for r in "${REALMS[@]}"; do printf '    .%s = %s\n    %s = %s\n' "${DOMAIN[$r]}" "$r" "${DOMAIN[$r]}" "$r"; done
    printf '    .x.test = X.TEST\n'
    # The capaths loop for X.TEST (A says via B, B says via A). KDC A knows no path from A to C
    # (the client's [capaths] must supply it); KDCs A and C know the paths C -> B -> A and
    # A -> B -> C of a client of the other realm: an end KDC checks the ticket's transited field
    # (B.TEST) against [capaths] (else "KDC policy rejects request", e-text BAD_TRANSIT).
    printf '\n[capaths]\n'
    case $me in
        A.TEST)
            printf '    A.TEST = {\n        X.TEST = B.TEST\n    }\n    B.TEST = {\n        X.TEST = A.TEST\n    }\n'
            printf '    C.TEST = {\n        A.TEST = B.TEST\n    }\n' ;;
        B.TEST)
            printf '    A.TEST = {\n        X.TEST = B.TEST\n    }\n    B.TEST = {\n        X.TEST = A.TEST\n    }\n' ;;
        C.TEST)
            printf '    A.TEST = {\n        C.TEST = B.TEST\n    }\n' ;;
    esac
}

client_krb5_conf() {
    local r
    cat <<EOF
[libdefaults]
    default_realm = A.TEST
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    permitted_enctypes = ${ENCTYPES[*]}
    default_tkt_enctypes = ${ENCTYPES[*]}
    default_tgs_enctypes = ${ENCTYPES[*]}

[realms]
EOF
    for r in "${REALMS[@]}"; do printf '    %s = {\n        kdc = %s:%s\n    }\n' "$r" "${ADDR[$r]}" "$PORT"; done
    printf '\n[domain_realm]\n'
    for r in "${REALMS[@]}"; do printf '    .%s = %s\n    %s = %s\n' "${DOMAIN[$r]}" "$r" "${DOMAIN[$r]}" "$r"; done
    cat <<EOF

[capaths]
    A.TEST = {
        B.TEST = .
        C.TEST = B.TEST
    }
    C.TEST = {
        B.TEST = .
        A.TEST = B.TEST
    }
EOF
}

cmd_start() {
    PATH=$PATH:/usr/sbin:/sbin
    local t
    for t in krb5kdc kdb5_util kadmin.local kinit; do
        command -v "$t" >/dev/null || die "$t not found: run 'testenv/mit-kdc.sh install' first"
    done
    local t0=$EPOCHREALTIME r
    cmd_stop
    for r in "${REALMS[@]}"; do
        port_answers "${ADDR[$r]}" && die "${ADDR[$r]}:$PORT is already in use by a process we did not start"
    done
    rm -rf -- "$WORK"
    mkdir -p -- "$WORK/passwords"
    chmod 700 "$WORK/passwords"
    client_krb5_conf >"$WORK/krb5.conf"

    local old_umask pair x y
    old_umask=$(umask)
    umask 077
    for pair in "${TRUSTS[@]}"; do
        read -r x y <<<"$pair"
        randpw >"$WORK/passwords/krbtgt_${y}@${x}"
        randpw >"$WORK/passwords/krbtgt_${x}@${y}"
    done
    # One user per realm: user@A.TEST, user@B.TEST, user@C.TEST (password files user@<REALM>).
    for r in "${REALMS[@]}"; do randpw >"$WORK/passwords/user@$r"; done
    umask "$old_umask"

    local enc_salt d
    enc_salt=$(printf '%s:normal,' "${ENCTYPES[@]}"); enc_salt=${enc_salt%,}
    for r in "${REALMS[@]}"; do
        d=$WORK/$r
        mkdir -p -- "$d/db"
        chmod 700 "$d/db"
        cat >"$d/kdc.conf" <<EOF
[kdcdefaults]
    kdc_listen = ${ADDR[$r]}:$PORT
    kdc_tcp_listen = ${ADDR[$r]}:$PORT

[realms]
    $r = {
        database_name = $d/db/principal
        key_stash_file = $d/db/stash
        acl_file = $d/kadm5.acl
        kadmind_listen = ${ADDR[$r]}:$((PORT + 1))
        kpasswd_listen = ${ADDR[$r]}:$((PORT + 2))
        master_key_type = aes256-cts-hmac-sha1-96
        supported_enctypes = ${enc_salt//,/ }
        max_life = 10h 0m 0s
        max_renewable_life = 7d 0h 0m 0s
        default_principal_flags = +preauth
    }

[logging]
    kdc = FILE:$d/krb5kdc.log
    default = FILE:$d/krb5lib.log
EOF
        : >"$d/kadm5.acl"
        kdc_krb5_conf "$r" >"$d/kdc-krb5.conf"
        export KRB5_KDC_PROFILE=$d/kdc.conf KRB5_CONFIG=$d/kdc-krb5.conf
        kdb5_util create -s -r "$r" -P "$(randpw)" >"$d/kdb5_util.log" 2>&1 \
            || { cat "$d/kdb5_util.log" >&2; die "kdb5_util create for $r failed"; }
        local rc=0 svc=host/svc.${DOMAIN[$r]}
        {
            printf 'addprinc -pw "%s" user\n' "$(<"$WORK/passwords/user@$r")"
            printf 'addprinc -randkey %s\n' "$svc"
            printf 'ktadd -k "%s" %s\n' "$d/services.keytab" "$svc"
            for pair in "${TRUSTS[@]}"; do
                read -r x y <<<"$pair"
                if [[ $r == "$x" || $r == "$y" ]]; then
                    # Same password and principal name (so same salt) in both realms, kvno 1: same keys.
                    printf 'addprinc -e "%s" -pw "%s" krbtgt/%s@%s\n' "$enc_salt" "$(<"$WORK/passwords/krbtgt_${y}@${x}")" "$y" "$x"
                    printf 'addprinc -e "%s" -pw "%s" krbtgt/%s@%s\n' "$enc_salt" "$(<"$WORK/passwords/krbtgt_${x}@${y}")" "$x" "$y"
                fi
            done
            printf 'getprinc krbtgt/%s@%s\n' "$r" "$r"
        } | kadmin.local -r "$r" 2>"$d/kadmin.local.err" \
            | sed -E 's/-pw "[^"]*"/-pw <redacted>/' >"$d/kadmin.local.out" || rc=$?
        if [[ $rc -ne 0 ]] || grep -Ev '^(Authenticating as|No policy specified|WARNING: no policy|Entry for principal)' \
                "$d/kadmin.local.err" | grep -q .; then
            sed 's/-pw "[^"]*"/-pw <redacted>/' "$d/kadmin.local.err" >&2
            die "kadmin.local for $r failed (exit $rc)"
        fi
        chmod 600 "$d/services.keytab"
        krb5kdc -r "$r" -P "$d/krb5kdc.pid" >"$d/krb5kdc.stderr" 2>&1 \
            || { tail -n 30 "$d/krb5kdc.stderr" "$d/krb5kdc.log" >&2 2>/dev/null; die "krb5kdc for $r failed to start"; }
    done
    unset KRB5_KDC_PROFILE KRB5_CONFIG
    local deadline=$((SECONDS + 15))
    for r in "${REALMS[@]}"; do
        until our_pid "$r" >/dev/null && port_answers "${ADDR[$r]}"; do
            ((SECONDS < deadline)) || { tail -n 30 "$WORK/$r/krb5kdc.log" >&2 || true; die "KDC of $r did not answer within 15 s"; }
            sleep 0.01
        done
    done
    write_json
    if [[ -n ${SUDO_UID:-} && ${SUDO_UID} != 0 ]]; then
        chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" -- "$WORK"
    fi

    # Real end-to-end check with MIT's own client: user@A.TEST gets tickets of B (one hop) and C (two hops).
    local fcc
    fcc=$(mktemp "$WORK/check-cc.XXXXXX")
    KRB5_CONFIG=$WORK/krb5.conf KRB5CCNAME=FILE:$fcc kinit user@A.TEST <"$WORK/passwords/user@A.TEST" >"$WORK/check.log" 2>&1 \
        && KRB5_CONFIG=$WORK/krb5.conf KRB5CCNAME=FILE:$fcc kvno host/svc.b.test@B.TEST host/svc.c.test@C.TEST >>"$WORK/check.log" 2>&1 \
        || { cat "$WORK/check.log" >&2; rm -f -- "$fcc"; die "MIT kinit/kvno across the realms failed"; }
    rm -f -- "$fcc"
    local ms
    ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
    log "realms A.TEST, B.TEST, C.TEST up on 127.0.0.21-23:$PORT in ${ms} ms; $WORK/testenv.json"
}

write_json() {
    local py
    py=$(command -v /usr/bin/python3 || command -v python3) || die "python3 not found"
    "$py" - "$WORK" "$PORT" <<'PY'
import json, os, sys
work, port = sys.argv[1], int(sys.argv[2])
addr = {"A.TEST": "127.0.0.21", "B.TEST": "127.0.0.22", "C.TEST": "127.0.0.23"}
realms = {}
for r, a in addr.items():
    d = r.split(".")[0].lower() + ".test"
    realms[r] = {
        "kdc": f"{a}:{port}",
        "kdc_host": a,
        "kdc_port": port,
        "user": f"user@{r}",
        "password_file": os.path.join(work, "passwords", f"user@{r}"),
        "service": f"host/svc.{d}@{r}",
        "service_host": f"svc.{d}",
        "keytab": os.path.join(work, r, "services.keytab"),
        "kdc_log": os.path.join(work, r, "krb5kdc.log"),
        "pid_file": os.path.join(work, r, "krb5kdc.pid"),
    }
doc = {
    "krb5_conf": os.path.join(work, "krb5.conf"),
    "work_dir": work,
    "realms": realms,
    "trusts": [["A.TEST", "B.TEST"], ["B.TEST", "C.TEST"]],
    "client_capaths": {"A.TEST": {"C.TEST": ["B.TEST"]}, "C.TEST": {"A.TEST": ["B.TEST"]}},
    "loop": {"realm": "X.TEST", "service_host": "svc.x.test",
             "kdc_capaths": {"A.TEST": {"X.TEST": ["B.TEST"]}, "B.TEST": {"X.TEST": ["A.TEST"]}}},
}
tmp = os.path.join(work, ".testenv.json.tmp")
with open(tmp, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
os.replace(tmp, os.path.join(work, "testenv.json"))
PY
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
