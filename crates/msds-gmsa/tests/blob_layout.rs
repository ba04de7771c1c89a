//! Synthetic blobs (previous password, unusual layouts) and malformed input: every broken
//! field, every truncation and random corruption must give an error, never a panic.

use msds_gmsa::{BlobField, GmsaError, MAX_CLOCK_SKEW_TICKS, ManagedPasswordBlob};

const BLOBS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../vectors/gmsa_blobs.json"
));

/// All real blobs from the vector files.
fn real_blobs() -> Vec<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_str(BLOBS).unwrap();
    let mut out: Vec<Vec<u8>> = v["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| hex::decode(b["blob_hex"].as_str().unwrap()).unwrap())
        .collect();
    let st: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/gmsa_credentials_fetcher_selftest.json"
    )))
    .unwrap();
    out.push(hex::decode(st["blob_hex"].as_str().unwrap()).unwrap());
    out
}

/// A deterministic pseudo-random 128-unit password (may contain surrogates, never 0x0000).
fn password(seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    (0..128)
        .flat_map(|_| {
            let u = (rng.next() as u16).max(1);
            u.to_le_bytes()
        })
        .collect()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pieces of a blob; `build` lays them out in the given order with optional padding, and
/// fills in the offsets and Length.
#[derive(Clone)]
struct Layout {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
    query: u64,
    unchanged: u64,
    /// Bytes of padding inserted before each of: current, previous, query, unchanged.
    pad: [usize; 4],
    /// Write intervals before the passwords.
    intervals_first: bool,
}

impl Layout {
    fn new(current: Vec<u8>, previous: Option<Vec<u8>>, query: u64) -> Self {
        Layout {
            current,
            previous,
            query,
            unchanged: query.saturating_sub(MAX_CLOCK_SKEW_TICKS),
            pad: [0; 4],
            intervals_first: false,
        }
    }

    fn build(&self) -> Vec<u8> {
        let mut body = vec![0u8; 16];
        let mut offs = [0u16; 4];
        let mut put = |i: usize, data: &[u8], body: &mut Vec<u8>| {
            body.extend(std::iter::repeat_n(0xAA, self.pad[i]));
            offs[i] = body.len() as u16;
            body.extend_from_slice(data);
        };
        let mut cur = self.current.clone();
        cur.extend_from_slice(&[0, 0]);
        let prev = self.previous.clone().map(|mut p| {
            p.extend_from_slice(&[0, 0]);
            p
        });
        let q = self.query.to_le_bytes();
        let u = self.unchanged.to_le_bytes();
        if self.intervals_first {
            put(3, &u, &mut body);
            put(2, &q, &mut body);
            if let Some(p) = &prev {
                put(1, p, &mut body);
            }
            put(0, &cur, &mut body);
        } else {
            put(0, &cur, &mut body);
            if let Some(p) = &prev {
                put(1, p, &mut body);
            }
            put(2, &q, &mut body);
            put(3, &u, &mut body);
        }
        let len = body.len() as u32;
        body[0..2].copy_from_slice(&1u16.to_le_bytes());
        body[4..8].copy_from_slice(&len.to_le_bytes());
        for (i, o) in offs.iter().enumerate() {
            body[8 + 2 * i..10 + 2 * i].copy_from_slice(&o.to_le_bytes());
        }
        body
    }
}

fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

const THIRTY_DAYS: u64 = 30 * 24 * 3600 * 10_000_000;

#[test]
fn previous_password_layout_like_samba() {
    let cur = password(1);
    let prev = password(2);
    for query in [THIRTY_DAYS, MAX_CLOCK_SKEW_TICKS + 1] {
        let bytes = Layout::new(cur.clone(), Some(prev.clone()), query).build();
        // As Samba's NDR encoder lays it out: query@532 (532 % 8 == 4, unaligned), unchanged@540,
        // Length 548.
        assert_eq!(bytes.len(), 548);
        let blob = ManagedPasswordBlob::parse(&bytes).unwrap();
        let h = blob.header();
        assert_eq!(
            (
                h.current_password_offset,
                h.previous_password_offset,
                h.query_password_interval_offset,
                h.unchanged_password_interval_offset
            ),
            (16, 274, 532, 540)
        );
        assert_eq!(blob.current().as_utf16le(), cur.as_slice());
        assert_eq!(blob.previous().unwrap().as_utf16le(), prev.as_slice());
        assert!(!blob.in_rollover_window());
        assert_eq!(
            blob.password_for_authentication().unwrap().as_utf16le(),
            cur.as_slice()
        );
    }
}

#[test]
fn rollover_window_uses_previous() {
    let cur = password(3);
    let prev = password(4);
    for query in [0, 1, 2_000_000_000, MAX_CLOCK_SKEW_TICKS] {
        let mut l = Layout::new(cur.clone(), Some(prev.clone()), query);
        // In the window Windows reports Unchanged = Query + rollover − 5 min.
        l.unchanged = query + THIRTY_DAYS - MAX_CLOCK_SKEW_TICKS;
        let blob = ManagedPasswordBlob::parse(&l.build()).unwrap();
        assert!(blob.in_rollover_window());
        assert_eq!(
            blob.password_for_authentication().unwrap().as_utf16le(),
            prev.as_slice(),
            "query {query}"
        );
        // Without a previous password there is nothing valid to use.
        let mut l = l.clone();
        l.previous = None;
        let blob = ManagedPasswordBlob::parse(&l.build()).unwrap();
        let e = blob.password_for_authentication().unwrap_err();
        assert!(matches!(e, GmsaError::NoPreviousPassword { .. }), "{e}");
        assert!(e.to_string().contains("query msDS-ManagedPassword again"));
    }
}

#[test]
fn unusual_but_valid_layouts() {
    let cur = password(5);
    let prev = password(6);
    let mut rng = Rng(99);
    for intervals_first in [false, true] {
        for _ in 0..200 {
            let mut l = Layout::new(cur.clone(), Some(prev.clone()), THIRTY_DAYS);
            l.intervals_first = intervals_first;
            // Any padding before the intervals (odd too); even padding before strings.
            l.pad = [
                rng.below(8) * 2,
                rng.below(8) * 2,
                rng.below(16),
                rng.below(16),
            ];
            if intervals_first {
                // The strings come after the intervals: keep them at even offsets.
                let interval_end = 16 + l.pad[3] + 8 + l.pad[2] + 8;
                l.pad[1] += interval_end % 2;
            }
            let bytes = l.build();
            let blob = ManagedPasswordBlob::parse(&bytes)
                .unwrap_or_else(|e| panic!("pad {:?} first {intervals_first}: {e}", l.pad));
            assert_eq!(blob.current().as_utf16le(), cur.as_slice());
            assert_eq!(blob.previous().unwrap().as_utf16le(), prev.as_slice());
            assert_eq!(blob.query_password_interval_ticks(), THIRTY_DAYS);
            assert_eq!(
                blob.unchanged_password_interval_ticks(),
                THIRTY_DAYS - MAX_CLOCK_SKEW_TICKS
            );
        }
    }
}

#[test]
fn nonzero_reserved_is_accepted() {
    let mut b = real_blobs().remove(0);
    set_u16(&mut b, 2, 0xbeef);
    let blob = ManagedPasswordBlob::parse(&b).unwrap();
    assert_eq!(blob.header().reserved, 0xbeef);
}

#[test]
fn interval_durations_do_not_overflow() {
    let l = Layout {
        unchanged: u64::MAX,
        ..Layout::new(password(7), None, u64::MAX)
    };
    let blob = ManagedPasswordBlob::parse(&l.build()).unwrap();
    let d = blob.query_password_interval();
    assert_eq!(d.as_secs(), u64::MAX / 10_000_000);
    assert_eq!(d.subsec_nanos(), (u64::MAX % 10_000_000) as u32 * 100);
    assert_eq!(blob.unchanged_password_interval(), d);
}

/// Expected error for a mutation of the first real blob (current@16, query@274, unchanged@282,
/// Length 290).
#[test]
fn each_field_broken() {
    let good = real_blobs().remove(0);
    type Mutation = (&'static str, fn(&mut Vec<u8>), fn(&GmsaError) -> bool);
    let cases: &[Mutation] = &[
        (
            "empty",
            |b| b.clear(),
            |e| matches!(e, GmsaError::TooShort { len: 0 }),
        ),
        (
            "header only",
            |b| b.truncate(15),
            |e| matches!(e, GmsaError::TooShort { len: 15 }),
        ),
        (
            "version 0",
            |b| set_u16(b, 0, 0),
            |e| matches!(e, GmsaError::UnsupportedVersion { version: 0 }),
        ),
        (
            "version 2",
            |b| set_u16(b, 0, 2),
            |e| matches!(e, GmsaError::UnsupportedVersion { version: 2 }),
        ),
        (
            "version 0x100",
            |b| set_u16(b, 0, 0x100),
            |e| matches!(e, GmsaError::UnsupportedVersion { .. }),
        ),
        (
            "length +1",
            |b| set_u32(b, 4, 291),
            |e| {
                matches!(
                    e,
                    GmsaError::LengthMismatch {
                        declared: 291,
                        actual: 290
                    }
                )
            },
        ),
        (
            "length -1",
            |b| set_u32(b, 4, 289),
            |e| matches!(e, GmsaError::LengthMismatch { .. }),
        ),
        (
            "length 0",
            |b| set_u32(b, 4, 0),
            |e| matches!(e, GmsaError::LengthMismatch { .. }),
        ),
        (
            "length max",
            |b| set_u32(b, 4, u32::MAX),
            |e| matches!(e, GmsaError::LengthMismatch { .. }),
        ),
        (
            "trailing byte",
            |b| {
                b.push(0);
                set_u32(b, 4, 290)
            },
            |e| {
                matches!(
                    e,
                    GmsaError::LengthMismatch {
                        declared: 290,
                        actual: 291
                    }
                )
            },
        ),
        (
            "current offset 0",
            |b| set_u16(b, 8, 0),
            |e| matches!(e, GmsaError::MissingCurrentPassword),
        ),
        (
            "current offset odd",
            |b| set_u16(b, 8, 17),
            |e| {
                matches!(
                    e,
                    GmsaError::OddOffset {
                        field: BlobField::CurrentPassword,
                        offset: 17
                    }
                )
            },
        ),
        (
            "current offset in header",
            |b| set_u16(b, 8, 8),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::CurrentPassword,
                        offset: 8,
                        ..
                    }
                )
            },
        ),
        (
            "current offset = length",
            |b| set_u16(b, 8, 290),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::CurrentPassword,
                        ..
                    }
                )
            },
        ),
        (
            "current offset past end",
            |b| set_u16(b, 8, 0xfffe),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::CurrentPassword,
                        ..
                    }
                )
            },
        ),
        (
            "current offset at last byte",
            |b| set_u16(b, 8, 289),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::CurrentPassword,
                        ..
                    }
                )
            },
        ),
        (
            "current NUL removed, rest non-zero",
            |b| {
                b[272] = 1;
                for x in &mut b[274..] {
                    *x |= 1
                }
            },
            |e| {
                matches!(
                    e,
                    GmsaError::Unterminated {
                        field: BlobField::CurrentPassword,
                        offset: 16
                    }
                )
            },
        ),
        (
            "current empty",
            |b| {
                b[16] = 0;
                b[17] = 0
            },
            |e| {
                matches!(
                    e,
                    GmsaError::EmptyPassword {
                        field: BlobField::CurrentPassword,
                        ..
                    }
                )
            },
        ),
        (
            "previous odd",
            |b| set_u16(b, 10, 19),
            |e| {
                matches!(
                    e,
                    GmsaError::OddOffset {
                        field: BlobField::PreviousPassword,
                        offset: 19
                    }
                )
            },
        ),
        (
            "previous in header",
            |b| set_u16(b, 10, 2),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::PreviousPassword,
                        ..
                    }
                )
            },
        ),
        (
            "previous past end",
            |b| set_u16(b, 10, 400),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::PreviousPassword,
                        ..
                    }
                )
            },
        ),
        (
            "previous = current",
            |b| set_u16(b, 10, 16),
            |e| {
                matches!(
                    e,
                    GmsaError::Overlap {
                        first: BlobField::CurrentPassword,
                        second: BlobField::PreviousPassword
                    }
                )
            },
        ),
        (
            "previous inside current",
            |b| set_u16(b, 10, 100),
            |e| matches!(e, GmsaError::Overlap { .. }),
        ),
        (
            "previous on intervals",
            |b| set_u16(b, 10, 274),
            |e| {
                matches!(
                    e,
                    GmsaError::Overlap { .. }
                        | GmsaError::Unterminated { .. }
                        | GmsaError::EmptyPassword { .. }
                )
            },
        ),
        (
            "query in header",
            |b| set_u16(b, 12, 15),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::QueryPasswordInterval,
                        needed: 8,
                        ..
                    }
                )
            },
        ),
        (
            "query 0",
            |b| set_u16(b, 12, 0),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::QueryPasswordInterval,
                        ..
                    }
                )
            },
        ),
        (
            "query + 8 > length",
            |b| set_u16(b, 12, 283),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::QueryPasswordInterval,
                        ..
                    }
                )
            },
        ),
        (
            "query far out",
            |b| set_u16(b, 12, 0xffff),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::QueryPasswordInterval,
                        ..
                    }
                )
            },
        ),
        (
            "query inside current",
            |b| set_u16(b, 12, 200),
            |e| {
                matches!(
                    e,
                    GmsaError::Overlap {
                        first: BlobField::CurrentPassword,
                        second: BlobField::QueryPasswordInterval
                    }
                )
            },
        ),
        (
            "query overlaps NUL",
            |b| set_u16(b, 12, 273),
            |e| matches!(e, GmsaError::Overlap { .. }),
        ),
        (
            "unchanged 0",
            |b| set_u16(b, 14, 0),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::UnchangedPasswordInterval,
                        ..
                    }
                )
            },
        ),
        (
            "unchanged + 8 > length",
            |b| set_u16(b, 14, 283),
            |e| {
                matches!(
                    e,
                    GmsaError::OffsetOutOfRange {
                        field: BlobField::UnchangedPasswordInterval,
                        ..
                    }
                )
            },
        ),
        (
            "unchanged = query",
            |b| set_u16(b, 14, 274),
            |e| {
                matches!(
                    e,
                    GmsaError::Overlap {
                        first: BlobField::QueryPasswordInterval,
                        second: BlobField::UnchangedPasswordInterval
                    }
                )
            },
        ),
        (
            "unchanged overlaps query",
            |b| set_u16(b, 14, 281),
            |e| matches!(e, GmsaError::Overlap { .. }),
        ),
    ];
    for (name, mutate, expect) in cases {
        let mut b = good.clone();
        mutate(&mut b);
        match ManagedPasswordBlob::parse(&b) {
            Ok(_) => panic!("{name}: parsed"),
            Err(e) => {
                assert!(expect(&e), "{name}: unexpected error {e:?}");
                let msg = e.to_string();
                assert!(msg.len() > 20, "{name}: terse message {msg}");
            }
        }
    }
    // Error messages name the field and where its offset lives.
    let mut b = good.clone();
    set_u16(&mut b, 12, 0xffff);
    let msg = ManagedPasswordBlob::parse(&b).unwrap_err().to_string();
    assert!(
        msg.contains("QueryPasswordInterval") && msg.contains("0x0c") && msg.contains("65535"),
        "{msg}"
    );
}

#[test]
fn previous_password_broken() {
    let l = Layout::new(password(8), Some(password(9)), THIRTY_DAYS);
    let good = l.build();
    assert!(ManagedPasswordBlob::parse(&good).is_ok());
    // Previous string empty.
    let mut b = good.clone();
    b[274] = 0;
    b[275] = 0;
    assert!(matches!(
        ManagedPasswordBlob::parse(&b),
        Err(GmsaError::EmptyPassword {
            field: BlobField::PreviousPassword,
            ..
        })
    ));
    // Previous unterminated: put it last, then remove its NUL.
    let mut l2 = l.clone();
    l2.intervals_first = true;
    let mut b = l2.build();
    let n = b.len();
    b[n - 2] = 0x41;
    let e = ManagedPasswordBlob::parse(&b).unwrap_err();
    // Current is last in this layout (intervals, previous, current).
    assert!(
        matches!(
            e,
            GmsaError::Unterminated {
                field: BlobField::CurrentPassword,
                ..
            }
        ),
        "{e:?}"
    );
    let prev_off = u16::from_le_bytes([b[10], b[11]]);
    // Swap the roles so the unterminated string is the previous one.
    let cur_off = u16::from_le_bytes([b[8], b[9]]);
    set_u16(&mut b, 8, prev_off);
    set_u16(&mut b, 10, cur_off);
    let e = ManagedPasswordBlob::parse(&b).unwrap_err();
    assert!(
        matches!(
            e,
            GmsaError::Unterminated {
                field: BlobField::PreviousPassword,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn every_truncation_fails() {
    let mut blobs = real_blobs();
    blobs.push(Layout::new(password(10), Some(password(11)), 1).build());
    for good in &blobs {
        assert!(ManagedPasswordBlob::parse(good).is_ok());
        for n in 0..good.len() {
            let t = &good[..n];
            assert!(ManagedPasswordBlob::parse(t).is_err(), "truncated to {n}");
            // With Length patched to match, truncation must still be rejected (the intervals
            // come last), or at least never panic.
            if n >= 16 {
                let mut t = t.to_vec();
                set_u32(&mut t, 4, n as u32);
                assert!(
                    ManagedPasswordBlob::parse(&t).is_err(),
                    "patched truncation {n}"
                );
            }
        }
    }
}

#[test]
fn random_corruption_never_panics() {
    let mut blobs = real_blobs();
    blobs.push(Layout::new(password(12), Some(password(13)), 1).build());
    let mut rng = Rng(0x5eed);
    let mut header_errors = 0usize;
    for good in &blobs {
        for _ in 0..20_000 {
            let mut b = good.clone();
            let flips = 1 + rng.below(4);
            let mut header_touched = false;
            for _ in 0..flips {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
                header_touched |= i < 16;
            }
            match ManagedPasswordBlob::parse(&b) {
                Ok(blob) => {
                    // A flip in a password or interval yields a different but well-formed blob.
                    assert!(blob.current().len_utf16_units() > 0);
                    let _ = blob.current().to_utf8_munged();
                    let _ = blob.password_for_authentication();
                    let _ = blob.query_password_interval();
                }
                Err(_) => header_errors += usize::from(header_touched),
            }
        }
    }
    assert!(header_errors > 1000);
    // Random bytes with a plausible header.
    for len in [16usize, 17, 24, 40, 290, 548] {
        for _ in 0..2000 {
            let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            set_u16(&mut b, 0, 1);
            set_u32(&mut b, 4, len as u32);
            for at in [8, 10, 12, 14] {
                set_u16(&mut b, at, rng.below(len + 4) as u16);
            }
            let _ = ManagedPasswordBlob::parse(&b);
        }
    }
}
