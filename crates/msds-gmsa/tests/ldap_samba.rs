//! `fetch_managed_password` and the LDAP connection against the real Samba 4.22 AD DC started
//! by `testenv/samba-dc.sh start`. These tests fail (never skip) when the DC's testenv.json is
//! missing: start the DC first.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use krb5_proto::Principal;
use krb5_proto::principal::name_type;
use krb5_proto::tgs_exchange::TgsOptions;
use msds_gmsa::dc::DcAddr;
use msds_gmsa::ldap::sasl::SaslConfig;
use msds_gmsa::{
    Connection, FetchOptions, GmsaError, GmsaLookup, SaslLayer, Security, fetch_managed_password,
};

const OU: &str = "CN=Managed Service Accounts,DC=example,DC=test";

mod common;
use common::{Env, env};

impl Env {
    fn dns(&self) -> SocketAddr {
        self.s("/dns").parse().expect("dns address")
    }
}

#[tokio::test]
async fn fetch_by_sam_dn_and_ou_gives_the_keytab_keys() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let dn = env.s("/gmsa/dn");
    for lookup in [
        GmsaLookup::SamAccountName("WebApp01".into()),
        GmsaLookup::SamAccountName("WebApp01$".into()),
        GmsaLookup::Dn(dn.clone()),
        GmsaLookup::UnderOu {
            ou_dn: OU.into(),
            sam: "WebApp01".into(),
        },
    ] {
        let t = Instant::now();
        let fetched = fetch_managed_password(&kdc, &tgt, "example.test", &lookup, &env.opts())
            .await
            .unwrap_or_else(|e| panic!("{lookup:?}: {e}"));
        eprintln!("fetch {lookup:?}: {:?}", t.elapsed());
        assert!(fetched.dn.eq_ignore_ascii_case(&dn), "{}", fetched.dn);
        assert_eq!(fetched.sam_account_name, "WebApp01$");
        assert_eq!(
            fetched.dns_host_name.as_deref(),
            Some(env.s("/gmsa/dns_host_name").as_str())
        );
        assert_eq!(fetched.dc, "dc1.example.test:389");
        eprintln!(
            "  msDS-SupportedEncryptionTypes: {:?}",
            fetched.supported_enctypes
        );
        assert!(!format!("{fetched:?}").contains(
            &String::from_utf8_lossy(&fetched.blob.current().to_utf8_munged()).to_string()
        ));
        common::check_keys(&env, &fetched, "over sealed LDAP");
    }
}

#[tokio::test]
async fn dc_found_through_srv_records() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let opts = FetchOptions {
        dc: None,
        dns_server: Some(env.dns()),
        ..env.opts()
    };
    let t = Instant::now();
    let fetched = fetch_managed_password(
        &kdc,
        &tgt,
        "example.test",
        &GmsaLookup::SamAccountName("WebApp01".into()),
        &opts,
    )
    .await
    .expect("fetch through SRV discovery");
    eprintln!("fetch with SRV discovery: {:?}", t.elapsed());
    // dc1, or dc2 when testenv/samba-dc2.sh runs: the NetLogon ping puts the client in dc2's
    // site (Site-B), whose DCs come first; the domain-wide SRV records list dc1 only.
    assert!(
        ["dc1.example.test:389", "dc2.example.test:389"].contains(&fetched.dc.as_str()),
        "{}",
        fetched.dc
    );
    common::check_keys(&env, &fetched, "over sealed LDAP");

    let candidates = msds_gmsa::dc::locate("example.test", None, Some(env.dns()))
        .await
        .unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(candidates[0].to_string(), "dc1.example.test:389");
    // No SRV records for another domain.
    let err = msds_gmsa::dc::locate("nowhere.test", None, Some(env.dns()))
        .await
        .unwrap_err();
    assert!(matches!(err, GmsaError::NoDcFound { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("_ldap._tcp.dc._msdcs.nowhere.test"),
        "{err}"
    );
}

#[tokio::test]
async fn denied_user_gets_not_allowed_naming_both() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "denied").await;
    let err = fetch_managed_password(
        &kdc,
        &tgt,
        "example.test",
        &GmsaLookup::SamAccountName("WebApp01".into()),
        &env.opts(),
    )
    .await
    .unwrap_err();
    match &err {
        GmsaError::NotAllowedToRetrieve { user, gmsa } => {
            assert_eq!(user, "svc-denied@EXAMPLE.TEST");
            assert_eq!(gmsa, "WebApp01$");
        }
        other => panic!("expected NotAllowedToRetrieve, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("svc-denied@EXAMPLE.TEST") && text.contains("WebApp01$"));
    assert!(text.contains("PrincipalsAllowedToRetrieveManagedPassword"));
    assert!(text.contains("msDS-GroupMSAMembership"));
    eprintln!("{text}");
}

#[tokio::test]
async fn unknown_gmsa_is_not_found() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    for (lookup, base) in [
        (
            GmsaLookup::SamAccountName("NoSuchApp".into()),
            "DC=example,DC=test",
        ),
        (
            GmsaLookup::Dn("CN=NoSuchApp,CN=Managed Service Accounts,DC=example,DC=test".into()),
            "CN=NoSuchApp,CN=Managed Service Accounts,DC=example,DC=test",
        ),
        (
            GmsaLookup::UnderOu {
                ou_dn: "OU=Nope,DC=example,DC=test".into(),
                sam: "WebApp01".into(),
            },
            "OU=Nope,DC=example,DC=test",
        ),
        // A filter-injection attempt matches nothing.
        (
            GmsaLookup::SamAccountName("*)(objectClass=*".into()),
            "DC=example,DC=test",
        ),
    ] {
        let err = fetch_managed_password(&kdc, &tgt, "example.test", &lookup, &env.opts())
            .await
            .unwrap_err();
        match &err {
            GmsaError::GmsaNotFound { base_dn, .. } => assert_eq!(base_dn, base),
            other => panic!("{lookup:?}: expected GmsaNotFound, got {other}"),
        }
        eprintln!("{err}");
    }
}

#[tokio::test]
async fn integrity_only_is_refused_by_us_and_by_the_dc() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let lookup = GmsaLookup::SamAccountName("WebApp01".into());
    let integrity = FetchOptions {
        layer: SaslLayer::Integrity,
        ..env.opts()
    };
    // Our code refuses to send the search.
    let err = fetch_managed_password(&kdc, &tgt, "example.test", &lookup, &integrity)
        .await
        .unwrap_err();
    match &err {
        GmsaError::ConfidentialityRequired { detail } => {
            assert!(detail.contains("refusing"), "{detail}")
        }
        other => panic!("expected ConfidentialityRequired, got {other}"),
    }
    eprintln!("ours: {err}");

    // With the test-only override the search goes out, and the DC itself refuses it.
    let forced = FetchOptions {
        danger_send_unprotected_password_search_for_tests: true,
        ..integrity
    };
    let err = fetch_managed_password(&kdc, &tgt, "example.test", &lookup, &forced)
        .await
        .unwrap_err();
    match &err {
        GmsaError::ConfidentialityRequired { detail } => {
            assert!(detail.contains("operationsError (1)"), "{detail}");
            assert!(detail.contains("encrypted connection"), "{detail}");
        }
        other => panic!("expected the DC's refusal as ConfidentialityRequired, got {other}"),
    }
    eprintln!("DC's: {err}");
}

#[tokio::test]
async fn unreachable_dc_lists_the_address() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let opts = FetchOptions {
        dc: Some(format!("127.0.0.1:{port}")),
        timeout: Duration::from_secs(2),
        ..FetchOptions::default()
    };
    let err = fetch_managed_password(
        &kdc,
        &tgt,
        "example.test",
        &GmsaLookup::SamAccountName("WebApp01".into()),
        &opts,
    )
    .await
    .unwrap_err();
    match &err {
        GmsaError::DcUnreachable { tried } => {
            assert_eq!(tried.len(), 1, "{tried:?}");
            assert!(tried[0].contains(&format!("127.0.0.1:{port}")), "{tried:?}");
        }
        other => panic!("expected DcUnreachable, got {other}"),
    }
    eprintln!("{err}");

    // Failover: a dead candidate first, then the real DC.
    let dead = DcAddr::parse(&format!("127.0.0.1:{port}")).unwrap();
    let unknown = DcAddr::parse("nohost.invalid").unwrap();
    let real = DcAddr::parse(&env.s("/dc_host")).unwrap();
    let (conn, used) = msds_gmsa::dc::connect_first(
        &[dead, unknown, real.clone()],
        Some(env.dns()),
        Duration::from_secs(2),
    )
    .await
    .expect("failover to the real DC");
    assert_eq!(used, real);
    assert_eq!(conn.host(), "dc1.example.test");

    // Every attempt is listed when all fail, names that do not resolve included.
    let err = msds_gmsa::dc::connect_first(
        &[
            DcAddr::parse(&format!("127.0.0.1:{port}")).unwrap(),
            DcAddr::parse("nohost.example.test").unwrap(),
        ],
        Some(env.dns()),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    match &err {
        GmsaError::DcUnreachable { tried } => {
            assert_eq!(tried.len(), 2, "{tried:?}");
            assert!(tried[1].starts_with("nohost.example.test:389"), "{tried:?}");
        }
        other => panic!("expected DcUnreachable, got {other}"),
    }
    eprintln!("{err}");
}

#[tokio::test]
async fn connection_reports_rootdse_and_security() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let host = env.s("/dc_host");
    let addr: SocketAddr = format!("{}:389", env.s("/dc_ip")).parse().unwrap();
    for layer in [SaslLayer::Confidentiality, SaslLayer::Integrity] {
        let mut conn = Connection::connect(&host, addr, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(conn.security(), Security::None);
        let root = conn.root_dse().await.unwrap();
        assert_eq!(
            root.default_naming_context.as_deref(),
            Some("DC=example,DC=test")
        );
        assert_eq!(root.dns_host_name.as_deref(), Some(host.as_str()));
        assert!(
            root.supports_gssapi(),
            "{:?}",
            root.supported_sasl_mechanisms
        );
        let spn = Principal::new(name_type::SRV_HST, ["ldap", host.as_str()], "EXAMPLE.TEST");
        let ticket = kdc
            .tgs_exchange(&tgt, spn, TgsOptions::default())
            .await
            .unwrap();
        let t = Instant::now();
        conn.bind_sasl_gssapi(
            ticket,
            SaslConfig {
                layer,
                ..SaslConfig::default()
            },
        )
        .await
        .unwrap();
        eprintln!("{layer:?} bind: {:?}", t.elapsed());
        let want = match layer {
            SaslLayer::Confidentiality => Security::SaslConfidentiality,
            _ => Security::SaslIntegrity,
        };
        assert_eq!(conn.security(), want);
        let sasl = conn.sasl_layer().expect("a SASL layer after the bind");
        eprintln!(
            "  server offered layers {:#04x}, max buffer {} bytes; ours {}",
            sasl.offered(),
            sasl.peer_max_buffer(),
            sasl.own_max_buffer()
        );
        // Samba offers sealing (0x04) only when the GSS checksum asked for CONF.
        let offered = match layer {
            SaslLayer::Confidentiality => 0x07,
            _ => 0x03,
        };
        assert_eq!(sasl.offered(), offered);
        // Protected traffic works both ways: the rootDSE again, through the layer.
        let again = conn.root_dse().await.unwrap();
        assert_eq!(again, root);
        conn.unbind().await.unwrap();
    }
}
