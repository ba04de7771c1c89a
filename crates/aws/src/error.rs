//! The crate's error type, below every module that returns it.

use http::StatusCode;

/// Coarse classes of [`AwsError`], for the caller to pick a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AwsErrorKind {
    /// The secret, object, bucket or parameter does not exist.
    NotFound,
    /// Refused: access denied, bad signature, unknown or expired credentials.
    Denied,
    /// No credentials could be loaded on this host.
    NoCredentials,
    /// Bad input: a malformed ARN, secret or credspec, an object over the size limit.
    Invalid,
    /// AWS could not be reached, timed out, throttled or failed (retrying may help).
    Unavailable,
    /// Anything else.
    Other,
}

/// An AWS failure. Messages name the AWS call, the resource and AWS's error code.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    /// AWS answered with an error.
    #[error("{call} {resource}: {code} (HTTP {status}): {message}")]
    Service {
        /// The API call, e.g. `GetSecretValue`.
        call: &'static str,
        /// The secret, object or parameter.
        resource: String,
        /// AWS's error code, e.g. `ResourceNotFoundException`.
        code: String,
        /// The HTTP status.
        status: u16,
        /// AWS's message.
        message: String,
    },
    /// AWS could not be reached or did not answer in time.
    #[error("{call} {resource}: {cause}")]
    Transport {
        /// The API call.
        call: &'static str,
        /// The resource.
        resource: String,
        /// The cause.
        cause: String,
    },
    /// No usable credentials.
    #[error("{call} {resource}: cannot load AWS credentials: {cause}")]
    Credentials {
        /// The API call.
        call: &'static str,
        /// The resource.
        resource: String,
        /// The cause (which providers were tried).
        cause: String,
    },
    /// An S3 object or SSM parameter larger than a credspec may be.
    #[error(
        "{call} {resource}: the credspec is {size} bytes, more than the limit of {limit} bytes"
    )]
    TooLarge {
        /// The API call.
        call: &'static str,
        /// The object.
        resource: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A secret that is not the expected JSON.
    #[error("secret {secret}: {reason}")]
    BadSecret {
        /// The secret's name or ARN.
        secret: String,
        /// What is wrong (never the secret's content).
        reason: String,
    },
    /// A malformed ARN.
    #[error("invalid ARN {arn:?}: {reason}")]
    InvalidArn {
        /// The ARN (truncated to 200 characters).
        arn: String,
        /// What is wrong.
        reason: String,
    },
    /// Bad input to this crate (e.g. empty credentials).
    #[error("{0}")]
    InvalidInput(String),
    /// The HTTP client could not be set up.
    #[error("setting up the AWS HTTPS client: {0}")]
    Setup(String),
    /// Any other SDK failure (e.g. an unparsable response).
    #[error("{call} {resource}: {cause}")]
    Other {
        /// The API call.
        call: &'static str,
        /// The resource.
        resource: String,
        /// The cause.
        cause: String,
    },
}

impl AwsError {
    /// AWS's error code, when AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The class of failure.
    pub fn kind(&self) -> AwsErrorKind {
        match self {
            Self::Service { code, status, .. } => classify_code(code, *status),
            Self::Transport { .. } => AwsErrorKind::Unavailable,
            Self::Credentials { .. } => AwsErrorKind::NoCredentials,
            Self::TooLarge { .. }
            | Self::BadSecret { .. }
            | Self::InvalidArn { .. }
            | Self::InvalidInput(_) => AwsErrorKind::Invalid,
            Self::Setup(_) | Self::Other { .. } => AwsErrorKind::Other,
        }
    }
}

/// Classifies an AWS error code (HTTP status as the fallback).
pub fn classify_code(code: &str, status: u16) -> AwsErrorKind {
    match code {
        "ResourceNotFoundException"
        | "NoSuchKey"
        | "NoSuchBucket"
        | "NotFound"
        | "ParameterNotFound"
        | "ParameterVersionNotFound" => AwsErrorKind::NotFound,
        "AccessDenied"
        | "AccessDeniedException"
        | "SignatureDoesNotMatch"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "TokenRefreshRequired"
        | "RequestExpired"
        | "InvalidToken"
        | "MissingAuthenticationToken"
        | "AuthFailure" => AwsErrorKind::Denied,
        "DecryptionFailure" | "KMSAccessDeniedException" => AwsErrorKind::Denied,
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "SlowDown"
        | "RequestTimeout"
        | "ServiceUnavailable"
        | "InternalServiceError"
        | "InternalFailure"
        | "InternalError"
        | "InternalServerError" => AwsErrorKind::Unavailable,
        "ValidationException"
        | "InvalidParameterException"
        | "InvalidRequestException"
        | "InvalidKeyId"
        | "InvalidBucketName"
        | "InvalidArgument" => AwsErrorKind::Invalid,
        _ => match http::StatusCode::from_u16(status).ok() {
            Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => AwsErrorKind::Denied,
            Some(StatusCode::NOT_FOUND) => AwsErrorKind::NotFound,
            Some(StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS) => {
                AwsErrorKind::Unavailable
            }
            Some(s) if s.is_server_error() => AwsErrorKind::Unavailable,
            Some(s) if s.is_client_error() => AwsErrorKind::Invalid,
            _ => AwsErrorKind::Other,
        },
    }
}
