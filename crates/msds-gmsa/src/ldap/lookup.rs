//! What a gMSA read is about, below both the [`session`](super::session) and the one-shot
//! [`fetch`](super::fetch): which gMSA ([`GmsaLookup`]), how to reach its DC
//! ([`FetchOptions`]), what comes back ([`FetchedPassword`]) and the attributes asked for.

use std::net::SocketAddr;
use std::time::Duration;

use ldap3_proto::proto::LdapSearchResultEntry;
use zeroize::Zeroizing;

use super::conn::{MANAGED_PASSWORD_ATTR, TlsMode};
use super::filter::gmsa_sam_account_name;
use super::sasl::SaslLayer;
use super::tls::LDAPS_PORT;
use crate::dc::DcAddr;
use crate::{GmsaError, ManagedPasswordBlob, dc};

/// Which gMSA to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GmsaLookup {
    /// By sAMAccountName, with or without the trailing `$` (`WebApp01` or `WebApp01$`),
    /// searched in the whole domain (subtree of the rootDSE's `defaultNamingContext`).
    SamAccountName(String),
    /// By distinguished name (a base-scope search on it).
    Dn(String),
    /// By sAMAccountName, searched in the subtree of an OU or container.
    UnderOu {
        /// The OU's DN, e.g. `CN=Managed Service Accounts,DC=example,DC=test`.
        ou_dn: String,
        /// The sAMAccountName, with or without `$`.
        sam: String,
    },
}

impl GmsaLookup {
    pub(crate) fn describe(&self) -> String {
        match self {
            GmsaLookup::SamAccountName(s) | GmsaLookup::UnderOu { sam: s, .. } => {
                gmsa_sam_account_name(s)
            }
            GmsaLookup::Dn(dn) => dn.clone(),
        }
    }
}

/// Options for [`GmsaReader`](crate::GmsaReader) and
/// [`fetch_managed_password`](crate::fetch_managed_password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// The DC as `host[:port]` (port 389 by default, 636 with [`TlsMode::Ldaps`]; with LDAPS
    /// an `ldaps://` prefix is accepted); `None` finds DCs through DNS SRV records
    /// `_ldap._tcp.dc._msdcs.<domain>` (with LDAPS their hosts on port 636).
    pub dc: Option<String>,
    /// DNS server for the SRV and address lookups instead of the system's.
    pub dns_server: Option<SocketAddr>,
    /// Bound on connecting and on each LDAP request/response.
    pub timeout: Duration,
    /// SASL layer on plain TCP. Keep [`SaslLayer::Confidentiality`] (the default): with
    /// integrity only the search is refused before it is sent. Ignored over LDAPS (no SASL
    /// layer there: TLS protects the connection).
    pub layer: SaslLayer,
    /// Transport: plain TCP with the SASL sealing layer (default), or LDAPS.
    pub tls: TlsMode,
    /// TEST ONLY: send the password search even without confidentiality, to observe the DC's
    /// own refusal. Never set it outside tests.
    #[doc(hidden)]
    pub danger_send_unprotected_password_search_for_tests: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            dc: None,
            dns_server: None,
            timeout: Duration::from_secs(10),
            layer: SaslLayer::Confidentiality,
            tls: TlsMode::Plain,
            danger_send_unprotected_password_search_for_tests: false,
        }
    }
}

/// A gMSA's password blob and the attributes read with it.
#[derive(Debug, Clone)]
pub struct FetchedPassword {
    /// The object's DN.
    pub dn: String,
    /// Its sAMAccountName (with `$`).
    pub sam_account_name: String,
    /// Its `dNSHostName`, if set.
    pub dns_host_name: Option<String>,
    /// Its `msDS-SupportedEncryptionTypes`, if set.
    pub supported_enctypes: Option<u32>,
    /// The parsed `msDS-ManagedPassword` (Debug redacts the passwords).
    pub blob: ManagedPasswordBlob,
    /// The DC that answered (`host:port`).
    pub dc: String,
}

/// The attributes requested for a gMSA.
pub const GMSA_ATTRS: [&str; 5] = [
    MANAGED_PASSWORD_ATTR,
    "sAMAccountName",
    "dNSHostName",
    "msDS-SupportedEncryptionTypes",
    "distinguishedName",
];

fn first_string(entry: &LdapSearchResultEntry, name: &str) -> Option<String> {
    entry
        .attributes
        .iter()
        .find(|a| a.atype.eq_ignore_ascii_case(name))
        .and_then(|a| a.vals.first())
        .and_then(|v| String::from_utf8(v.clone()).ok())
}

impl FetchedPassword {
    /// Builds the result from a search entry, taking the password value out of it (the copy
    /// left in the entry is zeroed). `user` and `gmsa` name the reader and the account in a
    /// [`GmsaError::NotAllowedToRetrieve`] when the attribute is absent.
    pub fn from_entry(
        entry: &mut LdapSearchResultEntry,
        dc: &str,
        user: &str,
        gmsa: &str,
    ) -> Result<Self, GmsaError> {
        use zeroize::Zeroize;
        let raw = entry
            .attributes
            .iter_mut()
            .find(|a| a.atype.eq_ignore_ascii_case(MANAGED_PASSWORD_ATTR))
            .and_then(|a| {
                let v = a
                    .vals
                    .first_mut()
                    .map(|v| Zeroizing::new(std::mem::take(v)));
                for other in &mut a.vals {
                    other.zeroize();
                }
                v
            });
        let Some(raw) = raw else {
            return Err(GmsaError::NotAllowedToRetrieve {
                user: user.to_owned(),
                gmsa: gmsa.to_owned(),
            });
        };
        let blob = ManagedPasswordBlob::parse(&raw)?;
        let dn = first_string(entry, "distinguishedName").unwrap_or_else(|| entry.dn.clone());
        let sam_account_name =
            first_string(entry, "sAMAccountName").unwrap_or_else(|| gmsa.to_owned());
        let supported_enctypes =
            first_string(entry, "msDS-SupportedEncryptionTypes").and_then(|s| {
                let s = s.trim();
                // AD stores a signed 32-bit integer.
                s.parse::<u32>()
                    .ok()
                    .or_else(|| s.parse::<i32>().ok().map(|v| v as u32))
            });
        Ok(Self {
            dn,
            sam_account_name,
            dns_host_name: first_string(entry, "dNSHostName"),
            supported_enctypes,
            blob,
            dc: dc.to_owned(),
        })
    }
}

/// The DCs to try over LDAPS: the given DCs (one `host[:port]` or several separated by commas,
/// each with an optional `ldaps://` prefix; port 636 unless one is given), or the SRV-listed
/// hosts ordered by AD site as for plain LDAP ([`dc::locate_by_site`]: the NetLogon ping over
/// CLDAP, then the site's DCs first), on port 636.
pub async fn ldaps_choice(
    domain: &str,
    opts: &FetchOptions,
    ping_timeout: Duration,
) -> Result<dc::DcChoice, GmsaError> {
    let Some(input) = opts.dc.as_deref() else {
        let mut choice = dc::locate_by_site(domain, None, opts.dns_server, ping_timeout).await?;
        for a in &mut choice.candidates {
            a.port = LDAPS_PORT;
        }
        choice.why = format!("{} (LDAPS: port 636)", choice.why);
        return Ok(choice);
    };
    let candidates = dc::parse_dc_list_with(input, |part| {
        let trimmed = part.trim();
        let rest = if trimmed
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("ldaps://"))
        {
            trimmed.get(8..).unwrap_or_default()
        } else {
            trimmed
        };
        let mut addr = DcAddr::parse(rest).map_err(|e| match e {
            GmsaError::InvalidDcAddress { reason, .. } => GmsaError::InvalidDcAddress {
                input: input.to_owned(),
                reason,
            },
            other => other,
        })?;
        if !has_explicit_port(rest) {
            addr.port = LDAPS_PORT;
        }
        Ok(addr)
    })?;
    Ok(dc::DcChoice {
        candidates,
        site: None,
        why: "given (--dc / DOMAIN_CONTROLLER_GMSA), tried in the order given (LDAPS: port 636 \
              unless given)"
            .to_owned(),
    })
}

/// The candidates of [`ldaps_choice`] (NetLogon ping at most 2 s per DC).
pub async fn ldaps_candidates(domain: &str, opts: &FetchOptions) -> Result<Vec<DcAddr>, GmsaError> {
    let ping = opts.timeout.min(Duration::from_secs(2));
    Ok(ldaps_choice(domain, opts, ping).await?.candidates)
}

/// Whether `host[:port]` (as [`DcAddr::parse`] reads it) names a port.
fn has_explicit_port(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix("ldap://").unwrap_or(s).trim_end_matches('/');
    if s.parse::<std::net::IpAddr>().is_ok() {
        return false;
    }
    match s.strip_prefix('[') {
        Some(rest) => rest
            .split_once(']')
            .is_some_and(|(_, p)| p.starts_with(':')),
        None => s.contains(':'),
    }
}

/// Zeroes every `msDS-ManagedPassword` value left in search entries.
pub(crate) fn wipe_passwords(entries: &mut [LdapSearchResultEntry]) {
    use zeroize::Zeroize;
    for e in entries {
        for a in &mut e.attributes {
            if a.atype.eq_ignore_ascii_case(MANAGED_PASSWORD_ATTR) {
                for v in &mut a.vals {
                    v.zeroize();
                }
            }
        }
    }
}

pub(crate) fn validate(lookup: &GmsaLookup) -> Result<(), GmsaError> {
    let bad = |s: &str| GmsaError::InvalidLookup(s.to_owned());
    match lookup {
        GmsaLookup::SamAccountName(s) | GmsaLookup::UnderOu { sam: s, .. }
            if s.trim().trim_end_matches('$').is_empty() =>
        {
            Err(bad("the gMSA name is empty"))
        }
        GmsaLookup::UnderOu { ou_dn, .. } if ou_dn.trim().is_empty() => {
            Err(bad("the OU DN is empty"))
        }
        GmsaLookup::Dn(dn) if dn.trim().is_empty() => Err(bad("the gMSA DN is empty")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::proto::LdapPartialAttribute;

    fn attr(name: &str, v: &[u8]) -> LdapPartialAttribute {
        LdapPartialAttribute {
            atype: name.into(),
            vals: vec![v.to_vec()],
        }
    }

    fn blob() -> Vec<u8> {
        let pw: Vec<u8> = "S3cret!"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let q = 16 + pw.len() + 2;
        let mut b = vec![1, 0, 0, 0];
        b.extend_from_slice(&((q + 16) as u32).to_le_bytes());
        for off in [16u16, 0, q as u16, q as u16 + 8] {
            b.extend_from_slice(&off.to_le_bytes());
        }
        b.extend_from_slice(&pw);
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&(30 * 24 * 3600 * 10_000_000u64).to_le_bytes());
        b.extend_from_slice(&(30 * 24 * 3600 * 10_000_000u64 - 3_000_000_000).to_le_bytes());
        b
    }

    #[test]
    fn entry_with_password() {
        let mut e = LdapSearchResultEntry {
            dn: "CN=WebApp01,CN=Managed Service Accounts,DC=example,DC=test".into(),
            attributes: vec![
                attr("msds-managedpassword", &blob()),
                attr("sAMAccountName", b"WebApp01$"),
                attr("dNSHostName", b"webapp01.example.test"),
                attr("msDS-SupportedEncryptionTypes", b"-2147483620"),
            ],
        };
        let f = FetchedPassword::from_entry(&mut e, "dc1:389", "u@R", "WebApp01$").unwrap();
        assert_eq!(f.sam_account_name, "WebApp01$");
        assert_eq!(f.dn, e.dn);
        assert_eq!(f.supported_enctypes, Some(0x8000_001c));
        assert_eq!(f.dns_host_name.as_deref(), Some("webapp01.example.test"));
        assert!(
            e.attributes[0].vals[0].is_empty(),
            "the value was taken out"
        );
        assert!(!format!("{f:?}").contains("S3cret"));
    }

    #[test]
    fn entry_without_password_names_user_and_gmsa() {
        let mut e = LdapSearchResultEntry {
            dn: "CN=WebApp01,DC=x".into(),
            attributes: vec![attr("sAMAccountName", b"WebApp01$")],
        };
        let err = FetchedPassword::from_entry(&mut e, "dc", "svc-denied@EXAMPLE.TEST", "WebApp01$")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("svc-denied@EXAMPLE.TEST") && text.contains("WebApp01$"),
            "{text}"
        );
        assert!(text.contains("PrincipalsAllowedToRetrieveManagedPassword"));
        assert!(text.contains("msDS-GroupMSAMembership"));
    }

    #[test]
    fn explicit_ports() {
        for (s, explicit) in [
            ("dc1.example.test", false),
            ("dc1.example.test:636", true),
            ("dc1.example.test:389", true),
            ("ldap://dc1.example.test/", false),
            ("127.0.0.2", false),
            ("127.0.0.2:3269", true),
            ("::1", false),
            ("fe80::389", false),
            ("[::1]", false),
            ("[::1]:636", true),
        ] {
            assert_eq!(has_explicit_port(s), explicit, "{s}");
        }
    }

    #[tokio::test]
    async fn ldaps_defaults_to_port_636() {
        let opts = |dc: &str| FetchOptions {
            dc: Some(dc.to_owned()),
            tls: TlsMode::Ldaps { ca_file: None },
            ..FetchOptions::default()
        };
        for (input, want) in [
            ("dc1.example.test", "dc1.example.test:636"),
            ("ldaps://dc1.example.test/", "dc1.example.test:636"),
            ("LDAPS://dc1.example.test:3269", "dc1.example.test:3269"),
            ("127.0.0.2", "127.0.0.2:636"),
            ("[::1]", "[::1]:636"),
        ] {
            let got = ldaps_candidates("example.test", &opts(input))
                .await
                .unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].to_string(), want, "{input}");
        }
        let got = ldaps_candidates(
            "example.test",
            &opts("ldaps://dc2.example.test, dc1.example.test:3269,dc2.example.test:636"),
        )
        .await
        .unwrap();
        let got: Vec<String> = got.iter().map(ToString::to_string).collect();
        assert_eq!(got, ["dc2.example.test:636", "dc1.example.test:3269"]);
        let err = ldaps_candidates("example.test", &opts("ldaps://"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, GmsaError::InvalidDcAddress { input, .. } if input == "ldaps://"),
            "{err}"
        );
    }

    #[test]
    fn lookups_are_validated() {
        for l in [
            GmsaLookup::SamAccountName("$".into()),
            GmsaLookup::Dn(" ".into()),
            GmsaLookup::UnderOu {
                ou_dn: "".into(),
                sam: "x".into(),
            },
        ] {
            assert!(matches!(validate(&l), Err(GmsaError::InvalidLookup(_))));
        }
    }
}
