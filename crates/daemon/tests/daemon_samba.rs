//! The daemon against the real Samba AD DC (testenv/samba-dc.sh start; `. $WORK/env.sh`).
//! Fails (never skips) when the DC from `testenv/samba-dc.sh start` is not there.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::Daemon;

/// The Samba DC's testenv.json; a missing DC fails the test (never a skip).
fn testenv() -> serde_json::Value {
    common::TestEnv::samba_dc().json
}

fn start(dir: &Path, env: &serde_json::Value, extra: &[(&str, String)]) -> Daemon {
    start_with(
        dir,
        env,
        extra,
        Some(env["dc_host"].as_str().unwrap()),
        None,
    )
}

/// Starts the daemon; `dc` is passed as `--dc` (`None`: the environment decides), `log` receives
/// its stderr (else inherited).
fn start_with(
    dir: &Path,
    env: &serde_json::Value,
    extra: &[(&str, String)],
    dc: Option<&str>,
    log: Option<&Path>,
) -> Daemon {
    let socket = dir.join("cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    if let Some(dc) = dc {
        cmd.args(["--dc", dc]);
    }
    cmd.env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(match log {
            Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
            None => Stdio::inherit(),
        });
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Daemon::spawn(cmd, &socket)
}

fn spec(env: &serde_json::Value) -> String {
    common::credspec(
        env["gmsa"]["name"].as_str().unwrap(),
        env["domain"].as_str().unwrap(),
        env["netbios_domain"].as_str().unwrap(),
    )
}

fn klist(env: &serde_json::Value, dir: &str) -> String {
    common::klist_lease(env["krb5_conf"].as_str().unwrap(), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domainless_add_renew_delete_and_100_concurrent() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &env, &[]);
    let user = env["users"]["reader"]["name"].as_str().unwrap().to_string();
    let password =
        std::fs::read_to_string(env["users"]["reader"]["password_file"].as_str().unwrap()).unwrap();
    let domain = env["domain"].as_str().unwrap().to_string();
    let mut c = connect(&d.socket).await.unwrap();
    let req = CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![spec(&env)],
        username: user.clone(),
        password: password.clone(),
        domain: domain.clone(),
    };
    let added = c
        .add_non_domain_joined_kerberos_lease(req.clone())
        .await
        .unwrap()
        .into_inner();
    let path = &added.created_kerberos_file_paths[0];
    assert!(klist(&env, path).contains(env["gmsa"]["principal"].as_str().unwrap()));

    let renewed = c
        .renew_non_domain_joined_kerberos_lease(RenewNonDomainJoinedKerberosLeaseRequest {
            username: user.clone(),
            password: password.clone(),
            domain: domain.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        renewed.renewed_kerberos_file_paths,
        added.created_kerberos_file_paths
    );

    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (mut c, req) = (c.clone(), req.clone());
        set.spawn(async move {
            c.add_non_domain_joined_kerberos_lease(req)
                .await
                .map(|r| r.into_inner().lease_id)
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = set.join_next().await {
        ids.push(r.unwrap().unwrap());
    }
    eprintln!("100 concurrent domainless adds: {:?}", t.elapsed());
    for id in ids.into_iter().chain([added.lease_id.clone()]) {
        c.delete_kerberos_lease(DeleteKerberosLeaseRequest {
            lease_id: id.clone(),
        })
        .await
        .unwrap();
        assert!(!dir.path().join("krbdir").join(&id).exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_joined_add_with_machine_keytab() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let kt = env["machine"]["keytab"].as_str().unwrap().to_string();
    let d = start(dir.path(), &env, &[("KRB5_KTNAME", kt)]);
    let mut c = connect(&d.socket).await.unwrap();
    let added = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: vec![spec(&env)],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        klist(&env, &added.created_kerberos_file_paths[0])
            .contains(env["gmsa"]["principal"].as_str().unwrap())
    );
    c.delete_kerberos_lease(DeleteKerberosLeaseRequest {
        lease_id: added.lease_id.clone(),
    })
    .await
    .unwrap();
}

/// The domainless request for the gMSA with the reader user.
fn domainless_req(env: &serde_json::Value) -> CreateNonDomainJoinedKerberosLeaseRequest {
    CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![spec(env)],
        username: env["users"]["reader"]["name"].as_str().unwrap().into(),
        password: std::fs::read_to_string(
            env["users"]["reader"]["password_file"].as_str().unwrap(),
        )
        .unwrap(),
        domain: env["domain"].as_str().unwrap().into(),
    }
}

/// (inode, authtime, starttime, endtime) of a ccache's first ticket.
fn ccache_state(path: &Path) -> Option<(u64, u32, u32, u32)> {
    use std::os::unix::fs::MetadataExt as _;
    let ino = std::fs::metadata(path).ok()?.ino();
    let cc = ccache::Ccache::read(path).ok()?;
    let t = cc.tickets().next()?;
    Some((ino, t.authtime, t.starttime, t.endtime))
}

/// Renewal with the real DC replaces krb5cc atomically under a reader that holds the ticket
/// directory open (as a container's bind mount does): new inode and ticket times at least twice,
/// MIT klist always reads it, the reader never sees a missing or partial file, no temp files stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_replaces_ccache_under_an_open_directory() {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::io::AsRawFd as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &env, &[("CF_TEST_RENEW_SECS", "1".into())]);
    let mut c = connect(&d.socket).await.unwrap();
    let added = c
        .add_non_domain_joined_kerberos_lease(domainless_req(&env))
        .await
        .unwrap()
        .into_inner();
    let tdir = PathBuf::from(&added.created_kerberos_file_paths[0]);
    // The directory held open; its krb5cc reached through the open fd, not the path.
    let held = std::fs::File::open(&tdir).unwrap();
    let dir_ino = held.metadata().unwrap().ino();
    let via_fd = PathBuf::from(format!(
        "/proc/{}/fd/{}/krb5cc",
        std::process::id(),
        held.as_raw_fd()
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = std::thread::spawn({
        let (stop, p) = (stop.clone(), via_fd.clone());
        move || {
            let (mut reads, mut failures) = (0u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match ccache::Ccache::read(&p) {
                    Ok(cc) if cc.tickets().next().is_some() => reads += 1,
                    Ok(_) => failures.push("a ccache without a ticket".to_string()),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (reads, failures)
        }
    });
    let (mut inode_changes, mut time_changes, mut klists) = (0, 0, 0);
    let mut last = ccache_state(&via_fd).expect("the first ccache");
    let t = Instant::now();
    while (inode_changes < 2 || time_changes < 2) && t.elapsed() < Duration::from_secs(30) {
        let out = klist(&env, via_fd.parent().unwrap().to_str().unwrap());
        assert!(
            out.contains(env["gmsa"]["principal"].as_str().unwrap()),
            "{out}"
        );
        klists += 1;
        assert_eq!(
            std::fs::metadata(&tdir).unwrap().ino(),
            dir_ino,
            "the ticket directory itself is never replaced"
        );
        let now = ccache_state(&via_fd).expect("krb5cc readable through the held directory");
        if now.0 != last.0 {
            inode_changes += 1;
        }
        if (now.1, now.2, now.3) != (last.1, last.2, last.3) {
            time_changes += 1;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (reads, failures) = reader.join().unwrap();
    eprintln!(
        "{inode_changes} replacements, {time_changes} new ticket times, {klists} klists, {reads} reads in {:?}",
        t.elapsed()
    );
    assert!(
        inode_changes >= 2 && time_changes >= 2,
        "renewed too rarely: {inode_changes} new inodes, {time_changes} new ticket times"
    );
    assert!(failures.is_empty(), "the reader failed: {failures:?}");
    assert!(reads > 0);
    // No temporary file stays: any seen now is gone once the write in progress has finished.
    let lease_dir = tdir.parent().unwrap().to_path_buf();
    for d in [&tdir, &lease_dir] {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let expected = name == "krb5cc"
                || e.path() == tdir
                || name == format!("{}_metadata.json", added.lease_id);
            if !expected {
                std::thread::sleep(Duration::from_millis(500));
                assert!(!e.path().exists(), "left behind: {}", e.path().display());
            }
        }
    }
    c.delete_kerberos_lease(DeleteKerberosLeaseRequest {
        lease_id: added.lease_id.clone(),
    })
    .await
    .unwrap();
    assert!(!lease_dir.exists());
}

/// Twenty leases of one gMSA, ten at once on a cold daemon then ten one after another, cost one
/// LDAP read of msDS-ManagedPassword (counted in the daemon's info log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_of_one_gmsa_cost_one_ldap_read() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let dc = env["dc_host"].as_str().unwrap();
    let d = start_with(dir.path(), &env, &[], Some(dc), Some(&log));
    let c = connect(&d.socket).await.unwrap();
    let req = domainless_req(&env);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (mut c, req) = (c.clone(), req.clone());
        set.spawn(async move {
            c.add_non_domain_joined_kerberos_lease(req)
                .await
                .map(|r| r.into_inner().lease_id)
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = set.join_next().await {
        ids.push(r.unwrap().unwrap());
    }
    for _ in 0..10 {
        ids.push(
            c.clone()
                .add_non_domain_joined_kerberos_lease(req.clone())
                .await
                .unwrap()
                .into_inner()
                .lease_id,
        );
    }
    let sam = env["gmsa"]["sam"].as_str().unwrap();
    let read_line = format!("read msDS-ManagedPassword of {sam} from DC ");
    assert_eq!(
        common::count_in_log(&log, "lease created"),
        20,
        "the log is on"
    );
    assert_eq!(
        common::count_in_log(&log, &read_line),
        1,
        "LDAP reads for 20 leases:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    for id in ids {
        c.clone()
            .delete_kerberos_lease(DeleteKerberosLeaseRequest { lease_id: id })
            .await
            .unwrap();
    }
}

/// HealthCheck answers OK within 1 s (the hanging DC's LDAP timeout is 10 s; the bound is loose
/// so a loaded 2-core CI machine does not make it flaky), ten times in a row, while `add` is
/// pending; returns `add`'s output if it ended during the checks.
async fn healthy_during<F>(socket: &Path, add: &mut std::pin::Pin<&mut F>) -> Option<F::Output>
where
    F: std::future::Future,
{
    let mut h = connect(socket).await.unwrap();
    for i in 0..10 {
        tokio::select! {
            r = add.as_mut() => return Some(r),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        let t = Instant::now();
        let status = tokio::time::timeout(
            HEALTH_BOUND,
            h.health_check(HealthCheckRequest {
                service: "cf".into(),
            }),
        )
        .await
        .unwrap_or_else(|_| panic!("HealthCheck #{i} took over {HEALTH_BOUND:?}"))
        .unwrap()
        .into_inner()
        .status;
        assert_eq!(status, "OK");
        assert!(t.elapsed() < HEALTH_BOUND);
    }
    None
}

const HEALTH_BOUND: Duration = Duration::from_secs(1);

/// The daemon stays healthy while an add waits on a DC that does not answer: a closed port
/// (DOMAIN_CONTROLLER_GMSA=127.0.0.1:<closed>; the add fails as UNAVAILABLE) and a DC that accepts
/// the connection and never replies (the add is still in flight during the health checks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_while_an_add_waits_on_an_unreachable_dc() {
    let env = testenv();
    // Closed port: bound then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = start_with(
        dir.path(),
        &env,
        &[("DOMAIN_CONTROLLER_GMSA", closed.to_string())],
        None,
        None,
    );
    let mut c = connect(&d.socket).await.unwrap();
    let add = c.add_non_domain_joined_kerberos_lease(domainless_req(&env));
    tokio::pin!(add);
    let t = Instant::now();
    let e = match healthy_during(&d.socket, &mut add).await {
        Some(r) => r,
        None => tokio::time::timeout(Duration::from_secs(30), add)
            .await
            .expect("the add ends"),
    }
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
    eprintln!("closed port: {e:?} after {:?}", t.elapsed());
    assert_eq!(
        std::fs::read_dir(dir.path().join("krbdir"))
            .unwrap()
            .count(),
        0,
        "nothing left behind"
    );

    // A DC that accepts and never answers, under the DC's own name (so the LDAP SPN is valid).
    let silent =
        std::net::TcpListener::bind(format!("{}:0", env["dc_ip"].as_str().unwrap())).unwrap();
    let port = silent.local_addr().unwrap().port();
    let dir2 = tempfile::tempdir().unwrap();
    let dc = format!("{}:{port}", env["dc_host"].as_str().unwrap());
    let d2 = start_with(
        dir2.path(),
        &env,
        &[("DOMAIN_CONTROLLER_GMSA", dc)],
        None,
        None,
    );
    let mut c2 = connect(&d2.socket).await.unwrap();
    let add = c2.add_non_domain_joined_kerberos_lease(domainless_req(&env));
    tokio::pin!(add);
    assert!(
        healthy_during(&d2.socket, &mut add).await.is_none(),
        "the add against a silent DC ended before the health checks"
    );
    let e = tokio::time::timeout(Duration::from_secs(60), add)
        .await
        .expect("the add ends (the daemon's 15 s RPC deadline, before the LDAP timeout)")
        .unwrap_err();
    // Retried by the agent like UNAVAILABLE; nothing was created.
    assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e:?}");
    assert_eq!(d2.leases(), Vec::<String>::new(), "nothing left behind");
    drop(silent);
}

/// The daemon on a host whose own resolver knows nothing of the AD domain (an empty
/// `/etc/hosts` and a `/etc/resolv.conf` naming a loopback address where nothing listens, in a
/// private mount namespace), with `CF_DNS_SERVER` and a krb5.conf without KDCs: the DCs, the KDCs
/// and their host names all come from that server; a lease is added, read by MIT klist, deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cf_dns_server_alone_when_the_system_resolver_knows_no_dc() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let no_ad = common::NoAdNames::new(dir.path());
    let socket = dir.path().join("cf.sock");
    let krbdir = dir.path().join("krbdir");
    let daemon = Daemon::command(&socket, &krbdir);
    let mut cmd = no_ad.command(daemon.get_program());
    cmd.args(daemon.get_args());
    for (k, v) in daemon.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env("CF_DNS_SERVER", env["dns"].as_str().unwrap())
        .stdout(Stdio::null());
    let d = Daemon::spawn(cmd, &socket);
    let mut c = connect(&d.socket).await.unwrap();
    let added = c
        .add_non_domain_joined_kerberos_lease(domainless_req(&env))
        .await
        .expect("a lease with CF_DNS_SERVER alone")
        .into_inner();
    let path = &added.created_kerberos_file_paths[0];
    assert!(klist(&env, path).contains(env["gmsa"]["principal"].as_str().unwrap()));
    common::delete_lease(&mut c, &added).await;
}
