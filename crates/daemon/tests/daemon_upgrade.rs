//! Upgrade in place, both ways (issue 10), against the real Samba AD DC.
//!
//! A host running upstream credentials-fetcher 1.3.x (C++) or 2.x (Go) switches to us with
//! leases live: the krbdir holds `<lease>/<lease>_metadata.json` in upstream's format, which the
//! tests write by hand (jsoncpp's tab-indented output with 1.3.6's five fields; Go's
//! `json.MarshalIndent` of a map, two spaces, sorted keys, with v2's `distinguished_name` and
//! `credential_arn`). The daemon adopts them at start, renews their tickets (MIT klist reads the
//! new krb5cc) and deletes them. The way back: our metadata is parsed by two parsers written to
//! upstream's rules (1.3.6 `read_meta_data_json`: jsoncpp `asString`, a `krb_file_path` without
//! ``& : \ | * ? < > ` $ { } ( ) " ;`` that must exist, `credspec_info` optional; v2
//! `ReadMetadataJSON`: each known key taken when it is a string, the rest ignored), and the
//! `krb_file_path` they find is a ccache MIT klist reads.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;
use common::Daemon;

fn testenv() -> serde_json::Value {
    common::TestEnv::samba_dc().json
}

fn s<'a>(env: &'a serde_json::Value, pointer: &str) -> &'a str {
    env.pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{pointer} in the Samba testenv.json"))
}

fn start(dir: &Path, env: &serde_json::Value, extra: &[(&str, String)]) -> Daemon {
    let socket = dir.join("cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    cmd.args(["--dc", s(env, "/dc_host")])
        .env("KRB5_CONFIG", s(env, "/krb5_conf"));
    Daemon::spawn_logged(cmd, &socket, extra)
}

fn klist(env: &serde_json::Value, ccache: &Path) -> Option<String> {
    let out = std::process::Command::new("klist")
        .arg("-c")
        .arg(ccache)
        .env("KRB5_CONFIG", s(env, "/krb5_conf"))
        .output()
        .expect("MIT klist");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits (at most `limit`) until `ccache` holds the gMSA's ticket and, when `not` is given,
/// other bytes than those (a renewal writes a new ticket with a new session key; inode numbers
/// are no proof, a replaced file may get the old one's number). Returns the bytes.
fn wait_for_ticket(
    env: &serde_json::Value,
    ccache: &Path,
    not: Option<&[u8]>,
    limit: Duration,
) -> Vec<u8> {
    let t = Instant::now();
    let principal = s(env, "/gmsa/principal");
    loop {
        if let Ok(bytes) = std::fs::read(ccache)
            && !bytes.is_empty()
            && Some(&bytes[..]) != not
            && klist(env, ccache).is_some_and(|l| l.contains(principal))
        {
            return bytes;
        }
        assert!(
            t.elapsed() < limit,
            "no (new) ticket of {principal} in {} within {limit:?}",
            ccache.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// jsoncpp's StreamWriterBuilder output (tab indentation, `" : "`, keys sorted), as upstream
/// 1.3.6's `write_meta_data_json` writes it.
fn jsoncpp_style(tickets: &[Vec<(&str, String)>]) -> String {
    let mut out = String::from("{\n\t\"krb_ticket_info\" : \n\t[\n");
    for (i, t) in tickets.iter().enumerate() {
        let mut t = t.clone();
        t.sort();
        out.push_str("\t\t{\n");
        for (j, (k, v)) in t.iter().enumerate() {
            let comma = if j + 1 < t.len() { "," } else { "" };
            out.push_str(&format!(
                "\t\t\t\"{k}\" : {}{comma}\n",
                serde_json::Value::from(v.as_str())
            ));
        }
        out.push_str(if i + 1 < tickets.len() {
            "\t\t},\n"
        } else {
            "\t\t}\n"
        });
    }
    out.push_str("\t]\n}");
    out
}

/// Go's `json.MarshalIndent(map, "", "  ")` (keys sorted), as upstream v2's `WriteMetaDataJSON`.
fn go_style(tickets: &[Vec<(&str, String)>]) -> String {
    let list: Vec<serde_json::Map<String, serde_json::Value>> = tickets
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.sort();
            t.into_iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
                .collect()
        })
        .collect();
    // serde_json's pretty printer: two spaces, keys in map order (sorted here).
    serde_json::to_string_pretty(&serde_json::json!({ "krb_ticket_info": list })).unwrap()
}

/// One ticket as upstream's readers see it.
#[derive(Debug, Default, PartialEq)]
struct UpTicket {
    krb_file_path: String,
    service_account_name: String,
    domain_name: String,
    domainless_user: String,
    credspec_info: String,
    distinguished_name: String,
    credential_arn: String,
}

/// Upstream 1.3.6's `read_meta_data_json` rules.
fn read_like_upstream_1_3(path: &Path) -> Vec<UpTicket> {
    let root: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    // jsoncpp asString: a string as is, null/missing "", numbers/bools converted, objects throw.
    let as_string = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => {
            panic!("jsoncpp asString would throw or convert {other}: upstream reads it differently")
        }
    };
    let invalid = [
        '&', ':', '\\', '|', '*', '?', '<', '>', '`', '$', '{', '}', '(', ')', '"', ';',
    ];
    let mut out = Vec::new();
    let empty = Vec::new();
    let list = root["krb_ticket_info"].as_array().unwrap_or(&empty);
    for t in list {
        let krb_file_path = as_string(&t["krb_file_path"]);
        if krb_file_path.contains(invalid) {
            break;
        }
        if !Path::new(&krb_file_path).exists() {
            continue;
        }
        out.push(UpTicket {
            krb_file_path,
            service_account_name: as_string(&t["service_account_name"]),
            domain_name: as_string(&t["domain_name"]),
            domainless_user: as_string(&t["domainless_user"]),
            credspec_info: t.get("credspec_info").map(as_string).unwrap_or_default(),
            ..UpTicket::default()
        });
    }
    out
}

/// Upstream v2's `ReadMetadataJSON` rules (the `krb_ticket_info` wrapper form).
fn read_like_upstream_2(path: &Path) -> Vec<UpTicket> {
    let root: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let take = |t: &serde_json::Value, k: &str| t[k].as_str().unwrap_or_default().to_string();
    root["krb_ticket_info"]
        .as_array()
        .expect("v2 falls back to a bare array when krb_ticket_info is missing or empty")
        .iter()
        .map(|t| UpTicket {
            krb_file_path: take(t, "krb_file_path"),
            service_account_name: take(t, "service_account_name"),
            domain_name: take(t, "domain_name"),
            domainless_user: take(t, "domainless_user"),
            credspec_info: take(t, "credspec_info"),
            distinguished_name: take(t, "distinguished_name"),
            credential_arn: take(t, "credential_arn"),
        })
        .collect()
}

fn metadata_path(krbdir: &Path, id: &str) -> PathBuf {
    krbdir.join(id).join(format!("{id}_metadata.json"))
}

/// A lease as upstream leaves it: `<krbdir>/<id>/<gMSA>/krb5cc` (empty: upstream creates the
/// file before kinit fills it; here the ticket is to come from us) and the metadata.
fn upstream_lease(krbdir: &Path, id: &str, gmsa: &str, metadata: &str) -> PathBuf {
    let ccache = krbdir.join(id).join(gmsa).join("krb5cc");
    std::fs::create_dir_all(ccache.parent().unwrap()).unwrap();
    std::fs::write(&ccache, b"").unwrap();
    std::fs::write(metadata_path(krbdir, id), metadata).unwrap();
    ccache
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_1_3_domain_joined_lease_adopted_renewed_deleted_and_ours_read_back() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let krbdir = dir.path().join("krbdir");
    let gmsa = s(&env, "/gmsa/name");
    let id = "0a1b2c3d4e5f60718293";
    let ccache = krbdir.join(id).join(gmsa).join("krb5cc");
    let md = jsoncpp_style(&[vec![
        ("krb_file_path", ccache.display().to_string()),
        ("service_account_name", gmsa.to_string()),
        ("domain_name", s(&env, "/domain").to_string()),
        ("domainless_user", String::new()),
        ("credspec_info", String::new()),
    ]]);
    upstream_lease(&krbdir, id, gmsa, &md);
    // The fixture is what upstream's reader accepts.
    assert_eq!(read_like_upstream_1_3(&metadata_path(&krbdir, id)).len(), 1);

    let d = start(
        dir.path(),
        &env,
        &[
            ("KRB5_KTNAME", s(&env, "/machine/keytab").to_string()),
            ("CF_TEST_RENEW_SECS", "3".to_string()),
        ],
    );
    // Adopted at start: the empty ccache is filled right away, then renewed on schedule.
    let first = wait_for_ticket(&env, &ccache, None, Duration::from_secs(30));
    wait_for_ticket(&env, &ccache, Some(&first), Duration::from_secs(30));

    let mut c = connect(&d.socket).await.unwrap();
    // Our own lease, read back by upstream's readers.
    let added = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: vec![common::credspec(
                gmsa,
                s(&env, "/domain"),
                s(&env, "/netbios_domain"),
            )],
        })
        .await
        .unwrap()
        .into_inner();
    let ours = metadata_path(&krbdir, &added.lease_id);
    let want = UpTicket {
        krb_file_path: format!("{}/krb5cc", added.created_kerberos_file_paths[0]),
        service_account_name: gmsa.to_string(),
        domain_name: s(&env, "/domain").to_string(),
        ..UpTicket::default()
    };
    let v13 = read_like_upstream_1_3(&ours);
    assert_eq!(v13.len(), 1);
    assert_eq!(
        UpTicket {
            credspec_info: String::new(),
            ..v13.into_iter().next().unwrap()
        },
        want
    );
    let v2 = read_like_upstream_2(&ours);
    assert_eq!(v2.len(), 1);
    let v2 = v2.into_iter().next().unwrap();
    assert_eq!(
        UpTicket {
            credspec_info: String::new(),
            distinguished_name: String::new(),
            ..v2
        },
        want
    );
    // The path upstream would renew holds a ticket its klist reads (upstream klists it).
    assert!(
        klist(&env, Path::new(&want.krb_file_path))
            .unwrap()
            .contains(s(&env, "/gmsa/principal"))
    );
    // The adopted lease, after our renewals, still reads the same for upstream 1.3.
    let back = read_like_upstream_1_3(&metadata_path(&krbdir, id));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].krb_file_path, ccache.display().to_string());
    assert_eq!(back[0].service_account_name, gmsa);

    for (lease, path) in [
        (
            id.to_string(),
            ccache.parent().unwrap().display().to_string(),
        ),
        (
            added.lease_id.clone(),
            added.created_kerberos_file_paths[0].clone(),
        ),
    ] {
        let r = c
            .delete_kerberos_lease(DeleteKerberosLeaseRequest {
                lease_id: lease.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.deleted_kerberos_file_paths, vec![path]);
        assert!(!krbdir.join(&lease).exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_2_domainless_lease_adopted_renewed_deleted() {
    let env = testenv();
    let dir = tempfile::tempdir().unwrap();
    let krbdir = dir.path().join("krbdir");
    let gmsa = s(&env, "/gmsa/name");
    let user = s(&env, "/users/reader/name");
    let password = std::fs::read_to_string(s(&env, "/users/reader/password_file")).unwrap();
    let domain = s(&env, "/domain");
    let credential_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gmsa-user-AbCdEf";
    let spec = serde_json::json!({
        "CmsPlugins": ["ActiveDirectory"],
        "DomainJoinConfig": {"DnsName": domain, "NetBiosName": s(&env, "/netbios_domain"),
                             "MachineAccountName": gmsa},
        "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": gmsa, "Scope": domain}],
            "HostAccountConfig": {"PortableCcgVersion": "1", "PluginGUID": "{GDMA0342-266A-4D1P-831J-20990E82944F}",
                                  "PluginInput": {"CredentialArn": credential_arn}}}
    })
    .to_string();
    let id = "f0e1d2c3b4a596870123";
    let ccache = krbdir.join(id).join(gmsa).join("krb5cc");
    let ticket = vec![
        ("krb_file_path", ccache.display().to_string()),
        ("service_account_name", gmsa.to_string()),
        ("domain_name", domain.to_string()),
        ("domainless_user", user.to_string()),
        ("distinguished_name", s(&env, "/gmsa/dn").to_string()),
        ("credspec_info", spec.clone()),
        ("credential_arn", credential_arn.to_string()),
    ];
    upstream_lease(&krbdir, id, gmsa, &go_style(&[ticket]));
    let fixture = read_like_upstream_2(&metadata_path(&krbdir, id));
    assert_eq!(fixture[0].credential_arn, credential_arn);

    let d = start(dir.path(), &env, &[]);
    let mut c = connect(&d.socket).await.unwrap();
    // The agent renews domainless leases with the user's password: the adopted lease is one of
    // this user's, so it is renewed (upstream v2 does the same on this call).
    let renewed = c
        .renew_non_domain_joined_kerberos_lease(RenewNonDomainJoinedKerberosLeaseRequest {
            username: user.to_string(),
            password: password.clone(),
            domain: domain.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        renewed.renewed_kerberos_file_paths,
        vec![ccache.parent().unwrap().display().to_string()]
    );
    let first = wait_for_ticket(&env, &ccache, None, Duration::from_secs(10));
    // Renewed again on the next call: a new file.
    c.renew_non_domain_joined_kerberos_lease(RenewNonDomainJoinedKerberosLeaseRequest {
        username: user.to_string(),
        password,
        domain: domain.to_string(),
    })
    .await
    .unwrap();
    wait_for_ticket(&env, &ccache, Some(&first), Duration::from_secs(10));
    // Still v2's lease, every field as v2 wrote it.
    assert_eq!(read_like_upstream_2(&metadata_path(&krbdir, id)), fixture);
    let r = c
        .delete_kerberos_lease(DeleteKerberosLeaseRequest {
            lease_id: id.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.deleted_kerberos_file_paths,
        vec![ccache.parent().unwrap().display().to_string()]
    );
    assert!(!krbdir.join(id).exists());
}
