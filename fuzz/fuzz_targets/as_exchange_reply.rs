//! Feeds arbitrary bytes as the KDC's reply to an AS exchange (password and keytab secrets):
//! the state machine must return an error or a next step, never panic.
#![no_main]

use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsExchange, AsOptions, AsStep, Secret};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::rand::TestRng;
use std::time::{Duration, UNIX_EPOCH};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let client = Principal::new(1, ["user"], "MIT.TEST");
    let key = Key::new(EncType::Aes128CtsHmacSha196, &[7u8; 16]).expect("16-byte aes128 key");
    for secret in [Secret::password("pw"), Secret::Keys(vec![key])] {
        let mut rng = TestRng::new(1);
        let (pending, _) =
            AsExchange::new(client.clone(), secret, AsOptions::default()).start(now, &mut rng);
        // Split the input into two replies to reach the second round too.
        let (a, b) = data.split_at(data.len() / 2);
        if let Ok(AsStep::Send(next, _)) = pending.handle_reply(a, now, &mut rng) {
            let _ = next.handle_reply(b, now, &mut rng);
        }
    }
});
