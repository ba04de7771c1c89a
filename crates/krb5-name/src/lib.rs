//! Kerberos principal names as text, the one place both the Kerberos engine (`krb5-proto`) and
//! the credential-cache format (`ccache`, which must not depend on the engine) take them from.
//!
//! A principal is components and a realm, each raw bytes. As text (MIT's
//! `krb5_unparse_name`) the components are joined by `/`, the realm follows `@`, and inside a
//! component or the realm `/`, `@` and `\` are escaped with a backslash, and NUL, tab, newline
//! and backspace are written `\0`, `\t`, `\n`, `\b`. Bytes that are not UTF-8 are shown as
//! U+FFFD.
//!
//! ```
//! let name = krb5_name::unparse([&b"HTTP"[..], b"web/1"], b"EXAMPLE.TEST");
//! assert_eq!(name, r"HTTP/web\/1@EXAMPLE.TEST");
//! assert_eq!(krb5_name::unparse([&b"a\x08b"[..]], b"R"), r"a\bb@R");
//! ```

/// Appends `bytes` (one component, or the realm) to `out`, escaped as MIT does.
pub fn escape_into(out: &mut String, bytes: &[u8]) {
    for ch in String::from_utf8_lossy(bytes).chars() {
        match ch {
            '/' | '@' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
}

/// The components joined by `/`, each escaped ([`escape_into`]).
pub fn unparse_components<C: AsRef<[u8]>>(components: impl IntoIterator<Item = C>) -> String {
    let mut out = String::new();
    for (i, c) in components.into_iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        escape_into(&mut out, c.as_ref());
    }
    out
}

/// The whole name: `components@realm`, escaped.
pub fn unparse<C: AsRef<[u8]>>(components: impl IntoIterator<Item = C>, realm: &[u8]) -> String {
    let mut out = unparse_components(components);
    out.push('@');
    escape_into(&mut out, realm);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_mit_escapes() {
        assert_eq!(unparse([&b"a/b@c\\d"[..]], b"R/S@T"), r"a\/b\@c\\d@R\/S\@T");
        assert_eq!(unparse([&b"x\n\t\x08\0y"[..]], b"R"), r"x\n\t\b\0y@R");
        assert_eq!(
            unparse([&b"j\xc3\xa4ger"[..]], b"MIT.TEST"),
            "jäger@MIT.TEST"
        );
        assert_eq!(unparse([&b"\xff"[..]], b"R"), "\u{fffd}@R");
        assert_eq!(unparse(Vec::<Vec<u8>>::new(), b"R"), "@R");
    }
}
