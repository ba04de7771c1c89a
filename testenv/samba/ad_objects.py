"""Object helpers shared by objects.py (dc1, EXAMPLE.TEST) and forest_objects.py (dc3, OTHER.TEST).

Both run as root against a DC's local sam.ldb with Samba's Python bindings, in one process each.
"""

import os

import ldb
import samba.getopt  # noqa: F401  (loads the samba param machinery)
from samba import dsdb
from samba.auth import system_session
from samba.domain.models import GroupManagedServiceAccount
from samba.param import LoadParm
from samba.samdb import SamDB


def open_samdb(smb_conf: str) -> SamDB:
    """The DC's own sam.ldb (from smb.conf's private dir), as the system session."""
    lp = LoadParm()
    lp.load(smb_conf)
    url = os.path.join(lp.get("private dir"), "sam.ldb")
    return SamDB(url=url, session_info=system_session(lp), lp=lp)


def create_gmsa(samdb: SamDB, name: str, dns_host_name: str, trustee_sids: list) -> dict:
    """A gMSA as `samba-tool service-account create` + `group-msa-membership add` make it, whose
    msDS-GroupMSAMembership allows exactly `trustee_sids`, then ENABLED (created disabled, UAC
    0x1022, an AS-REQ for it would fail with KDC_ERR_CLIENT_REVOKED). Checks that it is enabled
    and that its security descriptor names every trustee. Returns its dn, sid, uac and SDDL."""
    gmsa = GroupManagedServiceAccount(name=name, dns_host_name=dns_host_name)
    gmsa.save(samdb)
    gmsa = GroupManagedServiceAccount.find(samdb, name)
    for sid in trustee_sids:
        gmsa.add_trustee(sid)
    gmsa.save(samdb)
    samdb.enable_account(f"(sAMAccountName={name}$)")
    gmsa = GroupManagedServiceAccount.find(samdb, name)
    res = samdb.search(gmsa.dn, ldb.SCOPE_BASE, attrs=["userAccountControl", "objectSid"])
    uac = int(res[0]["userAccountControl"][0])
    sid = str(samdb.schema_format_value("objectSid", res[0]["objectSid"][0]), "utf-8")
    if uac & dsdb.UF_ACCOUNTDISABLE:
        raise SystemExit(f"gMSA {name} still disabled: userAccountControl={uac:#x}")
    sddl = gmsa.group_msa_membership.as_sddl()
    for trustee in trustee_sids:
        if trustee not in sddl:
            raise SystemExit(f"msDS-GroupMSAMembership of {name} does not name {trustee}: {sddl}")
    return {"dn": str(gmsa.dn), "sid": sid, "uac": uac, "sddl": sddl}


def policy_and_dc_spns(samdb: SamDB, dc_account: str, dc_ip: str) -> str:
    """Domain password policy maxPwdAge = never (as `passwordsettings set --max-pwd-age=0`) and
    the SPNs ldap/DC_IP and HOST/DC_IP on the DC's account (clients that name the DC by address).
    Returns the DC account's DN."""
    base = str(samdb.get_default_basedn())
    m = ldb.Message(ldb.Dn(samdb, base))
    m["maxPwdAge"] = ldb.MessageElement(str(-0x8000000000000000), ldb.FLAG_MOD_REPLACE, "maxPwdAge")
    samdb.modify(m)
    res = samdb.search(base, ldb.SCOPE_SUBTREE, f"(sAMAccountName={dc_account})",
                       attrs=["servicePrincipalName"])
    dc_dn = str(res[0].dn)
    have = {str(v) for v in res[0].get("servicePrincipalName", [])}
    want = [s for s in (f"ldap/{dc_ip}", f"HOST/{dc_ip}") if s not in have]
    if want:
        m = ldb.Message(ldb.Dn(samdb, dc_dn))
        m["servicePrincipalName"] = ldb.MessageElement(want, ldb.FLAG_MOD_ADD, "servicePrincipalName")
        samdb.modify(m)
    return dc_dn
