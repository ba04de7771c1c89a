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

# ad_objects first: it loads samba's param machinery (samba.getopt) before the models.
from ad_objects import create_gmsa, open_samdb, policy_and_dc_spns  # noqa: E402
import ldb  # noqa: E402
from samba.domain.models import User  # noqa: E402

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

    t = time.monotonic()
    samdb = open_samdb(smb_conf)
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
    group_sid = User.get_sid_for_principal(samdb, group_dn)
    gmsa = create_gmsa(samdb, GMSA, GMSA_DNS, [group_sid])
    timings["gmsa"] = round(time.monotonic() - t, 3)

    # Password policy and DC SPNs.
    t = time.monotonic()
    dc_dn = policy_and_dc_spns(samdb, "DC1$", DC_IP)
    timings["policy_spn"] = round(time.monotonic() - t, 3)

    timings["total"] = round(time.monotonic() - T0, 3)

    json.dump({
        "group_dn": group_dn,
        "group_sid": group_sid,
        "gmsa_dn": gmsa["dn"],
        "gmsa_sid": gmsa["sid"],
        "gmsa_uac": gmsa["uac"],
        "machine_dn": machine_dn,
        "dc_dn": dc_dn,
        "timings": timings,
    }, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
