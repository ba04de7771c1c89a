//! `GmsaReader` (one sealed LDAP session reused for several reads) against the real Samba 4.22 AD
//! DC started by `testenv/samba-dc.sh start`. Fails (never skips) when the DC's testenv.json is
//! missing.

use msds_gmsa::{FetchOptions, GmsaError, GmsaLookup, GmsaReader, Security};

mod common;
use common::env;

#[tokio::test]
async fn two_fetches_on_one_bound_session() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let mut reader = GmsaReader::new(kdc, "example.test", env.opts()).unwrap();
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
        .fetch(&tgt, &GmsaLookup::Dn(env.s("/gmsa/dn")))
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
    let client = env.kdc();
    let user_tgt = env.tgt(&client, "reader").await;
    let mut reader = GmsaReader::new(client.clone(), "example.test", env.opts()).unwrap();
    let lookup = GmsaLookup::SamAccountName("WebApp01".into());
    reader.fetch(&user_tgt, &lookup).await.unwrap();
    reader.danger_break_connection_for_tests().await;
    let again = reader.fetch(&user_tgt, &lookup).await.unwrap();
    assert_eq!(again.sam_account_name, "WebApp01$");
    assert_eq!(reader.connections_opened(), 2, "one reconnect");
    assert!(reader.is_bound());

    // Another user's TGT: a new connection bound as that user (who may not read the password).
    let denied = env.tgt(&client, "denied").await;
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
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    // `corp.example.test` gives DC=corp,DC=example,DC=test, which does not exist on this DC.
    let mut reader = GmsaReader::new(kdc, "corp.example.test", env.opts()).unwrap();
    let got = reader
        .fetch(&tgt, &GmsaLookup::SamAccountName("WebApp01".into()))
        .await
        .unwrap();
    assert_eq!(got.sam_account_name, "WebApp01$");
    reader.close().await;
}

/// A DC that does not answer (its accept queue full, so SYNs are dropped, as for a DC powered
/// off) listed before a live one: the first connection waits for it once and binds to the live
/// DC, which is then tried first, so a reconnection does not wait for the silent DC again.
#[tokio::test]
async fn the_dc_that_answered_is_tried_first_on_reconnection() {
    let env = env();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.10:0".parse().unwrap()).unwrap();
    let silent = socket.listen(0).unwrap();
    let addr = silent.local_addr().unwrap();
    // Fill the accept queue (never accepted); later connections get no answer at all.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(s);
        }
    }
    let client = env.kdc();
    let user_tgt = env.tgt(&client, "reader").await;
    let opts = FetchOptions {
        dc: Some(format!("{addr},{}", env.s("/dc_host"))),
        timeout: std::time::Duration::from_secs(1),
        ..env.opts()
    };
    let mut reader = GmsaReader::new(client.clone(), "example.test", opts).unwrap();
    let lookup = GmsaLookup::SamAccountName("WebApp01".into());
    let first = reader.fetch(&user_tgt, &lookup).await.unwrap();
    assert_eq!(first.dc, format!("{}:389", env.s("/dc_host")));
    let order: Vec<String> = reader
        .dc_choice()
        .unwrap()
        .candidates
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        order,
        [format!("{}:389", env.s("/dc_host")), addr.to_string()]
    );
    reader.danger_break_connection_for_tests().await;
    let again = reader.fetch(&user_tgt, &lookup).await.unwrap();
    assert_eq!(again.dc, first.dc);
    assert_eq!(reader.connections_opened(), 2);
    reader.close().await;
    drop(fillers);
}
