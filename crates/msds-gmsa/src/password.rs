//! A raw UTF-16LE gMSA password and its conversions.

use core::fmt;

use md4::{Digest, Md4};
use zeroize::Zeroizing;

use crate::GmsaError;

/// A gMSA password as the DC hands it out: raw UTF-16LE bytes, without the terminating NUL.
///
/// The bytes are random 16-bit units and need not be valid UTF-16 (lone surrogates are common),
/// so they are kept as bytes. Zeroized on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct Utf16Password(Zeroizing<Vec<u8>>);

impl fmt::Debug for Utf16Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Utf16Password(<redacted>)")
    }
}

impl Utf16Password {
    /// A password from raw UTF-16LE bytes (no terminating NUL). Any even-length input is
    /// accepted, including unpaired surrogates and embedded 0x0000 units.
    ///
    /// ```
    /// use msds_gmsa::Utf16Password;
    ///
    /// let pw = Utf16Password::from_utf16le(&[0x41, 0x00, 0x00, 0xd8])?; // "A", lone surrogate
    /// assert_eq!(pw.to_utf8_munged().as_slice(), b"A\xef\xbf\xbd");
    /// assert!(Utf16Password::from_utf16le(&[0x41]).is_err());
    /// # Ok::<(), msds_gmsa::GmsaError>(())
    /// ```
    pub fn from_utf16le(bytes: &[u8]) -> Result<Self, GmsaError> {
        if !bytes.len().is_multiple_of(2) {
            return Err(GmsaError::OddPasswordLength { len: bytes.len() });
        }
        Ok(Utf16Password(Zeroizing::new(bytes.to_vec())))
    }

    /// The raw UTF-16LE bytes (no terminating NUL).
    pub fn as_utf16le(&self) -> &[u8] {
        &self.0
    }

    /// Number of UTF-16 code units (half the byte length).
    pub fn len_utf16_units(&self) -> usize {
        self.0.len() / 2
    }

    /// The password as UTF-8, converted the way Samba's `utf16_munged_pull` (and .NET's
    /// `Encoding.Convert(Unicode, UTF8)`, Python's `decode('utf-16-le', 'replace')`) do it, which
    /// is what Windows uses to derive a gMSA's AES keys:
    ///
    /// 1. a 0x0000 unit becomes U+0001;
    /// 2. a high surrogate not immediately followed by a low surrogate becomes U+FFFD
    ///    (`EF BF BD`), as does a low surrogate not preceded by a high one — one U+FFFD per
    ///    lone unit;
    /// 3. a valid surrogate pair becomes its 4-byte UTF-8 encoding.
    ///
    /// Every other unit, including noncharacters such as U+FFFF, is encoded as is. The result is
    /// always valid UTF-8 without NUL bytes.
    pub fn to_utf8_munged(&self) -> Zeroizing<Vec<u8>> {
        // At most 3 UTF-8 bytes per UTF-16 unit (a pair of 2 units gives 4 bytes), so the buffer
        // never reallocates (which would leave an unzeroized copy behind).
        let mut out = Zeroizing::new(Vec::with_capacity(self.0.len() / 2 * 3));
        let units = self
            .0
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .map(|u| if u == 0 { 1 } else { u });
        let mut buf = Zeroizing::new([0u8; 4]);
        for c in char::decode_utf16(units) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            out.extend_from_slice(c.encode_utf8(&mut buf[..]).as_bytes());
        }
        out
    }

    /// The NT hash, MD4 over the raw UTF-16LE bytes (no munging) — the RC4-HMAC key.
    pub fn nt_hash(&self) -> Zeroizing<[u8; 16]> {
        Zeroizing::new(Md4::digest(self.0.as_slice()).into())
    }
}
