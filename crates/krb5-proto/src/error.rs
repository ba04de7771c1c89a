//! The crate's error type.

use crate::asn1::Asn1Error;
use crate::config::ConfigError;
use crate::crypto::CryptoError;
use crate::keytab::KeytabError;
use crate::principal::PrincipalParseError;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the Kerberos engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message could not be decoded or encoded.
    #[error(transparent)]
    Asn1(#[from] Asn1Error),
    /// A cryptographic operation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A keytab could not be used.
    #[error(transparent)]
    Keytab(#[from] KeytabError),
    /// krb5.conf could not be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A principal name could not be parsed.
    #[error(transparent)]
    Principal(#[from] PrincipalParseError),
    /// The KDC (or service) answered with a KRB-ERROR.
    #[error("{0}")]
    Kdc(Box<KdcError>),
    /// A reply violated the protocol (wrong nonce, unexpected message, mismatched names).
    #[error("protocol violation in {during}: {what}")]
    Protocol {
        /// The exchange step.
        during: &'static str,
        /// What was wrong.
        what: String,
    },
    /// We hold no key for any encryption type the KDC offers for this principal.
    #[error(
        "no usable key for {principal}: the KDC offers enctypes {kdc_offers:?}, we have {we_have:?} \
         (add a key of one of the offered types to the keytab, or allow that enctype)"
    )]
    NoCommonEnctype {
        /// The client principal.
        principal: String,
        /// Enctypes the KDC listed for the principal.
        kdc_offers: Vec<i32>,
        /// Enctypes we could use.
        we_have: Vec<i32>,
    },
    /// The KDC offers only enctypes that krb5.conf's policy disables (e.g. RC4 without
    /// `allow_rc4 = true`); the message names the setting to change.
    #[error("{detail}")]
    EnctypeDisabled {
        /// The client principal.
        principal: String,
        /// Enctypes the KDC listed (empty when it only answered KDC_ERR_ETYPE_NOSUPP).
        kdc_offers: Vec<i32>,
        /// The enctypes we could have used but the policy disables.
        disabled: Vec<i32>,
        /// The whole message, e.g. "the KDC offers only rc4-hmac (23) for u@R, which is
        /// disabled: set allow_rc4 = true in [libdefaults] of krb5.conf to permit it".
        detail: String,
    },
    /// The reply could not be decrypted with our key: the password or keytab key is wrong.
    #[error(
        "the KDC's reply for {principal} could not be decrypted with our {etype} key (KRB_AP_ERR_BAD_INTEGRITY): \
         the password or keytab key is wrong or stale (kvno changed?)"
    )]
    WrongKey {
        /// The client principal.
        principal: String,
        /// The enctype name of the key tried.
        etype: &'static str,
    },
    /// The exchange gave up after too many rounds (referrals, retries).
    #[error("gave up after {rounds} rounds in {during}: {last}")]
    TooManyRounds {
        /// Rounds done.
        rounds: u32,
        /// The exchange.
        during: &'static str,
        /// The last reason to continue.
        last: String,
    },
    /// A KDC reply (AS-REP or TGS-REP) decrypted with the right key but fails one of the checks
    /// MIT krb5 makes before it trusts a reply (`verify_as_reply()`, `krb5int_process_tgs_reply()`):
    /// MIT reports these as `KRB5_KDCREP_MODIFIED`.
    #[error(
        "KRB5_KDCREP_MODIFIED in {during}: {check} check failed: {detail} (the reply does not answer \
         our request: it was altered or replayed on the way, or the KDC is not the one asked; \
         nothing from it was used)"
    )]
    ReplyModified {
        /// The exchange, "AS exchange" or "TGS exchange".
        during: &'static str,
        /// Which check failed.
        check: ReplyCheck,
        /// What was asked and what came back.
        detail: String,
    },
    /// The reply's enctype (the enc-part's, or the new session key's) is not one the request
    /// offered (MIT: `KRB5_CONFIG_ETYPE_NOSUPP`), e.g. a downgrade to RC4 by a machine in the middle.
    #[error(
        "KRB5_CONFIG_ETYPE_NOSUPP in {during}: the reply's {what} uses enctype {etype}, which the \
         request did not offer (offered: {offered:?}); a forged or downgraded reply is refused"
    )]
    ReplyEnctypeNotOffered {
        /// The exchange.
        during: &'static str,
        /// "encrypted part" or "session key".
        what: &'static str,
        /// The enctype the reply used.
        etype: i32,
        /// The enctypes the request offered.
        offered: Vec<i32>,
    },
    /// The reply's ticket start time is further from the KDC's time than the allowed clock skew
    /// (MIT: `KRB5_KDCREP_SKEW`): a replayed old reply, or a KDC whose clock is wrong.
    #[error(
        "KRB5_KDCREP_SKEW in {during}: the ticket starts at {start_time}, {off} s from the KDC time \
         {kdc_now} we expected (allowed skew {skew} s): a replayed reply, or the clocks of this \
         host and the KDC disagree (check NTP on both)",
        off = start_time - kdc_now
    )]
    ReplySkew {
        /// The exchange.
        during: &'static str,
        /// The ticket's start time (Unix seconds).
        start_time: i64,
        /// The KDC's time as we know it (Unix seconds).
        kdc_now: i64,
        /// The allowed skew in seconds.
        skew: i64,
    },
    /// Following cross-realm TGTs (RFC 6806 referrals, `[capaths]`) led back to a realm the
    /// exchange had already gone through (MIT: "referral loop").
    #[error(
        "cross-realm loop getting a ticket for {server}: the KDC of {from} sent a TGT for {realm}, \
         which the path {path} already went through (check [capaths] and [domain_realm] on the \
         KDCs of these realms, and [capaths] in krb5.conf)"
    )]
    CrossRealmLoop {
        /// The service asked for.
        server: String,
        /// The realm whose KDC sent the TGT.
        from: String,
        /// The realm the TGT names.
        realm: String,
        /// The realms gone through so far, `A.TEST -> B.TEST`.
        path: String,
    },
    /// Reaching the service's realm takes more cross-realm TGTs than allowed
    /// ([`crate::tgs_exchange::MAX_REALM_HOPS`] unless `TgsOptions::max_hops` says otherwise).
    #[error(
        "cross-realm path for {server} needs more than {limit} hops (so far {path}): shorten the \
         trust path ([capaths] in krb5.conf) or raise the limit"
    )]
    CrossRealmHops {
        /// The service asked for.
        server: String,
        /// The limit.
        limit: usize,
        /// The realms gone through so far (and the next one).
        path: String,
    },
    /// The KDCs could not be reached.
    #[cfg(feature = "tokio")]
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
}

impl Error {
    /// The KRB-ERROR, when the KDC (or service) answered with one.
    pub fn kdc_error(&self) -> Option<&KdcError> {
        match self {
            Error::Kdc(k) => Some(k),
            _ => None,
        }
    }

    /// The KRB-ERROR code (RFC 4120 §7.5.9), when the KDC answered with one.
    pub fn kdc_code(&self) -> Option<i32> {
        self.kdc_error().map(|k| k.code)
    }

    /// The KDC refused the client's credentials or account ([`KdcError::is_bad_credentials`]).
    /// A reply that our key cannot decrypt ([`Error::WrongKey`]) is not counted: check it
    /// separately where a stale key should be treated like a refusal.
    pub fn is_bad_credentials(&self) -> bool {
        self.kdc_error().is_some_and(KdcError::is_bad_credentials)
    }

    /// No KDC of the realm could be found or reached (retrying later may help).
    pub fn is_unreachable(&self) -> bool {
        #[cfg(feature = "tokio")]
        if let Error::Transport(t) = self {
            return matches!(
                t,
                crate::transport::TransportError::Unreachable { .. }
                    | crate::transport::TransportError::NoKdc { .. }
            );
        }
        false
    }
}

/// A KRB-ERROR from a KDC (or a service), with the context a person needs to act on it.
#[derive(Debug, Clone)]
pub struct KdcError {
    /// The error code (RFC 4120 §7.5.9).
    pub code: i32,
    /// The RFC name of the code, e.g. `KDC_ERR_PREAUTH_FAILED`.
    pub name: &'static str,
    /// A one-line hint for a person.
    pub hint: &'static str,
    /// The KDC's own explanation (e-text), when it sent one.
    pub e_text: Option<String>,
    /// The client principal of the request.
    pub client: String,
    /// The server principal of the request.
    pub server: String,
    /// What was being done, e.g. "AS exchange with pre-authentication (aes256-cts-hmac-sha1-96)".
    pub during: String,
}

impl KdcError {
    /// The KDC refused the client's credentials or account: `KDC_ERR_PREAUTH_FAILED` (wrong
    /// password or key), `KDC_ERR_C_PRINCIPAL_UNKNOWN`, `KDC_ERR_CLIENT_REVOKED` (disabled or
    /// locked out), `KDC_ERR_KEY_EXPIRED` (password expired), `KDC_ERR_POLICY` (e.g. logon
    /// hours). Retrying with the same secret does not help.
    pub fn is_bad_credentials(&self) -> bool {
        use crate::asn1::error_code::*;
        matches!(
            self.code,
            KDC_ERR_C_PRINCIPAL_UNKNOWN
                | KDC_ERR_POLICY
                | KDC_ERR_CLIENT_REVOKED
                | KDC_ERR_KEY_EXPIRED
                | KDC_ERR_PREAUTH_FAILED
        )
    }

    /// `KDC_ERR_PREAUTH_FAILED`: the pre-authentication was made with a wrong key (password).
    pub fn is_preauth_failed(&self) -> bool {
        self.code == crate::asn1::error_code::KDC_ERR_PREAUTH_FAILED
    }

    /// The error a KDC sent in reply to a request from `client` for `server`, during `during`.
    pub fn from_krb_error(
        err: &crate::asn1::KrbError,
        client: String,
        server: String,
        during: String,
    ) -> Self {
        let code = err.error_code;
        Self {
            code,
            name: crate::asn1::error_code::error_name(code),
            hint: crate::asn1::error_code::error_hint(code),
            e_text: err
                .e_text
                .as_ref()
                .map(|t| t.to_string_lossy())
                .filter(|t| !t.is_empty()),
            client,
            server,
            during,
        }
    }
}

impl std::fmt::Display for KdcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) for {} -> {} during {}: {}",
            self.name, self.code, self.client, self.server, self.during, self.hint
        )?;
        if let Some(t) = &self.e_text {
            write!(f, " [KDC says: {t}]")?;
        }
        Ok(())
    }
}

/// The check of a KDC reply that failed (see [`Error::ReplyModified`]); the module docs of
/// [`crate::as_exchange`] and [`crate::tgs_exchange`] list every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyCheck {
    /// The enc-part's nonce is not the request's.
    Nonce,
    /// The client name or realm is not the one asked for (or, in a TGS-REP, not the TGT's client).
    ClientName,
    /// The server name in the enc-part is not the one asked for.
    ServerName,
    /// The ticket's server name differs from the enc-part's.
    TicketServer,
    /// The end time is later than the `till` the request asked for.
    EndTime,
    /// The renew-till time is later than the request allowed.
    RenewTill,
    /// The ticket carries a flag the request did not ask for (forwardable, proxiable, postdated...).
    Flags,
}

impl std::fmt::Display for ReplyCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReplyCheck::Nonce => "nonce",
            ReplyCheck::ClientName => "client name",
            ReplyCheck::ServerName => "server name",
            ReplyCheck::TicketServer => "ticket server name",
            ReplyCheck::EndTime => "end time",
            ReplyCheck::RenewTill => "renew-till",
            ReplyCheck::Flags => "ticket flags",
        })
    }
}
