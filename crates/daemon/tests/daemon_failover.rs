//! Failover between two live DCs and AD-site DC choice, against the real Samba DCs:
//! dc1 (testenv/samba-dc.sh, 127.0.0.2, site Default-First-Site-Name) and dc2
//! (testenv/samba-dc2.sh, 127.0.0.12, site Site-B; the subnet 127.0.0.0/8 is mapped to Site-B).
//!
//! A DC "dies" during adds and renewals in two ways: dc2's own processes are SIGKILLed
//! (`samba-dc2.sh kill`, restarted at the end whatever happens), or, for the shared dc1 whose
//! processes must not be touched, the fault proxy in front of it (tests/common/proxy.rs, on
//! 127.0.0.2 with other ports, so `dc1.example.test:<port>` still names it) is dropped. Each
//! time: every Add answers (within the daemon's RPC deadline) from the other DC, every lease is
//! still renewed, nothing is lost, and the reader's badPwdCount and lockoutTime on both DCs are
//! unchanged. The DC each step used is read from the daemon's log ("LDAP session opened to DC").
//! Fails (never skips) when either DC is missing.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

mod common;
use common::Daemon;
use common::proxy::{Faults, Proxy};

/// dc2 is killed and restarted by two tests of this file: one at a time.
static DC2: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Renewal period of the daemon's timers here (`CF_TEST_RENEW_SECS`).
const RENEW_SECS: u64 = 2;

fn json(path: PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; start the DCs first: testenv/samba-dc.sh start && testenv/samba-dc2.sh start",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

struct Envs {
    dc1: serde_json::Value,
    dc2: serde_json::Value,
}

fn envs() -> Envs {
    let dc1 = common::TestEnv::samba_dc().json;
    let dir = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let dc2 = json(Path::new(&dir).join("samba2/testenv.json"));
    let e = Envs { dc1, dc2 };
    dc2_script(&e, "status");
    e
}

fn s<'a>(v: &'a serde_json::Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(|x| x.as_str())
        .unwrap_or_else(|| panic!("testenv.json has no {pointer}"))
}

/// Runs `testenv/samba-dc2.sh <what>`; asserts success.
fn dc2_script(e: &Envs, what: &str) {
    let out = Command::new(s(&e.dc2, "/script"))
        .arg(what)
        .output()
        .unwrap_or_else(|e| panic!("running samba-dc2.sh {what}: {e}"));
    assert!(
        out.status.success(),
        "testenv/samba-dc2.sh {what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `testenv/samba-dc2.sh <command>` on drop (also when an assertion failed): `restart`
/// after a kill, `thaw` after a freeze.
struct Dc2OnDrop<'a>(&'a Envs, &'static str);

impl Drop for Dc2OnDrop<'_> {
    fn drop(&mut self) {
        dc2_script(self.0, self.1);
    }
}

/// (badPwdCount, lockoutTime) of `user` in a DC's own database (not replicated in AD).
fn bad_pwd(dc: &serde_json::Value, user: &str) -> (String, String) {
    let out = Command::new("samba-tool")
        .args(["user", "show", user, "--attributes=badPwdCount,lockoutTime"])
        .args(["-H", &format!("tdb://{}", s(dc, "/sam_ldb"))])
        .args(["-s", s(dc, "/smb_conf")])
        .output()
        .expect("samba-tool is installed (testenv/samba-dc.sh install)");
    assert!(
        out.status.success(),
        "samba-tool user show: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or("0")
            .trim()
            .to_owned()
    };
    (field("badPwdCount"), field("lockoutTime"))
}

/// The reader's (badPwdCount, lockoutTime) on dc1 and on dc2.
type BadPwd = ((String, String), (String, String));

fn reader_bad_pwd(e: &Envs) -> BadPwd {
    let user = s(&e.dc1, "/users/reader/name");
    (bad_pwd(&e.dc1, user), bad_pwd(&e.dc2, user))
}

/// Asserts that no DC counted a bad password (or a lockout) for the reader since `before`.
fn assert_no_bad_password(e: &Envs, before: &BadPwd) {
    assert_eq!(
        &reader_bad_pwd(e),
        before,
        "badPwdCount/lockoutTime of {} changed on a DC",
        s(&e.dc1, "/users/reader/name")
    );
}

/// A client krb5.conf for EXAMPLE.TEST listing `kdcs` in order.
fn krb5_conf(dir: &Path, kdcs: &[String]) -> PathBuf {
    let lines: String = kdcs.iter().map(|k| format!("\t\tkdc = {k}\n")).collect();
    let text = format!(
        "[libdefaults]\n\tdefault_realm = EXAMPLE.TEST\n\tdns_lookup_kdc = false\n\
         \tdns_lookup_realm = false\n\trdns = false\n\tdns_canonicalize_hostname = false\n\
         \tudp_preference_limit = 1\n\n[realms]\n\tEXAMPLE.TEST = {{\n{lines}\t}}\n\n\
         [domain_realm]\n\t.example.test = EXAMPLE.TEST\n\texample.test = EXAMPLE.TEST\n"
    );
    let p = dir.join("krb5.conf");
    std::fs::write(&p, text).unwrap();
    p
}

struct Run {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    d: Daemon,
    req: CreateNonDomainJoinedKerberosLeaseRequest,
}

/// Starts the daemon with `krb5` and `env` (DOMAIN_CONTROLLER_GMSA, CF_DNS_SERVER...): every
/// lease reads the password again (no blob cache) and every lease renews each RENEW_SECS.
fn start(e: &Envs, kdcs: &[String], env: &[(&str, String)]) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let socket = dir.join("cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    cmd.env("KRB5_CONFIG", krb5_conf(&dir, kdcs))
        .env("CF_TEST_PASSWORD_CACHE_SECS", "0")
        .env("CF_TEST_RENEW_SECS", RENEW_SECS.to_string())
        .env_remove("CF_DNS_SERVER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    common::log_to_file(&mut cmd, &dir);
    let d = Daemon::spawn(cmd, &socket);
    let reader = &e.dc1["users"]["reader"];
    let req = CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![common::credspec(
            s(&e.dc1, "/gmsa/name"),
            s(&e.dc1, "/domain"),
            s(&e.dc1, "/netbios_domain"),
        )],
        username: s(reader, "/name").to_owned(),
        password: std::fs::read_to_string(s(reader, "/password_file")).unwrap(),
        domain: s(&e.dc1, "/domain").to_owned(),
    };
    Run {
        _dir: tmp,
        dir,
        d,
        req,
    }
}

impl Run {
    /// Adds one lease; returns its krb5cc path. The call must succeed (the daemon answers
    /// DEADLINE_EXCEEDED past its RPC deadline, so success means within it).
    async fn add(&self, what: &str) -> String {
        let mut c = connect(&self.d.socket).await.unwrap();
        let t = Instant::now();
        let added = c
            .add_non_domain_joined_kerberos_lease(self.req.clone())
            .await
            .unwrap_or_else(|st| panic!("{what}: add failed: {st}\n{}", self.log()))
            .into_inner();
        eprintln!("{what}: add answered in {:?}", t.elapsed());
        added.created_kerberos_file_paths[0].clone()
    }

    fn log(&self) -> String {
        common::daemon_log(&self.dir)
    }

    /// The DCs the daemon opened LDAP sessions to, in order.
    fn sessions(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.split("LDAP session opened to DC ").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }

    fn renewed(&self) -> usize {
        common::count_in_log(&self.dir.join("daemon.log"), "ticket renewed")
    }

    /// Waits until every lease in `paths` has been rewritten after `since` (a renewal), at most
    /// 6 renewal periods; asserts the ticket inside is the gMSA's.
    fn all_renewed_since(&self, e: &Envs, paths: &[String], since: SystemTime) {
        let deadline = Instant::now() + Duration::from_secs(RENEW_SECS * 6 + 10);
        for p in paths {
            let cc = Path::new(p).join("krb5cc");
            let cc = if cc.exists() { cc } else { PathBuf::from(p) };
            loop {
                let m = std::fs::metadata(&cc)
                    .and_then(|m| m.modified())
                    .unwrap_or_else(|err| panic!("lease {p} lost: {err}\n{}", self.log()));
                if m > since {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "lease {p} was not renewed after the DC died\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            let klist = common::klist_lease(s(&e.dc1, "/krb5_conf"), p);
            assert!(klist.contains(s(&e.dc1, "/gmsa/principal")), "{klist}");
        }
    }
}

/// Starts the daemon with dc2 first everywhere (the DC list and krb5.conf's KDCs) and adds one
/// lease, served by dc2; returns the run and that lease's path.
async fn start_dc2_first(e: &Envs) -> (Run, Vec<String>) {
    let r = start(
        e,
        &["127.0.0.12".into(), "127.0.0.2".into()],
        &[(
            "DOMAIN_CONTROLLER_GMSA",
            "dc2.example.test,dc1.example.test".into(),
        )],
    );
    let leases = vec![r.add("both DCs up").await];
    assert_eq!(r.sessions(), ["dc2.example.test:389"], "{}", r.log());
    (r, leases)
}

/// The fault proxy in front of one of dc1's ports, listening on 127.0.0.2 (a free port).
async fn dc1_proxy(port: u16) -> Proxy {
    let listen: SocketAddr = "127.0.0.2:0".parse().unwrap();
    let up: SocketAddr = format!("127.0.0.2:{port}").parse().unwrap();
    Proxy::start(listen, up, Faults::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dc2_killed_during_adds_and_renewals_dc1_takes_over() {
    let e = envs();
    let _one = DC2.lock().await;
    let before = reader_bad_pwd(&e);
    let (r, mut leases) = start_dc2_first(&e).await;

    let back = Dc2OnDrop(&e, "restart");
    // dc2 dies while 24 adds are in flight (each reads the password and logs the gMSA in).
    let r = std::sync::Arc::new(r);
    let mut inflight = tokio::task::JoinSet::new();
    for i in 0..24 {
        let r = r.clone();
        inflight.spawn(async move { r.add(&format!("in flight {i}")).await });
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    dc2_script(&e, "kill");
    let killed_at = SystemTime::now();
    let mut answered_after_kill = 0;
    while let Some(done) = inflight.join_next().await {
        leases.push(done.unwrap());
        answered_after_kill += usize::from(SystemTime::now() > killed_at);
    }
    eprintln!(
        "in-flight adds answered after the kill: {answered_after_kill}; sessions: {:?}; \
         connections lost and replaced on the next DC: {}",
        r.sessions(),
        r.log().matches("LDAP connection lost").count()
    );
    let renewed_before = r.renewed();
    for i in 0..4 {
        leases.push(r.add(&format!("dc2 dead, add {i}")).await);
    }
    let sessions = r.sessions();
    assert_eq!(
        sessions.last().map(String::as_str),
        Some("dc1.example.test:389"),
        "{sessions:?}\n{}",
        r.log()
    );
    // Renewals go on (the first lease's timer was armed while dc2 served it).
    r.all_renewed_since(&e, &leases, killed_at);
    assert!(r.renewed() > renewed_before);
    assert!(!r.log().contains("renewal failed"), "{}", r.log());

    drop(back);
    assert_no_bad_password(&e, &before);
}

/// dc2 hangs (SIGSTOP: its sockets accept and read, nothing answers) while it holds the
/// daemon's LDAP session and is the KDC that answered last. The next add waits for the LDAP
/// search's timeout (10 s) once, reconnects to dc1, and the Kerberos messages that needs go to
/// dc1 after the 1 s hedge delay instead of waiting out dc2's 5 s timeout: the add answers
/// within the daemon's 15 s deadline (it did not when each KDC was waited for in turn:
/// 10 + 5 + 5 s). The adds after it are fast, and renewals go on through dc1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dc2_frozen_holding_the_session_dc1_takes_over_within_the_deadline() {
    let e = envs();
    let _one = DC2.lock().await;
    let before = reader_bad_pwd(&e);
    let (r, mut leases) = start_dc2_first(&e).await;

    let thawed = Dc2OnDrop(&e, "thaw");
    dc2_script(&e, "freeze");
    let frozen_at = SystemTime::now();
    let t = Instant::now();
    leases.push(r.add("dc2 frozen, first add").await);
    let first = t.elapsed();
    let t = Instant::now();
    for i in 0..3 {
        leases.push(r.add(&format!("dc2 frozen, add {i}")).await);
    }
    let next = t.elapsed();
    eprintln!("dc2 frozen: first add {first:?}, the next three {next:?}");
    assert_eq!(
        r.sessions().last().map(String::as_str),
        Some("dc1.example.test:389"),
        "{}",
        r.log()
    );
    assert!(
        next < Duration::from_secs(3),
        "{next:?}: the frozen dc2 was waited for again\n{}",
        r.log()
    );
    r.all_renewed_since(&e, &leases, frozen_at);
    drop(thawed);
    assert_no_bad_password(&e, &before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dc1_behind_a_dying_proxy_dc2_takes_over() {
    let e = envs();
    let _one = DC2.lock().await;
    let before = reader_bad_pwd(&e);
    let ldap = dc1_proxy(389).await;
    let kdc = dc1_proxy(88).await;
    let dc1 = format!("dc1.example.test:{}", ldap.addr().port());
    let r = start(
        &e,
        &[kdc.addr().to_string(), "127.0.0.12".into()],
        &[("DOMAIN_CONTROLLER_GMSA", format!("{dc1},dc2.example.test"))],
    );
    let mut leases = vec![r.add("dc1 (proxied) and dc2 up").await];
    assert_eq!(r.sessions(), std::slice::from_ref(&dc1), "{}", r.log());

    // dc1 "dies": its proxies go away (open connections dropped, new ones refused).
    drop(ldap);
    drop(kdc);
    let died_at = SystemTime::now();
    for i in 0..4 {
        leases.push(r.add(&format!("dc1 dead, add {i}")).await);
    }
    assert_eq!(
        r.sessions().last().map(String::as_str),
        Some("dc2.example.test:389"),
        "{}",
        r.log()
    );
    r.all_renewed_since(&e, &leases, died_at);
    assert_no_bad_password(&e, &before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_dc_is_chosen_and_the_other_used_when_it_dies() {
    let e = envs();
    let _one = DC2.lock().await;
    assert_eq!(s(&e.dc2, "/client_site"), "Site-B");
    // No DC given: DNS SRV at dc1's DNS (which lists dc1 for the domain, dc2 for Site-B) and
    // a NetLogon ping decide. KDCs: dc1 only (the KDC choice is krb5.conf's, not the site's).
    let r = start(
        &e,
        &["127.0.0.2".into()],
        &[("CF_DNS_SERVER", s(&e.dc1, "/dns").to_owned())],
    );
    let mut leases = vec![r.add("both DCs up").await];
    let log = r.log();
    assert!(
        log.contains("our site is Site-B"),
        "the daemon did not learn its site:\n{log}"
    );
    assert_eq!(r.sessions(), ["dc2.example.test:389"], "{log}");

    let back = Dc2OnDrop(&e, "restart");
    dc2_script(&e, "kill");
    let killed_at = SystemTime::now();
    for i in 0..3 {
        leases.push(r.add(&format!("site DC dead, add {i}")).await);
    }
    assert_eq!(
        r.sessions().last().map(String::as_str),
        Some("dc1.example.test:389"),
        "{}",
        r.log()
    );
    r.all_renewed_since(&e, &leases, killed_at);
    drop(back);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_prints_the_site_the_order_and_the_dc_used() {
    let e = envs();
    let _one = DC2.lock().await;
    let t = common::TestEnv::samba_dc();
    let dir = t.scratch("failover-doctor");
    let spec = dir.join("credspec.json");
    std::fs::write(
        &spec,
        common::credspec(
            t.str("/gmsa/name"),
            t.str("/domain"),
            t.str("/netbios_domain"),
        ),
    )
    .unwrap();
    let args = [
        "doctor",
        "--credspec",
        spec.to_str().unwrap(),
        "--user",
        t.str("/users/reader/principal"),
        "--password-file",
        t.str("/users/reader/password_file"),
        "--dns-server",
        t.str("/dns"),
    ];
    let out = common::ok(&t.gmsa(&args), "gmsa doctor --dns-server");
    eprintln!("{out}");
    for want in [
        "site Site-B (NetLogon ping answered by dc1.example.test, whose site is Default-First-Site-Name)",
        "order dc2.example.test:389, dc1.example.test:389; first choice dc2.example.test:389 because our site is Site-B",
        "from DC dc2.example.test:389",
        "all checks passed",
    ] {
        assert!(out.contains(want), "doctor does not say {want:?}:\n{out}");
    }
    // With KDCs from DNS (no kdc line in krb5.conf), the site orders them too: dc2 answers.
    let dns_conf = dir.join("krb5-dns.conf");
    std::fs::write(
        &dns_conf,
        "[libdefaults]\n default_realm = EXAMPLE.TEST\n dns_lookup_kdc = true\n rdns = false\n",
    )
    .unwrap();
    let out = common::ok(
        &t.gmsa_with(&args, dns_conf.to_str().unwrap()),
        "gmsa doctor --dns-server, KDCs from DNS",
    );
    eprintln!("{out}");
    assert!(
        out.contains("127.0.0.12:88 over udp (KDCs in order: dc2.example.test:88, dc1.example.test:88, from DNS, site Site-B first)"),
        "{out}"
    );

    let back = Dc2OnDrop(&e, "restart");
    dc2_script(&e, "kill");
    let out = common::ok(&t.gmsa(&args), "gmsa doctor --dns-server, dc2 dead");
    eprintln!("{out}");
    assert!(out.contains("first choice dc2.example.test:389"), "{out}");
    assert!(out.contains("from DC dc1.example.test:389"), "{out}");
    drop(back);
}
