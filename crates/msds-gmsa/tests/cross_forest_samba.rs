//! `GmsaReader` across a forest trust: a user of EXAMPLE.TEST (dc1, `testenv/samba-dc.sh start`)
//! reads the gMSA of OTHER.TEST (dc3, `testenv/samba-forest.sh start`) on one sealed session,
//! bound with a ticket for `ldap/dc3.other.test@OTHER.TEST` reached through dc1's referral, and
//! the gMSA logs in at dc3's KDC. Fails (never skips) when either DC's testenv.json is missing.

use std::path::PathBuf;
use std::time::Duration;

use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::config::Krb5Conf;
use krb5_proto::crypto::EncType;
use krb5_proto::keytab::Keytab;
use msds_gmsa::{FetchOptions, GmsaError, GmsaKeys, GmsaLookup, GmsaReader, computer_account_salt};

mod common;

/// The forest's testenv.json (`$TESTENV_DIR/forest`).
fn forest() -> serde_json::Value {
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let path = PathBuf::from(base).join("forest/testenv.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the second AD forest is missing ({}: {e}); run `testenv/samba-forest.sh start`",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("testenv.json is JSON")
}

fn s<'a>(j: &'a serde_json::Value, ptr: &str) -> &'a str {
    j.pointer(ptr)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{ptr} in the forest's testenv.json"))
}

/// A client with the forest's krb5.conf (both realms' KDCs, no [domain_realm] for other.test).
fn client(f: &serde_json::Value) -> Client {
    let conf = Krb5Conf::load(s(f, "/krb5_conf").as_ref()).expect("the forest's krb5.conf");
    Client::new(conf).with_timeout(Duration::from_secs(5))
}

/// The TGT of dc1's `who` (`reader`, `denied`) from dc1's KDC.
async fn tgt(f: &serde_json::Value, kdc: &Client, who: &str) -> krb5_proto::Credentials {
    let user = Principal::parse(s(f, &format!("/{who}/principal")), None).unwrap();
    let pw = std::fs::read_to_string(s(f, &format!("/{who}/password_file"))).unwrap();
    kdc.as_exchange(user, Secret::password(&pw), AsOptions::default())
        .await
        .unwrap_or_else(|e| panic!("TGT of dc1's {who}: {e}"))
}

/// A reader of other.test's gMSAs at dc3.
fn reader(f: &serde_json::Value, kdc: &Client) -> GmsaReader {
    let opts = FetchOptions {
        dc: Some(s(f, "/dc_host").to_owned()),
        timeout: Duration::from_secs(10),
        ..FetchOptions::default()
    };
    GmsaReader::new(kdc.clone(), s(f, "/domain"), opts).unwrap()
}

#[tokio::test]
async fn reads_the_other_forests_gmsa_on_one_session_then_its_tgt() {
    let dc1 = common::env();
    let f = forest();
    let kdc = client(&f);
    let tgt = tgt(&f, &kdc, "reader").await;
    let mut reader = reader(&f, &kdc);
    let lookup = GmsaLookup::SamAccountName(s(&f, "/gmsa/name").into());
    let first = reader.fetch(&tgt, &lookup).await.unwrap();
    let second = reader.fetch(&tgt, &lookup).await.unwrap();
    assert_eq!(reader.connections_opened(), 1, "one bound session, reused");
    assert_eq!(first.sam_account_name, s(&f, "/gmsa/sam"));
    assert!(
        first.dn.eq_ignore_ascii_case(s(&f, "/gmsa/dn")),
        "{}",
        first.dn
    );
    assert_eq!(
        first.blob.current().as_utf16le(),
        second.blob.current().as_utf16le()
    );

    // The keys equal samba-tool's export for OtherApp01$@OTHER.TEST.
    let salt = computer_account_salt("OTHER.TEST", s(&f, "/gmsa/sam"));
    assert_eq!(salt, s(&f, "/gmsa/salt").as_bytes());
    let keys = GmsaKeys::derive(first.blob.current(), &salt).unwrap();
    let keytab = Keytab::read(s(&f, "/gmsa/keytab").as_ref()).unwrap();
    let reference = keytab.keys_for(&Principal::parse(s(&f, "/gmsa/principal"), None).unwrap());
    for etype in [EncType::Aes256CtsHmacSha196, EncType::Aes128CtsHmacSha196] {
        let want = reference.iter().find(|k| k.etype() == etype).unwrap();
        assert!(keys.get(etype) == Some(want), "{} key", etype.name());
    }

    // The gMSA's own AS exchange at dc3's KDC.
    let t = msds_gmsa::gmsa_tgt(
        &kdc,
        s(&f, "/realm"),
        &first.sam_account_name,
        &first.blob,
        &AsOptions::default(),
    )
    .await
    .expect("the gMSA's TGT at OTHER.TEST's KDC");
    assert_eq!(t.tgt.client.to_string(), s(&f, "/gmsa/principal"));
    assert_eq!(t.tgt.server.to_string(), "krbtgt/OTHER.TEST@OTHER.TEST");
    reader.close().await;

    // The same reader type for dc1's own gMSA with the same TGT: no cross-realm step.
    let mut mine = GmsaReader::new(kdc, &dc1.s("/domain"), dc1.opts()).unwrap();
    let own = mine
        .fetch(&tgt, &GmsaLookup::SamAccountName("WebApp01".into()))
        .await
        .unwrap();
    common::check_keys(&dc1, &own, "from dc1 with the same TGT");
}

#[tokio::test]
async fn a_user_the_other_forest_does_not_name_is_refused() {
    let f = forest();
    let kdc = client(&f);
    let tgt = tgt(&f, &kdc, "denied").await;
    let mut reader = reader(&f, &kdc);
    let err = reader
        .fetch(
            &tgt,
            &GmsaLookup::SamAccountName(s(&f, "/gmsa/name").into()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GmsaError::NotAllowedToRetrieve { user, .. } if user == "svc-denied@EXAMPLE.TEST"),
        "{err}"
    );
}
