//! `gmsa fetch` and `gmsa doctor`: the whole chain from a credspec to the gMSA's ccache.

use super::args::{CacheArgs, KdcArgs, parse_mode, read_password};
use crate::convert;
use crate::credspec::CredSpec;
use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::keytab::{Keytab, KeytabEntry};
use msds_gmsa::{FetchOptions, GmsaLookup, GmsaReader, TlsMode};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// Inputs shared by `fetch` and `doctor`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("login").required(true).args(["user", "keytab"])))]
pub struct ChainArgs {
    /// The ECS credential spec (JSON) naming the gMSA and its domain.
    #[arg(long, value_name = "FILE")]
    pub credspec: PathBuf,
    /// Domainless mode: the AD user allowed to read the gMSA's password, USER@REALM.
    #[arg(long, value_name = "USER@REALM", requires = "password_file")]
    pub user: Option<String>,
    /// File holding the user's password (one trailing newline ignored; `-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Domain-joined mode: the host's keytab (e.g. /etc/krb5.keytab).
    #[arg(long, value_name = "FILE")]
    pub keytab: Option<PathBuf>,
    /// The principal to use from the keytab (default: the first single-component principal of
    /// the credspec's realm, e.g. HOST$@REALM, else the first; the daemon's rule).
    #[arg(long, value_name = "PRINCIPAL", requires = "keytab")]
    pub principal: Option<String>,
    /// The domain controller(s), HOST[:PORT][,HOST[:PORT]...] tried in order (default: DNS SRV
    /// _ldap._tcp.dc._msdcs.DOMAIN, the DCs of our AD site first).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub dc: Option<String>,
    /// DNS server for SRV look-ups, IP:PORT (default: the system's resolvers).
    #[arg(long, value_name = "IP:PORT")]
    pub dns_server: Option<SocketAddr>,
    /// Read the password over LDAPS (TLS, port 636 unless --dc names one) instead of LDAP with
    /// the SASL sealing layer; the bind carries TLS channel bindings.
    #[arg(long)]
    pub ldaps: bool,
    /// With --ldaps: the CA certificate(s), PEM, that issued the DC's certificate (default: the
    /// system bundle /etc/ssl/certs/ca-certificates.crt).
    #[arg(long, value_name = "FILE", requires = "ldaps")]
    pub ca_file: Option<PathBuf>,
    #[command(flatten)]
    kdc: KdcArgs,
}

/// `gmsa fetch`.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Also write a keytab with the gMSA's keys (AES256, AES128, RC4), e.g. for SPNEGO services.
    #[arg(long, value_name = "FILE")]
    pub keytab_out: Option<PathBuf>,
    /// File mode of the written ccache and keytab, in octal.
    #[arg(long, value_name = "MODE", default_value = "600")]
    pub mode: String,
}

/// `gmsa doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    chain: ChainArgs,
}

struct Prepared {
    spec: CredSpec,
    client: Client,
    login: Principal,
    secret: Secret,
    fetch: FetchOptions,
    /// AS options under krb5.conf's enctype policy.
    opts: AsOptions,
}

fn prepare(a: &ChainArgs) -> Result<Prepared, String> {
    let bytes = std::fs::read(&a.credspec)
        .map_err(|e| format!("credspec {}: {e}", a.credspec.display()))?;
    let spec =
        CredSpec::parse(&bytes).map_err(|e| format!("credspec {}: {e}", a.credspec.display()))?;
    // AD's AS-REP does not fit UDP: only the first AS-REQ (without pre-authentication) goes there.
    let mut client = a.kdc.client()?.with_tcp_for_tickets();
    if let Some(d) = a.dns_server {
        client = client.with_dns_server(d);
    }
    let realm = spec.realm();
    let (login, secret) = if let Some(user) = &a.user {
        let p = Principal::parse(user, Some(&realm)).map_err(|e| e.to_string())?;
        let pw = read_password(
            a.password_file
                .as_ref()
                .ok_or("--user needs --password-file")?,
        )?;
        (p, Secret::Password(pw))
    } else {
        let path = a
            .keytab
            .as_ref()
            .ok_or("give --user with --password-file, or --keytab")?;
        let kt = Keytab::read(path).map_err(|e| format!("keytab {}: {e}", path.display()))?;
        // The daemon's rule (crate::login): --principal, else the realm's machine account.
        let (p, keys) = crate::login::keytab_login(&kt, Some(&realm), a.principal.as_deref())
            .map_err(|e| format!("keytab {}: {e}", path.display()))?;
        (p, Secret::Keys(keys))
    };
    let fetch = FetchOptions {
        dc: a.dc.clone(),
        dns_server: a.dns_server,
        timeout: Duration::from_secs_f64(a.kdc.timeout),
        tls: if a.ldaps {
            TlsMode::Ldaps {
                ca_file: a.ca_file.clone(),
            }
        } else {
            TlsMode::Plain
        },
        ..FetchOptions::default()
    };
    let opts = super::args::as_options(&client)?;
    Ok(Prepared {
        spec,
        opts,
        client,
        login,
        secret,
        fetch,
    })
}

pub async fn run_fetch(a: FetchArgs) -> Result<(), String> {
    let mode = parse_mode(&a.mode)?;
    let path = a.cache.path()?;
    let p = prepare(&a.chain)?;
    let mut reader = GmsaReader::new(p.client.clone(), &p.spec.domain, p.fetch.clone())
        .map_err(|e| e.to_string())?;
    // Find and connect to the DC while the KDC logs the user in.
    let (user_tgt, connected) = tokio::join!(
        p.client
            .as_exchange(p.login.clone(), p.secret.clone(), p.opts.clone()),
        reader.connect()
    );
    let user_tgt = user_tgt.map_err(|e| format!("logging in as {}: {e}", p.login))?;
    connected.map_err(|e| e.to_string())?;
    let lookup = GmsaLookup::SamAccountName(p.spec.sam_account_name());
    let fetched = reader
        .fetch(&user_tgt, &lookup)
        .await
        .map_err(|e| e.to_string())?;
    // The unbind is one write; no answer is awaited.
    reader.close().await;
    let realm = p.spec.realm();
    let ticket = msds_gmsa::gmsa_tgt(
        &p.client,
        &realm,
        &fetched.sam_account_name,
        &fetched.blob,
        &p.opts,
    )
    .await
    .map_err(|e| {
        format!(
            "logging in as the gMSA {}@{realm}: {e}",
            fetched.sam_account_name
        )
    })?;
    // Atomic (a reader sees the old cache or the new one, never a mix) but not fsynced, as MIT
    // kinit does: after a crash the ticket is fetched again, while an fsync costs milliseconds.
    convert::new_cache(&ticket.tgt)
        .write_with(
            &path,
            &ccache::Replace::new(mode).durability(ccache::Durability::PageCache),
        )
        .map_err(|e| format!("cannot write the credential cache {}: {e}", path.display()))?;
    if let Some(kt_path) = &a.keytab_out {
        let keys = ticket
            .keys(&realm, &fetched.sam_account_name)
            .map_err(|e| e.to_string())?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let kt = Keytab {
            entries: keys
                .as_vec()
                .into_iter()
                .map(|k| KeytabEntry {
                    principal: ticket.tgt.client.clone(),
                    timestamp: now.min(u32::MAX as u64) as u32,
                    kvno: ticket.tgt.client_kvno.unwrap_or(1),
                    enctype: k.etype().to_i32(),
                    key: zeroize::Zeroizing::new(k.as_bytes().to_vec()),
                })
                .collect(),
        };
        kt.write(kt_path, mode)
            .map_err(|e| format!("cannot write the keytab: {e}"))?;
    }
    println!(
        "{}: ticket for {} from {} (DC {}), valid until {}{}",
        path.display(),
        ticket.tgt.client,
        fetched.dn,
        fetched.dc,
        crate::timefmt::iso8601(ticket.tgt.end_time),
        if ticket.used_previous {
            " (previous password: the DC is rolling the password over)"
        } else {
            ""
        }
    );
    Ok(())
}

/// One diagnostic step's outcome.
fn report(ok: bool, step: &str, detail: &str, elapsed: Duration) {
    let tag = if ok { " ok " } else { "FAIL" };
    println!(
        "[{tag}] {step:<34} {:>7.1} ms  {detail}",
        elapsed.as_secs_f64() * 1e3
    );
}

/// Doctor step `step`: finds the KDC of `client`'s realm and sends it an AS-REQ without
/// pre-authentication, whose error reply carries the KDC's time (the clock skew step).
async fn probe_kdc(
    p: &Prepared,
    client: &Principal,
    opts: &AsOptions,
    step: &str,
    explicit_kdcs: bool,
) -> Result<(), String> {
    let t = Instant::now();
    let realm = client.realm_str();
    let kdc = p.client.kdc_for(realm.as_bytes()).await.map_err(|e| {
        report(false, &format!("KDC discovery ({realm})"), &e.to_string(), t.elapsed());
        "no KDC found: give --kdc HOST, set [realms] in krb5.conf, or check DNS (_kerberos._udp.REALM)".to_string()
    })?;
    let (_, req) =
        krb5_proto::as_exchange::AsExchange::new(client.clone(), p.secret.clone(), opts.clone())
            .start(SystemTime::now(), &mut krb5_proto::rand::OsRng);
    let sent_at = SystemTime::now();
    let reply = kdc.send(&req.bytes).await.map_err(|e| {
        report(false, step, &format!("{realm}: {e}"), t.elapsed());
        "the KDC does not answer: check the address, port 88 (UDP and TCP) and firewalls"
            .to_string()
    })?;
    report(
        true,
        step,
        &format!(
            "{realm}: {} over {} (KDCs in order: {}{})",
            reply.from,
            reply.protocol,
            kdc.kdcs()
                .iter()
                .map(|k| format!("{}:{}", k.host, k.port))
                .collect::<Vec<_>>()
                .join(", "),
            match p.client.site(&realm) {
                // Only KDCs found through DNS are ordered by site.
                Some(site) if !explicit_kdcs && p.client.conf().kdcs(&realm).is_empty() => {
                    format!(", from DNS, site {site} first")
                }
                _ => String::new(),
            }
        ),
        t.elapsed(),
    );
    if let Ok(krb5_proto::asn1::KdcReply::Error(err)) =
        krb5_proto::asn1::decode_kdc_reply(&reply.bytes)
    {
        let local = sent_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let skew = err.stime.to_unix() - local;
        let ok = skew.abs() < 300;
        report(
            ok,
            &format!("clock skew against the KDC of {realm}"),
            &format!(
                "{skew:+} s (limit ±300 s){}",
                if ok {
                    ""
                } else {
                    ": synchronise this host's clock (chrony/NTP)"
                }
            ),
            Duration::ZERO,
        );
    }
    Ok(())
}

pub async fn run_doctor(a: DoctorArgs) -> Result<(), String> {
    let t = Instant::now();
    let p = match prepare(&a.chain) {
        Ok(p) => p,
        Err(e) => {
            report(false, "inputs (credspec, credentials)", &e, t.elapsed());
            return Err("fix the inputs above".into());
        }
    };
    report(
        true,
        "inputs (credspec, credentials)",
        &format!(
            "gMSA {}@{} as {}",
            p.spec.sam_account_name(),
            p.spec.realm(),
            p.login
        ),
        t.elapsed(),
    );
    let realm = p.spec.realm();

    // Domain controllers.
    let t = Instant::now();
    const DC_STEP: &str = "domain controllers (--dc, else DNS SRV + AD site)";
    let located = if p.fetch.tls == TlsMode::Plain {
        msds_gmsa::dc::locate_by_site(
            &p.spec.domain,
            p.fetch.dc.as_deref(),
            p.fetch.dns_server,
            p.fetch.timeout.min(Duration::from_secs(2)),
        )
        .await
    } else {
        msds_gmsa::ldap::lookup::ldaps_choice(
            &p.spec.domain,
            &p.fetch,
            p.fetch.timeout.min(Duration::from_secs(2)),
        )
        .await
    };
    match located {
        Ok(choice) => {
            let list: Vec<String> = choice.candidates.iter().map(|d| d.to_string()).collect();
            let site = match &choice.site {
                Some(s) if !s.client_site.is_empty() => {
                    // KDCs found through DNS: those of our site first, as the fetch does.
                    p.client.set_site(&realm, &s.client_site);
                    format!(
                        "site {} (NetLogon ping answered by {}, whose site is {}); ",
                        s.client_site, s.asked.host, s.dc_site
                    )
                }
                _ => String::new(),
            };
            report(
                true,
                DC_STEP,
                &format!(
                    "{site}order {}; first choice {} because {}",
                    list.join(", "),
                    list.first().map(String::as_str).unwrap_or("-"),
                    choice.why
                ),
                t.elapsed(),
            )
        }
        Err(e) => {
            report(false, DC_STEP, &e.to_string(), t.elapsed());
            return Err("no domain controller found: give --dc HOST, or check DNS (_ldap._tcp.dc._msdcs.DOMAIN)".into());
        }
    }

    // KDC reachability and clock skew, for the login's realm and (across a trust) the gMSA's.
    let explicit_kdcs = !a.chain.kdc.kdc.is_empty();
    probe_kdc(&p, &p.login, &p.opts, "KDC reachable", explicit_kdcs).await?;
    if !p.login.realm_str().eq_ignore_ascii_case(&realm) {
        // The gMSA's name, without pre-authentication (no hint: nothing made with a key is sent).
        let gmsa = Principal::new(
            krb5_proto::principal::name_type::PRINCIPAL,
            [p.spec.sam_account_name()],
            &realm,
        );
        let opts = AsOptions {
            preauth_hint: None,
            ..p.opts.clone()
        };
        probe_kdc(
            &p,
            &gmsa,
            &opts,
            "KDC of the gMSA's realm reachable",
            explicit_kdcs,
        )
        .await?;
    }

    // User (or machine) login.
    let t = Instant::now();
    let tgt = match p
        .client
        .as_exchange(p.login.clone(), p.secret.clone(), p.opts.clone())
        .await
    {
        Ok(tgt) => {
            report(
                true,
                "login",
                &format!("TGT for {}", tgt.client),
                t.elapsed(),
            );
            tgt
        }
        Err(e) => {
            report(false, "login", &e.to_string(), t.elapsed());
            return Err(format!("{} cannot log in: see the error above", p.login));
        }
    };

    // LDAP: bind, confidentiality layer, read permission.
    let t = Instant::now();
    let lookup = GmsaLookup::SamAccountName(p.spec.sam_account_name());
    let fetched =
        match msds_gmsa::fetch_managed_password(&p.client, &tgt, &p.spec.domain, &lookup, &p.fetch)
            .await
        {
            Ok(f) => {
                report(
                    true,
                    "LDAP sealed bind + read password",
                    &format!(
                        "{} from DC {} (previous password {})",
                        f.dn,
                        f.dc,
                        if f.blob.previous().is_some() {
                            "present"
                        } else {
                            "absent"
                        }
                    ),
                    t.elapsed(),
                );
                f
            }
            Err(e) => {
                report(
                    false,
                    "LDAP sealed bind + read password",
                    &e.to_string(),
                    t.elapsed(),
                );
                return Err("the gMSA's password could not be read: see the error above".into());
            }
        };

    // The gMSA's own login.
    let t = Instant::now();
    match msds_gmsa::gmsa_tgt(
        &p.client,
        &realm,
        &fetched.sam_account_name,
        &fetched.blob,
        &p.opts,
    )
    .await
    {
        Ok(tk) => {
            report(
                true,
                "gMSA login (AS exchange)",
                &format!("TGT for {}", tk.tgt.client),
                t.elapsed(),
            );
            println!("all checks passed");
            Ok(())
        }
        Err(e) => {
            report(
                false,
                "gMSA login (AS exchange)",
                &e.to_string(),
                t.elapsed(),
            );
            Err("the gMSA cannot log in with the password read: is the account enabled (userAccountControl)?".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::parse_mode;

    #[test]
    fn mode_is_permission_bits_the_owner_can_read() {
        for (text, want) in [
            ("600", 0o600),
            ("0640", 0o640),
            ("400", 0o400),
            ("777", 0o777),
        ] {
            assert_eq!(parse_mode(text), Ok(want), "{text}");
        }
        // Special bits, numbers beyond 12 bits (were silently truncated), owner-unreadable, junk.
        for text in [
            "7777", "4755", "1000000", "1600", "0", "200", "99", "", "rw", "-600",
        ] {
            let err = parse_mode(text).unwrap_err();
            assert!(
                err.contains("--mode") && err.contains("600"),
                "{text}: {err}"
            );
        }
    }
}
