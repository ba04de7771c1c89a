//! The HTTP client the AWS SDK sends its (already signed) requests through: hyper 1 with
//! rustls and the pure-Rust `graviola` crypto provider, trusting the system CA bundle. Plain
//! `http://` endpoints (a local emulator) work too.
//!
//! This is only the transport adapter the SDK asks its users to supply when they turn off its
//! default (C-based) TLS stack: signing, retries, timeouts per operation, endpoint resolution and
//! credential loading all stay in the SDK.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The system CA bundle (Debian/Ubuntu layout); `SSL_CERT_FILE` overrides it.
pub const SYSTEM_CA_BUNDLE: &str = tls_roots::SYSTEM_CA_BUNDLE;

/// Connect timeout when the SDK gives none.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type HyperClient = Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>;

fn build_client() -> Result<HyperClient, String> {
    let path = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| SYSTEM_CA_BUNDLE.into());
    let roots = match tls_roots::load(&path) {
        Ok((r, _)) => r,
        Err(e) => {
            // Plain-HTTP endpoints still work; HTTPS then fails naming the unknown issuer.
            tracing::warn!(error = %e, "no CA bundle for HTTPS to AWS");
            RootCertStore::empty()
        }
    };
    let provider = Arc::new(rustls_graviola::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut tcp = TcpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(DEFAULT_CONNECT_TIMEOUT));
    tcp.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https))
}

/// The process-wide client (one connection pool, one parse of the CA bundle); an error names
/// what in the TLS set-up failed.
pub fn shared_client() -> Result<SharedHttpClient, String> {
    static CLIENT: OnceLock<Result<SharedHttpClient, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            build_client().map(|client| SharedHttpClient::new(RustlsHttpClient { client }))
        })
        .clone()
}

/// An [`HttpClient`] over hyper + rustls (graviola).
#[derive(Clone)]
pub struct RustlsHttpClient {
    client: HyperClient,
}

impl std::fmt::Debug for RustlsHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RustlsHttpClient(hyper, rustls+graviola)")
    }
}

impl HttpClient for RustlsHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            client: self.client.clone(),
            connect_timeout: settings.connect_timeout(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Clone)]
struct Connector {
    client: HyperClient,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

fn classify(e: hyper_util::client::legacy::Error) -> ConnectorError {
    if e.is_connect() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        // The TCP connector has its own connect timeout; the whole exchange is bounded by the
        // connect + read timeouts the SDK configured (or the TCP default alone).
        let limit = match (self.connect_timeout, self.read_timeout) {
            (None, None) => None,
            (c, r) => {
                Some(c.unwrap_or(DEFAULT_CONNECT_TIMEOUT) + r.unwrap_or(Duration::from_secs(60)))
            }
        };
        HttpConnectorFuture::new(async move {
            let req = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let send = client.request(req);
            let resp = match limit {
                Some(d) => tokio::time::timeout(d, send).await.map_err(|_| {
                    ConnectorError::timeout(format!("no HTTP response within {d:?}").into())
                })?,
                None => send.await,
            }
            .map_err(classify)?;
            let (parts, body) = resp.into_parts();
            let resp = http::Response::from_parts(parts, SdkBody::from_body_1_x(body));
            HttpResponse::try_from(resp).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}
