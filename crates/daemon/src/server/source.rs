//! Where tickets come from: the [`TicketSource`] trait, its Kerberos/LDAP implementation and a
//! fake for tests; the [`SecretSource`] trait for the domainless user's credentials.

use crate::credspec::CredSpec;
use krb5_proto::Credentials;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use zeroize::Zeroizing;

/// A boxed, sendable future (the traits here are object safe without `async_trait`).
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
}

/// How the daemon logs in to read the gMSA password.
#[derive(Clone)]
#[non_exhaustive]
pub enum Login {
    /// Domain-joined host: the machine account's keys from a keytab.
    DomainJoined {
        /// The keytab (`KRB5_KTNAME`, else /etc/krb5.keytab).
        keytab: PathBuf,
        /// The principal to use (default: the keytab's first principal in the credspec's realm).
        principal: Option<String>,
    },
    /// Domainless: an AD user allowed to read the password.
    Domainless(DomainlessCreds),
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Login::DomainJoined { keytab, principal } => f
                .debug_struct("DomainJoined")
                .field("keytab", keytab)
                .field("principal", principal)
                .finish(),
            Login::Domainless(c) => c.fmt(f),
        }
    }
}

/// A domainless user's credentials. `Debug` redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DomainlessCreds {
    /// The user name (`user` or `user@REALM`).
    pub username: String,
    /// The password.
    pub password: Zeroizing<String>,
    /// The user's AD domain.
    pub domain: String,
    /// The gMSA's distinguished name when the secret gives one (upstream's
    /// `distinguishedName`): the gMSA it names is read at that DN instead of being searched for.
    pub distinguished_name: Option<String>,
}

impl DomainlessCreds {
    /// Validated credentials: user and password non-empty and under 104 bytes like upstream, no
    /// control characters in the user name, a valid domain.
    pub fn new(
        username: &str,
        password: Zeroizing<String>,
        domain: &str,
    ) -> Result<Self, LeaseError> {
        let step = "checking the domainless credentials";
        let username = username.trim();
        if username.is_empty()
            || username.len() >= 104
            || username.chars().any(|c| c.is_control() || c == '/')
        {
            return Err(LeaseError::invalid(
                step,
                "the user name must be 1-103 bytes without control characters or '/'",
            ));
        }
        if password.is_empty() || password.len() >= 104 {
            return Err(LeaseError::invalid(
                step,
                "the password must be 1-103 bytes",
            ));
        }
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !crate::credspec::valid_domain(&domain) {
            return Err(LeaseError::invalid(
                step,
                format!("the domain {domain:?} is not a valid DNS domain name"),
            ));
        }
        Ok(Self {
            username: username.to_string(),
            password,
            domain,
            distinguished_name: None,
        })
    }

    /// The same credentials with the gMSA DN from the secret (blank: none).
    pub fn with_distinguished_name(mut self, dn: Option<String>) -> Self {
        self.distinguished_name = dn.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
        self
    }

    /// The DN to read `gmsa` at: the secret's DN when its first RDN names that gMSA
    /// (`CN=<name>`, case-insensitive, a trailing `$` ignored), else none — a DN naming another
    /// account must not be read for this one.
    pub fn dn_for(&self, gmsa: &str) -> Option<&str> {
        let dn = self.distinguished_name.as_deref()?;
        let first = dn.split(',').next()?.trim();
        let (attr, value) = first.split_once('=')?;
        let name = gmsa.trim_end_matches('$');
        (attr.trim().eq_ignore_ascii_case("CN")
            && value
                .trim()
                .trim_end_matches('$')
                .eq_ignore_ascii_case(name))
        .then_some(dn)
    }

    /// The key identifying this user across leases: `user@domain`, lower case.
    pub fn key(&self) -> String {
        user_key(&self.username, &self.domain)
    }
}

/// `user@domain` in lower case (the user's own `@REALM` suffix is dropped).
pub fn user_key(username: &str, domain: &str) -> String {
    let user = username.split('@').next().unwrap_or(username);
    format!(
        "{}@{}",
        user.to_ascii_lowercase(),
        domain.to_ascii_lowercase()
    )
}

impl fmt::Debug for DomainlessCreds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Domainless")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("domain", &self.domain)
            .field("distinguished_name", &self.distinguished_name)
            .finish()
    }
}

/// One ticket to obtain.
#[derive(Debug, Clone)]
pub struct TicketRequest {
    /// The credspec naming the gMSA.
    pub credspec: CredSpec,
    /// How to log in.
    pub login: Login,
    /// The gMSA's DN when configured (`CF_GMSA_DISTINGUISHED_NAME`) or recorded.
    pub distinguished_name: Option<String>,
    /// The OU to search (`CF_GMSA_OU`).
    pub ou: Option<String>,
}

/// An obtained ticket.
#[derive(Debug, Clone)]
pub struct TicketOutcome {
    /// The gMSA's TGT.
    pub tgt: Credentials,
    /// The gMSA's DN as found (empty when unknown).
    pub distinguished_name: String,
}

/// Obtains gMSA tickets.
pub trait TicketSource: Send + Sync {
    /// Gets the gMSA's TGT.
    fn get_ticket(&self, req: TicketRequest) -> BoxFuture<'_, Result<TicketOutcome, LeaseError>>;

    /// Gets the gMSA's TGT to replace a ticket ending at `replacing_end` (Unix seconds, `None`
    /// when unknown): a source that shares recent tickets between leases must return one that
    /// ends later than that (or a new one). By default, [`TicketSource::get_ticket`].
    fn renew_ticket(
        &self,
        req: TicketRequest,
        replacing_end: Option<i64>,
    ) -> BoxFuture<'_, Result<TicketOutcome, LeaseError>> {
        let _ = replacing_end;
        self.get_ticket(req)
    }
}

/// Supplies the domainless user's credentials (file, or AWS Secrets Manager in another issue).
pub trait SecretSource: Send + Sync {
    /// Reads the credentials; `domain` is used when the secret names none.
    fn credentials(&self, domain: &str) -> BoxFuture<'_, Result<DomainlessCreds, LeaseError>>;
}

/// A JSON file `{"username": "...", "password": "...", "domainName": "..."}` (domain optional),
/// the shape of upstream's Secrets Manager secret.
#[derive(Debug, Clone)]
pub struct FileSecretSource {
    /// The file.
    pub path: PathBuf,
}

impl SecretSource for FileSecretSource {
    fn credentials(&self, domain: &str) -> BoxFuture<'_, Result<DomainlessCreds, LeaseError>> {
        let domain = domain.to_string();
        Box::pin(async move {
            let step = format!("reading the domainless secret {}", self.path.display());
            let bytes =
                Zeroizing::new(tokio::fs::read(&self.path).await.map_err(|e| {
                    LeaseError::new(ErrorKind::FailedPrecondition, step.clone(), e)
                })?);
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| LeaseError::new(ErrorKind::FailedPrecondition, step.clone(), e))?;
            // The same JSON as the Secrets Manager secret, parsed by the same code (its 64 KiB
            // bound, key names and error messages that never quote the content).
            let secret = cf_aws::DomainlessSecret::parse(&self.path.display().to_string(), text)
                .map_err(|e| super::aws::lease_error(step, &e))?;
            super::aws::creds_from_secret(secret, &domain)
        })
    }
}

/// A test source: no network, a synthetic TGT (not usable against a KDC) whose lifetime is
/// configurable; counts calls and can be told to fail or to be slow.
#[derive(Debug)]
pub struct FakeSource {
    /// Lifetime of the issued tickets.
    pub lifetime: std::time::Duration,
    /// Delay before answering.
    pub delay: std::time::Duration,
    /// gMSA names (case-insensitive) whose requests fail with `Unavailable`.
    pub fail_for: std::sync::Mutex<Vec<String>>,
    /// Number of calls.
    pub calls: std::sync::atomic::AtomicUsize,
}

impl Default for FakeSource {
    fn default() -> Self {
        Self {
            lifetime: std::time::Duration::from_secs(36_000),
            delay: std::time::Duration::ZERO,
            fail_for: Default::default(),
            calls: Default::default(),
        }
    }
}

impl TicketSource for FakeSource {
    fn get_ticket(&self, req: TicketRequest) -> BoxFuture<'_, Result<TicketOutcome, LeaseError>> {
        Box::pin(async move {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            let fail = self
                .fail_for
                .lock()
                .map(|v| {
                    v.iter()
                        .any(|n| n.eq_ignore_ascii_case(&req.credspec.gmsa_name))
                })
                .unwrap_or(false);
            if fail {
                return Err(LeaseError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "reading the password of {}",
                        req.credspec.sam_account_name()
                    ),
                    "fake source told to fail",
                ));
            }
            let realm = req.credspec.realm();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let key = krb5_proto::crypto::Key::new(
                krb5_proto::crypto::EncType::Aes256CtsHmacSha196,
                &[7u8; 32],
            )
            .map_err(|e| LeaseError::internal("making a fake key", e))?;
            Ok(TicketOutcome {
                tgt: Credentials {
                    client: krb5_proto::Principal::new(
                        krb5_proto::principal::name_type::PRINCIPAL,
                        [req.credspec.sam_account_name()],
                        &realm,
                    ),
                    server: krb5_proto::Principal::krbtgt(realm.as_bytes()),
                    session_key: key,
                    ticket: b"fake ticket".to_vec(),
                    flags: 0x40e1_0000,
                    auth_time: now,
                    start_time: now,
                    end_time: now + self.lifetime.as_secs() as i64,
                    renew_till: None,
                    time_offset: 0,
                    pa_type: None,
                    client_kvno: None,
                },
                distinguished_name: req.distinguished_name.clone().unwrap_or_else(|| {
                    format!(
                        "CN={},CN=Managed Service Accounts,DC={}",
                        req.credspec.gmsa_name,
                        req.credspec.domain.replace('.', ",DC=")
                    )
                }),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msds_gmsa::{GmsaError, LdapError};

    #[test]
    fn secret_dn_is_used_only_for_the_gmsa_it_names() {
        let c = DomainlessCreds::new("svc", Zeroizing::new("pw".into()), "example.test")
            .unwrap()
            .with_distinguished_name(Some(
                " CN=WebApp01,CN=Managed Service Accounts,DC=example,DC=test ".into(),
            ));
        let dn = "CN=WebApp01,CN=Managed Service Accounts,DC=example,DC=test";
        assert_eq!(c.dn_for("WebApp01"), Some(dn));
        assert_eq!(c.dn_for("webapp01$"), Some(dn));
        assert_eq!(c.dn_for("WebApp02"), None);
        let none = c.clone().with_distinguished_name(Some("  ".into()));
        assert_eq!(none.distinguished_name, None);
        assert_eq!(none.dn_for("WebApp01"), None);
        let ou = c.with_distinguished_name(Some("OU=Apps,DC=example,DC=test".into()));
        assert_eq!(ou.dn_for("Apps"), None);
        assert!(!format!("{ou:?}").contains("pw"));
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
        ];
        for (e, kind) in cases {
            assert_eq!(LeaseError::from_gmsa("reading", &e).kind, kind, "{e}");
        }
    }
}
