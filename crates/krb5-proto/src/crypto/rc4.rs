//! rc4-hmac (RFC 4757), with MIT krb5's key usage translation.

use md4::Md4;
use md5::{Digest, Md5};
use rc4::{KeyInit, Rc4, StreamCipher};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{CryptoError, hmac};

/// Confounder length.
const CONF_LEN: usize = 8;
/// HMAC-MD5 length.
const MAC_LEN: usize = 16;

/// Maps an RFC 4120 key usage to the number RC4-HMAC uses (RFC 4757 §3, MIT
/// `krb5int_arcfour_translate_usage`): 3 (AS-REP enc-part) → 8, 23 (GSS acceptor sign) → 13,
/// every other usage unchanged.
pub fn rc4_translate_usage(usage: u32) -> u32 {
    match usage {
        3 => 8,
        23 => 13,
        u => u,
    }
}

/// HMAC-MD5(`key`, `data`), the primitive RC4-HMAC and its GSS-API mechanism (RFC 4757 §7) are
/// built from.
pub fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let h = hmac::<Md5>(key, &[data]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&h[..16]);
    out
}

/// XORs `data` in place with the RC4 keystream of `key` (1 to 256 bytes; RC4-HMAC uses 16).
///
/// Errors with [`CryptoError::InvalidKeyLength`] for an empty or over-long key.
pub fn rc4_apply(key: &[u8], data: &mut [u8]) -> Result<(), CryptoError> {
    let mut c = Rc4::new_from_slice(key).map_err(|_| CryptoError::InvalidKeyLength {
        etype: "rc4",
        expected: 16,
        got: key.len(),
    })?;
    c.apply_keystream(data);
    Ok(())
}

/// The NT hash: MD4 of the raw UTF-16LE password.
pub(crate) fn nt_hash(password_utf16le: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(Md4::digest(password_utf16le).to_vec())
}

/// Encrypts: K1 = HMAC-MD5(key, LE32(ms_usage)); cksum = HMAC-MD5(K1, conf ‖ P);
/// K3 = HMAC-MD5(K1, cksum); output cksum ‖ RC4(K3, conf ‖ P).
pub(crate) fn encrypt(
    key: &[u8],
    usage: u32,
    confounder: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let k1 = Zeroizing::new(hmac_md5(key, &rc4_translate_usage(usage).to_le_bytes()));
    let mut out = Vec::with_capacity(MAC_LEN + confounder.len() + plaintext.len());
    let cksum = hmac::<Md5>(k1.as_slice(), &[confounder, plaintext]);
    let k3 = Zeroizing::new(hmac_md5(k1.as_slice(), &cksum));
    out.extend_from_slice(&cksum);
    out.extend_from_slice(confounder);
    out.extend_from_slice(plaintext);
    rc4_apply(k3.as_slice(), out.get_mut(MAC_LEN..).unwrap_or_default())?;
    Ok(out)
}

/// Decrypts and checks the HMAC-MD5 in constant time; returns the plaintext without the
/// confounder.
pub(crate) fn decrypt(
    key: &[u8],
    usage: u32,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if ciphertext.len() < MAC_LEN + CONF_LEN {
        return Err(CryptoError::CiphertextTooShort {
            len: ciphertext.len(),
            min: MAC_LEN + CONF_LEN,
        });
    }
    let (cksum, enc) = ciphertext.split_at(MAC_LEN);
    let k1 = Zeroizing::new(hmac_md5(key, &rc4_translate_usage(usage).to_le_bytes()));
    let k3 = Zeroizing::new(hmac_md5(k1.as_slice(), cksum));
    let mut data = Zeroizing::new(enc.to_vec());
    rc4_apply(k3.as_slice(), &mut data)?;
    let expected = hmac::<Md5>(k1.as_slice(), &[&data]);
    if !bool::from(expected.as_slice().ct_eq(cksum)) {
        return Err(CryptoError::BadIntegrity);
    }
    Ok(Zeroizing::new(
        data.get(CONF_LEN..).unwrap_or_default().to_vec(),
    ))
}

/// Checksum type -138 (HMAC-MD5, RFC 4757 §4): Ksign = HMAC-MD5(key, "signaturekey\0");
/// HMAC-MD5(Ksign, MD5(LE32(ms_usage) ‖ data)).
pub(crate) fn checksum(key: &[u8], usage: u32, data: &[u8]) -> Vec<u8> {
    let ksign = Zeroizing::new(hmac_md5(key, b"signaturekey\0"));
    let mut h = Md5::new();
    h.update(rc4_translate_usage(usage).to_le_bytes());
    h.update(data);
    let tmp = h.finalize();
    hmac_md5(ksign.as_slice(), &tmp).to_vec()
}

/// PRF for RC4-HMAC as MIT krb5 defines it (RFC 4757 has none): HMAC-SHA1(key, input).
pub(crate) fn prf(key: &[u8], input: &[u8]) -> Vec<u8> {
    hmac::<sha1::Sha1>(key, &[input]).to_vec()
}
