//! The CLDAP "NetLogon ping" (MS-ADTS 6.3.3): which AD site is this client in, and which is
//! the DC's?
//!
//! A client sends one LDAP searchRequest over UDP port 389 (base `""`, scope base, filter
//! `(&(DnsDomain=<domain>)(NtVer=<4 bytes LE>))`, attribute `Netlogon`); the DC answers with one
//! searchResEntry whose `netlogon` value is a `NETLOGON_SAM_LOGON_RESPONSE_EX` (MS-ADTS 6.3.1.9),
//! then a searchResDone. Windows' DsGetDcName and SSSD do this before choosing a DC, so that DCs
//! of the client's own site (`_ldap._tcp.<site>._sites.dc._msdcs.<domain>`) are tried first.
//!
//! The encoder and the parsers are sans-IO ([`ping_request`], [`parse_ping_reply`],
//! [`SamLogonResponseEx::parse`]); [`ping`] is the one function that sends a datagram.
//! Everything received is untrusted: names are RFC 1035 compressed names whose pointers may
//! only point backwards, at most [`MAX_NAME_LEN`] bytes long, so no input loops or allocates
//! without bound.
//!
//! ```
//! use msds_gmsa::netlogon::{ping_request, parse_ping_reply, NT_VERSION_5EX};
//! let req = ping_request(7, "example.test", NT_VERSION_5EX).unwrap();
//! assert_eq!(req[0], 0x30);
//! assert!(parse_ping_reply(&[0x30, 0x00], 7).is_err());
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use ldap3_proto::proto::{
    LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapResultCode, LdapSearchRequest,
    LdapSearchScope,
};

use crate::GmsaError;
use crate::ldap::{encode_message, result_code_name, take_message};

/// `NETLOGON_NT_VERSION_5`: the reply may be a `NETLOGON_SAM_LOGON_RESPONSE`.
pub const NT_VERSION_5: u32 = 0x0000_0002;
/// `NETLOGON_NT_VERSION_5EX`: ask for a `NETLOGON_SAM_LOGON_RESPONSE_EX` (sites included).
pub const NT_VERSION_5EX: u32 = 0x0000_0004;
/// `NETLOGON_NT_VERSION_5EX_WITH_IP`: the reply carries the DC's socket address.
pub const NT_VERSION_5EX_WITH_IP: u32 = 0x0000_0008;
/// `NETLOGON_NT_VERSION_WITH_CLOSEST_SITE`: the reply carries `NextClosestSiteName`.
pub const NT_VERSION_WITH_CLOSEST_SITE: u32 = 0x0000_0010;

/// `LOGON_SAM_LOGON_RESPONSE_EX`: the DC serves the domain (MS-ADTS 6.3.1.9).
pub const LOGON_SAM_LOGON_RESPONSE_EX: u16 = 23;
/// `LOGON_SAM_PAUSE_RESPONSE_EX`: the DC's Netlogon service is paused.
pub const LOGON_SAM_PAUSE_RESPONSE_EX: u16 = 24;
/// `LOGON_SAM_USER_UNKNOWN_EX`: the user named in the request is unknown to the DC.
pub const LOGON_SAM_USER_UNKNOWN_EX: u16 = 25;

/// Longest name accepted, in presentation form (RFC 1035: 255 octets on the wire).
pub const MAX_NAME_LEN: usize = 255;
/// Largest datagram read (a reply is a few hundred bytes).
const MAX_DATAGRAM: usize = 4096;

/// `DS_FLAG` bits of a reply's `Flags` field (MS-ADTS 6.3.1.2), the ones a client acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DsFlags(pub u32);

impl DsFlags {
    /// `DS_PDC_FLAG`: the DC is the PDC emulator.
    pub const PDC: u32 = 0x0000_0001;
    /// `DS_GC_FLAG`: global catalog.
    pub const GC: u32 = 0x0000_0004;
    /// `DS_LDAP_FLAG`: serves LDAP.
    pub const LDAP: u32 = 0x0000_0008;
    /// `DS_DS_FLAG`: a directory server (an AD DC).
    pub const DS: u32 = 0x0000_0010;
    /// `DS_KDC_FLAG`: runs a KDC.
    pub const KDC: u32 = 0x0000_0020;
    /// `DS_TIMESERV_FLAG`.
    pub const TIMESERV: u32 = 0x0000_0040;
    /// `DS_CLOSEST_FLAG`: the DC is in the client's site.
    pub const CLOSEST: u32 = 0x0000_0080;
    /// `DS_WRITABLE_FLAG`: not a read-only DC.
    pub const WRITABLE: u32 = 0x0000_0100;

    /// Whether every bit of `bits` is set.
    pub fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

impl fmt::Display for DsFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::PDC, "PDC"),
            (Self::GC, "GC"),
            (Self::LDAP, "LDAP"),
            (Self::DS, "DS"),
            (Self::KDC, "KDC"),
            (Self::TIMESERV, "TIMESERV"),
            (Self::CLOSEST, "CLOSEST"),
            (Self::WRITABLE, "WRITABLE"),
        ];
        write!(f, "{:#010x}", self.0)?;
        let set: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.has(*b))
            .map(|(_, n)| *n)
            .collect();
        if !set.is_empty() {
            write!(f, " ({})", set.join("|"))?;
        }
        Ok(())
    }
}

/// A parsed `NETLOGON_SAM_LOGON_RESPONSE_EX` (MS-ADTS 6.3.1.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamLogonResponseEx {
    /// `Opcode`: [`LOGON_SAM_LOGON_RESPONSE_EX`], [`LOGON_SAM_PAUSE_RESPONSE_EX`] or
    /// [`LOGON_SAM_USER_UNKNOWN_EX`].
    pub opcode: u16,
    /// `Flags`.
    pub flags: DsFlags,
    /// `DomainGuid` as sent (little-endian GUID layout).
    pub domain_guid: [u8; 16],
    /// `DnsForestName`.
    pub dns_forest_name: String,
    /// `DnsDomainName`.
    pub dns_domain_name: String,
    /// `DnsHostName`: the DC's FQDN.
    pub dns_host_name: String,
    /// `NetbiosDomainName`.
    pub netbios_domain_name: String,
    /// `NetbiosComputerName`.
    pub netbios_computer_name: String,
    /// `UserName` (empty unless the request named a user).
    pub user_name: String,
    /// `DcSiteName`: the DC's own site.
    pub dc_site_name: String,
    /// `ClientSiteName`: the site of the client's address, by the forest's subnets; empty when
    /// no subnet covers it.
    pub client_site_name: String,
    /// `NextClosestSiteName`, when asked for ([`NT_VERSION_WITH_CLOSEST_SITE`]) and sent.
    pub next_closest_site_name: Option<String>,
    /// `NtVersion` of the reply.
    pub nt_version: u32,
}

fn malformed(reason: impl Into<String>) -> GmsaError {
    GmsaError::NetlogonMalformed {
        reason: reason.into(),
    }
}

/// A little cursor over the response; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], GmsaError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(malformed(format!(
                "{what}: needs {n} bytes at offset {}, the response has {}",
                self.pos,
                self.buf.len()
            )));
        };
        let s = self.buf.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self, what: &str) -> Result<u16, GmsaError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, GmsaError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An RFC 1035 name, possibly compressed; pointers are offsets from the start of the
    /// response and must point before the label that holds them (so no loop is possible).
    fn name(&mut self, what: &str) -> Result<String, GmsaError> {
        let mut out = String::new();
        let mut pos = self.pos;
        // Every pointer must point below the previous one's target (or below itself, for the
        // first): positions strictly decrease, so no chain of pointers can loop.
        let mut limit = self.pos;
        // Where the cursor continues: after the first pointer, or after the terminating 0.
        let mut resume: Option<usize> = None;
        loop {
            let len = *self.buf.get(pos).ok_or_else(|| {
                malformed(format!(
                    "{what}: the name runs past the end at offset {pos}"
                ))
            })?;
            match len {
                0 => {
                    pos += 1;
                    break;
                }
                l if l & 0xC0 == 0xC0 => {
                    let lo = *self.buf.get(pos + 1).ok_or_else(|| {
                        malformed(format!("{what}: compression pointer cut at offset {pos}"))
                    })?;
                    let target = usize::from(l & 0x3F) << 8 | usize::from(lo);
                    if target >= limit.min(pos) {
                        return Err(malformed(format!(
                            "{what}: compression pointer at offset {pos} to {target} does not point \
                             before the name's earlier parts"
                        )));
                    }
                    limit = target;
                    resume.get_or_insert(pos + 2);
                    pos = target;
                }
                l if l & 0xC0 != 0 => {
                    return Err(malformed(format!(
                        "{what}: label length byte {l:#04x} at offset {pos} (0x40/0x80 forms are not allowed)"
                    )));
                }
                l => {
                    let l = usize::from(l);
                    let label = self.buf.get(pos + 1..pos + 1 + l).ok_or_else(|| {
                        malformed(format!("{what}: label of {l} bytes at offset {pos} is cut"))
                    })?;
                    let label = std::str::from_utf8(label).map_err(|_| {
                        malformed(format!("{what}: label at offset {pos} is not UTF-8"))
                    })?;
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(label);
                    if out.len() > MAX_NAME_LEN {
                        return Err(malformed(format!(
                            "{what}: longer than {MAX_NAME_LEN} bytes"
                        )));
                    }
                    pos += 1 + l;
                }
            }
        }
        self.pos = resume.unwrap_or(pos);
        Ok(out)
    }
}

impl SamLogonResponseEx {
    /// Parses the `netlogon` attribute value. `requested` is the `NtVer` that was sent: it
    /// says which optional fields may follow `ClientSiteName` (DCs may leave them out: Samba
    /// omits `NextClosestSiteName`); the last 8 bytes are `NtVersion`, `LmNtToken`,
    /// `Lm20Token`.
    pub fn parse(bytes: &[u8], requested: u32) -> Result<Self, GmsaError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let opcode = r.u16("Opcode")?;
        if !matches!(
            opcode,
            LOGON_SAM_LOGON_RESPONSE_EX | LOGON_SAM_PAUSE_RESPONSE_EX | LOGON_SAM_USER_UNKNOWN_EX
        ) {
            return Err(malformed(format!(
                "Opcode {opcode} is not a NETLOGON_SAM_LOGON_RESPONSE_EX (23, 24 or 25): \
                 the DC did not answer with NtVer 5EX"
            )));
        }
        r.u16("Sbz")?;
        let flags = DsFlags(r.u32("Flags")?);
        let mut domain_guid = [0u8; 16];
        domain_guid.copy_from_slice(r.take(16, "DomainGuid")?);
        let dns_forest_name = r.name("DnsForestName")?;
        let dns_domain_name = r.name("DnsDomainName")?;
        let dns_host_name = r.name("DnsHostName")?;
        let netbios_domain_name = r.name("NetbiosDomainName")?;
        let netbios_computer_name = r.name("NetbiosComputerName")?;
        let user_name = r.name("UserName")?;
        let dc_site_name = r.name("DcSiteName")?;
        let client_site_name = r.name("ClientSiteName")?;
        let rest = bytes.len().saturating_sub(r.pos);
        if rest < 8 {
            return Err(malformed(format!(
                "{rest} bytes after ClientSiteName; NtVersion, LmNtToken and Lm20Token need 8"
            )));
        }
        let tail_start = bytes.len() - 8;
        if requested & NT_VERSION_5EX_WITH_IP != 0 && r.pos < tail_start {
            let size = r.take(1, "DcSockAddrSize")?[0];
            r.take(usize::from(size), "DcSockAddr")?;
        }
        let mut next_closest_site_name = None;
        if requested & NT_VERSION_WITH_CLOSEST_SITE != 0 && r.pos < tail_start {
            next_closest_site_name = Some(r.name("NextClosestSiteName")?);
        }
        if r.pos > tail_start {
            return Err(malformed(
                "the optional fields overlap NtVersion/LmNtToken/Lm20Token",
            ));
        }
        r.pos = tail_start;
        let nt_version = r.u32("NtVersion")?;
        Ok(Self {
            opcode,
            flags,
            domain_guid,
            dns_forest_name,
            dns_domain_name,
            dns_host_name,
            netbios_domain_name,
            netbios_computer_name,
            user_name,
            dc_site_name,
            client_site_name,
            next_closest_site_name,
            nt_version,
        })
    }

    /// Whether the DC says it is in the client's site (`DS_CLOSEST_FLAG`).
    pub fn dc_is_closest(&self) -> bool {
        self.flags.has(DsFlags::CLOSEST)
    }
}

/// The CLDAP request: one LDAP message, `(&(DnsDomain=<domain>)(NtVer=<nt_version LE>))` for
/// the attribute `Netlogon` at the rootDSE.
pub fn ping_request(message_id: i32, domain: &str, nt_version: u32) -> Result<Vec<u8>, GmsaError> {
    let domain = domain.trim().trim_end_matches('.');
    if domain.is_empty() || domain.len() > MAX_NAME_LEN {
        return Err(malformed(format!(
            "cannot ask for domain {domain:?}: empty or longer than {MAX_NAME_LEN} bytes"
        )));
    }
    let ntver: String = nt_version
        .to_le_bytes()
        .iter()
        .map(|&b| char::from(b))
        .collect();
    // Bytes >= 0x80 would be sent as two UTF-8 bytes: the bits used here are all < 0x80.
    if nt_version.to_le_bytes().iter().any(|&b| b >= 0x80) {
        return Err(malformed(format!(
            "NtVer {nt_version:#x} has a byte >= 0x80, which this encoder cannot send"
        )));
    }
    let msg = LdapMsg {
        msgid: message_id,
        op: LdapOp::SearchRequest(LdapSearchRequest {
            base: String::new(),
            scope: LdapSearchScope::Base,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::And(vec![
                LdapFilter::Equality("DnsDomain".into(), domain.to_owned()),
                LdapFilter::Equality("NtVer".into(), ntver),
            ]),
            attrs: vec!["Netlogon".into()],
        }),
        ctrl: vec![],
    };
    Ok(encode_message(msg)
        .map_err(GmsaError::LdapProtocol)?
        .to_vec())
}

/// Parses the datagram answering [`ping_request`]: a searchResEntry with the `netlogon`
/// value (then, usually, a searchResDone), both for `message_id`. `requested` is the `NtVer`
/// sent.
pub fn parse_ping_reply(datagram: &[u8], message_id: i32) -> Result<SamLogonResponseEx, GmsaError> {
    parse_ping_reply_for(datagram, message_id, NT_VERSION_5EX)
}

/// [`parse_ping_reply`] for a request sent with `requested` as `NtVer`.
pub fn parse_ping_reply_for(
    datagram: &[u8],
    message_id: i32,
    requested: u32,
) -> Result<SamLogonResponseEx, GmsaError> {
    let mut buf = datagram.to_vec();
    // The first message decides: an entry carries the answer, a done means there is none.
    let msg = match take_message(&mut buf) {
        Ok(Some(m)) => m,
        Ok(None) => return Err(malformed("empty CLDAP reply")),
        Err(e) => return Err(malformed(format!("CLDAP reply: {e}"))),
    };
    if msg.msgid != message_id {
        return Err(malformed(format!(
            "CLDAP reply for message {} (sent {message_id})",
            msg.msgid
        )));
    }
    match msg.op {
        LdapOp::SearchResultEntry(e) => {
            let value = e
                .attributes
                .iter()
                .find(|a| a.atype.eq_ignore_ascii_case("netlogon"))
                .and_then(|a| a.vals.first())
                .ok_or_else(|| malformed("the CLDAP entry has no netlogon value"))?;
            SamLogonResponseEx::parse(value, requested)
        }
        LdapOp::SearchResultDone(d) => {
            let why = if d.code == LdapResultCode::Success {
                "success without an entry (the DC does not serve this domain)".to_owned()
            } else {
                format!("{} {}", result_code_name(&d.code), d.message)
            };
            Err(malformed(format!("CLDAP search ended: {why}")))
        }
        _ => Err(malformed("CLDAP reply is not a search result")),
    }
}

/// Sends one NetLogon ping to `dc` (UDP port 389 usually) for `domain` and waits up to
/// `timeout` for the answer (one datagram; others from elsewhere are ignored).
pub async fn ping(
    dc: SocketAddr,
    domain: &str,
    timeout: Duration,
) -> Result<SamLogonResponseEx, GmsaError> {
    let unreachable = |reason: String| GmsaError::CldapPing {
        dc: dc.to_string(),
        reason,
    };
    let message_id = {
        use krb5_proto::rand::Rng;
        i32::from(
            u16::try_from(krb5_proto::rand::OsRng.next_u32() >> 16)
                .unwrap_or(1)
                .max(1),
        )
    };
    let req = ping_request(message_id, domain, NT_VERSION_5 | NT_VERSION_5EX)?;
    let bind: SocketAddr = if dc.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| unreachable(format!("binding a UDP socket: {e}")))?;
    sock.connect(dc)
        .await
        .map_err(|e| unreachable(format!("connect: {e}")))?;
    sock.send(&req)
        .await
        .map_err(|e| unreachable(format!("send: {e}")))?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let n = tokio::time::timeout(timeout, sock.recv(&mut buf))
        .await
        .map_err(|_| unreachable(format!("no answer within {} ms", timeout.as_millis())))?
        .map_err(|e| unreachable(format!("receive: {e}")))?;
    parse_ping_reply_for(
        buf.get(..n).unwrap_or_default(),
        message_id,
        NT_VERSION_5 | NT_VERSION_5EX,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real replies of the test DCs (Samba 4.22.6) captured with a hand-built request:
    // dc1 (Default-First-Site-Name) and dc2 (Site-B), the client's subnet mapped to Site-B.
    const DC1: &str = "307f020101647a04003076307404086e65746c6f676f6e31680466170000003dd10100ec55037a9dc03e45b9e70c2bf90a3cf3076578616d706c65047465737400c01803646331c018074558414d504c45000344433100001744656661756c742d46697273742d536974652d4e616d650006536974652d420005000000ffffffff300c02010165070a010004000400";
    const DC2: &str = "306802010164630400305f305d04086e65746c6f676f6e3151044f17000000bcd10100ec55037a9dc03e45b9e70c2bf90a3cf3076578616d706c65047465737400c01803646332c018074558414d504c450003444332000006536974652d4200c03d05000000ffffffff300c02010165070a010004000400";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn samba_replies() {
        let r = parse_ping_reply(&unhex(DC1), 1).unwrap();
        assert_eq!(r.opcode, LOGON_SAM_LOGON_RESPONSE_EX);
        assert_eq!(r.dns_forest_name, "example.test");
        assert_eq!(r.dns_domain_name, "example.test");
        assert_eq!(r.dns_host_name, "dc1.example.test");
        assert_eq!(r.netbios_domain_name, "EXAMPLE");
        assert_eq!(r.netbios_computer_name, "DC1");
        assert_eq!(r.user_name, "");
        assert_eq!(r.dc_site_name, "Default-First-Site-Name");
        assert_eq!(r.client_site_name, "Site-B");
        assert_eq!(r.nt_version, 5);
        assert!(!r.dc_is_closest());
        assert!(r.flags.has(DsFlags::PDC | DsFlags::LDAP | DsFlags::KDC));
        let r = parse_ping_reply_for(&unhex(DC2), 1, 0x16).unwrap();
        assert_eq!(r.dns_host_name, "dc2.example.test");
        // ClientSiteName is a pointer to DcSiteName.
        assert_eq!(
            (r.dc_site_name.as_str(), r.client_site_name.as_str()),
            ("Site-B", "Site-B")
        );
        assert!(r.dc_is_closest() && !r.flags.has(DsFlags::PDC));
        assert_eq!(r.next_closest_site_name, None);
        assert!(r.flags.to_string().contains("CLOSEST"), "{}", r.flags);
        assert!(
            parse_ping_reply(&unhex(DC1), 2).is_err(),
            "message id checked"
        );
    }

    #[test]
    fn request_matches_a_hand_built_one() {
        // The request that captured DC1/DC2 (BER built by hand in Python, message id 1, NtVer 6).
        let ours = ping_request(1, "example.test.", 6).unwrap();
        let want = "304e020101634904000a01000a0100020100020100010100a02aa3190409446e73446f6d61696e040c6578616d706c652e74657374a30d04054e74566572040406000000300a04084e65746c6f676f6e";
        assert_eq!(hex_of(&ours), want);
        assert!(ping_request(1, "", 6).is_err());
        assert!(ping_request(1, "x", 0x80).is_err());
    }

    fn hex_of(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hostile_names() {
        let head = |rest: &[u8]| {
            let mut v = vec![23, 0, 0, 0, 0, 0, 0, 0];
            v.extend_from_slice(&[0; 16]);
            v.extend_from_slice(rest);
            v
        };
        // A pointer to itself, a forward pointer, a cut label, a long name.
        for bad in [
            head(&[0xC0, 24]),
            head(&[0xC0, 40]),
            head(&[5, b'a']),
            head(&[0x40]),
        ] {
            assert!(SamLogonResponseEx::parse(&bad, 6).is_err());
        }
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert!(SamLogonResponseEx::parse(&head(&long), 6).is_err());
        // A label followed by a pointer back to it: a loop, refused.
        assert!(SamLogonResponseEx::parse(&head(&[1, b'a', 0xC0, 24]), 6).is_err());
        // Two pointers bouncing between each other.
        assert!(SamLogonResponseEx::parse(&head(&[0, 0xC0, 27, 0xC0, 25]), 6).is_err());
        let mut wrong = head(&[0; 8]);
        wrong[0] = 19;
        assert!(SamLogonResponseEx::parse(&wrong, 6).is_err());
    }
}
