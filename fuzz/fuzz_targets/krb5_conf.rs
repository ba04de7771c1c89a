//! Fuzz krb5.conf parsing (and every query on what parses) plus the KDC TCP framing helpers.
//! Nothing here may panic, whatever the input.
#![no_main]

use krb5_proto::config::{Krb5Conf, parse_bool, parse_duration};
use krb5_proto::transport::{KdcAddr, MAX_TCP_REPLY, frame_tcp, read_tcp_length};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // Parsing never touches the file system (includes are only recorded).
    if let Ok(conf) = Krb5Conf::parse(&text) {
        let realm = conf.default_realm().unwrap_or("EXAMPLE.TEST").to_owned();
        let _ = conf.kdcs(&realm);
        let _ = conf.kdcs(&realm.to_ascii_lowercase());
        let _ = conf.realm_value(&realm, "admin_server");
        let _ = conf.dns_lookup_kdc();
        let _ = conf.libdefault("udp_preference_limit");
        let _ = conf.udp_preference_limit();
        let _ = conf.kdc_timeout();
        let _ = conf.clockskew();
        let _ = conf.realm_for_host("host.example.test");
        let _ = conf.realm_for_host(&text);
        let _ = conf.values(&["realms", &realm, "kdc"]);
        let _ = conf.skipped_includes();

        for kdc in conf.kdcs(&realm) {
            if let Ok(addr) = KdcAddr::parse(&kdc) {
                // Display must re-parse to the same address.
                assert_eq!(KdcAddr::parse(&addr.to_string()).ok(), Some(addr));
            }
        }
    }

    let _ = parse_bool(&text);
    let _ = parse_duration(&text);

    // The transport's sans-IO helpers (krb5-proto's default "tokio" feature).
    let _ = KdcAddr::parse(&text);
    if let Some(prefix) = data.get(..4).and_then(|p| <[u8; 4]>::try_from(p).ok())
        && let Ok(len) = read_tcp_length(prefix)
    {
        assert!(len > 0 && len <= MAX_TCP_REPLY);
    }
    if let Ok(framed) = frame_tcp(data) {
        let prefix = <[u8; 4]>::try_from(framed.get(..4).unwrap_or_default()).ok();
        assert_eq!(
            prefix.map(u32::from_be_bytes),
            u32::try_from(data.len()).ok()
        );
    }
});
