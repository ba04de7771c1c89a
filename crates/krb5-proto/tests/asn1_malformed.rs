//! Truncated, garbled and hostile inputs must return errors, never panic.

mod asn1_common;

use asn1_common::*;
use krb5_proto::asn1::*;

/// Decodes `bytes` as every top-level type; results are ignored, panics are not.
fn decode_all(bytes: &[u8]) {
    let _ = decode_kdc_reply(bytes);
    let _ = decode_enc_kdc_rep_part(bytes);
    let _ = decode::<AsReq>(bytes);
    let _ = decode::<TgsReq>(bytes);
    let _ = decode::<ApReq>(bytes);
    let _ = decode::<ApRep>(bytes);
    let _ = decode::<EncApRepPart>(bytes);
    let _ = decode::<Authenticator>(bytes);
    let _ = decode::<EncTicketPart>(bytes);
    let _ = decode::<KrbCred>(bytes);
    let _ = decode::<EncKrbCredPart>(bytes);
    let _ = decode::<MethodData>(bytes);
    let _ = decode::<EtypeInfo2>(bytes);
    let _ = decode::<KerbErrorData>(bytes);
    let _ = decode::<PaPacRequest>(bytes);
    let _ = decode::<PaEncTsEnc>(bytes);
}

/// xorshift64*, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn every_prefix_of_an_as_rep_is_an_error() {
    let full = encode(&as_rep());
    assert!(decode_kdc_reply(&full).is_ok());
    for n in 0..full.len() {
        assert!(decode_kdc_reply(&full[..n]).is_err(), "prefix {n} accepted");
        decode_all(&full[..n]);
    }
    let full = encode(&krb_error(25));
    for n in 0..full.len() {
        assert!(decode_kdc_reply(&full[..n]).is_err(), "prefix {n} accepted");
    }
    let full = encode(&EncAsRepPart(enc_kdc_rep_part(5)));
    for n in 0..full.len() {
        assert!(
            decode_enc_kdc_rep_part(&full[..n]).is_err(),
            "prefix {n} accepted"
        );
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let samples = [
        encode(&as_rep()),
        encode(&tgs_rep()),
        encode(&krb_error(24)),
        encode(&EncAsRepPart(enc_kdc_rep_part(9))),
        encode(&as_req()),
        encode(&tgs_req()),
        encode(&enc_krb_cred_part()),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for sample in &samples {
        for _ in 0..1500 {
            let mut b = sample.clone();
            for _ in 0..=rng.below(4) {
                let i = rng.below(b.len());
                match rng.below(3) {
                    0 => b[i] ^= 1 << rng.below(8),
                    1 => b[i] = rng.next() as u8,
                    _ => b[i] = [0x00, 0x80, 0x81, 0x84, 0xff, 0x1f, 0x3f][rng.below(7)],
                }
            }
            decode_all(&b);
            let cut = rng.below(b.len() + 1);
            decode_all(&b[..cut]);
        }
    }
}

#[test]
fn hostile_lengths_and_nesting() {
    // Length claims far beyond the input.
    for bad in [
        &[0x6b, 0x84, 0xff, 0xff, 0xff, 0xff][..],
        &[0x6b, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        &[0x6b, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0x7e, 0x82, 0x10, 0x00, 0x30, 0x00],
        &[0x6b, 0x80],
        &[0x6b, 0x80, 0x00],
        &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00],
    ] {
        assert!(decode_kdc_reply(bad).is_err(), "{bad:02x?}");
        decode_all(bad);
    }
    // Deep nesting (indefinite and definite forms) must not exhaust the stack.
    let deep_indef: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 200_000)
        .flatten()
        .collect();
    decode_all(&deep_indef);
    let mut deep = [0x7e, 0x80].to_vec();
    deep.extend(deep_indef.iter());
    assert!(decode_kdc_reply(&deep).is_err());
    // A long SEQUENCE OF empty sequences is bounded by the input.
    let mut many = Vec::new();
    for _ in 0..100_000 {
        many.extend([0x30, 0x00]);
    }
    let seq = tlv(0x30, &many);
    assert!(decode::<MethodData>(&seq).is_err());
    // Inputs above the cap are refused before parsing.
    let huge = vec![0u8; MAX_MESSAGE_LEN + 1];
    assert!(matches!(
        decode::<KrbError>(&huge),
        Err(Asn1Error::TooLarge { .. })
    ));
}

#[test]
fn wrong_types_inside_fields() {
    // pvno as OCTET STRING.
    let bad = tlv(0x7e, &tlv(0x30, &ctx(0, &[0x04, 0x01, 0x05])));
    let err = decode_kdc_reply(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            Asn1Error::Malformed {
                what: "KrbError",
                ..
            }
        ),
        "{err}"
    );
    // Primitive encoding of a SEQUENCE tag.
    assert!(decode::<PaPacRequest>(&[0x10, 0x00]).is_err());
    // Missing required field.
    assert!(decode::<PaPacRequest>(&[0x30, 0x00]).is_err());
}
