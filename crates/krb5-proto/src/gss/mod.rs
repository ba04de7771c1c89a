//! The Kerberos V5 GSS-API mechanism (RFC 4121), sans-IO.
//!
//! * [`SecurityContext`]: an established context's per-message protection — Wrap tokens
//!   (`05 04`, sealed or integrity-only) and MIC tokens (`04 04`), with strict sequence checking.
//!   It accepts any right-rotation count (RRC) on input, which Active Directory needs (it sends
//!   RRC 28 on sealed and RRC 12 on integrity-only tokens).
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

mod wrap;

pub use wrap::{
    FLAG_ACCEPTOR_SUBKEY, FLAG_SEALED, FLAG_SENT_BY_ACCEPTOR, KG_USAGE_ACCEPTOR_SEAL,
    KG_USAGE_ACCEPTOR_SIGN, KG_USAGE_INITIATOR_SEAL, KG_USAGE_INITIATOR_SIGN, SecurityContext,
    Unwrapped,
};

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
    /// RFC 4121 tokens are not defined for this enctype (RC4-HMAC uses RFC 4757 tokens).
    #[error(
        "RFC 4121 per-message tokens are not supported with {0}; request AES session keys from the KDC"
    )]
    UnsupportedEnctype(&'static str),
}
