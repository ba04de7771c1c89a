//! `MSDS-MANAGEDPASSWORD_BLOB` (MS-ADTS 2.2.19) parsing.

use core::ops::Range;
use std::time::Duration;

use crate::{BlobField, GmsaError, Utf16Password};

/// Size of the fixed header.
const HEADER_LEN: usize = 16;

/// The maximum clock skew Windows assumes, 5 minutes in 100 ns ticks (MS-ADTS
/// GetgMSAPasswordBlob, `MaxClockSkew`). A `QueryPasswordInterval` at or below it means the DC
/// is in the rollover window and `CurrentPassword` is the next password.
pub const MAX_CLOCK_SKEW_TICKS: u64 = 3_000_000_000;

/// The fixed 16-byte header of an `MSDS-MANAGEDPASSWORD_BLOB`, as found in the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobHeader {
    /// `Version` (0x00); always 1 in a parsed blob.
    pub version: u16,
    /// `Reserved` (0x02); MUST be 0 per MS-ADTS, but any value is accepted.
    pub reserved: u16,
    /// `Length` (0x04): the total blob length in bytes.
    pub length: u32,
    /// `CurrentPasswordOffset` (0x08).
    pub current_password_offset: u16,
    /// `PreviousPasswordOffset` (0x0A); 0 when there is no previous password.
    pub previous_password_offset: u16,
    /// `QueryPasswordIntervalOffset` (0x0C).
    pub query_password_interval_offset: u16,
    /// `UnchangedPasswordIntervalOffset` (0x0E).
    pub unchanged_password_interval_offset: u16,
}

/// A parsed `msDS-ManagedPassword` attribute value (MS-ADTS 2.2.19). `Debug` redacts the
/// passwords.
#[derive(Debug, Clone)]
pub struct ManagedPasswordBlob {
    header: BlobHeader,
    current: Utf16Password,
    previous: Option<Utf16Password>,
    query_interval: u64,
    unchanged_interval: u64,
}

fn u16_at(bytes: &[u8], off: usize) -> Option<u16> {
    let b = bytes.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(b.try_into().ok()?))
}

fn u32_at(bytes: &[u8], off: usize) -> Option<u32> {
    let b = bytes.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn u64_at(bytes: &[u8], off: usize) -> Option<u64> {
    let b = bytes.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// 100 ns ticks to a `Duration` (never overflows: u64 seconds hold any u64 tick count).
fn ticks_to_duration(ticks: u64) -> Duration {
    // `ticks % 10_000_000 * 100` < 1e9, so it fits in u32.
    let nanos = u32::try_from(ticks % 10_000_000 * 100).unwrap_or(0);
    Duration::new(ticks / 10_000_000, nanos)
}

/// Reads the NUL-terminated UTF-16LE string at `offset`; returns it and the bytes it occupies
/// (including the NUL).
fn read_password(
    bytes: &[u8],
    field: BlobField,
    offset: u16,
) -> Result<(Utf16Password, Range<usize>), GmsaError> {
    let start = usize::from(offset);
    if start < HEADER_LEN || start.saturating_add(2) > bytes.len() {
        return Err(GmsaError::OffsetOutOfRange {
            field,
            offset,
            length: bytes.len(),
            needed: 2,
        });
    }
    if !start.is_multiple_of(2) {
        return Err(GmsaError::OddOffset { field, offset });
    }
    let tail = bytes.get(start..).unwrap_or_default();
    let units = tail
        .chunks_exact(2)
        .position(|u| u == [0, 0])
        .ok_or(GmsaError::Unterminated { field, offset })?;
    if units == 0 {
        return Err(GmsaError::EmptyPassword { field, offset });
    }
    let len = units * 2;
    let pw = Utf16Password::from_utf16le(tail.get(..len).unwrap_or_default())?;
    Ok((pw, start..start + len + 2))
}

/// Reads the u64 interval at `offset`; returns it and the bytes it occupies.
fn read_interval(
    bytes: &[u8],
    field: BlobField,
    offset: u16,
) -> Result<(u64, Range<usize>), GmsaError> {
    let start = usize::from(offset);
    let out_of_range = GmsaError::OffsetOutOfRange {
        field,
        offset,
        length: bytes.len(),
        needed: 8,
    };
    if start < HEADER_LEN {
        return Err(out_of_range);
    }
    let v = u64_at(bytes, start).ok_or(out_of_range)?;
    Ok((v, start..start + 8))
}

impl ManagedPasswordBlob {
    /// Parses an `msDS-ManagedPassword` attribute value.
    ///
    /// The fields are located strictly by the header's offsets; no position is computed and no
    /// alignment is assumed (Windows does not 8-align the intervals as the spec says). Checked:
    /// at least 16 bytes; `Version` 1; `Length` equal to the input length; `CurrentPasswordOffset`
    /// non-zero, even, past the header, and a non-empty string with its 0x0000 terminator inside
    /// the blob; the same for `PreviousPasswordOffset` unless it is 0; both interval offsets past
    /// the header with their 8 bytes inside the blob; and no two fields overlapping. A non-zero
    /// `Reserved` field is accepted (MS-ADTS says it MUST be 0; it is available via
    /// [`header`](Self::header)).
    ///
    /// ```
    /// use msds_gmsa::ManagedPasswordBlob;
    /// use std::time::Duration;
    ///
    /// // Header, "pw" + NUL at 16, intervals at 22 and 30 (unaligned, as Windows writes them).
    /// let mut bytes = vec![
    ///     0x01, 0x00, 0x00, 0x00, 38, 0, 0, 0, // Version 1, Reserved 0, Length 38
    ///     16, 0, 0, 0, 22, 0, 30, 0, // current @16, no previous, query @22, unchanged @30
    ///     b'p', 0, b'w', 0, 0, 0, // CurrentPassword "pw" + NUL
    /// ];
    /// bytes.extend_from_slice(&36_000_000_000u64.to_le_bytes()); // 1 hour
    /// bytes.extend_from_slice(&33_000_000_000u64.to_le_bytes()); // 55 minutes
    ///
    /// let blob = ManagedPasswordBlob::parse(&bytes)?;
    /// assert_eq!(blob.current().as_utf16le(), b"p\0w\0");
    /// assert!(blob.previous().is_none());
    /// assert_eq!(blob.query_password_interval(), Duration::from_secs(3600));
    /// assert_eq!(blob.unchanged_password_interval(), Duration::from_secs(3300));
    /// assert_eq!(blob.password_for_authentication()?.as_utf16le(), b"p\0w\0");
    ///
    /// assert!(ManagedPasswordBlob::parse(&bytes[..37]).is_err()); // Length mismatch
    /// # Ok::<(), msds_gmsa::GmsaError>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Self, GmsaError> {
        let too_short = GmsaError::TooShort { len: bytes.len() };
        if bytes.len() < HEADER_LEN {
            return Err(too_short);
        }
        let field16 = |off| u16_at(bytes, off).ok_or(too_short.clone());
        let header = BlobHeader {
            version: field16(0x00)?,
            reserved: field16(0x02)?,
            length: u32_at(bytes, 0x04).ok_or(too_short.clone())?,
            current_password_offset: field16(0x08)?,
            previous_password_offset: field16(0x0A)?,
            query_password_interval_offset: field16(0x0C)?,
            unchanged_password_interval_offset: field16(0x0E)?,
        };
        if header.version != 1 {
            return Err(GmsaError::UnsupportedVersion {
                version: header.version,
            });
        }
        if usize::try_from(header.length).ok() != Some(bytes.len()) {
            return Err(GmsaError::LengthMismatch {
                declared: header.length,
                actual: bytes.len(),
            });
        }
        if header.current_password_offset == 0 {
            return Err(GmsaError::MissingCurrentPassword);
        }

        let (current, current_range) = read_password(
            bytes,
            BlobField::CurrentPassword,
            header.current_password_offset,
        )?;
        let (previous, previous_range) = match header.previous_password_offset {
            0 => (None, None),
            off => {
                let (pw, r) = read_password(bytes, BlobField::PreviousPassword, off)?;
                (Some(pw), Some(r))
            }
        };
        let (query_interval, query_range) = read_interval(
            bytes,
            BlobField::QueryPasswordInterval,
            header.query_password_interval_offset,
        )?;
        let (unchanged_interval, unchanged_range) = read_interval(
            bytes,
            BlobField::UnchangedPasswordInterval,
            header.unchanged_password_interval_offset,
        )?;

        let mut regions = vec![
            (BlobField::CurrentPassword, current_range),
            (BlobField::QueryPasswordInterval, query_range),
            (BlobField::UnchangedPasswordInterval, unchanged_range),
        ];
        if let Some(r) = previous_range {
            regions.insert(1, (BlobField::PreviousPassword, r));
        }
        for (i, (first, a)) in regions.iter().enumerate() {
            for (second, b) in regions.iter().skip(i + 1) {
                if a.start < b.end && b.start < a.end {
                    return Err(GmsaError::Overlap {
                        first: *first,
                        second: *second,
                    });
                }
            }
        }

        Ok(ManagedPasswordBlob {
            header,
            current,
            previous,
            query_interval,
            unchanged_interval,
        })
    }

    /// The header as found in the blob (offsets, `Length`, `Reserved`).
    pub fn header(&self) -> &BlobHeader {
        &self.header
    }

    /// The blob version (always 1).
    pub fn version(&self) -> u16 {
        self.header.version
    }

    /// `CurrentPassword`. During the last 5 minutes before a rollover this is the *next*
    /// password; see [`password_for_authentication`](Self::password_for_authentication).
    pub fn current(&self) -> &Utf16Password {
        &self.current
    }

    /// `PreviousPassword`, if the blob has one.
    pub fn previous(&self) -> Option<&Utf16Password> {
        self.previous.as_ref()
    }

    /// `QueryPasswordInterval` in raw 100 ns ticks.
    pub fn query_password_interval_ticks(&self) -> u64 {
        self.query_interval
    }

    /// `UnchangedPasswordInterval` in raw 100 ns ticks.
    pub fn unchanged_password_interval_ticks(&self) -> u64 {
        self.unchanged_interval
    }

    /// `QueryPasswordInterval`: time after which the password MUST be queried again (normally
    /// until the next rollover).
    pub fn query_password_interval(&self) -> std::time::Duration {
        ticks_to_duration(self.query_interval)
    }

    /// `UnchangedPasswordInterval`: time during which queries return this same password.
    pub fn unchanged_password_interval(&self) -> std::time::Duration {
        ticks_to_duration(self.unchanged_interval)
    }

    /// Whether the DC answered within the 5 minutes before a password change, in which case
    /// `CurrentPassword` is the next password and `PreviousPassword` the valid one.
    pub fn in_rollover_window(&self) -> bool {
        self.query_interval <= MAX_CLOCK_SKEW_TICKS
    }

    /// The password to authenticate with now (MS-ADTS GetgMSAPasswordBlob, Samba
    /// `cli_credentials_set_gmsa_passwords`): `PreviousPassword` when the query interval is at
    /// most 5 minutes ([`in_rollover_window`](Self::in_rollover_window)), `CurrentPassword`
    /// otherwise. Errors with [`GmsaError::NoPreviousPassword`] in the rollover window when the
    /// blob has no previous password. If the KDC still refuses it (pre-authentication failed),
    /// retrying once with the other password is reasonable.
    pub fn password_for_authentication(&self) -> Result<&Utf16Password, GmsaError> {
        if self.in_rollover_window() {
            self.previous.as_ref().ok_or(GmsaError::NoPreviousPassword {
                query_interval_secs: self.query_interval / 10_000_000,
            })
        } else {
            Ok(&self.current)
        }
    }
}
