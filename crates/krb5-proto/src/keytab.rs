//! MIT keytab files (`FILE:/etc/krb5.keytab`): format version 0x0502 read and written,
//! version 0x0501 (native byte order) read.
//!
//! Layout (MIT `doc/formats/keytab_file_format.rst`, `kt_file.c`): `05 02`, then records, each a
//! signed 32-bit big-endian length followed by that many bytes. A positive length holds an entry
//! (possibly followed by padding), a negative length is a hole of that many zero bytes left by a
//! deleted entry, and a zero length ends the file. An entry is: component count (u16, realm not
//! counted in v2), realm and components (u16 length + bytes), name type (i32, v2 only),
//! timestamp (u32), 8-bit kvno, enctype (u16), key (u16 length + bytes), and optionally a
//! 32-bit kvno that wins over the 8-bit one when present and non-zero (krb5 1.14 and later).
//!
//! Input is untrusted: parsing never panics, and every length is checked against the record
//! (or the file) before anything is allocated.
//!
//! ```
//! use krb5_proto::Principal;
//! use krb5_proto::keytab::{Keytab, KeytabEntry};
//!
//! let me = Principal::parse("webapp01$@EXAMPLE.COM", None).unwrap();
//! let kt = Keytab {
//!     entries: vec![KeytabEntry {
//!         principal: me.clone(),
//!         timestamp: 1_700_000_000,
//!         kvno: 2,
//!         enctype: 18,
//!         key: zeroize::Zeroizing::new(vec![0x11; 32]),
//!     }],
//! };
//! let back = Keytab::parse(&kt.to_bytes()).unwrap();
//! assert_eq!(back, kt);
//! assert_eq!(back.find(&me, Some(18), None)[0].kvno, 2);
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::Principal;

/// Keytab format version 1: native byte order, realm counted among the components, no name type.
pub const VERSION_1: u16 = 0x0501;
/// Keytab format version 2: big-endian.
pub const VERSION_2: u16 = 0x0502;
/// Largest keytab file [`Keytab::read`] accepts (64 MiB).
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;
/// Most entries accepted in one keytab.
pub const MAX_ENTRIES: usize = 1 << 20;
/// Default keytab path when neither a name nor `$KRB5_KTNAME` is given.
pub const DEFAULT_PATH: &str = "/etc/krb5.keytab";

/// A keytab could not be read, parsed, located or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeytabError {
    /// The file (or its directory) could not be read or written.
    #[error("keytab {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A field or record runs past the end of its record or of the file.
    #[error(
        "keytab is truncated or corrupt: the {what} at byte offset {offset} runs past the end of the data"
    )]
    Truncated {
        /// Which field was being read.
        what: &'static str,
        /// Byte offset of the field in the file.
        offset: usize,
    },
    /// The file does not start with a supported keytab version.
    #[error(
        "unsupported keytab format version 0x{0:04x}: only MIT keytab versions 0x0502 and 0x0501 are read"
    )]
    BadVersion(u16),
    /// A count or size exceeds a limit of the format or of this implementation.
    #[error("keytab {what} is too large: {len} exceeds the limit of {max}")]
    TooLarge {
        /// What was counted or measured.
        what: &'static str,
        /// The value found.
        len: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// The keytab name designates a keytab type other than FILE/WRFILE.
    #[error("{0}")]
    Unsupported(String),
    /// A field has a value the format does not allow.
    #[error("keytab is corrupt: invalid {what} at byte offset {offset}: {reason}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// Byte offset of the field in the file.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl KeytabError {
    fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// One key of a keytab. `Debug` does not show the key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct KeytabEntry {
    /// The principal the key belongs to (name type 0 for version 1 files, which lack it).
    pub principal: Principal,
    /// When the entry was written (seconds since the epoch).
    pub timestamp: u32,
    /// Key version number: the 8-bit field, overridden by the trailing 32-bit kvno when that is
    /// present and non-zero.
    pub kvno: u32,
    /// Encryption type number, read as an unsigned 16-bit value as MIT does; unknown enctypes
    /// are kept.
    pub enctype: i32,
    /// The key bytes, wiped from memory on drop.
    pub key: Zeroizing<Vec<u8>>,
}

impl KeytabEntry {
    /// The entry's key as a crypto key; `None` for enctypes this crate does not implement or a key
    /// of the wrong length.
    pub fn key(&self) -> Option<crate::crypto::Key> {
        let etype = crate::crypto::EncType::from_i32(self.enctype)?;
        crate::crypto::Key::new(etype, &self.key).ok()
    }
}

impl fmt::Debug for KeytabEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeytabEntry")
            .field("principal", &self.principal)
            .field("timestamp", &self.timestamp)
            .field("kvno", &self.kvno)
            .field("enctype", &self.enctype)
            .field("key", &format_args!("<redacted {} bytes>", self.key.len()))
            .finish()
    }
}

/// A keytab: its entries in file order (holes dropped).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Keytab {
    /// The entries, in file order.
    pub entries: Vec<KeytabEntry>,
}

#[derive(Clone, Copy)]
enum Order {
    Big,
    Native,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the file, for error messages.
    base: usize,
    order: Order,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn truncated(&self, what: &'static str) -> KeytabError {
        KeytabError::Truncated {
            what,
            offset: self.base + self.pos,
        }
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], KeytabError> {
        let out = self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or_else(|| self.truncated(what))?;
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], KeytabError> {
        let b = self.bytes(N, what)?;
        b.try_into().map_err(|_| self.truncated(what))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, KeytabError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, KeytabError> {
        let a = self.array(what)?;
        Ok(match self.order {
            Order::Big => u16::from_be_bytes(a),
            Order::Native => u16::from_ne_bytes(a),
        })
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, KeytabError> {
        let a = self.array(what)?;
        Ok(match self.order {
            Order::Big => u32::from_be_bytes(a),
            Order::Native => u32::from_ne_bytes(a),
        })
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, KeytabError> {
        Ok(self.u32(what)? as i32)
    }

    /// A 16-bit length followed by that many bytes.
    fn data(&mut self, what: &'static str) -> Result<&'a [u8], KeytabError> {
        let len = self.u16(what)?;
        self.bytes(len.into(), what)
    }
}

fn parse_entry(r: &mut Reader<'_>, version: u16) -> Result<KeytabEntry, KeytabError> {
    let count_offset = r.base + r.pos;
    let mut count = r.u16("principal component count")?;
    if version == VERSION_1 {
        // Version 1 counts the realm among the components.
        count = count.checked_sub(1).ok_or(KeytabError::Invalid {
            what: "principal component count",
            offset: count_offset,
            reason: "a version 1 count must include the realm",
        })?;
    }
    let count = usize::from(count);
    // The realm and every component take at least their 2-byte length.
    if (count + 1) * 2 > r.remaining() {
        return Err(KeytabError::Truncated {
            what: "principal components",
            offset: count_offset,
        });
    }
    let realm = r.data("principal realm")?.to_vec();
    let mut components = Vec::with_capacity(count);
    for _ in 0..count {
        components.push(r.data("principal component")?.to_vec());
    }
    let name_type = if version == VERSION_1 {
        0
    } else {
        r.i32("principal name type")?
    };
    let timestamp = r.u32("timestamp")?;
    let kvno8 = r.u8("key version number")?;
    let enctype = i32::from(r.u16("enctype")?);
    let key = Zeroizing::new(r.data("key")?.to_vec());
    let mut kvno = u32::from(kvno8);
    if r.remaining() >= 4 {
        let kvno32 = r.u32("32-bit key version number")?;
        if kvno32 != 0 {
            kvno = kvno32;
        }
    }
    Ok(KeytabEntry {
        principal: Principal {
            name_type,
            components,
            realm,
        },
        timestamp,
        kvno,
        enctype,
        key,
    })
}

/// Size of an entry in the v2 format, or why it cannot be written.
fn entry_size(e: &KeytabEntry) -> Result<usize, KeytabError> {
    let too_large = |what, len: usize, max: u64| KeytabError::TooLarge {
        what,
        len: len as u64,
        max,
    };
    let max16 = u64::from(u16::MAX);
    if e.principal.components.len() > usize::from(u16::MAX) {
        return Err(too_large(
            "principal component count",
            e.principal.components.len(),
            max16,
        ));
    }
    let mut size: usize = 2;
    for part in std::iter::once(&e.principal.realm).chain(&e.principal.components) {
        if part.len() > usize::from(u16::MAX) {
            return Err(too_large("principal component", part.len(), max16));
        }
        size += 2 + part.len();
    }
    if e.key.len() > usize::from(u16::MAX) {
        return Err(too_large("key", e.key.len(), max16));
    }
    if !(i32::from(i16::MIN)..=i32::from(u16::MAX)).contains(&e.enctype) {
        return Err(KeytabError::Invalid {
            what: "enctype",
            offset: 0,
            reason: "it does not fit the 16-bit enctype field",
        });
    }
    size += 4 + 4 + 1 + 2 + 2 + e.key.len() + 4;
    if size > i32::MAX as usize {
        return Err(too_large("entry", size, i32::MAX as u64));
    }
    Ok(size)
}

fn put_entry(out: &mut Vec<u8>, e: &KeytabEntry, size: usize) {
    // Sizes and lengths were checked by `entry_size`.
    out.extend_from_slice(&(size as i32).to_be_bytes());
    out.extend_from_slice(&(e.principal.components.len() as u16).to_be_bytes());
    for part in std::iter::once(&e.principal.realm).chain(&e.principal.components) {
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&e.principal.name_type.to_be_bytes());
    out.extend_from_slice(&e.timestamp.to_be_bytes());
    out.push(e.kvno as u8);
    out.extend_from_slice(&(e.enctype as u16).to_be_bytes());
    out.extend_from_slice(&(e.key.len() as u16).to_be_bytes());
    out.extend_from_slice(&e.key);
    out.extend_from_slice(&e.kvno.to_be_bytes());
}

impl Keytab {
    /// Parses a keytab of version 0x0502 or 0x0501. Holes (negative record lengths) are
    /// skipped, a zero record length ends the keytab, a record or hole longer than the data left
    /// is an error, and entries with unknown enctypes are kept. Bytes of a record after its
    /// entry are padding, except that 4 or more of them start with the 32-bit kvno.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeytabError> {
        let mut r = Reader {
            buf: bytes,
            pos: 0,
            base: 0,
            order: Order::Big,
        };
        let version = r.u16("format version")?;
        match version {
            VERSION_2 => {}
            VERSION_1 => r.order = Order::Native,
            other => return Err(KeytabError::BadVersion(other)),
        }
        let mut entries = Vec::new();
        while r.remaining() > 0 {
            let size = r.i32("record length")?;
            if size == 0 {
                break;
            }
            let len = usize::try_from(size.unsigned_abs()).unwrap_or(usize::MAX);
            if size < 0 {
                r.bytes(len, "hole")?;
                continue;
            }
            let start = r.pos;
            let record = r.bytes(len, "record")?;
            if entries.len() >= MAX_ENTRIES {
                return Err(KeytabError::TooLarge {
                    what: "entry count",
                    len: entries.len() as u64 + 1,
                    max: MAX_ENTRIES as u64,
                });
            }
            let mut rec = Reader {
                buf: record,
                pos: 0,
                base: start,
                order: r.order,
            };
            entries.push(parse_entry(&mut rec, version)?);
        }
        Ok(Self { entries })
    }

    /// Serializes as version 0x0502, each record exactly the size of its entry, the 32-bit
    /// kvno written after the 8-bit one (its low byte). Entries the format cannot hold (a realm,
    /// component or key over 65535 bytes, more than 65535 components, an enctype outside
    /// -32768..=65535) are left out; [`Keytab::try_to_bytes`] reports them instead.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode(false).unwrap_or_default()
    }

    /// Like [`Keytab::to_bytes`], but an entry the format cannot hold is an error.
    pub fn try_to_bytes(&self) -> Result<Vec<u8>, KeytabError> {
        self.encode(true)
    }

    fn encode(&self, strict: bool) -> Result<Vec<u8>, KeytabError> {
        let mut sized = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            match entry_size(e) {
                Ok(size) => sized.push((e, size)),
                Err(err) if strict => return Err(err),
                Err(_) => {}
            }
        }
        // Sized exactly up front so the buffer (which holds keys) is never reallocated.
        let total = 2 + sized.iter().map(|(_, s)| 4 + s).sum::<usize>();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&VERSION_2.to_be_bytes());
        for (e, size) in sized {
            put_entry(&mut out, e, size);
        }
        Ok(out)
    }

    /// Reads and parses the keytab at `path`, refusing files larger than [`MAX_FILE_SIZE`].
    pub fn read(path: &Path) -> Result<Self, KeytabError> {
        let buf = atomic_replace::read_bounded(path, MAX_FILE_SIZE).map_err(|e| match e {
            atomic_replace::ReadError::Io { path, source } => KeytabError::io(path, source),
            atomic_replace::ReadError::TooLarge { len, max, .. } => KeytabError::TooLarge {
                what: "file",
                len,
                max,
            },
        })?;
        Self::parse(&buf)
    }

    /// Writes the keytab (version 0x0502) to `path`, replacing any file there atomically: a
    /// temporary file in the same directory is created exclusively with permissions `mode` (set
    /// exactly, whatever the umask), written, fsynced and renamed over `path`, then the
    /// directory is fsynced. On error the temporary file is removed. An entry the format cannot
    /// hold is an error.
    pub fn write(&self, path: &Path, mode: u32) -> Result<(), KeytabError> {
        let bytes = Zeroizing::new(self.try_to_bytes()?);
        write_atomic(path, &bytes, mode)
    }

    /// The entries of `principal` (realm and components compared byte for byte, name type
    /// ignored), optionally only those of `enctype` and/or `kvno`, highest kvno first (file
    /// order among equal kvnos).
    pub fn find(
        &self,
        principal: &Principal,
        enctype: Option<i32>,
        kvno: Option<u32>,
    ) -> Vec<&KeytabEntry> {
        let mut found: Vec<&KeytabEntry> = self
            .entries
            .iter()
            .filter(|e| {
                e.principal.realm == principal.realm
                    && e.principal.components == principal.components
                    && enctype.is_none_or(|t| e.enctype == t)
                    && kvno.is_none_or(|k| e.kvno == k)
            })
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse(e.kvno));
        found
    }

    /// The usable keys of `principal`: for each enctype this crate implements, the key with the
    /// highest kvno, in file order of enctypes.
    pub fn keys_for(&self, principal: &Principal) -> Vec<crate::crypto::Key> {
        let mut keys: Vec<crate::crypto::Key> = Vec::new();
        // `find` returns the highest kvno first: keep the first key of each enctype.
        for entry in self.find(principal, None, None) {
            if let Some(k) = entry.key()
                && !keys.iter().any(|have| have.etype() == k.etype())
            {
                keys.push(k);
            }
        }
        keys
    }

    /// The distinct principals of the keytab (by realm and components), in order of first
    /// appearance.
    pub fn principals(&self) -> Vec<Principal> {
        let mut out: Vec<Principal> = Vec::new();
        for e in &self.entries {
            if !out
                .iter()
                .any(|p| p.realm == e.principal.realm && p.components == e.principal.components)
            {
                out.push(e.principal.clone());
            }
        }
        out
    }
}

/// Replaces `path` atomically and durably (see [`atomic_replace`]).
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeytabError> {
    atomic_replace::Replace::new(mode)
        .write(path, bytes)
        .map_err(|e| KeytabError::io(e.path, e.source))
}

fn resolve_name(name: &OsStr) -> Result<PathBuf, KeytabError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(KeytabError::Unsupported("empty keytab name".into()));
    }
    if bytes.starts_with(b"/") {
        return Ok(PathBuf::from(name));
    }
    let Some(colon) = bytes.iter().position(|&b| b == b':') else {
        return Ok(PathBuf::from(name));
    };
    let (kind, rest) = (&bytes[..colon], &bytes[colon + 1..]);
    if kind.eq_ignore_ascii_case(b"FILE") || kind.eq_ignore_ascii_case(b"WRFILE") {
        if rest.is_empty() {
            return Err(KeytabError::Unsupported(format!(
                "keytab name {:?} has no path",
                String::from_utf8_lossy(bytes)
            )));
        }
        return Ok(PathBuf::from(OsStr::from_bytes(rest)));
    }
    Err(KeytabError::Unsupported(format!(
        "keytab type {}: is not supported: only FILE: and WRFILE: keytabs can be used \
         (set KRB5_KTNAME=FILE:/path/to/keytab)",
        String::from_utf8_lossy(kind)
    )))
}

/// The path of the FILE keytab named `name`, else by `$KRB5_KTNAME`, else
/// `/etc/krb5.keytab` (`default_keytab_name` from krb5.conf is not consulted).
///
/// Names: `FILE:/path`, `WRFILE:/path`, `/path`, or a path without a type prefix; other types
/// (`MEMORY:`, `KDB:`, ...) give [`KeytabError::Unsupported`]. An empty `$KRB5_KTNAME` counts
/// as unset.
///
/// ```
/// use std::path::Path;
/// use krb5_proto::keytab::resolve_path;
/// assert_eq!(resolve_path(Some("WRFILE:/etc/gmsa.keytab")).unwrap(), Path::new("/etc/gmsa.keytab"));
/// assert!(resolve_path(Some("MEMORY:x")).is_err());
/// ```
pub fn resolve_path(name: Option<&str>) -> Result<PathBuf, KeytabError> {
    if let Some(name) = name {
        return resolve_name(name.as_ref());
    }
    match std::env::var_os("KRB5_KTNAME") {
        Some(v) if !v.is_empty() => resolve_name(&v),
        _ => Ok(PathBuf::from(DEFAULT_PATH)),
    }
}
