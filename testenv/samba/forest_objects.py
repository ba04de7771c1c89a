#!/usr/bin/python3
"""Create the objects of the second forest (OTHER.TEST) in ONE process with Samba's bindings.

Run by testenv/samba-forest.sh (as root, against dc3's local sam.ldb, before samba starts):

    /usr/bin/python3 forest_objects.py SMB_CONF WORK_DIR FOREIGN_SIDS DC_IP

Creates:
  * gMSA OtherApp01 (dNSHostName otherapp01.other.test), ENABLED, whose
    msDS-GroupMSAMembership allows exactly the trustees FOREIGN_SIDS (comma-separated),
    principals of the other forest (EXAMPLE.TEST's svc-fetcher user and its gmsa-readers
    group, of which ECSHOST01$ is a member). The SIDs go into the security descriptor as they
    are, as `samba-tool service-account group-msa-membership add` does for local ones; AD
    would also create foreignSecurityPrincipal objects, which the access check does not use;
  * domain password policy maxPwdAge = never;
  * SPNs ldap/DC_IP and HOST/DC_IP on DC3$.
Prints one JSON object (DNs, SIDs, timings) on stdout.
"""

import json
import sys
import time

T0 = time.monotonic()

import ldb  # noqa: E402
import samba.getopt  # noqa: E402,F401  (loads the samba param machinery)
from samba import dsdb  # noqa: E402
from samba.auth import system_session  # noqa: E402
from samba.domain.models import GroupManagedServiceAccount  # noqa: E402
from samba.param import LoadParm  # noqa: E402
from samba.samdb import SamDB  # noqa: E402
import os  # noqa: E402

GMSA = "OtherApp01"
GMSA_DNS = "otherapp01.other.test"
DC_ACCOUNT = "DC3$"


def main() -> int:
    args = sys.argv[1:]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    smb_conf, _work, foreign_sids, dc_ip = args
    foreign_sids = [x.strip() for x in foreign_sids.split(",") if x.strip()]
    timings = {"imports": round(time.monotonic() - T0, 3)}

    lp = LoadParm()
    lp.load(smb_conf)
    url = os.path.join(lp.get("private dir"), "sam.ldb")
    samdb = SamDB(url=url, session_info=system_session(lp), lp=lp)
    base = str(samdb.get_default_basedn())
    domain_sid = str(samdb.get_domain_sid())
    for sid in foreign_sids:
        if sid.startswith(domain_sid + "-"):
            raise SystemExit(f"{sid} is a SID of this domain, not of the other forest")

    t = time.monotonic()
    gmsa = GroupManagedServiceAccount(name=GMSA, dns_host_name=GMSA_DNS)
    gmsa.save(samdb)
    gmsa = GroupManagedServiceAccount.find(samdb, GMSA)
    for sid in foreign_sids:
        gmsa.add_trustee(sid)
    gmsa.save(samdb)
    samdb.enable_account(f"(sAMAccountName={GMSA}$)")
    gmsa = GroupManagedServiceAccount.find(samdb, GMSA)
    res = samdb.search(gmsa.dn, ldb.SCOPE_BASE,
                       attrs=["userAccountControl", "objectSid", "msDS-GroupMSAMembership"])
    uac = int(res[0]["userAccountControl"][0])
    gmsa_sid = str(samdb.schema_format_value("objectSid", res[0]["objectSid"][0]), "utf-8")
    if uac & dsdb.UF_ACCOUNTDISABLE:
        raise SystemExit(f"gMSA still disabled: userAccountControl={uac:#x}")
    sddl = gmsa.group_msa_membership.as_sddl()
    for sid in foreign_sids:
        if sid not in sddl:
            raise SystemExit(f"msDS-GroupMSAMembership does not name {sid}: {sddl}")
    timings["gmsa"] = round(time.monotonic() - t, 3)

    t = time.monotonic()
    m = ldb.Message(ldb.Dn(samdb, base))
    m["maxPwdAge"] = ldb.MessageElement(str(-0x8000000000000000), ldb.FLAG_MOD_REPLACE, "maxPwdAge")
    samdb.modify(m)
    res = samdb.search(base, ldb.SCOPE_SUBTREE, f"(sAMAccountName={DC_ACCOUNT})",
                       attrs=["servicePrincipalName"])
    dc_dn = str(res[0].dn)
    have = {str(v) for v in res[0].get("servicePrincipalName", [])}
    want = [s for s in (f"ldap/{dc_ip}", f"HOST/{dc_ip}") if s not in have]
    if want:
        m = ldb.Message(ldb.Dn(samdb, dc_dn))
        m["servicePrincipalName"] = ldb.MessageElement(want, ldb.FLAG_MOD_ADD, "servicePrincipalName")
        samdb.modify(m)
    timings["policy_spn"] = round(time.monotonic() - t, 3)
    timings["total"] = round(time.monotonic() - T0, 3)

    json.dump({
        "domain_sid": domain_sid,
        "gmsa_dn": str(gmsa.dn),
        "gmsa_sid": gmsa_sid,
        "gmsa_uac": uac,
        "gmsa_membership_sddl": sddl,
        "dc_dn": dc_dn,
        "timings": timings,
    }, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
