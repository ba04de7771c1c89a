//! Kerberos primitive types with exact wire forms: `KerberosString` (raw bytes), `KerberosTime`
//! (whole seconds), `KerberosFlags` (32-bit BIT STRING) and the lenient unsigned integer decoder.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rasn::prelude::*;
use rasn::types::Identifier;

/// RFC 4120 `KerberosString ::= GeneralString (IA5String)`, kept as raw bytes.
///
/// Real deployments put UTF-8 (Active Directory, MIT with non-ASCII names) and sometimes other
/// bytes in GeneralStrings, so no character set is enforced: whatever bytes arrive are kept and
/// re-encoded unchanged. Encoded as UNIVERSAL 27 (GeneralString).
///
/// ```
/// use krb5_proto::asn1::KerberosString;
/// let s = KerberosString::from("jäger");
/// assert_eq!(s.as_bytes(), "jäger".as_bytes());
/// assert_eq!(krb5_proto::asn1::encode(&s)[..2], [0x1b, 6]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KerberosString(pub Vec<u8>);

/// The name of a realm (`Realm ::= KerberosString`).
pub type Realm = KerberosString;

impl KerberosString {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    /// Consumes the string, returning its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl From<&str> for KerberosString {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl From<String> for KerberosString {
    fn from(s: String) -> Self {
        Self(s.into_bytes())
    }
}

impl From<Vec<u8>> for KerberosString {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for KerberosString {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl AsRef<[u8]> for KerberosString {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KerberosString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KerberosString({:?})", self.to_string_lossy())
    }
}

impl fmt::Display for KerberosString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl AsnType for KerberosString {
    const TAG: Tag = Tag::GENERAL_STRING;
}

impl Encode for KerberosString {
    fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
        &self,
        encoder: &mut E,
        tag: Tag,
        _constraints: &Constraints,
        identifier: Identifier,
    ) -> Result<(), E::Error> {
        encoder
            .encode_octet_string(tag, &Constraints::default(), &self.0, identifier)
            .map(drop)
    }
}

impl Decode for KerberosString {
    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        tag: Tag,
        _constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        decoder
            .decode_octet_string::<Vec<u8>>(tag, &Constraints::default())
            .map(Self)
    }
}

/// RFC 4120 `KerberosTime ::= GeneralizedTime -- with no fractional seconds`.
///
/// Always encoded as exactly the 15 bytes `YYYYMMDDHHMMSSZ` (UTC, whole seconds). Decoding also
/// accepts fractional seconds (`YYYYMMDDHHMMSS.fffZ`, dropped) which some encoders emit. Values
/// are clamped to the years 0000..=9999 so that the wire form always has four year digits.
///
/// ```
/// use krb5_proto::asn1::KerberosTime;
/// let t = KerberosTime::from_unix(1_700_000_000);
/// assert_eq!(t.to_generalized(), *b"20231114221320Z");
/// assert_eq!(KerberosTime::parse(b"20231114221320.123Z"), Some(t));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KerberosTime(i64);

/// Seconds from 1970-01-01 to 0000-01-01 (proleptic Gregorian), negative.
const MIN_UNIX: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z.
const MAX_UNIX: i64 = 253_402_300_799;

impl KerberosTime {
    /// The time `secs` seconds after 1970-01-01T00:00:00Z (clamped to years 0000..=9999).
    pub fn from_unix(secs: i64) -> Self {
        Self(secs.clamp(MIN_UNIX, MAX_UNIX))
    }

    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub fn to_unix(&self) -> i64 {
        self.0
    }

    /// The current time, truncated to whole seconds.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// The 15-byte `YYYYMMDDHHMMSSZ` form.
    pub fn to_generalized(&self) -> [u8; 15] {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (secs / 3600, (secs / 60) % 60, secs % 60);
        let mut out = [b'0'; 15];
        put_digits(&mut out[0..4], y);
        put_digits(&mut out[4..6], m);
        put_digits(&mut out[6..8], d);
        put_digits(&mut out[8..10], hh);
        put_digits(&mut out[10..12], mm);
        put_digits(&mut out[12..14], ss);
        out[14] = b'Z';
        out
    }

    /// Parses `YYYYMMDDHHMMSS[.fraction]Z` (also `,` as the decimal sign); `None` if malformed.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let (body, rest) = bytes.split_at_checked(14)?;
        match rest {
            [b'Z'] => {}
            [b'.' | b',', frac @ .., b'Z'] if !frac.is_empty() => {
                if !frac.iter().all(u8::is_ascii_digit) {
                    return None;
                }
            }
            _ => return None,
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = body.get(r)?;
            part.iter().try_fold(0i64, |acc, &b| {
                b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
            })
        };
        let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (hh, mm, ss) = (num(8..10)?, num(10..12)?, num(12..14)?);
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            return None;
        }
        // 60 is a leap second; it is folded into the next minute.
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        Some(Self(
            days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss,
        ))
    }
}

fn put_digits(out: &mut [u8], mut v: i64) {
    for b in out.iter_mut().rev() {
        // v is in 0..=9999 here, so the digit is in 0..=9.
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date y-m-d (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl From<SystemTime> for KerberosTime {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Self::from_unix(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Err(e) => {
                let d = e.duration();
                // Round toward the past so that truncation is consistent with after-epoch times.
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                let secs = if d.subsec_nanos() > 0 {
                    secs.saturating_add(1)
                } else {
                    secs
                };
                Self::from_unix(secs.saturating_neg())
            }
        }
    }
}

impl From<KerberosTime> for SystemTime {
    fn from(t: KerberosTime) -> Self {
        if t.0 >= 0 {
            UNIX_EPOCH + Duration::from_secs(t.0.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(t.0.unsigned_abs())
        }
    }
}

impl fmt::Display for KerberosTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_generalized()))
    }
}

impl AsnType for KerberosTime {
    const TAG: Tag = Tag::GENERALIZED_TIME;
}

impl Encode for KerberosTime {
    fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
        &self,
        encoder: &mut E,
        tag: Tag,
        _constraints: &Constraints,
        identifier: Identifier,
    ) -> Result<(), E::Error> {
        encoder
            .encode_octet_string(
                tag,
                &Constraints::default(),
                &self.to_generalized(),
                identifier,
            )
            .map(drop)
    }
}

impl Decode for KerberosTime {
    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        tag: Tag,
        _constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        let codec = decoder.codec();
        let raw: Vec<u8> = decoder.decode_octet_string(tag, &Constraints::default())?;
        Self::parse(&raw).ok_or_else(|| {
            rasn::de::Error::custom(
                format_args!(
                    "KerberosTime {:?} is not YYYYMMDDHHMMSS[.f]Z",
                    String::from_utf8_lossy(raw.get(..raw.len().min(40)).unwrap_or_default())
                ),
                codec,
            )
        })
    }
}

/// Encodes 32 flag bits as a DER BIT STRING `03 05 00 b0 b1 b2 b3` (bit 0 = MSB of b0).
fn encode_flags<'b, E: Encoder<'b>>(
    bits: u32,
    encoder: &mut E,
    tag: Tag,
    identifier: Identifier,
) -> Result<(), E::Error> {
    let b = bits.to_be_bytes();
    let contents = [0u8, b[0], b[1], b[2], b[3]];
    encoder
        .encode_octet_string(tag, &Constraints::default(), &contents, identifier)
        .map(drop)
}

/// Decodes a BIT STRING of any length into 32 flag bits: missing bits are zero, bits past 31
/// are ignored.
fn decode_flags<D: Decoder>(decoder: &mut D, tag: Tag) -> Result<u32, D::Error> {
    let bits = decoder.decode_bit_string(tag, &Constraints::default())?;
    let mut out = 0u32;
    for (i, bit) in bits.iter().take(32).enumerate() {
        if *bit {
            out |= 0x8000_0000 >> i;
        }
    }
    Ok(out)
}

macro_rules! flags_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            /// No flags set.
            pub const EMPTY: Self = Self(0);

            /// Whether every bit of `mask` is set.
            pub const fn contains(self, mask: u32) -> bool {
                self.0 & mask == mask
            }

            /// Returns these flags with the bits of `mask` set.
            #[must_use]
            pub const fn with(self, mask: u32) -> Self {
                Self(self.0 | mask)
            }

            /// Returns these flags with the bits of `mask` cleared.
            #[must_use]
            pub const fn without(self, mask: u32) -> Self {
                Self(self.0 & !mask)
            }

            /// Whether RFC bit number `n` (0 = most significant) is set; false for `n > 31`.
            pub const fn bit(self, n: u32) -> bool {
                n < 32 && self.0 & (0x8000_0000 >> n) != 0
            }
        }

        impl From<u32> for $name {
            fn from(v: u32) -> Self {
                Self(v)
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }

        impl std::ops::BitOr<u32> for $name {
            type Output = Self;
            fn bitor(self, rhs: u32) -> Self {
                Self(self.0 | rhs)
            }
        }

        impl std::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:#010x})"), self.0)
            }
        }

        impl AsnType for $name {
            const TAG: Tag = Tag::BIT_STRING;
        }

        impl Encode for $name {
            fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
                &self,
                encoder: &mut E,
                tag: Tag,
                _constraints: &Constraints,
                identifier: Identifier,
            ) -> Result<(), E::Error> {
                encode_flags(self.0, encoder, tag, identifier)
            }
        }

        impl Decode for $name {
            fn decode_with_tag_and_constraints<D: Decoder>(
                decoder: &mut D,
                tag: Tag,
                _constraints: &Constraints,
            ) -> Result<Self, D::Error> {
                decode_flags(decoder, tag).map(Self)
            }
        }
    };
}

flags_type!(
    /// RFC 4120 `KerberosFlags ::= BIT STRING (SIZE (32..MAX))` as 32 bits, bit 0 = `0x8000_0000`.
    ///
    /// Encoded as exactly 32 bits (`03 05 00 b0 b1 b2 b3`); decoding accepts any length.
    KerberosFlags
);

flags_type!(
    /// `KDCOptions` (RFC 4120 §5.4.1) as a `u32` mask, bit 0 = `0x8000_0000`.
    ///
    /// ```
    /// use krb5_proto::asn1::KdcOptions;
    /// let o = KdcOptions(KdcOptions::FORWARDABLE | KdcOptions::RENEWABLE | KdcOptions::CANONICALIZE | KdcOptions::RENEWABLE_OK);
    /// assert_eq!(krb5_proto::asn1::encode(&o), [0x03, 0x05, 0x00, 0x40, 0x81, 0x00, 0x10]);
    /// ```
    KdcOptions
);

impl KdcOptions {
    /// Bit 0, reserved.
    pub const RESERVED: u32 = 0x8000_0000;
    /// Bit 1: the ticket is to be forwardable.
    pub const FORWARDABLE: u32 = 0x4000_0000;
    /// Bit 2: this is a request for forwarding.
    pub const FORWARDED: u32 = 0x2000_0000;
    /// Bit 3: the ticket is to be proxiable (MS-KILE: clients do not set it).
    pub const PROXIABLE: u32 = 0x1000_0000;
    /// Bit 4: this is a request for a proxy.
    pub const PROXY: u32 = 0x0800_0000;
    /// Bit 5: the ticket is to have MAY-POSTDATE.
    pub const ALLOW_POSTDATE: u32 = 0x0400_0000;
    /// Bit 6: this is a request for a postdated ticket.
    pub const POSTDATED: u32 = 0x0200_0000;
    /// Bit 8: the ticket is to be renewable (`rtime` carries the renew-till time).
    pub const RENEWABLE: u32 = 0x0080_0000;
    /// Bit 11: hardware authentication requested (MIT `KDC_OPT_REQUEST_HW_AUTH`).
    pub const OPT_HARDWARE_AUTH: u32 = 0x0010_0000;
    /// Bit 14: the client name is in the additional ticket (S4U2Proxy, MS-SFU).
    pub const CNAME_IN_ADDL_TKT: u32 = 0x0002_0000;
    /// Bit 15: the KDC may canonicalize names and return referrals (RFC 6806).
    pub const CANONICALIZE: u32 = 0x0001_0000;
    /// Bit 16: anonymous ticket requested (RFC 8062).
    pub const REQUEST_ANONYMOUS: u32 = 0x0000_8000;
    /// Bit 26: do not check the transited field.
    pub const DISABLE_TRANSITED_CHECK: u32 = 0x0000_0020;
    /// Bit 27: a renewable ticket is acceptable if the requested lifetime cannot be granted.
    pub const RENEWABLE_OK: u32 = 0x0000_0010;
    /// Bit 28: encrypt the ticket in the session key of the additional ticket (user-to-user).
    pub const ENC_TKT_IN_SKEY: u32 = 0x0000_0008;
    /// Bit 30: this is a renewal.
    pub const RENEW: u32 = 0x0000_0002;
    /// Bit 31: validate a postdated ticket.
    pub const VALIDATE: u32 = 0x0000_0001;
}

flags_type!(
    /// `TicketFlags` (RFC 4120 §5.3) as a `u32` mask, bit 0 = `0x8000_0000`; the same value MIT
    /// stores in a ccache.
    TicketFlags
);

impl TicketFlags {
    /// Bit 0, reserved.
    pub const RESERVED: u32 = 0x8000_0000;
    /// Bit 1: a TGT that may be forwarded to other addresses.
    pub const FORWARDABLE: u32 = 0x4000_0000;
    /// Bit 2: the ticket was forwarded or issued from a forwarded TGT.
    pub const FORWARDED: u32 = 0x2000_0000;
    /// Bit 3: non-TGTs may be issued with other addresses.
    pub const PROXIABLE: u32 = 0x1000_0000;
    /// Bit 4: the ticket is a proxy.
    pub const PROXY: u32 = 0x0800_0000;
    /// Bit 5: postdated tickets may be issued from this TGT.
    pub const MAY_POSTDATE: u32 = 0x0400_0000;
    /// Bit 6: the ticket is postdated.
    pub const POSTDATED: u32 = 0x0200_0000;
    /// Bit 7: the ticket is invalid until validated.
    pub const INVALID: u32 = 0x0100_0000;
    /// Bit 8: the ticket is renewable.
    pub const RENEWABLE: u32 = 0x0080_0000;
    /// Bit 9: issued by the AS exchange, not from a TGT.
    pub const INITIAL: u32 = 0x0040_0000;
    /// Bit 10: the client was pre-authenticated.
    pub const PRE_AUTHENT: u32 = 0x0020_0000;
    /// Bit 11: hardware pre-authentication was used.
    pub const HW_AUTHENT: u32 = 0x0010_0000;
    /// Bit 12: the KDC checked the transited field.
    pub const TRANSITED_POLICY_CHECKED: u32 = 0x0008_0000;
    /// Bit 13: the service is trusted for delegation.
    pub const OK_AS_DELEGATE: u32 = 0x0004_0000;
    /// Bit 15: the KDC supports encrypted PA-REQ-ENC-PA-REP (RFC 6806 §11).
    pub const ENC_PA_REP: u32 = 0x0001_0000;
    /// Bit 16: anonymous ticket (RFC 8062).
    pub const ANONYMOUS: u32 = 0x0000_8000;
}

flags_type!(
    /// `APOptions` (RFC 4120 §5.5.1) as a `u32` mask, bit 0 = `0x8000_0000`.
    ApOptions
);

impl ApOptions {
    /// Bit 0, reserved.
    pub const RESERVED: u32 = 0x8000_0000;
    /// Bit 1: the ticket is encrypted in the session key of the server's TGT (user-to-user).
    pub const USE_SESSION_KEY: u32 = 0x4000_0000;
    /// Bit 2: mutual authentication required (the server replies with an AP-REP).
    pub const MUTUAL_REQUIRED: u32 = 0x2000_0000;
}

/// An INTEGER decoded leniently into a `u32`.
///
/// Used for `UInt32` fields (nonce, seq-number, kvno): a value with the high bit set may arrive
/// as a 5-byte positive INTEGER (`00 ff ff ff ff`, correct DER) or, from implementations that
/// treat the field as `Int32`, as a negative 4-byte INTEGER (`ff ff ff ff` = -1 = 0xffffffff).
/// Both are accepted; values outside `-2^31..2^32` are rejected.
pub(crate) struct WireU32(pub(crate) u32);

impl AsnType for WireU32 {
    const TAG: Tag = Tag::INTEGER;
}

impl Decode for WireU32 {
    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        tag: Tag,
        _constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        let codec = decoder.codec();
        let v: i64 = decoder.decode_integer(tag, &Constraints::default())?;
        if let Ok(u) = u32::try_from(v) {
            Ok(Self(u))
        } else if let Ok(i) = i32::try_from(v) {
            Ok(Self(i.cast_unsigned()))
        } else {
            Err(rasn::de::Error::custom(
                format_args!("integer {v} does not fit a 32-bit field"),
                codec,
            ))
        }
    }
}
