//! The msDS-ManagedPassword vectors: real Windows blobs (Samba, DSInternals, AWS
//! credentials-fetcher self-test), munging edge cases, and derived keys.

use std::time::Duration;

use base64::Engine;
use krb5_proto::crypto::EncType;
use msds_gmsa::{GmsaKeys, ManagedPasswordBlob, Utf16Password, computer_account_salt};
use serde::Deserialize;

const BLOBS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../vectors/gmsa_blobs.json"
));
const SELFTEST: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../vectors/gmsa_credentials_fetcher_selftest.json"
));

#[derive(Deserialize)]
struct Header {
    version: u16,
    reserved: u16,
    length: u32,
    current_offset: u16,
    previous_offset: u16,
    query_interval_offset: u16,
    unchanged_interval_offset: u16,
}

#[derive(Deserialize)]
struct Account {
    realm: String,
    #[serde(rename = "sAMAccountName")]
    sam_account_name: String,
    salt: String,
}

#[derive(Deserialize)]
struct BlobVector {
    source: String,
    blob_hex: String,
    header: Header,
    current_password_utf16le_hex: String,
    current_password_len_bytes: usize,
    previous_password_utf16le_hex: Option<String>,
    query_password_interval_100ns: u64,
    unchanged_password_interval_100ns: u64,
    query_interval_days: f64,
    unchanged_minus_query_seconds: f64,
    unpaired_surrogate_code_units: usize,
    password_utf8_munged_hex: String,
    password_utf8_len: usize,
    nt_hash_hex: String,
    hypothetical_account: Account,
    aes128_cts_hmac_sha1_96_hex: Option<String>,
    aes256_cts_hmac_sha1_96_hex: Option<String>,
    nt_hash_published_by_source: Option<String>,
}

#[derive(Deserialize)]
struct EdgeCase {
    description: String,
    utf16le_hex: String,
    utf8_hex: String,
    nt_hash_hex: String,
}

#[derive(Deserialize)]
struct Rc4Check {
    password: String,
    nt_hash_hex: String,
}

#[derive(Deserialize)]
struct BlobsFile {
    blobs: Vec<BlobVector>,
    munging_edge_cases: Vec<EdgeCase>,
    rc4_password_check: Rc4Check,
}

#[derive(Deserialize)]
struct SelfTest {
    blob_base64: String,
    blob_hex: String,
    header: Header,
    current_password_utf16le_hex: String,
    expected_utf8_hex: String,
    expected_utf8_len: usize,
    munged_utf8_matches_expected: bool,
    nt_hash_hex: String,
    query_password_interval_100ns: u64,
    unchanged_password_interval_100ns: u64,
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("vector hex")
}

fn check_header(blob: &ManagedPasswordBlob, h: &Header, ctx: &str) {
    let got = blob.header();
    assert_eq!(blob.version(), h.version, "{ctx}: version");
    assert_eq!(got.version, h.version, "{ctx}: version");
    assert_eq!(got.reserved, h.reserved, "{ctx}: reserved");
    assert_eq!(got.length, h.length, "{ctx}: length");
    assert_eq!(got.current_password_offset, h.current_offset, "{ctx}");
    assert_eq!(got.previous_password_offset, h.previous_offset, "{ctx}");
    assert_eq!(
        got.query_password_interval_offset, h.query_interval_offset,
        "{ctx}"
    );
    assert_eq!(
        got.unchanged_password_interval_offset, h.unchanged_interval_offset,
        "{ctx}"
    );
}

fn lone_surrogates(pw: &Utf16Password) -> usize {
    let units = pw
        .as_utf16le()
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units).filter(Result::is_err).count()
}

#[test]
fn windows_blobs_parse_and_derive() {
    let file: BlobsFile = serde_json::from_str(BLOBS).unwrap();
    assert_eq!(file.blobs.len(), 3);
    for v in &file.blobs {
        let ctx = v.source.as_str();
        let bytes = unhex(&v.blob_hex);
        let blob = ManagedPasswordBlob::parse(&bytes).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        check_header(&blob, &v.header, ctx);

        let current = unhex(&v.current_password_utf16le_hex);
        assert_eq!(current.len(), v.current_password_len_bytes, "{ctx}");
        assert_eq!(blob.current().as_utf16le(), current.as_slice(), "{ctx}");
        assert_eq!(blob.current().len_utf16_units(), 128, "{ctx}");
        assert_eq!(
            blob.previous().map(|p| hex::encode(p.as_utf16le())),
            v.previous_password_utf16le_hex,
            "{ctx}"
        );

        // Intervals.
        assert_eq!(
            blob.query_password_interval_ticks(),
            v.query_password_interval_100ns
        );
        assert_eq!(
            blob.unchanged_password_interval_ticks(),
            v.unchanged_password_interval_100ns
        );
        let q = blob.query_password_interval();
        let u = blob.unchanged_password_interval();
        assert_eq!(
            q.as_nanos(),
            u128::from(v.query_password_interval_100ns) * 100
        );
        assert_eq!(
            u.as_nanos(),
            u128::from(v.unchanged_password_interval_100ns) * 100
        );
        assert_eq!(
            (q - u).as_secs_f64(),
            v.unchanged_minus_query_seconds,
            "{ctx}"
        );
        assert!((q.as_secs_f64() / 86400.0 - v.query_interval_days).abs() < 1e-9);
        assert!(!blob.in_rollover_window());
        assert_eq!(
            blob.password_for_authentication().unwrap().as_utf16le(),
            current.as_slice(),
            "{ctx}: outside the rollover window the current password is used"
        );

        // Munging and NT hash.
        assert_eq!(
            lone_surrogates(blob.current()),
            v.unpaired_surrogate_code_units
        );
        let utf8 = blob.current().to_utf8_munged();
        assert_eq!(
            hex::encode(utf8.as_slice()),
            v.password_utf8_munged_hex,
            "{ctx}"
        );
        assert_eq!(utf8.len(), v.password_utf8_len, "{ctx}");
        assert!(std::str::from_utf8(&utf8).is_ok());
        assert_eq!(
            hex::encode(*blob.current().nt_hash()),
            v.nt_hash_hex,
            "{ctx}"
        );
        if let Some(published) = &v.nt_hash_published_by_source {
            assert_eq!(&v.nt_hash_hex, published);
        }

        // Salt and keys.
        let acct = &v.hypothetical_account;
        let salt = computer_account_salt(&acct.realm, &acct.sam_account_name);
        assert_eq!(salt, acct.salt.as_bytes(), "{ctx}");
        let keys = GmsaKeys::derive(blob.current(), &salt).unwrap();
        assert_eq!(keys.rc4.etype(), EncType::Rc4Hmac);
        assert_eq!(keys.aes128.etype(), EncType::Aes128CtsHmacSha196);
        assert_eq!(keys.aes256.etype(), EncType::Aes256CtsHmacSha196);
        assert_eq!(hex::encode(keys.rc4.as_bytes()), v.nt_hash_hex, "{ctx}");
        if let Some(k) = &v.aes128_cts_hmac_sha1_96_hex {
            assert_eq!(&hex::encode(keys.aes128.as_bytes()), k, "{ctx}: aes128");
        }
        if let Some(k) = &v.aes256_cts_hmac_sha1_96_hex {
            assert_eq!(&hex::encode(keys.aes256.as_bytes()), k, "{ctx}: aes256");
        }
        let list = keys.as_vec();
        let etypes: Vec<_> = list.iter().map(|k| k.etype()).collect();
        assert_eq!(
            etypes,
            [
                EncType::Aes256CtsHmacSha196,
                EncType::Aes128CtsHmacSha196,
                EncType::Rc4Hmac
            ]
        );
        assert_eq!(list[0], keys.aes256);
        assert_eq!(keys.get(EncType::Aes128CtsHmacSha196), Some(&keys.aes128));
        assert_eq!(keys.get(EncType::Rc4Hmac), Some(&keys.rc4));

        // Nothing secret in Debug output.
        for dbg in [format!("{blob:?}"), format!("{keys:?}")] {
            assert!(dbg.contains("redacted"), "{dbg}");
            assert!(!dbg.contains(&v.nt_hash_hex[..8]), "{dbg}");
            assert!(!dbg.contains(&v.current_password_utf16le_hex[..8]), "{dbg}");
            assert!(!dbg.contains(&format!("{:?}", &current[..4])), "{dbg}");
        }
    }
}

#[test]
fn credentials_fetcher_selftest_blob() {
    let v: SelfTest = serde_json::from_str(SELFTEST).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&v.blob_base64)
        .unwrap();
    assert_eq!(bytes, unhex(&v.blob_hex));
    let blob = ManagedPasswordBlob::parse(&bytes).unwrap();
    check_header(&blob, &v.header, "credentials-fetcher");
    assert_eq!(
        hex::encode(blob.current().as_utf16le()),
        v.current_password_utf16le_hex
    );
    assert!(blob.previous().is_none());
    assert_eq!(
        blob.query_password_interval_ticks(),
        v.query_password_interval_100ns
    );
    assert_eq!(
        blob.unchanged_password_interval_ticks(),
        v.unchanged_password_interval_100ns
    );
    let utf8 = blob.current().to_utf8_munged();
    assert!(v.munged_utf8_matches_expected);
    assert_eq!(utf8.len(), v.expected_utf8_len);
    assert_eq!(hex::encode(utf8.as_slice()), v.expected_utf8_hex);
    assert_eq!(lone_surrogates(blob.current()), 4);
    assert_eq!(hex::encode(*blob.current().nt_hash()), v.nt_hash_hex);
    assert_eq!(
        blob.query_password_interval(),
        Duration::new(2_507_875, 77_376_400)
    );
}

#[test]
fn munging_edge_cases() {
    let file: BlobsFile = serde_json::from_str(BLOBS).unwrap();
    assert_eq!(file.munging_edge_cases.len(), 6);
    for c in &file.munging_edge_cases {
        let pw = Utf16Password::from_utf16le(&unhex(&c.utf16le_hex)).unwrap();
        assert_eq!(
            hex::encode(pw.to_utf8_munged().as_slice()),
            c.utf8_hex,
            "{}",
            c.description
        );
        assert_eq!(
            hex::encode(*pw.nt_hash()),
            c.nt_hash_hex,
            "{}",
            c.description
        );
        assert_eq!(
            hex::encode(GmsaKeys::derive(&pw, b"X").unwrap().rc4.as_bytes()),
            c.nt_hash_hex
        );
    }
}

#[test]
fn more_munging_cases() {
    let cases: &[(&[u16], &[u8])] = &[
        // Noncharacters are kept (MS-KILE §4.4 vector uses 0xFFFF).
        (&[0xffff, 0xfffe], b"\xef\xbf\xbf\xef\xbf\xbe"),
        // Lone low then lone high.
        (&[0xdc00, 0xd800], b"\xef\xbf\xbd\xef\xbf\xbd"),
        // Pair, then low surrogate without high.
        (&[0xdbff, 0xdfff, 0xdfff], b"\xf4\x8f\xbf\xbf\xef\xbf\xbd"),
        // High surrogate followed by NUL: the NUL becomes U+0001 after the replacement.
        (&[0xd800, 0x0000], b"\xef\xbf\xbd\x01"),
        // Two- and three-byte sequences.
        (&[0x00e9, 0x20ac, 0x0041], "é€A".as_bytes()),
        (&[], b""),
    ];
    for (units, want) in cases {
        let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        let pw = Utf16Password::from_utf16le(&bytes).unwrap();
        assert_eq!(pw.to_utf8_munged().as_slice(), *want, "{units:04x?}");
    }
    // MS-KILE §4.4: 120 × U+FFFF → 120 × EF BF BF.
    let pw = Utf16Password::from_utf16le(&[0xff; 240]).unwrap();
    assert_eq!(
        pw.to_utf8_munged().as_slice(),
        [0xef, 0xbf, 0xbf].repeat(120)
    );
    assert!(Utf16Password::from_utf16le(&[0; 3]).is_err());
}

#[test]
fn ms_kile_aes_vector_through_munging() {
    // MS-KILE §4.4 uses 1000 iterations; GmsaKeys uses AD's 4096, so check the munged bytes
    // against krb5-proto directly.
    let pw = Utf16Password::from_utf16le(&[0xff; 240]).unwrap();
    let key = krb5_proto::crypto::Key::from_password(
        EncType::Aes128CtsHmacSha196,
        &pw.to_utf8_munged(),
        b"DOMAIN.COMhostclient.domain.com",
        Some(&1000u32.to_be_bytes()),
    )
    .unwrap();
    assert_eq!(
        hex::encode(key.as_bytes()),
        "b82ee122531c2d94821ac755bccb5879"
    );
}

#[test]
fn rc4_password_check() {
    let file: BlobsFile = serde_json::from_str(BLOBS).unwrap();
    let c = &file.rc4_password_check;
    let bytes: Vec<u8> = c
        .password
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let pw = Utf16Password::from_utf16le(&bytes).unwrap();
    assert_eq!(hex::encode(*pw.nt_hash()), c.nt_hash_hex);
}

#[test]
fn salts() {
    assert_eq!(
        computer_account_salt("EXAMPLE.COM", "webapp01$"),
        b"EXAMPLE.COMhostwebapp01.example.com"
    );
    assert_eq!(
        computer_account_salt("Example.Com", "WEBAPP01$"),
        b"EXAMPLE.COMhostwebapp01.example.com"
    );
    // Exactly one trailing '$' is removed (Samba), none when there is none.
    assert_eq!(computer_account_salt("A.B", "svc$$"), b"A.Bhostsvc$.a.b");
    assert_eq!(computer_account_salt("A.B", "Svc"), b"A.Bhostsvc.a.b");
    assert_eq!(
        msds_gmsa::computer_account_salt_with_domain("CORP", "Svc01$", "Corp.Example.Com"),
        b"CORPhostsvc01.corp.example.com"
    );
    // Non-ASCII: simple per-character case mapping, UTF-8 output.
    assert_eq!(
        computer_account_salt("a.b", "ÄBC$"),
        "A.Bhostäbc.a.b".as_bytes()
    );
}

#[test]
fn crypto_error_converts() {
    fn f() -> Result<(), msds_gmsa::GmsaError> {
        Err(krb5_proto::crypto::CryptoError::BadIntegrity)?;
        Ok(())
    }
    let e = f().unwrap_err();
    assert!(matches!(e, msds_gmsa::GmsaError::Crypto(_)));
    assert!(e.to_string().contains("integrity"), "{e}");
}
