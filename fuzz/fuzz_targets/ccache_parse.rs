//! Fuzz the MIT FILE ccache parser: it must never panic, and whatever it accepts must
//! serialize to bytes that parse back to the same cache.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cache) = ccache::Ccache::parse(data) {
        let bytes = cache.to_bytes();
        match ccache::Ccache::parse(&bytes) {
            Ok(again) => {
                // to_bytes always writes version 4; everything else must survive.
                assert_eq!(again.time_offset, cache.time_offset);
                assert_eq!(again.default_principal, cache.default_principal);
                assert_eq!(again.credentials, cache.credentials);
                assert_eq!(again.to_bytes(), bytes);
            }
            Err(e) => panic!("a parsed cache re-serialized to bytes that do not parse: {e}"),
        }
        let _ = cache.tickets().count();
        let _ = cache.config_value("pa_type");
        let _ = cache.default_principal.to_string();
    }
});
