//! LDAP search filters for gMSA lookups, with RFC 4515 value escaping.
//!
//! Filters are sent as BER structures ([`LdapFilter`]), where an assertion value is an octet
//! string and needs no escaping; the string form (RFC 4515), used in messages and logs, escapes
//! `*`, `(`, `)`, `\` and NUL as `\2a`, `\28`, `\29`, `\5c`, `\00`. Either way a name such as
//! `*` or `a)(objectClass=*` matches only itself.

use ldap3_proto::proto::LdapFilter;

/// The object class of a group Managed Service Account.
pub const GMSA_OBJECT_CLASS: &str = "msDS-GroupManagedServiceAccount";

/// Escapes an assertion value for the string form of a filter (RFC 4515 §3).
///
/// ```
/// use msds_gmsa::ldap::filter::escape_value;
/// assert_eq!(escape_value("a*b(c)d\\e\0"), r"a\2ab\28c\29d\5ce\00");
/// assert_eq!(escape_value("WebApp01$"), "WebApp01$");
/// ```
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str(r"\2a"),
            '(' => out.push_str(r"\28"),
            ')' => out.push_str(r"\29"),
            '\\' => out.push_str(r"\5c"),
            '\0' => out.push_str(r"\00"),
            c => out.push(c),
        }
    }
    out
}

/// The sAMAccountName of a gMSA from a name with or without the trailing `$`.
///
/// ```
/// use msds_gmsa::ldap::filter::gmsa_sam_account_name;
/// assert_eq!(gmsa_sam_account_name("WebApp01"), "WebApp01$");
/// assert_eq!(gmsa_sam_account_name("WebApp01$"), "WebApp01$");
/// ```
pub fn gmsa_sam_account_name(name: &str) -> String {
    let name = name.trim();
    if name.ends_with('$') {
        name.to_owned()
    } else {
        format!("{name}$")
    }
}

/// `(&(objectClass=msDS-GroupManagedServiceAccount)(sAMAccountName=<sam>))`.
pub fn gmsa_by_sam(sam: &str) -> LdapFilter {
    LdapFilter::And(vec![
        LdapFilter::Equality("objectClass".to_owned(), GMSA_OBJECT_CLASS.to_owned()),
        LdapFilter::Equality("sAMAccountName".to_owned(), sam.to_owned()),
    ])
}

/// `(objectClass=msDS-GroupManagedServiceAccount)`, for a base-scope search on a DN.
pub fn gmsa_any() -> LdapFilter {
    LdapFilter::Equality("objectClass".to_owned(), GMSA_OBJECT_CLASS.to_owned())
}

/// The RFC 4515 string form of the filters built here (`And`, `Or`, `Not`, `Equality`,
/// `Present`), values escaped; other kinds render as `(?)`.
///
/// ```
/// use msds_gmsa::ldap::filter::{gmsa_by_sam, to_string};
/// assert_eq!(
///     to_string(&gmsa_by_sam("x)(cn=*")),
///     r"(&(objectClass=msDS-GroupManagedServiceAccount)(sAMAccountName=x\29\28cn=\2a))"
/// );
/// ```
pub fn to_string(f: &LdapFilter) -> String {
    match f {
        LdapFilter::And(v) => format!("(&{})", v.iter().map(to_string).collect::<String>()),
        LdapFilter::Or(v) => format!("(|{})", v.iter().map(to_string).collect::<String>()),
        LdapFilter::Not(x) => format!("(!{})", to_string(x)),
        LdapFilter::Equality(a, v) => format!("({a}={})", escape_value(v)),
        LdapFilter::Present(a) => format!("({a}=*)"),
        _ => "(?)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_stays_a_literal_value() {
        let f = gmsa_by_sam("*)(objectClass=*");
        match &f {
            LdapFilter::And(v) => {
                assert_eq!(
                    v[1],
                    LdapFilter::Equality("sAMAccountName".into(), "*)(objectClass=*".into())
                );
            }
            _ => panic!("not an AND"),
        }
        assert_eq!(
            to_string(&f),
            r"(&(objectClass=msDS-GroupManagedServiceAccount)(sAMAccountName=\2a\29\28objectClass=\2a))"
        );
    }

    #[test]
    fn escape_table() {
        for (input, want) in [
            ("", ""),
            ("plain", "plain"),
            ("*", r"\2a"),
            ("(", r"\28"),
            (")", r"\29"),
            ("\\", r"\5c"),
            ("\0", r"\00"),
            ("jäger$", "jäger$"),
        ] {
            assert_eq!(escape_value(input), want, "{input:?}");
        }
    }
}
