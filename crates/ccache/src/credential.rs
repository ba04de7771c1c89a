//! Credentials (tickets and configuration entries) as stored in a FILE cache.

use std::fmt;

use zeroize::Zeroizing;

use crate::principal::{Principal, name_type};

/// The realm MIT gives the server principal of configuration entries.
pub const CONFIG_REALM: &[u8] = b"X-CACHECONF:";
/// The first component of the server principal of configuration entries.
pub const CONFIG_COMPONENT: &[u8] = b"krb5_ccache_conf_data";

/// Well-known configuration keys written by MIT krb5 (`k5-int.h`).
pub mod config_key {
    /// `"yes"` when the KDC announced FAST support.
    pub const FAST_AVAIL: &str = "fast_avail";
    /// ASCII decimal preauth type used for the initial ticket, associated with the krbtgt principal.
    pub const PA_TYPE: &str = "pa_type";
    /// JSON remembered by the preauth mechanism.
    pub const PA_CONFIG_DATA: &str = "pa_config_data";
    /// Name of the intermediate service of a synthetic S4U2Proxy cache.
    pub const PROXY_IMPERSONATOR: &str = "proxy_impersonator";
    /// ASCII decimal time at which GSSAPI should refresh the cache from a client keytab.
    pub const REFRESH_TIME: &str = "refresh_time";
    /// Realm of the TGT when it differs from the client realm.
    pub const START_REALM: &str = "start_realm";
}

/// A session key with its encryption type. `Debug` does not show the key bytes.
#[derive(Clone, Default)]
pub struct KeyBlock {
    /// The Kerberos encryption type number (e.g. 18 = aes256-cts-hmac-sha1-96).
    pub enctype: u16,
    /// The key bytes, wiped from memory on drop.
    pub key: Zeroizing<Vec<u8>>,
}

impl KeyBlock {
    /// A key block holding a copy of `key`.
    pub fn new(enctype: u16, key: &[u8]) -> Self {
        Self {
            enctype,
            key: Zeroizing::new(key.to_vec()),
        }
    }
}

impl PartialEq for KeyBlock {
    /// Compares in time independent of where the keys differ.
    fn eq(&self, other: &Self) -> bool {
        if self.enctype != other.enctype || self.key.len() != other.key.len() {
            return false;
        }
        self.key
            .iter()
            .zip(other.key.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for KeyBlock {}

impl fmt::Debug for KeyBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyBlock(enctype {}, <redacted {} bytes>)",
            self.enctype,
            self.key.len()
        )
    }
}

/// A host address attached to a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Address {
    /// Address type (2 = IPv4, 24 = IPv6, ...).
    pub addrtype: u16,
    /// The address bytes.
    pub data: Vec<u8>,
}

/// An authorization-data element attached to a credential.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AuthData {
    /// The ad-type as stored: a 16-bit field that MIT reads as signed (`0xFF9C` is -100).
    pub ad_type: u16,
    /// The element's contents.
    pub data: Vec<u8>,
}

/// One credential of a cache: a ticket with its session key, or a configuration entry.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Credential {
    /// The client principal.
    pub client: Principal,
    /// The service principal.
    pub server: Principal,
    /// The session key.
    pub key: KeyBlock,
    /// Time of initial authentication (seconds since the epoch, unsigned 32-bit).
    pub authtime: u32,
    /// Start of validity (0 if absent).
    pub starttime: u32,
    /// End of validity.
    pub endtime: u32,
    /// End of renewable lifetime (0 if not renewable).
    pub renew_till: u32,
    /// Whether the ticket is encrypted in another ticket's session key (user-to-user).
    pub is_skey: bool,
    /// Ticket flags, with RFC 4120 bit 0 as the most significant bit (see [`crate::flags`]).
    pub ticket_flags: u32,
    /// Client addresses the ticket is bound to (usually none).
    pub addresses: Vec<Address>,
    /// Authorization data of the credential (usually none).
    pub authdata: Vec<AuthData>,
    /// The DER `Ticket`, or the value of a configuration entry.
    pub ticket: Vec<u8>,
    /// The second ticket of a user-to-user request (usually empty).
    pub second_ticket: Vec<u8>,
}

impl Credential {
    /// A configuration entry as MIT `krb5_cc_set_config` writes it: client = `client` (the
    /// cache's default principal), server = `krb5_ccache_conf_data/KEY[/PRINCIPAL]@X-CACHECONF:`
    /// with name type `PRINCIPAL`, the value in the ticket field and every other field zero.
    ///
    /// ```
    /// use ccache::{Credential, Principal};
    /// let me = Principal::parse("webapp01$@EXAMPLE.COM").unwrap();
    /// let tgs = Principal::krbtgt(b"EXAMPLE.COM");
    /// let c = Credential::config(&me, "pa_type", Some(&tgs), b"2");
    /// assert!(c.is_config());
    /// assert_eq!(c.config_key(), Some(&b"pa_type"[..]));
    /// assert_eq!(c.server.to_string(),
    ///            "krb5_ccache_conf_data/pa_type/krbtgt\\/EXAMPLE.COM\\@EXAMPLE.COM@X-CACHECONF:");
    /// ```
    pub fn config(
        client: &Principal,
        key: &str,
        principal: Option<&Principal>,
        value: &[u8],
    ) -> Credential {
        let mut components = vec![CONFIG_COMPONENT.to_vec(), key.as_bytes().to_vec()];
        if let Some(p) = principal {
            components.push(p.to_string().into_bytes());
        }
        Credential {
            client: client.clone(),
            server: Principal {
                name_type: name_type::PRINCIPAL,
                realm: CONFIG_REALM.to_vec(),
                components,
            },
            ticket: value.to_vec(),
            ..Credential::default()
        }
    }

    /// Whether this is a configuration entry (server realm `X-CACHECONF:`, first component
    /// `krb5_ccache_conf_data`) rather than a ticket.
    pub fn is_config(&self) -> bool {
        self.server.realm == CONFIG_REALM
            && self.server.components.first().map(Vec::as_slice) == Some(CONFIG_COMPONENT)
    }

    /// The key of a configuration entry (its server's second component), `None` for tickets.
    pub fn config_key(&self) -> Option<&[u8]> {
        if self.is_config() {
            self.server.components.get(1).map(Vec::as_slice)
        } else {
            None
        }
    }

    /// The principal a configuration entry is associated with, as its unparsed name bytes
    /// (the server's third component), `None` for tickets and unassociated entries.
    pub fn config_principal(&self) -> Option<&[u8]> {
        if self.is_config() {
            self.server.components.get(2).map(Vec::as_slice)
        } else {
            None
        }
    }
}
