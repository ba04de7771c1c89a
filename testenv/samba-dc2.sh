#!/usr/bin/env bash
# A second Samba AD DC (dc2.example.test, 127.0.0.12) joined to the test domain EXAMPLE.TEST of
# testenv/samba-dc.sh, in its own AD site, for the failover and AD-sites tests.
#
#   testenv/samba-dc2.sh start    # sites on dc1, wipe + join + start dc2, DNS records, self-check
#   testenv/samba-dc2.sh stop     # stop dc2 (pid file + recorded descendants, never by name)
#   testenv/samba-dc2.sh kill     # SIGKILL dc2 at once (a DC dying; tests use it, then `restart`)
#   testenv/samba-dc2.sh freeze   # SIGSTOP dc2 (a DC that reads and never answers; then `thaw`)
#   testenv/samba-dc2.sh thaw     # SIGCONT dc2
#   testenv/samba-dc2.sh restart  # start the existing join again (no re-join), wait for 88+389
#   testenv/samba-dc2.sh status   # exit 0 iff dc2's KDC and LDAP answer
#
# dc1 (127.0.0.2) must already run; it is never restarted or re-provisioned from here. What this
# adds to the shared domain (additive only): site Site-B, subnet 127.0.0.0/8 -> Site-B (so every
# loopback client is "in" Site-B), the DC2$ account and its server objects, and DNS records for
# dc2 in dc1's zone (_ldap._tcp.dc._msdcs and _ldap._tcp.Site-B._sites.dc._msdcs list dc2). dc1
# stays in Default-First-Site-Name, whose SRV records keep listing dc1 only.
#
# dc1 runs no replication service (server services: kdc ldap cldap rpc dns), so changes flow
# dc1 -> dc2 only: dc2's drepl pulls every 10 s. Objects (the gMSA, its readers) exist before the
# join and are read from both. badPwdCount is per DC in AD (not replicated) and in Samba too.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=samba-dc.sh
source "$HERE/samba-dc.sh"

DC1_WORK="$WORK"
DC1_IP="$DC_IP"
WORK="$TESTENV_DIR/samba2"
PIDREC="$TESTENV_DIR/samba-dc2.pids"
HOST=dc2
DC_IP=127.0.0.12
DC_FQDN="$HOST.$DNSDOMAIN"
VETH=addc1
# Not a substring of samba-dc.sh's tag (it rewrites lines containing its own tag).
HOSTS_TAG="# gmsa-testenv second-dc"
SITE=Site-B
DC1_SITE=Default-First-Site-Name
SUBNET=127.0.0.0/8
SMB_CONF="$WORK/smb.conf"
KRB5_CONF="$WORK/krb5.conf"
SAMBA_LOG="$WORK/log/samba.log"
# Replication: dc2 pulls from dc1 every 10 s (default 300 s).
SERVER_SERVICES="kdc ldap cldap rpc dns drepl"
EXTRA_GLOBAL="	dreplsrv:periodic_interval = 10"
export TLS_CA_DIR="$DC1_WORK/tls"
# dc2's replication looks dc1 up as <ntds guid>._msdcs.<domain> and samba_dnsupdate asks for the
# zone's SOA (4.22 no longer has `dns hosts file`): everything of dc2 resolves through dc1's DNS.
RESOLV_NS="$DC1_IP"
LOG_TAG=samba-dc2

# Create a site/subnet on dc1 unless it is there (additive: nothing existing is moved).
ensure_sites() {
    local out="$WORK/sites.log"
    if ! dc1_tool sites list >"$out" 2>&1; then
        die_log "samba-tool sites list on dc1 failed" "$out"
    fi
    if ! grep -qx "$SITE" "$out"; then
        dc1_tool sites create "$SITE" >>"$out" 2>&1 || die_log "samba-tool sites create $SITE failed" "$out"
        log "start: site $SITE created on dc1"
    fi
    if ! dc1_tool sites subnet view "$SUBNET" >>"$out" 2>&1; then
        dc1_tool sites subnet create "$SUBNET" "$SITE" >>"$out" 2>&1 ||
            die_log "samba-tool sites subnet create $SUBNET $SITE failed" "$out"
        log "start: subnet $SUBNET -> $SITE created on dc1"
    fi
}

# Waits until dc2's own database has an SPN written on dc1 (drepl pulls every 10 s).
wait_replicated() {
    local spn="$1" deadline=$((SECONDS + 60))
    until $OFFLINE samba-tool spn list "${HOST^^}\$" -s "$SMB_CONF" 2>/dev/null | grep -qF "$spn"; do
        [[ $SECONDS -lt $deadline ]] || die_log "dc2 has not replicated $spn from dc1 within 60 s" "$SAMBA_LOG" 40
        sleep 1
    done
}

# dc2's DNS records, written straight into dc1's zone over RPC (dc1 does not pull from dc2).
# Only its name, its _msdcs CNAME and the records of its site: the domain-wide SRV records
# (_ldap._tcp.dc._msdcs, _kerberos._tcp, ...) keep listing dc1 alone, so tests that discover
# "the" DC by DNS keep finding dc1 while dc2 comes and goes.
register_dns() {
    local out="$WORK/dnsupdate.log"
    cat >"$WORK/dns_update_list" <<'LIST'
A      ${HOSTNAME}                                          $IP
CNAME  ${NTDSGUID}._msdcs.${DNSFOREST}                      ${HOSTNAME}
SRV    _ldap._tcp.${SITE}._sites.${DNSDOMAIN}               ${HOSTNAME} 389
SRV    _ldap._tcp.${SITE}._sites.dc._msdcs.${DNSDOMAIN}     ${HOSTNAME} 389
SRV    _kerberos._tcp.${SITE}._sites.${DNSDOMAIN}           ${HOSTNAME} 88
SRV    _kerberos._tcp.${SITE}._sites.dc._msdcs.${DNSDOMAIN} ${HOSTNAME} 88
LIST
    RESOLV_CONF="$WORK/resolv.conf" KRB5_CONFIG="$KRB5_CONF" with_resolv samba_dnsupdate -s "$SMB_CONF" --use-samba-tool --rpc-server-ip="$DC1_IP" \
        --current-ip="$DC_IP" --all-names --update-list="$WORK/dns_update_list" --verbose >"$out" 2>&1 ||
        # An earlier join's records are still in the zone ("already exists" fails the tool):
        # self_check verifies the records that matter.
        log "start: samba_dnsupdate: $(grep -c 'RECORD_ALREADY_EXISTS' "$out") records were already present"
}

dc2_self_check() {
    local cc="FILE:$WORK/krb5cc.selfcheck" out="$WORK/selfcheck.log" name want
    : >"$out"
    # dc2's own KDC (its krb5.conf) and a sealed read of the gMSA's password from dc2's LDAP.
    sealed_read_check "$DC1_WORK/svc-fetcher.password" "$out"
    grep -q '^msDS-ManagedPassword::' "$WORK/selfcheck.ldif" ||
        die_log "self-check: dc2 returned no msDS-ManagedPassword to svc-fetcher" "$out"
    KRB5_CONFIG="$KRB5_CONF" KRB5CCNAME="$cc" kdestroy >/dev/null 2>&1 || true
    rm -f "$WORK/selfcheck.ldif"
    # dc1's DNS lists dc2 for the domain and for Site-B, and dc1 alone for its own site.
    dig +short +time=2 +tries=1 @"$DC1_IP" SRV "_ldap._tcp.$SITE._sites.dc._msdcs.$DNSDOMAIN" >>"$out" 2>&1
    grep -q " $DC_FQDN\.$" "$out" || die_log "self-check: _ldap._tcp.$SITE._sites at $DC1_IP does not list $DC_FQDN" "$out"
    for name in "_ldap._tcp.$DC1_SITE._sites.dc._msdcs.$DNSDOMAIN" "_ldap._tcp.dc._msdcs.$DNSDOMAIN"; do
        want="$(dig +short +time=2 +tries=1 @"$DC1_IP" SRV "$name")"
        [[ "$want" == *" dc1.$DNSDOMAIN." && "$want" != *"$DC_FQDN"* ]] ||
            die "self-check: $name at $DC1_IP should list dc1 only, got: $want"
    done
}

write_env_json() {
    WORK="$WORK" SMB_CONF="$SMB_CONF" KRB5_CONF="$KRB5_CONF" SAMBA_LOG="$SAMBA_LOG" DC_IP="$DC_IP" \
        DC_FQDN="$DC_FQDN" SITE="$SITE" DC1_SITE="$DC1_SITE" SUBNET="$SUBNET" HERE="$HERE" \
        /usr/bin/python3 - <<'PY'
import json, os
w = os.environ["WORK"]
env = {
    "realm": "EXAMPLE.TEST",
    "domain": "example.test",
    "dc_ip": os.environ["DC_IP"],
    "dc_host": os.environ["DC_FQDN"],
    "dc_site": os.environ["SITE"],
    "dc1_site": os.environ["DC1_SITE"],
    "client_subnet": os.environ["SUBNET"],
    "client_site": os.environ["SITE"],
    "krb5_conf": os.environ["KRB5_CONF"],
    "kdc": os.environ["DC_IP"] + ":88",
    "dns": os.environ["DC_IP"] + ":53",
    "smb_conf": os.environ["SMB_CONF"],
    "sam_ldb": os.path.join(w, "private", "sam.ldb"),
    "samba_log": os.environ["SAMBA_LOG"],
    "script": os.path.join(os.environ["HERE"], "samba-dc2.sh"),
}
with open(os.path.join(w, "testenv.json"), "w") as f:
    json.dump(env, f, indent=2)
    f.write("\n")
PY
}

cmd_start() {
    need_root
    need_dc1
    local t0 t master
    t0="$(now)"
    stop_ours
    if port_open "$DC_IP" 88 || port_open "$DC_IP" 389; then
        die "$DC_IP:88 or :389 is already in use by a process this script did not record; stop it first"
    fi
    rm -rf "$WORK"
    mkdir -p "$WORK"
    chmod 700 "$WORK"

    t="$(now)"
    prepare_files
    ensure_sites
    log "start: veth, hosts, TLS, config, site $SITE + subnet $SUBNET in $(elapsed "$t") s"

    # Join against dc1 (its KDC). A DC2 left by an earlier join is replaced by the join itself
    # (samba's join removes the old account and server objects of the same name first).
    t="$(now)"
    KRB5_CONFIG="$DC1_WORK/krb5.conf" with_resolv samba-tool domain join "$DNSDOMAIN" DC -s "$SMB_CONF" \
        --targetdir="$WORK" --server="$DC1_IP" --realm="$REALM" --site="$SITE" \
        --dns-backend=SAMBA_INTERNAL -A "$WORK/dc1-admin.auth" --use-kerberos=off \
        >"$WORK/join.log" 2>&1 || die_log "samba-tool domain join $DNSDOMAIN DC failed" "$WORK/join.log" 60
    log "start: joined $REALM as ${HOST^^} in $SITE in $(elapsed "$t") s"
    # The join writes HOST/ SPNs only (samba_spnupdate would add ldap/ ones to dc2's own database,
    # which dc1 never pulls): write the LDAP ones, and ldap|HOST/<ip> as on dc1, on dc1.
    local spn
    : >"$WORK/spn.log"
    for spn in "ldap/$DC_FQDN" "ldap/${HOST^^}" "ldap/$DC_FQDN/$DNSDOMAIN" "ldap/$DC_IP" "HOST/$DC_IP"; do
        dc1_tool spn add "$spn" "${HOST^^}\$" >>"$WORK/spn.log" 2>&1 || die_log "spn add $spn on dc1 failed" "$WORK/spn.log"
    done

    t="$(now)"
    master="$(start_samba with_resolv)"
    log "start: samba (pid $master) up, 88+389 open, in $(elapsed "$t") s"

    t="$(now)"
    wait_replicated "ldap/$DC_IP"
    log "start: dc1 -> dc2 replication of the SPNs in $(elapsed "$t") s"

    t="$(now)"
    register_dns
    log "start: DNS records of dc2 written to dc1 in $(elapsed "$t") s"

    t="$(now)"
    dc2_self_check
    log "start: self-check (kinit at dc2, sealed LDAP read at dc2, SRV records) in $(elapsed "$t") s"
    write_env_json
    log "start: done in $(elapsed "$t0") s; description: $WORK/testenv.json"
}

cmd_restart() {
    need_root
    [[ -s "$SMB_CONF" && -s "$WORK/private/sam.ldb" ]] || die "dc2 was never joined: run '$0 start'"
    stop_ours
    local t0 master
    t0="$(now)"
    master="$(start_samba with_resolv)"
    log "restart: samba (pid $master) up, 88+389 open, in $(elapsed "$t0") s"
}

# A DC dying: SIGKILL to every recorded process at once (tests then call restart).
cmd_kill() {
    need_root
    local pids master
    pids="$(recorded_pids)"
    [[ -n "$pids" ]] || { log "kill: no recorded samba process"; return 0; }
    master="$(head -n1 "$PIDREC" | cut -d' ' -f1)"
    pids="$(printf '%s\n%s\n' "$pids" "$(proc_descendants "$master")" | sort -un)"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    local deadline=$((SECONDS + 5))
    while port_open "$DC_IP" 389 || port_open "$DC_IP" 88; do
        [[ $SECONDS -lt $deadline ]] || die "dc2 ports still open 5 s after SIGKILL"
        sleep 0.05
    done
    rm -f "$PIDREC"
    log "kill: dc2 killed (pids: $(echo "$pids" | tr '\n' ' '))"
}

# A DC that hangs (overloaded, a paused VM): every recorded process stopped with SIGSTOP, so its
# sockets still accept and read into their buffers but nothing answers; `thaw` resumes them.
cmd_signal_all() {
    local sig="$1" pids master
    pids="$(recorded_pids)"
    [[ -n "$pids" ]] || die "$2: no recorded samba process (start dc2 first)"
    master="$(head -n1 "$PIDREC" | cut -d' ' -f1)"
    pids="$(printf '%s\n%s\n' "$pids" "$(proc_descendants "$master")" | sort -un)"
    # shellcheck disable=SC2086
    kill -"$sig" $pids
    log "$2: SIG$sig sent to dc2 (pids: $(echo "$pids" | tr '\n' ' '))"
}

cmd_status2() {
    status_common "svc-fetcher@$REALM" "$DC1_WORK/svc-fetcher.password" "$KRB5_CONF" || return 1
    log "status: running (pids: $STATUS_PIDS), KDC and LDAP answer"
}

case "${1:-}" in
start) cmd_start ;;
stop) need_root && stop_ours ;;
kill) cmd_kill ;;
freeze) need_root && cmd_signal_all STOP freeze ;;
thaw) need_root && cmd_signal_all CONT thaw ;;
restart) cmd_restart ;;
status) cmd_status2 || exit 1 ;;
*)
    echo "usage: $0 {start|stop|kill|freeze|thaw|restart|status}" >&2
    exit 2
    ;;
esac
