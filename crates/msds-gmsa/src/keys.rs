//! Kerberos keys of a gMSA.

use krb5_proto::crypto::{EncType, Key};

use crate::{GmsaError, Utf16Password};

/// PBKDF2 iteration count Active Directory uses for AES string-to-key (4096, big-endian).
const AD_S2KPARAMS: [u8; 4] = 4096u32.to_be_bytes();

/// The long-term Kerberos keys of a gMSA for one password. `Debug` shows only the enctypes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GmsaKeys {
    /// rc4-hmac (etype 23): the NT hash of the raw UTF-16LE password.
    pub rc4: Key,
    /// aes128-cts-hmac-sha1-96 (etype 17).
    pub aes128: Key,
    /// aes256-cts-hmac-sha1-96 (etype 18).
    pub aes256: Key,
}

impl GmsaKeys {
    /// Derives the keys: AES-SHA1 (RFC 3962, 4096 PBKDF2 iterations as in AD) from the munged
    /// UTF-8 password ([`Utf16Password::to_utf8_munged`]) and `salt` (see
    /// [`computer_account_salt`](crate::computer_account_salt), or the KDC's ETYPE-INFO2 salt),
    /// and RC4-HMAC from the raw UTF-16LE bytes.
    ///
    /// ```
    /// use msds_gmsa::{GmsaKeys, Utf16Password};
    ///
    /// let pw = Utf16Password::from_utf16le(&"password".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<_>>())?;
    /// let keys = GmsaKeys::derive(&pw, b"EXAMPLE.COMhostwebapp01.example.com")?;
    /// assert_eq!(keys.rc4.as_bytes()[..4], [0x88, 0x46, 0xf7, 0xea]);
    /// # Ok::<(), msds_gmsa::GmsaError>(())
    /// ```
    pub fn derive(password: &Utf16Password, salt: &[u8]) -> Result<Self, GmsaError> {
        let utf8 = password.to_utf8_munged();
        let aes256 = Key::from_password(
            EncType::Aes256CtsHmacSha196,
            &utf8,
            salt,
            Some(&AD_S2KPARAMS),
        )?;
        let aes128 = Key::from_password(
            EncType::Aes128CtsHmacSha196,
            &utf8,
            salt,
            Some(&AD_S2KPARAMS),
        )?;
        let rc4 = Key::rc4_from_utf16le(password.as_utf16le());
        Ok(GmsaKeys {
            rc4,
            aes128,
            aes256,
        })
    }

    /// The keys strongest first (aes256, aes128, rc4), e.g. for an AS exchange's key list.
    pub fn as_vec(&self) -> Vec<Key> {
        vec![self.aes256.clone(), self.aes128.clone(), self.rc4.clone()]
    }

    /// The key of `etype`, if it is one of the three.
    pub fn get(&self, etype: EncType) -> Option<&Key> {
        [&self.aes256, &self.aes128, &self.rc4]
            .into_iter()
            .find(|k| k.etype() == etype)
    }
}
