//! An async LDAP connection to a domain controller (tokio): rootDSE, SASL/GSSAPI bind with a
//! security layer or over TLS (LDAPS), search, unbind.
//!
//! On plain TCP, after a successful bind every PDU in both directions travels sealed (or, with
//! the integrity-only test knob, signed) in SASL frames. Over LDAPS
//! ([`Connection::connect_ldaps`]) TLS protects everything; the bind carries RFC 5929
//! `tls-server-end-point` channel bindings and chooses no SASL layer. A search asking for
//! `msDS-ManagedPassword` is refused before anything is sent unless the connection is
//! confidential.
//!
//! ```no_run
//! # async fn demo(ticket: krb5_proto::Credentials) -> Result<(), msds_gmsa::ldap::LdapError> {
//! use std::time::Duration;
//! use msds_gmsa::ldap::conn::{Connection, Security};
//! use msds_gmsa::ldap::sasl::SaslConfig;
//!
//! let addr = "192.0.2.10:389".parse().unwrap();
//! let mut conn = Connection::connect("dc1.example.test", addr, Duration::from_secs(5)).await?;
//! let root = conn.root_dse().await?;
//! conn.bind_sasl_gssapi(ticket, SaslConfig::default()).await?; // ticket for ldap/dc1.example.test
//! assert_eq!(conn.security(), Security::SaslConfidentiality);
//! # let _ = root; conn.unbind().await
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use krb5_proto::Credentials;
use krb5_proto::gss::InitiatorContext;
use krb5_proto::rand::OsRng;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapResult,
    LdapResultCode, LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope, SaslCredentials,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zeroize::Zeroizing;

use super::sasl::{
    FrameDecoder, GssapiSasl, SaslAwaitingOffer, SaslConfig, SaslLayer, SecurityLayer,
    TLS_GSS_FLAGS,
};
use super::tls::{TlsClient, TlsInfo};
use super::{LdapError, append_secret, encode_message, result_code_name, take_message};

/// The attribute holding a gMSA's password blob.
pub const MANAGED_PASSWORD_ATTR: &str = "msDS-ManagedPassword";

/// Most entries one search may return before the connection gives up.
pub const MAX_SEARCH_ENTRIES: usize = 1000;

/// Transport security below LDAP.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TlsMode {
    /// Plain TCP (port 389); confidentiality comes from the SASL GSSAPI sealing layer.
    #[default]
    Plain,
    /// LDAPS: TLS from the first byte (port 636 by default). The DC's certificate must chain
    /// to a CA in `ca_file` (PEM), or in the system bundle
    /// ([`SYSTEM_CA_BUNDLE`](super::tls::SYSTEM_CA_BUNDLE)) when `None`, and name the DC host
    /// connected to. The bind carries `tls-server-end-point` channel bindings and uses no
    /// SASL layer.
    Ldaps {
        /// The CA certificate(s) to trust, PEM.
        ca_file: Option<PathBuf>,
    },
}

/// The protection of a connection's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Security {
    /// No bind yet: PDUs travel in clear.
    None,
    /// SASL GSSAPI integrity layer: signed, readable on the wire.
    SaslIntegrity,
    /// SASL GSSAPI confidentiality layer: sealed.
    SaslConfidentiality,
    /// TLS (LDAPS): encrypted, the server authenticated by its certificate; a SASL GSSAPI
    /// bind adds no layer.
    Tls,
}

impl Security {
    /// Whether traffic is encrypted (what the DC requires for `msDS-ManagedPassword`).
    pub fn is_confidential(self) -> bool {
        matches!(self, Security::SaslConfidentiality | Security::Tls)
    }
}

/// The rootDSE attributes this crate uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RootDse {
    /// `defaultNamingContext`: the domain's DN, the default search base.
    pub default_naming_context: Option<String>,
    /// `dnsHostName`: the DC's own FQDN (informational: the service principal is built from
    /// the name we connected to, never from this unauthenticated answer).
    pub dns_host_name: Option<String>,
    /// `supportedSASLMechanisms`.
    pub supported_sasl_mechanisms: Vec<String>,
}

impl RootDse {
    /// The attributes requested from the rootDSE.
    pub const ATTRS: [&'static str; 3] = [
        "defaultNamingContext",
        "dnsHostName",
        "supportedSASLMechanisms",
    ];

    /// Reads the attributes from a rootDSE entry (names compared case-insensitively; values
    /// that are not UTF-8 are ignored).
    pub fn from_entry(entry: &LdapSearchResultEntry) -> Self {
        let mut out = RootDse::default();
        for attr in &entry.attributes {
            let strings = attr
                .vals
                .iter()
                .filter_map(|v| std::str::from_utf8(v).ok().map(str::to_owned));
            if attr.atype.eq_ignore_ascii_case("defaultNamingContext") {
                out.default_naming_context = strings.take(1).next();
            } else if attr.atype.eq_ignore_ascii_case("dnsHostName") {
                out.dns_host_name = strings.take(1).next();
            } else if attr.atype.eq_ignore_ascii_case("supportedSASLMechanisms") {
                out.supported_sasl_mechanisms = strings.take(64).collect();
            }
        }
        out
    }

    /// Whether the server lists the GSSAPI mechanism.
    pub fn supports_gssapi(&self) -> bool {
        self.supported_sasl_mechanisms
            .iter()
            .any(|m| m.eq_ignore_ascii_case("GSSAPI"))
    }
}

/// Classifies a failed search result: `confidentialityRequired`, and `operationsError`
/// or any code whose text says an encrypted connection is needed (Samba: "Viewing
/// msDS-ManagedPassword requires an encrypted connection"; Windows: `0000202D`,
/// ERROR_DS_CONFIDENTIALITY_REQUIRED), become [`LdapError::ConfidentialityRequired`].
pub fn search_failure(dc: &str, res: &LdapResult) -> LdapError {
    let code = res.code.clone() as i64;
    let text = res.message.to_ascii_lowercase();
    if res.code == LdapResultCode::ConfidentialityRequired
        || text.contains("encrypted connection")
        || text.contains("confidentiality")
        || text.contains("0000202d")
    {
        return LdapError::ConfidentialityRequired(format!(
            "the DC {dc} refused the search with {} ({code}): {}",
            result_code_name(&res.code),
            res.message
        ));
    }
    LdapError::OperationFailed {
        op: "search",
        dc: dc.to_owned(),
        result_code: code,
        result_name: result_code_name(&res.code).to_owned(),
        message: res.message.clone(),
    }
}

/// The byte stream under LDAP.
#[derive(Debug)]
enum Transport {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// Only while a TLS handshake owns the socket (never observed afterwards).
    Taken,
}

impl Transport {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.read(buf).await,
            Transport::Tls(s) => s.read(buf).await,
            Transport::Taken => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Transport::Tcp(s) => s.write_all(data).await,
            Transport::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Transport::Taken => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            Transport::Tcp(s) => s.shutdown().await,
            Transport::Tls(s) => s.shutdown().await,
            Transport::Taken => Ok(()),
        }
    }
}

/// An LDAP connection to one DC. `Debug` leaves out the unsealed plaintext buffer (it holds
/// the answers, the password blob included).
pub struct Connection {
    stream: Transport,
    host: String,
    dc: String,
    timeout: Duration,
    next_id: i32,
    plain: Zeroizing<Vec<u8>>,
    frames: Option<FrameDecoder>,
    layer: Option<SecurityLayer>,
    tls: Option<TlsInfo>,
    channel_bindings_override: Option<Option<Vec<u8>>>,
    allow_unprotected_password_search: bool,
    waits: Vec<(&'static str, Duration)>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("stream", &self.stream)
            .field("host", &self.host)
            .field("dc", &self.dc)
            .field("timeout", &self.timeout)
            .field("next_id", &self.next_id)
            .field(
                "plain",
                &format_args!("<{} bytes redacted>", self.plain.len()),
            )
            .field("layer", &self.layer)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Most entries kept in [`Connection::round_trips`].
pub const MAX_ROUND_TRIP_LOG: usize = 64;

/// Runs `fut` under the connection's timeout.
async fn timed<T>(
    dc: &str,
    op: &'static str,
    timeout: Duration,
    fut: impl Future<Output = Result<T, LdapError>>,
) -> Result<T, LdapError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(LdapError::Timeout {
            dc: dc.to_owned(),
            op,
            timeout_ms: timeout.as_millis(),
        }),
    }
}

fn io_err(dc: &str, op: &'static str, e: &std::io::Error) -> LdapError {
    LdapError::Io {
        dc: dc.to_owned(),
        op,
        kind: e.kind(),
        message: e.to_string(),
    }
}

fn describe(op: &LdapOp) -> String {
    match op {
        LdapOp::BindResponse(r) => format!(
            "BindResponse {} ({}): {}",
            result_code_name(&r.res.code),
            r.res.code.clone() as i64,
            r.res.message
        ),
        LdapOp::SearchResultDone(r) => format!("SearchResultDone ({})", r.code.clone() as i64),
        LdapOp::SearchResultEntry(_) => "a SearchResultEntry".to_owned(),
        LdapOp::ExtendedResponse(r) => format!("ExtendedResponse {:?}", r.name),
        _ => "another LDAP operation".to_owned(),
    }
}

impl Connection {
    /// Connects to `addr` (the DC `host`, used in messages), within `timeout`; `timeout`
    /// also bounds every later request/response.
    pub async fn connect(
        host: &str,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<Self, LdapError> {
        let dc = format!("{host} ({addr})");
        let stream = timed(&dc, "connect", timeout, async {
            TcpStream::connect(addr)
                .await
                .map_err(|e| io_err(&dc, "connect", &e))
        })
        .await?;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream: Transport::Tcp(stream),
            host: host.to_owned(),
            dc,
            timeout,
            next_id: 1,
            plain: Zeroizing::new(Vec::new()),
            frames: None,
            layer: None,
            tls: None,
            channel_bindings_override: None,
            allow_unprotected_password_search: false,
            waits: Vec::new(),
        })
    }

    /// Connects to `addr` and runs the TLS handshake (LDAPS), verifying the certificate for
    /// `host` (the DC's DNS name, or an IP address literal the certificate lists). `timeout`
    /// bounds the connect and the handshake each, and every later request/response.
    pub async fn connect_ldaps(
        host: &str,
        addr: SocketAddr,
        timeout: Duration,
        tls: &TlsClient,
    ) -> Result<Self, LdapError> {
        Self::connect(host, addr, timeout)
            .await?
            .start_ldaps(tls)
            .await
    }

    /// Runs the TLS handshake on a freshly opened plain connection (implicit TLS, as LDAPS
    /// on port 636 expects: nothing may have been sent yet), verifying the certificate for
    /// [`host`](Self::host).
    pub async fn start_ldaps(mut self, tls: &TlsClient) -> Result<Self, LdapError> {
        if self.tls.is_some() || self.next_id != 1 || !self.plain.is_empty() {
            return Err(LdapError::Unexpected {
                dc: self.dc.clone(),
                expected: "TLS handshake",
                got: "a connection that already carried LDAP traffic or TLS (LDAPS starts TLS \
                      before any LDAP message)"
                    .to_owned(),
            });
        }
        let Transport::Tcp(tcp) = std::mem::replace(&mut self.stream, Transport::Taken) else {
            return Err(LdapError::Unexpected {
                dc: self.dc.clone(),
                expected: "TLS handshake",
                got: "a connection without its TCP stream".to_owned(),
            });
        };
        let (host, dc) = (self.host.clone(), self.dc.clone());
        let (stream, info) = timed(&dc, "TLS handshake", self.timeout, async {
            tls.handshake(&host, &dc, tcp).await
        })
        .await?;
        tracing::debug!(dc = %self.dc, protocol = %info.protocol, suite = %info.cipher_suite, "TLS established");
        self.stream = Transport::Tls(Box::new(stream));
        self.tls = Some(info);
        Ok(self)
    }

    /// The TLS session's details (channel bindings, version, suite) on an LDAPS connection.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// TEST ONLY: replaces the channel bindings a bind over TLS sends (`None`: none at all),
    /// to observe whether the DC enforces them.
    #[doc(hidden)]
    pub fn danger_override_channel_bindings_for_tests(&mut self, cb: Option<Vec<u8>>) {
        self.channel_bindings_override = Some(cb);
    }

    /// The DC's host name as given to [`connect`](Self::connect).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `host (address)`, as used in messages.
    pub fn dc(&self) -> &str {
        &self.dc
    }

    /// The protection of traffic on this connection.
    pub fn security(&self) -> Security {
        if self.tls.is_some() {
            return Security::Tls;
        }
        match self.layer.as_ref().map(SecurityLayer::layer) {
            None => Security::None,
            Some(SaslLayer::Integrity) => Security::SaslIntegrity,
            Some(SaslLayer::Confidentiality) => Security::SaslConfidentiality,
        }
    }

    /// How long each response took to arrive, in order: one entry per message received
    /// (`(operation, time from the request written to the message decoded)`), the first
    /// [`MAX_ROUND_TRIP_LOG`] only. For a search, the first entry is the DC's answer time and
    /// later ones (more entries, the final result) are usually near zero. This is the DC's
    /// processing plus the network round trip: what no client can go under.
    pub fn round_trips(&self) -> &[(&'static str, Duration)] {
        &self.waits
    }

    /// The negotiated SASL security layer (offered bitmask, buffer sizes), after a bind.
    pub fn sasl_layer(&self) -> Option<&SecurityLayer> {
        self.layer.as_ref()
    }

    /// TEST ONLY: lets [`search`](Self::search) ask for `msDS-ManagedPassword` without a
    /// confidential connection, to observe the DC's own refusal. Never use it in production:
    /// the password would cross the network readable by anyone on the path.
    #[doc(hidden)]
    pub fn danger_allow_unprotected_password_search_for_tests(&mut self) {
        self.allow_unprotected_password_search = true;
    }

    fn next_msgid(&mut self) -> i32 {
        let id = self.next_id;
        self.next_id = if self.next_id >= i32::MAX - 1 {
            1
        } else {
            self.next_id + 1
        };
        id
    }

    async fn send(&mut self, op: &'static str, msg: LdapMsg) -> Result<(), LdapError> {
        let bytes = encode_message(msg)?;
        let out = match self.layer.as_mut() {
            Some(layer) => layer.seal(&bytes, &mut OsRng)?,
            None => bytes.to_vec(),
        };
        let dc = self.dc.clone();
        let stream = &mut self.stream;
        timed(&dc, op, self.timeout, async {
            stream
                .write_all(&out)
                .await
                .map_err(|e| io_err(&dc, op, &e))
        })
        .await
    }

    /// Reads more bytes from the socket into the plaintext buffer (unsealing when a layer is
    /// active).
    async fn fill(&mut self, op: &'static str) -> Result<(), LdapError> {
        let mut buf = [0u8; 16 * 1024];
        let n = self
            .stream
            .read(&mut buf)
            .await
            .map_err(|e| io_err(&self.dc, op, &e))?;
        if n == 0 {
            return Err(LdapError::Closed {
                dc: self.dc.clone(),
                op,
                notice: None,
            });
        }
        let read = buf.get(..n).unwrap_or_default();
        match (self.layer.as_mut(), self.frames.as_mut()) {
            (Some(layer), Some(frames)) => {
                frames.push(read);
                while let Some(token) = frames.next_frame()? {
                    let data = layer.unseal(&token)?;
                    append_secret(&mut self.plain, &data);
                }
            }
            _ => append_secret(&mut self.plain, read),
        }
        Ok(())
    }

    async fn recv_inner(&mut self, op: &'static str) -> Result<LdapMsg, LdapError> {
        loop {
            match take_message(&mut self.plain) {
                Ok(Some(msg)) => return Ok(msg),
                Ok(None) => self.fill(op).await?,
                Err(reason) => {
                    return Err(LdapError::Decode {
                        dc: self.dc.clone(),
                        reason,
                    });
                }
            }
        }
    }

    /// The next message answering `msgid`; a notice of disconnection (message id 0) ends
    /// the connection with [`LdapError::Closed`].
    async fn recv(&mut self, op: &'static str, msgid: i32) -> Result<LdapMsg, LdapError> {
        let dc = self.dc.clone();
        let timeout = self.timeout;
        let started = std::time::Instant::now();
        let msg = timed(&dc, op, timeout, self.recv_inner(op)).await?;
        if self.waits.len() < MAX_ROUND_TRIP_LOG {
            self.waits.push((op, started.elapsed()));
        }
        if msg.msgid == msgid {
            return Ok(msg);
        }
        if msg.msgid == 0
            && let LdapOp::ExtendedResponse(r) = &msg.op
        {
            return Err(LdapError::Closed {
                dc,
                op,
                notice: Some(format!(
                    "{} ({}): {}",
                    result_code_name(&r.res.code),
                    r.res.code.clone() as i64,
                    r.res.message
                )),
            });
        }
        Err(LdapError::Unexpected {
            dc,
            expected: op,
            got: format!(
                "message id {} instead of {msgid}: {}",
                msg.msgid,
                describe(&msg.op)
            ),
        })
    }

    /// Reads the rootDSE (base-scope search of the empty DN), anonymously or not.
    pub async fn root_dse(&mut self) -> Result<RootDse, LdapError> {
        let req = LdapSearchRequest {
            base: String::new(),
            scope: LdapSearchScope::Base,
            aliases: LdapDerefAliases::Never,
            sizelimit: 1,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".to_owned()),
            attrs: RootDse::ATTRS.iter().map(|s| (*s).to_owned()).collect(),
        };
        let entries = self.search(req).await?;
        entries
            .first()
            .map(RootDse::from_entry)
            .ok_or_else(|| LdapError::RootDse {
                dc: self.dc.clone(),
                what: "was not returned by a base search of the empty DN".to_owned(),
            })
    }

    async fn bind_step(
        &mut self,
        step: &'static str,
        creds: Vec<u8>,
    ) -> Result<(LdapResultCode, String, Option<Vec<u8>>), LdapError> {
        let id = self.next_msgid();
        let msg = LdapMsg::new(
            id,
            LdapOp::BindRequest(LdapBindRequest {
                version: 3,
                dn: String::new(),
                cred: LdapBindCred::SASL(SaslCredentials {
                    mechanism: "GSSAPI".to_owned(),
                    credentials: creds,
                }),
            }),
        );
        self.send(step, msg).await?;
        let reply = self.recv(step, id).await?;
        match reply.op {
            LdapOp::BindResponse(r) => Ok((r.res.code, r.res.message, r.saslcreds)),
            other => Err(LdapError::Unexpected {
                dc: self.dc.clone(),
                expected: step,
                got: describe(&other),
            }),
        }
    }

    fn rejected(&self, code: LdapResultCode, message: String) -> LdapError {
        LdapError::BindRejected {
            dc: self.dc.clone(),
            result_name: result_code_name(&code).to_owned(),
            result_code: code as i64,
            message,
        }
    }

    /// The three RFC 4752 bind round trips: AP-REQ (answered `saslBindInProgress` with the
    /// AP-REP), an empty message (answered with the wrapped security-layer offer), then the
    /// client's choice, made by `choose` from the offer (answered `success`). Returns what
    /// `choose` returned besides the token (the negotiated layer on plain TCP).
    async fn sasl_exchange<T>(
        &mut self,
        ctx: InitiatorContext,
        cfg: SaslConfig,
        choose: impl FnOnce(SaslAwaitingOffer, &[u8]) -> Result<(T, Vec<u8>), LdapError>,
    ) -> Result<T, LdapError> {
        let (waiting, token) = GssapiSasl::new(ctx, cfg).start(SystemTime::now(), &mut OsRng)?;
        let (code, message, creds) = self.bind_step("SASL bind (AP-REQ)", token).await?;
        let creds = match (code, creds) {
            (LdapResultCode::SaslBindInProgress, Some(c)) if !c.is_empty() => c,
            (code @ LdapResultCode::SaslBindInProgress, _) => {
                return Err(
                    self.rejected(code, "no AP-REP in the saslBindInProgress response".into())
                );
            }
            (code, _) => return Err(self.rejected(code, message)),
        };
        let (offer_wait, empty) = waiting.step(&creds)?;
        let (code, message, creds) = self.bind_step("SASL bind (layer offer)", empty).await?;
        let creds = match (code, creds) {
            (LdapResultCode::SaslBindInProgress, Some(c)) => c,
            (code, _) => return Err(self.rejected(code, message)),
        };
        let (chosen, choice) = choose(offer_wait, &creds)?;
        let (code, message, _) = self.bind_step("SASL bind (layer choice)", choice).await?;
        if code != LdapResultCode::Success {
            return Err(self.rejected(code, message));
        }
        Ok(chosen)
    }

    /// SASL GSSAPI bind (RFC 4752) with `service_ticket` (for `ldap/<this DC's FQDN>`).
    ///
    /// On plain TCP it negotiates `cfg.layer`, which then protects every later PDU. Over TLS
    /// `cfg.layer` is ignored: the bind sends the connection's `tls-server-end-point` channel
    /// bindings with GSS flags MUTUAL | REPLAY | SEQUENCE and chooses no SASL layer (AD and
    /// Samba refuse sign or seal over TLS).
    pub async fn bind_sasl_gssapi(
        &mut self,
        service_ticket: Credentials,
        cfg: SaslConfig,
    ) -> Result<(), LdapError> {
        if let Some(info) = &self.tls {
            let cb = match &self.channel_bindings_override {
                Some(over) => over.clone(),
                None => Some(info.channel_bindings.clone()),
            };
            let init = krb5_proto::gss::InitiatorConfig {
                flags: TLS_GSS_FLAGS,
                channel_bindings: cb,
            };
            return self.bind_over_tls(service_ticket, init, cfg).await;
        }
        if self.layer.is_some() {
            return Err(LdapError::Unexpected {
                dc: self.dc.clone(),
                expected: "bind",
                got: "a second bind on a connection that already has a security layer \
                      (not supported: open a new connection)"
                    .to_owned(),
            });
        }
        let ctx = InitiatorContext::new(service_ticket, cfg.initiator_config());
        let layer = self
            .sasl_exchange(ctx, cfg, |offer, creds| offer.step(creds, &mut OsRng))
            .await?;
        // Anything already read after the BindResponse belongs to the protected stream.
        let mut frames = layer.frame_decoder();
        frames.push(&self.plain);
        self.plain = Zeroizing::new(Vec::new());
        self.frames = Some(frames);
        self.layer = Some(layer);
        tracing::debug!(dc = %self.dc, layer = ?self.security(), "SASL GSSAPI bind complete");
        Ok(())
    }

    async fn bind_over_tls(
        &mut self,
        service_ticket: Credentials,
        init: krb5_proto::gss::InitiatorConfig,
        cfg: SaslConfig,
    ) -> Result<(), LdapError> {
        self.bind_over_tls_steps(service_ticket, init, cfg)
            .await
            .map_err(|e| match e {
                // 0x80090346 SEC_E_BAD_BINDINGS (Windows and Samba, "data 35b").
                LdapError::BindRejected {
                    dc,
                    result_code,
                    result_name,
                    message,
                } if message.contains("80090346") => LdapError::BindRejected {
                    dc,
                    result_code,
                    result_name,
                    message: format!(
                        "{message} (SEC_E_BAD_BINDINGS: the DC requires TLS channel bindings \
                         and ours do not match the certificate it presented; is a \
                         TLS-intercepting proxy in the path?)"
                    ),
                },
                other => other,
            })
    }

    async fn bind_over_tls_steps(
        &mut self,
        service_ticket: Credentials,
        init: krb5_proto::gss::InitiatorConfig,
        cfg: SaslConfig,
    ) -> Result<(), LdapError> {
        let ctx = InitiatorContext::new(service_ticket, init);
        self.sasl_exchange(ctx, cfg, |offer, creds| {
            Ok(((), offer.step_without_layer(creds, &mut OsRng)?))
        })
        .await?;
        tracing::debug!(dc = %self.dc, "SASL GSSAPI bind over TLS complete (channel bindings, no SASL layer)");
        Ok(())
    }

    /// Runs a search and returns its entries (continuation references are skipped).
    ///
    /// A request for `msDS-ManagedPassword` is refused with
    /// [`LdapError::ConfidentialityRequired`] before anything is sent unless the connection is
    /// confidential. A failed result becomes [`search_failure`]'s error.
    pub async fn search(
        &mut self,
        req: LdapSearchRequest,
    ) -> Result<Vec<LdapSearchResultEntry>, LdapError> {
        let wants_password = req
            .attrs
            .iter()
            .any(|a| a.eq_ignore_ascii_case(MANAGED_PASSWORD_ATTR));
        if wants_password
            && !self.security().is_confidential()
            && !self.allow_unprotected_password_search
        {
            return Err(LdapError::ConfidentialityRequired(format!(
                "refusing to ask {} for {MANAGED_PASSWORD_ATTR} over a connection with security \
                 {:?}: the password would cross the network unencrypted; bind with the SASL \
                 confidentiality layer or use LDAPS",
                self.dc,
                self.security()
            )));
        }
        let id = self.next_msgid();
        self.send("search", LdapMsg::new(id, LdapOp::SearchRequest(req)))
            .await?;
        let mut entries = Vec::new();
        loop {
            let msg = self.recv("search", id).await?;
            match msg.op {
                LdapOp::SearchResultEntry(e) => {
                    if entries.len() >= MAX_SEARCH_ENTRIES {
                        return Err(LdapError::Unexpected {
                            dc: self.dc.clone(),
                            expected: "search",
                            got: format!("more than {MAX_SEARCH_ENTRIES} entries"),
                        });
                    }
                    entries.push(e);
                }
                LdapOp::SearchResultReference(_) => {}
                LdapOp::SearchResultDone(res) => {
                    if res.code == LdapResultCode::Success {
                        return Ok(entries);
                    }
                    return Err(search_failure(&self.dc, &res));
                }
                other => {
                    return Err(LdapError::Unexpected {
                        dc: self.dc.clone(),
                        expected: "search",
                        got: describe(&other),
                    });
                }
            }
        }
    }

    /// TEST ONLY: shuts the socket down (no unbind), so the next request fails as on a
    /// connection the DC dropped.
    #[doc(hidden)]
    pub async fn danger_shutdown_for_tests(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Sends an UnbindRequest and closes the connection.
    pub async fn unbind(mut self) -> Result<(), LdapError> {
        let id = self.next_msgid();
        self.send("unbind", LdapMsg::new(id, LdapOp::UnbindRequest))
            .await?;
        let _ = self.stream.shutdown().await;
        Ok(())
    }
}
