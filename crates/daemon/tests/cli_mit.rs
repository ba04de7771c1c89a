//! The `gmsa` binary against a real MIT krb5 1.20 KDC and MIT's own tools (klist, kvno, kinit).
//! Fails (never skips) when the KDC from `testenv/mit-kdc.sh start` is not running.

use std::path::PathBuf;
use std::process::{Command, Stdio};

mod common;
use common::{TestEnv as Env, fails, ok};

fn env() -> Env {
    Env::mit_kdc()
}

impl Env {
    fn kdc(&self) -> &str {
        self.str("/kdc")
    }
    fn password_file(&self, short: &str) -> PathBuf {
        let list = self.json["principals"].as_array().expect("principals");
        let p = list
            .iter()
            .find(|p| {
                p["name"]
                    .as_str()
                    .is_some_and(|n| n.split('@').next() == Some(short))
            })
            .unwrap_or_else(|| panic!("{short} in testenv.json"));
        PathBuf::from(p["password_file"].as_str().expect("password_file"))
    }
    fn keytab(&self, which: &str) -> PathBuf {
        PathBuf::from(self.json["keytabs"][which].as_str().expect("keytab"))
    }
}

#[test]
fn kinit_by_password_then_mit_klist_and_kvno() {
    let env = env();
    let dir = env.scratch("cli-pw");
    let cc = dir.join("cc");
    for short in [
        "aes256sha1",
        "aes128sha1",
        "aes256sha384",
        "aes128sha256",
        "rc4user",
        "jäger",
    ] {
        let pw = env.password_file(short);
        let principal = format!("{short}@MIT.TEST");
        ok(
            &env.gmsa(&[
                "kinit",
                &principal,
                "--password-file",
                pw.to_str().unwrap(),
                "-c",
                cc.to_str().unwrap(),
            ]),
            &format!("gmsa kinit {principal}"),
        );
        let listed = ok(&env.mit("klist", &["-e"], &cc), "MIT klist");
        assert!(
            listed.contains(&format!("Default principal: {principal}")),
            "{listed}"
        );
        assert!(listed.contains("krbtgt/MIT.TEST@MIT.TEST"), "{listed}");
        // MIT kvno uses our TGT to get a service ticket.
        let kvno = ok(
            &env.mit("kvno", &["HTTP/svc.mit.test@MIT.TEST"], &cc),
            "MIT kvno with our TGT",
        );
        assert!(kvno.contains("kvno ="), "{kvno}");
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cc).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn kinit_by_keytab_then_gmsa_kvno_and_klist_json() {
    let env = env();
    let dir = env.scratch("cli-kt");
    let cc = dir.join("cc");
    let kt = env.keytab("keyuser");
    ok(
        &env.gmsa(&[
            "kinit",
            "keyuser@MIT.TEST",
            "--keytab",
            kt.to_str().unwrap(),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "kinit -kt",
    );
    ok(
        &env.gmsa(&["kvno", "HTTP/svc.mit.test", "-c", cc.to_str().unwrap()]),
        "gmsa kvno",
    );
    let json = ok(
        &env.gmsa(&["klist", "--json", "-c", cc.to_str().unwrap()]),
        "gmsa klist --json",
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["default_principal"], "keyuser@MIT.TEST");
    let servers: Vec<&str> = v["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["server"].as_str().unwrap())
        .collect();
    assert_eq!(
        servers,
        ["krbtgt/MIT.TEST@MIT.TEST", "HTTP/svc.mit.test@MIT.TEST"]
    );
    // MIT klist reads the cache after our kvno rewrote it.
    let listed = ok(&env.mit("klist", &[], &cc), "MIT klist");
    assert!(listed.contains("HTTP/svc.mit.test@MIT.TEST"), "{listed}");
}

#[test]
fn gmsa_uses_a_tgt_that_mit_kinit_wrote() {
    let env = env();
    let dir = env.scratch("cli-mitcc");
    let cc = dir.join("cc");
    let pw = std::fs::read(env.password_file("multi")).unwrap();
    let mut child = Command::new("kinit")
        .args(["-c", cc.to_str().unwrap(), "multi@MIT.TEST"])
        .env("KRB5_CONFIG", env.conf())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("MIT kinit is installed");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &pw).unwrap();
    let out = child.wait_with_output().unwrap();
    ok(&out, "MIT kinit");
    let text = ok(
        &env.gmsa(&["klist", "-c", cc.to_str().unwrap()]),
        "gmsa klist of MIT's cache",
    );
    assert!(text.contains("Default principal: multi@MIT.TEST"), "{text}");
    ok(
        &env.gmsa(&[
            "kvno",
            "host/svc.mit.test",
            "-c",
            &format!("FILE:{}", cc.display()),
        ]),
        "gmsa kvno with MIT's TGT",
    );
    let listed = ok(&env.mit("klist", &[], &cc), "MIT klist");
    assert!(listed.contains("host/svc.mit.test@MIT.TEST"), "{listed}");
}

#[test]
fn errors_are_clear_and_never_panics() {
    let env = env();
    let dir = env.scratch("cli-err");
    let cc = dir.join("cc");
    let bad = dir.join("bad-pw");
    std::fs::write(&bad, "wrong password\n").unwrap();
    let err = fails(
        &env.gmsa(&[
            "kinit",
            "aes256sha1@MIT.TEST",
            "--password-file",
            bad.to_str().unwrap(),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "wrong password",
    );
    assert!(
        err.contains("KDC_ERR_PREAUTH_FAILED")
            && err.contains("pre-authentication")
            && err.contains("password"),
        "{err}"
    );

    let err = fails(
        &env.gmsa(&[
            "kinit",
            "ghost@MIT.TEST",
            "--password-file",
            bad.to_str().unwrap(),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "unknown principal",
    );
    assert!(
        err.contains("KDC_ERR_C_PRINCIPAL_UNKNOWN") && err.contains("unknown"),
        "{err}"
    );

    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    let kdc = format!("127.0.0.1:{port}");
    let err = fails(
        &env.gmsa(&[
            "kinit",
            "aes256sha1@MIT.TEST",
            "--password-file",
            bad.to_str().unwrap(),
            "--kdc",
            &kdc,
            "--timeout",
            "0.3",
            "-c",
            cc.to_str().unwrap(),
        ]),
        "unreachable KDC",
    );
    assert!(err.contains(&kdc), "{err}");

    // Garbage ccache and keytab files give errors, not panics.
    let junk = dir.join("junk");
    std::fs::write(&junk, b"\x05\x04\x00\x0c\xff\xff").unwrap();
    fails(
        &env.gmsa(&["klist", "-c", junk.to_str().unwrap()]),
        "klist of junk",
    );
    fails(
        &env.gmsa(&["kvno", "HTTP/svc.mit.test", "-c", junk.to_str().unwrap()]),
        "kvno with junk",
    );
    fails(
        &env.gmsa(&[
            "kinit",
            "x@MIT.TEST",
            "--keytab",
            junk.to_str().unwrap(),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "junk keytab",
    );
    let _ = env.kdc();
}
