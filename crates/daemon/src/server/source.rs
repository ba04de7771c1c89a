//! Where tickets come from: the [`TicketSource`] trait (implemented by
//! [`super::kerberos::KerberosSource`]), what it is asked ([`TicketRequest`], with the
//! [`Login`] to use) and what it answers ([`TicketOutcome`]).

use super::error::{BoxFuture, LeaseError};
use super::secret::DomainlessCreds;
use crate::credspec::CredSpec;
use krb5_proto::Credentials;
use std::fmt;
use std::path::PathBuf;

/// How the daemon logs in to read the gMSA password.
#[derive(Clone)]
#[non_exhaustive]
pub enum Login {
    /// Domain-joined host: the machine account's keys from a keytab.
    DomainJoined {
        /// The keytab (`KRB5_KTNAME`, else /etc/krb5.keytab).
        keytab: PathBuf,
        /// The principal to use (default: chosen by [`crate::login::keytab_principal`]).
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
    /// Checks `login`'s credentials with one login (an AS exchange, or a cached ticket that
    /// they already obtained) before they replace known-good ones; `realm` picks a keytab's
    /// principal. A source whose credentials cannot be wrong accepts them (the default).
    fn check_login<'a>(
        &'a self,
        login: &'a Login,
        realm: &'a str,
    ) -> BoxFuture<'a, Result<(), LeaseError>> {
        let _ = (login, realm);
        Box::pin(async { Ok(()) })
    }

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

    /// Drops (and so zeroizes) every cached login ticket, password blob, gMSA ticket, derived
    /// key and kept LDAP session: called when the daemon's last lease is gone, so nothing of a
    /// gMSA stays in memory after its last lease. The refused-credentials tags stay (AD
    /// lockout protection). By default nothing is cached.
    fn release_caches(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// How many entries the source caches now (see [`CacheSizes`]); all zero by default.
    fn cache_sizes(&self) -> CacheSizes {
        CacheSizes::default()
    }
}

/// Entry counts of a [`TicketSource`]'s caches (for tests, `gmsa lease health` and the log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheSizes {
    /// Login (user or machine) TGTs.
    pub tgts: usize,
    /// gMSA password blobs.
    pub passwords: usize,
    /// gMSA TGTs shared between leases.
    pub gmsa_tgts: usize,
    /// Kept LDAP sessions (slots, open or not).
    pub readers: usize,
    /// Derived password keys (string-to-key cache).
    pub s2k_keys: usize,
}

impl CacheSizes {
    /// Whether every cache is empty.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
