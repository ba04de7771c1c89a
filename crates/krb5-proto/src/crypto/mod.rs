//! Kerberos crypto profiles (stub: to be filled by the crypto work).

/// A cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The integrity check of a decrypted message failed (wrong key or corrupted data).
    #[error("integrity check failed (KRB_AP_ERR_BAD_INTEGRITY): wrong key or corrupted message")]
    BadIntegrity,
}
