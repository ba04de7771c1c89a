//! The crate's error type.

use crate::asn1::Asn1Error;
use crate::config::ConfigError;
use crate::crypto::CryptoError;
use crate::keytab::KeytabError;
use crate::principal::PrincipalParseError;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the Kerberos engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message could not be decoded or encoded.
    #[error(transparent)]
    Asn1(#[from] Asn1Error),
    /// A cryptographic operation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A keytab could not be used.
    #[error(transparent)]
    Keytab(#[from] KeytabError),
    /// krb5.conf could not be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A principal name could not be parsed.
    #[error(transparent)]
    Principal(#[from] PrincipalParseError),
    /// The KDCs could not be reached.
    #[cfg(feature = "tokio")]
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
}
