//! `credentials-fetcherd`: drop-in replacement for aws/credentials-fetcher.
use clap::Parser;
use credentials_fetcherd::server::{self, config};
use std::path::PathBuf;
use std::process::ExitCode;

/// gMSA Kerberos tickets for containers, served to the ECS agent over gRPC on a Unix socket.
#[derive(Debug, Parser)]
#[command(name = "credentials-fetcherd", version, about)]
struct Args {
    /// Call HealthCheck on the daemon's socket and exit 0 if it answers OK, else 1.
    #[arg(long)]
    healthcheck: bool,
    /// Decode upstream's self-test gMSA password blob and exit.
    #[arg(long = "self_test")]
    self_test: bool,
    /// Log level (error, warn, info, debug, trace); RUST_LOG overrides. Third-party crates
    /// are capped at info (ldap3_proto, rustls, h2, hyper, tonic, tower, aws*: warn) whatever
    /// the level, so no level logs a secret.
    #[arg(long, default_value = "info")]
    verbosity: String,
    /// AWS Secrets Manager secret with the domainless user's credentials (stored; not fetched yet).
    #[arg(short = 's', long = "aws_sm_secret_name")]
    aws_sm_secret_name: Option<String>,
    /// Unix socket path (default: CREDENTIALS_FETCHER_HOST, else /var/credentials-fetcher/socket/credentials_fetcher.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Group owning the socket (name or gid; `none`); default ec2-user when it exists.
    #[arg(long)]
    socket_group: Option<String>,
    /// Directory of leases (default: CF_KRB_DIR, else /var/credentials-fetcher/krbdir).
    #[arg(long)]
    krbdir: Option<PathBuf>,
    /// Mode of the ccache files, octal (default: CF_KRB5CC_MODE, else 600). A mode that lets
    /// "other" read (e.g. 644) is refused at start unless CF_KRB5CC_MODE_ALLOW_WORLD_READABLE=1
    /// is set; prefer 640 with --ccache-group.
    #[arg(long)]
    ccache_mode: Option<String>,
    /// Group of the ccache files and ticket directories (default: CF_KRB5CC_GID, else unchanged).
    #[arg(long)]
    ccache_group: Option<String>,
    /// Host keytab for domain-joined mode (default: KRB5_KTNAME, else /etc/krb5.keytab).
    #[arg(long)]
    keytab: Option<PathBuf>,
    /// Principal to use from the keytab (default: CF_MACHINE_PRINCIPAL, else the credspec realm's
    /// first single-component principal such as HOST$, else the first; see the login module).
    #[arg(long)]
    machine_principal: Option<String>,
    /// Domain controller(s) HOST[:PORT][,HOST[:PORT]...], tried in order (default:
    /// DOMAIN_CONTROLLER_GMSA, else DNS SRV, DCs of our AD site first).
    #[arg(long)]
    dc: Option<String>,
    /// DNS server IP:PORT for finding DCs and KDCs (default: CF_DNS_SERVER, else the system's).
    #[arg(long)]
    dns_server: Option<String>,
    /// JSON file {"username","password"[,"domainName"]} with the domainless user's credentials.
    #[arg(long)]
    domainless_secret_file: Option<PathBuf>,
    /// Credspec to lease at start-up, PATH[:LEASEID] (default: CF_CRED_SPEC_FILE).
    #[arg(long)]
    cred_spec_file: Option<String>,
    /// Longest an Add*/Renew* call may take, in seconds (default: CF_RPC_DEADLINE_SECS, else
    /// 15, under the ECS agent's 20 s attempt); a shorter grpc-timeout of the caller wins. A
    /// lease whose call ends first (deadline or client gone) is rolled back.
    #[arg(long)]
    rpc_deadline_secs: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.self_test {
        return match server::selftest::run() {
            Ok(msg) => {
                println!("{msg}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("self test FAILED: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&args.verbosity))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Whatever RUST_LOG or --verbosity say, third-party crates stay at info (those that see
    // protocol bytes, e.g. ldap3_proto with the gMSA password, at warn): see logging.
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(filter)
                .with_filter(credentials_fetcherd::logging::third_party_cap()),
        )
        .init();

    let flags = config::Flags {
        socket: args.socket,
        krbdir: args.krbdir,
        socket_group: args.socket_group,
        ccache_mode: args.ccache_mode,
        ccache_group: args.ccache_group,
        keytab: args.keytab,
        machine_principal: args.machine_principal,
        dc: args.dc,
        dns_server: args.dns_server,
        aws_sm_secret_name: args.aws_sm_secret_name,
        domainless_secret_file: args.domainless_secret_file,
        cred_spec_file: args.cred_spec_file,
        rpc_deadline_secs: args.rpc_deadline_secs,
        ..config::Flags::default()
    };
    let ecs = std::fs::read_to_string(config::ECS_CONFIG).ok();
    let etc_group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let cfg = match config::Config::resolve(
        &flags,
        &|k| std::env::var(k).ok(),
        ecs.as_deref(),
        &etc_group,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("credentials-fetcherd: {e}");
            return ExitCode::from(2);
        }
    };
    // Socket activation: taken while this is the only thread (it edits the environment).
    let activated = if args.healthcheck {
        None
    } else {
        match server::listen::take_activated() {
            Ok(l) => l,
            Err(e) => {
                eprintln!("credentials-fetcherd: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credentials-fetcherd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.healthcheck {
        let ok = rt.block_on(async {
            let fut = async {
                let mut c = server::connect(&cfg.socket).await.ok()?;
                let r = c
                    .health_check(server::proto::HealthCheckRequest {
                        service: "cf".into(),
                    })
                    .await
                    .ok()?;
                Some(r.into_inner().status == "OK")
            };
            tokio::time::timeout(std::time::Duration::from_secs(5), fut)
                .await
                .ok()
                .flatten()
                .unwrap_or(false)
        });
        println!("{}", if ok { "OK" } else { "NOT OK" });
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    match rt.block_on(server::serve_on(cfg, activated)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "exiting");
            eprintln!("credentials-fetcherd: {e}");
            ExitCode::FAILURE
        }
    }
}
