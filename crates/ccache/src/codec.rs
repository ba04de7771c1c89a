//! Byte-level encoding and decoding of the FILE format (versions 3 and 4, big-endian).

use zeroize::Zeroizing;

use crate::credential::{Address, AuthData, Credential, KeyBlock};
use crate::principal::Principal;
use crate::{Ccache, CcacheError};

/// Format version 3: no header, enctype stored twice in key blocks.
pub(crate) const VERSION_3: u16 = 0x0503;
/// Format version 4: header with tagged fields.
pub(crate) const VERSION_4: u16 = 0x0504;
/// Header tag of the KDC time offset field.
const TAG_DELTATIME: u16 = 1;
/// Most name components accepted in one principal.
pub const MAX_COMPONENTS: u32 = 64;
/// Most credentials accepted in one cache.
pub const MAX_CREDENTIALS: usize = 1 << 16;

/// A cursor over untrusted input: every read is checked against the remaining length.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CcacheError> {
        let out = self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or(CcacheError::Truncated {
                what,
                offset: self.pos,
            })?;
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CcacheError> {
        let start = self.pos;
        self.bytes(N, what)?
            .try_into()
            .map_err(|_| CcacheError::Truncated {
                what,
                offset: start,
            })
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, CcacheError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, CcacheError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, CcacheError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, CcacheError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    /// A `data` field: 32-bit length then that many bytes (length checked before copying).
    fn data(&mut self, what: &'static str) -> Result<&'a [u8], CcacheError> {
        let len = self.u32(what)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.bytes(len, what)
    }

    /// A count of items each taking at least `min_item` bytes, checked against the input left.
    fn count(&mut self, what: &'static str, min_item: usize) -> Result<usize, CcacheError> {
        let offset = self.pos;
        let n = self.u32(what)?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n.saturating_mul(min_item) > self.remaining() {
            return Err(CcacheError::Truncated { what, offset });
        }
        Ok(n)
    }
}

fn read_principal(r: &mut Reader<'_>) -> Result<Principal, CcacheError> {
    let name_type = r.u32("principal name type")?;
    let offset = r.pos;
    let ncomps = r.u32("principal component count")?;
    if ncomps > MAX_COMPONENTS {
        return Err(CcacheError::TooLarge {
            what: "principal component count",
            len: ncomps.into(),
            max: MAX_COMPONENTS.into(),
        });
    }
    let ncomps = ncomps as usize;
    // Realm and every component take at least their 4-byte length.
    if (ncomps + 1) * 4 > r.remaining() {
        return Err(CcacheError::Truncated {
            what: "principal components",
            offset,
        });
    }
    let realm = r.data("principal realm")?.to_vec();
    let mut components = Vec::with_capacity(ncomps);
    for _ in 0..ncomps {
        components.push(r.data("principal component")?.to_vec());
    }
    Ok(Principal {
        name_type,
        realm,
        components,
    })
}

fn read_credential(r: &mut Reader<'_>, version: u16) -> Result<Credential, CcacheError> {
    let client = read_principal(r)?;
    let server = read_principal(r)?;
    let enctype = r.u16("key block enctype")?;
    if version == VERSION_3 {
        // Version 3 records the enctype twice; the second copy is ignored.
        r.u16("key block enctype (second copy)")?;
    }
    let key = Zeroizing::new(r.data("key block contents")?.to_vec());
    let authtime = r.u32("authtime")?;
    let starttime = r.u32("starttime")?;
    let endtime = r.u32("endtime")?;
    let renew_till = r.u32("renew_till")?;
    let is_skey = r.u8("is_skey flag")? != 0;
    let ticket_flags = r.u32("ticket flags")?;
    let naddr = r.count("address count", 6)?;
    let mut addresses = Vec::with_capacity(naddr);
    for _ in 0..naddr {
        let addrtype = r.u16("address type")?;
        let data = r.data("address data")?.to_vec();
        addresses.push(Address { addrtype, data });
    }
    let nad = r.count("authdata count", 6)?;
    let mut authdata = Vec::with_capacity(nad);
    for _ in 0..nad {
        let ad_type = r.u16("authdata type")?;
        let data = r.data("authdata contents")?.to_vec();
        authdata.push(AuthData { ad_type, data });
    }
    let ticket = r.data("ticket")?.to_vec();
    let second_ticket = r.data("second ticket")?.to_vec();
    Ok(Credential {
        client,
        server,
        key: KeyBlock { enctype, key },
        authtime,
        starttime,
        endtime,
        renew_till,
        is_skey,
        ticket_flags,
        addresses,
        authdata,
        ticket,
        second_ticket,
    })
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Ccache, CcacheError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let version = r.u16("file format version")?;
    if version != VERSION_3 && version != VERSION_4 {
        return Err(CcacheError::BadVersion(version));
    }
    let mut time_offset = None;
    if version == VERSION_4 {
        let header_len = r.u16("header length")?;
        let header_start = r.pos;
        let header = r.bytes(header_len.into(), "header")?;
        let mut h = Reader {
            buf: header,
            pos: 0,
        };
        while h.remaining() > 0 {
            let field_offset = header_start + h.pos;
            let tag = h
                .u16("header field tag")
                .map_err(|e| shift(e, header_start))?;
            let value = h.data16().map_err(|e| shift(e, header_start))?;
            if tag == TAG_DELTATIME {
                let mut v = Reader { buf: value, pos: 0 };
                let (Ok(sec), Ok(usec)) = (v.i32(""), v.i32("")) else {
                    return Err(CcacheError::Invalid {
                        what: "DeltaTime header field",
                        offset: field_offset,
                        reason: "its length must be 8",
                    });
                };
                if v.remaining() != 0 {
                    return Err(CcacheError::Invalid {
                        what: "DeltaTime header field",
                        offset: field_offset,
                        reason: "its length must be 8",
                    });
                }
                time_offset = Some((sec, usec));
            }
            // Fields with unknown tags are ignored, as the format requires.
        }
    }
    let default_principal = read_principal(&mut r)?;
    let mut credentials = Vec::new();
    while r.remaining() > 0 {
        if credentials.len() >= MAX_CREDENTIALS {
            return Err(CcacheError::TooLarge {
                what: "credential count",
                len: (credentials.len() + 1) as u64,
                max: MAX_CREDENTIALS as u64,
            });
        }
        credentials.push(read_credential(&mut r, version)?);
    }
    Ok(Ccache {
        version,
        time_offset,
        default_principal,
        credentials,
    })
}

impl<'a> Reader<'a> {
    /// A header field value: 16-bit length then that many bytes.
    fn data16(&mut self) -> Result<&'a [u8], CcacheError> {
        let len = self.u16("header field length")?;
        self.bytes(len.into(), "header field value")
    }
}

/// Turns an offset relative to a sub-slice into one relative to the whole input.
fn shift(e: CcacheError, base: usize) -> CcacheError {
    match e {
        CcacheError::Truncated { what, offset } => CcacheError::Truncated {
            what,
            offset: offset + base,
        },
        other => other,
    }
}

/// Where encoded bytes go: a buffer, or a counter used to size the buffer exactly first, so
/// that the output (which holds session keys) is never reallocated and left behind in freed memory.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

struct Counter(usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }
}

fn put_data(out: &mut impl Sink, data: &[u8]) {
    // A length above u32::MAX cannot be represented; write the part that can, so the file
    // stays well formed (no real credential comes near 4 GiB).
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.put(&len.to_be_bytes());
    out.put(data.get(..len as usize).unwrap_or(data));
}

fn put_count(out: &mut impl Sink, n: usize) -> usize {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    out.put(&n.to_be_bytes());
    n as usize
}

fn put_principal(out: &mut impl Sink, p: &Principal) {
    out.put(&p.name_type.to_be_bytes());
    let n = put_count(out, p.components.len());
    put_data(out, &p.realm);
    for c in p.components.iter().take(n) {
        put_data(out, c);
    }
}

fn put_credential(out: &mut impl Sink, c: &Credential) {
    put_principal(out, &c.client);
    put_principal(out, &c.server);
    out.put(&c.key.enctype.to_be_bytes());
    put_data(out, &c.key.key);
    for t in [c.authtime, c.starttime, c.endtime, c.renew_till] {
        out.put(&t.to_be_bytes());
    }
    out.put(&[u8::from(c.is_skey)]);
    out.put(&c.ticket_flags.to_be_bytes());
    let n = put_count(out, c.addresses.len());
    for a in c.addresses.iter().take(n) {
        out.put(&a.addrtype.to_be_bytes());
        put_data(out, &a.data);
    }
    let n = put_count(out, c.authdata.len());
    for a in c.authdata.iter().take(n) {
        out.put(&a.ad_type.to_be_bytes());
        put_data(out, &a.data);
    }
    put_data(out, &c.ticket);
    put_data(out, &c.second_ticket);
}

fn put_ccache(out: &mut impl Sink, cc: &Ccache) {
    out.put(&VERSION_4.to_be_bytes());
    match cc.time_offset {
        Some((sec, usec)) => {
            out.put(&12u16.to_be_bytes());
            out.put(&TAG_DELTATIME.to_be_bytes());
            out.put(&8u16.to_be_bytes());
            out.put(&sec.to_be_bytes());
            out.put(&usec.to_be_bytes());
        }
        None => out.put(&0u16.to_be_bytes()),
    }
    put_principal(out, &cc.default_principal);
    for c in &cc.credentials {
        put_credential(out, c);
    }
}

pub(crate) fn serialize(cc: &Ccache) -> Vec<u8> {
    let mut size = Counter(0);
    put_ccache(&mut size, cc);
    let mut out = Vec::with_capacity(size.0);
    put_ccache(&mut out, cc);
    out
}
