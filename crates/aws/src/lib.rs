//! AWS access for `credentials-fetcherd`, in pure Rust: the domainless user's secret from
//! Secrets Manager, credspecs stored in S3 or SSM Parameter Store (ARN leases), STS.
//!
//! Built on the AWS SDK for Rust with its default (C-based) TLS stack turned off; requests go
//! through [`http::RustlsHttpClient`] (hyper + rustls with the pure-Rust `graviola` provider and
//! the system CA bundle). Signing (SigV4), retries, endpoint resolution and the credential chain
//! are the SDK's:
//!
//! * credentials: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, the shared
//!   config and credentials files (`AWS_PROFILE`), web identity, ECS container credentials
//!   (`AWS_CONTAINER_CREDENTIALS_*`), the EC2 instance role through IMDSv2 — cached and refreshed
//!   before they expire;
//! * region: `AWS_REGION`/`AWS_DEFAULT_REGION`, the profile, IMDS;
//! * endpoints: `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_S3`),
//!   `AWS_EC2_METADATA_SERVICE_ENDPOINT` (a local emulator such as moto).
//!
//! ```no_run
//! # async fn demo() -> Result<(), cf_aws::AwsError> {
//! use cf_aws::AwsClients;
//! let aws = AwsClients::from_env().await?;
//! let user = aws.get_secret_json("aws/directoryservice/example.test/gmsa").await?;
//! println!("domainless user {} (domain {:?})", user.username, user.domain);
//! let spec = aws.read_credspec_arn("arn:aws:s3:::my-bucket/webapp01.json#123/WebApp01").await?;
//! assert!(spec.contains("ActiveDirectoryConfig"));
//! # Ok(()) }
//! ```

pub mod arn;
mod error;
pub mod http;

pub use error::{AwsError, AwsErrorKind, classify_code};

/// The AWS SDK crates this one is built on, for callers that need other operations (the tests
/// seed the emulator with them) with the same C-free configuration.
pub mod sdk {
    pub use aws_sdk_s3 as s3;
    pub use aws_sdk_secretsmanager as secretsmanager;
    pub use aws_sdk_ssm as ssm;
    pub use aws_sdk_sts as sts;
}

use arn::{CredspecArn, SecretArn};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::region::Region;
use std::fmt;
use zeroize::Zeroizing;

/// The largest credspec read from S3 (upstream's limit).
pub const MAX_CREDSPEC_LEN: u64 = 4000;
/// The largest credspec read from SSM (a parameter holds at most 8 KiB).
pub const MAX_SSM_CREDSPEC_LEN: usize = 8192;
/// The longest user name or password taken from a secret (upstream: < 104 bytes; the daemon
/// checks that again).
const MAX_SECRET_LEN: usize = 64 * 1024;

/// The error code in a body the SDK could not parse as its protocol's error (moto answers
/// authentication failures of JSON services in XML): `<Code>X</Code>` or `"__type": "X"`.
fn code_from_body(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body.get(..body.len().min(8192))?).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text.get(start..)?.find("</Code>")?;
    let code = text.get(start..start + len)?;
    (!code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
    .then(|| code.to_string())
}

fn message_from_body(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body.get(..body.len().min(8192))?).ok()?;
    let start = text.find("<Message>")? + "<Message>".len();
    let len = text.get(start..)?.find("</Message>")?;
    Some(text.get(start..start + len)?.chars().take(300).collect())
}

fn is_credentials_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        cur = c.source();
    }
    false
}

/// Converts an SDK error, naming the call and the resource.
fn sdk_error<E>(call: &'static str, resource: &str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let resource = resource.to_string();
    let cause = DisplayErrorContext(&e).to_string();
    if is_credentials_error(&e) {
        return AwsError::Credentials {
            call,
            resource,
            cause,
        };
    }
    match &e {
        SdkError::ServiceError(ctx) => {
            let raw = ctx.raw();
            let status = raw.status().as_u16();
            let body = raw.body().bytes().unwrap_or_default();
            let code = e
                .code()
                .map(str::to_string)
                .or_else(|| code_from_body(body))
                .unwrap_or_else(|| match ::http::StatusCode::from_u16(status) {
                    // Answers to HEAD requests carry no body, hence no error code.
                    Ok(::http::StatusCode::FORBIDDEN) => "Forbidden".into(),
                    Ok(::http::StatusCode::NOT_FOUND) => "NotFound".into(),
                    _ => format!("HTTP{status}"),
                });
            let message = e
                .message()
                .map(str::to_string)
                .or_else(|| message_from_body(body))
                .unwrap_or_else(|| match ::http::StatusCode::from_u16(status) {
                    Ok(::http::StatusCode::FORBIDDEN) => "access denied, or the request's signature or credentials were refused (no error body)".into(),
                    _ => "(no error body)".into(),
                });
            AwsError::Service {
                call,
                resource,
                code,
                status,
                message,
            }
        }
        SdkError::TimeoutError(_) => AwsError::Transport {
            call,
            resource,
            cause,
        },
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => AwsError::Transport {
            call,
            resource,
            cause,
        },
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            let body = r.raw().body().bytes().unwrap_or_default();
            match code_from_body(body) {
                Some(code) => AwsError::Service {
                    call,
                    resource,
                    message: message_from_body(body).unwrap_or_default(),
                    code,
                    status,
                },
                None if r.raw().status().is_server_error() => AwsError::Transport {
                    call,
                    resource,
                    cause,
                },
                None => AwsError::Other {
                    call,
                    resource,
                    cause,
                },
            }
        }
        _ => AwsError::Other {
            call,
            resource,
            cause,
        },
    }
}

/// The domainless user in a Secrets Manager secret: JSON
/// `{"username", "password", "domainName"?, "distinguishedName"?}` (upstream's keys; `userName`,
/// `user`, `domain` and snake_case spellings are accepted too). `Debug` redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DomainlessSecret {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Zeroizing<String>,
    /// The user's domain, when the secret names one.
    pub domain: Option<String>,
    /// The gMSA's distinguished name, when the secret gives one.
    pub distinguished_name: Option<String>,
}

impl fmt::Debug for DomainlessSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainlessSecret")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("domain", &self.domain)
            .field("distinguished_name", &self.distinguished_name)
            .finish()
    }
}

impl DomainlessSecret {
    /// Parses the secret's JSON; `secret` names it in errors. Error messages never quote the
    /// secret's content.
    pub fn parse(secret: &str, json: &str) -> Result<Self, AwsError> {
        #[derive(serde::Deserialize)]
        struct Raw {
            #[serde(alias = "userName", alias = "user", alias = "user_name")]
            username: Option<String>,
            password: Option<Zeroizing<String>>,
            #[serde(default, alias = "domain", alias = "domain_name")]
            #[serde(rename = "domainName")]
            domain_name: Option<String>,
            #[serde(default, alias = "distinguished_name")]
            #[serde(rename = "distinguishedName")]
            distinguished_name: Option<String>,
        }
        let bad = |reason: String| AwsError::BadSecret {
            secret: secret.to_string(),
            reason,
        };
        if json.len() > MAX_SECRET_LEN {
            return Err(bad("larger than 64 KiB".into()));
        }
        let raw: Raw = serde_json::from_str(json.trim_start_matches('\u{feff}')).map_err(|e| {
            use serde_json::error::Category;
            bad(match e.classify() {
                Category::Syntax | Category::Eof | Category::Io => format!(
                    "not valid JSON (line {} column {}); expected {{\"username\": ..., \"password\": ...}}",
                    e.line(),
                    e.column()
                ),
                // serde's type errors may quote a value: say only where.
                Category::Data => format!(
                    "expected a JSON object of strings {{\"username\", \"password\", \"domainName\", \"distinguishedName\"}} (wrong type at line {} column {})",
                    e.line(),
                    e.column()
                ),
            })
        })?;
        let username = raw
            .username
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| bad("has no \"username\"".into()))?;
        let password = raw
            .password
            .filter(|p| !p.is_empty())
            .ok_or_else(|| bad("has no \"password\"".into()))?;
        let opt = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(Self {
            username,
            password,
            domain: opt(raw.domain_name),
            distinguished_name: opt(raw.distinguished_name),
        })
    }
}

/// Clients for the AWS services the daemon calls, sharing one configuration (credentials,
/// region, endpoints) and one HTTPS connection pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AwsClients {
    config: SdkConfig,
    sts: aws_sdk_sts::Client,
}

impl AwsClients {
    /// Clients configured like the AWS CLI: the standard credential chain (environment, shared
    /// files, ECS container credentials, EC2 instance role via IMDSv2), region and endpoints.
    pub async fn from_env() -> Result<Self, AwsError> {
        let http = http::shared_client().map_err(AwsError::Setup)?;
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .load()
            .await;
        Ok(Self::from_sdk_config(config))
    }

    /// Clients using the given credentials and region (an ARN lease request's task
    /// credentials); endpoints still follow `AWS_ENDPOINT_URL*`. An empty `session_token`
    /// means none.
    pub async fn with_static_credentials(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
        region: &str,
    ) -> Result<Self, AwsError> {
        let (ak, sk, region) = (
            access_key_id.trim(),
            secret_access_key.trim(),
            region.trim(),
        );
        if ak.is_empty() || sk.is_empty() {
            return Err(AwsError::InvalidInput(
                "the AWS access key id and secret access key must not be empty".into(),
            ));
        }
        if region.is_empty()
            || region.len() > 32
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(AwsError::InvalidInput(format!(
                "the AWS region {:?} is not a region name",
                region.chars().take(40).collect::<String>()
            )));
        }
        let token = session_token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let creds = Credentials::new(ak, sk, token, None, "KerberosArnLeaseRequest");
        let http = http::shared_client().map_err(AwsError::Setup)?;
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .credentials_provider(creds)
            .region(Region::new(region.to_string()))
            .load()
            .await;
        Ok(Self::from_sdk_config(config))
    }

    /// Clients over an existing SDK configuration.
    pub fn from_sdk_config(config: SdkConfig) -> Self {
        let sts = aws_sdk_sts::Client::new(&config);
        Self { config, sts }
    }

    /// The same clients sending every call to `url` (an emulator, a VPC endpoint), like
    /// `AWS_ENDPOINT_URL` does.
    pub fn with_endpoint_url(self, url: &str) -> Self {
        Self::from_sdk_config(self.config.to_builder().endpoint_url(url).build())
    }

    /// The SDK configuration in use.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The region in use, when one was found.
    pub fn region(&self) -> Option<&str> {
        self.config.region().map(Region::as_ref)
    }

    fn secrets(&self, region: Option<&str>) -> aws_sdk_secretsmanager::Client {
        let mut b = aws_sdk_secretsmanager::config::Builder::from(&self.config);
        if let Some(r) = region {
            b = b.region(Region::new(r.to_string()));
        }
        aws_sdk_secretsmanager::Client::from_conf(b.build())
    }

    fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        let b = aws_sdk_ssm::config::Builder::from(&self.config)
            .region(Region::new(region.to_string()));
        aws_sdk_ssm::Client::from_conf(b.build())
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        // An endpoint override (an emulator, a VPC endpoint by IP) needs path-style addressing.
        let overridden = self.config.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
        let b = aws_sdk_s3::config::Builder::from(&self.config).force_path_style(overridden);
        aws_sdk_s3::Client::from_conf(b.build())
    }

    /// GetSecretValue: the secret's string (a name or an ARN; an ARN's region is used).
    pub async fn get_secret_string(&self, secret_id: &str) -> Result<Zeroizing<String>, AwsError> {
        let region = if secret_id.starts_with("arn:") {
            Some(SecretArn::parse(secret_id)?.region)
        } else {
            None
        };
        let out = self
            .secrets(region.as_deref())
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| sdk_error("GetSecretValue", secret_id, e))?;
        match out.secret_string {
            Some(s) => Ok(Zeroizing::new(s)),
            None => Err(AwsError::BadSecret {
                secret: secret_id.to_string(),
                reason: "has no SecretString (binary secrets are not supported)".into(),
            }),
        }
    }

    /// GetSecretValue, parsed as the domainless user's JSON ([`DomainlessSecret::parse`]).
    pub async fn get_secret_json(&self, secret_id: &str) -> Result<DomainlessSecret, AwsError> {
        let s = self.get_secret_string(secret_id).await?;
        DomainlessSecret::parse(secret_id, &s)
    }

    /// STS GetCallerIdentity: the account the credentials belong to.
    pub async fn caller_account(&self) -> Result<String, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| sdk_error("GetCallerIdentity", "(caller)", e))?;
        out.account.ok_or_else(|| AwsError::Other {
            call: "GetCallerIdentity",
            resource: "(caller)".into(),
            cause: "the answer names no account".into(),
        })
    }

    /// Parses `arn` ([`CredspecArn::parse`]) and reads the credspec it names.
    pub async fn read_credspec_arn(&self, arn: &str) -> Result<String, AwsError> {
        self.read_credspec(&CredspecArn::parse(arn)?).await
    }

    /// Reads a credspec: S3 HeadObject (at most [`MAX_CREDSPEC_LEN`] bytes) then GetObject, both
    /// with `ExpectedBucketOwner` = the caller's account (STS GetCallerIdentity); or SSM
    /// GetParameter (with decryption) in the ARN's region.
    pub async fn read_credspec(&self, arn: &CredspecArn) -> Result<String, AwsError> {
        let resource = arn.resource();
        match arn {
            CredspecArn::S3 { bucket, key, .. } => {
                let owner = self.caller_account().await?;
                let s3 = self.s3();
                let head = s3
                    .head_object()
                    .bucket(bucket)
                    .key(key)
                    .expected_bucket_owner(&owner)
                    .send()
                    .await
                    .map_err(|e| sdk_error("HeadObject", &resource, e))?;
                let size = head.content_length.unwrap_or(0).max(0) as u64;
                if size > MAX_CREDSPEC_LEN {
                    return Err(AwsError::TooLarge {
                        call: "HeadObject",
                        resource,
                        size,
                        limit: MAX_CREDSPEC_LEN,
                    });
                }
                let mut out = s3
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .expected_bucket_owner(&owner)
                    .send()
                    .await
                    .map_err(|e| sdk_error("GetObject", &resource, e))?;
                // The object may have grown since HeadObject: stop reading past the limit.
                let mut body = Vec::new();
                while let Some(chunk) =
                    out.body.try_next().await.map_err(|e| AwsError::Transport {
                        call: "GetObject",
                        resource: resource.clone(),
                        cause: format!("reading the body: {}", DisplayErrorContext(&e)),
                    })?
                {
                    if (body.len() + chunk.len()) as u64 > MAX_CREDSPEC_LEN {
                        return Err(AwsError::TooLarge {
                            call: "GetObject",
                            resource,
                            size: (body.len() + chunk.len()) as u64,
                            limit: MAX_CREDSPEC_LEN,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                String::from_utf8(body).map_err(|_| AwsError::Other {
                    call: "GetObject",
                    resource,
                    cause: "the credspec is not UTF-8 text".into(),
                })
            }
            CredspecArn::Ssm { region, name, .. } => {
                let out = self
                    .ssm(region)
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| sdk_error("GetParameter", &resource, e))?;
                let value = out
                    .parameter
                    .and_then(|p| p.value)
                    .ok_or_else(|| AwsError::Other {
                        call: "GetParameter",
                        resource: resource.clone(),
                        cause: "the answer carries no value".into(),
                    })?;
                if value.len() > MAX_SSM_CREDSPEC_LEN {
                    return Err(AwsError::TooLarge {
                        call: "GetParameter",
                        resource,
                        size: value.len() as u64,
                        limit: MAX_SSM_CREDSPEC_LEN as u64,
                    });
                }
                Ok(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_json_variants() {
        let s = DomainlessSecret::parse(
            "s",
            r#"{"username":"svc-fetcher","password":"p@ss","domainName":"example.test","distinguishedName":"CN=WebApp01,DC=x"}"#,
        )
        .unwrap();
        assert_eq!(s.username, "svc-fetcher");
        assert_eq!(s.password.as_str(), "p@ss");
        assert_eq!(s.domain.as_deref(), Some("example.test"));
        assert_eq!(s.distinguished_name.as_deref(), Some("CN=WebApp01,DC=x"));
        assert!(!format!("{s:?}").contains("p@ss"));
        let s = DomainlessSecret::parse(
            "s",
            "\u{feff}{\"userName\":\"u\",\"password\":\"p\",\"domain\":\"\"}",
        )
        .unwrap();
        assert_eq!((s.username.as_str(), s.domain), ("u", None));
    }

    #[test]
    fn malformed_secrets_do_not_leak() {
        for (json, want) in [
            ("not json secretpw", "not valid JSON"),
            (r#"{"username":"u"}"#, "no \"password\""),
            (r#"{"password":"secretpw"}"#, "no \"username\""),
            (r#"{"username":"u","password":12345}"#, "wrong type"),
            (r#"["secretpw"]"#, "JSON object"),
            (r#"{"username":"u","password":""}"#, "no \"password\""),
        ] {
            let e = DomainlessSecret::parse("my-secret", json).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(want), "{json}: {msg}");
            assert!(msg.contains("my-secret"), "{msg}");
            assert!(!msg.contains("secretpw") && !msg.contains("12345"), "{msg}");
            assert_eq!(e.kind(), AwsErrorKind::Invalid);
        }
    }

    #[test]
    fn codes_are_classified() {
        for (code, status, kind) in [
            ("ResourceNotFoundException", 400, AwsErrorKind::NotFound),
            ("NoSuchKey", 404, AwsErrorKind::NotFound),
            ("ParameterNotFound", 400, AwsErrorKind::NotFound),
            ("AccessDeniedException", 400, AwsErrorKind::Denied),
            ("SignatureDoesNotMatch", 403, AwsErrorKind::Denied),
            ("ExpiredTokenException", 400, AwsErrorKind::Denied),
            ("ExpiredToken", 400, AwsErrorKind::Denied),
            ("InvalidClientTokenId", 403, AwsErrorKind::Denied),
            ("ThrottlingException", 400, AwsErrorKind::Unavailable),
            ("HTTP503", 503, AwsErrorKind::Unavailable),
            ("HTTP403", 403, AwsErrorKind::Denied),
            ("Whatever", 400, AwsErrorKind::Invalid),
        ] {
            assert_eq!(classify_code(code, status), kind, "{code}");
        }
    }

    #[test]
    fn codes_from_xml_bodies() {
        let body = br#"<?xml version="1.0"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error></Errors></ErrorResponse>"#;
        assert_eq!(
            code_from_body(body).as_deref(),
            Some("SignatureDoesNotMatch")
        );
        assert!(
            message_from_body(body)
                .unwrap()
                .starts_with("The request signature")
        );
        assert_eq!(code_from_body(b"<Code>a b</Code>"), None);
        assert_eq!(code_from_body(b"<Code>"), None);
        assert_eq!(code_from_body(&[0xff, 0xfe]), None);
    }
}
