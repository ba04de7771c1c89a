//! The crate's error type.

use std::path::PathBuf;

/// Why a credential cache could not be read, parsed, located or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CcacheError {
    /// The file (or its directory) could not be read or written.
    #[error("credential cache {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A field runs past the end of the data: the file is truncated or corrupt.
    #[error(
        "credential cache is truncated or corrupt: the {what} at byte offset {offset} runs past the end of the data"
    )]
    Truncated {
        /// Which field was being read.
        what: &'static str,
        /// Byte offset of the field in the input.
        offset: usize,
    },
    /// The file does not start with a supported MIT FILE format version.
    #[error(
        "unsupported credential cache format version 0x{0:04x}: only MIT FILE caches of version 0x0503 and 0x0504 \
         (big-endian, written by krb5 1.0 and later) are read; 0x0501/0x0502 are legacy native-byte-order \
         formats, recreate the cache with kinit"
    )]
    BadVersion(u16),
    /// A count or size exceeds a fixed limit of this implementation.
    #[error("credential cache {what} is too large: {len} exceeds the limit of {max}")]
    TooLarge {
        /// What was counted or measured.
        what: &'static str,
        /// The value found.
        len: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// The cache name designates a cache type other than FILE.
    #[error("{0}")]
    Unsupported(String),
    /// A field has a value the format does not allow.
    #[error("credential cache is corrupt: invalid {what} at byte offset {offset}: {reason}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// Byte offset of the field in the input.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A principal name string could not be parsed.
    #[error("cannot parse principal name {name:?}: {reason} (write it as name[/instance]@REALM)")]
    BadPrincipal {
        /// The string given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl CcacheError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
