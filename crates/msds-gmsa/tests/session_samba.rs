//! `GmsaReader` (one sealed LDAP session reused for several reads) against the real Samba 4.22 AD
//! DC started by `testenv/samba-dc.sh start`. Fails (never skips) when the DC's testenv.json is
//! missing.

use std::path::PathBuf;
use std::time::Duration;

use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::config::Krb5Conf;
use krb5_proto::transport::KdcAddr;
use krb5_proto::{Credentials, Principal};
use msds_gmsa::{FetchOptions, GmsaError, GmsaLookup, GmsaReader, Security};

fn env() -> serde_json::Value {
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let path = PathBuf::from(base).join("samba/testenv.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the Samba AD DC test environment is missing ({}: {e}); run `testenv/samba-dc.sh start`",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("testenv.json is valid JSON")
}

fn s(env: &serde_json::Value, ptr: &str) -> String {
    env.pointer(ptr)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{ptr} in testenv.json"))
        .to_owned()
}

fn kdc(env: &serde_json::Value) -> Client {
    Client::new(Krb5Conf::default())
        .with_kdcs(vec![KdcAddr::parse(&s(env, "/kdc")).expect("kdc address")])
        .with_timeout(Duration::from_secs(5))
}

async fn tgt(env: &serde_json::Value, kdc: &Client, who: &str) -> Credentials {
    let principal = s(env, &format!("/users/{who}/principal"));
    let pw = std::fs::read_to_string(s(env, &format!("/users/{who}/password_file")))
        .expect("password file");
    kdc.as_exchange(
        Principal::parse(&principal, None).unwrap(),
        Secret::password(pw.trim_end_matches('\n')),
        AsOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("TGT for {principal}: {e}"))
}

fn opts(env: &serde_json::Value) -> FetchOptions {
    FetchOptions {
        dc: Some(s(env, "/dc_host")),
        timeout: Duration::from_secs(10),
        ..FetchOptions::default()
    }
}

#[tokio::test]
async fn two_fetches_on_one_bound_session() {
    let env = env();
    let kdc = kdc(&env);
    let tgt = tgt(&env, &kdc, "reader").await;
    let mut reader = GmsaReader::new(kdc, "example.test", opts(&env)).unwrap();
    assert!(!reader.is_bound());

    let first = reader
        .fetch(&tgt, &GmsaLookup::SamAccountName("WebApp01".into()))
        .await
        .unwrap();
    assert!(reader.is_bound());
    assert_eq!(reader.security(), Some(Security::SaslConfidentiality));
    // The base DN derived from the DNS name was right: no rootDSE read on the wire.
    let ops: Vec<&str> = reader.round_trips().iter().map(|(op, _)| *op).collect();
    assert!(
        ops.iter()
            .all(|op| op.starts_with("SASL bind") || *op == "search"),
        "{ops:?}"
    );
    let after_first = ops.len();

    let second = reader
        .fetch(&tgt, &GmsaLookup::Dn(s(&env, "/gmsa/dn")))
        .await
        .unwrap();
    assert_eq!(reader.connections_opened(), 1, "the session was reused");
    let ops: Vec<&str> = reader.round_trips().iter().map(|(op, _)| *op).collect();
    assert!(
        ops[after_first..].iter().all(|op| *op == "search"),
        "the second fetch only searched: {ops:?}"
    );
    assert_eq!(first.sam_account_name, "WebApp01$");
    assert_eq!(second.sam_account_name, "WebApp01$");
    assert!(first.dn.eq_ignore_ascii_case(&second.dn));
    assert_eq!(
        first.blob.current().as_utf16le(),
        second.blob.current().as_utf16le()
    );

    // An unknown gMSA on the same session: not found, and the session stays usable.
    let err = reader
        .fetch(&tgt, &GmsaLookup::SamAccountName("NoSuchGmsa".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GmsaError::GmsaNotFound { base_dn, .. } if base_dn == "DC=example,DC=test"),
        "{err}"
    );
    reader
        .fetch(&tgt, &GmsaLookup::SamAccountName("WebApp01".into()))
        .await
        .unwrap();
    assert_eq!(reader.connections_opened(), 1);
    reader.close().await;
}

#[tokio::test]
async fn a_dead_connection_is_replaced_and_bound_again() {
    let env = env();
    let client = kdc(&env);
    let user_tgt = tgt(&env, &client, "reader").await;
    let mut reader = GmsaReader::new(client.clone(), "example.test", opts(&env)).unwrap();
    let lookup = GmsaLookup::SamAccountName("WebApp01".into());
    reader.fetch(&user_tgt, &lookup).await.unwrap();
    reader.danger_break_connection_for_tests().await;
    let again = reader.fetch(&user_tgt, &lookup).await.unwrap();
    assert_eq!(again.sam_account_name, "WebApp01$");
    assert_eq!(reader.connections_opened(), 2, "one reconnect");
    assert!(reader.is_bound());

    // Another user's TGT: a new connection bound as that user (who may not read the password).
    let denied = tgt(&env, &client, "denied").await;
    let err = reader.fetch(&denied, &lookup).await.unwrap_err();
    assert!(
        matches!(err, GmsaError::NotAllowedToRetrieve { .. }),
        "{err}"
    );
    assert_eq!(reader.connections_opened(), 3);
    reader.close().await;
}

#[tokio::test]
async fn a_wrong_dns_domain_falls_back_to_the_rootdse() {
    let env = env();
    let kdc = kdc(&env);
    let tgt = tgt(&env, &kdc, "reader").await;
    // `corp.example.test` gives DC=corp,DC=example,DC=test, which does not exist on this DC.
    let mut reader = GmsaReader::new(kdc, "corp.example.test", opts(&env)).unwrap();
    let got = reader
        .fetch(&tgt, &GmsaLookup::SamAccountName("WebApp01".into()))
        .await
        .unwrap();
    assert_eq!(got.sam_account_name, "WebApp01$");
    reader.close().await;
}
