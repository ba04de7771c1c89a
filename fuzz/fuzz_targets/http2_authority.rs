//! The client's HTTP/2 bytes as the daemon's `:authority` layer reads them (every byte a gRPC
//! client sends on the socket passes through it): `rewrite_client_bytes` on the preface followed
//! by arbitrary frames, and `first_block_authority_ok`, the quick look at a connection's first
//! header block, against a full HPACK decode of the same block.
//!
//! Input: one selector byte, then either a header block (selector even) or the frames after the
//! preface (selector odd).
//!
//! Invariants: no panic; where both the quick look and the full decoder answer, they agree on
//! whether every `:authority` is acceptable; a connection whose first block the quick look
//! accepts goes through byte for byte; a rewritten connection's output is bounded by the
//! layer's header-list limit.
#![no_main]

use credentials_fetcherd::server::authority::{first_block_authority_ok, rewrite_client_bytes};
use libfuzzer_sys::fuzz_target;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn acceptable(v: &[u8]) -> bool {
    // What h2 accepts as `:authority` (the `http` crate's parser), as the layer decides it.
    http::uri::Authority::try_from(v).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut input = PREFACE.to_vec();
    if selector % 2 == 0 {
        let block = rest;
        let quick = first_block_authority_ok(block);
        if let Some(q) = quick {
            let mut decoder = loona_hpack::Decoder::new();
            decoder.set_max_allowed_table_size(4096);
            if let Ok(fields) = decoder.decode(block) {
                let f = fields
                    .iter()
                    .all(|(n, v)| n != b":authority" || acceptable(v));
                assert_eq!(q, f, "quick look and full decode disagree on {block:02x?}");
            }
        }
        if block.len() < 1 << 14 {
            let len = block.len();
            input.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, 1, 4]);
            input.extend_from_slice(&1u32.to_be_bytes());
            input.extend_from_slice(block);
            let out = rewrite_client_bytes(&input);
            if quick == Some(true) {
                assert_eq!(out.expect("a block the quick look accepts passes"), input);
            }
        }
    } else {
        input.extend_from_slice(rest);
        if let Ok(out) = rewrite_client_bytes(&input) {
            // Each rewritten block is at most the 64 KiB header list plus its frame headers.
            let blocks = input.len() / 9 + 1;
            assert!(out.len() <= input.len() + blocks * (64 * 1024 + 64));
        }
    }
});
