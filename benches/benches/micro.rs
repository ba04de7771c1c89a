//! Criterion micro-benchmarks: string-to-key, encrypt+decrypt, AS-REP decode, ccache write.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{Criterion, criterion_group, criterion_main};
use krb5_proto::asn1;
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::rand::TestRng;
use std::hint::black_box;

fn s2k(c: &mut Criterion) {
    c.bench_function("aes256 string-to-key (4096 iterations)", |b| {
        b.iter(|| {
            Key::from_password(
                EncType::Aes256CtsHmacSha196,
                black_box(b"password"),
                b"EXAMPLE.TESTuser",
                None,
            )
        })
    });
}

fn encrypt_decrypt(c: &mut Criterion) {
    let data = vec![0x5a_u8; 1024];
    for etype in [
        EncType::Aes256CtsHmacSha196,
        EncType::Aes256CtsHmacSha384192,
        EncType::Rc4Hmac,
    ] {
        let key = Key::new(etype, &vec![7u8; etype.key_len()]).unwrap();
        let mut rng = TestRng::new(1);
        c.bench_function(&format!("{} encrypt+decrypt 1 KiB", etype.name()), |b| {
            b.iter(|| {
                let ct = key.encrypt(3, black_box(&data), &mut rng);
                key.decrypt(3, &ct).unwrap()
            })
        });
    }
}

fn as_rep_decode(c: &mut Criterion) {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/seeds/asn1_kdc_reply/mit-as-rep.der"
    ))
    .expect("a captured MIT AS-REP in fuzz/seeds/asn1_kdc_reply/mit-as-rep.der");
    c.bench_function("AS-REP decode (captured from MIT krb5 1.20)", |b| {
        b.iter(|| asn1::decode_kdc_reply(black_box(&bytes)))
    });
}

fn ccache_write(c: &mut Criterion) {
    let principal = ccache::Principal {
        name_type: 1,
        realm: b"EXAMPLE.TEST".to_vec(),
        components: vec![b"user".to_vec()],
    };
    let tgs = ccache::Principal {
        name_type: 2,
        realm: b"EXAMPLE.TEST".to_vec(),
        components: vec![b"krbtgt".to_vec(), b"EXAMPLE.TEST".to_vec()],
    };
    let mut cc = ccache::Ccache::new(principal.clone());
    cc.credentials.push(ccache::Credential {
        client: principal,
        server: tgs,
        key: ccache::KeyBlock {
            enctype: 18,
            key: vec![1u8; 32].into(),
        },
        authtime: 1_800_000_000,
        starttime: 1_800_000_000,
        endtime: 1_800_036_000,
        renew_till: 0,
        is_skey: false,
        ticket_flags: 0x40e1_0000,
        addresses: Vec::new(),
        authdata: Vec::new(),
        ticket: vec![0x61; 1200],
        second_ticket: Vec::new(),
    });
    let dir = std::env::temp_dir().join(format!("ccache-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cc");
    c.bench_function("ccache serialize", |b| b.iter(|| black_box(&cc).to_bytes()));
    c.bench_function("ccache write_atomic (tmp file, fsync, rename)", |b| {
        b.iter(|| cc.write_atomic(&path, 0o600).unwrap())
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, s2k, encrypt_decrypt, as_rep_decode, ccache_write);
criterion_main!(benches);
