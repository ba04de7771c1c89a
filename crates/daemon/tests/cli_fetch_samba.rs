//! `gmsa fetch`, `gmsa doctor` and `gmsa blob decode` against a real Samba 4.22 AD DC: the whole
//! chain from an ECS credspec to the gMSA's ccache and keytab, checked with MIT's klist, kvno and
//! kinit and with the keys Samba itself exports (`samba-tool domain exportkeytab`).
//! Fails (never skips) when the DC from `testenv/samba-dc.sh start` is not set up.

use krb5_proto::keytab::Keytab;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const GMSA: &str = "WebApp01$@EXAMPLE.TEST";

mod common;
use common::{TestEnv as Env, fails_with_1 as fails, ok};

fn env() -> Env {
    Env::samba_dc()
}

impl Env {
    /// Writes the ECS credspec for `gmsa` in `example.test` into `dir`.
    fn credspec(&self, dir: &Path, gmsa: &str) -> PathBuf {
        let spec = serde_json::json!({
            "CmsPlugins": ["ActiveDirectory"],
            "DomainJoinConfig": {
                "Sid": "S-1-5-21-1",
                "MachineAccountName": gmsa,
                "Guid": "00000000-0000-0000-0000-000000000000",
                "DnsTreeName": self.str("/domain"),
                "DnsName": self.str("/domain"),
                "NetBiosName": self.str("/netbios_domain"),
            },
            "ActiveDirectoryConfig": {
                "GroupManagedServiceAccounts": [
                    {"Name": gmsa, "Scope": self.str("/domain")},
                    {"Name": gmsa, "Scope": self.str("/netbios_domain")},
                ]
            }
        });
        let path = dir.join(format!("credspec-{gmsa}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        path
    }
    /// The reader's domainless login arguments.
    fn reader(&self) -> [&str; 4] {
        [
            "--user",
            self.str("/users/reader/principal"),
            "--password-file",
            self.str("/users/reader/password_file"),
        ]
    }
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// enctype -> (kvno, hex key) of `principal`'s newest key of each enctype in a keytab.
fn newest_keys(path: &Path, principal: &str) -> BTreeMap<i32, (u32, String)> {
    let kt = Keytab::read(path).unwrap_or_else(|e| panic!("keytab {}: {e}", path.display()));
    let mut out: BTreeMap<i32, (u32, String)> = BTreeMap::new();
    for e in &kt.entries {
        if e.principal.to_string() != principal {
            continue;
        }
        let newer = out.get(&e.enctype).is_none_or(|(k, _)| e.kvno > *k);
        if newer {
            out.insert(e.enctype, (e.kvno, hex::encode(&*e.key)));
        }
    }
    out
}

/// aes256 (18), aes128 (17) and rc4-hmac (23) keys only, without kvnos.
fn key_set(keys: &BTreeMap<i32, (u32, String)>) -> BTreeMap<i32, String> {
    keys.iter()
        .filter(|(e, _)| [17, 18, 23].contains(*e))
        .map(|(e, (_, k))| (*e, k.clone()))
        .collect()
}

/// The gMSA's cache works with MIT's tools; the keytab holds Samba's keys and MIT kinit uses it.
fn check_fetched(env: &Env, dir: &Path, cc: &Path, kt: &Path) {
    let listed = ok(
        &env.mit("klist", &["-e"], cc),
        "MIT klist of the gMSA cache",
    );
    assert!(
        listed.contains(&format!("Default principal: {GMSA}")),
        "{listed}"
    );
    assert!(
        listed.contains("krbtgt/EXAMPLE.TEST@EXAMPLE.TEST"),
        "{listed}"
    );
    let kvno = ok(
        &env.mit("kvno", &["ldap/dc1.example.test"], cc),
        "MIT kvno with the gMSA's TGT",
    );
    assert!(kvno.contains("kvno = "), "{kvno}");

    let ours = newest_keys(kt, GMSA);
    let samba = newest_keys(Path::new(env.str("/gmsa/keytab")), GMSA);
    assert_eq!(
        ours.keys().copied().collect::<Vec<_>>(),
        [17, 18, 23],
        "--keytab-out holds aes128, aes256 and rc4 keys: {:?}",
        ours.keys()
    );
    assert_eq!(
        key_set(&ours),
        key_set(&samba),
        "--keytab-out keys equal samba-tool's exported keys"
    );
    // Same kvno as Samba's (msDS-KeyVersionNumber), so a service can decrypt tickets with it.
    for (etype, (kvno, _)) in &ours {
        assert_eq!(
            Some(*kvno),
            samba.get(etype).map(|k| k.0),
            "kvno of {etype}"
        );
    }
    // MIT reads the keytab too (and lists the same keys).
    let listed = ok(
        &env.mit("klist", &["-keK", kt.to_str().unwrap()], cc),
        "MIT klist -keK of --keytab-out",
    );
    for (_, key) in ours.values() {
        assert!(listed.contains(&format!("0x{key}")), "{listed}");
    }
    let cc2 = dir.join("cc-mit-kinit");
    ok(
        &env.mit(
            "kinit",
            &[
                "-kt",
                kt.to_str().unwrap(),
                "-c",
                cc2.to_str().unwrap(),
                GMSA,
            ],
            &cc2,
        ),
        "MIT kinit -kt with --keytab-out",
    );
    let listed = ok(&env.mit("klist", &[], &cc2), "MIT klist after kinit -kt");
    assert!(
        listed.contains(&format!("Default principal: {GMSA}")),
        "{listed}"
    );
}

#[test]
fn fetch_domainless_with_dc_then_mit_tools_and_samba_keys() {
    let env = env();
    let dir = env.scratch("fetch-dc");
    let spec = env.credspec(&dir, "WebApp01");
    let cc = dir.join("cc");
    let kt = dir.join("gmsa.keytab");
    let mut args = vec!["fetch", "--credspec", spec.to_str().unwrap()];
    args.extend(env.reader());
    args.extend([
        "--dc",
        env.str("/dc_host"),
        "-c",
        cc.to_str().unwrap(),
        "--keytab-out",
        kt.to_str().unwrap(),
    ]);
    let out = ok(&env.gmsa(&args), "gmsa fetch --dc");
    assert!(out.contains(GMSA), "{out}");
    assert!(out.contains(env.str("/gmsa/dn")), "{out}");
    assert_eq!(mode_of(&cc), 0o600, "default ccache mode");
    assert_eq!(mode_of(&kt), 0o600, "default keytab mode");
    check_fetched(&env, &dir, &cc, &kt);

    // --mode 640 for both files, also when they already exist (atomic replacement).
    let cc640 = dir.join("cc640");
    let kt640 = dir.join("kt640");
    std::fs::write(&cc640, b"old").unwrap();
    std::fs::set_permissions(&cc640, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut args = vec!["fetch", "--credspec", spec.to_str().unwrap()];
    args.extend(env.reader());
    args.extend([
        "--dc",
        env.str("/dc_host"),
        "-c",
        cc640.to_str().unwrap(),
        "--keytab-out",
        kt640.to_str().unwrap(),
        "--mode",
        "640",
    ]);
    ok(&env.gmsa(&args), "gmsa fetch --mode 640");
    assert_eq!(mode_of(&cc640), 0o640, "--mode 640 ccache");
    assert_eq!(mode_of(&kt640), 0o640, "--mode 640 keytab");
    let listed = ok(&env.mit("klist", &[], &cc640), "MIT klist");
    assert!(
        listed.contains(&format!("Default principal: {GMSA}")),
        "{listed}"
    );

    // Modes that are not plain permission bits the owner can read are refused before anything
    // is sent or written (7777 used to give a setuid, world-writable keytab; 1000000 mode 000).
    for bad in ["7777", "4600", "1000000", "0", "99"] {
        let cc = dir.join(format!("cc-mode-{bad}"));
        let kt = dir.join(format!("kt-mode-{bad}"));
        let mut args = vec!["fetch", "--credspec", spec.to_str().unwrap()];
        args.extend(env.reader());
        args.extend([
            "--dc",
            env.str("/dc_host"),
            "-c",
            cc.to_str().unwrap(),
            "--keytab-out",
            kt.to_str().unwrap(),
            "--mode",
            bad,
        ]);
        let err = fails(&env.gmsa(&args), &format!("--mode {bad}"));
        assert!(err.contains(&format!("--mode {bad}")), "{err}");
        assert!(!cc.exists() && !kt.exists(), "--mode {bad} wrote nothing");
    }
}

#[test]
fn fetch_finds_the_dc_by_dns_srv() {
    let env = env();
    let dir = env.scratch("fetch-srv");
    let spec = env.credspec(&dir, "WebApp01");
    let cc = dir.join("cc");
    let kt = dir.join("gmsa.keytab");
    let dns = env.str("/dns");
    let mut args = vec!["fetch", "--credspec", spec.to_str().unwrap()];
    args.extend(env.reader());
    args.extend([
        "--dns-server",
        dns,
        "-c",
        cc.to_str().unwrap(),
        "--keytab-out",
        kt.to_str().unwrap(),
    ]);
    let out = ok(&env.gmsa(&args), "gmsa fetch --dns-server");
    // dc1, or dc2 (testenv/samba-dc2.sh) when it runs: the client's site (Site-B) is dc2's.
    assert!(
        out.contains("dc1.example.test") || out.contains("dc2.example.test"),
        "{out}"
    );
    check_fetched(&env, &dir, &cc, &kt);

    // Without any krb5.conf: the KDC comes from DNS SRV (_kerberos._tcp/_udp.EXAMPLE.TEST) too.
    let empty = dir.join("empty-krb5.conf");
    std::fs::write(&empty, "").unwrap();
    let cc2 = dir.join("cc-noconf");
    let mut args = vec!["fetch", "--credspec", spec.to_str().unwrap()];
    args.extend(env.reader());
    args.extend(["--dns-server", dns, "-c", cc2.to_str().unwrap()]);
    ok(
        &env.gmsa_with(&args, empty.to_str().unwrap()),
        "gmsa fetch --dns-server with an empty krb5.conf",
    );
    let listed = ok(&env.mit("klist", &[], &cc2), "MIT klist");
    assert!(
        listed.contains(&format!("Default principal: {GMSA}")),
        "{listed}"
    );
}

#[test]
fn fetch_domain_joined_with_the_machine_keytab() {
    let env = env();
    let dir = env.scratch("fetch-joined");
    let spec = env.credspec(&dir, "WebApp01");
    let machine_kt = env.str("/machine/keytab");
    for principal in [None, Some(env.str("/machine/sam"))] {
        let cc = dir.join("cc");
        let kt = dir.join("gmsa.keytab");
        let _ = std::fs::remove_file(&cc);
        let _ = std::fs::remove_file(&kt);
        let mut args = vec![
            "fetch",
            "--credspec",
            spec.to_str().unwrap(),
            "--keytab",
            machine_kt,
            "--dc",
            env.str("/dc_host"),
            "-c",
            cc.to_str().unwrap(),
            "--keytab-out",
            kt.to_str().unwrap(),
        ];
        if let Some(p) = principal {
            args.extend(["--principal", p]);
        }
        ok(
            &env.gmsa(&args),
            &format!("gmsa fetch --keytab (principal {principal:?})"),
        );
        check_fetched(&env, &dir, &cc, &kt);
    }
}

#[test]
fn fetch_as_a_denied_user_says_who_may_not_read_what() {
    let env = env();
    let dir = env.scratch("fetch-denied");
    let spec = env.credspec(&dir, "WebApp01");
    let cc = dir.join("cc");
    let err = fails(
        &env.gmsa(&[
            "fetch",
            "--credspec",
            spec.to_str().unwrap(),
            "--user",
            env.str("/users/denied/principal"),
            "--password-file",
            env.str("/users/denied/password_file"),
            "--dc",
            env.str("/dc_host"),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "fetch as svc-denied",
    );
    assert!(err.contains("svc-denied"), "{err}");
    assert!(err.contains("WebApp01$"), "{err}");
    assert!(
        err.contains("PrincipalsAllowedToRetrieveManagedPassword"),
        "{err}"
    );
    assert!(!cc.exists(), "no ccache is left behind");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy() != "credspec-WebApp01.json")
        .collect();
    assert!(leftovers.is_empty(), "no temporary files: {leftovers:?}");
}

#[test]
fn fetch_errors_are_clear() {
    let env = env();
    let dir = env.scratch("fetch-err");
    let spec = env.credspec(&dir, "WebApp01");
    let cc = dir.join("cc");
    let dc = env.str("/dc_host");

    // Wrong password for the reading user.
    let bad = dir.join("bad-pw");
    std::fs::write(&bad, "wrong password\n").unwrap();
    let err = fails(
        &env.gmsa(&[
            "fetch",
            "--credspec",
            spec.to_str().unwrap(),
            "--user",
            "svc-fetcher@EXAMPLE.TEST",
            "--password-file",
            bad.to_str().unwrap(),
            "--dc",
            dc,
            "-c",
            cc.to_str().unwrap(),
        ]),
        "wrong password",
    );
    assert!(err.contains("KDC_ERR_PREAUTH_FAILED"), "{err}");
    assert!(err.contains("password"), "{err}");
    assert!(err.contains("svc-fetcher"), "{err}");

    // A gMSA the directory does not hold.
    let ghost = env.credspec(&dir, "NoSuchGmsa");
    let mut args = vec!["fetch", "--credspec", ghost.to_str().unwrap()];
    args.extend(env.reader());
    args.extend(["--dc", dc, "-c", cc.to_str().unwrap()]);
    let err = fails(&env.gmsa(&args), "unknown gMSA");
    assert!(err.contains("no gMSA"), "{err}");
    assert!(err.contains("NoSuchGmsa$"), "{err}");

    // Invalid credspecs.
    let cases: [(&str, &[u8], &[&str]); 4] = [
        ("bad-json", b"{\"CmsPlugins\": [", &["not valid JSON"]),
        (
            "slash",
            br#"{"DomainJoinConfig": {"DnsName": "example.test"},
                 "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": "../etc/x"}]}}"#,
            &["../etc/x", "not a valid account name"],
        ),
        (
            "no-gmsa",
            br#"{"DomainJoinConfig": {"DnsName": "example.test"},
                 "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": []}}"#,
            &["names no gMSA"],
        ),
        (
            "bad-domain",
            br#"{"DomainJoinConfig": {"DnsName": "exa mple..test"},
                 "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": "WebApp01"}]}}"#,
            &["not a valid DNS domain name"],
        ),
    ];
    for (name, body, needles) in cases {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, body).unwrap();
        let mut args = vec!["fetch", "--credspec", path.to_str().unwrap()];
        args.extend(env.reader());
        args.extend(["--dc", dc, "-c", cc.to_str().unwrap()]);
        let err = fails(&env.gmsa(&args), &format!("credspec {name}"));
        assert!(err.contains("credspec"), "{name}: {err}");
        assert!(err.contains(path.to_str().unwrap()), "{name}: {err}");
        for n in needles {
            assert!(err.contains(n), "{name}: {err}");
        }
    }
    let missing = dir.join("missing.json");
    let mut args = vec!["fetch", "--credspec", missing.to_str().unwrap()];
    args.extend(env.reader());
    let err = fails(&env.gmsa(&args), "missing credspec");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");

    // A DC that does not listen: the address tried is named.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let closed = format!("127.0.0.1:{port}");
    let mut args = vec!["fetch", "--credspec", spec.to_str().unwrap()];
    args.extend(env.reader());
    args.extend(["--dc", &closed, "-c", cc.to_str().unwrap()]);
    let t = std::time::Instant::now();
    let err = fails(&env.gmsa(&args), "unreachable DC");
    assert!(err.contains(&closed), "{err}");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(20),
        "a refused connection fails fast: {:?}",
        t.elapsed()
    );

    assert!(!cc.exists(), "no ccache after failures");
}

#[test]
fn doctor_passes_for_the_reader_and_names_the_ldap_step_for_the_denied_user() {
    let env = env();
    let dir = env.scratch("fetch-doctor");
    let spec = env.credspec(&dir, "WebApp01");
    let mut args = vec!["doctor", "--credspec", spec.to_str().unwrap()];
    args.extend(env.reader());
    args.extend(["--dc", env.str("/dc_host")]);
    let out = ok(&env.gmsa(&args), "gmsa doctor as svc-fetcher");
    assert!(out.contains("all checks passed"), "{out}");
    assert!(!out.contains("[FAIL]"), "{out}");
    for step in [
        "inputs",
        "domain controllers",
        "KDC reachable",
        "clock skew",
        "login",
        "LDAP sealed bind + read password",
        "gMSA login",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("[ ok ]") && l.contains(step)),
            "step {step} ok:\n{out}"
        );
    }

    // The same through DNS SRV and with the machine keytab.
    let out = ok(
        &env.gmsa(&[
            "doctor",
            "--credspec",
            spec.to_str().unwrap(),
            "--keytab",
            env.str("/machine/keytab"),
            "--dns-server",
            env.str("/dns"),
        ]),
        "gmsa doctor --keytab --dns-server",
    );
    assert!(out.contains("all checks passed"), "{out}");

    let out = env.gmsa(&[
        "doctor",
        "--credspec",
        spec.to_str().unwrap(),
        "--user",
        env.str("/users/denied/principal"),
        "--password-file",
        env.str("/users/denied/password_file"),
        "--dc",
        env.str("/dc_host"),
    ]);
    fails(&out, "gmsa doctor as svc-denied");
    let text = String::from_utf8_lossy(&out.stdout);
    let fail: Vec<&str> = text.lines().filter(|l| l.starts_with("[FAIL]")).collect();
    assert_eq!(fail.len(), 1, "exactly one failing step:\n{text}");
    assert!(
        fail[0].contains("LDAP") && fail[0].contains("PrincipalsAllowedToRetrieveManagedPassword"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("[ ok ]") && l.contains("login")),
        "login is ok before the LDAP step:\n{text}"
    );
    assert!(
        !text.contains("gMSA login"),
        "stops at the first failure:\n{text}"
    );
    assert!(!text.contains("all checks passed"), "{text}");

    // Wrong password: the login step fails.
    let bad = dir.join("bad-pw");
    std::fs::write(&bad, "nope").unwrap();
    let out = env.gmsa(&[
        "doctor",
        "--credspec",
        spec.to_str().unwrap(),
        "--user",
        "svc-fetcher@EXAMPLE.TEST",
        "--password-file",
        bad.to_str().unwrap(),
        "--dc",
        env.str("/dc_host"),
    ]);
    fails(&out, "gmsa doctor with a wrong password");
    let text = String::from_utf8_lossy(&out.stdout);
    let fail: Vec<&str> = text.lines().filter(|l| l.starts_with("[FAIL]")).collect();
    assert_eq!(fail.len(), 1, "{text}");
    assert!(
        fail[0].contains("login") && fail[0].contains("KDC_ERR_PREAUTH_FAILED"),
        "{text}"
    );
}

/// The output directory of `testenv/samba/previous-blob.sh`, run once per test binary (~2-7 s):
/// Samba computes msDS-ManagedPassword on a copy of sam.ldb under libfaketime, shifted into the
/// next password interval (`blob.b64`: previous = today's password, current = the next one, whose
/// keys are in `future.keytab`) and to 2 minutes before the change (`rollover.b64`).
fn shifted_blobs(env: &Env) -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = env.scratch("fetch-prev").join("shifted");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testenv/samba/previous-blob.sh"
        );
        let t = std::time::Instant::now();
        let out = ok(
            &Command::new(script)
                .arg(&dir)
                .output()
                .expect("run testenv/samba/previous-blob.sh"),
            "testenv/samba/previous-blob.sh",
        );
        eprintln!("previous-blob.sh: {:?}\n{out}", t.elapsed());
        dir
    })
    .clone()
}

fn decode_json(env: &Env, blob: &Path, base64: bool) -> serde_json::Value {
    let mut args = vec!["blob", "decode", blob.to_str().unwrap()];
    if base64 {
        args.push("--base64");
    }
    args.extend([
        "--account",
        env.str("/gmsa/sam"),
        "--realm",
        env.str("/realm"),
        "--json",
    ]);
    let json = ok(&env.gmsa(&args), "gmsa blob decode --json");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn blob_with_a_previous_password_decodes_to_samba_keys() {
    let env = env();
    let dir = shifted_blobs(&env);
    let v = decode_json(&env, &dir.join("blob.b64"), true);
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(v["salt"], env.str("/gmsa/salt"), "{v}");
    assert_eq!(v["in_rollover_window"], false, "{v}");
    assert!(v["previous"].is_object(), "a previous password: {v}");

    let today = newest_keys(Path::new(env.str("/gmsa/keytab")), GMSA);
    let future = newest_keys(&dir.join("future.keytab"), GMSA);
    let key = |keys: &BTreeMap<i32, (u32, String)>, e: i32| keys[&e].1.clone();
    for (name, want) in [("previous", &today), ("current", &future)] {
        let got = &v[name];
        assert_eq!(got["aes256"], key(want, 18), "{name} aes256: {v}");
        assert_eq!(got["aes128"], key(want, 17), "{name} aes128: {v}");
        assert_eq!(got["nt_hash"], key(want, 23), "{name} nt_hash: {v}");
        assert!(got["unpaired_surrogates"].is_u64(), "{v}");
        assert_eq!(got["utf16_bytes"], 256, "{name}: 128 UTF-16 units: {v}");
    }
    assert_ne!(v["current"]["aes256"], v["previous"]["aes256"], "{v}");
    // The next interval's keys carry the next kvno in Samba's export.
    assert_eq!(future[&18].0, today[&18].0 + 1, "{future:?} vs {today:?}");

    // In the rollover window Samba already serves the next password as current.
    let r = decode_json(&env, &dir.join("rollover.b64"), true);
    assert_eq!(r["in_rollover_window"], true, "{r}");
    assert!(
        r["query_password_interval_secs"].as_u64().unwrap() <= 300,
        "{r}"
    );
    assert_eq!(r["current"], v["current"], "{r}\n{v}");
    assert_eq!(r["previous"], v["previous"], "{r}\n{v}");

    // Today's blob (unshifted copy, and the sealed LDAP read by samba-dc.sh start) has no previous
    // password, and its current one is the previous one above.
    for (blob, base64) in [
        (dir.join("today.b64"), true),
        (PathBuf::from(env.str("/gmsa/sample_blob")), false),
    ] {
        let now = decode_json(&env, &blob, base64);
        assert!(now["previous"].is_null(), "{now}");
        assert_eq!(now["in_rollover_window"], false, "{now}");
        assert_eq!(now["current"], v["previous"], "{now}\n{v}");
    }
}

/// `msds_gmsa::gmsa_tgt` against the live KDC with the shifted blobs: in the rollover window it
/// logs in with the previous password at once; outside it, the current (future) password is
/// refused (KDC_ERR_PREAUTH_FAILED) and it falls back to the previous one. Either way the keys it
/// reports (what `gmsa fetch --keytab-out` writes) are Samba's keys of today.
#[test]
fn gmsa_tgt_uses_the_previous_password_the_kdc_still_knows() {
    let env = env();
    let dir = shifted_blobs(&env);
    let conf = krb5_proto::config::Krb5Conf::load(Path::new(env.conf())).unwrap();
    let client = krb5_proto::client::Client::new(conf);
    let today = key_set(&newest_keys(Path::new(env.str("/gmsa/keytab")), GMSA));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for name in ["rollover.b64", "blob.b64"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text.trim())
            .unwrap();
        let blob = msds_gmsa::ManagedPasswordBlob::parse(&bytes).unwrap();
        let ticket = rt
            .block_on(msds_gmsa::gmsa_tgt(
                &client,
                env.str("/realm"),
                env.str("/gmsa/sam"),
                &blob,
                &krb5_proto::as_exchange::AsOptions::default(),
            ))
            .unwrap_or_else(|e| panic!("gmsa_tgt with {name}: {e}"));
        assert!(
            ticket.used_previous,
            "{name}: logged in with the previous password"
        );
        assert_eq!(ticket.tgt.client.to_string(), GMSA, "{name}");
        assert_eq!(ticket.tgt.client_kvno, Some(1), "{name}: today's kvno");
        let keys = ticket
            .keys(env.str("/realm"), env.str("/gmsa/sam"))
            .unwrap();
        let got: BTreeMap<i32, String> = keys
            .as_vec()
            .iter()
            .map(|k| (k.etype().to_i32(), hex::encode(k.as_bytes())))
            .collect();
        assert_eq!(got, today, "{name}: the keys are today's");
    }
}

/// A host whose own resolver knows nothing of the AD domain (an empty `/etc/hosts`, a
/// `/etc/resolv.conf` naming a loopback address where nothing listens, in a private mount
/// namespace) gets the gMSA with `--dns-server` alone: the DCs, their site, the KDCs (SRV) and
/// every host name (the KDCs' too) are resolved through that server. Before, the KDCs' names went
/// to the system resolver: "no KDC reachable ... could not resolve host name".
#[test]
fn dns_server_alone_when_the_system_resolver_knows_no_dc() {
    let env = Env::samba_dc();
    let dir = env.scratch("fetch-dns-only");
    let no_ad = common::NoAdNames::new(&dir);
    let spec = dir.join("credspec.json");
    let cache = dir.join("krb5cc");
    std::fs::write(
        &spec,
        common::credspec(
            env.str("/gmsa/name"),
            env.str("/domain"),
            env.str("/netbios_domain"),
        ),
    )
    .unwrap();
    let out = no_ad
        .command(env!("CARGO_BIN_EXE_gmsa"))
        .args(["fetch", "--credspec"])
        .arg(&spec)
        .args(["--user", env.str("/users/reader/principal")])
        .args(["--password-file", env.str("/users/reader/password_file")])
        .args(["--dns-server", env.str("/dns"), "--cache"])
        .arg(&cache)
        .output()
        .expect("unshare (util-linux) runs");
    let text = ok(
        &out,
        "gmsa fetch --dns-server in a namespace without AD names",
    );
    assert!(text.contains("ticket for WebApp01$@EXAMPLE.TEST"), "{text}");
    let klist = env.mit("klist", &[], &cache);
    assert!(
        String::from_utf8_lossy(&klist.stdout).contains("krbtgt/EXAMPLE.TEST@EXAMPLE.TEST"),
        "{klist:?}"
    );
}
