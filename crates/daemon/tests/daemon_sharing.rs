//! Sharing of the gMSA's TGT between leases, against the real Samba AD DC
//! (testenv/samba-dc.sh start): many leases of one gMSA cost one AS exchange as the gMSA, a
//! renewal still gets a ticket that ends later, the caches are per login (a user who may not read
//! the password, or a wrong password, is refused while another login's entries are warm), and
//! leases survive SIGKILL with their tickets readable.
//! Fails (never skips) when the DC is not there.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::Daemon;

fn testenv() -> serde_json::Value {
    common::TestEnv::samba_dc().json
}

/// Starts the daemon on `dir` (krbdir and socket inside), its stderr appended to `log`.
fn start(dir: &Path, env: &serde_json::Value, extra: &[(&str, &str)], log: &Path) -> Daemon {
    let socket = dir.join("cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    cmd.args(["--dc", env["dc_host"].as_str().unwrap()])
        .env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        ));
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

/// A domainless request as `user` (a key of testenv.json's "users"), `password` overriding theirs.
fn req(
    env: &serde_json::Value,
    user: &str,
    password: Option<&str>,
) -> CreateNonDomainJoinedKerberosLeaseRequest {
    let u = &env["users"][user];
    CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![spec(env)],
        username: u["name"].as_str().unwrap().into(),
        password: match password {
            Some(p) => p.into(),
            None => std::fs::read_to_string(u["password_file"].as_str().unwrap()).unwrap(),
        },
        domain: env["domain"].as_str().unwrap().into(),
    }
}

/// (starttime, endtime) of the ccache's ticket in a ticket directory.
fn times(dir: &str) -> (u32, u32) {
    let cc = ccache::Ccache::read(&Path::new(dir).join("krb5cc")).unwrap();
    let t = cc.tickets().next().expect("a ticket");
    (t.starttime, t.endtime)
}

fn klist_ok(env: &serde_json::Value, dir: &str) {
    let s = common::klist_lease(env["krb5_conf"].as_str().unwrap(), dir);
    assert!(
        s.contains(env["gmsa"]["principal"].as_str().unwrap()),
        "{s}"
    );
}

/// Ten adds at once on a fresh daemon, then ten one after another: one LDAP read and one AS
/// exchange as the gMSA for all twenty, every lease holding the same (valid) ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_of_one_gmsa_share_one_gmsa_login() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let d = start(dir.path(), &env, &[], &log);
    let c = connect(&d.socket).await.unwrap();
    let r = req(&env, "reader", None);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (mut c, r) = (c.clone(), r.clone());
        set.spawn(async move {
            c.add_non_domain_joined_kerberos_lease(r)
                .await
                .map(|r| r.into_inner())
        });
    }
    let mut added = Vec::new();
    while let Some(r) = set.join_next().await {
        added.push(r.unwrap().unwrap());
    }
    for _ in 0..10 {
        added.push(
            c.clone()
                .add_non_domain_joined_kerberos_lease(r.clone())
                .await
                .unwrap()
                .into_inner(),
        );
    }
    let sam = env["gmsa"]["sam"].as_str().unwrap();
    let realm = env["realm"].as_str().unwrap();
    assert_eq!(
        common::count_in_log(&log, "lease created"),
        20,
        "the log is on"
    );
    let logins = common::count_in_log(&log, &format!("logged in as the gMSA {sam}@{realm}"));
    assert_eq!(
        logins,
        1,
        "gMSA AS exchanges for 20 leases:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert_eq!(
        common::count_in_log(
            &log,
            &format!("read msDS-ManagedPassword of {sam} from DC ")
        ),
        1
    );
    let first = times(&added[0].created_kerberos_file_paths[0]);
    for a in &added {
        assert_eq!(
            times(&a.created_kerberos_file_paths[0]),
            first,
            "one shared ticket"
        );
    }
    klist_ok(&env, &added[19].created_kerberos_file_paths[0]);
    for a in added {
        c.clone()
            .delete_kerberos_lease(DeleteKerberosLeaseRequest {
                lease_id: a.lease_id,
            })
            .await
            .unwrap();
    }
}

/// Two leases sharing one ticket are renewed (every 2 s here, far earlier than the 50-75% of
/// life of production): each renewal gives a ticket that ends later than the one it replaces,
/// never the shared ticket it already has. The explicit RenewNonDomainJoinedKerberosLease RPC too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_gets_a_later_ticket_though_tickets_are_shared() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let d = start(dir.path(), &env, &[("CF_TEST_RENEW_SECS", "2")], &log);
    let mut c = connect(&d.socket).await.unwrap();
    let r = req(&env, "reader", None);
    let a = c
        .add_non_domain_joined_kerberos_lease(r.clone())
        .await
        .unwrap()
        .into_inner();
    let b = c
        .add_non_domain_joined_kerberos_lease(r.clone())
        .await
        .unwrap()
        .into_inner();
    let (pa, pb) = (
        a.created_kerberos_file_paths[0].clone(),
        b.created_kerberos_file_paths[0].clone(),
    );
    let t0 = times(&pa);
    assert_eq!(times(&pb), t0, "shared at creation");
    // KDC times have a one-second resolution: make sure a new ticket ends later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let renewed = c
        .renew_non_domain_joined_kerberos_lease(RenewNonDomainJoinedKerberosLeaseRequest {
            username: r.username.clone(),
            password: r.password.clone(),
            domain: r.domain.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renewed.renewed_kerberos_file_paths.len(), 2);
    let (ta, tb) = (times(&pa), times(&pb));
    assert!(
        ta.1 > t0.1 && tb.1 > t0.1,
        "renew RPC: {t0:?} -> {ta:?} {tb:?}"
    );
    // Timer renewals: wait for two more changes of each lease's ticket, each ending later.
    let (mut last_a, mut last_b, mut na, mut nb) = (ta, tb, 0, 0);
    let t = Instant::now();
    while (na < 2 || nb < 2) && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (xa, xb) = (times(&pa), times(&pb));
        if xa != last_a {
            assert!(xa.1 >= last_a.1, "{last_a:?} -> {xa:?}");
            na += 1;
            last_a = xa;
        }
        if xb != last_b {
            assert!(xb.1 >= last_b.1, "{last_b:?} -> {xb:?}");
            nb += 1;
            last_b = xb;
        }
    }
    assert!(
        na >= 2 && nb >= 2,
        "renewals seen: {na} and {nb}\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(last_a.1 > ta.1 && last_b.1 > tb.1);
    klist_ok(&env, &pa);
    for id in [a.lease_id, b.lease_id] {
        c.delete_kerberos_lease(DeleteKerberosLeaseRequest { lease_id: id })
            .await
            .unwrap();
    }
}

/// The caches belong to a login: while the reader's password, blob and gMSA ticket are cached, a
/// wrong password for the reader and a user who may not read the password are both refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_caches_do_not_let_other_logins_in() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let d = start(dir.path(), &env, &[], &log);
    let mut c = connect(&d.socket).await.unwrap();
    let ok = c
        .add_non_domain_joined_kerberos_lease(req(&env, "reader", None))
        .await
        .unwrap()
        .into_inner();
    let e = c
        .add_non_domain_joined_kerberos_lease(req(&env, "reader", Some("not-the-password")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e}");
    let e = c
        .add_non_domain_joined_kerberos_lease(req(&env, "denied", None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e}");
    // The reader still gets leases from the warm caches.
    let again = c
        .add_non_domain_joined_kerberos_lease(req(&env, "reader", None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        common::count_in_log(&log, "lease created"),
        2,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    for id in [ok.lease_id, again.lease_id] {
        c.delete_kerberos_lease(DeleteKerberosLeaseRequest { lease_id: id })
            .await
            .unwrap();
    }
}

/// Leases written without fsync of their ccache survive SIGKILL: after a restart their tickets
/// are readable by MIT klist and the leases are deletable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_survive_sigkill_with_readable_tickets() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let mut d = start(dir.path(), &env, &[], &log);
    let mut c = connect(&d.socket).await.unwrap();
    let mut added = Vec::new();
    for _ in 0..5 {
        added.push(
            c.add_non_domain_joined_kerberos_lease(req(&env, "reader", None))
                .await
                .unwrap()
                .into_inner(),
        );
    }
    drop(c);
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    drop(d);
    let d = start(dir.path(), &env, &[], &log);
    let mut c = connect(&d.socket).await.unwrap();
    for a in added {
        let p = &a.created_kerberos_file_paths[0];
        klist_ok(&env, p);
        let gone = c
            .delete_kerberos_lease(DeleteKerberosLeaseRequest {
                lease_id: a.lease_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            gone.deleted_kerberos_file_paths,
            a.created_kerberos_file_paths
        );
        assert!(!Path::new(p).exists());
    }
}
