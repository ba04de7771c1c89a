use super::args::{CacheArgs, KdcArgs, parse_mode, read_password};
use crate::convert;
use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::keytab::Keytab;
use std::path::PathBuf;
use std::time::Duration;

/// `gmsa kinit`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("secret").required(true).args(["password_file", "keytab"])))]
pub struct KinitArgs {
    /// The client principal, NAME@REALM (the realm is required unless krb5.conf has default_realm).
    pub principal: String,
    /// File holding the password (one trailing newline is ignored; `-` reads standard input).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Keytab holding the principal's keys.
    #[arg(long, value_name = "FILE")]
    pub keytab: Option<PathBuf>,
    /// Requested lifetime in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 36_000)]
    pub lifetime: u64,
    /// Requested renewable lifetime in seconds (0: not renewable).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub renewable: u64,
    #[command(flatten)]
    kdc: KdcArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// File mode of the written cache, in octal.
    #[arg(long, value_name = "MODE", default_value = "600")]
    pub mode: String,
}

pub async fn run(a: KinitArgs) -> Result<(), String> {
    let client = a.kdc.client()?;
    let principal = Principal::parse(&a.principal, client.conf().default_realm())
        .map_err(|e| format!("{e}"))?;
    let secret = if let Some(p) = &a.password_file {
        Secret::Password(read_password(p)?)
    } else if let Some(kt) = &a.keytab {
        let keytab = Keytab::read(kt).map_err(|e| format!("keytab {}: {e}", kt.display()))?;
        let keys = keytab.keys_for(&principal);
        if keys.is_empty() {
            let have: Vec<String> = keytab.principals().iter().map(|p| p.to_string()).collect();
            return Err(format!(
                "keytab {} has no usable key for {principal} (it holds: {})",
                kt.display(),
                if have.is_empty() {
                    "nothing".to_string()
                } else {
                    have.join(", ")
                }
            ));
        }
        Secret::Keys(keys)
    } else {
        return Err("give --password-file or --keytab".into());
    };
    let mode = parse_mode(&a.mode)?;
    let opts = AsOptions {
        lifetime: Duration::from_secs(a.lifetime),
        renew_life: (a.renewable > 0).then(|| Duration::from_secs(a.renewable)),
        ..super::args::as_options(&client)?
    };
    let path = a.cache.path()?;
    let tgt = client
        .as_exchange(principal, secret, opts)
        .await
        .map_err(|e| e.to_string())?;
    let cc = convert::new_cache(&tgt);
    cc.write_atomic(&path, mode)
        .map_err(|e| format!("cannot write the credential cache: {e}"))?;
    Ok(())
}
