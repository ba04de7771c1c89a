//! Stateful AS exchange: the fuzzer writes the KDC's AS-REP (envelope and encrypted part), the
//! target encrypts the part under the client's key with the right or a wrong key usage, so the
//! real state machine (`AsPending::handle_reply`) gets past decryption and its checks are
//! reached. Optionally a PREAUTH_REQUIRED round comes first.
//!
//! Invariants: an AS-REP never leads to another request; credentials are only returned when
//! the part was encrypted under the client key with key usage 3, carries the request's nonce,
//! names krbtgt/REALM, and (without canonicalize) names the client that asked.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use common::{Envelope, NOW, Plain};
use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsExchange, AsOptions, AsStep, Secret};
use krb5_proto::asn1::{self, EtypeInfo2Entry, KerberosString, PaData, PrincipalName, pa_type};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::rand::TestRng;
use std::time::{Duration, UNIX_EPOCH};

#[derive(Arbitrary, Debug)]
struct Input {
    canonicalize: bool,
    preauth_first: bool,
    envelope: Envelope,
    plain: Plain,
}

const REALM: &str = "FUZZ.TEST";

fn preauth_required() -> Vec<u8> {
    let hints = vec![
        PaData::new(
            pa_type::ETYPE_INFO2,
            asn1::encode(&vec![EtypeInfo2Entry {
                etype: 18,
                salt: Some(KerberosString::from("FUZZ.TESTalice")),
                s2kparams: None,
            }]),
        ),
        PaData::new(pa_type::ENC_TIMESTAMP, Vec::new()),
    ];
    common::krb_error(25, Some(asn1::encode(&hints)))
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let now = UNIX_EPOCH + Duration::from_secs(NOW as u64);
    let client = Principal::new(1, ["alice"], REALM);
    let key = Key::new(EncType::Aes256CtsHmacSha196, &[7u8; 32]).expect("32-byte key");
    let opts = AsOptions {
        canonicalize: input.canonicalize,
        ..AsOptions::default()
    };
    let mut rng = TestRng::new(1);
    let (mut pending, mut req) =
        AsExchange::new(client.clone(), Secret::Keys(vec![key.clone()]), opts).start(now, &mut rng);
    if input.preauth_first {
        match pending.handle_reply(&preauth_required(), now, &mut rng) {
            Ok(AsStep::Send(next, again)) => {
                // The second request carries PA-ENC-TIMESTAMP.
                let sent: asn1::AsReq = asn1::decode(&again.bytes).expect("our AS-REQ decodes");
                assert!(
                    sent.0
                        .padata
                        .iter()
                        .flatten()
                        .any(|p| p.r#type == pa_type::ENC_TIMESTAMP)
                );
                pending = *next;
                req = again;
            }
            other => panic!("a well-formed PREAUTH_REQUIRED was not answered: {other:?}"),
        }
    }
    let sent: asn1::AsReq = asn1::decode(&req.bytes).expect("our AS-REQ decodes");
    let nonce = sent.0.req_body.nonce;
    let tgs = PrincipalName::from_principal(&Principal::krbtgt(REALM.as_bytes()));
    let plain = input.plain.bytes(nonce, REALM.as_bytes(), &tgs);
    let reply = input.envelope.build(
        true,
        &key,
        3,
        &plain,
        REALM.as_bytes(),
        &PrincipalName::from_principal(&client),
        &mut rng,
    );
    match pending.handle_reply(&reply, now, &mut rng) {
        Ok(AsStep::Done(creds)) => {
            let part = common::accepted_part(&input.envelope, &plain, nonce);
            let krbtgt = Principal::krbtgt(REALM.as_bytes());
            assert!(
                creds.server.is_krbtgt() || input.canonicalize,
                "server {}",
                creds.server
            );
            if !input.canonicalize {
                assert!(
                    creds.server.eq_ignore_case(&krbtgt),
                    "server {}",
                    creds.server
                );
                assert!(
                    creds.client.eq_ignore_case(&client),
                    "client {}",
                    creds.client
                );
            }
            assert_eq!(creds.session_key.etype().to_i32(), part.key.r#type);
            assert_eq!(creds.end_time, part.end_time.to_unix());
        }
        Ok(AsStep::Send(..)) => panic!("an AS-REP led to another request"),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
