#!/usr/bin/env bash
# The project's test command (CI runs exactly this via .ci/run).
#
# Runs unattended as root on a fresh Debian 12 machine with rustup (stable + nightly):
#   1 install      apt packages (MIT krb5 via testenv/mit-kdc.sh, Samba AD DC via
#                  testenv/samba-dc.sh, rpmbuild via packaging/rpm/build.sh), moto[server] from PyPI
#                  (testenv/moto.sh), the socket tests' clients (testenv/clients.sh: systemd-socket-activate,
#                  Python grpcio + grpcio-tools from PyPI, libfaketime), musl target, rustfmt/clippy, nightly toolchain, cargo-fuzz
#   2 fmt          cargo fmt --all -- --check
#   3 no-c         no C-building crate in the dependency graph; no import circle in any crate
#   4 peers        start the MIT KDC (realm MIT.TEST on 127.0.0.3:18888), the Samba AD DC
#                  (realm EXAMPLE.TEST on 127.0.0.2) and moto (AWS API emulator, 127.0.0.1:5055/5056,
#                  testenv/moto.sh), gmsa-liar, a lying KDC in front of both KDCs (127.0.0.7:18900..,
#                  testenv/liar.sh), MIT KDCs for the cross-realm realms A.TEST, B.TEST, C.TEST
#                  (127.0.0.21-23, testenv/mit-realms.sh), a second AD forest OTHER.TEST (dc3 on
#                  127.0.0.31) with a forest trust to EXAMPLE.TEST (testenv/samba-forest.sh, ~11 s);
#                  tests read $TESTENV_DIR/{mit,samba,samba2,moto,liar,realms,forest}/testenv.json
#   5 clippy       cargo clippy --workspace --all-targets -- -D warnings
#   6 test         cargo test --workspace (unit, integration, doc tests)
#   7 musl         static musl build of gmsa and credentials-fetcherd, and the RPM built from it
#   8 fuzz         build every fuzz target, replay its committed corpus (fuzz/corpus/<target>),
#                  then explore each for $FUZZ_SECONDS (default 20; scripts/fuzz.sh)
#   9 stop peers   (also done on exit, whatever happens)
# A peer that cannot be started is a failure, never a skip.
#
# Environment: TESTENV_DIR (default /tmp/gmsa-testenv), FUZZ_SECONDS (default 20),
# CARGO_TARGET_DIR (honoured as usual by cargo).
set -euo pipefail

# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"

if [[ $# -gt 0 ]]; then
    echo "usage: $0   (no arguments; see the header of this script for the environment)" >&2
    exit 2
fi

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
[[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] || { echo "FUZZ_SECONDS must be a number of seconds" >&2; exit 2; }
MUSL=x86_64-unknown-linux-musl

T_START=$EPOCHREALTIME
CURRENT_STEP="(setup)"
PEERS_STARTED=0
declare -a SUMMARY=()

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

on_exit() {
    local rc=$?
    set +e
    if ((PEERS_STARTED)); then
        "$ROOT/testenv/mit-kdc.sh" stop
        "$ROOT/testenv/samba-dc2.sh" stop
        "$ROOT/testenv/samba-forest.sh" stop
        "$ROOT/testenv/samba-dc.sh" stop
        "$ROOT/testenv/moto.sh" stop
        "$ROOT/testenv/liar.sh" stop
        "$ROOT/testenv/mit-realms.sh" stop
    fi
    echo
    echo "==================== summary ===================="
    local line
    for line in "${SUMMARY[@]}"; do echo "  $line"; done
    if ((rc == 0)); then
        echo "test.sh: PASSED: ${#SUMMARY[@]} steps in $(elapsed "$T_START") s"
    else
        echo "test.sh: FAILED in step '$CURRENT_STEP' (exit $rc) after $(elapsed "$T_START") s" >&2
    fi
    exit "$rc"
}
trap on_exit EXIT

# step NAME FUNCTION: announce, run, time. Any failure inside ends the script (set -e).
step() {
    local name=$1 t0=$EPOCHREALTIME
    shift
    CURRENT_STEP=$name
    echo
    echo "==================== [$((${#SUMMARY[@]} + 1))] $name ===================="
    "$@"
    local dt
    dt=$(elapsed "$t0")
    # Free disk after each step: a clean CI machine once ran out of it in the musl step (stop 14).
    local avail
    avail=$(df -h --output=avail "$ROOT" 2>/dev/null | tail -1 | tr -d ' ')
    SUMMARY+=("$(printf '%-12s ok  %7s s   disk free %s' "$name" "$dt" "$avail")")
    echo "---- $name: ok in $dt s"
}

run() {
    printf '+ %s\n' "$*"
    "$@"
}

target_dir() {
    cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# ---------------------------------------------------------------------------------------------
do_install() {
    run "$ROOT/testenv/mit-kdc.sh" install
    run "$ROOT/testenv/samba-dc.sh" install
    run "$ROOT/packaging/rpm/build.sh" install
    run "$ROOT/testenv/moto.sh" install
    run "$ROOT/testenv/clients.sh" install
    run rustup component add rustfmt clippy
    run rustup target add "$MUSL"
    if ! rustup toolchain list | grep -q '^nightly'; then
        run rustup toolchain install nightly --profile minimal
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        run cargo install cargo-fuzz --locked
    fi
    run cargo fuzz --version
    run rustc --version
    run cargo +nightly --version
}

do_fmt() {
    run cargo fmt --all -- --check
}

do_no_c() {
    local forbidden='^(cc|openssl-sys|ring|aws-lc-sys|aws-lc-rs|libgssapi-sys|bindgen|cmake) v'
    local tree bad
    tree=$(cargo tree --workspace -e normal,build --prefix none)
    bad=$(grep -E "$forbidden" <<<"$tree" | sort -u || true)
    if [[ -n $bad ]]; then
        echo "ERROR: crates that build or link C code are in the dependency graph:" >&2
        echo "$bad" >&2
        echo "(see: cargo tree --workspace -e normal,build -i <crate>)" >&2
        return 1
    fi
    echo "no C-building crates among $(sort -u <<<"$tree" | grep -c ' v') crates"
    # No set of files of a crate that import each other in a loop (issue 12).
    run python3 "$ROOT/scripts/import_cycles.py"
}

do_peers() {
    PEERS_STARTED=1
    run "$ROOT/testenv/mit-kdc.sh" start
    # shellcheck source=/dev/null
    source "$TESTENV_DIR/mit/env.sh"
    "$ROOT/testenv/mit-kdc.sh" status
    [[ -s $TESTENV_DIR/mit/testenv.json ]] || { echo "ERROR: $TESTENV_DIR/mit/testenv.json missing" >&2; return 1; }
    echo "KRB5_CONFIG=$KRB5_CONFIG MIT_KDC=$MIT_KDC MIT_REALM=$MIT_REALM"
    # Samba's env.sh is not sourced: it would replace the MIT KRB5_CONFIG; tests read testenv.json.
    run "$ROOT/testenv/samba-dc.sh" start
    run "$ROOT/testenv/samba-dc.sh" status
    [[ -s $TESTENV_DIR/samba/testenv.json ]] || { echo "ERROR: $TESTENV_DIR/samba/testenv.json missing" >&2; return 1; }
    echo "Samba AD DC: realm EXAMPLE.TEST on 127.0.0.2, $TESTENV_DIR/samba/testenv.json"
    run "$ROOT/testenv/samba-dc2.sh" start
    run "$ROOT/testenv/samba-dc2.sh" status
    # A second forest trusting dc1's (crates/daemon/tests/cross_forest.rs); after dc1: it reads
    # dc1's reader and creates the trust on dc1.
    run "$ROOT/testenv/samba-forest.sh" start
    run "$ROOT/testenv/samba-forest.sh" status
    run "$ROOT/testenv/moto.sh" start
    run "$ROOT/testenv/moto.sh" status
    # The lying KDC in front of both (reads their testenv.json; crates/daemon/tests/liar.rs).
    run "$ROOT/testenv/liar.sh" start
    run "$ROOT/testenv/liar.sh" status
    # Cross-realm: MIT KDCs for A.TEST, B.TEST, C.TEST on 127.0.0.21-23 ($TESTENV_DIR/realms/testenv.json).
    run "$ROOT/testenv/mit-realms.sh" start
    run "$ROOT/testenv/mit-realms.sh" status
}

do_clippy() {
    run cargo clippy --workspace --all-targets -- -D warnings
}

do_test() {
    run cargo test --workspace
}

do_musl() {
    run cargo build --release --target "$MUSL" --bin gmsa --bin credentials-fetcherd
    local dir bin desc
    dir=$(target_dir)/$MUSL/release
    for bin in gmsa credentials-fetcherd; do
        [[ -x $dir/$bin ]] || { echo "ERROR: $dir/$bin was not built" >&2; return 1; }
        desc=$(file -b "$dir/$bin")
        echo "$bin: $desc"
        # Rust's musl target yields "static-pie linked" (or "statically linked"): no interpreter.
        if [[ $desc =~ static(-pie)?(ally)?\ linked && ! $desc =~ interpreter ]]; then
            continue
        fi
        if LC_ALL=C ldd "$dir/$bin" 2>&1 | grep -qE 'not a dynamic executable|statically linked'; then
            continue
        fi
        echo "ERROR: $bin is not statically linked" >&2
        return 1
    done
    # The RPM for Amazon Linux 2023 / Fedora, checked (file list, modes, no library requirement, binaries run).
    run "$ROOT/packaging/rpm/build.sh" "$dir"
}

do_fuzz() {
    [[ -f $ROOT/fuzz/Cargo.toml ]] || { echo "ERROR: fuzz/Cargo.toml is missing: no fuzz targets to run" >&2; return 1; }
    # Replay the committed corpus of every target (every input once), then explore each target
    # for $FUZZ_SECONDS without keeping what it finds (campaigns that keep results: scripts/fuzz.sh).
    run "$ROOT/scripts/fuzz.sh" replay
    run "$ROOT/scripts/fuzz.sh" run --no-build --no-save -t "$FUZZ_SECONDS"
}

do_stop() {
    run "$ROOT/testenv/mit-kdc.sh" stop
    run "$ROOT/testenv/samba-dc2.sh" stop
    run "$ROOT/testenv/samba-forest.sh" stop
    run "$ROOT/testenv/samba-dc.sh" stop
    run "$ROOT/testenv/moto.sh" stop
    run "$ROOT/testenv/liar.sh" stop
    run "$ROOT/testenv/mit-realms.sh" stop
    PEERS_STARTED=0
}

# ---------------------------------------------------------------------------------------------
step install do_install
step fmt do_fmt
step no-c do_no_c
step peers do_peers
step clippy do_clippy
step test do_test
step musl do_musl
step fuzz do_fuzz
step stop-peers do_stop
