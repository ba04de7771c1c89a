//! Fuzz target: arbitrary bytes as an LDAP server's plaintext responses must never panic.
//!
//! Messages are taken one by one with `take_message` (BER framing checked, 1 MiB cap); each
//! decoded message goes through what the connection does with it: rootDSE parsing, turning a
//! search entry into a `FetchedPassword` (blob parsing included), and classifying a failed
//! search result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msds_gmsa::FetchedPassword;
use msds_gmsa::ldap::conn::{RootDse, search_failure};
use msds_gmsa::ldap::ldap3_proto::proto::LdapOp;
use msds_gmsa::ldap::{MAX_LDAP_MESSAGE, message_len, take_message};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(n)) = message_len(data) {
        assert!(n <= data.len() && n <= MAX_LDAP_MESSAGE && n >= 2);
    }
    let mut buf = data.to_vec();
    for _ in 0..64 {
        let before = buf.len();
        let msg = match take_message(&mut buf) {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => break,
        };
        assert!(buf.len() < before);
        match msg.op {
            LdapOp::SearchResultEntry(mut e) => {
                let root = RootDse::from_entry(&e);
                let _ = root.supports_gssapi();
                let _ = FetchedPassword::from_entry(&mut e, "dc", "user@R", "gmsa$");
            }
            LdapOp::SearchResultDone(r) => {
                let _ = search_failure("dc", &r).to_string();
            }
            LdapOp::BindResponse(r) => {
                let _ = r.saslcreds.map(|c| c.len());
            }
            _ => {}
        }
    }
});
