//! MIT Kerberos FILE credential caches (`FILE:/tmp/krb5cc_1000`): read format versions 3 and
//! 4, write version 4, replace files atomically.
//!
//! The crate knows nothing of Kerberos messages: tickets are opaque DER bytes, keys are bytes
//! with an enctype number. Input is untrusted: parsing never panics and every length is checked
//! against the remaining input before anything is allocated.
//!
//! ```
//! use ccache::{Ccache, Credential, KeyBlock, Principal, flags};
//!
//! let me = Principal::parse("webapp01$@EXAMPLE.COM").unwrap();
//! let tgs = Principal::krbtgt(b"EXAMPLE.COM");
//! let mut cache = Ccache::new(me.clone());
//! cache.time_offset = Some((-3, 250_000));
//! cache.add_or_replace(Credential::config(&me, "pa_type", Some(&tgs), b"2"));
//! cache.add_or_replace(Credential {
//!     client: me.clone(),
//!     server: tgs.clone(),
//!     key: KeyBlock::new(18, &[7; 32]),
//!     authtime: 1_700_000_000,
//!     endtime: 1_700_036_000,
//!     ticket_flags: flags::FORWARDABLE | flags::INITIAL | flags::PRE_AUTH,
//!     ticket: b"DER Ticket".to_vec(),
//!     ..Default::default()
//! });
//!
//! let bytes = cache.to_bytes();
//! let back = Ccache::parse(&bytes).unwrap();
//! assert_eq!(back, cache);
//! assert_eq!(back.tickets().count(), 1);
//! assert_eq!(back.find(&tgs).unwrap().endtime, 1_700_036_000);
//! assert_eq!(back.config_value("pa_type"), Some(&b"2"[..]));
//! ```

mod codec;
mod credential;
mod error;
mod file;
mod principal;

use std::path::{Path, PathBuf};

/// How [`Ccache::write_with`] writes: mode, group and durability.
pub use atomic_replace::{Durability, Replace};
pub use codec::{MAX_COMPONENTS, MAX_CREDENTIALS};
pub use credential::{
    Address, AuthData, CONFIG_COMPONENT, CONFIG_REALM, Credential, KeyBlock, config_key,
};
pub use error::CcacheError;
pub use file::MAX_FILE_SIZE;
pub use principal::{Principal, name_type};

/// Ticket flag masks for [`Credential::ticket_flags`]: the first 32 bits of the KerberosFlags
/// BIT STRING, RFC 4120 bit 0 being the most significant bit (MIT `krb5.h`).
pub mod flags {
    /// Bit 1: the TGT may be forwarded.
    pub const FORWARDABLE: u32 = 0x4000_0000;
    /// Bit 2: the ticket was forwarded.
    pub const FORWARDED: u32 = 0x2000_0000;
    /// Bit 3: proxy tickets may be obtained.
    pub const PROXIABLE: u32 = 0x1000_0000;
    /// Bit 4: the ticket is a proxy.
    pub const PROXY: u32 = 0x0800_0000;
    /// Bit 5: postdated tickets may be obtained.
    pub const MAY_POSTDATE: u32 = 0x0400_0000;
    /// Bit 6: the ticket is postdated.
    pub const POSTDATED: u32 = 0x0200_0000;
    /// Bit 7: the ticket is invalid until validated.
    pub const INVALID: u32 = 0x0100_0000;
    /// Bit 8: the ticket is renewable.
    pub const RENEWABLE: u32 = 0x0080_0000;
    /// Bit 9: the ticket was issued by the AS exchange.
    pub const INITIAL: u32 = 0x0040_0000;
    /// Bit 10: the client was pre-authenticated.
    pub const PRE_AUTH: u32 = 0x0020_0000;
    /// Bit 11: hardware pre-authentication was used.
    pub const HW_AUTH: u32 = 0x0010_0000;
    /// Bit 12: the KDC checked the transited realms.
    pub const TRANSIT_POLICY_CHECKED: u32 = 0x0008_0000;
    /// Bit 13: the service is trusted for delegation.
    pub const OK_AS_DELEGATE: u32 = 0x0004_0000;
    /// Bit 15: the KDC supports encrypted-PA-data in the reply (RFC 6806).
    pub const ENC_PA_REP: u32 = 0x0001_0000;
    /// Bit 16: the ticket is anonymous.
    pub const ANONYMOUS: u32 = 0x0000_8000;
}

/// A FILE credential cache: header, default principal and credentials, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ccache {
    /// The format version read (`0x0503` or `0x0504`); [`Ccache::to_bytes`] always writes `0x0504`.
    pub version: u16,
    /// KDC time minus local time as (seconds, microseconds), the version 4 DeltaTime header
    /// field; `None` when the file has none (and then none is written).
    pub time_offset: Option<(i32, i32)>,
    /// The cache's client principal.
    pub default_principal: Principal,
    /// Tickets and configuration entries, in file order.
    pub credentials: Vec<Credential>,
}

impl Ccache {
    /// An empty version 4 cache for `default_principal`, without a time offset.
    pub fn new(default_principal: Principal) -> Self {
        Self {
            version: codec::VERSION_4,
            time_offset: None,
            default_principal,
            credentials: Vec::new(),
        }
    }

    /// Parses a FILE cache of format version 3 or 4. Header fields with unknown tags are
    /// skipped; a DeltaTime field whose length is not 8 is an error. Credentials run to the end
    /// of the input: a credential cut short is an error, while input that ends exactly between
    /// two credentials is a valid cache.
    ///
    /// ```
    /// use ccache::{Ccache, CcacheError};
    /// let c = Ccache::parse(&[5, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, b'R']).unwrap();
    /// assert_eq!(c.default_principal.to_string(), "@R");
    /// assert!(matches!(Ccache::parse(&[5, 2]), Err(CcacheError::BadVersion(0x0502))));
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Self, CcacheError> {
        codec::parse(bytes)
    }

    /// Serializes as format version 4. The DeltaTime header field is written only when
    /// [`Ccache::time_offset`] is `Some` (else the header is empty, `05 04 00 00`).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::serialize(self)
    }

    /// Reads and parses the cache at `path`, refusing files larger than [`MAX_FILE_SIZE`].
    pub fn read(path: &Path) -> Result<Self, CcacheError> {
        let bytes = file::read_bounded(path)?;
        Self::parse(&bytes)
    }

    /// Writes the cache (version 4) to `path`, replacing any file there atomically: a
    /// temporary file in the same directory is created exclusively with permissions `mode`
    /// (e.g. `0o600`; set exactly, whatever the umask), written, fsynced and renamed over
    /// `path`, then the directory is fsynced. On error the temporary file is removed.
    ///
    /// ```no_run
    /// # use ccache::{Ccache, Principal};
    /// let cache = Ccache::new(Principal::parse("webapp01$@EXAMPLE.COM").unwrap());
    /// cache.write_atomic(std::path::Path::new("/var/run/gmsa/krb5cc"), 0o600).unwrap();
    /// ```
    pub fn write_atomic(&self, path: &Path, mode: u32) -> Result<(), CcacheError> {
        self.write_with(path, &Replace::new(mode))
    }

    /// Writes the cache (version 4) to `path` the way `how` says: mode, group and durability
    /// (see [`Replace`]). A reader of `path` sees the old cache or the new one, never a mix; the
    /// file has its mode and group before it gets its name. The one ccache writer of the
    /// workspace: `gmsa kinit`/`kvno`/`fetch` and the daemon's leases all write through it.
    ///
    /// ```no_run
    /// # use ccache::{Ccache, Durability, Principal, Replace};
    /// let cache = Ccache::new(Principal::parse("webapp01$@EXAMPLE.COM").unwrap());
    /// let how = Replace::new(0o640).group(Some(1000)).durability(Durability::PageCache);
    /// cache.write_with(std::path::Path::new("/var/credentials-fetcher/krbdir/l/WebApp01/krb5cc"), &how).unwrap();
    /// ```
    pub fn write_with(&self, path: &Path, how: &Replace) -> Result<(), CcacheError> {
        let bytes = zeroize::Zeroizing::new(self.to_bytes());
        file::write_atomic(path, &bytes, how)
    }

    /// The credentials that are tickets (configuration entries left out).
    pub fn tickets(&self) -> impl Iterator<Item = &Credential> {
        self.credentials.iter().filter(|c| !c.is_config())
    }

    /// The first ticket whose server is `server` (realm and components compared byte for
    /// byte, name type ignored).
    pub fn find(&self, server: &Principal) -> Option<&Credential> {
        self.tickets().find(|c| c.server.same_name(server))
    }

    /// Adds `cred`, replacing in place an existing credential with the same client and server
    /// (name types ignored); otherwise appends it.
    pub fn add_or_replace(&mut self, cred: Credential) {
        match self
            .credentials
            .iter_mut()
            .find(|c| c.client.same_name(&cred.client) && c.server.same_name(&cred.server))
        {
            Some(slot) => *slot = cred,
            None => self.credentials.push(cred),
        }
    }

    /// Sets a configuration entry for the default principal (see [`Credential::config`]).
    pub fn set_config(&mut self, key: &str, principal: Option<&Principal>, value: &[u8]) {
        let cred = Credential::config(&self.default_principal, key, principal, value);
        self.add_or_replace(cred);
    }

    /// The value of the first configuration entry with key `key`, whatever principal it is
    /// associated with.
    pub fn config_value(&self, key: &str) -> Option<&[u8]> {
        self.credentials
            .iter()
            .find(|c| c.config_key() == Some(key.as_bytes()))
            .map(|c| c.ticket.as_slice())
    }
}

/// The path of the FILE cache named `name`, else by `$KRB5CCNAME`, else MIT's default
/// `/tmp/krb5cc_<uid>` (the uid is the owner of `/proc/self`; `default_ccache_name` from
/// krb5.conf is not consulted).
///
/// Names: `FILE:/path`, `/path`, or a path without a type prefix. Other cache types (`DIR:`,
/// `KEYRING:`, `KCM:`, `MEMORY:`, `API:`, ...) give [`CcacheError::Unsupported`]. An empty
/// `$KRB5CCNAME` counts as unset.
///
/// ```
/// use std::path::Path;
/// assert_eq!(ccache::resolve_path(Some("FILE:/run/cc")).unwrap(), Path::new("/run/cc"));
/// assert!(ccache::resolve_path(Some("KCM:1000")).is_err());
/// ```
pub fn resolve_path(name: Option<&str>) -> Result<PathBuf, CcacheError> {
    if let Some(name) = name {
        return file::resolve_name(name.as_ref());
    }
    match std::env::var_os("KRB5CCNAME") {
        Some(v) if !v.is_empty() => file::resolve_name(&v),
        _ => file::default_path(),
    }
}
