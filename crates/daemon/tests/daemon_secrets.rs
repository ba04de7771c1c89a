//! No secret in the daemon's output at any verbosity, and renewals that do not derive password
//! keys again, against the real Samba AD DC (testenv/samba-dc.sh start). Fails (never skips)
//! when the DC is not there.
//!
//! The daemon runs with `RUST_LOG=trace` through a start-up login from a domainless secret
//! file, an AddKerberosLease with the machine keytab, a domainless add, a renew RPC and timer
//! renewals (`CF_TEST_RENEW_SECS=1`); then its whole output is searched for every 16-byte
//! window of the gMSA's msDS-ManagedPassword blob (read independently with MIT kinit and a
//! sealed OpenLDAP ldapsearch, as testenv's self-check does), of the gMSA's derived keys and of
//! the lease's ticket session keys, each as raw bytes, lower- and upper-case hex, Rust's
//! decimal `Debug` list and base64 (of the secret from offsets 0, 1 and 2, so every alignment is
//! covered), and for the domainless user's password.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Daemon;

/// Shortest secret window searched for.
const WINDOW: usize = 16;

/// Every form of every `WINDOW`-byte window of `secret` that could show up in a log.
fn forms(secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    use base64::Engine as _;
    let w = WINDOW.min(secret.len());
    let mut out = Vec::new();
    for win in secret.windows(w) {
        out.push(("raw".into(), win.to_vec()));
        out.push(("hex".into(), hex::encode(win).into_bytes()));
        out.push(("HEX".into(), hex::encode_upper(win).into_bytes()));
        let dbg = format!("{win:?}");
        out.push((
            "Debug".into(),
            dbg.trim_start_matches('[')
                .trim_end_matches(']')
                .as_bytes()
                .to_vec(),
        ));
    }
    // Base64 of the secret starting at offsets 0, 1, 2: whatever precedes it in a logged
    // message, its encoding contains one of these at a 4-character boundary. 20 characters
    // (15 bytes) at each boundary.
    let chars = (w * 4).div_ceil(3).clamp(4, 20) / 4 * 4;
    for k in 0..3.min(secret.len()) {
        for engine in [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::URL_SAFE,
        ] {
            let enc = engine.encode(&secret[k..]);
            let full = enc.trim_end_matches('=');
            let mut i = 0;
            while i + chars <= full.len() {
                // A window ending in the last, partial group depends on what follows: skip it.
                if i + chars + 4 <= full.len() || full.len() % 4 == 0 {
                    out.push(("base64".into(), full.as_bytes()[i..i + chars].to_vec()));
                }
                i += 4;
            }
        }
    }
    out
}

fn assert_absent(log: &[u8], secret: &[u8], what: &str) {
    assert!(!secret.is_empty(), "{what}: empty");
    for (form, needle) in forms(secret) {
        if let Some(at) = log
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
        {
            let from = at.saturating_sub(200);
            let to = (at + needle.len() + 200).min(log.len());
            panic!(
                "{what} ({form}) found in the daemon's trace log at byte {at}:\n{}",
                String::from_utf8_lossy(&log[from..to])
            );
        }
    }
}

/// The gMSA's msDS-ManagedPassword as the reader user gets it: MIT kinit, then a sealed
/// GSSAPI ldapsearch (OpenLDAP), as testenv/samba-dc.sh's self-check does.
fn blob_via_openldap(env: &serde_json::Value, dir: &Path) -> Vec<u8> {
    use base64::Engine as _;
    let conf = env["krb5_conf"].as_str().unwrap();
    let cc = format!("FILE:{}", dir.join("reader.cc").display());
    let pw =
        std::fs::File::open(env["users"]["reader"]["password_file"].as_str().unwrap()).unwrap();
    let out = Command::new("kinit")
        .arg(env["users"]["reader"]["principal"].as_str().unwrap())
        .env("KRB5_CONFIG", conf)
        .env("KRB5CCNAME", &cc)
        .stdin(pw)
        .output()
        .expect("MIT kinit runs");
    assert!(out.status.success(), "kinit: {out:?}");
    let out = Command::new("ldapsearch")
        .args(["-LLL", "-N", "-Y", "GSSAPI", "-O", "minssf=56", "-H"])
        .arg(format!("ldap://{}", env["dc_host"].as_str().unwrap()))
        .args(["-b", env["gmsa"]["dn"].as_str().unwrap(), "-s", "base"])
        .arg("msDS-ManagedPassword")
        .env("KRB5_CONFIG", conf)
        .env("KRB5CCNAME", &cc)
        .output()
        .expect("ldapsearch runs");
    assert!(out.status.success(), "ldapsearch: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).replace("\n ", "");
    let b64 = text
        .lines()
        .find_map(|l| l.strip_prefix("msDS-ManagedPassword:: "))
        .unwrap_or_else(|| panic!("no msDS-ManagedPassword in {text}"));
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap()
}

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_of_add_and_renewals_hold_no_secret_and_renewals_reuse_derived_keys() {
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("daemon.log");
    let socket = dir.path().join("cf.sock");
    let user = env["users"]["reader"]["name"].as_str().unwrap().to_string();
    let password =
        std::fs::read_to_string(env["users"]["reader"]["password_file"].as_str().unwrap())
            .unwrap()
            .trim_end_matches('\n')
            .to_string();
    let domain = env["domain"].as_str().unwrap().to_string();
    // The same user in a domainless secret file (logged in and bound at start-up).
    let secret_file = dir.path().join("secret.json");
    std::fs::write(
        &secret_file,
        serde_json::json!({"username": user, "password": password, "domainName": domain})
            .to_string(),
    )
    .unwrap();
    let mut cmd = Daemon::command(&socket, &dir.path().join("krbdir"));
    cmd.args(["--dc", env["dc_host"].as_str().unwrap()])
        .arg("--domainless-secret-file")
        .arg(&secret_file)
        // AddKerberosLease: domain-joined with the machine keytab.
        .env("KRB5_KTNAME", env["machine"]["keytab"].as_str().unwrap())
        .env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap())
        .env("RUST_LOG", "trace")
        .env("CF_TEST_RENEW_SECS", "1")
        .stdout(Stdio::from(std::fs::File::create(&log_path).unwrap()))
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&log_path)
                .unwrap(),
        ));
    let d = Daemon::spawn(cmd, &socket);
    let spec = common::credspec(
        env["gmsa"]["name"].as_str().unwrap(),
        &domain,
        env["netbios_domain"].as_str().unwrap(),
    );
    let mut c = connect(&d.socket).await.unwrap();
    // AddKerberosLease (machine keytab).
    let by_file = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: vec![spec.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    let added = c
        .add_non_domain_joined_kerberos_lease(CreateNonDomainJoinedKerberosLeaseRequest {
            credspec_contents: vec![spec],
            username: user.clone(),
            password: password.clone(),
            domain: domain.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let ccache_path = Path::new(&added.created_kerberos_file_paths[0]).join("krb5cc");
    let log_after_add = std::fs::read_to_string(&log_path).unwrap();
    let derived_at_add = count(&log_after_add, "string-to-key derived");
    assert!(
        derived_at_add >= 1,
        "the add derives the user's and the gMSA's keys:\n{log_after_add}"
    );
    let mut session_keys = Vec::new();
    let mut collect = |p: &Path| {
        if let Ok(cc) = ccache::Ccache::read(p) {
            for t in cc.tickets() {
                session_keys.push(t.key.key.to_vec());
            }
        }
    };
    collect(&ccache_path);
    collect(&Path::new(&by_file.created_kerberos_file_paths[0]).join("krb5cc"));

    c.renew_non_domain_joined_kerberos_lease(RenewNonDomainJoinedKerberosLeaseRequest {
        username: user.clone(),
        password: password.clone(),
        domain: domain.clone(),
    })
    .await
    .unwrap();
    // Timer renewals every second: wait for at least two more gMSA logins from the cache.
    let t = Instant::now();
    loop {
        collect(&ccache_path);
        let log = std::fs::read_to_string(&log_path).unwrap();
        if count(&log, "string-to-key from cache") >= 2 || t.elapsed() > Duration::from_secs(20) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in [&added.lease_id, &by_file.lease_id] {
        c.delete_kerberos_lease(DeleteKerberosLeaseRequest {
            lease_id: id.clone(),
        })
        .await
        .unwrap();
    }
    drop(c);
    drop(d);

    let log = std::fs::read(&log_path).unwrap();
    let text = String::from_utf8_lossy(&log);
    eprintln!(
        "daemon trace log: {} bytes, {} lines, {} TRACE lines, {} derivations, {} cache hits",
        log.len(),
        text.lines().count(),
        count(&text, " TRACE "),
        count(&text, "string-to-key derived"),
        count(&text, "string-to-key from cache"),
    );
    // Renewals (the RPC and the timers) found the keys in the cache.
    assert_eq!(
        count(&text, "string-to-key derived"),
        derived_at_add,
        "a renewal derived a password key again"
    );
    assert!(count(&text, "string-to-key from cache") >= 2, "{text}");
    // The log is at trace level indeed (our crates' trace/debug lines are there).
    assert!(count(&text, " DEBUG ") > 0, "{text}");

    let blob_bytes = blob_via_openldap(&env, dir.path());
    let blob = msds_gmsa::ManagedPasswordBlob::parse(&blob_bytes).unwrap();
    assert_absent(&log, &blob_bytes, "the msDS-ManagedPassword blob");
    assert_absent(&log, blob.current().as_utf16le(), "the gMSA's password");
    let keys = msds_gmsa::GmsaKeys::derive(
        blob.current(),
        env["gmsa"]["salt"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    for k in keys.as_vec() {
        assert_absent(&log, k.as_bytes(), &format!("the gMSA's {} key", k.etype()));
    }
    assert_absent(&log, password.as_bytes(), "the user's password");
    assert!(!text.contains(&password), "the user's password");
    assert!(!session_keys.is_empty());
    for k in &session_keys {
        assert_absent(&log, k, "a ticket session key");
    }
    let kt = krb5_proto::keytab::Keytab::read(env["machine"]["keytab"].as_str().unwrap().as_ref())
        .unwrap();
    let machine =
        krb5_proto::Principal::parse(env["machine"]["principal"].as_str().unwrap(), None).unwrap();
    for k in kt.keys_for(&machine) {
        assert_absent(&log, k.as_bytes(), "a machine keytab key");
    }
}
