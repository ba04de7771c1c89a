//! Reading and writing cache files, and cache name resolution.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use ccache::{Ccache, CcacheError, Credential, KeyBlock, Principal};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ccache-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn sample() -> Ccache {
    let me = Principal::parse("webapp01$@EXAMPLE.COM").unwrap();
    let mut cc = Ccache::new(me.clone());
    cc.time_offset = Some((2, 0));
    cc.add_or_replace(Credential {
        client: me,
        server: Principal::krbtgt(b"EXAMPLE.COM"),
        key: KeyBlock::new(18, &[9; 32]),
        endtime: 42,
        ticket: vec![0x61, 0x03, 0x02, 0x01, 0x05],
        ..Credential::default()
    });
    cc
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mode_of(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn write_atomic_sets_mode_replaces_and_leaves_no_temp_files() {
    let dir = scratch("write");
    let path = dir.join("krb5cc_test");
    let cc = sample();
    cc.write_atomic(&path, 0o600).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(Ccache::read(&path).unwrap(), cc);
    assert_eq!(entries(&dir), ["krb5cc_test"]);

    // Replacing an existing, more open file: the new file has exactly the asked mode.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    let mut cc2 = cc.clone();
    cc2.set_config("fast_avail", None, b"yes");
    cc2.write_atomic(&path, 0o640).unwrap();
    assert_eq!(mode_of(&path), 0o640);
    assert_eq!(Ccache::read(&path).unwrap(), cc2);
    assert_eq!(entries(&dir), ["krb5cc_test"]);

    cc.write_atomic(&path, 0o600).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(fs::read(&path).unwrap(), cc.to_bytes());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_atomic_failure_removes_the_temp_file() {
    let dir = scratch("fail");
    // Renaming a file over a non-empty directory fails after the temp file was written.
    let target = dir.join("occupied");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("x"), b"x").unwrap();
    let err = sample().write_atomic(&target, 0o600).unwrap_err();
    assert!(matches!(err, CcacheError::Io { .. }), "{err}");
    assert!(err.to_string().contains("occupied"), "{err}");
    assert_eq!(entries(&dir), ["occupied"]);

    // A directory that does not exist.
    let err = sample()
        .write_atomic(&dir.join("missing/krb5cc"), 0o600)
        .unwrap_err();
    assert!(matches!(err, CcacheError::Io { .. }));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn read_refuses_huge_and_reports_missing_files() {
    let dir = scratch("read");
    let big = dir.join("big");
    let f = fs::File::create(&big).unwrap();
    f.set_len(ccache::MAX_FILE_SIZE + 1).unwrap(); // sparse
    drop(f);
    assert!(matches!(
        Ccache::read(&big),
        Err(CcacheError::TooLarge { .. })
    ));
    let err = Ccache::read(&dir.join("none")).unwrap_err();
    assert!(matches!(err, CcacheError::Io { .. }));
    assert!(err.to_string().contains("none"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resolve_explicit_names() {
    let ok = |n: &str, p: &str| assert_eq!(ccache::resolve_path(Some(n)).unwrap(), Path::new(p));
    ok("FILE:/tmp/krb5cc_1", "/tmp/krb5cc_1");
    ok("file:/tmp/x", "/tmp/x");
    ok("/tmp/krb5cc_1", "/tmp/krb5cc_1");
    ok("/tmp/odd:name", "/tmp/odd:name");
    ok("FILE:relative", "relative");
    ok("relative", "relative");
    for bad in [
        "DIR:/run/user/1/krb5cc",
        "KEYRING:persistent:1000",
        "KCM:1000",
        "MEMORY:x",
        "API:x",
        "FOO:x",
        "FILE:",
        "",
    ] {
        let err = ccache::resolve_path(Some(bad)).unwrap_err();
        assert!(matches!(err, CcacheError::Unsupported(_)), "{bad}");
        assert!(!err.to_string().is_empty());
    }
    assert!(
        ccache::resolve_path(Some("KCM:"))
            .unwrap_err()
            .to_string()
            .contains("FILE")
    );
}

/// Run by `krb5ccname_from_environment` in a child process with a prepared environment.
#[test]
fn env_child() {
    let Ok(expect) = std::env::var("CCACHE_TEST_EXPECT") else {
        return;
    };
    let got = ccache::resolve_path(None);
    match expect.strip_prefix("ERR") {
        Some(_) => assert!(matches!(got, Err(CcacheError::Unsupported(_)))),
        None => assert_eq!(got.unwrap(), Path::new(&expect)),
    }
}

#[test]
fn krb5ccname_from_environment() {
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    let default = format!("/tmp/krb5cc_{}", uid.trim());
    let cases: [(Option<&str>, &str); 5] = [
        (Some("FILE:/run/gmsa/cc"), "/run/gmsa/cc"),
        (Some("/run/gmsa/cc2"), "/run/gmsa/cc2"),
        (Some("KEYRING:persistent:0"), "ERR"),
        (Some(""), &default),
        (None, &default),
    ];
    let exe = std::env::current_exe().unwrap();
    for (env, expect) in cases {
        let mut cmd = Command::new(&exe);
        cmd.args(["--exact", "env_child", "--test-threads", "1"])
            .env("CCACHE_TEST_EXPECT", expect);
        match env {
            Some(v) => cmd.env("KRB5CCNAME", v),
            None => cmd.env_remove("KRB5CCNAME"),
        };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "KRB5CCNAME={env:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    }
    // An explicit name wins over the environment.
    assert_eq!(
        ccache::resolve_path(Some("FILE:/x")).unwrap(),
        Path::new("/x")
    );
}
