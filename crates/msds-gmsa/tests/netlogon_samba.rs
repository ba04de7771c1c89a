//! The CLDAP NetLogon ping and the site-aware DC choice against the real Samba DCs: dc1
//! (testenv/samba-dc.sh, site Default-First-Site-Name) and dc2 (testenv/samba-dc2.sh, site
//! Site-B; subnet 127.0.0.0/8 -> Site-B, so this client is in Site-B). Fails (never skips) when
//! either is missing.

use std::net::SocketAddr;
use std::time::Duration;

use msds_gmsa::dc;
use msds_gmsa::netlogon::{self, DsFlags, LOGON_SAM_LOGON_RESPONSE_EX};

mod common;

fn dc2_env() -> serde_json::Value {
    let dir = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let path = format!("{dir}/samba2/testenv.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run testenv/samba-dc2.sh start"));
    serde_json::from_str(&text).unwrap()
}

const T: Duration = Duration::from_secs(2);

#[tokio::test]
async fn netlogon_ping_tells_sites() {
    let env = common::env();
    let dc2 = dc2_env();
    let dc1_addr: SocketAddr = format!("{}:389", env.s("/dc_ip")).parse().unwrap();
    let dc2_addr: SocketAddr = format!("{}:389", dc2["dc_ip"].as_str().unwrap())
        .parse()
        .unwrap();

    let r1 = netlogon::ping(dc1_addr, "example.test", T).await.unwrap();
    assert_eq!(r1.opcode, LOGON_SAM_LOGON_RESPONSE_EX);
    assert_eq!(r1.dns_forest_name, "example.test");
    assert_eq!(r1.dns_domain_name, "example.test");
    assert_eq!(r1.dns_host_name, "dc1.example.test");
    assert_eq!(r1.netbios_domain_name, "EXAMPLE");
    assert_eq!(r1.dc_site_name, "Default-First-Site-Name");
    assert_eq!(r1.client_site_name, "Site-B");
    assert!(
        r1.flags
            .has(DsFlags::LDAP | DsFlags::KDC | DsFlags::DS | DsFlags::WRITABLE)
    );
    assert!(!r1.dc_is_closest(), "dc1 is not in our site: {}", r1.flags);

    let r2 = netlogon::ping(dc2_addr, "example.test.", T).await.unwrap();
    assert_eq!(r2.dns_host_name, "dc2.example.test");
    assert_eq!(r2.dc_site_name, "Site-B");
    assert_eq!(r2.client_site_name, "Site-B");
    assert!(r2.dc_is_closest(), "dc2 is in our site: {}", r2.flags);
    assert_eq!(r1.domain_guid, r2.domain_guid);

    // A domain the DC does not serve: no entry, a typed error.
    let err = netlogon::ping(dc1_addr, "nowhere.test", T)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NetLogon"), "{err}");
    // Nobody on the port: no answer within the timeout (or refused), a typed error.
    let closed: SocketAddr = "127.0.0.2:9".parse().unwrap();
    let err = netlogon::ping(closed, "example.test", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(err, msds_gmsa::GmsaError::CldapPing { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn site_dcs_come_first() {
    let env = common::env();
    let choice = dc::locate_by_site(
        "example.test",
        None,
        Some(env.s("/dns").parse().unwrap()),
        T,
    )
    .await
    .unwrap();
    let hosts: Vec<&str> = choice.candidates.iter().map(|d| d.host.as_str()).collect();
    assert_eq!(
        hosts,
        ["dc2.example.test", "dc1.example.test"],
        "{}",
        choice.why
    );
    let site = choice.site.as_ref().unwrap();
    assert_eq!(site.client_site, "Site-B");
    assert_eq!(site.asked.host, "dc1.example.test");
    assert!(choice.why.contains("our site is Site-B"), "{}", choice.why);

    // A DC list given explicitly wins, in its order, without a ping.
    let given = dc::locate_by_site(
        "example.test",
        Some("dc1.example.test,dc2.example.test:389"),
        Some(env.s("/dns").parse().unwrap()),
        T,
    )
    .await
    .unwrap();
    assert!(given.site.is_none());
    let hosts: Vec<String> = given.candidates.iter().map(ToString::to_string).collect();
    assert_eq!(hosts, ["dc1.example.test:389", "dc2.example.test:389"]);
}

/// The site a NetLogon ping told also orders the realm's KDCs found through DNS: after a fetch
/// located the DCs by site, `_kerberos._tcp.Site-B._sites.example.test` (dc2) comes before the
/// realm-wide records (dc1 only), and a message to the realm is answered by dc2; the gMSA's own
/// AS exchange works through that order. Before the site is known, the realm's order is used.
#[tokio::test]
async fn site_kdcs_come_first_once_the_site_is_known() {
    use krb5_proto::Principal;
    use krb5_proto::as_exchange::{AsExchange, AsOptions, Secret};
    use krb5_proto::client::Client;
    use krb5_proto::config::Krb5Conf;
    use krb5_proto::rand::OsRng;
    use msds_gmsa::ldap::session::GmsaReader;
    use msds_gmsa::{FetchOptions, GmsaLookup};

    let env = common::env();
    let dns: SocketAddr = env.s("/dns").parse().unwrap();
    let conf = Krb5Conf::parse("[libdefaults]\n dns_lookup_kdc = true\n").unwrap();
    let client = Client::new(conf)
        .with_dns_server(dns)
        .with_timeout(Duration::from_secs(5));
    let order = |c: &Client| {
        let c = c.clone();
        async move {
            let kdc = c.kdc_for(b"EXAMPLE.TEST").await.unwrap();
            kdc.kdcs()
                .iter()
                .map(|k| (k.host.clone(), k.protocol))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        order(&client).await,
        [("dc1.example.test".to_owned(), None)]
    );
    assert_eq!(client.site("EXAMPLE.TEST"), None);

    let user = env.tgt(&client, "reader").await;
    let mut reader = GmsaReader::new(
        client.clone(),
        "example.test",
        FetchOptions {
            dc: None,
            dns_server: Some(dns),
            ..env.opts()
        },
    )
    .unwrap();
    let fetched = reader
        .fetch(&user, &GmsaLookup::SamAccountName("WebApp01".into()))
        .await
        .expect("fetch with DCs located by site");
    assert_eq!(fetched.dc, "dc2.example.test:389");
    assert_eq!(client.site("EXAMPLE.TEST").as_deref(), Some("Site-B"));
    assert_eq!(
        order(&client).await,
        [
            ("dc2.example.test".to_owned(), None),
            ("dc1.example.test".to_owned(), None),
        ]
    );

    // A message to the realm now goes to dc2 (127.0.0.12).
    let kdc = client.kdc_for(b"EXAMPLE.TEST").await.unwrap();
    let gmsa = Principal::parse(&env.s("/gmsa/principal"), None).unwrap();
    let (_, request) = AsExchange::new(
        gmsa.clone(),
        Secret::password("not the password"),
        AsOptions::default(),
    )
    .start(std::time::SystemTime::now(), &mut OsRng);
    let reply = kdc.send(&request.bytes).await.expect("a KDC answers");
    assert_eq!(
        reply.from.ip().to_string(),
        "127.0.0.12",
        "{:?}",
        reply.from
    );

    // The gMSA's AS exchange with the keys from the blob, through the site-first order.
    let salt = msds_gmsa::computer_account_salt("EXAMPLE.TEST", "WebApp01$");
    let keys = msds_gmsa::GmsaKeys::derive(fetched.blob.current(), &salt).unwrap();
    let tgt = client
        .as_exchange(gmsa, Secret::Keys(keys.as_vec()), AsOptions::default())
        .await
        .expect("the gMSA's TGT from the site's KDC");
    assert_eq!(tgt.client.realm_str(), "EXAMPLE.TEST");
}
