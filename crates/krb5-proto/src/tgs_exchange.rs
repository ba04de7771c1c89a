//! The TGS exchange (RFC 4120 §3.3): a service ticket from a TGT, as a sans-IO state machine.
//!
//! # Checks of the TGS-REP
//!
//! As MIT krb5's `krb5int_process_tgs_reply()` and `check_reply_server()`
//! (`lib/krb5/krb/gc_via_tkt.c`), plus the flag check; one line per check, in order, with the
//! error it raises (`tests/reply_tamper.rs` tampers with each field and expects that error):
//!
//! - enc-part decrypts with the TGT session key (usage 8) → [`Error::Crypto`]
//! - enc-part nonce is the request's → [`Error::ReplyModified`] / [`ReplyCheck::Nonce`]
//! - client (cname, crealm) is exactly the TGT's client → [`ReplyCheck::ClientName`]
//! - enc-part server is the one asked (any name with canonicalize, as MIT; a TGT for another
//!   realm when a TGT was asked, MIT's "alternate TGT"), in the realm of the KDC asked
//!   → [`ReplyCheck::ServerName`]
//! - the ticket's sname/realm equal the enc-part's → [`ReplyCheck::TicketServer`]
//! - the session key's enctype is one the request offered → [`Error::ReplyEnctypeNotOffered`]
//! - end time ≤ the requested till (the TGT's end or the asked lifetime) → [`ReplyCheck::EndTime`]
//! - no flag we did not ask for: forwardable (unless asked), forwarded (unless the TGT is),
//!   proxiable, proxy, may-postdate, postdated, invalid, anonymous → [`ReplyCheck::Flags`]
//! - start time, when present, within [`DEFAULT_CLOCK_SKEW`] of the KDC time at the request
//!   (our clock plus the TGT's offset) → [`Error::ReplySkew`]
//!
//! [`ReplyCheck::Nonce`]: crate::ReplyCheck::Nonce
//! [`ReplyCheck::ServerName`]: crate::ReplyCheck::ServerName
//! [`ReplyCheck::TicketServer`]: crate::ReplyCheck::TicketServer
//! [`ReplyCheck::ClientName`]: crate::ReplyCheck::ClientName
//! [`ReplyCheck::EndTime`]: crate::ReplyCheck::EndTime
//! [`ReplyCheck::Flags`]: crate::ReplyCheck::Flags
//! [`DEFAULT_CLOCK_SKEW`]: crate::as_exchange::DEFAULT_CLOCK_SKEW
//!
//! # Cross-realm
//!
//! The state machine, not its caller, goes from realm to realm (MIT's `get_creds.c`):
//!
//! - **Service in the TGT's realm** (or a realm the KDC will find): the request goes to the
//!   TGT's KDC with canonicalize. A KDC that knows the service is in another realm (RFC 6806;
//!   MIT and AD do it for host-based names, name type `NT-SRV-HST`, from their `[domain_realm]`)
//!   answers with a referral TGT `krbtgt/B@A`; the same request then goes to B's KDC with that
//!   TGT, and so on, until a KDC issues the service ticket.
//! - **Service in another realm** (`ldap/dc.b.test@B.TEST` asked with a TGT of A): first a TGT
//!   for B. The path of realms comes from `[capaths]` ([`TgsOptions::capaths`]), else the
//!   hierarchical path ([`crate::realm_path`]). At each realm the KDC is asked for a TGT of the
//!   farthest realm of the path first; a KDC that answers `KDC_ERR_S_PRINCIPAL_UNKNOWN` is asked
//!   for the next nearer one; a KDC that answers with a TGT for another realm (its own
//!   `[capaths]`, MIT's "alternate TGT") is followed there.
//! - Every hop's reply is checked like the first (the list above). The client stays the TGT's.
//! - At most [`TgsOptions::max_hops`] cross-realm TGTs ([`MAX_REALM_HOPS`] = 10 by default, as
//!   MIT's `KRB5_REFERRAL_MAXHOPS`), else [`Error::CrossRealmHops`]; a TGT for a realm already
//!   gone through is [`Error::CrossRealmLoop`].
//! - Cross-realm TGTs already held ([`TgsExchange::with_tgts`], e.g. from a ccache) are used
//!   instead of asking for them again; the ones obtained are given back by
//!   [`TgsPending::new_tgts`] so that the caller can store them (MIT stores `krbtgt/B@A` in the
//!   ccache too).
//!
//! ```no_run
//! use krb5_proto::tgs_exchange::{TgsExchange, TgsOptions, TgsStep};
//! use krb5_proto::rand::OsRng;
//! use krb5_proto::{Credentials, Principal};
//! use std::time::SystemTime;
//!
//! # fn send_to_kdc(_req: &[u8], _tcp: bool) -> Vec<u8> { unimplemented!() }
//! # fn tgt() -> Credentials { unimplemented!() }
//! let service = Principal::parse("HTTP/web.example.test@EXAMPLE.TEST", None)?;
//! let (mut pending, mut req) =
//!     TgsExchange::new(tgt(), service, TgsOptions::default()).start(SystemTime::now(), &mut OsRng)?;
//! let ticket = loop {
//!     let reply = send_to_kdc(&req.bytes, req.tcp_only);
//!     match pending.handle_reply(&reply)? {
//!         TgsStep::Send(next, next_req) => (pending, req) = (*next, next_req),
//!         TgsStep::Done(creds) => break creds,
//!     }
//! };
//! # let _ = ticket;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::ap::{ApReqOptions, build_ap_req};
use crate::as_exchange::{
    DEFAULT_CLOCK_SKEW, Sent, Times, check_flags, check_nonce, check_offered, check_skew,
    check_ticket_server, check_times, key_from_asn1, modified,
};
use crate::asn1::{
    self, Checksum, KdcOptions, KdcReply, KdcReq, KdcReqBody, KerberosString, KerberosTime, PaData,
    TicketFlags,
};
use crate::asn1::{error_code, key_usage, pa_type};
use crate::creds::{Credentials, unix_secs_usec};
use crate::crypto::EncType;
use crate::error::{Error, KdcError, ReplyCheck, Result};
use crate::principal::{Principal, name_type};
use crate::rand::{OsRng, Rng};
use crate::realm_path::Capaths;
use std::time::{Duration, SystemTime};

/// Most cross-realm TGTs one exchange follows (referrals and `[capaths]` hops together), as MIT
/// krb5's `KRB5_REFERRAL_MAXHOPS`.
pub const MAX_REALM_HOPS: usize = 10;

const DURING: &str = "TGS exchange";

/// Options of a TGS request.
#[derive(Clone, Debug)]
pub struct TgsOptions {
    /// Session-key enctypes in order of preference.
    pub etypes: Vec<EncType>,
    /// Requested lifetime; `None` asks for the TGT's end time.
    pub lifetime: Option<Duration>,
    /// Set the canonicalize option (needed for RFC 6806 referrals).
    pub canonicalize: bool,
    /// Ask for a forwardable ticket (only done when the TGT itself is forwardable).
    pub forwardable: bool,
    /// Most cross-realm TGTs to follow (0: none); [`MAX_REALM_HOPS`] by default.
    pub max_hops: usize,
    /// krb5.conf's `[capaths]` (`Client` fills it from its configuration when empty).
    pub capaths: Capaths,
}

impl Default for TgsOptions {
    /// Session-key enctypes from [`EnctypePolicy::default`] (AES only; use
    /// [`EnctypePolicy::tgs_enctypes`] of krb5.conf's policy for `default_tgs_enctypes`).
    ///
    /// [`EnctypePolicy::default`]: crate::etype_policy::EnctypePolicy
    /// [`EnctypePolicy::tgs_enctypes`]: crate::etype_policy::EnctypePolicy::tgs_enctypes
    fn default() -> Self {
        Self {
            etypes: crate::etype_policy::EnctypePolicy::default()
                .tgs_enctypes()
                .to_vec(),
            lifetime: None,
            canonicalize: true,
            forwardable: true,
            max_hops: MAX_REALM_HOPS,
            capaths: Capaths::new(),
        }
    }
}

/// A TGS-REQ to send to a KDC of the TGT's realm.
#[derive(Clone, Debug)]
pub struct TgsRequest {
    /// The DER-encoded TGS-REQ.
    pub bytes: Vec<u8>,
    /// The realm whose KDC must receive it.
    pub realm: Vec<u8>,
    /// Send over TCP only.
    pub tcp_only: bool,
    /// The KDC answers with a ticket (always, for a TGS-REQ): from Active Directory that reply
    /// carries a PAC and rarely fits UDP (see
    /// `Client::with_tcp_for_tickets`, feature `tokio`).
    pub expects_ticket: bool,
}

/// What to do after a reply.
#[derive(Debug)]
pub enum TgsStep {
    /// Send this request (again over TCP, or the next hop's) and give the reply to the returned
    /// state.
    Send(Box<TgsPending>, TgsRequest),
    /// The service ticket.
    Done(Credentials),
}

/// A TGS exchange that has not started.
#[derive(Debug)]
pub struct TgsExchange {
    tgt: Credentials,
    server: Principal,
    opts: TgsOptions,
    held: Vec<Credentials>,
}

/// What the pending request asks for.
#[derive(Debug, Clone)]
enum Asking {
    /// The service (or a referral TGT for it).
    Service,
    /// `krbtgt/<candidates[0]>@<current realm>`; the other candidates are the nearer realms of
    /// the path, asked in turn when the KDC does not know the first.
    Tgt { candidates: Vec<Vec<u8>> },
}

/// The realms gone through, and what was learnt on the way.
#[derive(Debug, Clone)]
struct Route {
    /// The realm whose ticket is wanted (changes when a KDC refers the service elsewhere).
    target: Vec<u8>,
    /// The `[capaths]`/hierarchical path from the first TGT's realm to `target`.
    path: Vec<Vec<u8>>,
    /// Realms whose TGT we held, in order, the first TGT's realm first.
    visited: Vec<Vec<u8>>,
    /// Cross-realm TGTs obtained from KDCs during this exchange.
    new_tgts: Vec<Credentials>,
    /// Cross-realm TGTs held before (usable, same client).
    held: Vec<Credentials>,
}

/// A TGS exchange waiting for the KDC's reply.
#[derive(Debug)]
pub struct TgsPending {
    /// The TGT of the realm the request went to.
    tgt: Credentials,
    /// The service asked for by the caller.
    server: Principal,
    /// The principal this request asks for (the service, or a `krbtgt/X@cur`).
    asked: Principal,
    asking: Asking,
    opts: TgsOptions,
    nonce: u32,
    last: TgsRequest,
    sent: Sent,
    /// The KDC time (our clock plus the TGT's offset) when the request was made.
    kdc_now: i64,
    route: Route,
}

/// The realm whose KDC honours `tgt` (`A` for `krbtgt/A@X`).
fn tgs_realm(tgt: &Credentials) -> Vec<u8> {
    tgt.server
        .components
        .get(1)
        .cloned()
        .unwrap_or_else(|| tgt.server.realm.clone())
}

fn realm_text(r: &[u8]) -> String {
    String::from_utf8_lossy(r).into_owned()
}

fn krbtgt_of(realm: &[u8], at: &[u8]) -> Principal {
    Principal {
        name_type: name_type::SRV_INST,
        components: vec![b"krbtgt".to_vec(), realm.to_vec()],
        realm: at.to_vec(),
    }
}

impl Route {
    fn path_text(&self, next: Option<&[u8]>) -> String {
        let mut parts: Vec<String> = self.visited.iter().map(|r| realm_text(r)).collect();
        if let Some(n) = next {
            parts.push(realm_text(n));
        }
        parts.join(" -> ")
    }

    /// Moves to `realm` (a TGT for it came from `from`'s KDC or from the held TGTs).
    fn enter(&mut self, server: &Principal, from: &[u8], realm: &[u8], max: usize) -> Result<()> {
        if self.visited.iter().any(|v| v.eq_ignore_ascii_case(realm)) {
            return Err(Error::CrossRealmLoop {
                server: server.to_string(),
                from: realm_text(from),
                realm: realm_text(realm),
                path: self.path_text(None),
            });
        }
        if self.visited.len() > max {
            return Err(Error::CrossRealmHops {
                server: server.to_string(),
                limit: max,
                path: self.path_text(Some(realm)),
            });
        }
        self.visited.push(realm.to_vec());
        Ok(())
    }

    /// The realms to ask `cur`'s KDC a TGT for, farthest first.
    fn candidates(&self, cur: &[u8], capaths: &Capaths) -> Vec<Vec<u8>> {
        let path = match self.path.iter().position(|r| r.as_slice() == cur) {
            Some(k) => self.path[k..].to_vec(),
            None => capaths.path(cur, &self.target),
        };
        path.into_iter().skip(1).rev().collect()
    }

    /// A held TGT issued by `cur`'s KDC for one of `candidates` (the farthest first).
    fn held_tgt(
        &self,
        client: &Principal,
        cur: &[u8],
        candidates: &[Vec<u8>],
        now: SystemTime,
    ) -> Option<Credentials> {
        candidates.iter().find_map(|c| {
            self.held
                .iter()
                .find(|t| {
                    t.server == krbtgt_of(c, cur)
                        && t.client == *client
                        && t.is_valid_at(now, Duration::from_secs(60))
                })
                .cloned()
        })
    }
}

impl TgsExchange {
    /// Prepares a request for a ticket to `server` with `tgt`.
    pub fn new(tgt: Credentials, server: Principal, opts: TgsOptions) -> Self {
        Self {
            tgt,
            server,
            opts,
            held: Vec::new(),
        }
    }

    /// Cross-realm TGTs already held (`krbtgt/B@A` from a ccache or an earlier exchange): used
    /// when the path goes through them and they are valid for another minute; TGTs of another
    /// client are ignored.
    pub fn with_tgts(mut self, tgts: Vec<Credentials>) -> Self {
        self.held = tgts
            .into_iter()
            .filter(|t| t.client == self.tgt.client && t.server.is_krbtgt())
            .collect();
        self
    }

    /// Builds the first TGS-REQ (see [`TgsPending`] for the next ones): the request body, and a
    /// PA-TGS-REQ AP-REQ whose authenticator carries the body's checksum (key usage 6) and is
    /// encrypted under the TGT session key (usage 7).
    pub fn start(self, now: SystemTime, rng: &mut dyn Rng) -> Result<(TgsPending, TgsRequest)> {
        let first = tgs_realm(&self.tgt);
        let target = self.server.realm.clone();
        let route = Route {
            path: self.opts.capaths.path(&first, &target),
            target,
            visited: vec![first],
            new_tgts: Vec::new(),
            held: self.held,
        };
        plan(self.tgt, self.server, self.opts, route, now, rng)
    }
}

/// The next request from the TGT we hold: the service when we are in its realm, else a TGT
/// for the next realm of the path (skipping over held TGTs).
fn plan(
    mut tgt: Credentials,
    server: Principal,
    opts: TgsOptions,
    mut route: Route,
    now: SystemTime,
    rng: &mut dyn Rng,
) -> Result<(TgsPending, TgsRequest)> {
    loop {
        let cur = tgs_realm(&tgt);
        if cur.eq_ignore_ascii_case(&route.target) {
            let asked = server.clone();
            return build(tgt, server, asked, Asking::Service, opts, route, now, rng);
        }
        let candidates = route.candidates(&cur, &opts.capaths);
        if let Some(held) = route.held_tgt(&tgt.client, &cur, &candidates, now) {
            route.enter(&server, &cur, &tgs_realm(&held), opts.max_hops)?;
            tgt = held;
            continue;
        }
        let Some(first) = candidates.first() else {
            return Err(Error::Protocol {
                during: DURING,
                what: format!(
                    "no realm path from {} to {} for {server}",
                    realm_text(&cur),
                    realm_text(&route.target)
                ),
            });
        };
        let asked = krbtgt_of(first, &cur);
        return build(
            tgt,
            server,
            asked,
            Asking::Tgt { candidates },
            opts,
            route,
            now,
            rng,
        );
    }
}

/// The TGS-REQ asking `asked` with `tgt` (to `tgt`'s realm).
#[allow(clippy::too_many_arguments)]
fn build(
    tgt: Credentials,
    server: Principal,
    asked: Principal,
    asking: Asking,
    opts: TgsOptions,
    route: Route,
    now: SystemTime,
    rng: &mut dyn Rng,
) -> Result<(TgsPending, TgsRequest)> {
    let (secs, _) = unix_secs_usec(now);
    let kdc_now = secs + tgt.time_offset;
    let nonce = rng.next_u32() & 0x7fff_ffff;
    let mut options = 0;
    // Only from a forwardable TGT, as MIT does (KDC_TKT_COMMON_MASK): Heimdal/Samba and AD
    // answer KDC_ERR_BADOPTION to a FORWARDABLE request with a non-forwardable TGT, such as
    // one MIT kinit gets without `forwardable = true` (the MIT KDC just drops the option).
    if opts.forwardable && tgt.flags & asn1::TicketFlags::FORWARDABLE != 0 {
        options |= KdcOptions::FORWARDABLE;
    }
    if opts.canonicalize {
        options |= KdcOptions::CANONICALIZE;
    }
    let till = match opts.lifetime {
        Some(l) => (kdc_now + l.as_secs() as i64).min(tgt.end_time),
        None => tgt.end_time,
    };
    let realm = tgs_realm(&tgt);
    let body = KdcReqBody {
        kdc_options: KdcOptions(options),
        cname: None,
        realm: KerberosString(realm.clone()),
        sname: Some(asn1::PrincipalName::from_principal(&asked)),
        from: None,
        till: KerberosTime::from_unix(till),
        rtime: None,
        nonce,
        etype: opts.etypes.iter().map(|e| e.to_i32()).collect(),
        addresses: None,
        enc_authorization_data: None,
        additional_tickets: None,
    };
    let sent = Sent {
        options,
        till,
        rtime: None,
        etypes: body.etype.clone(),
    };
    let body_der = asn1::encode(&body);
    let key = &tgt.session_key;
    let checksum = Checksum {
        r#type: key.etype().checksum_type(),
        checksum: key
            .checksum(key_usage::TGS_REQ_AUTH_CKSUM, &body_der)
            .into(),
    };
    let ap = build_ap_req(
        &tgt,
        ApReqOptions {
            checksum: Some(checksum),
            ..Default::default()
        },
        key_usage::TGS_REQ_AUTH,
        now,
        rng,
    )?;
    let req = asn1::TgsReq(KdcReq {
        pvno: 5,
        msg_type: asn1::msg_type::TGS_REQ,
        padata: Some(vec![PaData {
            r#type: pa_type::TGS_REQ,
            value: ap.bytes.into(),
        }]),
        req_body: body,
    });
    let out = TgsRequest {
        bytes: asn1::encode(&req),
        realm,
        tcp_only: false,
        expects_ticket: true,
    };
    Ok((
        TgsPending {
            tgt,
            server,
            asked,
            asking,
            opts,
            nonce,
            last: out.clone(),
            sent,
            kdc_now,
            route,
        },
        out,
    ))
}

impl TgsPending {
    /// Processes the KDC's reply, with the system clock and random source for a next hop's
    /// request (see [`handle_reply_at`](Self::handle_reply_at)).
    pub fn handle_reply(self, reply: &[u8]) -> Result<TgsStep> {
        self.handle_reply_at(reply, SystemTime::now(), &mut OsRng)
    }

    /// Cross-realm TGTs obtained from KDCs so far in this exchange (not the held ones), in the
    /// order obtained: store them beside the TGT, as MIT does, so that the next exchange skips
    /// their requests ([`TgsExchange::with_tgts`]).
    pub fn new_tgts(&self) -> &[Credentials] {
        &self.route.new_tgts
    }

    /// The realms gone through so far, the first TGT's realm first.
    pub fn realms(&self) -> &[Vec<u8>] {
        &self.route.visited
    }

    /// Processes the KDC's reply; `now` and `rng` build the next hop's request, if any.
    pub fn handle_reply_at(
        mut self,
        reply: &[u8],
        now: SystemTime,
        rng: &mut dyn Rng,
    ) -> Result<TgsStep> {
        let rep = match asn1::decode_kdc_reply(reply)? {
            KdcReply::TgsRep(rep) => rep,
            KdcReply::AsRep(_) => {
                return Err(Error::Protocol {
                    during: DURING,
                    what: "the KDC answered a TGS-REQ with an AS-REP".into(),
                });
            }
            KdcReply::Error(err)
                if err.error_code == error_code::KRB_ERR_RESPONSE_TOO_BIG
                    && !self.last.tcp_only =>
            {
                let mut again = self.last.clone();
                again.tcp_only = true;
                self.last = again.clone();
                return Ok(TgsStep::Send(Box::new(self), again));
            }
            KdcReply::Error(err) => {
                // The KDC does not know a TGT for the farthest realm: ask for the next nearer.
                if let Asking::Tgt { candidates } = &self.asking
                    && candidates.len() > 1
                    && err.error_code == error_code::KDC_ERR_S_PRINCIPAL_UNKNOWN
                {
                    let rest = candidates[1..].to_vec();
                    let cur = tgs_realm(&self.tgt);
                    let asked = krbtgt_of(&rest[0], &cur);
                    let (p, r) = build(
                        self.tgt,
                        self.server,
                        asked,
                        Asking::Tgt { candidates: rest },
                        self.opts,
                        self.route,
                        now,
                        rng,
                    )?;
                    return Ok(TgsStep::Send(Box::new(p), r));
                }
                return Err(Error::Kdc(Box::new(KdcError::from_krb_error(
                    &err,
                    self.tgt.client.to_string(),
                    self.asked.to_string(),
                    format!("TGS exchange with {}", realm_text(&tgs_realm(&self.tgt))),
                ))));
            }
        };
        let creds = self.check_reply(&rep)?;
        let cur = tgs_realm(&self.tgt);
        let next_realm = match self.asking {
            // A service ticket (or the TGT asked as the service).
            Asking::Service if !creds.server.is_krbtgt() || self.server.is_krbtgt() => {
                return Ok(TgsStep::Done(creds));
            }
            // A referral (RFC 6806): the service is in the realm the TGT names.
            Asking::Service => {
                let next = tgs_realm(&creds);
                self.route.target = next.clone();
                next
            }
            Asking::Tgt { .. } => {
                if !creds.server.is_krbtgt() {
                    return Err(modified(
                        DURING,
                        ReplyCheck::ServerName,
                        format!(
                            "asked {}, the KDC issued a ticket for {}",
                            self.asked, creds.server
                        ),
                    ));
                }
                tgs_realm(&creds)
            }
        };
        if next_realm.eq_ignore_ascii_case(&cur) {
            return Err(Error::Protocol {
                during: DURING,
                what: format!(
                    "the KDC of {} answered {} with its own TGT {}",
                    realm_text(&cur),
                    self.asked,
                    creds.server
                ),
            });
        }
        self.route
            .enter(&self.server, &cur, &next_realm, self.opts.max_hops)?;
        self.route.new_tgts.push(creds.clone());
        let (p, r) = plan(creds, self.server, self.opts, self.route, now, rng)?;
        Ok(TgsStep::Send(Box::new(p), r))
    }

    /// The checks of the module documentation, for any hop.
    fn check_reply(&self, rep: &asn1::KdcRep) -> Result<Credentials> {
        let plain = self
            .tgt
            .session_key
            .decrypt(key_usage::TGS_REP_ENCPART_SESSKEY, &rep.enc_part.cipher)?;
        let part = asn1::decode_enc_kdc_rep_part(&plain)?;
        check_nonce(DURING, self.nonce, part.nonce)?;
        // The client is the TGT's, exactly (MIT: krb5int_process_tgs_reply).
        let client = rep.cname.to_principal(&rep.crealm);
        if client.components != self.tgt.client.components || client.realm != self.tgt.client.realm
        {
            return Err(modified(
                DURING,
                ReplyCheck::ClientName,
                format!(
                    "the TGT is {}'s, the reply names {client} as the client",
                    self.tgt.client
                ),
            ));
        }
        let got_server = part.sname.to_principal(&part.srealm);
        // MIT's check_reply_server: the name asked, any name with canonicalize, and a TGT for
        // another realm when a TGT was asked (an "alternate TGT" along the KDC's capaths).
        let alternate_tgt = self.asked.is_krbtgt() && got_server.is_krbtgt();
        let cur = tgs_realm(&self.tgt);
        if !got_server.eq_ignore_case(&self.asked) && !self.opts.canonicalize && !alternate_tgt {
            return Err(modified(
                DURING,
                ReplyCheck::ServerName,
                format!(
                    "asked a ticket for {}, the KDC issued one for {got_server}",
                    self.asked
                ),
            ));
        }
        if !got_server.realm.eq_ignore_ascii_case(&cur) {
            return Err(modified(
                DURING,
                ReplyCheck::ServerName,
                format!(
                    "asked the KDC of {} for {}, it issued a ticket of realm {}",
                    realm_text(&cur),
                    self.asked,
                    got_server.realm_str()
                ),
            ));
        }
        check_ticket_server(DURING, rep, &got_server)?;
        check_offered(DURING, "session key", part.key.r#type, &self.sent.etypes)?;
        let times = Times {
            start: part.start_time.map(|t| t.to_unix()),
            end: part.end_time.to_unix(),
            renew_till: part.renew_till.map(|t| t.to_unix()),
        };
        check_times(DURING, &self.sent, &times, part.flags.0)?;
        // Never asked: proxiable, proxy, postdated, invalid, anonymous; forwardable only when
        // the request said so; forwarded only from a forwarded TGT (RFC 4120 §2.6).
        let mut allowed = !(TicketFlags::PROXIABLE
            | TicketFlags::PROXY
            | TicketFlags::MAY_POSTDATE
            | TicketFlags::POSTDATED
            | TicketFlags::INVALID
            | TicketFlags::ANONYMOUS
            | TicketFlags::FORWARDABLE
            | TicketFlags::FORWARDED);
        if self.sent.options & KdcOptions::FORWARDABLE != 0 {
            allowed |= TicketFlags::FORWARDABLE;
        }
        allowed |= self.tgt.flags & TicketFlags::FORWARDED;
        check_flags(DURING, part.flags.0, allowed)?;
        // MIT holds the start time against the request time and the clock skew; a KDC that
        // leaves the start time out is not held to it (MIT would compare the auth time).
        if let Some(start) = times.start {
            check_skew(DURING, start, self.kdc_now, DEFAULT_CLOCK_SKEW)?;
        }
        let auth_time = part.auth_time.to_unix();
        Ok(Credentials {
            client,
            server: got_server,
            session_key: key_from_asn1(&part.key)?,
            ticket: asn1::encode(&rep.ticket),
            flags: part.flags.0,
            auth_time,
            start_time: times.start.unwrap_or(auth_time),
            end_time: times.end,
            renew_till: times.renew_till,
            time_offset: self.tgt.time_offset,
            pa_type: None,
            client_kvno: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asn1::TicketFlags;
    use crate::crypto::Key;
    use crate::rand::TestRng;

    fn tgt(flags: u32) -> Credentials {
        Credentials {
            client: Principal::parse("svc-fetcher@EXAMPLE.TEST", None).unwrap(),
            server: Principal::krbtgt(b"EXAMPLE.TEST"),
            session_key: Key::new(EncType::Aes256CtsHmacSha196, &[3u8; 32]).unwrap(),
            ticket: asn1::encode(&asn1::Ticket {
                tkt_vno: 5,
                realm: KerberosString::from("EXAMPLE.TEST"),
                sname: asn1::PrincipalName::from_principal(&Principal::krbtgt(b"EXAMPLE.TEST")),
                enc_part: asn1::EncryptedData {
                    etype: 18,
                    kvno: Some(2),
                    cipher: vec![1, 2, 3].into(),
                },
            }),
            flags,
            auth_time: 1_800_000_000,
            start_time: 1_800_000_000,
            end_time: 1_800_036_000,
            renew_till: None,
            time_offset: 0,
            pa_type: Some(2),
            client_kvno: None,
        }
    }

    fn requested_options(tgt_flags: u32, forwardable: bool) -> u32 {
        let svc = Principal::parse("ldap/dc1.example.test@EXAMPLE.TEST", None).unwrap();
        let opts = TgsOptions {
            forwardable,
            ..Default::default()
        };
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_100);
        let (_, req) = TgsExchange::new(tgt(tgt_flags), svc, opts)
            .start(now, &mut TestRng::new(1))
            .unwrap();
        let decoded: asn1::TgsReq = asn1::decode(&req.bytes).unwrap();
        decoded.0.req_body.kdc_options.0
    }

    /// Samba answered KDC_ERR_BADOPTION when MIT kinit's non-forwardable TGT asked for a
    /// forwardable service ticket.
    #[test]
    fn forwardable_is_requested_only_with_a_forwardable_tgt() {
        let fwd = TicketFlags::FORWARDABLE | TicketFlags::INITIAL | TicketFlags::PRE_AUTHENT;
        let plain = TicketFlags::INITIAL | TicketFlags::PRE_AUTHENT | TicketFlags::RENEWABLE;
        assert!(requested_options(fwd, true) & KdcOptions::FORWARDABLE != 0);
        assert!(requested_options(plain, true) & KdcOptions::FORWARDABLE == 0);
        assert!(requested_options(fwd, false) & KdcOptions::FORWARDABLE == 0);
        assert!(requested_options(plain, true) & KdcOptions::CANONICALIZE != 0);
    }
}
