//! The lease state machine: add, renew, delete, recover after a restart, and the renewal timers.
//!
//! State lives on disk (the metadata files are the source of truth) and in a map guarded by a
//! `std::sync::Mutex` that is never held across an `.await`, so RPCs run concurrently and a slow
//! DC only delays the requests that need it.

use super::error::{ErrorKind, LeaseError};
use super::lease::{CCACHE_NAME, Durability, Layout, LeaseId, Metadata, TicketInfo};
use super::secret::{DomainlessCreds, SecretSource, user_key};
use super::source::{Login, TicketRequest, TicketSource};
use super::specs::{LeaseSpecs, SpecText};
use crate::credspec::CredSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

/// When tickets are renewed.
#[derive(Debug, Clone)]
pub struct RenewPolicy {
    /// Renew at a random point between these fractions of the ticket's life (default 0.5-0.75).
    pub window: (f64, f64),
    /// Test override: renew this long after each success, regardless of the ticket's life.
    pub fixed: Option<Duration>,
    /// First retry delay after a failure (doubles up to `retry_max`).
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Shortest delay before a renewal scheduled from a ticket's life (default
    /// [`MIN_RENEW_DELAY`]): a ticket already near (or past) its end is renewed after this,
    /// never in a hot loop. Not applied to `fixed`.
    pub min_delay: Duration,
    /// How often the timer watchdog looks for renewal timers that ended while their lease
    /// lives (default [`TIMER_CHECK`]).
    pub timer_check: Duration,
}

/// Default [`RenewPolicy::timer_check`].
pub const TIMER_CHECK: Duration = Duration::from_secs(60);

/// Default [`RenewPolicy::min_delay`]: 30 s. A KDC handing out tickets shorter than this (or a
/// renewal that keeps getting a ticket close to its end) costs one AS exchange per 30 s per
/// ticket at most.
pub const MIN_RENEW_DELAY: Duration = Duration::from_secs(30);

impl Default for RenewPolicy {
    fn default() -> Self {
        Self {
            window: (0.5, 0.75),
            fixed: None,
            retry_min: Duration::from_secs(10),
            retry_max: Duration::from_secs(600),
            min_delay: MIN_RENEW_DELAY,
            timer_check: TIMER_CHECK,
        }
    }
}

impl RenewPolicy {
    /// The delay before renewing a ticket valid from `start` to `end`, at `kdc_now`: all three
    /// on the KDC's clock (Unix seconds; see [`super::clock::KdcClock::kdc_now`]). A random point
    /// of `window`, at least `min_delay`, at most 30 days.
    pub fn delay(&self, start: i64, end: i64, kdc_now: i64) -> Duration {
        if let Some(d) = self.fixed {
            return d;
        }
        let life = (end - start).max(0) as f64;
        let (lo, hi) = self.window;
        let frac = lo + (hi - lo) * random_unit();
        let at = start as f64 + life * frac;
        let min = self.min_delay.as_secs_f64();
        Duration::from_secs_f64((at - kdc_now as f64).clamp(min, (30.0 * 86_400.0f64).max(min)))
    }
}

impl RenewPolicy {
    /// A retry delay: `base` with +-25% jitter, at least `retry_min`, at most `retry_max`.
    pub fn jittered(&self, base: Duration) -> Duration {
        base.mul_f64(0.75 + 0.5 * random_unit())
            .clamp(self.retry_min, self.retry_max.max(self.retry_min))
    }
}

/// File in a lease directory saying why its renewal is not happening normally (absent when it
/// is): "waiting for credentials since ...: ..." or "failing since ..., retrying: ...".
pub const RENEWAL_STATE_NAME: &str = "renewal_state";

/// A uniform number in [0, 1).
fn random_unit() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0)
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Manager settings.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// The krbdir layout.
    pub layout: Layout,
    /// Mode of written ccaches (default 0600).
    pub ccache_mode: u32,
    /// Group given to ccaches and ticket directories (then readable by that group with a 064x mode).
    pub ccache_gid: Option<u32>,
    /// The domain-joined login (host keytab).
    pub domain_joined: Login,
    /// `CF_GMSA_DISTINGUISHED_NAME`.
    pub gmsa_dn: Option<String>,
    /// `CF_GMSA_OU`.
    pub gmsa_ou: Option<String>,
    /// Renewal timing.
    pub renew: RenewPolicy,
}

impl ManagerConfig {
    /// The defaults for a krbdir at `root`: ccaches 0600 without a group, the host keytab
    /// `/etc/krb5.keytab` with its default principal, no configured DN or OU, default renewal
    /// timing.
    ///
    /// ```
    /// use credentials_fetcherd::server::manager::ManagerConfig;
    /// let cfg = ManagerConfig {
    ///     ccache_mode: 0o640,
    ///     ..ManagerConfig::new("/var/credentials-fetcher/krbdir")
    /// };
    /// assert_eq!(cfg.ccache_gid, None);
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            layout: Layout { root: root.into() },
            ccache_mode: 0o600,
            ccache_gid: None,
            domain_joined: Login::DomainJoined {
                keytab: "/etc/krb5.keytab".into(),
                principal: None,
            },
            gmsa_dn: None,
            gmsa_ou: None,
            renew: RenewPolicy::default(),
        }
    }
}

/// Which login a new lease uses.
#[derive(Debug, Clone)]
pub enum LeaseLogin {
    /// The host keytab.
    DomainJoined,
    /// A domainless user.
    Domainless(DomainlessCreds),
}

struct Entry {
    metadata: Metadata,
    timers: Vec<AbortHandle>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        for t in &self.timers {
            t.abort();
        }
    }
}

/// Shared state behind [`Manager`].
struct Inner {
    cfg: ManagerConfig,
    source: Arc<dyn TicketSource>,
    secret: Option<Arc<dyn SecretSource>>,
    leases: Mutex<HashMap<LeaseId, Entry>>,
    /// Leases being created (reserved ids), see [`Reservation`].
    creating: Mutex<HashMap<LeaseId, Creating>>,
    /// Domainless passwords known in memory (from RPCs or the secret source), by `user@domain`.
    users: Mutex<HashMap<String, DomainlessCreds>>,
    /// KDC clock offsets per realm: renewals are scheduled on the KDC's time.
    clock: Arc<super::clock::KdcClock>,
    /// Bumped whenever credentials arrive (a checked renew, an add, the secret source): wakes
    /// the timers waiting for credentials after a refused login.
    creds_arrived: watch::Sender<u64>,
}

/// The lease manager. Cheap to clone.
#[derive(Clone)]
pub struct Manager(Arc<Inner>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A lease's tickets, obtained but not written yet.
struct Filled {
    md: Metadata,
    times: Vec<(i64, i64)>,
    files: Vec<(PathBuf, ccache::Ccache)>,
}

/// A lease being created: a delete cancels it and waits until `done` turns true (committed or
/// rolled back).
struct Creating {
    cancel: CancellationToken,
    done: watch::Receiver<bool>,
}

/// Held from the moment an add reserves its lease id until the lease is committed or rolled
/// back: on drop, an uncommitted lease whose files were written is removed, and the id is
/// released (waking a delete waiting for it).
struct Reservation {
    inner: Arc<Inner>,
    id: LeaseId,
    cancel: CancellationToken,
    done: watch::Sender<bool>,
    /// The lease directory is ours and written.
    written: bool,
    committed: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.committed && self.written {
            let dir = self.inner.cfg.layout.lease_dir(&self.id);
            let why = if self.cancel.is_cancelled() {
                "its caller went away (cancelled or past its deadline) or it was deleted"
            } else {
                "it was not committed"
            };
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {
                    tracing::warn!(lease = %self.id, "lease rolled back before its commit: {why}; its files are removed")
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(lease = %self.id, error = %e, "rolling back lease {}: cannot remove {}", self.id, dir.display())
                }
            }
        } else if !self.committed && self.cancel.is_cancelled() {
            tracing::warn!(lease = %self.id, "lease abandoned before anything was written: its caller went away (cancelled or past its deadline) or it was deleted");
        }
        lock(&self.inner.creating).remove(&self.id);
        let _ = self.done.send(true);
    }
}

fn cancelled_error(id: &LeaseId) -> LeaseError {
    LeaseError::new(
        ErrorKind::Internal,
        format!("creating lease {id}"),
        "cancelled: the caller went away, the deadline passed or the lease was deleted",
    )
}

/// A lease written but not committed (see [`Manager::add`]): [`PendingLease::commit`] makes it
/// a served lease; dropping it removes its files.
pub struct PendingLease {
    reservation: Reservation,
    metadata: Option<Metadata>,
    times: Vec<(i64, i64)>,
    login: LeaseLogin,
    added: Added,
}

impl std::fmt::Debug for PendingLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLease")
            .field("added", &self.added)
            .finish_non_exhaustive()
    }
}

impl PendingLease {
    /// What the lease will be.
    pub fn added(&self) -> &Added {
        &self.added
    }

    /// The commit point: the lease is served from now on (renewal timers, listed, deletable),
    /// unless a delete cancelled it meanwhile (then it is rolled back and this is an error).
    pub fn commit(mut self) -> Result<Added, LeaseError> {
        let manager = Manager(self.reservation.inner.clone());
        let id = self.added.lease_id.clone();
        // The on-disk commit record (a rename): from here the lease survives a restart. A
        // delete that cancelled the lease meanwhile waits for the reservation, which removes
        // the directory whatever this did.
        if self.reservation.cancel.is_cancelled() {
            return Err(cancelled_error(&id));
        }
        super::lease::commit_pending(&manager.0.cfg.layout.root, &id)
            .map_err(|e| LeaseError::internal(format!("committing lease {id}"), e))?;
        {
            let mut leases = lock(&manager.0.leases);
            if self.reservation.cancel.is_cancelled() {
                drop(leases);
                return Err(cancelled_error(&id));
            }
            let md = self.metadata.take().unwrap_or_default();
            let timers = md
                .tickets
                .iter()
                .zip(&self.times)
                .map(|(t, (s, e))| {
                    let now = manager.0.clock.kdc_now(&realm_of(t));
                    manager.spawn_timer(
                        id.clone(),
                        t.clone(),
                        manager.0.cfg.renew.delay(*s, *e, now),
                    )
                })
                .collect();
            leases.insert(
                id.clone(),
                Entry {
                    metadata: md,
                    timers,
                },
            );
            self.reservation.committed = true;
        }
        if let LeaseLogin::Domainless(c) = &self.login {
            manager.store_user(c.clone());
        }
        tracing::info!(lease = %id, tickets = self.added.dirs.len(), "lease created");
        Ok(self.added.clone())
    }
}

/// The result of adding a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The new lease.
    pub lease_id: LeaseId,
    /// The ticket directories, one per distinct gMSA, in request order.
    pub dirs: Vec<PathBuf>,
    /// For each requested credspec, in request order, its ticket directory (duplicates share
    /// the directory named after their first spelling).
    pub paths: Vec<PathBuf>,
}

impl Manager {
    /// A manager over `cfg.layout.root`; call [`Manager::recover`] before serving.
    pub fn new(
        cfg: ManagerConfig,
        source: Arc<dyn TicketSource>,
        secret: Option<Arc<dyn SecretSource>>,
    ) -> Self {
        Self::with_clock(cfg, source, secret, Arc::default())
    }

    /// [`Manager::new`] with the KDC clock `clock` (tests inject the local time).
    pub fn with_clock(
        cfg: ManagerConfig,
        source: Arc<dyn TicketSource>,
        secret: Option<Arc<dyn SecretSource>>,
        clock: Arc<super::clock::KdcClock>,
    ) -> Self {
        Self(Arc::new(Inner {
            cfg,
            source,
            secret,
            leases: Mutex::default(),
            creating: Mutex::default(),
            users: Mutex::default(),
            clock,
            creds_arrived: watch::Sender::new(0),
        }))
    }

    /// The per-realm KDC clock offsets renewals are scheduled with.
    pub fn kdc_clock(&self) -> &super::clock::KdcClock {
        &self.0.clock
    }

    /// The settings.
    pub fn config(&self) -> &ManagerConfig {
        &self.0.cfg
    }

    /// Whether leases can be created now: the krbdir exists and is a writable directory.
    pub fn healthy(&self) -> Result<(), String> {
        let root = &self.0.cfg.layout.root;
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() && !m.permissions().readonly() => Ok(()),
            Ok(_) => Err(format!("{} is not a writable directory", root.display())),
            Err(e) => Err(format!("{}: {e}", root.display())),
        }
    }

    /// Ids of the current leases.
    pub fn lease_ids(&self) -> Vec<LeaseId> {
        let mut v: Vec<LeaseId> = lock(&self.0.leases).keys().cloned().collect();
        v.sort();
        v
    }

    /// A lease's metadata.
    pub fn lease(&self, id: &LeaseId) -> Option<Metadata> {
        lock(&self.0.leases).get(id).map(|e| e.metadata.clone())
    }

    /// Rebuilds the state from the metadata files in the krbdir (ours or upstream's) and schedules
    /// renewals from each ccache's end time. Returns the number of leases found.
    pub fn recover(&self) -> Result<usize, LeaseError> {
        let root = self.0.cfg.layout.root.clone();
        std::fs::create_dir_all(&root).map_err(|e| {
            LeaseError::new(
                ErrorKind::FailedPrecondition,
                format!("creating the krbdir {}", root.display()),
                e,
            )
        })?;
        // Leftovers of an add that never answered (no committed metadata) or of a delete that
        // was under way (a tombstone): neither is a lease.
        for dir in super::lease::scan_leftovers(&root) {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {
                    tracing::warn!(path = %dir.display(), "removed what an interrupted add or delete left (the daemon stopped before it answered)")
                }
                Err(e) => {
                    tracing::error!(path = %dir.display(), error = %e, "cannot remove what an interrupted add or delete left")
                }
            }
        }
        let ids = super::lease::scan(&root).map_err(|e| {
            LeaseError::new(ErrorKind::FailedPrecondition, "scanning the krbdir", e)
        })?;
        let mut n = 0;
        for id in ids {
            // Leftovers of an interrupted ccache or metadata write.
            remove_temp_files(&self.0.cfg.layout.lease_dir(&id));
            match Metadata::read(&root, &id) {
                Ok(md) => {
                    self.tighten_modes(&id, &md);
                    let mut timers = Vec::new();
                    for t in &md.tickets {
                        remove_temp_files(&t.dir());
                        let times = read_ccache_times(&t.dir().join(CCACHE_NAME));
                        let realm = realm_of(t);
                        if let Some((_, _, Some(offset))) = times {
                            self.0.clock.observe(&realm, offset);
                        }
                        let now = self.0.clock.kdc_now(&realm);
                        let delay = match times {
                            Some((start, end, _)) if end > now => {
                                self.0.cfg.renew.delay(start, end, now)
                            }
                            // Expired or unreadable: renewed at once (once; later renewals
                            // are scheduled from the new ticket, at least `min_delay` apart).
                            _ => Duration::from_secs(1),
                        };
                        timers.push(self.spawn_timer(id.clone(), t.clone(), delay));
                    }
                    tracing::info!(lease = %id, tickets = md.tickets.len(), "recovered lease");
                    lock(&self.0.leases).insert(
                        id,
                        Entry {
                            metadata: md,
                            timers,
                        },
                    );
                    n += 1;
                }
                Err(e) => {
                    tracing::warn!(lease = %id, error = %e, "ignoring a lease whose metadata cannot be used")
                }
            }
        }
        self.spawn_timer_watchdog();
        Ok(n)
    }

    /// Gives an adopted lease (written by an older version or by upstream, with a 0755 lease
    /// directory and 0644 metadata) the modes and group a new one gets: directories
    /// [`super::lease::dir_mode`], metadata and renewal state 0600, group `CF_KRB5CC_GID`
    /// when set. Failures are only logged: the lease is served either way.
    fn tighten_modes(&self, id: &LeaseId, md: &Metadata) {
        use super::lease::{METADATA_MODE, dir_mode, set_mode_and_group};
        let (cfg, gid) = (&self.0.cfg, self.0.cfg.ccache_gid);
        let dmode = dir_mode(cfg.ccache_mode);
        let lease_dir = cfg.layout.lease_dir(id);
        let mut paths = vec![
            (lease_dir.clone(), dmode),
            (cfg.layout.metadata_path(id), METADATA_MODE),
            (lease_dir.join(RENEWAL_STATE_NAME), METADATA_MODE),
        ];
        paths.extend(md.tickets.iter().map(|t| (t.dir(), dmode)));
        for (path, mode) in paths {
            match set_mode_and_group(&path, mode, gid) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(lease = %id, path = %path.display(), error = %e, "cannot set the mode {mode:o} of an adopted lease's file")
                }
            }
        }
    }

    fn login_for(&self, login: &LeaseLogin) -> Login {
        match login {
            LeaseLogin::DomainJoined => self.0.cfg.domain_joined.clone(),
            LeaseLogin::Domainless(c) => Login::Domainless(c.clone()),
        }
    }

    /// Creates a lease up to its commit point: every ticket is obtained and written (or nothing
    /// is left behind), and the lease is returned as a [`PendingLease`] that the caller commits
    /// with [`PendingLease::commit`] right before answering. Until then the lease is not served
    /// (no renewal timer, not listed); dropping it uncommitted rolls it back (its files are
    /// removed and the log says so).
    ///
    /// The work runs in its own task so a half-written lease is never abandoned; when this future
    /// is dropped (the client went away, or the RPC's deadline passed) the task is cancelled: it
    /// stops before writing anything, or, when the files are already written, rolls them back.
    pub async fn add(
        &self,
        specs: LeaseSpecs,
        login: LeaseLogin,
        lease_id: Option<LeaseId>,
    ) -> Result<PendingLease, LeaseError> {
        let this = self.clone();
        let cancel = CancellationToken::new();
        let caller_gone = cancel.clone().drop_guard();
        let r = tokio::spawn(async move { this.add_inner(specs, login, lease_id, cancel).await })
            .await
            .map_err(|e| LeaseError::internal("creating the lease", e));
        caller_gone.disarm();
        r?
    }

    async fn add_inner(
        &self,
        specs: LeaseSpecs,
        login: LeaseLogin,
        lease_id: Option<LeaseId>,
        cancel: CancellationToken,
    ) -> Result<PendingLease, LeaseError> {
        let id = match lease_id {
            Some(id) => id,
            None => {
                LeaseId::generate().map_err(|e| LeaseError::internal("drawing a lease id", e))?
            }
        };
        let mut reservation = {
            let leases = lock(&self.0.leases);
            let mut creating = lock(&self.0.creating);
            if leases.contains_key(&id) || creating.contains_key(&id) {
                return Err(LeaseError::new(
                    ErrorKind::Internal,
                    "creating the lease",
                    format!("lease {id} exists"),
                ));
            }
            let (done, done_rx) = watch::channel(false);
            creating.insert(
                id.clone(),
                Creating {
                    cancel: cancel.clone(),
                    done: done_rx,
                },
            );
            Reservation {
                inner: self.0.clone(),
                id: id.clone(),
                cancel: cancel.clone(),
                done,
                written: false,
                committed: false,
            }
        };
        let filled = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(cancelled_error(&id)),
            r = self.fill_lease(&id, &specs, &login) => r,
        };
        let written = match filled {
            Ok(_) if cancel.is_cancelled() => Err(cancelled_error(&id)),
            Ok(Filled { md, times, files }) => {
                // Not cancellable once started: the blocking write finishes, then a cancelled
                // lease is rolled back by the reservation.
                let (inner, id2) = (self.0.clone(), id.clone());
                tokio::task::spawn_blocking(move || write_lease(&inner.cfg, &id2, &files, md))
                    .await
                    .map_err(|e| LeaseError::internal("writing the lease", e))
                    .and_then(|r| r)
                    .map(|md| {
                        reservation.written = true;
                        (md, times)
                    })
            }
            Err(e) => Err(e),
        };
        match written {
            Ok((md, times)) if !cancel.is_cancelled() => {
                let dirs: Vec<PathBuf> = md.tickets.iter().map(TicketInfo::dir).collect();
                let paths = specs
                    .ticket_of_each()
                    .into_iter()
                    .filter_map(|i| dirs.get(i).cloned())
                    .collect();
                Ok(PendingLease {
                    reservation,
                    metadata: Some(md),
                    times,
                    login,
                    added: Added {
                        lease_id: id,
                        dirs,
                        paths,
                    },
                })
            }
            Ok(_) => Err(cancelled_error(&id)),
            Err(e) => {
                if !cancel.is_cancelled() {
                    tracing::warn!(error = %e, "lease not created");
                }
                Err(e)
            }
        }
    }

    /// Where to read `gmsa`: the DN from the domainless user's secret when it names that gMSA,
    /// else `CF_GMSA_DISTINGUISHED_NAME`, else none (searched by name).
    fn dn_for(&self, login: &LeaseLogin, gmsa: &str) -> Option<String> {
        if let LeaseLogin::Domainless(c) = login {
            if let Some(dn) = c.dn_for(gmsa) {
                return Some(dn.to_string());
            }
            if let Some(dn) = &c.distinguished_name {
                tracing::warn!(gmsa, dn = %dn, "the secret's distinguishedName names another account; searching by name");
            }
        }
        self.0.cfg.gmsa_dn.clone()
    }

    /// Gets every ticket and builds the lease's files and metadata (nothing is written yet).
    async fn fill_lease(
        &self,
        id: &LeaseId,
        specs: &LeaseSpecs,
        login: &LeaseLogin,
    ) -> Result<Filled, LeaseError> {
        let specs: Vec<&SpecText> = specs.distinct().collect();
        let mut set = tokio::task::JoinSet::new();
        for (i, SpecText { spec, .. }) in specs.iter().enumerate() {
            let req = TicketRequest {
                credspec: spec.clone(),
                login: self.login_for(login),
                distinguished_name: self.dn_for(login, &spec.gmsa_name),
                ou: self.0.cfg.gmsa_ou.clone(),
            };
            let source = self.0.source.clone();
            set.spawn(async move { (i, source.get_ticket(req).await) });
        }
        let mut outcomes = vec![None; specs.len()];
        while let Some(r) = set.join_next().await {
            let (i, r) = r.map_err(|e| LeaseError::internal("getting a ticket", e))?;
            let o = r?;
            if let Some(slot) = outcomes.get_mut(i) {
                *slot = Some(o);
            }
        }
        let mut md = Metadata::default();
        let mut times = Vec::new();
        let mut files = Vec::new();
        for (SpecText { spec, text }, o) in specs.iter().zip(outcomes) {
            let o = o.ok_or_else(|| LeaseError::internal("getting a ticket", "missing result"))?;
            let dir = self.0.cfg.layout.ticket_dir(id, &spec.gmsa_name);
            self.0.clock.observe(&spec.realm(), o.tgt.time_offset);
            times.push((o.tgt.start_time, o.tgt.end_time));
            files.push((dir.clone(), crate::convert::new_cache(&o.tgt)));
            md.tickets.push(TicketInfo {
                krb_file_path: dir.join(CCACHE_NAME).display().to_string(),
                service_account_name: spec.gmsa_name.clone(),
                domain_name: spec.domain.clone(),
                domainless_user: match login {
                    LeaseLogin::Domainless(c) => c.username.clone(),
                    LeaseLogin::DomainJoined => String::new(),
                },
                // Recorded only for a user of another domain than the gMSA's (renewals log in
                // to the user's realm and match the user's key, never the gMSA's domain).
                domainless_user_domain: match login {
                    LeaseLogin::Domainless(c)
                        if !c
                            .domain
                            .eq_ignore_ascii_case(spec.domain.trim_end_matches('.')) =>
                    {
                        c.domain.clone()
                    }
                    _ => String::new(),
                },
                credspec_info: text.clone(),
                distinguished_name: o.distinguished_name,
                credential_arn: spec.credential_arn.clone().unwrap_or_default(),
            });
        }
        Ok(Filled { md, times, files })
    }

    /// Writes `dir/krb5cc` on a blocking thread (see [`write_ccache`]).
    async fn write_ccache_async(
        &self,
        dir: PathBuf,
        tgt: &krb5_proto::Credentials,
    ) -> Result<(), LeaseError> {
        let (cache, mode, gid) = (
            crate::convert::new_cache(tgt),
            self.0.cfg.ccache_mode,
            self.0.cfg.ccache_gid,
        );
        tokio::task::spawn_blocking(move || write_ccache(&dir, &cache, mode, gid, false))
            .await
            .map_err(|e| LeaseError::internal("writing a ccache", e))?
    }

    /// Deletes a lease: stops its renewals and removes its directory. An unknown id is not an
    /// error (empty list), like upstream 1.x.
    ///
    /// A lease still being created is cancelled and waited for: it is rolled back (or, when
    /// it committed first, deleted here), so no file stays behind either way.
    pub async fn delete(&self, id: &LeaseId) -> Result<Vec<PathBuf>, LeaseError> {
        let creating = lock(&self.0.creating)
            .get(id)
            .map(|c| (c.cancel.clone(), c.done.clone()));
        if let Some((cancel, mut done)) = creating {
            tracing::info!(lease = %id, "deleting a lease being created: cancelling it");
            cancel.cancel();
            let _ = done.wait_for(|d| *d).await;
        }
        let entry = lock(&self.0.leases).remove(id);
        let dir = self.0.cfg.layout.lease_dir(id);
        let dirs = match &entry {
            Some(e) => e.metadata.tickets.iter().map(TicketInfo::dir).collect(),
            None => Vec::new(),
        };
        let user = entry.as_ref().and_then(|e| {
            e.metadata
                .tickets
                .iter()
                .find(|t| !t.domainless_user.is_empty())
                .map(|t| user_key(&t.domainless_user, t.user_domain()))
        });
        drop(entry);
        if !dirs.is_empty() {
            self.release_unused(user).await;
        }
        // The delete's commit point is the rename to a tombstone: a daemon killed after it
        // removes the rest at its next start, one killed before it still has the whole lease.
        // A renewal finishing meanwhile cannot re-create the directory under its old name.
        let tomb = self.0.cfg.layout.tombstone(id);
        let _ = tokio::fs::remove_dir_all(&tomb).await;
        let gone = match tokio::fs::rename(&dir, &tomb).await {
            Ok(()) => tomb,
            // E.g. the directory is a mount point here: remove it in place.
            Err(_) => dir.clone(),
        };
        match tokio::fs::remove_dir_all(&gone).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if gone != dir => {
                tracing::warn!(lease = %id, error = %e, "lease deleted; {} is removed at the next start", gone.display());
            }
            Err(e) => {
                return Err(LeaseError::internal(
                    format!("removing {}", gone.display()),
                    e,
                ));
            }
        }
        if !dirs.is_empty() {
            tracing::info!(lease = %id, "lease deleted");
        }
        Ok(dirs)
    }

    /// After a delete: forgets the domainless user `user` when no lease uses it any more, and
    /// when no lease is left at all (none being created either), empties every cache: the
    /// known passwords and the ticket source's tickets, blobs, keys and LDAP sessions (dropped,
    /// so zeroized). A lease added later logs in and reads again.
    async fn release_unused(&self, user: Option<String>) {
        let (empty, in_use) = {
            let leases = lock(&self.0.leases);
            let in_use = user.as_ref().is_some_and(|u| {
                leases.values().any(|e| {
                    e.metadata.tickets.iter().any(|t| {
                        !t.domainless_user.is_empty()
                            && user_key(&t.domainless_user, t.user_domain()) == *u
                    })
                })
            });
            (
                leases.is_empty() && lock(&self.0.creating).is_empty(),
                in_use,
            )
        };
        if let Some(u) = user
            && !in_use
        {
            lock(&self.0.users).remove(&u);
        }
        if empty {
            let users = std::mem::take(&mut *lock(&self.0.users));
            drop(users);
            self.0.source.release_caches().await;
        }
    }

    /// Entry counts of the caches: the known domainless passwords and the ticket source's
    /// (for tests and `gmsa lease health`).
    pub fn cache_sizes(&self) -> (usize, super::source::CacheSizes) {
        (lock(&self.0.users).len(), self.0.source.cache_sizes())
    }

    /// Renews now every ticket obtained with this user's credentials and remembers the
    /// credentials for later renewals. Returns the renewed ticket directories.
    ///
    /// The new credentials are checked first with ONE login; only when the KDC accepts them do
    /// they replace the known ones. A refused (or unverifiable) renew changes nothing: the old
    /// password is kept and the leases are untouched. Without leases of this user nothing is
    /// checked or remembered.
    pub async fn renew_user(&self, creds: DomainlessCreds) -> Result<Vec<PathBuf>, LeaseError> {
        let key = creds.key();
        let targets: Vec<(LeaseId, TicketInfo)> = lock(&self.0.leases)
            .iter()
            .flat_map(|(id, e)| {
                e.metadata
                    .tickets
                    .iter()
                    .map(move |t| (id.clone(), t.clone()))
            })
            .filter(|(_, t)| {
                !t.domainless_user.is_empty()
                    && user_key(&t.domainless_user, t.user_domain()) == key
            })
            .collect();
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let login = Login::Domainless(creds.clone());
        let realm = creds.domain.to_ascii_uppercase();
        if let Err(e) = self.0.source.check_login(&login, &realm).await {
            tracing::warn!(user = %key, error = %e, "renew refused: the new credentials did not log in; the known ones and the leases are unchanged");
            return Err(e);
        }
        self.store_user(creds);
        let this = self.clone();
        tokio::spawn(async move {
            let mut set = tokio::task::JoinSet::new();
            for (id, t) in targets {
                let this = this.clone();
                set.spawn(async move {
                    let r = this.renew_ticket(&id, &t).await.map(|r| r.map(|_| t.dir()));
                    match r {
                        // The lease was deleted while this renew ran (its last delete may
                        // also have released the user's password): not this renew's failure.
                        Err(_) if !lock(&this.0.leases).contains_key(&id) => Ok(None),
                        r => r,
                    }
                });
            }
            let mut dirs = Vec::new();
            let mut first_err = None;
            while let Some(r) = set.join_next().await {
                match r {
                    Ok(Ok(Some(d))) => dirs.push(d),
                    // Deleted while this renew ran: not this renew's failure.
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "renewal failed");
                        first_err.get_or_insert(e);
                    }
                    Err(e) => {
                        first_err.get_or_insert(LeaseError::internal("renewing", e));
                    }
                }
            }
            dirs.sort();
            match first_err {
                Some(e) => Err(e),
                None => Ok(dirs),
            }
        })
        .await
        .map_err(|e| LeaseError::internal("renewing", e))?
    }

    /// The login for renewing a recorded ticket.
    async fn renewal_login(&self, t: &TicketInfo) -> Result<Login, LeaseError> {
        if t.domainless_user.is_empty() {
            return Ok(self.0.cfg.domain_joined.clone());
        }
        let key = user_key(&t.domainless_user, t.user_domain());
        if let Some(c) = lock(&self.0.users).get(&key) {
            return Ok(Login::Domainless(c.clone()));
        }
        if let Some(s) = &self.0.secret {
            let c = s.credentials(t.user_domain()).await?;
            if c.key() == key {
                self.store_user(c.clone());
                return Ok(Login::Domainless(c));
            }
        }
        Err(LeaseError::new(
            ErrorKind::FailedPrecondition,
            format!(
                "renewing {} for {}",
                t.service_account_name, t.domainless_user
            ),
            "the user's password is not known since the daemon started; it arrives with the next RenewNonDomainJoinedKerberosLease",
        ))
    }

    /// Gets a fresh ticket for `t` and rewrites its ccache; returns the new (start, end), or
    /// `None` when the lease was deleted meanwhile (nothing is written then).
    async fn renew_ticket(
        &self,
        id: &LeaseId,
        t: &TicketInfo,
    ) -> Result<Option<(i64, i64)>, LeaseError> {
        let step = format!("renewing {} of lease {id}", t.service_account_name);
        let spec = CredSpec::parse(t.credspec_info.as_bytes()).or_else(|_| {
            // Upstream's old metadata has no credspec: rebuild the minimum from the other fields.
            let json = serde_json::json!({
                "DomainJoinConfig": {"DnsName": t.domain_name},
                "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": t.service_account_name}]}
            });
            CredSpec::parse(json.to_string().as_bytes()).map_err(|e| LeaseError::internal(step.clone(), e))
        })?;
        let req = TicketRequest {
            credspec: spec,
            login: self.renewal_login(t).await?,
            distinguished_name: Some(t.distinguished_name.clone())
                .filter(|d| !d.is_empty())
                .or_else(|| self.0.cfg.gmsa_dn.clone()),
            ou: self.0.cfg.gmsa_ou.clone(),
        };
        let dir = t.dir();
        // The ticket being replaced: a shared ticket is only good enough if it ends later.
        let cc = dir.join(CCACHE_NAME);
        let replacing_end = tokio::task::spawn_blocking(move || read_ccache_times(&cc))
            .await
            .ok()
            .flatten()
            .map(|(_, end, _)| end);
        let o = self.0.source.renew_ticket(req, replacing_end).await?;
        self.0.clock.observe(&realm_of(t), o.tgt.time_offset);
        let deleted = || !lock(&self.0.leases).contains_key(id);
        if deleted() {
            tracing::info!(lease = %id, gmsa = %t.service_account_name, "renewal dropped: {step}: the lease was deleted meanwhile");
            return Ok(None);
        }
        if let Err(e) = self.write_ccache_async(dir, &o.tgt).await {
            // A delete renamed the directory away between the check and the write.
            if deleted() {
                tracing::info!(lease = %id, gmsa = %t.service_account_name, "renewal dropped: {step}: the lease was deleted meanwhile");
                return Ok(None);
            }
            return Err(e);
        }
        tracing::info!(lease = %id, gmsa = %t.service_account_name, "ticket renewed");
        Ok(Some((o.tgt.start_time, o.tgt.end_time)))
    }

    /// The renewal timer of one ticket. A transient failure (KDC or DC unreachable, timeout) is
    /// retried with jittered exponential back-off (at least `retry_min`); a login the KDC
    /// refused is not retried: the lease is marked as waiting for credentials (log and
    /// [`RENEWAL_STATE_NAME`], shown by `gmsa lease list`) until new credentials arrive.
    fn spawn_timer(&self, id: LeaseId, t: TicketInfo, first: Duration) -> AbortHandle {
        self.spawn_timer_marked(id, t, first, false)
    }

    /// [`Manager::spawn_timer`]; `marked`: the lease has a [`RENEWAL_STATE_NAME`] note that the
    /// next successful renewal removes.
    fn spawn_timer_marked(
        &self,
        id: LeaseId,
        t: TicketInfo,
        first: Duration,
        marked: bool,
    ) -> AbortHandle {
        let weak = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            let mut delay = first;
            let mut retry: Option<Duration> = None;
            let mut marked = marked;
            let mut failing_since: Option<i64> = None;
            let mut waiting = false;
            loop {
                tracing::info!(lease = %id, gmsa = %t.service_account_name, in_secs = delay.as_secs(), "next renewal scheduled");
                tokio::time::sleep(delay).await;
                let Some(inner) = weak.upgrade() else { return };
                let this = Manager(inner);
                let mut arrived = this.0.creds_arrived.subscribe();
                match this.renew_ticket(&id, &t).await {
                    // The lease is gone: so is its timer.
                    Ok(None) => return,
                    Ok(Some((s, e))) => {
                        if failing_since.is_some() || waiting || marked {
                            tracing::info!(lease = %id, gmsa = %t.service_account_name, "renewal recovered: ticket renewed");
                        }
                        retry = None;
                        failing_since = None;
                        waiting = false;
                        delay = this.0.cfg.renew.delay(s, e, this.0.clock.kdc_now(&realm_of(&t)));
                        if marked {
                            marked = false;
                            this.set_renewal_state(&id, None).await;
                        }
                    }
                    Err(e) if super::refusals::is_credentials_refusal(&e) => {
                        // Woken by other credentials (another user's) and still refused: the
                        // lease keeps its first "since".
                        if !waiting {
                            tracing::warn!(lease = %id, gmsa = %t.service_account_name, error = %e, "renewal waiting for credentials: the KDC refused the login; not retried until new credentials arrive (RenewNonDomainJoinedKerberosLease)");
                            this.set_renewal_state(
                                &id,
                                Some(format!(
                                    "waiting for credentials since {}: {e}",
                                    crate::timefmt::iso8601(now_unix())
                                )),
                            )
                            .await;
                        }
                        waiting = true;
                        marked = true;
                        retry = None;
                        failing_since = None;
                        let dir = t.dir();
                        drop(this);
                        if arrived.changed().await.is_err() {
                            return;
                        }
                        // A checked renew has usually rewritten the ticket already: schedule
                        // from it, else renew now.
                        let Some(inner) = weak.upgrade() else { return };
                        let p = inner.cfg.renew.clone();
                        let now = inner.clock.kdc_now(&realm_of(&t));
                        drop(inner);
                        let cc = dir.join(CCACHE_NAME);
                        delay = match tokio::task::spawn_blocking(move || read_ccache_times(&cc))
                            .await
                            .ok()
                            .flatten()
                        {
                            Some((s, e, _)) if s >= now - 60 && e > now => p.delay(s, e, now),
                            _ => Duration::ZERO,
                        };
                    }
                    Err(e) => {
                        waiting = false;
                        let p = &this.0.cfg.renew;
                        let next = retry.map(|r| (r * 2).min(p.retry_max)).unwrap_or(p.retry_min);
                        retry = Some(next);
                        delay = p.jittered(next);
                        // Logged at warn once when the renewal starts failing (a state change),
                        // then at debug per retry; "renewal recovered" when it works again.
                        if failing_since.is_none() {
                            tracing::warn!(lease = %id, gmsa = %t.service_account_name, error = %e, retry_in_ms = delay.as_millis() as u64, "renewal failing: retrying with back-off (shown by `gmsa lease health` and `gmsa lease list`; further failures are logged at debug until it recovers)");
                        } else {
                            tracing::debug!(lease = %id, gmsa = %t.service_account_name, error = %e, retry_in_ms = delay.as_millis() as u64, "renewal failed again");
                        }
                        this.set_renewal_state(
                            &id,
                            Some(format!(
                                "failing since {}, retrying: {e}",
                                crate::timefmt::iso8601(*failing_since.get_or_insert(now_unix()))
                            )),
                        )
                        .await;
                        marked = true;
                    }
                }
            }
        })
        .abort_handle()
    }

    /// Starts the watchdog of the renewal timers (once, from [`Manager::recover`]): every
    /// [`RenewPolicy::timer_check`] it looks for a timer that ended while its lease lives (a
    /// panic, a bug), logs it at warn, records it in the lease's [`RENEWAL_STATE_NAME`] (so
    /// `gmsa lease health` and `gmsa lease list` name the lease) and starts a new timer, which
    /// renews at once and clears the note when it succeeds.
    fn spawn_timer_watchdog(&self) {
        let weak = Arc::downgrade(&self.0);
        let every = self.0.cfg.renew.timer_check.max(Duration::from_millis(10));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                let this = Manager(inner);
                let dead: Vec<(LeaseId, usize, TicketInfo)> = lock(&this.0.leases)
                    .iter()
                    .flat_map(|(id, e)| {
                        e.timers
                            .iter()
                            .enumerate()
                            .filter(|(_, h)| h.is_finished())
                            .filter_map(|(i, _)| {
                                e.metadata
                                    .tickets
                                    .get(i)
                                    .map(|t| (id.clone(), i, t.clone()))
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect();
                for (id, i, t) in dead {
                    tracing::warn!(lease = %id, gmsa = %t.service_account_name, "the renewal timer of lease {id} ({}) stopped; starting a new one", t.service_account_name);
                    this.set_renewal_state(
                        &id,
                        Some(format!(
                            "timer stopped, restarted at {}: renewing now",
                            crate::timefmt::iso8601(now_unix())
                        )),
                    )
                    .await;
                    let handle = this.spawn_timer_marked(id.clone(), t, Duration::ZERO, true);
                    match lock(&this.0.leases).get_mut(&id) {
                        Some(e) if e.timers.get(i).is_some_and(AbortHandle::is_finished) => {
                            e.timers[i] = handle;
                        }
                        // Deleted (or already replaced) meanwhile.
                        _ => handle.abort(),
                    }
                }
            }
        });
    }

    /// TEST ONLY: stops a lease's renewal timers as a panic would (the watchdog's case).
    #[doc(hidden)]
    pub fn danger_kill_timers_for_tests(&self, id: &LeaseId) {
        if let Some(e) = lock(&self.0.leases).get(id) {
            e.timers.iter().for_each(AbortHandle::abort);
        }
    }

    /// The leases whose renewal is not happening normally, with the note of each (failing and
    /// retrying, waiting for credentials, timer restarted), read from their
    /// [`RENEWAL_STATE_NAME`] files.
    pub fn renewal_problems(&self) -> Vec<(LeaseId, String)> {
        let mut v: Vec<(LeaseId, String)> = self
            .lease_ids()
            .into_iter()
            .filter_map(|id| read_renewal_state(&self.0.cfg.layout.root, &id).map(|s| (id, s)))
            .collect();
        v.sort();
        v
    }

    /// Records a lease's renewal problem in its directory ([`RENEWAL_STATE_NAME`], read by
    /// `gmsa lease list`), or removes it (`None`: renewing normally).
    async fn set_renewal_state(&self, id: &LeaseId, state: Option<String>) {
        let path = self.0.cfg.layout.lease_dir(id).join(RENEWAL_STATE_NAME);
        let r = tokio::task::spawn_blocking(move || match state {
            Some(s) => {
                use std::io::Write as _;
                use std::os::unix::fs::OpenOptionsExt as _;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(super::lease::METADATA_MODE)
                    .open(&path)?;
                f.write_all(s.as_bytes())?;
                f.write_all(b"\n")
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        })
        .await;
        if let Ok(Err(e)) = r {
            tracing::warn!(lease = %id, error = %e, "cannot record the lease's renewal state");
        }
    }

    /// Remembers domainless credentials (e.g. from the secret source at start-up).
    pub fn remember_user(&self, creds: DomainlessCreds) {
        self.store_user(creds);
    }

    /// Stores credentials for renewals and wakes the timers waiting for credentials (when they
    /// differ from the known ones).
    fn store_user(&self, creds: DomainlessCreds) {
        let changed = lock(&self.0.users)
            .insert(creds.key(), creds.clone())
            .as_ref()
            != Some(&creds);
        if changed {
            self.0.creds_arrived.send_modify(|n| *n += 1);
        }
    }

    /// Drops every timer (for shutdown).
    pub fn shutdown(&self) {
        lock(&self.0.leases)
            .values_mut()
            .for_each(|e| e.timers.iter().for_each(AbortHandle::abort));
    }
}

/// Writes `dir/krb5cc` atomically (temporary file + rename in `dir`, so a bind mount of `dir`
/// sees the old ticket or the new one), with mode `mode` and group `gid` set before the rename.
/// `create` makes `dir` first (group `gid`); a renewal also re-creates a missing `dir` whose
/// lease directory exists.
///
/// Not fsynced: the ccache can always be rebuilt (renewal rewrites it; after a crash or power
/// loss, [`Manager::recover`] schedules an immediate renewal when it cannot be read), while the
/// fsync would cost every add a disk flush. The page cache survives the daemon being killed.
fn write_ccache(
    dir: &Path,
    cache: &ccache::Ccache,
    mode: u32,
    gid: Option<u32>,
    create: bool,
) -> Result<(), LeaseError> {
    let step = || format!("writing {}/{CCACHE_NAME}", dir.display());
    let mkdir = || super::lease::create_dir_with(dir, super::lease::dir_mode(mode), gid);
    if create {
        mkdir().map_err(|e| LeaseError::storage(step(), &e))?;
    } else if !dir.exists() && dir.parent().is_some_and(Path::is_dir) {
        mkdir().map_err(|e| LeaseError::storage(step(), &e))?;
    }
    let how = ccache::Replace::new(mode)
        .group(gid)
        .durability(Durability::PageCache);
    cache
        .write_with(&dir.join(CCACHE_NAME), &how)
        .map_err(|e| LeaseError::storage(step(), &e))
}

/// Creates a lease on disk: the lease directory, each ticket directory and ccache, then the
/// metadata under its pending name (the lease exists once [`PendingLease::commit`] renames it,
/// see [`super::lease`] on crash safety). Nothing is fsynced: see
/// [`Metadata::write_with`] and [`write_ccache`]. On failure removes what it created; a lease
/// directory that already exists is left alone (it is someone else's).
fn write_lease(
    cfg: &ManagerConfig,
    id: &LeaseId,
    files: &[(PathBuf, ccache::Ccache)],
    md: Metadata,
) -> Result<Metadata, LeaseError> {
    let lease_dir = cfg.layout.lease_dir(id);
    std::fs::create_dir(&lease_dir).map_err(|e| {
        let step = format!("creating the lease directory {}", lease_dir.display());
        match e.kind() {
            std::io::ErrorKind::AlreadyExists => LeaseError::internal(step, e),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                LeaseError::storage(step, &e)
            }
            _ => LeaseError::new(ErrorKind::FailedPrecondition, step, e),
        }
    })?;
    let r = super::lease::set_mode_and_group(
        &lease_dir,
        super::lease::dir_mode(cfg.ccache_mode),
        cfg.ccache_gid,
    )
    .map_err(|e| {
        LeaseError::internal(
            format!(
                "setting the mode of the lease directory {}",
                lease_dir.display()
            ),
            e,
        )
    })
    .and_then(|()| {
        files.iter().try_for_each(|(dir, cache)| {
            write_ccache(dir, cache, cfg.ccache_mode, cfg.ccache_gid, true)
        })
    })
    .and_then(|()| {
        md.write_pending(&cfg.layout.root, id, Durability::PageCache, cfg.ccache_gid)
            .map_err(|e| LeaseError::storage("writing the lease metadata", &e))
    });
    match r {
        Ok(()) => Ok(md),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&lease_dir);
            Err(e)
        }
    }
}

/// The first line of a lease's [`RENEWAL_STATE_NAME`] note (at most 400 characters), `None`
/// when there is none (renewing normally).
pub fn read_renewal_state(root: &Path, id: &LeaseId) -> Option<String> {
    std::fs::read_to_string(root.join(id.as_str()).join(RENEWAL_STATE_NAME))
        .ok()
        .map(|s| {
            s.lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(400)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
}

/// Removes `.<name>.tmp.*` files (left by a write the daemon was killed in) from `dir`.
fn remove_temp_files(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.')
            && name.contains(".tmp")
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The realm whose KDC issued a recorded ticket (the credspec's domain, upper case).
fn realm_of(t: &TicketInfo) -> String {
    t.domain_name.to_ascii_uppercase()
}

/// `(start, end, KDC time offset)` of the first non-config ticket in a ccache (times on the
/// KDC's clock; the offset from the DeltaTime header when there is one).
fn read_ccache_times(path: &Path) -> Option<(i64, i64, Option<i64>)> {
    let cc = ccache::Ccache::read(path).ok()?;
    let offset = cc.time_offset.map(|(s, _)| i64::from(s));
    let c = cc.tickets().next()?;
    let start = if c.starttime == 0 {
        c.authtime
    } else {
        c.starttime
    };
    Some((start as i64, c.endtime as i64, offset))
}

/// Zeroizing helper for callers building credentials from RPC strings.
pub fn secret_string(s: String) -> Zeroizing<String> {
    Zeroizing::new(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fake::FakeSource;

    fn spec(name: &str) -> String {
        serde_json::json!({
            "CmsPlugins": ["ActiveDirectory"],
            "DomainJoinConfig": {"DnsName": "example.test", "NetBiosName": "EXAMPLE", "MachineAccountName": name},
            "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": name, "Scope": "example.test"}]}
        })
        .to_string()
    }

    fn manager(root: &Path, source: Arc<FakeSource>, renew: RenewPolicy) -> Manager {
        Manager::new(
            ManagerConfig {
                renew,
                ..ManagerConfig::new(root)
            },
            source,
            None,
        )
    }

    impl Manager {
        async fn add_texts(
            &self,
            texts: Vec<String>,
            login: LeaseLogin,
            id: Option<LeaseId>,
        ) -> Result<Added, LeaseError> {
            self.add(LeaseSpecs::parse(&texts)?, login, id)
                .await?
                .commit()
        }
    }

    /// Adds and commits a lease for the one gMSA `name`.
    async fn add1(m: &Manager, name: &str, login: LeaseLogin) -> Added {
        m.add_texts(vec![spec(name)], login, None).await.unwrap()
    }

    fn creds() -> DomainlessCreds {
        DomainlessCreds::new("svc-fetcher", Zeroizing::new("pw".into()), "example.test").unwrap()
    }

    #[tokio::test]
    async fn add_merge_delete() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource::default());
        let m = manager(root.path(), src.clone(), RenewPolicy::default());
        m.recover().unwrap();
        let a = m
            .add_texts(
                vec![spec("WebApp01"), spec("webapp01"), spec("Other")],
                LeaseLogin::DomainJoined,
                None,
            )
            .await
            .unwrap();
        assert_eq!(a.dirs.len(), 2, "duplicates merged");
        assert_eq!(
            a.paths,
            [a.dirs[0].clone(), a.dirs[0].clone(), a.dirs[1].clone()],
            "one path per credspec"
        );
        assert_eq!(src.calls.load(std::sync::atomic::Ordering::Relaxed), 2);
        for d in &a.dirs {
            assert_eq!(d.parent().unwrap(), root.path().join(a.lease_id.as_str()));
            let cc = ccache::Ccache::read(&d.join("krb5cc")).unwrap();
            assert!(cc.tickets().next().is_some());
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(d.join("krb5cc"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
        }
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
            let lease_dir = root.path().join(a.lease_id.as_str());
            assert_eq!(mode(&lease_dir), 0o750, "lease dir");
            assert_eq!(mode(&a.dirs[0]), 0o750, "ticket dir");
            assert_eq!(
                mode(&lease_dir.join(format!("{}_metadata.json", a.lease_id))),
                0o600,
                "metadata"
            );
        }
        let md = Metadata::read(root.path(), &a.lease_id).unwrap();
        assert_eq!(md.tickets[0].service_account_name, "WebApp01");
        assert_eq!(md.tickets[0].domainless_user, "");
        let deleted = m.delete(&a.lease_id).await.unwrap();
        assert_eq!(deleted, a.dirs);
        assert!(!root.path().join(a.lease_id.as_str()).exists());
        assert!(
            m.delete(&a.lease_id).await.unwrap().is_empty(),
            "unknown lease: OK, empty"
        );
    }

    #[tokio::test]
    async fn failures_leave_nothing() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource::default());
        src.fail_for.lock().unwrap().push("Bad".into());
        let m = manager(root.path(), src, RenewPolicy::default());
        m.recover().unwrap();
        let e = m
            .add_texts(
                vec![spec("Good"), spec("Bad")],
                LeaseLogin::DomainJoined,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.to_string().contains("Bad$"), "{e}");
        let e = m
            .add_texts(vec!["{}".into()], LeaseLogin::DomainJoined, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("credspec #1"), "{e}");
        assert_eq!(
            m.add_texts(vec![], LeaseLogin::DomainJoined, None)
                .await
                .unwrap_err()
                .kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            std::fs::read_dir(root.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
        assert!(m.lease_ids().is_empty());
    }

    #[tokio::test]
    async fn recover_and_renew_domainless() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource::default());
        let m = manager(root.path(), src.clone(), RenewPolicy::default());
        m.recover().unwrap();
        let a = m
            .add_texts(
                vec![spec("WebApp01")],
                LeaseLogin::Domainless(creds()),
                None,
            )
            .await
            .unwrap();
        let b = m
            .add_texts(vec![spec("WebApp02")], LeaseLogin::DomainJoined, None)
            .await
            .unwrap();
        m.shutdown();
        drop(m);
        // A new process: state comes from the metadata files.
        let m2 = manager(root.path(), src.clone(), RenewPolicy::default());
        assert_eq!(m2.recover().unwrap(), 2);
        let mut ids = vec![a.lease_id.clone(), b.lease_id.clone()];
        ids.sort();
        assert_eq!(m2.lease_ids(), ids);
        // Renewal of a domainless user's tickets: only theirs.
        let before = std::fs::metadata(a.dirs[0].join("krb5cc"))
            .unwrap()
            .modified()
            .unwrap();
        let renewed = m2.renew_user(creds()).await.unwrap();
        assert_eq!(renewed, a.dirs);
        let after = std::fs::metadata(a.dirs[0].join("krb5cc"))
            .unwrap()
            .modified()
            .unwrap();
        assert!(after >= before);
        let other =
            DomainlessCreds::new("someone", Zeroizing::new("pw".into()), "example.test").unwrap();
        assert!(m2.renew_user(other).await.unwrap().is_empty());
        assert_eq!(m2.delete(&b.lease_id).await.unwrap(), b.dirs);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn timers_renew_and_stop_on_delete() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource::default());
        let renew = RenewPolicy {
            fixed: Some(Duration::from_millis(50)),
            ..RenewPolicy::default()
        };
        let m = manager(root.path(), src.clone(), renew);
        m.recover().unwrap();
        let a = m
            .add_texts(vec![spec("WebApp01")], LeaseLogin::DomainJoined, None)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let n = src.calls.load(std::sync::atomic::Ordering::Relaxed);
        assert!(n >= 3, "renewed {n} times");
        m.delete(&a.lease_id).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n2 = src.calls.load(std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            src.calls.load(std::sync::atomic::Ordering::Relaxed),
            n2,
            "no renewal after delete"
        );
        assert!(!root.path().join(a.lease_id.as_str()).exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_adds_and_a_slow_source() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource {
            delay: Duration::from_millis(200),
            ..FakeSource::default()
        });
        let m = manager(root.path(), src, RenewPolicy::default());
        m.recover().unwrap();
        let t = std::time::Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..50 {
            let m = m.clone();
            set.spawn(async move {
                m.add_texts(vec![spec(&format!("G{i}"))], LeaseLogin::DomainJoined, None)
                    .await
            });
        }
        // Health does not wait for the slow source.
        m.healthy().unwrap();
        let mut n = 0;
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
            n += 1;
        }
        assert_eq!(n, 50);
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "served concurrently: {:?}",
            t.elapsed()
        );
        assert_eq!(m.lease_ids().len(), 50);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn uncommitted_and_cancelled_adds_leave_nothing() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource {
            delay: Duration::from_millis(300),
            ..FakeSource::default()
        });
        let m = manager(root.path(), src.clone(), RenewPolicy::default());
        m.recover().unwrap();
        let specs = || LeaseSpecs::parse(&[spec("WebApp01")]).unwrap();
        // Written, then dropped before its commit: rolled back.
        let pending = m
            .add(specs(), LeaseLogin::Domainless(creds()), None)
            .await
            .unwrap();
        let dir = root.path().join(pending.added().lease_id.as_str());
        assert!(
            dir.join("WebApp01/krb5cc").exists(),
            "written before the commit"
        );
        assert!(m.lease_ids().is_empty(), "not served before the commit");
        drop(pending);
        assert!(!dir.exists(), "rolled back");
        // The caller goes away while the tickets are being fetched (a client deadline).
        let r = tokio::time::timeout(
            Duration::from_millis(50),
            m.add(specs(), LeaseLogin::DomainJoined, None),
        )
        .await;
        assert!(r.is_err(), "timed out");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
        assert!(m.lease_ids().is_empty());
        // A committed add is served.
        let a = m
            .add(specs(), LeaseLogin::DomainJoined, None)
            .await
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(m.lease_ids(), std::slice::from_ref(&a.lease_id));
        assert_eq!(
            std::fs::read_dir(root.path()).unwrap().count(),
            1,
            "only the committed lease"
        );
    }

    /// What a daemon killed at any moment leaves (simulated by forgetting a pending lease and
    /// by a half-removed tombstone) is cleaned at the next start; committed leases are whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn interrupted_adds_and_deletes_are_cleaned_at_start() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource::default());
        let m = manager(root.path(), src.clone(), RenewPolicy::default());
        m.recover().unwrap();
        let specs = || LeaseSpecs::parse(&[spec("WebApp01")]).unwrap();
        let kept = m
            .add(specs(), LeaseLogin::DomainJoined, None)
            .await
            .unwrap()
            .commit()
            .unwrap();
        assert!(m.0.cfg.layout.metadata_path(&kept.lease_id).is_file());
        // Written, killed before its commit: the metadata is only pending.
        let pending = m
            .add(specs(), LeaseLogin::DomainJoined, None)
            .await
            .unwrap();
        let uncommitted = pending.added().lease_id.clone();
        assert!(m.0.cfg.layout.pending_metadata_path(&uncommitted).is_file());
        assert!(!m.0.cfg.layout.metadata_path(&uncommitted).exists());
        std::mem::forget(pending);
        // A delete killed after its rename: a tombstone with a temporary file inside.
        let deleted = m
            .add(specs(), LeaseLogin::DomainJoined, None)
            .await
            .unwrap()
            .commit()
            .unwrap();
        let tomb = m.0.cfg.layout.tombstone(&deleted.lease_id);
        std::fs::rename(m.0.cfg.layout.lease_dir(&deleted.lease_id), &tomb).unwrap();
        std::fs::write(tomb.join("WebApp01/.krb5cc.tmp.1.0"), b"half").unwrap();
        // A ccache write killed half way in the committed lease.
        let tmp = kept.dirs[0].join(".krb5cc.tmp.1.1");
        std::fs::write(&tmp, b"half").unwrap();
        // Something else in the krbdir is not ours to remove.
        std::fs::create_dir(root.path().join("not-a-lease")).unwrap();
        m.shutdown();
        drop(m);
        let m2 = manager(root.path(), src, RenewPolicy::default());
        assert_eq!(m2.recover().unwrap(), 1);
        assert_eq!(m2.lease_ids(), std::slice::from_ref(&kept.lease_id));
        assert!(!tmp.exists());
        assert!(kept.dirs[0].join("krb5cc").is_file());
        let mut names = crate_dir_names(root.path());
        names.sort();
        let mut want = vec![kept.lease_id.to_string(), "not-a-lease".to_string()];
        want.sort();
        assert_eq!(names, want);
        // A delete renames, then removes: nothing is left, not even the tombstone.
        assert_eq!(m2.delete(&kept.lease_id).await.unwrap(), kept.dirs);
        assert_eq!(
            crate_dir_names(root.path()),
            vec!["not-a-lease".to_string()]
        );
    }

    fn crate_dir_names(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_a_lease_being_created_cancels_it() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource {
            delay: Duration::from_millis(300),
            ..FakeSource::default()
        });
        let m = manager(root.path(), src, RenewPolicy::default());
        m.recover().unwrap();
        let id = LeaseId::parse("0123456789abcdef0123").unwrap();
        // While its tickets are fetched.
        let add = {
            let (m, id) = (m.clone(), id.clone());
            tokio::spawn(async move {
                m.add(
                    LeaseSpecs::parse(&[spec("WebApp01")]).unwrap(),
                    LeaseLogin::DomainJoined,
                    Some(id),
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(m.delete(&id).await.unwrap().is_empty());
        assert!(add.await.unwrap().is_err(), "the add is cancelled");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
        // Written, not yet committed: the delete waits for the commit point, which fails.
        let pending = m
            .add(
                LeaseSpecs::parse(&[spec("WebApp01")]).unwrap(),
                LeaseLogin::DomainJoined,
                Some(id.clone()),
            )
            .await
            .unwrap();
        let del = {
            let (m, id) = (m.clone(), id.clone());
            tokio::spawn(async move { m.delete(&id).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!del.is_finished(), "the delete waits for the add");
        assert!(pending.commit().is_err(), "deleted before its commit");
        del.await.unwrap().unwrap();
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
        assert!(m.lease_ids().is_empty());
    }

    /// A renew with a refused password changes nothing (the known password keeps renewing);
    /// a timer whose login is refused stops, marks the lease as waiting for credentials, and
    /// resumes when a renew brings the right ones.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_credentials_wait_for_new_ones() {
        use std::sync::atomic::Ordering::Relaxed;
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource::default());
        let renew = RenewPolicy {
            fixed: Some(Duration::from_millis(50)),
            retry_min: Duration::from_millis(20),
            ..RenewPolicy::default()
        };
        let m = manager(root.path(), src.clone(), renew);
        m.recover().unwrap();
        let a = m
            .add_texts(
                vec![spec("WebApp01")],
                LeaseLogin::Domainless(creds()),
                None,
            )
            .await
            .unwrap();
        let state = root
            .path()
            .join(a.lease_id.as_str())
            .join(RENEWAL_STATE_NAME);
        let with = |pw: &str| {
            DomainlessCreds::new("svc-fetcher", Zeroizing::new(pw.into()), "example.test").unwrap()
        };
        // A wrong renew: one check, refused, nothing renewed, the known password kept.
        src.refused_passwords.lock().unwrap().push("bad".into());
        let calls = src.calls.load(Relaxed);
        let e = m.renew_user(with("bad")).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert_eq!(src.checks.load(Relaxed), 1);
        assert!(
            src.calls.load(Relaxed) <= calls + 1,
            "only the timer renewed"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            src.calls.load(Relaxed) >= calls + 3,
            "timers go on with the known password"
        );
        assert!(!state.exists());
        // The known password is refused now (rotated on the DC): the timer stops and waits.
        src.refused_passwords.lock().unwrap().push("pw".into());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let text = std::fs::read_to_string(&state).unwrap();
        assert!(text.starts_with("waiting for credentials since "), "{text}");
        let stopped = src.calls.load(Relaxed);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            src.calls.load(Relaxed),
            stopped,
            "no retry of a refused login"
        );
        // The wrong one again (an agent retry): refused, still waiting.
        m.renew_user(with("bad")).await.unwrap_err();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(src.calls.load(Relaxed), stopped);
        // The right one: renewed now, and the timer resumes.
        assert_eq!(m.renew_user(with("new")).await.unwrap(), a.dirs);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(src.calls.load(Relaxed) >= stopped + 3, "renewing again");
        assert!(!state.exists(), "no longer waiting");
    }

    /// The offset of the KDC's replies is kept per realm (and in the ccache, for a restart):
    /// a lease from a KDC 10 minutes ahead is scheduled on its clock.
    #[tokio::test]
    async fn kdc_offsets_are_kept_per_realm_and_recovered() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource {
            kdc_offset: 600,
            ..FakeSource::default()
        });
        let m = manager(root.path(), src.clone(), RenewPolicy::default());
        m.recover().unwrap();
        assert_eq!(m.kdc_clock().offset("EXAMPLE.TEST"), 0, "nothing seen yet");
        add1(&m, "WebApp01", LeaseLogin::DomainJoined).await;
        assert_eq!(m.kdc_clock().offset("EXAMPLE.TEST"), 600);
        assert_eq!(m.kdc_clock().offset("OTHER.TEST"), 0, "per realm");
        m.shutdown();
        drop(m);
        let m2 = manager(root.path(), src, RenewPolicy::default());
        assert_eq!(m2.recover().unwrap(), 1);
        assert_eq!(
            m2.kdc_clock().offset("example.test"),
            600,
            "read back from the ccache's DeltaTime header"
        );
        m2.shutdown();
    }

    /// A domainless user's password is forgotten with the user's last lease; every cache is
    /// emptied with the last lease of all.
    #[tokio::test]
    async fn known_passwords_go_with_the_last_lease() {
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource::default());
        let m = manager(root.path(), src, RenewPolicy::default());
        m.recover().unwrap();
        let a = add1(&m, "WebApp01", LeaseLogin::Domainless(creds())).await;
        let b = add1(&m, "WebApp02", LeaseLogin::Domainless(creds())).await;
        let c = add1(&m, "WebApp03", LeaseLogin::DomainJoined).await;
        assert_eq!(m.cache_sizes().0, 1);
        m.delete(&a.lease_id).await.unwrap();
        assert_eq!(m.cache_sizes().0, 1, "still used by lease b");
        m.delete(&b.lease_id).await.unwrap();
        assert_eq!(m.cache_sizes().0, 0, "its last lease is gone");
        m.delete(&c.lease_id).await.unwrap();
        assert!(m.cache_sizes().1.is_empty());
    }

    /// A renewal timer that dies while its lease lives is found by the watchdog: the lease is
    /// named (renewal note) while a new timer renews it, and the note goes once it has.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_timer_is_named_and_restarted() {
        use std::sync::atomic::Ordering::Relaxed;
        let root = tempfile::tempdir().unwrap();
        let src = Arc::new(FakeSource {
            delay: Duration::from_millis(400),
            ..FakeSource::default()
        });
        let renew = RenewPolicy {
            fixed: Some(Duration::from_secs(3600)),
            timer_check: Duration::from_millis(50),
            ..RenewPolicy::default()
        };
        let m = manager(root.path(), src.clone(), renew);
        m.recover().unwrap();
        let a = add1(&m, "WebApp01", LeaseLogin::DomainJoined).await;
        let b = add1(&m, "WebApp02", LeaseLogin::DomainJoined).await;
        let calls = src.calls.load(Relaxed);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(m.renewal_problems().is_empty());
        m.danger_kill_timers_for_tests(&a.lease_id);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let problems = m.renewal_problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, a.lease_id, "only the lease whose timer died");
        assert!(
            problems[0].1.starts_with("timer stopped, restarted at "),
            "{problems:?}"
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            src.calls.load(Relaxed),
            calls + 1,
            "renewed by the new timer"
        );
        assert!(
            m.renewal_problems().is_empty(),
            "the note goes with the renewal"
        );
        m.delete(&b.lease_id).await.unwrap();
        m.delete(&a.lease_id).await.unwrap();
    }

    #[test]
    fn retries_are_jittered_within_bounds() {
        let p = RenewPolicy {
            retry_min: Duration::from_secs(10),
            retry_max: Duration::from_secs(600),
            ..RenewPolicy::default()
        };
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            let d = p.jittered(Duration::from_secs(100));
            assert!(
                d >= Duration::from_secs(75) && d <= Duration::from_secs(125),
                "{d:?}"
            );
            seen.insert(d);
            assert!(
                p.jittered(Duration::from_secs(1)) >= p.retry_min,
                "minimum delay"
            );
            assert!(p.jittered(Duration::from_secs(10_000)) <= p.retry_max);
        }
        assert!(seen.len() > 50, "jittered");
    }

    #[test]
    fn renewal_schedule() {
        let p = RenewPolicy::default();
        for _ in 0..100 {
            let d = p.delay(1000, 1000 + 36_000, 1000).as_secs_f64();
            assert!((18_000.0..=27_000.0).contains(&d), "{d}");
        }
        assert_eq!(
            p.delay(0, 100, 10_000),
            MIN_RENEW_DELAY,
            "expired: after the minimum delay, never a hot loop"
        );
        assert_eq!(p.delay(1000, 1040, 1030), MIN_RENEW_DELAY, "near its end");
        let fixed = RenewPolicy {
            fixed: Some(Duration::from_millis(50)),
            ..RenewPolicy::default()
        };
        assert_eq!(fixed.delay(0, 100, 10_000), Duration::from_millis(50));
    }

    /// A 10-hour ticket from a KDC whose clock is 10 minutes ahead of (or behind) ours: renewed
    /// at 50-75% of its life on the KDC's clock, i.e. 5-7.5 hours after it was issued, where the
    /// local clock alone would be 10 minutes late (or early). Injected local clock, no waiting.
    #[test]
    fn renewal_schedule_on_kdc_time() {
        use super::super::clock::KdcClock;
        let local = 1_700_000_000i64;
        let clock = KdcClock::with_local_clock(Arc::new(move || local));
        let p = RenewPolicy::default();
        for skew in [600i64, -600, 0] {
            clock.observe("EXAMPLE.TEST", skew);
            // Issued now on the KDC's clock.
            let start = local + skew;
            let end = start + 36_000;
            for _ in 0..50 {
                let d = p.delay(start, end, clock.kdc_now("example.test"));
                assert!(
                    (18_000.0..=27_000.0).contains(&d.as_secs_f64()),
                    "skew {skew}: {d:?}"
                );
                // On the local clock alone the window moves by the skew.
                let naive = p.delay(start, end, local).as_secs_f64();
                let lo = 18_000.0 + skew as f64;
                assert!((lo..=lo + 9_000.0).contains(&naive), "{naive}");
            }
        }
        // A ticket ending 20 s from now on the KDC's clock, which is 10 minutes ahead: the
        // minimum delay (not a hot loop); the local clock alone would wait 10 minutes more,
        // past its end.
        clock.observe("EXAMPLE.TEST", 600);
        let kdc_now = clock.kdc_now("EXAMPLE.TEST");
        let (start, end) = (kdc_now - 3580, kdc_now + 20);
        assert_eq!(p.delay(start, end, kdc_now), MIN_RENEW_DELAY);
        assert!(p.delay(start, end, local) > Duration::from_secs(20));
    }
}
