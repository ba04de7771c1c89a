//! Retry-safe adds (issue 10) against the real Samba AD DC made slow by our delaying proxy
//! (tests/common/proxy.rs): the ECS agent's pattern (an attempt cut by its deadline, then a
//! retry) leaves exactly the lease that was returned; a cancelled or timed-out add leaves no
//! lease directory; deleting a lease while it is being created leaves nothing behind.
//!
//! The KDC proxy listens on its own loopback address 127.0.0.9; see tests/common/faulty_dc.rs.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::time::{Duration, Instant};

mod common;
use common::faulty_dc::FaultyDc as Slow;
use common::proxy::Faults;
use common::reader_add_request as add_request;

const SLOW: Duration = Duration::from_millis(3000);
const FAST: Duration = Duration::from_millis(20);

use common::daemon_log as log;

/// The agent's pattern: an attempt cut by the client's deadline, one cut by the daemon's own
/// deadline, then a retry that succeeds. Exactly one lease is left, the returned one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_attempts_leave_only_the_returned_lease() {
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let slow = Slow::start("127.0.0.9", Faults::delay(SLOW)).await;
    let d = slow.daemon(dir.path(), &env, false, &[("CF_RPC_DEADLINE_SECS", "4")]);
    let mut c = connect(&d.socket).await.unwrap();

    // 1. The client's deadline (grpc-timeout) passes first.
    let mut req = tonic::Request::new(add_request(&env));
    req.set_timeout(Duration::from_millis(1500));
    let t = Instant::now();
    let e = c
        .add_non_domain_joined_kerberos_lease(req)
        .await
        .expect_err("the first attempt times out");
    eprintln!("attempt 1: {:?} after {:?}", e.code(), t.elapsed());
    assert!(
        matches!(
            e.code(),
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
        ),
        "{e:?}"
    );
    // 2. No client deadline: the daemon's own (4 s) passes first.
    let t = Instant::now();
    let e = c
        .add_non_domain_joined_kerberos_lease(add_request(&env))
        .await
        .expect_err("the second attempt hits the daemon's deadline");
    eprintln!(
        "attempt 2: {:?} after {:?}: {}",
        e.code(),
        t.elapsed(),
        e.message()
    );
    assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert!(
        e.message().contains("nothing was created"),
        "{}",
        e.message()
    );
    // The DC recovers; the agent retries after its back-off.
    tokio::time::sleep(Duration::from_secs(1)).await;
    slow.set(Faults::delay(FAST));
    let mut req = tonic::Request::new(add_request(&env));
    req.set_timeout(Duration::from_secs(20));
    let r = c
        .add_non_domain_joined_kerberos_lease(req)
        .await
        .expect("the retry succeeds")
        .into_inner();
    assert_eq!(
        r.created_kerberos_file_paths.len(),
        1,
        "one path per credspec"
    );
    let path = &r.created_kerberos_file_paths[0];
    assert!(
        path.ends_with(&format!("/{}", env["gmsa"]["name"].as_str().unwrap())),
        "{path}"
    );
    common::klist_lease(env["krb5_conf"].as_str().unwrap(), path);
    // The cancelled attempts' tasks end without leaving anything: exactly the returned lease.
    tokio::time::sleep(Duration::from_secs(2)).await;
    common::wait_leases(&d, std::slice::from_ref(&r.lease_id)).await;
    let log = log(dir.path());
    assert!(
        log.contains("the deadline passed before the answer"),
        "the daemon logs its deadline:\n{log}"
    );
    assert!(
        log.contains("lease abandoned") || log.contains("lease rolled back"),
        "the daemon logs the rollbacks:\n{log}"
    );
    // The lease works as any other: deleted, nothing left.
    common::delete_lease(&mut c, &r).await;
    assert!(d.leases().is_empty());
}

/// A lease being created (the start-up lease of CF_CRED_SPEC_FILE, whose id is known) is
/// deleted while the slow DC still answers: the delete waits for the add to be cancelled and
/// nothing is left, then or later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_lease_being_created_leaves_nothing() {
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    std::fs::write(
        &spec,
        common::credspec(
            env["gmsa"]["name"].as_str().unwrap(),
            env["domain"].as_str().unwrap(),
            env["netbios_domain"].as_str().unwrap(),
        ),
    )
    .unwrap();
    let secret = dir.path().join("secret.json");
    let r = add_request(&env);
    std::fs::write(
        &secret,
        serde_json::json!({"username": r.username, "password": r.password, "domainName": r.domain})
            .to_string(),
    )
    .unwrap();
    let id = "00112233445566778899";
    let slow = Slow::start("127.0.0.9", Faults::delay(SLOW)).await;
    let d = slow.daemon(
        dir.path(),
        &env,
        false,
        &[
            ("CF_CRED_SPEC_FILE", &format!("{}:{id}", spec.display())),
            ("CF_DOMAINLESS_SECRET_FILE", secret.to_str().unwrap()),
        ],
    );
    let mut c = connect(&d.socket).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let del = c
        .delete_kerberos_lease(DeleteKerberosLeaseRequest {
            lease_id: id.into(),
        })
        .await
        .expect("the delete answers")
        .into_inner();
    assert!(del.deleted_kerberos_file_paths.is_empty(), "{del:?}");
    assert!(d.leases().is_empty(), "{:?}", d.leases());
    // Once the DC answers quickly, nothing comes back.
    slow.set(Faults::delay(FAST));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        d.leases().is_empty(),
        "{:?}\n{}",
        d.leases(),
        log(dir.path())
    );
    let log = log(dir.path());
    assert!(
        log.contains("deleting a lease being created"),
        "the delete cancelled the add:\n{log}"
    );
}
