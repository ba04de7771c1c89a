#!/usr/bin/env bash
# A second AD forest: Samba 4.22 DC dc3.other.test (127.0.0.31) of domain OTHER.TEST (NetBIOS
# OTHER) with a gMSA readable by a user of EXAMPLE.TEST, and a two-way forest trust with the
# test domain of testenv/samba-dc.sh (dc1, 127.0.0.2), for the cross-forest lease tests.
#
#   testenv/samba-forest.sh start    # wipe + provision dc3 + gMSA + start + trust with dc1 + self-check
#   testenv/samba-forest.sh restart  # start the existing provision again (FOREST_LOG_LEVEL=N: log level)
#   testenv/samba-forest.sh stop     # stop dc3 (pid file + recorded descendants, never by name)
#   testenv/samba-forest.sh status   # exit 0 iff dc3's KDC and LDAP answer and dc1 trusts it
#
# dc1 must already run; it is never restarted or re-provisioned from here. What this adds to
# dc1 (additive only): the trusted domain object other.test (and its trust account OTHER$),
# written by `samba-tool domain trust create` through dc1's ncalrpc socket, with the forest
# trust information (samba/forest_ftinfo.py). Nothing goes into dc1's DNS zone; dc1's records
# are copied into a zone example.test on dc3's DNS instead (one DNS server for both forests).
# A stale trust object from an earlier start (dc3 re-provisioned: new domain SID) is deleted
# first, on dc1 only; `stop` leaves it (harmless: it routes only *.other.test).
#
# No traffic leaves 127.0.0.0/8: dc3 and every samba-tool call run in their own mount
# namespace with a private resolv.conf naming dc3's DNS (127.0.0.31), dc3's DNS forwards
# nowhere, and the trust is created with --skip-validation, because validating it makes dc1
# (started with the host's resolv.conf) look dc3 up by DNS.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=samba-dc.sh
source "$HERE/samba-dc.sh"

DC1_WORK="$WORK"
DC1_IP="$DC_IP"
DC1_REALM="$REALM"
DC1_DNSDOMAIN="$DNSDOMAIN"
DC1_FQDN="$DC_FQDN"
WORK="$TESTENV_DIR/forest"
PIDREC="$TESTENV_DIR/samba-forest.pids"
REALM=OTHER.TEST
DOMAIN=OTHER
DNSDOMAIN=other.test
HOST=dc3
DC_IP=127.0.0.31
DC_FQDN="$HOST.$DNSDOMAIN"
BASE_DN="DC=other,DC=test"
VETH=addc2
# Not a substring of samba-dc.sh's or samba-dc2.sh's tags (each rewrites lines containing its own).
HOSTS_TAG="# gmsa-testenv forest-dc"
GMSA_NAME=OtherApp01
GMSA_HOST_LC=otherapp01
SMB_CONF="$WORK/smb.conf"
KRB5_CONF="$WORK/krb5.conf"
CROSS_KRB5_CONF="$WORK/krb5-cross.conf"
SAMBA_LOG="$WORK/log/samba.log"
# s3fs (smbd): `samba-tool domain trust create` reaches the remote DC over named pipes (ncacn_np) only;
# winbindd: smbd of an AD DC maps the SMB session's SIDs to ids through it.
SERVER_SERVICES="kdc ldap cldap rpc dns s3fs winbindd"
# No dynamic DNS or SPN updates (the dnsupdate service is not started either).
EXTRA_GLOBAL="	dns update command = /bin/true
	spn update command = /bin/true"
# One CA for both forests: clients trust one file.
export TLS_CA_DIR="$DC1_WORK/tls"

# Every process of dc3 and every samba-tool run from here resolves through dc3's DNS.
RESOLV_NS="$DC_IP"
DC_PORTS="88 389 445"
LOG_TAG=samba-forest

# A krb5.conf that knows both realms, for MIT tools and our tests. No [domain_realm] entry for
# other.test: a host of OTHER.TEST is reached by the referral of EXAMPLE.TEST's KDC (RFC 6806).
write_cross_krb5_conf() {
    cat >"$CROSS_KRB5_CONF" <<CONF
# Both forests (written by testenv/samba-forest.sh).
[libdefaults]
	default_realm = $DC1_REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	dns_canonicalize_hostname = false
	udp_preference_limit = 1

[realms]
	$DC1_REALM = {
		kdc = $DC1_IP
	}
	$REALM = {
		kdc = $DC_IP
	}

[domain_realm]
	.$DC1_DNSDOMAIN = $DC1_REALM
	$DC1_DNSDOMAIN = $DC1_REALM
CONF
}

# The SID of EXAMPLE.TEST's reader, from dc1 over LDAP.
foreign_reader_sid() {
    local out="$WORK/reader-sid.log" sid
    dc1_tool user show svc-fetcher --attributes=objectSid >"$out" 2>&1 ||
        die_log "samba-tool user show svc-fetcher on dc1 failed" "$out"
    sid="$(awk '/^objectSid: /{print $2}' "$out")"
    [[ "$sid" == S-1-5-21-* ]] || die_log "no objectSid for svc-fetcher on dc1" "$out"
    echo "$sid"
}

create_trust() {
    local out="$WORK/trust.log"
    : >"$out"
    # An earlier start's trust object names a domain SID that no longer exists: delete it on
    # dc1 only (the old dc3 is gone). dc1 is the local side (ncalrpc as system, no network).
    if $OFFLINE samba-tool domain trust show "$DNSDOMAIN" -s "$DC1_WORK/smb.conf" >>"$out" 2>&1; then
        $OFFLINE samba-tool domain trust delete "$DNSDOMAIN" \
            --delete-location=local -s "$DC1_WORK/smb.conf" >>"$out" 2>&1 ||
            die_log "deleting the stale trust $DNSDOMAIN on dc1 failed" "$out"
        log "start: stale trust object $DNSDOMAIN deleted on dc1"
    fi
    # Local side dc1 (its smb.conf: ncalrpc), remote side dc3 (ncacn_np to dc3.other.test,
    # found by a CLDAP ping to --ipaddress, as OTHER\Administrator over NTLM).
    KRB5_CONFIG="$CROSS_KRB5_CONF" with_resolv samba-tool domain trust create "$DNSDOMAIN" \
        --type=forest --direction=both --create-location=both --skip-validation \
        -s "$DC1_WORK/smb.conf" -A "$WORK/admin.auth" --use-kerberos=off --ipaddress="$DC_IP" \
        >>"$out" 2>&1 || die_log "samba-tool domain trust create $DNSDOMAIN (on dc1) failed" "$out" 60
    # The forest trust information (top-level names) that validation would have stored; each
    # DC answers for its own forest over ncalrpc, in an empty network namespace.
    $OFFLINE /usr/bin/python3 "$HERE/samba/forest_ftinfo.py" "$DC1_WORK/smb.conf" "$SMB_CONF" >>"$out" 2>&1 ||
        die_log "storing the forest trust information failed" "$out"
}

# dc1's DC records in a zone example.test on dc3's DNS, as a conditional forwarder or a stub zone
# would answer them: one DNS server (dc3's) finds the DCs of both forests, so one daemon serves
# gMSAs of both (CF_DNS_SERVER). Nothing is written to dc1's DNS.
stub_zone() {
    local out="$WORK/stubzone.log" rec
    : >"$out"
    dc3_tool() {
        KRB5_CONFIG="$CROSS_KRB5_CONF" with_resolv samba-tool "$@" -A "$WORK/admin.auth" --use-kerberos=off
    }
    dc3_tool dns zonecreate "$DC_IP" "$DC1_DNSDOMAIN" >>"$out" 2>&1 ||
        die_log "samba-tool dns zonecreate $DC1_DNSDOMAIN at dc3 failed" "$out"
    for rec in "dc1 A $DC1_IP" "_ldap._tcp.dc._msdcs SRV $DC1_FQDN 389 0 100" \
        "_kerberos._udp SRV $DC1_FQDN 88 0 100" "_kerberos._tcp SRV $DC1_FQDN 88 0 100"; do
        # shellcheck disable=SC2086
        set -- $rec
        local name="$1" type="$2"
        shift 2
        dc3_tool dns add "$DC_IP" "$DC1_DNSDOMAIN" "$name" "$type" "$*" >>"$out" 2>&1 ||
            die_log "samba-tool dns add $name $type at dc3 failed" "$out"
    done
}

forest_self_check() {
    local out="$WORK/selfcheck.log" cc="FILE:$WORK/krb5cc.selfcheck" ns
    : >"$out"
    # Every process of dc3 sees the private resolv.conf.
    for ns in $(recorded_pids); do
        [[ "$(nsenter -t "$ns" -m cat /etc/resolv.conf 2>/dev/null)" == "nameserver $DC_IP" ]] ||
            die "self-check: dc3 process $ns does not see the private resolv.conf (nameserver $DC_IP)"
    done
    # dc3's DNS forwards nowhere: a name outside its zones fails at once, locally. Its stub of
    # dc1's records answers.
    if dig +short +time=2 +tries=1 @"$DC_IP" A example.com 2>&1 | grep -q '^[0-9]'; then
        die "self-check: dc3's DNS answered for example.com (it must not forward)"
    fi
    [[ "$(dig +short +time=2 +tries=1 @"$DC_IP" SRV "_ldap._tcp.dc._msdcs.$DC1_DNSDOMAIN")" == "0 100 389 $DC1_FQDN." ]] ||
        die "self-check: dc3's DNS does not list $DC1_FQDN for $DC1_DNSDOMAIN"
    # The trust, as dc1 sees it.
    $OFFLINE samba-tool domain trust show "$DNSDOMAIN" -s "$DC1_WORK/smb.conf" >>"$out" 2>&1 ||
        die_log "self-check: dc1 has no trust $DNSDOMAIN" "$out"
    grep -q '^Type:.*(UPLEVEL)' "$out" && grep -q '^Direction:.*(BOTH)' "$out" &&
        grep -q '^Attributes:.*FOREST_TRANSITIVE' "$out" &&
        grep -qF "TLN: Status[Enabled]                  DNS[*.$DNSDOMAIN]" "$out" ||
        die_log "self-check: trust on dc1 is not a two-way forest trust with $DNSDOMAIN enabled" "$out"
    # The user of EXAMPLE.TEST: TGT at dc1, referral to OTHER.TEST for the host-based
    # ldap@dc3.other.test, sealed GSSAPI read of the gMSA's password at dc3.
    KRB5_CONFIG="$CROSS_KRB5_CONF" KRB5CCNAME="$cc" kinit "svc-fetcher@$DC1_REALM" \
        <"$DC1_WORK/svc-fetcher.password" >>"$out" 2>&1 || die_log "self-check: kinit svc-fetcher@$DC1_REALM failed" "$out"
    KRB5_CONFIG="$CROSS_KRB5_CONF" KRB5CCNAME="$cc" ldapsearch -LLL -N -Y GSSAPI -O minssf=56 \
        -H "ldap://$DC_FQDN" -b "CN=$GMSA_NAME,CN=Managed Service Accounts,$BASE_DN" -s base \
        msDS-ManagedPassword >"$WORK/selfcheck.ldif" 2>>"$out" ||
        die_log "self-check: cross-forest sealed ldapsearch at $DC_FQDN failed" "$out"
    KRB5_CONFIG="$CROSS_KRB5_CONF" KRB5CCNAME="$cc" klist >>"$out" 2>&1 || true
    # MIT keeps the referral's ticket under the referral name ldap/dc3.other.test@ (empty
    # realm) with the real server ldap/dc3.other.test@OTHER.TEST.
    grep -qF "Ticket server: ldap/$DC_FQDN@$REALM" "$out" ||
        die_log "self-check: no service ticket ldap/$DC_FQDN@$REALM (referral) in the cache" "$out"
    /usr/bin/python3 - "$WORK/selfcheck.ldif" "$WORK/sample-blob.bin" >>"$out" 2>&1 <<'PY' ||
import base64, re, sys
text = re.sub(r"\n ", "", open(sys.argv[1]).read())
m = re.search(r"^msDS-ManagedPassword:: (\S+)", text, re.M)
if not m:
    sys.exit("msDS-ManagedPassword not returned to svc-fetcher@EXAMPLE.TEST")
open(sys.argv[2], "wb").write(base64.b64decode(m.group(1)))
PY
        die_log "self-check: dc3 did not give the gMSA's password to the user of $DC1_REALM" "$out"
    /usr/bin/python3 "$HERE/samba/check_gmsa_keys.py" "$WORK/sample-blob.bin" "$WORK/$GMSA_HOST_LC.keytab" \
        "${REALM}host${GMSA_HOST_LC}.${DNSDOMAIN}" >>"$out" 2>&1 ||
        die_log "self-check: keys from the blob differ from the exported keytab" "$out"
    # The gMSA's own AS exchange at dc3.
    KRB5_CONFIG="$CROSS_KRB5_CONF" kinit -k -t "$WORK/$GMSA_HOST_LC.keytab" -c MEMORY:gmsa "$GMSA_NAME\$@$REALM" \
        >>"$out" 2>&1 || die_log "self-check: kinit -k $GMSA_NAME\$@$REALM at dc3 failed" "$out"
    KRB5_CONFIG="$CROSS_KRB5_CONF" KRB5CCNAME="$cc" kdestroy >/dev/null 2>&1 || true
    rm -f "$WORK/selfcheck.ldif"
}

write_env_json() {
    WORK="$WORK" SMB_CONF="$SMB_CONF" KRB5_CONF="$KRB5_CONF" CROSS="$CROSS_KRB5_CONF" SAMBA_LOG="$SAMBA_LOG" \
        DC_IP="$DC_IP" DC_FQDN="$DC_FQDN" HERE="$HERE" DC1_WORK="$DC1_WORK" OBJS="$1" READER_SID="$2" \
        GROUP_SID="$3" \
        /usr/bin/python3 - <<'PY'
import json, os
w = os.environ["WORK"]
o = json.loads(os.environ["OBJS"])
env = {
    "realm": "OTHER.TEST",
    "domain": "other.test",
    "netbios_domain": "OTHER",
    "domain_sid": o["domain_sid"],
    "base_dn": "DC=other,DC=test",
    "dc_ip": os.environ["DC_IP"],
    "dc_host": os.environ["DC_FQDN"],
    "kdc": os.environ["DC_IP"] + ":88",
    "dns": os.environ["DC_IP"] + ":53",
    "ldap": "ldap://" + os.environ["DC_FQDN"],
    "krb5_conf": os.environ["CROSS"],
    "dc_krb5_conf": os.environ["KRB5_CONF"],
    "ca_cert": os.path.join(os.environ["DC1_WORK"], "tls", "ca.pem"),
    "trust": {"partner": "example.test", "type": "forest", "direction": "both"},
    "reader": {
        "principal": "svc-fetcher@EXAMPLE.TEST",
        "sid": os.environ["READER_SID"],
        "password_file": os.path.join(os.environ["DC1_WORK"], "svc-fetcher.password"),
    },
    "readers_group": {"name": "gmsa-readers", "sid": os.environ["GROUP_SID"]},
    "machine": {
        "principal": "ECSHOST01$@EXAMPLE.TEST",
        "keytab": os.path.join(os.environ["DC1_WORK"], "ecshost01.keytab"),
    },
    "denied": {
        "principal": "svc-denied@EXAMPLE.TEST",
        "password_file": os.path.join(os.environ["DC1_WORK"], "svc-denied.password"),
    },
    "gmsa": {
        "name": "OtherApp01",
        "sam": "OtherApp01$",
        "principal": "OtherApp01$@OTHER.TEST",
        "dns_host_name": "otherapp01.other.test",
        "dn": o["gmsa_dn"],
        "sid": o["gmsa_sid"],
        "membership_sddl": o["gmsa_membership_sddl"],
        "salt": "OTHER.TESThostotherapp01.other.test",
        "keytab": os.path.join(w, "otherapp01.keytab"),
    },
    "admin": {"name": "Administrator", "password_file": os.path.join(w, "admin.password")},
    "smb_conf": os.environ["SMB_CONF"],
    "sam_ldb": os.path.join(w, "private", "sam.ldb"),
    "samba_log": os.environ["SAMBA_LOG"],
    "script": os.path.join(os.environ["HERE"], "samba-forest.sh"),
}
with open(os.path.join(w, "testenv.json"), "w") as f:
    json.dump(env, f, indent=2)
    f.write("\n")
PY
}

cmd_start() {
    need_root
    need_dc1
    local t0 t master objs sid group_sid adminpass
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
    write_cross_krb5_conf
    adminpass="Adm1!$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    (umask 077 && printf '%s' "$adminpass" >"$WORK/admin.password")
    write_auth "$WORK/admin.auth" Administrator "$WORK/admin.password" "$DOMAIN"
    sid="$(foreign_reader_sid)"
    group_sid="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["readers_group"]["sid"])' \
        "$DC1_WORK/testenv.json")"
    [[ "$group_sid" == S-1-5-21-* ]] || die "no readers_group.sid in $DC1_WORK/testenv.json"
    log "start: veth, hosts, TLS, config, reader SID $sid, group SID $group_sid in $(elapsed "$t") s"

    t="$(now)"
    $OFFLINE samba-tool domain provision -s "$SMB_CONF" --targetdir="$WORK" \
        --realm="$REALM" --domain="$DOMAIN" --server-role=dc --dns-backend=SAMBA_INTERNAL \
        --host-name="$HOST" --host-ip="$DC_IP" --adminpass="$adminpass" --function-level=2016 \
        >"$WORK/provision.log" 2>&1 || die_log "samba-tool domain provision $REALM failed" "$WORK/provision.log"
    $OFFLINE samba_spnupdate -s "$SMB_CONF" >"$WORK/spnupdate.log" 2>&1 ||
        die_log "samba_spnupdate failed" "$WORK/spnupdate.log"
    objs="$($OFFLINE /usr/bin/python3 "$HERE/samba/forest_objects.py" "$SMB_CONF" "$WORK" "$sid,$group_sid" "$DC_IP" \
        2>"$WORK/objects.log")" || die_log "creating the forest's objects failed" "$WORK/objects.log"
    printf '%s\n' "$objs" >"$WORK/objects.json"
    log "start: provision $REALM + gMSA $GMSA_NAME (readers: $sid, $group_sid) in $(elapsed "$t") s"

    t="$(now)"
    $OFFLINE samba-tool domain exportkeytab -s "$SMB_CONF" "$WORK/$GMSA_HOST_LC.keytab" \
        --principal="$GMSA_NAME\$" >"$WORK/keytab-gmsa.log" 2>&1 &
    local ktpid=$!
    master="$(start_samba with_resolv --winbindd)"
    wait "$ktpid" || die_log "exporting the gMSA keytab failed" "$WORK/keytab-gmsa.log"
    chmod 600 "$WORK/$GMSA_HOST_LC.keytab"
    log "start: samba (pid $master) up, 88+389+445 open, in $(elapsed "$t") s"

    t="$(now)"
    create_trust
    log "start: two-way forest trust $DC1_DNSDOMAIN <-> $DNSDOMAIN created in $(elapsed "$t") s"

    t="$(now)"
    stub_zone
    log "start: zone $DC1_DNSDOMAIN on dc3's DNS (dc1's A, _ldap._tcp.dc._msdcs, _kerberos SRV) in $(elapsed "$t") s"

    t="$(now)"
    forest_self_check
    log "start: self-check (private resolv.conf, trust on dc1, referral + sealed read at dc3 as svc-fetcher@$DC1_REALM, blob keys == keytab, gMSA kinit) in $(elapsed "$t") s"
    write_env_json "$objs" "$sid" "$group_sid"
    log "start: done in $(elapsed "$t0") s; description: $WORK/testenv.json"
}

cmd_restart() {
    need_root
    [[ -s "$SMB_CONF" && -s "$WORK/private/sam.ldb" ]] || die "dc3 was never provisioned: run '$0 start'"
    stop_ours
    if [[ -n "${FOREST_LOG_LEVEL:-}" ]]; then
        sed -i "s/^\tlog level = .*/\tlog level = $FOREST_LOG_LEVEL/" "$SMB_CONF"
    fi
    local t0 master
    t0="$(now)"
    master="$(start_samba with_resolv --winbindd)"
    log "restart: samba (pid $master) up, 88+389+445 open, in $(elapsed "$t0") s"
}

cmd_status_forest() {
    status_common "Administrator@$REALM" "$WORK/admin.password" "$CROSS_KRB5_CONF" || return 1
    # dc1 re-provisioned since (testenv/samba-dc.sh start) has no trust: start this again.
    $OFFLINE samba-tool domain trust show "$DNSDOMAIN" -s "$DC1_WORK/smb.conf" >/dev/null 2>&1 || {
        log "status: dc1 has no trust with $DNSDOMAIN (re-provisioned?): run '$0 start'"
        return 1
    }
    log "status: running (pids: $STATUS_PIDS), KDC and LDAP answer, dc1 trusts $DNSDOMAIN"
}

case "${1:-}" in
start) cmd_start ;;
stop) need_root && stop_ours ;;
restart) cmd_restart ;;
status) cmd_status_forest || exit 1 ;;
*)
    echo "usage: $0 {start|stop|restart|status}" >&2
    exit 2
    ;;
esac
