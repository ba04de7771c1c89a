//! The GSS initiator against an in-memory acceptor built from our own ASN.1 and crypto: the
//! acceptor decrypts the ticket with a made-up service key, checks the authenticator and its
//! 0x8003 checksum, and answers with an AP-REP carrying an acceptor subkey.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use krb5_proto::Credentials;
use krb5_proto::Principal;
use krb5_proto::asn1::{
    self, ApOptions, ApRep, ApReq, Authenticator, EncApRepPart, EncTicketPart, EncryptedData,
    EncryptionKey, KerberosString, KerberosTime, KrbError, PrincipalName, Ticket, TicketFlags,
    TransitedEncoding, decode, encode,
};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::gss::{
    GssError, InitiatorConfig, InitiatorContext, KRB5_MECH_OID, MS_KRB5_MECH_OID, MechOid,
    SecurityContext, TOK_AP_REP, TOK_AP_REQ, TOK_KRB_ERROR, frame_context_token,
    parse_context_token,
};
use krb5_proto::rand::TestRng;
use md5::{Digest, Md5};

const REALM: &str = "EXAMPLE.COM";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000) + Duration::from_micros(123_456)
}

/// A service ticket for ldap/dc1.example.com issued to webapp01$, sealed in `service_key`.
fn credentials(service_key: &Key, session_etype: EncType, rng: &mut TestRng) -> Credentials {
    let session_key = Key::random(session_etype, rng);
    let client = Principal::new(1, ["webapp01$"], REALM);
    let server = Principal::new(2, ["ldap", "dc1.example.com"], REALM);
    let t = 1_750_000_000i64;
    let etp = EncTicketPart {
        flags: TicketFlags(TicketFlags::FORWARDABLE | TicketFlags::PRE_AUTHENT),
        key: EncryptionKey {
            r#type: session_etype.to_i32(),
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
            etype: service_key.etype().to_i32(),
            kvno: Some(3),
            cipher: service_key.encrypt(2, &encode(&etp), rng).into(),
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

/// What the acceptor saw in the initial token.
struct Accepted {
    reply: Vec<u8>,
    ctx: SecurityContext,
    gss_flags: u32,
    bnd: [u8; 16],
    session_key: Key,
    authenticator: Authenticator,
}

/// The acceptor's half: everything RFC 4121 §4.1 asks of a server, with our own building blocks.
fn accept(service_key: &Key, token: &[u8], with_subkey: bool, rng: &mut TestRng) -> Accepted {
    let t = parse_context_token(token).unwrap();
    assert_eq!((t.mech, t.tok_id), (MechOid::Krb5, TOK_AP_REQ));
    let req: ApReq = decode(t.body).unwrap();
    assert_eq!(
        req.ap_options.0 & ApOptions::MUTUAL_REQUIRED,
        ApOptions::MUTUAL_REQUIRED
    );
    let etp: EncTicketPart =
        decode(&service_key.decrypt(2, &req.ticket.enc_part.cipher).unwrap()).unwrap();
    let session_key = Key::new(
        EncType::from_i32(etp.key.r#type).unwrap(),
        etp.key.value.as_bytes(),
    )
    .unwrap();
    let auth: Authenticator =
        decode(&session_key.decrypt(11, &req.authenticator.cipher).unwrap()).unwrap();
    assert_eq!(auth.cname, etp.cname);
    let cksum = auth
        .cksum
        .clone()
        .expect("RFC 4121 4.1.1: cksum is mandatory");
    assert_eq!(cksum.r#type, 0x8003);
    let v = cksum.checksum.to_vec();
    assert_eq!(v.len(), 24, "no delegation: Lgth, Bnd, Flags only");
    assert_eq!(v[..4], 16u32.to_le_bytes());
    let bnd: [u8; 16] = v[4..20].try_into().unwrap();
    let gss_flags = u32::from_le_bytes(v[20..24].try_into().unwrap());
    let init_subkey = auth.subkey.clone().expect("initiator subkey");
    assert_eq!(init_subkey.r#type, session_key.etype().to_i32());
    let init_subkey = Key::new(session_key.etype(), init_subkey.value.as_bytes()).unwrap();
    let init_seq = auth
        .seq_number
        .expect("RFC 4121 4.1.1: seq-number is mandatory");
    assert!(init_seq < 0x8000_0000);

    let acc_seq = 0x2233_4455u32;
    let (ctx_key, subkey_field) = if with_subkey {
        let k = Key::random(session_key.etype(), rng);
        let field = EncryptionKey {
            r#type: k.etype().to_i32(),
            value: k.as_bytes().to_vec().into(),
        };
        (k, Some(field))
    } else {
        (init_subkey, None)
    };
    let part = EncApRepPart {
        ctime: auth.ctime,
        cusec: auth.cusec,
        subkey: subkey_field,
        seq_number: Some(acc_seq),
    };
    let rep = ApRep {
        pvno: 5,
        msg_type: 15,
        enc_part: EncryptedData {
            etype: session_key.etype().to_i32(),
            kvno: None,
            cipher: session_key.encrypt(12, &encode(&part), rng).into(),
        },
    };
    Accepted {
        reply: frame_context_token(TOK_AP_REP, &encode(&rep)),
        ctx: SecurityContext::new_acceptor(ctx_key, with_subkey, acc_seq.into(), init_seq.into()),
        gss_flags,
        bnd,
        session_key,
        authenticator: auth,
    }
}

fn service_key() -> Key {
    Key::new(EncType::Aes256CtsHmacSha196, &[0x5c; 32]).unwrap()
}

#[test]
fn handshake_then_wrap_both_ways() {
    for etype in [EncType::Aes256CtsHmacSha196, EncType::Aes128CtsHmacSha196] {
        for with_subkey in [true, false] {
            let mut rng = TestRng::new(100);
            let sk = service_key();
            let creds = credentials(&sk, etype, &mut rng);
            let (waiting, token) = InitiatorContext::new(creds, InitiatorConfig::default())
                .start(now(), &mut rng)
                .unwrap();
            // 60 <len> 06 09 <krb5 OID> 01 00 6e ...
            assert_eq!(token[0], 0x60);
            let at = if token[1] < 0x80 {
                2
            } else {
                2 + usize::from(token[1] & 0x7f)
            };
            assert_eq!(token[at..at + 2], [0x06, 0x09]);
            assert_eq!(token[at + 2..at + 11], KRB5_MECH_OID);
            assert_eq!(token[at + 11..at + 14], [0x01, 0x00, 0x6e]);
            assert_eq!(waiting.flags(), 0x3e);

            let mut acc = accept(&sk, &token, with_subkey, &mut rng);
            assert_eq!(acc.gss_flags, 0x3e);
            assert_eq!(acc.bnd, [0u8; 16]);
            assert_eq!(acc.authenticator.ctime.to_unix(), 1_750_000_000);
            assert_eq!(acc.authenticator.cusec, 123_456);
            assert_eq!(
                waiting.send_seq(),
                u64::from(acc.authenticator.seq_number.unwrap())
            );

            let mut ini = waiting.step(&acc.reply).unwrap();
            assert!(ini.is_initiator());
            assert_eq!(ini.has_acceptor_subkey(), with_subkey);
            assert_eq!(ini.recv_seq(), 0x2233_4455);
            assert_eq!(ini.etype(), etype);

            for conf in [true, false] {
                let t = ini.wrap(b"LDAP request", conf, &mut rng).unwrap();
                assert_eq!(t[2] & 0x04 != 0, with_subkey);
                let got = acc.ctx.unwrap(&t).unwrap();
                assert_eq!(got.data.as_slice(), b"LDAP request");
                assert_eq!(got.confidential, conf);
                // Windows sends RRC 28/12; any rotation works.
                let t = acc.ctx.clone().with_send_rrc(if conf { 28 } else { 12 });
                let mut acc_rot = t;
                let tok = acc_rot.wrap(b"LDAP response", conf, &mut rng).unwrap();
                acc.ctx = acc_rot;
                assert_eq!(ini.unwrap(&tok).unwrap().data.as_slice(), b"LDAP response");
            }
            // The session key is not what protects messages when a subkey exists.
            let mut wrong = SecurityContext::new_acceptor(
                acc.session_key.clone(),
                with_subkey,
                0,
                ini.send_seq(),
            );
            let t = ini.clone().wrap(b"x", true, &mut rng).unwrap();
            assert!(wrong.unwrap(&t).is_err());
        }
    }
}

#[test]
fn flags_and_channel_bindings() {
    let mut rng = TestRng::new(7);
    let sk = service_key();
    let creds = credentials(&sk, EncType::Aes256CtsHmacSha196, &mut rng);
    let app = b"tls-server-end-point:\x01\x02\x03".to_vec();
    let cfg = InitiatorConfig {
        // LDAPS: no CONF/INTEG; DELEG is not supported and is dropped; MUTUAL is forced.
        flags: 0x01 | 0x04 | 0x08,
        channel_bindings: Some(app.clone()),
    };
    let (waiting, token) = InitiatorContext::new(creds, cfg)
        .start(now(), &mut rng)
        .unwrap();
    assert_eq!(waiting.flags(), 0x0e);
    let acc = accept(&sk, &token, true, &mut rng);
    assert_eq!(acc.gss_flags, 0x0e);
    // RFC 4121 4.1.1.2: MD5 of initiator/acceptor addrtype+length (zero) and the app data.
    let mut m = Md5::new();
    m.update([0u8; 16]);
    m.update((app.len() as u32).to_le_bytes());
    m.update(&app);
    assert_eq!(acc.bnd, <[u8; 16]>::from(m.finalize()));
    waiting.step(&acc.reply).unwrap();
}

fn reframe(reply: &[u8], oid: [u8; 9]) -> Vec<u8> {
    let t = parse_context_token(reply).unwrap();
    let mut out = frame_context_token(t.tok_id, t.body);
    let at = out.len() - t.body.len() - 11;
    out[at..at + 9].copy_from_slice(&oid);
    out
}

#[test]
fn ms_oid_and_bare_ap_rep_are_accepted() {
    for variant in 0..2 {
        let mut rng = TestRng::new(8);
        let sk = service_key();
        let creds = credentials(&sk, EncType::Aes256CtsHmacSha196, &mut rng);
        let (waiting, token) = InitiatorContext::new(creds, InitiatorConfig::default())
            .start(now(), &mut rng)
            .unwrap();
        let acc = accept(&sk, &token, true, &mut rng);
        let reply = if variant == 0 {
            let r = reframe(&acc.reply, MS_KRB5_MECH_OID);
            assert_eq!(parse_context_token(&r).unwrap().mech, MechOid::MsKrb5);
            r
        } else {
            parse_context_token(&acc.reply).unwrap().body.to_vec()
        };
        waiting.step(&reply).unwrap();
    }
}

#[test]
fn krb_error_reply_names_the_error() {
    let mut rng = TestRng::new(9);
    let sk = service_key();
    let creds = credentials(&sk, EncType::Aes256CtsHmacSha196, &mut rng);
    let (waiting, _) = InitiatorContext::new(creds, InitiatorConfig::default())
        .start(now(), &mut rng)
        .unwrap();
    let err = KrbError {
        pvno: 5,
        msg_type: 30,
        ctime: None,
        cusec: None,
        stime: KerberosTime::from_unix(1_750_000_900),
        susec: 0,
        error_code: 37,
        crealm: None,
        cname: None,
        realm: KerberosString(REALM.into()),
        sname: PrincipalName::new(2, ["ldap", "dc1.example.com"]),
        e_text: Some(KerberosString(b"clock skew too great".to_vec())),
        e_data: None,
    };
    let der = encode(&err);
    for reply in [frame_context_token(TOK_KRB_ERROR, &der), der.clone()] {
        match waiting.clone().step(&reply) {
            Err(GssError::KrbError {
                code, name, e_text, ..
            }) => {
                assert_eq!(code, 37);
                assert_eq!(name, "KRB_AP_ERR_SKEW");
                assert_eq!(e_text.as_deref(), Some("clock skew too great"));
            }
            other => panic!("expected KrbError, got {other:?}"),
        }
    }
    let e = waiting
        .step(&frame_context_token(TOK_KRB_ERROR, &der))
        .unwrap_err();
    assert!(e.to_string().contains("KRB_AP_ERR_SKEW"), "{e}");
}

#[test]
fn bad_replies_are_rejected() {
    let mut rng = TestRng::new(10);
    let sk = service_key();
    let creds = credentials(&sk, EncType::Aes256CtsHmacSha196, &mut rng);
    let (waiting, token) = InitiatorContext::new(creds, InitiatorConfig::default())
        .start(now(), &mut rng)
        .unwrap();
    let acc = accept(&sk, &token, true, &mut rng);
    let good = acc.reply.clone();

    // Every truncation and every single-byte change of the framed AP-REP.
    for n in 0..good.len() {
        assert!(waiting.clone().step(&good[..n]).is_err(), "prefix {n}");
    }
    for pos in 0..good.len() {
        let mut bad = good.clone();
        bad[pos] ^= 0x01;
        assert!(
            waiting.clone().step(&bad).is_err(),
            "byte {pos} of {:02x?}",
            &good[..40]
        );
    }
    let mut long = good.clone();
    long.push(0);
    assert!(waiting.clone().step(&long).is_err());

    // Another mechanism OID, or the AP-REQ token id, is refused.
    let other_oid = reframe(&good, [0x2b, 6, 1, 5, 5, 2, 0, 0, 0]);
    assert!(matches!(
        waiting.clone().step(&other_oid),
        Err(GssError::BadContextToken { .. })
    ));
    let body = parse_context_token(&good).unwrap().body.to_vec();
    assert!(matches!(
        waiting
            .clone()
            .step(&frame_context_token(TOK_AP_REQ, &body)),
        Err(GssError::BadTokenId { .. })
    ));

    // An AP-REP that does not echo our authenticator's time (replayed from another session).
    let part = EncApRepPart {
        ctime: acc.authenticator.ctime,
        cusec: acc.authenticator.cusec + 1,
        subkey: None,
        seq_number: Some(1),
    };
    let rep = ApRep {
        pvno: 5,
        msg_type: 15,
        enc_part: EncryptedData {
            etype: 18,
            kvno: None,
            cipher: acc.session_key.encrypt(12, &encode(&part), &mut rng).into(),
        },
    };
    assert!(
        waiting
            .clone()
            .step(&frame_context_token(TOK_AP_REP, &encode(&rep)))
            .is_err()
    );

    // An AP-REP under another key.
    let other = Key::random(EncType::Aes256CtsHmacSha196, &mut rng);
    let rep = ApRep {
        pvno: 5,
        msg_type: 15,
        enc_part: EncryptedData {
            etype: 18,
            kvno: None,
            cipher: other
                .encrypt(
                    12,
                    &encode(&EncApRepPart {
                        cusec: acc.authenticator.cusec,
                        ..part
                    }),
                    &mut rng,
                )
                .into(),
        },
    };
    assert!(
        waiting
            .clone()
            .step(&frame_context_token(TOK_AP_REP, &encode(&rep)))
            .is_err()
    );

    // The genuine reply still works.
    waiting.step(&good).unwrap();
}

#[test]
fn context_token_framing() {
    for len in [0usize, 1, 100, 127, 128, 255, 256, 70_000] {
        let body = vec![0xabu8; len];
        let t = frame_context_token(TOK_AP_REQ, &body);
        let p = parse_context_token(&t).unwrap();
        assert_eq!(
            (p.mech, p.tok_id, p.body.len()),
            (MechOid::Krb5, TOK_AP_REQ, len)
        );
    }
    for bad in [
        &[][..],
        &[0x60],
        &[0x60, 0x80],
        &[0x60, 0x85, 0, 0, 0, 0, 0],
        &[0x61, 0x00],
        &[0x60, 0x02, 0x06, 0x09],
        &[
            0x60, 0x0e, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x02,
            0x00,
        ],
        &[
            0x60, 0x0c, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x02,
        ],
        &[
            0x60, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x03, 0x02,
            0x00,
        ],
    ] {
        assert!(parse_context_token(bad).is_err(), "{bad:02x?}");
    }
    // An empty body is well framed (the Kerberos message decoder rejects it later).
    let empty = [
        0x60, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x02, 0x00,
    ];
    assert_eq!(parse_context_token(&empty).unwrap().body, &[] as &[u8]);
    let huge = vec![0u8; asn1::MAX_MESSAGE_LEN + 100];
    assert!(parse_context_token(&huge).is_err());
}
