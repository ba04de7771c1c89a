//! Fuzz target: decrypting and checksum-verifying arbitrary bytes with fixed keys of every
//! enctype must never panic, and anything that decrypts must have come from a valid MAC
//! (with fixed keys that is practically impossible, so success is only checked for sanity).
//!
//! Input layout: byte 0 selects the key usage (0..=255), the rest is the ciphertext.
#![no_main]

use krb5_proto::crypto::{EncType, Key, aes_cts_decrypt, checksum_by_type, nfold};
use libfuzzer_sys::fuzz_target;

const KEY_MATERIAL: [u8; 32] = [
    0x6b, 0x65, 0x72, 0x62, 0x65, 0x72, 0x6f, 0x73, 0x7b, 0x9b, 0x5b, 0x2b, 0x93, 0x13, 0x2b, 0x93,
    0x5c, 0x9b, 0xdc, 0xda, 0xd9, 0x5c, 0x98, 0x99, 0xc4, 0xca, 0xe4, 0xde, 0xe6, 0xd6, 0xca, 0xe4,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, ct)) = data.split_first() else {
        return;
    };
    let usage = u32::from(sel);
    for etype in EncType::ALL {
        let Ok(key) = Key::new(etype, &KEY_MATERIAL[..etype.key_len()]) else {
            return;
        };
        if let Ok(pt) = key.decrypt(usage, ct) {
            // Only reachable with a forged MAC; the plaintext length must still be consistent.
            assert_eq!(pt.len() + etype.ciphertext_overhead(), ct.len());
        }
        let _ = key.verify_checksum(usage, ct, ct.get(..etype.checksum_len()).unwrap_or(ct));
        let _ = checksum_by_type(i32::from(sel as i8), &key, usage, ct);
    }
    let _ = aes_cts_decrypt(&KEY_MATERIAL[..16], &[0; 16], ct);
    let _ = nfold(ct.get(..64).unwrap_or(ct), usize::from(sel % 64));
});
