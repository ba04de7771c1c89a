//! Kerberos principal names: `component/component@REALM`, with raw-byte components.

use std::fmt;

/// Name types (RFC 4120 §6.2).
pub mod name_type {
    /// Name type not known.
    pub const UNKNOWN: i32 = 0;
    /// Just the name of the principal, as in DCE, or for users.
    pub const PRINCIPAL: i32 = 1;
    /// Service and other unique instance (krbtgt).
    pub const SRV_INST: i32 = 2;
    /// Service with host name as instance (telnet, rcommands).
    pub const SRV_HST: i32 = 3;
    /// Enterprise name (RFC 6806): a single `user@suffix` component.
    pub const ENTERPRISE: i32 = 10;
}

/// A principal: name type, components and realm, each component kept as raw bytes
/// (UTF-8 in practice, but never rejected when it is not).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The name type (see [`name_type`]).
    pub name_type: i32,
    /// The name components, e.g. `["ldap", "dc1.example.test"]`.
    pub components: Vec<Vec<u8>>,
    /// The realm, e.g. `EXAMPLE.TEST`.
    pub realm: Vec<u8>,
}

/// Why a principal string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrincipalParseError {
    /// The string has no `@REALM` and no default realm was given.
    #[error("principal {0:?} has no realm (write it as name@REALM)")]
    NoRealm(String),
    /// A component or the realm is empty.
    #[error("principal {0:?} has an empty component or realm")]
    Empty(String),
    /// The string ends in a lone backslash.
    #[error("principal {0:?} ends with an unfinished escape")]
    BadEscape(String),
}

impl Principal {
    /// Builds a principal from string parts.
    ///
    /// ```
    /// use krb5_proto::Principal;
    /// let p = Principal::new(krb5_proto::principal::name_type::SRV_INST, ["krbtgt", "EXAMPLE.TEST"], "EXAMPLE.TEST");
    /// assert_eq!(p.to_string(), "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST");
    /// ```
    pub fn new<I, S>(name_type: i32, components: I, realm: &str) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            name_type,
            components: components
                .into_iter()
                .map(|c| c.as_ref().as_bytes().to_vec())
                .collect(),
            realm: realm.as_bytes().to_vec(),
        }
    }

    /// Parses `name[/instance...]@REALM` (backslash escapes `\/`, `\@`, `\\`). The name type is
    /// `PRINCIPAL` for one component and `SRV_INST` for `krbtgt/...`, else `PRINCIPAL`
    /// (MIT's `krb5_parse_name` behaviour). `default_realm` is used when the string has no realm.
    ///
    /// ```
    /// use krb5_proto::Principal;
    /// let p = Principal::parse("jäger@MIT.TEST", None).unwrap();
    /// assert_eq!(p.components, vec!["jäger".as_bytes().to_vec()]);
    /// assert_eq!(p.realm_str(), "MIT.TEST");
    /// ```
    pub fn parse(s: &str, default_realm: Option<&str>) -> Result<Self, PrincipalParseError> {
        let mut components = Vec::new();
        let mut cur = Vec::new();
        let mut realm: Option<Vec<u8>> = None;
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let e = chars
                        .next()
                        .ok_or_else(|| PrincipalParseError::BadEscape(s.into()))?;
                    let mapped = match e {
                        'n' => '\n',
                        't' => '\t',
                        'b' => '\u{8}',
                        '0' => '\0',
                        other => other,
                    };
                    let mut buf = [0u8; 4];
                    let bytes = mapped.encode_utf8(&mut buf).as_bytes().to_vec();
                    match realm.as_mut() {
                        Some(r) => r.extend_from_slice(&bytes),
                        None => cur.extend_from_slice(&bytes),
                    }
                }
                '/' if realm.is_none() => components.push(std::mem::take(&mut cur)),
                '@' if realm.is_none() => {
                    components.push(std::mem::take(&mut cur));
                    realm = Some(Vec::new());
                }
                other => {
                    let mut buf = [0u8; 4];
                    let bytes = other.encode_utf8(&mut buf).as_bytes();
                    match realm.as_mut() {
                        Some(r) => r.extend_from_slice(bytes),
                        None => cur.extend_from_slice(bytes),
                    }
                }
            }
        }
        let realm = match realm {
            Some(r) => r,
            None => {
                components.push(cur);
                default_realm
                    .map(|r| r.as_bytes().to_vec())
                    .ok_or_else(|| PrincipalParseError::NoRealm(s.into()))?
            }
        };
        if realm.is_empty() || components.iter().any(|c| c.is_empty()) {
            return Err(PrincipalParseError::Empty(s.into()));
        }
        let name_type = if components.len() == 2 && components[0] == b"krbtgt" {
            name_type::SRV_INST
        } else {
            name_type::PRINCIPAL
        };
        Ok(Self {
            name_type,
            components,
            realm,
        })
    }

    /// The ticket-granting service of `realm` as seen from `realm`: `krbtgt/REALM@REALM`.
    pub fn krbtgt(realm: &[u8]) -> Self {
        Self {
            name_type: name_type::SRV_INST,
            components: vec![b"krbtgt".to_vec(), realm.to_vec()],
            realm: realm.to_vec(),
        }
    }

    /// Whether this is a ticket-granting service principal (`krbtgt/...`).
    pub fn is_krbtgt(&self) -> bool {
        self.components.len() == 2 && self.components[0] == b"krbtgt"
    }

    /// The realm as text (lossy for non-UTF-8 bytes).
    pub fn realm_str(&self) -> String {
        String::from_utf8_lossy(&self.realm).into_owned()
    }

    /// The name without the realm, as text (`ldap/dc1.example.test`).
    pub fn name_string(&self) -> String {
        krb5_name::unparse_components(&self.components)
    }

    /// Case-insensitive comparison of name components and realm, as Active Directory compares names.
    pub fn eq_ignore_case(&self, other: &Self) -> bool {
        self.components.len() == other.components.len()
            && self.realm.eq_ignore_ascii_case(&other.realm)
            && self.components.iter().zip(&other.components).all(|(a, b)| {
                String::from_utf8_lossy(a).to_lowercase()
                    == String::from_utf8_lossy(b).to_lowercase()
            })
    }
}

impl fmt::Display for Principal {
    /// `a/b@R`, escaped as MIT's `krb5_unparse_name` does (see [`krb5_name`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&krb5_name::unparse(&self.components, &self.realm))
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({self}, type {})", self.name_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "user@MIT.TEST",
            "ldap/dc1.example.test@EXAMPLE.TEST",
            "jäger@MIT.TEST",
            "a\\/b@R",
            "WebApp01$@EXAMPLE.TEST",
        ] {
            assert_eq!(Principal::parse(s, None).unwrap().to_string(), s);
        }
        assert_eq!(
            Principal::parse("krbtgt/R@R", None).unwrap().name_type,
            name_type::SRV_INST
        );
        assert_eq!(Principal::parse("u", Some("R")).unwrap().to_string(), "u@R");
        assert!(Principal::parse("u", None).is_err());
        assert!(Principal::parse("u@", None).is_err());
        assert!(Principal::parse("a//b@R", None).is_err());
        assert!(Principal::parse("a\\", None).is_err());
    }
}
