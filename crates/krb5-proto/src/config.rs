//! krb5.conf (stub: to be filled by the config work).

/// krb5.conf could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Malformed file.
    #[error("malformed krb5.conf: {0}")]
    Malformed(String),
}
