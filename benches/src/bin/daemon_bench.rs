//! `credentials-fetcherd` (release build, found next to this executable) against the local Samba AD
//! DC (`testenv/samba-dc.sh start`): start-up time, lease add latency (cold and warm password
//! cache, 1/10/100 concurrent clients), RSS idle and with 1000 leases, and a breakdown of where an
//! add's time goes (the user's login, the LDAP read, the gMSA's AS exchange, writing the lease
//! files — nothing is fsynced — and the rest of our code).
//!
//! "Cold" adds are measured three ways: the first add after start when the daemon cannot know the
//! login beforehand (a domainless user first seen in the request: login + LDAP connect and bind +
//! search + gMSA AS exchange); the first add after a start-up pre-login (the same user given as
//! the domainless secret file: search + gMSA AS exchange); and adds on a running daemon whose
//! password cache is bypassed (`CF_TEST_PASSWORD_CACHE_SECS=0`: every add reads the password on
//! the kept LDAP session and logs in as the gMSA).
//!
//! Prints figures with their targets; asserts nothing.
//!
//! ```text
//! cargo build --release -p credentials-fetcherd --features test-fake --bin credentials-fetcherd
//! cargo run --release -p benches --bin daemon_bench
//! ```
//!
//! (`test-fake`: the memory figures compare the real source with `CF_TEST_FAKE_TICKETS=1`,
//! which only a daemon built with that feature has.)
//!
//! `CF_BENCH_DAEMON=<path>` runs another daemon binary, e.g. the static musl build (whose
//! allocator returns freed memory to the system); `DAEMON_BENCH_ONLY=memory` runs only the
//! memory figures (RSS idle, with 1000 leases, after deleting them):
//!
//! ```text
//! cargo build --release --target x86_64-unknown-linux-musl -p credentials-fetcherd --features test-fake --bin credentials-fetcherd
//! CF_BENCH_DAEMON=target/x86_64-unknown-linux-musl/release/credentials-fetcherd DAEMON_BENCH_ONLY=memory \
//!     cargo run --release -p benches --bin daemon_bench
//! ```

use benches::{median, ms, percentile};
use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::credentials_fetcher_service_client::CredentialsFetcherServiceClient;
use credentials_fetcherd::server::proto::*;
use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::config::Krb5Conf;
use msds_gmsa::{FetchOptions, GmsaLookup};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

type Rpc = CredentialsFetcherServiceClient<tonic::transport::Channel>;

struct Env {
    daemon: PathBuf,
    krb5_conf: String,
    dc_host: String,
    user: String,
    password: String,
    domain: String,
    credspec: String,
    scratch: PathBuf,
}

struct Daemon {
    child: Child,
    socket: PathBuf,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Daemon {
    /// CPU time (user + system) the daemon has used so far, from /proc/<pid>/stat (clock ticks
    /// of 10 ms: measure over many calls).
    fn cpu(&self) -> Duration {
        let s =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name's closing parenthesis; utime and stime are 14 and 15.
        let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        Duration::from_millis(ticks * 10)
    }

    /// VmRSS in KiB.
    fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

static RUN: AtomicUsize = AtomicUsize::new(0);

/// Spawns the daemon; returns it with the time of the spawn.
fn spawn(env: &Env, extra: &[(&str, &str)]) -> (Daemon, Instant) {
    let dir = env.scratch.join(format!(
        "d{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("cf.sock");
    let mut cmd = Command::new(&env.daemon);
    cmd.args(["--socket-group", "none", "--dc", &env.dc_host])
        .env("CF_KRB_DIR", dir.join("krbdir"))
        .env(
            "CREDENTIALS_FETCHER_HOST",
            format!("unix://{}", socket.display()),
        )
        .env("KRB5_CONFIG", &env.krb5_conf)
        .env_remove("CF_TEST_FAKE_TICKETS")
        .env_remove("CF_TEST_RENEW_SECS")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("daemon.log")).unwrap(),
        ));
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let t = Instant::now();
    let child = cmd.spawn().expect("spawn credentials-fetcherd");
    (Daemon { child, socket, dir }, t)
}

/// Polls until the socket accepts a connection; the time since `t0`.
fn wait_socket(d: &Daemon, t0: Instant) -> Duration {
    while t0.elapsed() < Duration::from_secs(20) {
        if std::os::unix::net::UnixStream::connect(&d.socket).is_ok() {
            return t0.elapsed();
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    panic!(
        "the daemon did not listen within 20 s (see {})",
        d.dir.display()
    );
}

/// Connects and calls HealthCheck until OK; the client and the time since `t0`.
async fn first_health(d: &Daemon, t0: Instant) -> (Rpc, Duration) {
    loop {
        if let Ok(mut c) = connect(&d.socket).await
            && let Ok(r) = c
                .health_check(HealthCheckRequest {
                    service: "cf".into(),
                })
                .await
            && r.get_ref().status == "OK"
        {
            return (c, t0.elapsed());
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no HealthCheck OK");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

fn request(env: &Env) -> CreateNonDomainJoinedKerberosLeaseRequest {
    CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![env.credspec.clone()],
        username: env.user.clone(),
        password: env.password.clone(),
        domain: env.domain.clone(),
    }
}

/// One add: its latency and lease id.
async fn add(c: &mut Rpc, env: &Env) -> (Duration, String) {
    let t = Instant::now();
    let r = c
        .add_non_domain_joined_kerberos_lease(request(env))
        .await
        .unwrap_or_else(|e| panic!("add failed: {e}"));
    (t.elapsed(), r.into_inner().lease_id)
}

/// `n` clients (one connection each) add at once; per-add latencies, the wall time, lease ids.
async fn concurrent(
    env: &'static Env,
    socket: &Path,
    n: usize,
) -> (Vec<Duration>, Duration, Vec<String>) {
    let mut clients = Vec::new();
    for _ in 0..n {
        clients.push(connect(socket).await.unwrap());
    }
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for mut c in clients {
        set.spawn(async move { add(&mut c, env).await });
    }
    let (mut lat, mut ids) = (Vec::new(), Vec::new());
    while let Some(r) = set.join_next().await {
        let (d, id) = r.unwrap();
        lat.push(d);
        ids.push(id);
    }
    let wall = t.elapsed();
    lat.sort();
    (lat, wall, ids)
}

async fn delete_all(c: &mut Rpc, ids: Vec<String>) -> Duration {
    let t = Instant::now();
    for id in ids {
        c.delete_kerberos_lease(DeleteKerberosLeaseRequest { lease_id: id })
            .await
            .unwrap();
    }
    t.elapsed()
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn line(what: &str, value: Duration, target: Duration) {
    println!(
        "  {what:<52} {:>11}   target <= {:<8} {}",
        ms(value),
        format!("{} ms", target.as_millis()),
        verdict(value <= target)
    );
}

fn stats(what: &str, sorted: &[Duration], p50_target: Option<Duration>) {
    let p50 = median(sorted);
    println!(
        "  {what:<52} p50 {:>11}  p99 {:>11}  (n={}){}",
        ms(p50),
        ms(percentile(sorted, 99.0)),
        sorted.len(),
        match p50_target {
            Some(t) => format!(
                "   p50 target <= {} ms {}",
                t.as_millis(),
                verdict(p50 <= t)
            ),
            None => String::new(),
        }
    );
}

/// Time of writing and renaming a ccache-sized file in `dir` (what each add does for the ccache
/// and for the lease metadata; nothing is fsynced).
fn write_cost(dir: &Path, n: usize) -> Vec<Duration> {
    std::fs::create_dir_all(dir).unwrap();
    let bytes = vec![7u8; 1500];
    let mut v: Vec<Duration> = (0..n)
        .map(|i| {
            let t = Instant::now();
            let tmp = dir.join(format!(".x.tmp.{i}"));
            let mut f = std::fs::File::create(&tmp).unwrap();
            f.write_all(&bytes).unwrap();
            drop(f);
            std::fs::rename(&tmp, dir.join("x")).unwrap();
            t.elapsed()
        })
        .collect();
    v.sort();
    v
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let sdir = PathBuf::from(base).join("samba");
    let j: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sdir.join("testenv.json"))
            .expect("run `testenv/samba-dc.sh start` first"),
    )
    .unwrap();
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    let daemon = std::env::var_os("CF_BENCH_DAEMON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .unwrap()
                .with_file_name("credentials-fetcherd")
        });
    assert!(
        daemon.exists(),
        "build it first: cargo build --release -p credentials-fetcherd --features test-fake --bin credentials-fetcherd"
    );
    let gmsa = s(&j["gmsa"]["name"]);
    let env: &'static Env = Box::leak(Box::new(Env {
        daemon,
        krb5_conf: s(&j["krb5_conf"]),
        dc_host: s(&j["dc_host"]),
        user: s(&j["users"]["reader"]["name"]),
        password: std::fs::read_to_string(s(&j["users"]["reader"]["password_file"])).unwrap(),
        domain: s(&j["domain"]),
        credspec: serde_json::json!({
            "CmsPlugins": ["ActiveDirectory"],
            "DomainJoinConfig": {"DnsName": j["domain"], "NetBiosName": j["netbios_domain"], "MachineAccountName": gmsa},
            "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": gmsa, "Scope": j["domain"]}]}
        })
        .to_string(),
        scratch: sdir.join("bench-daemon"),
    }));
    if std::env::var("DAEMON_BENCH_ONLY").is_ok_and(|v| v == "memory") {
        memory(env, Vec::new()).await;
        let _ = std::fs::remove_dir_all(&env.scratch);
        return;
    }
    let t_all = Instant::now();
    println!(
        "credentials-fetcherd ({}) on the local Samba 4.22 AD DC:",
        env.daemon.display()
    );

    // 1. Start-up, cold add, warm adds: 10 starts.
    let (mut ready, mut healthy, mut cold, mut warm) = (vec![], vec![], vec![], vec![]);
    let mut idle_rss = Vec::new();
    for _ in 0..10 {
        let (d, t0) = spawn(env, &[]);
        ready.push(wait_socket(&d, t0));
        let (mut c, h) = first_health(&d, t0).await;
        healthy.push(h);
        idle_rss.push(d.rss_kib());
        let (lat, id) = add(&mut c, env).await;
        cold.push(lat);
        let mut ids = vec![id];
        for _ in 0..20 {
            let (lat, id) = add(&mut c, env).await;
            warm.push(lat);
            ids.push(id);
        }
        delete_all(&mut c, ids).await;
    }
    for v in [&mut ready, &mut healthy, &mut cold, &mut warm] {
        v.sort();
    }
    println!("start-up (spawn to ...), median of 10 starts:");
    line(
        "socket accepts a connection",
        median(&ready),
        Duration::from_millis(50),
    );
    line(
        "first HealthCheck OK",
        median(&healthy),
        Duration::from_millis(50),
    );
    println!("lease add latency (domainless, one credspec, 1 client):");
    stats(
        "cold, login unknown at start (first add after start)",
        &cold,
        Some(Duration::from_millis(15)),
    );
    stats(
        "warm password cache (next 20 adds, 10 daemons)",
        &warm,
        Some(Duration::from_millis(3)),
    );

    // 1b. Cold adds that a kept LDAP session and a start-up pre-login make cheaper.
    let secret = env.scratch.join("secret.json");
    std::fs::create_dir_all(&env.scratch).unwrap();
    std::fs::write(
        &secret,
        serde_json::json!({"username": env.user, "password": env.password, "domainName": env.domain})
            .to_string(),
    )
    .unwrap();
    let (mut pre, mut prewarm_took) = (vec![], vec![]);
    for _ in 0..10 {
        let (d, t0) = spawn(
            env,
            &[("CF_DOMAINLESS_SECRET_FILE", secret.to_str().unwrap())],
        );
        wait_socket(&d, t0);
        let (mut c, _) = first_health(&d, t0).await;
        // Wait for the pre-login to finish (at most 3 s; an old daemon never logs it).
        let log = d.dir.join("daemon.log");
        while t0.elapsed() < Duration::from_secs(3)
            && !std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("pre-logged in and bound")
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        prewarm_took.push(t0.elapsed());
        let (lat, id) = add(&mut c, env).await;
        pre.push(lat);
        delete_all(&mut c, vec![id]).await;
    }
    pre.sort();
    prewarm_took.sort();
    stats(
        "cold, after the start-up pre-login (secret file)",
        &pre,
        Some(Duration::from_millis(15)),
    );
    println!(
        "  (pre-login + bind done {} after spawn, median)",
        ms(median(&prewarm_took))
    );
    let (d, t0) = spawn(env, &[("CF_TEST_PASSWORD_CACHE_SECS", "0")]);
    wait_socket(&d, t0);
    let (mut c, _) = first_health(&d, t0).await;
    let (_, id) = add(&mut c, env).await;
    let mut ids = vec![id];
    let mut reread = Vec::new();
    for _ in 0..30 {
        let (lat, id) = add(&mut c, env).await;
        reread.push(lat);
        ids.push(id);
    }
    reread.sort();
    stats(
        "cold password cache on a running daemon (30 adds)",
        &reread,
        Some(Duration::from_millis(15)),
    );
    let log = std::fs::read_to_string(d.dir.join("daemon.log")).unwrap_or_default();
    println!(
        "  (LDAP reads {}, LDAP connections opened {}, gMSA AS exchanges {})",
        log.matches("read msDS-ManagedPassword of").count(),
        log.matches("LDAP session opened to DC").count(),
        log.matches("logged in as the gMSA").count()
    );
    delete_all(&mut c, ids).await;
    drop(c);
    drop(d);

    // 2. Concurrency, on one daemon (warm after its first add), and 100 at once on a cold daemon.
    // The first lease stays while the rounds run: the daemon releases its caches (password,
    // TGTs, LDAP session) with its last lease, so deleting it would make every round cold.
    let (d, t0) = spawn(env, &[]);
    wait_socket(&d, t0);
    let (mut c, _) = first_health(&d, t0).await;
    let (_, kept) = add(&mut c, env).await;
    println!("concurrent adds, warm password cache (one connection per client):");
    let (cpu0, mut calls) = (d.cpu(), 0usize);
    for (n, rounds) in [(1usize, 50usize), (10, 10), (100, 3)] {
        let (mut lat, mut walls) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (l, w, ids) = concurrent(env, &d.socket, n).await;
            lat.extend(l);
            walls.push(w);
            calls += 2 * ids.len();
            delete_all(&mut c, ids).await;
        }
        lat.sort();
        walls.sort();
        stats(&format!("{n} clients, {rounds} rounds"), &lat, None);
        if n == 100 {
            line(
                "100 concurrent adds in all (median round)",
                median(&walls),
                Duration::from_secs(1),
            );
        }
    }
    let cpu = d.cpu().saturating_sub(cpu0);
    println!(
        "  daemon CPU (user + system) for those {} adds and their deletes: {} ms = {:.3} ms per call (each on a new connection)",
        calls / 2,
        cpu.as_millis(),
        cpu.as_secs_f64() * 1e3 / calls.max(1) as f64
    );
    let log = std::fs::read_to_string(d.dir.join("daemon.log")).unwrap_or_default();
    println!(
        "  LDAP reads of the password for the first add and all rounds: {} (1 = every round warm)",
        log.matches("read msDS-ManagedPassword of").count()
    );
    delete_all(&mut c, vec![kept]).await;
    drop(c);
    drop(d);
    let (d, t0) = spawn(env, &[]);
    wait_socket(&d, t0);
    let (mut c, _) = first_health(&d, t0).await;
    let (lat, wall, ids) = concurrent(env, &d.socket, 100).await;
    stats("100 clients on a cold daemon", &lat, None);
    line(
        "100 concurrent adds in all, cold daemon",
        wall,
        Duration::from_secs(1),
    );
    let log = std::fs::read_to_string(d.dir.join("daemon.log")).unwrap_or_default();
    println!(
        "  LDAP reads of the password for those 100 adds: {}; AS exchanges as the gMSA: {}",
        log.matches("read msDS-ManagedPassword of").count(),
        log.matches("logged in as the gMSA").count()
    );
    delete_all(&mut c, ids).await;
    drop(c);
    drop(d);

    // 3. RSS idle, with 1000 leases, and after deleting them; real DC and fake tickets.
    memory(env, idle_rss).await;

    // 4. Where an add's time goes.
    println!("breakdown of one add:");
    let (d, t0) = spawn(env, &[("CF_TEST_FAKE_TICKETS", "1")]);
    wait_socket(&d, t0);
    let (mut c, _) = first_health(&d, t0).await;
    let mut fake = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..50 {
        let (l, id) = add(&mut c, env).await;
        fake.push(l);
        ids.push(id);
    }
    fake.sort();
    stats(
        "daemon with fake tickets (our code + files, no DC)",
        &fake,
        None,
    );
    delete_all(&mut c, ids).await;
    let fs = write_cost(&d.dir.join("write-probe"), 50);
    stats("write + rename of a 1.5 KB file (no fsync)", &fs, None);
    drop(c);
    drop(d);
    let client = Client::new(Krb5Conf::load(env.krb5_conf.as_ref()).unwrap());
    let user =
        Principal::parse(&format!("{}@{}", env.user, env.domain.to_uppercase()), None).unwrap();
    let realm = env.domain.to_uppercase();
    let mut user_as = Vec::new();
    let mut tgt = None;
    for _ in 0..20 {
        let t = Instant::now();
        tgt = Some(
            client
                .as_exchange(
                    user.clone(),
                    Secret::password(env.password.as_bytes()),
                    AsOptions::default(),
                )
                .await
                .unwrap(),
        );
        user_as.push(t.elapsed());
    }
    user_as.sort();
    stats("user AS exchange (in-process)", &user_as, None);
    let opts = FetchOptions {
        dc: Some(env.dc_host.clone()),
        ..FetchOptions::default()
    };
    let lookup = GmsaLookup::SamAccountName(format!("{gmsa}$"));
    let mut fetch = Vec::new();
    let mut fetched = None;
    for _ in 0..20 {
        let t = Instant::now();
        fetched = Some(
            msds_gmsa::fetch_managed_password(
                &client,
                tgt.as_ref().unwrap(),
                &env.domain,
                &lookup,
                &opts,
            )
            .await
            .unwrap(),
        );
        fetch.push(t.elapsed());
    }
    fetch.sort();
    stats("LDAP password read (in-process, TGT cached)", &fetch, None);
    let f = fetched.unwrap();
    let mut gmsa_as = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        std::hint::black_box(
            msds_gmsa::gmsa_tgt(
                &client,
                &realm,
                &f.sam_account_name,
                &f.blob,
                &AsOptions::default(),
            )
            .await
            .unwrap(),
        );
        gmsa_as.push(t.elapsed());
    }
    gmsa_as.sort();
    stats(
        "gMSA AS exchange (in-process; shared by 10 min of adds)",
        &gmsa_as,
        None,
    );
    let utf8 = f.blob.current().to_utf8_munged();
    let salt = msds_gmsa::computer_account_salt(&realm, &f.sam_account_name);
    let s2k = benches::sample(20, || {
        std::hint::black_box(
            krb5_proto::crypto::Key::from_password(
                krb5_proto::crypto::EncType::Aes256CtsHmacSha196,
                &utf8,
                &salt,
                None,
            )
            .unwrap(),
        );
    });
    stats(
        "  of which our AES256 string-to-key (PBKDF2, 4096)",
        &s2k,
        None,
    );
    let _ = std::fs::remove_dir_all(&env.scratch);
    println!("({:.1} s in all)", t_all.elapsed().as_secs_f64());
}

/// RSS idle (`idle_rss`: measured after earlier starts, may be empty), with 1000 leases, and
/// after deleting them (the daemon releases its caches with the last lease), for the real
/// source and for fake tickets.
async fn memory(env: &'static Env, mut idle_rss: Vec<u64>) {
    idle_rss.sort();
    println!("memory (VmRSS) of {}:", env.daemon.display());
    if !idle_rss.is_empty() {
        println!(
            "  idle after start (median of {})                      {:>8} KiB ({:.1} MiB)",
            idle_rss.len(),
            idle_rss[idle_rss.len() / 2],
            idle_rss[idle_rss.len() / 2] as f64 / 1024.0
        );
    }
    for (label, extra) in [
        ("real DC", &[][..]),
        (
            "CF_TEST_FAKE_TICKETS=1",
            &[("CF_TEST_FAKE_TICKETS", "1")][..],
        ),
    ] {
        let (d, t0) = spawn(env, extra);
        wait_socket(&d, t0);
        let (mut c, _) = first_health(&d, t0).await;
        let idle = d.rss_kib();
        let t = Instant::now();
        let mut ids = Vec::new();
        for _ in 0..20 {
            let (_, _, v) = concurrent(env, &d.socket, 50).await;
            ids.extend(v);
        }
        let took = t.elapsed();
        let full = d.rss_kib();
        let del = delete_all(&mut c, ids).await;
        // The caches are released with the last lease; give the allocator a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = d.rss_kib();
        println!(
            "  {label}: idle {idle} KiB; 1000 leases (50 at a time, {:.1} s) {full} KiB = {:.1} MiB   target <= 20 MiB {}; after deleting them ({:.1} s) {after} KiB = {:.1} MiB, {:+} KiB ({:+.0}%) from idle",
            took.as_secs_f64(),
            full as f64 / 1024.0,
            verdict(full <= 20 * 1024),
            del.as_secs_f64(),
            after as f64 / 1024.0,
            after as i64 - idle as i64,
            (after as f64 / idle.max(1) as f64 - 1.0) * 100.0
        );
    }
}
