//! The daemon against the real Samba AD DC (testenv/samba-dc.sh start; `. $WORK/env.sh`).
//! Fails (never skips) when the DC from `testenv/samba-dc.sh start` is not there.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Samba DC's testenv.json; a missing DC fails the test (never a skip).
fn testenv() -> serde_json::Value {
    let p = std::env::var("GMSA_TESTENV_JSON").unwrap_or_else(|_| {
        let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
        format!("{base}/samba/testenv.json")
    });
    let bytes = std::fs::read(&p)
        .unwrap_or_else(|e| panic!("the Samba AD DC test environment is missing ({p}: {e}); run `testenv/samba-dc.sh start`"));
    serde_json::from_slice(&bytes).expect("testenv.json is JSON")
}

fn start(dir: &Path, env: &serde_json::Value, extra: &[(&str, String)]) -> Daemon {
    let socket = dir.join("cf.sock");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credentials-fetcherd"));
    cmd.args([
        "--socket-group",
        "none",
        "--dc",
        env["dc_host"].as_str().unwrap(),
    ])
    .env("CF_KRB_DIR", dir.join("krbdir"))
    .env(
        "CREDENTIALS_FETCHER_HOST",
        format!("unix://{}", socket.display()),
    )
    .env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap())
    .env_remove("CF_TEST_FAKE_TICKETS")
    .env_remove("NOTIFY_SOCKET")
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let d = Daemon {
        child: cmd.spawn().unwrap(),
        socket,
    };
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if std::os::unix::net::UnixStream::connect(&d.socket).is_ok() {
            return d;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("daemon did not start");
}

fn spec(env: &serde_json::Value) -> String {
    let name = env["gmsa"]["name"].as_str().unwrap();
    serde_json::json!({
        "CmsPlugins": ["ActiveDirectory"],
        "DomainJoinConfig": {"DnsName": env["domain"], "NetBiosName": env["netbios_domain"], "MachineAccountName": name},
        "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": name, "Scope": env["domain"]}]}
    })
    .to_string()
}

fn klist(env: &serde_json::Value, dir: &str) -> String {
    let out = Command::new("klist")
        .arg("-c")
        .arg(format!("{dir}/krb5cc"))
        .env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap())
        .output()
        .expect("MIT klist");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
