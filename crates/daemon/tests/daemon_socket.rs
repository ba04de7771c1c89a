//! Socket activation (issue 10): the ECS agent reaches the daemon through a bind mount of the
//! socket FILE, so the socket's inode must outlive daemon restarts.
//!
//! A holder in the test does what systemd does for `credentials-fetcherd.socket`: it binds the
//! socket once and passes it as fd 3 (`LISTEN_FDS=1`, `LISTEN_PID`) to each new daemon process.
//! The client (`gmsa lease`) runs in a mount namespace where the socket file is bind-mounted
//! onto another path, the path it uses, as ecs-init does for the agent's container. The daemon
//! runs with synthetic tickets (`CF_TEST_FAKE_TICKETS=1`): the subject is the socket.
//! `systemd-socket-activate` (Debian's `systemd` package) covers a start by systemd's own code.

use std::io::{BufRead as _, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Daemon, healthy};

const DAEMON: &str = env!("CARGO_BIN_EXE_credentials-fetcherd");
const GMSA: &str = env!("CARGO_BIN_EXE_gmsa");

/// The daemon's environment for the tests: private krbdir, synthetic tickets, nothing inherited
/// from the host's configuration.
fn daemon_env(cmd: &mut Command, socket: &Path, krbdir: &Path) {
    cmd.env("CF_KRB_DIR", krbdir)
        .env(
            "CREDENTIALS_FETCHER_HOST",
            format!("unix://{}", socket.display()),
        )
        .env("CF_TEST_FAKE_TICKETS", "1")
        .env("RUST_LOG", "info")
        .env_remove("CF_TEST_RENEW_SECS")
        .env_remove("DOMAIN_CONTROLLER_GMSA")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES");
}

/// What systemd does for a socket unit: binds once (mode 0660), keeps the socket, and hands it
/// to each daemon process as fd 3.
struct Holder {
    listener: UnixListener,
    path: PathBuf,
    krbdir: PathBuf,
}

impl Holder {
    fn bind(path: &Path, krbdir: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let listener = UnixListener::bind(path).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).unwrap();
        Self {
            listener,
            path: path.to_path_buf(),
            krbdir: krbdir.to_path_buf(),
        }
    }

    /// Starts a daemon with the held socket: the socket goes in as stdin (a dup, not close-on-exec),
    /// `sh` moves it to fd 3 and execs the daemon with `LISTEN_PID` = its own pid.
    fn start(&self) -> Child {
        let fd: OwnedFd = self.listener.try_clone().unwrap().into();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(
                r#"exec 3<&0 0</dev/null
LISTEN_FDS=1 LISTEN_PID=$$ LISTEN_FDNAMES=credentials-fetcherd.socket exec "$0" --socket-group none"#,
            )
            .arg(DAEMON)
            .stdin(Stdio::from(fd))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        daemon_env(&mut cmd, &self.path, &self.krbdir);
        cmd.spawn().expect("start the daemon through sh")
    }

    fn inode(&self) -> u64 {
        std::fs::metadata(&self.path)
            .expect("the socket file is still there")
            .ino()
    }
}

/// A mount namespace where the daemon's socket file is bind-mounted onto `path`, kept alive by a
/// sleeping process; `gmsa lease` runs inside it with `--socket path`.
struct NsClient {
    child: Child,
    path: PathBuf,
}

impl NsClient {
    fn new(socket: &Path, path: &Path) -> Self {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
        let mut child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(r#"mount --bind "$0" "$1" && echo ready && exec sleep 600"#)
            .arg(socket)
            .arg(path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare (util-linux) runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "mount --bind in a mount namespace (needs root)"
        );
        Self {
            child,
            path: path.to_path_buf(),
        }
    }

    /// `gmsa lease ARGS --socket <path>` inside the namespace.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args([
            "-t",
            &self.child.id().to_string(),
            "-m",
            "--",
            GMSA,
            "lease",
        ])
        .args(args)
        .arg("--socket")
        .arg(&self.path)
        .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

impl Drop for NsClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(out: &Output, what: &str) -> String {
    common::ok(out, what)
}

fn stop(child: &mut Child, kill: bool) {
    if kill {
        child.kill().unwrap();
    } else {
        let st = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let st = child.wait().unwrap();
    if !kill {
        assert!(st.success(), "the daemon stops cleanly on SIGTERM: {st:?}");
    }
}

fn wait_output(mut child: Child, limit: Duration) -> Output {
    let t = Instant::now();
    while t.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("the client did not finish within {limit:?}");
}

/// The lease id from `gmsa lease add` output ("lease <id>" then the paths).
fn added_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("lease "))
        .unwrap_or_else(|| panic!("no lease id in {out:?}"))
        .trim()
        .to_string()
}

#[test]
fn bind_mounted_client_survives_five_restarts_with_socket_activation() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("socket/credentials_fetcher.sock");
    let krbdir = dir.path().join("krbdir");
    let holder = Holder::bind(&socket, &krbdir);
    let inode = holder.inode();
    let ns = NsClient::new(&socket, &dir.path().join("agent/credentials_fetcher.sock"));
    let spec = dir.path().join("WebApp01.json");
    std::fs::write(
        &spec,
        common::credspec("WebApp01", "example.test", "EXAMPLE"),
    )
    .unwrap();
    let spec = spec.to_str().unwrap();

    let mut daemon = holder.start();
    assert_eq!(ok(&ns.run(&["health"]), "health").trim(), "OK");
    // The adopted fd 3 is close-on-exec (O_CLOEXEC 02000000 in fdinfo's octal flags).
    let fdinfo = std::fs::read_to_string(format!("/proc/{}/fdinfo/3", daemon.id())).unwrap();
    let flags = fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
        .unwrap();
    assert_ne!(flags & 0o2000000, 0, "fd 3 not close-on-exec: {fdinfo}");
    let mut ids = vec![added_id(&ok(&ns.run(&["add", spec]), "lease add"))];
    for i in 0..5 {
        let kill = i == 2;
        stop(&mut daemon, kill);
        assert_eq!(
            holder.inode(),
            inode,
            "restart {i}: the daemon left the socket it did not create"
        );
        // A call made while no daemon runs: connected (the kernel queues it on the held
        // socket) and waiting, then served by the next daemon.
        let queued = ns
            .command(&["add", spec])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let health = ns
            .command(&["health"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        daemon = holder.start();
        let out = wait_output(queued, Duration::from_secs(30));
        ids.push(added_id(&ok(
            &out,
            "lease add made while the daemon was down",
        )));
        let out = wait_output(health, Duration::from_secs(30));
        assert_eq!(
            ok(&out, "health made while the daemon was down").trim(),
            "OK"
        );
        // And a fresh call after the restart (SIGKILL included).
        assert_eq!(
            ok(&ns.run(&["health"]), "health").trim(),
            "OK",
            "restart {i} (kill={kill})"
        );
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        common::dir_names(&krbdir),
        sorted,
        "every lease kept across restarts"
    );
    for id in &ids {
        let out = ok(&ns.run(&["delete", id]), "lease delete");
        assert!(out.contains(&format!("deleted lease {id}")), "{out}");
    }
    assert!(common::dir_names(&krbdir).is_empty());
    stop(&mut daemon, false);
    assert_eq!(holder.inode(), inode);
}

#[test]
fn systemd_socket_activate_starts_the_daemon_on_the_first_connection() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("sock/cf.sock");
    let krbdir = dir.path().join("krbdir");
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.arg("-l")
        .arg(&socket)
        .arg("--fdname=credentials-fetcherd.socket");
    // systemd-socket-activate passes only the variables named with -E.
    for (k, v) in [
        ("CF_KRB_DIR", krbdir.display().to_string()),
        (
            "CREDENTIALS_FETCHER_HOST",
            format!("unix://{}", socket.display()),
        ),
        ("CF_TEST_FAKE_TICKETS", "1".into()),
        ("RUST_LOG", "info".into()),
    ] {
        cmd.arg(format!("-E{k}={v}"));
    }
    cmd.arg(DAEMON)
        .args(["--socket-group", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = cmd.spawn().expect(
        "systemd-socket-activate (Debian package systemd; scripts/test.sh installs it) runs",
    );
    let mut d = Daemon {
        child,
        socket: socket.clone(),
        krbdir,
    };
    let t = Instant::now();
    while !socket.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no socket from systemd-socket-activate"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let inode = std::fs::metadata(&socket).unwrap().ino();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), healthy(&socket))
            .await
            .unwrap_or(false)
    }));
    let out = Command::new(GMSA)
        .args(["lease", "add", "--socket"])
        .arg(&socket)
        .arg({
            let p = dir.path().join("spec.json");
            std::fs::write(&p, common::credspec("WebApp01", "example.test", "EXAMPLE")).unwrap();
            p
        })
        .output()
        .unwrap();
    let id = added_id(&ok(&out, "lease add"));
    assert_eq!(d.leases(), vec![id]);
    drop(rt);
    stop(&mut d.child, false);
    assert_eq!(
        std::fs::metadata(&socket).map(|m| m.ino()).ok(),
        Some(inode),
        "the daemon did not unlink the activated socket"
    );
}

#[test]
fn without_activation_stale_socket_replaced_live_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("sock/cf.sock");
    let krbdir = dir.path().join("krbdir");
    let cmd = || {
        let mut c = Command::new(DAEMON);
        c.args(["--socket-group", "none"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        daemon_env(&mut c, &socket, &krbdir);
        c
    };
    let mut first = Daemon::spawn(cmd(), &socket);
    // A second daemon on a live socket is refused and leaves it alone.
    let out = cmd().stderr(Stdio::piped()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another daemon is listening"), "{err}");
    let ns = NsClient::new(&socket, &dir.path().join("agent/cf.sock"));
    assert_eq!(ok(&ns.run(&["health"]), "health").trim(), "OK");
    // SIGKILL leaves a stale socket file: the next daemon replaces it.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert!(socket.exists(), "a killed daemon leaves its socket file");
    let mut second = Daemon::spawn(cmd(), &socket);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(rt.block_on(healthy(&socket)));
    // Without activation the bind-mounted client has lost the daemon: the defect socket
    // activation removes (and a check that this test's namespace client sees it).
    let out = ns.run(&["health"]);
    assert!(
        !out.status.success(),
        "the old inode is dead after a re-bind"
    );
    // Its idle client connection closed first (graceful stop waits for open connections).
    drop(rt);
    // A daemon that bound the socket removes it when it stops.
    stop(&mut second.child, false);
    assert!(!socket.exists());
}
