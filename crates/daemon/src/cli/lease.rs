//! `gmsa lease add|list|delete|renew`: talk to a running credentials-fetcherd over its socket.

use crate::server::proto::*;
use std::path::PathBuf;

/// `gmsa lease` subcommands.
#[derive(Debug, clap::Args)]
pub struct LeaseArgs {
    /// The daemon's socket (default: $CREDENTIALS_FETCHER_HOST, else the standard path).
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: LeaseCommand,
}

/// Lease operations.
#[derive(Debug, clap::Subcommand)]
pub enum LeaseCommand {
    /// Create a lease for one or more credspec files (domain-joined, or domainless with --user).
    Add {
        /// Credspec JSON files.
        #[arg(required = true)]
        credspecs: Vec<PathBuf>,
        /// Domainless: the AD user allowed to read the gMSA password.
        #[arg(long, requires_all = ["password_file", "domain"])]
        user: Option<String>,
        /// Domainless: file holding the user's password (`-` for standard input).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Domainless: the user's domain.
        #[arg(long)]
        domain: Option<String>,
    },
    /// List the leases in the krbdir, one line per ticket, ending with its renewal state
    /// (`renewal: ok`, `renewal: waiting for credentials since ...`, `renewal: failing since ...`).
    List {
        /// The krbdir (default: $CF_KRB_DIR, else /var/credentials-fetcher/krbdir).
        #[arg(long)]
        krbdir: Option<PathBuf>,
    },
    /// Delete a lease.
    Delete {
        /// The lease id.
        lease_id: String,
    },
    /// Renew every ticket of a domainless user.
    Renew {
        /// The AD user.
        #[arg(long)]
        user: String,
        /// File holding the user's password (`-` for standard input).
        #[arg(long)]
        password_file: PathBuf,
        /// The user's domain.
        #[arg(long)]
        domain: String,
    },
    /// Call HealthCheck and print its status ("OK" while the daemon can serve), then name every
    /// lease whose renewal is not working (failing and retrying, waiting for credentials, or
    /// its timer restarted), one line each: `<lease>  <gMSA>  <state>`. Exits 1 when the daemon
    /// does not answer OK or a lease is named.
    Health {
        /// The krbdir (default: $CF_KRB_DIR, else /var/credentials-fetcher/krbdir).
        #[arg(long)]
        krbdir: Option<PathBuf>,
    },
}

fn krbdir(a: &Option<PathBuf>) -> PathBuf {
    a.clone()
        .or_else(|| std::env::var_os("CF_KRB_DIR").map(PathBuf::from))
        .unwrap_or_else(|| crate::server::config::DEFAULT_KRBDIR.into())
}

fn socket(a: &Option<PathBuf>) -> PathBuf {
    if let Some(s) = a {
        return s.clone();
    }
    std::env::var("CREDENTIALS_FETCHER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| crate::server::config::DEFAULT_SOCKET.into())
}

fn password(p: &PathBuf) -> Result<String, String> {
    let b = super::args::read_password(p)?;
    String::from_utf8(b.to_vec()).map_err(|_| "the password is not UTF-8".into())
}

/// Runs a lease subcommand.
pub async fn run(a: LeaseArgs) -> Result<(), String> {
    let path = socket(&a.socket);
    if let LeaseCommand::List { krbdir: dir } = &a.command {
        let root = krbdir(dir);
        let ids = crate::server::lease::scan(&root).map_err(|e| e.to_string())?;
        for id in ids {
            // The renewal column: "ok", or the daemon's note of why it is not renewing normally
            // (waiting for credentials after a refused login, failing and retrying, or a
            // restarted timer).
            let renewal = crate::server::manager::read_renewal_state(&root, &id)
                .unwrap_or_else(|| "ok".into());
            match crate::server::lease::Metadata::read(&root, &id) {
                Ok(md) => {
                    for t in md.tickets {
                        let user = if t.domainless_user.is_empty() {
                            "(machine)".to_string()
                        } else if t.domainless_user_domain.is_empty() {
                            t.domainless_user.clone()
                        } else {
                            // A user of another domain or forest (through a trust).
                            format!("{}@{}", t.domainless_user, t.domainless_user_domain)
                        };
                        println!(
                            "{id}  {}  {}  {}  {}  renewal: {renewal}",
                            t.service_account_name,
                            t.domain_name,
                            user,
                            t.dir().display()
                        );
                    }
                }
                Err(e) => println!("{id}  unreadable: {e}"),
            }
        }
        return Ok(());
    }
    let mut c = crate::server::connect(&path)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", path.display()))?;
    let st = |s: tonic::Status| format!("{:?}: {}", s.code(), s.message());
    match a.command {
        LeaseCommand::Add {
            credspecs,
            user,
            password_file,
            domain,
        } => {
            let mut contents = Vec::new();
            for p in &credspecs {
                contents
                    .push(std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?);
            }
            let (id, paths) = match (user, password_file, domain) {
                (Some(username), Some(pf), Some(domain)) => {
                    let r = c
                        .add_non_domain_joined_kerberos_lease(
                            CreateNonDomainJoinedKerberosLeaseRequest {
                                credspec_contents: contents,
                                username,
                                password: password(&pf)?,
                                domain,
                            },
                        )
                        .await
                        .map_err(st)?
                        .into_inner();
                    (r.lease_id, r.created_kerberos_file_paths)
                }
                _ => {
                    let r = c
                        .add_kerberos_lease(CreateKerberosLeaseRequest {
                            credspec_contents: contents,
                        })
                        .await
                        .map_err(st)?
                        .into_inner();
                    (r.lease_id, r.created_kerberos_file_paths)
                }
            };
            println!("lease {id}");
            paths.iter().for_each(|p| println!("{p}"));
        }
        LeaseCommand::Delete { lease_id } => {
            let r = c
                .delete_kerberos_lease(DeleteKerberosLeaseRequest { lease_id })
                .await
                .map_err(st)?
                .into_inner();
            println!(
                "deleted lease {} ({} tickets)",
                r.lease_id,
                r.deleted_kerberos_file_paths.len()
            );
        }
        LeaseCommand::Renew {
            user,
            password_file,
            domain,
        } => {
            let r = c
                .renew_non_domain_joined_kerberos_lease(RenewNonDomainJoinedKerberosLeaseRequest {
                    username: user,
                    password: password(&password_file)?,
                    domain,
                })
                .await
                .map_err(st)?
                .into_inner();
            r.renewed_kerberos_file_paths
                .iter()
                .for_each(|p| println!("{p}"));
        }
        LeaseCommand::Health { krbdir: dir } => {
            let r = c
                .health_check(HealthCheckRequest {
                    service: "cf".into(),
                })
                .await
                .map_err(st)?
                .into_inner();
            println!("{}", r.status);
            let root = krbdir(&dir);
            let mut named = 0;
            for id in crate::server::lease::scan(&root).map_err(|e| e.to_string())? {
                let Some(state) = crate::server::manager::read_renewal_state(&root, &id) else {
                    continue;
                };
                let gmsas = crate::server::lease::Metadata::read(&root, &id)
                    .map(|md| {
                        md.tickets
                            .iter()
                            .map(|t| t.service_account_name.clone())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_else(|_| "(unreadable metadata)".into());
                println!("{id}  {gmsas}  renewal: {state}");
                named += 1;
            }
            if r.status != "OK" {
                return Err(format!("the daemon answered {:?}", r.status));
            }
            if named > 0 {
                return Err(format!(
                    "{named} lease(s) whose renewal is not working (listed above)"
                ));
            }
        }
        LeaseCommand::List { .. } => {}
    }
    Ok(())
}
