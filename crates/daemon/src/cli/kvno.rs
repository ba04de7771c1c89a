use super::args::{CacheArgs, KdcArgs};
use crate::convert;
use krb5_proto::Principal;
use krb5_proto::tgs_exchange::TgsOptions;

/// `gmsa kvno`.
#[derive(Debug, clap::Args)]
pub struct KvnoArgs {
    /// The service principal, e.g. HTTP/web.example.test (realm: the cache's). A service of
    /// another realm (HTTP/web.b.test@B.TEST) is reached through cross-realm TGTs (krb5.conf
    /// [capaths], else the hierarchical path), which are stored in the cache and reused.
    pub spn: String,
    /// Send the name as a host-based service (name type NT-SRV-HST, as MIT `kvno -S`), which
    /// lets the KDC refer it to the realm of the host (RFC 6806 referral).
    #[arg(short = 'S', long)]
    pub host_based: bool,
    #[command(flatten)]
    kdc: KdcArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

pub async fn run(a: KvnoArgs) -> Result<(), String> {
    let path = a.cache.path()?;
    let mut cc = ccache::Ccache::read(&path)
        .map_err(|e| format!("credential cache {}: {e}", path.display()))?;
    let tgt = convert::find_tgt(&cc).map_err(|e| e.to_string())?;
    let mut server =
        Principal::parse(&a.spn, Some(&tgt.client.realm_str())).map_err(|e| e.to_string())?;
    if a.host_based {
        if server.components.len() != 2 {
            return Err(format!(
                "--host-based needs a service/host name, not {server}"
            ));
        }
        server.name_type = krb5_proto::principal::name_type::SRV_HST;
    }
    // Cross-realm TGTs already in the cache (krbtgt/B@A, as MIT stores them).
    let offset = cc.time_offset.map(|(s, _)| s as i64).unwrap_or(0);
    let held: Vec<_> = cc
        .tickets()
        .filter_map(|c| convert::from_cc_credential(c, offset).ok())
        .filter(|c| c.server.is_krbtgt() && c.server.components[1] != c.server.realm)
        .collect();
    let client = a.kdc.client()?;
    // Session-key enctypes from krb5.conf's default_tgs_enctypes (and allow_rc4).
    let opts = TgsOptions {
        etypes: super::args::as_options(&client)?
            .enctype_policy
            .tgs_enctypes()
            .to_vec(),
        ..TgsOptions::default()
    };
    let out = client
        .tgs_exchange_with_tgts(&tgt, server.clone(), opts, held)
        .await
        .map_err(|e| e.to_string())?;
    for t in &out.new_tgts {
        cc.add_or_replace(convert::to_cc_credential(t));
    }
    let creds = out.ticket;
    let kvno = krb5_proto::asn1::decode::<krb5_proto::asn1::Ticket>(&creds.ticket)
        .ok()
        .and_then(|t| t.enc_part.kvno);
    cc.add_or_replace(convert::to_cc_credential(&creds));
    cc.write_atomic(&path, 0o600)
        .map_err(|e| format!("cannot write the credential cache: {e}"))?;
    // The ticket's own name: after a referral its realm is the service's, not the one asked.
    let issued = &creds.server;
    match kvno {
        Some(k) => println!("{issued}: kvno = {k}"),
        None => println!("{issued}: kvno = (none)"),
    }
    Ok(())
}
