//! Cross-checks of our RFC 4121 Wrap tokens against independent implementations:
//!
//! * `sspi` (Devolutions' pure-Rust SSPI): its Kerberos `encrypt_message`/`decrypt_message`
//!   on the fake established contexts of its `__test-data` feature (AES-256 subkey, Windows
//!   layout: RRC 28, flags `06`/`07`);
//! * `picky-krb` (the Kerberos layer under `sspi`): its `WrapToken` codec and its RFC 3962
//!   cipher/checksum, used to build and to take apart tokens byte by byte.

use krb5_proto::crypto::{EncType, Key};
use krb5_proto::gss::SecurityContext;
use krb5_proto::rand::{Rng, TestRng};
use picky_krb::crypto::{ChecksumSuite, CipherSuite};
use picky_krb::gss_api::WrapToken;
use sspi::kerberos::test_data::{fake_client, fake_server};
use sspi::{EncryptionFlags, Kerberos, SecurityBufferRef, Sspi};

/// The AES-256 subkey of `sspi::kerberos::test_data` (sspi prefers the sub-session key).
const SSPI_SUBKEY: [u8; 32] = [
    146, 61, 191, 46, 26, 68, 247, 94, 124, 95, 1, 190, 15, 185, 245, 64, 18, 203, 212, 49, 43,
    222, 254, 217, 85, 222, 7, 92, 254, 153, 105, 144,
];
/// `fake_client` starts at 1234 and pre-increments; `fake_server` starts at 0.
const SSPI_CLIENT_FIRST_SEQ: u64 = 1235;
const SSPI_SERVER_FIRST_SEQ: u64 = 1;

fn sspi_key() -> Key {
    Key::new(EncType::Aes256CtsHmacSha196, &SSPI_SUBKEY).unwrap()
}

/// sspi's `encrypt_message` with a token buffer and a data buffer; the wire token is their
/// concatenation (header, encrypted header copy, HMAC and confounder first thanks to RRC 28).
fn sspi_wrap(k: &mut Kerberos, data: &[u8]) -> Vec<u8> {
    let mut token = vec![0u8; 1024];
    let mut buf = data.to_vec();
    let mut msg = [
        SecurityBufferRef::token_buf(&mut token),
        SecurityBufferRef::data_buf(&mut buf),
    ];
    k.encrypt_message(EncryptionFlags::empty(), &mut msg)
        .unwrap();
    let mut out = msg[0].data().to_vec();
    out.extend_from_slice(msg[1].data());
    out
}

fn sspi_unwrap(k: &mut Kerberos, token: &[u8]) -> Result<Vec<u8>, String> {
    let mut stream = token.to_vec();
    let mut msg = [
        SecurityBufferRef::stream_buf(&mut stream),
        SecurityBufferRef::data_buf(&mut []),
    ];
    k.decrypt_message(&mut msg).map_err(|e| e.to_string())?;
    Ok(msg[1].data().to_vec())
}

#[test]
fn sspi_initiator_tokens_unwrap_here() {
    let mut client = fake_client();
    let mut ours = SecurityContext::new_acceptor(sspi_key(), true, 0, SSPI_CLIENT_FIRST_SEQ);
    for msg in [&b"ldap search request"[..], b"", &[0x42; 300]] {
        let tok = sspi_wrap(&mut client, msg);
        assert_eq!(&tok[..4], &[0x05, 0x04, 0x06, 0xff]);
        assert_eq!(&tok[6..8], &[0, 28], "sspi sends RRC 28 like Windows");
        let got = ours.unwrap(&tok).unwrap();
        assert_eq!(got.data.as_slice(), msg);
        assert!(got.confidential);
    }
}

#[test]
fn sspi_acceptor_tokens_unwrap_here() {
    let mut server = fake_server();
    let mut ours = SecurityContext::new_initiator(sspi_key(), true, 0, SSPI_SERVER_FIRST_SEQ);
    let tok = sspi_wrap(&mut server, b"ldap response");
    assert_eq!(tok[2], 0x07);
    assert_eq!(ours.unwrap(&tok).unwrap().data.as_slice(), b"ldap response");
    // Replaying sspi's token is caught by our sequence check.
    assert!(ours.unwrap(&tok).is_err());
}

#[test]
fn our_tokens_unwrap_in_sspi() {
    let mut rng = TestRng::new(21);
    // sspi always un-rotates by 28 + EC, so send the Windows rotation.
    let mut ours = SecurityContext::new_initiator(sspi_key(), true, 77, 0).with_send_rrc(28);
    let mut server = fake_server();
    for msg in [&b"bind"[..], &[0x17; 200]] {
        let tok = ours.wrap(msg, true, &mut rng).unwrap();
        assert_eq!(sspi_unwrap(&mut server, &tok).unwrap(), msg);
    }
    // Integrity-only (RFC 4752 security-layer negotiation), any RRC: sspi's unsealed path.
    for rrc in [0u16, 12] {
        let mut ours = SecurityContext::new_initiator(sspi_key(), true, 5, 0).with_send_rrc(rrc);
        let tok = ours.wrap(&[0x04, 0, 0, 0], false, &mut rng).unwrap();
        assert_eq!(sspi_unwrap(&mut server, &tok).unwrap(), [4, 0, 0, 0]);
    }
    // And the other direction: our acceptor to sspi's initiator.
    let mut ours = SecurityContext::new_acceptor(sspi_key(), true, 9, 0).with_send_rrc(28);
    let tok = ours.wrap(b"reply", true, &mut rng).unwrap();
    assert_eq!(sspi_unwrap(&mut fake_client(), &tok).unwrap(), b"reply");
    // sspi refuses a token whose direction flag is wrong, as we do.
    let tok = ours.wrap(b"reply", true, &mut rng).unwrap();
    assert!(sspi_unwrap(&mut fake_server(), &tok).is_err());
}

#[test]
fn picky_layout_and_crypto_agree_byte_for_byte() {
    let mut rng = TestRng::new(22);
    let mut key_bytes = [0u8; 32];
    rng.fill_bytes(&mut key_bytes);
    let key = Key::new(EncType::Aes256CtsHmacSha196, &key_bytes).unwrap();
    let cipher = CipherSuite::Aes256CtsHmacSha196.cipher();
    let data = b"The quick brown fox jumps over the lazy dog";

    for rrc in [0u16, 28, 7] {
        // Ours -> picky: decode the header, un-rotate, decrypt with usage 24.
        let mut ours = SecurityContext::new_initiator(key.clone(), false, 0x0102_0304_0506, 0)
            .with_send_rrc(rrc);
        let tok = ours.wrap(data, true, &mut rng).unwrap();
        let wt = WrapToken::decode(tok.as_slice()).unwrap();
        assert_eq!(
            (wt.flags, wt.ec, wt.rrc, wt.seq_num),
            (0x02, 0, rrc, 0x0102_0304_0506)
        );
        let mut body = wt.checksum.clone();
        let n = usize::from(rrc) % body.len();
        body.rotate_left(n);
        let plain = cipher.decrypt(&key_bytes, 24, &body).unwrap();
        let mut inner = WrapToken::with_seq_number(0x0102_0304_0506);
        inner.flags = 0x02;
        let mut expected = data.to_vec();
        expected.extend_from_slice(&inner.header());
        assert_eq!(plain, expected);

        // picky -> ours: picky encrypts data | header (RRC 0 inside), we unwrap.
        let mut wt = WrapToken::with_seq_number(99);
        wt.flags = 0x02;
        let mut payload = data.to_vec();
        payload.extend_from_slice(&wt.header());
        let mut body = cipher.encrypt(&key_bytes, 24, &payload).unwrap();
        body.rotate_right(usize::from(rrc));
        wt.set_rrc(rrc);
        wt.set_checksum(body);
        let mut tok = Vec::new();
        wt.encode(&mut tok).unwrap();
        let mut acc = SecurityContext::new_acceptor(key.clone(), false, 0, 99);
        assert_eq!(acc.unwrap(&tok).unwrap().data.as_slice(), data);
    }

    // Integrity-only: picky's checksum over data | header(EC=RRC=0) with usage 24 (Wrap tokens
    // use the SEAL usage even without confidentiality) equals our trailer.
    let mut ours = SecurityContext::new_acceptor(key.clone(), true, 3, 0);
    let tok = ours.wrap(data, false, &mut rng).unwrap();
    let wt = WrapToken::decode(tok.as_slice()).unwrap();
    assert_eq!((wt.flags, wt.ec, wt.rrc, wt.seq_num), (0x05, 12, 0, 3));
    let mut hdr = wt.header();
    hdr[4..8].fill(0);
    let mut signed = data.to_vec();
    signed.extend_from_slice(&hdr);
    let cksum = ChecksumSuite::HmacSha196Aes256
        .hasher()
        .checksum(&key_bytes, 22, &signed)
        .unwrap();
    assert_eq!(&tok[16..16 + data.len()], data);
    assert_eq!(&tok[16 + data.len()..], cksum.as_slice());
}
