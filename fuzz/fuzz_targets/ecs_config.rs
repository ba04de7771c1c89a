//! /etc/ecs/ecs.config (and /etc/group) as the daemon reads them at start-up:
//! `parse_env_file` and `Config::resolve` with no flags and no environment.
//!
//! Input: the ecs.config text, a NUL byte, the /etc/group text.
//!
//! Invariants: the parsed map, written back as `export KEY="VALUE"` lines, parses to the same
//! map; a resolved configuration has an absolute socket path and krbdir, a krbdir free of the
//! characters upstream refuses, a ccache mode that is owner-readable and not world-writable,
//! and a `CF_CRED_SPEC_FILE` lease id that is a valid lease id.
#![no_main]

use credentials_fetcherd::server::config::{Config, Flags, parse_env_file};
use credentials_fetcherd::server::lease::LeaseId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ecs, group) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let ecs = String::from_utf8_lossy(ecs);
    let group = String::from_utf8_lossy(group);

    let map = parse_env_file(&ecs);
    let mut text = String::new();
    for (k, v) in &map {
        assert!(!k.contains('=') && !k.contains('\n'));
        assert!(!v.contains('\n'));
        text.push_str(&format!("export {k}=\"{v}\"\n"));
    }
    assert_eq!(parse_env_file(&text), map, "{text:?}");

    let Ok(cfg) = Config::resolve(&Flags::default(), &|_| None, Some(&ecs), &group) else {
        return;
    };
    assert!(cfg.socket.is_absolute(), "{:?}", cfg.socket);
    assert!(cfg.krbdir.is_absolute(), "{:?}", cfg.krbdir);
    assert!(
        !cfg.krbdir
            .to_string_lossy()
            .chars()
            .any(|c| "&:\\|*?<>`${}()\";".contains(c) || c.is_control())
    );
    assert!(cfg.ccache_mode & !0o777 == 0 && cfg.ccache_mode & 0o002 == 0);
    assert!(cfg.ccache_mode & 0o400 != 0);
    if let Some((_, Some(id))) = &cfg.cred_spec_file {
        assert_eq!(LeaseId::parse(id.as_str()).ok().as_ref(), Some(id));
    }
    assert!(cfg.test_renew_secs.is_none_or(|s| s > 0));
});
