//! The engine's principals and the credential cache's print the same names: both take the
//! escaping from `krb5-name` (MIT's `krb5_unparse_name`), and a printed name parses back.

const NAMES: &[(&[&[u8]], &[u8])] = &[
    (&[b"user"], b"MIT.TEST"),
    (&[b"ldap", b"dc1.example.test"], b"EXAMPLE.TEST"),
    (&[b"WebApp01$"], b"EXAMPLE.TEST"),
    (&[b"a/b", b"c@d"], b"R\\S"),
    (&[b"tab\there", b"new\nline"], b"R"),
    (&[b"back\x08space", b"nul\0byte"], b"R/@"),
    (&[b"j\xc3\xa4ger"], b"MIT.TEST"),
];

#[test]
fn krb5_proto_and_ccache_print_principals_alike() {
    for &(components, realm) in NAMES {
        let ours = krb5_proto::Principal {
            name_type: krb5_proto::principal::name_type::PRINCIPAL,
            components: components.iter().map(|c| c.to_vec()).collect(),
            realm: realm.to_vec(),
        };
        let cache = ccache::Principal {
            name_type: 1,
            components: components.iter().map(|c| c.to_vec()).collect(),
            realm: realm.to_vec(),
        };
        let text = ours.to_string();
        assert_eq!(text, cache.to_string(), "{components:?} @ {realm:?}");
        let back = krb5_proto::Principal::parse(&text, None).expect(&text);
        assert_eq!(
            (back.components, back.realm),
            (ours.components.clone(), ours.realm.clone()),
            "{text}"
        );
        let cache_back = ccache::Principal::parse(&text).expect(&text);
        assert_eq!(cache_back.components, ours.components, "{text}");
    }
}
