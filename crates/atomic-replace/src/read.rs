//! The other half of a file holding secrets: reading it whole, with a bound.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Why [`read_bounded`] failed.
///
/// Not `#[non_exhaustive]`: callers map both cases to their own errors exhaustively.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than the bound (also when it grew while being read).
    #[error("{} is {len} bytes, more than the {max} accepted", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (at least).
        len: u64,
        /// The bound.
        max: u64,
    },
}

/// Reads a whole file of at most `max` bytes (also when it grows while being read) into a
/// buffer sized once up front and wiped on drop, as credential caches and keytabs need: they
/// hold keys, and their size comes from whoever wrote the file.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("keytab");
/// std::fs::write(&path, b"\x05\x02").unwrap();
/// assert_eq!(&atomic_replace::read_bounded(&path, 2)?[..], b"\x05\x02");
/// assert!(atomic_replace::read_bounded(&path, 1).is_err());
/// # Ok::<(), atomic_replace::ReadError>(())
/// ```
pub fn read_bounded(path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let too_large = |len| ReadError::TooLarge {
        path: path.to_owned(),
        len,
        max,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > max {
        return Err(too_large(len));
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(
        usize::try_from(len).unwrap_or(0).saturating_add(1),
    ));
    file.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > max {
        return Err(too_large(buf.len() as u64));
    }
    Ok(buf)
}
