//! The ccache_v4.json vectors: MIT t_marshal.c bytes and a synthetic gMSA cache.

use ccache::{Ccache, CcacheError, Credential, KeyBlock, Principal, flags, name_type};
use serde_json::Value;

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/ccache_v4.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn check_principal(p: &Principal, want: &Value) {
    assert_eq!(u64::from(p.name_type), want["name_type"].as_u64().unwrap());
    assert_eq!(p.realm, want["realm"].as_str().unwrap().as_bytes());
    let comps: Vec<Vec<u8>> = want["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().as_bytes().to_vec())
        .collect();
    assert_eq!(p.components, comps);
}

fn check_cred(c: &Credential, want: &Value) {
    check_principal(&c.client, &want["client"]);
    check_principal(&c.server, &want["server"]);
    assert_eq!(
        u64::from(c.key.enctype),
        want["keyblock"]["enctype"].as_u64().unwrap()
    );
    assert_eq!(&c.key.key[..], &hex_of(&want["keyblock"]["key_hex"])[..]);
    for (got, field) in [
        (c.authtime, "authtime"),
        (c.starttime, "starttime"),
        (c.endtime, "endtime"),
        (c.renew_till, "renew_till"),
    ] {
        assert_eq!(u64::from(got), want[field].as_u64().unwrap(), "{field}");
    }
    assert_eq!(c.is_skey, want["is_skey"].as_u64().unwrap() != 0);
    let flags_str = want["ticket_flags"].as_str().unwrap();
    let flags = u32::from_str_radix(flags_str.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(c.ticket_flags, flags);
    let addrs = want["addresses"].as_array().unwrap();
    assert_eq!(c.addresses.len(), addrs.len());
    for (a, w) in c.addresses.iter().zip(addrs) {
        assert_eq!(u64::from(a.addrtype), w["addrtype"].as_u64().unwrap());
        assert_eq!(a.data, hex_of(&w["data_hex"]));
    }
    let ads = want["authdata"].as_array().unwrap();
    assert_eq!(c.authdata.len(), ads.len());
    for (a, w) in c.authdata.iter().zip(ads) {
        // MIT reads the 16-bit ad-type as signed.
        assert_eq!(i64::from(a.ad_type as i16), w["ad_type"].as_i64().unwrap());
        assert_eq!(a.data, hex_of(&w["data_hex"]));
    }
    assert_eq!(c.ticket, hex_of(&want["ticket_hex"]));
    assert_eq!(c.second_ticket, hex_of(&want["second_ticket_hex"]));
}

/// Length of a principal in the file format.
fn principal_len(p: &Principal) -> usize {
    12 + p.realm.len() + p.components.iter().map(|c| 4 + c.len()).sum::<usize>()
}

#[test]
fn mit_t_marshal_v4_parses_and_round_trips() {
    let v = &vectors()["krb5_t_marshal_v4"];
    let file = hex_of(&v["file_hex"]);
    let pieces: Vec<u8> = [
        "header_hex",
        "default_principal_hex",
        "cred1_hex",
        "cred2_hex",
    ]
    .iter()
    .flat_map(|k| hex_of(&v[*k]))
    .collect();
    assert_eq!(pieces, file);

    let cc = Ccache::parse(&file).unwrap();
    let d = &v["decoded"];
    assert_eq!(
        u64::from(cc.version),
        d["header"]["version"].as_u64().unwrap()
    );
    let tag = &d["header"]["tags"][0];
    assert_eq!(
        cc.time_offset,
        Some((
            tag["time_offset_sec"].as_i64().unwrap() as i32,
            tag["time_offset_usec"].as_i64().unwrap() as i32
        ))
    );
    check_principal(&cc.default_principal, &d["default_principal"]);
    assert_eq!(cc.credentials.len(), 2);
    check_cred(&cc.credentials[0], &d["cred1"]);
    check_cred(&cc.credentials[1], &d["cred2"]);
    assert_eq!(
        cc.credentials[0].ticket_flags,
        flags::FORWARDABLE | flags::RENEWABLE
    );
    assert!(!cc.credentials.iter().any(Credential::is_config));
    assert_eq!(cc.to_bytes(), file);
}

#[test]
fn mit_t_marshal_as_version_3() {
    // Version 3 = no header, the enctype written twice in each key block (ccmarshal.c).
    let v = &vectors()["krb5_t_marshal_v4"];
    let v4 = Ccache::parse(&hex_of(&v["file_hex"])).unwrap();
    let mut v3 = vec![5, 3];
    v3.extend(hex_of(&v["default_principal_hex"]));
    for (k, cred) in ["cred1_hex", "cred2_hex"].iter().zip(&v4.credentials) {
        let bytes = hex_of(&v[*k]);
        let at = principal_len(&cred.client) + principal_len(&cred.server);
        v3.extend_from_slice(&bytes[..at + 2]);
        v3.extend_from_slice(&bytes[at..at + 2]);
        v3.extend_from_slice(&bytes[at + 2..]);
    }
    let cc = Ccache::parse(&v3).unwrap();
    assert_eq!(cc.version, 0x0503);
    assert_eq!(cc.time_offset, None);
    assert_eq!(cc.default_principal, v4.default_principal);
    assert_eq!(cc.credentials, v4.credentials);
    // Written back as version 4 without a header field.
    let out = cc.to_bytes();
    assert_eq!(&out[..4], &[5, 4, 0, 0]);
    let again = Ccache::parse(&out).unwrap();
    assert_eq!(again.credentials, v4.credentials);
}

#[test]
fn synthetic_gmsa_cache_parses_round_trips_and_is_rebuilt_by_the_api() {
    let v = &vectors()["synthetic_gmsa_example"];
    let file = hex_of(&v["file_hex"]);
    let cc = Ccache::parse(&file).unwrap();
    assert_eq!(cc.version, 0x0504);
    assert_eq!(cc.time_offset, Some((-3, 250_000)));
    let me = Principal::new(name_type::PRINCIPAL, &["webapp01$"], "EXAMPLE.COM");
    assert_eq!(cc.default_principal, me);
    assert_eq!(cc.default_principal.to_string(), "webapp01$@EXAMPLE.COM");
    assert_eq!(cc.credentials.len(), 2);

    let conf = &cc.credentials[0];
    assert!(conf.is_config());
    assert_eq!(conf.config_key(), Some(&b"pa_type"[..]));
    assert_eq!(
        conf.config_principal(),
        Some(&b"krbtgt/EXAMPLE.COM@EXAMPLE.COM"[..])
    );
    assert_eq!(conf.server.name_type, name_type::PRINCIPAL);
    assert_eq!(conf.client, me);
    assert_eq!(conf.key, KeyBlock::default());
    assert_eq!(cc.config_value("pa_type"), Some(&b"2"[..]));
    assert_eq!(cc.config_value("fast_avail"), None);

    let tgs = Principal::krbtgt(b"EXAMPLE.COM");
    let tgt = cc.find(&tgs).unwrap();
    assert_eq!(tgt.server, tgs);
    assert_eq!(tgt.server.name_type, name_type::SRV_INST);
    assert_eq!(tgt.key.enctype, 18);
    assert_eq!(&tgt.key.key[..], &(0u8..32).collect::<Vec<_>>()[..]);
    assert_eq!(
        (tgt.authtime, tgt.starttime, tgt.endtime, tgt.renew_till),
        (1_700_000_000, 1_700_000_000, 1_700_036_000, 1_700_604_800)
    );
    assert_eq!(
        tgt.ticket_flags,
        flags::FORWARDABLE
            | flags::RENEWABLE
            | flags::INITIAL
            | flags::PRE_AUTH
            | flags::ENC_PA_REP
    );
    assert_eq!(tgt.ticket, b"<DER Ticket bytes>");
    assert_eq!(cc.tickets().count(), 1);
    assert_eq!(cc.to_bytes(), file);

    // The same file, built through the public API as the daemon would.
    let mut built = Ccache::new(me.clone());
    built.time_offset = Some((-3, 250_000));
    built.set_config("pa_type", Some(&tgs), b"2");
    built.add_or_replace(Credential {
        client: me,
        server: tgs,
        key: KeyBlock::new(18, &(0u8..32).collect::<Vec<_>>()),
        authtime: 1_700_000_000,
        starttime: 1_700_000_000,
        endtime: 1_700_036_000,
        renew_till: 1_700_604_800,
        ticket_flags: 0x40e1_0000,
        ticket: b"<DER Ticket bytes>".to_vec(),
        ..Credential::default()
    });
    assert_eq!(built.to_bytes(), file);
    assert_eq!(built, cc);
}

/// Offsets at which the file may end and still be a valid cache (between credentials).
fn boundaries(cc: &Ccache, file_len: usize) -> Vec<usize> {
    let mut ends = vec![file_len];
    let mut end = file_len;
    for c in cc.credentials.iter().rev() {
        let mut one = Ccache::new(c.client.clone());
        one.credentials.push(c.clone());
        let empty = Ccache::new(c.client.clone());
        end -= one.to_bytes().len() - empty.to_bytes().len();
        ends.push(end);
    }
    ends
}

#[test]
fn every_truncation_is_an_error_except_between_credentials() {
    let all = vectors();
    for name in ["krb5_t_marshal_v4", "synthetic_gmsa_example"] {
        let file = hex_of(&all[name]["file_hex"]);
        let full = Ccache::parse(&file).unwrap();
        let ends = boundaries(&full, file.len());
        for n in 0..file.len() {
            let got = Ccache::parse(&file[..n]);
            if ends.contains(&n) {
                let cc = got.unwrap_or_else(|e| panic!("{name}: prefix {n}: {e}"));
                assert_eq!(cc.credentials[..], full.credentials[..cc.credentials.len()]);
                assert_eq!(cc.default_principal, full.default_principal);
            } else {
                let err = got.expect_err(&format!("{name}: prefix of {n} bytes parsed"));
                assert!(
                    matches!(err, CcacheError::Truncated { .. }),
                    "{name} {n}: {err}"
                );
                assert!(!err.to_string().is_empty());
            }
        }
    }
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_corruption_never_panics_and_what_parses_round_trips() {
    let all = vectors();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for name in ["krb5_t_marshal_v4", "synthetic_gmsa_example"] {
        let file = hex_of(&all[name]["file_hex"]);
        for _ in 0..20_000 {
            let mut b = file.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(b.len());
                match rng.below(3) {
                    0 => b[i] ^= 1 << rng.below(8),
                    1 => b[i] = rng.next() as u8,
                    _ => b[i] = [0x00, 0xff, 0x7f, 0x80][rng.below(4)],
                }
            }
            if rng.below(4) == 0 {
                let cut = rng.below(b.len());
                b.truncate(cut);
            }
            if let Ok(cc) = Ccache::parse(&b) {
                let again = Ccache::parse(&cc.to_bytes()).unwrap();
                assert_eq!(again.credentials, cc.credentials);
                assert_eq!(again.default_principal, cc.default_principal);
            }
        }
    }
    // Pure noise behind a valid version.
    for _ in 0..20_000 {
        let len = rng.below(200);
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if b.len() >= 2 {
            b[0] = 5;
            b[1] = 3 + (rng.below(2) as u8);
        }
        let _ = Ccache::parse(&b);
    }
}
