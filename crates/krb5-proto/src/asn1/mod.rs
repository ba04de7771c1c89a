//! RFC 4120 ASN.1 messages (stub: to be filled by the ASN.1 work).

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
}
