//! The daemon's lease error: what class of failure ([`ErrorKind`], which decides the gRPC status)
//! and the step that failed with its cause ([`LeaseError`]); classification of the engine's,
//! the DC's and AWS's errors.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future (the lease traits are object safe without `async_trait`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What class of failure, which decides the gRPC status code (and whether the ECS agent retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input from the caller (not retried).
    InvalidArgument,
    /// A peer (KDC, DC, DNS) is unreachable or timed out: retrying may help.
    Unavailable,
    /// The KDC or DC refused the credentials or the read (not retried).
    PermissionDenied,
    /// Something on this host is not set up (keytab, krbdir) (not retried).
    FailedPrecondition,
    /// Not implemented by this daemon.
    Unimplemented,
    /// The request's deadline passed before the lease was ready (retried by the agent).
    DeadlineExceeded,
    /// The krbdir's file system is full or over quota (ENOSPC, EDQUOT): nothing was created.
    ResourceExhausted,
    /// Anything else (retried by the agent).
    Internal,
}

/// Why a lease operation failed: the step that failed and its cause.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{step}: {cause}")]
pub struct LeaseError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// The step, e.g. `logging in as svc-fetcher@EXAMPLE.TEST`.
    pub step: String,
    /// The cause.
    pub cause: String,
}

impl LeaseError {
    /// A new error.
    pub fn new(kind: ErrorKind, step: impl Into<String>, cause: impl fmt::Display) -> Self {
        Self {
            kind,
            step: step.into(),
            cause: cause.to_string(),
        }
    }
    /// An invalid-argument error.
    pub fn invalid(step: impl Into<String>, cause: impl fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidArgument, step, cause)
    }
    /// An internal error.
    pub fn internal(step: impl Into<String>, cause: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, step, cause)
    }
    /// A failure writing under the krbdir: [`ErrorKind::ResourceExhausted`], with a hint, when
    /// an I/O error in `e`'s source chain says the file system is full or over quota (ENOSPC,
    /// EDQUOT), else [`ErrorKind::Internal`].
    pub fn storage(step: impl Into<String>, e: &(dyn std::error::Error + 'static)) -> Self {
        if is_disk_full(e) {
            Self::new(
                ErrorKind::ResourceExhausted,
                step,
                format!(
                    "{e}; the file system of the krbdir is full (or the quota is used up): free space there, then retry"
                ),
            )
        } else {
            Self::internal(step, e)
        }
    }

    /// Classifies a Kerberos engine error.
    pub fn from_krb5(step: impl Into<String>, e: &krb5_proto::Error) -> Self {
        let kind = match e {
            krb5_proto::Error::Transport(_) => ErrorKind::Unavailable,
            // PREAUTH_FAILED, C_PRINCIPAL_UNKNOWN, CLIENT_REVOKED, KEY_EXPIRED, POLICY.
            krb5_proto::Error::Kdc(k) if k.is_bad_credentials() => ErrorKind::PermissionDenied,
            krb5_proto::Error::WrongKey { .. } => ErrorKind::PermissionDenied,
            krb5_proto::Error::Keytab(_) | krb5_proto::Error::Config(_) => {
                ErrorKind::FailedPrecondition
            }
            _ => ErrorKind::Internal,
        };
        Self::new(kind, step, e)
    }

    /// Classifies a gMSA retrieval or login failure for the gRPC caller.
    pub fn from_gmsa(step: impl Into<String>, e: &msds_gmsa::GmsaError) -> Self {
        use msds_gmsa::GmsaError as G;
        let kind = match e {
            G::DcUnreachable { .. } | G::NoDcFound { .. } => ErrorKind::Unavailable,
            // The KDC could not be reached (or dropped the connection) for the login or the
            // LDAP service ticket: retrying may help.
            G::Kerberos(k) | G::ServiceTicket { source: k, .. }
                if matches!(**k, krb5_proto::Error::Transport(_)) =>
            {
                ErrorKind::Unavailable
            }
            // The DC was reached but went silent or dropped the connection: retrying may help.
            G::LdapProtocol(
                msds_gmsa::LdapError::Timeout { .. }
                | msds_gmsa::LdapError::Io { .. }
                | msds_gmsa::LdapError::Closed { .. },
            ) => ErrorKind::Unavailable,
            G::NotAllowedToRetrieve { .. } | G::BindRejected { .. } => ErrorKind::PermissionDenied,
            G::Kerberos(k) if k.is_bad_credentials() => ErrorKind::PermissionDenied,
            G::GmsaNotFound { .. }
            | G::AmbiguousGmsa { .. }
            | G::InvalidLookup(_)
            | G::InvalidDcAddress { .. } => ErrorKind::FailedPrecondition,
            _ => ErrorKind::Internal,
        };
        Self::new(kind, step, e)
    }

    /// Classifies an AWS failure for the gRPC caller; `step` says what the daemon was doing.
    pub fn from_aws(step: impl Into<String>, e: &cf_aws::AwsError) -> Self {
        use cf_aws::{AwsError, AwsErrorKind};
        let kind = match (e.kind(), e) {
            // A malformed configured secret is the host's set-up, not the caller's input.
            (_, AwsError::BadSecret { .. }) => ErrorKind::FailedPrecondition,
            (AwsErrorKind::NotFound, _) => ErrorKind::FailedPrecondition,
            (AwsErrorKind::Denied, _) => ErrorKind::PermissionDenied,
            (AwsErrorKind::NoCredentials, _) => ErrorKind::FailedPrecondition,
            (AwsErrorKind::Invalid, _) => ErrorKind::InvalidArgument,
            (AwsErrorKind::Unavailable, _) => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        Self::new(kind, step, e)
    }
}

/// Whether an I/O error in `e`'s source chain is ENOSPC or EDQUOT.
fn is_disk_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use msds_gmsa::{GmsaError, LdapError};

    #[test]
    fn a_full_disk_is_resource_exhausted() {
        #[derive(Debug, thiserror::Error)]
        #[error("writing x: {source}")]
        struct Wrapper {
            source: std::io::Error,
        }
        for code in [28, 122] {
            let e = Wrapper {
                source: std::io::Error::from_raw_os_error(code),
            };
            let l = LeaseError::storage("writing", &e);
            assert_eq!(l.kind, ErrorKind::ResourceExhausted, "{l}");
            assert!(l.cause.contains("is full"), "{l}");
        }
        let e = Wrapper {
            source: std::io::Error::from_raw_os_error(13),
        };
        assert_eq!(LeaseError::storage("writing", &e).kind, ErrorKind::Internal);
    }

    #[test]
    fn gmsa_errors_are_classified() {
        let dc = || "dc1.example.test (127.0.0.2:389)".to_string();
        let cases = [
            (
                GmsaError::LdapProtocol(LdapError::Timeout {
                    dc: dc(),
                    op: "search",
                    timeout_ms: 10_000,
                }),
                ErrorKind::Unavailable,
            ),
            (
                GmsaError::LdapProtocol(LdapError::Io {
                    dc: dc(),
                    op: "bind",
                    kind: std::io::ErrorKind::ConnectionReset,
                    message: "reset".into(),
                }),
                ErrorKind::Unavailable,
            ),
            (
                GmsaError::LdapProtocol(LdapError::Closed {
                    dc: dc(),
                    op: "bind",
                    notice: None,
                }),
                ErrorKind::Unavailable,
            ),
            (
                GmsaError::DcUnreachable { tried: vec![] },
                ErrorKind::Unavailable,
            ),
            (
                GmsaError::BindRejected {
                    dc: dc(),
                    result_code: 49,
                    message: "no".into(),
                },
                ErrorKind::PermissionDenied,
            ),
            (
                GmsaError::InvalidLookup("empty".into()),
                ErrorKind::FailedPrecondition,
            ),
            (
                GmsaError::ServiceTicket {
                    spn: "ldap/dc1.example.test@EXAMPLE.TEST".into(),
                    source: std::sync::Arc::new(krb5_proto::Error::Transport(
                        krb5_proto::transport::TransportError::NoKdc {
                            realm: "EXAMPLE.TEST".into(),
                            hint: String::new(),
                        },
                    )),
                },
                ErrorKind::Unavailable,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(LeaseError::from_gmsa("reading", &e).kind, kind, "{e}");
        }
    }
}
