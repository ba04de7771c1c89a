//! Fuzz target: arbitrary bytes fed to the GSS-API token parsers must never panic.
//!
//! The input is tried as a Wrap token (both directions, with and without an acceptor subkey,
//! for every CFX enctype), as a MIC token over a fixed message, and as the acceptor's reply
//! to an initial context token.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use krb5_proto::asn1::{self, EncryptedData, KerberosString, PrincipalName, Ticket};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::gss::{AwaitingApRep, InitiatorConfig, InitiatorContext, SecurityContext};
use krb5_proto::rand::TestRng;
use krb5_proto::{Credentials, Principal};
use libfuzzer_sys::fuzz_target;

const KEY_MATERIAL: [u8; 32] = [
    0x6b, 0x65, 0x72, 0x62, 0x65, 0x72, 0x6f, 0x73, 0x7b, 0x9b, 0x5b, 0x2b, 0x93, 0x13, 0x2b, 0x93,
    0x5c, 0x9b, 0xdc, 0xda, 0xd9, 0x5c, 0x98, 0x99, 0xc4, 0xca, 0xe4, 0xde, 0xe6, 0xd6, 0xca, 0xe4,
];

/// An initiator that has sent its initial token (fixed keys and randomness).
fn awaiting() -> &'static AwaitingApRep {
    static W: OnceLock<AwaitingApRep> = OnceLock::new();
    W.get_or_init(|| {
        let ticket = Ticket {
            tkt_vno: 5,
            realm: KerberosString(b"EXAMPLE.COM".to_vec()),
            sname: PrincipalName::new(2, ["ldap", "dc1.example.com"]),
            enc_part: EncryptedData {
                etype: 18,
                kvno: Some(2),
                cipher: vec![0u8; 64].into(),
            },
        };
        let creds = Credentials {
            client: Principal::new(1, ["webapp01$"], "EXAMPLE.COM"),
            server: Principal::new(2, ["ldap", "dc1.example.com"], "EXAMPLE.COM"),
            session_key: Key::new(EncType::Aes256CtsHmacSha196, &KEY_MATERIAL).expect("32 bytes"),
            ticket: asn1::encode(&ticket),
            flags: 0,
            auth_time: 1_750_000_000,
            start_time: 1_750_000_000,
            end_time: 1_750_036_000,
            renew_till: None,
            time_offset: 0,
            pa_type: None,
            client_kvno: None,
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_750_000_100);
        InitiatorContext::new(creds, InitiatorConfig::default())
            .start(now, &mut TestRng::new(1))
            .expect("the fixed ticket encodes")
            .0
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = krb5_proto::gss::parse_context_token(data);
    let _ = awaiting().clone().step(data);
    for etype in [
        EncType::Aes128CtsHmacSha196,
        EncType::Aes256CtsHmacSha196,
        EncType::Aes256CtsHmacSha384192,
        EncType::Rc4Hmac,
    ] {
        let Ok(key) = Key::new(etype, &KEY_MATERIAL[..etype.key_len()]) else {
            return;
        };
        for subkey in [false, true] {
            let seq = data
                .get(8..16)
                .map_or(0, |s| u64::from_be_bytes(s.try_into().unwrap_or([0; 8])));
            let mut ini = SecurityContext::new_initiator(key.clone(), subkey, 0, seq);
            let mut acc = SecurityContext::new_acceptor(key.clone(), subkey, 0, seq);
            if let Ok(u) = ini.unwrap(data) {
                // Only reachable with a forged MAC; the output can never exceed the input.
                assert!(u.data.len() < data.len());
            }
            let _ = acc.unwrap(data);
            let _ = ini.verify_mic(b"fuzz", data);
            let _ = acc.verify_mic(data, data);
        }
    }
});
