//! The AP exchange's reply and the other AP-level messages krb5-proto can decode:
//! `verify_ap_rep` against an AP-REQ we built (on the raw input, and on the input as the
//! plaintext of an AP-REP encrypted under the session key so the checks behind decryption are
//! reached), and the AP-REP / EncAPRepPart / KRB-CRED / EncKrbCredPart decoders.
//!
//! Invariants: decode→encode→decode gives the same value for every message; an AP-REP is only
//! accepted when its decrypted part echoes the authenticator's ctime and cusec.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use krb5_proto::Principal;
use krb5_proto::ap::{ApReqOptions, build_ap_req, verify_ap_rep};
use krb5_proto::asn1::{self, ApRep, EncApRepPart, EncKrbCredPart, KrbCred};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::rand::TestRng;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};

fn round_trip<T>(data: &[u8])
where
    T: rasn::Decode + rasn::Encode + PartialEq + std::fmt::Debug,
{
    if let Ok(v) = asn1::decode::<T>(data) {
        let again = asn1::encode(&v);
        assert_eq!(asn1::decode::<T>(&again).ok().as_ref(), Some(&v));
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<ApRep>(data);
    round_trip::<EncApRepPart>(data);
    round_trip::<KrbCred>(data);
    round_trip::<EncKrbCredPart>(data);

    let key = Key::new(EncType::Aes256CtsHmacSha196, &[0x17; 32]).expect("32 bytes");
    let creds = common::creds(
        Principal::new(2, ["host", "srv.fuzz.test"], "FUZZ.TEST"),
        key.clone(),
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut rng = TestRng::new(5);
    let opts = ApReqOptions {
        mutual: true,
        ..ApReqOptions::default()
    };
    let sent = build_ap_req(&creds, opts, 11, now, &mut rng).expect("AP-REQ builds");
    let _ = verify_ap_rep(data, &key, &sent);
    let rep = common::ap_rep(&key, 12, data, &mut rng);
    if let Ok(part) = verify_ap_rep(&rep, &key, &sent) {
        assert_eq!(part.ctime.to_unix(), sent.ctime);
        assert_eq!(part.cusec, sent.cusec);
        assert_eq!(asn1::decode::<EncApRepPart>(data).ok(), Some(part));
    }
});
