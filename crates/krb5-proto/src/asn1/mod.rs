//! RFC 4120 ASN.1 messages (with MS-KILE additions) on `rasn`.
//!
//! The message types are vendored from `rasn-kerberos` 0.30 (see [`messages`] for the list of
//! changes). Names are kept as raw bytes ([`KerberosString`]), times are whole seconds
//! ([`KerberosTime`]), flags are `u32` masks ([`KdcOptions`], [`TicketFlags`], [`ApOptions`]).
//!
//! * [`encode`] produces DER; [`decode`] accepts BER, rejects trailing bytes and inputs above
//!   [`MAX_MESSAGE_LEN`].
//! * [`decode_kdc_reply`] dispatches a KDC's answer on its APPLICATION tag.
//! * [`decode_enc_kdc_rep_part`] accepts EncASRepPart and EncTGSRepPart alike.
//! * Decoders skip unknown trailing SEQUENCE elements (extensions from newer KDCs) and accept
//!   `UInt32` values encoded as negative 4-byte INTEGERs.
//!
//! ```
//! use krb5_proto::asn1::*;
//! let req = AsReq(KdcReq {
//!     pvno: 5,
//!     msg_type: msg_type::AS_REQ,
//!     padata: Some(vec![PaData::new(pa_type::PAC_REQUEST, encode(&PaPacRequest { include_pac: true }))]),
//!     req_body: KdcReqBody {
//!         kdc_options: KdcOptions(KdcOptions::FORWARDABLE | KdcOptions::RENEWABLE | KdcOptions::CANONICALIZE | KdcOptions::RENEWABLE_OK),
//!         cname: Some(PrincipalName::new(name_type::PRINCIPAL, ["webapp01$"])),
//!         realm: Realm::from("EXAMPLE.COM"),
//!         sname: Some(PrincipalName::new(name_type::SRV_INST, ["krbtgt", "EXAMPLE.COM"])),
//!         from: None,
//!         till: KerberosTime::from_unix(1_700_036_000),
//!         rtime: None,
//!         nonce: 0x1234_5678,
//!         etype: vec![etype::AES256_CTS_HMAC_SHA1_96, etype::AES128_CTS_HMAC_SHA1_96],
//!         addresses: None,
//!         enc_authorization_data: None,
//!         additional_tickets: None,
//!     },
//! });
//! let bytes = encode(&req);
//! assert_eq!(bytes[0], 0x6a); // [APPLICATION 10]
//! assert_eq!(decode::<AsReq>(&bytes).unwrap(), req);
//! ```

use std::fmt::Write as _;

mod codec;
mod constants;
pub mod messages;
mod mskile;
mod primitives;

pub use constants::{cksum_type, error_code, etype, key_usage, msg_type, pa_type};
pub use messages::*;
pub use mskile::{KerbErrorData, KerbExtError, PaPacRequest};
pub use primitives::{
    ApOptions, KdcOptions, KerberosFlags, KerberosString, KerberosTime, Realm, TicketFlags,
};
/// Octet strings as `rasn` represents them (`bytes::Bytes`).
pub use rasn::types::OctetString;

/// Principal name types (RFC 4120 §6.2), shared with [`crate::principal`].
pub mod name_type {
    pub use crate::principal::name_type::*;
}

/// The largest message [`decode`] accepts (1 MiB, MIT's cap on KDC replies).
pub const MAX_MESSAGE_LEN: usize = 1 << 20;

/// A message could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Asn1Error {
    /// Malformed DER/BER.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// The message type being decoded.
        what: &'static str,
        /// The decoder's explanation.
        detail: String,
    },
    /// The value was followed by extra bytes.
    #[error(
        "{extra} unexpected bytes after the {what} (truncated framing or two messages in one?)"
    )]
    TrailingData {
        /// The message type decoded.
        what: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
    /// The input is larger than any message this decoder accepts.
    #[error("{what} of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The message type being decoded.
        what: &'static str,
        /// The input length.
        len: usize,
        /// The limit ([`MAX_MESSAGE_LEN`]).
        max: usize,
    },
    /// The outer tag is not one of the messages expected here.
    #[error("expected {expected}, got {found}")]
    UnexpectedMessage {
        /// What was expected, e.g. `AS-REP, TGS-REP or KRB-ERROR`.
        expected: &'static str,
        /// A description of the tag found, e.g. `[APPLICATION 14] (AP-REQ)`.
        found: String,
    },
    /// A value could not be encoded.
    #[error("cannot encode {what}: {detail}")]
    Encode {
        /// The type being encoded.
        what: &'static str,
        /// The encoder's explanation.
        detail: String,
    },
}

/// A short, static name for `T` (`KrbError` rather than `krb5_proto::asn1::messages::KrbError`).
fn type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    if full.contains('<') {
        full
    } else {
        full.rsplit("::").next().unwrap_or(full)
    }
}

/// Encodes `v` as DER.
///
/// # Panics
///
/// Never for the types of this module: rasn's DER encoder fails only on constraint violations
/// (size/value ranges, permitted alphabets), and none of these types declare constraints
/// (strings are raw OCTET STRING contents, integers are plain Rust integers). For arbitrary
/// rasn types with constraints use [`try_encode`].
pub fn encode<T: rasn::Encode>(v: &T) -> Vec<u8> {
    match try_encode(v) {
        Ok(bytes) => bytes,
        Err(e) => panic!("{e} (types without constraints always encode)"),
    }
}

/// Encodes `v` as DER, returning the encoder's error for types with violated constraints.
pub fn try_encode<T: rasn::Encode>(v: &T) -> Result<Vec<u8>, Asn1Error> {
    rasn::der::encode(v).map_err(|e| Asn1Error::Encode {
        what: type_name::<T>(),
        detail: e.to_string(),
    })
}

/// Decodes one BER value of type `T` occupying all of `bytes`.
///
/// Inputs above [`MAX_MESSAGE_LEN`] are rejected before parsing; rasn's BER decoder bounds every
/// length by the remaining input and limits nesting to 128 levels, so malformed input yields an
/// error, never a panic or an allocation larger than the input.
pub fn decode<T: rasn::Decode>(bytes: &[u8]) -> Result<T, Asn1Error> {
    let what = type_name::<T>();
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(Asn1Error::TooLarge {
            what,
            len: bytes.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    let (value, rest) =
        rasn::ber::decode_with_remainder::<T>(bytes).map_err(|e| Asn1Error::Malformed {
            what,
            detail: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(Asn1Error::TrailingData {
            what,
            extra: rest.len(),
        });
    }
    Ok(value)
}

/// A KDC's answer to an AS-REQ or TGS-REQ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KdcReply {
    /// `[APPLICATION 11]` AS-REP.
    AsRep(KdcRep),
    /// `[APPLICATION 13]` TGS-REP.
    TgsRep(KdcRep),
    /// `[APPLICATION 30]` KRB-ERROR.
    Error(KrbError),
}

/// Decodes a KDC reply, dispatching on its outer APPLICATION tag (11, 13 or 30).
///
/// ```
/// use krb5_proto::asn1::{decode_kdc_reply, Asn1Error};
/// let err = decode_kdc_reply(&[0x6e, 0x00]).unwrap_err();
/// assert!(err.to_string().contains("[APPLICATION 14] (AP-REQ)"), "{err}");
/// ```
pub fn decode_kdc_reply(bytes: &[u8]) -> Result<KdcReply, Asn1Error> {
    const EXPECTED: &str = "AS-REP, TGS-REP or KRB-ERROR";
    match bytes.first() {
        Some(0x6b) => decode::<AsRep>(bytes).map(|r| KdcReply::AsRep(r.0)),
        Some(0x6d) => decode::<TgsRep>(bytes).map(|r| KdcReply::TgsRep(r.0)),
        Some(0x7e) => decode::<KrbError>(bytes).map(KdcReply::Error),
        _ => Err(Asn1Error::UnexpectedMessage {
            expected: EXPECTED,
            found: describe_tag(bytes),
        }),
    }
}

/// Decodes the plaintext of a KDC reply's `enc-part`, accepting `[APPLICATION 25]`
/// EncASRepPart and `[APPLICATION 26]` EncTGSRepPart alike (RFC 4120 §5.4.2: an AS-REP may
/// carry EncTGSRepPart, and MIT does so).
pub fn decode_enc_kdc_rep_part(bytes: &[u8]) -> Result<EncKdcRepPart, Asn1Error> {
    match bytes.first() {
        Some(0x79) => decode::<EncAsRepPart>(bytes).map(|p| p.0),
        Some(0x7a) => decode::<EncTgsRepPart>(bytes).map(|p| p.0),
        _ => Err(Asn1Error::UnexpectedMessage {
            expected: "EncASRepPart or EncTGSRepPart (wrong key or key usage?)",
            found: describe_tag(bytes),
        }),
    }
}

/// Describes the identifier at the start of `bytes`, e.g. `[APPLICATION 14] (AP-REQ)`.
fn describe_tag(bytes: &[u8]) -> String {
    let Some(&first) = bytes.first() else {
        return "empty input".into();
    };
    let class = match first >> 6 {
        0 => "UNIVERSAL",
        1 => "APPLICATION",
        2 => "CONTEXT",
        _ => "PRIVATE",
    };
    let mut number = u64::from(first & 0x1f);
    if number == 0x1f {
        number = 0;
        // High tag number form: at most 4 continuation bytes are read for the description.
        for &b in bytes.iter().skip(1).take(4) {
            number = (number << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let mut out = format!("[{class} {number}]");
    if first >> 6 == 1
        && let Some(name) = u32::try_from(number)
            .ok()
            .and_then(msg_type::application_name)
    {
        let _ = write!(out, " ({name})");
    }
    if first == 0x30 {
        out.push_str(" (a bare SEQUENCE)");
    }
    out
}
