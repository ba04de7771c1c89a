//! Hand-made malformed and edge-case caches.

use ccache::{Ccache, CcacheError, Credential, KeyBlock, Principal, name_type};

fn principal_bytes(name_type: u32, realm: &[u8], comps: &[&[u8]]) -> Vec<u8> {
    let mut out = name_type.to_be_bytes().to_vec();
    out.extend((comps.len() as u32).to_be_bytes());
    out.extend((realm.len() as u32).to_be_bytes());
    out.extend(realm);
    for c in comps {
        out.extend((c.len() as u32).to_be_bytes());
        out.extend(*c);
    }
    out
}

fn empty_cache() -> Vec<u8> {
    let mut out = vec![5, 4, 0, 0];
    out.extend(principal_bytes(1, b"R", &[b"u"]));
    out
}

#[test]
fn legacy_and_foreign_versions_are_rejected_clearly() {
    for v in [[5u8, 1], [5, 2], [5, 5], [4, 4], [0, 0], [0x7f, 0x45]] {
        let mut b = v.to_vec();
        b.extend(&empty_cache()[2..]);
        let err = Ccache::parse(&b).unwrap_err();
        assert!(matches!(err, CcacheError::BadVersion(x) if x == u16::from_be_bytes(v)));
        assert!(err.to_string().contains("0x0503"), "{err}");
    }
    assert!(matches!(
        Ccache::parse(&[]),
        Err(CcacheError::Truncated { offset: 0, .. })
    ));
    assert!(matches!(
        Ccache::parse(&[5]),
        Err(CcacheError::Truncated { .. })
    ));
}

#[test]
fn header_fields() {
    // Unknown tags are skipped; DeltaTime must have length 8.
    let mut b = vec![5, 4, 0, 18];
    b.extend([0, 9, 0, 2, 0xaa, 0xbb]); // unknown tag 9
    b.extend([0, 1, 0, 8, 0, 0, 0, 5, 0, 0, 0, 6]);
    b.extend(principal_bytes(1, b"R", &[b"u"]));
    let cc = Ccache::parse(&b).unwrap();
    assert_eq!(cc.time_offset, Some((5, 6)));
    assert_eq!(cc.default_principal.to_string(), "u@R");

    let mut b = vec![5, 4, 0, 8, 0, 1, 0, 4, 0, 0, 0, 5];
    b.extend(principal_bytes(1, b"R", &[b"u"]));
    assert!(matches!(
        Ccache::parse(&b),
        Err(CcacheError::Invalid { offset: 4, .. })
    ));

    // A header field running past the header length.
    let mut b = vec![5, 4, 0, 6, 0, 1, 0, 8, 0, 0];
    b.extend(principal_bytes(1, b"R", &[b"u"]));
    assert!(matches!(
        Ccache::parse(&b),
        Err(CcacheError::Truncated { .. })
    ));

    // A header length past the end of the file.
    assert!(matches!(
        Ccache::parse(&[5, 4, 0xff, 0xff, 0, 0]),
        Err(CcacheError::Truncated { offset: 4, .. })
    ));

    // A negative offset round trips.
    let mut cc = Ccache::parse(&empty_cache()).unwrap();
    assert_eq!(cc.time_offset, None);
    assert_eq!(cc.to_bytes(), empty_cache());
    cc.time_offset = Some((-1, -999_999));
    assert_eq!(Ccache::parse(&cc.to_bytes()).unwrap(), cc);
}

#[test]
fn huge_lengths_and_counts_fail_without_allocating() {
    // Component count far beyond the cap.
    let mut b = vec![5, 4, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
    b.extend([0; 16]);
    assert!(matches!(
        Ccache::parse(&b),
        Err(CcacheError::TooLarge {
            len: 0xffff_ffff,
            max: 64,
            ..
        })
    ));
    // Component count within the cap but beyond the input.
    let mut b = vec![5, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 64];
    b.extend([0; 16]);
    assert!(matches!(
        Ccache::parse(&b),
        Err(CcacheError::Truncated { .. })
    ));
    // A 4 GiB realm.
    let b = [
        5, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, b'R',
    ];
    assert!(matches!(
        Ccache::parse(&b),
        Err(CcacheError::Truncated { offset: 16, .. })
    ));

    // A credential claiming 2^32-1 addresses, and one claiming as many authdata elements.
    let me = Principal::parse("u@R").unwrap();
    let mut cc = Ccache::new(me.clone());
    cc.credentials.push(Credential {
        client: me.clone(),
        server: Principal::krbtgt(b"R"),
        key: KeyBlock::new(18, &[1; 32]),
        ..Credential::default()
    });
    let good = cc.to_bytes();
    // Layout after the principals and key: 16 bytes of times, is_skey, flags, address count.
    // The tail is: address count, authdata count, ticket length, second ticket length.
    let addr_count_at = good.len() - 16;
    assert_eq!(&good[addr_count_at..addr_count_at + 4], &[0, 0, 0, 0]);
    for at in [addr_count_at, addr_count_at + 4] {
        let mut b = good.clone();
        b[at..at + 4].copy_from_slice(&[0xff; 4]);
        assert!(matches!(
            Ccache::parse(&b),
            Err(CcacheError::Truncated { .. })
        ));
    }
    // 2^32-1 ticket bytes claimed.
    let mut b = good.clone();
    let at = good.len() - 8;
    b[at..at + 4].copy_from_slice(&[0xff; 4]);
    assert!(matches!(
        Ccache::parse(&b),
        Err(CcacheError::Truncated { .. })
    ));
}

#[test]
fn zero_components_and_odd_bytes_round_trip() {
    let mut cc = Ccache::new(Principal {
        name_type: 0xffff_ffff,
        realm: vec![],
        components: vec![],
    });
    cc.credentials.push(Credential {
        client: Principal {
            name_type: name_type::ENTERPRISE,
            realm: vec![0xff, 0, b'@'],
            components: vec![b"a@b".to_vec(), vec![]],
        },
        server: Principal::krbtgt(b"R"),
        is_skey: true,
        addresses: vec![ccache::Address {
            addrtype: 24,
            data: vec![0; 16],
        }],
        authdata: vec![ccache::AuthData {
            ad_type: 0xff9c,
            data: vec![],
        }],
        second_ticket: b"x".to_vec(),
        ..Credential::default()
    });
    let b = cc.to_bytes();
    assert_eq!(Ccache::parse(&b).unwrap(), cc);
    // is_skey values other than 0 and 1 read as true.
    let mut b2 = b.clone();
    // From the end: second ticket (4+1), ticket (4), one authdata (6) and its count (4),
    // one address (6+16) and its count (4), flags (4), then is_skey.
    let at = b.len() - 5 - 4 - 10 - 26 - 4 - 1;
    assert_eq!(b2[at], 1);
    b2[at] = 7;
    assert!(Ccache::parse(&b2).unwrap().credentials[0].is_skey);
}

#[test]
fn principal_strings() {
    let p = Principal::parse("a\\/b/c\\@d@R.X").unwrap();
    assert_eq!(p.components, vec![b"a/b".to_vec(), b"c@d".to_vec()]);
    assert_eq!(p.to_string(), "a\\/b/c\\@d@R.X");
    assert_eq!(Principal::parse(&p.to_string()).unwrap(), p);
    assert_eq!(
        Principal::parse("krbtgt/A@A").unwrap().name_type,
        name_type::SRV_INST
    );
    assert_eq!(
        Principal::parse("HTTP/web@A").unwrap().name_type,
        name_type::PRINCIPAL
    );
    for bad in ["u", "u@", "a//b@R", "/a@R", "a\\"] {
        let err = Principal::parse(bad).unwrap_err();
        assert!(matches!(err, CcacheError::BadPrincipal { .. }), "{bad}");
    }
    assert!(format!("{p:?}").contains("type 1"));
}

#[test]
fn keys_are_redacted_in_debug() {
    let k = KeyBlock::new(18, &[0x41; 32]);
    let s = format!("{k:?}");
    assert!(
        s.contains("redacted") && !s.contains("65") && !s.contains("41"),
        "{s}"
    );
    let c = Credential {
        key: k,
        ..Credential::default()
    };
    assert!(!format!("{c:?}").contains("65, 65"));
}

#[test]
fn add_or_replace_find_and_config() {
    let me = Principal::parse("u@R").unwrap();
    let tgs = Principal::krbtgt(b"R");
    let http = Principal::parse("HTTP/web@R").unwrap();
    let mut cc = Ccache::new(me.clone());
    let cred = |server: &Principal, end: u32| Credential {
        client: me.clone(),
        server: server.clone(),
        endtime: end,
        ..Credential::default()
    };
    cc.add_or_replace(cred(&tgs, 1));
    cc.add_or_replace(cred(&http, 2));
    cc.set_config("fast_avail", None, b"yes");
    cc.set_config("pa_type", Some(&tgs), b"2");
    cc.set_config("pa_type", Some(&tgs), b"138");
    // Same name, other name type: replaced in place.
    let mut http2 = http.clone();
    http2.name_type = name_type::SRV_HST;
    cc.add_or_replace(cred(&http2, 3));
    assert_eq!(cc.credentials.len(), 4);
    assert_eq!(cc.tickets().count(), 2);
    assert_eq!(cc.find(&http).unwrap().endtime, 3);
    assert_eq!(cc.find(&tgs).unwrap().endtime, 1);
    assert!(cc.find(&Principal::parse("x@R").unwrap()).is_none());
    assert_eq!(cc.config_value("pa_type"), Some(&b"138"[..]));
    assert_eq!(cc.config_value("fast_avail"), Some(&b"yes"[..]));
    assert_eq!(cc.credentials[2].config_principal(), None);
    // A config entry is never returned by find, even when asked for its server.
    let conf_server = cc.credentials[2].server.clone();
    assert!(cc.find(&conf_server).is_none());
    assert_eq!(cc.credentials[0].config_key(), None);
    let back = Ccache::parse(&cc.to_bytes()).unwrap();
    assert_eq!(back, cc);
}
