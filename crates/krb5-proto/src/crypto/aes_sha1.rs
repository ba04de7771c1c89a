//! aes128-cts-hmac-sha1-96 and aes256-cts-hmac-sha1-96 (RFC 3962, on the RFC 3961 simplified
//! profile).

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::cts::{self, Aes, BLOCK};
use super::{CryptoError, hmac, nfold, usage_constant};

/// Truncated HMAC length (96 bits).
const MAC_LEN: usize = 12;

/// RFC 3961 §5.1 DR(base, constant): AES-encrypt the n-folded constant and chain the
/// encryptions until `out_len` bytes are produced.
pub(crate) fn dr(
    base: &[u8],
    constant: &[u8],
    out_len: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let aes = Aes::new(base)?;
    let folded = nfold(constant, BLOCK);
    let mut block = [0u8; BLOCK];
    block.copy_from_slice(&folded);
    let mut out = Zeroizing::new(Vec::with_capacity(out_len + BLOCK));
    while out.len() < out_len {
        aes.encrypt_block(&mut block);
        out.extend_from_slice(&block);
    }
    out.truncate(out_len);
    zeroize::Zeroize::zeroize(&mut block);
    Ok(out)
}

/// RFC 3961 §5.1 DK(base, constant) = random-to-key(DR(base, constant)); random-to-key is the
/// identity for AES.
pub(crate) fn dk(base: &[u8], constant: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    dr(base, constant, base.len())
}

/// RFC 3962 §4 string-to-key: DK(PBKDF2-HMAC-SHA1(password, salt, iterations, keylen),
/// "kerberos").
pub(crate) fn string_to_key(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    key_len: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut tkey = Zeroizing::new(vec![0u8; key_len]);
    pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut tkey);
    dk(&tkey, b"kerberos")
}

fn hmac_sha1_96(key: &[u8], data: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let mut m = hmac::<Sha1>(key, data);
    m.truncate(MAC_LEN);
    m
}

/// Encrypts `confounder ‖ plaintext` under Ke and appends HMAC-SHA1-96 under Ki of the same.
pub(crate) fn encrypt(
    base: &[u8],
    usage: u32,
    confounder: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let ke = dk(base, &usage_constant(usage, 0xAA))?;
    let ki = dk(base, &usage_constant(usage, 0x55))?;
    let mut data = Zeroizing::new(Vec::with_capacity(confounder.len() + plaintext.len()));
    data.extend_from_slice(confounder);
    data.extend_from_slice(plaintext);
    let mut out = cts::encrypt(&Aes::new(&ke)?, &[0u8; BLOCK], &data)?;
    out.extend_from_slice(&hmac_sha1_96(&ki, &[&data]));
    Ok(out)
}

/// Decrypts and checks the HMAC in constant time; returns the plaintext without the confounder.
pub(crate) fn decrypt(
    base: &[u8],
    usage: u32,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let Some(split) = ciphertext
        .len()
        .checked_sub(MAC_LEN)
        .filter(|&s| s >= BLOCK)
    else {
        return Err(CryptoError::CiphertextTooShort {
            len: ciphertext.len(),
            min: BLOCK + MAC_LEN,
        });
    };
    let (c, mac) = ciphertext.split_at(split);
    let ke = dk(base, &usage_constant(usage, 0xAA))?;
    let ki = dk(base, &usage_constant(usage, 0x55))?;
    let data = cts::decrypt(&Aes::new(&ke)?, &[0u8; BLOCK], c)?;
    let expected = hmac_sha1_96(&ki, &[&data]);
    if !bool::from(expected.as_slice().ct_eq(mac)) {
        return Err(CryptoError::BadIntegrity);
    }
    Ok(Zeroizing::new(
        data.get(BLOCK..).unwrap_or_default().to_vec(),
    ))
}

/// Checksum types 15/16: HMAC-SHA1(Kc, data) truncated to 96 bits.
pub(crate) fn checksum(base: &[u8], usage: u32, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let kc = dk(base, &usage_constant(usage, 0x99))?;
    Ok(hmac_sha1_96(&kc, &[data]).to_vec())
}

/// RFC 3962 §6 PRF: AES-ECB(DK(key, "prf"), first 16 bytes of SHA1(input)).
pub(crate) fn prf(base: &[u8], input: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let kp = dk(base, b"prf")?;
    let h = Sha1::digest(input);
    let mut block = [0u8; BLOCK];
    block.copy_from_slice(&h[..BLOCK]);
    Aes::new(&kp)?.encrypt_block(&mut block);
    Ok(block.to_vec())
}
