//! The engine against a real MIT krb5 1.20 KDC started by `testenv/mit-kdc.sh start`.
//! These tests fail (never skip) when the KDC is not running: run `scripts/test.sh` or start it first.

use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::config::Krb5Conf;
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::etype_policy::EnctypePolicy;
use krb5_proto::keytab::{Keytab, KeytabEntry};
use krb5_proto::tgs_exchange::TgsOptions;
use krb5_proto::transport::KdcAddr;
use krb5_proto::{Error, Principal};
use std::path::PathBuf;
use std::process::Command;

mod ticket_common;
use ticket_common::assert_ticket_decrypts_with;

struct Env {
    json: serde_json::Value,
    dir: PathBuf,
}

fn env() -> Env {
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let dir = PathBuf::from(base).join("mit");
    let path = dir.join("testenv.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the MIT KDC test environment is missing ({}: {e}); run `testenv/mit-kdc.sh start`",
            path.display()
        )
    });
    let json: serde_json::Value = serde_json::from_str(&text).expect("testenv.json is valid JSON");
    Env { json, dir }
}

impl Env {
    fn kdc(&self) -> String {
        self.json["kdc"].as_str().expect("kdc").to_string()
    }
    fn krb5_conf(&self) -> String {
        self.json["krb5_conf"]
            .as_str()
            .expect("krb5_conf")
            .to_string()
    }
    fn client(&self) -> Client {
        Client::new(Krb5Conf::load(self.krb5_conf().as_ref()).expect("client krb5.conf parses"))
            .with_kdcs(vec![KdcAddr::parse(&self.kdc()).expect("kdc address")])
    }
    fn principal(&self, short: &str) -> (Principal, String) {
        let list = self.json["principals"].as_array().expect("principals");
        let entry = list
            .iter()
            .find(|p| {
                p["name"]
                    .as_str()
                    .is_some_and(|n| n.split('@').next() == Some(short))
            })
            .unwrap_or_else(|| panic!("principal {short} in testenv.json"));
        let name = entry["name"].as_str().expect("name");
        let pw = std::fs::read_to_string(entry["password_file"].as_str().expect("password_file"))
            .expect("password file");
        (
            Principal::parse(name, None).expect("principal"),
            pw.trim_end_matches('\n').to_string(),
        )
    }
    fn keytab(&self, which: &str) -> PathBuf {
        PathBuf::from(
            self.json["keytabs"][which]
                .as_str()
                .unwrap_or_else(|| panic!("keytab {which}")),
        )
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn as_exchange_by_password_for_every_enctype() {
    let env = env();
    let client = env.client();
    for (short, etype) in [
        ("aes256sha1", EncType::Aes256CtsHmacSha196),
        ("aes128sha1", EncType::Aes128CtsHmacSha196),
        ("aes256sha384", EncType::Aes256CtsHmacSha384192),
        ("aes128sha256", EncType::Aes128CtsHmacSha256128),
        ("rc4user", EncType::Rc4Hmac),
    ] {
        let (p, pw) = env.principal(short);
        // The testenv's krb5.conf sets allow_rc4 = true, so rc4user works too.
        let opts = AsOptions {
            enctype_policy: EnctypePolicy::from_conf(client.conf()).expect("enctype policy"),
            ..AsOptions::default()
        };
        let creds = rt()
            .block_on(client.as_exchange(p.clone(), Secret::password(&pw), opts))
            .unwrap_or_else(|e| panic!("AS exchange for {p}: {e}"));
        assert_eq!(creds.client, p, "{short}");
        assert!(creds.server.is_krbtgt());
        assert!(creds.end_time > creds.auth_time);
        assert_eq!(
            creds.pa_type,
            Some(2),
            "{short}: the KDC must have required encrypted-timestamp pre-auth"
        );
        // The ticket's enc-part is under the TGS key; the session key is the KDC's choice among ours.
        let _ = etype;
    }
}

#[test]
fn as_exchange_for_utf8_principal() {
    let env = env();
    let (p, pw) = env.principal("jäger");
    let creds = rt()
        .block_on(
            env.client()
                .as_exchange(p.clone(), Secret::password(&pw), AsOptions::default()),
        )
        .unwrap();
    assert_eq!(creds.client.components, vec!["jäger".as_bytes().to_vec()]);
}

#[test]
fn as_exchange_by_keytab_written_by_kadmin() {
    let env = env();
    let kt = Keytab::read(&env.keytab("keyuser")).expect("keytab written by kadmin ktadd");
    let p = Principal::parse("keyuser@MIT.TEST", None).unwrap();
    let keys = kt.keys_for(&p);
    assert!(keys.len() >= 2, "ktadd wrote several enctypes");
    for key in keys {
        let etype = key.etype();
        let opts = AsOptions {
            etypes: vec![etype],
            // Every enctype, RC4 included, is tested on its own here.
            enctype_policy: EnctypePolicy::allow_all(),
            ..Default::default()
        };
        let creds = rt()
            .block_on(
                env.client()
                    .as_exchange(p.clone(), Secret::Keys(vec![key]), opts),
            )
            .unwrap_or_else(|e| panic!("keytab AS exchange with {}: {e}", etype.name()));
        assert_eq!(creds.client, p);
    }
}

#[test]
fn wrong_password_is_a_preauth_failure() {
    let env = env();
    let (p, _) = env.principal("aes256sha1");
    let err = rt().block_on(env.client().as_exchange(
        p,
        Secret::password("not the password"),
        AsOptions::default(),
    ));
    match err {
        Err(Error::Kdc(k)) => {
            assert_eq!(k.code, 24, "{k}");
            let msg = k.to_string();
            assert!(
                msg.contains("KDC_ERR_PREAUTH_FAILED") && msg.contains("password"),
                "{msg}"
            );
        }
        other => panic!("expected KDC_ERR_PREAUTH_FAILED, got {other:?}"),
    }
}

#[test]
fn unknown_principal_is_reported() {
    let env = env();
    let p = Principal::parse("nobody-here@MIT.TEST", None).unwrap();
    match rt().block_on(
        env.client()
            .as_exchange(p, Secret::password("x"), AsOptions::default()),
    ) {
        Err(Error::Kdc(k)) => {
            assert_eq!(k.code, 6, "{k}");
            assert!(k.to_string().contains("KDC_ERR_C_PRINCIPAL_UNKNOWN"), "{k}");
        }
        other => panic!("expected KDC_ERR_C_PRINCIPAL_UNKNOWN, got {other:?}"),
    }
}

#[test]
fn unreachable_kdc_lists_addresses() {
    // A closed TCP port and a silent UDP port on loopback.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let client = Client::new(Krb5Conf::parse("").unwrap())
        .with_kdcs(vec![KdcAddr::parse(&format!("127.0.0.1:{port}")).unwrap()])
        .with_timeout(std::time::Duration::from_millis(200));
    let p = Principal::parse("u@MIT.TEST", None).unwrap();
    let err = rt()
        .block_on(client.as_exchange(p, Secret::password("x"), AsOptions::default()))
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
}

#[test]
fn tgs_exchange_for_a_service() {
    let env = env();
    let (p, pw) = env.principal("multi");
    let client = env.client();
    let tgt = rt()
        .block_on(client.as_exchange(p.clone(), Secret::password(&pw), AsOptions::default()))
        .unwrap();
    let svc = Principal::parse("HTTP/svc.mit.test@MIT.TEST", None).unwrap();
    let st = rt()
        .block_on(client.tgs_exchange(&tgt, svc.clone(), TgsOptions::default()))
        .unwrap();
    assert_eq!(st.server, svc);
    assert_eq!(st.client, p);
    // The service's keytab (written by kadmin) decrypts the ticket: proof the KDC issued it for that key.
    assert_ticket_decrypts_with(&env.keytab("services"), &svc, &st.ticket);
}

#[test]
fn mit_kinit_accepts_a_keytab_we_wrote() {
    let env = env();
    let (p, pw) = env.principal("tkt-user");
    let salt = b"MIT.TESTtkt-user";
    let mut kt = Keytab {
        entries: Vec::new(),
    };
    for etype in [EncType::Aes256CtsHmacSha196, EncType::Aes128CtsHmacSha196] {
        let key = Key::from_password(etype, pw.as_bytes(), salt, None).unwrap();
        kt.entries.push(KeytabEntry {
            principal: p.clone(),
            timestamp: 0,
            kvno: 1,
            enctype: etype.to_i32(),
            key: zeroize::Zeroizing::new(key.as_bytes().to_vec()),
        });
    }
    let dir = tempdir(&env, "kt");
    let path = dir.join("ours.keytab");
    kt.write(&path, 0o600).unwrap();
    let out = Command::new("kinit")
        .args([
            "-kt",
            path.to_str().unwrap(),
            "-c",
            dir.join("cc").to_str().unwrap(),
            &p.to_string(),
        ])
        .env("KRB5_CONFIG", env.krb5_conf())
        .output()
        .expect("MIT kinit is installed");
    assert!(
        out.status.success(),
        "MIT kinit -kt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tempdir(env: &Env, name: &str) -> PathBuf {
    let d = env
        .dir
        .join("tests")
        .join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// krb5.conf without RC4 settings: the default policy (AES only).
fn client_with_conf(env: &Env, libdefaults: &str) -> Client {
    let conf = Krb5Conf::parse(&format!(
        "[libdefaults]\n default_realm = MIT.TEST\n{libdefaults}\n"
    ))
    .unwrap();
    Client::new(conf).with_kdcs(vec![KdcAddr::parse(&env.kdc()).expect("kdc address")])
}

fn opts_of(client: &Client) -> AsOptions {
    AsOptions {
        enctype_policy: EnctypePolicy::from_conf(client.conf()).expect("enctype policy"),
        ..AsOptions::default()
    }
}

#[test]
fn rc4_only_principal_is_refused_by_default_with_the_setting_named() {
    let env = env();
    let (p, pw) = env.principal("rc4user");
    let client = client_with_conf(&env, "");
    let err = rt()
        .block_on(client.as_exchange(p.clone(), Secret::password(&pw), opts_of(&client)))
        .expect_err("rc4user has only an RC4 key and RC4 is off by default");
    let msg = err.to_string();
    eprintln!("rc4user, RC4 disabled: {msg}");
    assert!(matches!(err, Error::EnctypeDisabled { .. }), "{err:?}");
    assert!(
        msg.contains("rc4-hmac (23) is disabled")
            && msg.contains("set allow_rc4 = true in [libdefaults] of krb5.conf"),
        "{msg}"
    );
    // allow_rc4 = false wins even over a list naming arcfour-hmac.
    let client = client_with_conf(
        &env,
        " allow_rc4 = false\n permitted_enctypes = aes256-cts arcfour-hmac",
    );
    let err = rt()
        .block_on(client.as_exchange(p.clone(), Secret::password(&pw), opts_of(&client)))
        .expect_err("allow_rc4 = false");
    assert!(err.to_string().contains("(it is false)"), "{err}");
    // allow_rc4 = true: it works.
    let client = client_with_conf(&env, " allow_rc4 = true");
    let creds = rt()
        .block_on(client.as_exchange(p.clone(), Secret::password(&pw), opts_of(&client)))
        .unwrap_or_else(|e| panic!("rc4user with allow_rc4 = true: {e}"));
    assert_eq!(creds.client, p);
    assert_eq!(creds.pa_type, Some(2));
}

#[test]
fn aes_principals_work_with_rc4_disabled() {
    let env = env();
    let client = client_with_conf(&env, "");
    for short in ["aes256sha1", "aes128sha256", "multi"] {
        let (p, pw) = env.principal(short);
        let creds = rt()
            .block_on(client.as_exchange(p.clone(), Secret::password(&pw), opts_of(&client)))
            .unwrap_or_else(|e| panic!("{p} with RC4 disabled: {e}"));
        assert_eq!(creds.client, p);
        assert_ne!(creds.session_key.etype(), EncType::Rc4Hmac);
    }
}

/// A KDC that reads and never answers (a frozen process), listed first, costs the hedge delay
/// (1 s by default, as MIT's sendto_kdc), not the per-attempt timeout: with a timeout of 30 s,
/// the AS and TGS exchanges are answered by the live KDC well before it.
#[test]
fn a_frozen_kdc_listed_first_costs_the_hedge_delay_not_the_timeout() {
    let env = env();
    let (p, pw) = env.principal("multi");
    let silent = gmsa_testkit::SilentKdc::start("127.0.0.1".parse().unwrap());
    let client = Client::new(Krb5Conf::load(env.krb5_conf().as_ref()).unwrap())
        .with_kdcs(vec![
            KdcAddr::parse(&format!("127.0.0.1:{}", silent.port())).unwrap(),
            KdcAddr::parse(&env.kdc()).unwrap(),
        ])
        .with_timeout(std::time::Duration::from_secs(30));
    let rt = rt();
    let t = std::time::Instant::now();
    let tgt = rt
        .block_on(client.as_exchange(p.clone(), Secret::password(&pw), AsOptions::default()))
        .expect("the live KDC answers");
    let as_took = t.elapsed();
    let svc = Principal::parse("HTTP/svc.mit.test@MIT.TEST", None).unwrap();
    rt.block_on(client.tgs_exchange(&tgt, svc, TgsOptions::default()))
        .unwrap();
    eprintln!(
        "AS exchange {as_took:?}, with the TGS exchange {:?}; the frozen KDC got {} messages",
        t.elapsed(),
        silent.asked()
    );
    assert!(
        silent.asked() >= 1,
        "the frozen KDC, listed first, was asked"
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(15),
        "{:?}: the frozen KDC's 30 s timeout was waited for",
        t.elapsed()
    );
}

/// When no KDC answers, the attempts overlap (one more every hedge delay) instead of queueing:
/// three frozen KDCs with a 2 s timeout and a 500 ms hedge delay fail in about 3 s, not 6 s,
/// and the error still names every address that was tried.
#[test]
fn frozen_kdcs_are_tried_alongside_each_other_and_all_named() {
    use krb5_proto::transport::KdcClient;
    let frozen: Vec<_> = (0..3)
        .map(|_| gmsa_testkit::SilentKdc::start("127.0.0.1".parse().unwrap()))
        .collect();
    let kdcs = frozen
        .iter()
        .map(|k| KdcAddr::parse(&format!("udp/127.0.0.1:{}", k.port())).unwrap())
        .collect();
    let client = KdcClient::new("MIT.TEST", kdcs)
        .with_timeout(std::time::Duration::from_secs(2))
        .with_hedge_delay(std::time::Duration::from_millis(500));
    let t = std::time::Instant::now();
    let err = rt().block_on(client.send(b"x")).unwrap_err().to_string();
    let took = t.elapsed();
    eprintln!("{took:?}: {err}");
    for k in &frozen {
        assert!(err.contains(&format!("127.0.0.1:{}", k.port())), "{err}");
        assert_eq!(k.asked(), 1);
    }
    assert!(
        took < std::time::Duration::from_millis(5500),
        "{took:?}: the attempts queued"
    );
}

/// A KDC that is down without saying so (a UDP port that reads and never answers, a TCP port
/// that accepts and never answers) costs its timeout once: the KDC that answered is asked first
/// by the next exchanges, so the silent one sees no more requests.
#[test]
fn a_silent_kdc_is_passed_over_after_its_first_timeout() {
    let env = env();
    let (p, pw) = env.principal("multi");
    let silent = gmsa_testkit::SilentKdc::start("127.0.0.1".parse().unwrap());
    let port = silent.port();
    let client = Client::new(Krb5Conf::load(env.krb5_conf().as_ref()).unwrap())
        .with_kdcs(vec![
            KdcAddr::parse(&format!("127.0.0.1:{port}")).unwrap(),
            KdcAddr::parse(&env.kdc()).unwrap(),
        ])
        .with_timeout(std::time::Duration::from_millis(300));
    let rt = rt();
    let tgt = rt
        .block_on(client.as_exchange(p.clone(), Secret::password(&pw), AsOptions::default()))
        .expect("the second KDC answers");
    let after_first = silent.asked();
    assert!(after_first >= 1, "the silent KDC was tried first");
    for _ in 0..3 {
        rt.block_on(client.as_exchange(p.clone(), Secret::password(&pw), AsOptions::default()))
            .unwrap();
    }
    let svc = Principal::parse("HTTP/svc.mit.test@MIT.TEST", None).unwrap();
    rt.block_on(client.tgs_exchange(&tgt, svc, TgsOptions::default()))
        .unwrap();
    assert_eq!(
        silent.asked(),
        after_first,
        "later exchanges went to the KDC that answered"
    );
    // The order a client reports for the realm now starts with the KDC that answered.
    let kdc = rt.block_on(client.kdc_for(b"MIT.TEST")).unwrap();
    assert_eq!(
        kdc.kdcs()[0].to_string(),
        KdcAddr::parse(&env.kdc()).unwrap().to_string()
    );
}
