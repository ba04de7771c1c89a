//! The AS exchange (RFC 4120 §3.1) as a sans-IO state machine.
//!
//! [`AsExchange::start`] produces the first AS-REQ; each KDC reply goes to
//! [`AsPending::handle_reply`], which either asks for another request to be sent (pre-authentication
//! with the salt of PA-ETYPE-INFO2, clock-skew recovery, TCP after `KRB_ERR_RESPONSE_TOO_BIG`, a client
//! referral to another realm) or yields the [`Credentials`]. Time and randomness come in as arguments,
//! so every branch is testable without a KDC.
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
};
use crate::asn1::{error_code, key_usage, pa_type};
use crate::creds::{Credentials, unix_secs_usec};
use crate::crypto::{EncType, Key};
use crate::error::{Error, KdcError, Result};
use crate::principal::Principal;
use crate::rand::Rng;
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
    /// Enctypes in order of preference (for a password; with keys, the keys' enctypes in this order).
    pub etypes: Vec<EncType>,
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
            KdcReply::AsRep(rep) => ctx.finish(rep, nonce, now).map(AsStep::Done),
            KdcReply::TgsRep(_) => Err(Error::Protocol {
                during: "AS exchange",
                what: "the KDC answered an AS-REQ with a TGS-REP".into(),
            }),
            KdcReply::Error(err) => ctx.on_error(err, last, nonce, now, rng),
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

    /// Enctypes to offer, in preference order.
    fn offered_etypes(&self) -> Vec<i32> {
        match &self.secret {
            Secret::Password(_) | Secret::PasswordWithRc4 { .. } => {
                self.opts.etypes.iter().map(|e| e.to_i32()).collect()
            }
            Secret::Keys(keys) => {
                let mut v: Vec<i32> = Vec::new();
                for e in &self.opts.etypes {
                    if keys.iter().any(|k| k.etype() == *e) {
                        v.push(e.to_i32());
                    }
                }
                for k in keys {
                    if !v.contains(&k.etype().to_i32()) {
                        v.push(k.etype().to_i32());
                    }
                }
                v
            }
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
        let body = KdcReqBody {
            kdc_options: KdcOptions(options),
            cname: Some(PrincipalName::from_principal(&self.client)),
            realm: KerberosString(self.realm.clone()),
            sname: Some(PrincipalName::from_principal(&server)),
            from: None,
            till: KerberosTime::from_unix(secs + self.opts.lifetime.as_secs() as i64),
            rtime: self
                .opts
                .renew_life
                .map(|r| KerberosTime::from_unix(secs + r.as_secs() as i64)),
            nonce,
            etype: self.offered_etypes(),
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
                self.preauth = Some(self.choose_preauth_key(&hints)?);
                // Use the KDC's clock for the timestamp (MIT's kdc_timesync behaviour).
                self.time_offset = kdc_offset;
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
        Err(Error::NoCommonEnctype {
            principal: self.client.to_string(),
            kdc_offers: candidates.iter().map(|c| c.etype).collect(),
            we_have: offered,
        })
    }

    /// Our key for the KDC's etype-info entry, if we can make one.
    fn key_for(&self, entry: &EtypeInfo2Entry) -> Result<Option<Key>> {
        let Some(etype) = EncType::from_i32(entry.etype) else {
            return Ok(None);
        };
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
                Ok(Some(Key::from_password(
                    etype,
                    pw,
                    &salt,
                    params.as_deref(),
                )?))
            }
        }
    }

    fn finish(self, rep: KdcRep, nonce: u32, now: SystemTime) -> Result<Credentials> {
        let etype = rep.enc_part.etype;
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
        if part.nonce != nonce {
            return Err(Error::Protocol {
                during: "AS exchange",
                what: format!(
                    "the reply's nonce {} is not the request's {}",
                    part.nonce, nonce
                ),
            });
        }
        let server = self.server();
        let got_server = part.sname.to_principal(&part.srealm);
        let server_ok = got_server.eq_ignore_case(&server)
            || (self.opts.canonicalize && server.is_krbtgt() && got_server.is_krbtgt())
            || (self.opts.canonicalize && canonical_service_name(&server, &got_server, &rep));
        if !server_ok {
            return Err(Error::Protocol {
                during: "AS exchange",
                what: format!("asked a ticket for {server}, the KDC issued one for {got_server}"),
            });
        }
        let client = rep.cname.to_principal(&rep.crealm);
        if !self.opts.canonicalize && !client.eq_ignore_case(&self.client) {
            return Err(Error::Protocol {
                during: "AS exchange",
                what: format!(
                    "asked a ticket for {}, the KDC issued one for {client}",
                    self.client
                ),
            });
        }
        let session_key = key_from_asn1(&part.key)?;
        let auth_time = part.auth_time.to_unix();
        let (local, _) = unix_secs_usec(now);
        Ok(Credentials {
            client,
            server: got_server,
            session_key,
            ticket: asn1::encode(&rep.ticket),
            flags: part.flags.0,
            auth_time,
            start_time: part.start_time.map(|t| t.to_unix()).unwrap_or(auth_time),
            end_time: part.end_time.to_unix(),
            renew_till: part.renew_till.map(|t| t.to_unix()),
            time_offset: auth_time - local,
            pa_type: self.preauth.as_ref().map(|_| pa_type::ENC_TIMESTAMP),
            client_kvno: rep.enc_part.kvno,
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
                Err(Error::Protocol { what, .. }) => {
                    assert!(what.contains("asked a ticket"), "{what}")
                }
                other => panic!("{canonicalize} {enc} {tkt}: expected a refusal, got {other:?}"),
            }
        }
    }
}
