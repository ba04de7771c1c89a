//! RFC 4121 Wrap/MIC tokens: known-answer tokens from vectors/gss_wrap_computed.json, round
//! trips, every RRC, and malformed/tampered/replayed tokens.

use krb5_proto::crypto::{EncType, Key};
use krb5_proto::gss::{GssError, SecurityContext};
use krb5_proto::rand::{Rng, TestRng};

mod gss_common;
use gss_common::{h, vectors};

fn aes256(bytes: &[u8]) -> Key {
    Key::new(EncType::Aes256CtsHmacSha196, bytes).unwrap()
}

#[test]
fn vector_tokens_unwrap() {
    let v = vectors();
    let key = aes256(&h(&v.key_hex));
    let plain = h(&v.plaintext_hex);
    // (token, confidential): all sent by the initiator with the acceptor's subkey.
    let table = [
        (&v.sealed_rrc0_token_hex, true),
        (&v.sealed_rrc28_token_hex, true),
        (&v.integrity_rrc12_token_hex, false),
    ];
    for (tok, conf) in table {
        let mut acceptor = SecurityContext::new_acceptor(key.clone(), true, 0, v.snd_seq);
        let got = acceptor.unwrap(&h(tok)).unwrap();
        assert_eq!(got.data.as_slice(), plain.as_slice(), "{tok}");
        assert_eq!(got.confidential, conf);
        assert_eq!(acceptor.recv_seq(), v.snd_seq + 1);
        // The initiator refuses its own token (reflection).
        let mut initiator = SecurityContext::new_initiator(key.clone(), true, 0, v.snd_seq);
        assert!(matches!(
            initiator.unwrap(&h(tok)),
            Err(GssError::WrongDirection { .. })
        ));
    }
}

#[test]
fn vector_tokens_are_reproduced() {
    let v = vectors();
    let key = aes256(&h(&v.key_hex));
    let plain = h(&v.plaintext_hex);
    let conf = h(&v.confounder_hex);
    let table = [
        (0u16, true, &v.sealed_rrc0_token_hex),
        (28, true, &v.sealed_rrc28_token_hex),
        (12, false, &v.integrity_rrc12_token_hex),
    ];
    for (rrc, sealed, expected) in table {
        let mut ctx =
            SecurityContext::new_initiator(key.clone(), true, v.snd_seq, 0).with_send_rrc(rrc);
        let tok = ctx.wrap_with_confounder(&plain, sealed, &conf).unwrap();
        assert_eq!(hex::encode(&tok), *expected, "rrc {rrc} sealed {sealed}");
        assert_eq!(ctx.send_seq(), v.snd_seq + 1);
    }
}

#[test]
fn sasl_layer_choice_round_trip() {
    let v = vectors();
    let key = aes256(&h(&v.key_hex));
    let msg = h(&v.sasl_client_layer_choice_plain_hex);
    let mut rng = TestRng::new(3);
    let mut i = SecurityContext::new_initiator(key.clone(), true, 1, 2);
    let mut a = SecurityContext::new_acceptor(key, true, 2, 1);
    // RFC 4752: the acceptor's offer and the client's choice are integrity-only Wraps.
    let offer = a.wrap(&[0x07, 0x00, 0xff, 0xff], false, &mut rng).unwrap();
    assert_eq!(
        i.unwrap(&offer).unwrap().data.as_slice(),
        [7, 0, 0xff, 0xff]
    );
    let choice = i.wrap(&msg, false, &mut rng).unwrap();
    let got = a.unwrap(&choice).unwrap();
    assert_eq!(got.data.as_slice(), msg.as_slice());
    assert!(!got.confidential);
}

fn contexts(etype: EncType, subkey: bool) -> (SecurityContext, SecurityContext) {
    let key = Key::random(etype, &mut TestRng::new(42));
    (
        SecurityContext::new_initiator(key.clone(), subkey, 0x1234_5678, 0x7fff_fff0),
        SecurityContext::new_acceptor(key, subkey, 0x7fff_fff0, 0x1234_5678),
    )
}

#[test]
fn round_trips_both_directions() {
    let mut rng = TestRng::new(5);
    for etype in [
        EncType::Aes128CtsHmacSha196,
        EncType::Aes256CtsHmacSha196,
        EncType::Aes128CtsHmacSha256128,
        EncType::Aes256CtsHmacSha384192,
    ] {
        for subkey in [false, true] {
            let (mut i, mut a) = contexts(etype, subkey);
            for n in 0..40usize {
                let msg: Vec<u8> = (0..n as u8).collect();
                let conf = n % 2 == 0;
                let t = i.wrap(&msg, conf, &mut rng).unwrap();
                let u = a.unwrap(&t).unwrap();
                assert_eq!((u.data.as_slice(), u.confidential), (msg.as_slice(), conf));
                let t = a.wrap(&msg, !conf, &mut rng).unwrap();
                let u = i.unwrap(&t).unwrap();
                assert_eq!((u.data.as_slice(), u.confidential), (msg.as_slice(), !conf));
            }
            assert_eq!(i.send_seq(), 0x1234_5678 + 40);
            assert_eq!(i.recv_seq(), 0x7fff_fff0 + 40);
        }
    }
}

/// Any rotation up to the token length is accepted (AD sends 28 sealed, 12 integrity-only;
/// a rotation beyond the body is taken modulo its length, as MIT and Heimdal do); a larger
/// RRC, which no sender produces, is a malformed length field and refused.
#[test]
fn every_rrc_up_to_the_token_length_is_accepted() {
    let mut rng = TestRng::new(6);
    for len in [0usize, 1, 5, 16, 33] {
        let msg = vec![0xa5u8; len];
        for conf in [true, false] {
            for rrc in 0..=80u16 {
                let (i, mut a) = contexts(EncType::Aes256CtsHmacSha196, true);
                let mut i = i.with_send_rrc(rrc);
                let t = i.wrap(&msg, conf, &mut rng).unwrap();
                assert_eq!(u16::from_be_bytes([t[6], t[7]]), rrc);
                let token_len = t.len();
                let res = a.unwrap(&t);
                if usize::from(rrc) <= token_len {
                    let u = res.unwrap_or_else(|e| panic!("len {len} conf {conf} rrc {rrc}: {e}"));
                    assert_eq!(u.data.as_slice(), msg.as_slice());
                } else {
                    assert_eq!(
                        res.unwrap_err(),
                        GssError::BadRotation {
                            rrc: usize::from(rrc),
                            token_len
                        }
                    );
                    assert_eq!(a.recv_seq(), 0x1234_5678, "no state change");
                }
            }
        }
    }
}

/// Windows DCE-style sealed tokens rotate by RRC + EC; those are accepted as a fallback.
#[test]
fn rotation_by_rrc_plus_ec_is_accepted() {
    let key = Key::random(EncType::Aes256CtsHmacSha196, &mut TestRng::new(8));
    let mut a = SecurityContext::new_acceptor(key.clone(), false, 0, 9);
    // Build by hand: EC 16 bytes of filler, RRC 28, body rotated by 44.
    let mut hdr = [5u8, 4, 2, 0xff, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
    let mut plain = b"dce payload".to_vec();
    plain.extend_from_slice(&[0u8; 16]);
    plain.extend_from_slice(&hdr);
    let mut body = key.encrypt(24, &plain, &mut TestRng::new(1));
    body.rotate_right(28 + 16);
    hdr[7] = 28;
    let mut tok = hdr.to_vec();
    tok.extend_from_slice(&body);
    assert_eq!(a.unwrap(&tok).unwrap().data.as_slice(), b"dce payload");
}

#[test]
fn every_bit_flip_outside_rrc_is_rejected() {
    let mut rng = TestRng::new(7);
    for conf in [true, false] {
        let (mut i, a) = contexts(EncType::Aes256CtsHmacSha196, true);
        let t = i.wrap(b"tamper me", conf, &mut rng).unwrap();
        a.clone().unwrap(&t).unwrap();
        for pos in 0..t.len() {
            if pos == 6 || pos == 7 {
                continue; // RRC: changes the rotation, checked below
            }
            for bit in 0..8 {
                let mut bad = t.clone();
                bad[pos] ^= 1 << bit;
                assert!(
                    a.clone().unwrap(&bad).is_err(),
                    "conf {conf}: flip of byte {pos} bit {bit} accepted"
                );
            }
        }
        let body_len = t.len() - 16;
        for rrc in 1..=60u16 {
            if usize::from(rrc) % body_len == 0 {
                continue; // same rotation, same token
            }
            let mut bad = t.clone();
            bad[6..8].copy_from_slice(&rrc.to_be_bytes());
            assert!(a.clone().unwrap(&bad).is_err(), "conf {conf}: rrc {rrc}");
        }
    }
}

#[test]
fn wrong_sequence_numbers_are_rejected_without_state_change() {
    let mut rng = TestRng::new(9);
    let (mut i, mut a) = contexts(EncType::Aes128CtsHmacSha196, false);
    let t1 = i.wrap(b"one", true, &mut rng).unwrap();
    let t2 = i.wrap(b"two", false, &mut rng).unwrap();
    let t3 = i.wrap(b"three", true, &mut rng).unwrap();
    // Gap: t2 before t1.
    assert_eq!(
        a.unwrap(&t2).unwrap_err(),
        GssError::BadSequence {
            expected: 0x1234_5678,
            got: 0x1234_5679
        }
    );
    assert_eq!(a.recv_seq(), 0x1234_5678);
    assert_eq!(a.unwrap(&t1).unwrap().data.as_slice(), b"one");
    // Replay.
    assert!(matches!(a.unwrap(&t1), Err(GssError::BadSequence { .. })));
    assert_eq!(a.unwrap(&t2).unwrap().data.as_slice(), b"two");
    assert_eq!(a.unwrap(&t3).unwrap().data.as_slice(), b"three");
    // A fresh acceptor expecting another number refuses the first token.
    let (_, mut other) = contexts(EncType::Aes128CtsHmacSha196, false);
    let other_seq = other.recv_seq();
    let mut i2 = SecurityContext::new_initiator(
        Key::random(EncType::Aes128CtsHmacSha196, &mut TestRng::new(42)),
        false,
        1,
        0,
    );
    let t = i2.wrap(b"x", true, &mut rng).unwrap();
    assert!(matches!(
        other.unwrap(&t),
        Err(GssError::BadSequence { got: 1, .. })
    ));
    assert_eq!(other.recv_seq(), other_seq);
}

#[test]
fn direction_and_subkey_flags_are_enforced() {
    let mut rng = TestRng::new(10);
    let (mut i, mut a) = contexts(EncType::Aes256CtsHmacSha196, true);
    // Our own token reflected back.
    let t = i.wrap(b"x", true, &mut rng).unwrap();
    assert_eq!(
        i.clone().unwrap(&t).unwrap_err(),
        GssError::WrongDirection {
            claimed: "initiator"
        }
    );
    let t = a.wrap(b"x", false, &mut rng).unwrap();
    assert!(matches!(
        a.clone().unwrap(&t),
        Err(GssError::WrongDirection { .. })
    ));
    // A peer that thinks there is no acceptor subkey.
    let key = Key::random(EncType::Aes256CtsHmacSha196, &mut TestRng::new(42));
    let mut no_subkey = SecurityContext::new_acceptor(key, false, 0x7fff_fff0, 0x1234_5678);
    let t = no_subkey.wrap(b"x", true, &mut rng).unwrap();
    assert!(matches!(
        i.unwrap(&t),
        Err(GssError::AcceptorSubkeyMismatch { flag: false, .. })
    ));
}

#[test]
fn integrity_ec_must_be_checksum_length() {
    let mut rng = TestRng::new(11);
    let (mut i, a) = contexts(EncType::Aes256CtsHmacSha196, true);
    let t = i.wrap(b"payload", false, &mut rng).unwrap();
    assert_eq!(u16::from_be_bytes([t[4], t[5]]), 12);
    for ec in [0u16, 11, 13, 16] {
        let mut bad = t.clone();
        bad[4..6].copy_from_slice(&ec.to_be_bytes());
        assert!(matches!(
            a.clone().unwrap(&bad),
            Err(GssError::BadExtraCount { expected: 12, .. })
        ));
    }
    // AES-SHA2 checksums are longer.
    let (mut i, mut a) = contexts(EncType::Aes256CtsHmacSha384192, false);
    let t = i.wrap(b"payload", false, &mut rng).unwrap();
    assert_eq!(u16::from_be_bytes([t[4], t[5]]), 24);
    a.unwrap(&t).unwrap();
}

#[test]
fn truncated_and_garbage_tokens_are_errors() {
    let mut rng = TestRng::new(12);
    let (mut i, a) = contexts(EncType::Aes256CtsHmacSha196, true);
    for conf in [true, false] {
        let t = i.wrap(b"some data here", conf, &mut rng).unwrap();
        for n in 0..t.len() {
            assert!(a.clone().unwrap(&t[..n]).is_err(), "prefix {n}");
        }
        let mut long = t.clone();
        long.push(0);
        assert!(a.clone().unwrap(&long).is_err());
    }
    assert!(matches!(
        a.clone().unwrap(&[0x05, 0x04, 0x06]),
        Err(GssError::TokenTooShort { len: 3, min: 16 })
    ));
    assert!(matches!(
        a.clone().unwrap(&[
            0x04, 0x04, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0
        ]),
        Err(GssError::BadTokenId { .. })
    ));
    let mut bad_filler = i.wrap(b"x", true, &mut rng).unwrap();
    bad_filler[3] = 0;
    assert_eq!(
        a.clone().unwrap(&bad_filler).unwrap_err(),
        GssError::BadFiller(0)
    );
    // Random headers with random bodies (including huge EC/RRC values) never panic.
    let mut g = TestRng::new(13);
    for _ in 0..2000 {
        let mut len = [0u8; 1];
        g.fill_bytes(&mut len);
        let mut tok = vec![0u8; usize::from(len[0])];
        g.fill_bytes(&mut tok);
        if tok.len() >= 4 {
            tok[..2].copy_from_slice(&[5, 4]);
            tok[3] = 0xff;
        }
        assert!(a.clone().unwrap(&tok).is_err());
        assert!(a.clone().verify_mic(b"x", &tok).is_err());
    }
}

#[test]
fn mic_tokens() {
    let (mut i, mut a) = contexts(EncType::Aes256CtsHmacSha196, true);
    let mic = i.get_mic(b"message").unwrap();
    assert_eq!(&mic[..8], &[4, 4, 4, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(mic.len(), 16 + 12);
    assert!(a.clone().verify_mic(b"messagf", &mic).is_err());
    let mut bad = mic.clone();
    bad[4] = 0;
    assert_eq!(
        a.clone().verify_mic(b"message", &bad).unwrap_err(),
        GssError::BadFiller(0)
    );
    a.verify_mic(b"message", &mic).unwrap();
    assert!(matches!(
        a.verify_mic(b"message", &mic),
        Err(GssError::BadSequence { .. })
    ));
    // MIC and Wrap share the sequence space.
    let mut rng = TestRng::new(1);
    let t = i.wrap(b"next", true, &mut rng).unwrap();
    assert_eq!(a.unwrap(&t).unwrap().data.as_slice(), b"next");
    let mic = a.get_mic(b"reply").unwrap();
    assert_eq!(mic[2], 0x05);
    i.verify_mic(b"reply", &mic).unwrap();
}
