//! A reusable sealed LDAP session that reads gMSA passwords: [`GmsaReader`].
//!
//! One reader holds at most one connection to one DC. The first [`GmsaReader::fetch`] finds
//! the DC, connects, gets a service ticket for `ldap/<dc>` and binds with SASL GSSAPI and the
//! confidentiality layer (or over LDAPS); later fetches reuse that sealed connection, so each
//! costs one search round trip. When the connection has died (closed by the DC, notice of
//! disconnection, reset, timeout) the reader reconnects, to the next DC first, binds again
//! and repeats the search (once per candidate DC, plus one); it also binds again on a new connection before its service ticket expires, or when
//! a different user's TGT is given.
//!
//! Round trips saved compared with a naive client: the TCP connect runs while the KDC answers
//! the TGS request for `ldap/<dc>`, and the rootDSE is not read: the search base for a
//! sAMAccountName is derived from the DNS domain (`example.test` → `DC=example,DC=test`). If
//! that guess is wrong (noSuchObject, a referral, or no entry) the rootDSE's
//! `defaultNamingContext` is read on the same connection and the search repeated there.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use krb5_proto::as_exchange::{AsOptions, Secret};
//! use krb5_proto::client::Client;
//! use krb5_proto::config::Krb5Conf;
//! use krb5_proto::Principal;
//! use msds_gmsa::{FetchOptions, GmsaLookup, GmsaReader};
//!
//! let kdc = Client::new(Krb5Conf::load_default()?);
//! let me = Principal::parse("svc-fetcher@EXAMPLE.TEST", None)?;
//! let tgt = kdc.as_exchange(me, Secret::password("secret"), AsOptions::default()).await?;
//!
//! let mut reader = GmsaReader::new(kdc, "example.test", FetchOptions::default())?;
//! for name in ["WebApp01", "WebApp02"] {
//!     let fetched = reader.fetch(&tgt, &GmsaLookup::SamAccountName(name.into())).await?;
//!     println!("{} from {}", fetched.dn, fetched.dc);
//! }
//! reader.close().await;
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant, SystemTime};

use krb5_proto::asn1::error_code::KDC_ERR_S_PRINCIPAL_UNKNOWN;
use krb5_proto::client::Client;
use krb5_proto::principal::name_type;
use krb5_proto::tgs_exchange::TgsOptions;
use krb5_proto::{Credentials, Principal};
use ldap3_proto::proto::{LdapDerefAliases, LdapSearchRequest, LdapSearchScope};

use super::LdapError;
use super::conn::{Connection, Security, TlsMode};
use super::filter::{gmsa_any, gmsa_by_sam, gmsa_sam_account_name, to_string};
use super::lookup::{FetchOptions, FetchedPassword, GMSA_ATTRS, GmsaLookup, ldaps_choice};
use super::sasl::SaslConfig;
use super::tls::TlsClient;
use crate::GmsaError;
use crate::dc::{self, DcAddr, DcChoice};

/// How long a DC choice (the site from a NetLogon ping, the SRV records) is used before it is
/// made again; also made again as soon as no candidate answers. Windows' DC locator caches its
/// answer for 15 minutes as well.
pub const DC_CHOICE_TTL: Duration = Duration::from_secs(15 * 60);

/// How long a NetLogon ping waits for each DC's answer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// A session is bound again (on a new connection) when its service ticket has less than
/// this left: AD may drop connections whose ticket expired.
const TICKET_MARGIN: Duration = Duration::from_secs(60);

/// One bound (or about to be bound) connection.
#[derive(Debug)]
struct Session {
    conn: Connection,
    dc: DcAddr,
    /// The user it is bound as, and its service ticket's end (KDC-adjusted).
    bound: Option<(Principal, Credentials)>,
}

/// Reads gMSA passwords over one sealed LDAP connection, bound once and reused; see the
/// [module documentation](self).
#[derive(Debug)]
pub struct GmsaReader {
    kdc: Client,
    domain: String,
    opts: FetchOptions,
    tls: Option<TlsClient>,
    /// The DCs to try and why, with when they were found (refreshed after [`DC_CHOICE_TTL`]).
    candidates: Option<(DcChoice, Instant)>,
    session: Option<Session>,
    /// The domain's naming context once known (from the rootDSE, or a search that found the
    /// gMSA under the derived base).
    base_dn: Option<String>,
    /// Connections opened so far (1 + reconnects).
    connects: u32,
    /// The DC of the last connection opened.
    last_dc: Option<DcAddr>,
}

/// Whether an error means the connection is unusable (so a new one may succeed).
fn connection_lost(e: &LdapError) -> bool {
    matches!(
        e,
        LdapError::Io { .. } | LdapError::Closed { .. } | LdapError::Timeout { .. }
    )
}

/// The realms to ask for `ldap/<host>` (a DC of the gMSA's `domain`), in order, as libkrb5 does
/// for a host-based name: the host's realm from krb5.conf `[domain_realm]` when it has an entry;
/// else the user's realm (the KDC refers the name to the DC's realm itself, RFC 6806, as AD does
/// within a forest), then the domain's own realm (an AD realm is its DNS domain in upper case;
/// MIT's fallback host realm) when it differs, reached through cross-realm TGTs.
///
/// ```
/// use krb5_proto::config::Krb5Conf;
/// use msds_gmsa::ldap::session::ldap_service_realms;
///
/// let none = Krb5Conf::empty();
/// assert_eq!(
///     ldap_service_realms("apps.corp.example.", "dc1.apps.corp.example", "CORP.EXAMPLE", &none),
///     ["CORP.EXAMPLE", "APPS.CORP.EXAMPLE"]
/// );
/// let conf = Krb5Conf::parse("[domain_realm]\n .dcs.example = APPS.CORP.EXAMPLE\n")?;
/// assert_eq!(
///     ldap_service_realms("apps.corp.example", "dc1.dcs.example", "CORP.EXAMPLE", &conf),
///     ["APPS.CORP.EXAMPLE"]
/// );
/// # Ok::<(), krb5_proto::config::ConfigError>(())
/// ```
pub fn ldap_service_realms(
    domain: &str,
    host: &str,
    user_realm: &str,
    conf: &krb5_proto::config::Krb5Conf,
) -> Vec<String> {
    if let Some(r) = conf.realm_for_host(host) {
        return vec![r];
    }
    let own = domain.trim().trim_end_matches('.').to_ascii_uppercase();
    if own.is_empty() || own.eq_ignore_ascii_case(user_realm) {
        vec![user_realm.to_owned()]
    } else {
        vec![user_realm.to_owned(), own]
    }
}

fn service_ticket_error(spn: &Principal, e: krb5_proto::Error) -> GmsaError {
    GmsaError::ServiceTicket {
        spn: spn.to_string(),
        source: e.into(),
    }
}

/// Whether a session may be kept after a fetch failed with `e`: only for answers the DC sent
/// in order on a healthy connection (the gMSA not found or ambiguous, the password attribute
/// withheld, an LDAP result code, a rootDSE without a naming context). Any other error — a reply
/// that did not unseal (GSSAPI), did not decode, came out of order or was too large, a blob
/// that does not parse, a lost connection — means the session is dropped: the next fetch
/// opens and binds a new one.
///
/// ```
/// use msds_gmsa::ldap::session::error_keeps_session;
/// use msds_gmsa::{GmsaError, LdapError};
/// assert!(error_keeps_session(&GmsaError::GmsaNotFound { name: "a".into(), base_dn: "b".into() }));
/// assert!(!error_keeps_session(&GmsaError::LdapProtocol(LdapError::EmptyFrame)));
/// ```
pub fn error_keeps_session(e: &GmsaError) -> bool {
    matches!(
        e,
        GmsaError::GmsaNotFound { .. }
            | GmsaError::AmbiguousGmsa { .. }
            | GmsaError::NotAllowedToRetrieve { .. }
            | GmsaError::LdapProtocol(
                LdapError::OperationFailed { .. } | LdapError::RootDse { .. }
            )
    )
}

/// `DC=a,DC=b` for the DNS domain `a.b`, when every label is plain (letters, digits, `-`,
/// `_`); `None` otherwise (the rootDSE is read instead).
///
/// ```
/// use msds_gmsa::ldap::session::base_dn_from_domain;
/// assert_eq!(base_dn_from_domain("Corp.Example.TEST.").as_deref(), Some("DC=Corp,DC=Example,DC=TEST"));
/// assert_eq!(base_dn_from_domain("a,b.test"), None);
/// assert_eq!(base_dn_from_domain(""), None);
/// ```
pub fn base_dn_from_domain(domain: &str) -> Option<String> {
    let d = domain.trim().trim_end_matches('.');
    if d.is_empty() || d.len() > 253 {
        return None;
    }
    let mut parts = Vec::new();
    for label in d.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        parts.push(format!("DC={label}"));
    }
    Some(parts.join(","))
}

impl GmsaReader {
    /// A reader for gMSAs of `domain` (its DNS name), getting service tickets from `kdc`.
    /// Nothing is sent yet. Fails at once on options that can never work: an `ldaps://` DC
    /// without [`TlsMode::Ldaps`], or an unreadable CA file.
    pub fn new(kdc: Client, domain: &str, opts: FetchOptions) -> Result<Self, GmsaError> {
        let tls = match &opts.tls {
            TlsMode::Ldaps { ca_file } => Some(TlsClient::new(ca_file.as_deref())?),
            _ => {
                if let Some(dc) = opts.dc.as_deref()
                    && dc.trim().to_ascii_lowercase().starts_with("ldaps://")
                {
                    return Err(GmsaError::InvalidDcAddress {
                        input: dc.to_owned(),
                        reason: "ldaps:// needs LDAPS: set TlsMode::Ldaps (gmsa --ldaps)"
                            .to_owned(),
                    });
                }
                None
            }
        };
        Ok(Self {
            kdc,
            domain: domain.to_owned(),
            opts,
            tls,
            candidates: None,
            session: None,
            base_dn: None,
            connects: 0,
            last_dc: None,
        })
    }

    /// Finds the DC and opens the connection (with LDAPS: and runs the TLS handshake)
    /// without binding, if no connection is open. Optional: [`fetch`](Self::fetch) does it
    /// when needed. Call it while the user's TGT is being obtained to overlap the two.
    pub async fn connect(&mut self) -> Result<(), GmsaError> {
        if self.session.is_none() {
            let (conn, dc) = self.open().await?;
            self.session = Some(Session {
                conn,
                dc,
                bound: None,
            });
        }
        Ok(())
    }

    async fn candidates(&mut self) -> Result<Vec<DcAddr>, GmsaError> {
        if let Some((c, at)) = &self.candidates
            && at.elapsed() < DC_CHOICE_TTL
        {
            return Ok(c.candidates.clone());
        }
        let ping = self.opts.timeout.min(PING_TIMEOUT);
        let choice = match &self.tls {
            Some(_) => ldaps_choice(&self.domain, &self.opts, ping).await?,
            None => {
                dc::locate_by_site(
                    &self.domain,
                    self.opts.dc.as_deref(),
                    self.opts.dns_server,
                    ping,
                )
                .await?
            }
        };
        let list: Vec<String> = choice.candidates.iter().map(ToString::to_string).collect();
        tracing::info!(
            domain = %self.domain,
            dcs = %list.join(", "),
            site = choice.site.as_ref().map(|s| s.client_site.as_str()).unwrap_or(""),
            "DCs for {}: {}",
            self.domain,
            choice.why
        );
        if let Some(info) = choice.site.as_ref().filter(|i| !i.client_site.is_empty()) {
            // The same site decides which KDCs the realm's Kerberos messages go to first.
            self.kdc
                .set_site(&self.domain.to_ascii_uppercase(), &info.client_site);
        }
        let found = choice.candidates.clone();
        self.candidates = Some((choice, Instant::now()));
        Ok(found)
    }

    /// Moves the DC of the last connection to the back of the candidates (its connection died).
    fn demote_last_dc(&mut self) {
        if let (Some(dc), Some((choice, _))) = (&self.last_dc, self.candidates.as_mut())
            && let Some(pos) = choice.candidates.iter().position(|c| c == dc)
        {
            let d = choice.candidates.remove(pos);
            choice.candidates.push(d);
        }
    }

    /// How the DCs were chosen (site, order, reason), once [`fetch`](Self::fetch) or
    /// [`connect`](Self::connect) has located them.
    pub fn dc_choice(&self) -> Option<&DcChoice> {
        self.candidates.as_ref().map(|(c, _)| c)
    }

    async fn open(&mut self) -> Result<(Connection, DcAddr), GmsaError> {
        let candidates = self.candidates().await?;
        let opened = dc::connect_first(&candidates, self.opts.dns_server, self.opts.timeout).await;
        if opened.is_err() {
            // None answered: ask DNS and the DCs again next time (the topology may have changed).
            self.candidates = None;
        }
        let (conn, dc) = opened?;
        // The DC that answered is tried first by the next connection (until the choice is
        // made again): DCs before it that did not answer would cost every reconnection their
        // timeout.
        if let Some((choice, _)) = self.candidates.as_mut()
            && let Some(pos) = choice.candidates.iter().position(|c| *c == dc)
            && pos > 0
        {
            let d = choice.candidates.remove(pos);
            choice.candidates.insert(0, d);
        }
        self.last_dc = Some(dc.clone());
        self.connects = self.connects.saturating_add(1);
        let conn = match &self.tls {
            Some(tls) => conn.start_ldaps(tls).await?,
            None => conn,
        };
        Ok((conn, dc))
    }

    async fn service_ticket(
        kdc: &Client,
        user_tgt: &Credentials,
        domain: &str,
        host: &str,
    ) -> Result<Credentials, GmsaError> {
        let user_realm = user_tgt.client.realm_str();
        let realms = ldap_service_realms(domain, host, &user_realm, kdc.conf());
        let (last, before) = match realms.split_last() {
            Some((last, before)) => (last.as_str(), before),
            None => (user_realm.as_str(), &[][..]),
        };
        for realm in before {
            // Unknown in this realm: try the next (the domain's own realm).
            match Self::ticket_in(kdc, user_tgt, host, realm).await {
                Err((_, e)) if e.kdc_code() == Some(KDC_ERR_S_PRINCIPAL_UNKNOWN) => {}
                other => return other.map_err(|(spn, e)| service_ticket_error(&spn, e)),
            }
        }
        Self::ticket_in(kdc, user_tgt, host, last)
            .await
            .map_err(|(spn, e)| service_ticket_error(&spn, e))
    }

    /// A ticket for `ldap/<host>@<realm>`; a realm other than the user's is reached by
    /// krb5-proto's cross-realm TGS exchange (referrals, [capaths], the hierarchical path), as
    /// libkrb5 does for upstream.
    async fn ticket_in(
        kdc: &Client,
        user_tgt: &Credentials,
        host: &str,
        realm: &str,
    ) -> Result<Credentials, (Principal, krb5_proto::Error)> {
        let spn = Principal::new(name_type::SRV_HST, ["ldap", host], realm);
        crate::tgt::ad_client(kdc)
            .tgs_exchange(user_tgt, spn.clone(), TgsOptions::default())
            .await
            .map_err(|e| (spn, e))
    }

    /// Makes sure a session bound as `user_tgt`'s client is open; returns whether it was
    /// bound just now.
    async fn ensure_bound(&mut self, user_tgt: &Credentials) -> Result<bool, GmsaError> {
        let usable = self.session.as_ref().is_some_and(|s| match &s.bound {
            None => true,
            Some((who, ticket)) => {
                *who == user_tgt.client && ticket.is_valid_at(SystemTime::now(), TICKET_MARGIN)
            }
        });
        if !usable && let Some(old) = self.session.take() {
            let _ = old.conn.unbind().await;
        }
        if self.session.as_ref().is_some_and(|s| s.bound.is_some()) {
            return Ok(false);
        }
        let mut session = match self.session.take() {
            Some(s) => s,
            None => {
                // Connect while the KDC issues the ticket for the first candidate.
                let candidates = self.candidates().await?;
                let first = candidates.first().map(|c| c.host.clone());
                let kdc = self.kdc.clone();
                let domain = self.domain.clone();
                let ticket_fut = async {
                    match &first {
                        Some(h) => Some(Self::service_ticket(&kdc, user_tgt, &domain, h).await),
                        None => None,
                    }
                };
                let (opened, ticket) = tokio::join!(self.open(), ticket_fut);
                let (conn, dc) = opened?;
                let ticket = match ticket {
                    Some(t) if first.as_deref() == Some(dc.host.as_str()) => t?,
                    _ => Self::service_ticket(&self.kdc, user_tgt, &self.domain, &dc.host).await?,
                };
                return self
                    .bind(
                        Session {
                            conn,
                            dc,
                            bound: None,
                        },
                        user_tgt,
                        ticket,
                    )
                    .await;
            }
        };
        let ticket =
            Self::service_ticket(&self.kdc, user_tgt, &self.domain, &session.dc.host).await?;
        session.bound = None;
        self.bind(session, user_tgt, ticket).await
    }

    async fn bind(
        &mut self,
        mut session: Session,
        user_tgt: &Credentials,
        ticket: Credentials,
    ) -> Result<bool, GmsaError> {
        let ticket_info = ticket.clone();
        session
            .conn
            .bind_sasl_gssapi(
                ticket,
                SaslConfig {
                    layer: self.opts.layer,
                    ..SaslConfig::default()
                },
            )
            .await?;
        if self.opts.danger_send_unprotected_password_search_for_tests {
            session
                .conn
                .danger_allow_unprotected_password_search_for_tests();
        }
        session.bound = Some((user_tgt.client.clone(), ticket_info));
        self.session = Some(session);
        Ok(true)
    }

    /// Reads one gMSA's `msDS-ManagedPassword`, authenticating as the owner of `user_tgt`.
    ///
    /// Binds first if needed (a new connection when none is open, when the open one is bound
    /// as another user, or when its service ticket is about to expire). If the connection
    /// turns out to be dead (before, during or after the bind), its DC goes to the back of the
    /// candidates and the reader reconnects, binds and searches again: at most once per
    /// candidate (8 at most) plus one.
    ///
    /// Errors are those of [`fetch_managed_password`](crate::fetch_managed_password).
    pub async fn fetch(
        &mut self,
        user_tgt: &Credentials,
        lookup: &GmsaLookup,
    ) -> Result<FetchedPassword, GmsaError> {
        super::lookup::validate(lookup)?;
        // A connection that dies (the DC killed, reset, silent) is replaced by one to the next
        // candidate: the dead DC goes to the back of the list. Each candidate gets one more try.
        let budget = self
            .candidates
            .as_ref()
            .map_or(1, |(c, _)| c.candidates.len().clamp(1, 8))
            + 1;
        let mut lost = 0usize;
        loop {
            match self.ensure_bound(user_tgt).await {
                Ok(_) => {}
                // A connection opened by `connect` may have died before or during the bind.
                Err(GmsaError::LdapProtocol(e)) if connection_lost(&e) && lost < budget => {
                    tracing::info!(error = %e, dc = self.last_dc.as_ref().map(ToString::to_string).unwrap_or_default(), "LDAP connection lost before the bind finished; trying the next DC");
                    self.demote_last_dc();
                    self.session = None;
                    lost += 1;
                    continue;
                }
                Err(e) => {
                    self.session = None;
                    return Err(e);
                }
            }
            match self.search(user_tgt, lookup).await {
                Err(Lost(e)) if lost < budget => {
                    tracing::info!(error = %e, dc = self.last_dc.as_ref().map(ToString::to_string).unwrap_or_default(), "LDAP connection lost; reconnecting (the next DC first)");
                    self.demote_last_dc();
                    self.session = None;
                    lost += 1;
                }
                Err(Lost(e)) => {
                    self.session = None;
                    return Err(e.into());
                }
                Ok(Err(e)) if !error_keeps_session(&e) => {
                    // The connection's framing or sealing state can no longer be trusted (a
                    // reply that did not unseal or decode, an unexpected message): drop it, so
                    // the next fetch opens and binds a fresh one instead of reading on it.
                    tracing::debug!(error = %e, "dropping the LDAP session after a protocol error");
                    self.session = None;
                    return Err(e);
                }
                Ok(r) => return r,
            }
        }
    }

    /// The search on the bound session. `Err(Lost)` means the connection died.
    async fn search(
        &mut self,
        user_tgt: &Credentials,
        lookup: &GmsaLookup,
    ) -> Result<Result<FetchedPassword, GmsaError>, Lost> {
        let derived = match lookup {
            GmsaLookup::SamAccountName(_) if self.base_dn.is_none() => {
                base_dn_from_domain(&self.domain)
            }
            _ => None,
        };
        let base = match (lookup, &self.base_dn, &derived) {
            (GmsaLookup::SamAccountName(_), Some(b), _) => b.clone(),
            (GmsaLookup::SamAccountName(_), None, Some(d)) => d.clone(),
            (GmsaLookup::SamAccountName(_), None, None) => match self.read_base_dn().await? {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            },
            (GmsaLookup::UnderOu { ou_dn, .. }, _, _) => ou_dn.clone(),
            (GmsaLookup::Dn(dn), _, _) => dn.clone(),
        };
        let first = self.search_under(user_tgt, lookup, &base).await?;
        let Some(derived) = derived else {
            return Ok(first);
        };
        // The base was guessed from the DNS name: a miss may mean the guess was wrong.
        let missed = matches!(&first, Err(GmsaError::GmsaNotFound { .. }))
            || matches!(
                &first,
                Err(GmsaError::LdapProtocol(LdapError::OperationFailed {
                    result_code: 10,
                    ..
                }))
            );
        if !missed {
            if first.is_ok() {
                self.base_dn = Some(derived);
            }
            return Ok(first);
        }
        let real = match self.read_base_dn().await? {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        if real.eq_ignore_ascii_case(&derived) {
            return Ok(first);
        }
        tracing::debug!(derived = %derived, naming_context = %real, "the DNS-derived base DN was wrong; searching the rootDSE's");
        self.search_under(user_tgt, lookup, &real).await
    }

    /// Reads `defaultNamingContext` from the rootDSE and remembers it.
    async fn read_base_dn(&mut self) -> Result<Result<String, GmsaError>, Lost> {
        let Some(s) = self.session.as_mut() else {
            return Err(Lost(not_connected()));
        };
        let root = match s.conn.root_dse().await {
            Ok(r) => r,
            Err(e) if connection_lost(&e) => return Err(Lost(e)),
            Err(e) => return Ok(Err(e.into())),
        };
        match root.default_naming_context {
            Some(nc) => {
                self.base_dn = Some(nc.clone());
                Ok(Ok(nc))
            }
            None => Ok(Err(LdapError::RootDse {
                dc: s.conn.dc().to_owned(),
                what: "has no defaultNamingContext: give the gMSA's DN or OU instead".to_owned(),
            }
            .into())),
        }
    }

    async fn search_under(
        &mut self,
        user_tgt: &Credentials,
        lookup: &GmsaLookup,
        base: &str,
    ) -> Result<Result<FetchedPassword, GmsaError>, Lost> {
        let Some(s) = self.session.as_mut() else {
            return Err(Lost(not_connected()));
        };
        let (scope, filter) = match lookup {
            GmsaLookup::SamAccountName(sam) | GmsaLookup::UnderOu { sam, .. } => (
                LdapSearchScope::Subtree,
                gmsa_by_sam(&gmsa_sam_account_name(sam)),
            ),
            GmsaLookup::Dn(_) => (LdapSearchScope::Base, gmsa_any()),
        };
        let dc_name = s.dc.to_string();
        tracing::debug!(dc = %dc_name, base = %base, filter = %to_string(&filter), "searching for the gMSA");
        let name = lookup.describe();
        let not_found = || GmsaError::GmsaNotFound {
            name: name.clone(),
            base_dn: base.to_owned(),
        };
        let req = LdapSearchRequest {
            base: base.to_owned(),
            scope,
            aliases: LdapDerefAliases::Never,
            sizelimit: 2,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: GMSA_ATTRS.iter().map(|s| (*s).to_owned()).collect(),
        };
        let mut entries = match s.conn.search(req).await {
            Ok(e) => e,
            Err(e) if connection_lost(&e) => return Err(Lost(e)),
            // The DN or OU does not exist.
            Err(LdapError::OperationFailed {
                result_code: 32, ..
            }) => return Ok(Err(not_found())),
            Err(LdapError::OperationFailed { result_code: 4, .. }) => {
                return Ok(Err(GmsaError::AmbiguousGmsa {
                    name,
                    base_dn: base.to_owned(),
                    count: 2,
                }));
            }
            Err(e) => return Ok(Err(e.into())),
        };
        let count = entries.len();
        let result = match entries.as_mut_slice() {
            [] => Err(not_found()),
            [one] => {
                FetchedPassword::from_entry(one, &dc_name, &user_tgt.client.to_string(), &name)
            }
            _ => Err(GmsaError::AmbiguousGmsa {
                name: name.clone(),
                base_dn: base.to_owned(),
                count,
            }),
        };
        super::lookup::wipe_passwords(&mut entries);
        Ok(result)
    }

    /// The DC of the open connection (`host:port`), if one is open.
    pub fn dc(&self) -> Option<String> {
        self.session.as_ref().map(|s| s.dc.to_string())
    }

    /// The protection of the open connection, if one is open.
    pub fn security(&self) -> Option<Security> {
        self.session.as_ref().map(|s| s.conn.security())
    }

    /// Whether a connection is open and bound.
    pub fn is_bound(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.bound.is_some())
    }

    /// How many connections this reader has opened (the first one plus every reconnect).
    pub fn connections_opened(&self) -> u32 {
        self.connects
    }

    /// The open connection's response times ([`Connection::round_trips`]), empty when none
    /// is open.
    pub fn round_trips(&self) -> &[(&'static str, Duration)] {
        self.session
            .as_ref()
            .map(|s| s.conn.round_trips())
            .unwrap_or_default()
    }

    /// TEST ONLY: shuts the open connection's socket down under the session, as a DC that
    /// drops an idle connection would, so the next fetch must reconnect.
    #[doc(hidden)]
    pub async fn danger_break_connection_for_tests(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.conn.danger_shutdown_for_tests().await;
        }
    }

    /// Sends an UnbindRequest and closes the connection, if one is open.
    pub async fn close(mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.conn.unbind().await;
        }
    }
}

/// The connection died during an operation.
struct Lost(LdapError);

fn not_connected() -> LdapError {
    LdapError::Closed {
        dc: String::new(),
        op: "search",
        notice: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DC host's [domain_realm] entry, else the user's realm (KDC referrals) and then the
    /// gMSA domain's own realm.
    #[test]
    fn ldap_realms_follow_domain_realm_then_the_gmsa_domain() {
        use krb5_proto::config::Krb5Conf;
        let conf = Krb5Conf::parse(
            "[domain_realm]\n .corp.example = CORP.EXAMPLE\n dc9.apps.corp.example = APPS.CORP.EXAMPLE\n",
        )
        .unwrap();
        let user = "CORP.EXAMPLE";
        // The exact [domain_realm] entry wins over the .corp.example suffix and the domain.
        assert_eq!(
            ldap_service_realms("apps.corp.example", "dc9.apps.corp.example", user, &conf),
            ["APPS.CORP.EXAMPLE"]
        );
        assert_eq!(
            ldap_service_realms("apps.corp.example", "dc1.corp.example", user, &conf),
            ["CORP.EXAMPLE"]
        );
        // No entry (an IP address, an unmapped host): the user's realm, then the domain's
        // (upper case, no trailing dot), once when they are the same.
        let empty = Krb5Conf::empty();
        assert_eq!(
            ldap_service_realms(" Apps.Corp.Example. ", "127.0.0.2", user, &empty),
            ["CORP.EXAMPLE", "APPS.CORP.EXAMPLE"]
        );
        assert_eq!(
            ldap_service_realms("corp.example", "dc1", user, &empty),
            ["CORP.EXAMPLE"]
        );
        assert_eq!(
            ldap_service_realms("", "dc1", user, &empty),
            ["CORP.EXAMPLE"]
        );
    }

    #[test]
    fn derived_base_dns() {
        for (domain, want) in [
            ("example.test", Some("DC=example,DC=test")),
            ("EXAMPLE.TEST.", Some("DC=EXAMPLE,DC=TEST")),
            ("corp-1.ad_x.example", Some("DC=corp-1,DC=ad_x,DC=example")),
            ("single", Some("DC=single")),
            ("", None),
            (".", None),
            ("a..b", None),
            ("a+b.test", None),
            ("a\\,b.test", None),
            ("a=b.test", None),
        ] {
            assert_eq!(base_dn_from_domain(domain).as_deref(), want, "{domain:?}");
        }
        assert_eq!(base_dn_from_domain(&"a".repeat(64)), None);
    }

    #[test]
    fn lost_connections_are_classified() {
        let io = LdapError::Io {
            dc: "d".into(),
            op: "search",
            kind: std::io::ErrorKind::ConnectionReset,
            message: "reset".into(),
        };
        assert!(connection_lost(&io));
        assert!(connection_lost(&not_connected()));
        assert!(!connection_lost(&LdapError::EmptyFrame));
        assert!(!connection_lost(&LdapError::ConfidentialityRequired(
            "x".into()
        )));
    }
}
