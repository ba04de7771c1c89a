//! The review findings of issue 9, each against the real Samba AD DC
//! (`testenv/samba-dc.sh start`): the configured DN must name the credspec's gMSA, file modes
//! of lease metadata and directories, world-readable ccache modes refused at start, caches
//! released after the last delete, and leases whose renewal fails named by `gmsa lease health`.
//! Fails (never skips) when the DC is not there.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::Path;
use tonic::Code;

mod common;
use common::Daemon;
use common::proxy::{Faults, Proxy};

/// The Samba DC's testenv.json; a missing DC fails the test (never a skip).
fn testenv() -> serde_json::Value {
    common::TestEnv::samba_dc().json
}

/// Starts the daemon against the DC with `extra` in its environment; its log goes to
/// `dir/daemon.log`.
fn start(dir: &Path, env: &serde_json::Value, extra: &[(&str, String)]) -> Daemon {
    start_dc(dir, env, env["dc_host"].as_str().unwrap(), extra)
}

/// [`start`] with `--dc dc`.
fn start_dc(dir: &Path, env: &serde_json::Value, dc: &str, extra: &[(&str, String)]) -> Daemon {
    let socket = dir.join("cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    cmd.args(["--dc", dc])
        .env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap());
    common::log_to_file(&mut cmd, dir);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Daemon::spawn(cmd, &socket)
}

/// [`start`] with the DC's LDAP port behind a fault proxy (no faults yet) on a free port of the
/// DC's own address, so the service ticket stays `ldap/<dc name>`.
async fn start_behind_ldap_proxy(
    dir: &Path,
    env: &serde_json::Value,
    extra: &[(&str, String)],
) -> (Proxy, Daemon) {
    let ldap = Proxy::start(
        "127.0.0.2:0".parse().unwrap(),
        "127.0.0.2:389".parse().unwrap(),
        Faults::default(),
    )
    .await;
    let dc = format!(
        "{}:{}",
        env["dc_host"].as_str().unwrap(),
        ldap.addr().port()
    );
    let d = start_dc(dir, env, &dc, extra);
    (ldap, d)
}

fn spec_for(env: &serde_json::Value, gmsa: &str) -> String {
    common::credspec(
        gmsa,
        env["domain"].as_str().unwrap(),
        env["netbios_domain"].as_str().unwrap(),
    )
}

/// A domainless add request of the testenv's reader user for the gMSA `gmsa`.
fn domainless(env: &serde_json::Value, gmsa: &str) -> CreateNonDomainJoinedKerberosLeaseRequest {
    let password =
        std::fs::read_to_string(env["users"]["reader"]["password_file"].as_str().unwrap()).unwrap();
    CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![spec_for(env, gmsa)],
        username: env["users"]["reader"]["name"].as_str().unwrap().into(),
        password: password.trim_end_matches('\n').into(),
        domain: env["domain"].as_str().unwrap().into(),
    }
}

/// CF_GMSA_DISTINGUISHED_NAME names the DC's gMSA WebApp01: a credspec naming WebApp01 in
/// another case works; a credspec naming another gMSA fails FAILED_PRECONDITION with a message
/// naming both accounts, and no lease (no TGT of WebApp01 under the other name) is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_dn_must_name_the_credspec_gmsa() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let dn = env["gmsa"]["dn"].as_str().unwrap().to_string();
    let d = start(
        dir.path(),
        &env,
        &[("CF_GMSA_DISTINGUISHED_NAME", dn.clone())],
    );
    let mut c = connect(&d.socket).await.unwrap();
    let lower = env["gmsa"]["name"].as_str().unwrap().to_ascii_lowercase();
    let ok = c
        .add_non_domain_joined_kerberos_lease(domainless(&env, &lower))
        .await
        .expect("the DN names this gMSA (case-insensitively)")
        .into_inner();
    let e = c
        .add_non_domain_joined_kerberos_lease(domainless(&env, "OtherGmsa01"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    let msg = e.message();
    assert!(
        msg.contains(env["gmsa"]["sam"].as_str().unwrap())
            && msg.contains("OtherGmsa01$")
            && msg.contains(&dn),
        "names both accounts and the DN: {msg}"
    );
    assert_eq!(
        d.leases(),
        vec![ok.lease_id.clone()],
        "nothing else written"
    );
    assert!(common::daemon_log(dir.path()).contains("OtherGmsa01$"));
}

/// A reply on the kept LDAP session that does not unseal (one byte flipped by the fault proxy
/// in front of the DC's LDAP port) fails that read and drops the session: the next read opens
/// and binds a new one instead of reusing the poisoned session. Password blobs are not cached
/// (`CF_TEST_PASSWORD_CACHE_SECS=0`), so every add reads over LDAP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_ldap_reply_drops_the_kept_session() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let (ldap, d) = start_behind_ldap_proxy(
        dir.path(),
        &env,
        &[("CF_TEST_PASSWORD_CACHE_SECS", "0".into())],
    )
    .await;
    let mut c = connect(&d.socket).await.unwrap();
    let gmsa = env["gmsa"]["name"].as_str().unwrap();
    let log = dir.path().join("daemon.log");
    let opened = || common::count_in_log(&log, "LDAP session opened");
    c.add_non_domain_joined_kerberos_lease(domainless(&env, gmsa))
        .await
        .expect("first add");
    c.add_non_domain_joined_kerberos_lease(domainless(&env, gmsa))
        .await
        .expect("second add, on the kept session");
    assert_eq!(opened(), 1, "the session is kept while healthy");
    ldap.set(Faults {
        corrupt_replies: 1,
        ..Faults::default()
    });
    let e = c
        .add_non_domain_joined_kerberos_lease(domainless(&env, gmsa))
        .await
        .unwrap_err();
    assert_eq!(ldap.corrupted(), 1, "one reply corrupted");
    eprintln!("the add with the corrupted reply: {e:?}");
    assert!(
        common::daemon_log(dir.path()).contains("LDAP session dropped after an error"),
        "logged"
    );
    c.add_non_domain_joined_kerberos_lease(domainless(&env, gmsa))
        .await
        .expect("the next add works on a fresh session");
    assert_eq!(opened(), 2, "a new session was opened after the error");
    assert_eq!(d.leases().len(), 3);
}

/// `(mode & 0o7777, gid)` of `path`.
fn mode_gid(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.mode() & 0o7777, m.gid())
}

/// Lease directories are 0750 and metadata files 0600, with the group of CF_KRB5CC_GID when
/// it is set (as the ccache's); a lease written with the old modes (0755 directory, 0644
/// metadata) is adopted at start, given the new modes and renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_files_modes_with_and_without_the_ccache_group() {
    let env = testenv();
    let gmsa = env["gmsa"]["name"].as_str().unwrap();
    let own_gid = {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata("/proc/self").unwrap().gid()
    };
    for (gid, mode) in [(None, 0o600), (Some(4242u32), 0o640)] {
        let dir = tempfile::tempdir().unwrap();
        let mut extra = vec![("CF_KRB5CC_MODE", format!("{mode:o}"))];
        if let Some(g) = gid {
            extra.push(("CF_KRB5CC_GID", g.to_string()));
        }
        let d = start(dir.path(), &env, &extra);
        let mut c = connect(&d.socket).await.unwrap();
        let added = c
            .add_non_domain_joined_kerberos_lease(domainless(&env, gmsa))
            .await
            .unwrap()
            .into_inner();
        let group = gid.unwrap_or(own_gid);
        let lease_dir = d.krbdir.join(&added.lease_id);
        let ticket_dir = Path::new(&added.created_kerberos_file_paths[0]).to_path_buf();
        let metadata = lease_dir.join(format!("{}_metadata.json", added.lease_id));
        assert_eq!(
            mode_gid(&lease_dir),
            (0o750, group),
            "lease dir, gid {gid:?}"
        );
        assert_eq!(
            mode_gid(&ticket_dir),
            (0o750, group),
            "ticket dir, gid {gid:?}"
        );
        assert_eq!(mode_gid(&metadata), (0o600, group), "metadata, gid {gid:?}");
        assert_eq!(
            mode_gid(&ticket_dir.join("krb5cc")),
            (mode, group),
            "ccache, gid {gid:?}"
        );
        // The modes an older version wrote; then a restart adopts the lease.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&lease_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&ticket_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&metadata, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::chown(&lease_dir, None, Some(own_gid)).unwrap();
        drop(c);
        drop(d);
        let d = start(dir.path(), &env, &extra);
        assert_eq!(mode_gid(&lease_dir), (0o750, group), "adopted lease dir");
        assert_eq!(mode_gid(&ticket_dir), (0o750, group), "adopted ticket dir");
        assert_eq!(mode_gid(&metadata), (0o600, group), "adopted metadata");
        let mut c = connect(&d.socket).await.unwrap();
        let req = domainless(&env, gmsa);
        let renewed = c
            .renew_non_domain_joined_kerberos_lease(RenewNonDomainJoinedKerberosLeaseRequest {
                username: req.username,
                password: req.password,
                domain: req.domain,
            })
            .await
            .expect("the adopted lease renews")
            .into_inner();
        assert_eq!(
            renewed.renewed_kerberos_file_paths,
            added.created_kerberos_file_paths
        );
        assert_eq!(mode_gid(&ticket_dir.join("krb5cc")), (mode, group));
    }
}

/// A ccache mode that lets "other" read is refused at start (exit 2, a message naming the
/// force setting) unless CF_KRB5CC_MODE_ALLOW_WORLD_READABLE=1; forced, the daemon serves and
/// writes 0644 ccaches in 0755 directories.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_readable_ccache_modes_are_refused_unless_forced() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cf.sock");
    let out = Daemon::command(&socket, &dir.path().join("krbdir"))
        .env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap())
        .env("CF_KRB5CC_MODE", "0644")
        .env_remove("CF_KRB5CC_MODE_ALLOW_WORLD_READABLE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("CF_KRB5CC_MODE_ALLOW_WORLD_READABLE=1") && stderr.contains("other"),
        "{stderr}"
    );
    assert!(!socket.exists(), "never served");
    // The flag form too.
    let out = Daemon::command(&socket, &dir.path().join("krbdir"))
        .args(["--ccache-mode", "604"])
        .env_remove("CF_KRB5CC_MODE_ALLOW_WORLD_READABLE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let d = start(
        dir.path(),
        &env,
        &[
            ("CF_KRB5CC_MODE", "0644".into()),
            ("CF_KRB5CC_MODE_ALLOW_WORLD_READABLE", "1".into()),
        ],
    );
    let mut c = connect(&d.socket).await.unwrap();
    let added = c
        .add_non_domain_joined_kerberos_lease(domainless(
            &env,
            env["gmsa"]["name"].as_str().unwrap(),
        ))
        .await
        .unwrap()
        .into_inner();
    let ticket_dir = Path::new(&added.created_kerberos_file_paths[0]);
    assert_eq!(mode_gid(&ticket_dir.join("krb5cc")).0, 0o644);
    assert_eq!(mode_gid(ticket_dir).0, 0o755);
    assert_eq!(mode_gid(&d.krbdir.join(&added.lease_id)).0, 0o755);
    assert!(
        common::daemon_log(dir.path()).contains("CF_KRB5CC_MODE_ALLOW_WORLD_READABLE=1"),
        "the forced mode is logged"
    );
}

/// The caches (known passwords, login TGTs, password blobs, gMSA TGTs, LDAP sessions, derived
/// keys) are emptied when the last lease is deleted, against the real DC through the library
/// the daemon runs (test accessor [`Manager::cache_sizes`]); a lease added afterwards logs in and
/// reads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_are_empty_after_the_last_delete() {
    use credentials_fetcherd::server::kerberos::KerberosSource;
    use credentials_fetcherd::server::manager::{
        LeaseLogin, Manager, ManagerConfig, secret_string,
    };
    use credentials_fetcherd::server::secret::DomainlessCreds;
    use credentials_fetcherd::server::specs::LeaseSpecs;
    use std::sync::Arc;
    let env = testenv();
    let conf =
        krb5_proto::config::Krb5Conf::load(Path::new(env["krb5_conf"].as_str().unwrap())).unwrap();
    let client =
        krb5_proto::client::Client::new(conf).with_timeout(std::time::Duration::from_secs(5));
    let src = Arc::new(KerberosSource::new(
        client,
        msds_gmsa::FetchOptions {
            dc: Some(env["dc_host"].as_str().unwrap().into()),
            ..msds_gmsa::FetchOptions::default()
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    let m = Manager::new(
        ManagerConfig::new(dir.path().join("krbdir")),
        src.clone(),
        None,
    );
    m.recover().unwrap();
    let req = domainless(&env, env["gmsa"]["name"].as_str().unwrap());
    let login = || {
        LeaseLogin::Domainless(
            DomainlessCreds::new(
                &req.username,
                secret_string(req.password.clone()),
                &req.domain,
            )
            .unwrap(),
        )
    };
    let add = || async {
        m.add(
            LeaseSpecs::parse(&req.credspec_contents).unwrap(),
            login(),
            None,
        )
        .await
        .unwrap()
        .commit()
        .unwrap()
        .lease_id
    };
    for round in 0..2 {
        let a = add().await;
        let b = add().await;
        let (users, sizes) = m.cache_sizes();
        assert_eq!(users, 1, "round {round}");
        assert!(
            sizes.tgts == 1 && sizes.passwords == 1 && sizes.gmsa_tgts == 1 && sizes.readers == 1,
            "round {round}: {sizes:?}"
        );
        m.delete(&a).await.unwrap();
        let (users, sizes) = m.cache_sizes();
        assert_eq!(users, 1, "one lease left: kept");
        assert!(!sizes.is_empty(), "one lease left: kept ({sizes:?})");
        m.delete(&b).await.unwrap();
        let (users, sizes) = m.cache_sizes();
        assert_eq!(users, 0, "round {round}: no password kept");
        assert!(sizes.is_empty(), "round {round}: {sizes:?}");
        assert_eq!(src.cache_sizes(), sizes);
    }
    assert_eq!(src.user_logins(), 2, "the second round logged in again");
    m.shutdown();
}

/// `gmsa lease health --krbdir <krbdir>` against the daemon's socket: (exit success, stdout).
fn lease_health(d: &Daemon) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gmsa"))
        .args(["lease", "--socket"])
        .arg(&d.socket)
        .args(["health", "--krbdir"])
        .arg(&d.krbdir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A lease whose renewal keeps failing (the DC's LDAP port behind the fault proxy, which then
/// closes every connection) is named by `gmsa lease health` (exit 1) and `gmsa lease list`,
/// logged at warn once (not per retry), while HealthCheck still answers "OK"; when the DC is
/// back the renewal recovers, logged once, and health is clean again. Renewals every second
/// (`CF_TEST_RENEW_SECS=1`, retries 1 s apart), password blobs not cached, so every renewal
/// reads over LDAP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_renewal_is_named_by_health_list_and_the_log() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let (ldap, d) = start_behind_ldap_proxy(
        dir.path(),
        &env,
        &[
            ("CF_TEST_PASSWORD_CACHE_SECS", "0".into()),
            ("CF_TEST_RENEW_SECS", "1".into()),
        ],
    )
    .await;
    let mut c = connect(&d.socket).await.unwrap();
    let gmsa = env["gmsa"]["name"].as_str().unwrap();
    let added = c
        .add_non_domain_joined_kerberos_lease(domainless(&env, gmsa))
        .await
        .unwrap()
        .into_inner();
    let id = added.lease_id.clone();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(lease_health(&d), (true, "OK\n".into()), "renewing normally");

    // Every connection to the DC's LDAP port is closed from now on.
    ldap.set(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let log = dir.path().join("daemon.log");
    let t = std::time::Instant::now();
    while common::count_in_log(&log, "renewal failing") == 0 {
        assert!(t.elapsed().as_secs() < 30, "the renewal never failed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // At least three more retries.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let (ok, out) = lease_health(&d);
    assert!(!ok, "exit 1 with a failing lease: {out}");
    let line = out
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("the lease is named: {out}"));
    assert!(
        line.contains(gmsa) && line.contains("renewal: failing since "),
        "{line}"
    );
    assert_eq!(
        out.lines().next(),
        Some("OK"),
        "HealthCheck stays OK: {out}"
    );
    assert!(common::healthy(&d.socket).await, "HealthCheck answers OK");
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_gmsa"))
        .args(["lease", "list", "--krbdir"])
        .arg(&d.krbdir)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.contains("renewal: failing since ")),
        "{list}"
    );
    let text = common::daemon_log(dir.path());
    let failed_again = text.matches("renewal failed again").count();
    assert_eq!(
        common::count_in_log(&log, "renewal failing"),
        1,
        "warned once, not per retry:\n{text}"
    );
    assert_eq!(
        failed_again, 0,
        "retries are logged at debug only (RUST_LOG=info)"
    );

    // The DC is back: renewed, logged once, health clean.
    ldap.set(Faults::default());
    let t = std::time::Instant::now();
    while common::count_in_log(&log, "renewal recovered") == 0 {
        assert!(t.elapsed().as_secs() < 30, "the renewal never recovered");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(lease_health(&d), (true, "OK\n".into()));
    assert_eq!(common::count_in_log(&log, "renewal recovered"), 1);
    assert_eq!(common::count_in_log(&log, "renewal failing"), 1);
}
