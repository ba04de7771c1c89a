//! The kept LDAP session, against the real Samba AD DC (testenv/samba-dc.sh start): password
//! reads with a cold password cache share one bound LDAP connection, an idle session is closed
//! and a later lease opens a new one, a connection dropped under the daemon is recovered, and
//! the start-up pre-login (domainless secret file, host keytab) binds before the first lease.
//! Fails (never skips) when the DC is not there.
//!
//! `CF_TEST_PASSWORD_CACHE_SECS=0` makes every lease read the password again (a cold password
//! cache each time; the testenv has one gMSA).

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::Daemon;

const OPENED: &str = "LDAP session opened to DC";
const READ: &str = "read msDS-ManagedPassword of";

fn testenv() -> serde_json::Value {
    common::TestEnv::samba_dc().json
}

/// Starts the daemon on `dir` (krbdir and socket inside, no host keytab unless `extra` sets
/// KRB5_KTNAME), its stderr in `dir/daemon.log`.
fn start(dir: &Path, env: &serde_json::Value, extra: &[(&str, &str)]) -> Daemon {
    let socket = dir.join("cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    cmd.args(["--dc", env["dc_host"].as_str().unwrap()])
        .env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap())
        .env("KRB5_KTNAME", dir.join("no-such.keytab"))
        .env_remove("CF_DOMAINLESS_SECRET_FILE")
        .env_remove("CF_TEST_PASSWORD_CACHE_SECS")
        .env_remove("CF_TEST_LDAP_IDLE_SECS");
    common::log_to_file(&mut cmd, dir);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Daemon::spawn(cmd, &socket)
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("daemon.log")).unwrap()
}

fn count(dir: &Path, needle: &str) -> usize {
    log(dir).lines().filter(|l| l.contains(needle)).count()
}

/// Waits (at most 10 s) until the log has `n` lines containing `needle`.
fn wait_for(dir: &Path, needle: &str, n: usize) {
    let t = Instant::now();
    while count(dir, needle) < n {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no {n} x {needle:?} in the log:\n{}",
            log(dir)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spec(env: &serde_json::Value) -> String {
    common::credspec(
        env["gmsa"]["name"].as_str().unwrap(),
        env["domain"].as_str().unwrap(),
        env["netbios_domain"].as_str().unwrap(),
    )
}

fn password(env: &serde_json::Value) -> String {
    std::fs::read_to_string(env["users"]["reader"]["password_file"].as_str().unwrap()).unwrap()
}

fn req(env: &serde_json::Value) -> CreateNonDomainJoinedKerberosLeaseRequest {
    CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![spec(env)],
        username: env["users"]["reader"]["name"].as_str().unwrap().into(),
        password: password(env),
        domain: env["domain"].as_str().unwrap().into(),
    }
}

type Rpc = credentials_fetcherd::server::proto::credentials_fetcher_service_client::CredentialsFetcherServiceClient<tonic::transport::Channel>;

/// One domainless add (checked with MIT klist); its latency and lease id.
async fn add(c: &mut Rpc, env: &serde_json::Value) -> (Duration, String) {
    let t = Instant::now();
    let r = c
        .add_non_domain_joined_kerberos_lease(req(env))
        .await
        .unwrap_or_else(|e| panic!("add: {e}"))
        .into_inner();
    let took = t.elapsed();
    klist_ok(env, &r.created_kerberos_file_paths[0]);
    (took, r.lease_id)
}

fn klist_ok(env: &serde_json::Value, dir: &str) {
    let s = common::klist_lease(env["krb5_conf"].as_str().unwrap(), dir);
    assert!(
        s.contains(env["gmsa"]["principal"].as_str().unwrap()),
        "{s}"
    );
}

/// Five leases, each reading the password again (cold cache): five LDAP reads, one connection;
/// then ten at once, still on that connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_reads_share_one_ldap_connection() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &env, &[("CF_TEST_PASSWORD_CACHE_SECS", "0")]);
    let mut c = connect(&d.socket).await.unwrap();
    let mut took = Vec::new();
    for _ in 0..5 {
        took.push(add(&mut c, &env).await.0);
    }
    eprintln!("5 adds with a cold password cache: {took:?}");
    assert_eq!(count(dir.path(), READ), 5, "{}", log(dir.path()));
    assert_eq!(count(dir.path(), OPENED), 1, "{}", log(dir.path()));
    assert!(
        count(dir.path(), "logged in as the gMSA") >= 5,
        "a new password read means a new gMSA login"
    );
    // Ten at once: their reads take turns on the same session.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (mut c, env) = (c.clone(), env.clone());
        set.spawn(async move { add(&mut c, &env).await });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    assert!(count(dir.path(), READ) > 5);
    assert_eq!(count(dir.path(), OPENED), 1, "{}", log(dir.path()));
}

/// The kept session is closed after its idle time; the next lease opens a new one and works.
/// Then the connection is killed under the daemon (as a DC dropping it would): the next lease
/// reconnects and works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_dropped_sessions_are_reopened() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let d = start(
        dir.path(),
        &env,
        &[
            ("CF_TEST_PASSWORD_CACHE_SECS", "0"),
            ("CF_TEST_LDAP_IDLE_SECS", "1"),
        ],
    );
    let mut c = connect(&d.socket).await.unwrap();
    add(&mut c, &env).await;
    assert_eq!(count(dir.path(), OPENED), 1);
    wait_for(dir.path(), "closing the idle LDAP session", 1);
    wait_no_ldap(d.child.id(), "after the idle close");
    add(&mut c, &env).await;
    assert_eq!(count(dir.path(), OPENED), 2, "{}", log(dir.path()));
    assert_eq!(count(dir.path(), READ), 2);

    // Dropped under the daemon: abort our own LDAP socket only (ss -K on its local port).
    let ports = ldap_ports(d.child.id());
    assert_eq!(ports.len(), 1, "one kept LDAP connection: {ports:?}");
    let out = Command::new("ss")
        .args([
            "-K",
            "-tn",
            &format!("sport = :{} and dport = :389", ports[0]),
        ])
        .output()
        .expect("ss");
    assert!(out.status.success(), "{out:?}");
    wait_no_ldap(d.child.id(), "after ss -K (needs root and SOCK_DESTROY)");
    let (took, _) = add(&mut c, &env).await;
    eprintln!("add after the connection was dropped: {took:?}");
    assert_eq!(count(dir.path(), OPENED), 3, "{}", log(dir.path()));
    assert_eq!(count(dir.path(), READ), 3);
    assert!(
        log(dir.path()).contains("reconnect=true"),
        "{}",
        log(dir.path())
    );
}

/// Waits (at most 5 s) until the daemon has no LDAP connection.
fn wait_no_ldap(pid: u32, when: &str) {
    let t = Instant::now();
    while !ldap_ports(pid).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "an LDAP connection is still open {when}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Local ports of the daemon's established TCP connections to port 389.
fn ldap_ports(pid: u32) -> Vec<u16> {
    let out = Command::new("ss")
        .args(["-tnpH", "state", "established", "dport = :389"])
        .output()
        .expect("ss");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("pid={pid},")))
        .filter_map(|l| {
            let local = l.split_whitespace().nth(2)?;
            local.rsplit_once(':')?.1.parse().ok()
        })
        .collect()
}

/// With a domainless secret file the daemon logs in and binds at start-up: the first lease of
/// that user opens no LDAP connection and makes no login of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_file_prewarm_binds_before_the_first_lease() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.json");
    std::fs::write(
        &secret,
        serde_json::json!({
            "username": env["users"]["reader"]["name"],
            "password": password(&env),
            "domainName": env["domain"],
        })
        .to_string(),
    )
    .unwrap();
    let d = start(
        dir.path(),
        &env,
        &[("CF_DOMAINLESS_SECRET_FILE", secret.to_str().unwrap())],
    );
    wait_for(dir.path(), "pre-logged in and bound the LDAP session", 1);
    assert_eq!(count(dir.path(), OPENED), 1);
    let mut c = connect(&d.socket).await.unwrap();
    let (took, _) = add(&mut c, &env).await;
    eprintln!("first add after the pre-login: {took:?}");
    assert_eq!(count(dir.path(), OPENED), 1, "{}", log(dir.path()));
    assert_eq!(count(dir.path(), READ), 1);
}

/// A broken secret file or keytab only costs a warning: the daemon serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_prewarm_is_only_a_warning() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.json");
    std::fs::write(&secret, "not json").unwrap();
    let kt = dir.path().join("bad.keytab");
    std::fs::write(&kt, b"\x05\x02garbage").unwrap();
    let d = start(
        dir.path(),
        &env,
        &[
            ("CF_DOMAINLESS_SECRET_FILE", secret.to_str().unwrap()),
            ("KRB5_KTNAME", kt.to_str().unwrap()),
        ],
    );
    wait_for(dir.path(), "not pre-logging in the domainless user", 1);
    wait_for(dir.path(), "pre-login at start-up failed", 1);
    assert!(common::healthy(&d.socket).await);
    assert_eq!(count(dir.path(), OPENED), 0);
}

/// Domain-joined: the machine keytab's account logs in and binds at start-up; the first lease
/// reuses that session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keytab_prewarm_binds_before_the_first_lease() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let kt = env["machine"]["keytab"].as_str().unwrap();
    let d = start(dir.path(), &env, &[("KRB5_KTNAME", kt)]);
    wait_for(dir.path(), "pre-logged in and bound the LDAP session", 1);
    let mut c = connect(&d.socket).await.unwrap();
    let t = Instant::now();
    let added = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: vec![spec(&env)],
        })
        .await
        .unwrap()
        .into_inner();
    eprintln!(
        "first domain-joined add after the pre-login: {:?}",
        t.elapsed()
    );
    klist_ok(&env, &added.created_kerberos_file_paths[0]);
    assert_eq!(count(dir.path(), OPENED), 1, "{}", log(dir.path()));
    assert_eq!(count(dir.path(), READ), 1);
}
