//! Files: bounded reads, atomic replacement, and cache name resolution.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::CcacheError;

/// Largest cache file [`crate::Ccache::read`] accepts (64 MiB).
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Reads a whole file, refusing more than `MAX_FILE_SIZE` bytes (also when the file grows
/// while being read). The buffer is wiped on drop since it holds session keys.
pub(crate) fn read_bounded(path: &Path) -> Result<Zeroizing<Vec<u8>>, CcacheError> {
    atomic_replace::read_bounded(path, MAX_FILE_SIZE).map_err(|e| match e {
        atomic_replace::ReadError::Io { path, source } => CcacheError::Io { path, source },
        atomic_replace::ReadError::TooLarge { len, max, .. } => CcacheError::TooLarge {
            what: "file",
            len,
            max,
        },
    })
}

/// Replaces `path` with `bytes` atomically as `how` says (see [`atomic_replace`]: a new file in
/// the same directory created with `O_EXCL`, exactly the mode and group asked, optionally
/// fsynced, renamed over `path`). On error `path` is left as it was.
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    how: &atomic_replace::Replace,
) -> Result<(), CcacheError> {
    how.write(path, bytes)
        .map_err(|e| CcacheError::io(e.path, e.source))
}

/// Cache types MIT knows besides FILE, named in the error for a clear message.
const OTHER_TYPES: &[&str] = &["DIR", "KEYRING", "KCM", "MEMORY", "API", "MSLSA"];

/// Resolves one cache name: `FILE:/path`, `/path` (or a relative path without a type prefix).
pub(crate) fn resolve_name(name: &OsStr) -> Result<PathBuf, CcacheError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(CcacheError::Unsupported(
            "empty credential cache name".into(),
        ));
    }
    if bytes.starts_with(b"/") {
        return Ok(PathBuf::from(name));
    }
    let Some(colon) = bytes.iter().position(|&b| b == b':') else {
        return Ok(PathBuf::from(name));
    };
    let (kind, rest) = (&bytes[..colon], &bytes[colon + 1..]);
    if kind.eq_ignore_ascii_case(b"FILE") {
        if rest.is_empty() {
            return Err(CcacheError::Unsupported(
                "credential cache name \"FILE:\" has no path".into(),
            ));
        }
        return Ok(PathBuf::from(OsStr::from_bytes(rest)));
    }
    let kind = String::from_utf8_lossy(kind);
    let known = OTHER_TYPES.iter().any(|t| t.eq_ignore_ascii_case(&kind));
    Err(CcacheError::Unsupported(format!(
        "credential cache type {kind}: is {} not supported: only FILE caches can be used \
         (set KRB5CCNAME=FILE:/path/to/cache)",
        if known { "known but" } else { "unknown and" }
    )))
}

/// The MIT default cache path `/tmp/krb5cc_<uid>`, the uid read from the owner of `/proc/self`.
pub(crate) fn default_path() -> Result<PathBuf, CcacheError> {
    let uid = fs::metadata("/proc/self")
        .map_err(|e| CcacheError::io("/proc/self", e))?
        .uid();
    Ok(PathBuf::from(format!("/tmp/krb5cc_{uid}")))
}
