//! The realms a cross-realm TGS exchange goes through: krb5.conf `[capaths]`, else the
//! hierarchical path (MIT krb5's `k5_client_realm_path()` / `krb5_walk_realm_tree()`).
//!
//! `[capaths]` is keyed by the client's realm, then by the server's realm; each value is one
//! intermediate realm, in order, and `.` means "directly":
//!
//! ```
//! use krb5_proto::config::Krb5Conf;
//! use krb5_proto::realm_path::Capaths;
//!
//! let conf = Krb5Conf::parse(
//!     "[capaths]\n A.TEST = {\n  B.TEST = .\n  C.TEST = B.TEST\n }\n",
//! )?;
//! let capaths = Capaths::from_conf(&conf);
//! assert_eq!(capaths.path(b"A.TEST", b"C.TEST"), [&b"A.TEST"[..], b"B.TEST", b"C.TEST"]);
//! assert_eq!(capaths.path(b"A.TEST", b"B.TEST"), [&b"A.TEST"[..], b"B.TEST"]);
//! // No entry: the hierarchical path through the common parent domain.
//! assert_eq!(
//!     capaths.path(b"ENG.CORP.EXAMPLE", b"APPS.CORP.EXAMPLE"),
//!     [&b"ENG.CORP.EXAMPLE"[..], b"CORP.EXAMPLE", b"APPS.CORP.EXAMPLE"]
//! );
//! # Ok::<(), krb5_proto::config::ConfigError>(())
//! ```

use crate::config::Krb5Conf;

/// One `[capaths]` entry: (client realm, server realm, intermediate realms in order).
type Entry = (Vec<u8>, Vec<u8>, Vec<Vec<u8>>);

/// The `[capaths]` section of krb5.conf as data (the TGS state machine never reads files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capaths {
    entries: Vec<Entry>,
}

impl Capaths {
    /// No `[capaths]`: every path is hierarchical.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `[capaths]` from `conf` (every client realm block, every server realm key).
    pub fn from_conf(conf: &Krb5Conf) -> Self {
        let mut out = Self::new();
        for (client, server) in conf.relation_keys2("capaths") {
            let hops = conf.values(&["capaths", &client, &server]);
            out.insert(&client, &server, &hops);
        }
        out
    }

    /// Adds (or extends) the entry for `client` → `server`; `"."` values mean "directly".
    pub fn insert(&mut self, client: &str, server: &str, intermediates: &[&str]) {
        let hops: Vec<Vec<u8>> = intermediates
            .iter()
            .map(|h| h.trim())
            .filter(|h| !h.is_empty() && *h != ".")
            .map(|h| h.as_bytes().to_vec())
            .collect();
        match self
            .entries
            .iter_mut()
            .find(|(c, s, _)| c == client.as_bytes() && s == server.as_bytes())
        {
            Some((_, _, existing)) => existing.extend(hops),
            None => {
                self.entries
                    .push((client.as_bytes().to_vec(), server.as_bytes().to_vec(), hops))
            }
        }
    }

    /// Whether no entry was configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The realms from `client` to `server`, both included: `[capaths]` when it has an entry,
    /// else [`hierarchical_path`]. `[client]` alone when both are the same realm.
    pub fn path(&self, client: &[u8], server: &[u8]) -> Vec<Vec<u8>> {
        if client == server {
            return vec![client.to_vec()];
        }
        match self
            .entries
            .iter()
            .find(|(c, s, _)| c == client && s == server)
        {
            Some((_, _, hops)) => {
                let mut path = vec![client.to_vec()];
                path.extend(hops.iter().cloned());
                path.push(server.to_vec());
                path
            }
            None => hierarchical_path(client, server),
        }
    }
}

/// Most dot-separated labels of a realm for which a hierarchical path is made; a realm with
/// more (it may come from a KDC's referral) is taken as one hop away, so that a hostile name
/// cannot make the path (one joined string per label) grow with the square of its length.
pub const MAX_REALM_LABELS: usize = 32;

/// The hierarchical path from `client` to `server` realm: up from `client` to the longest
/// common dot-separated suffix, then down to `server` (`A.CORP.EX` → `CORP.EX` → `B.CORP.EX`).
/// Realms without a common suffix, or with more than [`MAX_REALM_LABELS`] labels, are one hop
/// apart (`[client, server]`).
pub fn hierarchical_path(client: &[u8], server: &[u8]) -> Vec<Vec<u8>> {
    if client == server {
        return vec![client.to_vec()];
    }
    let c: Vec<&[u8]> = client
        .split(|b| *b == b'.')
        .take(MAX_REALM_LABELS + 1)
        .collect();
    let s: Vec<&[u8]> = server
        .split(|b| *b == b'.')
        .take(MAX_REALM_LABELS + 1)
        .collect();
    if c.len() > MAX_REALM_LABELS || s.len() > MAX_REALM_LABELS {
        return vec![client.to_vec(), server.to_vec()];
    }
    let common = c
        .iter()
        .rev()
        .zip(s.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return vec![client.to_vec(), server.to_vec()];
    }
    let join = |parts: &[&[u8]]| parts.join(&b'.');
    let mut path = Vec::new();
    // Up: client, then each parent down to (and including) the common suffix.
    for i in 0..=(c.len() - common) {
        path.push(join(&c[i..]));
    }
    // Down: from just below the common suffix to the server realm.
    for i in (0..(s.len() - common)).rev() {
        path.push(join(&s[i..]));
    }
    // A realm that is the common suffix itself appears once.
    path.dedup();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(p: Vec<Vec<u8>>) -> Vec<String> {
        p.into_iter()
            .map(|r| String::from_utf8(r).unwrap())
            .collect()
    }

    #[test]
    fn hierarchical_paths() {
        assert_eq!(
            strs(hierarchical_path(b"A.TEST", b"B.TEST")),
            ["A.TEST", "TEST", "B.TEST"]
        );
        assert_eq!(
            strs(hierarchical_path(
                b"CORP.EXAMPLE.COM",
                b"APPS.CORP.EXAMPLE.COM"
            )),
            ["CORP.EXAMPLE.COM", "APPS.CORP.EXAMPLE.COM"]
        );
        assert_eq!(
            strs(hierarchical_path(
                b"APPS.CORP.EXAMPLE.COM",
                b"CORP.EXAMPLE.COM"
            )),
            ["APPS.CORP.EXAMPLE.COM", "CORP.EXAMPLE.COM"]
        );
        assert_eq!(
            strs(hierarchical_path(b"X.ONE", b"Y.TWO")),
            ["X.ONE", "Y.TWO"]
        );
        assert_eq!(strs(hierarchical_path(b"R", b"R")), ["R"]);
    }

    /// A referral realm of a million dots costs no more than its own copy.
    #[test]
    fn hostile_realm_names_are_one_hop() {
        let long = [b".X".repeat(500_000), b".TEST".to_vec()].concat();
        let p = hierarchical_path(b"A.TEST", &long);
        assert_eq!(p.len(), 2);
        let ok = b"L.".repeat(MAX_REALM_LABELS - 1);
        let ok = [ok, b"TEST".to_vec()].concat();
        assert_eq!(
            hierarchical_path(b"A.TEST", &ok).len(),
            MAX_REALM_LABELS + 1
        );
    }

    #[test]
    fn capaths_from_conf() {
        let conf = Krb5Conf::parse(
            "[capaths]\n A.TEST = {\n  C.TEST = B.TEST\n  D.TEST = B.TEST\n  D.TEST = C.TEST\n  B.TEST = .\n }\n",
        )
        .unwrap();
        let c = Capaths::from_conf(&conf);
        assert_eq!(
            strs(c.path(b"A.TEST", b"D.TEST")),
            ["A.TEST", "B.TEST", "C.TEST", "D.TEST"]
        );
        assert_eq!(strs(c.path(b"A.TEST", b"B.TEST")), ["A.TEST", "B.TEST"]);
        // Not configured for this client realm: hierarchical.
        assert_eq!(
            strs(c.path(b"C.TEST", b"A.TEST")),
            ["C.TEST", "TEST", "A.TEST"]
        );
    }
}
