//! An async driver for the sans-IO exchanges over [`crate::transport`] (feature `tokio`).
//!
//! Transport policy, per request:
//!
//! * a request the state machine marks `tcp_only` (the KDC answered `KRB_ERR_RESPONSE_TOO_BIG`)
//!   goes over TCP;
//! * a realm whose replies once came back over TCP is remembered, and its later requests go over
//!   TCP first (saving the UDP round trip that would be refused again);
//! * with [`Client::with_tcp_for_tickets`], a request that the KDC answers with a ticket (an
//!   AS-REQ carrying pre-authentication, every TGS-REQ) goes straight to TCP. Active Directory's
//!   tickets carry a PAC and rarely fit the 1465-byte UDP limit: sent over UDP, such a request
//!   makes the KDC do all its work (check the pre-authentication, build the PAC, encrypt the
//!   ticket) only to answer `KRB_ERR_RESPONSE_TOO_BIG`, and the whole exchange runs twice
//!   (measured ~8 ms on Samba 4.22). The first AS-REQ without pre-authentication, answered with a
//!   small KRB-ERROR carrying the salt, still goes the way the transport prefers;
//! * otherwise UDP for requests up to `udp_preference_limit` bytes, then TCP
//!   ([`KdcClient::send`]).
//!
//! Pre-authentication in the first request ([`AsOptions::preauth_hint`]) is the state machine's
//! business: such a request is marked as expecting a ticket, so with `with_tcp_for_tickets` the
//! whole exchange is one TCP round trip.
//!
//! ```no_run
//! # async fn demo() -> krb5_proto::Result<()> {
//! use krb5_proto::as_exchange::{AsOptions, Secret};
//! use krb5_proto::client::Client;
//! use krb5_proto::config::Krb5Conf;
//! use krb5_proto::Principal;
//!
//! let client = Client::new(Krb5Conf::load_default()?);
//! let me = Principal::parse("alice@EXAMPLE.TEST", None)?;
//! let tgt = client.as_exchange(me, Secret::password("secret"), AsOptions::default()).await?;
//! let http = Principal::parse("HTTP/web.example.test@EXAMPLE.TEST", None)?;
//! let ticket = client.tgs_exchange(&tgt, http, Default::default()).await?;
//! # let _ = ticket; Ok(()) }
//! ```

use crate::as_exchange::{AsExchange, AsOptions, AsStep, Secret};
use crate::config::Krb5Conf;
use crate::creds::Credentials;
use crate::error::Result;
use crate::principal::Principal;
use crate::rand::OsRng;
use crate::realm_path::Capaths;
use crate::tgs_exchange::{TgsExchange, TgsOptions, TgsStep};
use crate::transport::{KdcAddr, KdcClient, Protocol};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Runs AS and TGS exchanges against the KDCs of a realm, found from explicit addresses,
/// krb5.conf or DNS SRV records.
///
/// Clones are cheap and share what was learnt about each realm (its KDCs, whether its replies
/// need TCP).
#[derive(Debug, Clone)]
pub struct Client {
    conf: Arc<Krb5Conf>,
    kdcs: Vec<KdcAddr>,
    timeout: Option<Duration>,
    dns_server: Option<std::net::SocketAddr>,
    tcp_for_tickets: bool,
    /// Per realm: the KDC client found (so DNS is not asked again for every message) and whether
    /// its replies have outgrown UDP (then TCP is used first, saving a round trip per message).
    realms: Arc<Mutex<HashMap<Vec<u8>, RealmState>>>,
    /// Cross-realm TGTs (`krbtgt/B@A`) obtained by TGS exchanges, reused by the next ones.
    inter_realm: Arc<Mutex<Vec<Credentials>>>,
    /// Per realm: our Active Directory site, when one was learnt ([`Client::set_site`]).
    sites: Arc<Mutex<HashMap<Vec<u8>, String>>>,
}

/// Most cross-realm TGTs a [`Client`] keeps (the oldest are dropped first).
const MAX_HELD_TGTS: usize = 64;

/// A service ticket and the cross-realm TGTs obtained on the way to it.
#[derive(Debug, Clone)]
pub struct TgsOutcome {
    /// The service ticket.
    pub ticket: Credentials,
    /// Cross-realm TGTs obtained from KDCs (not the held ones), in the order obtained: store
    /// them in the ccache beside the TGT, as MIT does.
    pub new_tgts: Vec<Credentials>,
}

#[derive(Debug, Clone)]
struct RealmState {
    kdc: KdcClient,
    tcp_first: bool,
    /// When the KDCs were found (looked up again after [`REALM_TTL`]).
    found: Instant,
}

/// How long a realm's KDC list (from krb5.conf or DNS, reordered by the answers) is kept before
/// it is looked up again: DNS changes reach a long-running client, and a KDC that was passed over
/// (it did not answer) gets its place back.
pub const REALM_TTL: Duration = Duration::from_secs(15 * 60);

impl Client {
    /// A client that finds KDCs through `conf` (and DNS when it allows).
    pub fn new(conf: Krb5Conf) -> Self {
        Self {
            conf: Arc::new(conf),
            kdcs: Vec::new(),
            timeout: None,
            dns_server: None,
            tcp_for_tickets: false,
            realms: Arc::default(),
            inter_realm: Arc::default(),
            sites: Arc::default(),
        }
    }

    /// Tells the client our Active Directory site for `realm` (from a CLDAP NetLogon ping):
    /// when that realm's KDCs come from DNS, the KDCs of the site are tried first from then on
    /// ([`KdcClient::discover_in_site`](crate::transport::KdcClient::discover_in_site)).
    /// Shared by the client's clones; a change of site makes the next message look the KDCs up
    /// again.
    pub fn set_site(&self, realm: &str, site: &str) {
        let key = realm.as_bytes().to_vec();
        let Ok(mut sites) = self.sites.lock() else {
            return;
        };
        if sites.get(&key).map(String::as_str) == Some(site) {
            return;
        }
        sites.insert(key.clone(), site.to_owned());
        drop(sites);
        if let Ok(mut realms) = self.realms.lock() {
            realms.remove(&key);
        }
    }

    /// The site set for `realm` by [`set_site`](Self::set_site).
    pub fn site(&self, realm: &str) -> Option<String> {
        self.sites.lock().ok()?.get(realm.as_bytes()).cloned()
    }

    /// Sends every request that the KDC answers with a ticket (an AS-REQ with
    /// pre-authentication, every TGS-REQ) straight over TCP: right for Active Directory, whose
    /// tickets carry a PAC too large for UDP (see the [module documentation](self)).
    pub fn with_tcp_for_tickets(mut self) -> Self {
        self.tcp_for_tickets = true;
        self
    }

    /// Whether [`with_tcp_for_tickets`](Self::with_tcp_for_tickets) is set.
    pub fn tcp_for_tickets(&self) -> bool {
        self.tcp_for_tickets
    }

    /// Uses these KDCs for every realm instead of looking them up.
    pub fn with_kdcs(mut self, kdcs: Vec<KdcAddr>) -> Self {
        self.kdcs = kdcs;
        self
    }

    /// Sets the per-attempt timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends DNS queries for KDCs (SRV records and the KDCs' host names) to this server instead
    /// of the system's resolvers.
    pub fn with_dns_server(mut self, server: std::net::SocketAddr) -> Self {
        self.dns_server = Some(server);
        self
    }

    /// The KDC client for `realm` (explicit KDCs, else krb5.conf, else DNS SRV).
    pub async fn kdc_for(&self, realm: &[u8]) -> Result<KdcClient> {
        self.kdc_client(realm).await
    }

    /// The configuration in use.
    pub fn conf(&self) -> &Krb5Conf {
        &self.conf
    }

    fn cached(&self, realm: &[u8]) -> Option<RealmState> {
        self.realms
            .lock()
            .ok()?
            .get(realm)
            .filter(|s| s.found.elapsed() < REALM_TTL)
            .cloned()
    }

    async fn kdc_client(&self, realm_bytes: &[u8]) -> Result<KdcClient> {
        if let Some(state) = self.cached(realm_bytes) {
            return Ok(state.kdc);
        }
        let realm = String::from_utf8_lossy(realm_bytes).into_owned();
        let mut c = if self.kdcs.is_empty() {
            let site = self.site(&realm);
            KdcClient::discover_in_site(&realm, &self.conf, self.dns_server, site.as_deref())
                .await?
        } else {
            KdcClient::new(&realm, self.kdcs.clone()).with_dns_server(self.dns_server)
        };
        if let Some(t) = self.timeout {
            c = c.with_timeout(t);
        }
        if let Ok(mut map) = self.realms.lock() {
            // A fresh lookup replaces an expired entry; what was learnt about TCP stays.
            let tcp_first = map.get(realm_bytes).is_some_and(|s| s.tcp_first);
            let state = map.entry(realm_bytes.to_vec()).or_insert(RealmState {
                kdc: c.clone(),
                tcp_first,
                found: Instant::now(),
            });
            if state.found.elapsed() >= REALM_TTL {
                *state = RealmState {
                    kdc: c.clone(),
                    tcp_first,
                    found: Instant::now(),
                };
            }
            return Ok(state.kdc.clone());
        }
        Ok(c)
    }

    async fn send(
        &self,
        realm: &[u8],
        bytes: &[u8],
        tcp_only: bool,
        expects_ticket: bool,
    ) -> Result<Vec<u8>> {
        let kdc = self.kdc_client(realm).await?;
        let tcp_first = self.cached(realm).is_some_and(|s| s.tcp_first);
        let by_policy = self.tcp_for_tickets && expects_ticket;
        let rep = if tcp_only || tcp_first || by_policy {
            kdc.send_tcp(bytes).await?
        } else {
            kdc.send(bytes).await?
        };
        // The KDC that answered is asked first next time: one that is down (silent, or refusing)
        // costs its timeout once per realm and lookup, not once per message.
        if rep.kdc_index > 0
            && let Ok(mut map) = self.realms.lock()
            && let Some(state) = map.get_mut(realm)
            && state.kdc.kdcs().get(rep.kdc_index) == kdc.kdcs().get(rep.kdc_index)
        {
            state.kdc = state.kdc.clone().with_first(rep.kdc_index);
        }
        // A small request answered over TCP means the UDP reply was too big (KRB_ERR_RESPONSE_TOO_BIG):
        // this realm's replies carry PACs, so go straight to TCP from now on. TCP chosen by
        // policy says nothing about the realm.
        if (tcp_only || rep.protocol == Protocol::Tcp)
            && !by_policy
            && !tcp_first
            && let Ok(mut map) = self.realms.lock()
            && let Some(state) = map.get_mut(realm)
        {
            state.tcp_first = true;
        }
        Ok(rep.bytes)
    }

    /// Gets a ticket (a TGT unless `opts.server` says otherwise) for `client`.
    pub async fn as_exchange(
        &self,
        client: Principal,
        secret: Secret,
        opts: AsOptions,
    ) -> Result<Credentials> {
        let (mut pending, mut req) =
            AsExchange::new(client, secret, opts).start(SystemTime::now(), &mut OsRng);
        loop {
            let reply = self
                .send(&req.realm, &req.bytes, req.tcp_only, req.expects_ticket)
                .await?;
            match pending.handle_reply(&reply, SystemTime::now(), &mut OsRng)? {
                AsStep::Send(p, r) => (pending, req) = (*p, r),
                AsStep::Done(creds) => return Ok(creds),
            }
        }
    }

    /// Gets a service ticket for `server` with `tgt`, across realms when needed (see
    /// [`crate::tgs_exchange`]): `[capaths]` come from the client's krb5.conf unless
    /// `opts.capaths` has entries, and cross-realm TGTs obtained by earlier exchanges of this
    /// client (and its clones) are reused.
    pub async fn tgs_exchange(
        &self,
        tgt: &Credentials,
        server: Principal,
        opts: TgsOptions,
    ) -> Result<Credentials> {
        Ok(self
            .tgs_exchange_with_tgts(tgt, server, opts, Vec::new())
            .await?
            .ticket)
    }

    /// [`tgs_exchange`](Self::tgs_exchange) that also uses the cross-realm TGTs `held` (e.g.
    /// read from a ccache) and returns the ones it obtained.
    pub async fn tgs_exchange_with_tgts(
        &self,
        tgt: &Credentials,
        server: Principal,
        mut opts: TgsOptions,
        mut held: Vec<Credentials>,
    ) -> Result<TgsOutcome> {
        if opts.capaths.is_empty() {
            opts.capaths = Capaths::from_conf(&self.conf);
        }
        let now = SystemTime::now();
        if let Ok(mut cache) = self.inter_realm.lock() {
            cache.retain(|t| t.is_valid_at(now, Duration::from_secs(60)));
            held.extend(cache.iter().filter(|t| t.client == tgt.client).cloned());
        }
        let (mut pending, mut req) = TgsExchange::new(tgt.clone(), server, opts)
            .with_tgts(held)
            .start(now, &mut OsRng)?;
        let mut new_tgts = Vec::new();
        loop {
            let reply = self
                .send(&req.realm, &req.bytes, req.tcp_only, req.expects_ticket)
                .await?;
            match pending.handle_reply_at(&reply, SystemTime::now(), &mut OsRng)? {
                TgsStep::Send(p, r) => {
                    new_tgts = p.new_tgts().to_vec();
                    (pending, req) = (*p, r)
                }
                TgsStep::Done(ticket) => {
                    if !new_tgts.is_empty()
                        && let Ok(mut cache) = self.inter_realm.lock()
                    {
                        cache.retain(|t| {
                            !new_tgts
                                .iter()
                                .any(|n| n.server == t.server && n.client == t.client)
                        });
                        cache.extend(new_tgts.iter().cloned());
                        let excess = cache.len().saturating_sub(MAX_HELD_TGTS);
                        cache.drain(..excess);
                    }
                    return Ok(TgsOutcome { ticket, new_tgts });
                }
            }
        }
    }
}
