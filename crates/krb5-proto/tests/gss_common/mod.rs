//! The known-answer GSS Wrap tokens of `vectors/gss_wrap_computed.json`, shared by the GSS
//! tests.

#![allow(dead_code)]

use serde::Deserialize;

/// The vector file's fields.
#[derive(Deserialize)]
pub struct Vectors {
    pub key_hex: String,
    pub confounder_hex: String,
    pub plaintext_hex: String,
    pub snd_seq: u64,
    pub sealed_rrc0_token_hex: String,
    pub sealed_rrc28_token_hex: String,
    pub integrity_rrc12_token_hex: String,
    pub sasl_client_layer_choice_plain_hex: String,
}

/// Reads the vector file.
pub fn vectors() -> Vectors {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/gss_wrap_computed.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Hex to bytes.
pub fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}
