//! String-to-key for the daemon's logins: derived keys are cached, and derivations run away
//! from the async worker threads with bounded concurrency.
//!
//! A password login costs PBKDF2 (4096 rounds for Active Directory, at most
//! [`krb5_proto::crypto::MAX_S2K_ITERATIONS`], which the exchange checks before asking).
//! [`S2kCache`] is the [`KeyDeriver`] of every AS exchange the daemon makes:
//!
//! - keys are cached per (principal, salt, enctype, iterations, password), the password only as
//!   an HMAC-SHA256 under a key drawn at start-up, so a renewal or another lease of the same
//!   login does not derive again. At most [`S2K_CACHE_ENTRIES`] keys are kept (the oldest goes
//!   first); keys are zeroized when dropped ([`Key`] holds them in `Zeroizing`).
//! - a derivation runs under [`tokio::task::block_in_place`] on the multi-threaded runtime: the
//!   runtime hands its other tasks (the watchdog, RPCs) to another worker first, so a slow
//!   PBKDF2 never stalls them. The derivation happens inside the sans-IO exchange's reply
//!   handling, a synchronous call, so it cannot be moved into a `spawn_blocking` task without
//!   changing the exchange drivers; `block_in_place` gives the same guarantee for the other
//!   tasks. At most [`S2K_CONCURRENCY`] derivations run at once; the others wait (off the
//!   workers too) and find the key in the cache when it was the same one.
//! - [`S2kCache::derivations`] counts PBKDF2 runs, and each run and cache hit is logged at debug
//!   level (`string-to-key derived` / `string-to-key from cache`, with the enctype and count,
//!   never the password or key), which the tests read.

use krb5_proto::crypto::{CryptoError, Key};
use krb5_proto::s2k::{KeyDeriver, S2kInput};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use zeroize::Zeroizing;

/// Most derived keys kept.
pub const S2K_CACHE_ENTRIES: usize = 256;
/// Most string-to-key derivations running at once.
pub const S2K_CONCURRENCY: usize = 2;

/// (principal lower-cased, salt, enctype, iterations, HMAC-SHA256 of the password).
type CacheKey = (String, Vec<u8>, i32, u32, [u8; 32]);

/// The daemon's [`KeyDeriver`]; see the [module](self) docs.
pub struct S2kCache {
    mac_key: Zeroizing<[u8; 32]>,
    keys: Mutex<VecDeque<(CacheKey, Key)>>,
    running: Mutex<usize>,
    freed: Condvar,
    derivations: AtomicU64,
}

impl std::fmt::Debug for S2kCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S2kCache")
            .field("keys", &lock(&self.keys).len())
            .field("derivations", &self.derivations())
            .finish_non_exhaustive()
    }
}

impl Default for S2kCache {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A slot of the derivation semaphore, given back on drop.
struct Permit<'a>(&'a S2kCache);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut n = lock(&self.0.running);
        *n = n.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

impl S2kCache {
    /// An empty cache with a fresh HMAC key.
    pub fn new() -> Self {
        let mut mac_key = Zeroizing::new([0u8; 32]);
        // Without the OS's randomness the key stays fixed: the cache still works, the
        // password hashes are then only unkeyed.
        let _ = getrandom::fill(mac_key.as_mut());
        Self {
            mac_key,
            keys: Mutex::new(VecDeque::new()),
            running: Mutex::new(0),
            freed: Condvar::new(),
            derivations: AtomicU64::new(0),
        }
    }

    /// How many keys have been derived (cache misses) since start.
    pub fn derivations(&self) -> u64 {
        self.derivations.load(Ordering::Relaxed)
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        lock(&self.keys).len()
    }

    /// Whether no key is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops (zeroizes) every cached key.
    pub fn clear(&self) {
        let keys = std::mem::take(&mut *lock(&self.keys));
        drop(keys);
    }

    fn cache_key(&self, input: &S2kInput<'_>) -> CacheKey {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.mac_key.as_ref())
            .expect("HMAC takes any key length");
        mac.update(input.password);
        let tag: [u8; 32] = mac.finalize().into_bytes().into();
        (
            input.principal.to_string().to_lowercase(),
            input.salt.to_vec(),
            input.etype.to_i32(),
            input.iterations.unwrap_or(0),
            tag,
        )
    }

    fn cached(&self, key: &CacheKey) -> Option<Key> {
        lock(&self.keys)
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn permit(&self) -> Permit<'_> {
        let mut n = lock(&self.running);
        while *n >= S2K_CONCURRENCY {
            n = match self.freed.wait(n) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
        *n += 1;
        Permit(self)
    }

    /// Derives under the semaphore (the key may have arrived while waiting) and caches.
    fn derive_blocking(&self, input: &S2kInput<'_>, key: CacheKey) -> Result<Key, CryptoError> {
        let _permit = self.permit();
        if let Some(k) = self.cached(&key) {
            tracing::debug!(etype = %input.etype, "string-to-key from cache");
            return Ok(k);
        }
        let derived = input.derive_inline()?;
        let n = self.derivations.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(
            etype = %input.etype,
            iterations = input.iterations.unwrap_or(0),
            derivations = n,
            "string-to-key derived"
        );
        let mut keys = lock(&self.keys);
        if keys.len() >= S2K_CACHE_ENTRIES {
            keys.pop_front();
        }
        keys.push_back((key, derived.clone()));
        Ok(derived)
    }
}

impl KeyDeriver for S2kCache {
    fn derive(&self, input: &S2kInput<'_>) -> Result<Key, CryptoError> {
        let key = self.cache_key(input);
        if let Some(k) = self.cached(&key) {
            tracing::debug!(etype = %input.etype, "string-to-key from cache");
            return Ok(k);
        }
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            tokio::task::block_in_place(|| self.derive_blocking(input, key))
        } else {
            self.derive_blocking(input, key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krb5_proto::Principal;
    use krb5_proto::crypto::EncType;

    fn input<'a>(p: &'a Principal, pw: &'a [u8], salt: &'a [u8]) -> S2kInput<'a> {
        S2kInput {
            principal: p,
            etype: EncType::Aes256CtsHmacSha196,
            password: pw,
            salt,
            s2kparams: None,
            iterations: Some(4096),
        }
    }

    #[test]
    fn a_key_is_derived_once_per_password_salt_and_principal() {
        let c = S2kCache::new();
        let p = Principal::parse("u@R.TEST", None).unwrap();
        let q = Principal::parse("v@R.TEST", None).unwrap();
        let k1 = c.derive(&input(&p, b"pw", b"R.TESTu")).unwrap();
        assert_eq!(k1, input(&p, b"pw", b"R.TESTu").derive_inline().unwrap());
        assert_eq!(c.derive(&input(&p, b"pw", b"R.TESTu")).unwrap(), k1);
        assert_eq!(c.derivations(), 1);
        // Another password, salt or principal is another key.
        let k2 = c.derive(&input(&p, b"pw2", b"R.TESTu")).unwrap();
        assert_ne!(k1, k2);
        c.derive(&input(&p, b"pw", b"R.TESTx")).unwrap();
        c.derive(&input(&q, b"pw", b"R.TESTu")).unwrap();
        assert_eq!(c.derivations(), 4);
        assert_eq!(c.len(), 4);
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn the_cache_is_bounded() {
        let c = S2kCache::new();
        let p = Principal::parse("u@R.TEST", None).unwrap();
        for i in 0..(S2K_CACHE_ENTRIES + 3) {
            let pw = i.to_string();
            let mut i = input(&p, pw.as_bytes(), b"s");
            // RC4 derivations are cheap; the bound is the same for every enctype.
            i.etype = EncType::Rc4Hmac;
            i.iterations = None;
            c.derive(&i).unwrap();
        }
        assert_eq!(c.len(), S2K_CACHE_ENTRIES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_derivations_share_the_result() {
        let c = std::sync::Arc::new(S2kCache::new());
        let p = Principal::parse("u@R.TEST", None).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (c, p) = (c.clone(), p.clone());
            tasks.push(tokio::spawn(async move {
                c.derive(&input(&p, b"pw", b"R.TESTu")).unwrap()
            }));
        }
        let mut keys = Vec::new();
        for t in tasks {
            keys.push(t.await.unwrap());
        }
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
        // At most S2K_CONCURRENCY ran before the first one was cached.
        assert!(c.derivations() as usize <= S2K_CONCURRENCY, "{c:?}");
    }
}
