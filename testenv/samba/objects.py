#!/usr/bin/python3
"""Create the test objects of the gMSA test domain in ONE process with Samba's bindings.

Run by testenv/samba-dc.sh (as root, against the local sam.ldb, before or after samba starts):

    /usr/bin/python3 objects.py SMB_CONF WORK_DIR

Creates, in order:
  * users svc-fetcher (allowed reader) and svc-denied (not allowed), random passwords written to
    WORK/svc-fetcher.password and WORK/svc-denied.password (mode 0600, no trailing newline);
  * group gmsa-readers with members svc-fetcher and ECSHOST01$;
  * computer ECSHOST01$ (enabled, random password in WORK/ecshost01.password, SPNs HOST/...);
  * gMSA WebApp01 (dNSHostName webapp01.example.test), ENABLED, readers = gmsa-readers (by DN,
    as `samba-tool service-account group-msa-membership add --principal=<DN>` does);
  * domain password policy maxPwdAge = never (as `passwordsettings set --max-pwd-age=0`);
  * SPNs ldap/127.0.0.2 and HOST/127.0.0.2 on DC1$;
Prints one JSON object (DNs, SIDs, timings) on stdout.

The reference keytabs are exported by the caller with `samba-tool domain exportkeytab`, one
principal per process: in Samba 4.22.6 a second Net.export_keytab() in the same process aborts
with "Bad talloc magic value" (reproduced).
"""

import json
import os
import secrets
import string
import sys
import time

T0 = time.monotonic()

import ldb  # noqa: E402
import samba.getopt  # noqa: E402,F401  (loads the samba param machinery)
from samba import dsdb  # noqa: E402
from samba.auth import system_session  # noqa: E402
from samba.domain.models import GroupManagedServiceAccount, User  # noqa: E402
from samba.param import LoadParm  # noqa: E402
from samba.samdb import SamDB  # noqa: E402

READER = "svc-fetcher"
DENIED = "svc-denied"
GROUP = "gmsa-readers"
GMSA = "WebApp01"
GMSA_DNS = "webapp01.example.test"
MACHINE = "ECSHOST01"
MACHINE_DNS = "ecshost01.example.test"
DC_IP = "127.0.0.2"


def new_password() -> str:
    """A random password that always meets AD complexity rules (ASCII only)."""
    alphabet = string.ascii_letters + string.digits
    return "Tg7!" + "".join(secrets.choice(alphabet) for _ in range(24))


def write_secret(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)


def main() -> int:
    args = sys.argv[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    smb_conf, work = args
    timings = {"imports": round(time.monotonic() - T0, 3)}

    lp = LoadParm()
    lp.load(smb_conf)
    url = os.path.join(lp.get("private dir"), "sam.ldb")
    t = time.monotonic()
    samdb = SamDB(url=url, session_info=system_session(lp), lp=lp)
    base = str(samdb.get_default_basedn())
    timings["open"] = round(time.monotonic() - t, 3)

    t = time.monotonic()
    pw = {}
    for user in (READER, DENIED):
        pw[user] = new_password()
        samdb.newuser(user, pw[user])
        write_secret(os.path.join(work, f"{user}.password"), pw[user])

    # Computer account with a known password (for a later domain-joined test).
    machine_pw = new_password()
    samdb.newcomputer(MACHINE)
    machine_filter = f"(sAMAccountName={MACHINE}$)"
    samdb.setpassword(machine_filter, machine_pw, False)
    res = samdb.search(base, ldb.SCOPE_SUBTREE, machine_filter, attrs=["dn"])
    machine_dn = str(res[0].dn)
    m = ldb.Message(ldb.Dn(samdb, machine_dn))
    m["dNSHostName"] = ldb.MessageElement(MACHINE_DNS, ldb.FLAG_MOD_REPLACE, "dNSHostName")
    m["servicePrincipalName"] = ldb.MessageElement(
        [f"HOST/{MACHINE_DNS}", f"HOST/{MACHINE}"], ldb.FLAG_MOD_REPLACE, "servicePrincipalName")
    samdb.modify(m)
    samdb.enable_account(machine_filter)
    write_secret(os.path.join(work, "ecshost01.password"), machine_pw)

    samdb.newgroup(GROUP)
    samdb.add_remove_group_members(GROUP, [READER, f"{MACHINE}$"], add_members_operation=True)
    res = samdb.search(base, ldb.SCOPE_SUBTREE, f"(sAMAccountName={GROUP})", attrs=["objectSid"])
    group_dn = str(res[0].dn)
    timings["users_group_computer"] = round(time.monotonic() - t, 3)

    # gMSA, exactly as samba-tool service-account create + group-msa-membership add.
    t = time.monotonic()
    gmsa = GroupManagedServiceAccount(name=GMSA, dns_host_name=GMSA_DNS)
    gmsa.save(samdb)
    gmsa = GroupManagedServiceAccount.find(samdb, GMSA)
    group_sid = User.get_sid_for_principal(samdb, group_dn)
    gmsa.add_trustee(group_sid)
    gmsa.save(samdb)
    # Created disabled (UAC 0x1022): an AS-REQ for it would fail with KDC_ERR_CLIENT_REVOKED.
    samdb.enable_account(f"(sAMAccountName={GMSA}$)")
    gmsa = GroupManagedServiceAccount.find(samdb, GMSA)
    res = samdb.search(gmsa.dn, ldb.SCOPE_BASE, attrs=["userAccountControl", "objectSid"])
    gmsa_uac = int(res[0]["userAccountControl"][0])
    gmsa_sid = str(samdb.schema_format_value("objectSid", res[0]["objectSid"][0]), "utf-8")
    if gmsa_uac & dsdb.UF_ACCOUNTDISABLE:
        raise SystemExit(f"gMSA still disabled: userAccountControl={gmsa_uac:#x}")
    timings["gmsa"] = round(time.monotonic() - t, 3)

    # Password policy and DC SPNs.
    t = time.monotonic()
    m = ldb.Message(ldb.Dn(samdb, base))
    m["maxPwdAge"] = ldb.MessageElement(str(-0x8000000000000000), ldb.FLAG_MOD_REPLACE, "maxPwdAge")
    samdb.modify(m)
    res = samdb.search(base, ldb.SCOPE_SUBTREE, "(sAMAccountName=DC1$)",
                       attrs=["servicePrincipalName"])
    dc_dn = str(res[0].dn)
    have = {str(v) for v in res[0].get("servicePrincipalName", [])}
    want = [s for s in (f"ldap/{DC_IP}", f"HOST/{DC_IP}") if s not in have]
    if want:
        m = ldb.Message(ldb.Dn(samdb, dc_dn))
        m["servicePrincipalName"] = ldb.MessageElement(want, ldb.FLAG_MOD_ADD, "servicePrincipalName")
        samdb.modify(m)
    timings["policy_spn"] = round(time.monotonic() - t, 3)

    timings["total"] = round(time.monotonic() - T0, 3)

    json.dump({
        "group_dn": group_dn,
        "group_sid": group_sid,
        "gmsa_dn": str(gmsa.dn),
        "gmsa_sid": gmsa_sid,
        "gmsa_uac": gmsa_uac,
        "machine_dn": machine_dn,
        "dc_dn": dc_dn,
        "timings": timings,
    }, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
