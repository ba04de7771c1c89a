//! Seeding moto for tests: unique names and the secrets, S3 objects and SSM parameters the
//! code under test reads. Shared by crates/aws/tests/moto.rs and crates/daemon/tests/daemon_aws.rs
//! (`#[path]`-included; not a test target of its own).

use cf_aws::AwsClients;
use cf_aws::sdk::{s3, secretsmanager, ssm};

/// `prefix-<12 hex digits>`, different for every call (moto keeps state across test runs).
pub fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("{prefix}-{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// Creates the Secrets Manager secret `name` holding `value`; returns its ARN.
pub async fn put_secret(aws: &AwsClients, name: &str, value: &str) -> String {
    secretsmanager::Client::new(aws.sdk_config())
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap()
}

/// Puts `body` at `bucket/key` (path-style), creating the bucket if needed.
pub async fn put_object(aws: &AwsClients, bucket: &str, key: &str, body: Vec<u8>) {
    let c = s3::Client::from_conf(
        s3::config::Builder::from(aws.sdk_config())
            .force_path_style(true)
            .build(),
    );
    let _ = c.create_bucket().bucket(bucket).send().await;
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

/// Creates the SSM String parameter `name` holding `value`.
pub async fn put_parameter(aws: &AwsClients, name: &str, value: &str) {
    ssm::Client::new(aws.sdk_config())
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
}
