//! Credentials the KDC refused, remembered so they are never sent again.
//!
//! AD locks an account after a few failed pre-authentications (often 3-10, domain-wide or by a
//! fine-grained password policy). One wrong password given to the daemon must therefore cost at
//! most ONE failed pre-authentication, however many leases, renewals, timers or agent retries
//! use it: a login that the KDC refused with [`KDC_ERR_PREAUTH_FAILED`], `CLIENT_REVOKED`,
//! `KEY_EXPIRED` (password expired) or whose reply did not decrypt (wrong key) is recorded here,
//! and every later login of that principal with the same secret fails at once with
//! `PERMISSION_DENIED` instead of reaching the KDC, until different credentials arrive.
//!
//! The secret is kept only as an HMAC-SHA256 tag under a random key drawn when the daemon starts
//! (never written anywhere), so the memory of a refused password reveals nothing that could be
//! checked against a guess outside this process.
//!
//! [`KDC_ERR_PREAUTH_FAILED`]: krb5_proto::asn1::error_code::KDC_ERR_PREAUTH_FAILED

use super::error::{ErrorKind, LeaseError};
use hmac::{Hmac, KeyInit, Mac};
use krb5_proto::as_exchange::Secret;
use krb5_proto::asn1::error_code;
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;
use zeroize::Zeroizing;

/// Refused secrets remembered per principal (the oldest is forgotten first).
const PER_PRINCIPAL: usize = 8;
/// Principals with refused secrets remembered (the one refused longest ago is forgotten first).
const PRINCIPALS: usize = 4096;

/// The KDC's refusals of a login's credentials that must not be retried with the same secret:
/// the RFC name of the refusal, `None` for any other failure (an unreachable KDC, a clock skew,
/// an unknown user, ...).
pub fn refusal_reason(e: &krb5_proto::Error) -> Option<&'static str> {
    match e {
        krb5_proto::Error::Kdc(k)
            if [
                error_code::KDC_ERR_PREAUTH_FAILED,
                error_code::KDC_ERR_CLIENT_REVOKED,
                error_code::KDC_ERR_KEY_EXPIRED,
            ]
            .contains(&k.code) =>
        {
            Some(k.name)
        }
        krb5_proto::Error::WrongKey { .. } => Some("the KDC's reply did not decrypt (wrong key)"),
        _ => None,
    }
}

/// Whether a lease error is a login the KDC refused (now or before): the login's credentials
/// must change before it is tried again. A gMSA's own login (its password is managed by AD and
/// read afresh) is not one.
pub fn is_credentials_refusal(e: &LeaseError) -> bool {
    e.kind == ErrorKind::PermissionDenied
        && e.step.starts_with("logging in as ")
        && !e.step.starts_with("logging in as the gMSA")
}

/// A refused secret: its keyed tag, when and why it was refused.
#[derive(Clone)]
struct Refusal {
    tag: [u8; 32],
    at: SystemTime,
    reason: String,
}

/// The refused (principal, secret) pairs of this daemon.
pub struct Refusals {
    key: Zeroizing<[u8; 32]>,
    /// By lower-case principal; each with its insertion order for eviction.
    by_principal: Mutex<HashMap<String, (u64, VecDeque<Refusal>)>>,
    order: std::sync::atomic::AtomicU64,
}

impl Default for Refusals {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Refusals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusals").finish_non_exhaustive()
    }
}

impl Refusals {
    /// An empty memory with a fresh random key.
    pub fn new() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        // Without an OS RNG the tags are still never the secret; they become guessable
        // offline only to someone reading this process's memory, who could read the secret.
        let _ = getrandom::fill(key.as_mut());
        Self {
            key,
            by_principal: Mutex::default(),
            order: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, VecDeque<Refusal>)>> {
        match self.by_principal.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    /// The keyed tag of `principal`'s `secret`.
    pub fn tag(&self, principal: &str, secret: &Secret) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.as_ref())
            .expect("HMAC takes any key length");
        mac.update(principal.to_ascii_lowercase().as_bytes());
        mac.update(&[0]);
        match secret {
            Secret::Password(p) => {
                mac.update(b"password\0");
                mac.update(p);
            }
            Secret::PasswordWithRc4 { utf8, rc4 } => {
                mac.update(b"password+rc4\0");
                mac.update(utf8);
                mac.update(&[0]);
                mac.update(rc4.as_bytes());
            }
            Secret::Keys(keys) => {
                mac.update(b"keys\0");
                for k in keys {
                    mac.update(&k.etype().to_i32().to_be_bytes());
                    mac.update(&(k.as_bytes().len() as u32).to_be_bytes());
                    mac.update(k.as_bytes());
                }
            }
            #[allow(unreachable_patterns)]
            _ => mac.update(b"other\0"),
        }
        mac.finalize().into_bytes().into()
    }

    /// The error for a login whose secret was refused before, if it was.
    pub fn check(&self, principal: &str, tag: &[u8; 32]) -> Option<LeaseError> {
        let m = self.map();
        let (_, list) = m.get(&principal.to_ascii_lowercase())?;
        let r = list.iter().find(|r| &r.tag == tag)?;
        Some(LeaseError::new(
            ErrorKind::PermissionDenied,
            format!("logging in as {principal}"),
            format!(
                "these credentials were refused by the KDC at {}: {}; not retried until new credentials arrive (RenewNonDomainJoinedKerberosLease with the right password, or a new secret)",
                crate::timefmt::iso8601(
                    r.at.duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs() as i64)
                ),
                r.reason
            ),
        ))
    }

    /// Records that the KDC refused `principal`'s secret (`tag`) for `reason`.
    pub fn record(&self, principal: &str, tag: [u8; 32], reason: &str) {
        let n = self
            .order
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut m = self.map();
        if m.len() >= PRINCIPALS && !m.contains_key(&principal.to_ascii_lowercase()) {
            let oldest = m
                .iter()
                .min_by_key(|(_, (order, _))| *order)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                m.remove(&k);
            }
        }
        let (order, list) = m.entry(principal.to_ascii_lowercase()).or_default();
        *order = n;
        list.retain(|r| r.tag != tag);
        if list.len() >= PER_PRINCIPAL {
            list.pop_front();
        }
        list.push_back(Refusal {
            tag,
            at: SystemTime::now(),
            reason: reason.to_string(),
        });
    }

    /// How many refused secrets are remembered for `principal`.
    pub fn count(&self, principal: &str) -> usize {
        self.map()
            .get(&principal.to_ascii_lowercase())
            .map_or(0, |(_, l)| l.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_secrets_are_remembered_by_tag_only() {
        let r = Refusals::new();
        let bad = Secret::password("wrong");
        let good = Secret::password("right");
        let t_bad = r.tag("svc@EXAMPLE.TEST", &bad);
        assert_eq!(
            t_bad,
            r.tag("SVC@example.test", &bad),
            "case of the principal"
        );
        assert_ne!(t_bad, r.tag("svc@EXAMPLE.TEST", &good));
        assert_ne!(t_bad, r.tag("other@EXAMPLE.TEST", &bad));
        assert_ne!(
            t_bad,
            Refusals::new().tag("svc@EXAMPLE.TEST", &bad),
            "per-daemon key"
        );
        assert!(r.check("svc@EXAMPLE.TEST", &t_bad).is_none());
        r.record("svc@EXAMPLE.TEST", t_bad, "KDC_ERR_PREAUTH_FAILED");
        let e = r.check("svc@EXAMPLE.TEST", &t_bad).unwrap();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        let text = e.to_string();
        assert!(text.contains("refused by the KDC at "), "{text}");
        assert!(
            text.contains("KDC_ERR_PREAUTH_FAILED; not retried until new credentials arrive"),
            "{text}"
        );
        assert!(!text.contains("wrong"), "{text}");
        assert!(
            r.check("svc@EXAMPLE.TEST", &r.tag("svc@EXAMPLE.TEST", &good))
                .is_none()
        );
        for i in 0..20 {
            let t = r.tag("svc@EXAMPLE.TEST", &Secret::password(format!("p{i}")));
            r.record("svc@EXAMPLE.TEST", t, "KDC_ERR_PREAUTH_FAILED");
        }
        assert_eq!(r.count("svc@example.test"), PER_PRINCIPAL, "bounded");
    }
}
