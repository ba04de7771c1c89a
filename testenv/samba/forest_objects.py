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

from ad_objects import create_gmsa, open_samdb, policy_and_dc_spns  # noqa: E402

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

    samdb = open_samdb(smb_conf)
    domain_sid = str(samdb.get_domain_sid())
    for sid in foreign_sids:
        if sid.startswith(domain_sid + "-"):
            raise SystemExit(f"{sid} is a SID of this domain, not of the other forest")

    t = time.monotonic()
    gmsa = create_gmsa(samdb, GMSA, GMSA_DNS, foreign_sids)
    timings["gmsa"] = round(time.monotonic() - t, 3)

    t = time.monotonic()
    dc_dn = policy_and_dc_spns(samdb, DC_ACCOUNT, dc_ip)
    timings["policy_spn"] = round(time.monotonic() - t, 3)
    timings["total"] = round(time.monotonic() - T0, 3)

    json.dump({
        "domain_sid": domain_sid,
        "gmsa_dn": gmsa["dn"],
        "gmsa_sid": gmsa["sid"],
        "gmsa_uac": gmsa["uac"],
        "gmsa_membership_sddl": gmsa["sddl"],
        "dc_dn": dc_dn,
        "timings": timings,
    }, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
