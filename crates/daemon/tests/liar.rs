//! `gmsa kinit`, `gmsa kvno`, `gmsa fetch` and the daemon against a KDC that lies (issue 11): the
//! test peer `gmsa-liar` (testenv/liar.sh) relays to the REAL MIT KDC and the Samba DC's KDC and,
//! per port, changes one field of the victim's AS-REP or TGS-REP and re-encrypts it under the
//! right key, offers only RC4, asks for 2^31 PBKDF2 iterations, stalls mid-reply or announces a
//! 1 GiB reply; and on the DC side answers the SASL bind with garbage or a 2 GiB BER length, or
//! the first sealed request with a 1 GiB SASL frame. Every lie must be refused with its named error, within [`TIME_BOUND`] and with
//! the process's peak resident memory (VmHWM) under [`MEMORY_BOUND_KIB`]; nothing may be written;
//! and the daemon keeps serving a lease whose principal the liar relays honestly.
//! Fails (never skips) when the liar, the MIT KDC or the Samba DC is not running.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Daemon, TestEnv};

/// Upper bound for one refused command (generous for CI: the slowest lie, a stall, costs the
/// client's 3 s KDC timeout).
const TIME_BOUND: Duration = Duration::from_secs(15);
/// Upper bound for the peak resident memory of the CLI or the daemon (KiB).
const MEMORY_BOUND_KIB: u64 = 200 * 1024;

/// `$TESTENV_DIR/liar/testenv.json`, with the peer's hint when it is missing.
fn liar() -> TestEnv {
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let dir = PathBuf::from(base).join("liar");
    let text = std::fs::read_to_string(dir.join("testenv.json")).unwrap_or_else(|e| {
        panic!(
            "the lying KDC is not running ({}/testenv.json: {e}); run `testenv/liar.sh start` \
             (after testenv/mit-kdc.sh start and testenv/samba-dc.sh start)",
            dir.display()
        )
    });
    TestEnv {
        json: serde_json::from_str(&text).expect("liar testenv.json is JSON"),
        dir,
    }
}

/// Writes a krb5.conf for `upstream` ("mit" or "samba") whose only KDC is the liar's `mode`
/// port, TCP only (the liar serves no UDP), default enctype policy (no RC4).
fn krb5_conf(liar: &TestEnv, dir: &Path, upstream: &str, mode: &str) -> PathBuf {
    let kdc = liar.str(&format!("/kdcs/{upstream}/{mode}"));
    let (realm, domain) = match upstream {
        "mit" => ("MIT.TEST", "mit.test"),
        _ => ("EXAMPLE.TEST", "example.test"),
    };
    let path = dir.join(format!("krb5-{upstream}-{mode}.conf"));
    std::fs::write(
        &path,
        format!(
            "[libdefaults]\n\tdefault_realm = {realm}\n\tdns_lookup_kdc = false\n\
             \tdns_lookup_realm = false\n\trdns = false\n\tdns_canonicalize_hostname = false\n\
             \tudp_preference_limit = 1\n\n[realms]\n\t{realm} = {{\n\t\tkdc = {kdc}\n\t}}\n\n\
             [domain_realm]\n\t.{domain} = {realm}\n\t{domain} = {realm}\n"
        ),
    )
    .unwrap();
    path
}

/// The peak resident set (VmHWM, KiB) of a live process.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `gmsa args` with `krb5_conf`, sampling its VmHWM until it exits: (output, time, peak KiB).
fn gmsa_measured(args: &[&str], krb5_conf: &Path, dir: &Path) -> (Output, Duration, u64) {
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gmsa"))
        .args(args)
        .env("KRB5_CONFIG", krb5_conf)
        .env_remove("KRB5CCNAME")
        .env_remove("KRB5_KTNAME")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("run gmsa");
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = t.elapsed();
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    (out, elapsed, peak)
}

/// Asserts that `gmsa args` through the liar's `mode` KDC port is refused (see
/// [`refused_with`]); returns stderr.
fn refused(
    liar: &TestEnv,
    dir: &Path,
    upstream: &str,
    mode: &str,
    args: &[&str],
    named: &[&str],
) -> String {
    let conf = krb5_conf(liar, dir, upstream, mode);
    let what = format!("gmsa {} through the {upstream} liar's {mode} port", args[0]);
    refused_with(&what, args, &conf, dir, named)
}

/// Asserts that `gmsa args` with `conf` is refused with exit status 1 and an error containing
/// every string of `named`, in bounded time and memory; returns stderr.
fn refused_with(what: &str, args: &[&str], conf: &Path, dir: &Path, named: &[&str]) -> String {
    let (out, elapsed, peak) = gmsa_measured(args, conf, dir);
    let err = common::fails_with_1(&out, what);
    eprintln!("{what}: {elapsed:?}, VmHWM {peak} KiB: {}", err.trim());
    for n in named {
        assert!(
            err.contains(n),
            "{what}: expected {n:?} in the error, got: {err}"
        );
    }
    assert!(
        elapsed < TIME_BOUND,
        "{what} took {elapsed:?} (bound {TIME_BOUND:?})"
    );
    assert!(peak > 0, "{what}: VmHWM was never read");
    assert!(
        peak < MEMORY_BOUND_KIB,
        "{what}: peak resident memory {peak} KiB (bound {MEMORY_BOUND_KIB} KiB)"
    );
    err
}

/// The AS-exchange lies with the words of the error each must produce (the same for MIT and
/// Samba: the client's checks do not depend on the KDC).
const AS_LIES: [(&str, &[&str]); 14] = [
    (
        "nonce",
        &["KRB5_KDCREP_MODIFIED in AS exchange", "nonce check failed"],
    ),
    (
        "crealm",
        &[
            "KRB5_KDCREP_MODIFIED in AS exchange",
            "client name check failed",
            "EVIL.TEST",
        ],
    ),
    (
        "sname",
        &[
            "KRB5_KDCREP_MODIFIED in AS exchange",
            "server name check failed",
            "EVIL.TEST",
        ],
    ),
    (
        "ticket-sname",
        &[
            "KRB5_KDCREP_MODIFIED in AS exchange",
            "ticket server name check failed",
        ],
    ),
    (
        "flags",
        &[
            "KRB5_KDCREP_MODIFIED in AS exchange",
            "ticket flags check failed",
            "proxiable, may-postdate",
        ],
    ),
    (
        "session-etype",
        &[
            "KRB5_CONFIG_ETYPE_NOSUPP in AS exchange",
            "session key uses enctype 16",
        ],
    ),
    ("rc4-only", &["offers only rc4-hmac (23)", "allow_rc4"]),
    (
        "s2k-huge",
        &["iteration count 2147483648 is above the accepted maximum"],
    ),
    ("stall", &["timed out after", "the reply stopped after"]),
    (
        "huge-length",
        &[
            "reply of 1073741824 bytes exceeds the limit of 1048576 bytes",
            "Something answered but its reply was refused",
        ],
    ),
    (
        "end-time",
        &[
            "KRB5_KDCREP_MODIFIED in AS exchange",
            "end time check failed",
        ],
    ),
    ("skew", &["KRB5_KDCREP_SKEW in AS exchange", "allowed skew"]),
    (
        "preauth-loop",
        &[
            "KDC_ERR_PREAUTH_REQUIRED (25)",
            "pre-authentication was sent and refused again",
        ],
    ),
    ("too-big", &["KRB_ERR_RESPONSE_TOO_BIG (52)"]),
];

/// The TGS-exchange lies (the AS exchange on the same port is relayed honestly).
const TGS_LIES: [(&str, &[&str]); 2] = [
    (
        "tgs-nonce",
        &["KRB5_KDCREP_MODIFIED in TGS exchange", "nonce check failed"],
    ),
    ("tgs-stall", &["timed out after", "the reply stopped after"]),
];

fn mit_password_file(mit: &TestEnv, name: &str) -> String {
    let list = mit.json["principals"].as_array().expect("principals");
    let p = list
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} in the MIT testenv.json"));
    p["password_file"].as_str().unwrap().to_string()
}

#[test]
fn kinit_refuses_every_lie_of_the_mit_kdc() {
    let (liar, mit) = (liar(), TestEnv::mit_kdc());
    let dir = mit.scratch("liar-kinit");
    let pw = mit_password_file(&mit, "aes256sha1@MIT.TEST");
    let cc = dir.join("cc");
    let args = [
        "kinit",
        "aes256sha1@MIT.TEST",
        "--password-file",
        &pw,
        "-c",
        cc.to_str().unwrap(),
    ];
    // The honest port of the same liar: the plumbing works, so each refusal is the lie's.
    let (out, _, _) = gmsa_measured(&args, &krb5_conf(&liar, &dir, "mit", "honest"), &dir);
    common::ok(&out, "gmsa kinit through the liar's honest port");
    std::fs::remove_file(&cc).unwrap();
    for (mode, named) in AS_LIES {
        refused(&liar, &dir, "mit", mode, &args, named);
        assert!(!cc.exists(), "{mode}: a ccache was written from a lie");
    }
}

#[test]
fn kvno_refuses_a_lying_tgs_reply_of_the_mit_kdc() {
    let (liar, mit) = (liar(), TestEnv::mit_kdc());
    let dir = mit.scratch("liar-kvno");
    let pw = mit_password_file(&mit, "aes256sha1@MIT.TEST");
    let service = mit.json["services"][0]
        .as_str()
        .expect("services[0]")
        .to_string();
    for (mode, named) in TGS_LIES {
        let cc = dir.join(format!("cc-{mode}"));
        let cc = cc.to_str().unwrap();
        // The liar learns the TGT session key from the AS-REP it relays on this port.
        let conf = krb5_conf(&liar, &dir, "mit", mode);
        let (out, _, _) = gmsa_measured(
            &[
                "kinit",
                "aes256sha1@MIT.TEST",
                "--password-file",
                &pw,
                "-c",
                cc,
            ],
            &conf,
            &dir,
        );
        common::ok(
            &out,
            &format!("gmsa kinit through the {mode} port (AS relayed honestly)"),
        );
        refused(
            &liar,
            &dir,
            "mit",
            mode,
            &["kvno", &service, "-c", cc],
            named,
        );
        let list = common::ok(&mit.gmsa(&["klist", "-c", cc]), "gmsa klist");
        assert!(
            !list.contains(&service),
            "{mode}: a service ticket was stored from a lie: {list}"
        );
    }
}

/// A scratch directory with the gMSA's credspec and the output paths of `gmsa fetch`.
struct FetchRun {
    dir: PathBuf,
    spec: PathBuf,
    cc: PathBuf,
    kt: PathBuf,
}

impl FetchRun {
    fn new(samba: &TestEnv, name: &str) -> Self {
        let dir = samba.scratch(name);
        let spec = dir.join("credspec.json");
        std::fs::write(
            &spec,
            common::credspec(
                samba.str("/gmsa/name"),
                samba.str("/domain"),
                samba.str("/netbios_domain"),
            ),
        )
        .unwrap();
        let (cc, kt) = (dir.join("cc"), dir.join("kt"));
        Self { dir, spec, cc, kt }
    }

    /// `gmsa fetch` of the gMSA by the reader (the liar's victim) from the DC `dc`.
    fn args<'a>(&'a self, samba: &'a TestEnv, dc: &'a str) -> [&'a str; 13] {
        [
            "fetch",
            "--credspec",
            self.spec.to_str().unwrap(),
            "--user",
            samba.str("/users/reader/principal"),
            "--password-file",
            samba.str("/users/reader/password_file"),
            "--dc",
            dc,
            "-c",
            self.cc.to_str().unwrap(),
            "--keytab-out",
            self.kt.to_str().unwrap(),
        ]
    }

    /// Asserts a successful fetch (the control through an honest port), then removes its files.
    fn honest(&self, samba: &TestEnv, args: &[&str], conf: &Path, what: &str) {
        let (out, _, _) = gmsa_measured(args, conf, &self.dir);
        let listing = common::ok(&out, what);
        assert!(listing.contains(samba.str("/gmsa/principal")), "{listing}");
        std::fs::remove_file(&self.cc).unwrap();
        std::fs::remove_file(&self.kt).unwrap();
    }

    fn assert_nothing_written(&self, mode: &str) {
        assert!(
            !self.cc.exists() && !self.kt.exists(),
            "{mode}: a ccache or keytab was written from a lie"
        );
    }
}

#[test]
fn fetch_refuses_every_lie_of_the_samba_kdc() {
    let (liar, samba) = (liar(), TestEnv::samba_dc());
    let run = FetchRun::new(&samba, "liar-fetch");
    let args = run.args(&samba, samba.str("/dc_host"));
    let conf = krb5_conf(&liar, &run.dir, "samba", "honest");
    run.honest(
        &samba,
        &args,
        &conf,
        "gmsa fetch through the liar's honest port",
    );
    for (mode, named) in AS_LIES.iter().chain(TGS_LIES.iter()) {
        refused(&liar, &run.dir, "samba", mode, &args, named);
        run.assert_nothing_written(mode);
    }
}

/// Starts the daemon with `krb5_conf`, the DC `dc` (HOST[:PORT]) and the machine keytab (for the
/// domain-joined lease, whose principal the liar relays honestly).
fn daemon(dir: &Path, samba: &TestEnv, krb5_conf: &Path, dc: &str) -> Daemon {
    let socket = dir.join("cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    cmd.args(["--dc", dc])
        .env("KRB5_CONFIG", krb5_conf)
        .env("KRB5_KTNAME", samba.str("/machine/keytab"));
    common::log_to_file(&mut cmd, dir);
    Daemon::spawn(cmd, &socket)
}

/// The reader's domainless add of the gMSA (the liar's victim) and the machine account's
/// domain-joined add (relayed honestly).
fn lease_requests(
    samba: &TestEnv,
) -> (
    CreateNonDomainJoinedKerberosLeaseRequest,
    CreateKerberosLeaseRequest,
) {
    let spec = common::credspec(
        samba.str("/gmsa/name"),
        samba.str("/domain"),
        samba.str("/netbios_domain"),
    );
    let domainless = CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![spec.clone()],
        username: samba.str("/users/reader/name").into(),
        password: std::fs::read_to_string(samba.str("/users/reader/password_file")).unwrap(),
        domain: samba.str("/domain").into(),
    };
    let joined = CreateKerberosLeaseRequest {
        credspec_contents: vec![spec],
    };
    (domainless, joined)
}

/// Asserts a refused add's status names every string of `named`, the refusal came within
/// [`TIME_BOUND`], the daemon's VmHWM is bounded and it still answers HealthCheck.
async fn assert_refused(what: &str, d: &Daemon, e: &tonic::Status, took: Duration, named: &[&str]) {
    let peak = vm_hwm_kib(d.child.id()).expect("the daemon's VmHWM");
    eprintln!(
        "daemon, {what}: refused in {took:?} ({:?}: {}), VmHWM {peak} KiB",
        e.code(),
        e.message()
    );
    for n in named {
        assert!(
            e.message().contains(n),
            "{what}: expected {n:?} in {:?}",
            e.message()
        );
    }
    assert!(took < TIME_BOUND, "{what}: the refusal took {took:?}");
    assert!(peak < MEMORY_BOUND_KIB, "{what}: daemon VmHWM {peak} KiB");
    assert!(
        common::healthy(&d.socket).await,
        "{what}: the daemon is not healthy"
    );
}

/// One daemon per lie (krb5.conf is the daemon's): the domainless add of the victim (the reader
/// user) is refused with the named error in bounded time, nothing is left behind, a domain-joined
/// add (the machine account, relayed honestly) started at the same time is served, the daemon
/// stays healthy and its peak resident memory bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_refuses_lies_and_keeps_serving_an_honest_lease() {
    let (liar, samba) = (liar(), TestEnv::samba_dc());
    let base = samba.scratch("liar-daemon");
    let (domainless, joined) = lease_requests(&samba);
    let lies = [
        "nonce",
        "flags",
        "session-etype",
        "rc4-only",
        "s2k-huge",
        "stall",
        "huge-length",
        "tgs-nonce",
        "tgs-stall",
        "end-time",
        "skew",
        "preauth-loop",
        "too-big",
    ];
    for mode in lies {
        let named = AS_LIES
            .iter()
            .chain(TGS_LIES.iter())
            .find(|(m, _)| *m == mode)
            .unwrap()
            .1;
        let dir = base.join(mode);
        std::fs::create_dir_all(&dir).unwrap();
        let conf = krb5_conf(&liar, &dir, "samba", mode);
        let d = daemon(&dir, &samba, &conf, samba.str("/dc_host"));
        let mut c = connect(&d.socket).await.unwrap();
        let mut c2 = c.clone();
        let t = Instant::now();
        let lie = tokio::spawn({
            let req = domainless.clone();
            async move {
                let r = c.add_non_domain_joined_kerberos_lease(req).await;
                (r, t.elapsed())
            }
        });
        let honest = tokio::time::timeout(TIME_BOUND, c2.add_kerberos_lease(joined.clone()))
            .await
            .unwrap_or_else(|_| panic!("{mode}: the honest add did not end within {TIME_BOUND:?}"))
            .unwrap_or_else(|e| {
                panic!(
                    "{mode}: the honest add failed: {e:?}\n{}",
                    common::daemon_log(&dir)
                )
            })
            .into_inner();
        let honest_time = t.elapsed();
        if mode.ends_with("stall") {
            // Served while the victim's add still waits on the stalled reply (5 s KDC timeout):
            // not queued behind it.
            assert!(
                !lie.is_finished(),
                "{mode}: the honest add ({honest_time:?}) waited for the stalled one"
            );
        }
        let (r, lie_time) = tokio::time::timeout(TIME_BOUND * 2, lie)
            .await
            .unwrap_or_else(|_| panic!("{mode}: the lied-to add did not end"))
            .unwrap();
        let e = match r {
            Ok(r) => panic!("{mode}: the daemon accepted a lie: {:?}", r.into_inner()),
            Err(e) => e,
        };
        eprintln!("daemon, {mode}: honest lease in {honest_time:?}");
        assert_refused(mode, &d, &e, lie_time, named).await;
        // Only the honest lease exists, and MIT's klist reads it.
        assert_eq!(d.leases(), vec![honest.lease_id.clone()], "{mode}: leases");
        let list = common::klist_lease(samba.conf(), &honest.created_kerberos_file_paths[0]);
        assert!(list.contains(samba.str("/gmsa/principal")), "{list}");
    }
}

/// The DC-side lies with the words of the error each must produce.
const LDAP_LIES: [(&str, &[&str]); 3] = [
    (
        "garbage",
        &["an LDAPMessage starts with a SEQUENCE tag 0x30, got 0xff"],
    ),
    (
        "huge-ber",
        &["LDAP message of 2147483653 bytes exceeds the 1048576-byte limit"],
    ),
    (
        "sasl-huge",
        &["SASL frame of 1073741824 bytes, more than the 1048576-byte maximum"],
    ),
];

/// `dc1.example.test:<port of the liar's LDAP `mode`>` (the DC's name, so the LDAP SPN is valid).
fn lying_dc(liar: &TestEnv, samba: &TestEnv, mode: &str) -> String {
    let addr = liar.str(&format!("/ldap/{mode}"));
    let port = addr.rsplit_once(':').expect("HOST:PORT").1;
    format!("{}:{port}", samba.str("/dc_host"))
}

#[test]
fn fetch_refuses_every_lie_of_the_dc() {
    let (liar, samba) = (liar(), TestEnv::samba_dc());
    let run = FetchRun::new(&samba, "liar-fetch-ldap");
    let conf = PathBuf::from(samba.conf());
    let dc = lying_dc(&liar, &samba, "honest");
    let what = format!("gmsa fetch --dc {dc} (the liar's honest LDAP port)");
    run.honest(&samba, &run.args(&samba, &dc), &conf, &what);
    for (mode, named) in LDAP_LIES {
        let dc = lying_dc(&liar, &samba, mode);
        let what = format!("gmsa fetch --dc {dc} (the liar's LDAP {mode} port)");
        refused_with(&what, &run.args(&samba, &dc), &conf, &run.dir, named);
        run.assert_nothing_written(mode);
    }
}

/// A daemon whose DC lies: every add is refused with the named error in bounded time and
/// memory, nothing is left behind, and the daemon stays healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_refuses_every_lie_of_the_dc() {
    let (liar, samba) = (liar(), TestEnv::samba_dc());
    let base = samba.scratch("liar-daemon-ldap");
    let (domainless, _) = lease_requests(&samba);
    for (mode, named) in LDAP_LIES {
        let dir = base.join(mode);
        std::fs::create_dir_all(&dir).unwrap();
        let d = daemon(
            &dir,
            &samba,
            Path::new(samba.conf()),
            &lying_dc(&liar, &samba, mode),
        );
        let mut c = connect(&d.socket).await.unwrap();
        let t = Instant::now();
        let r = tokio::time::timeout(
            TIME_BOUND * 2,
            c.add_non_domain_joined_kerberos_lease(domainless.clone()),
        )
        .await
        .unwrap_or_else(|_| panic!("{mode}: the add did not end"));
        let e = match r {
            Ok(r) => panic!(
                "{mode}: the daemon accepted a lying DC: {:?}",
                r.into_inner()
            ),
            Err(e) => e,
        };
        assert_refused(&format!("LDAP {mode}"), &d, &e, t.elapsed(), named).await;
        assert_eq!(
            d.leases(),
            Vec::<String>::new(),
            "{mode}: nothing left behind"
        );
    }
}
