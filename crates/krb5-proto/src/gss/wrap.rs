//! RFC 4121 §4.2 per-message tokens: Wrap (`05 04`) and MIC (`04 04`).

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::GssError;
use crate::crypto::{EncType, Key};
use crate::rand::Rng;

/// Key usage for Wrap tokens sent by the acceptor (RFC 4121 §2).
pub const KG_USAGE_ACCEPTOR_SEAL: u32 = 22;
/// Key usage for MIC tokens sent by the acceptor.
pub const KG_USAGE_ACCEPTOR_SIGN: u32 = 23;
/// Key usage for Wrap tokens sent by the initiator.
pub const KG_USAGE_INITIATOR_SEAL: u32 = 24;
/// Key usage for MIC tokens sent by the initiator.
pub const KG_USAGE_INITIATOR_SIGN: u32 = 25;

/// Token flag (RFC 4121 §4.2.2): the sender is the context acceptor.
pub const FLAG_SENT_BY_ACCEPTOR: u8 = 0x01;
/// Token flag: the Wrap token is encrypted.
pub const FLAG_SEALED: u8 = 0x02;
/// Token flag: the acceptor's subkey protects the token.
pub const FLAG_ACCEPTOR_SUBKEY: u8 = 0x04;

const TOK_WRAP: [u8; 2] = [0x05, 0x04];
const TOK_MIC: [u8; 2] = [0x04, 0x04];
const HEADER_LEN: usize = 16;

/// The plaintext recovered from a Wrap token.
pub struct Unwrapped {
    /// The application data (zeroized on drop).
    pub data: Zeroizing<Vec<u8>>,
    /// Whether the token was encrypted (Sealed flag) rather than integrity-only.
    pub confidential: bool,
}

impl fmt::Debug for Unwrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unwrapped")
            .field(
                "data",
                &format_args!("<{} bytes redacted>", self.data.len()),
            )
            .field("confidential", &self.confidential)
            .finish()
    }
}

/// An established RFC 4121 security context: one protocol key (the acceptor subkey if the
/// AP-REP carried one, else the initiator subkey, else the ticket session key), our role and
/// the two 64-bit sequence numbers.
///
/// Sequence checking is strict: every token from the peer must carry exactly the next
/// expected number, so replays, reordering and gaps are all refused (right for LDAP over a
/// stream). A token that fails any check leaves the context unchanged.
///
/// Outgoing tokens use EC 0 and RRC 0 like MIT krb5, unless [`with_send_rrc`]
/// asks for a rotation (Windows and Heimdal send 28 on sealed tokens). Incoming tokens may use
/// any RRC.
///
/// [`with_send_rrc`]: SecurityContext::with_send_rrc
#[derive(Debug, Clone)]
pub struct SecurityContext {
    key: Key,
    initiator: bool,
    acceptor_subkey: bool,
    send_seq: u64,
    recv_seq: u64,
    send_rrc: u16,
    require_sealed: bool,
}

impl SecurityContext {
    /// A context on the initiator (client) side. `acceptor_subkey` says whether `key` is a
    /// subkey from the acceptor's AP-REP (then every token carries the AcceptorSubkey flag);
    /// `send_seq` is the authenticator's seq-number, `recv_seq` the AP-REP's.
    pub fn new_initiator(key: Key, acceptor_subkey: bool, send_seq: u64, recv_seq: u64) -> Self {
        Self {
            key,
            initiator: true,
            acceptor_subkey,
            send_seq,
            recv_seq,
            send_rrc: 0,
            require_sealed: false,
        }
    }

    /// A context on the acceptor (server) side, mainly for tests: `send_seq` is the AP-REP's
    /// seq-number, `recv_seq` the authenticator's.
    pub fn new_acceptor(key: Key, acceptor_subkey: bool, send_seq: u64, recv_seq: u64) -> Self {
        Self {
            key,
            initiator: false,
            acceptor_subkey,
            send_seq,
            recv_seq,
            send_rrc: 0,
            require_sealed: false,
        }
    }

    /// Rotates the body of outgoing Wrap tokens right by `rrc` bytes (RFC 4121 §4.2.5).
    /// 0 (the default) is what MIT sends; Windows sends 28 on sealed AES tokens.
    pub fn with_send_rrc(mut self, rrc: u16) -> Self {
        self.send_rrc = rrc;
        self
    }

    /// Refuses integrity-only Wrap tokens from the peer ([`GssError::NotSealed`]) once
    /// confidentiality has been negotiated (e.g. the SASL layer 0x04), so a peer or a machine in
    /// the middle cannot downgrade to unsealed tokens. The check comes before any other, so a
    /// refused token consumes no sequence number.
    pub fn require_confidentiality(&mut self, on: bool) {
        self.require_sealed = on;
    }

    /// Whether integrity-only Wrap tokens from the peer are refused.
    pub fn requires_confidentiality(&self) -> bool {
        self.require_sealed
    }

    /// Whether we are the context initiator.
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    /// Whether the protocol key is the acceptor's subkey.
    pub fn has_acceptor_subkey(&self) -> bool {
        self.acceptor_subkey
    }

    /// The protocol key's encryption type.
    pub fn etype(&self) -> EncType {
        self.key.etype()
    }

    /// The sequence number our next token will carry.
    pub fn send_seq(&self) -> u64 {
        self.send_seq
    }

    /// The sequence number expected on the peer's next token.
    pub fn recv_seq(&self) -> u64 {
        self.recv_seq
    }

    /// How many bytes a Wrap token adds to `n` bytes of data: 16 (header) + 16 (encrypted
    /// header copy) + the enctype's ciphertext overhead when sealed; 16 + the checksum length
    /// otherwise. Useful to honour a SASL peer's maximum buffer size.
    pub fn wrap_overhead(&self, confidential: bool) -> usize {
        let etype = self.key.etype();
        if confidential {
            HEADER_LEN + HEADER_LEN + etype.ciphertext_overhead()
        } else {
            HEADER_LEN + etype.checksum_len()
        }
    }

    fn send_usage(&self, seal: bool) -> u32 {
        match (self.initiator, seal) {
            (true, true) => KG_USAGE_INITIATOR_SEAL,
            (true, false) => KG_USAGE_INITIATOR_SIGN,
            (false, true) => KG_USAGE_ACCEPTOR_SEAL,
            (false, false) => KG_USAGE_ACCEPTOR_SIGN,
        }
    }

    fn recv_usage(&self, seal: bool) -> u32 {
        match (self.initiator, seal) {
            (true, true) => KG_USAGE_ACCEPTOR_SEAL,
            (true, false) => KG_USAGE_ACCEPTOR_SIGN,
            (false, true) => KG_USAGE_INITIATOR_SEAL,
            (false, false) => KG_USAGE_INITIATOR_SIGN,
        }
    }

    fn own_flags(&self) -> u8 {
        let mut flags = 0;
        if !self.initiator {
            flags |= FLAG_SENT_BY_ACCEPTOR;
        }
        if self.acceptor_subkey {
            flags |= FLAG_ACCEPTOR_SUBKEY;
        }
        flags
    }

    fn check_enctype(&self) -> Result<(), GssError> {
        match self.key.etype() {
            EncType::Rc4Hmac => Err(GssError::UnsupportedEnctype(self.key.etype().name())),
            _ => Ok(()),
        }
    }

    /// Checks the direction and AcceptorSubkey flags of a token from the peer. Unknown flag
    /// bits are ignored (RFC 4121 §4.2.2).
    fn check_peer_flags(&self, flags: u8) -> Result<(), GssError> {
        let from_acceptor = flags & FLAG_SENT_BY_ACCEPTOR != 0;
        if from_acceptor != self.initiator {
            return Err(GssError::WrongDirection {
                claimed: if from_acceptor {
                    "acceptor"
                } else {
                    "initiator"
                },
            });
        }
        let subkey = flags & FLAG_ACCEPTOR_SUBKEY != 0;
        if subkey != self.acceptor_subkey {
            return Err(GssError::AcceptorSubkeyMismatch {
                flag: subkey,
                ctx: if self.acceptor_subkey {
                    "has"
                } else {
                    "has no"
                },
            });
        }
        Ok(())
    }

    fn check_seq(&self, got: u64) -> Result<(), GssError> {
        if got != self.recv_seq {
            return Err(GssError::BadSequence {
                expected: self.recv_seq,
                got,
            });
        }
        Ok(())
    }

    fn wrap_header(&self, flags: u8, ec: u16, rrc: u16) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..2].copy_from_slice(&TOK_WRAP);
        h[2] = flags;
        h[3] = 0xFF;
        h[4..6].copy_from_slice(&ec.to_be_bytes());
        h[6..8].copy_from_slice(&rrc.to_be_bytes());
        h[8..].copy_from_slice(&self.send_seq.to_be_bytes());
        h
    }

    /// GSS_Wrap: protects `data` in a Wrap token, encrypted when `confidential`, else
    /// integrity-only; consumes one sequence number.
    ///
    /// Errors: [`GssError::UnsupportedEnctype`] for an RC4 key.
    pub fn wrap(
        &mut self,
        data: &[u8],
        confidential: bool,
        rng: &mut dyn Rng,
    ) -> Result<Vec<u8>, GssError> {
        self.check_enctype()?;
        let mut conf = Zeroizing::new(vec![0u8; self.key.etype().confounder_len()]);
        if confidential {
            rng.fill_bytes(&mut conf);
        }
        self.wrap_with_confounder(data, confidential, &conf)
    }

    /// [`wrap`](Self::wrap) with a caller-chosen confounder ([`EncType::confounder_len`] bytes;
    /// ignored for integrity-only tokens). For known-answer tests only: a repeated confounder
    /// weakens confidentiality.
    pub fn wrap_with_confounder(
        &mut self,
        data: &[u8],
        confidential: bool,
        confounder: &[u8],
    ) -> Result<Vec<u8>, GssError> {
        self.check_enctype()?;
        let rrc = self.send_rrc;
        let mut token;
        if confidential {
            let flags = self.own_flags() | FLAG_SEALED;
            // The encrypted copy of the header carries RRC 0 (RFC 4121 §4.2.4, §4.2.5).
            let inner = self.wrap_header(flags, 0, 0);
            let mut plain = Zeroizing::new(Vec::with_capacity(data.len() + HEADER_LEN));
            plain.extend_from_slice(data);
            plain.extend_from_slice(&inner);
            let mut body =
                self.key
                    .encrypt_with_confounder(self.send_usage(true), &plain, confounder)?;
            rotate_right(&mut body, rrc);
            token = Vec::with_capacity(HEADER_LEN + body.len());
            token.extend_from_slice(&self.wrap_header(flags, 0, rrc));
            token.extend_from_slice(&body);
        } else {
            let flags = self.own_flags();
            let cksum_len = self.key.etype().checksum_len();
            let ec = u16::try_from(cksum_len).unwrap_or(u16::MAX);
            let mut signed = Vec::with_capacity(data.len() + HEADER_LEN);
            signed.extend_from_slice(data);
            signed.extend_from_slice(&self.wrap_header(flags, 0, 0));
            let cksum = self.key.checksum(self.send_usage(true), &signed);
            signed.truncate(data.len());
            signed.extend_from_slice(&cksum);
            rotate_right(&mut signed, rrc);
            token = Vec::with_capacity(HEADER_LEN + signed.len());
            token.extend_from_slice(&self.wrap_header(flags, ec, rrc));
            token.extend_from_slice(&signed);
        }
        self.send_seq = self.send_seq.wrapping_add(1);
        Ok(token)
    }

    /// GSS_Unwrap: checks a Wrap token from the peer and returns its data.
    ///
    /// Checks, in order: TOK_ID `05 04`, filler 0xFF, the SentByAcceptor flag (the token must
    /// come from the other side), the AcceptorSubkey flag (must match the context), the
    /// Sealed flag when [confidentiality is required](Self::require_confidentiality), RRC not
    /// larger than the token, then the body after undoing the RRC rotation — decryption with
    /// the peer's key usage and the encrypted header copy compared in constant time (sealed),
    /// or EC = checksum length and the checksum in constant time (integrity-only) — and
    /// finally the sequence number, which must be exactly the next expected one. Only then is
    /// the receive sequence number advanced.
    ///
    /// Sealed tokens that do not decrypt after rotating by RRC are retried with a rotation of
    /// RRC + EC, the layout Windows uses for DCE-style contexts.
    pub fn unwrap(&mut self, token: &[u8]) -> Result<Unwrapped, GssError> {
        self.check_enctype()?;
        let (hdr, body) = split_header(token, TOK_WRAP)?;
        if hdr[3] != 0xFF {
            return Err(GssError::BadFiller(hdr[3]));
        }
        let flags = hdr[2];
        self.check_peer_flags(flags)?;
        if self.require_sealed && flags & FLAG_SEALED == 0 {
            return Err(GssError::NotSealed);
        }
        let ec = u16::from_be_bytes([hdr[4], hdr[5]]);
        let rrc = u16::from_be_bytes([hdr[6], hdr[7]]);
        if usize::from(rrc) > token.len() {
            return Err(GssError::BadRotation {
                rrc: usize::from(rrc),
                token_len: token.len(),
            });
        }
        let seq = u64::from_be_bytes([
            hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15],
        ]);
        let etype = self.key.etype();

        let (data, confidential) = if flags & FLAG_SEALED != 0 {
            let min = HEADER_LEN + etype.ciphertext_overhead() + HEADER_LEN + usize::from(ec);
            if token.len() < min {
                return Err(GssError::TokenTooShort {
                    len: token.len(),
                    min,
                });
            }
            let usage = self.recv_usage(true);
            let mut plain = match self.decrypt_rotated(usage, body, usize::from(rrc)) {
                Ok(p) => p,
                // The DCE-style layout rotates by RRC + EC, which must fit the token too.
                Err(e) if ec != 0 && usize::from(rrc) + usize::from(ec) <= token.len() => self
                    .decrypt_rotated(usage, body, usize::from(rrc) + usize::from(ec))
                    .map_err(|_| e)?,
                Err(e) => return Err(e),
            };
            // `min` guarantees the plaintext holds the filler and the header copy.
            let data_len = plain
                .len()
                .checked_sub(usize::from(ec) + HEADER_LEN)
                .ok_or(GssError::HeaderMismatch)?;
            let inner = plain
                .get(data_len + usize::from(ec)..)
                .ok_or(GssError::HeaderMismatch)?;
            // Everything but the RRC field must match (TOK_ID, flags, filler, EC: CVE-2024-37370;
            // the sequence number, so the one checked below is the authenticated one), compared
            // in constant time.
            if inner.len() != HEADER_LEN
                || !bool::from(inner[..6].ct_eq(&hdr[..6]) & inner[8..].ct_eq(&hdr[8..]))
            {
                return Err(GssError::HeaderMismatch);
            }
            self.check_seq(seq)?;
            plain.truncate(data_len);
            (plain, true)
        } else {
            let cksum_len = etype.checksum_len();
            if usize::from(ec) != cksum_len {
                return Err(GssError::BadExtraCount {
                    ec,
                    expected: cksum_len,
                    etype: etype.name(),
                });
            }
            if body.len() < cksum_len {
                return Err(GssError::TokenTooShort {
                    len: token.len(),
                    min: HEADER_LEN + cksum_len,
                });
            }
            let mut signed = Zeroizing::new(Vec::with_capacity(body.len() + HEADER_LEN));
            signed.extend_from_slice(body);
            rotate_left(&mut signed, usize::from(rrc));
            let data_len = signed.len() - cksum_len;
            let cksum = signed.split_off(data_len);
            let mut zeroed = *hdr;
            zeroed[4..8].fill(0);
            signed.extend_from_slice(&zeroed);
            self.key
                .verify_checksum(self.recv_usage(true), &signed, &cksum)?;
            self.check_seq(seq)?;
            signed.truncate(data_len);
            (signed, false)
        };
        self.recv_seq = self.recv_seq.wrapping_add(1);
        Ok(Unwrapped { data, confidential })
    }

    fn decrypt_rotated(
        &self,
        usage: u32,
        body: &[u8],
        rotation: usize,
    ) -> Result<Zeroizing<Vec<u8>>, GssError> {
        let mut ct = body.to_vec();
        rotate_left(&mut ct, rotation);
        Ok(self.key.decrypt(usage, &ct)?)
    }

    fn mic_header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0xFFu8; HEADER_LEN];
        h[..2].copy_from_slice(&TOK_MIC);
        h[2] = self.own_flags();
        h[8..].copy_from_slice(&self.send_seq.to_be_bytes());
        h
    }

    /// GSS_GetMIC: a MIC token (`04 04`) over `data`; consumes one sequence number.
    pub fn get_mic(&mut self, data: &[u8]) -> Result<Vec<u8>, GssError> {
        self.check_enctype()?;
        let hdr = self.mic_header();
        let mut signed = Vec::with_capacity(data.len() + HEADER_LEN);
        signed.extend_from_slice(data);
        signed.extend_from_slice(&hdr);
        let cksum = self.key.checksum(self.send_usage(false), &signed);
        let mut token = Vec::with_capacity(HEADER_LEN + cksum.len());
        token.extend_from_slice(&hdr);
        token.extend_from_slice(&cksum);
        self.send_seq = self.send_seq.wrapping_add(1);
        Ok(token)
    }

    /// GSS_VerifyMIC: checks a MIC token from the peer over `data` (flags, five 0xFF filler
    /// bytes, checksum in constant time, then the sequence number as for
    /// [`unwrap`](Self::unwrap)).
    pub fn verify_mic(&mut self, data: &[u8], token: &[u8]) -> Result<(), GssError> {
        self.check_enctype()?;
        let (hdr, cksum) = split_header(token, TOK_MIC)?;
        if let Some(&b) = hdr[3..8].iter().find(|&&b| b != 0xFF) {
            return Err(GssError::BadFiller(b));
        }
        self.check_peer_flags(hdr[2])?;
        let mut signed = Vec::with_capacity(data.len() + HEADER_LEN);
        signed.extend_from_slice(data);
        signed.extend_from_slice(hdr);
        self.key
            .verify_checksum(self.recv_usage(false), &signed, cksum)?;
        let seq = u64::from_be_bytes([
            hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15],
        ]);
        self.check_seq(seq)?;
        self.recv_seq = self.recv_seq.wrapping_add(1);
        Ok(())
    }
}

/// Splits the 16-byte header off a token and checks its TOK_ID.
fn split_header(token: &[u8], tok_id: [u8; 2]) -> Result<(&[u8; HEADER_LEN], &[u8]), GssError> {
    let (hdr, body) = token
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(GssError::TokenTooShort {
            len: token.len(),
            min: HEADER_LEN,
        })?;
    if hdr[..2] != tok_id {
        return Err(GssError::BadTokenId {
            expected: tok_id,
            got: [hdr[0], hdr[1]],
        });
    }
    Ok((hdr, body))
}

/// Rotates right by `rrc` modulo the length (RFC 4121 §4.2.5).
fn rotate_right(buf: &mut [u8], rrc: u16) {
    if !buf.is_empty() {
        let n = usize::from(rrc) % buf.len();
        buf.rotate_right(n);
    }
}

/// Undoes [`rotate_right`].
fn rotate_left(buf: &mut [u8], rrc: usize) {
    if !buf.is_empty() {
        let n = rrc % buf.len();
        buf.rotate_left(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::TestRng;

    fn pair(etype: EncType, subkey: bool) -> (SecurityContext, SecurityContext) {
        let key = Key::random(etype, &mut TestRng::new(9));
        (
            SecurityContext::new_initiator(key.clone(), subkey, 7, 1000),
            SecurityContext::new_acceptor(key, subkey, 1000, 7),
        )
    }

    #[test]
    fn round_trip_all_cfx_enctypes() {
        let mut rng = TestRng::new(1);
        for etype in [
            EncType::Aes128CtsHmacSha196,
            EncType::Aes256CtsHmacSha196,
            EncType::Aes128CtsHmacSha256128,
            EncType::Aes256CtsHmacSha384192,
        ] {
            for subkey in [false, true] {
                let (mut i, mut a) = pair(etype, subkey);
                for conf in [true, false] {
                    for msg in [&b""[..], b"x", &[0x5a; 100]] {
                        let t = i.wrap(msg, conf, &mut rng).unwrap();
                        assert_eq!(t.len(), msg.len() + i.wrap_overhead(conf));
                        let u = a.unwrap(&t).unwrap();
                        assert_eq!(u.data.as_slice(), msg);
                        assert_eq!(u.confidential, conf);
                        let t = a.wrap(msg, conf, &mut rng).unwrap();
                        assert_eq!(i.unwrap(&t).unwrap().data.as_slice(), msg);
                    }
                }
                let mic = i.get_mic(b"abc").unwrap();
                a.verify_mic(b"abc", &mic).unwrap();
                let mic = a.get_mic(b"abc").unwrap();
                assert!(i.verify_mic(b"abd", &mic).is_err());
                i.verify_mic(b"abc", &mic).unwrap();
            }
        }
    }

    #[test]
    fn rc4_is_refused() {
        let key = Key::new(EncType::Rc4Hmac, &[1; 16]).unwrap();
        let mut c = SecurityContext::new_initiator(key, false, 0, 0);
        assert!(matches!(
            c.wrap(b"x", true, &mut TestRng::new(1)),
            Err(GssError::UnsupportedEnctype(_))
        ));
        assert!(c.unwrap(&[0u8; 80]).is_err());
    }

    #[test]
    fn debug_redacts() {
        let (i, _) = pair(EncType::Aes256CtsHmacSha196, true);
        assert!(format!("{i:?}").contains("<redacted>"));
        let u = Unwrapped {
            data: Zeroizing::new(b"secret".to_vec()),
            confidential: true,
        };
        assert!(!format!("{u:?}").contains("secret"));
    }
}
