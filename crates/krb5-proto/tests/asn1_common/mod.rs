//! Sample messages and DER helpers shared by the asn1_* tests.
#![allow(dead_code)]

pub mod mit_reference;

use krb5_proto::asn1::*;

/// Tag-length-value with a DER length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else if n < 0x10000 {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    } else {
        out.extend([0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// Context tag `[n]` (constructed) around `content`.
pub fn ctx(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, content)
}

/// Splits one DER TLV: (tag byte, contents, rest). Test-only, assumes well-formed input.
pub fn split_tlv(bytes: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = bytes[0];
    let (len, hdr) = match bytes[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (bytes[2] as usize, 3),
        0x82 => (((bytes[2] as usize) << 8) | bytes[3] as usize, 4),
        0x83 => (
            ((bytes[2] as usize) << 16) | ((bytes[3] as usize) << 8) | bytes[4] as usize,
            5,
        ),
        _ => panic!("unsupported length"),
    };
    (tag, &bytes[hdr..hdr + len], &bytes[hdr + len..])
}

/// Appends `extra` elements at the end of the SEQUENCE inside `[APPLICATION n] SEQUENCE`
/// (when `app` is true) or a bare SEQUENCE.
pub fn append_to_sequence(msg: &[u8], app: bool, extra: &[u8]) -> Vec<u8> {
    if app {
        let (tag, inner, rest) = split_tlv(msg);
        assert!(rest.is_empty());
        tlv(tag, &append_to_sequence(inner, false, extra))
    } else {
        let (tag, content, rest) = split_tlv(msg);
        assert_eq!(tag, 0x30);
        assert!(rest.is_empty());
        let mut c = content.to_vec();
        c.extend_from_slice(extra);
        tlv(0x30, &c)
    }
}

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    ::hex::decode(s).expect("hex")
}

pub fn os(b: &[u8]) -> OctetString {
    OctetString::from(b.to_vec())
}

pub fn t(secs: i64) -> KerberosTime {
    KerberosTime::from_unix(secs)
}

pub fn realm() -> Realm {
    Realm::from("EXAMPLE.COM")
}

pub fn client() -> PrincipalName {
    PrincipalName::new(name_type::PRINCIPAL, ["webapp01$"])
}

pub fn krbtgt() -> PrincipalName {
    PrincipalName::new(name_type::SRV_INST, ["krbtgt", "EXAMPLE.COM"])
}

pub fn enc_data(etype: i32, kvno: Option<u32>, cipher: &[u8]) -> EncryptedData {
    EncryptedData {
        etype,
        kvno,
        cipher: os(cipher),
    }
}

pub fn key() -> EncryptionKey {
    EncryptionKey {
        r#type: etype::AES256_CTS_HMAC_SHA1_96,
        value: SecretBytes::from((0u8..32).collect::<Vec<_>>()),
    }
}

pub fn ticket() -> Ticket {
    Ticket {
        tkt_vno: 5,
        realm: realm(),
        sname: krbtgt(),
        enc_part: enc_data(18, Some(2), &[0xab; 64]),
    }
}

pub fn kdc_req(msg_type: i32, nonce: u32) -> KdcReq {
    KdcReq {
        pvno: 5,
        msg_type,
        padata: Some(vec![
            PaData::new(
                pa_type::PAC_REQUEST,
                encode(&PaPacRequest { include_pac: true }),
            ),
            PaData::new(
                pa_type::ENC_TIMESTAMP,
                encode(&enc_data(18, None, &[1; 44])),
            ),
        ]),
        req_body: KdcReqBody {
            kdc_options: KdcOptions(
                KdcOptions::FORWARDABLE
                    | KdcOptions::RENEWABLE
                    | KdcOptions::CANONICALIZE
                    | KdcOptions::RENEWABLE_OK,
            ),
            cname: Some(client()),
            realm: realm(),
            sname: Some(krbtgt()),
            from: None,
            till: t(1_700_036_000),
            rtime: Some(t(1_700_604_800)),
            nonce,
            etype: vec![18, 17, 23],
            addresses: None,
            enc_authorization_data: None,
            additional_tickets: None,
        },
    }
}

pub fn as_req() -> AsReq {
    AsReq(kdc_req(msg_type::AS_REQ, 0x1234_5678))
}

pub fn tgs_req() -> TgsReq {
    let mut req = kdc_req(msg_type::TGS_REQ, 0x7fff_ffff);
    req.req_body.cname = None;
    req.req_body.sname = Some(PrincipalName::new(
        name_type::SRV_INST,
        ["ldap", "dc1.example.com"],
    ));
    req.req_body.addresses = Some(vec![HostAddress {
        addr_type: HostAddress::IPV4,
        address: os(&[10, 0, 0, 1]),
    }]);
    req.req_body.enc_authorization_data = Some(enc_data(18, None, &[3; 20]));
    req.req_body.additional_tickets = Some(vec![ticket()]);
    req.req_body.from = Some(t(1_700_000_000));
    req.padata = Some(vec![PaData::new(pa_type::TGS_REQ, encode(&ap_req()))]);
    TgsReq(req)
}

pub fn kdc_rep(msg_type: i32) -> KdcRep {
    KdcRep {
        pvno: 5,
        msg_type,
        padata: Some(vec![PaData::new(
            pa_type::ETYPE_INFO2,
            encode(&vec![EtypeInfo2Entry {
                etype: 18,
                salt: Some(KerberosString::from("EXAMPLE.COMhostwebapp01.example.com")),
                s2kparams: None,
            }]),
        )]),
        crealm: realm(),
        cname: client(),
        ticket: ticket(),
        enc_part: enc_data(18, Some(3), &[0xcd; 300]),
    }
}

pub fn as_rep() -> AsRep {
    AsRep(kdc_rep(msg_type::AS_REP))
}

pub fn tgs_rep() -> TgsRep {
    let mut rep = kdc_rep(msg_type::TGS_REP);
    rep.padata = None;
    rep.enc_part.kvno = None;
    TgsRep(rep)
}

pub fn enc_kdc_rep_part(nonce: u32) -> EncKdcRepPart {
    EncKdcRepPart {
        key: key(),
        last_req: vec![LastReqValue {
            r#type: 0,
            value: t(1_700_000_000),
        }],
        nonce,
        key_expiration: Some(t(1_900_000_000)),
        flags: TicketFlags(
            TicketFlags::FORWARDABLE
                | TicketFlags::RENEWABLE
                | TicketFlags::INITIAL
                | TicketFlags::PRE_AUTHENT
                | TicketFlags::ENC_PA_REP,
        ),
        auth_time: t(1_700_000_000),
        start_time: Some(t(1_700_000_000)),
        end_time: t(1_700_036_000),
        renew_till: Some(t(1_700_604_800)),
        srealm: realm(),
        sname: krbtgt(),
        caddr: None,
        encrypted_pa_data: Some(vec![PaData::new(
            pa_type::SUPPORTED_ETYPES,
            vec![0x1f, 0, 0, 0],
        )]),
    }
}

pub fn krb_error(code: i32) -> KrbError {
    KrbError {
        pvno: 5,
        msg_type: msg_type::KRB_ERROR,
        ctime: None,
        cusec: None,
        stime: t(1_700_000_123),
        susec: 654_321,
        error_code: code,
        crealm: Some(realm()),
        cname: Some(client()),
        realm: realm(),
        sname: krbtgt(),
        e_text: Some(KerberosString::from("NEEDED_PREAUTH")),
        e_data: Some(os(&encode(&vec![
            PaData::new(pa_type::ETYPE_INFO2, vec![0x30, 0x00]),
            PaData::new(pa_type::ENC_TIMESTAMP, Vec::new()),
        ]))),
    }
}

pub fn authenticator() -> Authenticator {
    Authenticator {
        authenticator_vno: 5,
        crealm: realm(),
        cname: client(),
        cksum: Some(Checksum {
            r#type: cksum_type::GSSAPI,
            checksum: os(&[0; 24]),
        }),
        cusec: 999_999,
        ctime: t(1_700_000_000),
        subkey: Some(key()),
        seq_number: Some(0xdead_beef),
        authorization_data: Some(vec![AuthorizationDataValue {
            r#type: AuthorizationDataValue::IF_RELEVANT,
            data: os(&[0x30, 0x00]),
        }]),
    }
}

pub fn ap_req() -> ApReq {
    ApReq {
        pvno: 5,
        msg_type: msg_type::AP_REQ,
        ap_options: ApOptions(ApOptions::MUTUAL_REQUIRED),
        ticket: ticket(),
        authenticator: enc_data(18, None, &[0x11; 100]),
    }
}

pub fn ap_rep() -> ApRep {
    ApRep {
        pvno: 5,
        msg_type: msg_type::AP_REP,
        enc_part: enc_data(18, None, &[0x22; 60]),
    }
}

pub fn enc_ap_rep_part() -> EncApRepPart {
    EncApRepPart {
        ctime: t(1_700_000_000),
        cusec: 12,
        subkey: Some(key()),
        seq_number: Some(0x8000_0000),
    }
}

pub fn enc_ticket_part() -> EncTicketPart {
    EncTicketPart {
        flags: TicketFlags(TicketFlags::FORWARDABLE | TicketFlags::INITIAL),
        key: key(),
        crealm: realm(),
        cname: client(),
        transited: TransitedEncoding {
            r#type: 1,
            contents: os(b""),
        },
        auth_time: t(1_700_000_000),
        start_time: None,
        end_time: t(1_700_036_000),
        renew_till: None,
        caddr: None,
        authorization_data: Some(vec![AuthorizationDataValue {
            r#type: AuthorizationDataValue::IF_RELEVANT,
            data: os(b"pac"),
        }]),
    }
}

pub fn krb_cred() -> KrbCred {
    KrbCred {
        pvno: 5,
        msg_type: msg_type::KRB_CRED,
        tickets: vec![ticket(), ticket()],
        enc_part: enc_data(0, None, &[0x30, 0x00]),
    }
}

pub fn enc_krb_cred_part() -> EncKrbCredPart {
    EncKrbCredPart {
        ticket_info: vec![KrbCredInfo {
            key: key(),
            prealm: Some(realm()),
            pname: Some(client()),
            flags: Some(TicketFlags(TicketFlags::FORWARDED)),
            auth_time: Some(t(1)),
            start_time: Some(t(2)),
            end_time: Some(t(3)),
            renew_till: Some(t(4)),
            srealm: Some(realm()),
            sname: Some(krbtgt()),
            caddr: Some(vec![]),
        }],
        nonce: Some(42),
        timestamp: Some(t(1_700_000_000)),
        usec: Some(5),
        sender_address: None,
        recipient_address: None,
    }
}
