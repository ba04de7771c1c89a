//! Replaces a file atomically, the way credential caches, keytabs and lease metadata must be
//! written: a reader of the path sees the old file or the new one, never a partial one, and the
//! new file is never, even for an instant, more open than asked.
//!
//! The bytes go to a new temporary file `.<name>.tmp.<pid>.<n>` in the same directory, created
//! with `O_EXCL` and exactly the requested mode (whatever the umask), given its group before it
//! gets its name, written, optionally fsynced, renamed over the path, and the directory
//! optionally fsynced. On error the temporary file is removed and the path is left as it was.
//!
//! The other way, [`read_bounded`] reads such a file whole into a wiped-on-drop buffer, refusing
//! more than a bound (credential caches and keytabs both read through it).
//!
//! ```
//! use atomic_replace::{Durability, Replace};
//! # fn main() -> Result<(), atomic_replace::ReplaceError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("krb5cc");
//! Replace::new(0o600).write(&path, b"first")?; // fsynced (the default)
//! Replace::new(0o600)
//!     .durability(Durability::PageCache) // survives a crash of the process, not a power loss
//!     .write(&path, b"second")?;
//! assert_eq!(std::fs::read(&path).unwrap(), b"second");
//! # Ok(())
//! # }
//! ```

mod read;
pub use read::{ReadError, read_bounded};

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether a write waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `fsync` the file before the rename and the directory after it: the new contents survive
    /// a power loss once `write` returns.
    #[default]
    Fsync,
    /// Rename only: the new contents survive the writer being killed (the page cache outlives
    /// the process) but may be lost with a power loss. For files that can be rebuilt.
    PageCache,
}

/// A failed step of [`Replace::write`].
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
#[non_exhaustive]
pub struct ReplaceError {
    /// What was being done: "creating", "writing", "renaming to", ...
    pub op: &'static str,
    /// The file or directory concerned.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

/// How to replace a file: mode, group, durability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replace {
    mode: u32,
    gid: Option<u32>,
    durability: Durability,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Attempts at a free temporary name before giving up.
const MAX_ATTEMPTS: u32 = 100;

impl Replace {
    /// A file with permission bits `mode` (`& 0o7777`), the writer's group, fsynced.
    pub fn new(mode: u32) -> Self {
        Self {
            mode: mode & 0o7777,
            gid: None,
            durability: Durability::Fsync,
        }
    }

    /// Gives the new file group `gid` (`None`: the writer's) before it becomes visible.
    pub fn group(mut self, gid: Option<u32>) -> Self {
        self.gid = gid;
        self
    }

    /// Sets the durability.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Replaces `path` with `bytes`.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), ReplaceError> {
        let err = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| ReplaceError { op, path, source }
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path.file_name().ok_or_else(|| {
            err("replacing", path)(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path does not name a file",
            ))
        })?;
        let pid = std::process::id();
        let mut attempt = 0;
        let (tmp, mut file) = loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".tmp.{pid}.{n}"));
            let tmp = dir.join(tmp_name);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(self.mode)
                .open(&tmp)
            {
                Ok(f) => break (tmp, f),
                Err(e)
                    if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < MAX_ATTEMPTS =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(err("creating", &tmp)(e)),
            }
        };
        let done = (|| {
            // The umask may have narrowed the creation mode: set exactly what was asked (never
            // wider than `mode`).
            file.set_permissions(Permissions::from_mode(self.mode))
                .map_err(err("setting the mode of", &tmp))?;
            if let Some(gid) = self.gid {
                std::os::unix::fs::fchown(&file, None, Some(gid))
                    .map_err(err("changing the group of", &tmp))?;
            }
            file.write_all(bytes).map_err(err("writing", &tmp))?;
            if self.durability == Durability::Fsync {
                file.sync_all().map_err(err("syncing", &tmp))?;
            }
            std::fs::rename(&tmp, path).map_err(err("renaming to", path))
        })();
        drop(file);
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if self.durability == Durability::Fsync {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(err("syncing", dir))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect()
    }

    #[test]
    fn exact_mode_whatever_the_umask_and_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        for (mode, d) in [
            (0o600, Durability::Fsync),
            (0o640, Durability::PageCache),
            (0o644, Durability::Fsync),
            (0o400, Durability::PageCache),
        ] {
            Replace::new(mode)
                .durability(d)
                .write(&path, format!("{mode:o}").as_bytes())
                .unwrap();
            let m = std::fs::metadata(&path).unwrap();
            assert_eq!(m.mode() & 0o7777, mode);
            assert_eq!(
                std::fs::read(&path).unwrap(),
                format!("{mode:o}").as_bytes()
            );
        }
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn group_is_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let gid = std::fs::metadata(dir.path()).unwrap().gid();
        Replace::new(0o640)
            .group(Some(gid))
            .write(&path, b"x")
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().gid(), gid);
    }

    #[test]
    fn failed_rename_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in the way: the rename fails.
        let path = dir.path().join("d");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"old").unwrap();
        let e = Replace::new(0o600).write(&path, b"new").unwrap_err();
        assert_eq!(e.op, "renaming to");
        assert!(e.to_string().contains("renaming to"));
        assert_eq!(std::fs::read(path.join("inside")).unwrap(), b"old");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn missing_directory_and_no_file_name_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = Replace::new(0o600)
            .write(&dir.path().join("no/such/f"), b"x")
            .unwrap_err();
        assert_eq!(e.op, "creating");
        let e = Replace::new(0o600).write(Path::new("/"), b"x").unwrap_err();
        assert_eq!(e.op, "replacing");
    }
}
