//! The `credentials-fetcherd` daemon: a gRPC server on a Unix socket, wire-compatible with
//! aws/credentials-fetcher and the ECS agent.
//!
//! * [`proto`]: the generated gRPC code (package `credentialsfetcher`).
//! * [`lease`]: lease ids, directory layout, upstream's metadata file.
//! * [`error`]: [`error::LeaseError`] and its classes (the gRPC status codes).
//! * [`specs`]: the credspecs of one request, parsed once.
//! * [`manager`]: the lease state machine and renewal timers.
//! * [`source`]: the [`source::TicketSource`] trait and the [`source::Login`] it uses;
//!   [`kerberos`]: its Kerberos/LDAP implementation.
//! * [`secret`]: the domainless user's credentials and the [`secret::SecretSource`]s (a file,
//!   AWS Secrets Manager).
//! * [`config`]: flags, environment and /etc/ecs/ecs.config.
//! * [`service`]: the RPC handlers, including the ARN leases (S3/SSM credspecs).
//! * [`s2k`]: the cache of derived password keys, derived off the async workers.
//! * [`listen`]: the socket, from systemd socket activation or bound by the daemon.
//! * [`authority`]: any HTTP/2 `:authority` accepted on the socket (grpc-core clients).
//! * [`preface`]: connections that send no HTTP/2 preface within 10 s are closed; silent
//!   HTTP/2 connections are pinged and closed when they do not answer.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use credentials_fetcherd::server::{connect, proto::HealthCheckRequest};
//! let mut client = connect("/var/credentials-fetcher/socket/credentials_fetcher.sock".as_ref()).await?;
//! let status = client.health_check(HealthCheckRequest { service: "cf".into() }).await?.into_inner().status;
//! assert_eq!(status, "OK");
//! # Ok(()) }
//! ```

/// Implements `AsyncWrite` and tonic's `Connected` for a connection wrapper by forwarding to
/// its `inner` field (the wrappers change only what the client sends).
macro_rules! forward_writes_to_inner {
    ($wrapper:ident) => {
        impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<S> {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                tokio::io::AsyncWrite::poll_write(
                    std::pin::Pin::new(&mut self.get_mut().inner),
                    cx,
                    buf,
                )
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                tokio::io::AsyncWrite::poll_write_vectored(
                    std::pin::Pin::new(&mut self.get_mut().inner),
                    cx,
                    bufs,
                )
            }

            fn is_write_vectored(&self) -> bool {
                tokio::io::AsyncWrite::is_write_vectored(&self.inner)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                tokio::io::AsyncWrite::poll_flush(std::pin::Pin::new(&mut self.get_mut().inner), cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                tokio::io::AsyncWrite::poll_shutdown(
                    std::pin::Pin::new(&mut self.get_mut().inner),
                    cx,
                )
            }
        }

        impl<S: tonic::transport::server::Connected> tonic::transport::server::Connected
            for $wrapper<S>
        {
            type ConnectInfo = S::ConnectInfo;

            fn connect_info(&self) -> Self::ConnectInfo {
                tonic::transport::server::Connected::connect_info(&self.inner)
            }
        }
    };
}

pub mod authority;
pub mod clock;
pub mod config;
pub mod error;
#[cfg(any(test, feature = "test-fake"))]
pub mod fake;
pub mod kerberos;
pub mod lease;
pub mod listen;
pub mod manager;
pub mod preface;
pub mod proto;
pub mod refusals;
pub mod s2k;
pub mod secret;
pub mod selftest;
pub mod service;
pub mod source;
pub mod specs;
pub mod systemd;

use config::Config;
use error::{ErrorKind, LeaseError};
use lease::Layout;
use manager::{LeaseLogin, Manager, ManagerConfig, RenewPolicy};
use proto::credentials_fetcher_service_client::CredentialsFetcherServiceClient;
use proto::credentials_fetcher_service_server::CredentialsFetcherServiceServer;
use secret::{AwsSecretSource, FileSecretSource, SecretSource};
use source::{Login, TicketSource};
use specs::LeaseSpecs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Daemon start-up failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The socket could not be set up.
    #[error("socket {path}: {cause}")]
    Socket {
        /// The socket path.
        path: String,
        /// The cause.
        cause: String,
    },
    /// The krbdir could not be used.
    #[error("{0}")]
    Lease(#[from] LeaseError),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Connects a gRPC client to the daemon's Unix socket.
pub async fn connect(
    socket: &Path,
) -> Result<CredentialsFetcherServiceClient<tonic::transport::Channel>, tonic::transport::Error> {
    let path = socket.to_path_buf();
    let channel = tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(path).await?,
                ))
            }
        }))
        .await?;
    Ok(CredentialsFetcherServiceClient::new(channel))
}

/// The ticket source for `cfg`.
pub fn ticket_source(cfg: &Config) -> Result<Arc<dyn TicketSource>, LeaseError> {
    if cfg.test_fake_tickets {
        #[cfg(feature = "test-fake")]
        {
            tracing::warn!("CF_TEST_FAKE_TICKETS=1: issuing synthetic tickets (tests only)");
            return Ok(Arc::new(fake::FakeSource::default()));
        }
        #[cfg(not(feature = "test-fake"))]
        return Err(LeaseError::new(
            ErrorKind::FailedPrecondition,
            "choosing the ticket source",
            "CF_TEST_FAKE_TICKETS=1 needs a daemon built with the test-fake feature (tests only)",
        ));
    }
    Ok(Arc::new(kerberos::KerberosSource::for_config(cfg)?))
}

/// Where the domainless user comes from: the AWS Secrets Manager secret
/// (`CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA` / `--aws_sm_secret_name`), else the
/// file `CF_DOMAINLESS_SECRET_FILE`, else nowhere.
pub fn secret_source(cfg: &Config) -> Option<Arc<dyn SecretSource>> {
    if let Some(name) = cfg
        .aws_sm_secret_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        return Some(Arc::new(AwsSecretSource::new(name)));
    }
    cfg.domainless_secret_file
        .clone()
        .map(|path| Arc::new(FileSecretSource { path }) as Arc<dyn SecretSource>)
}

/// The manager for `cfg` with `source`.
pub fn manager(cfg: &Config, source: Arc<dyn TicketSource>) -> Manager {
    manager_with_secret(cfg, source, secret_source(cfg))
}

/// The manager for `cfg` with `source` and the domainless `secret`.
pub fn manager_with_secret(
    cfg: &Config,
    source: Arc<dyn TicketSource>,
    secret: Option<Arc<dyn SecretSource>>,
) -> Manager {
    let mut renew = RenewPolicy::default();
    if let Some(s) = cfg.test_renew_secs {
        renew.fixed = Some(Duration::from_secs(s));
        renew.retry_min = Duration::from_secs(1);
        renew.retry_max = Duration::from_secs(s.max(1));
    }
    Manager::new(
        ManagerConfig {
            layout: Layout {
                root: cfg.krbdir.clone(),
            },
            ccache_mode: cfg.ccache_mode,
            ccache_gid: cfg.ccache_gid,
            domain_joined: Login::DomainJoined {
                keytab: cfg.keytab.clone(),
                principal: cfg.machine_principal.clone(),
            },
            gmsa_dn: cfg.gmsa_dn.clone(),
            gmsa_ou: cfg.gmsa_ou.clone(),
            renew,
        },
        source,
        secret,
    )
}

/// Creates the start-up lease from `CF_CRED_SPEC_FILE` (domainless when a secret is set).
async fn startup_lease(
    cfg: &Config,
    manager: &Manager,
    secret: Option<Arc<dyn SecretSource>>,
) -> Result<(), LeaseError> {
    let Some((path, id)) = &cfg.cred_spec_file else {
        return Ok(());
    };
    if let Some(id) = id
        && manager.lease(id).is_some()
    {
        tracing::info!(lease = %id, "start-up lease already present");
        return Ok(());
    }
    let step = format!("reading CF_CRED_SPEC_FILE {}", path.display());
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| LeaseError::new(ErrorKind::FailedPrecondition, step.clone(), e))?;
    if meta.len() > crate::credspec::MAX_CREDSPEC_LEN as u64 {
        return Err(LeaseError::invalid(step, "the file is too large"));
    }
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| LeaseError::new(ErrorKind::FailedPrecondition, step.clone(), e))?;
    let specs =
        LeaseSpecs::parse(&[text]).map_err(|e| LeaseError::invalid(step.clone(), e.cause))?;
    let login = match &secret {
        Some(s) => LeaseLogin::Domainless(s.credentials(specs.domain()).await?),
        None => LeaseLogin::DomainJoined,
    };
    let added = manager.add(specs, login, id.clone()).await?.commit()?;
    tracing::info!(lease = %added.lease_id, "start-up lease created from CF_CRED_SPEC_FILE");
    Ok(())
}

/// Re-reads the secret every 10 minutes (`CF_TEST_RENEW_SECS` in tests) for each domain with
/// domainless tickets, so renewals use a rotated password.
fn spawn_secret_refresh(cfg: &Config, manager: &Manager, secret: Arc<dyn SecretSource>) {
    let every = Duration::from_secs(cfg.test_renew_secs.unwrap_or(600).max(1));
    let manager = manager.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let mut domains: Vec<String> = manager
                .lease_ids()
                .iter()
                .filter_map(|id| manager.lease(id))
                .flat_map(|md| md.tickets)
                .filter(|t| !t.domainless_user.is_empty() && t.credential_arn.is_empty())
                .map(|t| t.user_domain().to_owned())
                .collect();
            domains.sort();
            domains.dedup();
            for d in domains {
                match secret.credentials(&d).await {
                    Ok(c) => manager.remember_user(c),
                    Err(e) => tracing::warn!(error = %e, "re-reading the domainless secret failed"),
                }
            }
        }
    });
}

/// Runs the daemon until SIGTERM or SIGINT, on a socket it binds itself.
pub async fn serve(cfg: Config) -> Result<(), ServerError> {
    serve_on(cfg, None).await
}

/// Runs the daemon until SIGTERM or SIGINT on `activated`, the socket from systemd socket
/// activation ([`listen::take_activated`], never unlinked), else on `cfg.socket`, bound by the
/// daemon and removed when it stops.
pub async fn serve_on(
    cfg: Config,
    activated: Option<std::os::unix::net::UnixListener>,
) -> Result<(), ServerError> {
    let kerberos = match cfg.test_fake_tickets {
        false => Some(Arc::new(kerberos::KerberosSource::for_config(&cfg)?)),
        true => None,
    };
    let source: Arc<dyn TicketSource> = match &kerberos {
        Some(k) => k.clone(),
        None => ticket_source(&cfg)?,
    };
    let secret = secret_source(&cfg);
    let manager = manager_with_secret(&cfg, source, secret.clone());
    let n = manager.recover()?;
    tracing::info!(leases = n, krbdir = %cfg.krbdir.display(), "state recovered");
    // The AWS secret (upstream's "secret vault" mode) also serves AddKerberosLease.
    let sm_secret = secret.clone().filter(|_| cfg.aws_sm_secret_name.is_some());
    if let Some(s) = &sm_secret {
        tracing::info!(secret = ?cfg.aws_sm_secret_name, "domainless user from AWS Secrets Manager");
        spawn_secret_refresh(&cfg, &manager, s.clone());
    }
    if let Some((old, new)) = listen::raise_fd_limit() {
        tracing::info!(
            old,
            new,
            "raised the open-file limit (RLIMIT_NOFILE) to its hard limit"
        );
    }
    let listener = listen::listener(activated, &cfg.socket, cfg.socket_gid)?;
    tracing::info!(
        socket = %listener.path().unwrap_or(&cfg.socket).display(),
        activated = listener.is_activated(),
        "listening"
    );
    let (listener, created) = listener.into_tokio().map_err(|e| ServerError::Socket {
        path: cfg.socket.display().to_string(),
        cause: e.to_string(),
    })?;
    {
        let (cfg, manager, secret) = (cfg.clone(), manager.clone(), secret.clone());
        tokio::spawn(async move {
            if let Err(e) = startup_lease(&cfg, &manager, secret).await {
                tracing::error!(error = %e, "the CF_CRED_SPEC_FILE lease was not created");
            }
        });
    }
    if let Err(e) = systemd::notify("READY=1") {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
    if let Some(k) = &kerberos {
        k.spawn_prewarm(&cfg, secret.clone());
    }
    if let Some(every) = systemd::watchdog_interval() {
        let m = manager.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match m.healthy() {
                    Ok(()) => {
                        let _ = systemd::notify("WATCHDOG=1");
                    }
                    Err(e) => tracing::error!(error = %e, "unhealthy: not pinging the watchdog"),
                }
            }
        });
    }
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("stopping");
        let _ = systemd::notify("STOPPING=1");
    };
    let result = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(preface::KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(preface::KEEPALIVE_TIMEOUT))
        .add_service(CredentialsFetcherServiceServer::new(
            service::Service::with_secret_source(manager.clone(), sm_secret)
                .with_deadline(cfg.rpc_deadline),
        ))
        .serve_with_incoming_shutdown(
            tokio_stream::StreamExt::map(
                tokio_stream::wrappers::UnixListenerStream::new(listener),
                |conn| conn.map(|c| authority::AuthorityFix::new(preface::PrefaceDeadline::new(c))),
            ),
            shutdown,
        )
        .await;
    manager.shutdown();
    // Only a socket this process bound; an activated one belongs to its holder (systemd).
    if let Some(path) = created {
        let _ = std::fs::remove_file(path);
    }
    result.map_err(ServerError::from)
}
