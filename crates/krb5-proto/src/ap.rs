//! The AP exchange (RFC 4120 §3.2): building an AP-REQ from credentials and checking the AP-REP.
//!
//! Used by the TGS exchange (PA-TGS-REQ) and by the GSS-API initiator.

use crate::asn1::key_usage;
use crate::asn1::{
    self, ApOptions, ApReq, Authenticator, Checksum, EncApRepPart, EncryptedData, KerberosTime,
    PrincipalName,
};
use crate::creds::{Credentials, unix_secs_usec};
use crate::crypto::Key;
use crate::error::{Error, Result};
use crate::rand::Rng;
use std::time::SystemTime;

/// What goes into an AP-REQ besides the ticket.
#[derive(Debug, Clone, Default)]
pub struct ApReqOptions {
    /// Ask the server for an AP-REP (mutual authentication).
    pub mutual: bool,
    /// The authenticator checksum (e.g. the TGS-REQ body checksum or the GSS 0x8003 checksum).
    pub checksum: Option<Checksum>,
    /// An initiator subkey to send in the authenticator.
    pub subkey: Option<Key>,
    /// The initial sequence number to send in the authenticator.
    pub seq_number: Option<u32>,
    /// Authorization data for the authenticator.
    pub authorization_data: Option<Vec<asn1::AuthorizationDataValue>>,
}

/// An AP-REQ ready to send, with what is needed to check the AP-REP.
#[derive(Debug, Clone)]
pub struct BuiltApReq {
    /// The DER-encoded AP-REQ.
    pub bytes: Vec<u8>,
    /// The authenticator's time (KDC-adjusted seconds).
    pub ctime: i64,
    /// The authenticator's microseconds.
    pub cusec: i32,
    /// The subkey that was sent, if any.
    pub subkey: Option<Key>,
    /// The sequence number that was sent, if any.
    pub seq_number: Option<u32>,
}

/// Builds an AP-REQ for `creds`' ticket with the authenticator encrypted under `usage`
/// (11 for applications, 7 inside a TGS-REQ).
pub fn build_ap_req(
    creds: &Credentials,
    opts: ApReqOptions,
    usage: u32,
    now: SystemTime,
    rng: &mut dyn Rng,
) -> Result<BuiltApReq> {
    let (secs, usec) = unix_secs_usec(now);
    let ctime = secs + creds.time_offset;
    let ticket: asn1::Ticket = asn1::decode(&creds.ticket)?;
    let auth = Authenticator {
        authenticator_vno: 5,
        crealm: asn1::KerberosString(creds.client.realm.clone()),
        cname: PrincipalName::from_principal(&creds.client),
        cksum: opts.checksum,
        cusec: usec,
        ctime: KerberosTime::from_unix(ctime),
        subkey: opts.subkey.as_ref().map(|k| asn1::EncryptionKey {
            r#type: k.etype().to_i32(),
            value: k.as_bytes().to_vec().into(),
        }),
        seq_number: opts.seq_number,
        authorization_data: opts.authorization_data,
    };
    let auth_plain = zeroize::Zeroizing::new(asn1::encode(&auth));
    let cipher = creds.session_key.encrypt(usage, &auth_plain, rng);
    let req = ApReq {
        pvno: 5,
        msg_type: asn1::msg_type::AP_REQ,
        ap_options: ApOptions(if opts.mutual {
            ApOptions::MUTUAL_REQUIRED
        } else {
            0
        }),
        ticket,
        authenticator: EncryptedData {
            etype: creds.session_key.etype().to_i32(),
            kvno: None,
            cipher: cipher.into(),
        },
    };
    Ok(BuiltApReq {
        bytes: asn1::encode(&req),
        ctime,
        cusec: usec,
        subkey: opts.subkey,
        seq_number: opts.seq_number,
    })
}

/// Decrypts and checks an AP-REP (usage 12) against the AP-REQ that was sent: the server must echo
/// the authenticator's time.
pub fn verify_ap_rep(ap_rep: &[u8], session_key: &Key, sent: &BuiltApReq) -> Result<EncApRepPart> {
    let rep: asn1::ApRep = asn1::decode(ap_rep)?;
    let plain = session_key.decrypt(key_usage::AP_REP_ENCPART, &rep.enc_part.cipher)?;
    let part: EncApRepPart = asn1::decode(&plain)?;
    if part.ctime.to_unix() != sent.ctime || part.cusec != sent.cusec {
        return Err(Error::Protocol {
            during: "AP exchange",
            what:
                "the AP-REP does not echo our authenticator's time (mutual authentication failed)"
                    .into(),
        });
    }
    Ok(part)
}
