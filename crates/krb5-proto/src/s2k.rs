//! String-to-key as a pluggable step of the AS exchange.
//!
//! A password login derives its key with PBKDF2 (4096 to [`MAX_S2K_ITERATIONS`] rounds) once
//! the KDC has said which salt and parameters to use. The sans-IO [`crate::as_exchange`] does
//! that inline by default; a long-running program can plug in its own [`KeyDeriver`] through
//! [`crate::as_exchange::AsOptions::key_deriver`] to cache derived keys (so a renewal with the
//! same password, salt and count does not pay PBKDF2 again) and to run the derivation away
//! from its async worker threads.
//!
//! The iteration count is checked (and an over-large one refused, see
//! [`crate::crypto::s2k_iterations`]) before a deriver is called, so no deriver can be made to
//! spend unbounded CPU.
//!
//! [`MAX_S2K_ITERATIONS`]: crate::crypto::MAX_S2K_ITERATIONS

use crate::crypto::{CryptoError, EncType, Key};
use crate::principal::Principal;
use core::fmt;

/// What one string-to-key needs.
pub struct S2kInput<'a> {
    /// The principal whose key this is (cache keys should include it).
    pub principal: &'a Principal,
    /// The enctype of the key.
    pub etype: EncType,
    /// The password (UTF-8 bytes). Never log it.
    pub password: &'a [u8],
    /// The salt the KDC announced (or the default salt).
    pub salt: &'a [u8],
    /// The `s2kparams` as sent by the KDC (`None`: the enctype's default).
    pub s2kparams: Option<&'a [u8]>,
    /// The PBKDF2 iteration count those parameters mean, already range-checked (`None` for RC4).
    pub iterations: Option<u32>,
}

impl fmt::Debug for S2kInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S2kInput")
            .field("principal", &self.principal.to_string())
            .field("etype", &self.etype)
            .field("password", &"<redacted>")
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .finish()
    }
}

impl S2kInput<'_> {
    /// Derives the key right here ([`Key::from_password`]).
    pub fn derive_inline(&self) -> Result<Key, CryptoError> {
        Key::from_password(self.etype, self.password, self.salt, self.s2kparams)
    }
}

/// Derives keys from passwords for an AS exchange.
pub trait KeyDeriver: Send + Sync + fmt::Debug {
    /// The key for `input`; must equal [`S2kInput::derive_inline`]'s result.
    fn derive(&self, input: &S2kInput<'_>) -> Result<Key, CryptoError>;
}
