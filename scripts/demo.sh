#!/usr/bin/env bash
# First look at gmsa: start a throw-away MIT KDC (realm MIT.TEST on 127.0.0.3:18888), get a TGT with
# the pure-Rust `gmsa` client and show that MIT's own klist reads the credential cache it wrote.
#
# Needs root for the one-time package install (testenv/mit-kdc.sh install); everything else lives
# under ${TESTENV_DIR:-/tmp/gmsa-testenv}/mit. The KDC is left running for further experiments:
# stop it with `testenv/mit-kdc.sh stop`.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
[[ -d $HOME/.cargo/bin ]] && PATH=$HOME/.cargo/bin:$PATH
PATH=$PATH:/usr/sbin:/sbin
export TESTENV_DIR=${TESTENV_DIR:-/tmp/gmsa-testenv}

run() {
    printf '\n$ %s\n' "$*"
    "$@"
}

run testenv/mit-kdc.sh install
run testenv/mit-kdc.sh start
# shellcheck source=/dev/null
source "$TESTENV_DIR/mit/env.sh" # KRB5_CONFIG -> the realm's client krb5.conf

run cargo build --release --bin gmsa
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
GMSA=$TARGET_DIR/release/gmsa

WORK=$TESTENV_MIT_DIR
CCACHE=$WORK/demo.ccache
rm -f -- "$CCACHE"

echo
echo "KRB5_CONFIG=$KRB5_CONFIG (realm $MIT_REALM, KDC $MIT_KDC)"
run "$GMSA" kinit aes256sha1@MIT.TEST --password-file "$WORK/passwords/aes256sha1" -c "$CCACHE"
run "$GMSA" klist -c "$CCACHE"
run klist -e -c "$CCACHE"

echo
echo "demo: OK. The KDC is still running; stop it with: $ROOT/testenv/mit-kdc.sh stop"
