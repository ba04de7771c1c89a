//! `gmsa kinit` / `gmsa kvno` across realms against the three MIT KDCs of
//! `testenv/mit-realms.sh start` (A.TEST <-> B.TEST <-> C.TEST), checked with MIT's klist and kvno.
//! Fails (never skips) when the KDCs are not running.

use std::path::Path;
use std::process::Command;

mod common;
use common::{TestEnv as Env, ok};

fn kinit_user_a(env: &Env, cc: &Path) {
    let pw = env.str("/realms/A.TEST/password_file");
    ok(
        &env.gmsa(&[
            "kinit",
            "user@A.TEST",
            "--password-file",
            pw,
            "-c",
            cc.to_str().unwrap(),
        ]),
        "gmsa kinit user@A.TEST",
    );
}

/// The "kvno = N" of a kvno line.
fn kvno_of(out: &str) -> &str {
    out.rsplit("kvno = ")
        .next()
        .map(str::trim)
        .unwrap_or_else(|| panic!("no kvno in {out:?}"))
}

/// gmsa stores the cross-realm TGT krbtgt/B.TEST@A.TEST in the cache as MIT does: MIT klist lists
/// it, and MIT kvno uses it (its trace says so) for the two-hop service of C.TEST, whose kvno
/// agrees with the one `gmsa kvno` finds over A -> B -> C.
#[test]
fn gmsa_kvno_across_realms_and_mit_tools_use_the_cache() {
    let env = Env::mit_realms();
    let dir = env.scratch("cli-xrealm");
    let cc = dir.join("cc");
    let ccs = cc.to_str().unwrap();
    kinit_user_a(&env, &cc);

    let one = ok(
        &env.gmsa(&["kvno", "host/svc.b.test@B.TEST", "-c", ccs]),
        "gmsa kvno B",
    );
    assert!(one.contains("host/svc.b.test@B.TEST: kvno = "), "{one}");
    let listed = ok(&env.mit("klist", &[], &cc), "MIT klist");
    for name in [
        "krbtgt/A.TEST@A.TEST",
        "krbtgt/B.TEST@A.TEST",
        "host/svc.b.test@B.TEST",
    ] {
        assert!(listed.contains(name), "{name} missing from\n{listed}");
    }

    // MIT kvno for C.TEST goes A -> B -> C with our krbtgt/B.TEST@A.TEST.
    let mit = Command::new("kvno")
        .arg("host/svc.c.test@C.TEST")
        .env("KRB5_CONFIG", env.conf())
        .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
        .env("KRB5_TRACE", "/dev/stderr")
        .output()
        .expect("MIT kvno is installed");
    let trace = String::from_utf8_lossy(&mit.stderr);
    let mit_out = ok(&mit, "MIT kvno C");
    assert!(
        trace.contains(
            "Found cached TGT for intermediate realm: user@A.TEST -> krbtgt/B.TEST@A.TEST"
        ),
        "MIT did not use our cross-realm TGT:\n{trace}"
    );

    // gmsa kvno for C.TEST on a fresh cache: two hops, both TGTs stored, same kvno as MIT's.
    let cc2 = dir.join("cc2");
    kinit_user_a(&env, &cc2);
    let two = ok(
        &env.gmsa(&[
            "kvno",
            "host/svc.c.test@C.TEST",
            "-c",
            cc2.to_str().unwrap(),
        ]),
        "gmsa kvno C",
    );
    assert_eq!(
        kvno_of(&two),
        kvno_of(&mit_out),
        "gmsa: {two} MIT: {mit_out}"
    );
    let listed = ok(&env.mit("klist", &[], &cc2), "MIT klist");
    for name in [
        "krbtgt/B.TEST@A.TEST",
        "krbtgt/C.TEST@B.TEST",
        "host/svc.c.test@C.TEST",
    ] {
        assert!(listed.contains(name), "{name} missing from\n{listed}");
    }
    // MIT finds the service ticket we stored without asking any KDC.
    let cached = ok(
        &env.mit("kvno", &["--cached-only", "host/svc.c.test@C.TEST"], &cc2),
        "MIT kvno --cached-only",
    );
    assert_eq!(kvno_of(&cached), kvno_of(&two));
    // Again with the cross-realm TGTs from the cache.
    let again = ok(
        &env.gmsa(&[
            "kvno",
            "host/svc.c.test@C.TEST",
            "-c",
            cc2.to_str().unwrap(),
        ]),
        "gmsa kvno C again",
    );
    assert_eq!(kvno_of(&again), kvno_of(&two));
}

/// `gmsa kvno -S`: a host-based name asked of A's KDC is referred to B (RFC 6806), like MIT's
/// `kvno -S host svc.b.test`.
#[test]
fn gmsa_kvno_follows_a_kdc_referral() {
    let env = Env::mit_realms();
    let dir = env.scratch("cli-xrealm-referral");
    let cc = dir.join("cc");
    kinit_user_a(&env, &cc);
    let ours = ok(
        &env.gmsa(&["kvno", "-S", "host/svc.b.test", "-c", cc.to_str().unwrap()]),
        "gmsa kvno -S",
    );
    let listed = ok(&env.mit("klist", &[], &cc), "MIT klist");
    assert!(listed.contains("krbtgt/B.TEST@A.TEST"), "{listed}");
    assert!(listed.contains("host/svc.b.test@B.TEST"), "{listed}");
    let mit = ok(
        &env.mit("kvno", &["-S", "host", "svc.b.test"], &cc),
        "MIT kvno -S",
    );
    assert_eq!(kvno_of(&ours), kvno_of(&mit), "gmsa: {ours} MIT: {mit}");
}
