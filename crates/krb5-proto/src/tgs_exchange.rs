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
//! - enc-part server is the one asked (any name with canonicalize, as MIT) → [`ReplyCheck::ServerName`]
//! - the ticket's sname/realm equal the enc-part's → [`ReplyCheck::TicketServer`]
//! - no referral TGT in place of a service ticket → [`Error::Protocol`] (not supported yet)
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
use crate::principal::Principal;
use crate::rand::Rng;
use std::time::{Duration, SystemTime};

/// Options of a TGS request.
#[derive(Clone, Debug)]
pub struct TgsOptions {
    /// Session-key enctypes in order of preference.
    pub etypes: Vec<EncType>,
    /// Requested lifetime; `None` asks for the TGT's end time.
    pub lifetime: Option<Duration>,
    /// Set the canonicalize option.
    pub canonicalize: bool,
    /// Ask for a forwardable ticket (only done when the TGT itself is forwardable).
    pub forwardable: bool,
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
    /// Send this request again (over TCP) and give the reply to the returned state.
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
}

/// A TGS exchange waiting for the KDC's reply.
#[derive(Debug)]
pub struct TgsPending {
    tgt: Credentials,
    server: Principal,
    opts: TgsOptions,
    nonce: u32,
    last: TgsRequest,
    sent: Sent,
    /// The KDC time (our clock plus the TGT's offset) when the request was made.
    kdc_now: i64,
}

impl TgsExchange {
    /// Prepares a request for a ticket to `server` with `tgt`.
    pub fn new(tgt: Credentials, server: Principal, opts: TgsOptions) -> Self {
        Self { tgt, server, opts }
    }

    /// Builds the TGS-REQ: the request body, and a PA-TGS-REQ AP-REQ whose authenticator carries
    /// the body's checksum (key usage 6) and is encrypted under the TGT session key (usage 7).
    pub fn start(self, now: SystemTime, rng: &mut dyn Rng) -> Result<(TgsPending, TgsRequest)> {
        let (secs, _) = unix_secs_usec(now);
        let kdc_now = secs + self.tgt.time_offset;
        let nonce = rng.next_u32() & 0x7fff_ffff;
        let mut options = 0;
        // Only from a forwardable TGT, as MIT does (KDC_TKT_COMMON_MASK): Heimdal/Samba and AD
        // answer KDC_ERR_BADOPTION to a FORWARDABLE request with a non-forwardable TGT, such as
        // one MIT kinit gets without `forwardable = true` (the MIT KDC just drops the option).
        if self.opts.forwardable && self.tgt.flags & asn1::TicketFlags::FORWARDABLE != 0 {
            options |= KdcOptions::FORWARDABLE;
        }
        if self.opts.canonicalize {
            options |= KdcOptions::CANONICALIZE;
        }
        let till = match self.opts.lifetime {
            Some(l) => (kdc_now + l.as_secs() as i64).min(self.tgt.end_time),
            None => self.tgt.end_time,
        };
        let realm = self
            .tgt
            .server
            .components
            .get(1)
            .cloned()
            .unwrap_or_else(|| self.tgt.server.realm.clone());
        let body = KdcReqBody {
            kdc_options: KdcOptions(options),
            cname: None,
            realm: KerberosString(realm.clone()),
            sname: Some(asn1::PrincipalName::from_principal(&self.server)),
            from: None,
            till: KerberosTime::from_unix(till),
            rtime: None,
            nonce,
            etype: self.opts.etypes.iter().map(|e| e.to_i32()).collect(),
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
        let key = &self.tgt.session_key;
        let checksum = Checksum {
            r#type: key.etype().checksum_type(),
            checksum: key
                .checksum(key_usage::TGS_REQ_AUTH_CKSUM, &body_der)
                .into(),
        };
        let ap = build_ap_req(
            &self.tgt,
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
                tgt: self.tgt,
                server: self.server,
                opts: self.opts,
                nonce,
                last: out.clone(),
                sent,
                kdc_now,
            },
            out,
        ))
    }
}

impl TgsPending {
    /// Processes the KDC's reply.
    pub fn handle_reply(self, reply: &[u8]) -> Result<TgsStep> {
        const DURING: &str = "TGS exchange";
        let rep = match asn1::decode_kdc_reply(reply)? {
            KdcReply::TgsRep(rep) => rep,
            KdcReply::AsRep(_) => {
                return Err(Error::Protocol {
                    during: "TGS exchange",
                    what: "the KDC answered a TGS-REQ with an AS-REP".into(),
                });
            }
            KdcReply::Error(err)
                if err.error_code == error_code::KRB_ERR_RESPONSE_TOO_BIG
                    && !self.last.tcp_only =>
            {
                let mut again = self.last.clone();
                again.tcp_only = true;
                let next = Box::new(TgsPending {
                    last: again.clone(),
                    ..self
                });
                return Ok(TgsStep::Send(next, again));
            }
            KdcReply::Error(err) => {
                return Err(Error::Kdc(Box::new(KdcError::from_krb_error(
                    &err,
                    self.tgt.client.to_string(),
                    self.server.to_string(),
                    "TGS exchange".into(),
                ))));
            }
        };
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
        if !got_server.eq_ignore_case(&self.server) && !self.opts.canonicalize {
            return Err(modified(
                DURING,
                ReplyCheck::ServerName,
                format!(
                    "asked a ticket for {}, the KDC issued one for {got_server}",
                    self.server
                ),
            ));
        }
        check_ticket_server(DURING, &rep, &got_server)?;
        if got_server.is_krbtgt() && !self.server.is_krbtgt() {
            return Err(Error::Protocol {
                during: DURING,
                what: format!(
                    "the KDC sent a referral ticket ({got_server}) for {}; cross-realm referrals are not supported yet",
                    self.server
                ),
            });
        }
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
        Ok(TgsStep::Done(Credentials {
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
        }))
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
