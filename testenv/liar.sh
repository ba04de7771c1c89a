#!/usr/bin/env bash
# gmsa-liar (testenv/liar/, a workspace binary): a lying KDC in front of the real MIT KDC and the
# Samba DC's KDC, for the end-to-end tests of issue 11 (crates/daemon/tests/liar.rs).
#
#   testenv/liar.sh start    build gmsa-liar (cargo), (re)start it; needs the MIT KDC and the
#                            Samba DC started first (reads their testenv.json)
#   testenv/liar.sh stop     stop it (by its pid file)
#   testenv/liar.sh status   exit 0 when it runs and its first port answers
#
# It listens on LIAR_ADDR (127.0.0.7), one TCP port per (upstream, behaviour) from LIAR_BASE_PORT
# (18900): the MIT behaviours first, then the Samba ones. Its victims (whose passwords it knows)
# are aes256sha1@MIT.TEST and the Samba reader user; everyone else is relayed untouched.
# DC side: one port per LDAP behaviour from LIAR_LDAP_BASE_PORT (18950) on the DC's address (so
# the client's ldap/<dc name> ticket stays valid), relaying to the DC's port 389.
# Everything lives in WORK=${TESTENV_DIR:-/tmp/gmsa-testenv}/liar: testenv.json (written by the
# binary once every port is bound), liar.log, liar.pid.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TESTENV_DIR=${TESTENV_DIR:-/tmp/gmsa-testenv}
WORK=$TESTENV_DIR/liar
ADDR=${LIAR_ADDR:-127.0.0.7}
BASE_PORT=${LIAR_BASE_PORT:-18900}
LDAP_BASE_PORT=${LIAR_LDAP_BASE_PORT:-18950}

log() { printf 'liar: %s\n' "$*" >&2; }
die() { printf 'liar: ERROR: %s\n' "$*" >&2; exit 1; }

alive() { kill -0 "$1" 2>/dev/null; }

# Prints the pid in the pid file if it names a live gmsa-liar process.
our_pid() {
    local f=$WORK/liar.pid pid
    [[ -r $f ]] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [[ -n $pid ]] && alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q gmsa-liar || return 1
    echo "$pid"
}

cmd_stop() {
    local pid i
    if pid=$(our_pid); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        log "stopped gmsa-liar (pid $pid)"
    fi
    rm -f -- "$WORK/liar.pid"
}

# Prints `--victim PRINCIPAL:SALT:PASSWORD_FILE` arguments from the peers' testenv.json.
victims() {
    python3 - "$TESTENV_DIR" <<'PY'
import json, sys
base = sys.argv[1]
mit = json.load(open(f"{base}/mit/testenv.json"))
p = next(p for p in mit["principals"] if p["name"] == "aes256sha1@" + mit["realm"])
print("--victim", f'{p["name"]}:{p["salt"]}:{p["password_file"]}')
sam = json.load(open(f"{base}/samba/testenv.json"))
r = sam["users"]["reader"]
print("--victim", f'{r["principal"]}:{sam["realm"]}{r["name"]}:{r["password_file"]}')
PY
}

cmd_start() {
    cmd_stop
    for peer in mit samba; do
        [[ -s $TESTENV_DIR/$peer/testenv.json ]] \
            || die "$TESTENV_DIR/$peer/testenv.json is missing: start testenv/mit-kdc.sh and testenv/samba-dc.sh first"
    done
    local mit_kdc samba_kdc dc_ip
    mit_kdc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kdc"])' "$TESTENV_DIR/mit/testenv.json")
    samba_kdc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kdc"])' "$TESTENV_DIR/samba/testenv.json")
    dc_ip=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dc_ip"])' "$TESTENV_DIR/samba/testenv.json")
    log "building gmsa-liar"
    (cd "$ROOT" && cargo build --quiet -p gmsa-liar) || die "cargo build -p gmsa-liar failed"
    local target bin
    target=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    bin=$target/debug/gmsa-liar
    [[ -x $bin ]] || die "$bin was not built"
    rm -rf -- "$WORK"
    mkdir -p -m 700 "$WORK"
    local -a args
    read -r -a args <<<"$(victims | tr '\n' ' ')"
    # setsid: the liar outlives this script (and the shell that started it).
    setsid "$bin" --listen "$ADDR" --base-port "$BASE_PORT" \
        --upstream "mit=$mit_kdc" --upstream "samba=$samba_kdc" "${args[@]}" \
        --ldap-listen "$dc_ip" --ldap-base-port "$LDAP_BASE_PORT" --ldap-upstream "$dc_ip:389" \
        --out "$WORK/testenv.json" >"$WORK/liar.log" 2>&1 </dev/null &
    echo $! >"$WORK/liar.pid"
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s $WORK/testenv.json ]] && break
        alive "$(cat "$WORK/liar.pid")" || { cat "$WORK/liar.log" >&2; die "gmsa-liar exited at start"; }
        sleep 0.1
    done
    [[ -s $WORK/testenv.json ]] || { cat "$WORK/liar.log" >&2; die "gmsa-liar did not write $WORK/testenv.json within 10 s"; }
    cmd_status
}

cmd_status() {
    our_pid >/dev/null || die "gmsa-liar is not running (testenv/liar.sh start)"
    [[ -s $WORK/testenv.json ]] || die "$WORK/testenv.json is missing"
    (exec 3<>"/dev/tcp/$ADDR/$BASE_PORT") 2>/dev/null || die "$ADDR:$BASE_PORT does not answer"
    log "running: $ADDR:$BASE_PORT.. ($WORK/testenv.json, log $WORK/liar.log)"
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
