//! Fuzz the MIT keytab parser: it must never panic, and whatever it accepts must
//! serialize (as version 0x0502) to bytes that parse back to the same entries.
#![no_main]

use krb5_proto::keytab::Keytab;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(keytab) = Keytab::parse(data) {
        let bytes = keytab.to_bytes();
        match Keytab::parse(&bytes) {
            Ok(again) => {
                assert_eq!(again, keytab);
                assert_eq!(again.to_bytes(), bytes);
            }
            Err(e) => panic!("a parsed keytab re-serialized to bytes that do not parse: {e}"),
        }
        for p in keytab.principals() {
            let _ = keytab.find(&p, None, None);
        }
    }
});
