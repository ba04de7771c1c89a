//! The daemon binary over its Unix socket, without a KDC: health, input checks, delete, upstream
//! metadata, restart (also after SIGKILL). `CF_TEST_FAKE_TICKETS=1` makes it issue synthetic tickets.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{Daemon, healthy};

fn start(dir: &Path, extra: &[(&str, &str)]) -> Daemon {
    let socket = dir.join("sock/cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    cmd.env("CF_TEST_FAKE_TICKETS", "1");
    Daemon::spawn_logged(cmd, &socket, extra)
}

fn spec(name: &str) -> String {
    common::credspec(name, "example.test", "EXAMPLE")
}

#[tokio::test]
async fn health_invalid_credspec_and_unknown_delete() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &[]);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777,
        0o660
    );
    assert!(healthy(&d.socket).await);
    let mut c = connect(&d.socket).await.unwrap();
    for bad in [
        "",
        "{",
        "{\"DomainJoinConfig\":{\"DnsName\":\"a..b\"},\"ActiveDirectoryConfig\":{\"GroupManagedServiceAccounts\":[{\"Name\":\"x\"}]}}",
    ] {
        let e = c
            .add_kerberos_lease(CreateKerberosLeaseRequest {
                credspec_contents: vec![bad.into()],
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}: {e:?}");
        assert!(e.message().contains("credspec #1"), "{}", e.message());
    }
    let e = c
        .add_non_domain_joined_kerberos_lease(CreateNonDomainJoinedKerberosLeaseRequest {
            credspec_contents: vec![spec("WebApp01")],
            username: "u".into(),
            password: "p".repeat(200),
            domain: "example.test".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        !e.message().contains("ppp"),
        "the password never appears in messages"
    );
    let r = c
        .delete_kerberos_lease(DeleteKerberosLeaseRequest {
            lease_id: "0123456789abcdef0123".into(),
        })
        .await
        .unwrap();
    assert!(r.into_inner().deleted_kerberos_file_paths.is_empty());
    let e = c
        .delete_kerberos_lease(DeleteKerberosLeaseRequest {
            lease_id: "../../etc".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let e = c
        .add_kerberos_arn_lease(KerberosArnLeaseRequest {
            credspec_arns: vec!["arn:aws:s3:::b/k".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    // Implemented now (daemon_aws.rs); a one-letter bucket is not a bucket name.
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(healthy(&d.socket).await, "still healthy");
}

#[tokio::test]
async fn upstream_lease_is_deleted_and_restart_keeps_leases() {
    let dir = tempfile::tempdir().unwrap();
    let krbdir = dir.path().join("krbdir");
    // A lease written the way upstream writes it (jsoncpp, tab-indented), no ccache content.
    let up = "00112233445566778899";
    std::fs::create_dir_all(krbdir.join(up).join("WebApp01")).unwrap();
    std::fs::write(krbdir.join(up).join("WebApp01/krb5cc"), b"").unwrap();
    std::fs::write(
        krbdir.join(up).join(format!("{up}_metadata.json")),
        format!(
            "{{\n\t\"krb_ticket_info\" : \n\t[\n\t\t{{\n\t\t\t\"domain_name\" : \"example.test\",\n\t\t\t\"domainless_user\" : \"\",\n\t\t\t\"krb_file_path\" : \"{}/{up}/WebApp01/krb5cc\",\n\t\t\t\"service_account_name\" : \"WebApp01\"\n\t\t}}\n\t]\n}}",
            krbdir.display()
        ),
    )
    .unwrap();

    let mut d = start(dir.path(), &[]);
    let mut c = connect(&d.socket).await.unwrap();
    let added = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: vec![spec("WebApp01"), spec("WEBAPP01"), spec("Api")],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.lease_id.len(), 20);
    assert_eq!(
        added.created_kerberos_file_paths.len(),
        2,
        "duplicates merged"
    );
    for p in &added.created_kerberos_file_paths {
        assert!(Path::new(p).join("krb5cc").is_file(), "{p}");
        assert!(Path::new(p).starts_with(krbdir.join(&added.lease_id)));
    }
    // Our metadata is readable as upstream reads it.
    let md: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            krbdir
                .join(&added.lease_id)
                .join(format!("{}_metadata.json", added.lease_id)),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        md["krb_ticket_info"][0]["krb_file_path"],
        format!("{}/krb5cc", added.created_kerberos_file_paths[0])
    );

    // SIGKILL, then restart: the stale socket is replaced and both leases are deletable.
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    drop(c);
    let d2 = start(dir.path(), &[]);
    assert!(healthy(&d2.socket).await);
    let mut c = connect(&d2.socket).await.unwrap();
    let r = c
        .delete_kerberos_lease(DeleteKerberosLeaseRequest {
            lease_id: up.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.deleted_kerberos_file_paths,
        vec![krbdir.join(up).join("WebApp01").display().to_string()]
    );
    assert!(!krbdir.join(up).exists());
    let r = c
        .delete_kerberos_lease(DeleteKerberosLeaseRequest {
            lease_id: added.lease_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.deleted_kerberos_file_paths.len(), 2);
    assert!(!krbdir.join(&added.lease_id).exists());
    drop(d);
    drop(d2);
}

#[tokio::test]
async fn healthcheck_flag_and_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = start(dir.path(), &[]);
    let host = format!("unix://{}", d.socket.display());
    let st = Command::new(env!("CARGO_BIN_EXE_credentials-fetcherd"))
        .arg("--healthcheck")
        .env("CREDENTIALS_FETCHER_HOST", &host)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // SIGTERM: clean exit, socket removed.
    Command::new("kill")
        .arg("-TERM")
        .arg(d.child.id().to_string())
        .status()
        .unwrap();
    let st = d.child.wait().unwrap();
    assert!(st.success(), "{st:?}");
    assert!(!d.socket.exists());
    let st = Command::new(env!("CARGO_BIN_EXE_credentials-fetcherd"))
        .arg("--healthcheck")
        .env("CREDENTIALS_FETCHER_HOST", &host)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(!st.success(), "no daemon: exit 1");
    let st = Command::new(env!("CARGO_BIN_EXE_credentials-fetcherd"))
        .arg("--self_test")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
}

#[tokio::test]
async fn renewal_rewrites_the_ccache_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &[("CF_TEST_RENEW_SECS", "1")]);
    let mut c = connect(&d.socket).await.unwrap();
    let added = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: vec![spec("WebApp01")],
        })
        .await
        .unwrap()
        .into_inner();
    let cc = Path::new(&added.created_kerberos_file_paths[0]).join("krb5cc");
    use std::os::unix::fs::MetadataExt as _;
    let ino = std::fs::metadata(&cc).unwrap().ino();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ino2 = std::fs::metadata(&cc).unwrap().ino();
    assert_ne!(
        ino, ino2,
        "renewal replaced the file (atomic rename in the same directory)"
    );
    let entries: Vec<_> = std::fs::read_dir(cc.parent().unwrap()).unwrap().collect();
    assert_eq!(entries.len(), 1, "no temporary files left");
}

/// What the ECS agent expects of the paths: a domainless add answers one path per credspec in
/// request order (duplicates share their first spelling's directory), each ending in the
/// gMSA's name; a domain-joined add answers one directory per distinct gMSA.
#[tokio::test]
async fn paths_keep_the_gmsa_name_one_per_credspec_in_request_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &[]);
    let mut c = connect(&d.socket).await.unwrap();
    let specs = vec![
        spec("WebApp02"),
        spec("WebApp01"),
        spec("webapp02"),
        spec("Api"),
    ];
    let r = c
        .add_non_domain_joined_kerberos_lease(CreateNonDomainJoinedKerberosLeaseRequest {
            credspec_contents: specs.clone(),
            username: "svc-fetcher".into(),
            password: "pw".into(),
            domain: "example.test".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let root = d.krbdir.join(&r.lease_id);
    let want: Vec<String> = ["WebApp02", "WebApp01", "WebApp02", "Api"]
        .iter()
        .map(|n| root.join(n).display().to_string())
        .collect();
    assert_eq!(r.created_kerberos_file_paths, want);
    for p in &r.created_kerberos_file_paths {
        assert!(Path::new(p).join("krb5cc").is_file(), "{p}");
    }
    let r = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: specs,
        })
        .await
        .unwrap()
        .into_inner();
    let root = d.krbdir.join(&r.lease_id);
    let want: Vec<String> = ["WebApp02", "WebApp01", "Api"]
        .iter()
        .map(|n| root.join(n).display().to_string())
        .collect();
    assert_eq!(r.created_kerberos_file_paths, want);
}
