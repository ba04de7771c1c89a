//! Strict parsing of the ARNs the daemon is handed: credspec locations (S3 objects and SSM
//! parameters) and Secrets Manager secrets.
//!
//! ```
//! use cf_aws::arn::CredspecArn;
//! let a = CredspecArn::parse("arn:aws:s3:::my-bucket/specs/webapp01.json#123/WebApp01").unwrap();
//! match &a {
//!     CredspecArn::S3 { bucket, key, .. } => assert_eq!((bucket.as_str(), key.as_str()), ("my-bucket", "specs/webapp01.json")),
//!     _ => unreachable!(),
//! }
//! assert_eq!(a.suffix().unwrap().dir, "WebApp01");
//! assert!(CredspecArn::parse("arn:aws:s3:::my-bucket/x#123/../../etc").is_err());
//! ```

use crate::AwsError;

/// The longest ARN accepted (S3 keys are at most 1024 bytes; leave room for the rest).
pub const MAX_ARN_LEN: usize = 2048;

/// The `#<lease id>/<directory>` suffix the ECS agent appends to a credspec ARN. Both parts are
/// single, safe path components (`[A-Za-z0-9._-]`, 1-64 bytes, not `.` or `..`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnSuffix {
    /// The caller's id (upstream calls it the lease id).
    pub id: String,
    /// The directory name the caller asked for (usually the gMSA name).
    pub dir: String,
}

/// Where a credspec is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredspecArn {
    /// `arn:<partition>:s3:::<bucket>/<key>[#<id>/<dir>]`.
    S3 {
        /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
        partition: String,
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// The suffix, when given.
        suffix: Option<ArnSuffix>,
    },
    /// `arn:<partition>:ssm:<region>:<account>:parameter/<name>[#<id>/<dir>]`.
    Ssm {
        /// The partition.
        partition: String,
        /// The parameter's region.
        region: String,
        /// The owning account (12 digits).
        account: String,
        /// The parameter name as the API wants it (hierarchical names keep their leading `/`).
        name: String,
        /// The suffix, when given.
        suffix: Option<ArnSuffix>,
    },
}

fn invalid(arn: &str, reason: impl Into<String>) -> AwsError {
    AwsError::InvalidArn {
        arn: arn.chars().take(200).collect(),
        reason: reason.into(),
    }
}

fn safe_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn valid_partition(p: &str) -> bool {
    matches!(p, "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b")
}

fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !r.starts_with('-')
        && !r.ends_with('-')
}

fn valid_account(a: &str) -> bool {
    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())
}

/// S3 bucket naming rules (general purpose buckets): 3-63 of `[a-z0-9.-]`, starting and ending
/// with a letter or digit, no `..`.
fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.bytes().last().is_some_and(|c| c.is_ascii_alphanumeric())
        && !b.contains("..")
}

fn no_controls(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// Splits `text#id/dir` into the text and the parsed suffix.
fn split_suffix<'a>(arn: &str, s: &'a str) -> Result<(&'a str, Option<ArnSuffix>), AwsError> {
    let Some((head, tail)) = s.split_once('#') else {
        return Ok((s, None));
    };
    let (id, dir) = tail
        .split_once('/')
        .ok_or_else(|| invalid(arn, "the part after '#' must be <id>/<directory>"))?;
    if !safe_component(id) || !safe_component(dir) {
        return Err(invalid(
            arn,
            "the <id>/<directory> after '#' must be two names of 1-64 characters [A-Za-z0-9._-], not '.' or '..'",
        ));
    }
    // The ARN without its suffix must itself be an ARN we accept (no spaces before the '#').
    if head.trim_end() != head {
        return Err(invalid(arn, "contains spaces before the '#'"));
    }
    Ok((
        head,
        Some(ArnSuffix {
            id: id.to_string(),
            dir: dir.to_string(),
        }),
    ))
}

/// The six `:`-separated fields of an ARN (the last one may contain `:`).
fn fields(arn: &str) -> Result<[&str; 6], AwsError> {
    if arn.len() > MAX_ARN_LEN {
        return Err(invalid(arn, format!("longer than {MAX_ARN_LEN} bytes")));
    }
    if !no_controls(arn) || arn.trim() != arn {
        return Err(invalid(
            arn,
            "contains control characters or surrounding spaces",
        ));
    }
    let mut it = arn.splitn(6, ':');
    let mut out = [""; 6];
    for slot in &mut out {
        *slot = it
            .next()
            .ok_or_else(|| invalid(arn, "an ARN has six ':'-separated fields"))?;
    }
    if out[0] != "arn" {
        return Err(invalid(arn, "does not start with \"arn:\""));
    }
    if !valid_partition(out[1]) {
        return Err(invalid(arn, format!("unknown partition {:?}", out[1])));
    }
    Ok(out)
}

impl CredspecArn {
    /// Parses a credspec ARN (S3 object or SSM parameter, with an optional `#<id>/<dir>`).
    pub fn parse(arn: &str) -> Result<Self, AwsError> {
        let [_, partition, service, region, account, resource] = fields(arn)?;
        match service {
            "s3" => {
                if !region.is_empty() || !account.is_empty() {
                    return Err(invalid(
                        arn,
                        "an S3 object ARN has empty region and account fields (arn:aws:s3:::bucket/key)",
                    ));
                }
                let (resource, suffix) = split_suffix(arn, resource)?;
                let (bucket, key) = resource
                    .split_once('/')
                    .ok_or_else(|| invalid(arn, "the S3 resource must be <bucket>/<key>"))?;
                if !valid_bucket(bucket) {
                    return Err(invalid(
                        arn,
                        format!("{bucket:?} is not a valid bucket name"),
                    ));
                }
                if key.is_empty() || key.len() > 1024 {
                    return Err(invalid(arn, "the object key must be 1-1024 bytes"));
                }
                Ok(Self::S3 {
                    partition: partition.into(),
                    bucket: bucket.into(),
                    key: key.into(),
                    suffix,
                })
            }
            "ssm" => {
                if !valid_region(region) {
                    return Err(invalid(arn, "an SSM parameter ARN needs a region"));
                }
                if !valid_account(account) {
                    return Err(invalid(
                        arn,
                        "an SSM parameter ARN needs a 12-digit account",
                    ));
                }
                let (resource, suffix) = split_suffix(arn, resource)?;
                let name = resource
                    .strip_prefix("parameter")
                    .filter(|n| n.starts_with('/'))
                    .ok_or_else(|| invalid(arn, "the SSM resource must be parameter/<name>"))?;
                // `parameter/a` names `a`; `parameter//a/b` (rare) and `parameter/a/b` name `/a/b`.
                let trimmed = &name[1..];
                let name = if trimmed.contains('/') && !trimmed.starts_with('/') {
                    name
                } else {
                    trimmed
                };
                // At most one leading slash: `parameter///a` would name `//a`, which AWS refuses
                // and which `resource()` could not write back.
                let bare = name.strip_prefix('/').unwrap_or(name);
                if bare.is_empty()
                    || bare.starts_with('/')
                    || name.len() > 2048
                    || !bare.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/')
                    })
                    || bare.contains("//")
                {
                    return Err(invalid(
                        arn,
                        "the parameter name must be 1-2048 characters [A-Za-z0-9_.-/]",
                    ));
                }
                Ok(Self::Ssm {
                    partition: partition.into(),
                    region: region.into(),
                    account: account.into(),
                    name: name.into(),
                    suffix,
                })
            }
            other => Err(invalid(
                arn,
                format!("credspecs are read from s3 or ssm, not {other:?}"),
            )),
        }
    }

    /// The `#<id>/<dir>` suffix, when given.
    pub fn suffix(&self) -> Option<&ArnSuffix> {
        match self {
            Self::S3 { suffix, .. } | Self::Ssm { suffix, .. } => suffix.as_ref(),
        }
    }

    /// The ARN without its suffix (for messages).
    pub fn resource(&self) -> String {
        match self {
            Self::S3 {
                partition,
                bucket,
                key,
                ..
            } => format!("arn:{partition}:s3:::{bucket}/{key}"),
            Self::Ssm {
                partition,
                region,
                account,
                name,
                ..
            } => {
                // `/a/b` is written `parameter/a/b` (AWS's form); a one-level `/a` must keep its
                // slash (`parameter//a`), as `parameter/a` names `a` (see `parse`).
                let shown = match name.strip_prefix('/') {
                    Some(rest) if rest.contains('/') => rest,
                    _ => name.as_str(),
                };
                format!("arn:{partition}:ssm:{region}:{account}:parameter/{shown}")
            }
        }
    }
}

/// A Secrets Manager secret ARN, `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretArn {
    /// The full ARN (what GetSecretValue is given).
    pub arn: String,
    /// The secret's region.
    pub region: String,
    /// The owning account.
    pub account: String,
    /// The secret name (with the random suffix AWS adds, when present).
    pub name: String,
}

impl SecretArn {
    /// Parses a secret ARN (as found in a credspec's `CredentialArn`).
    pub fn parse(arn: &str) -> Result<Self, AwsError> {
        let [_, _, service, region, account, resource] = fields(arn)?;
        if service != "secretsmanager" {
            return Err(invalid(
                arn,
                format!("expected a secretsmanager ARN, not {service:?}"),
            ));
        }
        if !valid_region(region) || !valid_account(account) {
            return Err(invalid(
                arn,
                "a secret ARN needs a region and a 12-digit account",
            ));
        }
        let name = resource
            .strip_prefix("secret:")
            .ok_or_else(|| invalid(arn, "the resource must be secret:<name>"))?;
        if name.is_empty()
            || name.len() > 512
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
        {
            return Err(invalid(
                arn,
                "the secret name must be 1-512 characters [A-Za-z0-9/_+=.@-]",
            ));
        }
        Ok(Self {
            arn: arn.into(),
            region: region.into(),
            account: account.into(),
            name: name.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `arn` fuzz target (exploring after the merges): an S3 key ending in spaces
    /// before the `#<id>/<dir>` suffix was accepted, but its `resource()` (the ARN without the
    /// suffix) ends in spaces, which `parse` refuses. Spaces before the `#` are refused now.
    #[test]
    fn fuzz_s3_key_with_spaces_before_the_suffix_is_refused() {
        let text = "arn:aws:s3:::my-t0/-:ssm:ues\u{37c}00   #w/ebs-wesa.wet9012";
        assert!(CredspecArn::parse(text).is_err());
        assert!(CredspecArn::parse("arn:aws:s3:::bucket/key #id/dir").is_err());
        assert!(CredspecArn::parse("arn:aws:s3:::bucket/key#id/dir").is_ok());
    }

    /// Found by the `arn` fuzz target (exploring after the merges): `parameter///msg/web` was
    /// accepted as the parameter `//msg/web` (two leading slashes, which AWS refuses), and its
    /// `resource()` named `/msg/web` instead. More than one leading slash is now refused.
    #[test]
    fn fuzz_ssm_parameter_with_two_leading_slashes_is_refused() {
        let input = b"arn:aws:ssm:us-west-2:123456789012:parameter///msg/webapp01.jsoga2g#1sm-user-AbApWpe/b01";
        let text = std::str::from_utf8(input).unwrap();
        assert!(CredspecArn::parse(text).is_err());
        assert!(CredspecArn::parse("arn:aws:ssm:us-west-2:123456789012:parameter///a").is_err());
        let ok = CredspecArn::parse("arn:aws:ssm:us-west-2:123456789012:parameter//a/b").unwrap();
        assert_eq!(CredspecArn::parse(&ok.resource()).unwrap(), ok);
    }

    /// Found by the `arn` fuzz target: `resource()` of `parameter//<name>` (the one-level
    /// hierarchical parameter `/<name>`) printed `parameter/<name>`, which names another
    /// parameter (`<name>`).
    #[test]
    fn fuzz_ssm_resource_keeps_one_level_leading_slash() {
        let input = b"arn:aws:ssm:us-wes4-2:123456789012:parameter//gmsa0web1#012345673/Wepparamete.AWebApp01";
        let arn = CredspecArn::parse(std::str::from_utf8(input).unwrap()).unwrap();
        let again = CredspecArn::parse(&arn.resource()).unwrap();
        assert!(matches!(&again, CredspecArn::Ssm { name, .. } if name == "/gmsa0web1"));
        for (text, resource) in [
            (
                "arn:aws:ssm:us-west-2:123456789012:parameter/a",
                "parameter/a",
            ),
            (
                "arn:aws:ssm:us-west-2:123456789012:parameter//a",
                "parameter//a",
            ),
            (
                "arn:aws:ssm:us-west-2:123456789012:parameter/a/b",
                "parameter/a/b",
            ),
            (
                "arn:aws:ssm:us-west-2:123456789012:parameter//a/b",
                "parameter/a/b",
            ),
        ] {
            let arn = CredspecArn::parse(text).unwrap();
            assert!(
                arn.resource().ends_with(resource),
                "{text}: {}",
                arn.resource()
            );
            assert_eq!(CredspecArn::parse(&arn.resource()).unwrap(), arn);
        }
    }

    #[test]
    fn good_credspec_arns() {
        let cases: &[(&str, CredspecArn)] = &[
            (
                "arn:aws:s3:::bucket-1/a/b.json#123/WebApp01",
                CredspecArn::S3 {
                    partition: "aws".into(),
                    bucket: "bucket-1".into(),
                    key: "a/b.json".into(),
                    suffix: Some(ArnSuffix {
                        id: "123".into(),
                        dir: "WebApp01".into(),
                    }),
                },
            ),
            (
                "arn:aws-cn:s3:::b.c.d/k",
                CredspecArn::S3 {
                    partition: "aws-cn".into(),
                    bucket: "b.c.d".into(),
                    key: "k".into(),
                    suffix: None,
                },
            ),
            (
                "arn:aws:ssm:us-east-1:123456789012:parameter/webapp01-spec#abc/WebApp01",
                CredspecArn::Ssm {
                    partition: "aws".into(),
                    region: "us-east-1".into(),
                    account: "123456789012".into(),
                    name: "webapp01-spec".into(),
                    suffix: Some(ArnSuffix {
                        id: "abc".into(),
                        dir: "WebApp01".into(),
                    }),
                },
            ),
            (
                "arn:aws:ssm:eu-west-3:123456789012:parameter/gmsa/specs/web",
                CredspecArn::Ssm {
                    partition: "aws".into(),
                    region: "eu-west-3".into(),
                    account: "123456789012".into(),
                    name: "/gmsa/specs/web".into(),
                    suffix: None,
                },
            ),
        ];
        for (s, want) in cases {
            assert_eq!(&CredspecArn::parse(s).unwrap(), want, "{s}");
        }
    }

    #[test]
    fn bad_credspec_arns() {
        let long_key = format!("arn:aws:s3:::bucket/{}", "k".repeat(1100));
        let bad = [
            "",
            "arn",
            "arn:aws:s3::",
            "urn:aws:s3:::bucket/key",
            "arn:evil:s3:::bucket/key",
            "arn:aws:s3:us-east-1::bucket/key",
            "arn:aws:s3::123456789012:bucket/key",
            "arn:aws:s3:::bucket",
            "arn:aws:s3:::bucket/",
            "arn:aws:s3:::Bucket/key",
            "arn:aws:s3:::b/key",
            "arn:aws:s3:::-bucket/key",
            "arn:aws:s3:::buc..ket/key",
            "arn:aws:s3:::bucket/key#",
            "arn:aws:s3:::bucket/key#123",
            "arn:aws:s3:::bucket/key#123/",
            "arn:aws:s3:::bucket/key#/dir",
            "arn:aws:s3:::bucket/key#123/..",
            "arn:aws:s3:::bucket/key#../dir",
            "arn:aws:s3:::bucket/key#123/a/b",
            "arn:aws:s3:::bucket/key#123/../../etc",
            "arn:aws:s3:::bucket/key#123/a b",
            "arn:aws:s3:::bucket/key#123/a\u{0}",
            "arn:aws:s3:::bucket/ke\ny",
            " arn:aws:s3:::bucket/key",
            "arn:aws:ssm::123456789012:parameter/x",
            "arn:aws:ssm:us-east-1::parameter/x",
            "arn:aws:ssm:us-east-1:12345:parameter/x",
            "arn:aws:ssm:us-east-1:123456789012:param/x",
            "arn:aws:ssm:us-east-1:123456789012:parameter",
            "arn:aws:ssm:us-east-1:123456789012:parameter/",
            "arn:aws:ssm:us-east-1:123456789012:parameter/a b",
            "arn:aws:ssm:US-EAST-1:123456789012:parameter/x",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
            "arn:aws:iam::123456789012:role/x",
            &long_key,
        ];
        for s in bad {
            assert!(CredspecArn::parse(s).is_err(), "accepted {s:?}");
        }
    }

    #[test]
    fn secret_arns() {
        let a = SecretArn::parse(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:gmsa/user-AbCdEf",
        )
        .unwrap();
        assert_eq!(a.name, "gmsa/user-AbCdEf");
        assert_eq!(a.region, "us-east-1");
        for bad in [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
            "arn:aws:secretsmanager:us-east-1:123456789012:x",
            "arn:aws:secretsmanager::123456789012:secret:x",
            "arn:aws:ssm:us-east-1:123456789012:secret:x",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:a b",
        ] {
            assert!(SecretArn::parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
