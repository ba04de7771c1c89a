//! Shared by msds-gmsa's integration tests against the real Samba 4.22 AD DC started by
//! `testenv/samba-dc.sh start`: its testenv.json, a KDC client, the users' TGTs, fetch options
//! and the check that derived keys equal samba-tool's. A missing DC fails the test (never a skip).
#![allow(dead_code)] // each test file uses a different part

use std::path::PathBuf;
use std::time::Duration;

use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::config::Krb5Conf;
use krb5_proto::crypto::EncType;
use krb5_proto::keytab::Keytab;
use krb5_proto::transport::KdcAddr;
use krb5_proto::{Credentials, Principal};
use msds_gmsa::{FetchOptions, FetchedPassword, GmsaKeys, computer_account_salt};

/// The DC's testenv.json (`GMSA_TESTENV_JSON`, else `$TESTENV_DIR/samba/testenv.json`).
pub struct Env {
    /// The parsed file.
    pub json: serde_json::Value,
}

/// Loads the DC's description; panics with the command that starts the DC when it is missing.
pub fn env() -> Env {
    let path = std::env::var("GMSA_TESTENV_JSON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
            PathBuf::from(base).join("samba/testenv.json")
        });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the Samba AD DC test environment is missing ({}: {e}); run `testenv/samba-dc.sh start`",
            path.display()
        )
    });
    Env {
        json: serde_json::from_str(&text).expect("testenv.json is valid JSON"),
    }
}

impl Env {
    /// The string at a JSON pointer.
    pub fn s(&self, ptr: &str) -> String {
        self.json
            .pointer(ptr)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{ptr} in testenv.json"))
            .to_owned()
    }

    /// A KDC client for the DC (5 s timeout).
    pub fn kdc(&self) -> Client {
        Client::new(Krb5Conf::default())
            .with_kdcs(vec![KdcAddr::parse(&self.s("/kdc")).expect("kdc address")])
            .with_timeout(Duration::from_secs(5))
    }

    /// The TGT of the testenv user `who` (`reader`, `denied`, ...).
    pub async fn tgt(&self, kdc: &Client, who: &str) -> Credentials {
        let principal = self.s(&format!("/users/{who}/principal"));
        let pw = std::fs::read_to_string(self.s(&format!("/users/{who}/password_file")))
            .expect("password file");
        kdc.as_exchange(
            Principal::parse(&principal, None).unwrap(),
            Secret::password(pw.trim_end_matches('\n')),
            AsOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("TGT for {principal}: {e}"))
    }

    /// Fetch options naming the DC host (10 s timeout, sealed SASL layer).
    pub fn opts(&self) -> FetchOptions {
        FetchOptions {
            dc: Some(self.s("/dc_host")),
            timeout: Duration::from_secs(10),
            ..FetchOptions::default()
        }
    }
}

/// The keys derived from the fetched blob equal the ones samba-tool exported for the gMSA
/// (AES256, AES128, RC4); `how` names the path taken, for the message.
pub fn check_keys(env: &Env, fetched: &FetchedPassword, how: &str) {
    let keytab = Keytab::read(env.s("/gmsa/keytab").as_ref()).expect("gMSA keytab");
    let principal = Principal::parse(&env.s("/gmsa/principal"), None).unwrap();
    let reference = keytab.keys_for(&principal);
    let salt = computer_account_salt("EXAMPLE.TEST", "WebApp01$");
    assert_eq!(salt, env.s("/gmsa/salt").as_bytes());
    let keys = GmsaKeys::derive(fetched.blob.current(), &salt).expect("derive");
    for etype in [
        EncType::Aes256CtsHmacSha196,
        EncType::Aes128CtsHmacSha196,
        EncType::Rc4Hmac,
    ] {
        let want = reference
            .iter()
            .find(|k| k.etype() == etype)
            .unwrap_or_else(|| panic!("{} key in the keytab", etype.name()));
        assert!(
            keys.get(etype) == Some(want),
            "{} key derived from the blob fetched {how} differs from samba-tool's",
            etype.name()
        );
    }
}
