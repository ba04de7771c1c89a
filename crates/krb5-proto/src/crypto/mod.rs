//! Kerberos crypto profiles: aes128/aes256-cts-hmac-sha1-96 (RFC 3961/3962, etypes 17/18),
//! aes128-cts-hmac-sha256-128 / aes256-cts-hmac-sha384-192 (RFC 8009, etypes 19/20) and
//! rc4-hmac (RFC 4757, etype 23, with MIT's key usage translation).
//!
//! The entry point is [`Key`]: build one from bytes, a password or randomness, then
//! [`encrypt`](Key::encrypt) / [`decrypt`](Key::decrypt), compute a
//! [`checksum`](Key::checksum) or a [`prf`](Key::prf) output.
//!
//! ```
//! use krb5_proto::crypto::{EncType, Key};
//! use krb5_proto::rand::TestRng;
//!
//! let key = Key::from_password(
//!     EncType::Aes256CtsHmacSha196,
//!     b"password",
//!     b"ATHENA.MIT.EDUraeburn",
//!     Some(&[0, 0, 0, 1]),
//! )?;
//! let mut rng = TestRng::new(7);
//! let ct = key.encrypt(3, b"AS-REP enc-part", &mut rng);
//! assert_eq!(key.decrypt(3, &ct)?.as_slice(), b"AS-REP enc-part");
//! assert!(key.decrypt(4, &ct).is_err()); // wrong key usage
//! # Ok::<(), krb5_proto::crypto::CryptoError>(())
//! ```
//!
//! Raw building blocks for GSS-API (RFC 4121, RFC 4757 §7) are exposed too: [`Key::derive`],
//! [`aes_cts_encrypt`]/[`aes_cts_decrypt`], [`hmac_md5`], [`rc4_apply`],
//! [`rc4_translate_usage`], [`usage_constant`], [`nfold`].

mod aes_sha1;
mod aes_sha2;
mod cts;
mod etype;
mod nfold;
mod rc4;

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use etype::EncType;
pub use nfold::nfold;
pub use rc4::{hmac_md5, rc4_apply, rc4_translate_usage};

/// The largest PBKDF2 iteration count [`Key::from_password`] accepts: 2^20 (1,048,576).
///
/// That is 256 times Active Directory's and RFC 3962's 4096 and 32 times RFC 8009's 32768,
/// the counts every KDC we know of uses. MIT krb5 refuses 2^24 and above
/// (`MAX_ITERATION_COUNT` in `s2k_pbkdf2.c`); its bound still lets one hostile `s2kparams`
/// cost seconds of CPU per login, so ours is 16 times lower. RFC 3962 makes an AES-SHA1
/// count of 0 mean 2^32; that too is refused. The check happens before any PBKDF2 work, so a
/// refused count costs nothing.
pub const MAX_S2K_ITERATIONS: u32 = 1 << 20;

/// The PBKDF2 iteration count that `s2kparams` asks for (`None`: the enctype's default),
/// range-checked as [`Key::from_password`] does; `Ok(None)` for RC4, which has no count.
///
/// ```
/// use krb5_proto::crypto::{s2k_iterations, EncType, CryptoError};
///
/// assert_eq!(s2k_iterations(EncType::Aes256CtsHmacSha196, None), Ok(Some(4096)));
/// let e = s2k_iterations(EncType::Aes256CtsHmacSha196, Some(&(1u32 << 24).to_be_bytes()));
/// assert_eq!(e, Err(CryptoError::IterationCountTooLarge { count: 1 << 24, limit: 1 << 20 }));
/// ```
pub fn s2k_iterations(
    etype: EncType,
    s2kparams: Option<&[u8]>,
) -> Result<Option<u32>, CryptoError> {
    if etype == EncType::Rc4Hmac {
        return match s2kparams {
            Some(_) => Err(CryptoError::InvalidS2kParams {
                etype: etype.name(),
                reason: "rc4-hmac takes no string-to-key parameters",
            }),
            None => Ok(None),
        };
    }
    Key::iterations(etype, s2kparams).map(Some)
}

/// A cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The integrity check of a decrypted message failed (wrong key or corrupted data).
    #[error("integrity check failed (KRB_AP_ERR_BAD_INTEGRITY): wrong key or corrupted message")]
    BadIntegrity,
    /// A checksum did not verify (KRB_AP_ERR_MODIFIED).
    #[error(
        "checksum verification failed (KRB_AP_ERR_MODIFIED): wrong key, key usage or modified data"
    )]
    BadChecksum,
    /// A ciphertext is shorter than the confounder plus integrity tag of its enctype.
    #[error("ciphertext of {len} bytes is too short: this enctype needs at least {min} bytes")]
    CiphertextTooShort {
        /// Length received.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// Raw AES-CTS input shorter than one block.
    #[error("AES-CTS input of {len} bytes is too short: at least 16 bytes are needed")]
    CtsInputTooShort {
        /// Length received.
        len: usize,
    },
    /// A key or IV has the wrong length for its algorithm.
    #[error("{etype} key must be {expected} bytes, got {got}")]
    InvalidKeyLength {
        /// The enctype or algorithm name.
        etype: &'static str,
        /// Required length in bytes.
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// A confounder given to [`Key::encrypt_with_confounder`] has the wrong length.
    #[error("confounder must be {expected} bytes for this enctype, got {got}")]
    InvalidConfounderLength {
        /// Required length in bytes.
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// String-to-key parameters are malformed or out of range.
    #[error("invalid string-to-key parameters for {etype}: {reason}")]
    InvalidS2kParams {
        /// The enctype name.
        etype: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The PBKDF2 iteration count exceeds [`MAX_S2K_ITERATIONS`].
    #[error(
        "string-to-key iteration count {count} is above the accepted maximum of {limit}: \
         refused without deriving the key (the KDC's ETYPE-INFO2 s2kparams ask for it; \
         Active Directory uses 4096, MIT 4096 or 32768)"
    )]
    IterationCountTooLarge {
        /// The requested count (2^32 for an AES-SHA1 count of 0).
        count: u64,
        /// The bound, [`MAX_S2K_ITERATIONS`].
        limit: u32,
    },
    /// The PBKDF2 iteration count is below the enctype's default, as MIT krb5 also refuses:
    /// a KDC (or a machine in the middle) asking for fewer iterations weakens the key.
    #[error(
        "string-to-key iteration count {count} for {etype} is below the enctype's default of \
         {minimum}: refused (a weaker key than the account's; check the KDC's ETYPE-INFO2 s2kparams)"
    )]
    IterationCountTooSmall {
        /// The enctype name.
        etype: &'static str,
        /// The requested count.
        count: u32,
        /// The enctype's default count.
        minimum: u32,
    },
    /// An RC4-HMAC password is not valid UTF-8, so it cannot be converted to UTF-16LE.
    #[error(
        "rc4-hmac password is not valid UTF-8; use Key::rc4_from_utf16le for raw UTF-16LE passwords"
    )]
    PasswordNotUtf8,
    /// The checksum type is not implemented (or is unkeyed where a keyed one is required).
    #[error("checksum type {0} is not supported here")]
    UnsupportedChecksumType(i32),
    /// The key's enctype does not go with the checksum type.
    #[error("checksum type {cksumtype} cannot be computed with a {etype} key")]
    ChecksumKeyMismatch {
        /// The checksum type requested.
        cksumtype: i32,
        /// The key's enctype name.
        etype: &'static str,
    },
    /// The operation does not exist for this enctype.
    #[error("{op} is not defined for {etype}")]
    UnsupportedOperation {
        /// The operation.
        op: &'static str,
        /// The enctype name.
        etype: &'static str,
    },
}

/// HMAC over the concatenation of `parts`.
fn hmac<D>(key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>>
where
    D: hmac::EagerHash,
    hmac::Hmac<D>: hmac::KeyInit + hmac::Mac,
{
    use hmac::{KeyInit, Mac};
    // HMAC accepts keys of any length, so this never fails.
    let mut m =
        <hmac::Hmac<D> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for p in parts {
        Mac::update(&mut m, p);
    }
    Zeroizing::new(m.finalize().into_bytes().to_vec())
}

/// The 5-byte RFC 3961 §5.3 / RFC 8009 key derivation constant: `usage` (4 bytes big-endian)
/// followed by `kind` — 0x99 for Kc (checksum), 0xAA for Ke (encryption), 0x55 for Ki
/// (integrity).
pub fn usage_constant(usage: u32, kind: u8) -> [u8; 5] {
    let u = usage.to_be_bytes();
    [u[0], u[1], u[2], u[3], kind]
}

/// Raw AES-CBC with ciphertext stealing as RFC 3962 defines it (the last two blocks are always
/// swapped, even when the last block is full; exactly one block is plain CBC). `key` is 16 or
/// 32 bytes; `data` must be at least 16 bytes. Used by the profiles with a zero IV.
pub fn aes_cts_encrypt(key: &[u8], iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    cts::encrypt(&cts::Aes::new(key)?, iv, data)
}

/// Inverse of [`aes_cts_encrypt`].
pub fn aes_cts_decrypt(
    key: &[u8],
    iv: &[u8; 16],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    cts::decrypt(&cts::Aes::new(key)?, iv, data)
}

/// An unkeyed checksum: 2 (RSA-MD4) or 7 (RSA-MD5). Such checksums give no integrity against
/// an attacker, so they are deliberately kept out of [`checksum_by_type`].
pub fn unkeyed_checksum(cksumtype: i32, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    use md5::Digest;
    match cksumtype {
        2 => Ok(md4::Md4::digest(data).to_vec()),
        7 => Ok(md5::Md5::digest(data).to_vec()),
        t => Err(CryptoError::UnsupportedChecksumType(t)),
    }
}

/// The keyed checksum `cksumtype` (15, 16, 19, 20 or -138) of `data` under `key` and `usage`.
///
/// The key's enctype must be the one the checksum type belongs to (15 → 17, 16 → 18, 19 → 19,
/// 20 → 20, -138 → 23); unknown or unkeyed types give
/// [`CryptoError::UnsupportedChecksumType`].
pub fn checksum_by_type(
    cksumtype: i32,
    key: &Key,
    usage: u32,
    data: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let etype = match cksumtype {
        15 => EncType::Aes128CtsHmacSha196,
        16 => EncType::Aes256CtsHmacSha196,
        19 => EncType::Aes128CtsHmacSha256128,
        20 => EncType::Aes256CtsHmacSha384192,
        -138 => EncType::Rc4Hmac,
        t => return Err(CryptoError::UnsupportedChecksumType(t)),
    };
    if key.etype != etype {
        return Err(CryptoError::ChecksumKeyMismatch {
            cksumtype,
            etype: key.etype.name(),
        });
    }
    Ok(key.checksum(usage, data))
}

/// Verifies `checksum` against [`checksum_by_type`] in constant time.
pub fn verify_checksum_by_type(
    cksumtype: i32,
    key: &Key,
    usage: u32,
    data: &[u8],
    checksum: &[u8],
) -> Result<(), CryptoError> {
    let expected = checksum_by_type(cksumtype, key, usage, data)?;
    ct_check(&expected, checksum)
}

fn ct_check(expected: &[u8], got: &[u8]) -> Result<(), CryptoError> {
    if bool::from(expected.ct_eq(got)) {
        Ok(())
    } else {
        Err(CryptoError::BadChecksum)
    }
}

/// A Kerberos protocol key: its enctype and bytes (zeroized on drop, redacted in `Debug`).
#[derive(Clone)]
pub struct Key {
    etype: EncType,
    bytes: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({}, <redacted>)", self.etype.name())
    }
}

/// Keys are equal when enctype and bytes match; the bytes are compared in constant time.
impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.etype == other.etype && bool::from(self.bytes.as_slice().ct_eq(other.bytes.as_slice()))
    }
}

impl Eq for Key {}

impl Key {
    /// A key from raw bytes, which must be [`EncType::key_len`] long.
    pub fn new(etype: EncType, bytes: &[u8]) -> Result<Key, CryptoError> {
        if bytes.len() != etype.key_len() {
            return Err(CryptoError::InvalidKeyLength {
                etype: etype.name(),
                expected: etype.key_len(),
                got: bytes.len(),
            });
        }
        Ok(Key {
            etype,
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// String-to-key (RFC 3962 §4, RFC 8009 §4, RFC 4757 §2).
    ///
    /// * AES: `password` is the UTF-8 password bytes, `salt` usually `REALMprincipal`
    ///   (from ETYPE-INFO2), `s2kparams` the 4-byte big-endian PBKDF2 iteration count, `None`
    ///   meaning the default ([`EncType::default_s2kparams`]: 4096 for AES-SHA1, 32768 for
    ///   AES-SHA2). For AES-SHA2 the enctype name and a NUL are prepended to `salt` here.
    /// * RC4: the key is the NT hash MD4(UTF-16LE(password)); `password` must be UTF-8, `salt`
    ///   is ignored and any `s2kparams` is an error.
    ///
    /// Errors: parameters that are not 4 bytes, an iteration count of 0 for AES-SHA2, and any
    /// count above [`MAX_S2K_ITERATIONS`] (2^20) — including an AES-SHA1 count of 0, which RFC
    /// 3962 defines as 2^32 — are refused rather than spending unbounded CPU.
    ///
    /// ```
    /// use krb5_proto::crypto::{EncType, Key};
    ///
    /// let k = Key::from_password(EncType::Rc4Hmac, b"password", b"", None)?;
    /// assert_eq!(k.as_bytes()[..4], [0x88, 0x46, 0xf7, 0xea]);
    /// # Ok::<(), krb5_proto::crypto::CryptoError>(())
    /// ```
    pub fn from_password(
        etype: EncType,
        password: &[u8],
        salt: &[u8],
        s2kparams: Option<&[u8]>,
    ) -> Result<Key, CryptoError> {
        if etype == EncType::Rc4Hmac {
            if s2kparams.is_some() {
                return Err(CryptoError::InvalidS2kParams {
                    etype: etype.name(),
                    reason: "rc4-hmac takes no string-to-key parameters",
                });
            }
            let s = core::str::from_utf8(password).map_err(|_| CryptoError::PasswordNotUtf8)?;
            let mut utf16 = Zeroizing::new(Vec::with_capacity(password.len() * 2));
            for u in s.encode_utf16() {
                utf16.extend_from_slice(&u.to_le_bytes());
            }
            return Ok(Key::rc4_from_utf16le(&utf16));
        }
        let iterations = Self::iterations(etype, s2kparams)?;
        let bytes = if etype.is_aes_sha2() {
            aes_sha2::string_to_key(etype, password, salt, iterations)
        } else {
            aes_sha1::string_to_key(password, salt, iterations, etype.key_len())?
        };
        Ok(Key { etype, bytes })
    }

    /// The PBKDF2 iteration count from `s2kparams`, range-checked.
    fn iterations(etype: EncType, s2kparams: Option<&[u8]>) -> Result<u32, CryptoError> {
        let params = match s2kparams {
            Some(p) => <[u8; 4]>::try_from(p).map_err(|_| CryptoError::InvalidS2kParams {
                etype: etype.name(),
                reason: "expected a 4-byte big-endian iteration count",
            })?,
            None => etype.default_s2kparams().unwrap_or([0, 0, 0x10, 0]),
        };
        let count = u32::from_be_bytes(params);
        if count == 0 {
            if etype.is_aes_sha2() {
                return Err(CryptoError::InvalidS2kParams {
                    etype: etype.name(),
                    reason: "the iteration count must be at least 1",
                });
            }
            return Err(CryptoError::IterationCountTooLarge {
                count: 1 << 32,
                limit: MAX_S2K_ITERATIONS,
            });
        }
        if count > MAX_S2K_ITERATIONS {
            return Err(CryptoError::IterationCountTooLarge {
                count: u64::from(count),
                limit: MAX_S2K_ITERATIONS,
            });
        }
        Ok(count)
    }

    /// An RC4-HMAC key from a raw UTF-16LE password: the NT hash MD4(`password_utf16le`). gMSA
    /// passwords come in this form (and need not be valid UTF-16).
    pub fn rc4_from_utf16le(password_utf16le: &[u8]) -> Key {
        Key {
            etype: EncType::Rc4Hmac,
            bytes: rc4::nt_hash(password_utf16le),
        }
    }

    /// A fresh random key (random-to-key is the identity for all supported enctypes).
    pub fn random(etype: EncType, rng: &mut dyn crate::rand::Rng) -> Key {
        let mut bytes = Zeroizing::new(vec![0u8; etype.key_len()]);
        rng.fill_bytes(&mut bytes);
        Key { etype, bytes }
    }

    /// The key's encryption type.
    pub fn etype(&self) -> EncType {
        self.etype
    }

    /// The raw key bytes (e.g. for a keytab or ccache entry).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Encrypts `plaintext` for key usage `usage` with a random confounder from `rng`.
    /// The output is [`EncType::ciphertext_overhead`] bytes longer than `plaintext`.
    pub fn encrypt(&self, usage: u32, plaintext: &[u8], rng: &mut dyn crate::rand::Rng) -> Vec<u8> {
        let mut conf = Zeroizing::new(vec![0u8; self.etype.confounder_len()]);
        rng.fill_bytes(&mut conf);
        // Key length and confounder length are right by construction, so this cannot fail.
        self.encrypt_with_confounder(usage, plaintext, &conf)
            .unwrap_or_default()
    }

    /// Encrypts with a caller-chosen confounder ([`EncType::confounder_len`] bytes: 16 for
    /// AES, 8 for RC4). Meant for known-answer tests; use [`Key::encrypt`] otherwise.
    pub fn encrypt_with_confounder(
        &self,
        usage: u32,
        plaintext: &[u8],
        confounder: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let expected = self.etype.confounder_len();
        if confounder.len() != expected {
            return Err(CryptoError::InvalidConfounderLength {
                expected,
                got: confounder.len(),
            });
        }
        match self.etype {
            EncType::Aes128CtsHmacSha196 | EncType::Aes256CtsHmacSha196 => {
                aes_sha1::encrypt(&self.bytes, usage, confounder, plaintext)
            }
            EncType::Aes128CtsHmacSha256128 | EncType::Aes256CtsHmacSha384192 => {
                aes_sha2::encrypt(self.etype, &self.bytes, usage, confounder, plaintext)
            }
            EncType::Rc4Hmac => rc4::encrypt(&self.bytes, usage, confounder, plaintext),
        }
    }

    /// Decrypts a ciphertext made by [`Key::encrypt`] with the same usage, checking its
    /// integrity tag in constant time. Returns the plaintext (confounder removed).
    ///
    /// Errors: [`CryptoError::CiphertextTooShort`], [`CryptoError::BadIntegrity`] (wrong key,
    /// wrong usage or tampered data).
    pub fn decrypt(
        &self,
        usage: u32,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match self.etype {
            EncType::Aes128CtsHmacSha196 | EncType::Aes256CtsHmacSha196 => {
                aes_sha1::decrypt(&self.bytes, usage, ciphertext)
            }
            EncType::Aes128CtsHmacSha256128 | EncType::Aes256CtsHmacSha384192 => {
                aes_sha2::decrypt(self.etype, &self.bytes, usage, ciphertext)
            }
            EncType::Rc4Hmac => rc4::decrypt(&self.bytes, usage, ciphertext),
        }
    }

    /// The enctype's keyed checksum ([`EncType::checksum_type`]) of `data` for `usage`.
    pub fn checksum(&self, usage: u32, data: &[u8]) -> Vec<u8> {
        match self.etype {
            EncType::Aes128CtsHmacSha196 | EncType::Aes256CtsHmacSha196 => {
                aes_sha1::checksum(&self.bytes, usage, data).unwrap_or_default()
            }
            EncType::Aes128CtsHmacSha256128 | EncType::Aes256CtsHmacSha384192 => {
                aes_sha2::checksum(self.etype, &self.bytes, usage, data)
            }
            EncType::Rc4Hmac => rc4::checksum(&self.bytes, usage, data),
        }
    }

    /// Verifies a [`Key::checksum`] in constant time ([`CryptoError::BadChecksum`] otherwise).
    pub fn verify_checksum(
        &self,
        usage: u32,
        data: &[u8],
        checksum: &[u8],
    ) -> Result<(), CryptoError> {
        ct_check(&self.checksum(usage, data), checksum)
    }

    /// The RFC 3961 pseudo-random function: 16 bytes for AES-SHA1 (RFC 3962 §6), 32/48 bytes
    /// for AES-SHA2 (RFC 8009 §5), 20 bytes HMAC-SHA1(key, input) for RC4 (MIT's definition).
    pub fn prf(&self, input: &[u8]) -> Vec<u8> {
        match self.etype {
            EncType::Aes128CtsHmacSha196 | EncType::Aes256CtsHmacSha196 => {
                aes_sha1::prf(&self.bytes, input).unwrap_or_default()
            }
            EncType::Aes128CtsHmacSha256128 | EncType::Aes256CtsHmacSha384192 => {
                aes_sha2::prf(self.etype, &self.bytes, input)
            }
            EncType::Rc4Hmac => rc4::prf(&self.bytes, input),
        }
    }

    /// A derived key's bytes for `constant` (typically [`usage_constant`]):
    ///
    /// * AES-SHA1: DK(key, constant) of RFC 3961 §5.1 (n-fold, then chained AES), key-length.
    /// * AES-SHA2: KDF-HMAC-SHA2(key, constant, "", k) of RFC 8009 §3, with k the key length
    ///   for a Ke constant (5 bytes ending in 0xAA) and 128/192 bits (Kc/Ki size) otherwise.
    /// * RC4 has no key derivation: [`CryptoError::UnsupportedOperation`].
    pub fn derive(&self, constant: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match self.etype {
            EncType::Aes128CtsHmacSha196 | EncType::Aes256CtsHmacSha196 => {
                aes_sha1::dk(&self.bytes, constant)
            }
            EncType::Aes128CtsHmacSha256128 | EncType::Aes256CtsHmacSha384192 => {
                let len = aes_sha2::derived_len(self.etype, constant);
                Ok(aes_sha2::kdf(self.etype, &self.bytes, constant, &[], len))
            }
            EncType::Rc4Hmac => Err(CryptoError::UnsupportedOperation {
                op: "key derivation",
                etype: self.etype.name(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_counts_above_the_bound_are_refused_before_any_work() {
        let aes = EncType::Aes256CtsHmacSha196;
        for count in [1u32 << 24, 1 << 31, MAX_S2K_ITERATIONS + 1, u32::MAX] {
            // The count is checked before PBKDF2 starts (2^31 iterations would take minutes).
            let e = Key::from_password(aes, b"pw", b"salt", Some(&count.to_be_bytes()));
            assert_eq!(
                e,
                Err(CryptoError::IterationCountTooLarge {
                    count: u64::from(count),
                    limit: MAX_S2K_ITERATIONS
                })
            );
            let msg = e.unwrap_err().to_string();
            assert!(
                msg.contains(&count.to_string()) && msg.contains("1048576"),
                "{msg}"
            );
        }
        assert_eq!(
            s2k_iterations(aes, Some(&MAX_S2K_ITERATIONS.to_be_bytes())),
            Ok(Some(MAX_S2K_ITERATIONS))
        );
        assert_eq!(
            s2k_iterations(EncType::Aes128CtsHmacSha256128, None),
            Ok(Some(32768))
        );
        assert_eq!(s2k_iterations(EncType::Rc4Hmac, None), Ok(None));
    }

    #[test]
    fn debug_is_redacted() {
        let k = Key::new(EncType::Aes256CtsHmacSha196, &[7u8; 32]).unwrap();
        assert_eq!(format!("{k:?}"), "Key(aes256-cts-hmac-sha1-96, <redacted>)");
        assert_eq!(k, k.clone());
        assert_ne!(
            k,
            Key::new(EncType::Aes256CtsHmacSha196, &[8u8; 32]).unwrap()
        );
        assert_ne!(
            Key::new(EncType::Rc4Hmac, &[0; 16]).unwrap(),
            Key::new(EncType::Aes128CtsHmacSha196, &[0; 16]).unwrap()
        );
    }

    #[test]
    fn single_block_cts_is_plain_cbc() {
        let key = [1u8; 16];
        let data = [2u8; 16];
        let ct = aes_cts_encrypt(&key, &[0; 16], &data).unwrap();
        let mut b = data;
        cts::Aes::new(&key).unwrap().encrypt_block(&mut b);
        assert_eq!(ct, b);
        assert_eq!(
            aes_cts_decrypt(&key, &[0; 16], &ct).unwrap().as_slice(),
            data
        );
        assert!(aes_cts_encrypt(&key, &[0; 16], &data[..15]).is_err());
    }
}
