//! Principal names as stored in a credential cache.

use std::fmt;

use crate::CcacheError;

/// Principal name types (RFC 4120 §6.2) most often seen in caches.
pub mod name_type {
    /// Name type not known.
    pub const UNKNOWN: u32 = 0;
    /// A user or other single-instance principal (`KRB5_NT_PRINCIPAL`).
    pub const PRINCIPAL: u32 = 1;
    /// Service and other unique instance, e.g. `krbtgt/REALM` (`KRB5_NT_SRV_INST`).
    pub const SRV_INST: u32 = 2;
    /// Service with a host name as instance (`KRB5_NT_SRV_HST`).
    pub const SRV_HST: u32 = 3;
    /// Enterprise name (RFC 6806).
    pub const ENTERPRISE: u32 = 10;
}

/// A principal as the FILE cache stores it: a name type, a realm and name components,
/// each kept as raw bytes (UTF-8 in practice, but never rejected when it is not).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Principal {
    /// The name type (see [`name_type`]); MIT stores it as a 32-bit integer.
    pub name_type: u32,
    /// The realm, e.g. `EXAMPLE.COM`.
    pub realm: Vec<u8>,
    /// The name components, e.g. `["krbtgt", "EXAMPLE.COM"]`.
    pub components: Vec<Vec<u8>>,
}

impl Principal {
    /// Builds a principal from string parts.
    ///
    /// ```
    /// use ccache::{Principal, name_type};
    /// let p = Principal::new(name_type::SRV_INST, &["krbtgt", "EXAMPLE.COM"], "EXAMPLE.COM");
    /// assert_eq!(p.to_string(), "krbtgt/EXAMPLE.COM@EXAMPLE.COM");
    /// ```
    pub fn new(name_type: u32, components: &[&str], realm: &str) -> Self {
        Self {
            name_type,
            realm: realm.as_bytes().to_vec(),
            components: components.iter().map(|c| c.as_bytes().to_vec()).collect(),
        }
    }

    /// Parses `name[/instance...]@REALM`. Backslash escapes `\/`, `\@`, `\\`, `\n`, `\t`, `\b`
    /// and `\0` are understood, as in MIT `krb5_parse_name`. The realm is required. The name
    /// type is `SRV_INST` for `krbtgt/...` and `PRINCIPAL` otherwise.
    ///
    /// ```
    /// use ccache::Principal;
    /// let p = Principal::parse("webapp01$@EXAMPLE.COM").unwrap();
    /// assert_eq!(p.components, vec![b"webapp01$".to_vec()]);
    /// assert_eq!(p.realm, b"EXAMPLE.COM");
    /// assert!(Principal::parse("no-realm").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, CcacheError> {
        let bad = |reason| CcacheError::BadPrincipal {
            name: s.to_owned(),
            reason,
        };
        let mut components = Vec::new();
        let mut cur = Vec::new();
        let mut realm: Option<Vec<u8>> = None;
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            let literal = match c {
                '\\' => match chars.next() {
                    None => return Err(bad("it ends with an unfinished backslash escape")),
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('b') => '\u{8}',
                    Some('0') => '\0',
                    Some(other) => other,
                },
                '/' if realm.is_none() => {
                    components.push(std::mem::take(&mut cur));
                    continue;
                }
                '@' if realm.is_none() => {
                    components.push(std::mem::take(&mut cur));
                    realm = Some(Vec::new());
                    continue;
                }
                other => other,
            };
            let mut buf = [0u8; 4];
            let bytes = literal.encode_utf8(&mut buf).as_bytes();
            match realm.as_mut() {
                Some(r) => r.extend_from_slice(bytes),
                None => cur.extend_from_slice(bytes),
            }
        }
        let realm = realm.ok_or_else(|| bad("it has no @REALM"))?;
        if realm.is_empty() {
            return Err(bad("the realm is empty"));
        }
        if components.iter().any(|c| c.is_empty()) {
            return Err(bad("a name component is empty"));
        }
        let name_type = if components.len() == 2 && components[0] == b"krbtgt" {
            name_type::SRV_INST
        } else {
            name_type::PRINCIPAL
        };
        Ok(Self {
            name_type,
            realm,
            components,
        })
    }

    /// The ticket-granting service of `realm`: `krbtgt/REALM@REALM` (name type `SRV_INST`).
    pub fn krbtgt(realm: &[u8]) -> Self {
        Self {
            name_type: name_type::SRV_INST,
            realm: realm.to_vec(),
            components: vec![b"krbtgt".to_vec(), realm.to_vec()],
        }
    }

    /// Whether `self` and `other` name the same principal: realm and components compared
    /// byte for byte, the name type ignored (as MIT `krb5_principal_compare` does).
    pub fn same_name(&self, other: &Self) -> bool {
        self.realm == other.realm && self.components == other.components
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
