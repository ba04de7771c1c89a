//! Fuzz target: the SASL framing and security layer on arbitrary server bytes must never
//! panic.
//!
//! The first input byte picks a read size; the rest is pushed into a `FrameDecoder` in pieces
//! of that size (partial reads), every complete frame is unsealed by a negotiated
//! confidentiality layer (fixed key) and by an integrity-only one, and the whole input is also
//! tried as a security-layer offer.
#![no_main]

use krb5_proto::crypto::{EncType, Key};
use krb5_proto::gss::SecurityContext;
use krb5_proto::rand::TestRng;
use libfuzzer_sys::fuzz_target;
use msds_gmsa::ldap::sasl::{
    FrameDecoder, LayerOffer, SaslAwaitingOffer, SaslConfig, SaslLayer, SecurityLayer,
};

const KEY: [u8; 32] = [0x42; 32];

/// A client that negotiated `layer` with an in-memory acceptor, and that acceptor.
fn negotiated(layer: SaslLayer) -> (SecurityLayer, SecurityContext) {
    let key = Key::new(EncType::Aes256CtsHmacSha196, &KEY).expect("key");
    let mut rng = TestRng::new(1);
    let ini = SecurityContext::new_initiator(key.clone(), true, 5, 9);
    let mut acc = SecurityContext::new_acceptor(key, true, 9, 5).with_send_rrc(28);
    let offer = acc
        .wrap(&[0x06, 0x00, 0x10, 0x00], false, &mut rng)
        .expect("wrap offer");
    let cfg = SaslConfig {
        layer,
        max_recv_buffer: 4096,
    };
    let (client, choice) = SaslAwaitingOffer::from_context(ini, cfg)
        .step(&offer, &mut rng)
        .expect("negotiation");
    acc.unwrap(&choice).expect("choice unwraps");
    (client, acc)
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);

    let _ = LayerOffer::parse(rest);
    if let Ok(o) = LayerOffer::parse(rest) {
        assert!(o.max_buffer <= 0x00ff_ffff);
    }

    let (mut sealed, _) = negotiated(SaslLayer::Confidentiality);
    let (mut signed, _) = negotiated(SaslLayer::Integrity);
    let mut dec = FrameDecoder::new(sealed.own_max_buffer());
    'feed: for piece in rest.chunks(step) {
        dec.push(piece);
        assert!(dec.buffered() <= 4 + 4096 + step);
        loop {
            match dec.next_frame() {
                Ok(Some(token)) => {
                    assert!(!token.is_empty() && token.len() <= 4096);
                    if let Ok(plain) = sealed.unseal(&token) {
                        assert!(plain.len() < token.len());
                    }
                    let _ = signed.unseal(&token);
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }

    // What we send always re-frames to the same bytes.
    let (mut layer, mut acc) = negotiated(SaslLayer::Confidentiality);
    let mut rng = TestRng::new(2);
    let frames = layer.seal(rest, &mut rng).expect("seal");
    let mut dec = FrameDecoder::new(0x1000);
    dec.push(&frames);
    let mut joined = Vec::new();
    while let Some(token) = dec.next_frame().expect("our own frames") {
        let u = acc.unwrap(&token).expect("our own token");
        assert!(u.confidential);
        joined.extend_from_slice(&u.data);
    }
    assert_eq!(joined, rest);
});
