//! Encryption type numbers, names and per-profile parameters.

/// A Kerberos encryption type (RFC 3961 §8, RFC 3962, RFC 8009, RFC 4757).
///
/// ```
/// use krb5_proto::crypto::EncType;
///
/// let e = EncType::from_name("aes256-cts").unwrap();
/// assert_eq!(e, EncType::Aes256CtsHmacSha196);
/// assert_eq!(e.to_i32(), 18);
/// assert_eq!(e.name(), "aes256-cts-hmac-sha1-96");
/// assert_eq!(EncType::from_i32(23), Some(EncType::Rc4Hmac));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncType {
    /// aes128-cts-hmac-sha1-96 (etype 17, RFC 3962).
    Aes128CtsHmacSha196,
    /// aes256-cts-hmac-sha1-96 (etype 18, RFC 3962).
    Aes256CtsHmacSha196,
    /// aes128-cts-hmac-sha256-128 (etype 19, RFC 8009).
    Aes128CtsHmacSha256128,
    /// aes256-cts-hmac-sha384-192 (etype 20, RFC 8009).
    Aes256CtsHmacSha384192,
    /// rc4-hmac / arcfour-hmac (etype 23, RFC 4757).
    Rc4Hmac,
}

/// (etype, canonical name, aliases accepted by [`EncType::from_name`]).
const NAMES: [(EncType, &str, &[&str]); 5] = [
    (
        EncType::Aes128CtsHmacSha196,
        "aes128-cts-hmac-sha1-96",
        &["aes128-cts", "aes128-sha1"],
    ),
    (
        EncType::Aes256CtsHmacSha196,
        "aes256-cts-hmac-sha1-96",
        &["aes256-cts", "aes256-sha1"],
    ),
    (
        EncType::Aes128CtsHmacSha256128,
        "aes128-cts-hmac-sha256-128",
        &["aes128-sha2"],
    ),
    (
        EncType::Aes256CtsHmacSha384192,
        "aes256-cts-hmac-sha384-192",
        &["aes256-sha2"],
    ),
    (
        EncType::Rc4Hmac,
        "rc4-hmac",
        &["arcfour-hmac", "arcfour-hmac-md5"],
    ),
];

impl EncType {
    /// Every supported encryption type, strongest first: 18, 17, 20, 19, 23.
    ///
    /// The AES-SHA1 types come before the AES-SHA2 ones because Active Directory implements only
    /// the former (MS-KILE 3.1.5.2).
    pub const ALL: [EncType; 5] = [
        EncType::Aes256CtsHmacSha196,
        EncType::Aes128CtsHmacSha196,
        EncType::Aes256CtsHmacSha384192,
        EncType::Aes128CtsHmacSha256128,
        EncType::Rc4Hmac,
    ];

    /// The encryption type with the IANA number `v`, if supported.
    pub fn from_i32(v: i32) -> Option<Self> {
        match v {
            17 => Some(Self::Aes128CtsHmacSha196),
            18 => Some(Self::Aes256CtsHmacSha196),
            19 => Some(Self::Aes128CtsHmacSha256128),
            20 => Some(Self::Aes256CtsHmacSha384192),
            23 => Some(Self::Rc4Hmac),
            _ => None,
        }
    }

    /// The IANA number of this encryption type.
    pub fn to_i32(self) -> i32 {
        match self {
            Self::Aes128CtsHmacSha196 => 17,
            Self::Aes256CtsHmacSha196 => 18,
            Self::Aes128CtsHmacSha256128 => 19,
            Self::Aes256CtsHmacSha384192 => 20,
            Self::Rc4Hmac => 23,
        }
    }

    /// The MIT krb5 name, e.g. `"aes256-cts-hmac-sha1-96"`; `"rc4-hmac"` for etype 23 (MIT's
    /// own canonical spelling is `"arcfour-hmac"`, accepted by [`EncType::from_name`]).
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(e, _, _)| *e == self)
            .map_or("unknown", |(_, n, _)| n)
    }

    /// Parses an MIT enctype name or alias, ignoring ASCII case (as MIT does): the full names,
    /// `aes128-cts`, `aes256-cts`, `aes128-sha1`, `aes256-sha1`, `aes128-sha2`, `aes256-sha2`,
    /// `arcfour-hmac`, `arcfour-hmac-md5`, `rc4-hmac`.
    pub fn from_name(s: &str) -> Option<Self> {
        NAMES
            .iter()
            .find(|(_, n, aliases)| {
                n.eq_ignore_ascii_case(s) || aliases.iter().any(|a| a.eq_ignore_ascii_case(s))
            })
            .map(|(e, _, _)| *e)
    }

    /// Length of a protocol key in bytes (16 or 32).
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128CtsHmacSha196 | Self::Aes128CtsHmacSha256128 | Self::Rc4Hmac => 16,
            Self::Aes256CtsHmacSha196 | Self::Aes256CtsHmacSha384192 => 32,
        }
    }

    /// The keyed checksum type that goes with this encryption type: 15, 16, 19, 20 or -138
    /// (hmac-md5).
    pub fn checksum_type(self) -> i32 {
        match self {
            Self::Aes128CtsHmacSha196 => 15,
            Self::Aes256CtsHmacSha196 => 16,
            Self::Aes128CtsHmacSha256128 => 19,
            Self::Aes256CtsHmacSha384192 => 20,
            Self::Rc4Hmac => -138,
        }
    }

    /// Length in bytes of [`EncType::checksum_type`]'s output (and of the integrity tag in
    /// ciphertexts): 12, 12, 16, 24, 16.
    pub fn checksum_len(self) -> usize {
        match self {
            Self::Aes128CtsHmacSha196 | Self::Aes256CtsHmacSha196 => 12,
            Self::Aes128CtsHmacSha256128 | Self::Rc4Hmac => 16,
            Self::Aes256CtsHmacSha384192 => 24,
        }
    }

    /// The default string-to-key parameters: the PBKDF2 iteration count as 4 bytes big-endian
    /// (4096 for AES-SHA1, 32768 for AES-SHA2); `None` for RC4, which takes no parameters.
    pub fn default_s2kparams(self) -> Option<[u8; 4]> {
        match self {
            Self::Aes128CtsHmacSha196 | Self::Aes256CtsHmacSha196 => Some(4096u32.to_be_bytes()),
            Self::Aes128CtsHmacSha256128 | Self::Aes256CtsHmacSha384192 => {
                Some(32768u32.to_be_bytes())
            }
            Self::Rc4Hmac => None,
        }
    }

    /// Length in bytes of the random confounder prepended to every plaintext (16 for AES, 8
    /// for RC4).
    pub fn confounder_len(self) -> usize {
        match self {
            Self::Rc4Hmac => 8,
            _ => 16,
        }
    }

    /// Total bytes an encryption adds to the plaintext (confounder plus integrity tag), so a
    /// ciphertext shorter than this is always rejected.
    pub fn ciphertext_overhead(self) -> usize {
        self.confounder_len() + self.checksum_len()
    }

    /// Whether this is one of the RFC 8009 AES-SHA2 types (19, 20).
    pub(crate) fn is_aes_sha2(self) -> bool {
        matches!(
            self,
            Self::Aes128CtsHmacSha256128 | Self::Aes256CtsHmacSha384192
        )
    }
}

impl core::fmt::Display for EncType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
