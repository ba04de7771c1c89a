//! The engine's interop matrix against a real Samba 4.22 AD DC (Heimdal-based KDC) started by
//! `testenv/samba-dc.sh start` (realm EXAMPLE.TEST on 127.0.0.2).
//! These tests fail (never skip) when the DC's testenv.json is missing: run `scripts/test.sh` or
//! `testenv/samba-dc.sh start` first.
//!
//! What Samba does that the MIT KDC does not (each is checked below):
//! * every TGT carries a PAC (even with PA-PAC-REQUEST false), so the AS-REP is ~1.6 KiB and
//!   a TGS-REP too: over UDP Samba answers `KRB_ERR_RESPONSE_TOO_BIG` (52), the request must go
//!   again over TCP; PA-PAC-REQUEST false only keeps the PAC out of service tickets;
//! * user salts are `REALM` + sAMAccountName as created, computer/gMSA salts are
//!   `REALM` + `host` + lower-case name without `$` + `.` + DNS domain; ETYPE-INFO2 tells them;
//! * names and realms are case-insensitive: with canonicalize the reply names the account as
//!   stored; an AS-REQ for an SPN comes back named by the account (`DC1$`);
//! * a FORWARDABLE TGS request with a non-forwardable TGT is KDC_ERR_BADOPTION (MIT ignores it);
//! * no RFC 8009 enctypes (KDC_ERR_ETYPE_NOSUPP);
//! * a service account with no `msDS-SupportedEncryptionTypes` (the gMSA, the computer) gets
//!   RC4 service tickets by default, which lets the test decrypt them with the keytab.

use krb5_proto::as_exchange::{AsExchange, AsOptions, AsStep, Secret};
use krb5_proto::asn1::{
    self, AuthorizationDataValue, EncTicketPart, KdcReply, TicketFlags, error_code,
};
use krb5_proto::client::Client;
use krb5_proto::config::Krb5Conf;
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::etype_policy::EnctypePolicy;
use krb5_proto::keytab::Keytab;
use krb5_proto::rand::OsRng;
use krb5_proto::tgs_exchange::{TgsExchange, TgsOptions, TgsStep};
use krb5_proto::transport::{KdcAddr, KdcClient, Protocol, frame_tcp};
use krb5_proto::{Credentials, Error, Principal};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

struct Env {
    json: serde_json::Value,
}

fn env() -> Env {
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let path = PathBuf::from(base).join("samba").join("testenv.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the Samba AD DC test environment is missing ({}: {e}); run `testenv/samba-dc.sh start`",
            path.display()
        )
    });
    let json: serde_json::Value = serde_json::from_str(&text).expect("testenv.json is valid JSON");
    Env { json }
}

impl Env {
    fn str(&self, pointer: &str) -> String {
        self.json
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{pointer} in samba testenv.json"))
            .to_string()
    }
    fn kdc(&self) -> String {
        self.str("/kdc")
    }
    fn realm(&self) -> String {
        self.str("/realm")
    }
    fn client_with(&self, kdcs: &[&str]) -> Client {
        let conf = Krb5Conf::load(self.str("/krb5_conf").as_ref()).expect("samba krb5.conf parses");
        Client::new(conf).with_kdcs(
            kdcs.iter()
                .map(|k| KdcAddr::parse(k).expect("kdc address"))
                .collect(),
        )
    }
    fn client(&self) -> Client {
        self.client_with(&[&self.kdc()])
    }
    fn password(&self, pointer: &str) -> String {
        let file = self.str(pointer);
        let pw = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        pw.trim_end_matches('\n').to_string()
    }
    /// The reader user (`svc-fetcher@EXAMPLE.TEST`) and its password.
    fn reader(&self) -> (Principal, String) {
        (
            Principal::parse(&self.str("/users/reader/principal"), None).expect("principal"),
            self.password("/users/reader/password_file"),
        )
    }
    fn keytab(&self, pointer: &str) -> Keytab {
        let path = self.str(pointer);
        Keytab::read(path.as_ref()).unwrap_or_else(|e| panic!("keytab {path}: {e}"))
    }
    fn udp_addr(&self) -> std::net::SocketAddr {
        self.kdc().parse().expect("kdc is ip:port")
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn as_req(client: &Client, p: &Principal, secret: Secret, opts: AsOptions) -> Credentials {
    let t = Instant::now();
    let creds = rt()
        .block_on(client.as_exchange(p.clone(), secret, opts))
        .unwrap_or_else(|e| panic!("AS exchange for {p}: {e}"));
    eprintln!("AS {p}: {:?}", t.elapsed());
    creds
}

fn kdc_err<T: std::fmt::Debug>(
    r: Result<T, Error>,
    what: &str,
) -> Box<krb5_proto::error::KdcError> {
    match r {
        Err(Error::Kdc(k)) => k,
        other => panic!("{what}: expected a KRB-ERROR from Samba, got {other:?}"),
    }
}

fn ticket_etype(creds: &Credentials) -> i32 {
    let t: asn1::Ticket = asn1::decode(&creds.ticket).expect("ticket decodes");
    t.enc_part.etype
}

fn assert_tgt(creds: &Credentials, env: &Env, client: &Principal) {
    let realm = env.realm();
    assert_eq!(&creds.client, client, "canonical client name");
    assert_eq!(creds.server, Principal::krbtgt(realm.as_bytes()));
    assert!(creds.end_time > creds.auth_time);
    assert_eq!(
        creds.pa_type,
        Some(2),
        "Samba requires encrypted-timestamp pre-authentication"
    );
    for flag in [TicketFlags::INITIAL, TicketFlags::PRE_AUTHENT] {
        assert!(creds.flags & flag != 0, "flags {:#010x}", creds.flags);
    }
    // The TGT is under the krbtgt key, AES256 on a 2016-level domain.
    assert_eq!(ticket_etype(creds), EncType::Aes256CtsHmacSha196.to_i32());
}

// ---------------------------------------------------------------------------------------------
// AS by password

#[test]
fn as_by_password_for_the_reader_uses_aes256_and_the_kdc_salt() {
    let env = env();
    let (p, pw) = env.reader();
    let creds = as_req(
        &env.client(),
        &p,
        Secret::password(&pw),
        AsOptions::default(),
    );
    assert_tgt(&creds, &env, &p);
    assert_eq!(
        creds.session_key.etype(),
        EncType::Aes256CtsHmacSha196,
        "Samba picks the first enctype of ours it supports for the session key"
    );
}

#[test]
fn as_by_password_restricted_to_one_enctype() {
    let env = env();
    let (p, pw) = env.reader();
    // (enctype, does Samba accept it for a user with default msDS-SupportedEncryptionTypes)
    for (etype, works) in [
        (EncType::Aes256CtsHmacSha196, true),
        (EncType::Aes128CtsHmacSha196, true),
        (EncType::Rc4Hmac, true),
        // Samba 4.22 has no RFC 8009 keys for accounts.
        (EncType::Aes256CtsHmacSha384192, false),
        (EncType::Aes128CtsHmacSha256128, false),
    ] {
        let opts = AsOptions {
            etypes: vec![etype],
            // Every enctype, RC4 included, is tested on its own here.
            enctype_policy: EnctypePolicy::allow_all(),
            ..Default::default()
        };
        let r = rt().block_on(
            env.client()
                .as_exchange(p.clone(), Secret::password(&pw), opts),
        );
        eprintln!(
            "password AS with only {}: {:?}",
            etype.name(),
            r.as_ref()
                .map(|c| c.session_key.etype())
                .map_err(|e| e.to_string())
        );
        match (works, r) {
            (true, Ok(creds)) => {
                assert_tgt(&creds, &env, &p);
                assert_eq!(creds.session_key.etype(), etype);
            }
            (false, Err(Error::Kdc(k))) => {
                assert_eq!(k.code, error_code::KDC_ERR_ETYPE_NOSUPP, "{k}")
            }
            (works, other) => panic!("{}: expected works={works}, got {other:?}", etype.name()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AS by keytab

#[test]
fn as_by_keytab_for_the_gmsa_with_each_enctype() {
    let env = env();
    let p = Principal::parse(&env.str("/gmsa/principal"), None).unwrap();
    let kt = env.keytab("/gmsa/keytab");
    let keys = kt.keys_for(&p);
    let mut etypes: Vec<EncType> = keys.iter().map(|k| k.etype()).collect();
    etypes.sort_by_key(|e| e.to_i32());
    assert_eq!(
        etypes,
        [
            EncType::Aes128CtsHmacSha196,
            EncType::Aes256CtsHmacSha196,
            EncType::Rc4Hmac
        ],
        "samba-tool exportkeytab writes aes256, aes128 and rc4 for the gMSA"
    );
    for key in keys {
        let etype = key.etype();
        let opts = AsOptions {
            etypes: vec![etype],
            // Every enctype, RC4 included, is tested on its own here.
            enctype_policy: EnctypePolicy::allow_all(),
            ..Default::default()
        };
        let creds = as_req(&env.client(), &p, Secret::Keys(vec![key]), opts);
        assert_tgt(&creds, &env, &p);
        assert_eq!(creds.session_key.etype(), etype);
    }
    // All keys together: the engine uses the strongest.
    let creds = as_req(
        &env.client(),
        &p,
        Secret::Keys(kt.keys_for(&p)),
        AsOptions::default(),
    );
    assert_tgt(&creds, &env, &p);
    assert_eq!(creds.session_key.etype(), EncType::Aes256CtsHmacSha196);
}

#[test]
fn as_by_keytab_and_password_for_the_machine_account() {
    let env = env();
    let p = Principal::parse(&env.str("/machine/principal"), None).unwrap();
    let kt = env.keytab("/machine/keytab");
    let keys = kt.keys_for(&p);
    assert_eq!(keys.len(), 3, "aes256, aes128, rc4 for ECSHOST01$");
    for key in keys {
        let etype = key.etype();
        let opts = AsOptions {
            etypes: vec![etype],
            // Every enctype, RC4 included, is tested on its own here.
            enctype_policy: EnctypePolicy::allow_all(),
            ..Default::default()
        };
        let creds = as_req(&env.client(), &p, Secret::Keys(vec![key]), opts);
        assert_tgt(&creds, &env, &p);
    }
    // The machine password with the salt from ETYPE-INFO2 (REALM + "host" + name + "." + domain).
    let pw = env.password("/machine/password_file");
    let creds = as_req(
        &env.client(),
        &p,
        Secret::password(&pw),
        AsOptions::default(),
    );
    assert_tgt(&creds, &env, &p);
    let salt = env.str("/machine/salt");
    let derived = Key::from_password(
        EncType::Aes256CtsHmacSha196,
        pw.as_bytes(),
        salt.as_bytes(),
        None,
    )
    .unwrap();
    let from_kt = kt
        .keys_for(&p)
        .into_iter()
        .find(|k| k.etype() == EncType::Aes256CtsHmacSha196)
        .unwrap();
    assert_eq!(
        derived.as_bytes(),
        from_kt.as_bytes(),
        "the machine salt is {salt}"
    );
}

// ---------------------------------------------------------------------------------------------
// UDP: the PAC makes the AS-REP too big

fn udp_roundtrip(addr: std::net::SocketAddr, req: &[u8]) -> Vec<u8> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.connect(addr).unwrap();
    s.send(req).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = s.recv(&mut buf).expect("Samba answers over UDP");
    buf.truncate(n);
    buf
}

fn tcp_roundtrip(addr: std::net::SocketAddr, req: &[u8]) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&frame_tcp(req).unwrap()).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn samba_answers_response_too_big_over_udp_and_the_exchange_retries_over_tcp() {
    let env = env();
    let (p, pw) = env.reader();
    let addr = env.udp_addr();
    let now = SystemTime::now;
    // Round 1 over UDP: PREAUTH_REQUIRED fits in a datagram.
    let (pending, req) = AsExchange::new(p.clone(), Secret::password(&pw), AsOptions::default())
        .start(now(), &mut OsRng);
    assert!(!req.tcp_only);
    let reply = udp_roundtrip(addr, &req.bytes);
    let AsStep::Send(pending, req2) = pending.handle_reply(&reply, now(), &mut OsRng).unwrap()
    else {
        panic!("Samba must ask for pre-authentication first");
    };
    assert!(!req2.tcp_only);
    // Round 2 over UDP: the AS-REP with its PAC does not fit; Samba says so.
    let reply = udp_roundtrip(addr, &req2.bytes);
    match asn1::decode_kdc_reply(&reply).unwrap() {
        KdcReply::Error(e) => assert_eq!(e.error_code, error_code::KRB_ERR_RESPONSE_TOO_BIG),
        other => panic!("expected KRB_ERR_RESPONSE_TOO_BIG over UDP, got {other:?}"),
    }
    let AsStep::Send(pending, req3) = pending.handle_reply(&reply, now(), &mut OsRng).unwrap()
    else {
        panic!("RESPONSE_TOO_BIG must lead to another request");
    };
    assert!(req3.tcp_only, "the retry must be TCP only");
    assert_eq!(
        req3.bytes, req2.bytes,
        "the same request (same nonce) goes again"
    );
    // Round 3 over TCP: the AS-REP.
    let reply = tcp_roundtrip(addr, &req3.bytes);
    eprintln!("AS-REP over TCP: {} bytes", reply.len());
    assert!(
        reply.len() > 1400,
        "the PAC makes the AS-REP large: {}",
        reply.len()
    );
    let AsStep::Done(creds) = pending.handle_reply(&reply, now(), &mut OsRng).unwrap() else {
        panic!("the TCP reply is the AS-REP");
    };
    assert_tgt(&creds, &env, &p);

    // PA-PAC-REQUEST false changes nothing here: Samba (like Windows since the 2021 PAC
    // hardening) puts a PAC in every TGT, so the reply is still too big for UDP.
    let opts = AsOptions {
        request_pac: Some(false),
        ..Default::default()
    };
    let (pending, req) =
        AsExchange::new(p.clone(), Secret::password(&pw), opts).start(now(), &mut OsRng);
    let reply = udp_roundtrip(addr, &req.bytes);
    let AsStep::Send(_, req2) = pending.handle_reply(&reply, now(), &mut OsRng).unwrap() else {
        panic!("pre-authentication required");
    };
    let reply = udp_roundtrip(addr, &req2.bytes);
    assert!(
        matches!(asn1::decode_kdc_reply(&reply), Ok(KdcReply::Error(e)) if e.error_code == error_code::KRB_ERR_RESPONSE_TOO_BIG),
        "without a PAC request the AS-REP is still too big for UDP"
    );
}

#[test]
fn tgs_reply_is_too_big_for_udp_too_and_the_exchange_retries_over_tcp() {
    let env = env();
    let tgt = tgt(&env);
    let addr = env.udp_addr();
    let svc = Principal::parse("ldap/dc1.example.test@EXAMPLE.TEST", None).unwrap();
    let (pending, req) = TgsExchange::new(tgt.clone(), svc.clone(), TgsOptions::default())
        .start(SystemTime::now(), &mut OsRng)
        .unwrap();
    assert!(!req.tcp_only);
    let reply = udp_roundtrip(addr, &req.bytes);
    match asn1::decode_kdc_reply(&reply).unwrap() {
        KdcReply::Error(e) => assert_eq!(e.error_code, error_code::KRB_ERR_RESPONSE_TOO_BIG),
        other => panic!("expected KRB_ERR_RESPONSE_TOO_BIG over UDP, got {other:?}"),
    }
    let TgsStep::Send(pending, again) = pending.handle_reply(&reply).unwrap() else {
        panic!("RESPONSE_TOO_BIG must lead to another request");
    };
    assert!(again.tcp_only);
    assert_eq!(again.bytes, req.bytes);
    let reply = tcp_roundtrip(addr, &again.bytes);
    eprintln!("TGS-REP over TCP: {} bytes", reply.len());
    let TgsStep::Done(st) = pending.handle_reply(&reply).unwrap() else {
        panic!("the TCP reply is the TGS-REP");
    };
    assert_eq!(st.server, svc);
}

#[test]
fn transport_retries_over_tcp_after_response_too_big() {
    let env = env();
    let (p, pw) = env.reader();
    let now = SystemTime::now;
    for kdc in [env.kdc(), format!("udp/{}", env.kdc())] {
        let kc = KdcClient::new(&env.realm(), vec![KdcAddr::parse(&kdc).unwrap()]);
        assert_eq!(kc.udp_preference_limit(), 1465, "MIT's default");
        let (pending, req) =
            AsExchange::new(p.clone(), Secret::password(&pw), AsOptions::default())
                .start(now(), &mut OsRng);
        let first = rt().block_on(kc.send(&req.bytes)).unwrap();
        assert_eq!(
            first.protocol,
            Protocol::Udp,
            "{kdc}: PREAUTH_REQUIRED comes over UDP"
        );
        let AsStep::Send(pending, req2) = pending
            .handle_reply(&first.bytes, now(), &mut OsRng)
            .unwrap()
        else {
            panic!("pre-authentication required");
        };
        let second = rt().block_on(kc.send(&req2.bytes)).unwrap();
        // The transport retried the same KDC over TCP on its own, even for a `udp/` entry (the
        // retry belongs to the UDP exchange with that KDC; MIT 1.20 has no `udp/` prefix at all).
        assert_eq!(second.protocol, Protocol::Tcp, "{kdc}");
        let AsStep::Done(creds) = pending
            .handle_reply(&second.bytes, now(), &mut OsRng)
            .unwrap()
        else {
            panic!("{kdc}: the AS-REP");
        };
        assert_tgt(&creds, &env, &p);
    }
    // The whole client, with UDP-only and TCP-only KDC entries.
    for kdc in [format!("udp/{}", env.kdc()), format!("tcp/{}", env.kdc())] {
        let creds = as_req(
            &env.client_with(&[&kdc]),
            &p,
            Secret::password(&pw),
            AsOptions::default(),
        );
        assert_tgt(&creds, &env, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and names

#[test]
fn wrong_password_is_preauth_failed() {
    let env = env();
    let (p, _) = env.reader();
    let k = kdc_err(
        rt().block_on(env.client().as_exchange(
            p,
            Secret::password("not the password"),
            AsOptions::default(),
        )),
        "wrong password",
    );
    assert_eq!(k.code, error_code::KDC_ERR_PREAUTH_FAILED, "{k}");
    let msg = k.to_string();
    assert!(
        msg.contains("KDC_ERR_PREAUTH_FAILED") && msg.contains("password"),
        "{msg}"
    );
}

#[test]
fn unknown_principal_is_c_principal_unknown() {
    let env = env();
    let p = Principal::parse("nobody-here@EXAMPLE.TEST", None).unwrap();
    let k = kdc_err(
        rt().block_on(
            env.client()
                .as_exchange(p, Secret::password("x"), AsOptions::default()),
        ),
        "unknown principal",
    );
    assert_eq!(k.code, error_code::KDC_ERR_C_PRINCIPAL_UNKNOWN, "{k}");
    assert!(k.to_string().contains("KDC_ERR_C_PRINCIPAL_UNKNOWN"), "{k}");
}

#[test]
fn denied_user_still_gets_a_tgt() {
    // svc-denied is only outside the gMSA readers group: Kerberos does not care, LDAP does.
    let env = env();
    let p = Principal::parse(&env.str("/users/denied/principal"), None).unwrap();
    let pw = env.password("/users/denied/password_file");
    let creds = as_req(
        &env.client(),
        &p,
        Secret::password(&pw),
        AsOptions::default(),
    );
    assert_tgt(&creds, &env, &p);
}

#[test]
fn canonicalize_returns_the_stored_name() {
    let env = env();
    let (canonical, pw) = env.reader();
    for asked in [
        "SVC-FETCHER@EXAMPLE.TEST",
        "svc-fetcher@example.test",
        "Svc-Fetcher@Example.Test",
    ] {
        let p = Principal::parse(asked, None).unwrap();
        let creds = as_req(
            &env.client(),
            &p,
            Secret::password(&pw),
            AsOptions::default(),
        );
        eprintln!("asked {asked}: got {} / {}", creds.client, creds.server);
        assert_tgt(&creds, &env, &canonical);
    }
    // Without canonicalize Samba echoes the client name as asked, upper-cases the realm, and
    // keeps the requested krbtgt instance as asked (`krbtgt/example.test@EXAMPLE.TEST`); MIT's
    // KDC would answer KDC_ERR_C_PRINCIPAL_UNKNOWN for a lower-case realm. The engine accepts
    // both (names compare case-insensitively) and the odd TGT still works for TGS.
    let opts = AsOptions {
        canonicalize: false,
        ..Default::default()
    };
    for (asked, client, server) in [
        (
            "SVC-FETCHER@EXAMPLE.TEST",
            "SVC-FETCHER@EXAMPLE.TEST",
            "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST",
        ),
        (
            "svc-fetcher@example.test",
            "svc-fetcher@EXAMPLE.TEST",
            "krbtgt/example.test@EXAMPLE.TEST",
        ),
    ] {
        let p = Principal::parse(asked, None).unwrap();
        let creds = as_req(&env.client(), &p, Secret::password(&pw), opts.clone());
        assert_eq!(creds.client.to_string(), client, "asked {asked}");
        assert_eq!(creds.server.to_string(), server, "asked {asked}");
        let svc = Principal::parse("ldap/dc1.example.test@EXAMPLE.TEST", None).unwrap();
        rt().block_on(
            env.client()
                .tgs_exchange(&creds, svc, TgsOptions::default()),
        )
        .unwrap_or_else(|e| panic!("TGS with the TGT of {asked}: {e}"));
    }
}

#[test]
fn enterprise_upn_logon() {
    // NT-ENTERPRISE (type 10) `svc-fetcher@example.test@EXAMPLE.TEST`: the implicit UPN.
    let env = env();
    let (canonical, pw) = env.reader();
    let p = Principal::new(10, ["svc-fetcher@example.test"], "EXAMPLE.TEST");
    let creds = as_req(
        &env.client(),
        &p,
        Secret::password(&pw),
        AsOptions::default(),
    );
    assert_tgt(&creds, &env, &canonical);
}

// ---------------------------------------------------------------------------------------------
// TGS

fn tgt(env: &Env) -> Credentials {
    let (p, pw) = env.reader();
    as_req(
        &env.client(),
        &p,
        Secret::password(&pw),
        AsOptions::default(),
    )
}

#[test]
fn tgs_for_the_dc_ldap_service() {
    let env = env();
    let client = env.client();
    let tgt = tgt(&env);
    for spn in [
        "ldap/dc1.example.test@EXAMPLE.TEST",
        "ldap/127.0.0.2@EXAMPLE.TEST",
        "LDAP/DC1.EXAMPLE.TEST@EXAMPLE.TEST",
        "host/dc1.example.test@EXAMPLE.TEST",
    ] {
        let svc = Principal::parse(spn, None).unwrap();
        let t = Instant::now();
        let st = rt()
            .block_on(client.tgs_exchange(&tgt, svc.clone(), TgsOptions::default()))
            .unwrap_or_else(|e| panic!("TGS for {spn}: {e}"));
        eprintln!(
            "TGS {spn}: {:?}, got {} flags {:#010x}",
            t.elapsed(),
            st.server,
            st.flags
        );
        assert!(st.server.eq_ignore_case(&svc), "{spn}: got {}", st.server);
        assert_eq!(st.client, tgt.client);
        assert!(st.flags & TicketFlags::FORWARDABLE != 0);
        assert!(st.flags & TicketFlags::PRE_AUTHENT != 0);
        assert!(st.flags & TicketFlags::INITIAL == 0);
        // The DC is trusted for delegation.
        assert!(
            st.flags & TicketFlags::OK_AS_DELEGATE != 0,
            "{spn}: {:#010x}",
            st.flags
        );
        assert!(st.end_time <= tgt.end_time);
        assert_eq!(
            ticket_etype(&st),
            EncType::Aes256CtsHmacSha196.to_i32(),
            "{spn}"
        );
    }
    let unknown = Principal::parse("ldap/nohost.example.test@EXAMPLE.TEST", None).unwrap();
    let k = kdc_err(
        rt().block_on(client.tgs_exchange(&tgt, unknown, TgsOptions::default())),
        "unknown service",
    );
    assert_eq!(k.code, error_code::KDC_ERR_S_PRINCIPAL_UNKNOWN, "{k}");
}

/// Decrypts a service ticket with the service's keytab and finds the PAC in it.
fn decrypt_with_keytab(st: &Credentials, kt: &Keytab, owner: &Principal) -> EncTicketPart {
    let ticket: asn1::Ticket = asn1::decode(&st.ticket).unwrap();
    let etype = EncType::from_i32(ticket.enc_part.etype).unwrap();
    let key = kt
        .keys_for(owner)
        .into_iter()
        .find(|k| k.etype() == etype)
        .unwrap_or_else(|| panic!("a {} key for {owner}", etype.name()));
    let plain = key
        .decrypt(2, &ticket.enc_part.cipher)
        .expect("the service ticket decrypts with the keytab key");
    asn1::decode::<EncTicketPart>(&plain).expect("EncTicketPart decodes")
}

fn has_pac(part: &EncTicketPart) -> bool {
    part.authorization_data.iter().flatten().any(|ad| {
        ad.r#type == AuthorizationDataValue::IF_RELEVANT
            && asn1::decode::<Vec<AuthorizationDataValue>>(&ad.data)
                .map(|inner| {
                    inner
                        .iter()
                        .any(|i| i.r#type == AuthorizationDataValue::WIN2K_PAC)
                })
                .unwrap_or(false)
    })
}

#[test]
fn tgs_for_gmsa_and_machine_spns_decrypts_with_their_keytabs() {
    let env = env();
    let client = env.client();
    let tgt = tgt(&env);
    for (spn, owner, keytab) in [
        ("WebApp01$@EXAMPLE.TEST", "/gmsa/principal", "/gmsa/keytab"),
        (
            "HOST/webapp01.example.test@EXAMPLE.TEST",
            "/gmsa/principal",
            "/gmsa/keytab",
        ),
        (
            "ECSHOST01$@EXAMPLE.TEST",
            "/machine/principal",
            "/machine/keytab",
        ),
        (
            "HOST/ecshost01.example.test@EXAMPLE.TEST",
            "/machine/principal",
            "/machine/keytab",
        ),
    ] {
        let svc = Principal::parse(spn, None).unwrap();
        let owner = Principal::parse(&env.str(owner), None).unwrap();
        let st = rt()
            .block_on(client.tgs_exchange(&tgt, svc.clone(), TgsOptions::default()))
            .unwrap_or_else(|e| panic!("TGS for {spn}: {e}"));
        eprintln!(
            "TGS {spn}: got {} ticket etype {} session {}",
            st.server,
            ticket_etype(&st),
            st.session_key.etype().name()
        );
        assert!(st.server.eq_ignore_case(&svc), "{spn}: got {}", st.server);
        let part = decrypt_with_keytab(&st, &env.keytab(keytab), &owner);
        assert_eq!(part.cname.to_principal(&part.crealm), tgt.client);
        assert_eq!(
            part.key.value.as_bytes(),
            st.session_key.as_bytes(),
            "same session key"
        );
        assert!(
            has_pac(&part),
            "{spn}: Samba puts a PAC in the service ticket"
        );
    }
}

#[test]
fn pa_pac_request_decides_whether_service_tickets_carry_a_pac() {
    // Seen through a service ticket the test can decrypt (the gMSA's, RC4). Samba (as Windows
    // since the 2021 PAC hardening) puts a PAC in every TGT (the TGT is as big with
    // PA-PAC-REQUEST false, see above), records the request in it, and leaves the PAC out of
    // service tickets only when the client said false. MIT's KDC issues no PAC at all.
    let env = env();
    let (p, pw) = env.reader();
    let gmsa = Principal::parse(&env.str("/gmsa/principal"), None).unwrap();
    for (request_pac, pac) in [(Some(true), true), (None, true), (Some(false), false)] {
        let opts = AsOptions {
            request_pac,
            ..Default::default()
        };
        let tgt = as_req(&env.client(), &p, Secret::password(&pw), opts);
        let st = rt()
            .block_on(
                env.client()
                    .tgs_exchange(&tgt, gmsa.clone(), TgsOptions::default()),
            )
            .unwrap();
        let part = decrypt_with_keytab(&st, &env.keytab("/gmsa/keytab"), &gmsa);
        assert_eq!(has_pac(&part), pac, "PA-PAC-REQUEST {request_pac:?}");
    }
}

#[test]
fn as_for_a_service_gets_the_canonical_account_name() {
    // An AS-REQ straight for `ldap/dc1.example.test` (kinit -S). With canonicalize Samba names the
    // ticket by the account, DC1$ (MIT's kinit -C -S refuses that reply: "KDC reply did not
    // match expectations"; the engine accepts it, as Heimdal does). Without canonicalize the
    // ticket keeps the SPN.
    let env = env();
    let (p, pw) = env.reader();
    let spn = Principal::parse("ldap/dc1.example.test@EXAMPLE.TEST", None).unwrap();
    for (canonicalize, expect) in [
        (true, "DC1$@EXAMPLE.TEST"),
        (false, "ldap/dc1.example.test@EXAMPLE.TEST"),
    ] {
        let opts = AsOptions {
            canonicalize,
            server: Some(spn.clone()),
            ..Default::default()
        };
        let st = as_req(&env.client(), &p, Secret::password(&pw), opts);
        assert_eq!(st.server.to_string(), expect, "canonicalize {canonicalize}");
        assert_eq!(st.client, p);
        assert!(st.flags & TicketFlags::INITIAL != 0);
        assert_eq!(ticket_etype(&st), EncType::Aes256CtsHmacSha196.to_i32());
    }
}

#[test]
fn tgs_with_a_non_forwardable_tgt() {
    // Samba answers KDC_ERR_BADOPTION when a non-forwardable TGT asks for a forwardable ticket
    // (MIT's KDC drops the option): the engine asks for FORWARDABLE only with a forwardable TGT.
    let env = env();
    let (p, pw) = env.reader();
    let opts = AsOptions {
        forwardable: false,
        ..Default::default()
    };
    let tgt = as_req(&env.client(), &p, Secret::password(&pw), opts);
    assert_eq!(tgt.flags & TicketFlags::FORWARDABLE, 0);
    let svc = Principal::parse("ldap/dc1.example.test@EXAMPLE.TEST", None).unwrap();
    let st = rt()
        .block_on(env.client().tgs_exchange(&tgt, svc, TgsOptions::default()))
        .unwrap_or_else(|e| panic!("TGS with a non-forwardable TGT: {e}"));
    assert_eq!(st.flags & TicketFlags::FORWARDABLE, 0);
}
