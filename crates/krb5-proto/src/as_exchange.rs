//! The AS exchange (RFC 4120 §3.1) as a sans-IO state machine.
//!
//! [`AsExchange::start`] produces the first AS-REQ; each KDC reply goes to
//! [`AsPending::handle_reply`], which either asks for another request to be sent (pre-authentication
//! with the salt of PA-ETYPE-INFO2, clock-skew recovery, TCP after `KRB_ERR_RESPONSE_TOO_BIG`, a client
//! referral to another realm) or yields the [`Credentials`]. Time and randomness come in as arguments,
//! so every branch is testable without a KDC.
//!
//! # Checks of the AS-REP
//!
//! A reply is used only if it passes every check MIT krb5 makes (`check_reply_enctype()` and
//! `verify_as_reply()` in `lib/krb5/krb/get_in_tkt.c`), plus the flag check MIT leaves as a
//! "XXX". One line per check, in order, with the error it raises
//! (`tests/reply_tamper.rs` tampers with each field and expects that error):
//!
//! - enc-part enctype is one the request offered → [`Error::ReplyEnctypeNotOffered`] ("encrypted part")
//! - enc-part decrypts with our key → [`Error::WrongKey`]
//! - enc-part nonce is the request's → [`Error::ReplyModified`] / [`ReplyCheck::Nonce`]
//! - enc-part server (sname, srealm) is the one asked; with canonicalize a TGT may name another
//!   `krbtgt/` (as MIT allows) and a service may be renamed to its account in the same realm
//!   (AD) → [`ReplyCheck::ServerName`]
//! - the ticket's sname/realm equal the enc-part's → [`ReplyCheck::TicketServer`]
//! - client (cname, crealm): without canonicalize the one asked (case-insensitively); with it
//!   (RFC 6806) any name in the realm whose KDC answered (after client referrals), never a
//!   `krbtgt/` name → [`ReplyCheck::ClientName`]
//! - the session key's enctype is one the request offered → [`Error::ReplyEnctypeNotOffered`] ("session key")
//! - end time ≤ the requested till → [`ReplyCheck::EndTime`]
//! - renew-till ≤ rtime when RENEWABLE was asked; with RENEWABLE-OK alone, a renewable
//!   ticket's renew-till ≤ till → [`ReplyCheck::RenewTill`]
//! - no flag we did not ask for: forwardable (unless asked), forwarded, proxiable, proxy,
//!   may-postdate, postdated, invalid, anonymous; informational flags (initial, pre-authent,
//!   renewable, ok-as-delegate, enc-pa-rep, name-canonicalize...) are fine → [`ReplyCheck::Flags`]
//! - start time (auth time if absent) within [`DEFAULT_CLOCK_SKEW`] of the KDC's time, when a
//!   KRB-ERROR told us the KDC's time in this exchange (otherwise, like MIT's default
//!   `kdc_timesync`, the reply's auth time sets the offset) → [`Error::ReplySkew`]
//!
//! [`ReplyCheck::Nonce`]: crate::ReplyCheck::Nonce
//! [`ReplyCheck::ServerName`]: crate::ReplyCheck::ServerName
//! [`ReplyCheck::TicketServer`]: crate::ReplyCheck::TicketServer
//! [`ReplyCheck::ClientName`]: crate::ReplyCheck::ClientName
//! [`ReplyCheck::EndTime`]: crate::ReplyCheck::EndTime
//! [`ReplyCheck::RenewTill`]: crate::ReplyCheck::RenewTill
//! [`ReplyCheck::Flags`]: crate::ReplyCheck::Flags
//!
//! ```no_run
//! use krb5_proto::as_exchange::{AsExchange, AsOptions, AsStep, Secret};
//! use krb5_proto::rand::OsRng;
//! use krb5_proto::Principal;
//! use std::time::SystemTime;
//!
//! # fn send_to_kdc(_realm: &[u8], _req: &[u8], _tcp: bool) -> Vec<u8> { unimplemented!() }
//! let client = Principal::parse("alice@EXAMPLE.TEST", None)?;
//! let secret = Secret::password("correct horse");
//! let (mut pending, mut req) = AsExchange::new(client, secret, AsOptions::default())
//!     .start(SystemTime::now(), &mut OsRng);
//! let creds = loop {
//!     let reply = send_to_kdc(&req.realm, &req.bytes, req.tcp_only);
//!     match pending.handle_reply(&reply, SystemTime::now(), &mut OsRng)? {
//!         AsStep::Send(next, next_req) => (pending, req) = (*next, next_req),
//!         AsStep::Done(creds) => break creds,
//!     }
//! };
//! println!("TGT valid until {}", creds.end_time);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::asn1::{
    self, EncryptedData, EtypeInfo2Entry, KdcOptions, KdcRep, KdcReply, KdcReq, KdcReqBody,
    KerberosString, KerberosTime, KrbError, PaData, PaEncTsEnc, PaPacRequest, PrincipalName,
    TicketFlags,
};
use crate::asn1::{error_code, key_usage, pa_type};
use crate::creds::{Credentials, unix_secs_usec};
use crate::crypto::{CryptoError, EncType, Key};
use crate::error::{Error, KdcError, ReplyCheck, Result};
use crate::etype_policy::EnctypePolicy;
use crate::principal::Principal;
use crate::rand::Rng;
use crate::s2k::{KeyDeriver, S2kInput};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

/// The client's long-term secret.
#[derive(Clone)]
pub enum Secret {
    /// A password (UTF-8 bytes); keys are derived with the salt the KDC announces.
    Password(Zeroizing<Vec<u8>>),
    /// Keys, e.g. from a keytab; the first one whose enctype the KDC offers is used.
    Keys(Vec<Key>),
    /// A password whose AES keys are derived from `utf8` with the KDC's salt, while the RC4 key is
    /// given: for a gMSA, the NT hash is MD4 over the raw UTF-16 password, which differs from the
    /// hash of its (munged) UTF-8 form when the password holds unpaired surrogates.
    PasswordWithRc4 {
        /// The UTF-8 password for AES string-to-key.
        utf8: Zeroizing<Vec<u8>>,
        /// The RC4-HMAC key (NT hash).
        rc4: Key,
    },
}

impl Secret {
    /// A password secret.
    pub fn password(p: impl AsRef<[u8]>) -> Self {
        Secret::Password(Zeroizing::new(p.as_ref().to_vec()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Secret::Password(<redacted>)"),
            Secret::PasswordWithRc4 { .. } => f.write_str("Secret::PasswordWithRc4(<redacted>)"),
            Secret::Keys(k) => f.debug_tuple("Secret::Keys").field(k).finish(),
        }
    }
}

/// Options of an AS request.
#[derive(Clone, Debug)]
pub struct AsOptions {
    /// Enctypes this request may use (for a password; with keys, the keys' enctypes). The
    /// order of preference and what is allowed at all come from [`AsOptions::enctype_policy`]:
    /// an enctype is offered when it is both here and in the policy's `default_tkt_enctypes`.
    pub etypes: Vec<EncType>,
    /// krb5.conf's enctype policy ([`EnctypePolicy::from_conf`]). The default offers and
    /// accepts AES only: RC4 is used only when krb5.conf enables it.
    pub enctype_policy: EnctypePolicy,
    /// Who derives password keys (`None`: inline, in [`AsPending::handle_reply`]); see
    /// [`crate::s2k`].
    pub key_deriver: Option<Arc<dyn KeyDeriver>>,
    /// Requested ticket lifetime (the KDC may shorten it).
    pub lifetime: Duration,
    /// Requested renewable lifetime; `None` asks for a non-renewable ticket.
    pub renew_life: Option<Duration>,
    /// Ask for a forwardable ticket.
    pub forwardable: bool,
    /// Set the canonicalize option (needed for AD and for client referrals).
    pub canonicalize: bool,
    /// Send MS-KILE PA-PAC-REQUEST with this value (`Some(true)`, as Windows clients do, by default).
    pub request_pac: Option<bool>,
    /// The service to ask a ticket for; `None` means `krbtgt/REALM@REALM`.
    pub server: Option<Principal>,
    /// Upper bound on request/reply rounds (pre-auth, skew, referrals, TCP retry).
    pub max_rounds: u32,
    /// Send PA-ENC-TIMESTAMP in the first request with a key made from this enctype and salt,
    /// saving the round trip that asks the KDC for the salt. Meant for accounts whose salt follows
    /// a known rule (gMSAs and computer accounts); if the KDC refuses it, the exchange starts over
    /// the usual way. With a wrong password each attempt costs two failures at the KDC, so do not
    /// use it for accounts subject to lock-out.
    pub preauth_hint: Option<PreauthHint>,
}

/// An enctype and salt to pre-authenticate with before the KDC has said which to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreauthHint {
    /// The enctype of the key.
    pub etype: EncType,
    /// The salt for string-to-key.
    pub salt: Vec<u8>,
    /// The string-to-key parameters (`None`: the enctype's default).
    pub s2kparams: Option<Vec<u8>>,
}

impl Default for AsOptions {
    fn default() -> Self {
        Self {
            etypes: EncType::ALL.to_vec(),
            enctype_policy: EnctypePolicy::default(),
            key_deriver: None,
            lifetime: Duration::from_secs(10 * 3600),
            renew_life: None,
            forwardable: true,
            canonicalize: true,
            request_pac: Some(true),
            server: None,
            max_rounds: 8,
            preauth_hint: None,
        }
    }
}

/// A request to send to a KDC of `realm`.
#[derive(Clone, Debug)]
pub struct AsRequest {
    /// The DER-encoded AS-REQ.
    pub bytes: Vec<u8>,
    /// The realm whose KDC must receive it (changes after a client referral).
    pub realm: Vec<u8>,
    /// Send over TCP only (the KDC said the reply is too big for UDP).
    pub tcp_only: bool,
    /// The request carries pre-authentication, so the KDC answers it with a ticket: from Active
    /// Directory that reply carries a PAC and rarely fits UDP (see
    /// `Client::with_tcp_for_tickets`, feature `tokio`).
    pub expects_ticket: bool,
}

/// What to do after a reply.
#[derive(Debug)]
pub enum AsStep {
    /// Send this request and give the reply to the returned state.
    Send(Box<AsPending>, AsRequest),
    /// The exchange succeeded.
    Done(Credentials),
}

/// An AS exchange that has not started.
#[derive(Debug)]
pub struct AsExchange {
    ctx: Ctx,
}

/// An AS exchange waiting for the KDC's reply to the last request.
#[derive(Debug)]
pub struct AsPending {
    ctx: Ctx,
    nonce: u32,
    last: AsRequest,
    sent: Sent,
}

/// What the last request asked for, to hold the reply against.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    /// KDC options of the request.
    pub(crate) options: u32,
    /// The requested end time (Unix seconds).
    pub(crate) till: i64,
    /// The requested renew-till time, if any.
    pub(crate) rtime: Option<i64>,
    /// The offered enctypes.
    pub(crate) etypes: Vec<i32>,
}

/// A pre-authentication key chosen from the KDC's PA-ETYPE-INFO2.
#[derive(Debug, Clone)]
struct Preauth {
    key: Key,
}

#[derive(Debug)]
struct Ctx {
    client: Principal,
    realm: Vec<u8>,
    secret: Secret,
    opts: AsOptions,
    preauth: Option<Preauth>,
    /// Times we were asked for pre-authentication.
    preauth_rounds: u32,
    skew_retried: bool,
    /// `time_offset` was learned from a KDC message (KRB-ERROR stime), so the reply's start
    /// time can be held against the KDC's clock.
    kdc_time_known: bool,
    /// The first request carried a timestamp made with [`AsOptions::preauth_hint`].
    optimistic: bool,
    tcp_only: bool,
    rounds: u32,
    referrals: u32,
    /// KDC time minus local time, seconds.
    time_offset: i64,
}

impl AsExchange {
    /// Prepares an AS exchange for `client` (its realm is the first realm asked).
    pub fn new(client: Principal, secret: Secret, opts: AsOptions) -> Self {
        let realm = client.realm.clone();
        Self {
            ctx: Ctx {
                client,
                realm,
                secret,
                opts,
                preauth: None,
                preauth_rounds: 0,
                skew_retried: false,
                kdc_time_known: false,
                optimistic: false,
                tcp_only: false,
                rounds: 0,
                referrals: 0,
                time_offset: 0,
            },
        }
    }

    /// Builds the first AS-REQ (without pre-authentication: the KDC's answer tells the salt).
    pub fn start(self, now: SystemTime, rng: &mut dyn Rng) -> (AsPending, AsRequest) {
        let mut ctx = self.ctx;
        if let Some(hint) = ctx.opts.preauth_hint.clone() {
            let entry = EtypeInfo2Entry {
                etype: hint.etype.to_i32(),
                salt: Some(KerberosString(hint.salt)),
                s2kparams: hint.s2kparams.map(Into::into),
            };
            // A hint we cannot use (no key of that type) is simply ignored.
            if let Ok(Some(key)) = ctx.key_for(&entry) {
                ctx.preauth = Some(Preauth { key });
                ctx.optimistic = true;
            }
        }
        ctx.request(now, rng)
    }
}

impl AsPending {
    /// The realm whose KDC the last request went to.
    pub fn realm(&self) -> &[u8] {
        &self.ctx.realm
    }

    /// Processes the KDC's reply to the last request.
    pub fn handle_reply(self, reply: &[u8], now: SystemTime, rng: &mut dyn Rng) -> Result<AsStep> {
        let AsPending {
            mut ctx,
            nonce,
            last,
            sent,
        } = self;
        ctx.rounds += 1;
        if ctx.rounds >= ctx.opts.max_rounds {
            return Err(Error::TooManyRounds {
                rounds: ctx.rounds,
                during: "AS exchange",
                last: "the KDC kept asking for another request".into(),
            });
        }
        match asn1::decode_kdc_reply(reply)? {
            KdcReply::AsRep(rep) => ctx.finish(rep, nonce, &sent, now).map(AsStep::Done),
            KdcReply::TgsRep(_) => Err(Error::Protocol {
                during: "AS exchange",
                what: "the KDC answered an AS-REQ with a TGS-REP".into(),
            }),
            KdcReply::Error(err) => ctx.on_error(err, last, sent, nonce, now, rng),
        }
    }
}

impl Ctx {
    fn server(&self) -> Principal {
        match &self.opts.server {
            Some(s) => s.clone(),
            None => Principal::krbtgt(&self.realm),
        }
    }

    fn kdc_now(&self, now: SystemTime) -> (i64, i32) {
        let (s, us) = unix_secs_usec(now);
        (s + self.time_offset, us)
    }

    /// Enctypes we could make a key of, ignoring the policy.
    fn could_use(&self, e: EncType) -> bool {
        match &self.secret {
            Secret::Password(_) | Secret::PasswordWithRc4 { .. } => true,
            Secret::Keys(keys) => keys.iter().any(|k| k.etype() == e),
        }
    }

    /// Enctypes to offer (and accept), in the policy's preference order: in the policy's
    /// `default_tkt_enctypes`, in [`AsOptions::etypes`], and (for keys) held.
    fn allowed(&self) -> Vec<EncType> {
        self.opts
            .enctype_policy
            .tkt_enctypes()
            .iter()
            .copied()
            .filter(|e| self.opts.etypes.contains(e) && self.could_use(*e))
            .collect()
    }

    /// Enctypes to offer, in preference order.
    fn offered_etypes(&self) -> Vec<i32> {
        self.allowed().into_iter().map(EncType::to_i32).collect()
    }

    /// Of `etypes` (the KDC's, or every one we know), those we could use but the policy
    /// forbids.
    fn disabled_by_policy(&self, etypes: &[i32]) -> Vec<EncType> {
        let tkt = self.opts.enctype_policy.tkt_enctypes();
        etypes
            .iter()
            .filter_map(|e| EncType::from_i32(*e))
            .filter(|e| self.could_use(*e) && self.opts.etypes.contains(e) && !tkt.contains(e))
            .collect()
    }

    /// The error for a KDC that offers only enctypes the policy forbids.
    /// `refusal`: the KDC did not list enctypes but refused ours (how, e.g.
    /// `KDC_ERR_ETYPE_NOSUPP`).
    fn policy_error(
        &self,
        kdc_offers: Vec<i32>,
        disabled: Vec<EncType>,
        refusal: Option<&str>,
    ) -> Error {
        let names = |v: &[EncType]| {
            v.iter()
                .map(|e| format!("{} ({})", e.name(), e.to_i32()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let how: Vec<String> = disabled
            .iter()
            .map(|e| self.opts.enctype_policy.how_to_enable(*e))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let detail = if let Some(refusal) = refusal {
            format!(
                "the KDC has no key of the enabled enctypes [{}] for {} ({refusal}); \
                 {} {} disabled: if the account has only such a key, {}",
                names(&self.allowed()),
                self.client,
                names(&disabled),
                if disabled.len() == 1 { "is" } else { "are" },
                how.join("; ")
            )
        } else {
            format!(
                "the KDC offers only {} for {}, which {} disabled: {}",
                names(&disabled),
                self.client,
                if disabled.len() == 1 { "is" } else { "are" },
                how.join("; ")
            )
        };
        Error::EnctypeDisabled {
            principal: self.client.to_string(),
            kdc_offers,
            disabled: disabled.iter().map(|e| e.to_i32()).collect(),
            detail,
        }
    }

    fn request(self, now: SystemTime, rng: &mut dyn Rng) -> (AsPending, AsRequest) {
        let (secs, usec) = self.kdc_now(now);
        let nonce = rng.next_u32() & 0x7fff_ffff;
        let mut padata = Vec::new();
        if let Some(pre) = &self.preauth {
            let ts = PaEncTsEnc {
                patimestamp: KerberosTime::from_unix(secs),
                pausec: Some(usec),
            };
            let cipher =
                pre.key
                    .encrypt(key_usage::AS_REQ_PA_ENC_TIMESTAMP, &asn1::encode(&ts), rng);
            let enc = EncryptedData {
                etype: pre.key.etype().to_i32(),
                kvno: None,
                cipher: cipher.into(),
            };
            padata.push(PaData {
                r#type: pa_type::ENC_TIMESTAMP,
                value: asn1::encode(&enc).into(),
            });
        }
        if let Some(include_pac) = self.opts.request_pac {
            padata.push(PaData {
                r#type: pa_type::PAC_REQUEST,
                value: asn1::encode(&PaPacRequest { include_pac }).into(),
            });
        }
        let mut options = KdcOptions::RENEWABLE_OK;
        if self.opts.forwardable {
            options |= KdcOptions::FORWARDABLE;
        }
        if self.opts.canonicalize {
            options |= KdcOptions::CANONICALIZE;
        }
        if self.opts.renew_life.is_some() {
            options |= KdcOptions::RENEWABLE;
        }
        let server = self.server();
        let till = secs + self.opts.lifetime.as_secs() as i64;
        let rtime = self.opts.renew_life.map(|r| secs + r.as_secs() as i64);
        let sent = Sent {
            options,
            till,
            rtime,
            etypes: self.offered_etypes(),
        };
        let body = KdcReqBody {
            kdc_options: KdcOptions(options),
            cname: Some(PrincipalName::from_principal(&self.client)),
            realm: KerberosString(self.realm.clone()),
            sname: Some(PrincipalName::from_principal(&server)),
            from: None,
            till: KerberosTime::from_unix(till),
            rtime: rtime.map(KerberosTime::from_unix),
            nonce,
            etype: sent.etypes.clone(),
            addresses: None,
            enc_authorization_data: None,
            additional_tickets: None,
        };
        let req = asn1::AsReq(KdcReq {
            pvno: 5,
            msg_type: asn1::msg_type::AS_REQ,
            padata: if padata.is_empty() {
                None
            } else {
                Some(padata)
            },
            req_body: body,
        });
        let out = AsRequest {
            bytes: asn1::encode(&req),
            realm: self.realm.clone(),
            tcp_only: self.tcp_only,
            expects_ticket: self.preauth.is_some(),
        };
        (
            AsPending {
                ctx: self,
                nonce,
                last: out.clone(),
                sent,
            },
            out,
        )
    }

    fn kdc_error(&self, err: &KrbError, during: String) -> Error {
        Error::Kdc(Box::new(KdcError::from_krb_error(
            err,
            self.client.to_string(),
            self.server().to_string(),
            during,
        )))
    }

    fn during(&self) -> String {
        match &self.preauth {
            Some(p) => format!(
                "AS exchange with encrypted-timestamp pre-authentication ({})",
                p.key.etype().name()
            ),
            None => "AS exchange".to_string(),
        }
    }

    fn on_error(
        mut self,
        err: KrbError,
        last: AsRequest,
        sent: Sent,
        nonce: u32,
        now: SystemTime,
        rng: &mut dyn Rng,
    ) -> Result<AsStep> {
        let (local, _) = unix_secs_usec(now);
        let kdc_offset = err.stime.to_unix() - local;
        match err.error_code {
            error_code::KDC_ERR_PREAUTH_REQUIRED => {
                self.optimistic = false;
                self.preauth_rounds += 1;
                if self.preauth_rounds > 2 {
                    return Err(self.kdc_error(
                        &err,
                        "AS exchange (pre-authentication was sent and refused again)".into(),
                    ));
                }
                let hints = match &err.e_data {
                    Some(d) => asn1::decode::<Vec<PaData>>(d)?,
                    None => Vec::new(),
                };
                // A KDC that lists methods but neither PA-ENC-TIMESTAMP nor any etype-info
                // holds no key of the offered enctypes (MIT answers so): guessing a key would
                // only cost the account a failed pre-authentication.
                let listed = |t: i32| hints.iter().any(|h| h.r#type == t);
                if !hints.is_empty()
                    && !listed(pa_type::ENC_TIMESTAMP)
                    && !listed(pa_type::ETYPE_INFO2)
                    && !listed(pa_type::ETYPE_INFO)
                    && !listed(pa_type::PW_SALT)
                {
                    let disabled = self.disabled_by_policy(&EncType::ALL.map(EncType::to_i32));
                    if !disabled.is_empty() {
                        return Err(self.policy_error(
                            Vec::new(),
                            disabled,
                            Some("KDC_ERR_PREAUTH_REQUIRED without encrypted-timestamp or etype-info"),
                        ));
                    }
                    return Err(self.kdc_error(
                        &err,
                        "AS exchange (the KDC offers no encrypted-timestamp pre-authentication: \
                         it holds no key of the offered enctypes)"
                            .into(),
                    ));
                }
                self.preauth = Some(self.choose_preauth_key(&hints)?);
                // Use the KDC's clock for the timestamp (MIT's kdc_timesync behaviour).
                self.time_offset = kdc_offset;
                self.kdc_time_known = true;
                let (p, r) = self.request(now, rng);
                Ok(AsStep::Send(Box::new(p), r))
            }
            // The guessed key was refused: start over and let the KDC tell the salt.
            error_code::KDC_ERR_PREAUTH_FAILED | error_code::KDC_ERR_ETYPE_NOSUPP
                if self.optimistic =>
            {
                self.optimistic = false;
                self.preauth = None;
                let (p, r) = self.request(now, rng);
                Ok(AsStep::Send(Box::new(p), r))
            }
            error_code::KRB_AP_ERR_SKEW if !self.skew_retried => {
                self.skew_retried = true;
                self.time_offset = kdc_offset;
                self.kdc_time_known = true;
                let (p, r) = self.request(now, rng);
                Ok(AsStep::Send(Box::new(p), r))
            }
            error_code::KRB_ERR_RESPONSE_TOO_BIG if !self.tcp_only => {
                self.tcp_only = true;
                let mut again = last;
                again.tcp_only = true;
                // The same request, nonce included, goes again over TCP.
                let next = Box::new(AsPending {
                    ctx: self,
                    nonce,
                    last: again.clone(),
                    sent,
                });
                Ok(AsStep::Send(next, again))
            }
            error_code::KDC_ERR_C_PRINCIPAL_UNKNOWN | error_code::KDC_ERR_WRONG_REALM
                if self.opts.canonicalize
                    && err.crealm.as_ref().is_some_and(|r| {
                        !r.as_bytes().is_empty() && r.as_bytes() != self.realm
                    }) =>
            {
                self.referrals += 1;
                if self.referrals > 3 {
                    return Err(Error::TooManyRounds {
                        rounds: self.rounds,
                        during: "AS exchange",
                        last: "too many client referrals".into(),
                    });
                }
                // Client referral (RFC 6806 §4): ask the named realm; its salt may differ.
                self.realm = err.crealm.map(|r| r.0).unwrap_or_default();
                self.preauth = None;
                self.preauth_rounds = 0;
                let (p, r) = self.request(now, rng);
                Ok(AsStep::Send(Box::new(p), r))
            }
            error_code::KDC_ERR_ETYPE_NOSUPP => {
                let disabled = self.disabled_by_policy(&EncType::ALL.map(EncType::to_i32));
                if disabled.is_empty() {
                    Err(self.kdc_error(&err, self.during()))
                } else {
                    Err(self.policy_error(Vec::new(), disabled, Some("KDC_ERR_ETYPE_NOSUPP")))
                }
            }
            _ => Err(self.kdc_error(&err, self.during())),
        }
    }

    /// The salt MIT calls "normal": realm followed by the name components.
    fn default_salt(&self) -> Vec<u8> {
        let mut s = self.realm.clone();
        for c in &self.client.components {
            s.extend_from_slice(c);
        }
        s
    }

    /// Picks our preferred enctype among those the KDC lists (PA-ETYPE-INFO2, else PA-ETYPE-INFO / PA-PW-SALT).
    fn choose_preauth_key(&self, hints: &[PaData]) -> Result<Preauth> {
        let entries = etype_info_entries(hints)?;
        let offered = self.offered_etypes();
        // With no ETYPE-INFO at all, assume our preferred enctype with the default salt.
        let candidates: Vec<EtypeInfo2Entry> = if entries.is_empty() {
            offered
                .iter()
                .map(|&e| EtypeInfo2Entry {
                    etype: e,
                    salt: None,
                    s2kparams: None,
                })
                .collect()
        } else {
            entries
        };
        // Our preference order decides (MIT does the same).
        for e in &offered {
            if let Some(entry) = candidates.iter().find(|c| c.etype == *e)
                && let Some(key) = self.key_for(entry)?
            {
                return Ok(Preauth { key });
            }
        }
        let kdc_offers: Vec<i32> = candidates.iter().map(|c| c.etype).collect();
        let disabled = self.disabled_by_policy(&kdc_offers);
        if !disabled.is_empty() {
            return Err(self.policy_error(kdc_offers, disabled, None));
        }
        Err(Error::NoCommonEnctype {
            principal: self.client.to_string(),
            kdc_offers,
            we_have: offered,
        })
    }

    /// Our key for the KDC's etype-info entry, if we can make one.
    fn key_for(&self, entry: &EtypeInfo2Entry) -> Result<Option<Key>> {
        let Some(etype) = EncType::from_i32(entry.etype) else {
            return Ok(None);
        };
        // Never a key of an enctype we did not offer (a KDC or a machine in the middle may
        // list anything in PA-ETYPE-INFO2).
        if !self.allowed().contains(&etype) {
            return Ok(None);
        }
        match &self.secret {
            Secret::Keys(keys) => Ok(keys.iter().find(|k| k.etype() == etype).cloned()),
            Secret::PasswordWithRc4 { rc4, .. } if etype == EncType::Rc4Hmac => {
                Ok(Some(rc4.clone()))
            }
            Secret::Password(pw) | Secret::PasswordWithRc4 { utf8: pw, .. } => {
                let salt = match &entry.salt {
                    Some(s) => s.as_bytes().to_vec(),
                    None => self.default_salt(),
                };
                let params = entry.s2kparams.as_ref().map(|p| p.to_vec());
                // Range-checked before any work: too many iterations are refused here, too
                // few (a weaker key than the account's, as MIT also refuses) too.
                let iterations = crate::crypto::s2k_iterations(etype, params.as_deref())?;
                if let (Some(count), Some(default)) = (iterations, etype.default_s2kparams()) {
                    let minimum = u32::from_be_bytes(default);
                    if count < minimum {
                        return Err(CryptoError::IterationCountTooSmall {
                            etype: etype.name(),
                            count,
                            minimum,
                        }
                        .into());
                    }
                }
                let input = S2kInput {
                    principal: &self.client,
                    etype,
                    password: pw,
                    salt: &salt,
                    s2kparams: params.as_deref(),
                    iterations,
                };
                let key = match &self.opts.key_deriver {
                    Some(d) => d.derive(&input)?,
                    None => input.derive_inline()?,
                };
                Ok(Some(key))
            }
        }
    }

    fn finish(self, rep: KdcRep, nonce: u32, sent: &Sent, now: SystemTime) -> Result<Credentials> {
        const DURING: &str = "AS exchange";
        let etype = rep.enc_part.etype;
        // Before any key is made: a reply in an enctype we did not offer (MIT's check_reply_enctype);
        // one that krb5.conf's policy disables is named as such.
        if !sent.etypes.contains(&etype) {
            let disabled = self.disabled_by_policy(&[etype]);
            if !disabled.is_empty() {
                return Err(self.policy_error(vec![etype], disabled, None));
            }
        }
        check_offered(DURING, "encrypted part", etype, &sent.etypes)?;
        let key = match &self.preauth {
            Some(p) if p.key.etype().to_i32() == etype => p.key.clone(),
            _ => {
                // No pre-authentication was needed: the reply's padata tells the salt.
                let mut hints = etype_info_entries(rep.padata.as_deref().unwrap_or(&[]))?;
                hints.retain(|e| e.etype == etype);
                let entry = hints.pop().unwrap_or(EtypeInfo2Entry {
                    etype,
                    salt: None,
                    s2kparams: None,
                });
                self.key_for(&entry)?
                    .ok_or_else(|| Error::NoCommonEnctype {
                        principal: self.client.to_string(),
                        kdc_offers: vec![etype],
                        we_have: self.offered_etypes(),
                    })?
            }
        };
        let plain = key
            .decrypt(key_usage::AS_REP_ENCPART, &rep.enc_part.cipher)
            .map_err(|_| Error::WrongKey {
                principal: self.client.to_string(),
                etype: key.etype().name(),
            })?;
        let part = asn1::decode_enc_kdc_rep_part(&plain)?;
        check_nonce(DURING, nonce, part.nonce)?;
        let server = self.server();
        let got_server = part.sname.to_principal(&part.srealm);
        let server_ok = got_server.eq_ignore_case(&server)
            || (self.opts.canonicalize && server.is_krbtgt() && got_server.is_krbtgt())
            || (self.opts.canonicalize && canonical_service_name(&server, &got_server, &rep));
        if !server_ok {
            return Err(modified(
                DURING,
                ReplyCheck::ServerName,
                format!("asked a ticket for {server}, the KDC issued one for {got_server}"),
            ));
        }
        check_ticket_server(DURING, &rep, &got_server)?;
        let client = rep.cname.to_principal(&rep.crealm);
        self.check_client(&client)?;
        check_offered(DURING, "session key", part.key.r#type, &sent.etypes)?;
        let auth_time = part.auth_time.to_unix();
        let times = Times {
            start: part.start_time.map(|t| t.to_unix()),
            end: part.end_time.to_unix(),
            renew_till: part.renew_till.map(|t| t.to_unix()),
        };
        check_times(DURING, sent, &times, part.flags.0)?;
        // Flags nobody asked for: this client never asks for proxiable, postdated, invalid,
        // forwarded or anonymous tickets, and asks for forwardable only when configured to.
        let mut allowed = !(TicketFlags::PROXIABLE
            | TicketFlags::PROXY
            | TicketFlags::MAY_POSTDATE
            | TicketFlags::POSTDATED
            | TicketFlags::INVALID
            | TicketFlags::FORWARDED
            | TicketFlags::ANONYMOUS
            | TicketFlags::FORWARDABLE);
        if sent.options & KdcOptions::FORWARDABLE != 0 {
            allowed |= TicketFlags::FORWARDABLE;
        }
        check_flags(DURING, part.flags.0, allowed)?;
        let (local, _) = unix_secs_usec(now);
        if self.kdc_time_known {
            // MIT (without kdc_timesync) holds the start time against the clock skew; we know
            // the KDC's time from its KRB-ERROR, so hold it against that.
            check_skew(
                DURING,
                times.start.unwrap_or(auth_time),
                local + self.time_offset,
                DEFAULT_CLOCK_SKEW,
            )?;
        }
        let session_key = key_from_asn1(&part.key)?;
        if !self.opts.enctype_policy.permits(session_key.etype()) {
            return Err(Error::Protocol {
                during: "AS exchange",
                what: format!(
                    "the KDC chose a {} session key, which krb5.conf does not permit",
                    session_key.etype().name()
                ),
            });
        }
        Ok(Credentials {
            client,
            server: got_server,
            session_key,
            ticket: asn1::encode(&rep.ticket),
            flags: part.flags.0,
            auth_time,
            start_time: times.start.unwrap_or(auth_time),
            end_time: times.end,
            renew_till: times.renew_till,
            time_offset: auth_time - local,
            pa_type: self.preauth.as_ref().map(|_| pa_type::ENC_TIMESTAMP),
            client_kvno: rep.enc_part.kvno,
        })
    }

    /// The reply's client (cname, crealm): without canonicalize exactly the one asked for (case
    /// aside); with canonicalize the KDC may change the name (RFC 6806 §5: AD answers with the
    /// account's canonical name and case), but not the realm: the realm is the one whose KDC
    /// answered, which is the one a client referral (KDC_ERR_WRONG_REALM) sent us to.
    fn check_client(&self, client: &Principal) -> Result<()> {
        let ok = if self.opts.canonicalize {
            client.realm.eq_ignore_ascii_case(&self.realm)
                && !client.components.is_empty()
                && !client.is_krbtgt()
        } else {
            client.eq_ignore_case(&self.client)
        };
        if ok {
            Ok(())
        } else {
            Err(modified(
                "AS exchange",
                ReplyCheck::ClientName,
                format!(
                    "asked a ticket for {} (realm {}), the KDC issued one for {client}",
                    self.client,
                    String::from_utf8_lossy(&self.realm)
                ),
            ))
        }
    }
}

/// MIT's default `clockskew`: how far a reply's start time may be from the KDC time we know.
pub const DEFAULT_CLOCK_SKEW: i64 = 300;

/// The times of a reply's enc-part.
pub(crate) struct Times {
    pub(crate) start: Option<i64>,
    pub(crate) end: i64,
    pub(crate) renew_till: Option<i64>,
}

pub(crate) fn modified(during: &'static str, check: ReplyCheck, detail: String) -> Error {
    Error::ReplyModified {
        during,
        check,
        detail,
    }
}

/// The enctype must be one the request offered (MIT: `check_reply_enctype`).
pub(crate) fn check_offered(
    during: &'static str,
    what: &'static str,
    etype: i32,
    offered: &[i32],
) -> Result<()> {
    if offered.contains(&etype) {
        Ok(())
    } else {
        Err(Error::ReplyEnctypeNotOffered {
            during,
            what,
            etype,
            offered: offered.to_vec(),
        })
    }
}

/// The enc-part's nonce must be the request's.
pub(crate) fn check_nonce(during: &'static str, asked: u32, got: u32) -> Result<()> {
    if asked == got {
        Ok(())
    } else {
        Err(modified(
            during,
            ReplyCheck::Nonce,
            format!("the reply's nonce {got} is not the request's {asked}"),
        ))
    }
}

/// The ticket's (unauthenticated) server name must be the enc-part's (MIT compares them in
/// every AS and TGS reply).
pub(crate) fn check_ticket_server(
    during: &'static str,
    rep: &KdcRep,
    enc_server: &Principal,
) -> Result<()> {
    let tkt_server = rep.ticket.sname.to_principal(&rep.ticket.realm);
    if tkt_server.components == enc_server.components && tkt_server.realm == enc_server.realm {
        Ok(())
    } else {
        Err(modified(
            during,
            ReplyCheck::TicketServer,
            format!("the ticket names {tkt_server}, the encrypted part {enc_server}"),
        ))
    }
}

/// End and renew-till within what was asked (MIT's rules): end ≤ till; renew-till ≤ rtime when
/// RENEWABLE was asked; with RENEWABLE-OK alone, a renewable ticket's renew-till ≤ till.
pub(crate) fn check_times(during: &'static str, sent: &Sent, t: &Times, flags: u32) -> Result<()> {
    if t.end > sent.till {
        return Err(modified(
            during,
            ReplyCheck::EndTime,
            format!(
                "the ticket ends at {}, after the requested {}",
                t.end, sent.till
            ),
        ));
    }
    let renew_limit = if sent.options & KdcOptions::RENEWABLE != 0 {
        sent.rtime
    } else if sent.options & KdcOptions::RENEWABLE_OK != 0 && flags & TicketFlags::RENEWABLE != 0 {
        Some(sent.till)
    } else {
        None
    };
    if let (Some(limit), Some(rt)) = (renew_limit, t.renew_till)
        && rt > limit
    {
        return Err(modified(
            during,
            ReplyCheck::RenewTill,
            format!("the ticket is renewable until {rt}, after the allowed {limit}"),
        ));
    }
    Ok(())
}

/// Only the flags in `allowed` may be set.
pub(crate) fn check_flags(during: &'static str, flags: u32, allowed: u32) -> Result<()> {
    let extra = flags & !allowed;
    if extra == 0 {
        Ok(())
    } else {
        Err(modified(
            during,
            ReplyCheck::Flags,
            format!(
                "the ticket has flags {extra:#010x} ({}) that the request did not ask for",
                flag_names(extra)
            ),
        ))
    }
}

fn flag_names(flags: u32) -> String {
    const NAMES: [(u32, &str); 8] = [
        (TicketFlags::FORWARDABLE, "forwardable"),
        (TicketFlags::FORWARDED, "forwarded"),
        (TicketFlags::PROXIABLE, "proxiable"),
        (TicketFlags::PROXY, "proxy"),
        (TicketFlags::MAY_POSTDATE, "may-postdate"),
        (TicketFlags::POSTDATED, "postdated"),
        (TicketFlags::INVALID, "invalid"),
        (TicketFlags::ANONYMOUS, "anonymous"),
    ];
    let v: Vec<&str> = NAMES
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
        .collect();
    v.join(", ")
}

/// The start time must be within `skew` seconds of the KDC time we know.
pub(crate) fn check_skew(during: &'static str, start: i64, kdc_now: i64, skew: i64) -> Result<()> {
    if (start - kdc_now).abs() <= skew {
        Ok(())
    } else {
        Err(Error::ReplySkew {
            during,
            start_time: start,
            kdc_now,
            skew,
        })
    }
}

/// Whether `got` may stand for the requested service `asked` after canonicalization: Active
/// Directory answers an AS-REQ for an SPN (`ldap/dc1.example.test`) with the account's canonical
/// name (`DC1$`), in the enc-part and in the ticket. Accepted only for a service (never a TGT in
/// place of a service or the reverse), in the same realm, and when the ticket names the same
/// server as the authenticated enc-part.
fn canonical_service_name(asked: &Principal, got: &Principal, rep: &KdcRep) -> bool {
    !asked.is_krbtgt()
        && !got.is_krbtgt()
        && got.realm.eq_ignore_ascii_case(&asked.realm)
        && rep
            .ticket
            .sname
            .to_principal(&rep.ticket.realm)
            .eq_ignore_case(got)
}

/// Converts a wire EncryptionKey to a crypto key.
pub(crate) fn key_from_asn1(k: &asn1::EncryptionKey) -> Result<Key> {
    let etype = EncType::from_i32(k.r#type).ok_or_else(|| Error::Protocol {
        during: "reading a session key",
        what: format!(
            "the KDC chose enctype {} which this client does not support",
            k.r#type
        ),
    })?;
    Ok(Key::new(etype, &k.value)?)
}

/// Etype-info entries from PA-ETYPE-INFO2, or PA-ETYPE-INFO, or PA-PW-SALT (applied to all etypes).
fn etype_info_entries(padata: &[PaData]) -> Result<Vec<EtypeInfo2Entry>> {
    if let Some(pa) = padata.iter().find(|p| p.r#type == pa_type::ETYPE_INFO2) {
        return Ok(asn1::decode::<Vec<EtypeInfo2Entry>>(&pa.value)?);
    }
    if let Some(pa) = padata.iter().find(|p| p.r#type == pa_type::ETYPE_INFO) {
        let v: Vec<asn1::EtypeInfoEntry> = asn1::decode(&pa.value)?;
        return Ok(v
            .into_iter()
            .map(|e| EtypeInfo2Entry {
                etype: e.etype,
                salt: e.salt.map(|s| KerberosString(s.to_vec())),
                s2kparams: None,
            })
            .collect());
    }
    if let Some(pa) = padata.iter().find(|p| p.r#type == pa_type::PW_SALT) {
        return Ok(EncType::ALL
            .iter()
            .map(|e| EtypeInfo2Entry {
                etype: e.to_i32(),
                salt: Some(KerberosString(pa.value.to_vec())),
                s2kparams: None,
            })
            .collect());
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asn1::{EncAsRepPart, EncKdcRepPart, EncryptionKey, Ticket, TicketFlags};
    use crate::rand::TestRng;

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    /// An AS-REP for `pending` naming `enc_server` in the enc-part and `tkt_server` on the ticket.
    fn as_rep(pending: &AsPending, key: &Key, enc_server: &str, tkt_server: &str) -> Vec<u8> {
        let enc_server = Principal::parse(enc_server, None).unwrap();
        let tkt_server = Principal::parse(tkt_server, None).unwrap();
        let part = EncKdcRepPart {
            key: EncryptionKey {
                r#type: 18,
                value: vec![7u8; 32].into(),
            },
            last_req: Vec::new(),
            nonce: pending.nonce,
            key_expiration: None,
            flags: TicketFlags(TicketFlags::INITIAL),
            auth_time: KerberosTime::from_unix(NOW as i64),
            start_time: None,
            end_time: KerberosTime::from_unix(NOW as i64 + 3600),
            renew_till: None,
            srealm: KerberosString(enc_server.realm.clone()),
            sname: PrincipalName::from_principal(&enc_server),
            caddr: None,
            encrypted_pa_data: None,
        };
        let mut rng = TestRng::new(3);
        let rep = asn1::AsRep(KdcRep {
            pvno: 5,
            msg_type: asn1::msg_type::AS_REP,
            padata: None,
            crealm: KerberosString::from("EXAMPLE.TEST"),
            cname: PrincipalName::from_principal(&pending.ctx.client),
            ticket: Ticket {
                tkt_vno: 5,
                realm: KerberosString(tkt_server.realm.clone()),
                sname: PrincipalName::from_principal(&tkt_server),
                enc_part: EncryptedData {
                    etype: 18,
                    kvno: Some(1),
                    cipher: vec![1, 2, 3].into(),
                },
            },
            enc_part: EncryptedData {
                etype: 18,
                kvno: Some(1),
                cipher: key
                    .encrypt(
                        key_usage::AS_REP_ENCPART,
                        &asn1::encode(&EncAsRepPart(part)),
                        &mut rng,
                    )
                    .into(),
            },
        });
        asn1::encode(&rep)
    }

    fn exchange_for_service(canonicalize: bool) -> (AsPending, Key) {
        let key = Key::new(EncType::Aes256CtsHmacSha196, &[4u8; 32]).unwrap();
        let opts = AsOptions {
            canonicalize,
            server: Some(Principal::parse("ldap/dc1.example.test@EXAMPLE.TEST", None).unwrap()),
            ..Default::default()
        };
        let client = Principal::parse("svc-fetcher@EXAMPLE.TEST", None).unwrap();
        let (pending, _) = AsExchange::new(client, Secret::Keys(vec![key.clone()]), opts)
            .start(now(), &mut TestRng::new(1));
        (pending, key)
    }

    /// Samba (as Windows) answers an AS-REQ for `ldap/dc1.example.test` with canonicalize set
    /// with a ticket for the account's canonical name `DC1$`; the engine used to refuse it.
    #[test]
    fn as_for_a_service_accepts_ads_canonical_account_name() {
        let (pending, key) = exchange_for_service(true);
        let rep = as_rep(&pending, &key, "DC1$@EXAMPLE.TEST", "DC1$@EXAMPLE.TEST");
        match pending.handle_reply(&rep, now(), &mut TestRng::new(2)) {
            Ok(AsStep::Done(c)) => assert_eq!(c.server.to_string(), "DC1$@EXAMPLE.TEST"),
            other => panic!("expected the ticket, got {other:?}"),
        }
    }

    #[test]
    fn as_for_a_service_still_refuses_other_names() {
        for (canonicalize, enc, tkt) in [
            // Not asked to canonicalize: the name must match.
            (false, "DC1$@EXAMPLE.TEST", "DC1$@EXAMPLE.TEST"),
            // A TGT where a service was asked for.
            (
                true,
                "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST",
                "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST",
            ),
            // Another realm.
            (true, "DC1$@OTHER.TEST", "DC1$@OTHER.TEST"),
            // The ticket and the enc-part disagree.
            (true, "DC1$@EXAMPLE.TEST", "EVIL$@EXAMPLE.TEST"),
        ] {
            let (pending, key) = exchange_for_service(canonicalize);
            let rep = as_rep(&pending, &key, enc, tkt);
            match pending.handle_reply(&rep, now(), &mut TestRng::new(2)) {
                Err(Error::ReplyModified {
                    check: ReplyCheck::ServerName,
                    detail,
                    ..
                }) => {
                    assert!(detail.contains("asked a ticket"), "{detail}")
                }
                other => panic!("{canonicalize} {enc} {tkt}: expected a refusal, got {other:?}"),
            }
        }
    }
}
