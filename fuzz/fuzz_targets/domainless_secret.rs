//! The domainless user's secret JSON (Secrets Manager secret, credspec `CredentialArn` secret,
//! `CF_DOMAINLESS_SECRET_FILE`): `cf_aws::DomainlessSecret::parse` then the daemon's
//! `creds_from_secret`, the path every source takes.
//!
//! Invariants: accepted secrets have a trimmed non-empty user and a non-empty password; the
//! password never appears in `Debug` output nor in an error message; re-encoding a parsed
//! secret gives the same secret; validated credentials have a valid lower-case domain, a user
//! name of 1-103 bytes without control characters or `/`, and `dn_for` only returns a DN whose
//! first RDN names the gMSA asked for.
#![no_main]

use cf_aws::DomainlessSecret;
use credentials_fetcherd::credspec::valid_domain;
use credentials_fetcherd::server::secret::{creds_from_secret, user_key};
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

/// A password that cannot occur by chance in an error message's fixed text (which has none of
/// `^ ~ | %`) and is long enough not to occur in the secret's name.
fn distinctive(s: &str) -> bool {
    s.len() >= 12 && s.contains(['^', '~', '|', '%'])
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let raw_password = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("password")?.as_str().map(str::to_string));
    let secret = match DomainlessSecret::parse("fuzz-secret", json) {
        Ok(s) => s,
        Err(e) => {
            if let Some(p) = raw_password.filter(|p| distinctive(p)) {
                assert!(!e.to_string().contains(&p), "an error quotes the password");
            }
            return;
        }
    };
    assert!(!secret.username.is_empty() && secret.username.trim() == secret.username);
    assert!(!secret.password.is_empty());
    for o in [&secret.domain, &secret.distinguished_name] {
        if let Some(v) = o {
            assert!(!v.is_empty() && v.trim() == v);
        }
    }
    // Debug does not depend on the password.
    let mut other = secret.clone();
    other.password = Zeroizing::new(format!("{}x", secret.password.as_str()));
    assert_eq!(
        format!("{secret:?}"),
        format!("{other:?}"),
        "Debug shows the password"
    );
    let again = serde_json::json!({
        "username": secret.username,
        "password": secret.password.as_str(),
        "domainName": secret.domain,
        "distinguishedName": secret.distinguished_name,
    })
    .to_string();
    assert_eq!(
        DomainlessSecret::parse("again", &again).as_ref().ok(),
        Some(&secret)
    );

    match creds_from_secret(secret.clone(), "fuzz.test") {
        Ok(creds) => {
            assert!(valid_domain(&creds.domain), "{:?}", creds.domain);
            assert_eq!(creds.domain, creds.domain.to_ascii_lowercase());
            assert!(!creds.username.is_empty() && creds.username.len() < 104);
            assert!(!creds.username.chars().any(|c| c.is_control() || c == '/'));
            assert!(!creds.password.is_empty() && creds.password.len() < 104);
            assert_eq!(creds.key(), user_key(&creds.username, &creds.domain));
            assert_eq!(creds.key(), creds.key().to_ascii_lowercase());
            for gmsa in ["WebApp01", "webapp01$", "other"] {
                if let Some(dn) = creds.dn_for(gmsa) {
                    let first = dn.split(',').next().unwrap_or_default();
                    let (attr, value) = first.split_once('=').expect("a DN returned has an RDN");
                    assert!(attr.trim().eq_ignore_ascii_case("cn"));
                    assert!(
                        value
                            .trim()
                            .trim_end_matches('$')
                            .eq_ignore_ascii_case(gmsa.trim_end_matches('$'))
                    );
                }
            }
            let mut other = creds.clone();
            other.password = Zeroizing::new(format!("{}x", creds.password.as_str()));
            assert_eq!(
                format!("{creds:?}"),
                format!("{other:?}"),
                "Debug shows the password"
            );
        }
        Err(e) => {
            // An error may quote the user or the domain; a password that is a part of one of
            // them (found by the fuzzer: a domain of `>>>…|%` around a password of `>>…|%`)
            // cannot tell a leak from a quote.
            let p = secret.password.as_str();
            let elsewhere = [Some(&secret.username), secret.domain.as_ref()]
                .into_iter()
                .flatten()
                .chain(secret.distinguished_name.as_ref())
                .any(|f| f.contains(p));
            if distinctive(p) && !elsewhere {
                assert!(
                    !e.to_string().contains(secret.password.as_str()),
                    "an error quotes the password"
                );
            }
        }
    }
});
