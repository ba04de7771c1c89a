use super::args::{CacheArgs, KdcArgs};
use crate::convert;
use krb5_proto::Principal;
use krb5_proto::tgs_exchange::TgsOptions;

/// `gmsa kvno`.
#[derive(Debug, clap::Args)]
pub struct KvnoArgs {
    /// The service principal, e.g. HTTP/web.example.test (realm: the cache's).
    pub spn: String,
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
    let server =
        Principal::parse(&a.spn, Some(&tgt.client.realm_str())).map_err(|e| e.to_string())?;
    let client = a.kdc.client()?;
    // Session-key enctypes from krb5.conf's default_tgs_enctypes (and allow_rc4).
    let opts = TgsOptions {
        etypes: super::args::as_options(&client)?
            .enctype_policy
            .tgs_enctypes()
            .to_vec(),
        ..TgsOptions::default()
    };
    let creds = client
        .tgs_exchange(&tgt, server.clone(), opts)
        .await
        .map_err(|e| e.to_string())?;
    let kvno = krb5_proto::asn1::decode::<krb5_proto::asn1::Ticket>(&creds.ticket)
        .ok()
        .and_then(|t| t.enc_part.kvno);
    cc.add_or_replace(convert::to_cc_credential(&creds));
    cc.write_atomic(&path, 0o600)
        .map_err(|e| format!("cannot write the credential cache: {e}"))?;
    match kvno {
        Some(k) => println!("{server}: kvno = {k}"),
        None => println!("{server}: kvno = (none)"),
    }
    Ok(())
}
