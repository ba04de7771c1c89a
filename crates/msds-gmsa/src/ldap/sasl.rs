//! The RFC 4752 SASL "GSSAPI" mechanism, client side, sans-IO; and SASL buffer framing.
//!
//! The exchange, each step carried in an LDAP SASL BindRequest/BindResponse:
//!
//! 1. [`GssapiSasl::start`]: our initial context token (AP-REQ) → the server's AP-REP
//!    (result `saslBindInProgress`);
//! 2. [`SaslAwaitingApRep::step`]: verify the AP-REP (mutual authentication), answer with
//!    empty credentials → the server's security-layer offer, a Wrap token (conf = FALSE) of
//!    exactly 4 bytes: a bitmask (1 none, 2 integrity, 4 confidentiality) and the server's
//!    maximum buffer size (3 bytes, big-endian);
//! 3. [`SaslAwaitingOffer::step`]: check the offer and answer, wrapped, with our choice
//!    (0x04 confidentiality, or 0x02 integrity when configured) and our maximum buffer size,
//!    no authorization identity → `success`.
//!
//! From then on every LDAP PDU travels as SASL buffers: a 4-byte big-endian length followed by
//! a Wrap token ([`SecurityLayer::seal`], [`FrameDecoder`], [`SecurityLayer::unseal`]).
//!
//! ```
//! use msds_gmsa::ldap::sasl::{GssapiSasl, SaslConfig, SaslLayer};
//! use krb5_proto::gss::InitiatorContext;
//! use krb5_proto::rand::OsRng;
//! # fn service_ticket() -> krb5_proto::Credentials { unimplemented!() }
//! # fn bind(_creds: &[u8]) -> Vec<u8> { unimplemented!() }
//! # fn run() -> Result<(), msds_gmsa::ldap::LdapError> {
//! let cfg = SaslConfig::default(); // confidentiality
//! let ctx = InitiatorContext::new(service_ticket(), cfg.initiator_config());
//! let (waiting, token) = GssapiSasl::new(ctx, cfg).start(std::time::SystemTime::now(), &mut OsRng)?;
//! let (offer_wait, empty) = waiting.step(&bind(&token))?;
//! let (mut layer, choice) = offer_wait.step(&bind(&empty), &mut OsRng)?;
//! bind(&choice); // success: the layer is active
//! assert_eq!(layer.layer(), SaslLayer::Confidentiality);
//! let frames = layer.seal(b"an LDAP PDU", &mut OsRng)?;
//! # let _ = frames; Ok(()) }
//! ```

use std::time::SystemTime;

use bytes::{Buf, BytesMut};
use krb5_proto::gss::{
    AwaitingApRep, GSS_C_CONF_FLAG, GSS_C_INTEG_FLAG, GSS_C_MUTUAL_FLAG, GSS_C_REPLAY_FLAG,
    GSS_C_SEQUENCE_FLAG, GssError, InitiatorConfig, InitiatorContext, SecurityContext,
};
use krb5_proto::rand::Rng;
use zeroize::Zeroizing;

use super::LdapError;

/// Layer bit: no security layer.
pub const LAYER_NONE: u8 = 0x01;
/// Layer bit: integrity protection.
pub const LAYER_INTEGRITY: u8 = 0x02;
/// Layer bit: confidentiality protection (sealing).
pub const LAYER_CONFIDENTIALITY: u8 = 0x04;

/// GSS flags for a SASL GSSAPI bind over TLS: MUTUAL | REPLAY | SEQUENCE (0x0E).
pub const TLS_GSS_FLAGS: u32 = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG;

/// The largest buffer size expressible in the 3-byte field, and our cap on any SASL frame
/// (16 MiB − 1).
pub const MAX_FRAME_LEN: usize = 0x00FF_FFFF;

/// The maximum buffer size we announce by default (1 MiB): what we accept per SASL frame.
pub const DEFAULT_MAX_RECV_BUFFER: u32 = 1 << 20;

/// The SASL security layer to negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SaslLayer {
    /// Integrity protection only (0x02). Active Directory and Samba refuse to return
    /// `msDS-ManagedPassword` over it, and this crate refuses to ask: it exists so tests can
    /// show that.
    Integrity,
    /// Confidentiality (0x04): every PDU sealed. Required to read `msDS-ManagedPassword`.
    #[default]
    Confidentiality,
}

impl SaslLayer {
    /// The layer's bit in the RFC 4752 bitmask.
    pub fn bit(self) -> u8 {
        match self {
            SaslLayer::Integrity => LAYER_INTEGRITY,
            SaslLayer::Confidentiality => LAYER_CONFIDENTIALITY,
        }
    }

    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            SaslLayer::Integrity => "integrity",
            SaslLayer::Confidentiality => "confidentiality",
        }
    }

    /// Whether Wrap tokens are sealed (encrypted).
    pub fn is_confidential(self) -> bool {
        matches!(self, SaslLayer::Confidentiality)
    }

    /// The GSS flags to request for this layer (RFC 4752 §3.1): MUTUAL | REPLAY | SEQUENCE |
    /// INTEG, plus CONF for confidentiality.
    pub fn gss_flags(self) -> u32 {
        let base = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG;
        match self {
            SaslLayer::Integrity => base,
            SaslLayer::Confidentiality => base | GSS_C_CONF_FLAG,
        }
    }
}

/// How the client negotiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaslConfig {
    /// The layer to choose; the exchange fails if the server does not offer it.
    pub layer: SaslLayer,
    /// The maximum Wrap token size we accept, announced to the server (at most
    /// [`MAX_FRAME_LEN`]; larger values are capped).
    pub max_recv_buffer: u32,
}

impl Default for SaslConfig {
    fn default() -> Self {
        Self {
            layer: SaslLayer::Confidentiality,
            max_recv_buffer: DEFAULT_MAX_RECV_BUFFER,
        }
    }
}

impl SaslConfig {
    /// The GSS initiator configuration matching the layer (no channel bindings).
    pub fn initiator_config(&self) -> InitiatorConfig {
        InitiatorConfig {
            flags: self.layer.gss_flags(),
            channel_bindings: None,
        }
    }

    /// The GSS initiator configuration for a bind over TLS (LDAPS): [`TLS_GSS_FLAGS`] (no CONF,
    /// no INTEG: AD and Samba refuse a second protection layer over TLS) and the RFC 5929
    /// `tls-server-end-point` channel-binding data (see
    /// [`tls_server_end_point`](super::tls::tls_server_end_point)).
    pub fn tls_initiator_config(channel_bindings: Vec<u8>) -> InitiatorConfig {
        InitiatorConfig {
            flags: TLS_GSS_FLAGS,
            channel_bindings: Some(channel_bindings),
        }
    }

    fn own_max(&self) -> u32 {
        self.max_recv_buffer.min(MAX_FRAME_LEN as u32)
    }
}

/// The server's security-layer offer (step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerOffer {
    /// Bitmask of offered layers ([`LAYER_NONE`], [`LAYER_INTEGRITY`],
    /// [`LAYER_CONFIDENTIALITY`]).
    pub layers: u8,
    /// The largest Wrap token the server accepts.
    pub max_buffer: u32,
}

impl LayerOffer {
    /// Parses the unwrapped offer, which RFC 4752 §3.1 requires to be exactly 4 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, LdapError> {
        match data {
            [layers, a, b, c] => Ok(Self {
                layers: *layers,
                max_buffer: u32::from_be_bytes([0, *a, *b, *c]),
            }),
            _ => Err(LdapError::BadLayerOffer { len: data.len() }),
        }
    }
}

/// Step 1: a client about to send its initial context token.
#[derive(Debug)]
pub struct GssapiSasl {
    ctx: InitiatorContext,
    cfg: SaslConfig,
}

impl GssapiSasl {
    /// A client over `ctx` (built with a service ticket for `ldap/<dc>`; use
    /// [`SaslConfig::initiator_config`] for its flags).
    pub fn new(ctx: InitiatorContext, cfg: SaslConfig) -> Self {
        Self { ctx, cfg }
    }

    /// Builds the initial context token, the credentials of the first BindRequest.
    pub fn start(
        self,
        now: SystemTime,
        rng: &mut dyn Rng,
    ) -> Result<(SaslAwaitingApRep, Vec<u8>), LdapError> {
        let (gss, token) = self.ctx.start(now, rng)?;
        Ok((SaslAwaitingApRep { gss, cfg: self.cfg }, token))
    }
}

/// Step 2: waiting for the server's AP-REP (the credentials of a `saslBindInProgress`
/// response).
#[derive(Debug)]
pub struct SaslAwaitingApRep {
    gss: AwaitingApRep,
    cfg: SaslConfig,
}

impl SaslAwaitingApRep {
    /// Verifies the AP-REP (mutual authentication) and returns the next credentials to send:
    /// empty (RFC 4752 §3.1: the context is complete, the client sends an empty response).
    pub fn step(self, server_creds: &[u8]) -> Result<(SaslAwaitingOffer, Vec<u8>), LdapError> {
        let ctx = self.gss.step(server_creds)?;
        Ok((SaslAwaitingOffer::from_context(ctx, self.cfg), Vec::new()))
    }
}

/// Step 3: waiting for the server's wrapped security-layer offer.
#[derive(Debug)]
pub struct SaslAwaitingOffer {
    ctx: SecurityContext,
    cfg: SaslConfig,
}

impl SaslAwaitingOffer {
    /// Continues from a GSS context established by other means (e.g. in tests).
    pub fn from_context(ctx: SecurityContext, cfg: SaslConfig) -> Self {
        Self { ctx, cfg }
    }

    /// Unwraps and checks the offer, then returns the negotiated layer and our wrapped choice
    /// (the credentials of the last BindRequest).
    ///
    /// Fails when the offer is not exactly 4 bytes, when it does not include the configured
    /// layer, or when it announces a buffer too small to carry a Wrap token.
    pub fn step(
        mut self,
        server_creds: &[u8],
        rng: &mut dyn Rng,
    ) -> Result<(SecurityLayer, Vec<u8>), LdapError> {
        let unwrapped = self.ctx.unwrap(server_creds)?;
        let offer = LayerOffer::parse(&unwrapped.data)?;
        let layer = self.cfg.layer;
        if offer.layers & layer.bit() == 0 {
            return Err(LdapError::LayerNotOffered {
                wanted: layer.name(),
                offered: offer.layers,
            });
        }
        let overhead = self.ctx.wrap_overhead(layer.is_confidential());
        let peer_max = (offer.max_buffer as usize).min(MAX_FRAME_LEN);
        if peer_max <= overhead {
            return Err(LdapError::PeerBufferTooSmall {
                max: peer_max,
                overhead,
            });
        }
        let own = self.cfg.own_max().to_be_bytes();
        // No authorization identity: act as the authenticated principal.
        let choice = [layer.bit(), own[1], own[2], own[3]];
        let token = self.ctx.wrap(&choice, false, rng)?;
        // From now on an integrity-only token from the server is a downgrade, refused by the
        // GSS layer before its checksum or sequence number is looked at.
        self.ctx.require_confidentiality(layer.is_confidential());
        Ok((
            SecurityLayer {
                ctx: self.ctx,
                layer,
                peer_max,
                own_max: self.cfg.own_max() as usize,
                offered: offer.layers,
            },
            token,
        ))
    }
}

impl SaslAwaitingOffer {
    /// Step 3 over TLS: unwraps and checks the offer, then returns our wrapped choice of no
    /// security layer (0x01) with a maximum buffer size of 0 (RFC 4752 §3.1), the
    /// credentials of the last BindRequest. After success LDAP PDUs travel unwrapped (TLS
    /// protects them).
    ///
    /// Fails when the offer is not exactly 4 bytes or does not include "no layer".
    pub fn step_without_layer(
        mut self,
        server_creds: &[u8],
        rng: &mut dyn Rng,
    ) -> Result<Vec<u8>, LdapError> {
        let unwrapped = self.ctx.unwrap(server_creds)?;
        let offer = LayerOffer::parse(&unwrapped.data)?;
        if offer.layers & LAYER_NONE == 0 {
            return Err(LdapError::NoLayerNotOffered {
                offered: offer.layers,
            });
        }
        let choice = [LAYER_NONE, 0, 0, 0];
        Ok(self.ctx.wrap(&choice, false, rng)?)
    }
}

/// The negotiated SASL security layer: protects outgoing and checks incoming LDAP bytes.
#[derive(Debug)]
pub struct SecurityLayer {
    ctx: SecurityContext,
    layer: SaslLayer,
    peer_max: usize,
    own_max: usize,
    offered: u8,
}

impl SecurityLayer {
    /// The layer in force.
    pub fn layer(&self) -> SaslLayer {
        self.layer
    }

    /// The bitmask the server offered.
    pub fn offered(&self) -> u8 {
        self.offered
    }

    /// The largest Wrap token the server accepts.
    pub fn peer_max_buffer(&self) -> usize {
        self.peer_max
    }

    /// The largest Wrap token we accept.
    pub fn own_max_buffer(&self) -> usize {
        self.own_max
    }

    /// A frame decoder bounded by our maximum buffer size.
    pub fn frame_decoder(&self) -> FrameDecoder {
        FrameDecoder::new(self.own_max)
    }

    /// Wraps `data` (sealed for confidentiality, integrity-only otherwise) into as many SASL
    /// frames (4-byte length ‖ Wrap token) as the server's maximum buffer size requires, and
    /// returns them concatenated, ready to write.
    pub fn seal(&mut self, data: &[u8], rng: &mut dyn Rng) -> Result<Vec<u8>, LdapError> {
        let conf = self.layer.is_confidential();
        let overhead = self.ctx.wrap_overhead(conf);
        let chunk = self.peer_max.saturating_sub(overhead);
        if chunk == 0 {
            return Err(LdapError::PeerBufferTooSmall {
                max: self.peer_max,
                overhead,
            });
        }
        let mut out = Vec::with_capacity(data.len() + (data.len() / chunk + 1) * (overhead + 4));
        for piece in data.chunks(chunk) {
            let token = self.ctx.wrap(piece, conf, rng)?;
            out.extend_from_slice(&frame(&token)?);
        }
        Ok(out)
    }

    /// Checks one Wrap token from the server (a frame's body) and returns its plaintext, with
    /// the context's strict sequence checking (a replayed, reordered or lost token is refused
    /// and leaves the state unchanged). With confidentiality negotiated, an integrity-only
    /// token is refused ([`LdapError::UnsealedToken`]) without using a sequence number.
    pub fn unseal(&mut self, token: &[u8]) -> Result<Zeroizing<Vec<u8>>, LdapError> {
        let u = self.ctx.unwrap(token).map_err(|e| match e {
            GssError::NotSealed => LdapError::UnsealedToken,
            other => other.into(),
        })?;
        if self.layer.is_confidential() && !u.confidential {
            return Err(LdapError::UnsealedToken);
        }
        Ok(u.data)
    }
}

/// Frames a Wrap token as a SASL buffer: 4-byte big-endian length ‖ token.
///
/// ```
/// let f = msds_gmsa::ldap::sasl::frame(&[5, 4, 6]).unwrap();
/// assert_eq!(f, [0, 0, 0, 3, 5, 4, 6]);
/// ```
pub fn frame(token: &[u8]) -> Result<Vec<u8>, LdapError> {
    if token.len() > MAX_FRAME_LEN {
        return Err(LdapError::FrameTooLarge {
            len: token.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let mut out = Vec::with_capacity(4 + token.len());
    out.extend_from_slice(&(token.len() as u32).to_be_bytes());
    out.extend_from_slice(token);
    Ok(out)
}

/// Splits a byte stream into SASL frames, whatever the read boundaries.
///
/// A frame longer than the maximum is an error as soon as its length prefix is seen, so the
/// buffer never holds more than one maximum-size frame plus the bytes of the last push.
///
/// ```
/// use msds_gmsa::ldap::sasl::FrameDecoder;
/// let mut d = FrameDecoder::new(1024);
/// d.push(&[0, 0, 0, 3, 0xaa]);
/// assert_eq!(d.next_frame().unwrap(), None); // partial
/// d.push(&[0xbb, 0xcc, 0, 0]);
/// assert_eq!(d.next_frame().unwrap().as_deref(), Some(&[0xaa, 0xbb, 0xcc][..]));
/// assert_eq!(d.next_frame().unwrap(), None);
/// assert_eq!(d.buffered(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    buf: BytesMut,
    max: usize,
}

impl FrameDecoder {
    /// A decoder accepting frames of at most `max` bytes (capped at [`MAX_FRAME_LEN`]).
    pub fn new(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max: max.min(MAX_FRAME_LEN),
        }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame's body (the Wrap token), if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, LdapError> {
        let Some(prefix) = self.buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len > self.max {
            return Err(LdapError::FrameTooLarge { len, max: self.max });
        }
        if len == 0 {
            return Err(LdapError::EmptyFrame);
        }
        if self.buf.len() < 4 + len {
            self.buf.reserve(4 + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(len).to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krb5_proto::asn1::{
        ApRep, ApReq, Authenticator, EncApRepPart, EncTicketPart, EncryptedData, EncryptionKey,
        KerberosString, KerberosTime, PrincipalName, Ticket, TicketFlags, TransitedEncoding,
        decode, encode,
    };
    use krb5_proto::crypto::{EncType, Key};
    use krb5_proto::gss::{TOK_AP_REP, frame_context_token, parse_context_token};
    use krb5_proto::rand::TestRng;
    use krb5_proto::{Credentials, Principal};
    use std::time::{Duration, UNIX_EPOCH};

    const REALM: &str = "EXAMPLE.TEST";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    fn service_key() -> Key {
        Key::new(EncType::Aes256CtsHmacSha196, &[0x42; 32]).unwrap()
    }

    /// A service ticket for ldap/dc1.example.test sealed in the service key.
    fn creds(rng: &mut TestRng) -> Credentials {
        let sk = service_key();
        let session_key = Key::random(EncType::Aes256CtsHmacSha196, rng);
        let client = Principal::new(1, ["svc-fetcher"], REALM);
        let server = Principal::new(2, ["ldap", "dc1.example.test"], REALM);
        let t = 1_750_000_000i64;
        let etp = EncTicketPart {
            flags: TicketFlags(TicketFlags::PRE_AUTHENT),
            key: EncryptionKey {
                r#type: 18,
                value: session_key.as_bytes().to_vec().into(),
            },
            crealm: KerberosString(REALM.into()),
            cname: PrincipalName::from_principal(&client),
            transited: TransitedEncoding {
                r#type: 1,
                contents: Vec::new().into(),
            },
            auth_time: KerberosTime::from_unix(t),
            start_time: None,
            end_time: KerberosTime::from_unix(t + 36_000),
            renew_till: None,
            caddr: None,
            authorization_data: None,
        };
        let ticket = Ticket {
            tkt_vno: 5,
            realm: KerberosString(REALM.into()),
            sname: PrincipalName::from_principal(&server),
            enc_part: EncryptedData {
                etype: 18,
                kvno: Some(2),
                cipher: sk.encrypt(2, &encode(&etp), rng).into(),
            },
        };
        Credentials {
            client,
            server,
            session_key,
            ticket: encode(&ticket),
            flags: etp.flags.0,
            auth_time: t,
            start_time: t,
            end_time: t + 36_000,
            renew_till: None,
            time_offset: 0,
            pa_type: Some(2),
            client_kvno: None,
        }
    }

    /// An in-memory acceptor: decrypts the ticket and authenticator, answers with an AP-REP
    /// carrying an acceptor subkey, and keeps the matching acceptor context. Returns the GSS
    /// flags the client asked for too.
    fn accept(token: &[u8], rng: &mut TestRng) -> (Vec<u8>, SecurityContext, u32) {
        let t = parse_context_token(token).unwrap();
        let req: ApReq = decode(t.body).unwrap();
        let etp: EncTicketPart = decode(
            &service_key()
                .decrypt(2, &req.ticket.enc_part.cipher)
                .unwrap(),
        )
        .unwrap();
        let session_key = Key::new(EncType::Aes256CtsHmacSha196, etp.key.value.as_bytes()).unwrap();
        let auth: Authenticator =
            decode(&session_key.decrypt(11, &req.authenticator.cipher).unwrap()).unwrap();
        let v = auth.cksum.clone().unwrap().checksum.to_vec();
        let flags = u32::from_le_bytes(v[20..24].try_into().unwrap());
        let subkey = Key::random(EncType::Aes256CtsHmacSha196, rng);
        let part = EncApRepPart {
            ctime: auth.ctime,
            cusec: auth.cusec,
            subkey: Some(EncryptionKey {
                r#type: 18,
                value: subkey.as_bytes().to_vec().into(),
            }),
            seq_number: Some(777),
        };
        let rep = ApRep {
            pvno: 5,
            msg_type: 15,
            enc_part: EncryptedData {
                etype: 18,
                kvno: None,
                cipher: session_key.encrypt(12, &encode(&part), rng).into(),
            },
        };
        let ctx =
            SecurityContext::new_acceptor(subkey, true, 777, u64::from(auth.seq_number.unwrap()))
                .with_send_rrc(28); // as Samba and Windows
        (frame_context_token(TOK_AP_REP, &encode(&rep)), ctx, flags)
    }

    /// Runs the exchange up to the offer; returns the client waiting for it and the acceptor.
    fn handshake(cfg: SaslConfig, rng: &mut TestRng) -> (SaslAwaitingOffer, SecurityContext, u32) {
        let ctx = InitiatorContext::new(creds(rng), cfg.initiator_config());
        let (waiting, token) = GssapiSasl::new(ctx, cfg).start(now(), rng).unwrap();
        let (reply, acc, flags) = accept(&token, rng);
        let (offer_wait, empty) = waiting.step(&reply).unwrap();
        assert!(empty.is_empty(), "step 2 sends empty credentials");
        (offer_wait, acc, flags)
    }

    fn offer(acc: &mut SecurityContext, bytes: &[u8], rng: &mut TestRng) -> Vec<u8> {
        acc.wrap(bytes, false, rng).unwrap()
    }

    #[test]
    fn confidentiality_end_to_end() {
        let mut rng = TestRng::new(7);
        let (wait, mut acc, flags) = handshake(SaslConfig::default(), &mut rng);
        assert_eq!(flags, 0x3e, "MUTUAL|REPLAY|SEQUENCE|CONF|INTEG");
        let off = offer(&mut acc, &[0x07, 0x00, 0x40, 0x00], &mut rng);
        let (mut layer, choice) = wait.step(&off, &mut rng).unwrap();
        let got = acc.unwrap(&choice).unwrap();
        assert!(!got.confidential, "the choice is wrapped with conf = FALSE");
        assert_eq!(
            got.data.as_slice(),
            &[0x04, 0x10, 0x00, 0x00],
            "0x04 + 1 MiB, no authzid"
        );
        assert_eq!(layer.layer(), SaslLayer::Confidentiality);
        assert_eq!(layer.peer_max_buffer(), 0x4000);

        // Client → server: a PDU larger than the server's buffer is split into frames.
        let pdu: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let frames = layer.seal(&pdu, &mut rng).unwrap();
        let mut dec = FrameDecoder::new(0x4000);
        let mut joined = Vec::new();
        let mut count = 0;
        // Feed in odd-sized pieces to exercise partial reads.
        for piece in frames.chunks(777) {
            dec.push(piece);
            while let Some(tok) = dec.next_frame().unwrap() {
                assert!(tok.len() <= 0x4000);
                let u = acc.unwrap(&tok).unwrap();
                assert!(u.confidential);
                joined.extend_from_slice(&u.data);
                count += 1;
            }
        }
        assert_eq!(joined, pdu);
        assert_eq!(count, 3);

        // Server → client (RRC 28).
        let tok = acc.wrap(b"search result", true, &mut rng).unwrap();
        assert_eq!(layer.unseal(&tok).unwrap().as_slice(), b"search result");
        // An integrity-only token after sealing was negotiated is a downgrade.
        let tok = acc.clone().wrap(b"downgrade", false, &mut rng).unwrap();
        assert_eq!(layer.unseal(&tok), Err(LdapError::UnsealedToken));
        // It used no sequence number: the server's next sealed token is the expected one...
        let next = acc.wrap(b"next", true, &mut rng).unwrap();
        // ...and a replay or a reordered token is refused without a state change.
        let after = acc.wrap(b"after", true, &mut rng).unwrap();
        assert!(matches!(
            layer.unseal(&after),
            Err(LdapError::Gss(GssError::BadSequence { .. }))
        ));
        assert_eq!(layer.unseal(&next).unwrap().as_slice(), b"next");
        assert!(matches!(
            layer.unseal(&next),
            Err(LdapError::Gss(GssError::BadSequence { .. }))
        ));
        assert_eq!(layer.unseal(&after).unwrap().as_slice(), b"after");
    }

    /// Over TLS: flags 0x0E, Bnd = MD5 of the RFC 4121 §4.1.1.2 structure around the
    /// channel-binding data, and the choice "no layer" with a 0 maximum size.
    #[test]
    fn tls_bind_sends_channel_bindings_and_chooses_no_layer() {
        let mut rng = TestRng::new(14);
        let cb = b"tls-server-end-point:0123456789abcdef0123456789abcdef".to_vec();
        let cfg = SaslConfig::default();
        let ctx = InitiatorContext::new(
            creds(&mut rng),
            SaslConfig::tls_initiator_config(cb.clone()),
        );
        let (waiting, token) = GssapiSasl::new(ctx, cfg).start(now(), &mut rng).unwrap();

        // The authenticator's 0x8003 checksum, read back by the acceptor.
        let t = parse_context_token(&token).unwrap();
        let req: ApReq = decode(t.body).unwrap();
        let etp: EncTicketPart = decode(
            &service_key()
                .decrypt(2, &req.ticket.enc_part.cipher)
                .unwrap(),
        )
        .unwrap();
        let sk = Key::new(EncType::Aes256CtsHmacSha196, etp.key.value.as_bytes()).unwrap();
        let auth: Authenticator =
            decode(&sk.decrypt(11, &req.authenticator.cipher).unwrap()).unwrap();
        let v = auth.cksum.unwrap().checksum.to_vec();
        let mut structure = vec![0u8; 16];
        structure.extend_from_slice(&(cb.len() as u32).to_le_bytes());
        structure.extend_from_slice(&cb);
        let md5 = krb5_proto::crypto::unkeyed_checksum(7, &structure).unwrap();
        assert_eq!(&v[4..20], md5.as_slice(), "Bnd = MD5(bindings)");
        assert_eq!(u32::from_le_bytes(v[20..24].try_into().unwrap()), 0x0e);

        let (reply, mut acc, flags) = accept(&token, &mut rng);
        assert_eq!(flags, TLS_GSS_FLAGS);
        let (wait, _) = waiting.step(&reply).unwrap();
        // Samba over TLS offers "no layer" only.
        let off = offer(&mut acc, &[0x01, 0x00, 0x00, 0x00], &mut rng);
        let choice = wait.step_without_layer(&off, &mut rng).unwrap();
        let got = acc.unwrap(&choice).unwrap();
        assert!(!got.confidential);
        assert_eq!(got.data.as_slice(), &[0x01, 0, 0, 0]);
    }

    #[test]
    fn tls_bind_refuses_offer_without_no_layer() {
        let mut rng = TestRng::new(15);
        let (wait, mut acc, _) = handshake(SaslConfig::default(), &mut rng);
        let off = offer(&mut acc, &[0x06, 0x00, 0x10, 0x00], &mut rng);
        let err = wait.step_without_layer(&off, &mut rng).unwrap_err();
        assert_eq!(err, LdapError::NoLayerNotOffered { offered: 0x06 });
        assert!(err.to_string().contains("LDAPS"), "{err}");
    }

    #[test]
    fn integrity_knob_chooses_0x02() {
        let mut rng = TestRng::new(8);
        let cfg = SaslConfig {
            layer: SaslLayer::Integrity,
            ..SaslConfig::default()
        };
        let (wait, mut acc, flags) = handshake(cfg, &mut rng);
        assert_eq!(flags & GSS_C_CONF_FLAG, 0);
        let off = offer(&mut acc, &[0x06, 0x00, 0x10, 0x00], &mut rng);
        let (mut layer, choice) = wait.step(&off, &mut rng).unwrap();
        assert_eq!(acc.unwrap(&choice).unwrap().data[0], 0x02);
        let frames = layer.seal(b"pdu", &mut rng).unwrap();
        let mut dec = FrameDecoder::new(4096);
        dec.push(&frames);
        let u = acc.unwrap(&dec.next_frame().unwrap().unwrap()).unwrap();
        assert!(!u.confidential);
        assert_eq!(u.data.as_slice(), b"pdu");
    }

    #[test]
    fn offer_of_wrong_length_is_refused() {
        for bad in [&[][..], &[0x04, 0, 0x10][..], &[0x04, 0, 0x10, 0, 0][..]] {
            let mut rng = TestRng::new(9);
            let (wait, mut acc, _) = handshake(SaslConfig::default(), &mut rng);
            let off = offer(&mut acc, bad, &mut rng);
            assert_eq!(
                wait.step(&off, &mut rng).unwrap_err(),
                LdapError::BadLayerOffer { len: bad.len() }
            );
        }
    }

    #[test]
    fn server_without_confidentiality_is_refused() {
        let mut rng = TestRng::new(10);
        let (wait, mut acc, _) = handshake(SaslConfig::default(), &mut rng);
        let off = offer(&mut acc, &[0x03, 0x00, 0x10, 0x00], &mut rng);
        let err = wait.step(&off, &mut rng).unwrap_err();
        assert_eq!(
            err,
            LdapError::LayerNotOffered {
                wanted: "confidentiality",
                offered: 0x03
            }
        );
        assert!(err.to_string().contains("msDS-ManagedPassword"));
    }

    #[test]
    fn tiny_or_zero_server_buffer_is_refused() {
        for max in [[0u8, 0, 0], [0, 0, 40]] {
            let mut rng = TestRng::new(11);
            let (wait, mut acc, _) = handshake(SaslConfig::default(), &mut rng);
            let off = offer(&mut acc, &[0x04, max[0], max[1], max[2]], &mut rng);
            assert!(matches!(
                wait.step(&off, &mut rng),
                Err(LdapError::PeerBufferTooSmall { .. })
            ));
        }
    }

    #[test]
    fn tampered_offer_is_refused() {
        let mut rng = TestRng::new(12);
        let (wait, mut acc, _) = handshake(SaslConfig::default(), &mut rng);
        let mut off = offer(&mut acc, &[0x04, 0, 0x10, 0], &mut rng);
        let last = off.len() - 1;
        off[last] ^= 1;
        assert!(matches!(wait.step(&off, &mut rng), Err(LdapError::Gss(_))));
    }

    #[test]
    fn bad_ap_rep_is_refused() {
        let mut rng = TestRng::new(13);
        let cfg = SaslConfig::default();
        let ctx = InitiatorContext::new(creds(&mut rng), cfg.initiator_config());
        let (waiting, _token) = GssapiSasl::new(ctx, cfg).start(now(), &mut rng).unwrap();
        assert!(matches!(waiting.step(&[]), Err(LdapError::Gss(_))));
    }

    #[test]
    fn frame_decoder_limits() {
        let mut d = FrameDecoder::new(16);
        d.push(&[0, 0, 0, 17]);
        assert_eq!(
            d.next_frame(),
            Err(LdapError::FrameTooLarge { len: 17, max: 16 })
        );
        let mut d = FrameDecoder::new(16);
        d.push(&[0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(LdapError::EmptyFrame));
        let mut d = FrameDecoder::new(usize::MAX);
        d.push(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            d.next_frame(),
            Err(LdapError::FrameTooLarge {
                max: MAX_FRAME_LEN,
                ..
            })
        ));
        // Byte-at-a-time.
        let mut d = FrameDecoder::new(16);
        let mut got = Vec::new();
        for b in [0u8, 0, 0, 2, 9, 8, 0, 0, 0, 1, 7] {
            d.push(&[b]);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, vec![vec![9, 8], vec![7]]);
        assert!(frame(&vec![0; MAX_FRAME_LEN + 1]).is_err());
    }

    #[test]
    fn offer_parse() {
        assert_eq!(
            LayerOffer::parse(&[0x07, 0x98, 0x96, 0x80]).unwrap(),
            LayerOffer {
                layers: 7,
                max_buffer: 10_000_000
            }
        );
    }
}
