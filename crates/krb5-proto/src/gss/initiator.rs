//! The initiator side of context establishment (RFC 4121 §4.1, RFC 2743 §3.1): the initial
//! context token carrying an AP-REQ, and the acceptor's AP-REP (or KRB-ERROR) reply.

use std::time::SystemTime;

use super::{GssError, SecurityContext};
use crate::ap::{self, ApReqOptions, BuiltApReq};
use crate::asn1::{self, Checksum, cksum_type, key_usage};
use crate::creds::Credentials;
use crate::crypto::{EncType, Key, unkeyed_checksum};
use crate::rand::Rng;

/// GSS flag (RFC 4121 §4.1.1.1): delegate credentials (not supported here; always cleared).
pub const GSS_C_DELEG_FLAG: u32 = 1;
/// GSS flag: mutual authentication (always set: the initiator always expects an AP-REP).
pub const GSS_C_MUTUAL_FLAG: u32 = 2;
/// GSS flag: replay detection.
pub const GSS_C_REPLAY_FLAG: u32 = 4;
/// GSS flag: out-of-sequence detection.
pub const GSS_C_SEQUENCE_FLAG: u32 = 8;
/// GSS flag: confidentiality (sealed Wrap tokens) wanted.
pub const GSS_C_CONF_FLAG: u32 = 16;
/// GSS flag: integrity wanted.
pub const GSS_C_INTEG_FLAG: u32 = 32;

/// DER encoding of the Kerberos V5 mechanism OID 1.2.840.113554.1.2.2 (RFC 1964).
pub const KRB5_MECH_OID: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// DER encoding of Microsoft's variant 1.2.840.48018.1.2.2 (MS-KILE 3.1.1.6), accepted in
/// replies.
pub const MS_KRB5_MECH_OID: [u8; 9] = [0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];

/// TOK_ID of the initial context token (KRB_AP_REQ).
pub const TOK_AP_REQ: [u8; 2] = [0x01, 0x00];
/// TOK_ID of the acceptor's AP-REP reply.
pub const TOK_AP_REP: [u8; 2] = [0x02, 0x00];
/// TOK_ID of a KRB-ERROR reply.
pub const TOK_KRB_ERROR: [u8; 2] = [0x03, 0x00];

/// Largest context token accepted (the ASN.1 layer's own cap on a message, plus framing).
const MAX_CONTEXT_TOKEN: usize = asn1::MAX_MESSAGE_LEN + 64;

/// How the initiator asks for the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiatorConfig {
    /// GSS flags for the 0x8003 checksum: MUTUAL 2 | REPLAY 4 | SEQUENCE 8 | CONF 16 | INTEG 32
    /// (default 0x3E, what a sealed SASL/GSSAPI LDAP bind needs; over LDAPS leave out CONF and
    /// INTEG). MUTUAL is always added and DELEG always removed.
    pub flags: u32,
    /// Channel-binding application data (e.g. `tls-server-end-point:` ‖ certificate hash for
    /// LDAPS, RFC 5929); the checksum carries MD5 of the RFC 4121 §4.1.1.2 structure with
    /// empty addresses. `None` sends 16 zero bytes.
    pub channel_bindings: Option<Vec<u8>>,
}

impl Default for InitiatorConfig {
    fn default() -> Self {
        Self {
            flags: GSS_C_MUTUAL_FLAG
                | GSS_C_REPLAY_FLAG
                | GSS_C_SEQUENCE_FLAG
                | GSS_C_CONF_FLAG
                | GSS_C_INTEG_FLAG,
            channel_bindings: None,
        }
    }
}

/// Which mechanism OID framed a context token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MechOid {
    /// 1.2.840.113554.1.2.2 (RFC 1964/4121).
    Krb5,
    /// 1.2.840.48018.1.2.2 (Microsoft's historical variant).
    MsKrb5,
}

/// A context token taken apart by [`parse_context_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextToken<'a> {
    /// The mechanism OID of the framing.
    pub mech: MechOid,
    /// The two-byte TOK_ID.
    pub tok_id: [u8; 2],
    /// The Kerberos message (AP-REQ, AP-REP or KRB-ERROR DER).
    pub body: &'a [u8],
}

/// Frames a Kerberos message as a context token: `60 <len> 06 09 <krb5 OID> <tok_id> <body>`.
pub fn frame_context_token(tok_id: [u8; 2], body: &[u8]) -> Vec<u8> {
    let inner_len = 2 + KRB5_MECH_OID.len() + 2 + body.len();
    let mut out = Vec::with_capacity(inner_len + 6);
    out.push(0x60);
    push_der_len(&mut out, inner_len);
    out.extend_from_slice(&[0x06, KRB5_MECH_OID.len() as u8]);
    out.extend_from_slice(&KRB5_MECH_OID);
    out.extend_from_slice(&tok_id);
    out.extend_from_slice(body);
    out
}

fn push_der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Takes apart a context token framed as in RFC 2743 §3.1 with the Kerberos (or Microsoft
/// Kerberos) mechanism OID. The outer length must be definite and cover the rest of the input
/// exactly.
pub fn parse_context_token(token: &[u8]) -> Result<ContextToken<'_>, GssError> {
    let bad = |what: &'static str| GssError::BadContextToken { what };
    if token.len() > MAX_CONTEXT_TOKEN {
        return Err(bad("longer than any Kerberos message"));
    }
    let (&tag, rest) = token
        .split_first()
        .ok_or(bad("empty token (the acceptor sent nothing)"))?;
    if tag != 0x60 {
        return Err(bad("does not start with the [APPLICATION 0] tag 0x60"));
    }
    let (&first, mut rest) = rest.split_first().ok_or(bad("no length"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(bad("indefinite or oversized length"));
        }
        let (len_bytes, after) = rest.split_at_checked(n).ok_or(bad("truncated length"))?;
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if len != rest.len() {
        return Err(bad(
            "outer length does not match the token size (truncated or trailing bytes)",
        ));
    }
    let (oid_hdr, rest) = rest.split_at_checked(2).ok_or(bad("no mechanism OID"))?;
    if oid_hdr != [0x06, 0x09] {
        return Err(bad("mechanism is not a 9-byte OID (not Kerberos V5)"));
    }
    let (oid, rest) = rest.split_at_checked(9).ok_or(bad("truncated OID"))?;
    let mech = if oid == KRB5_MECH_OID {
        MechOid::Krb5
    } else if oid == MS_KRB5_MECH_OID {
        MechOid::MsKrb5
    } else {
        return Err(bad("mechanism OID is not Kerberos V5"));
    };
    let (tok_id, body) = rest.split_first_chunk::<2>().ok_or(bad("no TOK_ID"))?;
    Ok(ContextToken {
        mech,
        tok_id: *tok_id,
        body,
    })
}

/// The RFC 4121 §4.1.1 authenticator checksum (type 0x8003): Lgth = 16, Bnd, Flags (all
/// little-endian), no delegation.
pub fn gss_checksum(flags: u32, channel_bindings: Option<&[u8]>) -> Checksum {
    let mut value = Vec::with_capacity(24);
    value.extend_from_slice(&16u32.to_le_bytes());
    value.extend_from_slice(&channel_binding_hash(channel_bindings));
    value.extend_from_slice(&flags.to_le_bytes());
    Checksum {
        r#type: cksum_type::GSSAPI,
        checksum: value.into(),
    }
}

/// Bnd: 16 zero bytes without channel bindings, else MD5 over initiator and acceptor address
/// type and length (all zero) and the application data with its length, little-endian.
fn channel_binding_hash(app_data: Option<&[u8]>) -> [u8; 16] {
    let mut out = [0u8; 16];
    let Some(app) = app_data else {
        return out;
    };
    let mut buf = Vec::with_capacity(20 + app.len());
    buf.extend_from_slice(&[0u8; 16]); // initiator addrtype, length; acceptor addrtype, length
    buf.extend_from_slice(&u32::try_from(app.len()).unwrap_or(u32::MAX).to_le_bytes());
    buf.extend_from_slice(app);
    if let Ok(md5) = unkeyed_checksum(7, &buf) {
        let n = md5.len().min(16);
        out[..n].copy_from_slice(&md5[..n]);
    }
    out
}

/// The initiator before the initial token is sent.
///
/// ```no_run
/// # fn creds() -> krb5_proto::Credentials { unimplemented!() }
/// use krb5_proto::gss::{InitiatorConfig, InitiatorContext};
/// use krb5_proto::rand::OsRng;
///
/// // A service ticket for ldap/dc1.example.com, from the TGS exchange.
/// let ctx = InitiatorContext::new(creds(), InitiatorConfig::default());
/// let (waiting, initial_token) = ctx.start(std::time::SystemTime::now(), &mut OsRng)?;
/// // ... send `initial_token` in an LDAP SASL bind, get the server's token back ...
/// # let reply_token: Vec<u8> = Vec::new();
/// let mut sec = waiting.step(&reply_token)?;
/// let wrapped = sec.wrap(b"\x04\x00\x00\x00", false, &mut OsRng)?;
/// # Ok::<(), krb5_proto::gss::GssError>(())
/// ```
#[derive(Debug, Clone)]
pub struct InitiatorContext {
    creds: Credentials,
    cfg: InitiatorConfig,
}

impl InitiatorContext {
    /// An initiator that will authenticate with `creds` (a service ticket for the acceptor).
    pub fn new(creds: Credentials, cfg: InitiatorConfig) -> Self {
        Self { creds, cfg }
    }

    /// Builds the initial context token: an AP-REQ with mutual-required, a fresh random subkey
    /// of the session key's enctype, a random 31-bit sequence number and the 0x8003 checksum.
    ///
    /// `now` is local time; the credentials' KDC clock offset is applied.
    pub fn start(
        self,
        now: SystemTime,
        rng: &mut dyn Rng,
    ) -> Result<(AwaitingApRep, Vec<u8>), GssError> {
        let flags = (self.cfg.flags | GSS_C_MUTUAL_FLAG) & !GSS_C_DELEG_FLAG;
        let subkey = Key::random(self.creds.session_key.etype(), rng);
        let seq = rng.next_u32() & 0x7fff_ffff;
        let opts = ApReqOptions {
            mutual: true,
            checksum: Some(gss_checksum(flags, self.cfg.channel_bindings.as_deref())),
            subkey: Some(subkey),
            seq_number: Some(seq),
            authorization_data: None,
        };
        let built = ap::build_ap_req(&self.creds, opts, key_usage::AP_REQ_AUTH, now, rng)
            .map_err(GssError::from_krb)?;
        let token = frame_context_token(TOK_AP_REQ, &built.bytes);
        Ok((
            AwaitingApRep {
                session_key: self.creds.session_key,
                built,
                flags,
            },
            token,
        ))
    }
}

/// The initiator waiting for the acceptor's reply to the initial token.
#[derive(Debug, Clone)]
pub struct AwaitingApRep {
    session_key: Key,
    built: BuiltApReq,
    flags: u32,
}

impl AwaitingApRep {
    /// The GSS flags sent in the checksum.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// The sequence number our first per-message token will carry.
    pub fn send_seq(&self) -> u64 {
        u64::from(self.built.seq_number.unwrap_or(0))
    }

    /// Processes the acceptor's reply and returns the established context.
    ///
    /// Accepts the AP-REP framed with either mechanism OID (TOK_ID `02 00`), and also a bare
    /// AP-REP. A KRB-ERROR (TOK_ID `03 00`, or bare) becomes [`GssError::KrbError`]. The AP-REP
    /// must decrypt with the ticket session key and echo our authenticator's time; its subkey,
    /// when present, becomes the protocol key (AcceptorSubkey flag on every token), else our
    /// initiator subkey is used. The peer's first sequence number is the AP-REP's.
    pub fn step(self, reply_token: &[u8]) -> Result<SecurityContext, GssError> {
        let (tok_id, body) = match reply_token.first() {
            Some(0x6f) => (TOK_AP_REP, reply_token),
            Some(0x7e) => (TOK_KRB_ERROR, reply_token),
            _ => {
                let t = parse_context_token(reply_token)?;
                (t.tok_id, t.body)
            }
        };
        match tok_id {
            TOK_AP_REP => {}
            TOK_KRB_ERROR => {
                let err: asn1::KrbError = asn1::decode(body)?;
                return Err(GssError::KrbError {
                    code: err.error_code,
                    name: err.error_name(),
                    hint: err.error_hint(),
                    e_text: err.e_text.map(|t| t.to_string_lossy()),
                });
            }
            got => {
                return Err(GssError::BadTokenId {
                    expected: TOK_AP_REP,
                    got,
                });
            }
        }
        // The AP layer checks the decrypted part; the envelope is checked here.
        let rep: asn1::ApRep = asn1::decode(body)?;
        if rep.pvno != 5 || rep.msg_type != asn1::msg_type::AP_REP {
            return Err(GssError::ApExchange(format!(
                "AP-REP has pvno {} and msg-type {} (expected 5 and 15)",
                rep.pvno, rep.msg_type
            )));
        }
        if rep.enc_part.etype != self.session_key.etype().to_i32() {
            return Err(GssError::ApExchange(format!(
                "AP-REP is encrypted with enctype {} but the session key is {}",
                rep.enc_part.etype,
                self.session_key.etype().name()
            )));
        }
        let part =
            ap::verify_ap_rep(body, &self.session_key, &self.built).map_err(GssError::from_krb)?;
        let (key, acceptor_subkey) = match part.subkey {
            Some(ek) => {
                let etype = EncType::from_i32(ek.r#type)
                    .ok_or(GssError::UnsupportedSubkeyEnctype(ek.r#type))?;
                (Key::new(etype, ek.value.as_bytes())?, true)
            }
            None => match self.built.subkey {
                Some(k) => (k, false),
                None => (self.session_key, false),
            },
        };
        let send_seq = u64::from(self.built.seq_number.unwrap_or(0));
        let recv_seq = u64::from(part.seq_number.unwrap_or(0));
        Ok(SecurityContext::new_initiator(
            key,
            acceptor_subkey,
            send_seq,
            recv_seq,
        ))
    }
}
