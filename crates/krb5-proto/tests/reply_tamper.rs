//! Every check of an AS-REP and a TGS-REP (listed in the module docs of `as_exchange` and
//! `tgs_exchange`), each proven by a simulated KDC that changes exactly one field of an otherwise
//! valid reply, re-encrypts it under the right key (the client key for the AS-REP, the TGT
//! session key for the TGS-REP) and expects the named error. The untampered reply and the
//! changes real KDCs make (AD's canonical client name and case, informational flags) pass.

use krb5_proto::as_exchange::{AsExchange, AsOptions, AsStep, Secret};
use krb5_proto::asn1::{
    self, EncKdcRepPart, EncryptedData, EncryptionKey, EtypeInfo2Entry, KdcRep, KdcReqBody,
    KerberosString, KerberosTime, KrbError, PaData, PrincipalName, Ticket, TicketFlags,
};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::rand::TestRng;
use krb5_proto::tgs_exchange::{TgsExchange, TgsOptions, TgsStep};
use krb5_proto::{Credentials, Error, Principal, ReplyCheck};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const T0: i64 = 1_800_000_000;
const REALM: &str = "SIM.TEST";
const PASSWORD: &str = "hunter2";
const SALT: &str = "SIM.TESTalice";

fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

/// The parts of a reply a test may change before the KDC encrypts it.
struct Reply {
    cname: PrincipalName,
    crealm: KerberosString,
    ticket_sname: PrincipalName,
    ticket_realm: KerberosString,
    part: EncKdcRepPart,
    /// AS only: the enctype of the client key the enc-part is encrypted in.
    enc_etype: EncType,
}

type TamperFn<'a> = &'a dyn Fn(&KdcReqBody, &mut Reply);

fn no_tamper(_: &KdcReqBody, _: &mut Reply) {}

fn client_key(etype: EncType) -> Key {
    Key::from_password(etype, PASSWORD.as_bytes(), SALT.as_bytes(), None).unwrap()
}

/// A valid reply to `body` for the client named in `cname`/`crealm`, with a fresh session key.
fn valid_reply(body: &KdcReqBody, cname: PrincipalName, crealm: KerberosString) -> Reply {
    let sname = body.sname.clone().unwrap();
    let start = KerberosTime::from_unix(T0);
    let renewable = body.kdc_options.0 & asn1::KdcOptions::RENEWABLE != 0;
    let mut flags = TicketFlags::PRE_AUTHENT;
    if body.kdc_options.0 & asn1::KdcOptions::FORWARDABLE != 0 {
        flags |= TicketFlags::FORWARDABLE;
    }
    if renewable {
        flags |= TicketFlags::RENEWABLE;
    }
    Reply {
        cname,
        crealm,
        ticket_sname: sname.clone(),
        ticket_realm: body.realm.clone(),
        part: EncKdcRepPart {
            key: EncryptionKey {
                r#type: 18,
                value: vec![0x5a; 32].into(),
            },
            last_req: Vec::new(),
            nonce: body.nonce,
            key_expiration: None,
            flags: TicketFlags(flags),
            auth_time: start,
            start_time: Some(start),
            end_time: KerberosTime::from_unix(body.till.to_unix().min(T0 + 36_000)),
            renew_till: if renewable { body.rtime } else { None },
            srealm: body.realm.clone(),
            sname,
            caddr: None,
            encrypted_pa_data: None,
        },
        enc_etype: EncType::Aes256CtsHmacSha196,
    }
}

fn encode_rep(r: Reply, msg_type: i32, enc_key: &Key, usage: u32) -> Vec<u8> {
    let mut rng = TestRng::new(99);
    let part_der = if msg_type == 11 {
        asn1::encode(&asn1::EncAsRepPart(r.part))
    } else {
        asn1::encode(&asn1::EncTgsRepPart(r.part))
    };
    let rep = KdcRep {
        pvno: 5,
        msg_type,
        padata: None,
        crealm: r.crealm,
        cname: r.cname,
        ticket: Ticket {
            tkt_vno: 5,
            realm: r.ticket_realm,
            sname: r.ticket_sname,
            enc_part: EncryptedData {
                etype: 18,
                kvno: Some(1),
                cipher: vec![1, 2, 3].into(),
            },
        },
        enc_part: EncryptedData {
            etype: enc_key.etype().to_i32(),
            kvno: Some(1),
            cipher: enc_key.encrypt(usage, &part_der, &mut rng).into(),
        },
    };
    if msg_type == 11 {
        asn1::encode(&asn1::AsRep(rep))
    } else {
        asn1::encode(&asn1::TgsRep(rep))
    }
}

fn preauth_required() -> Vec<u8> {
    let info = vec![EtypeInfo2Entry {
        etype: 18,
        salt: Some(KerberosString::from(SALT)),
        s2kparams: None,
    }];
    let hints = vec![PaData {
        r#type: 19,
        value: asn1::encode(&info).into(),
    }];
    asn1::encode(&KrbError {
        pvno: 5,
        msg_type: 30,
        ctime: None,
        cusec: None,
        stime: KerberosTime::from_unix(T0),
        susec: 0,
        error_code: 25,
        crealm: None,
        cname: None,
        realm: KerberosString::from(REALM),
        sname: PrincipalName::from_principal(&Principal::krbtgt(REALM.as_bytes())),
        e_text: None,
        e_data: Some(asn1::encode(&hints).into()),
    })
}

/// An AS exchange for alice@SIM.TEST (password) whose AS-REP is changed by `tamper`: the KDC
/// first asks for pre-authentication (so the client learns the KDC's time), then answers.
fn as_run(opts: AsOptions, tamper: TamperFn) -> Result<Credentials, Error> {
    let mut rng = TestRng::new(7);
    let client = Principal::new(1, ["alice"], REALM);
    let (mut pending, mut req) =
        AsExchange::new(client, Secret::password(PASSWORD), opts).start(at(T0), &mut rng);
    for _ in 0..4 {
        let as_req: asn1::AsReq = asn1::decode(&req.bytes).unwrap();
        let body = &as_req.0.req_body;
        let has_ts = as_req
            .0
            .padata
            .as_ref()
            .is_some_and(|p| p.iter().any(|p| p.r#type == 2));
        let reply = if has_ts {
            let mut r = valid_reply(body, body.cname.clone().unwrap(), body.realm.clone());
            tamper(body, &mut r);
            let key = client_key(r.enc_etype);
            encode_rep(r, 11, &key, 3)
        } else {
            preauth_required()
        };
        match pending.handle_reply(&reply, at(T0), &mut rng)? {
            AsStep::Send(p, r) => (pending, req) = (*p, r),
            AsStep::Done(c) => return Ok(c),
        }
    }
    panic!("the exchange did not finish");
}

fn as_ok(tamper: TamperFn) {
    as_run(AsOptions::default(), tamper).unwrap();
}

fn as_refused(opts: AsOptions, tamper: TamperFn, check: ReplyCheck) {
    match as_run(opts, tamper) {
        Err(Error::ReplyModified { check: c, .. }) if c == check => {}
        other => panic!("expected KRB5_KDCREP_MODIFIED ({check}), got {other:?}"),
    }
}

/// Ticket flags this client never asks for.
const NEVER_ASKED: [u32; 7] = [
    TicketFlags::FORWARDED,
    TicketFlags::PROXIABLE,
    TicketFlags::PROXY,
    TicketFlags::MAY_POSTDATE,
    TicketFlags::POSTDATED,
    TicketFlags::INVALID,
    TicketFlags::ANONYMOUS,
];

fn name(s: &str) -> PrincipalName {
    PrincipalName::from_principal(&Principal::parse(s, Some(REALM)).unwrap())
}

#[test]
fn as_untampered_reply_is_accepted() {
    let c = as_run(AsOptions::default(), &no_tamper).unwrap();
    assert_eq!(c.client.to_string(), "alice@SIM.TEST");
    assert_eq!(c.end_time, T0 + 36_000);
}

#[test]
fn as_reply_in_an_enctype_not_offered_is_refused() {
    // A downgrade: the client offered only AES256, the "KDC" answers in RC4 under the NT hash.
    let opts = AsOptions {
        etypes: vec![EncType::Aes256CtsHmacSha196],
        ..AsOptions::default()
    };
    let res = as_run(opts, &|_, r| r.enc_etype = EncType::Rc4Hmac);
    match res {
        Err(Error::ReplyEnctypeNotOffered {
            what: "encrypted part",
            etype: 23,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn as_session_key_enctype_not_offered_is_refused() {
    let opts = AsOptions {
        etypes: vec![EncType::Aes256CtsHmacSha196, EncType::Aes128CtsHmacSha196],
        ..AsOptions::default()
    };
    let res = as_run(opts, &|_, r| {
        r.part.key = EncryptionKey {
            r#type: 23,
            value: vec![1; 16].into(),
        }
    });
    match res {
        Err(Error::ReplyEnctypeNotOffered {
            what: "session key",
            etype: 23,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn as_nonce_tampered_is_refused() {
    as_refused(
        AsOptions::default(),
        &|_, r| r.part.nonce ^= 0x40,
        ReplyCheck::Nonce,
    );
}

#[test]
fn as_server_name_tampered_is_refused() {
    // A service ticket in place of the TGT asked for (canonicalize allows only another krbtgt).
    as_refused(
        AsOptions::default(),
        &|_, r| {
            r.part.sname = name("host/evil.sim.test");
            r.ticket_sname = name("host/evil.sim.test");
        },
        ReplyCheck::ServerName,
    );
    // Without canonicalize, not even another krbtgt.
    let opts = AsOptions {
        canonicalize: false,
        ..AsOptions::default()
    };
    as_refused(
        opts,
        &|_, r| {
            r.part.sname = name("krbtgt/OTHER.TEST@SIM.TEST");
            r.ticket_sname = name("krbtgt/OTHER.TEST@SIM.TEST");
        },
        ReplyCheck::ServerName,
    );
}

#[test]
fn as_enc_part_server_realm_tampered_is_refused() {
    let opts = AsOptions {
        canonicalize: false,
        ..AsOptions::default()
    };
    as_refused(
        opts,
        &|_, r| r.part.srealm = KerberosString::from("EVIL.TEST"),
        ReplyCheck::ServerName,
    );
}

#[test]
fn as_ticket_server_tampered_is_refused() {
    as_refused(
        AsOptions::default(),
        &|_, r| r.ticket_sname = name("krbtgt/EVIL.TEST@SIM.TEST"),
        ReplyCheck::TicketServer,
    );
    as_refused(
        AsOptions::default(),
        &|_, r| r.ticket_realm = KerberosString::from("EVIL.TEST"),
        ReplyCheck::TicketServer,
    );
}

#[test]
fn as_client_realm_tampered_is_refused() {
    // Canonicalize lets the KDC rename the client, never move it to another realm (RFC 6806:
    // that takes a KDC_ERR_WRONG_REALM referral).
    as_refused(
        AsOptions::default(),
        &|_, r| r.crealm = KerberosString::from("EVIL.TEST"),
        ReplyCheck::ClientName,
    );
}

#[test]
fn as_client_name_tampered_without_canonicalize_is_refused() {
    let opts = AsOptions {
        canonicalize: false,
        ..AsOptions::default()
    };
    as_refused(
        opts,
        &|_, r| r.cname = name("mallory"),
        ReplyCheck::ClientName,
    );
}

#[test]
fn as_client_renamed_to_a_krbtgt_is_refused() {
    as_refused(
        AsOptions::default(),
        &|_, r| r.cname = name("krbtgt/SIM.TEST"),
        ReplyCheck::ClientName,
    );
}

#[test]
fn as_canonical_client_name_and_case_are_accepted() {
    // AD answers with the account's canonical name and case (RFC 6806 §5).
    let c = as_run(AsOptions::default(), &|_, r| r.cname = name("Alice.Smith")).unwrap();
    assert_eq!(c.client.to_string(), "Alice.Smith@SIM.TEST");
    let c = as_run(AsOptions::default(), &|_, r| {
        r.crealm = KerberosString::from("sim.test")
    })
    .unwrap();
    assert_eq!(c.client.realm, b"sim.test");
}

#[test]
fn as_end_time_after_till_is_refused() {
    as_refused(
        AsOptions::default(),
        &|b, r| r.part.end_time = KerberosTime::from_unix(b.till.to_unix() + 1),
        ReplyCheck::EndTime,
    );
}

#[test]
fn as_renew_till_after_rtime_is_refused() {
    let opts = AsOptions {
        renew_life: Some(Duration::from_secs(7 * 86_400)),
        ..AsOptions::default()
    };
    // Untampered: renewable until the asked rtime.
    let c = as_run(opts.clone(), &no_tamper).unwrap();
    assert_eq!(c.renew_till, Some(T0 + 7 * 86_400));
    as_refused(
        opts,
        &|b, r| r.part.renew_till = Some(KerberosTime::from_unix(b.rtime.unwrap().to_unix() + 1)),
        ReplyCheck::RenewTill,
    );
}

#[test]
fn as_renewable_ok_renew_till_after_till_is_refused() {
    // Only RENEWABLE-OK asked: a renewable ticket may be renewed up to the asked end time only.
    as_refused(
        AsOptions::default(),
        &|b, r| {
            r.part.flags.0 |= TicketFlags::RENEWABLE;
            r.part.renew_till = Some(KerberosTime::from_unix(b.till.to_unix() + 1));
        },
        ReplyCheck::RenewTill,
    );
    // Up to till is what RENEWABLE-OK means.
    as_ok(&|b, r| {
        r.part.flags.0 |= TicketFlags::RENEWABLE;
        r.part.renew_till = Some(b.till);
    });
}

#[test]
fn as_flags_not_asked_for_are_refused() {
    for flag in NEVER_ASKED {
        as_refused(
            AsOptions::default(),
            &|_, r| r.part.flags.0 |= flag,
            ReplyCheck::Flags,
        );
    }
    // Forwardable only when asked.
    let opts = AsOptions {
        forwardable: false,
        ..AsOptions::default()
    };
    as_refused(
        opts,
        &|_, r| r.part.flags.0 |= TicketFlags::FORWARDABLE,
        ReplyCheck::Flags,
    );
}

#[test]
fn as_informational_flags_of_real_kdcs_are_accepted() {
    // What MIT, Samba and AD set on a TGT: forwardable (asked), renewable, initial,
    // pre-authent, ok-as-delegate, transited-policy-checked, enc-pa-rep, and bits we do not know.
    as_ok(&|_, r| {
        r.part.flags.0 |= TicketFlags::FORWARDABLE
            | TicketFlags::RENEWABLE
            | TicketFlags::INITIAL
            | TicketFlags::PRE_AUTHENT
            | TicketFlags::HW_AUTHENT
            | TicketFlags::OK_AS_DELEGATE
            | TicketFlags::TRANSITED_POLICY_CHECKED
            | TicketFlags::ENC_PA_REP
            | 0x0000_0100;
    });
}

#[test]
fn as_start_time_outside_the_clock_skew_is_refused() {
    for off in [-301, 301] {
        let res = as_run(AsOptions::default(), &|_, r| {
            r.part.start_time = Some(KerberosTime::from_unix(T0 + off));
        });
        match res {
            Err(Error::ReplySkew {
                start_time, skew, ..
            }) => {
                assert_eq!(start_time, T0 + off);
                assert_eq!(skew, 300);
            }
            other => panic!("{off}: {other:?}"),
        }
    }
    // Within the skew: fine.
    as_ok(&|_, r| r.part.start_time = Some(KerberosTime::from_unix(T0 + 299)));
    // No start time: the auth time stands in for it.
    let res = as_run(AsOptions::default(), &|_, r| {
        r.part.start_time = None;
        r.part.auth_time = KerberosTime::from_unix(T0 - 3600);
    });
    assert!(matches!(res, Err(Error::ReplySkew { .. })), "{res:?}");
}

// ---- TGS ----

const SERVICE: &str = "HTTP/web.sim.test@SIM.TEST";

fn tgt(flags: u32) -> Credentials {
    let mut c = as_run(AsOptions::default(), &no_tamper).unwrap();
    c.flags = flags;
    c
}

/// A TGS exchange with `tgt` for HTTP/web.sim.test whose TGS-REP is changed by `tamper` and
/// encrypted under the TGT session key (usage 8).
fn tgs_run(tgt: Credentials, opts: TgsOptions, tamper: TamperFn) -> Result<Credentials, Error> {
    let mut rng = TestRng::new(3);
    let service = Principal::parse(SERVICE, None).unwrap();
    let (pending, req) =
        TgsExchange::new(tgt.clone(), service, opts).start(at(T0 + 60), &mut rng)?;
    let tgs_req: asn1::TgsReq = asn1::decode(&req.bytes).unwrap();
    let body = &tgs_req.0.req_body;
    let mut r = valid_reply(
        body,
        PrincipalName::from_principal(&tgt.client),
        KerberosString(tgt.client.realm.clone()),
    );
    r.part.auth_time = KerberosTime::from_unix(tgt.auth_time);
    r.part.start_time = Some(KerberosTime::from_unix(T0 + 60));
    tamper(body, &mut r);
    let reply = encode_rep(r, 13, &tgt.session_key, 8);
    match pending.handle_reply(&reply)? {
        TgsStep::Done(c) => Ok(c),
        TgsStep::Send(..) => panic!("unexpected resend"),
    }
}

fn tgs_refused(tgt: Credentials, opts: TgsOptions, tamper: TamperFn, check: ReplyCheck) {
    match tgs_run(tgt, opts, tamper) {
        Err(Error::ReplyModified { check: c, .. }) if c == check => {}
        other => panic!("expected KRB5_KDCREP_MODIFIED ({check}), got {other:?}"),
    }
}

fn fwd_tgt() -> Credentials {
    tgt(TicketFlags::FORWARDABLE | TicketFlags::INITIAL | TicketFlags::PRE_AUTHENT)
}

#[test]
fn tgs_untampered_reply_is_accepted() {
    let c = tgs_run(fwd_tgt(), TgsOptions::default(), &no_tamper).unwrap();
    assert_eq!(c.server.to_string(), SERVICE);
    assert_eq!(c.client.to_string(), "alice@SIM.TEST");
}

#[test]
fn tgs_nonce_tampered_is_refused() {
    tgs_refused(
        fwd_tgt(),
        TgsOptions::default(),
        &|_, r| r.part.nonce = r.part.nonce.wrapping_add(1),
        ReplyCheck::Nonce,
    );
}

#[test]
fn tgs_client_name_other_than_the_tgts_is_refused() {
    // Issue 9: the TGS-REP's cname/crealm must be the TGT's client.
    tgs_refused(
        fwd_tgt(),
        TgsOptions::default(),
        &|_, r| r.cname = name("mallory"),
        ReplyCheck::ClientName,
    );
    tgs_refused(
        fwd_tgt(),
        TgsOptions::default(),
        &|_, r| r.crealm = KerberosString::from("EVIL.TEST"),
        ReplyCheck::ClientName,
    );
}

#[test]
fn tgs_server_name_tampered_without_canonicalize_is_refused() {
    let opts = TgsOptions {
        canonicalize: false,
        ..TgsOptions::default()
    };
    tgs_refused(
        fwd_tgt(),
        opts,
        &|_, r| {
            r.part.sname = name("HTTP/evil.sim.test");
            r.ticket_sname = name("HTTP/evil.sim.test");
        },
        ReplyCheck::ServerName,
    );
    // With canonicalize MIT (and we) accept the KDC's canonical name.
    let c = tgs_run(fwd_tgt(), TgsOptions::default(), &|_, r| {
        r.part.sname = name("WEB$");
        r.ticket_sname = name("WEB$");
    })
    .unwrap();
    assert_eq!(c.server.to_string(), "WEB$@SIM.TEST");
}

#[test]
fn tgs_ticket_server_tampered_is_refused() {
    tgs_refused(
        fwd_tgt(),
        TgsOptions::default(),
        &|_, r| r.ticket_sname = name("HTTP/evil.sim.test"),
        ReplyCheck::TicketServer,
    );
}

#[test]
fn tgs_session_key_enctype_not_offered_is_refused() {
    let opts = TgsOptions {
        etypes: vec![EncType::Aes256CtsHmacSha196],
        ..TgsOptions::default()
    };
    let res = tgs_run(fwd_tgt(), opts, &|_, r| {
        r.part.key = EncryptionKey {
            r#type: 23,
            value: vec![1; 16].into(),
        }
    });
    assert!(
        matches!(
            res,
            Err(Error::ReplyEnctypeNotOffered {
                what: "session key",
                etype: 23,
                ..
            })
        ),
        "{res:?}"
    );
}

#[test]
fn tgs_end_time_after_till_is_refused() {
    tgs_refused(
        fwd_tgt(),
        TgsOptions::default(),
        &|b, r| r.part.end_time = KerberosTime::from_unix(b.till.to_unix() + 1),
        ReplyCheck::EndTime,
    );
}

#[test]
fn tgs_flags_not_asked_for_are_refused() {
    for flag in NEVER_ASKED {
        tgs_refused(
            fwd_tgt(),
            TgsOptions::default(),
            &|_, r| r.part.flags.0 |= flag,
            ReplyCheck::Flags,
        );
    }
    // A non-forwardable TGT: forwardable is not asked, so not accepted.
    tgs_refused(
        tgt(TicketFlags::INITIAL),
        TgsOptions::default(),
        &|_, r| r.part.flags.0 |= TicketFlags::FORWARDABLE,
        ReplyCheck::Flags,
    );
    // From a forwarded TGT, service tickets are forwarded too (RFC 4120 §2.6).
    tgs_run(
        tgt(TicketFlags::FORWARDABLE | TicketFlags::FORWARDED),
        TgsOptions::default(),
        &|_, r| r.part.flags.0 |= TicketFlags::FORWARDED,
    )
    .unwrap();
    // Informational flags of real KDCs.
    tgs_run(fwd_tgt(), TgsOptions::default(), &|_, r| {
        r.part.flags.0 |= TicketFlags::FORWARDABLE
            | TicketFlags::RENEWABLE
            | TicketFlags::PRE_AUTHENT
            | TicketFlags::OK_AS_DELEGATE
            | TicketFlags::TRANSITED_POLICY_CHECKED
            | TicketFlags::ENC_PA_REP;
    })
    .unwrap();
}

#[test]
fn tgs_start_time_outside_the_clock_skew_is_refused() {
    for off in [-301, 301] {
        let res = tgs_run(fwd_tgt(), TgsOptions::default(), &|_, r| {
            r.part.start_time = Some(KerberosTime::from_unix(T0 + 60 + off))
        });
        assert!(
            matches!(res, Err(Error::ReplySkew { skew: 300, .. })),
            "{off}: {res:?}"
        );
    }
    tgs_run(fwd_tgt(), TgsOptions::default(), &|_, r| {
        r.part.start_time = Some(KerberosTime::from_unix(T0 + 60 + 300))
    })
    .unwrap();
}

#[test]
fn tgs_reply_not_under_the_tgt_session_key_is_refused() {
    let mut rng = TestRng::new(3);
    let tgt = fwd_tgt();
    let service = Principal::parse(SERVICE, None).unwrap();
    let (pending, req) = TgsExchange::new(tgt.clone(), service, TgsOptions::default())
        .start(at(T0 + 60), &mut rng)
        .unwrap();
    let tgs_req: asn1::TgsReq = asn1::decode(&req.bytes).unwrap();
    let r = valid_reply(
        &tgs_req.0.req_body,
        PrincipalName::from_principal(&tgt.client),
        KerberosString(tgt.client.realm.clone()),
    );
    let other = Key::new(EncType::Aes256CtsHmacSha196, &[0x11; 32]).unwrap();
    let res = pending.handle_reply(&encode_rep(r, 13, &other, 8));
    assert!(matches!(res, Err(Error::Crypto(_))), "{res:?}");
}

// ---- cross-realm: the second hop's reply gets the same checks ----

const FOREIGN: &str = "OTHER.TEST";

/// A TGS exchange with alice's TGT of SIM.TEST for HTTP/web.other.test asked in SIM.TEST: the
/// first KDC answers with a referral TGT krbtgt/OTHER.TEST@SIM.TEST (changed by `hop1`), the
/// second (OTHER.TEST's) with the service ticket (changed by `hop2`), each encrypted under the
/// session key of the TGT the request used.
fn xrealm_run(opts: TgsOptions, hop1: TamperFn, hop2: TamperFn) -> Result<Credentials, Error> {
    let tgt = fwd_tgt();
    let mut rng = TestRng::new(5);
    let service = Principal::new(
        krb5_proto::principal::name_type::SRV_HST,
        ["HTTP", "web.other.test"],
        REALM,
    );
    let (pending, req) =
        TgsExchange::new(tgt.clone(), service, opts).start(at(T0 + 60), &mut rng)?;
    let body: asn1::TgsReq = asn1::decode(&req.bytes).unwrap();
    let body = body.0.req_body;
    let mut r = valid_reply(
        &body,
        PrincipalName::from_principal(&tgt.client),
        KerberosString(tgt.client.realm.clone()),
    );
    let referral = name(&format!("krbtgt/{FOREIGN}"));
    r.part.sname = referral.clone();
    r.ticket_sname = referral;
    r.part.start_time = Some(KerberosTime::from_unix(T0 + 60));
    hop1(&body, &mut r);
    let reply = encode_rep(r, 13, &tgt.session_key, 8);
    let (pending, req) = match pending.handle_reply_at(&reply, at(T0 + 61), &mut rng)? {
        TgsStep::Send(p, r) => (p, r),
        TgsStep::Done(c) => panic!("the referral was taken for the ticket: {c:?}"),
    };
    assert_eq!(req.realm, FOREIGN.as_bytes());
    assert_eq!(pending.new_tgts().len(), 1);
    let referral_key = Key::new(EncType::Aes256CtsHmacSha196, &[0x5a; 32]).unwrap();
    let body2: asn1::TgsReq = asn1::decode(&req.bytes).unwrap();
    let body2 = body2.0.req_body;
    assert_eq!(body2.realm, KerberosString::from(FOREIGN));
    let sname = body2.sname.clone().expect("sname");
    assert_eq!(sname.string, name("HTTP/web.other.test").string);
    assert_eq!(sname.r#type, krb5_proto::principal::name_type::SRV_HST);
    let mut r = valid_reply(
        &body2,
        PrincipalName::from_principal(&tgt.client),
        KerberosString(tgt.client.realm.clone()),
    );
    r.part.start_time = Some(KerberosTime::from_unix(T0 + 61));
    hop2(&body2, &mut r);
    let reply = encode_rep(r, 13, &referral_key, 8);
    match pending.handle_reply_at(&reply, at(T0 + 62), &mut rng)? {
        TgsStep::Done(c) => Ok(c),
        TgsStep::Send(_, r) => Err(Error::Protocol {
            during: "test",
            what: format!("a third request to {:?}", String::from_utf8_lossy(&r.realm)),
        }),
    }
}

fn xrealm_refused(hop2: TamperFn, check: ReplyCheck) {
    match xrealm_run(TgsOptions::default(), &no_tamper, hop2) {
        Err(Error::ReplyModified { check: c, .. }) if c == check => {}
        other => panic!("expected KRB5_KDCREP_MODIFIED ({check}) on the second hop, got {other:?}"),
    }
}

#[test]
fn xrealm_untampered_referral_is_followed() {
    let c = xrealm_run(TgsOptions::default(), &no_tamper, &no_tamper).unwrap();
    assert_eq!(c.server.to_string(), "HTTP/web.other.test@OTHER.TEST");
    assert_eq!(c.client.to_string(), "alice@SIM.TEST");
}

#[test]
fn xrealm_second_hop_is_checked_like_the_first() {
    xrealm_refused(
        &|_, r| r.part.nonce = r.part.nonce.wrapping_add(1),
        ReplyCheck::Nonce,
    );
    xrealm_refused(&|_, r| r.cname = name("mallory"), ReplyCheck::ClientName);
    xrealm_refused(
        &|_, r| r.crealm = KerberosString::from(FOREIGN),
        ReplyCheck::ClientName,
    );
    xrealm_refused(
        &|_, r| r.ticket_sname = name("HTTP/evil.other.test"),
        ReplyCheck::TicketServer,
    );
    // OTHER.TEST's KDC issuing a ticket of yet another realm.
    xrealm_refused(
        &|_, r| {
            r.part.srealm = KerberosString::from("EVIL.TEST");
            r.ticket_realm = KerberosString::from("EVIL.TEST");
        },
        ReplyCheck::ServerName,
    );
    xrealm_refused(
        &|_, r| r.part.end_time = KerberosTime::from_unix(T0 + 400_000),
        ReplyCheck::EndTime,
    );
    xrealm_refused(
        &|_, r| r.part.flags.0 |= TicketFlags::PROXY,
        ReplyCheck::Flags,
    );
}

#[test]
fn xrealm_first_hop_is_checked_too() {
    match xrealm_run(
        TgsOptions::default(),
        &|_, r| r.part.nonce = r.part.nonce.wrapping_add(1),
        &no_tamper,
    ) {
        Err(Error::ReplyModified {
            check: ReplyCheck::Nonce,
            ..
        }) => {}
        other => panic!("expected the nonce check on the referral, got {other:?}"),
    }
}

#[test]
fn xrealm_referral_back_to_a_visited_realm_is_a_loop() {
    let back = |_: &KdcReqBody, r: &mut Reply| {
        let n = name(&format!("krbtgt/{REALM}"));
        r.part.sname = n.clone();
        r.ticket_sname = n;
    };
    match xrealm_run(TgsOptions::default(), &no_tamper, &back) {
        Err(Error::CrossRealmLoop {
            from, realm, path, ..
        }) => {
            assert_eq!((from.as_str(), realm.as_str()), (FOREIGN, REALM));
            assert_eq!(path, "SIM.TEST -> OTHER.TEST");
        }
        other => panic!("expected CrossRealmLoop, got {other:?}"),
    }
}

#[test]
fn xrealm_hop_bound_zero_refuses_the_referral() {
    let opts = TgsOptions {
        max_hops: 0,
        ..TgsOptions::default()
    };
    match xrealm_run(opts, &no_tamper, &no_tamper) {
        Err(Error::CrossRealmHops { limit: 0, path, .. }) => {
            assert_eq!(path, "SIM.TEST -> OTHER.TEST")
        }
        other => panic!("expected CrossRealmHops, got {other:?}"),
    }
}
