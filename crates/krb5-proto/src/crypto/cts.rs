//! AES in CBC mode with ciphertext stealing as RFC 3962 §5 defines it (CBC-CS3 with an
//! always-swapped final pair).

use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use zeroize::{Zeroize, Zeroizing};

use super::CryptoError;

/// AES block size in bytes.
pub(crate) const BLOCK: usize = 16;

/// An AES-128 or AES-256 block cipher, chosen by key length.
pub(crate) enum Aes {
    A128(Aes128),
    A256(Aes256),
}

impl Aes {
    /// An AES cipher for a 16- or 32-byte key.
    pub(crate) fn new(key: &[u8]) -> Result<Self, CryptoError> {
        let bad = || CryptoError::InvalidKeyLength {
            etype: "aes",
            expected: if key.len() <= 16 { 16 } else { 32 },
            got: key.len(),
        };
        match key.len() {
            16 => Aes128::new_from_slice(key)
                .map(Self::A128)
                .map_err(|_| bad()),
            32 => Aes256::new_from_slice(key)
                .map(Self::A256)
                .map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    pub(crate) fn encrypt_block(&self, b: &mut [u8; BLOCK]) {
        let blk = Array::cast_from_core_mut(b);
        match self {
            Self::A128(c) => c.encrypt_block(blk),
            Self::A256(c) => c.encrypt_block(blk),
        }
    }

    pub(crate) fn decrypt_block(&self, b: &mut [u8; BLOCK]) {
        let blk = Array::cast_from_core_mut(b);
        match self {
            Self::A128(c) => c.decrypt_block(blk),
            Self::A256(c) => c.decrypt_block(blk),
        }
    }
}

fn xor_into(dst: &mut [u8; BLOCK], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s;
    }
}

/// Copies up to 16 bytes of `src` into a zero-padded block.
fn block_from(src: &[u8]) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    for (d, s) in b.iter_mut().zip(src) {
        *d = *s;
    }
    b
}

/// Encrypts `data` (at least 16 bytes) with AES-CBC-CTS as RFC 3962 specifies: the last two
/// ciphertext blocks are always swapped (even when the last block is full), the last one
/// truncated to the length of the final plaintext block; exactly one block is plain CBC.
pub(crate) fn encrypt(aes: &Aes, iv: &[u8; BLOCK], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let n = data.len();
    if n < BLOCK {
        return Err(CryptoError::CtsInputTooShort { len: n });
    }
    let mut out = Vec::with_capacity(n);
    let mut prev = *iv;
    let m = n.div_ceil(BLOCK);
    // All blocks but the last two are ordinary CBC.
    for i in 0..m.saturating_sub(2) {
        let mut b = block_from(&data[i * BLOCK..(i + 1) * BLOCK]);
        xor_into(&mut b, &prev);
        aes.encrypt_block(&mut b);
        out.extend_from_slice(&b);
        prev = b;
    }
    if m == 1 {
        let mut b = block_from(data);
        xor_into(&mut b, &prev);
        aes.encrypt_block(&mut b);
        out.extend_from_slice(&b);
        b.zeroize();
        return Ok(out);
    }
    let start = (m - 2) * BLOCK;
    let r = n - start - BLOCK; // length of the final (possibly partial) block, 1..=16
    let mut pen = block_from(&data[start..start + BLOCK]);
    xor_into(&mut pen, &prev);
    aes.encrypt_block(&mut pen);
    let mut last = block_from(&data[start + BLOCK..]); // zero padded
    xor_into(&mut last, &pen);
    aes.encrypt_block(&mut last);
    out.extend_from_slice(&last);
    out.extend_from_slice(&pen[..r]);
    pen.zeroize();
    Ok(out)
}

/// Inverse of [`encrypt`]. The returned buffer is zeroized on drop.
pub(crate) fn decrypt(
    aes: &Aes,
    iv: &[u8; BLOCK],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let n = data.len();
    if n < BLOCK {
        return Err(CryptoError::CtsInputTooShort { len: n });
    }
    let mut out = Zeroizing::new(Vec::with_capacity(n));
    let mut prev = *iv;
    let m = n.div_ceil(BLOCK);
    for i in 0..m.saturating_sub(2) {
        let c = block_from(&data[i * BLOCK..(i + 1) * BLOCK]);
        let mut b = c;
        aes.decrypt_block(&mut b);
        xor_into(&mut b, &prev);
        out.extend_from_slice(&b);
        b.zeroize();
        prev = c;
    }
    if m == 1 {
        let mut b = block_from(data);
        aes.decrypt_block(&mut b);
        xor_into(&mut b, &prev);
        out.extend_from_slice(&b);
        b.zeroize();
        return Ok(out);
    }
    let start = (m - 2) * BLOCK;
    let r = n - start - BLOCK;
    // The first of the final pair is the encryption of the (padded) last plaintext block.
    let mut dn = block_from(&data[start..start + BLOCK]);
    aes.decrypt_block(&mut dn);
    let tail = &data[start + BLOCK..];
    // Rebuild the full penultimate ciphertext block: its first r bytes were transmitted, the
    // rest equals the decryption's tail (the plaintext padding was zero).
    let mut cpen = dn;
    cpen[..r].copy_from_slice(tail);
    let mut last = dn;
    xor_into(&mut last, &cpen);
    let mut pen = cpen;
    aes.decrypt_block(&mut pen);
    xor_into(&mut pen, &prev);
    out.extend_from_slice(&pen);
    out.extend_from_slice(&last[..r]);
    dn.zeroize();
    last.zeroize();
    pen.zeroize();
    Ok(out)
}
