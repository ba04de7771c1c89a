//! Every branch of the AS and TGS state machines, driven by an in-memory KDC with simulated time.
//! (The same exchanges run against a real MIT KDC in `mit_kdc.rs`.)

use krb5_proto::Error;
use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsExchange, AsOptions, AsRequest, AsStep, Secret};
use krb5_proto::asn1::{
    self, EncKdcRepPart, EncryptedData, EncryptionKey, EtypeInfo2Entry, KdcRep, KerberosString,
    KerberosTime, KrbError, PaData, PaEncTsEnc, PaPacRequest, PrincipalName, Ticket, TicketFlags,
};
use krb5_proto::crypto::{CryptoError, EncType, Key};
use krb5_proto::etype_policy::EnctypePolicy;
use krb5_proto::rand::TestRng;
use krb5_proto::tgs_exchange::{TgsExchange, TgsOptions, TgsStep};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A tiny KDC: one client with a password, one realm, behaviour switches per test.
struct SimKdc {
    realm: String,
    client: String,
    password: String,
    salt: String,
    etype: EncType,
    now: u64,
    require_preauth: bool,
    skew_first: bool,
    too_big_first: bool,
    refer_to: Option<String>,
    always_preauth_required: bool,
    wrong_nonce: bool,
    tgs_part_tag: bool,
    tgs_key: Key,
    session_key: Key,
    /// The s2kparams listed in PA-ETYPE-INFO2 (`None`: the default).
    s2kparams: Option<Vec<u8>>,
    seen: Vec<asn1::AsReq>,
}

impl SimKdc {
    fn new() -> Self {
        Self {
            realm: "SIM.TEST".into(),
            client: "alice".into(),
            password: "hunter2".into(),
            salt: "SIM.TESTunusual-salt".into(),
            etype: EncType::Aes256CtsHmacSha196,
            now: T0,
            require_preauth: true,
            skew_first: false,
            too_big_first: false,
            refer_to: None,
            always_preauth_required: false,
            wrong_nonce: false,
            tgs_part_tag: false,
            tgs_key: Key::new(EncType::Aes256CtsHmacSha196, &[9u8; 32]).unwrap(),
            session_key: Key::new(EncType::Aes128CtsHmacSha196, &[5u8; 16]).unwrap(),
            s2kparams: None,
            seen: Vec::new(),
        }
    }

    fn client_key(&self) -> Key {
        Key::from_password(
            self.etype,
            self.password.as_bytes(),
            self.salt.as_bytes(),
            None,
        )
        .unwrap()
    }

    fn error(&self, code: i32, e_data: Option<Vec<u8>>, crealm: Option<&str>) -> Vec<u8> {
        asn1::encode(&KrbError {
            pvno: 5,
            msg_type: 30,
            ctime: None,
            cusec: None,
            stime: KerberosTime::from_unix(self.now as i64),
            susec: 0,
            error_code: code,
            crealm: crealm.map(KerberosString::from),
            cname: None,
            realm: KerberosString::from(self.realm.as_str()),
            sname: PrincipalName::from_principal(&Principal::krbtgt(self.realm.as_bytes())),
            e_text: None,
            e_data: e_data.map(Into::into),
        })
    }

    fn etype_info(&self) -> Vec<u8> {
        asn1::encode(&vec![EtypeInfo2Entry {
            etype: self.etype.to_i32(),
            salt: Some(KerberosString::from(self.salt.as_str())),
            s2kparams: self.s2kparams.clone().map(Into::into),
        }])
    }

    fn preauth_required(&self) -> Vec<u8> {
        let hints = vec![
            PaData {
                r#type: 19,
                value: self.etype_info().into(),
            },
            PaData {
                r#type: 2,
                value: Vec::new().into(),
            },
        ];
        self.error(25, Some(asn1::encode(&hints)), None)
    }

    fn handle(&mut self, req: &AsRequest) -> Vec<u8> {
        let as_req: asn1::AsReq = asn1::decode(&req.bytes).expect("client sends a valid AS-REQ");
        self.seen.push(as_req.clone());
        let body = &as_req.0.req_body;
        if self.too_big_first && !req.tcp_only {
            return self.error(52, None, None);
        }
        if let Some(other) = self.refer_to.clone()
            && body.realm.as_bytes() != other.as_bytes()
        {
            return self.error(6, None, Some(&other));
        }
        if self.skew_first {
            self.skew_first = false;
            return self.error(37, None, None);
        }
        let padata = as_req.0.padata.clone().unwrap_or_default();
        let ts = padata.iter().find(|p| p.r#type == 2);
        if self.always_preauth_required || (self.require_preauth && ts.is_none()) {
            return self.preauth_required();
        }
        if let Some(ts) = ts {
            let enc: EncryptedData = asn1::decode(&ts.value).unwrap();
            let Ok(plain) = self.client_key().decrypt(1, &enc.cipher) else {
                return self.error(24, None, None);
            };
            let ts: PaEncTsEnc = asn1::decode(&plain).unwrap();
            if (ts.patimestamp.to_unix() - self.now as i64).abs() > 300 {
                return self.error(37, None, None);
            }
        }
        let sname = body.sname.clone().unwrap();
        // As a real KDC does (RFC 4120 3.1.3), the session key's type is one the request offered.
        let session_key = if body.etype.contains(&self.session_key.etype().to_i32()) {
            self.session_key.clone()
        } else {
            let etype = EncType::from_i32(body.etype[0]).unwrap();
            Key::new(etype, &vec![5u8; etype.key_len()]).unwrap()
        };
        let part = EncKdcRepPart {
            key: EncryptionKey {
                r#type: session_key.etype().to_i32(),
                value: session_key.as_bytes().to_vec().into(),
            },
            last_req: Vec::new(),
            nonce: if self.wrong_nonce {
                body.nonce ^ 1
            } else {
                body.nonce
            },
            key_expiration: None,
            flags: TicketFlags(TicketFlags::INITIAL | TicketFlags::PRE_AUTHENT),
            auth_time: KerberosTime::from_unix(self.now as i64),
            start_time: None,
            end_time: KerberosTime::from_unix(self.now as i64 + 36_000),
            renew_till: None,
            srealm: body.realm.clone(),
            sname: sname.clone(),
            caddr: None,
            encrypted_pa_data: None,
        };
        let part_der = if self.tgs_part_tag {
            asn1::encode(&asn1::EncTgsRepPart(part))
        } else {
            asn1::encode(&asn1::EncAsRepPart(part))
        };
        let mut rng = TestRng::new(99);
        let ticket = Ticket {
            tkt_vno: 5,
            realm: body.realm.clone(),
            sname,
            enc_part: EncryptedData {
                etype: self.tgs_key.etype().to_i32(),
                kvno: Some(1),
                cipher: self.tgs_key.encrypt(2, b"opaque ticket", &mut rng).into(),
            },
        };
        asn1::encode(&asn1::AsRep(KdcRep {
            pvno: 5,
            msg_type: 11,
            padata: Some(vec![PaData {
                r#type: 19,
                value: self.etype_info().into(),
            }]),
            crealm: body.realm.clone(),
            cname: body.cname.clone().unwrap(),
            ticket,
            enc_part: EncryptedData {
                etype: self.etype.to_i32(),
                kvno: Some(1),
                cipher: self.client_key().encrypt(3, &part_der, &mut rng).into(),
            },
        }))
    }
}

/// Runs the exchange against `kdc` with the client's clock at `client_now`.
fn run(
    kdc: &mut SimKdc,
    secret: Secret,
    client_now: u64,
) -> (krb5_proto::Result<krb5_proto::Credentials>, Vec<AsRequest>) {
    let mut rng = TestRng::new(7);
    let client = Principal::new(1, [kdc.client.as_str()], &kdc.realm);
    let (mut pending, mut req) =
        AsExchange::new(client, secret, AsOptions::default()).start(at(client_now), &mut rng);
    let mut sent = vec![req.clone()];
    loop {
        let reply = kdc.handle(&req);
        match pending.handle_reply(&reply, at(client_now), &mut rng) {
            Ok(AsStep::Send(p, r)) => {
                sent.push(r.clone());
                (pending, req) = (*p, r);
            }
            Ok(AsStep::Done(c)) => return (Ok(c), sent),
            Err(e) => return (Err(e), sent),
        }
    }
}

#[test]
fn preauth_uses_the_kdc_salt_and_sends_pac_request() {
    let mut kdc = SimKdc::new();
    let (creds, sent) = run(&mut kdc, Secret::password("hunter2"), T0);
    let creds = creds.unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(creds.pa_type, Some(2));
    assert_eq!(creds.session_key.etype(), EncType::Aes128CtsHmacSha196);
    assert_eq!(creds.client.to_string(), "alice@SIM.TEST");
    // Both requests carry PA-PAC-REQUEST (include-pac TRUE); the second one a fresh nonce.
    for r in &kdc.seen {
        let pac =
            r.0.padata
                .as_ref()
                .unwrap()
                .iter()
                .find(|p| p.r#type == 128)
                .unwrap();
        assert_eq!(
            asn1::decode::<PaPacRequest>(&pac.value).unwrap(),
            PaPacRequest { include_pac: true }
        );
    }
    assert_ne!(kdc.seen[0].0.req_body.nonce, kdc.seen[1].0.req_body.nonce);
}

#[test]
fn no_preauth_needed_uses_the_reply_salt() {
    let mut kdc = SimKdc::new();
    kdc.require_preauth = false;
    let (creds, sent) = run(&mut kdc, Secret::password("hunter2"), T0);
    let creds = creds.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(creds.pa_type, None);
}

#[test]
fn wrong_password_is_preauth_failed() {
    let mut kdc = SimKdc::new();
    let (res, _) = run(&mut kdc, Secret::password("wrong"), T0);
    match res {
        Err(Error::Kdc(k)) => {
            assert_eq!(k.code, 24);
            assert_eq!(k.name, "KDC_ERR_PREAUTH_FAILED");
            assert!(k.to_string().contains("alice@SIM.TEST"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_password_without_preauth_is_a_wrong_key_error() {
    let mut kdc = SimKdc::new();
    kdc.require_preauth = false;
    let (res, _) = run(&mut kdc, Secret::password("wrong"), T0);
    assert!(matches!(res, Err(Error::WrongKey { .. })), "{res:?}");
}

#[test]
fn clock_skew_is_recovered_from_the_kdc_time() {
    // The client's clock is one hour behind. PREAUTH_REQUIRED carries the KDC's time, which is used.
    let mut kdc = SimKdc::new();
    let (creds, _) = run(&mut kdc, Secret::password("hunter2"), T0 - 3600);
    let creds = creds.unwrap();
    assert_eq!(creds.time_offset, 3600);
    // An explicit KRB_AP_ERR_SKEW is retried once with the KDC's time.
    let mut kdc = SimKdc::new();
    kdc.require_preauth = false;
    kdc.skew_first = true;
    let (creds, sent) = run(&mut kdc, Secret::password("hunter2"), T0 - 3600);
    assert!(creds.is_ok(), "{creds:?}");
    assert_eq!(sent.len(), 2);
}

#[test]
fn response_too_big_switches_to_tcp() {
    let mut kdc = SimKdc::new();
    kdc.too_big_first = true;
    let (creds, sent) = run(&mut kdc, Secret::password("hunter2"), T0);
    creds.unwrap();
    assert!(!sent[0].tcp_only);
    assert!(sent[1].tcp_only);
    assert_eq!(
        sent[0].bytes, sent[1].bytes,
        "the same request is re-sent over TCP"
    );
    assert!(sent[2..].iter().all(|r| r.tcp_only));
}

#[test]
fn client_referral_moves_to_the_named_realm() {
    let mut kdc = SimKdc::new();
    kdc.refer_to = Some("OTHER.TEST".into());
    kdc.salt = "OTHER.TESTalice".into();
    let (creds, sent) = run(&mut kdc, Secret::password("hunter2"), T0);
    let creds = creds.unwrap();
    assert_eq!(sent[0].realm, b"SIM.TEST");
    assert!(sent[1..].iter().all(|r| r.realm == b"OTHER.TEST"));
    assert_eq!(creds.client.realm, b"OTHER.TEST");
}

#[test]
fn nonce_mismatch_is_rejected() {
    let mut kdc = SimKdc::new();
    kdc.wrong_nonce = true;
    let (res, _) = run(&mut kdc, Secret::password("hunter2"), T0);
    assert!(
        matches!(
            res,
            Err(Error::ReplyModified {
                check: krb5_proto::ReplyCheck::Nonce,
                ..
            })
        ),
        "{res:?}"
    );
}

#[test]
fn enc_tgs_rep_part_inside_as_rep_is_accepted() {
    let mut kdc = SimKdc::new();
    kdc.tgs_part_tag = true;
    let (res, _) = run(&mut kdc, Secret::password("hunter2"), T0);
    res.unwrap();
}

#[test]
fn keytab_keys_are_used_by_etype() {
    let mut kdc = SimKdc::new();
    let key = kdc.client_key();
    let other = Key::new(EncType::Aes128CtsHmacSha196, &[1u8; 16]).unwrap();
    let (res, sent) = run(&mut kdc, Secret::Keys(vec![other, key]), T0);
    res.unwrap();
    assert_eq!(sent.len(), 2);
    // No common enctype: a clear error.
    let mut kdc = SimKdc::new();
    let (res, _) = run(
        &mut kdc,
        Secret::Keys(vec![Key::new(EncType::Rc4Hmac, &[1u8; 16]).unwrap()]),
        T0,
    );
    assert!(matches!(res, Err(Error::NoCommonEnctype { .. })), "{res:?}");
}

#[test]
fn endless_preauth_requests_stop() {
    let mut kdc = SimKdc::new();
    kdc.always_preauth_required = true;
    let (res, sent) = run(&mut kdc, Secret::password("hunter2"), T0);
    assert!(res.is_err());
    assert!(sent.len() <= 4);
}

#[test]
fn garbage_replies_are_errors() {
    let mut rng = TestRng::new(1);
    for reply in [
        &b""[..],
        b"\x30\x00",
        b"\x7e\x03\x30\x01\x00",
        b"\x6b\x80\x00\x00",
        &[0xff; 64][..],
    ] {
        let client = Principal::new(1, ["alice"], "SIM.TEST");
        let (pending, _) = AsExchange::new(client, Secret::password("x"), AsOptions::default())
            .start(at(T0), &mut rng);
        assert!(pending.handle_reply(reply, at(T0), &mut rng).is_err());
    }
}

#[test]
fn tgs_exchange_round_trip_with_simulated_kdc() {
    let mut kdc = SimKdc::new();
    let (tgt, _) = run(&mut kdc, Secret::password("hunter2"), T0);
    let tgt = tgt.unwrap();
    let service = Principal::parse("HTTP/web.sim.test@SIM.TEST", None).unwrap();
    let mut rng = TestRng::new(3);
    let (pending, req) = TgsExchange::new(tgt.clone(), service.clone(), TgsOptions::default())
        .start(at(T0), &mut rng)
        .unwrap();
    // The KDC side: check the authenticator and its body checksum, then answer.
    let tgs_req: asn1::TgsReq = asn1::decode(&req.bytes).unwrap();
    let pa = tgs_req
        .0
        .padata
        .as_ref()
        .unwrap()
        .iter()
        .find(|p| p.r#type == 1)
        .unwrap();
    let ap: asn1::ApReq = asn1::decode(&pa.value).unwrap();
    let auth_plain = tgt
        .session_key
        .decrypt(7, &ap.authenticator.cipher)
        .unwrap();
    let auth: asn1::Authenticator = asn1::decode(&auth_plain).unwrap();
    let cksum = auth.cksum.unwrap();
    tgt.session_key
        .verify_checksum(6, &asn1::encode(&tgs_req.0.req_body), &cksum.checksum)
        .unwrap();
    let svc_key = Key::new(EncType::Aes256CtsHmacSha196, &[3u8; 32]).unwrap();
    let part = EncKdcRepPart {
        key: EncryptionKey {
            r#type: 18,
            value: svc_key.as_bytes().to_vec().into(),
        },
        last_req: Vec::new(),
        nonce: tgs_req.0.req_body.nonce,
        key_expiration: None,
        flags: TicketFlags(0),
        auth_time: KerberosTime::from_unix(T0 as i64),
        start_time: Some(KerberosTime::from_unix(T0 as i64)),
        end_time: KerberosTime::from_unix(T0 as i64 + 3600),
        renew_till: None,
        srealm: KerberosString::from("SIM.TEST"),
        sname: PrincipalName::from_principal(&service),
        caddr: None,
        encrypted_pa_data: None,
    };
    let rep = asn1::TgsRep(KdcRep {
        pvno: 5,
        msg_type: 13,
        padata: None,
        crealm: KerberosString::from("SIM.TEST"),
        cname: PrincipalName::from_principal(&tgt.client),
        ticket: Ticket {
            tkt_vno: 5,
            realm: KerberosString::from("SIM.TEST"),
            sname: PrincipalName::from_principal(&service),
            enc_part: EncryptedData {
                etype: 18,
                kvno: Some(2),
                cipher: vec![1, 2, 3].into(),
            },
        },
        enc_part: EncryptedData {
            etype: tgt.session_key.etype().to_i32(),
            kvno: None,
            cipher: tgt
                .session_key
                .encrypt(8, &asn1::encode(&asn1::EncTgsRepPart(part)), &mut rng)
                .into(),
        },
    });
    match pending.handle_reply(&asn1::encode(&rep)).unwrap() {
        TgsStep::Done(c) => {
            assert_eq!(c.server, service);
            assert_eq!(c.end_time, T0 as i64 + 3600);
        }
        TgsStep::Send(..) => panic!("expected the ticket"),
    }
}

#[test]
fn password_with_rc4_uses_the_given_nt_hash_for_rc4_and_the_password_for_aes() {
    // RC4-only account: the given RC4 key is used, whatever the UTF-8 form says.
    let mut kdc = SimKdc::new();
    kdc.etype = EncType::Rc4Hmac;
    let nt = kdc.client_key();
    let secret = Secret::PasswordWithRc4 {
        utf8: zeroize::Zeroizing::new(b"not it".to_vec()),
        rc4: nt,
    };
    let opts = AsOptions {
        enctype_policy: EnctypePolicy::allow_all(),
        ..AsOptions::default()
    };
    let (res, _) = run_with(&mut kdc, secret, opts);
    res.unwrap();
    // AES account: the UTF-8 password is used with the KDC's salt.
    let mut kdc = SimKdc::new();
    let secret = Secret::PasswordWithRc4 {
        utf8: zeroize::Zeroizing::new(b"hunter2".to_vec()),
        rc4: Key::new(EncType::Rc4Hmac, &[0u8; 16]).unwrap(),
    };
    let (res, _) = run(&mut kdc, secret, T0);
    res.unwrap();
}

fn run_with(
    kdc: &mut SimKdc,
    secret: Secret,
    opts: AsOptions,
) -> (krb5_proto::Result<krb5_proto::Credentials>, Vec<AsRequest>) {
    let mut rng = TestRng::new(11);
    let client = Principal::new(1, [kdc.client.as_str()], &kdc.realm);
    let (mut pending, mut req) = AsExchange::new(client, secret, opts).start(at(T0), &mut rng);
    let mut sent = vec![req.clone()];
    loop {
        let reply = kdc.handle(&req);
        match pending.handle_reply(&reply, at(T0), &mut rng) {
            Ok(AsStep::Send(p, r)) => {
                sent.push(r.clone());
                (pending, req) = (*p, r);
            }
            Ok(AsStep::Done(c)) => return (Ok(c), sent),
            Err(e) => return (Err(e), sent),
        }
    }
}

#[test]
fn preauth_hint_saves_a_round_trip_and_falls_back_when_wrong() {
    use krb5_proto::as_exchange::PreauthHint;
    let hint = |salt: &str| AsOptions {
        preauth_hint: Some(PreauthHint {
            etype: EncType::Aes256CtsHmacSha196,
            salt: salt.as_bytes().to_vec(),
            s2kparams: None,
        }),
        ..AsOptions::default()
    };
    // The right salt: one request.
    let mut kdc = SimKdc::new();
    let (res, sent) = run_with(
        &mut kdc,
        Secret::password("hunter2"),
        hint("SIM.TESTunusual-salt"),
    );
    assert_eq!(res.unwrap().pa_type, Some(2));
    assert_eq!(sent.len(), 1);
    // A wrong salt: refused, then the usual exchange with the KDC's salt.
    let mut kdc = SimKdc::new();
    let (res, sent) = run_with(&mut kdc, Secret::password("hunter2"), hint("SIM.TESTwrong"));
    res.unwrap();
    assert_eq!(sent.len(), 3);
    // A wrong password still ends in KDC_ERR_PREAUTH_FAILED.
    let mut kdc = SimKdc::new();
    let (res, _) = run_with(
        &mut kdc,
        Secret::password("nope"),
        hint("SIM.TESTunusual-salt"),
    );
    assert!(
        matches!(res, Err(Error::Kdc(ref k)) if k.code == 24),
        "{res:?}"
    );
}

fn sent_a_timestamp(kdc: &SimKdc) -> bool {
    kdc.seen
        .iter()
        .any(|r| r.0.padata.iter().flatten().any(|p| p.r#type == 2))
}

#[test]
fn rc4_is_not_offered_nor_used_unless_the_policy_permits_it() {
    // A KDC (or a machine in the middle) that lists only RC4 in PA-ETYPE-INFO2.
    let mut kdc = SimKdc::new();
    kdc.etype = EncType::Rc4Hmac;
    let (res, sent) = run(&mut kdc, Secret::password("hunter2"), T0);
    let err = res.unwrap_err();
    assert!(
        matches!(&err, Error::EnctypeDisabled { kdc_offers, disabled, .. }
            if kdc_offers == &[23] && disabled == &[23]),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the KDC offers only rc4-hmac (23) for alice@SIM.TEST, which is disabled: \
         set allow_rc4 = true in [libdefaults] of krb5.conf to permit it"
    );
    assert_eq!(sent.len(), 1, "nothing more is sent");
    assert!(!sent_a_timestamp(&kdc), "no timestamp under the NT hash");
    let offered = &kdc.seen[0].0.req_body.etype;
    assert_eq!(offered, &[18, 17, 20, 19]);

    // The same with a keytab holding an RC4 key.
    let mut kdc = SimKdc::new();
    kdc.etype = EncType::Rc4Hmac;
    let key = kdc.client_key();
    let (res, _) = run(&mut kdc, Secret::Keys(vec![key.clone()]), T0);
    assert!(matches!(res, Err(Error::EnctypeDisabled { .. })), "{res:?}");
    assert!(!sent_a_timestamp(&kdc));

    // Enabled (allow_rc4 = true): offered last, and it works.
    let conf = krb5_proto::config::Krb5Conf::parse("[libdefaults]\n allow_rc4 = true\n").unwrap();
    let opts = AsOptions {
        enctype_policy: EnctypePolicy::from_conf(&conf).unwrap(),
        ..AsOptions::default()
    };
    let mut kdc = SimKdc::new();
    kdc.etype = EncType::Rc4Hmac;
    let (res, _) = run_with(&mut kdc, Secret::Keys(vec![key]), opts.clone());
    res.unwrap();
    let mut kdc = SimKdc::new();
    kdc.etype = EncType::Rc4Hmac;
    let (res, _) = run_with(&mut kdc, Secret::password("hunter2"), opts);
    res.unwrap();
    assert_eq!(kdc.seen[0].0.req_body.etype, [18, 17, 20, 19, 23]);
}

#[test]
fn the_policy_order_decides_the_offer() {
    let conf = krb5_proto::config::Krb5Conf::parse(
        "[libdefaults]\n default_tkt_enctypes = aes128-cts aes256-cts\n",
    )
    .unwrap();
    let opts = AsOptions {
        enctype_policy: EnctypePolicy::from_conf(&conf).unwrap(),
        ..AsOptions::default()
    };
    let mut kdc = SimKdc::new();
    let (res, _) = run_with(&mut kdc, Secret::password("hunter2"), opts);
    res.unwrap();
    assert_eq!(kdc.seen[0].0.req_body.etype, [17, 18]);
}

#[test]
fn s2kparams_out_of_bounds_are_refused_before_deriving() {
    for (count, too_large) in [
        (1u32 << 24, true),
        (1 << 31, true),
        (1, false),
        (4095, false),
    ] {
        let mut kdc = SimKdc::new();
        kdc.s2kparams = Some(count.to_be_bytes().to_vec());
        let (res, sent) = run(&mut kdc, Secret::password("hunter2"), T0);
        let err = res.unwrap_err();
        match err {
            Error::Crypto(CryptoError::IterationCountTooLarge { count: c, limit }) => {
                assert!(too_large);
                assert_eq!(c, u64::from(count));
                assert_eq!(limit, krb5_proto::crypto::MAX_S2K_ITERATIONS);
            }
            Error::Crypto(CryptoError::IterationCountTooSmall {
                count: c, minimum, ..
            }) => {
                assert!(!too_large);
                assert_eq!((c, minimum), (count, 4096));
            }
            other => panic!("{count}: {other:?}"),
        }
        assert_eq!(sent.len(), 1);
        assert!(!sent_a_timestamp(&kdc));
    }
}

#[test]
fn a_key_deriver_is_asked_for_password_keys() {
    use krb5_proto::s2k::{KeyDeriver, S2kInput};
    use std::sync::atomic::{AtomicU32, Ordering};
    #[derive(Debug, Default)]
    struct Counting(AtomicU32);
    impl KeyDeriver for Counting {
        fn derive(&self, input: &S2kInput<'_>) -> Result<Key, CryptoError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            assert_eq!(input.iterations, Some(4096));
            assert_eq!(input.salt, b"SIM.TESTunusual-salt");
            assert!(format!("{input:?}").contains("<redacted>"));
            input.derive_inline()
        }
    }
    let deriver = std::sync::Arc::new(Counting::default());
    let opts = AsOptions {
        key_deriver: Some(deriver.clone()),
        ..AsOptions::default()
    };
    let mut kdc = SimKdc::new();
    let (res, _) = run_with(&mut kdc, Secret::password("hunter2"), opts);
    res.unwrap();
    assert_eq!(deriver.0.load(Ordering::Relaxed), 1);
}
