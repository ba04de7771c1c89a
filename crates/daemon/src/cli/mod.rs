//! The `gmsa` command-line tool.

mod args;
mod blob;
mod fetch;
mod kinit;
mod klist;
mod kvno;
mod lease;

use clap::{Parser, Subcommand};
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
