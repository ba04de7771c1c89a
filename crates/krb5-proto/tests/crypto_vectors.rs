//! Known-answer tests for the crypto profiles, table-driven from `vectors/*.json`, plus
//! round-trip and malformed-input tests.

use krb5_proto::crypto::{
    self, CryptoError, EncType, Key, aes_cts_decrypt, aes_cts_encrypt, checksum_by_type, hmac_md5,
    nfold, rc4_apply, rc4_translate_usage, unkeyed_checksum, usage_constant,
    verify_checksum_by_type,
};
use krb5_proto::rand::TestRng;
use serde_json::Value;

fn vectors(name: &str) -> Vec<Value> {
    let path = format!("{}/../../vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    let list = v["vectors"]
        .as_array()
        .expect("a \"vectors\" array")
        .clone();
    assert!(!list.is_empty(), "{name} has no vectors");
    list
}

fn hx(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("missing {field} in {v}")),
    )
    .unwrap()
}

fn etype(v: &Value) -> EncType {
    let n = v["enctype"].as_i64().unwrap();
    EncType::from_i32(i32::try_from(n).unwrap()).unwrap_or_else(|| panic!("enctype {n}"))
}

fn usage(v: &Value) -> u32 {
    u32::try_from(v["usage"].as_u64().unwrap()).unwrap()
}

#[test]
fn nfold_vectors() {
    for v in vectors("nfold.json") {
        let bits = usize::try_from(v["n_bits"].as_u64().unwrap()).unwrap();
        assert_eq!(bits % 8, 0);
        assert_eq!(
            hex::encode(nfold(&hx(&v, "input_hex"), bits / 8)),
            v["output_hex"].as_str().unwrap(),
            "{v}"
        );
    }
}

#[test]
fn aes_cts_vectors() {
    for v in vectors("aes_cts.json") {
        let key = hx(&v, "key_hex");
        let iv: [u8; 16] = hx(&v, "iv_hex").try_into().unwrap();
        let pt = hx(&v, "plaintext_hex");
        let ct = hx(&v, "ciphertext_hex");
        assert_eq!(aes_cts_encrypt(&key, &iv, &pt).unwrap(), ct, "{v}");
        assert_eq!(
            aes_cts_decrypt(&key, &iv, &ct).unwrap().as_slice(),
            pt,
            "{v}"
        );
    }
}

#[test]
fn string_to_key_vectors() {
    for v in vectors("string_to_key.json") {
        let e = etype(&v);
        let params = v
            .get("params_hex")
            .and_then(Value::as_str)
            .map(|p| hex::decode(p).unwrap());
        if let (Some(p), Some(n)) = (&params, v["iterations"].as_u64()) {
            assert_eq!(u64::from(u32::from_be_bytes(p[..].try_into().unwrap())), n);
        }
        let key = Key::from_password(
            e,
            &hx(&v, "password_hex"),
            &hx(&v, "salt_hex"),
            params.as_deref(),
        )
        .unwrap_or_else(|err| panic!("{v}: {err}"));
        assert_eq!(key.etype(), e);
        assert_eq!(
            hex::encode(key.as_bytes()),
            v["key_hex"].as_str().unwrap(),
            "{v}"
        );
    }
}

#[test]
fn string_to_key_default_params() {
    // RFC 3962 default 4096 == explicit 4096 (DSInternals vector).
    let k = Key::from_password(
        EncType::Aes128CtsHmacSha196,
        b"Pa$$w0rd",
        b"ADATUM.COMApril",
        None,
    )
    .unwrap();
    assert_eq!(
        hex::encode(k.as_bytes()),
        "a72c8bc96c4a6f03244f0b0067a1e440"
    );
    for e in EncType::ALL {
        let p = e.default_s2kparams();
        assert_eq!(p.is_none(), e == EncType::Rc4Hmac);
    }
    assert_eq!(
        EncType::Aes128CtsHmacSha256128.default_s2kparams(),
        Some([0, 0, 0x80, 0])
    );
    assert_eq!(
        EncType::Aes256CtsHmacSha196.default_s2kparams(),
        Some([0, 0, 0x10, 0])
    );
}

#[test]
fn string_to_key_rejects_bad_params() {
    let aes1 = EncType::Aes256CtsHmacSha196;
    let aes2 = EncType::Aes128CtsHmacSha256128;
    // 0 means 2^32 for AES-SHA1: refused as too large.
    assert!(matches!(
        Key::from_password(aes1, b"pw", b"salt", Some(&[0, 0, 0, 0])),
        Err(CryptoError::IterationCountTooLarge {
            count: 4294967296,
            ..
        })
    ));
    assert!(matches!(
        Key::from_password(aes2, b"pw", b"salt", Some(&[0, 0, 0, 0])),
        Err(CryptoError::InvalidS2kParams { .. })
    ));
    assert!(matches!(
        Key::from_password(aes1, b"pw", b"salt", Some(&[0xff, 0xff, 0xff, 0xff])),
        Err(CryptoError::IterationCountTooLarge { .. })
    ));
    assert!(matches!(
        Key::from_password(aes1, b"pw", b"salt", Some(&[1, 0, 0, 1])),
        Err(CryptoError::IterationCountTooLarge { .. })
    ));
    for bad in [&[][..], &[0, 1], &[0, 0, 0, 1, 0]] {
        assert!(matches!(
            Key::from_password(aes1, b"pw", b"salt", Some(bad)),
            Err(CryptoError::InvalidS2kParams { .. })
        ));
    }
    assert!(matches!(
        Key::from_password(EncType::Rc4Hmac, b"pw", b"", Some(&[0, 0, 0x10, 0])),
        Err(CryptoError::InvalidS2kParams { .. })
    ));
    assert_eq!(
        Key::from_password(EncType::Rc4Hmac, b"\xff\xfe", b"", None).unwrap_err(),
        CryptoError::PasswordNotUtf8
    );
}

#[test]
fn rc4_from_utf16le_is_nt_hash() {
    let utf16: Vec<u8> = "password"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let k = Key::rc4_from_utf16le(&utf16);
    assert_eq!(k.etype(), EncType::Rc4Hmac);
    assert_eq!(
        hex::encode(k.as_bytes()),
        "8846f7eaee8fb117ad06bdd830b7586c"
    );
    // Unpaired surrogates (possible in gMSA passwords) are hashed as-is.
    let k = Key::rc4_from_utf16le(&[0x00, 0xd8, 0x41, 0x00]);
    assert_eq!(k.as_bytes().len(), 16);
}

#[test]
fn key_derivation_vectors() {
    for v in vectors("key_derivation.json") {
        let alg = v["alg"].as_str().unwrap();
        let e = etype(&v);
        assert_eq!(alg == "DERIVE_SP800_108_HMAC", e.to_i32() >= 19, "{v}");
        let key = Key::new(e, &hx(&v, "base_key_hex")).unwrap();
        let derived = key.derive(&hx(&v, "constant_hex")).unwrap();
        assert_eq!(
            hex::encode(derived.as_slice()),
            v["derived_key_hex"].as_str().unwrap(),
            "{v}"
        );
    }
    assert_eq!(usage_constant(2, 0x99), [0, 0, 0, 2, 0x99]);
    let rc4 = Key::new(EncType::Rc4Hmac, &[0; 16]).unwrap();
    assert!(matches!(
        rc4.derive(b"x"),
        Err(CryptoError::UnsupportedOperation { .. })
    ));
}

/// Recovers the confounder of a known ciphertext with the raw building blocks, so the
/// decrypt vectors double as encryption known-answer tests.
fn confounder_of(key: &Key, usage: u32, ct: &[u8]) -> Vec<u8> {
    match key.etype() {
        EncType::Rc4Hmac => {
            let k1 = hmac_md5(key.as_bytes(), &rc4_translate_usage(usage).to_le_bytes());
            let k3 = hmac_md5(&k1, &ct[..16]);
            let mut data = ct[16..].to_vec();
            rc4_apply(&k3, &mut data).unwrap();
            data[..8].to_vec()
        }
        e => {
            let ke = key.derive(&usage_constant(usage, 0xAA)).unwrap();
            let body = &ct[..ct.len() - e.checksum_len()];
            aes_cts_decrypt(&ke, &[0; 16], body).unwrap()[..16].to_vec()
        }
    }
}

#[test]
fn decrypt_vectors() {
    for v in vectors("decrypt.json") {
        let key = Key::new(etype(&v), &hx(&v, "key_hex")).unwrap();
        let u = usage(&v);
        let ct = hx(&v, "ciphertext_hex");
        let pt = hx(&v, "plaintext_hex");
        assert_eq!(
            key.decrypt(u, &ct)
                .unwrap_or_else(|e| panic!("{v}: {e}"))
                .as_slice(),
            pt
        );
        let conf = confounder_of(&key, u, &ct);
        assert_eq!(
            key.encrypt_with_confounder(u, &pt, &conf).unwrap(),
            ct,
            "{v}"
        );
        // Any flipped bit is detected.
        for i in [0, ct.len() / 2, ct.len() - 1] {
            let mut bad = ct.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                key.decrypt(u, &bad).unwrap_err(),
                CryptoError::BadIntegrity,
                "{v}"
            );
        }
    }
}

#[test]
fn rc4_usage_translation() {
    assert_eq!(rc4_translate_usage(3), 8);
    assert_eq!(rc4_translate_usage(23), 13);
    for u in [1, 2, 4, 7, 8, 9, 11, 12, 13, 22, 24, 25, 1024] {
        assert_eq!(rc4_translate_usage(u), u);
    }
    // So, for RC4 only, usages 3 and 8 are interchangeable.
    let key = Key::new(EncType::Rc4Hmac, &[0x42; 16]).unwrap();
    let ct = key.encrypt(3, b"enc-part", &mut TestRng::new(1));
    assert_eq!(key.decrypt(8, &ct).unwrap().as_slice(), b"enc-part");
    assert!(key.decrypt(9, &ct).is_err());
}

#[test]
fn checksum_vectors() {
    for v in vectors("checksums.json") {
        let t = i32::try_from(v["cksumtype"].as_i64().unwrap()).unwrap();
        let data = hx(&v, "data_hex");
        let want = hx(&v, "checksum_hex");
        if v["enctype"].as_i64() == Some(0) {
            assert_eq!(unkeyed_checksum(t, &data).unwrap(), want, "{v}");
            continue;
        }
        let key = Key::new(etype(&v), &hx(&v, "key_hex")).unwrap();
        let u = usage(&v);
        assert_eq!(key.etype().checksum_type(), t);
        assert_eq!(key.etype().checksum_len(), want.len());
        assert_eq!(checksum_by_type(t, &key, u, &data).unwrap(), want, "{v}");
        assert_eq!(key.checksum(u, &data), want, "{v}");
        key.verify_checksum(u, &data, &want).unwrap();
        verify_checksum_by_type(t, &key, u, &data, &want).unwrap();
        let mut bad = want.clone();
        bad[0] ^= 1;
        assert_eq!(
            key.verify_checksum(u, &data, &bad).unwrap_err(),
            CryptoError::BadChecksum
        );
        assert!(
            key.verify_checksum(u, &data, &want[..want.len() - 1])
                .is_err()
        );
        assert!(key.verify_checksum(u + 1, &data, &want).is_err());
        assert!(key.verify_checksum(u, b"other", &want).is_err());
    }
}

#[test]
fn checksum_by_type_rejects_mismatch_and_unknown() {
    let k18 = Key::new(EncType::Aes256CtsHmacSha196, &[1; 32]).unwrap();
    assert!(matches!(
        checksum_by_type(15, &k18, 1, b"x"),
        Err(CryptoError::ChecksumKeyMismatch { .. })
    ));
    assert!(matches!(
        checksum_by_type(-138, &k18, 1, b"x"),
        Err(CryptoError::ChecksumKeyMismatch { .. })
    ));
    for t in [0, 1, 2, 7, 8, 12, 14, 17, 18, 21, -1, i32::MIN, i32::MAX] {
        assert!(matches!(
            checksum_by_type(t, &k18, 1, b"x"),
            Err(CryptoError::UnsupportedChecksumType(_))
        ));
    }
    assert!(unkeyed_checksum(16, b"x").is_err());
}

#[test]
fn prf_vectors() {
    for v in vectors("prf.json") {
        let key = Key::new(etype(&v), &hx(&v, "key_hex")).unwrap();
        assert_eq!(
            hex::encode(key.prf(&hx(&v, "input_hex"))),
            v["output_hex"].as_str().unwrap(),
            "{v}"
        );
    }
    // RC4 PRF is MIT's HMAC-SHA1(key, input).
    let rc4 = Key::new(EncType::Rc4Hmac, &[0; 16]).unwrap();
    assert_eq!(rc4.prf(b"a").len(), 20);
}

#[test]
fn round_trip_every_etype_and_length() {
    let mut rng = TestRng::new(42);
    for e in EncType::ALL {
        let key = Key::random(e, &mut rng);
        assert_eq!(key.as_bytes().len(), e.key_len());
        for len in 0..=70usize {
            let pt: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            for u in [1u32, 3, 11, 23, 24] {
                let ct = key.encrypt(u, &pt, &mut rng);
                assert_eq!(ct.len(), len + e.ciphertext_overhead(), "{e} {len}");
                assert_eq!(key.decrypt(u, &ct).unwrap().as_slice(), pt, "{e} {len}");
            }
        }
    }
}

#[test]
fn encryption_is_randomised() {
    let mut rng = TestRng::new(3);
    for e in EncType::ALL {
        let key = Key::random(e, &mut rng);
        assert_ne!(
            key.encrypt(1, b"same", &mut rng),
            key.encrypt(1, b"same", &mut rng)
        );
    }
}

#[test]
fn tampered_truncated_and_wrong_usage() {
    let mut rng = TestRng::new(9);
    for e in EncType::ALL {
        let key = Key::random(e, &mut rng);
        let other = Key::random(e, &mut rng);
        let pt = b"a plaintext of thirty-three bytes";
        let ct = key.encrypt(7, pt, &mut rng);
        // Every single-bit flip anywhere is caught.
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x80;
            assert_eq!(
                key.decrypt(7, &bad).unwrap_err(),
                CryptoError::BadIntegrity,
                "{e} byte {i}"
            );
        }
        // Wrong usage, wrong key.
        assert_eq!(
            key.decrypt(8, &ct).unwrap_err(),
            CryptoError::BadIntegrity,
            "{e}"
        );
        assert_eq!(
            other.decrypt(7, &ct).unwrap_err(),
            CryptoError::BadIntegrity,
            "{e}"
        );
        // Every truncation errors without panicking; those below the overhead are "too short".
        for n in 0..ct.len() {
            let r = key.decrypt(7, &ct[..n]);
            assert!(r.is_err(), "{e} truncated to {n}");
            if n < e.ciphertext_overhead() {
                assert!(
                    matches!(r, Err(CryptoError::CiphertextTooShort { .. })),
                    "{e} truncated to {n}: {r:?}"
                );
            }
        }
        // Extended ciphertext fails too.
        let mut longer = ct.clone();
        longer.push(0);
        assert!(key.decrypt(7, &longer).is_err());
    }
}

#[test]
fn arbitrary_garbage_never_panics() {
    let mut rng = TestRng::new(11);
    for e in EncType::ALL {
        let key = Key::random(e, &mut rng);
        for len in 0..100 {
            let mut junk = vec![0u8; len];
            krb5_proto::rand::Rng::fill_bytes(&mut rng, &mut junk);
            assert!(key.decrypt(u32::MAX, &junk).is_err());
        }
    }
}

#[test]
fn key_construction_and_metadata() {
    for e in EncType::ALL {
        assert!(Key::new(e, &vec![0; e.key_len()]).is_ok());
        assert!(matches!(
            Key::new(e, &vec![0; e.key_len() + 1]),
            Err(CryptoError::InvalidKeyLength { .. })
        ));
        assert!(Key::new(e, &[]).is_err());
        assert_eq!(EncType::from_i32(e.to_i32()), Some(e));
        assert_eq!(EncType::from_name(e.name()), Some(e));
        let k = Key::new(e, &vec![0x5a; e.key_len()]).unwrap();
        let dbg = format!("{k:?}");
        assert_eq!(dbg, format!("Key({}, <redacted>)", e.name()));
        assert!(!dbg.contains("5a") && !dbg.contains("90"));
        assert!(matches!(
            k.encrypt_with_confounder(1, b"x", &[0; 3]),
            Err(CryptoError::InvalidConfounderLength { .. })
        ));
        assert_eq!(k.checksum(1, b"x").len(), e.checksum_len());
    }
    let nums: Vec<i32> = EncType::ALL.iter().map(|e| e.to_i32()).collect();
    assert_eq!(nums, [18, 17, 20, 19, 23]);
    let cks: Vec<i32> = [17, 18, 19, 20, 23]
        .iter()
        .map(|&n| EncType::from_i32(n).unwrap().checksum_type())
        .collect();
    assert_eq!(cks, [15, 16, 19, 20, -138]);
    for n in [0, 1, 3, 16, 21, 24, -1, 0x7fff_ffff] {
        assert_eq!(EncType::from_i32(n), None);
    }
    for (name, n) in [
        ("aes256-cts-hmac-sha1-96", 18),
        ("aes256-cts", 18),
        ("AES256-CTS", 18),
        ("aes256-sha1", 18),
        ("aes128-cts-hmac-sha1-96", 17),
        ("aes128-cts", 17),
        ("aes128-sha1", 17),
        ("aes128-cts-hmac-sha256-128", 19),
        ("aes128-sha2", 19),
        ("aes256-cts-hmac-sha384-192", 20),
        ("aes256-sha2", 20),
        ("arcfour-hmac", 23),
        ("arcfour-hmac-md5", 23),
        ("rc4-hmac", 23),
    ] {
        assert_eq!(
            EncType::from_name(name).map(EncType::to_i32),
            Some(n),
            "{name}"
        );
    }
    for bad in ["", "aes", "des-cbc-crc", "aes256", "rc4"] {
        assert_eq!(EncType::from_name(bad), None, "{bad}");
    }
    assert_eq!(EncType::Rc4Hmac.name(), "rc4-hmac");
    assert_eq!(
        EncType::Aes128CtsHmacSha256128.name(),
        "aes128-cts-hmac-sha256-128"
    );
}

#[test]
fn raw_cts_rejects_short_input() {
    assert!(matches!(
        aes_cts_encrypt(&[0; 16], &[0; 16], &[0; 15]),
        Err(CryptoError::CtsInputTooShort { len: 15 })
    ));
    assert!(aes_cts_decrypt(&[0; 32], &[0; 16], &[]).is_err());
    assert!(aes_cts_encrypt(&[0; 24], &[0; 16], &[0; 16]).is_err());
    // Round trip of every length from 16 to 64 with both key sizes.
    for klen in [16, 32] {
        let key = vec![3u8; klen];
        for n in 16..=64 {
            let pt: Vec<u8> = (0..n as u8).collect();
            let ct = aes_cts_encrypt(&key, &[9; 16], &pt).unwrap();
            assert_eq!(ct.len(), n);
            assert_eq!(aes_cts_decrypt(&key, &[9; 16], &ct).unwrap().as_slice(), pt);
        }
    }
}

#[test]
fn error_messages_are_actionable() {
    let e = CryptoError::IterationCountTooLarge {
        count: 1 << 32,
        limit: crypto::MAX_S2K_ITERATIONS,
    };
    assert!(e.to_string().contains("4294967296"), "{e}");
    assert!(e.to_string().contains("1048576"), "{e}");
}
