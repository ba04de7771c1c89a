#!/usr/bin/python3
"""Store each forest's trust information (top-level names, domain SID/names) in the partner's
trusted domain object, without any DC contacting the other.

Run by testenv/samba-forest.sh (as root) after `samba-tool domain trust create --skip-validation`:

    /usr/bin/python3 forest_ftinfo.py SMB_CONF_A SMB_CONF_B

`trust create` stores the forest trust information only in its validation step, where the local
DC asks the remote one through its netlogon server (which locates it by DNS through the host's
resolver: dc1 runs with the host's resolv.conf, whose server is off loopback). Without the
information, a KDC does not route a host name of the other forest (no referral). Here each DC is
asked for its OWN forest's information (netr_DsRGetForestTrustInformation with no domain name: a
local answer) over its ncalrpc socket, and the answer is stored on the other DC with
lsaRSetForestTrustInformation, which enables the top-level names, as `trust create` does.
Prints the stored top-level names.
"""

import sys

import samba.getopt  # noqa: F401  (loads the samba param machinery)
from samba import NTSTATUSError, ntstatus
from samba.dcerpc import lsa, netlogon, security
from samba.param import LoadParm


class Dc:
    def __init__(self, smb_conf: str):
        self.lp = LoadParm()
        self.lp.load(smb_conf)
        self.name = self.lp.get("netbios name")
        binding = f"ncalrpc:{self.name}[,auth_type=ncalrpc_as_system]"
        self.lsa = lsa.lsarpc(binding, self.lp)
        self.netlogon = netlogon.netlogon(binding, self.lp)
        access = (lsa.LSA_POLICY_VIEW_LOCAL_INFORMATION | lsa.LSA_POLICY_TRUST_ADMIN
                  | lsa.LSA_POLICY_CREATE_SECRET)
        self.policy = self.lsa.OpenPolicy2("", lsa.ObjectAttribute(), access)
        self.info = self.lsa.QueryInfoPolicy2(self.policy, lsa.LSA_POLICY_INFO_DNS)
        self.unc = "\\\\" + self.name

    def own_forest(self):
        return self.netlogon.netr_DsRGetForestTrustInformation(self.unc, None, 0)

    def store(self, partner_dns, fti):
        name = lsa.StringLarge()
        name.string = partner_dns
        try:
            collisions = self.lsa.lsaRSetForestTrustInformation(
                self.policy, name, lsa.LSA_FOREST_TRUST_DOMAIN_INFO, fti, 0)
        except NTSTATUSError as e:
            # Samba commits, then tells winbindd to reload its trusts; a DC that runs no
            # winbindd (dc1: server services without it) answers OBJECT_NAME_NOT_FOUND
            # (irpc_servers_byname "winbind_server") although the information is stored.
            if e.args[0] != ntstatus.NT_STATUS_OBJECT_NAME_NOT_FOUND:
                raise
            collisions = None
        qname = lsa.String()
        qname.string = partner_dns
        stored = self.lsa.lsaRQueryForestTrustInformation(
            self.policy, qname, lsa.LSA_FOREST_TRUST_DOMAIN_INFO)
        want = set(tlns(fti))
        if not want or set(tlns(stored)) != want:
            raise SystemExit(f"{self.name}: stored top-level names {tlns(stored)} for "
                             f"{partner_dns}, wanted {sorted(want)}")
        for e in stored.entries:
            if e.type == lsa.LSA_FOREST_TRUST_TOP_LEVEL_NAME and e.flags != 0:
                raise SystemExit(f"{self.name}: top-level name {e.forest_trust_data.string} "
                                 f"of {partner_dns} is disabled (flags {e.flags:#x})")
        return collisions


def tlns(fti):
    out = []
    for e in fti.entries:
        if e is not None and e.type == lsa.LSA_FOREST_TRUST_TOP_LEVEL_NAME:
            out.append(e.forest_trust_data.string)
    return out


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = Dc(sys.argv[1]), Dc(sys.argv[2])
    for here, there in ((a, b), (b, a)):
        fti = there.own_forest()
        collisions = here.store(there.info.dns_domain.string, fti)
        if collisions is not None and collisions.count:
            raise SystemExit(f"{here.name}: collisions storing {there.info.dns_domain.string}'s "
                             f"forest information: {collisions.count}")
        print(f"{here.info.dns_domain.string} trusts {there.info.dns_domain.string}: "
              f"top-level names {tlns(fti)} "
              f"(domain SID {security.dom_sid(str(there.info.sid))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
