//! Finding and reaching a domain controller's LDAP service.
//!
//! Given `host[:port]`, that DC is used. Otherwise the DNS SRV records
//! `_ldap._tcp.dc._msdcs.<domain>` (MS-ADTS 6.3.2.3) list the domain's DCs; they are ordered
//! per RFC 2782 ([`krb5_proto::transport::order_srv`]) and tried in turn. Every address tried,
//! and why it failed, ends up in [`GmsaError::DcUnreachable`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), msds_gmsa::GmsaError> {
//! use std::time::Duration;
//! use msds_gmsa::dc;
//!
//! let dns = Some("127.0.0.2:53".parse().unwrap());
//! let candidates = dc::locate("example.test", None, dns).await?;
//! let (conn, dc) = dc::connect_first(&candidates, dns, Duration::from_secs(5)).await?;
//! println!("connected to {dc}: {:?}", conn.security());
//! # Ok(()) }
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use krb5_proto::rand::OsRng;
use krb5_proto::transport::{
    SrvRecord, dns_resolver, order_srv, resolve_host, split_host_port, srv_records,
};

use crate::GmsaError;
use crate::ldap::conn::Connection;

/// The LDAP port.
pub const LDAP_PORT: u16 = 389;

/// How long one DNS query may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);

/// Most addresses tried per DC name.
const MAX_ADDRS_PER_HOST: usize = 8;

/// A DC's LDAP endpoint: a host name (or IP address) and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DcAddr {
    /// FQDN (no trailing dot) or IP address literal. The LDAP service principal is
    /// `ldap/<host>`.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl DcAddr {
    /// Parses `host`, `host:port`, an IPv4 address with optional port, `[v6]` or `[v6]:port`
    /// (port 389 when absent).
    ///
    /// ```
    /// use msds_gmsa::dc::DcAddr;
    /// assert_eq!(DcAddr::parse("dc1.example.test").unwrap().to_string(), "dc1.example.test:389");
    /// assert_eq!(DcAddr::parse("127.0.0.2:3890").unwrap().port, 3890);
    /// assert_eq!(DcAddr::parse("[::1]:389").unwrap().host, "::1");
    /// assert!(DcAddr::parse("dc1:0").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<Self, GmsaError> {
        let bad = |reason: &str| GmsaError::InvalidDcAddress {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let s = input.trim();
        let s = s.strip_prefix("ldap://").unwrap_or(s).trim_end_matches('/');
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let (host, port) = split_host_port(s, LDAP_PORT).map_err(bad)?;
        let host = host.trim_end_matches('.');
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for DcAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The SRV name listing a domain's DCs: `_ldap._tcp.dc._msdcs.<domain>.`.
pub fn srv_name(domain: &str) -> String {
    format!(
        "_ldap._tcp.dc._msdcs.{}.",
        domain.trim().trim_end_matches('.')
    )
}

/// DC candidates from SRV records, in RFC 2782 order, de-duplicated, invalid targets dropped.
pub fn candidates_from_srv(records: Vec<SrvRecord>) -> Vec<DcAddr> {
    let mut out: Vec<DcAddr> = Vec::new();
    for r in order_srv(records, &mut OsRng) {
        if r.port == 0 {
            continue;
        }
        if let Ok(mut a) = DcAddr::parse(r.target.trim_end_matches('.')) {
            a.port = r.port;
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// The DCs to try: `dc` when given (`host[:port]`), else the domain's
/// `_ldap._tcp.dc._msdcs` SRV records, queried from `dns_server` when given (else the
/// system's resolvers).
pub async fn locate(
    domain: &str,
    dc: Option<&str>,
    dns_server: Option<SocketAddr>,
) -> Result<Vec<DcAddr>, GmsaError> {
    if let Some(dc) = dc {
        return Ok(vec![DcAddr::parse(dc)?]);
    }
    let no_dc = |reason: String| GmsaError::NoDcFound {
        domain: domain.to_owned(),
        reason,
    };
    let name = srv_name(domain);
    let resolver = dns_resolver(dns_server).map_err(no_dc)?;
    let via = dns_server
        .map(|a| format!(" (asked {a})"))
        .unwrap_or_default();
    let records = srv_records(&resolver, &name, DNS_TIMEOUT)
        .await
        .map_err(|why| no_dc(format!("SRV lookup of {name}{via} {why}")))?;
    let out = candidates_from_srv(records);
    if out.is_empty() {
        return Err(no_dc(format!(
            "{name}{via} has no usable SRV record; give the DC explicitly (host[:port])"
        )));
    }
    Ok(out)
}

/// The socket addresses of one DC: the literal address, or the name resolved through
/// `dns_server` (when given) or the system resolver (which reads `/etc/hosts` too).
pub async fn resolve(
    dc: &DcAddr,
    dns_server: Option<SocketAddr>,
) -> Result<Vec<SocketAddr>, String> {
    resolve_host(
        &dc.host,
        dc.port,
        dns_server,
        DNS_TIMEOUT,
        MAX_ADDRS_PER_HOST,
    )
    .await
}

/// Connects to the first reachable candidate (each of its addresses in turn), each attempt
/// bounded by `timeout`. Fails with [`GmsaError::DcUnreachable`] listing every attempt.
pub async fn connect_first(
    candidates: &[DcAddr],
    dns_server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<(Connection, DcAddr), GmsaError> {
    let mut tried = Vec::new();
    for dc in candidates {
        let addrs = match resolve(dc, dns_server).await {
            Ok(a) => a,
            Err(why) => {
                tried.push(format!("{dc}: {why}"));
                continue;
            }
        };
        for addr in addrs {
            match Connection::connect(&dc.host, addr, timeout).await {
                Ok(conn) => return Ok((conn, dc.clone())),
                Err(e) => {
                    tracing::debug!(%dc, %addr, error = %e, "DC unreachable, trying the next");
                    let what = if dc.host.parse::<IpAddr>().is_ok() {
                        dc.to_string()
                    } else {
                        format!("{dc} ({addr})")
                    };
                    tried.push(format!("{what}: {}", short_reason(&e)));
                }
            }
        }
    }
    Err(GmsaError::DcUnreachable { tried })
}

fn short_reason(e: &crate::ldap::LdapError) -> String {
    match e {
        crate::ldap::LdapError::Io { message, .. } => message.clone(),
        crate::ldap::LdapError::Timeout { timeout_ms, .. } => {
            format!("no answer within {timeout_ms} ms")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        for (input, host, port) in [
            ("dc1.example.test", "dc1.example.test", 389),
            ("DC1.Example.Test.:636", "dc1.example.test", 636),
            ("ldap://dc1.example.test/", "dc1.example.test", 389),
            ("127.0.0.2", "127.0.0.2", 389),
            ("127.0.0.2:1389", "127.0.0.2", 1389),
            ("::1", "::1", 389),
            ("[fe80::1]:389", "fe80::1", 389),
        ] {
            let a = DcAddr::parse(input).unwrap();
            assert_eq!((a.host.as_str(), a.port), (host, port), "{input}");
        }
        for bad in [
            "",
            "dc1:",
            "dc1:70000",
            "dc1:0",
            "bad host",
            "[::1",
            "a..b",
            "[::1]x",
        ] {
            assert!(DcAddr::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn srv_order_and_dedup() {
        let rec = |priority, target: &str, port| SrvRecord {
            priority,
            weight: 0,
            port,
            target: target.into(),
        };
        let got = candidates_from_srv(vec![
            rec(10, "dc2.example.test.", 389),
            rec(0, "dc1.example.test.", 389),
            rec(0, "DC1.example.test.", 389),
            rec(5, ".", 389),
            rec(7, "dc3.example.test.", 0),
        ]);
        let names: Vec<String> = got.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["dc1.example.test:389", "dc2.example.test:389"]);
        assert_eq!(
            srv_name("example.test."),
            "_ldap._tcp.dc._msdcs.example.test."
        );
    }
}
