//! Stateful SASL GSSAPI bind (RFC 4752) as the LDAP client runs it: `GssapiSasl::start` builds
//! the initial token, the fuzzer writes the server's AP-REP (encrypted under the ticket session
//! key the client holds, or raw bytes) and its security-layer offer (wrapped by an in-memory
//! acceptor that holds the negotiated key, or raw bytes), then LDAP traffic both ways.
//!
//! Invariants: the AP-REP is only accepted when it echoes the authenticator's time; the offer
//! is only accepted when it holds exactly 4 bytes that offer the configured layer with a
//! buffer larger than a Wrap token's overhead; our choice unwraps at the acceptor to the
//! configured layer; after negotiation every message sealed by one side unseals to the same
//! bytes on the other.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use common::{KeyChoice, NOW};
use krb5_proto::Principal;
use krb5_proto::asn1::{self, EncApRepPart, KerberosTime};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::gss::{InitiatorContext, SecurityContext, TOK_AP_REP, frame_context_token};
use krb5_proto::rand::TestRng;
use msds_gmsa::ldap::sasl::{FrameDecoder, GssapiSasl, SaslConfig, SaslLayer};
use std::time::{Duration, UNIX_EPOCH};

#[derive(Arbitrary, Debug)]
enum ApRepChoice {
    Fields {
        ctime_delta: i8,
        cusec: i32,
        subkey: Option<KeyChoice>,
        seq_number: Option<u32>,
        framed: bool,
        wrong_usage: bool,
    },
    EncryptedRaw(Vec<u8>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum OfferChoice {
    Wrapped {
        layers: u8,
        max_buffer: [u8; 3],
        extra: Vec<u8>,
        short: bool,
        confidential: bool,
        rrc: u16,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    confidentiality: bool,
    max_recv_buffer: u32,
    ap_rep: ApRepChoice,
    offer: OfferChoice,
    traffic: Vec<Vec<u8>>,
    raw_tokens: Vec<Vec<u8>>,
}

/// The initiator subkey and sequence number carried in our initial token.
fn initiator_subkey(token: &[u8], session_key: &Key) -> (Key, u32) {
    let t = krb5_proto::gss::parse_context_token(token).expect("our token parses");
    let req: asn1::ApReq = asn1::decode(t.body).expect("our AP-REQ decodes");
    let plain = session_key
        .decrypt(11, &req.authenticator.cipher)
        .expect("our authenticator decrypts");
    let auth: asn1::Authenticator = asn1::decode(&plain).expect("our authenticator decodes");
    let sk = auth.subkey.expect("we always send a subkey");
    let etype = EncType::from_i32(sk.r#type).expect("our subkey's enctype");
    (
        Key::new(etype, sk.value.as_bytes()).expect("our subkey"),
        auth.seq_number.expect("we always send a sequence number"),
    )
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let now = UNIX_EPOCH + Duration::from_secs(NOW as u64);
    let session_key = Key::new(EncType::Aes256CtsHmacSha196, &[0x21; 32]).expect("32 bytes");
    let layer = if input.confidentiality {
        SaslLayer::Confidentiality
    } else {
        SaslLayer::Integrity
    };
    let cfg = SaslConfig {
        layer,
        max_recv_buffer: input.max_recv_buffer,
    };
    let mut rng = TestRng::new(3);
    let ctx = InitiatorContext::new(
        common::creds(
            Principal::new(2, ["ldap", "dc1.fuzz.test"], "FUZZ.TEST"),
            session_key.clone(),
        ),
        cfg.initiator_config(),
    );
    let (awaiting, token) = GssapiSasl::new(ctx, cfg)
        .start(now, &mut rng)
        .expect("the initial token builds");
    let (init_subkey, init_seq) = initiator_subkey(&token, &session_key);

    // The server's AP-REP.
    let mut expect_ok_time = false;
    let mut acceptor_key = (init_subkey, false);
    let mut acceptor_seq = 0u64;
    let ap_rep = match &input.ap_rep {
        ApRepChoice::Fields {
            ctime_delta,
            cusec,
            subkey,
            seq_number,
            framed,
            wrong_usage,
        } => {
            let sub = subkey.as_ref().map(KeyChoice::key);
            if let Some(k) = &sub
                && let Some(e) = EncType::from_i32(k.r#type)
                && let Ok(key) = Key::new(e, k.value.as_bytes())
            {
                acceptor_key = (key, true);
            }
            acceptor_seq = u64::from(seq_number.unwrap_or(0));
            expect_ok_time = *ctime_delta == 0 && *cusec == 0 && !*wrong_usage;
            let part = EncApRepPart {
                ctime: KerberosTime::from_unix(NOW + i64::from(*ctime_delta)),
                cusec: *cusec,
                subkey: sub,
                seq_number: *seq_number,
            };
            let usage = if *wrong_usage { 11 } else { 12 };
            let der = common::ap_rep(&session_key, usage, &asn1::encode(&part), &mut rng);
            if *framed {
                frame_context_token(TOK_AP_REP, &der)
            } else {
                der
            }
        }
        ApRepChoice::EncryptedRaw(plain) => frame_context_token(
            TOK_AP_REP,
            &common::ap_rep(&session_key, 12, plain, &mut rng),
        ),
        ApRepChoice::Raw(raw) => raw.clone(),
    };
    let awaiting_offer = match awaiting.step(&ap_rep) {
        Ok((next, empty)) => {
            assert!(empty.is_empty());
            if let ApRepChoice::Fields { .. } = input.ap_rep {
                assert!(
                    expect_ok_time,
                    "an AP-REP not echoing our time was accepted"
                );
            }
            next
        }
        Err(e) => {
            if let ApRepChoice::Fields { subkey: None, .. } = input.ap_rep {
                assert!(!expect_ok_time, "a valid AP-REP was refused: {e}");
            }
            return;
        }
    };

    // The server's offer, wrapped by an acceptor holding the negotiated key (that acceptor
    // then carries on with the choice and the traffic).
    let (key, acc_subkey) = acceptor_key;
    let mut acceptor =
        SecurityContext::new_acceptor(key, acc_subkey, acceptor_seq, u64::from(init_seq));
    let (offer, offered) = match &input.offer {
        OfferChoice::Wrapped {
            layers,
            max_buffer,
            extra,
            short,
            confidential,
            rrc,
        } => {
            let mut plain = vec![*layers, max_buffer[0], max_buffer[1], max_buffer[2]];
            plain.extend_from_slice(extra);
            if *short {
                plain.truncate(usize::from(max_buffer[0] % 4));
            }
            acceptor = acceptor.with_send_rrc(*rrc % 64);
            match acceptor.wrap(&plain, *confidential, &mut rng) {
                Ok(t) => (t, Some(plain)),
                Err(_) => return,
            }
        }
        OfferChoice::Raw(raw) => {
            // Only a forged token could pass; keep the acceptor's sequence in step anyway.
            let _ = acceptor.wrap(b"", false, &mut rng);
            (raw.clone(), None)
        }
    };
    let (mut client, choice) = match awaiting_offer.step(&offer, &mut rng) {
        Ok(v) => v,
        Err(_) => return,
    };
    if let Some(plain) = &offered {
        assert_eq!(
            plain.len(),
            4,
            "an offer of {} bytes was accepted",
            plain.len()
        );
        assert_ne!(
            plain[0] & layer.bit(),
            0,
            "accepted an offer without our layer"
        );
    }
    assert_eq!(client.layer(), layer);
    let got = acceptor
        .unwrap(&choice)
        .expect("our choice unwraps at the acceptor");
    assert_eq!(got.data.len(), 4);
    assert_eq!(got.data[0], layer.bit());

    for msg in input.traffic.iter().take(8) {
        let msg = &msg[..msg.len().min(client.peer_max_buffer().saturating_sub(64))];
        // Client to server.
        let frames = client.seal(msg, &mut rng).expect("seal");
        let mut dec = FrameDecoder::new(1 << 24);
        dec.push(&frames);
        let mut joined = Vec::new();
        while let Some(token) = dec.next_frame().expect("our own frames") {
            let u = acceptor.unwrap(&token).expect("our own token unwraps");
            assert_eq!(u.confidential, layer.is_confidential());
            joined.extend_from_slice(&u.data);
        }
        assert_eq!(&joined, msg);
        // Server to client.
        if msg.len() < client.own_max_buffer().saturating_sub(64) {
            let token = acceptor
                .wrap(msg, layer.is_confidential(), &mut rng)
                .expect("acceptor wraps");
            // RFC 4121 header: TOK_ID(2) Flags(1) Filler(1) EC(2) RRC(2) SND_SEQ(8). A rotation
            // larger than the whole token is refused (the CVE-2024-37370/37371 class), and a
            // refused token leaves the sequence state as it was, so the traffic ends there.
            let rrc = usize::from(u16::from_be_bytes([token[6], token[7]]));
            if rrc > token.len() {
                assert!(client.unseal(&token).is_err(), "RRC {rrc} > {} refused", token.len());
                break;
            }
            let plain = client.unseal(&token).expect("the acceptor's token unseals");
            assert_eq!(&plain[..], msg);
        }
    }
    for raw in input.raw_tokens.iter().take(4) {
        let _ = client.unseal(raw);
    }
});
