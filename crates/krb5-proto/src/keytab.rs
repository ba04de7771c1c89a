//! MIT keytab v2 (stub: to be filled by the keytab work).

/// A keytab could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeytabError {
    /// Malformed keytab.
    #[error("malformed keytab: {0}")]
    Malformed(String),
}
