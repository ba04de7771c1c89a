//! The `gmsa` command-line tool.

mod blob;
mod fetch;
mod kinit;
mod klist;
mod kvno;
mod lease;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Kerberos and gMSA credentials, without spawning kinit.
#[derive(Debug, Parser)]
#[command(name = "gmsa", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Get a ticket-granting ticket with a password or a keytab and store it in a credential cache.
    Kinit(kinit::KinitArgs),
    /// Get a service ticket with the cache's TGT and store it in the cache.
    Kvno(kvno::KvnoArgs),
    /// List a credential cache (ours or MIT's).
    Klist(klist::KlistArgs),
    /// The whole chain: log in, read the gMSA's password over sealed LDAP, get its TGT into a ccache.
    Fetch(fetch::FetchArgs),
    /// Check each step of the chain and say which one fails and what to do.
    Doctor(fetch::DoctorArgs),
    /// gMSA password blobs.
    #[command(subcommand)]
    Blob(blob::BlobCommand),
    /// Leases of a running credentials-fetcherd (over its Unix socket).
    Lease(lease::LeaseArgs),
}

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
    fn path(&self) -> Result<PathBuf, String> {
        ccache::resolve_path(self.cache.as_deref()).map_err(|e| e.to_string())
    }
}

impl KdcArgs {
    fn client(&self) -> Result<krb5_proto::client::Client, String> {
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

/// Runs the CLI and returns the process exit code; errors are printed as one line, never a panic.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gmsa: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Kinit(a) => kinit::run(a).await,
            Command::Kvno(a) => kvno::run(a).await,
            Command::Klist(a) => klist::run(a),
            Command::Blob(c) => blob::run(c),
            Command::Fetch(a) => fetch::run_fetch(a).await,
            Command::Doctor(a) => fetch::run_doctor(a).await,
            Command::Lease(a) => lease::run(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("gmsa: {msg}");
            ExitCode::FAILURE
        }
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
