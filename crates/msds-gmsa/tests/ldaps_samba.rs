//! LDAPS (`TlsMode::Ldaps`) against the real Samba 4.22 AD DC started by
//! `testenv/samba-dc.sh start` (TLS with its own CA, `ldap server require strong auth = yes`,
//! which makes Samba require correct `tls-server-end-point` channel bindings on SASL binds
//! over TLS). These tests fail (never skip) when the DC's testenv.json is missing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use krb5_proto::client::Client;
use krb5_proto::principal::name_type;
use krb5_proto::tgs_exchange::TgsOptions;
use krb5_proto::{Credentials, Principal};
use msds_gmsa::ldap::LdapError;
use msds_gmsa::ldap::fetch::GMSA_ATTRS;
use msds_gmsa::ldap::ldap3_proto::proto::{
    LdapDerefAliases, LdapFilter, LdapSearchRequest, LdapSearchScope,
};
use msds_gmsa::ldap::sasl::SaslConfig;
use msds_gmsa::ldap::tls::{SYSTEM_CA_BUNDLE, TlsClient, tls_server_end_point};
use msds_gmsa::{
    Connection, FetchOptions, GmsaError, GmsaLookup, SaslLayer, Security, TlsMode,
    fetch_managed_password,
};

mod common;
use common::{Env, env};

impl Env {
    fn ca(&self) -> PathBuf {
        PathBuf::from(self.s("/ca_cert"))
    }

    fn ldaps_opts(&self) -> FetchOptions {
        FetchOptions {
            dc: Some(self.s("/dc_host")),
            timeout: Duration::from_secs(10),
            tls: TlsMode::Ldaps {
                ca_file: Some(self.ca()),
            },
            ..FetchOptions::default()
        }
    }

    fn ldaps_addr(&self) -> SocketAddr {
        format!("{}:636", self.s("/dc_ip")).parse().unwrap()
    }

    async fn ldap_ticket(&self, kdc: &Client, tgt: &Credentials, host: &str) -> Credentials {
        let spn = Principal::new(name_type::SRV_HST, ["ldap", host], "EXAMPLE.TEST");
        kdc.tgs_exchange(tgt, spn, TgsOptions::default())
            .await
            .unwrap_or_else(|e| panic!("ticket for ldap/{host}: {e}"))
    }
}

fn password_search(base: &str) -> LdapSearchRequest {
    LdapSearchRequest {
        base: base.to_owned(),
        scope: LdapSearchScope::Base,
        aliases: LdapDerefAliases::Never,
        sizelimit: 1,
        timelimit: 0,
        typesonly: false,
        filter: LdapFilter::Present("objectClass".to_owned()),
        attrs: GMSA_ATTRS.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test]
async fn fetch_over_ldaps_with_the_testenv_ca_gives_the_keytab_keys() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    for (lookup, opts) in [
        (
            GmsaLookup::SamAccountName("WebApp01".into()),
            env.ldaps_opts(),
        ),
        // `layer` is ignored over TLS: asking for integrity changes nothing.
        (
            GmsaLookup::Dn(env.s("/gmsa/dn")),
            FetchOptions {
                layer: SaslLayer::Integrity,
                dc: Some(format!("ldaps://{}", env.s("/dc_host"))),
                ..env.ldaps_opts()
            },
        ),
    ] {
        let t = Instant::now();
        let fetched = fetch_managed_password(&kdc, &tgt, "example.test", &lookup, &opts)
            .await
            .unwrap_or_else(|e| panic!("{lookup:?} over LDAPS: {e}"));
        eprintln!("fetch over LDAPS {lookup:?}: {:?}", t.elapsed());
        assert_eq!(fetched.dc, "dc1.example.test:636");
        assert_eq!(fetched.sam_account_name, "WebApp01$");
        common::check_keys(&env, &fetched, "over LDAPS");
    }
}

/// WebApp01's password read as the `reader` user with `opts`.
async fn fetch_webapp_as_reader(env: &Env, opts: &FetchOptions) -> msds_gmsa::FetchedPassword {
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    fetch_managed_password(
        &kdc,
        &tgt,
        "example.test",
        &GmsaLookup::SamAccountName("WebApp01".into()),
        opts,
    )
    .await
    .unwrap_or_else(|e| panic!("fetch over LDAPS from {:?}: {e}", opts.dc))
}

#[tokio::test]
async fn ldaps_dc_found_through_srv_records_uses_port_636() {
    let env = env();
    let opts = FetchOptions {
        dc: None,
        dns_server: Some(env.s("/dns").parse().unwrap()),
        ..env.ldaps_opts()
    };
    let fetched = fetch_webapp_as_reader(&env, &opts).await;
    // Site-aware as plain LDAP: the NetLogon ping puts this client in Site-B, whose DC (dc2,
    // testenv/samba-dc2.sh, a certificate of the same test CA) comes before dc1.
    assert_eq!(fetched.dc, "dc2.example.test:636");
    common::check_keys(&env, &fetched, "over LDAPS");
}

/// A DC list over LDAPS: tried in order, each on port 636 unless given; a DC that refuses the
/// connection moves the fetch on to the next.
#[tokio::test]
async fn ldaps_dc_list_fails_over_in_order() {
    let env = env();
    let opts = FetchOptions {
        // Nothing listens on 127.0.0.2:1.
        dc: Some(format!("127.0.0.2:1, ldaps://{}", env.s("/dc_host"))),
        ..env.ldaps_opts()
    };
    let fetched = fetch_webapp_as_reader(&env, &opts).await;
    assert_eq!(fetched.dc, format!("{}:636", env.s("/dc_host")));
    common::check_keys(&env, &fetched, "over LDAPS");
}

#[tokio::test]
async fn system_bundle_does_not_trust_the_testenv_ca() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let opts = FetchOptions {
        tls: TlsMode::Ldaps { ca_file: None },
        ..env.ldaps_opts()
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
        GmsaError::LdapProtocol(LdapError::CertificateNotTrusted {
            dc,
            host,
            ca_source,
            reason,
        }) => {
            assert!(dc.starts_with("dc1.example.test"), "{dc}");
            assert_eq!(host, "dc1.example.test");
            assert!(ca_source.contains(SYSTEM_CA_BUNDLE), "{ca_source}");
            assert!(reason.to_lowercase().contains("unknown"), "{reason}");
        }
        other => panic!("expected CertificateNotTrusted, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("not trusted") && text.contains("--ca-file"),
        "{text}"
    );
    eprintln!("{text}");

    // A CA file that does not hold the issuing CA (a fixture self-signed certificate) is
    // named in the error.
    let dir = std::env::temp_dir().join(format!("ldaps-samba-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let other_ca = dir.join("other-ca.pem");
    std::fs::write(
        &other_ca,
        include_str!("../src/ldap/testdata/ecdsa-p256-sha256.pem"),
    )
    .unwrap();
    let opts = FetchOptions {
        tls: TlsMode::Ldaps {
            ca_file: Some(other_ca.clone()),
        },
        ..env.ldaps_opts()
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
    let text = err.to_string();
    assert!(
        text.contains("not trusted") && text.contains(&other_ca.display().to_string()),
        "{text}"
    );
    eprintln!("{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn connection_by_ip_verifies_the_dc_name() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let tls = TlsClient::new(Some(&env.ca())).unwrap();
    let host = env.s("/dc_host");

    // TCP to 127.0.0.2:636, certificate verified for dc1.example.test.
    let t = Instant::now();
    let mut conn = Connection::connect_ldaps(&host, env.ldaps_addr(), Duration::from_secs(5), &tls)
        .await
        .expect("LDAPS to 127.0.0.2 verifying dc1.example.test");
    eprintln!("TCP + TLS handshake: {:?}", t.elapsed());
    assert_eq!(conn.security(), Security::Tls);
    let info = conn.tls_info().unwrap().clone();
    eprintln!("TLS: {} {}", info.protocol, info.cipher_suite);
    assert!(info.channel_bindings.starts_with(b"tls-server-end-point:"));
    // The DC's certificate (ecdsa-with-SHA256) gives SHA-256 bindings: the same as hashing
    // the PEM file's certificate ourselves.
    let pem = std::fs::read(env.s("/ca_cert").replace("ca.pem", "server.pem")).unwrap();
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
    assert_eq!(info.channel_bindings, tls_server_end_point(&der).unwrap());
    assert_eq!(info.channel_bindings.len(), 21 + 32);

    let root = conn.root_dse().await.unwrap();
    assert_eq!(root.dns_host_name.as_deref(), Some(host.as_str()));
    let ticket = env.ldap_ticket(&kdc, &tgt, &host).await;
    let t = Instant::now();
    conn.bind_sasl_gssapi(ticket, SaslConfig::default())
        .await
        .expect("SASL GSSAPI bind over TLS");
    eprintln!("bind over TLS: {:?}", t.elapsed());
    assert_eq!(conn.security(), Security::Tls);
    assert!(conn.sasl_layer().is_none(), "no SASL layer over TLS");
    let entries = conn
        .search(password_search(&env.s("/gmsa/dn")))
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0]
            .attributes
            .iter()
            .any(|a| a.atype.eq_ignore_ascii_case("msDS-ManagedPassword")),
        "the password is returned over LDAPS"
    );
    conn.unbind().await.unwrap();

    // The IP address literal itself is verified against the certificate's IP SAN, and the
    // DC has ldap/127.0.0.2: fetching with --dc 127.0.0.2 works too.
    let fetched = fetch_managed_password(
        &kdc,
        &tgt,
        "example.test",
        &GmsaLookup::SamAccountName("WebApp01".into()),
        &FetchOptions {
            dc: Some(env.s("/dc_ip")),
            ..env.ldaps_opts()
        },
    )
    .await
    .expect("fetch over LDAPS by IP address");
    assert_eq!(fetched.dc, "127.0.0.2:636");
    common::check_keys(&env, &fetched, "over LDAPS");

    // A name the certificate does not list is refused, naming the DC and the CA file.
    let err = Connection::connect_ldaps(
        "other.example.test",
        env.ldaps_addr(),
        Duration::from_secs(5),
        &tls,
    )
    .await
    .unwrap_err();
    match &err {
        LdapError::CertificateNameMismatch {
            host, ca_source, ..
        } => {
            assert_eq!(host, "other.example.test");
            assert!(ca_source.contains(&env.s("/ca_cert")), "{ca_source}");
        }
        other => panic!("expected CertificateNameMismatch, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("dc1.example.test"), "lists the names: {text}");
    eprintln!("{text}");
}

/// Samba's `ldap server require strong auth = yes` (the testenv's setting and Samba's
/// default; Windows LdapEnforceChannelBinding=2) requires correct channel bindings on SASL
/// binds over TLS: without them, or with wrong ones, the bind is refused; ours pass.
#[tokio::test]
async fn dc_enforces_channel_bindings_and_ours_pass() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let tls = TlsClient::new(Some(&env.ca())).unwrap();
    let host = env.s("/dc_host");
    let mut wrong = b"tls-server-end-point:".to_vec();
    wrong.extend_from_slice(&[0u8; 32]);
    for (what, cb, ok) in [
        ("none", Some(None), false),
        ("wrong", Some(Some(wrong)), false),
        ("ours", None, true),
    ] {
        let mut conn =
            Connection::connect_ldaps(&host, env.ldaps_addr(), Duration::from_secs(5), &tls)
                .await
                .unwrap();
        if let Some(cb) = cb {
            conn.danger_override_channel_bindings_for_tests(cb);
        }
        let ticket = env.ldap_ticket(&kdc, &tgt, &host).await;
        let res = conn.bind_sasl_gssapi(ticket, SaslConfig::default()).await;
        eprintln!("channel bindings {what}: {res:?}");
        match (ok, res) {
            (true, Ok(())) => {}
            (false, Err(LdapError::BindRejected { .. })) => {}
            (_, other) => panic!("channel bindings {what}: unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn ldaps_url_without_ldaps_mode_is_refused() {
    let env = env();
    let kdc = env.kdc();
    let tgt = env.tgt(&kdc, "reader").await;
    let err = fetch_managed_password(
        &kdc,
        &tgt,
        "example.test",
        &GmsaLookup::SamAccountName("WebApp01".into()),
        &FetchOptions {
            dc: Some("ldaps://dc1.example.test".into()),
            ..FetchOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, GmsaError::InvalidDcAddress { .. }), "{err}");
}
