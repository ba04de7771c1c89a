//! Shared by the daemon crate's integration tests: the real peers' descriptions (testenv.json
//! written by `testenv/mit-kdc.sh start` and `testenv/samba-dc.sh start`), running `gmsa` and
//! MIT's tools, starting `credentials-fetcherd` on a private socket, and output checks.
//!
//! A missing peer fails the test with the command that starts it: tests never skip.
#![allow(dead_code)] // each test file uses a different part

pub mod faulty_dc;
pub mod proxy;

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::{
    CreateNonDomainJoinedKerberosLeaseRequest, HealthCheckRequest,
    RenewNonDomainJoinedKerberosLeaseRequest,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// One peer's testenv.json and its directory.
pub struct TestEnv {
    /// The parsed testenv.json.
    pub json: serde_json::Value,
    /// `$TESTENV_DIR/<peer>`.
    pub dir: PathBuf,
}

impl TestEnv {
    /// The Samba AD DC (`testenv/samba-dc.sh start`); `GMSA_TESTENV_JSON` may name another file.
    pub fn samba_dc() -> Self {
        Self::load("samba", "the Samba AD DC", "testenv/samba-dc.sh start")
    }

    /// The MIT KDC (`testenv/mit-kdc.sh start`).
    pub fn mit_kdc() -> Self {
        Self::load("mit", "the MIT KDC", "testenv/mit-kdc.sh start")
    }

    /// The cross-realm MIT KDCs A.TEST, B.TEST, C.TEST (`testenv/mit-realms.sh start`).
    pub fn mit_realms() -> Self {
        Self::load(
            "realms",
            "the cross-realm MIT KDCs",
            "testenv/mit-realms.sh start",
        )
    }

    /// The second AD forest OTHER.TEST (dc3) with its forest trust to EXAMPLE.TEST
    /// (`testenv/samba-forest.sh start`); its `krb5_conf` knows both realms.
    pub fn forest() -> Self {
        Self::load(
            "forest",
            "the second AD forest (OTHER.TEST, dc3)",
            "testenv/samba-forest.sh start",
        )
    }

    fn load(peer: &str, what: &str, start: &str) -> Self {
        let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
        let dir = PathBuf::from(base).join(peer);
        let path = match std::env::var("GMSA_TESTENV_JSON") {
            Ok(p) if peer == "samba" => PathBuf::from(p),
            _ => dir.join("testenv.json"),
        };
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the test environment of {what} is missing ({}: {e}); run `{start}`",
                path.display()
            )
        });
        Self {
            json: serde_json::from_str(&text).expect("testenv.json is JSON"),
            dir,
        }
    }

    /// The string at a JSON pointer, e.g. `/users/reader/principal`.
    pub fn str(&self, pointer: &str) -> &str {
        self.json
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{pointer} in {}/testenv.json", self.dir.display()))
    }

    /// The peer's krb5.conf.
    pub fn conf(&self) -> &str {
        self.str("/krb5_conf")
    }

    /// An empty directory for one test: `<dir>/tests/<name>-<pid>`.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let d = self
            .dir
            .join("tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Runs `gmsa` with `krb5_conf` and no inherited cache or keytab; logs its duration.
    pub fn gmsa_with(&self, args: &[&str], krb5_conf: &str) -> Output {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_gmsa"))
            .args(args)
            .env("KRB5_CONFIG", krb5_conf)
            .env_remove("KRB5CCNAME")
            .env_remove("KRB5_KTNAME")
            .output()
            .expect("run gmsa");
        eprintln!("gmsa {}: {:?}", args.join(" "), t.elapsed());
        out
    }

    /// Runs `gmsa` with the peer's krb5.conf.
    pub fn gmsa(&self, args: &[&str]) -> Output {
        self.gmsa_with(args, self.conf())
    }

    /// Runs one of MIT's tools (klist, kvno, kinit) on `cache` with the peer's krb5.conf.
    pub fn mit(&self, tool: &str, args: &[&str], cache: &Path) -> Output {
        Command::new(tool)
            .args(args)
            .env("KRB5_CONFIG", self.conf())
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
            .output()
            .unwrap_or_else(|e| panic!("MIT {tool} is installed: {e}"))
    }
}

/// Asserts success; returns stdout.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts failure without a panic; returns stderr.
pub fn fails(out: &Output, what: &str) -> String {
    assert!(!out.status.success(), "{what} should fail");
    no_panic(out, what)
}

/// Asserts exit status 1 (an error we report, not a crash, not clap's 2) without a panic;
/// returns stderr.
pub fn fails_with_1(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what} should fail with exit status 1\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    no_panic(out, what)
}

fn no_panic(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what} panicked: {err}"
    );
    err
}

/// MIT `klist` of the `krb5cc` in the lease directory `dir` with `krb5_conf`; asserts success,
/// returns its listing.
pub fn klist_lease(krb5_conf: &str, dir: &str) -> String {
    let out = Command::new("klist")
        .arg("-c")
        .arg(format!("{dir}/krb5cc"))
        .env("KRB5_CONFIG", krb5_conf)
        .output()
        .expect("MIT klist");
    assert!(
        out.status.success(),
        "klist of {dir}/krb5cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A minimal ECS credspec for the gMSA `name` in `dns` (NetBIOS name `netbios`).
pub fn credspec(name: &str, dns: &str, netbios: &str) -> String {
    serde_json::json!({
        "CmsPlugins": ["ActiveDirectory"],
        "DomainJoinConfig": {"DnsName": dns, "NetBiosName": netbios, "MachineAccountName": name},
        "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": name, "Scope": dns}]}
    })
    .to_string()
}

/// An add of the Samba DC's gMSA (`env` is its testenv.json) for its reader user.
pub fn reader_add_request(env: &serde_json::Value) -> CreateNonDomainJoinedKerberosLeaseRequest {
    CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![credspec(
            env["gmsa"]["name"].as_str().unwrap(),
            env["domain"].as_str().unwrap(),
            env["netbios_domain"].as_str().unwrap(),
        )],
        username: env["users"]["reader"]["name"].as_str().unwrap().into(),
        password: std::fs::read_to_string(
            env["users"]["reader"]["password_file"].as_str().unwrap(),
        )
        .unwrap(),
        domain: env["domain"].as_str().unwrap().into(),
    }
}

/// A renew with the Samba DC's reader user's (right) password.
pub fn reader_renew_request(env: &serde_json::Value) -> RenewNonDomainJoinedKerberosLeaseRequest {
    let a = reader_add_request(env);
    RenewNonDomainJoinedKerberosLeaseRequest {
        username: a.username,
        password: a.password,
        domain: a.domain,
    }
}

/// A running `credentials-fetcherd`, killed and reaped on drop.
pub struct Daemon {
    /// The process.
    pub child: Child,
    /// Its socket.
    pub socket: PathBuf,
    /// Its lease directory (`CF_KRB_DIR`).
    pub krbdir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// A command for the daemon binary serving `socket` with leases under `krbdir`, with the
    /// test-only and host settings of the caller's environment removed.
    pub fn command(socket: &Path, krbdir: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_credentials-fetcherd"));
        cmd.args(["--socket-group", "none"])
            .env("CF_KRB_DIR", krbdir)
            .env(
                "CREDENTIALS_FETCHER_HOST",
                format!("unix://{}", socket.display()),
            )
            .env_remove("CF_TEST_FAKE_TICKETS")
            .env_remove("CF_TEST_RENEW_SECS")
            .env_remove("DOMAIN_CONTROLLER_GMSA")
            .env_remove("NOTIFY_SOCKET");
        cmd
    }

    /// Spawns `cmd` (from [`Daemon::command`]) and waits (at most 20 s) until `socket` accepts
    /// connections.
    pub fn spawn(mut cmd: Command, socket: &Path) -> Self {
        let krbdir = cmd
            .get_envs()
            .find(|(k, _)| *k == "CF_KRB_DIR")
            .and_then(|(_, v)| v)
            .map(PathBuf::from)
            .expect("a command from Daemon::command sets CF_KRB_DIR");
        let d = Self {
            child: cmd.spawn().expect("start the daemon"),
            socket: socket.to_path_buf(),
            krbdir,
        };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            if std::os::unix::net::UnixStream::connect(&d.socket).is_ok() {
                return d;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the daemon did not open {}", d.socket.display());
    }
}

impl Daemon {
    /// [`Daemon::spawn`] with `extra` added to the environment, `RUST_LOG=info`, stdout
    /// discarded and stderr inherited (the test's output shows the daemon's log).
    pub fn spawn_logged<K: AsRef<std::ffi::OsStr>, V: AsRef<std::ffi::OsStr>>(
        mut cmd: Command,
        socket: &Path,
        extra: &[(K, V)],
    ) -> Self {
        cmd.env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Self::spawn(cmd, socket)
    }

    /// The names in the lease directory, sorted (empty when it does not exist).
    pub fn leases(&self) -> Vec<String> {
        dir_names(&self.krbdir)
    }
}

/// Deletes the lease `added` returned; asserts the daemon names the same paths.
pub async fn delete_lease(
    c: &mut credentials_fetcherd::server::proto::credentials_fetcher_service_client::CredentialsFetcherServiceClient<tonic::transport::Channel>,
    added: &credentials_fetcherd::server::proto::CreateNonDomainJoinedKerberosLeaseResponse,
) {
    let del = c
        .delete_kerberos_lease(
            credentials_fetcherd::server::proto::DeleteKerberosLeaseRequest {
                lease_id: added.lease_id.clone(),
            },
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        del.deleted_kerberos_file_paths,
        added.created_kerberos_file_paths
    );
}

/// Waits (at most 20 s) until the krbdir of `d` holds exactly `want`; asserts it does.
pub async fn wait_leases(d: &Daemon, want: &[String]) {
    let t = Instant::now();
    while d.leases() != want && t.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(d.leases(), want);
}

/// Sends the daemon's log (`RUST_LOG=info`, stderr) to `dir/daemon.log`, its stdout nowhere.
pub fn log_to_file(cmd: &mut Command, dir: &Path) {
    cmd.env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(
            std::fs::File::create(dir.join("daemon.log")).unwrap(),
        ));
}

/// How many lines of the log file `log` contain `needle`.
pub fn count_in_log(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// The log written as [`log_to_file`] set up (empty when there is none yet).
pub fn daemon_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
}

/// The names in `dir`, sorted (empty when it does not exist).
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Whether HealthCheck over `socket` answers "OK".
pub async fn healthy(socket: &Path) -> bool {
    match connect(socket).await {
        Ok(mut c) => c
            .health_check(HealthCheckRequest {
                service: "cf".into(),
            })
            .await
            .is_ok_and(|r| r.into_inner().status == "OK"),
        Err(_) => false,
    }
}

/// A host whose own resolver knows no AD name: an `/etc/hosts` with localhost alone, an
/// `/etc/resolv.conf` naming a loopback address where nothing listens (nothing leaves
/// loopback), and a krb5.conf without KDCs (found through DNS), written into `dir`.
pub struct NoAdNames {
    /// Mounted over /etc/hosts.
    pub hosts: PathBuf,
    /// Mounted over /etc/resolv.conf.
    pub resolv: PathBuf,
    /// For KRB5_CONFIG.
    pub krb5_conf: PathBuf,
}

impl NoAdNames {
    /// Writes the three files into `dir`.
    pub fn new(dir: &Path) -> Self {
        let n = Self {
            hosts: dir.join("hosts"),
            resolv: dir.join("resolv.conf"),
            krb5_conf: dir.join("krb5-dns-only.conf"),
        };
        std::fs::write(&n.hosts, "127.0.0.1 localhost\n").unwrap();
        std::fs::write(&n.resolv, "nameserver 127.0.0.99\n").unwrap();
        std::fs::write(
            &n.krb5_conf,
            "[libdefaults]\n default_realm = EXAMPLE.TEST\n dns_lookup_kdc = true\n rdns = false\n",
        )
        .unwrap();
        n
    }

    /// A command running `program` in a private mount namespace (`unshare -m`) with the files
    /// mounted over the host's and KRB5_CONFIG set; add its arguments and environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c"])
            .arg(r#"mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@""#)
            .arg("sh")
            .arg(&self.hosts)
            .arg(&self.resolv)
            .arg(program)
            .env("KRB5_CONFIG", &self.krb5_conf);
        cmd
    }
}
