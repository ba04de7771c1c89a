//! Shared pieces of the stateful fuzz targets: a KDC-reply builder driven by `arbitrary`, so the
//! fuzzer reaches the state machines' checks behind decryption (every reply is encrypted under
//! the key the client under test holds).
#![allow(dead_code)]

use arbitrary::Arbitrary;
use krb5_proto::asn1::{
    self, EncKdcRepPart, EncryptedData, EncryptionKey, KdcRep, KerberosString, KerberosTime,
    PaData, PrincipalName, Ticket, TicketFlags,
};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::rand::TestRng;

/// The fixed instant the targets run at.
pub const NOW: i64 = 1_800_000_000;

/// A name in a reply: the expected one, a case variant of it, or anything.
#[derive(Arbitrary, Debug, Clone)]
pub enum NameChoice {
    Expected,
    Upper,
    Lower,
    Other {
        name_type: i32,
        components: Vec<Vec<u8>>,
    },
}

impl NameChoice {
    pub fn pick(&self, expected: &PrincipalName) -> PrincipalName {
        let map = |f: fn(&[u8]) -> Vec<u8>| PrincipalName {
            r#type: expected.r#type,
            string: expected
                .string
                .iter()
                .map(|s| KerberosString(f(&s.0)))
                .collect(),
        };
        match self {
            NameChoice::Expected => expected.clone(),
            NameChoice::Upper => map(<[u8]>::to_ascii_uppercase),
            NameChoice::Lower => map(<[u8]>::to_ascii_lowercase),
            NameChoice::Other {
                name_type,
                components,
            } => PrincipalName {
                r#type: *name_type,
                string: components
                    .iter()
                    .take(4)
                    .map(|c| KerberosString(c.clone()))
                    .collect(),
            },
        }
    }
}

/// A realm in a reply.
#[derive(Arbitrary, Debug, Clone)]
pub enum RealmChoice {
    Expected,
    Lower,
    Other(Vec<u8>),
}

impl RealmChoice {
    pub fn pick(&self, expected: &[u8]) -> KerberosString {
        KerberosString(match self {
            RealmChoice::Expected => expected.to_vec(),
            RealmChoice::Lower => expected.to_ascii_lowercase(),
            RealmChoice::Other(r) => r.clone(),
        })
    }
}

/// The session key a reply hands out.
#[derive(Arbitrary, Debug, Clone)]
pub struct KeyChoice {
    pub etype: i8,
    pub fill: u8,
    pub len_delta: i8,
}

impl KeyChoice {
    pub fn key(&self) -> EncryptionKey {
        let etype = i32::from(self.etype);
        let len = EncType::from_i32(etype).map_or(16, |e| e.key_len());
        let len = (len as i64 + i64::from(self.len_delta % 4)).clamp(0, 64) as usize;
        EncryptionKey {
            r#type: etype,
            value: vec![self.fill; len].into(),
        }
    }
}

/// The fields of an EncKDCRepPart, relative to what the request expects.
#[derive(Arbitrary, Debug, Clone)]
pub struct PartFields {
    pub key: KeyChoice,
    /// `None`: the request's nonce.
    pub nonce: Option<u32>,
    pub key_expiration: Option<i32>,
    pub flags: u32,
    /// Offsets in seconds from [`NOW`].
    pub auth_time: i32,
    pub start_time: Option<i32>,
    pub end_time: i32,
    pub renew_till: Option<i32>,
    pub srealm: RealmChoice,
    pub sname: NameChoice,
    pub encrypted_pa_data: Option<Vec<(i32, Vec<u8>)>>,
    /// Encode as EncTGSRepPart (APPLICATION 26) instead of EncASRepPart (25).
    pub tgs_tag: bool,
}

impl PartFields {
    /// The DER plaintext.
    pub fn encode(&self, nonce: u32, srealm: &[u8], sname: &PrincipalName) -> Vec<u8> {
        let t = |off: i32| KerberosTime::from_unix(NOW + i64::from(off));
        let part = EncKdcRepPart {
            key: self.key.key(),
            last_req: Vec::new(),
            nonce: self.nonce.unwrap_or(nonce),
            key_expiration: self.key_expiration.map(t),
            flags: TicketFlags(self.flags),
            auth_time: t(self.auth_time),
            start_time: self.start_time.map(t),
            end_time: t(self.end_time),
            renew_till: self.renew_till.map(t),
            srealm: self.srealm.pick(srealm),
            sname: self.sname.pick(sname),
            caddr: None,
            encrypted_pa_data: self.encrypted_pa_data.as_ref().map(|v| {
                v.iter()
                    .take(4)
                    .map(|(t, d)| PaData::new(*t, d.clone()))
                    .collect()
            }),
        };
        if self.tgs_tag {
            asn1::encode(&asn1::EncTgsRepPart(part))
        } else {
            asn1::encode(&asn1::EncAsRepPart(part))
        }
    }
}

/// The decrypted part: built from fields (reaches the semantic checks) or raw DER (reaches the
/// decoder behind decryption).
#[derive(Arbitrary, Debug, Clone)]
pub enum Plain {
    Fields(PartFields),
    Raw(Vec<u8>),
}

impl Plain {
    pub fn bytes(&self, nonce: u32, srealm: &[u8], sname: &PrincipalName) -> Vec<u8> {
        match self {
            Plain::Fields(f) => f.encode(nonce, srealm, sname),
            Plain::Raw(b) => b.clone(),
        }
    }

    /// The nonce the plaintext carries, when it decodes.
    pub fn nonce_in(bytes: &[u8]) -> Option<u32> {
        asn1::decode_enc_kdc_rep_part(bytes).ok().map(|p| p.nonce)
    }
}

/// A whole KDC-REP around an encrypted part.
#[derive(Arbitrary, Debug, Clone)]
pub struct Envelope {
    /// Use the expected message type (11 AS-REP, 13 TGS-REP), else the other one.
    pub right_msg_type: bool,
    pub crealm: RealmChoice,
    pub cname: NameChoice,
    /// The enctype written in EncryptedData (`None`: the key's own).
    pub etype: Option<i8>,
    pub padata: Option<Vec<(i32, Vec<u8>)>>,
    /// Encrypt with the expected key usage (else a wrong one).
    pub right_usage: bool,
}

impl Envelope {
    /// Encrypts `plain` under `key` and wraps it in an AS-REP (`as_rep`) or TGS-REP.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        &self,
        as_rep: bool,
        key: &Key,
        usage: u32,
        plain: &[u8],
        crealm: &[u8],
        cname: &PrincipalName,
        rng: &mut TestRng,
    ) -> Vec<u8> {
        let usage = if self.right_usage { usage } else { usage ^ 1 };
        let ticket = Ticket {
            tkt_vno: 5,
            realm: KerberosString(crealm.to_vec()),
            sname: PrincipalName::new(2, ["krbtgt", "FUZZ.TEST"]),
            enc_part: EncryptedData {
                etype: 18,
                kvno: Some(1),
                cipher: vec![0x55; 48].into(),
            },
        };
        let rep = KdcRep {
            pvno: 5,
            msg_type: match (as_rep, self.right_msg_type) {
                (true, true) | (false, false) => 11,
                _ => 13,
            },
            padata: self.padata.as_ref().map(|v| {
                v.iter()
                    .take(4)
                    .map(|(t, d)| PaData::new(*t, d.clone()))
                    .collect()
            }),
            crealm: self.crealm.pick(crealm),
            cname: self.cname.pick(cname),
            ticket,
            enc_part: EncryptedData {
                etype: self.etype.map_or(key.etype().to_i32(), i32::from),
                kvno: None,
                cipher: key.encrypt(usage, plain, rng).into(),
            },
        };
        if rep.msg_type == 11 {
            asn1::encode(&asn1::AsRep(rep))
        } else {
            asn1::encode(&asn1::TgsRep(rep))
        }
    }
}

/// Credentials for `server` in realm FUZZ.TEST held by `alice`, with a placeholder ticket.
pub fn creds(server: krb5_proto::Principal, session_key: Key) -> krb5_proto::Credentials {
    let ticket = Ticket {
        tkt_vno: 5,
        realm: KerberosString(server.realm.clone()),
        sname: PrincipalName::from_principal(&server),
        enc_part: EncryptedData {
            etype: 18,
            kvno: Some(1),
            cipher: vec![0x33; 64].into(),
        },
    };
    krb5_proto::Credentials {
        client: krb5_proto::Principal::new(1, ["alice"], "FUZZ.TEST"),
        server,
        session_key,
        ticket: asn1::encode(&ticket),
        flags: 0x4081_0000,
        auth_time: NOW,
        start_time: NOW,
        end_time: NOW + 36_000,
        renew_till: None,
        time_offset: 0,
        pa_type: None,
        client_kvno: None,
    }
}

/// A KRB-ERROR from the FUZZ.TEST KDC.
pub fn krb_error(code: i32, e_data: Option<Vec<u8>>) -> Vec<u8> {
    asn1::encode(&asn1::KrbError {
        pvno: 5,
        msg_type: 30,
        ctime: None,
        cusec: None,
        stime: KerberosTime::from_unix(NOW),
        susec: 0,
        error_code: code,
        crealm: None,
        cname: None,
        realm: KerberosString::from("FUZZ.TEST"),
        sname: PrincipalName::new(2, ["krbtgt", "FUZZ.TEST"]),
        e_text: None,
        e_data: e_data.map(Into::into),
    })
}

/// The checks on a reply the state machine accepted: encrypted with the right key usage, and
/// carrying the request's nonce. Returns the decoded part.
pub fn accepted_part(envelope: &Envelope, plain: &[u8], nonce: u32) -> EncKdcRepPart {
    assert!(
        envelope.right_usage,
        "accepted a part under the wrong key usage"
    );
    let part = asn1::decode_enc_kdc_rep_part(plain).expect("an accepted part decodes");
    assert_eq!(part.nonce, nonce, "accepted a wrong nonce");
    part
}

/// An AP-REP whose part is `plain` encrypted under `key` with `usage`.
pub fn ap_rep(key: &Key, usage: u32, plain: &[u8], rng: &mut TestRng) -> Vec<u8> {
    asn1::encode(&asn1::ApRep {
        pvno: 5,
        msg_type: 15,
        enc_part: EncryptedData {
            etype: key.etype().to_i32(),
            kvno: None,
            cipher: key.encrypt(usage, plain, rng).into(),
        },
    })
}
