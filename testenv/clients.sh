#!/usr/bin/env bash
# Client-side tools of the daemon's socket tests (crates/daemon/tests/daemon_socket.rs, daemon_clients.rs):
#   * systemd-socket-activate (Debian package `systemd`): starts the daemon the way systemd's socket units do;
#   * unshare / nsenter / mount (util-linux, mount; in every Debian): the bind-mounted client;
#   * Python grpcio + grpcio-tools from PyPI: a grpc-core client (the C core under Python, Ruby, PHP, C++);
#   * libfaketime (Debian package `libfaketime`): the daemon's clock shifted by LD_PRELOAD (daemon_skew.rs).
#
#   testenv/clients.sh install   install what is missing (root)
#   testenv/clients.sh status    exit 0 when everything is there
set -euo pipefail

log() { printf 'clients: %s\n' "$*" >&2; }
die() { printf 'clients: ERROR: %s\n' "$*" >&2; exit 1; }

# The preloaded library of libfaketime (Debian's multiarch path, or the FAKETIME_LIB override).
faketime_lib() {
    local p
    for p in "${FAKETIME_LIB:-}" /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
        /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
        [[ -n $p && -f $p ]] && { echo "$p"; return 0; }
    done
    return 1
}

python() {
    local p
    for p in python3 python; do command -v "$p" >/dev/null && { echo "$p"; return 0; }; done
    return 1
}

have_grpcio() {
    local py
    py=$(python) || return 1
    "$py" -c 'import grpc, grpc_tools.protoc' 2>/dev/null
}

cmd_status() {
    local ok=0 t
    for t in systemd-socket-activate unshare nsenter mount; do
        command -v "$t" >/dev/null || { log "missing: $t"; ok=1; }
    done
    have_grpcio || { log "missing: Python grpcio/grpcio-tools"; ok=1; }
    faketime_lib >/dev/null || { log "missing: libfaketime"; ok=1; }
    return $ok
}

cmd_install() {
    [[ $(id -u) -eq 0 ]] || die "install must run as root"
    local pkgs=()
    command -v systemd-socket-activate >/dev/null || pkgs+=(systemd)
    command -v unshare >/dev/null && command -v nsenter >/dev/null || pkgs+=(util-linux)
    command -v mount >/dev/null || pkgs+=(mount)
    faketime_lib >/dev/null || pkgs+=(libfaketime)
    if ((${#pkgs[@]})); then
        log "installing: ${pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -q -y -o DPkg::Lock::Timeout=600 update >/dev/null
        apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends "${pkgs[@]}" >/dev/null
    fi
    if ! have_grpcio; then
        local py
        py=$(python) || die "python3 is needed for grpcio"
        log "pip install grpcio grpcio-tools"
        "$py" -m pip install --quiet grpcio grpcio-tools \
            || "$py" -m pip install --quiet --break-system-packages grpcio grpcio-tools \
            || die "pip install grpcio grpcio-tools failed"
    fi
    cmd_status || die "still missing after install"
    log "ready: $(command -v systemd-socket-activate), grpcio $("$(python)" -c 'import grpc; print(grpc.__version__)')"
}

case ${1:-} in
    install) cmd_install ;;
    status) cmd_status ;;
    *) echo "usage: $0 install|status" >&2; exit 2 ;;
esac
