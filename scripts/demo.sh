#!/usr/bin/env bash
# The main job on a local default: a throw-away Samba 4.22 AD DC (realm EXAMPLE.TEST on 127.0.0.2)
# with a gMSA WebApp01$, then
#   1. `gmsa fetch`: log in as an allowed AD user, read the gMSA's password over sealed LDAP, get the
#      gMSA's TGT into a ccache, and show that MIT's own klist/kvno use it;
#   2. `credentials-fetcherd`, the drop-in daemon: a domainless lease added over its gRPC socket with
#      `gmsa lease add`, the lease's krb5cc listed by MIT klist, then the lease deleted.
#
# Needs root (package install, the DC's loopback veth). Everything lives under
# ${TESTENV_DIR:-/tmp/gmsa-testenv}/samba. The DC is left running for further experiments:
# stop it with `testenv/samba-dc.sh stop`.
set -euo pipefail

# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"

run() {
    printf '\n$ %s\n' "$*"
    "$@"
}

run testenv/samba-dc.sh install
run testenv/samba-dc.sh start
S=$TESTENV_DIR/samba
export KRB5_CONFIG=$S/krb5.conf

run cargo build --release --bin gmsa --bin credentials-fetcherd
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
GMSA=$TARGET_DIR/release/gmsa
DAEMON=$TARGET_DIR/release/credentials-fetcherd

DEMO=$S/demo
rm -rf -- "$DEMO"
mkdir -p "$DEMO"
cat >"$DEMO/webapp01.json" <<'EOF'
{"CmsPlugins": ["ActiveDirectory"],
 "DomainJoinConfig": {"Sid": "S-1-5-21-1", "MachineAccountName": "WebApp01", "Guid": "00000000-0000-0000-0000-000000000000",
                      "DnsTreeName": "example.test", "DnsName": "example.test", "NetBiosName": "EXAMPLE"},
 "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": "WebApp01", "Scope": "example.test"},
                                                           {"Name": "WebApp01", "Scope": "EXAMPLE"}]}}
EOF

echo
echo "== 1. gmsa fetch: credspec -> sealed LDAP -> the gMSA's TGT (DC found by DNS SRV on 127.0.0.2)"
run "$GMSA" fetch --credspec "$DEMO/webapp01.json" --user svc-fetcher@EXAMPLE.TEST \
    --password-file "$S/svc-fetcher.password" --dns-server 127.0.0.2:53 -c "$DEMO/fetch.ccache"
run klist -c "$DEMO/fetch.ccache"
run env KRB5CCNAME="FILE:$DEMO/fetch.ccache" kvno ldap/dc1.example.test

echo
echo "== 2. credentials-fetcherd: a domainless lease over gRPC"
SOCK=$DEMO/credentials_fetcher.sock
CF_KRB_DIR=$DEMO/krbdir DOMAIN_CONTROLLER_GMSA=dc1.example.test \
    "$DAEMON" --socket "$SOCK" --socket-group none >"$DEMO/daemon.log" 2>&1 &
DAEMON_PID=$!
trap 'kill "$DAEMON_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.05; done
run "$GMSA" lease health --socket "$SOCK"
OUT=$("$GMSA" lease add --socket "$SOCK" --user svc-fetcher --password-file "$S/svc-fetcher.password" \
    --domain example.test "$DEMO/webapp01.json")
printf '\n$ %s\n%s\n' "gmsa lease add ... webapp01.json" "$OUT"
LEASE=$(sed -n 's/^lease \([0-9a-f]\{20\}\)$/\1/p' <<<"$OUT")
DIR=$(grep -m1 '^/' <<<"$OUT")
[[ -n $LEASE && -n $DIR ]] || { echo "demo: unexpected lease add output" >&2; exit 1; }
run ls -l "$DIR"
run klist -c "$DIR/krb5cc"
run "$GMSA" lease delete --socket "$SOCK" "$LEASE"
kill "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
trap - EXIT

echo
echo "demo: OK. The DC is still running; stop it with: $ROOT/testenv/samba-dc.sh stop"
