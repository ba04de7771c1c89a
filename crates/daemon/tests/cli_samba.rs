//! The `gmsa` binary against a real Samba 4.22 AD DC (Heimdal-based KDC) and MIT's own tools
//! (klist, kvno, kinit) on the caches it writes: tickets with a PAC, from AD, in our ccache.
//! Fails (never skips) when the DC from `testenv/samba-dc.sh start` is not set up.

use std::process::{Command, Stdio};

mod common;
use common::{TestEnv as Env, fails, ok};

fn env() -> Env {
    Env::samba_dc()
}

impl Env {
    fn dc_ip(&self) -> &str {
        self.str("/dc_ip")
    }
}

#[test]
fn kinit_by_password_then_mit_klist_and_kvno() {
    let env = env();
    let dir = env.scratch("cli-pw");
    let cc = dir.join("cc");
    let pw = env.str("/users/reader/password_file");
    // With --kdc (UDP first: the PAC-laden AS-REP comes back over TCP after RESPONSE_TOO_BIG)
    // and without (krb5.conf: udp_preference_limit = 1, so TCP at once).
    for kdc in [Some(env.dc_ip()), None] {
        let mut args = vec![
            "kinit",
            "svc-fetcher@EXAMPLE.TEST",
            "--password-file",
            pw,
            "-c",
            cc.to_str().unwrap(),
        ];
        if let Some(k) = kdc {
            args.extend(["--kdc", k]);
        }
        ok(&env.gmsa(&args), &format!("gmsa kinit (kdc {kdc:?})"));
        let listed = ok(&env.mit("klist", &["-e", "-f"], &cc), "MIT klist");
        assert!(
            listed.contains("Default principal: svc-fetcher@EXAMPLE.TEST"),
            "{listed}"
        );
        assert!(
            listed.contains("krbtgt/EXAMPLE.TEST@EXAMPLE.TEST"),
            "{listed}"
        );
        assert!(
            listed.contains("aes256-cts-hmac-sha1-96, aes256-cts-hmac-sha1-96"),
            "{listed}"
        );
        // MIT kvno uses our TGT (with Samba's PAC inside) to get service tickets.
        let kvno = ok(
            &env.mit(
                "kvno",
                &[
                    "ldap/dc1.example.test",
                    "ldap/127.0.0.2@EXAMPLE.TEST",
                    "host/dc1.example.test",
                ],
                &cc,
            ),
            "MIT kvno with our TGT",
        );
        assert_eq!(kvno.matches("kvno = ").count(), 3, "{kvno}");
        let listed = ok(&env.mit("klist", &[], &cc), "MIT klist");
        for spn in [
            "ldap/dc1.example.test@EXAMPLE.TEST",
            "ldap/127.0.0.2@EXAMPLE.TEST",
        ] {
            assert!(listed.contains(spn), "{listed}");
        }
    }
    // Lower-case realm and name: the cache holds the canonical name Samba returned.
    ok(
        &env.gmsa(&[
            "kinit",
            "SVC-FETCHER@example.test",
            "--password-file",
            pw,
            "-c",
            cc.to_str().unwrap(),
        ]),
        "gmsa kinit with a non-canonical name",
    );
    let listed = ok(&env.mit("klist", &[], &cc), "MIT klist");
    assert!(
        listed.contains("Default principal: svc-fetcher@EXAMPLE.TEST"),
        "{listed}"
    );
    ok(
        &env.mit("kvno", &["ldap/dc1.example.test"], &cc),
        "MIT kvno after a canonicalized kinit",
    );
}

#[test]
fn kinit_by_gmsa_and_machine_keytabs_then_mit_kvno_verifies_with_the_keytab() {
    let env = env();
    let dir = env.scratch("cli-kt");
    let cc = dir.join("cc");
    for (principal, keytab, own_spn) in [
        (
            env.str("/gmsa/principal"),
            env.str("/gmsa/keytab"),
            "HOST/webapp01.example.test",
        ),
        (
            env.str("/machine/principal"),
            env.str("/machine/keytab"),
            "HOST/ecshost01.example.test",
        ),
    ] {
        ok(
            &env.gmsa(&[
                "kinit",
                principal,
                "--keytab",
                keytab,
                "--kdc",
                env.dc_ip(),
                "-c",
                cc.to_str().unwrap(),
            ]),
            &format!("gmsa kinit --keytab {principal}"),
        );
        let listed = ok(&env.mit("klist", &[], &cc), "MIT klist");
        assert!(
            listed.contains(&format!("Default principal: {principal}")),
            "{listed}"
        );
        // The account asks a ticket for itself with our TGT; MIT decrypts it with the keytab
        // Samba exported (`kvno -k`), which proves the whole chain.
        let kvno = ok(
            &env.mit("kvno", &["-k", keytab, principal, own_spn], &cc),
            "MIT kvno -k with our TGT",
        );
        assert_eq!(kvno.matches("keytab entry valid").count(), 2, "{kvno}");
    }
}

#[test]
fn gmsa_kvno_and_klist_on_samba_tickets() {
    let env = env();
    let dir = env.scratch("cli-kvno");
    let cc = dir.join("cc");
    ok(
        &env.gmsa(&[
            "kinit",
            "svc-fetcher@EXAMPLE.TEST",
            "--password-file",
            env.str("/users/reader/password_file"),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "gmsa kinit",
    );
    for spn in ["ldap/dc1.example.test", "ldap/127.0.0.2"] {
        ok(
            &env.gmsa(&["kvno", spn, "-c", cc.to_str().unwrap()]),
            &format!("gmsa kvno {spn}"),
        );
    }
    let json = ok(
        &env.gmsa(&["klist", "--json", "-c", cc.to_str().unwrap()]),
        "gmsa klist --json",
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["default_principal"], "svc-fetcher@EXAMPLE.TEST");
    let servers: Vec<&str> = v["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["server"].as_str().unwrap())
        .collect();
    assert_eq!(
        servers,
        [
            "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST",
            "ldap/dc1.example.test@EXAMPLE.TEST",
            "ldap/127.0.0.2@EXAMPLE.TEST"
        ]
    );
    let listed = ok(&env.mit("klist", &["-e"], &cc), "MIT klist");
    assert!(listed.contains("ldap/127.0.0.2@EXAMPLE.TEST"), "{listed}");
    // MIT finds our service ticket in the cache and does not ask the KDC again.
    ok(
        &env.mit("kvno", &["--cached-only", "ldap/dc1.example.test"], &cc),
        "MIT kvno --cached-only",
    );
}

#[test]
fn gmsa_uses_a_samba_tgt_that_mit_kinit_wrote() {
    let env = env();
    let dir = env.scratch("cli-mitcc");
    let cc = dir.join("cc");
    let pw = std::fs::read(env.str("/users/reader/password_file")).unwrap();
    let mut child = Command::new("kinit")
        .args(["-c", cc.to_str().unwrap(), "svc-fetcher@EXAMPLE.TEST"])
        .env("KRB5_CONFIG", env.conf())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("MIT kinit is installed");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &pw).unwrap();
    ok(&child.wait_with_output().unwrap(), "MIT kinit");
    let text = ok(
        &env.gmsa(&["klist", "-c", cc.to_str().unwrap()]),
        "gmsa klist of MIT's cache",
    );
    assert!(
        text.contains("Default principal: svc-fetcher@EXAMPLE.TEST"),
        "{text}"
    );
    ok(
        &env.gmsa(&[
            "kvno",
            "ldap/dc1.example.test",
            "-c",
            &format!("FILE:{}", cc.display()),
        ]),
        "gmsa kvno with MIT's TGT",
    );
    let listed = ok(&env.mit("klist", &[], &cc), "MIT klist");
    assert!(
        listed.contains("ldap/dc1.example.test@EXAMPLE.TEST"),
        "{listed}"
    );
}

#[test]
fn errors_from_samba_are_clear() {
    let env = env();
    let dir = env.scratch("cli-err");
    let cc = dir.join("cc");
    let bad = dir.join("bad-pw");
    std::fs::write(&bad, "wrong password\n").unwrap();
    let err = fails(
        &env.gmsa(&[
            "kinit",
            "svc-fetcher@EXAMPLE.TEST",
            "--password-file",
            bad.to_str().unwrap(),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "wrong password",
    );
    assert!(
        err.contains("KDC_ERR_PREAUTH_FAILED") && err.contains("password"),
        "{err}"
    );
    let err = fails(
        &env.gmsa(&[
            "kinit",
            "ghost@EXAMPLE.TEST",
            "--password-file",
            bad.to_str().unwrap(),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "unknown principal",
    );
    assert!(err.contains("KDC_ERR_C_PRINCIPAL_UNKNOWN"), "{err}");
    // The gMSA keytab holds no key for another principal.
    let err = fails(
        &env.gmsa(&[
            "kinit",
            "svc-fetcher@EXAMPLE.TEST",
            "--keytab",
            env.str("/gmsa/keytab"),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "keytab without the principal",
    );
    assert!(err.contains("WebApp01$@EXAMPLE.TEST"), "{err}");
    // An unknown service with a good TGT.
    ok(
        &env.gmsa(&[
            "kinit",
            "svc-fetcher@EXAMPLE.TEST",
            "--password-file",
            env.str("/users/reader/password_file"),
            "-c",
            cc.to_str().unwrap(),
        ]),
        "gmsa kinit",
    );
    let err = fails(
        &env.gmsa(&[
            "kvno",
            "ldap/nohost.example.test",
            "-c",
            cc.to_str().unwrap(),
        ]),
        "unknown service",
    );
    assert!(err.contains("KDC_ERR_S_PRINCIPAL_UNKNOWN"), "{err}");
}
