//! A user of one AD forest reads the gMSA of another through a two-way forest trust, against
//! two real Samba 4.22 DCs: dc1 of EXAMPLE.TEST (`testenv/samba-dc.sh start`) and dc3 of
//! OTHER.TEST (`testenv/samba-forest.sh start`). The chain: svc-fetcher's TGT from EXAMPLE.TEST,
//! the referral of dc1's KDC to OTHER.TEST (RFC 6806) for `ldap/dc3.other.test`, the ticket for
//! it from dc3's KDC, the sealed LDAP read of msDS-ManagedPassword at dc3 (whose
//! msDS-GroupMSAMembership names svc-fetcher's SID of the other forest, and the SID of its group
//! gmsa-readers, through which the host ECSHOST01$ is allowed), and the gMSA's own AS exchange at
//! dc3's KDC. The DCs of other.test are found by DNS SRV at dc3's DNS; the KDCs
//! through the krb5.conf of the forest's testenv.json (both realms, no [domain_realm] entry for
//! other.test: the host's realm comes from the referral). Checked with MIT's klist and kvno and
//! the keys Samba exports. Fails (never skips) when either DC is not set up.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use krb5_proto::keytab::Keytab;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod common;
use common::{Daemon, TestEnv as Env, fails_with_1 as fails, ok};

/// The forest's testenv.json, after checking that dc1's is there too.
fn forest() -> Env {
    let _ = Env::samba_dc();
    Env::forest()
}

impl Env {
    /// The ECS credspec of the forest's gMSA (domain other.test) in `dir`.
    fn other_credspec(&self, dir: &Path) -> PathBuf {
        let path = dir.join("credspec-other.json");
        std::fs::write(
            &path,
            common::credspec(
                self.str("/gmsa/name"),
                self.str("/domain"),
                self.str("/netbios_domain"),
            ),
        )
        .unwrap();
        path
    }
}

/// `gmsa fetch` of the forest's gMSA into `dir/cc` as dc1's `who`: a user (`reader`,
/// `denied`: `--user`) or the host (`machine`: `--keytab`); the DCs found by DNS SRV at dc3's
/// DNS, with `krb5_conf` and `extra` arguments.
fn fetch(
    env: &Env,
    dir: &Path,
    who: &str,
    krb5_conf: &str,
    extra: &[&str],
) -> std::process::Output {
    let spec = env.other_credspec(dir);
    let cc = dir.join("cc");
    let mut args = vec![
        "fetch",
        "--credspec",
        spec.to_str().unwrap(),
        "--dns-server",
        env.str("/dns"),
        "-c",
        cc.to_str().unwrap(),
    ];
    let (user, pw, kt) = (
        format!("/{who}/principal"),
        format!("/{who}/password_file"),
        format!("/{who}/keytab"),
    );
    if who == "machine" {
        args.extend(["--keytab", env.str(&kt)]);
    } else {
        args.extend(["--user", env.str(&user), "--password-file", env.str(&pw)]);
    }
    args.extend(extra);
    env.gmsa_with(&args, krb5_conf)
}

/// Starts the daemon on `dir` with the forest's krb5.conf, DNS SRV at dc3's DNS, renewals every
/// second, `extra` environment, and its log in `dir/daemon.log`.
fn start_daemon(env: &Env, dir: &Path, extra: &[(&str, &str)]) -> Daemon {
    let socket = dir.join("cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    cmd.env("KRB5_CONFIG", env.conf())
        .env("CF_DNS_SERVER", env.str("/dns"))
        .env("CF_TEST_RENEW_SECS", "1");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    common::log_to_file(&mut cmd, dir);
    Daemon::spawn(cmd, &socket)
}

/// Waits (at most 30 s) for `n` timer renewals in `dir/daemon.log`; asserts they came and
/// none failed.
async fn wait_renewals(dir: &Path, n: usize) {
    let log = dir.join("daemon.log");
    let t = Instant::now();
    while common::count_in_log(&log, "ticket renewed") < n && t.elapsed().as_secs() < 30 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let text = common::daemon_log(dir);
    assert!(
        common::count_in_log(&log, "ticket renewed") >= n,
        "{n} timer renewals within 30 s:\n{text}"
    );
    assert_eq!(common::count_in_log(&log, "renewal fail"), 0, "{text}");
}

/// `gmsa kinit` of an EXAMPLE.TEST user (`who`: reader or denied) into `cc`.
fn kinit(env: &Env, who: &str, cc: &Path) {
    ok(
        &env.gmsa(&[
            "kinit",
            env.str(&format!("/{who}/principal")),
            "--password-file",
            env.str(&format!("/{who}/password_file")),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "gmsa kinit",
    );
}

/// enctype -> hex key of `principal`'s newest keys (aes128, aes256, rc4) in a keytab.
fn keys(path: &Path, principal: &str) -> BTreeMap<i32, String> {
    let kt = Keytab::read(path).unwrap_or_else(|e| panic!("keytab {}: {e}", path.display()));
    let mut newest: BTreeMap<i32, (u32, String)> = BTreeMap::new();
    for e in kt
        .entries
        .iter()
        .filter(|e| e.principal.to_string() == principal && [17, 18, 23].contains(&e.enctype))
    {
        if newest.get(&e.enctype).is_none_or(|(k, _)| e.kvno > *k) {
            newest.insert(e.enctype, (e.kvno, hex::encode(&*e.key)));
        }
    }
    newest.into_iter().map(|(e, (_, k))| (e, k)).collect()
}

/// A cache holding the gMSA's TGT of OTHER.TEST that dc3's KDC honours (MIT kvno with it).
fn check_gmsa_cache(env: &Env, cc: &Path) {
    let gmsa = env.str("/gmsa/principal");
    let listed = ok(&env.mit("klist", &[], cc), "MIT klist of the gMSA's cache");
    assert!(
        listed.contains(&format!("Default principal: {gmsa}")),
        "{listed}"
    );
    assert!(listed.contains("krbtgt/OTHER.TEST@OTHER.TEST"), "{listed}");
    let spn = format!("ldap/{}@OTHER.TEST", env.str("/dc_host"));
    let kvno = ok(
        &env.mit("kvno", &[&spn], cc),
        "MIT kvno at dc3 with the gMSA's TGT",
    );
    assert!(kvno.contains(&format!("{spn}: kvno = ")), "{kvno}");
}

/// `gmsa kvno -S ldap/dc3.other.test` with a TGT of EXAMPLE.TEST: dc1's KDC refers the host to
/// OTHER.TEST (forest trust routing by the trust's top-level name), the inter-realm TGT and the
/// ticket of OTHER.TEST land in the cache as MIT stores them.
#[test]
fn user_ticket_for_a_dc_of_the_other_forest_by_referral() {
    let env = forest();
    let dir = env.scratch("xforest-referral");
    let cc = dir.join("cc");
    kinit(&env, "reader", &cc);
    let spn = format!("ldap/{}", env.str("/dc_host"));
    let out = ok(
        &env.gmsa(&["kvno", "-S", &spn, "-c", cc.to_str().unwrap()]),
        "gmsa kvno -S",
    );
    assert!(
        out.starts_with(&format!("{spn}@OTHER.TEST: kvno = ")),
        "{out}"
    );
    let listed = ok(&env.mit("klist", &[], &cc), "MIT klist");
    for name in [
        "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST",
        "krbtgt/OTHER.TEST@EXAMPLE.TEST",
        &format!("{spn}@OTHER.TEST"),
    ] {
        assert!(listed.contains(name), "{name} missing from\n{listed}");
    }
}

/// `gmsa fetch` as svc-fetcher@EXAMPLE.TEST for OtherApp01$ of OTHER.TEST, the DC found by DNS
/// SRV at dc3's DNS: the gMSA's cache works at dc3's KDC and the keys equal Samba's.
#[test]
fn fetch_reads_the_gmsa_of_the_other_forest() {
    let env = forest();
    let dir = env.scratch("xforest-fetch");
    let (cc, kt) = (dir.join("cc"), dir.join("kt"));
    let t = Instant::now();
    let out = ok(
        &fetch(
            &env,
            &dir,
            "reader",
            env.conf(),
            &["--keytab-out", kt.to_str().unwrap()],
        ),
        "gmsa fetch across the forest trust",
    );
    eprintln!("cross-forest gmsa fetch: {:?}", t.elapsed());
    assert!(out.contains(env.str("/dc_host")), "{out}");
    check_gmsa_cache(&env, &cc);
    let gmsa = env.str("/gmsa/principal");
    let ours = keys(&kt, gmsa);
    assert_eq!(ours.len(), 3, "aes128, aes256, rc4: {ours:?}");
    assert_eq!(
        ours,
        keys(Path::new(env.str("/gmsa/keytab")), gmsa),
        "keys from the blob read across the trust equal samba-tool's exported keys"
    );
}

/// With a krb5.conf that names only the user's realm (`dns_lookup_kdc = true`), the KDC of
/// OTHER.TEST, reached through the referral, is found by DNS SRV (`_kerberos._udp.OTHER.TEST`) at
/// the `--dns-server`, as are the DCs of other.test.
#[test]
fn fetch_finds_the_other_forests_kdc_by_dns() {
    let env = forest();
    let dir = env.scratch("xforest-dns-kdc");
    let dc1 = Env::samba_dc();
    let conf = dir.join("krb5.conf");
    let text = std::fs::read_to_string(dc1.conf()).unwrap();
    assert!(text.contains("dns_lookup_kdc = false") && !text.contains("OTHER.TEST"));
    std::fs::write(
        &conf,
        text.replace("dns_lookup_kdc = false", "dns_lookup_kdc = true"),
    )
    .unwrap();
    ok(
        &fetch(&env, &dir, "reader", conf.to_str().unwrap(), &[]),
        "gmsa fetch with OTHER.TEST's KDC from DNS",
    );
    check_gmsa_cache(&env, &dir.join("cc"));
}

/// `gmsa doctor` across the trust: the user's KDC (EXAMPLE.TEST, dc1) and the gMSA's (OTHER.TEST,
/// dc3) are both probed, every step passes for the reader; for the denied user the LDAP step
/// fails and names the fix.
#[test]
fn doctor_checks_both_realms_kdcs() {
    let env = forest();
    let dir = env.scratch("xforest-doctor");
    let spec = env.other_credspec(&dir);
    let run = |who: &str| {
        env.gmsa(&[
            "doctor",
            "--credspec",
            spec.to_str().unwrap(),
            "--user",
            env.str(&format!("/{who}/principal")),
            "--password-file",
            env.str(&format!("/{who}/password_file")),
            "--dns-server",
            env.str("/dns"),
        ])
    };
    let out = ok(&run("reader"), "gmsa doctor across the trust");
    assert!(out.contains("all checks passed"), "{out}");
    let dc1 = Env::samba_dc();
    for (step, detail) in [
        (
            "KDC reachable",
            format!("EXAMPLE.TEST: {}", dc1.str("/kdc")),
        ),
        (
            "KDC of the gMSA's realm reachable",
            format!("OTHER.TEST: {}", env.str("/kdc")),
        ),
        ("clock skew against the KDC of EXAMPLE.TEST", String::new()),
        ("clock skew against the KDC of OTHER.TEST", String::new()),
        ("gMSA login", String::new()),
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("[ ok ]") && l.contains(step) && l.contains(&detail)),
            "step {step} ok with {detail}:\n{out}"
        );
    }
    let bad = run("denied");
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success(), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("[FAIL]")
            && l.contains("LDAP")
            && l.contains("PrincipalsAllowedToRetrieveManagedPassword")),
        "{out}"
    );
}

/// Domain-joined: the host ECSHOST01$ of EXAMPLE.TEST (its keytab) reads the gMSA of OTHER.TEST,
/// which allows EXAMPLE.TEST's group gmsa-readers (ECSHOST01$ is a member): the foreign group's
/// SID in the host's PAC, across the trust, passes the gMSA's access check at dc3.
#[test]
fn fetch_with_a_host_keytab_of_the_other_forest() {
    let env = forest();
    let dir = env.scratch("xforest-keytab");
    ok(
        &fetch(&env, &dir, "machine", env.conf(), &[]),
        "gmsa fetch --keytab across the forest trust",
    );
    check_gmsa_cache(&env, &dir.join("cc"));
}

/// A user of EXAMPLE.TEST whom the gMSA's msDS-GroupMSAMembership does not name gets the
/// object without the password: a clear error, no cache written.
#[test]
fn fetch_by_a_user_the_other_forest_does_not_allow_fails() {
    let env = forest();
    let dir = env.scratch("xforest-denied");
    let cc = dir.join("cc");
    let err = fails(
        &fetch(&env, &dir, "denied", env.conf(), &[]),
        "gmsa fetch by svc-denied",
    );
    assert!(err.contains("svc-denied@EXAMPLE.TEST"), "{err}");
    assert!(err.contains("OtherApp01"), "{err}");
    assert!(!cc.exists(), "no cache for a refused read");
    // The same user's referral and ticket work: it is the gMSA's ACL that refuses.
    let ucc = dir.join("ucc");
    kinit(&env, "denied", &ucc);
    let spn = format!("ldap/{}", env.str("/dc_host"));
    ok(
        &env.gmsa(&["kvno", "-S", &spn, "-c", ucc.to_str().unwrap()]),
        "gmsa kvno -S as svc-denied",
    );
}

/// The daemon: a domainless lease for the user of EXAMPLE.TEST (request domain example.test)
/// whose credspec names other.test; the credspec's domain chooses the gMSA's DCs (DNS SRV at
/// CF_DNS_SERVER) and realm, the request's the user's. The metadata records both domains, so
/// that the timer's renewals (every second here) and RenewNonDomainJoinedKerberosLease find the
/// user; MIT klist and kvno use the lease's cache; deleted at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_lease_for_the_gmsa_of_the_other_forest() {
    let env = forest();
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&env, dir.path(), &[]);
    let mut c = connect(&d.socket).await.unwrap();
    let password = std::fs::read_to_string(env.str("/reader/password_file")).unwrap();
    let user = env.str("/reader/principal");
    let (name, user_domain) = user.split_once('@').unwrap();
    let user_domain = user_domain.to_ascii_lowercase();
    let spec = std::fs::read_to_string(env.other_credspec(dir.path())).unwrap();
    let t = Instant::now();
    let added = c
        .add_non_domain_joined_kerberos_lease(CreateNonDomainJoinedKerberosLeaseRequest {
            credspec_contents: vec![spec],
            username: name.into(),
            password: password.clone(),
            domain: user_domain.clone(),
        })
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cross-forest add: {e:?}\n{}",
                common::daemon_log(dir.path())
            )
        })
        .into_inner();
    eprintln!("cross-forest daemon add: {:?}", t.elapsed());
    let lease = &added.created_kerberos_file_paths[0];
    let cc = Path::new(lease).join("krb5cc");
    check_gmsa_cache(&env, &cc);

    let md_path = d
        .krbdir
        .join(&added.lease_id)
        .join(format!("{}_metadata.json", added.lease_id));
    let md: serde_json::Value = serde_json::from_slice(&std::fs::read(&md_path).unwrap()).unwrap();
    let t0 = &md["krb_ticket_info"][0];
    assert_eq!(t0["domain_name"], "other.test", "{md}");
    assert_eq!(t0["domainless_user"], name, "{md}");
    assert_eq!(t0["domainless_user_domain"], user_domain.as_str(), "{md}");

    let listed = ok(
        &std::process::Command::new(env!("CARGO_BIN_EXE_gmsa"))
            .args(["lease", "list", "--krbdir"])
            .arg(&d.krbdir)
            .output()
            .unwrap(),
        "gmsa lease list",
    );
    assert!(
        listed.contains(&format!("OtherApp01  other.test  {name}@{user_domain}  ")),
        "{listed}"
    );

    // Timer renewals log in as the user of EXAMPLE.TEST again and read across the trust.
    wait_renewals(dir.path(), 2).await;
    check_gmsa_cache(&env, &cc);

    let renewed = c
        .renew_non_domain_joined_kerberos_lease(RenewNonDomainJoinedKerberosLeaseRequest {
            username: name.into(),
            password,
            domain: user_domain,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        renewed.renewed_kerberos_file_paths, added.created_kerberos_file_paths,
        "RenewNonDomainJoinedKerberosLease renews the cross-forest lease"
    );
    check_gmsa_cache(&env, &cc);
    common::delete_lease(&mut c, &added).await;
    assert!(!Path::new(lease).exists(), "lease directory deleted");
}

/// The daemon, domain-joined with EXAMPLE.TEST's host keytab: AddKerberosLease for the gMSA of
/// OTHER.TEST, renewed by the timer, deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_domain_joined_lease_for_the_gmsa_of_the_other_forest() {
    let env = forest();
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(
        &env,
        dir.path(),
        &[("KRB5_KTNAME", env.str("/machine/keytab"))],
    );
    let mut c = connect(&d.socket).await.unwrap();
    let spec = std::fs::read_to_string(env.other_credspec(dir.path())).unwrap();
    let added = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: vec![spec],
        })
        .await
        .unwrap_or_else(|e| {
            panic!(
                "domain-joined cross-forest add: {e:?}\n{}",
                common::daemon_log(dir.path())
            )
        })
        .into_inner();
    let cc = Path::new(&added.created_kerberos_file_paths[0]).join("krb5cc");
    check_gmsa_cache(&env, &cc);
    wait_renewals(dir.path(), 1).await;
    check_gmsa_cache(&env, &cc);
    c.delete_kerberos_lease(DeleteKerberosLeaseRequest {
        lease_id: added.lease_id.clone(),
    })
    .await
    .unwrap();
}

/// One daemon, one DNS server (dc3's, which also answers for example.test, as a conditional
/// forwarder would), one lease with the gMSAs of both forests for the user of EXAMPLE.TEST: each
/// credspec's domain chooses its DCs and realm (WebApp01 from dc1 in EXAMPLE.TEST, OtherApp01
/// from dc3 in OTHER.TEST). Renewed by RPC (both tickets), deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_one_lease_with_gmsas_of_both_forests() {
    let env = forest();
    let dc1 = Env::samba_dc();
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&env, dir.path(), &[]);
    let mut c = connect(&d.socket).await.unwrap();
    let password = std::fs::read_to_string(env.str("/reader/password_file")).unwrap();
    let specs = vec![
        common::credspec(
            dc1.str("/gmsa/name"),
            dc1.str("/domain"),
            dc1.str("/netbios_domain"),
        ),
        std::fs::read_to_string(env.other_credspec(dir.path())).unwrap(),
    ];
    let added = c
        .add_non_domain_joined_kerberos_lease(CreateNonDomainJoinedKerberosLeaseRequest {
            credspec_contents: specs,
            username: "svc-fetcher".into(),
            password: password.clone(),
            domain: "example.test".into(),
        })
        .await
        .unwrap_or_else(|e| panic!("two-forest add: {e:?}\n{}", common::daemon_log(dir.path())))
        .into_inner();
    let paths = &added.created_kerberos_file_paths;
    assert_eq!(paths.len(), 2, "{paths:?}");
    let find = |gmsa: &str| {
        let p = paths
            .iter()
            .find(|p| p.ends_with(gmsa))
            .unwrap_or_else(|| panic!("no lease path for {gmsa}: {paths:?}"));
        Path::new(p).join("krb5cc")
    };
    check_gmsa_cache(&env, &find(env.str("/gmsa/name")));
    let mine = find(dc1.str("/gmsa/name"));
    let listed = ok(
        &env.mit("klist", &[], &mine),
        "MIT klist of WebApp01's cache",
    );
    assert!(
        listed.contains(&format!(
            "Default principal: {}",
            dc1.str("/gmsa/principal")
        )) && listed.contains("krbtgt/EXAMPLE.TEST@EXAMPLE.TEST"),
        "{listed}"
    );
    let log = common::daemon_log(dir.path());
    for dc in [dc1.str("/dc_host"), env.str("/dc_host")] {
        assert!(log.contains(dc), "{dc} not in the daemon's log:\n{log}");
    }

    let renewed = c
        .renew_non_domain_joined_kerberos_lease(RenewNonDomainJoinedKerberosLeaseRequest {
            username: "svc-fetcher".into(),
            password,
            domain: "example.test".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut want = paths.clone();
    want.sort();
    assert_eq!(renewed.renewed_kerberos_file_paths, want);
    common::delete_lease(&mut c, &added).await;
}
