//! Kerberos salts for gMSA (computer-style) accounts.

/// Lowercases per code point with the simple (one-to-one) mapping, leaving characters whose
/// lowercase form is several characters unchanged, like Windows and Samba's per-unit mapping.
fn simple_lower(s: &str, out: &mut String) {
    for c in s.chars() {
        let mut m = c.to_lowercase();
        match (m.next(), m.next()) {
            (Some(l), None) => out.push(l),
            _ => out.push(c),
        }
    }
}

/// Uppercase counterpart of [`simple_lower`].
fn simple_upper(s: &str, out: &mut String) {
    for c in s.chars() {
        let mut m = c.to_uppercase();
        match (m.next(), m.next()) {
            (Some(u), None) => out.push(u),
            _ => out.push(c),
        }
    }
}

/// The AES salt Active Directory uses for a gMSA, which follows the computer-account rule
/// (MS-KILE 3.1.1.2; gMSAs are `WORKSTATION_TRUST_ACCOUNT`s):
/// `UPPER(realm) || "host" || lower(sAMAccountName minus one trailing '$') || "." || lower(realm)`.
///
/// Use the salt from the KDC's PA-ETYPE-INFO2 instead whenever the KDC supplies one.
///
/// ```
/// use msds_gmsa::computer_account_salt;
///
/// assert_eq!(
///     computer_account_salt("example.com", "WebApp01$"),
///     b"EXAMPLE.COMhostwebapp01.example.com"
/// );
/// ```
pub fn computer_account_salt(realm: &str, sam_account_name: &str) -> Vec<u8> {
    computer_account_salt_with_domain(realm, sam_account_name, realm)
}

/// Like [`computer_account_salt`], for a forest whose DNS domain name differs from the
/// Kerberos realm: `UPPER(realm) || "host" || lower(sam minus one '$') || "." || lower(dns_domain)`.
///
/// ```
/// use msds_gmsa::computer_account_salt_with_domain;
///
/// assert_eq!(
///     computer_account_salt_with_domain("CORP.EXAMPLE", "svc$", "ad.corp.example"),
///     b"CORP.EXAMPLEhostsvc.ad.corp.example"
/// );
/// ```
pub fn computer_account_salt_with_domain(
    realm: &str,
    sam_account_name: &str,
    dns_domain: &str,
) -> Vec<u8> {
    let sam = sam_account_name
        .strip_suffix('$')
        .unwrap_or(sam_account_name);
    let mut s = String::with_capacity(realm.len() + 5 + sam.len() + 1 + dns_domain.len());
    simple_upper(realm, &mut s);
    s.push_str("host");
    simple_lower(sam, &mut s);
    s.push('.');
    simple_lower(dns_domain, &mut s);
    s.into_bytes()
}
