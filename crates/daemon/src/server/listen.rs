//! Where the daemon listens: a socket handed over by systemd (socket activation) or one it binds
//! itself.
//!
//! With socket activation (`credentials-fetcherd.socket`), systemd binds
//! `/var/credentials-fetcher/socket/credentials_fetcher.sock` once and passes the listening socket
//! to every new daemon process as fd 3 (`LISTEN_FDS=1`, `LISTEN_PID=<pid>`). The socket's inode
//! then outlives restarts, upgrades and crashes of the daemon: a client that reaches it through a
//! bind mount of the socket file (the ECS agent's container) keeps working, and connections made
//! while no daemon runs wait in the kernel's backlog until the next one accepts them. The daemon
//! never unlinks a socket it did not create.
//!
//! Without activation the daemon binds the path itself (a stale socket is replaced, a live one is
//! refused) and removes it when it stops.

use super::ServerError;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};

/// Environment of the systemd socket-activation protocol (`sd_listen_fds(3)`).
const LISTEN_FDS: &str = "LISTEN_FDS";
const LISTEN_PID: &str = "LISTEN_PID";
const LISTEN_FDNAMES: &str = "LISTEN_FDNAMES";

/// The listening socket the daemon serves.
#[derive(Debug)]
pub enum Listener {
    /// Passed by systemd (or another holder): never unlinked by the daemon.
    Activated {
        /// The socket.
        listener: StdUnixListener,
        /// Its path, when it has one.
        path: Option<PathBuf>,
    },
    /// Bound by the daemon at `path`: removed when the daemon stops.
    Bound {
        /// The socket.
        listener: StdUnixListener,
        /// Its path.
        path: PathBuf,
    },
}

impl Listener {
    /// The socket's path, when it has one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Activated { path, .. } => path.as_deref(),
            Self::Bound { path, .. } => Some(path),
        }
    }

    /// Whether the socket came from socket activation.
    pub fn is_activated(&self) -> bool {
        matches!(self, Self::Activated { .. })
    }

    /// The socket for tokio (made non-blocking).
    pub fn into_tokio(self) -> std::io::Result<(tokio::net::UnixListener, Option<PathBuf>)> {
        let (listener, created) = match self {
            Self::Activated { listener, .. } => (listener, None),
            Self::Bound { listener, path } => (listener, Some(path)),
        };
        listener.set_nonblocking(true)?;
        Ok((tokio::net::UnixListener::from_std(listener)?, created))
    }
}

/// The first listening Unix stream socket passed by socket activation, or `None` when the
/// process was not socket-activated (`LISTEN_FDS` unset, or `LISTEN_PID` unset or another
/// process's id, as `sd_listen_fds(3)` requires).
///
/// The descriptor is checked to be an `AF_UNIX` `SOCK_STREAM` socket and marked close-on-exec;
/// `LISTEN_FDS` and `LISTEN_PID` are removed from the environment so no child inherits them
/// (done by the `listenfd` crate, which owns the `unsafe` fd adoption this workspace forbids).
/// Call it before any other thread runs (it changes the environment), i.e. before the async
/// runtime starts. `LISTEN_FDNAMES`, when set, only serves the log.
pub fn take_activated() -> Result<Option<StdUnixListener>, ServerError> {
    let env = |k| std::env::var(k).ok();
    let Some(count) = activation_count(
        env(LISTEN_FDS).as_deref(),
        env(LISTEN_PID).as_deref(),
        std::process::id(),
    )?
    else {
        return Ok(None);
    };
    let names = env(LISTEN_FDNAMES).unwrap_or_default();
    let err = |cause: String| ServerError::Socket {
        path: format!("fd 3..{} from socket activation", 3 + count),
        cause,
    };
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() != count {
        return Err(err(format!(
            "LISTEN_FDS={count} but {} descriptors were taken",
            fds.len()
        )));
    }
    let mut errors = Vec::new();
    for i in 0..count {
        match fds.take_unix_listener(i) {
            Ok(Some(l)) => {
                let name = names.split(':').nth(i).unwrap_or("");
                tracing::info!(
                    fd = 3 + i,
                    name,
                    "socket activation: using this listening socket"
                );
                if count > 1 {
                    tracing::warn!(
                        passed = count,
                        "socket activation passed more than one socket; the others are not used"
                    );
                }
                return Ok(Some(l));
            }
            Ok(None) => errors.push(format!("fd {}: already taken", 3 + i)),
            Err(e) => errors.push(e.to_string()),
        }
    }
    Err(err(format!(
        "no Unix stream socket among them ({})",
        errors.join("; ")
    )))
}

/// `Some(n)` when `LISTEN_FDS=n` (n >= 1) is meant for the process `pid`.
fn activation_count(
    fds: Option<&str>,
    pid: Option<&str>,
    own: u32,
) -> Result<Option<usize>, ServerError> {
    let (Some(fds), Some(pid)) = (fds, pid) else {
        return Ok(None);
    };
    if pid.trim().parse::<u32>().ok() != Some(own) {
        return Ok(None);
    }
    match fds.trim().parse::<usize>() {
        Ok(0) => Ok(None),
        Ok(n) if n <= 64 => Ok(Some(n)),
        _ => Err(ServerError::Socket {
            path: "socket activation".into(),
            cause: format!("LISTEN_FDS={fds:?} is not a small number"),
        }),
    }
}

/// The socket to serve: `activated` when given (its path is only logged, and compared with
/// `path`), else `path` bound by the daemon ([`bind`]).
pub fn listener(
    activated: Option<StdUnixListener>,
    path: &Path,
    gid: Option<u32>,
) -> Result<Listener, ServerError> {
    match activated {
        Some(listener) => {
            let own = listener
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(Path::to_path_buf));
            match &own {
                Some(p) if p != path => tracing::warn!(
                    activated = %p.display(),
                    configured = %path.display(),
                    "the activated socket is not the configured path; serving the activated one"
                ),
                Some(_) => {}
                None => tracing::warn!("the activated socket has no path"),
            }
            Ok(Listener::Activated {
                listener,
                path: own,
            })
        }
        None => Ok(Listener::Bound {
            listener: bind(path, gid)?,
            path: path.to_path_buf(),
        }),
    }
}

/// Binds the socket: parent directory created, a stale socket replaced (a live one is an error),
/// mode 0660, group `gid`.
pub fn bind(path: &Path, gid: Option<u32>) -> Result<StdUnixListener, ServerError> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let err = |cause: String| ServerError::Socket {
        path: path.display().to_string(),
        cause,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err(format!("creating its directory: {e}")))?;
    }
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(err("exists and is not a socket".into()));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(err("another daemon is listening on it".into()));
        }
        std::fs::remove_file(path).map_err(|e| err(format!("removing the stale socket: {e}")))?;
    }
    let listener = StdUnixListener::bind(path).map_err(|e| err(e.to_string()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| err(format!("chmod: {e}")))?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid))
            .map_err(|e| err(format!("chgrp {gid}: {e}")))?;
    }
    Ok(listener)
}

/// Raises the soft limit on open files (RLIMIT_NOFILE) to the hard limit, as Go programs and
/// many daemons do, so that a burst of connections (each one descriptor until it is served or
/// closed by [`super::preface`]'s time limits) does not run the daemon out of descriptors at
/// systemd's default soft limit of 1024: out of descriptors, the accept loop can take no
/// connection, not even the agent's, until some close. Returns the (old, new) soft limit when
/// it changed.
pub fn raise_fd_limit() -> Option<(u64, u64)> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    let old = l.current?;
    // The hard limit, or for "unlimited" a bound the kernel accepts (fs.nr_open's default).
    let new = l.maximum.unwrap_or(1 << 20);
    if new <= old {
        return None;
    }
    l.current = Some(new);
    setrlimit(Resource::Nofile, l).ok()?;
    Some((old, new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_is_for_this_process_only() {
        assert_eq!(activation_count(None, None, 7).unwrap(), None);
        assert_eq!(activation_count(Some("1"), None, 7).unwrap(), None);
        assert_eq!(activation_count(Some("1"), Some("8"), 7).unwrap(), None);
        assert_eq!(activation_count(Some("1"), Some("x"), 7).unwrap(), None);
        assert_eq!(activation_count(Some("0"), Some("7"), 7).unwrap(), None);
        assert_eq!(activation_count(Some("1"), Some("7"), 7).unwrap(), Some(1));
        assert_eq!(activation_count(Some("2"), Some("7"), 7).unwrap(), Some(2));
        assert!(activation_count(Some("-1"), Some("7"), 7).is_err());
        assert!(activation_count(Some("99999"), Some("7"), 7).is_err());
    }

    #[test]
    fn bind_replaces_stale_and_refuses_live() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s/cf.sock");
        let live = bind(&p, None).unwrap();
        assert!(matches!(bind(&p, None), Err(ServerError::Socket { .. })));
        drop(live);
        // The file stays (stale): replaced.
        assert!(p.exists());
        let _again = bind(&p, None).unwrap();
        let f = dir.path().join("file");
        std::fs::write(&f, b"x").unwrap();
        assert!(bind(&f, None).is_err());
        assert_eq!(std::fs::read(&f).unwrap(), b"x");
    }
}
