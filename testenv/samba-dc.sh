#!/usr/bin/env bash
# Samba 4.22 AD DC with a gMSA, entirely on loopback (127.0.0.2), for the project's tests.
#
#   testenv/samba-dc.sh install   # bookworm-backports Samba, offline-safe install (idempotent, fast path)
#   testenv/samba-dc.sh start     # wipe + provision + objects + start samba; writes env.sh / testenv.json
#   testenv/samba-dc.sh stop      # stop our samba (pid file + recorded descendants, never by name)
#   testenv/samba-dc.sh status    # exit 0 iff the KDC and LDAP answer
#
# Facts behind each step: shared docs testenv.md. Runs unattended as root. Every failure exits
# non-zero with the relevant log tail. No traffic leaves 127.0.0.0/8.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TESTENV_DIR="${TESTENV_DIR:-/tmp/gmsa-testenv}"
WORK="$TESTENV_DIR/samba"
# Kept outside WORK so that a wiped work dir never loses track of a running instance.
PIDREC="$TESTENV_DIR/samba-dc.pids"

REALM=EXAMPLE.TEST
DOMAIN=EXAMPLE
DNSDOMAIN=example.test
HOST=dc1
DC_IP=127.0.0.2
DC_FQDN="$HOST.$DNSDOMAIN"
BASE_DN="DC=example,DC=test"
VETH=addc0
HOSTS_TAG="# gmsa-testenv samba-dc"
GMSA_HOST_LC=webapp01
OFFLINE="unshare --net --"
# A throw-away test database needs no fsync: provision goes from ~13 s to ~9 s on a busy
# 2-core machine (Samba's own selftest does the same).
export TDB_NO_FSYNC=1

BACKPORTS_LIST=/etc/apt/sources.list.d/bookworm-backports.sources
BP_PKGS=(samba samba-ad-dc samba-ad-provision python3-samba winbind samba-dsdb-modules krb5-user ldap-utils)
# Extra tools: faketime (previous-password blobs), openssl (our CA), dig, Cyrus GSSAPI for ldapsearch -Y GSSAPI.
EXTRA_PKGS=(faketime openssl bind9-dnsutils libsasl2-modules-gssapi-mit)
# Packages that must come from backports (>= this version) for gMSA support.
SAMBA_MIN_VERSION="2:4.22"
SAMBA_VERSIONED=(samba samba-ad-dc samba-ad-provision python3-samba winbind samba-dsdb-modules)

# The scripts that source this file (samba-dc2.sh, samba-forest.sh) set their own tag.
LOG_TAG=samba-dc
log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() {
    printf '[%s] ERROR: %s\n' "$LOG_TAG" "$*" >&2
    exit 1
}
# die with the tail of a log file
die_log() {
    local msg="$1" file="$2" n="${3:-40}"
    printf '[%s] ERROR: %s\n' "$LOG_TAG" "$msg" >&2
    if [[ -f "$file" ]]; then
        printf '[%s] ---- last %s lines of %s ----\n' "$LOG_TAG" "$n" "$file" >&2
        tail -n "$n" "$file" >&2 || true
        printf '[%s] ----\n' "$LOG_TAG" >&2
    fi
    exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

# Any unexpected failure: say where, loudly, before set -e exits.
trap 'rc=$?; printf "[%s] ERROR: exit %s at line %s: %s\n" "$LOG_TAG" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

need_root() { [[ $EUID -eq 0 ]] || die "must run as root"; }

# --------------------------------------------------------------------------------------------
# install
# --------------------------------------------------------------------------------------------

write_backports_source() {
    local want
    want="Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
    if [[ ! -f "$BACKPORTS_LIST" ]] || [[ "$(cat "$BACKPORTS_LIST")"$'\n' != "$want" ]]; then
        log "writing $BACKPORTS_LIST"
        printf '%s' "$want" >"$BACKPORTS_LIST"
        return 0
    fi
    return 1
}

# 0 if every package is installed at an acceptable version (one dpkg-query call: fast path).
packages_ok() {
    local out p st ver
    out="$(dpkg-query -W -f='${Package} ${db:Status-Status} ${Version}\n' \
        "${BP_PKGS[@]}" "${EXTRA_PKGS[@]}" 2>/dev/null)" || return 1
    for p in "${BP_PKGS[@]}" "${EXTRA_PKGS[@]}"; do
        read -r st ver < <(awk -v p="$p" '$1 == p {print $2, $3}' <<<"$out")
        [[ "${st:-}" == installed ]] || return 1
        if [[ " ${SAMBA_VERSIONED[*]} " == *" $p "* ]]; then
            dpkg --compare-versions "$ver" ge "$SAMBA_MIN_VERSION" || return 1
        fi
    done
    return 0
}

# Run an apt/dpkg command, waiting (never killing) while another process holds the locks.
APT_LOG=""
apt_retry() {
    local tries=0 rc
    while :; do
        rc=0
        "$@" >>"$APT_LOG" 2>&1 || rc=$?
        [[ $rc -eq 0 ]] && return 0
        if tail -n 5 "$APT_LOG" | grep -qiE 'could not get lock|unable to acquire|is another process using it'; then
            tries=$((tries + 1))
            [[ $tries -le 120 ]] || die_log "apt/dpkg lock still held after 10 minutes: $*" "$APT_LOG"
            log "apt/dpkg is locked by another process; waiting (attempt $tries)"
            sleep 5
            continue
        fi
        die_log "failed (exit $rc): $*" "$APT_LOG"
    done
}

POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
restore_policy() {
    if [[ -n "$POLICY_BACKUP" && -f "$POLICY_BACKUP" ]]; then
        cp -p "$POLICY_BACKUP" "$POLICY" && rm -f "$POLICY_BACKUP"
    else
        rm -f "$POLICY"
    fi
}

# Pids of running processes whose executable is one of the system Samba daemons.
system_samba_pids() {
    find /proc/[0-9]*/exe -maxdepth 0 \( -lname /usr/sbin/smbd -o -lname /usr/sbin/nmbd \
        -o -lname /usr/sbin/winbindd -o -lname /usr/sbin/samba \) 2>/dev/null |
        cut -d/ -f3 || true
}

disable_system_services() {
    local u
    # Debian ships samba-ad-dc masked; make sure the member-server daemons are off too.
    for u in smbd nmbd winbind samba-ad-dc; do
        if command -v systemctl >/dev/null 2>&1 &&
            [[ "$(readlink "/etc/systemd/system/$u.service" 2>/dev/null)" != /dev/null ]]; then
            systemctl disable "$u" >/dev/null 2>&1 || true
            systemctl mask "$u" >/dev/null 2>&1 || true
        fi
        if compgen -G "/etc/rc[2-5].d/S[0-9][0-9]$u" >/dev/null && command -v update-rc.d >/dev/null 2>&1; then
            update-rc.d "$u" disable >/dev/null 2>&1 || true
        fi
    done
    # Anything the package scripts started despite policy-rc.d: stop it by the pid files the
    # system daemons write (never by name), skipping our own instance.
    local ours pf pid
    ours=" $(recorded_pids | tr '\n' ' ') "
    for pf in /run/samba/smbd.pid /run/samba/nmbd.pid /run/samba/winbindd.pid /run/samba/samba.pid; do
        [[ -f "$pf" ]] || continue
        pid="$(tr -dc 0-9 <"$pf")"
        [[ -n "$pid" && -d /proc/$pid && "$ours" != *" $pid "* ]] || continue
        log "stopping system daemon pid $pid ($pf)"
        kill -TERM "$pid" 2>/dev/null || true
        sleep 0.5
    done
    local left=""
    local anc
    for pid in $(system_samba_pids); do
        # Ours if it or an ancestor is a recorded pid (samba re-forks its workers after start).
        anc=$pid
        while [[ -n "$anc" && "$anc" != 0 && "$anc" != 1 && "$ours" != *" $anc "* ]]; do
            anc=$(sed 's/.*) //' "/proc/$anc/stat" 2>/dev/null | awk '{print $2}') || anc=""
        done
        [[ -n "$anc" && "$anc" != 0 && "$anc" != 1 ]] || left+=" $pid"
    done
    if [[ -n "$left" ]]; then
        ps -o pid,ppid,args -p "${left# }" >&2 || true
        die "system Samba daemons are running (pids:$left) that this script did not start; stop them first"
    fi
}

cmd_install() {
    need_root
    local t0
    t0="$(now)"
    local changed=0
    write_backports_source && changed=1
    if [[ $changed -eq 0 ]] && packages_ok; then
        disable_system_services
        log "install: packages already present (samba $(dpkg-query -W -f='${Version}' samba)); fast path $(elapsed "$t0") s"
        return 0
    fi
    mkdir -p "$TESTENV_DIR"
    APT_LOG="$TESTENV_DIR/samba-install.log"
    : >"$APT_LOG"
    export DEBIAN_FRONTEND=noninteractive
    local aptopts=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    log "install: apt-get update"
    apt_retry apt-get -q -o DPkg::Lock::Timeout=600 update
    log "install: download"
    apt_retry apt-get "${aptopts[@]}" install --download-only -t bookworm-backports "${BP_PKGS[@]}" "${EXTRA_PKGS[@]}"

    # Install with no network at all (krb5-config's DNS lookups, smbd/nmbd broadcasts) and
    # with services forbidden to start.
    if [[ -e "$POLICY" ]]; then
        POLICY_BACKUP="$(mktemp "$TESTENV_DIR/policy-rc.d.XXXXXX")"
        cp -p "$POLICY" "$POLICY_BACKUP"
    fi
    trap 'restore_policy' EXIT
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    log "install: dpkg inside unshare --net"
    apt_retry unshare --net -- apt-get "${aptopts[@]}" --no-download install -t bookworm-backports \
        "${BP_PKGS[@]}" "${EXTRA_PKGS[@]}"
    restore_policy
    trap - EXIT

    packages_ok || die_log "packages still missing or too old after install" "$APT_LOG"
    disable_system_services
    log "install: samba $(dpkg-query -W -f='${Version}' samba) installed in $(elapsed "$t0") s (log: $APT_LOG)"
}

# --------------------------------------------------------------------------------------------
# process bookkeeping (by pid + start time, never by name)
# --------------------------------------------------------------------------------------------

# start time (clock ticks since boot) of a pid, to guard against pid reuse
proc_starttime() {
    local s
    read -r s 2>/dev/null <"/proc/$1/stat" || return 1
    s="${s##*) }"
    # shellcheck disable=SC2086
    set -- $s
    echo "${20}"
}

# all descendants of a pid (not the pid itself)
proc_descendants() {
    local root="$1" f s pid ppid
    declare -A kids=()
    local rest
    for f in /proc/[0-9]*/stat; do
        { read -r s <"$f"; } 2>/dev/null || continue
        pid="${s%% *}"
        s="${s##*) }"
        read -r _ ppid rest <<<"$s"
        kids[$ppid]+=" $pid"
    done
    local queue=("$root") cur k
    while [[ ${#queue[@]} -gt 0 ]]; do
        cur="${queue[0]}"
        queue=("${queue[@]:1}")
        for k in ${kids[$cur]:-}; do
            echo "$k"
            queue+=("$k")
        done
    done
}

# pids from the record whose start time still matches (i.e. still ours)
recorded_pids() {
    [[ -f "$PIDREC" ]] || return 0
    local pid st cur
    while read -r pid st; do
        [[ "$pid" =~ ^[0-9]+$ ]] || continue
        cur="$(proc_starttime "$pid")" || continue
        [[ "$cur" == "$st" ]] && echo "$pid"
    done <"$PIDREC"
    return 0
}

record_pids() {
    local master="$1" p st
    {
        for p in "$master" $(proc_descendants "$master"); do
            st="$(proc_starttime "$p")" && echo "$p $st"
        done
    } >"$PIDREC.tmp"
    mv "$PIDREC.tmp" "$PIDREC"
}

stop_ours() {
    local pids master="" p
    pids="$(recorded_pids)"
    if [[ -z "$pids" ]]; then
        rm -f "$PIDREC"
        return 0
    fi
    master="$(head -n1 "$PIDREC" | cut -d' ' -f1)"
    # children forked since the record was written (prefork restarts)
    if echo "$pids" | grep -qx "$master"; then
        pids="$(printf '%s\n%s\n' "$pids" "$(proc_descendants "$master")" | sort -un)"
    fi
    log "stopping samba (pids: $(echo "$pids" | tr '\n' ' '))"
    if [[ -n "$master" ]] && echo "$pids" | grep -qx "$master"; then
        kill -TERM "$master" 2>/dev/null || true
    fi
    local deadline=$((SECONDS + 10)) alive
    while :; do
        alive=""
        for p in $pids; do [[ -d /proc/$p ]] && [[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]] && alive+=" $p"; done
        [[ -z "$alive" ]] && break
        if [[ $SECONDS -ge $deadline ]]; then
            log "still alive after 10 s, SIGKILL:$alive"
            # shellcheck disable=SC2086
            kill -KILL $alive 2>/dev/null || true
            sleep 0.2
            break
        fi
        # after the master is gone, terminate leftovers individually
        [[ -d /proc/$master ]] || { # shellcheck disable=SC2086
            kill -TERM $alive 2>/dev/null || true; }
        sleep 0.1
    done
    rm -f "$PIDREC"
}

# --------------------------------------------------------------------------------------------
# start
# --------------------------------------------------------------------------------------------

ensure_veth() {
    # Samba refuses loopback interfaces: put 127.0.0.2 on a veth (peer left down). The kernel
    # still routes 127.0.0.0/8 via lo, so nothing leaves the machine.
    if ! ip link show "$VETH" >/dev/null 2>&1; then
        ip link add "$VETH" type veth peer name "${VETH}p" || die "cannot create veth $VETH"
    fi
    if ! ip -o -4 addr show dev "$VETH" | grep -q " $DC_IP/32 "; then
        ip addr add "$DC_IP/32" dev "$VETH" || die "cannot add $DC_IP to $VETH"
    fi
    ip link set "$VETH" up || die "cannot bring $VETH up"
}

ensure_hosts_entry() {
    # dc1.example.test -> 127.0.0.2 for tools that connect by name (ldapsearch -H ldap://dc1...).
    local want="$DC_IP $DC_FQDN $HOST $HOSTS_TAG"
    if grep -qxF "$want" /etc/hosts && [[ "$(grep -cF "$HOSTS_TAG" /etc/hosts)" -eq 1 ]]; then
        return 0
    fi
    local tmp
    tmp="$(mktemp)"
    grep -vF "$HOSTS_TAG" /etc/hosts >"$tmp" || true
    echo "$want" >>"$tmp"
    # rewrite in place: /etc/hosts may be a bind mount
    cat "$tmp" >/etc/hosts
    rm -f "$tmp"
}

make_tls() {
    local d="$WORK/tls"
    mkdir -p "$d"
    (
        set -e
        cd "$d"
        if [[ -n "${TLS_CA_DIR:-}" ]]; then
            # A second DC (testenv/samba-dc2.sh): one CA for the whole test domain.
            cp "$TLS_CA_DIR/ca.pem" "$TLS_CA_DIR/ca.key" .
        else
            openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 3650 \
                -keyout ca.key -out ca.pem -subj "/O=gmsa-testenv/CN=gmsa-testenv test CA" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -addext "subjectKeyIdentifier=hash"
        fi
        openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
            -keyout server.key -out server.csr \
            -subj "/O=gmsa-testenv/CN=$DC_FQDN"
        cat >server.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:$DC_FQDN,DNS:$HOST,DNS:$DNSDOMAIN,IP:$DC_IP
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 \
            -days 825 -extfile server.ext -out server.pem
        chmod 600 ca.key server.key
    ) >"$d/openssl.log" 2>&1 || die_log "certificate generation failed" "$d/openssl.log"
}

write_smb_conf() {
    local d
    for d in private lock state cache binddns run ncalrpc winbindd ntp_signd log; do
        mkdir -p "$WORK/$d"
    done
    chmod 700 "$WORK/private"
    cat >"$SMB_CONF" <<CONF
# Written by testenv/samba-dc.sh: everything stays under $WORK and on $DC_IP.
[global]
	netbios name = ${HOST^^}
	realm = $REALM
	workgroup = $DOMAIN
	server role = active directory domain controller
	# needed for --function-level=2016 (else provision refuses: DC level 2008 R2)
	ad dc functional level = 2016

	interfaces = $DC_IP
	bind interfaces only = yes
	disable netbios = yes
	dns forwarder =
	server services = ${SERVER_SERVICES:-kdc ldap cldap rpc dns}
	prefork children = 2
${EXTRA_GLOBAL:-}

	private dir = $WORK/private
	lock directory = $WORK/lock
	state directory = $WORK/state
	cache directory = $WORK/cache
	binddns dir = $WORK/binddns
	pid directory = $WORK/run
	ncalrpc dir = $WORK/ncalrpc
	winbindd socket directory = $WORK/winbindd
	ntp signd socket directory = $WORK/ntp_signd
	log file = $WORK/log/samba.log
	log level = 1
	max log size = 0

	tls enabled = yes
	tls keyfile = $WORK/tls/server.key
	tls certfile = $WORK/tls/server.pem
	tls cafile = $WORK/tls/ca.pem
	ldap server require strong auth = yes

[sysvol]
	path = $WORK/state/sysvol
	read only = no

[netlogon]
	path = $WORK/state/sysvol/$DNSDOMAIN/scripts
	read only = no
CONF
}

write_krb5_conf() {
    cat >"$KRB5_CONF" <<CONF
# Client krb5.conf for MIT tools against the test DC (written by testenv/samba-dc.sh).
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	dns_canonicalize_hostname = false
	udp_preference_limit = 1

[realms]
	$REALM = {
		kdc = $DC_IP
		admin_server = $DC_IP
		kpasswd_server = $DC_IP
	}

[domain_realm]
	.$DNSDOMAIN = $REALM
	$DNSDOMAIN = $REALM
CONF
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# The ports a started DC must open (samba-forest.sh adds smbd's 445).
DC_PORTS="88 389"
wait_ports() {
    local master="$1" deadline=$((SECONDS + ${SAMBA_START_TIMEOUT:-60})) p
    for p in $DC_PORTS; do
        until port_open "$DC_IP" "$p"; do
            [[ -d /proc/$master ]] || die_log "samba (pid $master) exited before port $p opened" "$SAMBA_LOG" 60
            [[ $SECONDS -lt $deadline ]] || die_log "port $DC_IP:$p not open after ${SAMBA_START_TIMEOUT:-60} s" "$SAMBA_LOG" 60
            sleep 0.05
        done
    done
}

# Starts samba for the DC described by the globals and prints its master pid once $DC_PORTS are
# open. Arguments: a launcher the samba command runs under (e.g. `with_resolv`), none for dc1.
start_samba() {
    # A killed samba leaves its pid file behind: never mistake that pid for the new master.
    rm -f "$WORK/run/samba.pid"
    KRB5_CONFIG="$KRB5_CONF" "$@" samba -s "$SMB_CONF" -D >"$WORK/log/samba-start.out" 2>&1 ||
        die_log "samba -D failed" "$WORK/log/samba-start.out"
    local pidfile="$WORK/run/samba.pid" master="" deadline=$((SECONDS + 15))
    until [[ -s "$pidfile" ]] && master="$(tr -dc 0-9 <"$pidfile")" && [[ -n "$master" ]] && [[ -d /proc/$master ]]; do
        [[ $SECONDS -lt $deadline ]] || die_log "samba wrote no pid file $pidfile" "$SAMBA_LOG" 60
        sleep 0.05
    done
    record_pids "$master" # at once: a failure below must still leave it stoppable
    wait_ports "$master"
    record_pids "$master"
    echo "$master"
}

# `status` of any of the DCs: recorded processes alive, the KDC port open, an anonymous rootDSE
# read answered (strong auth is only required for binds), and a real AS exchange as principal $1
# (password file $2) through krb5.conf $3. Returns 1 with the reason logged.
status_common() {
    local principal="$1" pwfile="$2" conf="$3" pids
    pids="$(recorded_pids)"
    [[ -n "$pids" ]] || { log "status: no recorded samba process"; return 1; }
    port_open "$DC_IP" 88 || { log "status: KDC $DC_IP:88 not answering"; return 1; }
    if ! ldapsearch -LLL -x -H "ldap://$DC_IP" -s base -b "" defaultNamingContext >/dev/null 2>&1; then
        log "status: LDAP $DC_IP:389 not answering"
        return 1
    fi
    KRB5_CONFIG="$conf" kinit -c MEMORY:status "$principal" <"$pwfile" >/dev/null 2>&1 || {
        log "status: the KDC at $DC_IP did not issue a TGT for $principal"
        return 1
    }
    STATUS_PIDS="$(echo "$pids" | tr '\n' ' ')"
}

# --------------------------------------------------------------------------------------------
# helpers of the DCs started next to dc1 (samba-dc2.sh, samba-forest.sh); they set DC1_WORK,
# DC1_IP and RESOLV_NS
# --------------------------------------------------------------------------------------------

need_dc1() {
    [[ -s "$DC1_WORK/testenv.json" && -s "$DC1_WORK/admin.password" ]] ||
        die "dc1 is not provisioned ($DC1_WORK/testenv.json missing): run testenv/samba-dc.sh start first"
    port_open "$DC1_IP" 389 || die "dc1 LDAP $DC1_IP:389 does not answer: run testenv/samba-dc.sh start first"
}

# An authentication file for samba-tool -A (0600; passwords never on argv).
write_auth() {
    local file="$1" user="$2" pwfile="$3" dom="$4"
    (umask 077 && printf 'username = %s\npassword = %s\ndomain = %s\n' "$user" "$(cat "$pwfile")" "$dom" >"$file")
}

# samba-tool against dc1 as its Administrator, over LDAP.
dc1_tool() {
    [[ -s "$WORK/dc1-admin.auth" ]] || write_auth "$WORK/dc1-admin.auth" Administrator "$DC1_WORK/admin.password" EXAMPLE
    KRB5_CONFIG="$DC1_WORK/krb5.conf" with_resolv samba-tool "$@" -H "ldap://$DC1_IP" \
        -A "$WORK/dc1-admin.auth" --use-kerberos=off
}

# Samba resolves names itself through /etc/resolv.conf, whose server is off loopback. So
# everything such a DC runs (and every samba-tool run for it) sees a private resolv.conf naming
# $RESOLV_NS, bind-mounted over /etc/resolv.conf in its own mount namespace.
# With --winbindd (a DC that runs smbd): also $WORK/winbindd over /run/samba/winbindd. smbd (and
# every libwbclient user) finds winbindd only at that built-in path, not at smb.conf's `winbindd
# socket directory` (WINBINDD_SOCKET_DIR counts only under nss_wrapper); unreachable, the SMB
# session setup fails with NT_STATUS_INTERNAL_ERROR (wbcSidsToUnixIds for the unix token).
with_resolv() {
    local wb=""
    if [[ "$1" == --winbindd ]]; then
        shift
        mkdir -p "$WORK/winbindd" /run/samba/winbindd
        wb="$WORK/winbindd"
    fi
    [[ -s "$WORK/resolv.conf" ]] || printf 'nameserver %s\n' "$RESOLV_NS" >"$WORK/resolv.conf"
    unshare --mount --propagation private -- /bin/sh -c \
        'mount --bind "$0" /etc/resolv.conf && { [ -z "$1" ] || mount --bind "$1" /run/samba/winbindd; } && shift && exec "$@"' \
        "$WORK/resolv.conf" "$wb" "$@"
}

write_env_files() {
    local objs="$1"
    cat >"$WORK/env.sh" <<ENV
# Source this file to use the test DC with MIT tools (written by testenv/samba-dc.sh).
export KRB5_CONFIG=$KRB5_CONF
export KRB5CCNAME=FILE:$WORK/krb5cc
export LDAPTLS_CACERT=$WORK/tls/ca.pem
export GMSA_TESTENV_JSON=$WORK/testenv.json
export SAMBA_SMB_CONF=$SMB_CONF
export SAMBA_DC_IP=$DC_IP
export SAMBA_REALM=$REALM
ENV
    WORK="$WORK" SMB_CONF="$SMB_CONF" KRB5_CONF="$KRB5_CONF" SAMBA_LOG="$SAMBA_LOG" OBJS="$objs" \
        /usr/bin/python3 - <<'PY'
import json, os
w = os.environ["WORK"]
o = json.loads(os.environ["OBJS"])
env = {
    "realm": "EXAMPLE.TEST",
    "domain": "example.test",
    "netbios_domain": "EXAMPLE",
    "dc_ip": "127.0.0.2",
    "dc_host": "dc1.example.test",
    "base_dn": "DC=example,DC=test",
    "krb5_conf": os.environ["KRB5_CONF"],
    "ca_cert": os.path.join(w, "tls", "ca.pem"),
    "dns": "127.0.0.2:53",
    "kdc": "127.0.0.2:88",
    "ldap": "ldap://dc1.example.test",
    "ldaps": "ldaps://dc1.example.test",
    "users": {
        "reader": {"name": "svc-fetcher", "principal": "svc-fetcher@EXAMPLE.TEST",
                    "password_file": os.path.join(w, "svc-fetcher.password")},
        "denied": {"name": "svc-denied", "principal": "svc-denied@EXAMPLE.TEST",
                   "password_file": os.path.join(w, "svc-denied.password")},
    },
    "readers_group": {"name": "gmsa-readers", "dn": o["group_dn"], "sid": o["group_sid"]},
    "gmsa": {"name": "WebApp01", "sam": "WebApp01$", "principal": "WebApp01$@EXAMPLE.TEST",
             "dns_host_name": "webapp01.example.test", "dn": o["gmsa_dn"], "sid": o["gmsa_sid"],
             "salt": "EXAMPLE.TESThostwebapp01.example.test",
             "keytab": os.path.join(w, "webapp01.keytab"),
             "sample_blob": os.path.join(w, "sample-blob.bin")},
    "machine": {"sam": "ECSHOST01$", "principal": "ECSHOST01$@EXAMPLE.TEST",
                "dns_host_name": "ecshost01.example.test", "dn": o["machine_dn"],
                "salt": "EXAMPLE.TESThostecshost01.example.test",
                "password_file": os.path.join(w, "ecshost01.password"),
                "keytab": os.path.join(w, "ecshost01.keytab")},
    "admin": {"name": "Administrator", "password_file": os.path.join(w, "admin.password")},
    "smb_conf": os.environ["SMB_CONF"],
    "private_dir": os.path.join(w, "private"),
    "sam_ldb": os.path.join(w, "private", "sam.ldb"),
    "samba_log": os.environ["SAMBA_LOG"],
    "env_sh": os.path.join(w, "env.sh"),
}
with open(os.path.join(w, "testenv.json"), "w") as f:
    json.dump(env, f, indent=2)
    f.write("\n")
PY
}

# End-to-end check of a fresh instance, as a client would see it: MIT kinit as the reader, a
# sealed GSSAPI LDAP read of msDS-ManagedPassword (saved to WORK/sample-blob.bin), and the keys
# derived from that blob must equal Samba's exported keytab (aes256, aes128, rc4).
# kinit as the reader (password file $1) through $KRB5_CONF, then a sealed GSSAPI read of the
# gMSA's msDS-ManagedPassword from ldap://$DC_FQDN into $WORK/selfcheck.ldif; log in $2.
sealed_read_check() {
    local pwfile="$1" out="$2" cc="FILE:$WORK/krb5cc.selfcheck"
    KRB5_CONFIG="$KRB5_CONF" KRB5CCNAME="$cc" kinit "svc-fetcher@$REALM" \
        <"$pwfile" >>"$out" 2>&1 || die_log "self-check: kinit svc-fetcher ($KRB5_CONF) failed" "$out"
    KRB5_CONFIG="$KRB5_CONF" KRB5CCNAME="$cc" ldapsearch -LLL -N -Y GSSAPI -O minssf=56 \
        -H "ldap://$DC_FQDN" -b "CN=WebApp01,CN=Managed Service Accounts,$BASE_DN" -s base \
        msDS-ManagedPassword >"$WORK/selfcheck.ldif" 2>>"$out" ||
        die_log "self-check: sealed ldapsearch of msDS-ManagedPassword at $DC_FQDN failed" "$out"
}

self_check() {
    local cc="FILE:$WORK/krb5cc.selfcheck" out="$WORK/selfcheck.log"
    : >"$out"
    sealed_read_check "$WORK/svc-fetcher.password" "$out"
    /usr/bin/python3 - "$WORK/selfcheck.ldif" "$WORK/sample-blob.bin" >>"$out" 2>&1 <<'PY' ||
import base64, re, sys
text = re.sub(r"\n ", "", open(sys.argv[1]).read())
m = re.search(r"^msDS-ManagedPassword:: (\S+)", text, re.M)
if not m:
    sys.exit("msDS-ManagedPassword not returned to svc-fetcher")
open(sys.argv[2], "wb").write(base64.b64decode(m.group(1)))
PY
        die_log "self-check: no msDS-ManagedPassword in the reader's result" "$out"
    /usr/bin/python3 "$HERE/samba/check_gmsa_keys.py" "$WORK/sample-blob.bin" "$WORK/webapp01.keytab" \
        "${REALM}host${GMSA_HOST_LC}.${DNSDOMAIN}" >>"$out" 2>&1 ||
        die_log "self-check: keys from the blob differ from the exported keytab" "$out"
    KRB5_CONFIG="$KRB5_CONF" KRB5CCNAME="$cc" kdestroy >/dev/null 2>&1 || true
    rm -f "$WORK/selfcheck.ldif"
}

# Address, name, certificate and configuration of the DC described by the globals.
prepare_files() {
    ensure_veth
    ensure_hosts_entry
    make_tls
    write_smb_conf
    write_krb5_conf
}

cmd_start() {
    need_root
    if ! command -v samba >/dev/null || ! command -v samba-tool >/dev/null; then
        die "samba is not installed: run '$0 install' first"
    fi
    local t0 t
    t0="$(now)"
    mkdir -p "$TESTENV_DIR"
    stop_ours
    if port_open "$DC_IP" 88 || port_open "$DC_IP" 389; then
        ss -ltnp 2>/dev/null | grep -E "$DC_IP:(88|389)\b" >&2 || true
        die "$DC_IP:88 or :389 is already in use by a process this script did not record; stop it first"
    fi
    rm -rf "$WORK"
    mkdir -p "$WORK"
    chmod 700 "$WORK"
    SMB_CONF="$WORK/smb.conf"
    KRB5_CONF="$WORK/krb5.conf"
    SAMBA_LOG="$WORK/log/samba.log"
    local plog="$WORK/provision.log"

    t="$(now)"
    prepare_files
    log "start: veth, hosts, TLS, config in $(elapsed "$t") s"

    local adminpass
    adminpass="Adm1!$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    (umask 077 && printf '%s' "$adminpass" >"$WORK/admin.password")
    t="$(now)"
    # Local-only steps run in an empty network namespace: nothing they do can reach the host
    # resolver (whose nameserver is not on loopback).
    $OFFLINE samba-tool domain provision -s "$SMB_CONF" --targetdir="$WORK" \
        --realm="$REALM" --domain="$DOMAIN" --server-role=dc --dns-backend=SAMBA_INTERNAL \
        --host-name="$HOST" --host-ip="$DC_IP" --adminpass="$adminpass" --function-level=2016 \
        >"$plog" 2>&1 || die_log "samba-tool domain provision failed" "$plog"
    log "start: provision in $(elapsed "$t") s"

    # SPNs that provision does not write (ldap/dc1.example.test, ...).
    t="$(now)"
    $OFFLINE samba_spnupdate -s "$SMB_CONF" >"$WORK/spnupdate.log" 2>&1 ||
        die_log "samba_spnupdate failed" "$WORK/spnupdate.log"
    log "start: samba_spnupdate in $(elapsed "$t") s"

    t="$(now)"
    local objs
    objs="$($OFFLINE /usr/bin/python3 "$HERE/samba/objects.py" "$SMB_CONF" "$WORK" 2>"$WORK/objects.log")" ||
        die_log "creating the test objects failed" "$WORK/objects.log"
    printf '%s\n' "$objs" >"$WORK/objects.json"
    log "start: objects in $(elapsed "$t") s ($(echo "$objs" | tr -d '\n ' | grep -o '"timings":{[^}]*}'))"

    t="$(now)"
    # Reference keytabs from the local sam.ldb while samba comes up; one principal per process
    # (a second export in the same process aborts in 4.22.6: "Bad talloc magic value").
    $OFFLINE samba-tool domain exportkeytab -s "$SMB_CONF" "$WORK/webapp01.keytab" --principal='WebApp01$' \
        >"$WORK/keytab-gmsa.log" 2>&1 &
    local ktpid1=$!
    $OFFLINE samba-tool domain exportkeytab -s "$SMB_CONF" "$WORK/ecshost01.keytab" \
        --principal="ECSHOST01\$@$REALM" >"$WORK/keytab-machine.log" 2>&1 &
    local ktpid2=$! master
    master="$(start_samba)"
    wait "$ktpid1" || die_log "exporting the gMSA keytab failed" "$WORK/keytab-gmsa.log"
    wait "$ktpid2" || die_log "exporting the machine keytab failed" "$WORK/keytab-machine.log"
    chmod 600 "$WORK/webapp01.keytab" "$WORK/ecshost01.keytab"
    log "start: samba (pid $master) up, 88+389 open, in $(elapsed "$t") s"

    t="$(now)"
    self_check
    log "start: self-check (kinit, sealed LDAP read, blob keys == keytab) in $(elapsed "$t") s"

    write_env_files "$objs"
    log "start: done in $(elapsed "$t0") s; source $WORK/env.sh; description: $WORK/testenv.json"
}

cmd_stop() {
    need_root
    local t0
    t0="$(now)"
    stop_ours
    log "stop: done in $(elapsed "$t0") s"
}

cmd_status() {
    status_common "svc-fetcher@$REALM" "$WORK/svc-fetcher.password" "$WORK/krb5.conf" || return 1
    log "status: running (pids: $STATUS_PIDS), KDC and LDAP answer"
}

usage() {
    echo "usage: $0 {install|start|stop|status}" >&2
    exit 2
}

main() {
    case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status || exit 1 ;;
    *) usage ;;
    esac
}

# testenv/samba-dc2.sh and testenv/samba-forest.sh source this file for its helpers.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
