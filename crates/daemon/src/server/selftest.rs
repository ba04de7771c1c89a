//! `--self_test`: decodes upstream's self-test gMSA blob (embedded) and checks the result.

const VECTOR: &str = include_str!("../../../../vectors/gmsa_credentials_fetcher_selftest.json");

/// Runs the self-test; `Err` says what differs.
pub fn run() -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_str(VECTOR).map_err(|e| format!("embedded vector: {e}"))?;
    let field = |k: &str| -> Result<Vec<u8>, String> {
        hex::decode(v[k].as_str().ok_or(format!("embedded vector lacks {k}"))?)
            .map_err(|e| format!("{k}: {e}"))
    };
    let blob = msds_gmsa::ManagedPasswordBlob::parse(&field("blob_hex")?)
        .map_err(|e| format!("decoding the blob: {e}"))?;
    let utf8 = blob.current().to_utf8_munged();
    if utf8.as_slice() != field("expected_utf8_hex")?.as_slice() {
        return Err("the decoded password differs from upstream's expected UTF-8".into());
    }
    if blob.current().nt_hash().as_slice() != field("nt_hash_hex")?.as_slice() {
        return Err("the password's NT hash differs from the expected one".into());
    }
    Ok(format!(
        "self test passed: {}-byte blob decoded to a {}-byte UTF-8 password",
        blob.header().length,
        utf8.len()
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn self_test_passes() {
        super::run().unwrap();
    }
}
