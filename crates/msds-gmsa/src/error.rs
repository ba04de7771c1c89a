//! The crate's error type.

use core::fmt;
use std::sync::Arc;

use krb5_proto::crypto::CryptoError;

use crate::ldap::LdapError;

/// A variable-position field of an `MSDS-MANAGEDPASSWORD_BLOB`, named in [`GmsaError`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlobField {
    /// `CurrentPassword`, located by `CurrentPasswordOffset` (header offset 0x08).
    CurrentPassword,
    /// `PreviousPassword`, located by `PreviousPasswordOffset` (header offset 0x0A).
    PreviousPassword,
    /// `QueryPasswordInterval`, located by `QueryPasswordIntervalOffset` (header offset 0x0C).
    QueryPasswordInterval,
    /// `UnchangedPasswordInterval`, located by `UnchangedPasswordIntervalOffset` (header offset
    /// 0x0E).
    UnchangedPasswordInterval,
}

impl BlobField {
    /// The field's name as in MS-ADTS 2.2.19.
    pub fn name(self) -> &'static str {
        match self {
            BlobField::CurrentPassword => "CurrentPassword",
            BlobField::PreviousPassword => "PreviousPassword",
            BlobField::QueryPasswordInterval => "QueryPasswordInterval",
            BlobField::UnchangedPasswordInterval => "UnchangedPasswordInterval",
        }
    }

    /// The position, in the 16-byte header, of the 2-byte offset that locates this field.
    pub fn header_offset(self) -> usize {
        match self {
            BlobField::CurrentPassword => 0x08,
            BlobField::PreviousPassword => 0x0A,
            BlobField::QueryPasswordInterval => 0x0C,
            BlobField::UnchangedPasswordInterval => 0x0E,
        }
    }
}

impl fmt::Display for BlobField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (offset stored at header byte {:#04x})",
            self.name(),
            self.header_offset()
        )
    }
}

/// Errors from parsing gMSA password blobs, deriving keys, reading the password over LDAP and
/// logging in as the gMSA.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GmsaError {
    /// The blob is shorter than its fixed 16-byte header.
    #[error(
        "msDS-ManagedPassword blob is {len} bytes, shorter than its 16-byte header: \
         the attribute value is truncated or not an MSDS-MANAGEDPASSWORD_BLOB"
    )]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The `Version` field (offset 0x00) is not 1.
    #[error(
        "msDS-ManagedPassword blob has Version {version} at offset 0x00; only version 1 (MS-ADTS 2.2.19) is supported"
    )]
    UnsupportedVersion {
        /// The version found.
        version: u16,
    },
    /// The `Length` field (offset 0x04) does not equal the number of bytes received.
    #[error(
        "msDS-ManagedPassword blob declares Length {declared} at offset 0x04 but {actual} bytes were received: \
         the attribute value is truncated or has trailing data"
    )]
    LengthMismatch {
        /// The `Length` field.
        declared: u32,
        /// Bytes received.
        actual: usize,
    },
    /// `CurrentPasswordOffset` (offset 0x08) is 0, which MS-ADTS forbids.
    #[error(
        "msDS-ManagedPassword blob has CurrentPasswordOffset 0 at offset 0x08: it carries no current password"
    )]
    MissingCurrentPassword,
    /// A field's offset points into the header or past the end of the blob.
    #[error(
        "{field} is at offset {offset}, outside the blob's data area (bytes 16..{length}); \
         the field needs {needed} bytes there"
    )]
    OffsetOutOfRange {
        /// The field.
        field: BlobField,
        /// Its offset.
        offset: u16,
        /// The blob length.
        length: usize,
        /// Bytes the field needs at `offset` (2 = at least the terminating NUL of a password).
        needed: usize,
    },
    /// A password offset is odd, so it cannot start a UTF-16 string.
    #[error("{field} is at odd offset {offset}; UTF-16 password strings start at even offsets")]
    OddOffset {
        /// The field.
        field: BlobField,
        /// Its offset.
        offset: u16,
    },
    /// No terminating 0x0000 code unit follows a password before the blob ends.
    #[error(
        "{field} starting at offset {offset} has no terminating NUL (0x0000) before the end of the blob"
    )]
    Unterminated {
        /// The field.
        field: BlobField,
        /// Its offset.
        offset: u16,
    },
    /// A password in the blob is empty.
    #[error("{field} at offset {offset} is an empty string; a gMSA password is never empty")]
    EmptyPassword {
        /// The field.
        field: BlobField,
        /// Its offset.
        offset: u16,
    },
    /// Two fields of the blob occupy overlapping bytes.
    #[error("{first} and {second} overlap in the blob; the offsets are corrupt")]
    Overlap {
        /// One field.
        first: BlobField,
        /// The other.
        second: BlobField,
    },
    /// The query interval says the DC is in the last 5 minutes before a password change (so the
    /// current password is not valid yet), but the blob has no previous password.
    #[error(
        "the password rolls over within {query_interval_secs} s, so CurrentPassword is the next \
         password, not yet valid at the KDC, and the blob has no PreviousPassword: wait until the \
         rollover and query msDS-ManagedPassword again"
    )]
    NoPreviousPassword {
        /// `QueryPasswordInterval` in seconds.
        query_interval_secs: u64,
    },
    /// A UTF-16LE password has an odd number of bytes.
    #[error("a UTF-16LE password must have an even number of bytes, got {len}")]
    OddPasswordLength {
        /// Bytes received.
        len: usize,
    },
    /// Key derivation failed in the Kerberos crypto layer.
    #[error("gMSA key derivation failed: {0}")]
    Crypto(#[from] CryptoError),
    /// A Kerberos exchange failed (e.g. the gMSA's own login). The engine's error, kept as the
    /// source, names the KRB-ERROR, gives a hint and says what was tried; classify it with
    /// [`GmsaError::is_bad_credentials`] or [`krb5_proto::Error`]'s methods.
    #[error("{0}")]
    Kerberos(#[source] Arc<krb5_proto::Error>),
    /// The search found no gMSA with that name (or the DN / OU does not exist).
    #[error(
        "no gMSA {name} found under {base_dn}: check the name (its sAMAccountName ends in '$'), \
         the DN or OU, and that the object is a msDS-GroupManagedServiceAccount"
    )]
    GmsaNotFound {
        /// The sAMAccountName or DN looked for.
        name: String,
        /// The search base.
        base_dn: String,
    },
    /// The DC returned the gMSA without `msDS-ManagedPassword`: the user may not read it.
    #[error(
        "{user} is not allowed to retrieve the managed password of {gmsa}: the DC returned the \
         object without msDS-ManagedPassword. Add {user} (or a group it belongs to) to the \
         gMSA's PrincipalsAllowedToRetrieveManagedPassword (attribute msDS-GroupMSAMembership; \
         `Set-ADServiceAccount {gmsa} -PrincipalsAllowedToRetrieveManagedPassword ...` or \
         `samba-tool service-account group-msa-membership add`), then get a new TGT so new \
         group memberships are in it"
    )]
    NotAllowedToRetrieve {
        /// The reading principal.
        user: String,
        /// The gMSA.
        gmsa: String,
    },
    /// The connection is not encrypted, so the password search was not sent, or the DC refused
    /// it for that reason.
    #[error(
        "msDS-ManagedPassword is only returned over an encrypted connection (SASL GSSAPI with \
         the confidentiality layer, or TLS): {detail}"
    )]
    ConfidentialityRequired {
        /// What refused and why.
        detail: String,
    },
    /// The DC refused the SASL GSSAPI bind.
    #[error(
        "the DC {dc} rejected the LDAP SASL GSSAPI bind with result code {result_code}: {message}"
    )]
    BindRejected {
        /// The DC.
        dc: String,
        /// The LDAP result code (e.g. 49 invalidCredentials, 8 strongerAuthRequired).
        result_code: i64,
        /// The DC's diagnostic message.
        message: String,
    },
    /// No candidate DC could be connected to.
    #[error(
        "no domain controller could be reached over LDAP; tried: {}",
        if tried.is_empty() { "nothing".to_owned() } else { tried.join("; ") }
    )]
    DcUnreachable {
        /// Every `host:port (address): reason` tried.
        tried: Vec<String>,
    },
    /// A CLDAP NetLogon ping reply (MS-ADTS 6.3.3) is not a valid
    /// `NETLOGON_SAM_LOGON_RESPONSE_EX`.
    #[error(
        "malformed NetLogon ping reply: {reason} (MS-ADTS 6.3.1.9); the DC's site cannot be \
         used, DCs are tried in DNS order"
    )]
    NetlogonMalformed {
        /// What is wrong, with the byte offset where it applies.
        reason: String,
    },
    /// A DC did not answer the CLDAP NetLogon ping (UDP 389).
    #[error(
        "NetLogon ping (CLDAP, UDP 389) to {dc} failed: {reason}; check that the DC's UDP port \
         389 is reachable (firewalls often allow only TCP)"
    )]
    CldapPing {
        /// The DC's address.
        dc: String,
        /// Why.
        reason: String,
    },
    /// No DC could be found for the domain (DNS SRV lookup failed or returned nothing).
    #[error("no domain controller found for {domain}: {reason}")]
    NoDcFound {
        /// The DNS domain.
        domain: String,
        /// Why.
        reason: String,
    },
    /// A DC address given by the user is malformed.
    #[error("invalid DC address {input:?}: {reason} (expected host[:port])")]
    InvalidDcAddress {
        /// The input.
        input: String,
        /// Why.
        reason: String,
    },
    /// The KDC did not issue the LDAP service ticket.
    #[error("could not get a service ticket for {spn} (needed to bind to the DC): {source}")]
    ServiceTicket {
        /// The service principal.
        spn: String,
        /// The Kerberos error.
        #[source]
        source: Arc<krb5_proto::Error>,
    },
    /// More than one gMSA matched.
    #[error(
        "{count} or more gMSAs match {name} under {base_dn}: give the gMSA's distinguished name"
    )]
    AmbiguousGmsa {
        /// The name looked for.
        name: String,
        /// The search base.
        base_dn: String,
        /// Entries returned (at least).
        count: usize,
    },
    /// The lookup request itself is invalid (e.g. an empty name).
    #[error("invalid gMSA lookup: {0}")]
    InvalidLookup(String),
    /// LDAP, SASL or network failure talking to the DC.
    #[error("LDAP: {0}")]
    LdapProtocol(LdapError),
}

impl From<krb5_proto::Error> for GmsaError {
    fn from(e: krb5_proto::Error) -> Self {
        GmsaError::Kerberos(Arc::new(e))
    }
}

impl GmsaError {
    /// The Kerberos engine's error behind a [`Kerberos`](GmsaError::Kerberos) or
    /// [`ServiceTicket`](GmsaError::ServiceTicket) failure.
    pub fn kerberos_error(&self) -> Option<&krb5_proto::Error> {
        match self {
            GmsaError::Kerberos(e) | GmsaError::ServiceTicket { source: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The KRB-ERROR code of a [`Kerberos`](GmsaError::Kerberos) failure, when the KDC sent one
    /// (compare with `krb5_proto::asn1::error_code`'s constants, or better use
    /// [`is_bad_credentials`](Self::is_bad_credentials)).
    pub fn krb_code(&self) -> Option<i32> {
        match self {
            GmsaError::Kerberos(e) => e.kdc_code(),
            _ => None,
        }
    }

    /// The KDC refused a login made here (the gMSA's own AS exchange) because of the
    /// credentials or the account ([`krb5_proto::error::KdcError::is_bad_credentials`]).
    pub fn is_bad_credentials(&self) -> bool {
        matches!(self, GmsaError::Kerberos(e) if e.is_bad_credentials())
    }
}

impl From<LdapError> for GmsaError {
    /// Lifts the errors a person acts on to their own [`GmsaError`] variants.
    fn from(e: LdapError) -> Self {
        match e {
            LdapError::ConfidentialityRequired(detail) => {
                GmsaError::ConfidentialityRequired { detail }
            }
            LdapError::LayerNotOffered {
                wanted: "confidentiality",
                ..
            } => GmsaError::ConfidentialityRequired {
                detail: e.to_string(),
            },
            LdapError::BindRejected {
                dc,
                result_code,
                result_name,
                message,
            } => GmsaError::BindRejected {
                dc,
                result_code,
                message: format!("{result_name}: {message}"),
            },
            other => GmsaError::LdapProtocol(other),
        }
    }
}
