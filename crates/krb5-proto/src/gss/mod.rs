//! The Kerberos V5 GSS-API mechanism (RFC 4121), sans-IO.
//!
//! * [`InitiatorContext`] → [`AwaitingApRep`] → [`SecurityContext`]: context establishment
//!   with a service ticket (initial token `60 … 06 09 <krb5 OID> 01 00 <AP-REQ>` with the 0x8003
//!   checksum; the acceptor's AP-REP or KRB-ERROR reply).
//! * [`SecurityContext`]: an established context's per-message protection — Wrap tokens
//!   (`05 04`, sealed or integrity-only) and MIC tokens (`04 04`), with strict sequence checking.
//!   It accepts any right-rotation count (RRC) on input, which Active Directory needs (it sends
//!   RRC 28 on sealed and RRC 12 on integrity-only tokens).
//!
//! Checks of an incoming Wrap or MIC token (each refused with a named [`GssError`], tested in
//! `tests/gss_wrap.rs`; the classes of CVE-2024-37370/37371, CVE-2022-45142, CVE-2025-57736):
//! shorter than the header → `TokenTooShort`; wrong TOK_ID → `BadTokenId`; filler → `BadFiller`;
//! our own direction → `WrongDirection`; AcceptorSubkey flag not the context's →
//! `AcceptorSubkeyMismatch`; Sealed flag clear when confidentiality is required →
//! `NotSealed`; RRC larger than the token → `BadRotation`; a sealed body shorter than
//! confounder + header copy + checksum + EC → `TokenTooShort`; integrity-only EC not the
//! checksum length → `BadExtraCount`; checksum or decryption failure (constant-time compare) →
//! `Crypto`; encrypted header copy (EC, flags, sequence number) not the outer header
//! (constant-time compare) → `HeaderMismatch`; sequence number not exactly the next →
//! `BadSequence`. A refused token leaves the context as it was.
//!
//! Key usages (RFC 4121 §2): Wrap tokens, sealed or not, use 24 (KG-USAGE-INITIATOR-SEAL) from
//! the initiator and 22 (KG-USAGE-ACCEPTOR-SEAL) from the acceptor; MIC tokens use 25/23
//! (…-SIGN).
//!
//! ```
//! use krb5_proto::crypto::{EncType, Key};
//! use krb5_proto::gss::SecurityContext;
//! use krb5_proto::rand::TestRng;
//!
//! let mut rng = TestRng::new(1);
//! let key = Key::random(EncType::Aes256CtsHmacSha196, &mut rng);
//! // Sequence numbers come from the AP exchange: ours from the authenticator, the peer's
//! // from the AP-REP.
//! let mut client = SecurityContext::new_initiator(key.clone(), true, 100, 200);
//! let mut server = SecurityContext::new_acceptor(key, true, 200, 100);
//!
//! let token = client.wrap(b"bind request", true, &mut rng)?;
//! let got = server.unwrap(&token)?;
//! assert_eq!(got.data.as_slice(), b"bind request");
//! assert!(got.confidential);
//! assert!(server.unwrap(&token).is_err()); // a replay is refused
//! # Ok::<(), krb5_proto::gss::GssError>(())
//! ```

mod initiator;
mod wrap;

pub use initiator::{
    AwaitingApRep, ContextToken, GSS_C_CONF_FLAG, GSS_C_DELEG_FLAG, GSS_C_INTEG_FLAG,
    GSS_C_MUTUAL_FLAG, GSS_C_REPLAY_FLAG, GSS_C_SEQUENCE_FLAG, InitiatorConfig, InitiatorContext,
    KRB5_MECH_OID, MS_KRB5_MECH_OID, MechOid, TOK_AP_REP, TOK_AP_REQ, TOK_KRB_ERROR,
    frame_context_token, gss_checksum, parse_context_token,
};
pub use wrap::{
    FLAG_ACCEPTOR_SUBKEY, FLAG_SEALED, FLAG_SENT_BY_ACCEPTOR, KG_USAGE_ACCEPTOR_SEAL,
    KG_USAGE_ACCEPTOR_SIGN, KG_USAGE_INITIATOR_SEAL, KG_USAGE_INITIATOR_SIGN, SecurityContext,
    Unwrapped,
};

use crate::asn1::Asn1Error;
use crate::crypto::CryptoError;

/// A GSS-API token could not be produced or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GssError {
    /// The token is shorter than its fixed parts.
    #[error("GSS token of {len} bytes is too short: at least {min} bytes are needed")]
    TokenTooShort {
        /// Length received.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// The two-byte token identifier is not the expected one.
    #[error(
        "GSS token id {got:02x?} is not {expected:02x?}: this is not the kind of token expected here"
    )]
    BadTokenId {
        /// The expected identifier.
        expected: [u8; 2],
        /// What was received.
        got: [u8; 2],
    },
    /// A filler byte that must be 0xFF is not.
    #[error("GSS token filler byte is {0:#04x}, not 0xff: the token is malformed")]
    BadFiller(u8),
    /// The SentByAcceptor flag says the token came from our own side of the context.
    #[error(
        "GSS token direction is wrong: it claims to be sent by the {claimed}, which is our own role \
         (reflected or misrouted token)"
    )]
    WrongDirection {
        /// "initiator" or "acceptor", as the token's flags claim.
        claimed: &'static str,
    },
    /// The AcceptorSubkey flag disagrees with the key the context was established with.
    #[error(
        "GSS token AcceptorSubkey flag is {flag} but the context {ctx} an acceptor subkey: \
         the peer protects messages with a different key"
    )]
    AcceptorSubkeyMismatch {
        /// The flag on the token.
        flag: bool,
        /// "has" or "has no".
        ctx: &'static str,
    },
    /// An integrity-only Wrap token whose EC is not the checksum length.
    #[error(
        "integrity-only Wrap token has EC {ec}, but the {etype} checksum is {expected} bytes long"
    )]
    BadExtraCount {
        /// EC received.
        ec: u16,
        /// The checksum length of the context's enctype.
        expected: usize,
        /// The enctype name.
        etype: &'static str,
    },
    /// The right-rotation count is larger than the whole token (RFC 4121 §4.2.5): no sender
    /// rotates by more than the token it sends; a forged length field is refused before any
    /// rotation. (A rotation larger than the body alone is taken modulo the body length, as
    /// MIT and Heimdal do: senders such as ours with RRC 28 rotate short integrity-only bodies.)
    #[error(
        "GSS Wrap token RRC {rrc} is larger than the {token_len}-byte token: the token is malformed"
    )]
    BadRotation {
        /// RRC received (plus EC for the DCE-style layout).
        rrc: usize,
        /// The token length, header included.
        token_len: usize,
    },
    /// Confidentiality was negotiated but the token is integrity-only (Sealed flag clear): a
    /// downgrade, refused before the token is checked or the sequence number used.
    #[error(
        "GSS Wrap token is not sealed although confidentiality was negotiated (Sealed flag clear): \
         downgrade refused"
    )]
    NotSealed,
    /// The header copy inside a sealed token does not match the outer header.
    #[error("sealed Wrap token's encrypted header does not match its outer header: token modified")]
    HeaderMismatch,
    /// The sequence number is not the next one expected.
    #[error(
        "GSS token sequence number {got} is not the expected {expected}: \
         replayed, reordered or lost message"
    )]
    BadSequence {
        /// The next sequence number expected from the peer.
        expected: u64,
        /// The number on the token.
        got: u64,
    },
    /// Decryption or checksum verification failed (wrong key, wrong usage or modified token).
    #[error("GSS token protection check failed: {0}")]
    Crypto(#[from] CryptoError),
    /// A context token's framing (RFC 2743 §3.1) is wrong.
    #[error("GSS context token is malformed: {what}")]
    BadContextToken {
        /// What is wrong.
        what: &'static str,
    },
    /// The acceptor answered the initial token with a KRB-ERROR.
    #[error("the acceptor refused the context with {name} ({code}): {hint}{}", e_text.as_deref().map(|t| format!(" [server says: {t}]")).unwrap_or_default())]
    KrbError {
        /// The Kerberos error code.
        code: i32,
        /// Its RFC 4120 name, e.g. `KRB_AP_ERR_SKEW`.
        name: &'static str,
        /// A one-line hint for a person.
        hint: &'static str,
        /// The server's e-text, if any.
        e_text: Option<String>,
    },
    /// A Kerberos message in a context token could not be decoded.
    #[error(transparent)]
    Asn1(#[from] Asn1Error),
    /// The AP exchange failed (e.g. the AP-REP does not echo our authenticator: mutual
    /// authentication failed).
    #[error("AP exchange failed: {0}")]
    ApExchange(String),
    /// The acceptor's subkey has an enctype we do not implement.
    #[error("the AP-REP subkey has unsupported enctype {0}")]
    UnsupportedSubkeyEnctype(i32),
    /// RFC 4121 tokens are not defined for this enctype (RC4-HMAC uses RFC 4757 tokens).
    #[error(
        "RFC 4121 per-message tokens are not supported with {0}; request AES session keys from the KDC"
    )]
    UnsupportedEnctype(&'static str),
}

impl GssError {
    /// Keeps the structured crypto and ASN.1 errors of the AP layer, describes the rest.
    pub(crate) fn from_krb(e: crate::Error) -> Self {
        match e {
            crate::Error::Asn1(a) => GssError::Asn1(a),
            crate::Error::Crypto(c) => GssError::Crypto(c),
            other => GssError::ApExchange(other.to_string()),
        }
    }
}
