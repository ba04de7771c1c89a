//! krb5.conf parsing: realistic files, includes, KRB5_CONFIG lists, malformed input.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use krb5_proto::config::{ConfigError, Krb5Conf, MAX_FILE_SIZE, MAX_NESTING};

/// The client file the test environment writes for the MIT KDC.
const TESTENV_CLIENT: &str = "\
[libdefaults]
    default_realm = MIT.TEST
    dns_lookup_kdc = false
    rdns = false

[realms]
    MIT.TEST = {
        kdc = 127.0.0.3:18888
    }
";

/// A typical hand-written MIT file: comments of both kinds, several KDCs, final markers,
/// quoted values, a `key =` / `{` split over two lines, CRLF line ends in places.
const MIT_STYLE: &str = "\
# /etc/krb5.conf -- site configuration
; older comment style

[libdefaults]*
\tdefault_realm = EXAMPLE.TEST
\tdns_lookup_realm = false
\tdns_lookup_kdc = no
\tticket_lifetime = 24h
\trenew_lifetime = 7d
\tforwardable = true
\tudp_preference_limit = 1
\tkdc_timeout = 5s
\tclockskew = 300
\tdefault_ccache_name = \"FILE:/tmp/krb5cc_%{uid}\"
\tpermitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 *

[realms]
\tEXAMPLE.TEST = {
\t\t# primary first
\t\tkdc = dc1.example.test
\t\tkdc = dc2.example.test:88
\t\tkdc = tcp/[2001:db8::5]:750
\t\tadmin_server = dc1.example.test
\t\tauth_to_local = RULE:[1:$1@$0](.*@EXAMPLE\\.TEST)s/@.*//
\t\tauth_to_local = DEFAULT
\t}\r
\tMIT.TEST =\r
\t{\r
\t\tkdc = 127.0.0.3:18888\r
\t\tv4_instance_convert = {
\t\t\tmit = mit.edu
\t\t}
\t}*

[domain_realm]
\t.example.test = EXAMPLE.TEST
\texample.test = EXAMPLE.TEST
\t.mit.test = MIT.TEST
\tspecial.mit.test = EXAMPLE.TEST

[capaths]
\tEXAMPLE.TEST = {
\t\tMIT.TEST = .
\t}
";

fn parse(text: &str) -> Krb5Conf {
    Krb5Conf::parse(text).unwrap_or_else(|e| panic!("parse failed: {e}"))
}

#[test]
fn testenv_client_file() {
    let conf = parse(TESTENV_CLIENT);
    assert_eq!(conf.default_realm(), Some("MIT.TEST"));
    assert!(!conf.dns_lookup_kdc());
    assert_eq!(conf.libdefault("rdns"), Some("false"));
    assert_eq!(conf.libdefault_bool("rdns"), Some(false));
    assert_eq!(conf.kdcs("MIT.TEST"), ["127.0.0.3:18888"]);
    assert!(conf.kdcs("OTHER.TEST").is_empty());
    assert!(conf.skipped_includes().is_empty());
}

#[test]
fn mit_style_file() {
    let conf = parse(MIT_STYLE);
    assert_eq!(conf.default_realm(), Some("EXAMPLE.TEST"));
    assert!(!conf.dns_lookup_kdc());
    assert_eq!(
        conf.kdcs("EXAMPLE.TEST"),
        [
            "dc1.example.test",
            "dc2.example.test:88",
            "tcp/[2001:db8::5]:750"
        ]
    );
    assert_eq!(conf.kdcs("MIT.TEST"), ["127.0.0.3:18888"]);
    assert_eq!(
        conf.realm_value("EXAMPLE.TEST", "auth_to_local"),
        ["RULE:[1:$1@$0](.*@EXAMPLE\\.TEST)s/@.*//", "DEFAULT"]
    );
    assert_eq!(
        conf.realm_value("EXAMPLE.TEST", "admin_server"),
        ["dc1.example.test"]
    );
    // A nested block is not a string value.
    assert!(
        conf.realm_value("MIT.TEST", "v4_instance_convert")
            .is_empty()
    );
    assert_eq!(
        conf.values(&["realms", "MIT.TEST", "v4_instance_convert", "mit"]),
        ["mit.edu"]
    );
    assert_eq!(conf.values(&["capaths", "EXAMPLE.TEST", "MIT.TEST"]), ["."]);
    // Quoted value, final marker stripped from a value.
    assert_eq!(
        conf.libdefault("default_ccache_name"),
        Some("FILE:/tmp/krb5cc_%{uid}")
    );
    assert_eq!(
        conf.libdefault("permitted_enctypes"),
        Some("aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96")
    );
    assert_eq!(conf.udp_preference_limit(), Some(1));
    assert_eq!(conf.kdc_timeout(), Some(Duration::from_secs(5)));
    assert_eq!(conf.clockskew(), Some(Duration::from_secs(300)));
    assert_eq!(
        conf.libdefault_duration("renew_lifetime"),
        Some(Duration::from_secs(7 * 86_400))
    );
    assert_eq!(conf.libdefault_bool("forwardable"), Some(true));
    assert_eq!(conf.libdefault("no_such_key"), None);
}

#[test]
fn realm_names_match_exactly_then_case_insensitively() {
    let conf = parse(
        "[realms]\n\
         Example.Test = {\n kdc = folded\n}\n\
         EXAMPLE.TEST = {\n kdc = exact\n}\n\
         OTHER.TEST = {\n admin_server = a\n}\n\
         other.test = {\n kdc = only-folded\n}\n",
    );
    assert_eq!(conf.kdcs("EXAMPLE.TEST"), ["exact"]);
    assert_eq!(conf.kdcs("Example.Test"), ["folded"]);
    assert_eq!(conf.kdcs("example.test"), ["folded", "exact"]);
    // An exact block without kdc lines wins over a folded match.
    assert!(conf.kdcs("OTHER.TEST").is_empty());
    assert_eq!(conf.kdcs("Other.Test"), ["only-folded"]);
}

#[test]
fn repeated_sections_and_realm_blocks_merge_in_order() {
    let conf = parse(
        "[realms]\nR = {\n kdc = a\n}\n[libdefaults]\ndefault_realm = FIRST\n\
         [realms]\nR = {\n kdc = b\n kdc = c\n}\n[libdefaults]\ndefault_realm = SECOND\n",
    );
    assert_eq!(conf.kdcs("R"), ["a", "b", "c"]);
    assert_eq!(conf.default_realm(), Some("FIRST"));
    assert_eq!(
        conf.values(&["libdefaults", "default_realm"]),
        ["FIRST", "SECOND"]
    );
}

#[test]
fn domain_realm_mapping() {
    let conf = parse(MIT_STYLE);
    let cases = [
        ("host.example.test", Some("EXAMPLE.TEST")),
        ("a.b.example.test", Some("EXAMPLE.TEST")),
        ("HOST.Example.TEST.", Some("EXAMPLE.TEST")),
        ("example.test", Some("EXAMPLE.TEST")),
        ("kdc.mit.test", Some("MIT.TEST")),
        // exact entry beats the suffix entry
        ("special.mit.test", Some("EXAMPLE.TEST")),
        ("x.special.mit.test", Some("MIT.TEST")),
        // ".mit.test" is a suffix rule: not the bare domain, not look-alikes
        ("mit.test", None),
        ("notmit.test", None),
        ("elsewhere.org", None),
        ("", None),
        (".", None),
    ];
    for (host, want) in cases {
        assert_eq!(conf.realm_for_host(host).as_deref(), want, "host {host:?}");
    }
    // The longest suffix wins regardless of file order.
    let conf = parse("[domain_realm]\n.test = SHORT\n.deep.test = LONG\n");
    assert_eq!(conf.realm_for_host("h.deep.test").as_deref(), Some("LONG"));
    assert_eq!(
        conf.realm_for_host("h.other.test").as_deref(),
        Some("SHORT")
    );
}

#[test]
fn dns_lookup_kdc_defaults_and_booleans() {
    let cases = [
        ("", true),
        ("dns_lookup_kdc = false", false),
        ("dns_lookup_kdc = 0", false),
        ("dns_lookup_kdc = OFF", false),
        ("dns_lookup_kdc = yes", true),
        ("dns_lookup_kdc = on", true),
        ("dns_lookup_kdc = 1", true),
        ("dns_fallback = no", false),
        ("dns_lookup_kdc = true\ndns_fallback = no", true),
        ("dns_lookup_kdc = maybe", true),
        ("dns_lookup_kdc = maybe\ndns_fallback = false", false),
    ];
    for (lines, want) in cases {
        let conf = parse(&format!("[libdefaults]\n{lines}\n"));
        assert_eq!(conf.dns_lookup_kdc(), want, "{lines:?}");
    }
    assert!(Krb5Conf::empty().dns_lookup_kdc());
    assert_eq!(Krb5Conf::empty().default_realm(), None);
}

#[test]
fn parse_does_not_follow_includes() {
    let conf = parse(
        "include /etc/krb5.conf.d/extra.conf\nincludedir /etc/krb5.conf.d/\n\
         [libdefaults]\ninclude = not-a-directive\n",
    );
    assert_eq!(
        conf.skipped_includes(),
        [
            "include /etc/krb5.conf.d/extra.conf",
            "includedir /etc/krb5.conf.d/"
        ]
    );
    assert_eq!(conf.libdefault("include"), Some("not-a-directive"));
}

#[test]
fn malformed_inputs_name_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("kdc = x\n", 1, "before any [section]"),
        ("\n\n[libdefaults\n", 3, "without ']'"),
        ("[ ]\n", 1, "empty section name"),
        ("[realms]\nR = {\n kdc = a\n", 2, "never closed"),
        ("[realms]\n}\n", 2, "without a matching '{'"),
        ("[realms]\nR = {\n[libdefaults]\n}\n", 3, "inside the block"),
        ("[libdefaults]\n# ok\njust_a_word\n", 3, "expected '='"),
        ("[libdefaults]\n= value\n", 2, "missing key"),
        ("[realms]\nR = { kdc = a }\n", 2, "own line"),
        ("[realms]\nR = {\n} junk\n", 3, "after '}'"),
        ("[realms]\nR = {\ninclude /x\n}\n", 3, "inside the block"),
    ];
    for (text, line, needle) in cases {
        match Krb5Conf::parse(text) {
            Err(ConfigError::Syntax {
                line: got, message, ..
            }) => {
                assert_eq!(got, *line, "{text:?}: {message}");
                assert!(message.contains(needle), "{text:?}: {message}");
            }
            other => panic!("{text:?}: expected a syntax error, got {other:?}"),
        }
    }
    let err = Krb5Conf::parse("[libdefaults]\nbad line\n").unwrap_err();
    assert!(err.to_string().starts_with("<text>:2: "), "{err}");
}

#[test]
fn lenient_forms_parse() {
    // `key =` with no value and no brace: an empty value.
    let conf = parse("[libdefaults]\nempty =\nnext = 1\nlast =");
    assert_eq!(conf.libdefault("empty"), Some(""));
    assert_eq!(conf.libdefault("next"), Some("1"));
    assert_eq!(conf.libdefault("last"), Some(""));
    // Text after a section's ']' other than '*' is ignored, as MIT does; `key* =` is final.
    let conf = parse("[libdefaults] trailing\ndefault_realm* = R\n[realms]\nR = {\nkdc = k\n}*\n");
    assert_eq!(conf.default_realm(), Some("R"));
    assert_eq!(conf.kdcs("R"), ["k"]);
    // Empty input and comment-only input.
    assert_eq!(parse(""), Krb5Conf::empty());
    assert_eq!(parse("# nothing\n; here\n\n"), Krb5Conf::empty());
}

#[test]
fn size_and_nesting_limits() {
    let big = format!("[libdefaults]\n#{}\n", "x".repeat(MAX_FILE_SIZE));
    assert!(matches!(
        Krb5Conf::parse(&big),
        Err(ConfigError::TooLarge { .. })
    ));

    let mut deep = String::from("[realms]\n");
    for i in 0..=MAX_NESTING {
        deep.push_str(&format!("b{i} = {{\n"));
    }
    for _ in 0..=MAX_NESTING {
        deep.push_str("}\n");
    }
    match Krb5Conf::parse(&deep) {
        Err(ConfigError::TooDeep { line, limit, .. }) => {
            assert_eq!(limit, MAX_NESTING);
            assert_eq!(line, MAX_NESTING + 2);
        }
        other => panic!("expected TooDeep, got {other:?}"),
    }
    // Exactly at the limit is fine.
    let mut ok = String::from("[realms]\n");
    for i in 0..MAX_NESTING {
        ok.push_str(&format!("b{i} = {{\n"));
    }
    ok.push_str("k = v\n");
    for _ in 0..MAX_NESTING {
        ok.push_str("}\n");
    }
    let conf = parse(&ok);
    let path: Vec<String> = (0..MAX_NESTING).map(|i| format!("b{i}")).collect();
    let mut path: Vec<&str> = std::iter::once("realms")
        .chain(path.iter().map(String::as_str))
        .collect();
    path.push("k");
    assert_eq!(conf.values(&path), ["v"]);
}

/// A fresh directory under the target's scratch space.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "krb5conf-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn load_follows_include_and_includedir() {
    let dir = scratch("includes");
    let confd = dir.join("krb5.conf.d");
    fs::create_dir(&confd).unwrap();
    fs::write(
        dir.join("krb5.conf"),
        format!(
            "[libdefaults]\n default_realm = MAIN.TEST\n\
             include {}\n\
             includedir {}\n\
             include relative.conf\n\
             [realms]\n MAIN.TEST = {{\n  kdc = main-kdc\n }}\n",
            dir.join("extra.conf").display(),
            confd.display()
        ),
    )
    .unwrap();
    fs::write(
        dir.join("extra.conf"),
        "[realms]\n MAIN.TEST = {\n  kdc = extra-kdc\n }\n",
    )
    .unwrap();
    fs::write(
        dir.join("relative.conf"),
        "[libdefaults]\n kdc_timeout = 2\n",
    )
    .unwrap();
    // Picked up, in name order: "10-b.conf" then "a_file" then "z-last".
    fs::write(
        confd.join("z-last"),
        "[realms]\nMAIN.TEST = {\nkdc = z-kdc\n}\n",
    )
    .unwrap();
    fs::write(
        confd.join("10-b.conf"),
        "[realms]\nMAIN.TEST = {\nkdc = b-kdc\n}\n",
    )
    .unwrap();
    fs::write(
        confd.join("a_file"),
        "[realms]\nMAIN.TEST = {\nkdc = a-kdc\n}\n",
    )
    .unwrap();
    // Skipped: hidden, editor backups, other extensions, subdirectories.
    for skipped in [".hidden", "old.conf~", "notes.txt", "x.conf.rpmsave"] {
        fs::write(
            confd.join(skipped),
            "[realms]\nMAIN.TEST = {\nkdc = WRONG\n}\n",
        )
        .unwrap();
    }
    fs::create_dir(confd.join("subdir")).unwrap();

    let conf = Krb5Conf::load(&dir.join("krb5.conf")).unwrap();
    assert_eq!(conf.default_realm(), Some("MAIN.TEST"));
    assert_eq!(
        conf.kdcs("MAIN.TEST"),
        ["extra-kdc", "b-kdc", "a-kdc", "z-kdc", "main-kdc"]
    );
    assert_eq!(conf.kdc_timeout(), Some(Duration::from_secs(2)));
    assert!(conf.skipped_includes().is_empty());
}

#[test]
fn include_errors() {
    let dir = scratch("include-errors");
    // Missing file.
    fs::write(
        dir.join("missing.conf"),
        "include /nonexistent/krb5-test.conf\n",
    )
    .unwrap();
    let err = Krb5Conf::load(&dir.join("missing.conf")).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/krb5-test.conf"),
        "{err}"
    );
    // ... also inside a KRB5_CONFIG list, where only missing listed files are skipped.
    assert!(Krb5Conf::load_paths(&[dir.join("missing.conf")]).is_err());

    // A file including itself.
    fs::write(dir.join("loop.conf"), "include loop.conf\n").unwrap();
    let err = Krb5Conf::load(&dir.join("loop.conf")).unwrap_err();
    assert!(err.to_string().contains("include loop"), "{err}");

    // A loop through includedir.
    let d = dir.join("d");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("back.conf"), format!("includedir {}\n", d.display())).unwrap();
    fs::write(
        dir.join("dirloop.conf"),
        format!("includedir {}\n", d.display()),
    )
    .unwrap();
    let err = Krb5Conf::load(&dir.join("dirloop.conf")).unwrap_err();
    assert!(err.to_string().contains("include loop"), "{err}");

    // A long chain of distinct files hits the depth limit.
    for i in 0..20 {
        fs::write(
            dir.join(format!("chain{i}.conf")),
            format!("include chain{}.conf\n", i + 1),
        )
        .unwrap();
    }
    fs::write(dir.join("chain20.conf"), "[libdefaults]\n").unwrap();
    let err = Krb5Conf::load(&dir.join("chain0.conf")).unwrap_err();
    assert!(err.to_string().contains("nested deeper"), "{err}");

    // Syntax errors inside an included file name that file and line.
    fs::write(dir.join("bad.conf"), "[libdefaults]\n\noops\n").unwrap();
    fs::write(dir.join("top.conf"), "include bad.conf\n").unwrap();
    let err = Krb5Conf::load(&dir.join("top.conf")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("bad.conf:3:"), "{msg}");

    // An oversized file is refused without reading it all.
    fs::write(dir.join("huge.conf"), vec![b'#'; MAX_FILE_SIZE + 10]).unwrap();
    assert!(matches!(
        Krb5Conf::load(&dir.join("huge.conf")),
        Err(ConfigError::TooLarge { .. })
    ));
}

#[test]
fn krb5_config_lists_merge_first_wins() {
    let dir = scratch("list");
    let a = dir.join("a.conf");
    let b = dir.join("b.conf");
    fs::write(
        &a,
        "[libdefaults]\ndefault_realm = A.TEST\n[realms]\nA.TEST = {\nkdc = a1\n}\n",
    )
    .unwrap();
    fs::write(
        &b,
        "[libdefaults]\ndefault_realm = B.TEST\ndns_lookup_kdc = false\n\
         [realms]\nA.TEST = {\nkdc = a2\n}\nB.TEST = {\nkdc = b1\n}\n",
    )
    .unwrap();
    let missing = dir.join("missing.conf");
    let mut list = OsString::new();
    for (i, p) in [&a, &missing, &b].iter().enumerate() {
        if i > 0 {
            list.push(":");
        }
        list.push(p.as_os_str());
    }
    list.push("::");
    let conf = Krb5Conf::load_list(&list).unwrap();
    assert_eq!(conf.default_realm(), Some("A.TEST"));
    assert!(!conf.dns_lookup_kdc());
    assert_eq!(conf.kdcs("A.TEST"), ["a1", "a2"]);
    assert_eq!(conf.kdcs("B.TEST"), ["b1"]);

    // Nothing exists: an empty configuration, not an error.
    let conf = Krb5Conf::load_paths(&[dir.join("nope1"), dir.join("nope2")]).unwrap();
    assert_eq!(conf, Krb5Conf::empty());

    // A file that exists but is broken is an error.
    let bad = dir.join("bad.conf");
    fs::write(&bad, "[libdefaults\n").unwrap();
    assert!(Krb5Conf::load_paths(&[&a, &bad]).is_err());
}

/// `load_default` reads `$KRB5_CONFIG`; the environment is set for a child process running
/// only `load_default_child`.
#[test]
fn load_default_uses_krb5_config() {
    let dir = scratch("env");
    let a = dir.join("first.conf");
    fs::write(&a, TESTENV_CLIENT).unwrap();
    let b = dir.join("second.conf");
    fs::write(
        &b,
        "[libdefaults]\ndefault_realm = SECOND.TEST\nclockskew = 5m\n",
    )
    .unwrap();
    let list = format!(
        "{}:{}:{}",
        a.display(),
        dir.join("absent").display(),
        b.display()
    );
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "load_default_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KRB5_CONFIG", &list)
        .env("KRB5_PROTO_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    assert!(stdout.contains("1 passed"), "child did not run: {stdout}");
}

#[test]
fn load_default_child() {
    if std::env::var_os("KRB5_PROTO_TEST_CHILD").is_none() {
        return;
    }
    let conf = Krb5Conf::load_default().unwrap();
    assert_eq!(conf.default_realm(), Some("MIT.TEST"));
    assert_eq!(conf.kdcs("MIT.TEST"), ["127.0.0.3:18888"]);
    assert_eq!(conf.clockskew(), Some(Duration::from_secs(300)));
}

/// Mutated realistic files never panic (a cheap stand-in for the fuzz target).
#[test]
fn mutations_never_panic() {
    let seeds = [TESTENV_CLIENT, MIT_STYLE];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"[]{}=*#;\"\\ \n\r\tabcXYZ.:/0";
    for round in 0..3000 {
        let mut bytes = seeds[round % seeds.len()].as_bytes().to_vec();
        for _ in 0..(1 + next() % 8) {
            let len = bytes.len().max(1);
            let pos = (next() as usize) % len;
            let c = alphabet[(next() as usize) % alphabet.len()];
            match next() % 3 {
                0 if pos < bytes.len() => bytes[pos] = c,
                1 => bytes.insert(pos.min(bytes.len()), c),
                _ => bytes.truncate(pos),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(conf) = Krb5Conf::parse(&text) {
            let _ = conf.default_realm();
            let _ = conf.kdcs("EXAMPLE.TEST");
            let _ = conf.kdcs("mit.test");
            let _ = conf.dns_lookup_kdc();
            let _ = conf.realm_for_host("host.example.test");
            let _ = conf.realm_value("MIT.TEST", "v4_instance_convert");
            let _ = conf.kdc_timeout();
            let _ = conf.udp_preference_limit();
        }
    }
}
