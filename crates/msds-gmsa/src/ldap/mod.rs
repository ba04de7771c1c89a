//! LDAP to an Active Directory domain controller, as far as reading a gMSA's password needs it.
//!
//! * [`sasl`]: the RFC 4752 SASL GSSAPI client exchange as a sans-IO state machine over a
//!   [`krb5_proto::gss::InitiatorContext`], the negotiated security layer and the SASL buffer
//!   framing (4-byte big-endian length ‖ Wrap token).
//! * [`conn`]: an async connection on tokio: rootDSE, sealed SASL/GSSAPI bind, search, unbind.
//! * [`tls`]: LDAPS (rustls with a pure-Rust crypto provider), trust anchors and the RFC 5929
//!   `tls-server-end-point` channel bindings.
//! * [`filter`]: RFC 4515 escaping and the gMSA search filter.
//! * [`lookup`]: what a read is about: [`GmsaLookup`](lookup::GmsaLookup),
//!   [`FetchOptions`](lookup::FetchOptions), [`FetchedPassword`](lookup::FetchedPassword).
//! * [`session`]: [`GmsaReader`](crate::GmsaReader), one sealed session reused for many reads.
//! * [`fetch`]: the one-shot [`fetch_managed_password`](crate::fetch_managed_password), one
//!   use of a session.
//!
//! Messages are encoded and decoded with `ldap3_proto`'s BER codec, capped at
//! [`MAX_LDAP_MESSAGE`] bytes per message.

pub mod conn;
pub mod fetch;
pub mod filter;
pub mod lookup;
pub mod sasl;
pub mod session;
pub mod tls;

/// The LDAP message types used in this module's API (`LdapSearchRequest`,
/// `LdapSearchResultEntry`, ...), re-exported.
pub use ldap3_proto;

use bytes::BytesMut;
use krb5_proto::gss::GssError;
use ldap3_proto::LdapMsg;
use ldap3_proto::proto::LdapResultCode;
use tokio_util::codec::Decoder;

/// Largest LDAP message accepted from a server (1 MiB; a gMSA entry is about 1 KiB).
pub const MAX_LDAP_MESSAGE: usize = 1 << 20;

/// Errors from the LDAP layer: SASL negotiation, framing, the connection and LDAP results.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LdapError {
    /// The Kerberos GSS-API layer refused a token (AP-REP, Wrap token) or could not build one.
    #[error("GSSAPI: {0}")]
    Gss(#[from] GssError),
    /// The server's security-layer offer (SASL step 2) did not unwrap to exactly 4 bytes.
    #[error(
        "the server's SASL GSSAPI security-layer offer is {len} bytes after unwrapping; RFC 4752 \
         requires exactly 4 (layer bitmask + 3-byte maximum buffer size)"
    )]
    BadLayerOffer {
        /// Unwrapped length received.
        len: usize,
    },
    /// The server does not offer the security layer we require.
    #[error(
        "the server offers SASL security layers {offered:#04x} (1 none, 2 integrity, \
         4 confidentiality) but {wanted} was required; the DC's LDAP policy does not allow \
         sealing, so msDS-ManagedPassword cannot be read over this connection"
    )]
    LayerNotOffered {
        /// The layer we wanted.
        wanted: &'static str,
        /// The offered bitmask.
        offered: u8,
    },
    /// The server offered a security layer with a maximum buffer size too small to carry data.
    #[error(
        "the server's maximum SASL buffer is {max} bytes, too small for one {overhead}-byte \
         Wrap token overhead plus data"
    )]
    PeerBufferTooSmall {
        /// The server's maximum buffer size.
        max: usize,
        /// Bytes a Wrap token adds.
        overhead: usize,
    },
    /// A SASL frame's length prefix exceeds our maximum buffer size.
    #[error(
        "the server sent a SASL frame of {len} bytes, more than the {max}-byte maximum we \
         negotiated: protocol violation or a corrupted stream"
    )]
    FrameTooLarge {
        /// Declared frame length.
        len: usize,
        /// Our maximum.
        max: usize,
    },
    /// A SASL frame of length 0 (no Wrap token) arrived.
    #[error("the server sent an empty SASL frame; every frame must hold a Wrap token")]
    EmptyFrame,
    /// A confidentiality layer was negotiated but the server sent an unsealed token.
    #[error(
        "the server sent an integrity-only Wrap token after sealing was negotiated: refusing \
         the downgrade (possible tampering)"
    )]
    UnsealedToken,
    /// The search for `msDS-ManagedPassword` was not sent (or the DC refused it) because the
    /// connection is not encrypted.
    #[error("{0}")]
    ConfidentialityRequired(String),
    /// The DC refused the bind.
    #[error(
        "the DC {dc} rejected the SASL GSSAPI bind with {result_name} ({result_code}): {message}"
    )]
    BindRejected {
        /// The DC.
        dc: String,
        /// The LDAP result code.
        result_code: i64,
        /// Its RFC 4511 name.
        result_name: String,
        /// The server's diagnostic message.
        message: String,
    },
    /// An LDAP operation failed with a result code.
    #[error("LDAP {op} on {dc} failed with {result_name} ({result_code}): {message}")]
    OperationFailed {
        /// The operation (e.g. `search`).
        op: &'static str,
        /// The DC.
        dc: String,
        /// The LDAP result code.
        result_code: i64,
        /// Its RFC 4511 name.
        result_name: String,
        /// The server's diagnostic message.
        message: String,
    },
    /// A message from the server could not be decoded as LDAP.
    #[error("could not decode an LDAP message from {dc}: {reason}")]
    Decode {
        /// The DC.
        dc: String,
        /// Why.
        reason: String,
    },
    /// The server answered with a message that does not fit the request.
    #[error("unexpected LDAP message from {dc} while waiting for the {expected}: {got}")]
    Unexpected {
        /// The DC.
        dc: String,
        /// What we waited for.
        expected: &'static str,
        /// What came.
        got: String,
    },
    /// A network read or write failed.
    #[error("I/O error talking to {dc} during {op}: {message}")]
    Io {
        /// The DC.
        dc: String,
        /// The operation.
        op: &'static str,
        /// The error kind.
        kind: std::io::ErrorKind,
        /// The error text.
        message: String,
    },
    /// The server closed the connection.
    #[error("{dc} closed the LDAP connection during {op}{}", notice.as_deref().map(|n| format!(" (notice: {n})")).unwrap_or_default())]
    Closed {
        /// The DC.
        dc: String,
        /// The operation.
        op: &'static str,
        /// A notice of disconnection text, if one was sent.
        notice: Option<String>,
    },
    /// An operation took longer than the configured timeout.
    #[error("{dc} did not answer the LDAP {op} within {timeout_ms} ms")]
    Timeout {
        /// The DC.
        dc: String,
        /// The operation.
        op: &'static str,
        /// The timeout in milliseconds.
        timeout_ms: u128,
    },
    /// The rootDSE lacks something required.
    #[error("the rootDSE of {dc} {what}")]
    RootDse {
        /// The DC.
        dc: String,
        /// What is missing or wrong.
        what: String,
    },
    /// A request could not be encoded.
    #[error("could not encode an LDAP request: {0}")]
    Encode(String),
    /// Over LDAPS the SASL GSSAPI exchange must choose no security layer, and the server did
    /// not offer that.
    #[error(
        "over LDAPS the SASL GSSAPI bind must choose no security layer (TLS already protects \
         the connection; AD and Samba refuse sign or seal over TLS), but the server offers only \
         layers {offered:#04x} (1 none, 2 integrity, 4 confidentiality)"
    )]
    NoLayerNotOffered {
        /// The offered bitmask.
        offered: u8,
    },
    /// The TLS client could not be set up (CA file unreadable or without certificates, CPU
    /// unsupported by the crypto provider).
    #[error("LDAPS setup: {reason}")]
    TlsSetup {
        /// Why.
        reason: String,
    },
    /// The DC's certificate does not chain to a trusted CA (or is expired, revoked, ...).
    #[error(
        "the TLS certificate of the DC {dc} is not trusted ({reason}) with trust anchors from \
         {ca_source}: give the CA certificate that issued the DC's certificate (PEM) as the CA \
         file (gmsa --ca-file)"
    )]
    CertificateNotTrusted {
        /// The DC (`host (address)`).
        dc: String,
        /// The name verified.
        host: String,
        /// rustls' reason.
        reason: String,
        /// Where the trust anchors came from.
        ca_source: String,
    },
    /// The DC's certificate is trusted but not issued for the name we connected by.
    #[error(
        "the TLS certificate of the DC {dc} is not valid for the name {host} ({reason}; trust \
         anchors from {ca_source}): connect by a name the certificate lists in its \
         subjectAltName"
    )]
    CertificateNameMismatch {
        /// The DC (`host (address)`).
        dc: String,
        /// The name verified.
        host: String,
        /// rustls' reason, with the names the certificate holds.
        reason: String,
        /// Where the trust anchors came from.
        ca_source: String,
    },
    /// The TLS handshake failed for another reason.
    #[error("TLS handshake with {dc} failed: {reason}")]
    TlsHandshake {
        /// The DC.
        dc: String,
        /// Why.
        reason: String,
    },
}

/// The length of the first LDAP message in `buf` (its BER tag, length and contents), once
/// enough bytes are there to know it: `Ok(None)` means more bytes are needed.
///
/// An LDAPMessage is a SEQUENCE (`0x30`) with a definite length (RFC 4511 §5.1); anything else,
/// and any message longer than [`MAX_LDAP_MESSAGE`], is an error.
///
/// ```
/// use msds_gmsa::ldap::message_len;
/// assert_eq!(message_len(&[0x30, 0x05, 0x02]), Ok(None)); // 7 bytes needed
/// assert_eq!(message_len(&[0x30, 0x05, 2, 1, 3, 0x42, 0, 0x30]), Ok(Some(7)));
/// assert_eq!(message_len(&[0x30, 0x82, 0x01]), Ok(None));
/// assert!(message_len(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]).is_err());
/// ```
pub fn message_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    if tag != 0x30 {
        return Err(format!(
            "an LDAPMessage starts with a SEQUENCE tag 0x30, got {tag:#04x}"
        ));
    }
    let Some(&first) = buf.get(1) else {
        return Ok(None);
    };
    let (header, content) = if first < 0x80 {
        (2usize, usize::from(first))
    } else if first == 0x80 {
        return Err("indefinite BER length; LDAP requires definite lengths".to_owned());
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 {
            return Err(format!("BER length of {n} bytes is too long"));
        }
        let Some(bytes) = buf.get(2..2 + n) else {
            return Ok(None);
        };
        let len = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        (2 + n, usize::try_from(len).unwrap_or(usize::MAX))
    };
    let total = header.saturating_add(content);
    if total > MAX_LDAP_MESSAGE {
        return Err(format!(
            "LDAP message of {total} bytes exceeds the {MAX_LDAP_MESSAGE}-byte limit"
        ));
    }
    Ok((buf.len() >= total).then_some(total))
}

/// Takes one LDAP message from the front of `buf` (plaintext LDAP bytes) and decodes it.
///
/// Returns `Ok(None)` when `buf` holds only part of a message. The consumed bytes, and the
/// codec's temporary copy of them, are overwritten with zeros (they may hold a password blob).
/// Messages longer than [`MAX_LDAP_MESSAGE`] and malformed BER are errors.
///
/// ```
/// // An unbind request: 30 05 02 01 03 42 00 (message id 3).
/// let mut buf = vec![0x30, 0x05, 0x02, 0x01, 0x03, 0x42, 0x00, 0x30];
/// let msg = msds_gmsa::ldap::take_message(&mut buf).unwrap().unwrap();
/// assert_eq!(msg.msgid, 3);
/// assert_eq!(buf, [0x30]); // the start of the next message stays
/// ```
pub fn take_message(buf: &mut Vec<u8>) -> Result<Option<LdapMsg>, String> {
    use zeroize::Zeroize;
    let Some(total) = message_len(buf)? else {
        return Ok(None);
    };
    let mut tmp = BytesMut::with_capacity(total);
    if let Some(first) = buf.get_mut(..total) {
        tmp.extend_from_slice(first);
        first.zeroize();
    }
    buf.drain(..total);
    wipe_spare_vec(buf);
    let mut codec = ldap3_proto::LdapCodec::new(Some(MAX_LDAP_MESSAGE), None);
    let res = codec.decode(&mut tmp);
    tmp.as_mut().zeroize();
    tmp.clear();
    for b in tmp.spare_capacity_mut() {
        b.write(0);
    }
    match res {
        Ok(Some(msg)) => Ok(Some(msg)),
        Ok(None) => Err("the BER structure is shorter than its declared length".to_owned()),
        Err(e) => Err(format!("malformed LDAP message ({e})")),
    }
}

/// Overwrites a vector's unused capacity with zeros (stale bytes left by `drain`/`truncate`).
pub(crate) fn wipe_spare_vec(v: &mut Vec<u8>) {
    for b in v.spare_capacity_mut() {
        b.write(0);
    }
}

/// Appends `data` to a secret buffer without leaving copies behind in freed memory: when the
/// buffer must grow, a new one is allocated and the old one is zeroed as it drops.
pub(crate) fn append_secret(buf: &mut zeroize::Zeroizing<Vec<u8>>, data: &[u8]) {
    if buf.capacity() - buf.len() < data.len() {
        let want = buf
            .len()
            .saturating_add(data.len())
            .max(buf.capacity().saturating_mul(2));
        let mut grown = zeroize::Zeroizing::new(Vec::with_capacity(want));
        grown.extend_from_slice(buf);
        grown.extend_from_slice(data);
        *buf = grown;
    } else {
        buf.extend_from_slice(data);
    }
}

/// Encodes one LDAP message.
pub fn encode_message(msg: LdapMsg) -> Result<BytesMut, LdapError> {
    use tokio_util::codec::Encoder;
    let mut codec = ldap3_proto::LdapCodec::new(Some(MAX_LDAP_MESSAGE), None);
    let mut out = BytesMut::new();
    codec
        .encode(msg, &mut out)
        .map_err(|e| LdapError::Encode(e.to_string()))?;
    Ok(out)
}

/// The RFC 4511 name of an LDAP result code, e.g. `operationsError`.
pub fn result_code_name(code: &LdapResultCode) -> &'static str {
    use LdapResultCode as C;
    match code {
        C::Success => "success",
        C::OperationsError => "operationsError",
        C::ProtocolError => "protocolError",
        C::TimeLimitExceeded => "timeLimitExceeded",
        C::SizeLimitExceeded => "sizeLimitExceeded",
        C::CompareFalse => "compareFalse",
        C::CompareTrue => "compareTrue",
        C::AuthMethodNotSupported => "authMethodNotSupported",
        C::StrongerAuthRequired => "strongerAuthRequired",
        C::Referral => "referral",
        C::AdminLimitExceeded => "adminLimitExceeded",
        C::UnavailableCriticalExtension => "unavailableCriticalExtension",
        C::ConfidentialityRequired => "confidentialityRequired",
        C::SaslBindInProgress => "saslBindInProgress",
        C::NoSuchAttribute => "noSuchAttribute",
        C::UndefinedAttributeType => "undefinedAttributeType",
        C::InappropriateMatching => "inappropriateMatching",
        C::ConstraintViolation => "constraintViolation",
        C::AttributeOrValueExists => "attributeOrValueExists",
        C::InvalidAttributeSyntax => "invalidAttributeSyntax",
        C::NoSuchObject => "noSuchObject",
        C::AliasProblem => "aliasProblem",
        C::InvalidDNSyntax => "invalidDNSyntax",
        C::AliasDereferencingProblem => "aliasDereferencingProblem",
        C::InappropriateAuthentication => "inappropriateAuthentication",
        C::InvalidCredentials => "invalidCredentials",
        C::InsufficentAccessRights => "insufficientAccessRights",
        C::Busy => "busy",
        C::Unavailable => "unavailable",
        C::UnwillingToPerform => "unwillingToPerform",
        C::LoopDetect => "loopDetect",
        C::NamingViolation => "namingViolation",
        C::ObjectClassViolation => "objectClassViolation",
        C::NotAllowedOnNonLeaf => "notAllowedOnNonLeaf",
        C::NotALlowedOnRDN => "notAllowedOnRDN",
        C::EntryAlreadyExists => "entryAlreadyExists",
        C::ObjectClassModsProhibited => "objectClassModsProhibited",
        C::AffectsMultipleDSAs => "affectsMultipleDSAs",
        C::Other => "other",
        _ => "an LDAP error",
    }
}
