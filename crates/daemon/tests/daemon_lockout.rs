//! Fault row "lockout" against the real Samba AD DC (testenv/samba-dc.sh start): a wrong
//! password given to the daemon costs the AD account at most ONE failed pre-authentication,
//! however many leases, renewal timers and agent retries there are, and never locks it.
//!
//! The DC's domain-wide policy is shared with other tests and is not touched: the test creates
//! its own user (a member of the group allowed to read the gMSA's password) with a fine-grained
//! password policy (PSO) that locks it after 3 bad passwords, and removes both at the end. The
//! measure is the DC's own `badPwdCount` and `lockoutTime` of that user, read from its sam.ldb.
//! Fails (never skips) when the DC or samba-tool is missing.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Daemon;

/// Renewal period of the daemon's timers in this test (`CF_TEST_RENEW_SECS`; retries 1-3 s).
const RENEW_SECS: u64 = 3;
const LEASES: usize = 20;

/// samba-tool on the running DC's sam.ldb (the testenv's own way of changing objects).
fn samba_tool_cmd(env: &serde_json::Value, args: &[&str]) -> Command {
    let mut cmd = Command::new("samba-tool");
    cmd.args(args)
        .args(["-H", env["sam_ldb"].as_str().unwrap()])
        .args(["-s", env["smb_conf"].as_str().unwrap()]);
    cmd
}

/// Runs [`samba_tool_cmd`]; asserts success, returns stdout.
fn samba_tool(env: &serde_json::Value, args: &[&str]) -> String {
    let out = samba_tool_cmd(env, args)
        .output()
        .unwrap_or_else(|e| panic!("samba-tool is installed (testenv/samba-dc.sh): {e}"));
    assert!(
        out.status.success(),
        "samba-tool {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test's user and PSO, deleted on drop (also when an assertion fails).
struct LockoutUser {
    env: serde_json::Value,
    name: String,
    pso: String,
}

impl Drop for LockoutUser {
    fn drop(&mut self) {
        for args in [
            vec!["user", "delete", self.name.as_str()],
            vec![
                "domain",
                "passwordsettings",
                "pso",
                "delete",
                self.pso.as_str(),
            ],
        ] {
            let _ = samba_tool_cmd(&self.env, &args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl LockoutUser {
    /// `(badPwdCount, lockoutTime)` on the DC (absent counts as 0).
    fn bad_pwd_count_and_lockout(&self) -> (u64, u64) {
        let out = samba_tool(
            &self.env,
            &[
                "user",
                "show",
                &self.name,
                "--attributes=badPwdCount,lockoutTime",
            ],
        );
        let attr = |name: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .map_or(0, |v| v.trim().parse().unwrap())
        };
        (attr("badPwdCount"), attr("lockoutTime"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wrong_password_never_locks_the_account() {
    let env = common::TestEnv::samba_dc().json;
    let id = std::process::id() % 1_000_000;
    let user = LockoutUser {
        env: env.clone(),
        name: format!("cf-lock-{id}"),
        pso: format!("cf-lock-pso-{id}"),
    };
    let password = format!("Right-{id}-Pass!9");
    let wrong = format!("Wrong-{id}-Pass!9");
    // A leftover of a killed run with the same pid.
    drop(user_clone(&user));
    samba_tool(&env, &["user", "create", &user.name, &password]);
    samba_tool(
        &env,
        &[
            "group",
            "addmembers",
            env["readers_group"]["name"].as_str().unwrap(),
            &user.name,
        ],
    );
    samba_tool(
        &env,
        &[
            "domain",
            "passwordsettings",
            "pso",
            "create",
            &user.pso,
            "10",
            "--account-lockout-threshold=3",
            "--account-lockout-duration=5",
            "--reset-account-lockout-after=5",
        ],
    );
    samba_tool(
        &env,
        &[
            "domain",
            "passwordsettings",
            "pso",
            "apply",
            &user.pso,
            &user.name,
        ],
    );
    let shown = samba_tool(
        &env,
        &["user", "show", &user.name, "--attributes=msDS-ResultantPSO"],
    );
    assert!(shown.contains(&user.pso), "the PSO applies: {shown}");
    assert_eq!(user.bad_pwd_count_and_lockout(), (0, 0));

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let socket = dir.path().join("cf.sock");
    let krbdir = dir.path().join("krbdir");
    let mut cmd = Daemon::command(&socket, &krbdir);
    cmd.args(["--dc", env["dc_host"].as_str().unwrap()])
        .env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap())
        .env("CF_TEST_RENEW_SECS", RENEW_SECS.to_string())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    let d = Daemon::spawn(cmd, &socket);
    let c = connect(&d.socket).await.unwrap();
    let domain = env["domain"].as_str().unwrap().to_string();
    let spec = common::credspec(
        env["gmsa"]["name"].as_str().unwrap(),
        &domain,
        env["netbios_domain"].as_str().unwrap(),
    );
    let add = CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![spec],
        username: user.name.clone(),
        password: password.clone(),
        domain: domain.clone(),
    };
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..LEASES {
        let (mut c, add) = (c.clone(), add.clone());
        set.spawn(async move { c.add_non_domain_joined_kerberos_lease(add).await });
    }
    let mut paths = Vec::new();
    while let Some(r) = set.join_next().await {
        paths.extend(r.unwrap().unwrap().into_inner().created_kerberos_file_paths);
    }
    paths.sort();
    assert_eq!(paths.len(), LEASES);

    // One wrong renew, then agent-style retries of it while the timers run for over three
    // renewal periods.
    let renew = |pw: &str| RenewNonDomainJoinedKerberosLeaseRequest {
        username: user.name.clone(),
        password: pw.to_string(),
        domain: domain.clone(),
    };
    let e = c
        .clone()
        .renew_non_domain_joined_kerberos_lease(renew(&wrong))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("KDC_ERR_PREAUTH_FAILED"), "{e:?}");
    let renewed_before = common::count_in_log(&log, "ticket renewed");
    let t = Instant::now();
    let mut retries = 0;
    while t.elapsed() < Duration::from_secs(3 * RENEW_SECS + 2) {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let e = c
            .clone()
            .renew_non_domain_joined_kerberos_lease(renew(&wrong))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        assert!(
            e.message().contains("refused by the KDC at ")
                && e.message()
                    .contains("KDC_ERR_PREAUTH_FAILED; not retried until new credentials arrive"),
            "{e:?}"
        );
        assert!(!e.message().contains(&wrong), "no password in errors");
        retries += 1;
    }
    let timer_renewals = common::count_in_log(&log, "ticket renewed") - renewed_before;
    let (bad, lockout) = user.bad_pwd_count_and_lockout();
    let refusals = common::count_in_log(&log, "the KDC refused the credentials of");
    eprintln!(
        "{LEASES} leases, 1 wrong renew + {retries} retries, {timer_renewals} timer renewals in {:?}: \
         badPwdCount {bad}, lockoutTime {lockout}, refusals in the daemon log {refusals}",
        t.elapsed()
    );
    assert!(retries >= 3);
    assert!(
        timer_renewals >= 2 * LEASES,
        "the timers went on with the known password: {timer_renewals}"
    );
    assert_eq!(bad, 1, "one failed pre-authentication reached the DC");
    assert_eq!(lockout, 0, "not locked");
    assert_eq!(refusals, 1, "one refusal logged");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains(&wrong) && !text.contains(&password),
        "no password in the log"
    );

    // The right password renews all the leases (its check reuses the known login).
    let renewed = c
        .clone()
        .renew_non_domain_joined_kerberos_lease(renew(&password))
        .await
        .unwrap()
        .into_inner();
    let mut got = renewed.renewed_kerberos_file_paths;
    got.sort();
    assert_eq!(got, paths);
    for p in &paths {
        let listing = common::klist_lease(env["krb5_conf"].as_str().unwrap(), p);
        assert!(
            listing.contains(env["gmsa"]["principal"].as_str().unwrap()),
            "{listing}"
        );
    }
    let list = common::ok(
        &Command::new(env!("CARGO_BIN_EXE_gmsa"))
            .args(["lease", "list", "--krbdir"])
            .arg(&krbdir)
            .output()
            .unwrap(),
        "gmsa lease list",
    );
    assert_eq!(
        list.lines().filter(|l| l.ends_with("renewal: ok")).count(),
        LEASES,
        "{list}"
    );
    assert_eq!(user.bad_pwd_count_and_lockout(), (bad, 0));
    drop(d);
}

fn user_clone(u: &LockoutUser) -> LockoutUser {
    LockoutUser {
        env: u.env.clone(),
        name: u.name.clone(),
        pso: u.pso.clone(),
    }
}
