//! Options and helpers shared by the `gmsa` subcommands (below all of them, so no subcommand
//! imports the dispatcher in cli/mod.rs).

use std::io::Read as _;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Options shared by commands that talk to a KDC.
#[derive(Debug, clap::Args)]
pub struct KdcArgs {
    /// KDC to use, as HOST[:PORT] (repeat for failover); default: krb5.conf, then DNS SRV records.
    #[arg(long = "kdc", value_name = "HOST[:PORT]")]
    pub kdc: Vec<String>,
    /// Seconds to wait for each KDC before trying the next.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub timeout: f64,
}

/// The ccache option.
#[derive(Debug, clap::Args)]
pub struct CacheArgs {
    /// Credential cache (FILE:path or a path); default: $KRB5CCNAME, else /tmp/krb5cc_<uid>.
    #[arg(short = 'c', long = "cache", value_name = "CCACHE")]
    pub cache: Option<String>,
}

impl CacheArgs {
    pub(crate) fn path(&self) -> Result<PathBuf, String> {
        ccache::resolve_path(self.cache.as_deref()).map_err(|e| e.to_string())
    }
}

impl KdcArgs {
    pub(crate) fn client(&self) -> Result<krb5_proto::client::Client, String> {
        let conf = krb5_proto::config::Krb5Conf::load_default().map_err(|e| e.to_string())?;
        let mut client = krb5_proto::client::Client::new(conf);
        if !self.kdc.is_empty() {
            let kdcs = self
                .kdc
                .iter()
                .map(|k| {
                    krb5_proto::transport::KdcAddr::parse(k).map_err(|e| format!("--kdc {k}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            client = client.with_kdcs(kdcs);
        }
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout <= 600.0) {
            return Err("--timeout must be between 0 and 600 seconds".into());
        }
        Ok(client.with_timeout(std::time::Duration::from_secs_f64(self.timeout)))
    }
}

/// `--mode`: octal permission bits only (no setuid/setgid/sticky: a keytab or ccache never
/// needs them, and larger numbers must not be silently truncated), readable by the owner.
pub(crate) fn parse_mode(text: &str) -> Result<u32, String> {
    match u32::from_str_radix(text, 8) {
        Ok(m) if m <= 0o777 && m & 0o400 != 0 => Ok(m),
        _ => Err(format!(
            "--mode {text}: give octal permission bits from 400 to 777 that let the owner read \
             the file, e.g. 600 (the default) or 640"
        )),
    }
}

/// A password from a file (`-`: standard input), at most 64 KiB, one trailing newline dropped.
pub(crate) fn read_password(path: &PathBuf) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut bytes = if path.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().take(64 * 1024), &mut v)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        Zeroizing::new(v)
    } else {
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot read password file {}: {e}", path.display()))?;
        if meta.len() > 64 * 1024 {
            return Err(format!(
                "password file {} is larger than 64 KiB",
                path.display()
            ));
        }
        Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| format!("cannot read password file {}: {e}", path.display()))?,
        )
    };
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    Ok(bytes)
}

/// AS options under krb5.conf's enctype policy (`permitted_enctypes`, `default_tkt_enctypes`,
/// `allow_rc4`): every login of the CLI goes through this.
pub(crate) fn as_options(
    client: &krb5_proto::client::Client,
) -> Result<krb5_proto::as_exchange::AsOptions, String> {
    let policy = krb5_proto::etype_policy::EnctypePolicy::from_conf(client.conf())
        .map_err(|e| format!("krb5.conf: {e}"))?;
    Ok(krb5_proto::as_exchange::AsOptions {
        enctype_policy: policy,
        ..Default::default()
    })
}
