//! aes128-cts-hmac-sha256-128 and aes256-cts-hmac-sha384-192 (RFC 8009).

use sha2::{Sha256, Sha384};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::cts::{self, Aes, BLOCK};
use super::{CryptoError, EncType, hmac, usage_constant};

/// The hash of the profile: SHA-256 for etype 19, SHA-384 for etype 20.
fn is_384(etype: EncType) -> bool {
    etype == EncType::Aes256CtsHmacSha384192
}

fn hmac_sha2(etype: EncType, key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    if is_384(etype) {
        hmac::<Sha384>(key, parts)
    } else {
        hmac::<Sha256>(key, parts)
    }
}

/// RFC 8009 §3 KDF-HMAC-SHA2(key, label, context, k): the first `out_len` bytes of
/// HMAC(key, 00000001 ‖ label ‖ 00 ‖ context ‖ k), k the output length in bits (4 bytes BE).
/// `out_len` must not exceed the hash length (32 or 48); longer requests are truncated to it.
pub(crate) fn kdf(
    etype: EncType,
    key: &[u8],
    label: &[u8],
    context: &[u8],
    out_len: usize,
) -> Zeroizing<Vec<u8>> {
    let bits = u32::try_from(out_len.saturating_mul(8)).unwrap_or(u32::MAX);
    let mut out = hmac_sha2(
        etype,
        key,
        &[
            &1u32.to_be_bytes(),
            label,
            &[0u8],
            context,
            &bits.to_be_bytes(),
        ],
    );
    out.truncate(out_len);
    out
}

/// Length of Kc and Ki and of the truncated HMAC: 128 bits (19) or 192 bits (20).
fn mac_len(etype: EncType) -> usize {
    etype.checksum_len()
}

/// Output length of a derived key for `constant`: Ke (constant ending in 0xAA) is a full
/// protocol key, Kc/Ki and anything else are [`mac_len`] bytes.
pub(crate) fn derived_len(etype: EncType, constant: &[u8]) -> usize {
    if constant.len() == 5 && constant.last() == Some(&0xAA) {
        etype.key_len()
    } else {
        mac_len(etype)
    }
}

fn derive(etype: EncType, base: &[u8], usage: u32, kind: u8) -> Zeroizing<Vec<u8>> {
    let c = usage_constant(usage, kind);
    kdf(etype, base, &c, &[], derived_len(etype, &c))
}

/// RFC 8009 §4 string-to-key: KDF(PBKDF2-HMAC-SHA2(password, name ‖ 00 ‖ salt, iterations,
/// keylen), "kerberos").
pub(crate) fn string_to_key(
    etype: EncType,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Zeroizing<Vec<u8>> {
    let mut saltp = Vec::with_capacity(etype.name().len() + 1 + salt.len());
    saltp.extend_from_slice(etype.name().as_bytes());
    saltp.push(0);
    saltp.extend_from_slice(salt);
    let mut tkey = Zeroizing::new(vec![0u8; etype.key_len()]);
    if is_384(etype) {
        pbkdf2::pbkdf2_hmac::<Sha384>(password, &saltp, iterations, &mut tkey);
    } else {
        pbkdf2::pbkdf2_hmac::<Sha256>(password, &saltp, iterations, &mut tkey);
    }
    kdf(etype, &tkey, b"kerberos", &[], etype.key_len())
}

/// Encrypt-then-MAC: C = CTS(Ke, confounder ‖ plaintext), H = HMAC(Ki, IV ‖ C) truncated,
/// output C ‖ H (IV is 16 zero bytes).
pub(crate) fn encrypt(
    etype: EncType,
    base: &[u8],
    usage: u32,
    confounder: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let ke = derive(etype, base, usage, 0xAA);
    let ki = derive(etype, base, usage, 0x55);
    let mut data = Zeroizing::new(Vec::with_capacity(confounder.len() + plaintext.len()));
    data.extend_from_slice(confounder);
    data.extend_from_slice(plaintext);
    let iv = [0u8; BLOCK];
    let mut out = cts::encrypt(&Aes::new(&ke)?, &iv, &data)?;
    let mut h = hmac_sha2(etype, &ki, &[&iv, &out]);
    h.truncate(mac_len(etype));
    out.extend_from_slice(&h);
    Ok(out)
}

/// Checks the MAC over the ciphertext in constant time, then decrypts; returns the plaintext
/// without the confounder.
pub(crate) fn decrypt(
    etype: EncType,
    base: &[u8],
    usage: u32,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let ml = mac_len(etype);
    let Some(split) = ciphertext.len().checked_sub(ml).filter(|&s| s >= BLOCK) else {
        return Err(CryptoError::CiphertextTooShort {
            len: ciphertext.len(),
            min: BLOCK + ml,
        });
    };
    let (c, mac) = ciphertext.split_at(split);
    let ke = derive(etype, base, usage, 0xAA);
    let ki = derive(etype, base, usage, 0x55);
    let iv = [0u8; BLOCK];
    let mut expected = hmac_sha2(etype, &ki, &[&iv, c]);
    expected.truncate(ml);
    if !bool::from(expected.as_slice().ct_eq(mac)) {
        return Err(CryptoError::BadIntegrity);
    }
    let data = cts::decrypt(&Aes::new(&ke)?, &iv, c)?;
    Ok(Zeroizing::new(
        data.get(BLOCK..).unwrap_or_default().to_vec(),
    ))
}

/// Checksum types 19/20: HMAC(Kc, data) truncated to 128/192 bits.
pub(crate) fn checksum(etype: EncType, base: &[u8], usage: u32, data: &[u8]) -> Vec<u8> {
    let kc = derive(etype, base, usage, 0x99);
    let mut h = hmac_sha2(etype, &kc, &[data]);
    h.truncate(mac_len(etype));
    h.to_vec()
}

/// RFC 8009 §5 PRF: KDF(base, "prf", input, 256 or 384 bits).
pub(crate) fn prf(etype: EncType, base: &[u8], input: &[u8]) -> Vec<u8> {
    let len = if is_384(etype) { 48 } else { 32 };
    kdf(etype, base, b"prf", input, len).to_vec()
}
