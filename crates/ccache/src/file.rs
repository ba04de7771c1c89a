//! Files: bounded reads, atomic replacement, and cache name resolution.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroizing;

use crate::CcacheError;

/// Largest cache file [`crate::Ccache::read`] accepts (64 MiB).
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Reads a whole file, refusing more than `MAX_FILE_SIZE` bytes (also when the file grows
/// while being read). The buffer is wiped on drop since it holds session keys.
pub(crate) fn read_bounded(path: &Path) -> Result<Zeroizing<Vec<u8>>, CcacheError> {
    let file = File::open(path).map_err(|e| CcacheError::io(path, e))?;
    let len = file.metadata().map_err(|e| CcacheError::io(path, e))?.len();
    if len > MAX_FILE_SIZE {
        return Err(CcacheError::TooLarge {
            what: "file",
            len,
            max: MAX_FILE_SIZE,
        });
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(
        usize::try_from(len).unwrap_or(0).saturating_add(1),
    ));
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CcacheError::io(path, e))?;
    if buf.len() as u64 > MAX_FILE_SIZE {
        return Err(CcacheError::TooLarge {
            what: "file",
            len: buf.len() as u64,
            max: MAX_FILE_SIZE,
        });
    }
    Ok(buf)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes the temporary file unless disarmed.
struct TempGuard<'a> {
    path: &'a Path,
    armed: bool,
}

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(self.path);
        }
    }
}

/// Replaces `path` with `bytes` atomically: a new temporary file in the same directory
/// (created with `O_EXCL` and permissions `mode`, so it is never more open than asked),
/// written, fsynced, renamed over `path`, then the directory fsynced. On error the temporary
/// file is removed and `path` is left as it was.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CcacheError> {
    let mode = mode & 0o7777;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        CcacheError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path does not name a file",
            ),
        )
    })?;
    let pid = std::process::id();
    let (tmp, mut file) = {
        let mut attempt = 0;
        loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".tmp.{pid}.{n}"));
            let tmp = dir.join(tmp_name);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&tmp)
            {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => return Err(CcacheError::io(tmp, e)),
            }
        }
    };
    let mut guard = TempGuard {
        path: &tmp,
        armed: true,
    };
    // The umask may have narrowed the creation mode; set exactly what was asked (this never
    // widens beyond `mode`).
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(|e| CcacheError::io(&tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| CcacheError::io(&tmp, e))?;
    file.sync_all().map_err(|e| CcacheError::io(&tmp, e))?;
    drop(file);
    fs::rename(&tmp, path).map_err(|e| CcacheError::io(path, e))?;
    guard.armed = false;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CcacheError::io(dir, e))?;
    Ok(())
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
