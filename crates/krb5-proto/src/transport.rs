//! Talking to KDCs over UDP and TCP (feature `tokio`).
//!
//! [`KdcClient`] holds a realm's KDC list (from krb5.conf or DNS SRV records, see
//! [`KdcClient::discover`]) and sends one request to the first KDC that answers:
//!
//! * UDP when the request is at most `udp_preference_limit` bytes (MIT's default 1465), TCP
//!   otherwise; every KDC is tried with the preferred protocol first, then with the other one.
//! * TCP uses RFC 4120 §7.2.2 framing: a 4-byte big-endian length (high bit clear) before the
//!   message; replies are capped at [`MAX_TCP_REPLY`] bytes. UDP replies are read into a 64 KiB
//!   buffer.
//! * A host name is resolved to all of its addresses, each tried in turn; a timeout, a refused
//!   or reset connection moves on to the next address.
//! * An attempt that has not answered after the hedge delay (default [`DEFAULT_HEDGE_DELAY`],
//!   1 s, as MIT's `sendto_kdc`) is left running and the next address is tried as well: the
//!   first reply wins. A KDC that reads and never answers (a powered-off DC, a frozen process)
//!   costs the hedge delay, not the whole per-attempt timeout. One attempt at a time per
//!   address: the other protocol to the same KDC waits for the first attempt's end, so a KDC
//!   that is only slow is not sent the same request twice. As with MIT, a slow KDC and the
//!   next one can both get a request; for an AS-REQ with a wrong password both count a bad
//!   password (a KDC that timed out would count it too once it woke up).
//! * A UDP reply that is a KRB-ERROR `KRB_ERR_RESPONSE_TOO_BIG` (52) is retried over TCP to the
//!   same KDC.
//! * When everything fails, [`TransportError::Unreachable`] lists every attempt and its reason.
//!
//! Framing ([`frame_tcp`], [`read_tcp_length`]) and SRV ordering ([`order_srv`],
//! [`kdcs_from_srv`]) are plain functions with no I/O.
//!
//! ```no_run
//! use krb5_proto::config::Krb5Conf;
//! use krb5_proto::transport::KdcClient;
//!
//! # async fn demo(as_req: Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
//! let conf = Krb5Conf::load_default()?;
//! let client = KdcClient::discover("EXAMPLE.TEST", &conf).await?;
//! let reply = client.send(&as_req).await?;
//! println!("{} bytes from {} over {}", reply.bytes.len(), reply.from, reply.protocol);
//! # Ok(())
//! # }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::asn1::error_code::KRB_ERR_RESPONSE_TOO_BIG;
use crate::config::Krb5Conf;
use crate::rand::{OsRng, Rng};

/// The Kerberos port (RFC 4120 §7.2.1).
pub const KERBEROS_PORT: u16 = 88;
/// Default time allowed for one attempt (one address, one protocol).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default time an attempt may go unanswered before the next address is tried alongside it.
pub const DEFAULT_HEDGE_DELAY: Duration = Duration::from_secs(1);
/// Default largest request sent over UDP, as MIT's `udp_preference_limit`.
pub const DEFAULT_UDP_PREFERENCE_LIMIT: usize = 1465;
/// Largest `udp_preference_limit` taken from krb5.conf (MIT's hard limit).
pub const MAX_UDP_PREFERENCE_LIMIT: usize = 32_700;
/// Largest TCP reply accepted, in bytes.
pub const MAX_TCP_REPLY: usize = 1024 * 1024;
/// Size of the UDP receive buffer (any datagram fits).
pub const UDP_BUFFER_SIZE: usize = 64 * 1024;
/// Largest message the TCP length prefix can describe (the high bit is reserved).
pub const MAX_TCP_FRAME: usize = 0x7fff_ffff;

/// Addresses used per host name at most.
const MAX_ADDRS_PER_HOST: usize = 16;
/// SRV records considered per query at most.
pub const MAX_SRV_RECORDS: usize = 64;
/// Time allowed for one DNS SRV lookup.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Why KDCs could not be found or reached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Every KDC address failed.
    #[error(
        "no KDC reachable for realm {realm}; tried: {}. {}",
        format_tried(tried),
        unreachable_hint(*bad_replies)
    )]
    Unreachable {
        /// The realm.
        realm: String,
        /// Every attempt, as `addr/proto: reason` (e.g. `127.0.0.9:88/udp: timed out after 3s`).
        tried: Vec<String>,
        /// How many of those attempts got an answer that was refused as not a Kerberos reply
        /// (a length over [`MAX_TCP_REPLY`], a bad or empty length prefix, a reply that stopped
        /// or was cut off mid-way): a hostile or broken peer rather than a KDC that is down.
        bad_replies: usize,
    },
    /// Neither krb5.conf nor DNS names a KDC for the realm.
    #[error("no KDC known for realm {realm}: {hint}")]
    NoKdc {
        /// The realm.
        realm: String,
        /// What was looked at and what to do.
        hint: String,
    },
    /// A KDC address (e.g. a `kdc =` line) could not be understood.
    #[error("invalid KDC address {input:?}: {reason}")]
    InvalidKdcAddr {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A TCP length prefix has the reserved high bit set.
    #[error(
        "KDC TCP reply length prefix {prefix:02x?} has the reserved high bit set (not a Kerberos reply?)"
    )]
    BadLengthPrefix {
        /// The four bytes received.
        prefix: [u8; 4],
    },
    /// A TCP reply announced zero bytes.
    #[error("KDC sent an empty TCP reply")]
    EmptyReply,
    /// A TCP reply is larger than [`MAX_TCP_REPLY`].
    #[error("KDC TCP reply of {len} bytes exceeds the limit of {limit} bytes")]
    ReplyTooLarge {
        /// Length announced by the KDC.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A request is too large to frame for TCP.
    #[error("request of {len} bytes exceeds the TCP frame limit of {limit} bytes")]
    RequestTooLarge {
        /// The request's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

fn unreachable_hint(bad_replies: usize) -> &'static str {
    if bad_replies > 0 {
        "Something answered but its reply was refused as not a Kerberos reply (announced too \
         large, malformed, or stopped mid-way): check that the configured address is a KDC and \
         that nothing in between alters the traffic"
    } else {
        "Check that a KDC is running and that UDP and TCP port 88 (or the configured port) are open"
    }
}

fn format_tried(tried: &[String]) -> String {
    if tried.is_empty() {
        "nothing (no KDC address to try)".to_owned()
    } else {
        tried.join("; ")
    }
}

/// A transport protocol to a KDC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// UDP datagrams.
    Udp,
    /// TCP with RFC 4120 §7.2.2 length framing.
    Tcp,
}

impl Protocol {
    fn other(self) -> Self {
        match self {
            Self::Udp => Self::Tcp,
            Self::Tcp => Self::Udp,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        })
    }
}

/// A KDC address: host (name or IP literal), port and optionally a fixed protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KdcAddr {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port (88 unless given).
    pub port: u16,
    /// `None`: UDP or TCP as the request size dictates; `Some`: only that protocol.
    pub protocol: Option<Protocol>,
}

impl KdcAddr {
    /// Parses `host`, `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 address, with an optional
    /// `tcp/` or `udp/` prefix (MIT's `kdc =` syntax).
    ///
    /// ```
    /// use krb5_proto::transport::{KdcAddr, Protocol};
    /// let a = KdcAddr::parse("tcp/[::1]:8888")?;
    /// assert_eq!((a.host.as_str(), a.port, a.protocol), ("::1", 8888, Some(Protocol::Tcp)));
    /// assert_eq!(KdcAddr::parse("kdc.example.test")?.port, 88);
    /// # Ok::<(), krb5_proto::transport::TransportError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self, TransportError> {
        let err = |reason: &str| TransportError::InvalidKdcAddr {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let input = s.trim();
        if input.is_empty() {
            return Err(err("empty"));
        }
        if input.len() > 300 {
            return Err(err("longer than 300 characters"));
        }
        let lower = input.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Err(err(
                "KDC proxies (MS-KKDCP, https://...) are not supported; name the KDC host itself",
            ));
        }
        let (protocol, rest) = if lower.starts_with("tcp/") {
            (Some(Protocol::Tcp), input.get(4..).unwrap_or(""))
        } else if lower.starts_with("udp/") {
            (Some(Protocol::Udp), input.get(4..).unwrap_or(""))
        } else {
            (None, input)
        };

        let (host, port) = split_host_port(rest, KERBEROS_PORT).map_err(err)?;
        Ok(Self {
            host: host.to_owned(),
            port,
            protocol,
        })
    }

    /// An address with the default port and no fixed protocol.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            protocol: None,
        }
    }

    fn allows(&self, protocol: Protocol) -> bool {
        self.protocol.is_none_or(|p| p == protocol)
    }
}

impl fmt::Display for KdcAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.protocol {
            write!(f, "{p}/")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address into host and port
/// (`default_port` when none is given), checking that the host is an IP address or a DNS name
/// and the port a number from 1 to 65535. The error is the reason, for the caller's own error
/// (a KDC address here, a DC address in `msds-gmsa`).
///
/// ```
/// use krb5_proto::transport::split_host_port;
/// assert_eq!(split_host_port("[::1]:8888", 88), Ok(("::1", 8888)));
/// assert_eq!(split_host_port("dc1.example.test", 389), Ok(("dc1.example.test", 389)));
/// assert!(split_host_port("dc1:0", 389).is_err());
/// ```
pub fn split_host_port(rest: &str, default_port: u16) -> Result<(&str, u16), &'static str> {
    const BAD_PORT: &str = "port must be a number from 1 to 65535";
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let Some((addr, after)) = bracketed.split_once(']') else {
            return Err("missing ']' after the IPv6 address");
        };
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err("the text inside [ ] is not an IPv6 address");
        }
        let port = if after.is_empty() {
            default_port
        } else if let Some(p) = after.strip_prefix(':') {
            parse_port(p).ok_or(BAD_PORT)?
        } else {
            return Err("unexpected text after ']' (write [addr]:port)");
        };
        (addr, port)
    } else if rest.matches(':').count() > 1 {
        if rest.parse::<Ipv6Addr>().is_err() {
            return Err("too many ':' (write an IPv6 address with a port as [addr]:port)");
        }
        (rest, default_port)
    } else if let Some((host, p)) = rest.split_once(':') {
        (host, parse_port(p).ok_or(BAD_PORT)?)
    } else {
        (rest, default_port)
    };
    if host.is_empty() {
        return Err("missing host");
    }
    if host.parse::<IpAddr>().is_err() && !valid_host_name(host) {
        return Err("host must be a DNS name (letters, digits, '-', '_', '.') or an IP address");
    }
    Ok((host, port))
}

/// A port number from 1 to 65535, digits only.
pub fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n != 0)
}

/// Whether `host` is a DNS name: dot-separated labels of 1 to 63 letters, digits, `-` or `_`,
/// at most 253 characters, one trailing dot allowed.
pub fn valid_host_name(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A KDC's reply and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcResponse {
    /// The reply message (without TCP framing).
    pub bytes: Vec<u8>,
    /// The address that answered.
    pub from: SocketAddr,
    /// The protocol the reply came over.
    pub protocol: Protocol,
    /// The position in [`KdcClient::kdcs`] of the KDC that answered.
    pub kdc_index: usize,
}

/// Frames a message for TCP (RFC 4120 §7.2.2): a 4-byte big-endian length, then the message.
///
/// ```
/// let framed = krb5_proto::transport::frame_tcp(b"abc")?;
/// assert_eq!(framed, [0, 0, 0, 3, b'a', b'b', b'c']);
/// # Ok::<(), krb5_proto::transport::TransportError>(())
/// ```
pub fn frame_tcp(msg: &[u8]) -> Result<Vec<u8>, TransportError> {
    let len = u32::try_from(msg.len())
        .ok()
        .filter(|&n| n as usize <= MAX_TCP_FRAME)
        .ok_or(TransportError::RequestTooLarge {
            len: msg.len(),
            limit: MAX_TCP_FRAME,
        })?;
    let mut out = Vec::with_capacity(msg.len().saturating_add(4));
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(msg);
    Ok(out)
}

/// Reads a TCP reply's length prefix: the high bit must be clear, the length non-zero and at
/// most [`MAX_TCP_REPLY`].
///
/// ```
/// use krb5_proto::transport::read_tcp_length;
/// assert_eq!(read_tcp_length([0, 0, 1, 0])?, 256);
/// assert!(read_tcp_length([0x80, 0, 0, 1]).is_err());
/// # Ok::<(), krb5_proto::transport::TransportError>(())
/// ```
pub fn read_tcp_length(prefix: [u8; 4]) -> Result<usize, TransportError> {
    let n = u32::from_be_bytes(prefix);
    if n & 0x8000_0000 != 0 {
        return Err(TransportError::BadLengthPrefix { prefix });
    }
    let len = usize::try_from(n).unwrap_or(usize::MAX);
    if len == 0 {
        return Err(TransportError::EmptyReply);
    }
    if len > MAX_TCP_REPLY {
        return Err(TransportError::ReplyTooLarge {
            len,
            limit: MAX_TCP_REPLY,
        });
    }
    Ok(len)
}

/// One DER header: (tag, header length, content length), checked against `b`'s length.
/// Only single-byte tags are understood (enough for KRB-ERROR's `[0]`..`[12]`).
fn der_header(b: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *b.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first = *b.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (2 + n, len)
    };
    if header.checked_add(len)? > b.len() {
        return None;
    }
    Some((tag, header, len))
}

/// The `error-code` of a KRB-ERROR (`[APPLICATION 30]`), found with a minimal bounded DER
/// walk; `None` for anything else.
pub(crate) fn krb_error_code(reply: &[u8]) -> Option<i32> {
    let (tag, h, l) = der_header(reply)?;
    if tag != 0x7e {
        return None;
    }
    let seq = reply.get(h..h.checked_add(l)?)?;
    let (tag, h, l) = der_header(seq)?;
    if tag != 0x30 {
        return None;
    }
    let mut fields = seq.get(h..h.checked_add(l)?)?;
    while !fields.is_empty() {
        let (tag, h, l) = der_header(fields)?;
        let end = h.checked_add(l)?;
        if tag == 0xa6 {
            let content = fields.get(h..end)?;
            let (itag, ih, il) = der_header(content)?;
            if itag != 0x02 || il == 0 || il > 4 {
                return None;
            }
            let digits = content.get(ih..ih.checked_add(il)?)?;
            let negative = digits.first().is_some_and(|b| b & 0x80 != 0);
            let mut v: i64 = if negative { -1 } else { 0 };
            for b in digits {
                v = (v << 8) | i64::from(*b);
            }
            return i32::try_from(v).ok();
        }
        fields = fields.get(end..)?;
    }
    None
}

/// One DNS SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative weight among records of the same priority.
    pub weight: u16,
    /// Target port.
    pub port: u16,
    /// Target host; `"."` means the service is not offered.
    pub target: String,
}

/// Orders SRV records per RFC 2782: records whose target is `.` dropped, priority ascending,
/// and within one priority a weighted random order drawn from `rng` (weight-0 records get a
/// small chance to come first). At most 64 records are kept.
///
/// ```
/// use krb5_proto::rand::TestRng;
/// use krb5_proto::transport::{order_srv, SrvRecord};
/// let rec = |priority, target: &str| SrvRecord { priority, weight: 0, port: 88, target: target.into() };
/// let ordered = order_srv(vec![rec(10, "b."), rec(0, "a."), rec(5, ".")], &mut TestRng::new(1));
/// assert_eq!(ordered.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(), ["a.", "b."]);
/// ```
pub fn order_srv<R: Rng + ?Sized>(records: Vec<SrvRecord>, rng: &mut R) -> Vec<SrvRecord> {
    let mut records: Vec<SrvRecord> = records
        .into_iter()
        .filter(|r| {
            let t = r.target.trim();
            !(t.is_empty() || t == ".")
        })
        .take(MAX_SRV_RECORDS)
        .collect();
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    for group in records.chunk_by(|a, b| a.priority == b.priority) {
        let mut group = group.to_vec();
        // Weight-0 records first, so a random number of 0 picks one of them.
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let pick = u64::from(rng.next_u32()) % (total + 1);
            let mut running = 0u64;
            let index = group
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(group.remove(index));
        }
    }
    out
}

/// KDC addresses from `_kerberos._udp` and `_kerberos._tcp` SRV records: each list ordered
/// with [`order_srv`], UDP order first; a host:port present in both lists becomes one entry
/// usable over either protocol, the others keep their protocol. Targets that are not valid
/// host names are skipped.
pub fn kdcs_from_srv<R: Rng + ?Sized>(
    udp: Vec<SrvRecord>,
    tcp: Vec<SrvRecord>,
    rng: &mut R,
) -> Vec<KdcAddr> {
    let key = |r: &SrvRecord| (r.target.trim_end_matches('.').to_ascii_lowercase(), r.port);
    let udp = order_srv(udp, rng);
    let tcp = order_srv(tcp, rng);
    let tcp_set: HashSet<(String, u16)> = tcp.iter().map(key).collect();
    let udp_set: HashSet<(String, u16)> = udp.iter().map(key).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let with_protocol = udp
        .iter()
        .map(|r| {
            let both = tcp_set.contains(&key(r));
            (r, if both { None } else { Some(Protocol::Udp) })
        })
        .chain(
            tcp.iter()
                .filter(|r| !udp_set.contains(&key(r)))
                .map(|r| (r, Some(Protocol::Tcp))),
        );
    for (record, protocol) in with_protocol {
        let (host, port) = key(record);
        if port == 0 || !valid_host_name(&host) || !seen.insert((host.clone(), port)) {
            continue;
        }
        out.push(KdcAddr {
            host,
            port,
            protocol,
        });
    }
    out
}

/// The SRV name of the KDCs of one Active Directory site:
/// `_kerberos._tcp.<site>._sites.<domain>.` (MS-ADTS 6.3.2.3; AD publishes site records over TCP
/// only), or `None` when the site or the realm is not a DNS name.
///
/// ```
/// use krb5_proto::transport::site_kdc_srv_name;
/// assert_eq!(
///     site_kdc_srv_name("Site-B", "EXAMPLE.TEST").as_deref(),
///     Some("_kerberos._tcp.Site-B._sites.example.test.")
/// );
/// assert_eq!(site_kdc_srv_name("a site", "EXAMPLE.TEST"), None);
/// ```
pub fn site_kdc_srv_name(site: &str, realm: &str) -> Option<String> {
    let domain = realm.trim_end_matches('.').to_ascii_lowercase();
    let name = format!("_kerberos._tcp.{site}._sites.{domain}");
    (valid_host_name(&domain) && !site.is_empty() && valid_host_name(&format!("{site}.{domain}")))
        .then(|| format!("{name}."))
}

/// The KDCs of our site first (`site` records, in [`order_srv`] order), then the realm's other
/// KDCs in their order. A site's KDC is used over UDP and TCP: Active Directory publishes site
/// records for TCP only, but every DC's KDC listens on both (Windows locates a DC by site and
/// then speaks either protocol to it).
pub fn kdcs_site_first<R: Rng + ?Sized>(
    site: Vec<SrvRecord>,
    realm: Vec<KdcAddr>,
    rng: &mut R,
) -> Vec<KdcAddr> {
    let mut out: Vec<KdcAddr> = Vec::with_capacity(site.len() + realm.len());
    for record in order_srv(site, rng) {
        let host = record.target.trim_end_matches('.').to_ascii_lowercase();
        if record.port == 0
            || !valid_host_name(&host)
            || out.iter().any(|k| k.host == host && k.port == record.port)
        {
            continue;
        }
        out.push(KdcAddr {
            host,
            port: record.port,
            protocol: None,
        });
    }
    for kdc in realm {
        if !out.iter().any(|k| k.host == kdc.host && k.port == kdc.port) {
            out.push(kdc);
        }
    }
    out
}

/// Sends Kerberos messages to a realm's KDCs with failover.
#[derive(Debug, Clone)]
pub struct KdcClient {
    realm: String,
    kdcs: Vec<KdcAddr>,
    timeout: Duration,
    hedge_delay: Duration,
    udp_preference_limit: usize,
    /// Where KDC host names are resolved (the system resolver when `None`).
    dns_server: Option<SocketAddr>,
}

/// Why one attempt failed.
enum AttemptError {
    TimedOut,
    /// Timed out after the TCP length prefix and `got` of the `len` bytes it announced.
    Stalled {
        got: usize,
        len: usize,
    },
    /// The connection closed after `got` of the `len` bytes the length prefix announced.
    Truncated {
        got: usize,
        len: usize,
    },
    Io(io::Error),
    Transport(TransportError),
}

impl AttemptError {
    fn describe(&self, timeout: Duration) -> String {
        match self {
            Self::TimedOut => format!("timed out after {}", fmt_duration(timeout)),
            Self::Stalled { got, len } => format!(
                "timed out after {}: the reply stopped after {got} of the {len} bytes it announced",
                fmt_duration(timeout)
            ),
            Self::Truncated { got, len } => {
                format!("connection closed before a full reply ({got} of {len} bytes)")
            }
            Self::Io(e) => match e.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
                io::ErrorKind::UnexpectedEof => "connection closed before a full reply".to_owned(),
                _ => e.to_string(),
            },
            Self::Transport(e) => e.to_string(),
        }
    }

    /// Whether something answered with bytes we refused (rather than nothing at all).
    fn is_bad_reply(&self) -> bool {
        matches!(
            self,
            Self::Stalled { .. }
                | Self::Truncated { .. }
                | Self::Transport(
                    TransportError::ReplyTooLarge { .. }
                        | TransportError::BadLengthPrefix { .. }
                        | TransportError::EmptyReply
                )
        )
    }
}

/// One failed attempt: the protocol, the reason, and whether it was a refused reply.
type Failure = (Protocol, String, bool);

/// What the attempts of one send have told so far.
#[derive(Default)]
struct Tally {
    /// Every failed attempt, `addr/protocol: reason`, in the order they ended.
    tried: Vec<String>,
    /// How many of them were replies we refused (not silence or a refusal to connect).
    bad_replies: usize,
    /// Addresses and protocols started or known to have failed (not tried again).
    attempted: HashSet<(SocketAddr, Protocol)>,
    /// Addresses with an attempt under way: one at a time per address, so a KDC that is only
    /// slow is not sent the same request again over the other protocol.
    busy: HashSet<SocketAddr>,
}

impl Tally {
    /// An attempt to the KDC at `index` (address `addr`) ended: its reply, or `None` with its
    /// failures noted; the address is free for its next attempt.
    fn ended(
        &mut self,
        index: usize,
        addr: SocketAddr,
        result: Result<KdcResponse, Vec<Failure>>,
    ) -> Option<KdcResponse> {
        self.busy.remove(&addr);
        match result {
            Ok(reply) => Some(KdcResponse {
                kdc_index: index,
                ..reply
            }),
            Err(reasons) => {
                for (proto, reason, bad) in reasons {
                    self.attempted.insert((addr, proto));
                    self.tried.push(format!("{addr}/{proto}: {reason}"));
                    self.bad_replies += usize::from(bad);
                }
                None
            }
        }
    }
}

impl From<io::Error> for AttemptError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

async fn within<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, AttemptError>>,
) -> Result<T, AttemptError> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or(Err(AttemptError::TimedOut))
}

impl KdcClient {
    /// A client for `realm` with an explicit KDC list, tried in order.
    ///
    /// ```
    /// use std::time::Duration;
    /// use krb5_proto::transport::{KdcAddr, KdcClient};
    /// let client = KdcClient::new("MIT.TEST", vec![KdcAddr::parse("127.0.0.3:18888")?])
    ///     .with_timeout(Duration::from_secs(1))
    ///     .with_udp_preference_limit(1);
    /// assert_eq!(client.kdcs().len(), 1);
    /// # Ok::<(), krb5_proto::transport::TransportError>(())
    /// ```
    pub fn new(realm: &str, kdcs: Vec<KdcAddr>) -> Self {
        Self {
            realm: realm.to_owned(),
            kdcs,
            timeout: DEFAULT_TIMEOUT,
            hedge_delay: DEFAULT_HEDGE_DELAY,
            udp_preference_limit: DEFAULT_UDP_PREFERENCE_LIMIT,
            dns_server: None,
        }
    }

    /// Resolves KDC host names through this DNS server (UDP and TCP) instead of the system's
    /// resolver (and `/etc/hosts`): for hosts whose resolver does not know the AD domain, the
    /// same server that answered the SRV queries.
    pub fn with_dns_server(mut self, server: Option<SocketAddr>) -> Self {
        self.dns_server = server;
        self
    }

    /// Time allowed for each attempt (one address, one protocol); default 3 s.
    pub fn with_timeout(mut self, per_attempt: Duration) -> Self {
        self.timeout = per_attempt;
        self
    }

    /// How long an attempt may go unanswered before the next address is tried alongside it
    /// (it keeps running, the first reply wins); default 1 s. A delay at or above the
    /// per-attempt timeout tries one address at a time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use krb5_proto::transport::{KdcAddr, KdcClient};
    /// let client = KdcClient::new("MIT.TEST", vec![KdcAddr::parse("127.0.0.3:18888")?])
    ///     .with_hedge_delay(Duration::from_millis(500));
    /// assert_eq!(client.hedge_delay(), Duration::from_millis(500));
    /// # Ok::<(), krb5_proto::transport::TransportError>(())
    /// ```
    pub fn with_hedge_delay(mut self, delay: Duration) -> Self {
        self.hedge_delay = delay;
        self
    }

    /// Requests longer than this many bytes go over TCP first; default 1465 (as MIT), `1`
    /// means TCP first for every request.
    pub fn with_udp_preference_limit(mut self, bytes: usize) -> Self {
        self.udp_preference_limit = bytes;
        self
    }

    /// Builds a client from krb5.conf: the realm's `kdc` lines, else (when `dns_lookup_kdc`
    /// allows it) DNS SRV records `_kerberos._udp.REALM` and `_kerberos._tcp.REALM` from the
    /// system's resolver. `kdc_timeout` and `udp_preference_limit` (at most
    /// [`MAX_UDP_PREFERENCE_LIMIT`]) from `[libdefaults]` apply.
    pub async fn discover(realm: &str, conf: &Krb5Conf) -> Result<Self, TransportError> {
        Self::discover_with_resolver(realm, conf, None).await
    }

    /// As [`discover`](Self::discover), with DNS queries sent to `resolver_addr` (UDP and TCP)
    /// instead of the system's resolvers when it is given.
    pub async fn discover_with_resolver(
        realm: &str,
        conf: &Krb5Conf,
        resolver_addr: Option<SocketAddr>,
    ) -> Result<Self, TransportError> {
        Self::discover_in_site(realm, conf, resolver_addr, None).await
    }

    /// As [`discover_with_resolver`](Self::discover_with_resolver); when the KDCs come from DNS
    /// and our Active Directory `site` is known (a CLDAP NetLogon ping tells it), the KDCs of
    /// `_kerberos._tcp.<site>._sites.<realm>` are tried first, as Windows does
    /// ([`kdcs_site_first`]). krb5.conf `kdc` lines are used as written.
    pub async fn discover_in_site(
        realm: &str,
        conf: &Krb5Conf,
        resolver_addr: Option<SocketAddr>,
        site: Option<&str>,
    ) -> Result<Self, TransportError> {
        let mut kdcs = Vec::new();
        for entry in conf.kdcs(realm) {
            let addr = KdcAddr::parse(&entry).map_err(|e| match e {
                TransportError::InvalidKdcAddr { input, reason } => {
                    TransportError::InvalidKdcAddr {
                        input,
                        reason: format!(
                            "{reason} (in krb5.conf [realms] {realm} = {{ kdc = ... }})"
                        ),
                    }
                }
                other => other,
            })?;
            kdcs.push(addr);
        }
        if kdcs.is_empty() {
            if !conf.dns_lookup_kdc() {
                return Err(TransportError::NoKdc {
                    realm: realm.to_owned(),
                    hint: format!(
                        "krb5.conf has no kdc line for it and dns_lookup_kdc is off; add \
                         [realms] {realm} = {{ kdc = host[:port] }} or set dns_lookup_kdc = true"
                    ),
                });
            }
            kdcs = srv_kdcs(realm, resolver_addr, site).await.map_err(|why| {
                TransportError::NoKdc {
                    realm: realm.to_owned(),
                    hint: format!(
                        "krb5.conf has no kdc line for it and {why}; add [realms] {realm} = \
                         {{ kdc = host[:port] }} to krb5.conf or publish _kerberos._udp/_tcp SRV \
                         records"
                    ),
                }
            })?;
        }
        let mut client = Self::new(realm, kdcs).with_dns_server(resolver_addr);
        if let Some(limit) = conf.udp_preference_limit() {
            client.udp_preference_limit = limit.min(MAX_UDP_PREFERENCE_LIMIT);
        }
        if let Some(timeout) = conf.kdc_timeout().filter(|t| !t.is_zero()) {
            client.timeout = timeout;
        }
        Ok(client)
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The same client with the KDC at `index` of [`kdcs`](Self::kdcs) moved to the front (the
    /// others keep their order): the KDC that answered last is asked first next time.
    pub fn with_first(mut self, index: usize) -> Self {
        if index < self.kdcs.len() {
            let kdc = self.kdcs.remove(index);
            self.kdcs.insert(0, kdc);
        }
        self
    }

    /// The KDCs, in the order they are tried.
    pub fn kdcs(&self) -> &[KdcAddr] {
        &self.kdcs
    }

    /// Time allowed per attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Time an attempt may go unanswered before the next address is tried alongside it.
    pub fn hedge_delay(&self) -> Duration {
        self.hedge_delay
    }

    /// Largest request sent over UDP first.
    pub fn udp_preference_limit(&self) -> usize {
        self.udp_preference_limit
    }

    /// Sends `request` to the first KDC that answers (see the module docs for the policy).
    pub async fn send(&self, request: &[u8]) -> Result<KdcResponse, TransportError> {
        let preferred = if request.len() > self.udp_preference_limit {
            Protocol::Tcp
        } else {
            Protocol::Udp
        };
        self.send_with(request, &[preferred, preferred.other()], false)
            .await
    }

    /// Sends `request` over TCP only, to every KDC in order (whatever protocol its entry
    /// names), e.g. after a UDP exchange that returned `KRB_ERR_RESPONSE_TOO_BIG`.
    pub async fn send_tcp(&self, request: &[u8]) -> Result<KdcResponse, TransportError> {
        self.send_with(request, &[Protocol::Tcp], true).await
    }

    async fn send_with(
        &self,
        request: &[u8],
        passes: &[Protocol],
        any_entry: bool,
    ) -> Result<KdcResponse, TransportError> {
        let framed = &frame_tcp(request)?;
        let mut tally = Tally::default();
        let mut resolved: Vec<Option<Vec<SocketAddr>>> = vec![None; self.kdcs.len()];
        // Attempts under way: each ends with its reply or its failures (within its timeout).
        let mut running = FuturesUnordered::new();
        for &protocol in passes {
            for (index, (kdc, cache)) in self.kdcs.iter().zip(resolved.iter_mut()).enumerate() {
                if !any_entry && !kdc.allows(protocol) {
                    continue;
                }
                if cache.is_none() {
                    match resolve(kdc, self.dns_server, self.timeout).await {
                        Ok(addrs) => *cache = Some(addrs),
                        Err(why) => {
                            tally
                                .tried
                                .push(format!("{}:{}: {why}", kdc.host, kdc.port));
                            *cache = Some(Vec::new());
                        }
                    }
                }
                let addrs = cache.as_deref().unwrap_or_default();
                for &addr in addrs {
                    // An attempt to this address is under way (the other protocol): its end
                    // first, which may also tell that this protocol was tried (TCP after
                    // RESPONSE_TOO_BIG).
                    while tally.busy.contains(&addr) {
                        let Some((index, addr, result)) = running.next().await else {
                            break;
                        };
                        if let Some(reply) = tally.ended(index, addr, result) {
                            return Ok(reply);
                        }
                    }
                    if !tally.attempted.insert((addr, protocol)) {
                        continue;
                    }
                    tally.busy.insert(addr);
                    running.push(async move {
                        let result = self.attempt(addr, protocol, request, framed).await;
                        (index, addr, result)
                    });
                    // Wait for this attempt until the hedge delay: a reply (from it or an
                    // earlier one) is returned, its failure moves on at once, silence moves on
                    // with it still running.
                    let started = addr;
                    let hedge = tokio::time::sleep(self.hedge_delay);
                    tokio::pin!(hedge);
                    loop {
                        tokio::select! {
                            Some((index, addr, result)) = running.next() => {
                                if let Some(reply) = tally.ended(index, addr, result) {
                                    return Ok(reply);
                                }
                                if addr == started {
                                    break;
                                }
                            }
                            () = &mut hedge => break,
                        }
                    }
                }
            }
        }
        // Every address has been tried: the first reply of those still running, if any.
        while let Some((index, addr, result)) = running.next().await {
            if let Some(reply) = tally.ended(index, addr, result) {
                return Ok(reply);
            }
        }
        Err(TransportError::Unreachable {
            realm: self.realm.clone(),
            tried: tally.tried,
            bad_replies: tally.bad_replies,
        })
    }

    /// One address over one protocol (plus the TCP retry after RESPONSE_TOO_BIG).
    async fn attempt(
        &self,
        addr: SocketAddr,
        protocol: Protocol,
        request: &[u8],
        framed: &[u8],
    ) -> Result<KdcResponse, Vec<Failure>> {
        let reply = |bytes, protocol| KdcResponse {
            bytes,
            from: addr,
            protocol,
            kdc_index: 0,
        };
        let failure =
            |protocol, e: AttemptError| (protocol, e.describe(self.timeout), e.is_bad_reply());
        match protocol {
            Protocol::Tcp => match self.tcp_within(addr, framed).await {
                Ok(bytes) => Ok(reply(bytes, Protocol::Tcp)),
                Err(e) => Err(vec![failure(Protocol::Tcp, e)]),
            },
            Protocol::Udp => match within(self.timeout, udp_exchange(addr, request)).await {
                Ok(bytes) if krb_error_code(&bytes) == Some(KRB_ERR_RESPONSE_TOO_BIG) => {
                    match self.tcp_within(addr, framed).await {
                        Ok(bytes) => Ok(reply(bytes, Protocol::Tcp)),
                        Err(e) => Err(vec![
                            (
                                Protocol::Udp,
                                "KDC answered KRB_ERR_RESPONSE_TOO_BIG, retried over TCP"
                                    .to_owned(),
                                false,
                            ),
                            failure(Protocol::Tcp, e),
                        ]),
                    }
                }
                Ok(bytes) => Ok(reply(bytes, Protocol::Udp)),
                Err(e) => Err(vec![failure(Protocol::Udp, e)]),
            },
        }
    }

    /// A TCP exchange within the per-attempt timeout; a timeout after the length prefix says
    /// how far the reply got ([`AttemptError::Stalled`]).
    async fn tcp_within(&self, addr: SocketAddr, framed: &[u8]) -> Result<Vec<u8>, AttemptError> {
        let mut progress = None;
        match within(self.timeout, tcp_exchange(addr, framed, &mut progress)).await {
            Err(AttemptError::TimedOut) => Err(match progress {
                Some((got, len)) => AttemptError::Stalled { got, len },
                None => AttemptError::TimedOut,
            }),
            other => other,
        }
    }
}

/// A host's addresses: the literal itself, or every address `dns_server` (else the system
/// resolver) gives.
async fn resolve(
    kdc: &KdcAddr,
    dns_server: Option<SocketAddr>,
    limit: Duration,
) -> Result<Vec<SocketAddr>, String> {
    resolve_host(&kdc.host, kdc.port, dns_server, limit, MAX_ADDRS_PER_HOST).await
}

/// The socket addresses of `host` (at most `max`, duplicates dropped): the literal address,
/// or the name resolved through the DNS server `dns_server` when given, else the system
/// resolver (which reads `/etc/hosts` too), within `limit`. The error says why, for a
/// "tried: ..." list.
pub async fn resolve_host(
    host: &str,
    port: u16,
    dns_server: Option<SocketAddr>,
    limit: Duration,
    max: usize,
) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = match dns_server {
        Some(server) => {
            let resolver = dns_resolver(Some(server))?;
            let fqdn = format!("{}.", host.trim_end_matches('.'));
            match tokio::time::timeout(limit, resolver.lookup_ip(fqdn)).await {
                Ok(Ok(l)) => l.iter().map(|ip| SocketAddr::new(ip, port)).collect(),
                Ok(Err(e)) => return Err(format!("address lookup via {server} failed: {e}")),
                Err(_) => {
                    return Err(format!(
                        "address lookup via {server} timed out after {}",
                        fmt_duration(limit)
                    ));
                }
            }
        }
        None => match tokio::time::timeout(limit, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(it)) => it.collect(),
            Ok(Err(e)) => return Err(format!("could not resolve host name: {e}")),
            Err(_) => {
                return Err(format!(
                    "host name resolution timed out after {}",
                    fmt_duration(limit)
                ));
            }
        },
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    for addr in addrs {
        if out.len() >= max {
            break;
        }
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    if out.is_empty() {
        Err("host name has no addresses".to_owned())
    } else {
        Ok(out)
    }
}

/// A hickory DNS resolver on tokio: queries go to `server` (UDP and TCP on its port, 2 s per
/// query, one attempt) when given, else to the system's resolvers (`/etc/resolv.conf`). The
/// error says what failed, for a hint.
pub fn dns_resolver(
    server: Option<SocketAddr>,
) -> Result<hickory_resolver::Resolver<hickory_resolver::net::runtime::TokioRuntimeProvider>, String>
{
    use hickory_resolver::Resolver;
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;

    let builder = match server {
        Some(addr) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            let mut builder = Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![server]),
                TokioRuntimeProvider::default(),
            );
            builder.options_mut().timeout = Duration::from_secs(2);
            builder.options_mut().attempts = 1;
            builder
        }
        None => Resolver::builder_tokio()
            .map_err(|e| format!("the system DNS configuration could not be read ({e})"))?,
    };
    builder
        .build()
        .map_err(|e| format!("no DNS resolver could be set up ({e})"))
}

/// The SRV records of `name` (at most [`MAX_SRV_RECORDS`]), asked of `resolver` within
/// `limit`; the error (`failed: ...`, `timed out after ...`) follows the name in a message.
pub async fn srv_records(
    resolver: &hickory_resolver::Resolver<hickory_resolver::net::runtime::TokioRuntimeProvider>,
    name: &str,
    limit: Duration,
) -> Result<Vec<SrvRecord>, String> {
    use hickory_resolver::proto::rr::RData;
    match tokio::time::timeout(limit, resolver.srv_lookup(name)).await {
        Ok(Ok(lookup)) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::SRV(srv) => Some(SrvRecord {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: srv.target.to_ascii(),
                }),
                _ => None,
            })
            .take(MAX_SRV_RECORDS)
            .collect()),
        Ok(Err(e)) => Err(format!("failed: {e}")),
        Err(_) => Err(format!("timed out after {}", fmt_duration(limit))),
    }
}

fn local_bind_for(addr: SocketAddr) -> SocketAddr {
    let ip: IpAddr = match (addr.ip(), addr.ip().is_loopback()) {
        (IpAddr::V4(_), true) => Ipv4Addr::LOCALHOST.into(),
        (IpAddr::V4(_), false) => Ipv4Addr::UNSPECIFIED.into(),
        (IpAddr::V6(_), true) => Ipv6Addr::LOCALHOST.into(),
        (IpAddr::V6(_), false) => Ipv6Addr::UNSPECIFIED.into(),
    };
    SocketAddr::new(ip, 0)
}

async fn udp_exchange(addr: SocketAddr, request: &[u8]) -> Result<Vec<u8>, AttemptError> {
    let socket = UdpSocket::bind(local_bind_for(addr)).await?;
    socket.connect(addr).await?;
    socket.send(request).await?;
    let mut buf = vec![0u8; UDP_BUFFER_SIZE];
    let n = socket.recv(&mut buf).await?;
    if n == 0 {
        return Err(AttemptError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "empty UDP reply",
        )));
    }
    buf.truncate(n);
    Ok(buf)
}

/// Sends `framed` and reads one length-prefixed reply; `progress` is (bytes received, bytes
/// announced) once the length prefix has arrived, so a caller that times the exchange out can
/// tell a KDC that stopped mid-reply from one that never answered.
async fn tcp_exchange(
    addr: SocketAddr,
    framed: &[u8],
    progress: &mut Option<(usize, usize)>,
) -> Result<Vec<u8>, AttemptError> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(framed).await?;
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await?;
    let len = read_tcp_length(prefix).map_err(AttemptError::Transport)?;
    // At most MAX_TCP_REPLY (read_tcp_length refused anything larger).
    let mut body = vec![0u8; len];
    let mut got = 0;
    *progress = Some((got, len));
    while got < len {
        match stream.read(&mut body[got..]).await? {
            0 => return Err(AttemptError::Truncated { got, len }),
            n => got += n,
        }
        *progress = Some((got, len));
    }
    Ok(body)
}

/// DNS SRV discovery; `Err` says what was looked up and why it gave nothing.
async fn srv_kdcs(
    realm: &str,
    resolver_addr: Option<SocketAddr>,
    site: Option<&str>,
) -> Result<Vec<KdcAddr>, String> {
    let domain = realm.trim_end_matches('.');
    if !valid_host_name(domain) {
        return Err("the realm name is not a DNS name, so no SRV lookup was made".to_owned());
    }
    let resolver = dns_resolver(resolver_addr)?;

    let mut lists = Vec::new();
    let mut failures = Vec::new();
    for proto in ["udp", "tcp"] {
        let name = format!("_kerberos._{proto}.{domain}.");
        let records = match srv_records(&resolver, &name, DNS_TIMEOUT).await {
            Ok(records) => records,
            Err(why) => {
                failures.push(format!("{name}: {why}"));
                Vec::new()
            }
        };
        lists.push(records);
    }
    let tcp = lists.pop().unwrap_or_default();
    let udp = lists.pop().unwrap_or_default();
    let mut kdcs = kdcs_from_srv(udp, tcp, &mut OsRng);
    if let Some(name) = site.and_then(|site| site_kdc_srv_name(site, realm)) {
        // No record for the site (or no answer) leaves the realm's order.
        let in_site = srv_records(&resolver, &name, DNS_TIMEOUT)
            .await
            .unwrap_or_default();
        kdcs = kdcs_site_first(in_site, kdcs, &mut OsRng);
    }
    if kdcs.is_empty() {
        let detail = if failures.is_empty() {
            "the records exist but name no usable host".to_owned()
        } else {
            failures.join("; ")
        };
        return Err(format!(
            "DNS SRV lookup of _kerberos._udp/_tcp.{domain} found nothing ({detail})"
        ));
    }
    Ok(kdcs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_kdcs_first_then_the_realm_without_duplicates() {
        let srv = |target: &str, port| SrvRecord {
            priority: 0,
            weight: 0,
            port,
            target: target.to_owned(),
        };
        let realm = vec![
            KdcAddr::parse("dc1.example.test").unwrap(),
            KdcAddr {
                protocol: Some(Protocol::Udp),
                ..KdcAddr::parse("dc2.example.test").unwrap()
            },
        ];
        let site = vec![
            srv("DC2.example.test.", 88),
            srv("dc3.example.test.", 88),
            srv("dc3.example.test", 88),
            srv("bad host.", 88),
            srv("dc4.example.test.", 0),
        ];
        let got = kdcs_site_first(site, realm, &mut crate::rand::TestRng::new(1));
        let got: Vec<String> = got
            .iter()
            .map(|k| format!("{}:{}/{:?}", k.host, k.port, k.protocol))
            .collect();
        assert_eq!(
            got,
            [
                "dc2.example.test:88/None",
                "dc3.example.test:88/None",
                "dc1.example.test:88/None",
            ]
        );
        assert_eq!(
            site_kdc_srv_name("Site-B", "example.test.").as_deref(),
            Some("_kerberos._tcp.Site-B._sites.example.test.")
        );
        assert_eq!(site_kdc_srv_name("", "EXAMPLE.TEST"), None);
        assert_eq!(site_kdc_srv_name("a.b", "not a realm"), None);
    }

    #[test]
    fn error_code_of_krb_error() {
        // KRB-ERROR { pvno 5, msg-type 30, stime, susec, error-code 52 } (abridged)
        let body = [
            0xa0, 0x03, 0x02, 0x01, 0x05, // pvno
            0xa1, 0x03, 0x02, 0x01, 0x1e, // msg-type
            0xa4, 0x11, 0x18, 0x0f, b'2', b'0', b'2', b'5', b'0', b'1', b'0', b'1', b'0', b'0',
            b'0', b'0', b'0', b'0', b'Z', // stime
            0xa5, 0x03, 0x02, 0x01, 0x00, // susec
            0xa6, 0x03, 0x02, 0x01, 0x34, // error-code 52
        ];
        let mut seq = vec![0x30, body.len() as u8];
        seq.extend_from_slice(&body);
        let mut msg = vec![0x7e, seq.len() as u8];
        msg.extend_from_slice(&seq);
        assert_eq!(krb_error_code(&msg), Some(52));

        // long-form lengths
        let mut long = vec![0x7e, 0x81, seq.len() as u8];
        long.extend_from_slice(&seq);
        assert_eq!(krb_error_code(&long), Some(52));

        // negative / multi-byte integers
        let mut neg = msg.clone();
        let last = neg.len() - 1;
        neg[last] = 0xff;
        assert_eq!(krb_error_code(&neg), Some(-1));

        // not a KRB-ERROR, truncated, garbage: None, never a panic
        assert_eq!(krb_error_code(&[0x6b, 0x00]), None);
        for cut in 0..msg.len() {
            assert_eq!(krb_error_code(&msg[..cut]), None, "cut at {cut}");
        }
        assert_eq!(krb_error_code(&[0x7e, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(krb_error_code(&[0x7e, 0x80]), None);
        assert_eq!(krb_error_code(&[]), None);
    }

    #[test]
    fn duration_format() {
        assert_eq!(fmt_duration(Duration::from_secs(3)), "3s");
        assert_eq!(fmt_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn host_names() {
        assert!(valid_host_name("kdc.example.test"));
        assert!(valid_host_name("kdc.example.test."));
        assert!(valid_host_name("dc_1"));
        assert!(!valid_host_name(""));
        assert!(!valid_host_name("."));
        assert!(!valid_host_name("a..b"));
        assert!(!valid_host_name("a b"));
        assert!(!valid_host_name(&"a".repeat(64)));
    }
}
