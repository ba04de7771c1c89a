//! Cross-realm TGS exchanges against three real MIT krb5 KDCs started by
//! `testenv/mit-realms.sh start` (realms A.TEST, B.TEST, C.TEST; see that script for the trusts).
//! These tests fail (never skip) when the KDCs are not running: run `scripts/test.sh` or start
//! them first.

use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::config::Krb5Conf;
use krb5_proto::principal::name_type;
use krb5_proto::realm_path::Capaths;
use krb5_proto::tgs_exchange::TgsOptions;
use krb5_proto::{Credentials, Error, Principal};
use std::path::PathBuf;

mod ticket_common;
use ticket_common::assert_ticket_decrypts_with;

struct Env {
    json: serde_json::Value,
}

fn env() -> Env {
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let path = PathBuf::from(base).join("realms").join("testenv.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the cross-realm test environment is missing ({}: {e}); run `testenv/mit-realms.sh start`",
            path.display()
        )
    });
    Env {
        json: serde_json::from_str(&text).expect("testenv.json is valid JSON"),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

impl Env {
    fn realm(&self, r: &str) -> &serde_json::Value {
        &self.json["realms"][r]
    }
    /// A client reading the krb5.conf written by the script (KDCs of all three realms, the
    /// client's [capaths] A.TEST -> B.TEST -> C.TEST).
    fn client(&self) -> Client {
        let conf = self.json["krb5_conf"].as_str().expect("krb5_conf");
        Client::new(Krb5Conf::load(conf.as_ref()).expect("client krb5.conf parses"))
    }
    /// user@<realm>'s TGT from an AS exchange.
    fn tgt(&self, client: &Client, realm: &str) -> Credentials {
        let r = self.realm(realm);
        let user = Principal::parse(r["user"].as_str().unwrap(), None).unwrap();
        let pw = std::fs::read_to_string(r["password_file"].as_str().unwrap()).expect("password");
        rt().block_on(client.as_exchange(
            user,
            Secret::password(pw.trim_end()),
            AsOptions::default(),
        ))
        .expect("AS exchange")
    }
    /// The service's keytab decrypts the ticket: the KDC of that realm issued it for that key.
    fn assert_issued_for(&self, realm: &str, st: &Credentials) {
        let svc = Principal::parse(self.realm(realm)["service"].as_str().unwrap(), None).unwrap();
        assert_eq!(st.server.components, svc.components);
        assert_eq!(st.server.realm, svc.realm);
        let keytab = self.realm(realm)["keytab"].as_str().unwrap();
        assert_ticket_decrypts_with(keytab.as_ref(), &svc, &st.ticket);
    }
}

/// `host/<host>` with name type NT-SRV-HST in `realm` (MIT refers only host-based names).
fn host_service(host: &str, realm: &str) -> Principal {
    Principal::new(name_type::SRV_HST, ["host", host], realm)
}

fn names(tgts: &[Credentials]) -> Vec<String> {
    tgts.iter().map(|t| t.server.to_string()).collect()
}

/// RFC 6806: asked of A's KDC (the realm of the TGT) with canonicalize, host/svc.b.test is
/// answered with the referral TGT krbtgt/B.TEST@A.TEST, and B's KDC issues the ticket.
#[test]
fn one_hop_by_kdc_referral() {
    let env = env();
    let client = env.client();
    let tgt = env.tgt(&client, "A.TEST");
    let out = rt()
        .block_on(client.tgs_exchange_with_tgts(
            &tgt,
            host_service("svc.b.test", "A.TEST"),
            TgsOptions::default(),
            Vec::new(),
        ))
        .expect("referral followed");
    assert_eq!(names(&out.new_tgts), ["krbtgt/B.TEST@A.TEST"]);
    assert_eq!(out.ticket.client, tgt.client);
    env.assert_issued_for("B.TEST", &out.ticket);
}

/// Without canonicalize the KDC does not refer: the name is unknown in A.
#[test]
fn no_referral_without_canonicalize() {
    let env = env();
    let client = env.client();
    let tgt = env.tgt(&client, "A.TEST");
    let opts = TgsOptions {
        canonicalize: false,
        ..TgsOptions::default()
    };
    let err = rt()
        .block_on(client.tgs_exchange(&tgt, host_service("svc.b.test", "A.TEST"), opts))
        .expect_err("no referral without canonicalize");
    assert_eq!(
        err.kdc_error().map(|k| k.name),
        Some("KDC_ERR_S_PRINCIPAL_UNKNOWN"),
        "{err}"
    );
}

/// The service named in its own realm: A's KDC is asked for krbtgt/B.TEST@A.TEST directly
/// (the capaths entry `B.TEST = .`), then B's KDC for the service.
#[test]
fn one_hop_by_capaths() {
    let env = env();
    let client = env.client();
    let tgt = env.tgt(&client, "A.TEST");
    let svc = Principal::parse("host/svc.b.test@B.TEST", None).unwrap();
    let out = rt()
        .block_on(client.tgs_exchange_with_tgts(&tgt, svc, TgsOptions::default(), Vec::new()))
        .expect("one hop");
    assert_eq!(names(&out.new_tgts), ["krbtgt/B.TEST@A.TEST"]);
    env.assert_issued_for("B.TEST", &out.ticket);
}

/// Two hops A -> B -> C from the client's [capaths] (A.TEST = { C.TEST = B.TEST }): A's KDC does
/// not know krbtgt/C.TEST@A.TEST (principal unknown), so the nearer realm B is asked, then B's
/// KDC gives krbtgt/C.TEST@B.TEST. A second exchange by the same client reuses both TGTs.
#[test]
fn two_hops_by_capaths_and_reuse() {
    let env = env();
    let client = env.client();
    let tgt = env.tgt(&client, "A.TEST");
    let svc = Principal::parse("host/svc.c.test@C.TEST", None).unwrap();
    let out = rt()
        .block_on(client.tgs_exchange_with_tgts(
            &tgt,
            svc.clone(),
            TgsOptions::default(),
            Vec::new(),
        ))
        .expect("two hops");
    assert_eq!(
        names(&out.new_tgts),
        ["krbtgt/B.TEST@A.TEST", "krbtgt/C.TEST@B.TEST"]
    );
    env.assert_issued_for("C.TEST", &out.ticket);

    // Reuse: the client kept the cross-realm TGTs, so only C's KDC is asked.
    let again = rt()
        .block_on(client.tgs_exchange_with_tgts(
            &tgt,
            svc.clone(),
            TgsOptions::default(),
            Vec::new(),
        ))
        .expect("again");
    assert!(again.new_tgts.is_empty(), "{:?}", names(&again.new_tgts));
    env.assert_issued_for("C.TEST", &again.ticket);

    // The same with the TGTs handed in (as read from a ccache) to a fresh client.
    let fresh = env.client();
    let third = rt()
        .block_on(fresh.tgs_exchange_with_tgts(&tgt, svc, TgsOptions::default(), out.new_tgts))
        .expect("with held TGTs");
    assert!(third.new_tgts.is_empty(), "{:?}", names(&third.new_tgts));
    env.assert_issued_for("C.TEST", &third.ticket);
}

/// Without [capaths] the hierarchical path A.TEST -> TEST -> C.TEST has no trust: A's KDC knows
/// neither krbtgt/C.TEST nor krbtgt/TEST, and its error comes back.
#[test]
fn no_path_without_capaths() {
    let env = env();
    let client = env.client();
    let tgt = env.tgt(&client, "A.TEST");
    let mut capaths = Capaths::new();
    capaths.insert("Z.TEST", "Y.TEST", &["."]); // not empty, so the client's are not used
    let opts = TgsOptions {
        capaths,
        ..TgsOptions::default()
    };
    let svc = Principal::parse("host/svc.c.test@C.TEST", None).unwrap();
    let err = rt()
        .block_on(client.tgs_exchange(&tgt, svc, opts))
        .expect_err("no path");
    let kdc = err.kdc_error().expect("the KDC's error");
    assert_eq!(kdc.name, "KDC_ERR_S_PRINCIPAL_UNKNOWN", "{err}");
    assert_eq!(kdc.server, "krbtgt/TEST@A.TEST", "{err}");
}

/// The hop bound: A -> B -> C needs two cross-realm TGTs, one is allowed.
#[test]
fn hop_bound_is_a_named_error() {
    let env = env();
    let client = env.client();
    let tgt = env.tgt(&client, "A.TEST");
    let opts = TgsOptions {
        max_hops: 1,
        ..TgsOptions::default()
    };
    let svc = Principal::parse("host/svc.c.test@C.TEST", None).unwrap();
    let err = rt()
        .block_on(client.tgs_exchange(&tgt, svc, opts))
        .expect_err("hop bound");
    match &err {
        Error::CrossRealmHops { limit, path, .. } => {
            assert_eq!(*limit, 1);
            assert_eq!(path, "A.TEST -> B.TEST -> C.TEST");
        }
        other => panic!("expected CrossRealmHops, got {other:?}"),
    }
}

/// A [capaths] loop on the KDCs: A says X.TEST is reached through B, B says through A. The
/// client gets krbtgt/B.TEST@A.TEST, then krbtgt/A.TEST@B.TEST and stops there.
#[test]
fn capaths_loop_is_a_named_error() {
    let env = env();
    let client = env.client();
    let tgt = env.tgt(&client, "A.TEST");
    let svc = host_service("svc.x.test", "X.TEST");
    let err = rt()
        .block_on(client.tgs_exchange(&tgt, svc, TgsOptions::default()))
        .expect_err("loop");
    match &err {
        Error::CrossRealmLoop {
            from, realm, path, ..
        } => {
            assert_eq!((from.as_str(), realm.as_str()), ("B.TEST", "A.TEST"));
            assert_eq!(path, "A.TEST -> B.TEST");
        }
        other => panic!("expected CrossRealmLoop, got {other:?}"),
    }
    assert!(err.to_string().contains("cross-realm loop"), "{err}");
}

/// A user of C reaches A the other way (C -> B -> A from the client's capaths).
#[test]
fn two_hops_the_other_way() {
    let env = env();
    let client = env.client();
    let tgt = env.tgt(&client, "C.TEST");
    let svc = Principal::parse("host/svc.a.test@A.TEST", None).unwrap();
    let out = rt()
        .block_on(client.tgs_exchange_with_tgts(&tgt, svc, TgsOptions::default(), Vec::new()))
        .expect("C -> B -> A");
    assert_eq!(
        names(&out.new_tgts),
        ["krbtgt/B.TEST@C.TEST", "krbtgt/A.TEST@B.TEST"]
    );
    env.assert_issued_for("A.TEST", &out.ticket);
}
