//! RFC 4120 message types.
//!
//! Type and field names, and most documentation, are vendored from the `rasn-kerberos` 0.30
//! crate (<https://github.com/librasn/rasn>, Copyright the rasn developers, licensed
//! Apache-2.0 OR MIT), with these changes:
//!
//! * plain integers are Rust integers (`pvno: i32`, `nonce: u32`, `kvno: Option<u32>`, ...);
//!   `UInt32` fields decode leniently (5-byte positive or negative 4-byte INTEGER);
//! * `KerberosString`/`Realm` hold raw bytes (UTF-8 names round-trip), `KerberosTime` is whole
//!   seconds (rasn encodes fractional seconds, which RFC 4120 forbids, rasn issue #550);
//! * flags are `u32` masks encoded as 32-bit BIT STRINGs (the upstream flag constructors set
//!   the wrong bits);
//! * decoders skip unknown trailing SEQUENCE elements (extensions from newer KDCs);
//! * `EncryptionKey::value` is a zeroized, redacted [`SecretBytes`].

use std::fmt;

use rasn::prelude::*;
use rasn::types::Identifier;
use zeroize::Zeroizing;

use super::codec::kerberos_sequence;
use super::primitives::{ApOptions, KdcOptions, KerberosString, KerberosTime, Realm, TicketFlags};
use crate::principal::Principal;

/// `Microseconds ::= INTEGER (0..999999)`.
pub type Microseconds = i32;
/// `HostAddresses ::= SEQUENCE OF HostAddress`.
pub type HostAddresses = Vec<HostAddress>;
/// `AuthorizationData ::= SEQUENCE OF SEQUENCE { ad-type, ad-data }`.
pub type AuthorizationData = Vec<AuthorizationDataValue>;
/// `AD-IF-RELEVANT ::= AuthorizationData`: elements a server may ignore if it does not
/// understand them (the Windows PAC travels inside one).
pub type AdIfRelevant = AuthorizationData;
/// `ETYPE-INFO2 ::= SEQUENCE SIZE (1..MAX) OF ETYPE-INFO2-ENTRY`.
pub type EtypeInfo2 = Vec<EtypeInfo2Entry>;
/// `ETYPE-INFO ::= SEQUENCE OF ETYPE-INFO-ENTRY`.
pub type EtypeInfo = Vec<EtypeInfoEntry>;
/// `PA-ENC-TIMESTAMP ::= EncryptedData -- PA-ENC-TS-ENC` (key usage 1).
pub type PaEncTimestamp = EncryptedData;
/// `LastReq ::= SEQUENCE OF SEQUENCE { lr-type, lr-value }`.
pub type LastReq = Vec<LastReqValue>;
/// `METHOD-DATA ::= SEQUENCE OF PA-DATA` (e-data of KDC_ERR_PREAUTH_REQUIRED).
pub type MethodData = Vec<PaData>;
/// The requested encryption types, in order of preference.
pub type ETypeList = Vec<i32>;
/// `TYPED-DATA ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE { data-type, data-value }`.
pub type TypedData = Vec<TypedDataItem>;

/// Key bytes, zeroized on drop and never printed by `Debug`. Encoded as an OCTET STRING.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(pub Zeroizing<Vec<u8>>);

impl std::hash::Hash for SecretBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_slice().hash(state);
    }
}

impl SecretBytes {
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        Self(Zeroizing::new(v))
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(v: &[u8]) -> Self {
        Self(Zeroizing::new(v.to_vec()))
    }
}

impl std::ops::Deref for SecretBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted, {} bytes>", self.0.len())
    }
}

impl AsnType for SecretBytes {
    const TAG: Tag = Tag::OCTET_STRING;
}

impl Encode for SecretBytes {
    fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
        &self,
        encoder: &mut E,
        tag: Tag,
        _constraints: &Constraints,
        identifier: Identifier,
    ) -> Result<(), E::Error> {
        encoder
            .encode_octet_string(tag, &Constraints::default(), &self.0, identifier)
            .map(drop)
    }
}

impl Decode for SecretBytes {
    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        tag: Tag,
        _constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        decoder
            .decode_octet_string::<Vec<u8>>(tag, &Constraints::default())
            .map(Self::from)
    }
}

/// The name of the party to verify. Taken together, a [`PrincipalName`] and a [`Realm`] form a
/// principal identifier.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PrincipalName {
    /// The type of name that follows (see [`super::name_type`]). This should be treated as a
    /// hint. Ignoring the type, no two names can be the same.
    #[rasn(tag(explicit(0)))]
    pub r#type: i32,
    /// A sequence of components that form a name.
    #[rasn(tag(explicit(1)))]
    pub string: Vec<KerberosString>,
}
kerberos_sequence!(PrincipalName {
    r#type: req[0],
    string: req[1]
});

impl PrincipalName {
    /// A name of type `name_type` from text components.
    ///
    /// ```
    /// use krb5_proto::asn1::{name_type, PrincipalName};
    /// let tgs = PrincipalName::new(name_type::SRV_INST, ["krbtgt", "EXAMPLE.COM"]);
    /// assert_eq!(tgs.string.len(), 2);
    /// ```
    pub fn new<I, S>(name_type: i32, components: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        Self {
            r#type: name_type,
            string: components
                .into_iter()
                .map(|c| KerberosString(c.as_ref().to_vec()))
                .collect(),
        }
    }

    /// The name part of `p` (its realm goes in a separate [`Realm`] field).
    pub fn from_principal(p: &Principal) -> Self {
        Self {
            r#type: p.name_type,
            string: p
                .components
                .iter()
                .map(|c| KerberosString(c.clone()))
                .collect(),
        }
    }

    /// The principal named by this name in `realm`.
    ///
    /// ```
    /// use krb5_proto::{asn1::{PrincipalName, Realm}, Principal};
    /// let p = Principal::parse("jäger@MIT.TEST", None).unwrap();
    /// let name = PrincipalName::from_principal(&p);
    /// assert_eq!(name.to_principal(&Realm::from("MIT.TEST")), p);
    /// ```
    pub fn to_principal(&self, realm: &Realm) -> Principal {
        Principal {
            name_type: self.r#type,
            components: self.string.iter().map(|c| c.0.clone()).collect(),
            realm: realm.0.clone(),
        }
    }
}

/// The address of a given host.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostAddress {
    /// The type of `address`, e.g. [`HostAddress::IPV4`].
    #[rasn(tag(explicit(0)))]
    pub addr_type: i32,
    /// A single address of type defined by `addr_type`.
    #[rasn(tag(explicit(1)))]
    pub address: OctetString,
}
kerberos_sequence!(HostAddress {
    addr_type: req[0],
    address: req[1]
});

impl HostAddress {
    /// IPv4, 4 octets.
    pub const IPV4: i32 = 2;
    /// Directional (RFC 4120 §8.1).
    pub const DIRECTIONAL: i32 = 3;
    /// ChaosNet.
    pub const CHAOS_NET: i32 = 5;
    /// XNS.
    pub const XNS: i32 = 6;
    /// ISO.
    pub const ISO: i32 = 7;
    /// DECNET Phase IV.
    pub const DECNET_PHASE_IV: i32 = 12;
    /// AppleTalk DDP.
    pub const APPLE_TALK_DDP: i32 = 16;
    /// NetBIOS, 16 octets (space padded).
    pub const NET_BIOS: i32 = 20;
    /// IPv6, 16 octets.
    pub const IPV6: i32 = 24;
}

/// One authorization-data element.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthorizationDataValue {
    /// The format of `data`; negative values are for local use. E.g.
    /// [`AuthorizationDataValue::IF_RELEVANT`].
    #[rasn(tag(explicit(0)))]
    pub r#type: i32,
    /// Authorization data interpreted according to `type`.
    #[rasn(tag(explicit(1)))]
    pub data: OctetString,
}
kerberos_sequence!(AuthorizationDataValue {
    r#type: req[0],
    data: req[1]
});

impl AuthorizationDataValue {
    /// DER encoding of [`AdIfRelevant`].
    pub const IF_RELEVANT: i32 = 1;
    /// DER encoding of AD-KDCIssued.
    pub const KDC_ISSUED: i32 = 4;
    /// DER encoding of AD-AND-OR.
    pub const AND_OR: i32 = 5;
    /// DER encoding of AD-MANDATORY-FOR-KDC.
    pub const MANDATORY_FOR_KDC: i32 = 8;
    /// AD-ETYPE-NEGOTIATION (RFC 4537).
    pub const ETYPE_NEGOTIATION: i32 = 129;
    /// AD-WIN2K-PAC: the Windows PAC (MS-PAC).
    pub const WIN2K_PAC: i32 = 128;
}

/// Pre-authentication data (`PA-DATA`).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PaData {
    /// The padata type (see [`super::pa_type`]).
    #[rasn(tag(explicit(1)))]
    pub r#type: i32,
    /// The padata value, usually the DER encoding of a type-specific structure.
    #[rasn(tag(explicit(2)))]
    pub value: OctetString,
}
kerberos_sequence!(PaData {
    r#type: req[1],
    value: req[2]
});

impl PaData {
    /// A PA-DATA of `pa_type` with `value`.
    pub fn new(pa_type: i32, value: impl Into<Vec<u8>>) -> Self {
        Self {
            r#type: pa_type,
            value: OctetString::from(value.into()),
        }
    }
}

/// Container for arbitrary encrypted data.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncryptedData {
    /// Which encryption algorithm was used to encipher the cipher (see [`super::etype`]).
    #[rasn(tag(explicit(0)))]
    pub etype: i32,
    /// The version number of the key under which data is encrypted; present in messages
    /// encrypted under long-lasting keys, such as principals' secret keys.
    #[rasn(tag(explicit(1)))]
    pub kvno: Option<u32>,
    /// The enciphered text.
    #[rasn(tag(explicit(2)))]
    pub cipher: OctetString,
}
kerberos_sequence!(EncryptedData {
    etype: req[0],
    kvno: opt_u32[1],
    cipher: req[2]
});

/// The means by which cryptographic keys used for encryption are transferred.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncryptionKey {
    /// The encryption type of the key (see [`super::etype`]).
    #[rasn(tag(explicit(0)))]
    pub r#type: i32,
    /// The key itself.
    #[rasn(tag(explicit(1)))]
    pub value: SecretBytes,
}
kerberos_sequence!(EncryptionKey {
    r#type: req[0],
    value: req[1]
});

/// Checksum of cleartext data.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checksum {
    /// The algorithm used to generate the accompanying checksum.
    #[rasn(tag(explicit(0)))]
    pub r#type: i32,
    /// The checksum itself.
    #[rasn(tag(explicit(1)))]
    pub checksum: OctetString,
}
kerberos_sequence!(Checksum {
    r#type: req[0],
    checksum: req[1]
});

/// Record that helps a client authenticate to a service (`Ticket ::= [APPLICATION 1]`).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 1)))]
pub struct Ticket {
    /// The version number for the ticket format (5).
    #[rasn(tag(explicit(0)))]
    pub tkt_vno: i32,
    /// The realm that issued the ticket, also the realm of the server's principal.
    #[rasn(tag(explicit(1)))]
    pub realm: Realm,
    /// The name part of the server's identity.
    #[rasn(tag(explicit(2)))]
    pub sname: PrincipalName,
    /// The encrypted [`EncTicketPart`], in the server's key with key usage 2.
    #[rasn(tag(explicit(3)))]
    pub enc_part: EncryptedData,
}
kerberos_sequence!(app Ticket { tkt_vno: req[0], realm: req[1], sname: req[2], enc_part: req[3] });

/// The encrypted part of a [`Ticket`] (`[APPLICATION 3]`).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 3)))]
pub struct EncTicketPart {
    /// Options that were used or requested when the ticket was issued.
    #[rasn(tag(explicit(0)))]
    pub flags: TicketFlags,
    /// The session key shared by the client and the application server.
    #[rasn(tag(explicit(1)))]
    pub key: EncryptionKey,
    /// The realm in which the client is registered and initial authentication took place.
    #[rasn(tag(explicit(2)))]
    pub crealm: Realm,
    /// The name part of the client's principal identifier.
    #[rasn(tag(explicit(3)))]
    pub cname: PrincipalName,
    /// The realms that took part in authenticating the user.
    #[rasn(tag(explicit(4)))]
    pub transited: TransitedEncoding,
    /// The time of initial authentication for the named principal.
    #[rasn(tag(explicit(5)))]
    pub auth_time: KerberosTime,
    /// The time after which the ticket is valid (default: `auth_time`).
    #[rasn(tag(explicit(6)))]
    pub start_time: Option<KerberosTime>,
    /// The time after which the ticket will not be honored (its expiration time).
    #[rasn(tag(explicit(7)))]
    pub end_time: KerberosTime,
    /// The maximum `end_time` that may be included in a renewal.
    #[rasn(tag(explicit(8)))]
    pub renew_till: Option<KerberosTime>,
    /// Addresses from which the ticket can be used (absent: any).
    #[rasn(tag(explicit(9)))]
    pub caddr: Option<HostAddresses>,
    /// Restrictions on any authority obtained on the basis of the ticket (the PAC).
    #[rasn(tag(explicit(10)))]
    pub authorization_data: Option<AuthorizationData>,
}
kerberos_sequence!(app EncTicketPart {
    flags: req[0], key: req[1], crealm: req[2], cname: req[3], transited: req[4],
    auth_time: req[5], start_time: opt[6], end_time: req[7], renew_till: opt[8],
    caddr: opt[9], authorization_data: opt[10],
});

/// The realms transited when issuing a ticket.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TransitedEncoding {
    /// The encoding of `contents` (1 = DOMAIN-X500-COMPRESS).
    #[rasn(tag(explicit(0)))]
    pub r#type: i32,
    /// The encoded realm list.
    #[rasn(tag(explicit(1)))]
    pub contents: OctetString,
}
kerberos_sequence!(TransitedEncoding {
    r#type: req[0],
    contents: req[1]
});

/// Initial ticket request (`AS-REQ ::= [APPLICATION 10] KDC-REQ`).
#[derive(AsnType, Decode, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 10)), delegate)]
pub struct AsReq(pub KdcReq);

/// Additional ticket request (`TGS-REQ ::= [APPLICATION 12] KDC-REQ`).
#[derive(AsnType, Decode, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 12)), delegate)]
pub struct TgsReq(pub KdcReq);

/// The ticket request (`KDC-REQ`).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdcReq {
    /// The protocol version number (5).
    #[rasn(tag(explicit(1)))]
    pub pvno: i32,
    /// The message type (10 AS-REQ, 12 TGS-REQ; see [`super::msg_type`]).
    #[rasn(tag(explicit(2)))]
    pub msg_type: i32,
    /// Pre-authentication data (must not be empty when present).
    #[rasn(tag(explicit(3)))]
    pub padata: Option<Vec<PaData>>,
    /// The remaining fields; the TGS-REQ checksum covers their DER encoding.
    #[rasn(tag(explicit(4)))]
    pub req_body: KdcReqBody,
}
kerberos_sequence!(KdcReq {
    pvno: req[1],
    msg_type: req[2],
    padata: opt[3],
    req_body: req[4]
});

/// The body of a ticket request (`KDC-REQ-BODY`).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdcReqBody {
    /// Flags the client wants set on the ticket and options modifying the KDC's behavior.
    #[rasn(tag(explicit(0)))]
    pub kdc_options: KdcOptions,
    /// The client's name (AS-REQ only).
    #[rasn(tag(explicit(1)))]
    pub cname: Option<PrincipalName>,
    /// The realm of the server; in the AS exchange also the client's realm.
    #[rasn(tag(explicit(2)))]
    pub realm: Realm,
    /// The server's name (absent only with ENC-TKT-IN-SKEY).
    #[rasn(tag(explicit(3)))]
    pub sname: Option<PrincipalName>,
    /// The desired start time of a postdated ticket.
    #[rasn(tag(explicit(4)))]
    pub from: Option<KerberosTime>,
    /// The requested expiration time ("19700101000000Z" asks for the maximum).
    #[rasn(tag(explicit(5)))]
    pub till: KerberosTime,
    /// The requested renew-till time.
    #[rasn(tag(explicit(6)))]
    pub rtime: Option<KerberosTime>,
    /// A random number the KDC echoes in the encrypted reply; never reuse one.
    #[rasn(tag(explicit(7)))]
    pub nonce: u32,
    /// The desired encryption types, in order of preference.
    #[rasn(tag(explicit(8)))]
    pub etype: ETypeList,
    /// The addresses from which the ticket is to be valid.
    #[rasn(tag(explicit(9)))]
    pub addresses: Option<HostAddresses>,
    /// Encrypted authorization data (TGS-REQ only; key usage 4 or 5).
    #[rasn(tag(explicit(10)))]
    pub enc_authorization_data: Option<EncryptedData>,
    /// Additional tickets (user-to-user, S4U2Proxy).
    #[rasn(tag(explicit(11)))]
    pub additional_tickets: Option<Vec<Ticket>>,
}
kerberos_sequence!(KdcReqBody {
    kdc_options: req[0],
    cname: opt[1],
    realm: req[2],
    sname: opt[3],
    from: opt[4],
    till: req[5],
    rtime: opt[6],
    nonce: u32[7],
    etype: req[8],
    addresses: opt[9],
    enc_authorization_data: opt[10],
    additional_tickets: opt[11],
});

/// The initial KDC response (`AS-REP ::= [APPLICATION 11] KDC-REP`).
#[derive(AsnType, Decode, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 11)), delegate)]
pub struct AsRep(pub KdcRep);

/// Subsequent KDC response (`TGS-REP ::= [APPLICATION 13] KDC-REP`).
#[derive(AsnType, Decode, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 13)), delegate)]
pub struct TgsRep(pub KdcRep);

/// The KDC response (`KDC-REP`).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdcRep {
    /// The protocol version number (5).
    #[rasn(tag(explicit(0)))]
    pub pvno: i32,
    /// The message type (11 AS-REP, 13 TGS-REP).
    #[rasn(tag(explicit(1)))]
    pub msg_type: i32,
    /// Pre-authentication data (e.g. PA-ETYPE-INFO2 for the reply key).
    #[rasn(tag(explicit(2)))]
    pub padata: Option<Vec<PaData>>,
    /// The realm of the client.
    #[rasn(tag(explicit(3)))]
    pub crealm: Realm,
    /// The (canonical) name of the client.
    #[rasn(tag(explicit(4)))]
    pub cname: PrincipalName,
    /// The newly-issued ticket.
    #[rasn(tag(explicit(5)))]
    pub ticket: Ticket,
    /// The encrypted [`EncKdcRepPart`]: key usage 3 in an AS-REP (client's long-term key or a
    /// pre-authentication key); 8 (session key) or 9 (authenticator subkey) in a TGS-REP.
    #[rasn(tag(explicit(6)))]
    pub enc_part: EncryptedData,
}
kerberos_sequence!(KdcRep {
    pvno: req[0],
    msg_type: req[1],
    padata: opt[2],
    crealm: req[3],
    cname: req[4],
    ticket: req[5],
    enc_part: req[6],
});

/// `EncASRepPart ::= [APPLICATION 25] EncKDCRepPart`.
#[derive(AsnType, Decode, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 25)), delegate)]
pub struct EncAsRepPart(pub EncKdcRepPart);

/// `EncTGSRepPart ::= [APPLICATION 26] EncKDCRepPart`.
#[derive(AsnType, Decode, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 26)), delegate)]
pub struct EncTgsRepPart(pub EncKdcRepPart);

/// The encrypted part of a [`KdcRep`]. Decode it with [`super::decode_enc_kdc_rep_part`],
/// which accepts both APPLICATION 25 and 26.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncKdcRepPart {
    /// The session key.
    #[rasn(tag(explicit(0)))]
    pub key: EncryptionKey,
    /// The time(s) of the last request by the principal.
    #[rasn(tag(explicit(1)))]
    pub last_req: LastReq,
    /// The nonce of the request; must match it.
    #[rasn(tag(explicit(2)))]
    pub nonce: u32,
    /// The time that the client's secret key is due to expire.
    #[rasn(tag(explicit(3)))]
    pub key_expiration: Option<KerberosTime>,
    /// The ticket's flags.
    #[rasn(tag(explicit(4)))]
    pub flags: TicketFlags,
    /// The time of initial authentication.
    #[rasn(tag(explicit(5)))]
    pub auth_time: KerberosTime,
    /// The time after which the ticket is valid (default: `auth_time`).
    #[rasn(tag(explicit(6)))]
    pub start_time: Option<KerberosTime>,
    /// The ticket's expiration time.
    #[rasn(tag(explicit(7)))]
    pub end_time: KerberosTime,
    /// The maximum `end_time` of a renewal (renewable tickets only).
    #[rasn(tag(explicit(8)))]
    pub renew_till: Option<KerberosTime>,
    /// The realm part of the server's principal.
    #[rasn(tag(explicit(9)))]
    pub srealm: Realm,
    /// The name part of the server's principal.
    #[rasn(tag(explicit(10)))]
    pub sname: PrincipalName,
    /// Addresses from which the ticket can be used.
    #[rasn(tag(explicit(11)))]
    pub caddr: Option<HostAddresses>,
    /// Encrypted padata (RFC 6806; AD sends PA-SUPPORTED-ENCTYPES here).
    #[rasn(tag(explicit(12)))]
    pub encrypted_pa_data: Option<Vec<PaData>>,
}
kerberos_sequence!(EncKdcRepPart {
    key: req[0],
    last_req: req[1],
    nonce: u32[2],
    key_expiration: opt[3],
    flags: req[4],
    auth_time: req[5],
    start_time: opt[6],
    end_time: req[7],
    renew_till: opt[8],
    srealm: req[9],
    sname: req[10],
    caddr: opt[11],
    encrypted_pa_data: opt[12],
});

/// One `LastReq` entry.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LastReqValue {
    /// How `value` is to be interpreted: 0 none, 1 last initial TGT request, 2 last initial
    /// request, 3 newest TGT used, 4 last renewal, 5 last request, 6 password expiry, 7 account
    /// expiry; negative values pertain only to the responding server.
    #[rasn(tag(explicit(0)))]
    pub r#type: i32,
    /// The time, interpreted according to `type`.
    #[rasn(tag(explicit(1)))]
    pub value: KerberosTime,
}
kerberos_sequence!(LastReqValue {
    r#type: req[0],
    value: req[1]
});

/// `AP-REQ ::= [APPLICATION 14]`: a ticket and an authenticator presented to a service.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 14)))]
pub struct ApReq {
    /// The protocol version number (5).
    #[rasn(tag(explicit(0)))]
    pub pvno: i32,
    /// The message type (14).
    #[rasn(tag(explicit(1)))]
    pub msg_type: i32,
    /// Options for the request.
    #[rasn(tag(explicit(2)))]
    pub ap_options: ApOptions,
    /// The ticket authenticating the client to the server.
    #[rasn(tag(explicit(3)))]
    pub ticket: Ticket,
    /// The encrypted [`Authenticator`] (key usage 11, or 7 in a TGS-REQ).
    #[rasn(tag(explicit(4)))]
    pub authenticator: EncryptedData,
}
kerberos_sequence!(app ApReq {
    pvno: req[0], msg_type: req[1], ap_options: req[2], ticket: req[3], authenticator: req[4],
});

/// The authenticator of an [`ApReq`] (`[APPLICATION 2]`): proves recent knowledge of the
/// ticket's session key and may carry a subkey and initial sequence number.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 2)))]
pub struct Authenticator {
    /// The version number of the authenticator format (5).
    #[rasn(tag(explicit(0)))]
    pub authenticator_vno: i32,
    /// The client's realm.
    #[rasn(tag(explicit(1)))]
    pub crealm: Realm,
    /// The client's name.
    #[rasn(tag(explicit(2)))]
    pub cname: PrincipalName,
    /// Checksum of the application data (key usage 10, or 6 over a TGS-REQ body).
    #[rasn(tag(explicit(3)))]
    pub cksum: Option<Checksum>,
    /// The microsecond part of the client's timestamp (0..=999999).
    #[rasn(tag(explicit(4)))]
    pub cusec: Microseconds,
    /// The client's current time.
    #[rasn(tag(explicit(5)))]
    pub ctime: KerberosTime,
    /// The client's choice of a key for this session.
    #[rasn(tag(explicit(6)))]
    pub subkey: Option<EncryptionKey>,
    /// The initial sequence number.
    #[rasn(tag(explicit(7)))]
    pub seq_number: Option<u32>,
    /// Further restrictions on the authority of the ticket.
    #[rasn(tag(explicit(8)))]
    pub authorization_data: Option<AuthorizationData>,
}
kerberos_sequence!(app Authenticator {
    authenticator_vno: req[0], crealm: req[1], cname: req[2], cksum: opt[3], cusec: req[4],
    ctime: req[5], subkey: opt[6], seq_number: opt_u32[7], authorization_data: opt[8],
});

/// `AP-REP ::= [APPLICATION 15]`: the server's reply for mutual authentication.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 15)))]
pub struct ApRep {
    /// The protocol version number (5).
    #[rasn(tag(explicit(0)))]
    pub pvno: i32,
    /// The message type (15).
    #[rasn(tag(explicit(1)))]
    pub msg_type: i32,
    /// The encrypted [`EncApRepPart`] (key usage 12).
    #[rasn(tag(explicit(2)))]
    pub enc_part: EncryptedData,
}
kerberos_sequence!(app ApRep { pvno: req[0], msg_type: req[1], enc_part: req[2] });

/// The body of an [`ApRep`] (`[APPLICATION 27]`).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 27)))]
pub struct EncApRepPart {
    /// The client's time from the authenticator.
    #[rasn(tag(explicit(0)))]
    pub ctime: KerberosTime,
    /// The microseconds from the authenticator.
    #[rasn(tag(explicit(1)))]
    pub cusec: Microseconds,
    /// The server's subkey (the acceptor subkey).
    #[rasn(tag(explicit(2)))]
    pub subkey: Option<EncryptionKey>,
    /// The server's initial sequence number.
    #[rasn(tag(explicit(3)))]
    pub seq_number: Option<u32>,
}
kerberos_sequence!(app EncApRepPart {
    ctime: req[0], cusec: req[1], subkey: opt[2], seq_number: opt_u32[3],
});

/// `KRB-CRED ::= [APPLICATION 22]`: Kerberos credentials sent from one principal to another.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 22)))]
pub struct KrbCred {
    /// The protocol version number (5).
    #[rasn(tag(explicit(0)))]
    pub pvno: i32,
    /// The message type (22).
    #[rasn(tag(explicit(1)))]
    pub msg_type: i32,
    /// The tickets being sent.
    #[rasn(tag(explicit(2)))]
    pub tickets: Vec<Ticket>,
    /// The encrypted [`EncKrbCredPart`] (key usage 14).
    #[rasn(tag(explicit(3)))]
    pub enc_part: EncryptedData,
}
kerberos_sequence!(app KrbCred { pvno: req[0], msg_type: req[1], tickets: req[2], enc_part: req[3] });

/// The body of a [`KrbCred`] (`[APPLICATION 29]`).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 29)))]
pub struct EncKrbCredPart {
    /// Information for each ticket, including its session key.
    #[rasn(tag(explicit(0)))]
    pub ticket_info: Vec<KrbCredInfo>,
    /// A nonce from the recipient.
    #[rasn(tag(explicit(1)))]
    pub nonce: Option<u32>,
    /// The sender's time.
    #[rasn(tag(explicit(2)))]
    pub timestamp: Option<KerberosTime>,
    /// The microsecond part of `timestamp`.
    #[rasn(tag(explicit(3)))]
    pub usec: Option<Microseconds>,
    /// The sender's address.
    #[rasn(tag(explicit(4)))]
    pub sender_address: Option<HostAddress>,
    /// The recipient's address.
    #[rasn(tag(explicit(5)))]
    pub recipient_address: Option<HostAddress>,
}
kerberos_sequence!(app EncKrbCredPart {
    ticket_info: req[0], nonce: opt_u32[1], timestamp: opt[2], usec: opt[3],
    sender_address: opt[4], recipient_address: opt[5],
});

/// A ticket's information in a [`KrbCred`].
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct KrbCredInfo {
    /// The ticket's session key.
    #[rasn(tag(explicit(0)))]
    pub key: EncryptionKey,
    /// The realm of the delegated principal.
    #[rasn(tag(explicit(1)))]
    pub prealm: Option<Realm>,
    /// The name of the delegated principal.
    #[rasn(tag(explicit(2)))]
    pub pname: Option<PrincipalName>,
    /// The ticket's flags.
    #[rasn(tag(explicit(3)))]
    pub flags: Option<TicketFlags>,
    /// The time of initial authentication.
    #[rasn(tag(explicit(4)))]
    pub auth_time: Option<KerberosTime>,
    /// The time after which the ticket is valid.
    #[rasn(tag(explicit(5)))]
    pub start_time: Option<KerberosTime>,
    /// The ticket's expiration time.
    #[rasn(tag(explicit(6)))]
    pub end_time: Option<KerberosTime>,
    /// The maximum `end_time` of a renewal.
    #[rasn(tag(explicit(7)))]
    pub renew_till: Option<KerberosTime>,
    /// The realm of the server.
    #[rasn(tag(explicit(8)))]
    pub srealm: Option<Realm>,
    /// The name of the server.
    #[rasn(tag(explicit(9)))]
    pub sname: Option<PrincipalName>,
    /// Addresses from which the ticket can be used.
    #[rasn(tag(explicit(10)))]
    pub caddr: Option<HostAddresses>,
}
kerberos_sequence!(KrbCredInfo {
    key: req[0],
    prealm: opt[1],
    pname: opt[2],
    flags: opt[3],
    auth_time: opt[4],
    start_time: opt[5],
    end_time: opt[6],
    renew_till: opt[7],
    srealm: opt[8],
    sname: opt[9],
    caddr: opt[10],
});

/// `KRB-ERROR ::= [APPLICATION 30]`: an error from the KDC or a server.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
#[rasn(tag(explicit(application, 30)))]
pub struct KrbError {
    /// The protocol version number (5).
    #[rasn(tag(explicit(0)))]
    pub pvno: i32,
    /// The message type (30).
    #[rasn(tag(explicit(1)))]
    pub msg_type: i32,
    /// The client's time, copied from the request when known.
    #[rasn(tag(explicit(2)))]
    pub ctime: Option<KerberosTime>,
    /// The microsecond part of `ctime`.
    #[rasn(tag(explicit(3)))]
    pub cusec: Option<Microseconds>,
    /// The server's current time (use it to correct clock skew).
    #[rasn(tag(explicit(4)))]
    pub stime: KerberosTime,
    /// The microsecond part of `stime`.
    #[rasn(tag(explicit(5)))]
    pub susec: Microseconds,
    /// The error code (see [`super::error_code`], [`super::error_code::error_name`]).
    #[rasn(tag(explicit(6)))]
    pub error_code: i32,
    /// The client's realm (with referrals: the realm to retry in).
    #[rasn(tag(explicit(7)))]
    pub crealm: Option<Realm>,
    /// The client's name.
    #[rasn(tag(explicit(8)))]
    pub cname: Option<PrincipalName>,
    /// The realm of the issuing principal.
    #[rasn(tag(explicit(9)))]
    pub realm: Realm,
    /// The name of the issuing principal.
    #[rasn(tag(explicit(10)))]
    pub sname: PrincipalName,
    /// Additional text explaining the error.
    #[rasn(tag(explicit(11)))]
    pub e_text: Option<KerberosString>,
    /// Additional data: METHOD-DATA for PREAUTH_REQUIRED, KERB-ERROR-DATA from AD, or
    /// TYPED-DATA; do not assume which.
    #[rasn(tag(explicit(12)))]
    pub e_data: Option<OctetString>,
}
kerberos_sequence!(app KrbError {
    pvno: req[0], msg_type: req[1], ctime: opt[2], cusec: opt[3], stime: req[4], susec: req[5],
    error_code: req[6], crealm: opt[7], cname: opt[8], realm: req[9], sname: req[10],
    e_text: opt[11], e_data: opt[12],
});

impl KrbError {
    /// The symbolic name of `error_code`, e.g. `KDC_ERR_PREAUTH_FAILED`.
    pub fn error_name(&self) -> &'static str {
        super::error_code::error_name(self.error_code)
    }

    /// A one-line hint for a person about `error_code`.
    pub fn error_hint(&self) -> &'static str {
        super::error_code::error_hint(self.error_code)
    }
}

/// One `TYPED-DATA` element.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TypedDataItem {
    /// The data type.
    #[rasn(tag(explicit(0)))]
    pub r#type: i32,
    /// The data.
    #[rasn(tag(explicit(1)))]
    pub value: Option<OctetString>,
}
kerberos_sequence!(TypedDataItem {
    r#type: req[0],
    value: opt[1]
});

/// `PA-ENC-TS-ENC`: the plaintext of PA-ENC-TIMESTAMP (encrypted with key usage 1).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PaEncTsEnc {
    /// The client's time.
    #[rasn(tag(explicit(0)))]
    pub patimestamp: KerberosTime,
    /// The microsecond part of `patimestamp`.
    #[rasn(tag(explicit(1)))]
    pub pausec: Option<Microseconds>,
}
kerberos_sequence!(PaEncTsEnc {
    patimestamp: req[0],
    pausec: opt[1]
});

/// An `ETYPE-INFO-ENTRY` (PA-ETYPE-INFO, 11; older KDCs).
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct EtypeInfoEntry {
    /// The encryption type.
    #[rasn(tag(explicit(0)))]
    pub etype: i32,
    /// The salt, if not the default.
    #[rasn(tag(explicit(1)))]
    pub salt: Option<OctetString>,
}
kerberos_sequence!(EtypeInfoEntry {
    etype: req[0],
    salt: opt[1]
});

/// An `ETYPE-INFO2-ENTRY` (PA-ETYPE-INFO2, 19): how to derive the client's key.
#[derive(AsnType, Encode, Clone, Debug, PartialEq, Eq, Hash)]
pub struct EtypeInfo2Entry {
    /// The encryption type.
    #[rasn(tag(explicit(0)))]
    pub etype: i32,
    /// The salt; absent means the default salt (realm followed by the name components).
    #[rasn(tag(explicit(1)))]
    pub salt: Option<KerberosString>,
    /// String-to-key parameters (e.g. the AES iteration count, 4 bytes big-endian).
    #[rasn(tag(explicit(2)))]
    pub s2kparams: Option<OctetString>,
}
kerberos_sequence!(EtypeInfo2Entry {
    etype: req[0],
    salt: opt[1],
    s2kparams: opt[2]
});
