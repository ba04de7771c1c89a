//! The real [`TicketSource`]: log in (machine keytab or domainless user), read the gMSA password
//! over sealed LDAP, log in as the gMSA.
//!
//! Caches, all keyed by the login principal (so a login only ever gets what it has itself proven
//! it may read) and, below it, by gMSA:
//! - the user's or machine's TGT is reused while it has more than five minutes left; a domainless
//!   request must bring the password that obtained it, else it logs in again (and fails if wrong);
//! - the decoded password blob is reused until its `QueryPasswordInterval` runs out (at most one
//!   hour), so N leases of one gMSA cost one LDAP read;
//! - the gMSA's own TGT is shared by the leases created shortly after it was obtained (while it is
//!   younger than a tenth of its life and at most [`GMSA_TGT_SHARE`], and only with the password
//!   entry that produced it), so N leases cost one AS exchange. A renewal only takes a shared
//!   ticket that ends later than the one it replaces; otherwise it logs in again.
//!
//! Concurrent requests for the same entry wait for the first one instead of repeating its work
//! (single flight); those that were waiting when it failed get its error instead of trying again
//! one after another against a DC or KDC that is down.
//!
//! Credentials the KDC refused (wrong or expired password, revoked account) are remembered by a
//! keyed hash ([`super::refusals`]) and never sent again: every waiting and later login with the
//! same (principal, secret) fails at once with `PERMISSION_DENIED`, so a wrong password costs
//! the account at most one failed pre-authentication per daemon (AD lockout).
//!
//! The LDAP session is kept too: one [`GmsaReader`] per (login principal, domain), bound once,
//! so a password read after the first costs one search round trip instead of a TCP connect, a
//! TGS exchange for `ldap/<dc>` and a three-round-trip SASL bind. A session is locked only for
//! the search (never across the AS exchange as the gMSA), closed after [`LDAP_IDLE_CLOSE`]
//! without use, and reconnected by the reader when the DC has dropped it. A search cancelled
//! half-way drops its connection (the next read opens a new one) instead of leaving a
//! half-read answer on it; so does any protocol or crypto error (a reply that does not unseal
//! or decode: see [`msds_gmsa::ldap::session::error_keeps_session`]). [`KerberosSource::spawn_prewarm`] logs in and binds at start-up
//! when the login is known then (host keytab, domainless secret), so the first lease pays
//! only the search and the gMSA's AS exchange.

use super::config::Config;
use super::error::{BoxFuture, ErrorKind, LeaseError};
use super::refusals::{Refusals, refusal_reason};
use super::s2k::S2kCache;
use super::secret::SecretSource;
use super::source::{CacheSizes, Login, TicketOutcome, TicketRequest, TicketSource};
use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::etype_policy::EnctypePolicy;
use krb5_proto::keytab::Keytab;
use krb5_proto::{Credentials, Principal};
use msds_gmsa::{
    FetchOptions, FetchedPassword, GmsaError, GmsaLookup, GmsaReader, ManagedPasswordBlob,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};
use zeroize::Zeroizing;

/// Longest a password blob is reused.
const MAX_PASSWORD_AGE: Duration = Duration::from_secs(3600);
/// A cached TGT must have at least this much life left.
const TGT_MARGIN: Duration = Duration::from_secs(300);
/// Longest a gMSA TGT is handed to new leases after it was obtained (also capped at a tenth of
/// its life, so a shared ticket is always far from its renewal point at 50-75% of its life).
pub const GMSA_TGT_SHARE: Duration = Duration::from_secs(600);
/// A kept LDAP session unused for this long is closed (a daemon without new leases holds no
/// DC connection).
pub const LDAP_IDLE_CLOSE: Duration = Duration::from_secs(300);

struct CachedTgt {
    tgt: Credentials,
    /// For domainless logins: the password that got it (a different password is a new login).
    password: Option<Zeroizing<String>>,
}

#[derive(Clone)]
struct CachedPassword {
    blob: ManagedPasswordBlob,
    sam: String,
    dn: String,
    until: Instant,
    /// Which read this is: a gMSA TGT is only shared with the password entry that produced it.
    generation: u64,
}

struct CachedGmsaTgt {
    tgt: Credentials,
    obtained: Instant,
    generation: u64,
}

impl CachedGmsaTgt {
    /// Whether this ticket may be handed out now; `replacing_end`: the end time of the ticket a
    /// renewal replaces (the shared one must end later).
    fn shareable(&self, replacing_end: Option<i64>) -> bool {
        let life = Duration::from_secs((self.tgt.end_time - self.tgt.start_time).max(0) as u64);
        self.obtained.elapsed() < (life / 10).min(GMSA_TGT_SHARE)
            && self.tgt.is_valid_at(SystemTime::now(), TGT_MARGIN)
            && replacing_end.is_none_or(|end| self.tgt.end_time > end)
    }
}

/// A cache entry with single-flight semantics: the value, and the last failure with its time so
/// the requests that were already waiting share it.
struct Flight<T> {
    value: Option<T>,
    failed: Option<(Instant, LeaseError)>,
}

impl<T> Default for Flight<T> {
    fn default() -> Self {
        Self {
            value: None,
            failed: None,
        }
    }
}

impl<T> Flight<T> {
    /// The failure of a flight that ended after `waiting_since`.
    fn failure_since(&self, waiting_since: Instant) -> Option<LeaseError> {
        self.failed
            .as_ref()
            .filter(|(at, _)| *at > waiting_since)
            .map(|(_, e)| e.clone())
    }
}

type Slot<T> = Arc<tokio::sync::Mutex<Flight<T>>>;

/// One login's kept LDAP session to one domain.
struct ReaderSlot {
    /// `None` until the first read, after an idle close, or after a read was cancelled.
    reader: Option<GmsaReader>,
    last_used: Instant,
    /// Whether an idle-close task is watching this slot.
    sweeping: bool,
}

type ReaderCell = Arc<tokio::sync::Mutex<ReaderSlot>>;

/// Closes the slot's session once it has been idle for `idle`; ends then (a later read starts
/// a new watcher) or when the source is dropped.
async fn close_when_idle(cell: Weak<tokio::sync::Mutex<ReaderSlot>>, idle: Duration) {
    let mut wait = idle;
    loop {
        tokio::time::sleep(wait).await;
        let Some(cell) = cell.upgrade() else {
            return;
        };
        let mut slot = cell.lock().await;
        let quiet = slot.last_used.elapsed();
        if quiet < idle {
            wait = idle - quiet;
            continue;
        }
        slot.sweeping = false;
        let reader = slot.reader.take();
        drop(slot);
        if let Some(r) = reader {
            if let Some(dc) = r.dc() {
                tracing::info!(dc = %dc, idle_s = quiet.as_secs(), "closing the idle LDAP session to DC {dc}");
            }
            r.close().await;
        }
        return;
    }
}

/// Whether two sAMAccountNames name the same account: compared case-insensitively, with or
/// without the trailing `$` of a computer/gMSA account.
pub fn same_account_name(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.trim().trim_end_matches('$').to_owned();
    strip(a).eq_ignore_ascii_case(&strip(b))
}

/// The object found at a configured DN (`CF_GMSA_DISTINGUISHED_NAME`, or a lease's recorded
/// DN) must be the credspec's gMSA: otherwise another account's TGT would be written under
/// this gMSA's name. `FAILED_PRECONDITION` naming both when it is not.
fn check_dn_names_gmsa(dn: &str, found_sam: &str, credspec_gmsa: &str) -> Result<(), LeaseError> {
    if same_account_name(found_sam, credspec_gmsa) {
        return Ok(());
    }
    Err(LeaseError::new(
        ErrorKind::FailedPrecondition,
        format!("checking the gMSA at the distinguished name {dn}"),
        format!(
            "the object at this DN is {found_sam}, but the credspec names the gMSA {credspec_gmsa}$: \
             fix CF_GMSA_DISTINGUISHED_NAME (or the secret's distinguishedName) or the credspec"
        ),
    ))
}

/// Kerberos + LDAP ticket source.
pub struct KerberosSource {
    client: Client,
    fetch: FetchOptions,
    /// Options of every AS exchange: krb5.conf's enctype policy and the key cache.
    as_opts: AsOptions,
    s2k: Arc<S2kCache>,
    tgts: Mutex<HashMap<String, Slot<CachedTgt>>>,
    passwords: Mutex<HashMap<String, Slot<CachedPassword>>>,
    gmsa_tgts: Mutex<HashMap<String, Slot<CachedGmsaTgt>>>,
    generation: AtomicU64,
    gmsa_logins: AtomicU64,
    /// Kept LDAP sessions, by `login|domain`.
    readers: Mutex<HashMap<String, ReaderCell>>,
    ldap_idle: Duration,
    max_password_age: Duration,
    ldap_connections: AtomicU64,
    /// Refused (login principal, secret) pairs, never sent again.
    refusals: Refusals,
    /// AS exchanges as a login principal (user or machine).
    user_logins: AtomicU64,
}

fn slot<T>(map: &Mutex<HashMap<String, Slot<T>>>, key: &str) -> Slot<T> {
    let mut m = match map.lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    m.entry(key.to_string()).or_default().clone()
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

impl KerberosSource {
    /// A source using `client` for the KDC and `fetch` for the DC.
    pub fn new(client: Client, fetch: FetchOptions) -> Self {
        let policy = EnctypePolicy::from_conf(client.conf()).unwrap_or_else(|e| {
            tracing::error!("{e}; using the default enctypes (AES only)");
            EnctypePolicy::default()
        });
        let s2k = Arc::new(S2kCache::new());
        // krb5.conf `[libdefaults] ticket_lifetime`, as MIT's kinit reads it (default 10 h).
        let lifetime = client
            .conf()
            .libdefault_duration("ticket_lifetime")
            .unwrap_or(AsOptions::default().lifetime);
        let as_opts = AsOptions {
            enctype_policy: policy,
            key_deriver: Some(s2k.clone()),
            lifetime,
            ..AsOptions::default()
        };
        Self {
            client,
            fetch,
            as_opts,
            s2k,
            tgts: Mutex::default(),
            passwords: Mutex::default(),
            gmsa_tgts: Mutex::default(),
            generation: AtomicU64::new(0),
            gmsa_logins: AtomicU64::new(0),
            readers: Mutex::default(),
            ldap_idle: LDAP_IDLE_CLOSE,
            max_password_age: MAX_PASSWORD_AGE,
            ldap_connections: AtomicU64::new(0),
            refusals: Refusals::new(),
            user_logins: AtomicU64::new(0),
        }
    }

    /// The daemon's source for `cfg`: krb5.conf from `KRB5_CONFIG` (or the default), the DC
    /// from `cfg`. Test hooks read from the environment: `CF_TEST_PASSWORD_CACHE_SECS` (reuse a
    /// password blob at most this long; `0` reads it again for every lease) and
    /// `CF_TEST_LDAP_IDLE_SECS` (close a kept LDAP session after this idle time).
    pub fn for_config(cfg: &Config) -> Result<Self, LeaseError> {
        let conf = krb5_proto::config::Krb5Conf::load_default()
            .map_err(|e| LeaseError::new(ErrorKind::FailedPrecondition, "reading krb5.conf", e))?;
        // A krb5.conf whose enctype lists leave nothing usable stops the daemon here.
        EnctypePolicy::from_conf(&conf)
            .map_err(|e| LeaseError::new(ErrorKind::FailedPrecondition, "reading krb5.conf", e))?;
        let mut client = Client::new(conf).with_timeout(Duration::from_secs(5));
        if let Some(d) = cfg.dns_server {
            client = client.with_dns_server(d);
        }
        let fetch = FetchOptions {
            dc: cfg.dc.clone(),
            dns_server: cfg.dns_server,
            ..FetchOptions::default()
        };
        let secs = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        };
        let mut src = Self::new(client, fetch);
        if let Some(d) = secs("CF_TEST_PASSWORD_CACHE_SECS") {
            tracing::warn!(
                secs = d.as_secs(),
                "CF_TEST_PASSWORD_CACHE_SECS: password blobs reused at most this long (tests only)"
            );
            src.max_password_age = d;
        }
        if let Some(d) = secs("CF_TEST_LDAP_IDLE_SECS") {
            tracing::warn!(
                secs = d.as_secs(),
                "CF_TEST_LDAP_IDLE_SECS: idle LDAP sessions closed after this long (tests only)"
            );
            src = src.with_ldap_idle(d);
        }
        Ok(src)
    }

    /// Closes kept LDAP sessions after `idle` without use instead of [`LDAP_IDLE_CLOSE`].
    pub fn with_ldap_idle(mut self, idle: Duration) -> Self {
        self.ldap_idle = idle.max(Duration::from_millis(10));
        self
    }

    /// How many LDAP connections this source has opened (first connections and reconnects).
    pub fn ldap_connections(&self) -> u64 {
        self.ldap_connections.load(Ordering::Relaxed)
    }

    /// How many entries each cache holds now.
    pub fn cache_sizes(&self) -> CacheSizes {
        fn len<T>(m: &Mutex<HashMap<String, T>>) -> usize {
            match m.lock() {
                Ok(m) => m.len(),
                Err(p) => p.into_inner().len(),
            }
        }
        CacheSizes {
            tgts: len(&self.tgts),
            passwords: len(&self.passwords),
            gmsa_tgts: len(&self.gmsa_tgts),
            readers: len(&self.readers),
            s2k_keys: self.s2k.len(),
        }
    }

    /// Empties every cache (see [`TicketSource::release_caches`]): the entries are dropped,
    /// which zeroizes their keys and passwords, and the kept LDAP sessions are closed (a
    /// session in use by a read finishes it, then is dropped with its slot).
    pub async fn release(&self) {
        fn take<T>(m: &Mutex<HashMap<String, T>>) -> HashMap<String, T> {
            match m.lock() {
                Ok(mut m) => std::mem::take(&mut *m),
                Err(p) => std::mem::take(&mut *p.into_inner()),
            }
        }
        let before = self.cache_sizes();
        drop(take(&self.tgts));
        drop(take(&self.passwords));
        drop(take(&self.gmsa_tgts));
        self.s2k.clear();
        for (_, cell) in take(&self.readers) {
            if let Ok(mut slot) = cell.try_lock()
                && let Some(r) = slot.reader.take()
            {
                drop(slot);
                r.close().await;
            }
        }
        if !before.is_empty() {
            tracing::info!(
                tgts = before.tgts,
                passwords = before.passwords,
                gmsa_tgts = before.gmsa_tgts,
                ldap_sessions = before.readers,
                keys = before.s2k_keys,
                "no lease left: cached tickets, password blobs, keys and LDAP sessions released"
            );
        }
    }

    /// How many password keys this source has derived (string-to-key cache misses).
    pub fn s2k_derivations(&self) -> u64 {
        self.s2k.derivations()
    }

    /// How many AS exchanges as a login principal (domainless user or host) this source has made
    /// (successful or not).
    pub fn user_logins(&self) -> u64 {
        self.user_logins.load(Ordering::Relaxed)
    }

    /// How many AS exchanges as a gMSA this source has made (successful or not).
    pub fn gmsa_logins(&self) -> u64 {
        self.gmsa_logins.load(Ordering::Relaxed)
    }

    /// The login principal and secret. `realm`: the credspec's, which picks the keytab's
    /// principal; `None` at start-up (the first one-component principal, else the first).
    async fn login_secret(
        login: &Login,
        realm: Option<&str>,
    ) -> Result<(Principal, Secret, Option<Zeroizing<String>>), LeaseError> {
        match login {
            Login::DomainJoined { keytab, principal } => {
                let step = format!("reading the host keytab {}", keytab.display());
                let path = keytab.clone();
                let kt = tokio::task::spawn_blocking(move || Keytab::read(&path))
                    .await
                    .map_err(|e| LeaseError::internal(step.clone(), e))?
                    .map_err(|e| LeaseError::new(ErrorKind::FailedPrecondition, step.clone(), e))?;
                let (p, keys) = crate::login::keytab_login(&kt, realm, principal.as_deref())
                    .map_err(|e| {
                        let kind = match e {
                            crate::login::KeytabLoginError::BadPrincipal(_) => {
                                ErrorKind::InvalidArgument
                            }
                            _ => ErrorKind::FailedPrecondition,
                        };
                        LeaseError::new(kind, step.clone(), e)
                    })?;
                Ok((p, Secret::Keys(keys), None))
            }
            Login::Domainless(c) => {
                let user_realm = c.domain.to_ascii_uppercase();
                let p = Principal::parse(&c.username, Some(&user_realm))
                    .map_err(|e| LeaseError::invalid("checking the domainless user name", e))?;
                Ok((
                    p,
                    Secret::Password(Zeroizing::new(c.password.as_bytes().to_vec())),
                    Some(c.password.clone()),
                ))
            }
        }
    }

    /// The login's TGT (cached while valid and, for a domainless user, while the password is
    /// the one that got it) and the login's cache key.
    async fn user_tgt(&self, req: &TicketRequest) -> Result<(String, Credentials), LeaseError> {
        let (principal, secret, password) =
            Self::login_secret(&req.login, Some(&req.credspec.realm())).await?;
        self.login_tgt(principal, secret, password).await
    }

    /// [`Self::user_tgt`] for a known principal and secret.
    async fn login_tgt(
        &self,
        principal: Principal,
        secret: Secret,
        password: Option<Zeroizing<String>>,
    ) -> Result<(String, Credentials), LeaseError> {
        let key = principal.to_string().to_ascii_lowercase();
        let tag = self.refusals.tag(&key, &secret);
        // Refused before: not sent again (checked before and after waiting for the login in
        // flight, which may be the one that gets refused).
        if let Some(e) = self.refusals.check(&key, &tag) {
            return Err(e);
        }
        let slot = slot(&self.tgts, &key);
        let waiting = Instant::now();
        let mut guard = slot.lock().await;
        if let Some(c) = guard.value.as_ref()
            && c.password == password
            && c.tgt.is_valid_at(SystemTime::now(), TGT_MARGIN)
        {
            return Ok((key, c.tgt.clone()));
        }
        if let Some(e) = self.refusals.check(&key, &tag) {
            return Err(e);
        }
        // Only an unreachable KDC is shared with the waiters: a request with a wrong password
        // must not fail the others.
        if let Some(e) = guard.failure_since(waiting) {
            return Err(e);
        }
        let t = Instant::now();
        self.user_logins.fetch_add(1, Ordering::Relaxed);
        let tgt = match self
            .client
            .as_exchange(principal.clone(), secret, self.as_opts.clone())
            .await
        {
            Ok(t) => t,
            Err(e) => {
                if let Some(reason) = refusal_reason(&e) {
                    self.refusals.record(&key, tag, reason);
                    tracing::warn!(
                        principal = %principal,
                        reason,
                        "the KDC refused the credentials of {principal} ({reason}): they are not sent again until new credentials arrive"
                    );
                }
                let e = LeaseError::from_krb5(format!("logging in as {principal}"), &e);
                if e.kind == ErrorKind::Unavailable {
                    guard.failed = Some((Instant::now(), e.clone()));
                }
                // Logins that never succeeded leave no entry (unknown user names cost no memory).
                if guard.value.is_none() {
                    drop(guard);
                    let mut m = match self.tgts.lock() {
                        Ok(m) => m,
                        Err(p) => p.into_inner(),
                    };
                    if m.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                        m.remove(&key);
                    }
                }
                return Err(e);
            }
        };
        tracing::debug!(principal = %principal, ms = ms(t), "login AS exchange");
        guard.value = Some(CachedTgt {
            tgt: tgt.clone(),
            password,
        });
        guard.failed = None;
        Ok((key, tgt))
    }

    /// Reads a gMSA's password on the kept session of (`login`, `domain`), opening and binding
    /// it first when needed. The session is locked for this read only.
    async fn read(
        &self,
        login: &str,
        domain: &str,
        user_tgt: &Credentials,
        lookup: &GmsaLookup,
    ) -> Result<FetchedPassword, GmsaError> {
        let key = format!(
            "{login}|{}",
            domain.trim_end_matches('.').to_ascii_lowercase()
        );
        let cell = {
            let mut m = match self.readers.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            m.entry(key)
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Mutex::new(ReaderSlot {
                        reader: None,
                        last_used: Instant::now(),
                        sweeping: false,
                    }))
                })
                .clone()
        };
        let mut slot = cell.lock().await;
        // Taken out for the read: if this future is dropped half-way, so is the connection.
        let mut reader = match slot.reader.take() {
            Some(r) => r,
            None => GmsaReader::new(self.client.clone(), domain, self.fetch.clone())?,
        };
        let before = reader.connections_opened();
        let result = reader.fetch(user_tgt, lookup).await;
        let opened = reader.connections_opened().saturating_sub(before);
        if opened > 0 {
            let total = self
                .ldap_connections
                .fetch_add(u64::from(opened), Ordering::Relaxed)
                + u64::from(opened);
            let dc = reader.dc().unwrap_or_else(|| "(none)".into());
            tracing::info!(
                login = %login,
                dc = %dc,
                reconnect = before > 0,
                connections = total,
                bound = reader.is_bound(),
                "LDAP session opened to DC {dc} as {login}"
            );
        }
        match &result {
            // A protocol or crypto error (a reply that did not unseal or decode, ...): the
            // reader has dropped its connection; drop the reader too, so nothing of that
            // session is reused and the next read opens and binds a fresh one.
            Err(e) if !msds_gmsa::ldap::session::error_keeps_session(e) => {
                tracing::warn!(login = %login, error = %e, "LDAP session dropped after an error; the next read opens a new one");
                slot.reader = None;
            }
            _ => slot.reader = Some(reader),
        }
        slot.last_used = Instant::now();
        if !slot.sweeping {
            slot.sweeping = true;
            tokio::spawn(close_when_idle(Arc::downgrade(&cell), self.ldap_idle));
        }
        result
    }

    /// Logs in as `login` and opens and binds its LDAP session to its domain (the keytab
    /// principal's realm, or the domainless user's domain), so that the first lease of this
    /// login costs only the search and the gMSA's AS exchange. The bind is made by a base
    /// search for a gMSA on the domain's root object, which finds none.
    pub async fn prewarm(&self, login: &Login) -> Result<(), LeaseError> {
        let t = Instant::now();
        let (principal, secret, password) = Self::login_secret(login, None).await?;
        let domain = match login {
            Login::Domainless(c) => c.domain.clone(),
            _ => principal.realm_str().to_ascii_lowercase(),
        };
        let (key, tgt) = self.login_tgt(principal, secret, password).await?;
        let root = msds_gmsa::ldap::session::base_dn_from_domain(&domain).ok_or_else(|| {
            LeaseError::invalid(
                "pre-binding the LDAP session",
                format!("no base DN for the domain {domain:?}"),
            )
        })?;
        match self.read(&key, &domain, &tgt, &GmsaLookup::Dn(root)).await {
            Ok(_) | Err(GmsaError::GmsaNotFound { .. }) => {
                tracing::info!(login = %key, domain = %domain, ms = ms(t), "pre-logged in and bound the LDAP session");
                Ok(())
            }
            Err(e) => Err(LeaseError::from_gmsa(
                format!("pre-binding the LDAP session of {key} to {domain}"),
                &e,
            )),
        }
    }

    /// In the background, [`prewarm`](Self::prewarm)s the logins known from `cfg`: the host
    /// keytab when the file exists (with `cfg.machine_principal`) and the domainless user of
    /// `secret` (the AWS Secrets Manager secret or the secret file) when one is configured. Failures are only logged (at warn): a lease retries.
    pub fn spawn_prewarm(self: &Arc<Self>, cfg: &Config, secret: Option<Arc<dyn SecretSource>>) {
        let this = self.clone();
        let keytab = cfg.keytab.clone();
        let principal = cfg.machine_principal.clone();
        tokio::spawn(async move {
            let mut logins = Vec::new();
            if tokio::fs::metadata(&keytab)
                .await
                .is_ok_and(|m| m.is_file())
            {
                logins.push(Login::DomainJoined { keytab, principal });
            }
            if let Some(s) = secret {
                // The secret must name its domain: no credspec is known yet.
                match s.credentials("").await {
                    Ok(c) => logins.push(Login::Domainless(c)),
                    Err(e) => tracing::warn!(error = %e, "not pre-logging in the domainless user"),
                }
            }
            for login in logins {
                let this = this.clone();
                tokio::spawn(async move {
                    if let Err(e) = this.prewarm(&login).await {
                        tracing::warn!(login = ?login, error = %e, "pre-login at start-up failed (the first lease will log in)");
                    }
                });
            }
        });
    }

    /// The gMSA's password blob for `key` (login + gMSA), read over LDAP when not cached or when
    /// the cached one is read `stale` (the KDC refused it). A read that failed after `waiting`
    /// (when the caller started waiting for this gMSA) is not repeated: its error is returned.
    async fn password(
        &self,
        req: &TicketRequest,
        login: &str,
        key: &str,
        user_tgt: &Credentials,
        stale: Option<u64>,
        waiting: Instant,
    ) -> Result<CachedPassword, LeaseError> {
        let spec = &req.credspec;
        let slot = slot(&self.passwords, key);
        let mut guard = slot.lock().await;
        if let Some(c) = guard.value.as_ref()
            && Instant::now() < c.until
            && Some(c.generation) != stale
        {
            return Ok(c.clone());
        }
        if let Some(e) = guard.failure_since(waiting) {
            return Err(e);
        }
        let lookup = match (&req.distinguished_name, &req.ou) {
            (Some(dn), _) if !dn.is_empty() => GmsaLookup::Dn(dn.clone()),
            (_, Some(ou)) if !ou.is_empty() => GmsaLookup::UnderOu {
                ou_dn: ou.clone(),
                sam: spec.sam_account_name(),
            },
            _ => GmsaLookup::SamAccountName(spec.sam_account_name()),
        };
        let t = Instant::now();
        let fetched = self
            .read(login, &spec.domain, user_tgt, &lookup)
            .await
            .map_err(|e| {
                LeaseError::from_gmsa(
                    format!(
                        "reading msDS-ManagedPassword of {} in {} over LDAP",
                        spec.sam_account_name(),
                        spec.domain
                    ),
                    &e,
                )
            });
        let fetched = match fetched.and_then(|f| match &lookup {
            GmsaLookup::Dn(dn) => {
                check_dn_names_gmsa(dn, &f.sam_account_name, &spec.gmsa_name).map(|()| f)
            }
            _ => Ok(f),
        }) {
            Ok(f) => f,
            Err(e) => {
                guard.failed = Some((Instant::now(), e.clone()));
                return Err(e);
            }
        };
        tracing::info!(
            gmsa = %fetched.sam_account_name,
            dc = %fetched.dc,
            ms = ms(t),
            "read msDS-ManagedPassword of {} from DC {}",
            fetched.sam_account_name,
            fetched.dc
        );
        let reuse = fetched
            .blob
            .query_password_interval()
            .min(self.max_password_age);
        let entry = CachedPassword {
            blob: fetched.blob,
            sam: fetched.sam_account_name,
            dn: fetched.dn,
            until: Instant::now() + reuse,
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
        };
        guard.value = Some(entry.clone());
        guard.failed = None;
        Ok(entry)
    }

    /// The gMSA's TGT: a shared recent one, or a new AS exchange.
    async fn ticket(
        &self,
        req: TicketRequest,
        replacing_end: Option<i64>,
    ) -> Result<TicketOutcome, LeaseError> {
        let realm = req.credspec.realm();
        let (login, user_tgt) = self.user_tgt(&req).await?;
        let key = format!(
            "{login}|{}\\{}",
            req.credspec.domain,
            req.credspec.sam_account_name().to_ascii_lowercase()
        );
        let slot = slot(&self.gmsa_tgts, &key);
        let waiting = Instant::now();
        let mut guard = slot.lock().await;
        let mut stale = None;
        loop {
            let pw = self
                .password(&req, &login, &key, &user_tgt, stale, waiting)
                .await?;
            if let Some(c) = guard.value.as_ref()
                && c.generation == pw.generation
                && c.shareable(replacing_end)
            {
                return Ok(TicketOutcome {
                    tgt: c.tgt.clone(),
                    distinguished_name: pw.dn,
                });
            }
            if let Some(e) = guard.failure_since(waiting) {
                return Err(e);
            }
            let t = Instant::now();
            self.gmsa_logins.fetch_add(1, Ordering::Relaxed);
            match msds_gmsa::gmsa_tgt(&self.client, &realm, &pw.sam, &pw.blob, &self.as_opts).await
            {
                Ok(msds_gmsa::GmsaTicket { tgt, .. }) => {
                    tracing::info!(
                        gmsa = %pw.sam,
                        ms = ms(t),
                        end = tgt.end_time,
                        renewal = replacing_end.is_some(),
                        "logged in as the gMSA {}@{realm}",
                        pw.sam
                    );
                    guard.value = Some(CachedGmsaTgt {
                        tgt: tgt.clone(),
                        obtained: Instant::now(),
                        generation: pw.generation,
                    });
                    guard.failed = None;
                    return Ok(TicketOutcome {
                        tgt,
                        distinguished_name: pw.dn,
                    });
                }
                // A cached password the KDC no longer accepts: read it again once.
                Err(_) if stale.is_none() => stale = Some(pw.generation),
                Err(e) => {
                    let e = LeaseError::from_gmsa(
                        format!("logging in as the gMSA {}@{realm}", pw.sam),
                        &e,
                    );
                    guard.failed = Some((Instant::now(), e.clone()));
                    return Err(e);
                }
            }
        }
    }
}

impl TicketSource for KerberosSource {
    fn check_login<'a>(
        &'a self,
        login: &'a Login,
        realm: &'a str,
    ) -> BoxFuture<'a, Result<(), LeaseError>> {
        Box::pin(async move {
            let (principal, secret, password) = Self::login_secret(login, Some(realm)).await?;
            self.login_tgt(principal, secret, password)
                .await
                .map(|_| ())
        })
    }

    fn get_ticket(&self, req: TicketRequest) -> BoxFuture<'_, Result<TicketOutcome, LeaseError>> {
        Box::pin(self.ticket(req, None))
    }

    fn release_caches(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.release())
    }

    fn cache_sizes(&self) -> CacheSizes {
        KerberosSource::cache_sizes(self)
    }

    fn renew_ticket(
        &self,
        req: TicketRequest,
        replacing_end: Option<i64>,
    ) -> BoxFuture<'_, Result<TicketOutcome, LeaseError>> {
        Box::pin(self.ticket(req, replacing_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgt(start: i64, end: i64) -> Credentials {
        Credentials {
            client: Principal::new(
                krb5_proto::principal::name_type::PRINCIPAL,
                ["WebApp01$"],
                "EXAMPLE.TEST",
            ),
            server: Principal::krbtgt(b"EXAMPLE.TEST"),
            session_key: krb5_proto::crypto::Key::new(
                krb5_proto::crypto::EncType::Aes256CtsHmacSha196,
                &[7u8; 32],
            )
            .unwrap(),
            ticket: b"t".to_vec(),
            flags: 0,
            auth_time: start,
            start_time: start,
            end_time: end,
            renew_till: None,
            time_offset: 0,
            pa_type: None,
            client_kvno: None,
        }
    }

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn cached(start: i64, end: i64, age: Duration) -> CachedGmsaTgt {
        CachedGmsaTgt {
            tgt: tgt(start, end),
            obtained: Instant::now().checked_sub(age).unwrap(),
            generation: 1,
        }
    }

    #[test]
    fn dn_must_name_the_credspec_gmsa() {
        assert!(same_account_name("WebApp01$", "webapp01"));
        assert!(same_account_name("WEBAPP01", "WebApp01$"));
        assert!(same_account_name("WebApp01$", "WebApp01$"));
        assert!(!same_account_name("WebApp01$", "WebApp02"));
        assert!(!same_account_name("WebApp01$", "WebApp0"));
        check_dn_names_gmsa("CN=WebApp01,DC=x", "WebApp01$", "webapp01").unwrap();
        let e = check_dn_names_gmsa("CN=WebApp01,DC=x", "WebApp01$", "Other").unwrap_err();
        assert_eq!(e.kind, ErrorKind::FailedPrecondition);
        let text = e.to_string();
        assert!(
            text.contains("WebApp01$")
                && text.contains("Other$")
                && text.contains("CN=WebApp01,DC=x"),
            "{text}"
        );
    }

    #[test]
    fn sharing_window() {
        let n = now();
        // A 10-hour ticket: shared for 10 minutes (the cap), not after.
        let ten_h = 36_000;
        assert!(cached(n, n + ten_h, Duration::from_secs(1)).shareable(None));
        assert!(cached(n, n + ten_h, Duration::from_secs(590)).shareable(None));
        assert!(!cached(n, n + ten_h, Duration::from_secs(610)).shareable(None));
        // A 1-hour ticket: a tenth of its life, 6 minutes.
        assert!(cached(n, n + 3600, Duration::from_secs(300)).shareable(None));
        assert!(!cached(n, n + 3600, Duration::from_secs(370)).shareable(None));
        // Too close to its end (under the 5-minute margin): never.
        assert!(!cached(n, n + 200, Duration::ZERO).shareable(None));
    }

    #[test]
    fn a_renewal_only_takes_a_ticket_that_ends_later() {
        let n = now();
        let c = cached(n, n + 36_000, Duration::from_secs(1));
        assert!(!c.shareable(Some(n + 36_000)), "the ticket it already has");
        assert!(!c.shareable(Some(n + 40_000)));
        assert!(c.shareable(Some(n + 36_000 - 18_000)), "an older ticket");
    }

    #[test]
    fn failures_are_shared_with_waiters_only() {
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        let f = Flight::<()> {
            value: None,
            failed: Some((Instant::now(), LeaseError::internal("x", "y"))),
        };
        assert!(f.failure_since(before).is_some(), "waiting when it failed");
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            f.failure_since(Instant::now()).is_none(),
            "a later request tries again"
        );
    }

    /// The idle-close watcher leaves a session that was used meanwhile, closes it once idle, then
    /// ends (a later read starts a new one).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_sessions_are_closed() {
        let client = Client::new(krb5_proto::config::Krb5Conf::empty());
        let reader = GmsaReader::new(client, "example.test", FetchOptions::default()).unwrap();
        let cell: ReaderCell = Arc::new(tokio::sync::Mutex::new(ReaderSlot {
            reader: Some(reader),
            last_used: Instant::now(),
            sweeping: true,
        }));
        let idle = Duration::from_millis(200);
        let watcher = tokio::spawn(close_when_idle(Arc::downgrade(&cell), idle));
        tokio::time::sleep(Duration::from_millis(120)).await;
        cell.lock().await.last_used = Instant::now();
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(cell.lock().await.reader.is_some(), "used 150 ms ago: kept");
        tokio::time::timeout(Duration::from_secs(2), watcher)
            .await
            .expect("the watcher ends")
            .unwrap();
        let slot = cell.lock().await;
        assert!(slot.reader.is_none() && !slot.sweeping);
        assert!(slot.last_used.elapsed() >= idle);
    }

    /// A watcher of a dropped source ends without doing anything.
    #[tokio::test]
    async fn idle_watcher_of_a_dropped_source_ends() {
        let cell: ReaderCell = Arc::new(tokio::sync::Mutex::new(ReaderSlot {
            reader: None,
            last_used: Instant::now(),
            sweeping: true,
        }));
        let weak = Arc::downgrade(&cell);
        drop(cell);
        tokio::time::timeout(
            Duration::from_secs(2),
            close_when_idle(weak, Duration::from_millis(10)),
        )
        .await
        .unwrap();
    }

    /// A KDC stand-in on TCP that answers every request with KRB-ERROR `code` and counts them.
    async fn refusing_kdc(code: i32) -> (u16, Arc<AtomicU64>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicU64::new(0));
        let c = count.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let c = c.clone();
                tokio::spawn(async move {
                    loop {
                        let mut len = [0u8; 4];
                        if s.read_exact(&mut len).await.is_err() {
                            return;
                        }
                        let mut req = vec![0u8; u32::from_be_bytes(len).min(65_536) as usize];
                        if s.read_exact(&mut req).await.is_err() {
                            return;
                        }
                        c.fetch_add(1, Ordering::SeqCst);
                        // Slow enough that every waiter is queued behind the first attempt.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        use krb5_proto::asn1::{self, KerberosTime, KrbError, PrincipalName};
                        let err = KrbError {
                            pvno: 5,
                            msg_type: asn1::msg_type::KRB_ERROR,
                            ctime: None,
                            cusec: None,
                            stime: KerberosTime::from_unix(now()),
                            susec: 0,
                            error_code: code,
                            crealm: None,
                            cname: None,
                            realm: "EXAMPLE.TEST".into(),
                            sname: PrincipalName::new(
                                asn1::name_type::SRV_INST,
                                ["krbtgt", "EXAMPLE.TEST"],
                            ),
                            e_text: None,
                            e_data: None,
                        };
                        let out = asn1::encode(&err);
                        let mut framed = (out.len() as u32).to_be_bytes().to_vec();
                        framed.extend_from_slice(&out);
                        if s.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (port, count)
    }

    fn domainless_request(password: &str) -> TicketRequest {
        let spec = r#"{"CmsPlugins":["ActiveDirectory"],"DomainJoinConfig":{"DnsName":"example.test","NetBiosName":"EXAMPLE","MachineAccountName":"WebApp01"},"ActiveDirectoryConfig":{"GroupManagedServiceAccounts":[{"Name":"WebApp01","Scope":"example.test"}]}}"#;
        TicketRequest {
            credspec: crate::credspec::CredSpec::parse(spec.as_bytes()).unwrap(),
            login: Login::Domainless(
                super::super::secret::DomainlessCreds::new(
                    "svc-fetcher",
                    Zeroizing::new(password.into()),
                    "example.test",
                )
                .unwrap(),
            ),
            distinguished_name: None,
            ou: None,
        }
    }

    /// N requests (leases, renewals, timers) with a password the KDC refuses, all at once and
    /// then again later: ONE AS exchange reaches the KDC; everyone gets PERMISSION_DENIED
    /// naming the refusal; a different password is tried (once) again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_password_is_sent_once() {
        let (port, count) =
            refusing_kdc(krb5_proto::asn1::error_code::KDC_ERR_PREAUTH_FAILED).await;
        let client = Client::new(krb5_proto::config::Krb5Conf::empty())
            .with_kdcs(vec![
                krb5_proto::transport::KdcAddr::parse(&format!("tcp/127.0.0.1:{port}")).unwrap(),
            ])
            .with_timeout(Duration::from_secs(5));
        let src = Arc::new(KerberosSource::new(client, FetchOptions::default()));
        let req = domainless_request("wrong-password");
        let mut set = tokio::task::JoinSet::new();
        for i in 0..20 {
            let (src, req) = (src.clone(), req.clone());
            set.spawn(async move {
                if i % 2 == 0 {
                    src.get_ticket(req).await
                } else {
                    src.renew_ticket(req, Some(now())).await
                }
            });
        }
        while let Some(r) = set.join_next().await {
            let e = r.unwrap().unwrap_err();
            assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
            assert!(super::super::refusals::is_credentials_refusal(&e), "{e}");
            assert!(e.to_string().contains("KDC_ERR_PREAUTH_FAILED"), "{e}");
        }
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "one attempt for 20 requests"
        );
        // Later requests (timers, agent retries) and a check of the same credentials: none sent.
        for _ in 0..5 {
            let e = src.get_ticket(req.clone()).await.unwrap_err();
            assert!(
                e.to_string()
                    .contains("not retried until new credentials arrive"),
                "{e}"
            );
        }
        let e = src
            .check_login(&req.login, "EXAMPLE.TEST")
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert!(!e.to_string().contains("wrong-password"), "{e}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(src.user_logins(), 1);
        // Different credentials arrive: tried once, refused, remembered too.
        let other = domainless_request("another-password");
        src.get_ticket(other.clone()).await.unwrap_err();
        src.get_ticket(other).await.unwrap_err();
        assert_eq!(count.load(Ordering::SeqCst), 2);
        assert_eq!(src.gmsa_logins(), 0);
    }

    /// A KDC that is unreachable is not a refusal: the next request tries again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_kdc_errors_are_not_remembered() {
        let (port, count) =
            refusing_kdc(krb5_proto::asn1::error_code::KDC_ERR_SVC_UNAVAILABLE).await;
        let client = Client::new(krb5_proto::config::Krb5Conf::empty())
            .with_kdcs(vec![
                krb5_proto::transport::KdcAddr::parse(&format!("tcp/127.0.0.1:{port}")).unwrap(),
            ])
            .with_timeout(Duration::from_secs(5));
        let src = KerberosSource::new(client, FetchOptions::default());
        let req = domainless_request("pw");
        let e = src.get_ticket(req.clone()).await.unwrap_err();
        assert!(!super::super::refusals::is_credentials_refusal(&e), "{e}");
        let n = count.load(Ordering::SeqCst);
        src.get_ticket(req).await.unwrap_err();
        assert!(count.load(Ordering::SeqCst) > n, "tried again");
    }

    /// Ten requests of one login waiting on a KDC that never answers share one failure: they
    /// end together instead of timing out one after another.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiters_share_an_unreachable_kdc() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let client = Client::new(krb5_proto::config::Krb5Conf::empty())
            .with_kdcs(vec![
                krb5_proto::transport::KdcAddr::parse(&format!("tcp/127.0.0.1:{port}")).unwrap(),
            ])
            .with_timeout(Duration::from_millis(300));
        let src = Arc::new(KerberosSource::new(client, FetchOptions::default()));
        let spec = r#"{"CmsPlugins":["ActiveDirectory"],"DomainJoinConfig":{"DnsName":"example.test","NetBiosName":"EXAMPLE","MachineAccountName":"WebApp01"},"ActiveDirectoryConfig":{"GroupManagedServiceAccounts":[{"Name":"WebApp01","Scope":"example.test"}]}}"#;
        let req = TicketRequest {
            credspec: crate::credspec::CredSpec::parse(spec.as_bytes()).unwrap(),
            login: Login::Domainless(
                super::super::secret::DomainlessCreds::new(
                    "svc-fetcher",
                    Zeroizing::new("pw".into()),
                    "example.test",
                )
                .unwrap(),
            ),
            distinguished_name: None,
            ou: None,
        };
        let t = Instant::now();
        let e = src.get_ticket(req.clone()).await.unwrap_err();
        let one = t.elapsed();
        assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let (src, req) = (src.clone(), req.clone());
            set.spawn(async move { src.get_ticket(req).await });
        }
        while let Some(r) = set.join_next().await {
            assert_eq!(r.unwrap().unwrap_err().kind, ErrorKind::Unavailable);
        }
        let ten = t.elapsed();
        assert!(ten < one * 4, "one request {one:?}, ten at once {ten:?}");
        assert_eq!(src.gmsa_logins(), 0);
    }
}
