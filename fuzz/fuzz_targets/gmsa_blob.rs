//! Fuzz target: `ManagedPasswordBlob::parse` on arbitrary bytes must never panic; whatever
//! parses must be internally consistent, and the UTF-16 munging of any input must give valid,
//! NUL-free UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msds_gmsa::{ManagedPasswordBlob, Utf16Password};

fn check_password(pw: &Utf16Password) {
    let utf8 = pw.to_utf8_munged();
    assert!(core::str::from_utf8(&utf8).is_ok());
    assert!(!utf8.contains(&0));
    // At most 3 UTF-8 bytes per UTF-16 code unit.
    assert!(utf8.len() <= pw.len_utf16_units() * 3);
    let _ = pw.nt_hash();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(blob) = ManagedPasswordBlob::parse(data) {
        assert_eq!(blob.version(), 1);
        assert_eq!(blob.header().length as usize, data.len());
        assert!(blob.current().len_utf16_units() > 0);
        assert!(blob.current().as_utf16le().len() < data.len());
        check_password(blob.current());
        if let Some(prev) = blob.previous() {
            assert!(prev.len_utf16_units() > 0);
            check_password(prev);
        }
        let _ = blob.query_password_interval();
        let _ = blob.unchanged_password_interval();
        match blob.password_for_authentication() {
            Ok(pw) => assert!(pw.len_utf16_units() > 0),
            Err(_) => assert!(blob.in_rollover_window() && blob.previous().is_none()),
        }
    }
    // The munging itself, on raw input of even length.
    let even = data.get(..data.len() & !1).unwrap_or_default();
    if let Ok(pw) = Utf16Password::from_utf16le(even) {
        check_password(&pw);
        assert_eq!(pw.as_utf16le(), even);
    }
});
