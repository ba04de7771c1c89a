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

/// The SRV name listing the DCs of one AD site: `_ldap._tcp.<site>._sites.dc._msdcs.<domain>.`
/// (MS-ADTS 6.3.2.3).
pub fn site_srv_name(site: &str, domain: &str) -> String {
    format!(
        "_ldap._tcp.{}._sites.dc._msdcs.{}.",
        site.trim(),
        domain.trim().trim_end_matches('.')
    )
}

/// Parses a DC setting: one `host[:port]` or several separated by commas or spaces, tried in
/// the order given (`DOMAIN_CONTROLLER_GMSA=dc1.example.test,dc2.example.test`).
///
/// ```
/// use msds_gmsa::dc::parse_dc_list;
/// let l = parse_dc_list("dc2.example.test, 127.0.0.2:389").unwrap();
/// assert_eq!(l.len(), 2);
/// assert_eq!(l[1].host, "127.0.0.2");
/// assert!(parse_dc_list(" , ").is_err());
/// ```
pub fn parse_dc_list(input: &str) -> Result<Vec<DcAddr>, GmsaError> {
    parse_dc_list_with(input, DcAddr::parse)
}

/// [`parse_dc_list`] with `parse` reading each entry (e.g. LDAPS: an `ldaps://` prefix and
/// port 636 unless given); duplicates dropped, an empty list refused.
pub fn parse_dc_list_with(
    input: &str,
    parse: impl Fn(&str) -> Result<DcAddr, GmsaError>,
) -> Result<Vec<DcAddr>, GmsaError> {
    let mut out: Vec<DcAddr> = Vec::new();
    for part in input
        .split([',', ' ', '\t'])
        .filter(|p| !p.trim().is_empty())
    {
        let a = parse(part)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(GmsaError::InvalidDcAddress {
            input: input.to_owned(),
            reason: "empty".to_owned(),
        });
    }
    Ok(out)
}

/// The DCs to try: `dc` when given (`host[:port]`, or several separated by commas), else the
/// domain's `_ldap._tcp.dc._msdcs` SRV records, queried from `dns_server` when given (else the
/// system's resolvers).
pub async fn locate(
    domain: &str,
    dc: Option<&str>,
    dns_server: Option<SocketAddr>,
) -> Result<Vec<DcAddr>, GmsaError> {
    if let Some(dc) = dc {
        return parse_dc_list(dc);
    }
    srv_candidates(domain, &srv_name(domain), dns_server).await
}

async fn srv_candidates(
    domain: &str,
    name: &str,
    dns_server: Option<SocketAddr>,
) -> Result<Vec<DcAddr>, GmsaError> {
    let no_dc = |reason: String| GmsaError::NoDcFound {
        domain: domain.to_owned(),
        reason,
    };
    let resolver = dns_resolver(dns_server).map_err(no_dc)?;
    let via = dns_server
        .map(|a| format!(" (asked {a})"))
        .unwrap_or_default();
    let records = srv_records(&resolver, name, DNS_TIMEOUT)
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

/// What a NetLogon ping told us about our site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteInfo {
    /// The DC that answered the ping.
    pub asked: DcAddr,
    /// Our site (`ClientSiteName`); empty when no subnet of the forest covers our address.
    pub client_site: String,
    /// The answering DC's own site (`DcSiteName`).
    pub dc_site: String,
}

/// The DCs to try, in order, and why this order (for logs and `gmsa doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcChoice {
    /// Candidates, the preferred first.
    pub candidates: Vec<DcAddr>,
    /// What the NetLogon ping said, when one was answered.
    pub site: Option<SiteInfo>,
    /// How the list was made, in words.
    pub why: String,
}

/// Most DCs asked for our site before giving up on sites.
const MAX_PINGS: usize = 3;

/// Site-aware DC location, as Windows' DsGetDcName and SSSD do: `dc` given (one or a list)
/// wins; otherwise the domain's DCs come from `_ldap._tcp.dc._msdcs`, a CLDAP NetLogon ping
/// ([`crate::netlogon`]) to the first that answers (at most 3 are asked, each for
/// `ping_timeout`) gives our site, and the DCs of `_ldap._tcp.<site>._sites.dc._msdcs` are put
/// first, the others after them in DNS order. No ping answered, no site for our address, or no
/// SRV record for the site: DNS order, and `why` says so.
pub async fn locate_by_site(
    domain: &str,
    dc: Option<&str>,
    dns_server: Option<SocketAddr>,
    ping_timeout: Duration,
) -> Result<DcChoice, GmsaError> {
    if let Some(dc) = dc {
        return Ok(DcChoice {
            candidates: parse_dc_list(dc)?,
            site: None,
            why: "given (--dc / DOMAIN_CONTROLLER_GMSA), tried in the order given".to_owned(),
        });
    }
    let all = srv_candidates(domain, &srv_name(domain), dns_server).await?;
    let mut failures = Vec::new();
    let mut site = None;
    'dcs: for dc in all.iter().take(MAX_PINGS) {
        let addrs = match resolve(
            &DcAddr {
                host: dc.host.clone(),
                port: LDAP_PORT,
            },
            dns_server,
        )
        .await
        {
            Ok(a) => a,
            Err(why) => {
                failures.push(format!("{}: {why}", dc.host));
                continue;
            }
        };
        for addr in addrs {
            match crate::netlogon::ping(addr, domain, ping_timeout).await {
                Ok(r) => {
                    site = Some(SiteInfo {
                        asked: dc.clone(),
                        client_site: r.client_site_name,
                        dc_site: r.dc_site_name,
                    });
                    break 'dcs;
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    let Some(info) = site else {
        return Ok(DcChoice {
            candidates: all,
            site: None,
            why: format!(
                "DNS order of {}: no NetLogon ping answered ({})",
                srv_name(domain),
                failures.join("; ")
            ),
        });
    };
    if info.client_site.is_empty() {
        let why = format!(
            "DNS order of {}: {} says no AD subnet covers our address (no client site)",
            srv_name(domain),
            info.asked.host
        );
        return Ok(DcChoice {
            candidates: all,
            site: Some(info),
            why,
        });
    }
    let site_name = site_srv_name(&info.client_site, domain);
    let in_site = match srv_candidates(domain, &site_name, dns_server).await {
        Ok(c) => c,
        Err(e) => {
            let why = format!(
                "DNS order of {}: our site is {} ({} said so) but {e}",
                srv_name(domain),
                info.client_site,
                info.asked.host
            );
            return Ok(DcChoice {
                candidates: all,
                site: Some(info),
                why,
            });
        }
    };
    let (candidates, why) = site_first(&in_site, &all, &info, &site_name);
    Ok(DcChoice {
        candidates,
        site: Some(info),
        why,
    })
}

/// The site's DCs first (in their SRV order), then the domain's others (in theirs).
fn site_first(
    in_site: &[DcAddr],
    all: &[DcAddr],
    info: &SiteInfo,
    site_name: &str,
) -> (Vec<DcAddr>, String) {
    let mut out: Vec<DcAddr> = in_site.to_vec();
    let others: Vec<DcAddr> = all
        .iter()
        .filter(|a| !in_site.contains(a))
        .cloned()
        .collect();
    out.extend(others.iter().cloned());
    let list = |v: &[DcAddr]| {
        v.iter()
            .map(|a| a.host.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let why = format!(
        "our site is {} ({} said so in its NetLogon ping reply; its own site is {}): \
         DCs of {site_name} first [{}], then the domain's others [{}]",
        info.client_site,
        info.asked.host,
        info.dc_site,
        list(in_site),
        list(&others)
    );
    (out, why)
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
    fn site_dcs_first() {
        let a = |h: &str| DcAddr::parse(h).unwrap();
        let info = SiteInfo {
            asked: a("dc1.example.test"),
            client_site: "Site-B".into(),
            dc_site: "Default-First-Site-Name".into(),
        };
        let all = [
            a("dc1.example.test"),
            a("dc2.example.test"),
            a("dc3.example.test"),
        ];
        let (order, why) = site_first(
            &[a("dc3.example.test"), a("dc2.example.test")],
            &all,
            &info,
            "x",
        );
        let hosts: Vec<&str> = order.iter().map(|d| d.host.as_str()).collect();
        assert_eq!(
            hosts,
            ["dc3.example.test", "dc2.example.test", "dc1.example.test"]
        );
        assert!(why.contains("our site is Site-B"), "{why}");
        assert_eq!(
            site_srv_name("Site-B", "example.test."),
            "_ldap._tcp.Site-B._sites.dc._msdcs.example.test."
        );
        let l = parse_dc_list("dc2.example.test,dc1.example.test dc2.example.test").unwrap();
        assert_eq!(l.len(), 2);
        assert!(parse_dc_list("dc1,bad host:").is_err());
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
