//! Stateful TGS exchange: the fuzzer writes the KDC's TGS-REP (envelope and encrypted part),
//! the target encrypts the part under the TGT session key with the right or a wrong key usage,
//! so the real state machine (`TgsPending::handle_reply`) gets past decryption. Optionally a
//! KRB_ERR_RESPONSE_TOO_BIG round comes first (retry over TCP).
//!
//! Invariants: a TGS-REP never leads to another request; a ticket is only returned when the
//! part was encrypted under the session key with key usage 8 and carries the request's nonce;
//! it is never a referral (krbtgt) ticket; without canonicalize it names the server asked for.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use common::{Envelope, NOW, Plain};
use krb5_proto::Principal;
use krb5_proto::asn1::{self, PrincipalName};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::rand::TestRng;
use krb5_proto::tgs_exchange::{TgsExchange, TgsOptions, TgsStep};
use std::time::{Duration, UNIX_EPOCH};

#[derive(Arbitrary, Debug)]
struct Input {
    canonicalize: bool,
    too_big_first: bool,
    envelope: Envelope,
    plain: Plain,
}

const REALM: &str = "FUZZ.TEST";

libfuzzer_sys::fuzz_target!(|input: Input| {
    let now = UNIX_EPOCH + Duration::from_secs(NOW as u64);
    let tgt = common::creds(
        Principal::krbtgt(REALM.as_bytes()),
        Key::new(EncType::Aes256CtsHmacSha196, &[9u8; 32]).expect("32 bytes"),
    );
    let server = Principal::new(2, ["ldap", "dc1.fuzz.test"], REALM);
    let opts = TgsOptions {
        canonicalize: input.canonicalize,
        ..TgsOptions::default()
    };
    let mut rng = TestRng::new(1);
    let (mut pending, mut req) = TgsExchange::new(tgt.clone(), server.clone(), opts)
        .start(now, &mut rng)
        .expect("the TGS-REQ builds");
    if input.too_big_first {
        match pending.handle_reply(&common::krb_error(52, None)) {
            Ok(TgsStep::Send(next, again)) => {
                assert!(again.tcp_only && again.bytes == req.bytes);
                pending = *next;
                req = again;
            }
            other => panic!("RESPONSE_TOO_BIG was not retried over TCP: {other:?}"),
        }
    }
    let sent: asn1::TgsReq = asn1::decode(&req.bytes).expect("our TGS-REQ decodes");
    let nonce = sent.0.req_body.nonce;
    let sname = PrincipalName::from_principal(&server);
    let plain = input.plain.bytes(nonce, REALM.as_bytes(), &sname);
    let reply = input.envelope.build(
        false,
        &tgt.session_key,
        8,
        &plain,
        REALM.as_bytes(),
        &PrincipalName::from_principal(&tgt.client),
        &mut rng,
    );
    match pending.handle_reply(&reply) {
        Ok(TgsStep::Done(creds)) => {
            let part = common::accepted_part(&input.envelope, &plain, nonce);
            assert!(
                !creds.server.is_krbtgt(),
                "accepted a referral ticket {}",
                creds.server
            );
            if !input.canonicalize {
                assert!(
                    creds.server.eq_ignore_case(&server),
                    "server {}",
                    creds.server
                );
            }
            assert_eq!(creds.session_key.etype().to_i32(), part.key.r#type);
            assert_eq!(creds.time_offset, tgt.time_offset);
        }
        Ok(TgsStep::Send(..)) => panic!("a TGS-REP led to another request"),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
