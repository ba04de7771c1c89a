//! MS-KILE additions: PA-PAC-REQUEST and KERB-ERROR-DATA.

use rasn::prelude::*;

use super::codec::kerberos_sequence;

/// `KERB-PA-PAC-REQUEST ::= SEQUENCE { include-pac [0] BOOLEAN }` (MS-KILE 2.2.3), the value
/// of PA-PAC-REQUEST (128).
///
/// ```
/// use krb5_proto::asn1::{encode, PaPacRequest};
/// assert_eq!(encode(&PaPacRequest { include_pac: true }), [0x30, 0x05, 0xa0, 0x03, 0x01, 0x01, 0xff]);
/// ```
#[derive(AsnType, Encode, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PaPacRequest {
    /// Whether the KDC should include a PAC in the ticket.
    #[rasn(tag(explicit(0)))]
    pub include_pac: bool,
}
kerberos_sequence!(PaPacRequest {
    include_pac: req[0]
});

/// `KERB-ERROR-DATA ::= SEQUENCE { data-type [1] INTEGER, data-value [2] OCTET STRING OPTIONAL }`
/// (MS-KILE 2.2.1), the e-data of KRB-ERRORs from Active Directory other than
/// KDC_ERR_PREAUTH_REQUIRED. Note that the tags start at 1.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct KerbErrorData {
    /// [`KerbErrorData::SKEW_RECOVERY`] or [`KerbErrorData::EXTENDED`].
    #[rasn(tag(explicit(1)))]
    pub data_type: i32,
    /// For `EXTENDED`: a [`KerbExtError`].
    #[rasn(tag(explicit(2)))]
    pub data_value: Option<OctetString>,
}
kerberos_sequence!(KerbErrorData {
    data_type: req[1],
    data_value: opt[2]
});

impl KerbErrorData {
    /// KERB_AP_ERR_TYPE_SKEW_RECOVERY: the data value is empty.
    pub const SKEW_RECOVERY: i32 = 2;
    /// KERB_ERR_TYPE_EXTENDED: the data value is a [`KerbExtError`].
    pub const EXTENDED: i32 = 3;

    /// The extended error (NTSTATUS) when `data_type` is `EXTENDED`.
    pub fn ext_error(&self) -> Option<KerbExtError> {
        if self.data_type != Self::EXTENDED {
            return None;
        }
        KerbExtError::parse(self.data_value.as_deref()?)
    }
}

/// `KERB-EXT-ERROR` (MS-KILE 2.2.2): 12 bytes, little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KerbExtError {
    /// The NTSTATUS code, e.g. `0xC0000072` STATUS_ACCOUNT_DISABLED.
    pub status: u32,
    /// Reserved.
    pub reserved: u32,
    /// Flags (1 = the status is valid).
    pub flags: u32,
}

impl KerbExtError {
    /// Parses the 12-byte little-endian structure; `None` if shorter.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let word = |i: usize| -> Option<u32> {
            let b: [u8; 4] = bytes.get(i..i + 4)?.try_into().ok()?;
            Some(u32::from_le_bytes(b))
        };
        Some(Self {
            status: word(0)?,
            reserved: word(4)?,
            flags: word(8)?,
        })
    }
}
