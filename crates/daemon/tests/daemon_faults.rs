//! Fault injection against the real peers (issue 9, "A fault-injection suite", part 1): one
//! test per row of the README's fault table. The Samba AD DC's KDC (88, TCP and UDP) and LDAP
//! (389) ports are reached through our fault proxies (tests/common/proxy.rs, set up by
//! tests/common/faulty_dc.rs) so that the shared DC itself is never stopped: the proxies die
//! (every listener and connection closed, connections refused), come back, delay or drop.
//! A real kill uses a private MIT KDC of this test (testenv/mit-kdc.sh with its own
//! TESTENV_DIR and address 127.0.0.13).
//!
//! After every fault: an add either returned a lease that MIT klist reads, or failed with a
//! clean status (UNAVAILABLE, DEADLINE_EXCEEDED at the daemon's deadline, RESOURCE_EXHAUSTED)
//! and left nothing: the krbdir holds exactly the returned leases, no temporary file, and
//! `gmsa lease list` lists exactly them.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Daemon;
use common::faulty_dc::FaultyDc;
use common::proxy::Faults;
use common::reader_add_request as add_request;

type Client =
    credentials_fetcher_service_client::CredentialsFetcherServiceClient<tonic::transport::Channel>;

/// The KDC proxies of this file listen here (daemon_retry uses 127.0.0.9).
const KDC_IP: &str = "127.0.0.10";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One add as the ECS agent makes it (a 20 s attempt); returns the answer and how long it took.
async fn add(
    c: &mut Client,
    env: &serde_json::Value,
) -> (
    Result<CreateNonDomainJoinedKerberosLeaseResponse, tonic::Status>,
    Duration,
) {
    let mut req = tonic::Request::new(add_request(env));
    req.set_timeout(Duration::from_secs(20));
    let t = Instant::now();
    let r = c
        .add_non_domain_joined_kerberos_lease(req)
        .await
        .map(tonic::Response::into_inner);
    (r, t.elapsed())
}

/// `gmsa lease list --krbdir <krbdir>`.
fn lease_list(krbdir: &Path) -> String {
    common::ok(
        &Command::new(env!("CARGO_BIN_EXE_gmsa"))
            .args(["lease", "list", "--krbdir"])
            .arg(krbdir)
            .output()
            .unwrap(),
        "gmsa lease list",
    )
}

/// Every file under `dir` whose name says it is a temporary of an atomic write.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(temp_files(&p));
        } else if e.file_name().to_string_lossy().contains(".tmp") {
            out.push(p);
        }
    }
    out
}

/// No half state: once the daemon's rollbacks have run (at most 20 s), the krbdir holds
/// exactly the leases in `ids` (plus `others`, names the test put there), no temporary file,
/// and `gmsa lease list` names exactly `ids`; each of `paths` has a krb5cc that MIT klist reads.
async fn assert_exactly(
    d: &Daemon,
    env: &serde_json::Value,
    ids: &[String],
    others: &[&str],
    paths: &[String],
) {
    let mut want: Vec<String> = ids
        .iter()
        .cloned()
        .chain(others.iter().map(|s| s.to_string()))
        .collect();
    want.sort();
    common::wait_leases(d, &want).await;
    assert!(
        temp_files(&d.krbdir).is_empty(),
        "{:?}",
        temp_files(&d.krbdir)
    );
    let list = lease_list(&d.krbdir);
    for id in ids {
        assert!(list.contains(id.as_str()), "{id} in:\n{list}");
    }
    let listed = list
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.len() == 20 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .count();
    assert_eq!(listed, ids.len(), "gmsa lease list:\n{list}");
    for p in paths {
        common::klist_lease(env["krb5_conf"].as_str().unwrap(), p);
    }
}

/// Asserts a failed add failed cleanly: one of `codes`, within the daemon's deadline.
fn assert_clean(e: &tonic::Status, took: Duration, deadline: Duration, codes: &[tonic::Code]) {
    assert!(
        codes.contains(&e.code()),
        "{:?} (want one of {codes:?}): {}",
        e.code(),
        e.message()
    );
    assert!(
        took <= deadline + Duration::from_secs(1),
        "failed after {took:?}, the deadline is {deadline:?}"
    );
}

/// Row: the DC (its KDC and LDAP) dies in the middle of an add, and is dead when the next one
/// comes: each fails with UNAVAILABLE within the RPC deadline (or the first succeeds) and
/// leaves nothing; once the DC is back an add works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dc_dying_during_an_add_fails_cleanly_then_adds_work_once_back() {
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let deadline = Duration::from_secs(10);
    // Every client chunk 400 ms late: the add is still talking to the DC when it dies.
    let mut dc = FaultyDc::start(KDC_IP, Faults::delay(ms(400))).await;
    let d = dc.daemon(dir.path(), &env, true, &[("CF_RPC_DEADLINE_SECS", "10")]);
    let mut c = connect(&d.socket).await.unwrap();
    let adding = tokio::spawn({
        let (mut c, env) = (c.clone(), env.clone());
        async move { add(&mut c, &env).await }
    });
    tokio::time::sleep(ms(1200)).await;
    dc.down().await;
    let (r, took) = adding.await.unwrap();
    eprintln!(
        "add during the death: {:?} after {took:?}",
        r.as_ref().map_err(|e| e.code())
    );
    let mut kept = (vec![], vec![]);
    let first_ok = r.is_ok();
    match r {
        Ok(r) => {
            kept = (vec![r.lease_id], r.created_kerberos_file_paths);
        }
        Err(e) => {
            assert_clean(&e, took, deadline, &[tonic::Code::Unavailable]);
        }
    }
    assert_exactly(&d, &env, &kept.0, &[], &kept.1).await;

    // Still dead: refused at once (unless the first add made it and cached everything a
    // second one needs).
    let (r, took) = add(&mut c, &env).await;
    match r {
        Ok(r) if first_ok => {
            kept.0.push(r.lease_id);
            kept.1.extend(r.created_kerberos_file_paths);
            kept.0.sort();
        }
        r => {
            let e = r.expect_err("no DC, no lease");
            eprintln!(
                "add while dead: {:?} after {took:?}: {}",
                e.code(),
                e.message()
            );
            assert_clean(&e, took, deadline, &[tonic::Code::Unavailable]);
        }
    }
    assert_exactly(&d, &env, &kept.0, &[], &kept.1).await;

    // Back (and fast): the next add works.
    dc.set(Faults::default());
    dc.up().await;
    let (r, took) = add(&mut c, &env).await;
    let r = r.expect("an add once the DC is back");
    eprintln!("add once back: {took:?}");
    kept.0.push(r.lease_id.clone());
    kept.1.extend(r.created_kerberos_file_paths.clone());
    kept.0.sort();
    assert_exactly(&d, &env, &kept.0, &[], &kept.1).await;
    common::delete_lease(&mut c, &r).await;
}

/// Row: the DC dies while a lease renews (every 2 s here): the renewal fails, is retried with
/// back-off (the lease shows "failing since" in `gmsa lease list`, its krb5cc untouched and
/// readable), and renews once the DC is back; the lease is never lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dc_dying_during_renewals_retries_with_back_off_and_renews_once_back() {
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let mut dc = FaultyDc::start(KDC_IP, Faults::default()).await;
    let mut cmd = dc.command(
        dir.path(),
        &dir.path().join("krbdir"),
        &env,
        true,
        &[("CF_TEST_RENEW_SECS", "2")],
    );
    common::log_to_file(&mut cmd, dir.path());
    // A failing renewal is logged at warn once ("renewal failing"), then at debug per retry
    // ("renewal failed again"): the test counts both.
    cmd.env(
        "RUST_LOG",
        "info,credentials_fetcherd::server::manager=debug",
    );
    let d = common::Daemon::spawn(cmd, &dir.path().join("cf.sock"));
    let mut c = connect(&d.socket).await.unwrap();
    let (r, _) = add(&mut c, &env).await;
    let r = r.expect("the add");
    let ids = [r.lease_id.clone()];
    let cc = PathBuf::from(&r.created_kerberos_file_paths[0]).join("krb5cc");
    let wait_for = |needle: &'static str, n: usize| {
        let log = log.clone();
        async move {
            let t = Instant::now();
            while common::count_in_log(&log, needle) < n {
                assert!(
                    t.elapsed() < Duration::from_secs(20),
                    "fewer than {n} {needle:?} in 20 s:\n{}",
                    std::fs::read_to_string(&log).unwrap()
                );
                tokio::time::sleep(ms(100)).await;
            }
        }
    };
    wait_for("ticket renewed", 1).await;
    dc.down().await;
    let renewed_before = common::count_in_log(&log, "ticket renewed");
    wait_for("renewal fail", 3).await;
    let before = std::fs::read(&cc).unwrap();
    // Waits between the failed tries: back-off (1 s, then 2 s, +-25 % jitter), not a busy loop.
    let text = std::fs::read_to_string(&log).unwrap();
    let waits: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("renewal fail"))
        .filter_map(|l| {
            let v = l.split("retry_in_ms=").nth(1)?;
            v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .collect();
    eprintln!("retry waits while the DC is dead: {waits:?} ms");
    assert!(
        waits.len() >= 3 && waits.iter().all(|&w| w >= 750),
        "{waits:?}"
    );
    let list = lease_list(&d.krbdir);
    assert!(list.contains("failing since"), "{list}");
    assert!(
        common::count_in_log(&log, "ticket renewed") <= renewed_before + 1,
        "renewed without a DC?"
    );
    common::klist_lease(
        env["krb5_conf"].as_str().unwrap(),
        &r.created_kerberos_file_paths[0],
    );
    assert_exactly(&d, &env, &ids, &[], &r.created_kerberos_file_paths).await;

    dc.up().await;
    let back = common::count_in_log(&log, "ticket renewed");
    wait_for("ticket renewed", back + 1).await;
    assert_ne!(std::fs::read(&cc).unwrap(), before, "a new ticket");
    let t = Instant::now();
    while !lease_list(&d.krbdir).contains("renewal: ok") && t.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(ms(100)).await;
    }
    let list = lease_list(&d.krbdir);
    assert!(list.contains("renewal: ok"), "{list}");
    assert_exactly(&d, &env, &ids, &[], &r.created_kerberos_file_paths).await;
}

/// A private MIT KDC of one test (its own TESTENV_DIR, address 127.0.0.13), stopped on drop.
struct PrivateKdc {
    base: tempfile::TempDir,
}

impl PrivateKdc {
    fn script(&self, cmd: &str) -> std::process::Output {
        Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../testenv/mit-kdc.sh"
            ))
            .arg(cmd)
            .env("TESTENV_DIR", self.base.path())
            .env("TESTENV_MIT_HOST", "127.0.0.13")
            .env("TESTENV_MIT_PORT", "18888")
            .output()
            .expect("run testenv/mit-kdc.sh")
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.base.path().join("mit/testenv.json")).unwrap())
            .unwrap()
    }

    fn pid(&self) -> i32 {
        std::fs::read_to_string(self.base.path().join("mit/krb5kdc.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for PrivateKdc {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}

fn signal(pid: i32, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill {sig} {pid}");
}

/// Row (a real kill): a private MIT KDC is SIGKILLed while `gmsa kinit` waits for its answer:
/// the login fails with exit status 1 and a message naming the unreachable KDC, the cache it
/// would have replaced is untouched; once the KDC is restarted the next login works. (The
/// daemon cannot use the MIT realm: every lease needs a gMSA password from an AD DC's LDAP,
/// which MIT does not have; the daemon's kills are the proxies' above.)
#[test]
fn a_private_mit_kdc_killed_during_a_cli_login_then_restarted() {
    let kdc = PrivateKdc {
        base: tempfile::tempdir().unwrap(),
    };
    let out = kdc.script("start");
    common::ok(&out, "testenv/mit-kdc.sh start (private, 127.0.0.13)");
    let env = kdc.json();
    let conf = env["krb5_conf"].as_str().unwrap().to_string();
    let user = env["tkt_user"].as_str().unwrap().to_string();
    let pw = kdc.base.path().join("mit/passwords/tkt-user");
    let cc = kdc.base.path().join("cc");
    let kinit = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gmsa"));
        cmd.args(["kinit", &user, "--password-file"])
            .arg(&pw)
            .arg("-c")
            .arg(&cc)
            .env("KRB5_CONFIG", &conf)
            .env_remove("KRB5CCNAME")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let klist = || {
        common::ok(
            &Command::new("klist")
                .arg("-c")
                .arg(&cc)
                .env("KRB5_CONFIG", &conf)
                .output()
                .expect("MIT klist"),
            "MIT klist",
        )
    };
    common::ok(&kinit().output().unwrap(), "gmsa kinit (KDC up)");
    assert!(klist().contains(&user));
    let before = std::fs::read(&cc).unwrap();

    // The KDC is frozen so that the login is surely waiting for it, then killed.
    let pid = kdc.pid();
    signal(pid, "-STOP");
    let t = Instant::now();
    let child = kinit().spawn().unwrap();
    std::thread::sleep(ms(500));
    signal(pid, "-KILL");
    let out = child.wait_with_output().unwrap();
    let took = t.elapsed();
    let err = common::fails_with_1(&out, "gmsa kinit while the KDC dies");
    eprintln!("gmsa kinit with the KDC killed: {took:?}: {err}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    let lower = err.to_lowercase();
    assert!(
        ["unreachable", "refused", "timed out", "no kdc"]
            .iter()
            .any(|w| lower.contains(w)),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&cc).unwrap(),
        before,
        "the old cache is untouched"
    );
    assert!(klist().contains(&user));

    // Restarted on the same database: the next login works.
    common::ok(&kdc.script("restart"), "testenv/mit-kdc.sh restart");
    common::ok(&kinit().output().unwrap(), "gmsa kinit (KDC back)");
    assert!(klist().contains(&user));
    assert_ne!(std::fs::read(&cc).unwrap(), before, "a new ticket");
}

/// Adds under a faulty DC: `attempts` adds one after the other, as the agent retries (`cold`:
/// each by a new daemon with its own krbdir, so that each talks to the DC for everything,
/// with no cached ticket or password). Each returns a lease or fails cleanly (UNAVAILABLE, or
/// DEADLINE_EXCEEDED at the daemon's 15 s deadline), and after each the krbdir and `gmsa
/// lease list` hold exactly the returned leases. Returns (leases, failures).
async fn adds_under(
    faults_kdc: Faults,
    faults_ldap: Faults,
    attempts: usize,
    cold: bool,
) -> (usize, usize) {
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let dc = FaultyDc::start(KDC_IP, faults_kdc).await;
    dc.ldap.set(faults_ldap);
    let (mut leases, mut failed) = (0, 0);
    let mut daemon: Option<(Daemon, Vec<String>, Vec<String>)> = None;
    for i in 0..attempts {
        if cold || daemon.is_none() {
            let sub = dir.path().join(format!("daemon-{i}"));
            std::fs::create_dir(&sub).unwrap();
            // UDP for the small KDC requests, as a host's default krb5.conf does.
            daemon = Some((dc.daemon(&sub, &env, true, &[]), vec![], vec![]));
        }
        let (d, ids, paths) = daemon.as_mut().unwrap();
        let mut c = connect(&d.socket).await.unwrap();
        let (r, took) = add(&mut c, &env).await;
        match r {
            Ok(r) => {
                eprintln!("attempt {i}: lease after {took:?}");
                ids.push(r.lease_id);
                paths.extend(r.created_kerberos_file_paths);
                leases += 1;
            }
            Err(e) => {
                eprintln!(
                    "attempt {i}: {:?} after {took:?}: {}",
                    e.code(),
                    e.message()
                );
                assert_clean(
                    &e,
                    took,
                    Duration::from_secs(15),
                    &[tonic::Code::Unavailable, tonic::Code::DeadlineExceeded],
                );
                failed += 1;
            }
        }
        ids.sort();
        assert_exactly(d, &env, ids, &[], paths).await;
    }
    (leases, failed)
}

/// Row: a slow DC, every client chunk to its KDC and LDAP 2 s late: adds end within the
/// daemon's deadline, with a lease or cleanly, never half-made (the agent's pattern: the same
/// daemon retries, with what the first attempt cached).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dc_adds_finish_within_the_deadline_or_fail_cleanly() {
    let slow = Faults::delay(Duration::from_secs(2));
    let (ok, failed) = adds_under(slow, slow, 2, false).await;
    eprintln!("slow DC: {ok} leases, {failed} clean failures");
}

/// Row: a lossy DC, 30 % of the UDP datagrams and of the TCP connections to its KDC dropped
/// (a TCP request to the KDC is one chunk: dropping it closes the connection) and 30 % of the
/// LDAP connections closed at once: adds by cold daemons end with a lease or cleanly, never
/// half-made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_dc_adds_finish_or_fail_cleanly() {
    let kdc = Faults {
        drop_rate: 0.3,
        ..Faults::default()
    };
    let ldap = Faults {
        conn_drop_rate: 0.3,
        ..Faults::default()
    };
    let (ok, failed) = adds_under(kdc, ldap, 4, true).await;
    eprintln!("lossy DC: {ok} leases, {failed} clean failures");
}

/// A tmpfs mounted on a test's krbdir, unmounted on drop.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Row: the krbdir's file system is full: an add fails with RESOURCE_EXHAUSTED saying so and
/// leaves nothing, the existing lease's krb5cc is intact (MIT klist reads it, same bytes), and
/// once space is freed the next add works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_krbdir_gives_resource_exhausted_and_keeps_existing_leases() {
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let krbdir = dir.path().join("krbdir");
    std::fs::create_dir(&krbdir).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs"])
        .arg(&krbdir)
        .status()
        .expect("mount (the tests run as root)");
    assert!(st.success(), "mount -t tmpfs on {}", krbdir.display());
    let _mount = Tmpfs(krbdir.clone());
    let dc = FaultyDc::start(KDC_IP, Faults::default()).await;
    let mut cmd = dc.command(dir.path(), &krbdir, &env, true, &[]);
    common::log_to_file(&mut cmd, dir.path());
    let d = Daemon::spawn(cmd, &dir.path().join("cf.sock"));
    let mut c = connect(&d.socket).await.unwrap();
    let (r, _) = add(&mut c, &env).await;
    let a = r.expect("the first add");
    let cc_a = PathBuf::from(&a.created_kerberos_file_paths[0]).join("krb5cc");
    let bytes_a = std::fs::read(&cc_a).unwrap();

    // Fill the file system.
    let filler = krbdir.join("filler");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        loop {
            match f.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", filler.display()),
            }
        }
        let _ = f.flush();
    }
    let (r, took) = add(&mut c, &env).await;
    let e = r.expect_err("no space, no lease");
    eprintln!(
        "add on a full krbdir: {:?} after {took:?}: {}",
        e.code(),
        e.message()
    );
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{}", e.message());
    assert!(
        e.message().contains("No space left on device") && e.message().contains("full"),
        "{}",
        e.message()
    );
    let a_ids = [a.lease_id.clone()];
    assert_exactly(
        &d,
        &env,
        &a_ids,
        &["filler"],
        &a.created_kerberos_file_paths,
    )
    .await;
    assert_eq!(
        std::fs::read(&cc_a).unwrap(),
        bytes_a,
        "the existing ccache is intact"
    );

    // Space again: the next add works.
    std::fs::remove_file(&filler).unwrap();
    let (r, _) = add(&mut c, &env).await;
    let b = r.expect("an add once space is freed");
    let mut ids = vec![a.lease_id.clone(), b.lease_id.clone()];
    ids.sort();
    let paths = [
        a.created_kerberos_file_paths.clone(),
        b.created_kerberos_file_paths.clone(),
    ]
    .concat();
    assert_exactly(&d, &env, &ids, &[], &paths).await;
    drop(d);
}

/// The number of open file descriptors of process `pid`.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// A HealthCheck on a new connection; returns how long it took.
async fn health_time(socket: &Path) -> Duration {
    let t = Instant::now();
    assert!(
        tokio::time::timeout(Duration::from_secs(5), common::healthy(socket))
            .await
            .unwrap_or(false),
        "the daemon answers HealthCheck"
    );
    t.elapsed()
}

/// Row: garbage on the gRPC socket (random bytes, the HTTP/2 preface then a cut frame, an
/// HTTP/1 request) and 1,000 idle connections to a daemon started with a soft limit of 256
/// open files: the daemon (having raised its limit to the hard one) stays up, answers the next
/// call within a second, and closes connections that send no HTTP/2 preface within 10 s, so
/// its descriptor count comes back down while the idle clients still hold theirs open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_idle_connections_on_the_socket_leave_the_daemon_serving() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let dc = FaultyDc::start(KDC_IP, Faults::default()).await;
    // Started as systemd starts it, with a soft limit on open files below 1000 (systemd's
    // default is 1024): the daemon raises it to the hard limit.
    let cmd = dc.command(dir.path(), &dir.path().join("krbdir"), &env, true, &[]);
    let mut wrapped = Command::new("prlimit");
    wrapped
        .arg("--nofile=256:")
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    common::log_to_file(&mut wrapped, dir.path());
    let mut d = Daemon::spawn(wrapped, &dir.path().join("cf.sock"));
    let pid = d.child.id();
    health_time(&d.socket).await;
    let base = fd_count(pid);

    let mut random = vec![0u8; 64 * 1024];
    getrandom::fill(&mut random).unwrap();
    let mut cut = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // A SETTINGS frame header announcing 600 bytes, then 10 of them.
    cut.extend_from_slice(&[0, 2, 0x58, 4, 0, 0, 0, 0, 0]);
    cut.extend_from_slice(&[0; 10]);
    let http1 = b"POST /credentialsfetcher.CredentialsFetcherService/HealthCheck HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0".to_vec();
    let mut held = Vec::new();
    for (name, bytes) in [
        ("random bytes", random),
        ("a cut HTTP/2 frame", cut),
        ("HTTP/1", http1),
    ] {
        let mut s = tokio::net::UnixStream::connect(&d.socket).await.unwrap();
        let _ = s.write_all(&bytes).await;
        // The daemon answers with an error or closes; the cut frame's connection stays open.
        let mut buf = vec![0u8; 4096];
        let got = tokio::time::timeout(ms(500), s.read(&mut buf)).await;
        eprintln!("{name}: {got:?}");
        let took = health_time(&d.socket).await;
        eprintln!("HealthCheck after {name}: {took:?}");
        assert!(took < Duration::from_secs(1), "{took:?}");
        held.push(s);
    }

    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(std::os::unix::net::UnixStream::connect(&d.socket).unwrap());
    }
    // The daemon has accepted them (or they wait in its backlog).
    tokio::time::sleep(ms(500)).await;
    let took = health_time(&d.socket).await;
    let with_idle = fd_count(pid);
    eprintln!("1000 idle connections: HealthCheck {took:?}, daemon fds {base} -> {with_idle}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(with_idle <= base + 1000 + 16, "{with_idle}");
    // Without an HTTP/2 preface within 10 s they are closed, while the clients hold them.
    let t = Instant::now();
    while fd_count(pid) > base + 4 && t.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(ms(200)).await;
    }
    eprintln!(
        "daemon fds after {:?}: {} (base {base})",
        t.elapsed(),
        fd_count(pid)
    );
    assert!(fd_count(pid) <= base + 4, "{} > {base} + 4", fd_count(pid));
    assert!(d.child.try_wait().unwrap().is_none(), "the daemon is up");
    let log = common::daemon_log(dir.path());
    assert!(
        log.contains("raised the open-file limit") && log.contains("old=256"),
        "{log}"
    );
    drop(idle);
    drop(held);

    // And it still serves a real add.
    let mut c = connect(&d.socket).await.unwrap();
    let (r, _) = add(&mut c, &env).await;
    let r = r.expect("an add after the garbage");
    assert_exactly(&d, &env, &[r.lease_id], &[], &r.created_kerberos_file_paths).await;
}

/// Row: a KDC that is down without saying so (a DC powered off: its UDP and TCP ports read and
/// never answer), listed first in krb5.conf before the live DC. The first add waits for it once
/// (the 1 s hedge delay, not the daemon's 5 s per attempt) and succeeds through the live KDC;
/// the next adds, each talking to the KDC (password cache off: every add reads the password
/// and logs in as the gMSA), go straight to the KDC that answered: the silent one sees no
/// more requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_kdc_listed_first_costs_one_timeout_not_one_per_message() {
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let silent = gmsa_testkit::SilentKdc::start(KDC_IP.parse().unwrap());
    let port = silent.port();
    let realm = env["realm"].as_str().unwrap();
    let conf = dir.path().join("krb5.conf");
    std::fs::write(
        &conf,
        format!(
            "[libdefaults]\n\tdefault_realm = {realm}\n\tdns_lookup_kdc = false\n\trdns = false\n[realms]\n\t{realm} = {{\n\t\tkdc = {KDC_IP}:{port}\n\t\tkdc = 127.0.0.2\n\t}}\n"
        ),
    )
    .unwrap();
    let mut cmd = Daemon::command(&dir.path().join("cf.sock"), &dir.path().join("krbdir"));
    cmd.args(["--dc", env["dc_host"].as_str().unwrap()])
        .env("KRB5_CONFIG", &conf)
        .env("CF_TEST_PASSWORD_CACHE_SECS", "0");
    common::log_to_file(&mut cmd, dir.path());
    let d = Daemon::spawn(cmd, &dir.path().join("cf.sock"));
    let mut c = connect(&d.socket).await.unwrap();
    let (mut ids, mut paths) = (Vec::new(), Vec::new());
    let mut after_first = 0;
    for i in 0..4 {
        let (r, took) = add(&mut c, &env).await;
        let r = r.unwrap_or_else(|e| panic!("add {i} after {took:?}: {e:?}"));
        eprintln!(
            "add {i}: lease after {took:?}, silent KDC asked {} times",
            silent.asked()
        );
        ids.push(r.lease_id);
        paths.extend(r.created_kerberos_file_paths);
        if i == 0 {
            after_first = silent.asked();
            assert!(
                after_first >= 1,
                "the silent KDC, listed first, was asked first"
            );
        }
    }
    assert_eq!(
        silent.asked(),
        after_first,
        "after the first add, every KDC message went to the KDC that answered"
    );
    ids.sort();
    assert_exactly(&d, &env, &ids, &[], &paths).await;
}
