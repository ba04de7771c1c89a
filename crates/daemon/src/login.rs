//! The login principal and keys from a keytab: one rule for the daemon's domain-joined logins
//! and for `gmsa fetch --keytab`.
//!
//! The principal is, in this order:
//! 1. the configured one (`CF_MACHINE_PRINCIPAL` / `--machine-principal` for the daemon,
//!    `--principal` for `gmsa fetch`); without `@REALM` it is in the credspec's realm (or, when
//!    no realm is known, in the keytab's first principal's);
//! 2. else the first single-component principal (a machine account `HOST$`, not `host/fqdn`)
//!    of the credspec's realm (any realm when none is known);
//! 3. else the keytab's first principal.
//!
//! Then the keytab must hold a key of a supported encryption type for it.

use krb5_proto::Principal;
use krb5_proto::crypto::Key;
use krb5_proto::keytab::Keytab;

/// Why no login could be taken from a keytab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeytabLoginError {
    /// The configured principal is not a principal name.
    #[error("{0}")]
    BadPrincipal(#[from] krb5_proto::principal::PrincipalParseError),
    /// The keytab has no entry at all.
    #[error("the keytab is empty")]
    Empty,
    /// The keytab has no key of a supported encryption type for the principal.
    #[error("no usable key for {0}")]
    NoKey(Principal),
}

/// The principal to log in as from `kt` (see the module's rule); `realm`: the credspec's.
pub fn keytab_principal(
    kt: &Keytab,
    realm: Option<&str>,
    configured: Option<&str>,
) -> Result<Principal, KeytabLoginError> {
    let all = kt.principals();
    if let Some(p) = configured {
        let default_realm = match realm {
            Some(r) => Some(r.to_owned()),
            None => all.first().map(|p| p.realm_str()),
        };
        return Ok(Principal::parse(p, default_realm.as_deref())?);
    }
    all.iter()
        .find(|p| {
            realm.is_none_or(|r| p.realm_str().eq_ignore_ascii_case(r)) && p.components.len() == 1
        })
        .or_else(|| all.first())
        .cloned()
        .ok_or(KeytabLoginError::Empty)
}

/// The principal (see [`keytab_principal`]) and its keys.
pub fn keytab_login(
    kt: &Keytab,
    realm: Option<&str>,
    configured: Option<&str>,
) -> Result<(Principal, Vec<Key>), KeytabLoginError> {
    let p = keytab_principal(kt, realm, configured)?;
    let keys = kt.keys_for(&p);
    if keys.is_empty() {
        return Err(KeytabLoginError::NoKey(p));
    }
    Ok((p, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use krb5_proto::asn1::etype::AES256_CTS_HMAC_SHA1_96;
    use krb5_proto::keytab::KeytabEntry;

    fn kt(names: &[&str]) -> Keytab {
        Keytab {
            entries: names
                .iter()
                .map(|n| KeytabEntry {
                    principal: Principal::parse(n, None).unwrap(),
                    timestamp: 0,
                    kvno: 2,
                    enctype: AES256_CTS_HMAC_SHA1_96,
                    key: zeroize::Zeroizing::new(vec![0x11; 32]),
                })
                .collect(),
        }
    }

    #[test]
    fn the_machine_account_of_the_realm_is_preferred() {
        let k = kt(&[
            "host/web1.example.test@EXAMPLE.TEST",
            "WEB1$@OTHER.TEST",
            "WEB1$@EXAMPLE.TEST",
        ]);
        let p = |realm, conf| keytab_principal(&k, realm, conf).unwrap().to_string();
        assert_eq!(p(Some("EXAMPLE.TEST"), None), "WEB1$@EXAMPLE.TEST");
        assert_eq!(p(Some("example.test"), None), "WEB1$@EXAMPLE.TEST");
        assert_eq!(p(None, None), "WEB1$@OTHER.TEST", "no realm: any realm");
        assert_eq!(
            p(Some("THIRD.TEST"), None),
            "host/web1.example.test@EXAMPLE.TEST",
            "none in the realm: the first entry"
        );
        // A configured principal wins; without @REALM it is in the credspec's realm, else the
        // keytab's first principal's.
        assert_eq!(p(Some("OTHER.TEST"), Some("WEB1$")), "WEB1$@OTHER.TEST");
        assert_eq!(p(None, Some("WEB1$")), "WEB1$@EXAMPLE.TEST");
        let (pr, keys) = keytab_login(&k, Some("EXAMPLE.TEST"), None).unwrap();
        assert_eq!(
            (pr.to_string(), keys.len()),
            ("WEB1$@EXAMPLE.TEST".into(), 1)
        );
        assert!(matches!(
            keytab_login(&k, None, Some("nobody@EXAMPLE.TEST")),
            Err(KeytabLoginError::NoKey(_))
        ));
        assert!(matches!(
            keytab_principal(&kt(&[]), None, None),
            Err(KeytabLoginError::Empty)
        ));
    }
}
