//! RFC 4121 per-message token hardening against the bug classes of CVE-2024-37370 (a sealed
//! token's plaintext EC changed), CVE-2024-37371 (length fields that make the receiver read
//! outside the token), CVE-2022-45142 (a checksum comparison that accepts a wrong checksum) and
//! CVE-2025-57736 (an unauthenticated header field trusted): every tampered token below is
//! refused with a named `GssError`, and the context is left as it was, so the next genuine token
//! still unwraps. The base tokens are the known-answer tokens of
//! `vectors/gss_wrap_computed.json` (AD's layouts: sealed RRC 0 and 28, integrity-only RRC 12)
//! and fresh tokens for every CFX enctype.

use krb5_proto::crypto::{CryptoError, EncType, Key};
use krb5_proto::gss::{FLAG_ACCEPTOR_SUBKEY, FLAG_SEALED, GssError, SecurityContext};
use krb5_proto::rand::TestRng;

mod gss_common;
use gss_common::{h, vectors};

/// The acceptor of the vector tokens, and the tokens: (token, sealed).
fn vector_acceptor() -> (SecurityContext, Vec<(Vec<u8>, bool)>) {
    let v = vectors();
    let key = Key::new(EncType::Aes256CtsHmacSha196, &h(&v.key_hex)).unwrap();
    let acc = SecurityContext::new_acceptor(key, true, 0, v.snd_seq);
    let toks = vec![
        (h(&v.sealed_rrc0_token_hex), true),
        (h(&v.sealed_rrc28_token_hex), true),
        (h(&v.integrity_rrc12_token_hex), false),
    ];
    (acc, toks)
}

const CFX: [EncType; 4] = [
    EncType::Aes128CtsHmacSha196,
    EncType::Aes256CtsHmacSha196,
    EncType::Aes128CtsHmacSha256128,
    EncType::Aes256CtsHmacSha384192,
];

fn pair(etype: EncType, subkey: bool) -> (SecurityContext, SecurityContext) {
    let key = Key::random(etype, &mut TestRng::new(21));
    (
        SecurityContext::new_initiator(key.clone(), subkey, 500, 900),
        SecurityContext::new_acceptor(key, subkey, 900, 500),
    )
}

/// `tok` is refused with an error `ok` accepts, and `ctx` still accepts `good` afterwards.
fn refused_then_good(
    ctx: &SecurityContext,
    tok: &[u8],
    good: &[u8],
    what: &str,
    ok: impl Fn(&GssError) -> bool,
) {
    let mut c = ctx.clone();
    let seq = c.recv_seq();
    match c.unwrap(tok) {
        Err(e) if ok(&e) => {}
        other => panic!("{what}: expected a named refusal, got {other:?}"),
    }
    assert_eq!(
        c.recv_seq(),
        seq,
        "{what}: a refused token changed the state"
    );
    c.unwrap(good)
        .unwrap_or_else(|e| panic!("{what}: the genuine token after it: {e}"));
}

fn integrity_failure(e: &GssError) -> bool {
    matches!(
        e,
        GssError::Crypto(CryptoError::BadChecksum | CryptoError::BadIntegrity)
    )
}

/// CVE-2022-45142 class: each byte of the checksum (integrity-only) or of the HMAC at the end
/// of the ciphertext (sealed), changed in two ways, fails the constant-time comparison, and the
/// genuine token still passes.
#[test]
fn tampered_checksum_each_byte_is_refused() {
    let (acc, toks) = vector_acceptor();
    for (tok, sealed) in &toks {
        let rrc = usize::from(u16::from_be_bytes([tok[6], tok[7]]));
        let body_len = tok.len() - 16;
        // The checksum is the last 12 bytes of the unrotated body: find them in the rotated one.
        for i in 0..12 {
            let unrotated = body_len - 12 + i;
            let pos = 16 + (unrotated + rrc) % body_len;
            for x in [0x01u8, 0xff] {
                let mut bad = tok.clone();
                bad[pos] ^= x;
                refused_then_good(
                    &acc,
                    &bad,
                    tok,
                    &format!("sealed {sealed} rrc {rrc} byte {i}"),
                    integrity_failure,
                );
            }
        }
    }
    // Fresh integrity-only tokens and MICs of every CFX enctype: every checksum byte.
    let mut rng = TestRng::new(1);
    for etype in CFX {
        let (mut i, a) = pair(etype, false);
        let tok = i.wrap(b"integrity", false, &mut rng).unwrap();
        let n = etype.checksum_len();
        assert_eq!(usize::from(u16::from_be_bytes([tok[4], tok[5]])), n);
        for p in tok.len() - n..tok.len() {
            let mut bad = tok.clone();
            bad[p] ^= 0x80;
            refused_then_good(
                &a,
                &bad,
                &tok,
                &format!("{etype:?} byte {p}"),
                integrity_failure,
            );
        }
        // An all-zero checksum and a checksum of the wrong length.
        let mut zero = tok.clone();
        zero[tok.len() - n..].fill(0);
        refused_then_good(&a, &zero, &tok, "zero checksum", integrity_failure);
        let (mut i, a) = pair(etype, false);
        let mic = i.get_mic(b"mic data").unwrap();
        for p in 16..mic.len() {
            let mut bad = mic.clone();
            bad[p] ^= 0x01;
            let mut c = a.clone();
            assert!(
                integrity_failure(&c.verify_mic(b"mic data", &bad).unwrap_err()),
                "{etype:?} MIC byte {p}"
            );
            assert_eq!(c.recv_seq(), 500);
        }
        for cut in [mic.len() - 1, 16 + n - 1, 17] {
            assert!(integrity_failure(
                &a.clone().verify_mic(b"mic data", &mic[..cut]).unwrap_err()
            ));
        }
        a.clone().verify_mic(b"mic data", &mic).unwrap();
    }
}

/// CVE-2024-37370 class: a sealed token's outer EC is not authenticated by itself; changing it
/// would move where the receiver thinks the data ends. The encrypted header copy carries the
/// real EC, so any change is `HeaderMismatch` (or `TokenTooShort` when EC exceeds the body).
#[test]
fn sealed_token_with_changed_ec_is_refused() {
    let (acc, toks) = vector_acceptor();
    for (tok, _) in toks.iter().filter(|(_, s)| *s) {
        for ec in [1u16, 2, 12, 15, 16, 28, 100] {
            let mut bad = tok.clone();
            bad[4..6].copy_from_slice(&ec.to_be_bytes());
            refused_then_good(&acc, &bad, tok, &format!("ec {ec}"), |e| {
                matches!(e, GssError::HeaderMismatch | GssError::TokenTooShort { .. })
            });
        }
        let mut bad = tok.clone();
        bad[4..6].copy_from_slice(&u16::MAX.to_be_bytes());
        refused_then_good(&acc, &bad, tok, "ec 65535", |e| {
            matches!(e, GssError::TokenTooShort { .. })
        });
    }
    // A sender that used 16 filler bytes (EC 16), and a machine in the middle that sets the
    // outer EC to 0 so the filler would be returned as data: the header copy says EC 16.
    let key = Key::random(EncType::Aes256CtsHmacSha196, &mut TestRng::new(8));
    let acc = SecurityContext::new_acceptor(key.clone(), false, 0, 9);
    let hdr = [
        5u8,
        4,
        FLAG_SEALED,
        0xff,
        0,
        16,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        9,
    ];
    let mut plain = b"payload".to_vec();
    plain.extend_from_slice(&[0u8; 16]);
    plain.extend_from_slice(&hdr);
    let mut good = hdr.to_vec();
    good.extend_from_slice(&key.encrypt(24, &plain, &mut TestRng::new(1)));
    assert_eq!(
        acc.clone().unwrap(&good).unwrap().data.as_slice(),
        b"payload"
    );
    let mut bad = good.clone();
    bad[5] = 0;
    refused_then_good(&acc, &bad, &good, "ec 16 -> 0", |e| {
        *e == GssError::HeaderMismatch
    });
}

/// Integrity-only tokens: EC must be the checksum length, also for absurd values.
#[test]
fn integrity_token_with_wrong_ec_is_refused() {
    let (acc, toks) = vector_acceptor();
    let (tok, _) = toks.iter().find(|(_, s)| !*s).unwrap();
    for ec in [0u16, 1, 11, 13, 24, u16::MAX] {
        let mut bad = tok.clone();
        bad[4..6].copy_from_slice(&ec.to_be_bytes());
        refused_then_good(
            &acc,
            &bad,
            tok,
            &format!("ec {ec}"),
            |e| matches!(e, GssError::BadExtraCount { ec: got, expected: 12, .. } if *got == ec),
        );
    }
}

/// CVE-2024-37371 class: RRC larger than the token is refused before any rotation.
#[test]
fn rrc_larger_than_the_token_is_refused() {
    let (acc, toks) = vector_acceptor();
    for (tok, sealed) in &toks {
        let token_len = tok.len();
        for rrc in [token_len + 1, token_len + 28, usize::from(u16::MAX)] {
            let mut bad = tok.clone();
            bad[6..8].copy_from_slice(&(rrc as u16).to_be_bytes());
            refused_then_good(
                &acc,
                &bad,
                tok,
                &format!("sealed {sealed} rrc {rrc}"),
                |e| *e == GssError::BadRotation { rrc, token_len },
            );
        }
    }
}

/// Tokens shorter than the 16-byte header, and bodies shorter than their fixed parts.
#[test]
fn tokens_shorter_than_the_header_are_refused() {
    let (acc, toks) = vector_acceptor();
    let good = &toks[0].0;
    for n in 0..16 {
        let short = &good[..n];
        refused_then_good(&acc, short, good, &format!("{n} bytes"), |e| {
            *e == GssError::TokenTooShort { len: n, min: 16 }
        });
        assert_eq!(
            acc.clone().verify_mic(b"x", short).unwrap_err(),
            GssError::TokenTooShort { len: n, min: 16 }
        );
    }
    // A sealed header with a body shorter than confounder + header copy + HMAC (16+16+12).
    for body in [0usize, 1, 43] {
        let mut t = good[..16].to_vec();
        t[6..8].fill(0);
        t.extend(std::iter::repeat_n(0u8, body));
        refused_then_good(&acc, &t, good, &format!("sealed body {body}"), |e| {
            matches!(e, GssError::TokenTooShort { min: 60, .. })
        });
    }
    // An integrity-only header with a body shorter than the checksum.
    let integ = &toks[2].0;
    for body in [0usize, 11] {
        let mut t = integ[..16].to_vec();
        t[6..8].fill(0);
        t.extend(std::iter::repeat_n(0u8, body));
        refused_then_good(&acc, &t, good, &format!("integrity body {body}"), |e| {
            matches!(e, GssError::TokenTooShort { min: 28, .. })
        });
    }
}

/// A replayed and an out-of-order sequence number, for Wrap and MIC tokens of every CFX
/// enctype; the sequence number checked is the authenticated one (a sealed token's outer
/// number changed alone is `HeaderMismatch`).
#[test]
fn replayed_and_out_of_order_sequence_numbers_are_refused() {
    let mut rng = TestRng::new(4);
    for etype in CFX {
        for sealed in [true, false] {
            let (mut i, mut a) = pair(etype, true);
            let t1 = i.wrap(b"one", sealed, &mut rng).unwrap();
            let t2 = i.wrap(b"two", sealed, &mut rng).unwrap();
            assert_eq!(
                a.clone().unwrap(&t2).unwrap_err(),
                GssError::BadSequence {
                    expected: 500,
                    got: 501
                },
                "out of order"
            );
            a.unwrap(&t1).unwrap();
            assert_eq!(
                a.clone().unwrap(&t1).unwrap_err(),
                GssError::BadSequence {
                    expected: 501,
                    got: 500
                },
                "replay"
            );
            // The outer sequence number of a sealed token changed to the expected one.
            if sealed {
                let mut moved = t1.clone();
                moved[8..16].copy_from_slice(&501u64.to_be_bytes());
                assert_eq!(
                    a.clone().unwrap(&moved).unwrap_err(),
                    GssError::HeaderMismatch
                );
            }
            a.unwrap(&t2).unwrap();
        }
        let (mut i, mut a) = pair(etype, true);
        let m1 = i.get_mic(b"m").unwrap();
        let m2 = i.get_mic(b"m").unwrap();
        assert!(matches!(
            a.clone().verify_mic(b"m", &m2),
            Err(GssError::BadSequence { got: 501, .. })
        ));
        a.verify_mic(b"m", &m1).unwrap();
        assert!(matches!(
            a.verify_mic(b"m", &m1),
            Err(GssError::BadSequence { got: 500, .. })
        ));
        a.verify_mic(b"m", &m2).unwrap();
    }
}

/// Confidentiality negotiated: an integrity-only token (genuine, or a sealed one with the flag
/// cleared) is `NotSealed` before anything else, and uses no sequence number. Without the
/// requirement, a sealed token with the flag cleared still fails (`BadExtraCount`: EC 0).
#[test]
fn sealed_flag_cleared_after_sealing_was_negotiated_is_refused() {
    let mut rng = TestRng::new(5);
    let (mut i, a) = pair(EncType::Aes256CtsHmacSha196, true);
    let mut strict = a.clone();
    strict.require_confidentiality(true);
    assert!(strict.requires_confidentiality());
    let plain = i.clone().wrap(b"downgrade", false, &mut rng).unwrap();
    let sealed = i.wrap(b"sealed", true, &mut rng).unwrap();
    refused_then_good(&strict, &plain, &sealed, "integrity-only", |e| {
        *e == GssError::NotSealed
    });
    let mut cleared = sealed.clone();
    cleared[2] &= !FLAG_SEALED;
    refused_then_good(&strict, &cleared, &sealed, "flag cleared", |e| {
        *e == GssError::NotSealed
    });
    refused_then_good(&a, &cleared, &sealed, "flag cleared, not required", |e| {
        matches!(e, GssError::BadExtraCount { ec: 0, .. })
    });
    // And the vector tokens.
    let (mut acc, toks) = vector_acceptor();
    acc.require_confidentiality(true);
    refused_then_good(&acc, &toks[2].0, &toks[0].0, "vector integrity", |e| {
        *e == GssError::NotSealed
    });
}

/// The AcceptorSubkey flag must say what the context was established with, both ways.
#[test]
fn acceptor_subkey_flag_lies_are_refused() {
    let mut rng = TestRng::new(6);
    for subkey in [true, false] {
        let (i, a) = pair(EncType::Aes128CtsHmacSha196, subkey);
        for sealed in [true, false] {
            let good = i.clone().wrap(b"x", sealed, &mut rng).unwrap();
            let mut bad = good.clone();
            bad[2] ^= FLAG_ACCEPTOR_SUBKEY;
            refused_then_good(
                &a,
                &bad,
                &good,
                &format!("subkey {subkey}"),
                |e| matches!(e, GssError::AcceptorSubkeyMismatch { flag, .. } if *flag != subkey),
            );
        }
        let mic = i.clone().get_mic(b"y").unwrap();
        let mut bad = mic.clone();
        bad[2] ^= FLAG_ACCEPTOR_SUBKEY;
        assert!(matches!(
            a.clone().verify_mic(b"y", &bad),
            Err(GssError::AcceptorSubkeyMismatch { .. })
        ));
        a.clone().verify_mic(b"y", &mic).unwrap();
    }
    // The vector tokens carry the flag; an acceptor without a subkey refuses them.
    let v = vectors();
    let key = Key::new(EncType::Aes256CtsHmacSha196, &h(&v.key_hex)).unwrap();
    let mut no_subkey = SecurityContext::new_acceptor(key, false, 0, v.snd_seq);
    assert!(matches!(
        no_subkey.unwrap(&h(&v.sealed_rrc0_token_hex)),
        Err(GssError::AcceptorSubkeyMismatch { flag: true, .. })
    ));
}
