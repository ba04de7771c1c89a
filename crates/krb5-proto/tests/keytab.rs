//! MIT keytab v2 (and v1 read) tests: the synthetic vector, round trips, malformed input.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use krb5_proto::Principal;
use krb5_proto::keytab::{Keytab, KeytabEntry, KeytabError, resolve_path};
use zeroize::Zeroizing;

fn vector() -> Vec<u8> {
    let text = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/keytab_v2_synthetic.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    hex::decode(v["file_hex"].as_str().unwrap()).unwrap()
}

fn me() -> Principal {
    Principal::parse("webapp01$@EXAMPLE.COM", None).unwrap()
}

fn entry(p: &Principal, kvno: u32, enctype: i32, key: &[u8]) -> KeytabEntry {
    KeytabEntry {
        principal: p.clone(),
        timestamp: 1_700_000_000,
        kvno,
        enctype,
        key: Zeroizing::new(key.to_vec()),
    }
}

#[test]
fn synthetic_vector_parses_and_round_trips() {
    let file = vector();
    let kt = Keytab::parse(&file).unwrap();
    assert_eq!(kt.entries.len(), 2);
    let aes256 =
        hex::decode("3a3b6a89bb82d112db5ef68f6db5d1afc2b806df61dcd85e3eacf3b85ee382d8").unwrap();
    let aes128 = hex::decode("a72c8bc96c4a6f03244f0b0067a1e440").unwrap();
    assert_eq!(kt.entries[0], entry(&me(), 2, 18, &aes256));
    assert_eq!(kt.entries[1], entry(&me(), 2, 17, &aes128));
    assert_eq!(kt.entries[0].principal.name_type, 1);
    assert_eq!(kt.to_bytes(), file);
    assert_eq!(kt.try_to_bytes().unwrap(), file);
    assert_eq!(kt.principals(), vec![me()]);
    let found = kt.find(&me(), Some(17), Some(2));
    assert_eq!(found.len(), 1);
    assert_eq!(&found[0].key[..], &aes128[..]);
    assert!(kt.find(&me(), Some(23), None).is_empty());
    assert!(kt.find(&me(), None, Some(3)).is_empty());
    // Exact bytes: the AD case-insensitive match is not applied here.
    let upper = Principal::parse("WEBAPP01$@EXAMPLE.COM", None).unwrap();
    assert!(kt.find(&upper, None, None).is_empty());
}

/// Offsets of record boundaries (where a truncated file is still a valid keytab).
fn boundaries(file: &[u8]) -> Vec<usize> {
    let mut ends = vec![2];
    let mut at = 2;
    while at + 4 <= file.len() {
        let len = i32::from_be_bytes(file[at..at + 4].try_into().unwrap());
        at += 4 + len.unsigned_abs() as usize;
        ends.push(at);
    }
    ends
}

#[test]
fn every_truncation_inside_a_record_is_an_error() {
    let file = vector();
    let full = Keytab::parse(&file).unwrap();
    let ends = boundaries(&file);
    assert_eq!(ends, [2, 81, 144]);
    for n in 0..file.len() {
        let got = Keytab::parse(&file[..n]);
        if ends.contains(&n) {
            let kt = got.unwrap();
            assert_eq!(kt.entries[..], full.entries[..kt.entries.len()]);
        } else {
            let err = got.expect_err(&format!("prefix of {n} bytes parsed"));
            assert!(matches!(err, KeytabError::Truncated { .. }), "{n}: {err}");
        }
    }
}

#[test]
fn holes_padding_and_end_marker() {
    let file = vector();
    let first = &file[2..81];
    let second = &file[81..];
    let mut b = vec![5, 2];
    b.extend((-7i32).to_be_bytes());
    b.extend([0; 7]);
    b.extend(first);
    b.extend((-1i32).to_be_bytes());
    b.extend([0]);
    b.extend(second);
    b.extend(0i32.to_be_bytes());
    b.extend(b"garbage after the end marker");
    let kt = Keytab::parse(&b).unwrap();
    assert_eq!(kt, Keytab::parse(&file).unwrap());
    assert_eq!(kt.to_bytes(), file);

    // An entry in a larger record (it replaced a bigger hole): zero padding means no 32-bit
    // kvno, so the 8-bit one stands.
    let mut rec = first[4..first.len() - 4].to_vec(); // entry without the 32-bit kvno
    let kvno8_at = rec.len() - 2 - 2 - 32 - 1;
    rec[kvno8_at] = 9;
    let mut b = vec![5, 2];
    b.extend(((rec.len() + 12) as i32).to_be_bytes());
    b.extend(&rec);
    b.extend([0; 12]);
    assert_eq!(Keytab::parse(&b).unwrap().entries[0].kvno, 9);
    // Fewer than 4 spare bytes: no 32-bit kvno either.
    let mut b = vec![5, 2];
    b.extend(((rec.len() + 3) as i32).to_be_bytes());
    b.extend(&rec);
    b.extend([0xff; 3]);
    assert_eq!(Keytab::parse(&b).unwrap().entries[0].kvno, 9);
    // A non-zero 32-bit kvno wins.
    let mut b = vec![5, 2];
    b.extend(((rec.len() + 4) as i32).to_be_bytes());
    b.extend(&rec);
    b.extend(70_000u32.to_be_bytes());
    assert_eq!(Keytab::parse(&b).unwrap().entries[0].kvno, 70_000);
    // Empty keytabs.
    assert!(Keytab::parse(&[5, 2]).unwrap().entries.is_empty());
    assert!(
        Keytab::parse(&[5, 2, 0, 0, 0, 0])
            .unwrap()
            .entries
            .is_empty()
    );
}

#[test]
fn big_lengths_and_bad_versions() {
    for (rec_len, what) in [
        (i32::MAX, "record"),
        (i32::MIN, "hole"),
        (-100, "hole"),
        (100, "record"),
    ] {
        let mut b = vec![5, 2];
        b.extend(rec_len.to_be_bytes());
        b.extend([0; 20]);
        match Keytab::parse(&b) {
            Err(KeytabError::Truncated { what: w, offset: 6 }) => assert_eq!(w, what),
            other => panic!("{rec_len}: {other:?}"),
        }
    }
    // Component count, realm length and key length beyond the record.
    let file = vector();
    for (at, value) in [(6usize, [0xffu8, 0xff]), (8, [0xff, 0xff]), (6, [0, 40])] {
        let mut b = file.clone();
        b[at..at + 2].copy_from_slice(&value);
        assert!(
            matches!(Keytab::parse(&b), Err(KeytabError::Truncated { .. })),
            "{at}"
        );
    }
    let key_len_at = 81 - 4 - 32 - 2;
    let mut b = file.clone();
    b[key_len_at..key_len_at + 2].copy_from_slice(&[0, 37]); // 36 bytes are left in the record
    assert!(matches!(
        Keytab::parse(&b),
        Err(KeytabError::Truncated { .. })
    ));
    for v in [[5u8, 3], [5, 0], [4, 2], [2, 5]] {
        let err = Keytab::parse(&v).unwrap_err();
        assert!(matches!(err, KeytabError::BadVersion(_)));
        assert!(err.to_string().contains("0x0502"));
    }
    assert!(matches!(
        Keytab::parse(&[]),
        Err(KeytabError::Truncated { .. })
    ));
    assert!(matches!(
        Keytab::parse(&[5, 2, 0, 0]),
        Err(KeytabError::Truncated { .. })
    ));
}

#[test]
fn version_1_native_order_is_read() {
    // v1: host byte order, realm counted in the component count, no name type.
    let mut rec = Vec::new();
    rec.extend(2u16.to_ne_bytes());
    for part in [&b"EXAMPLE.COM"[..], b"webapp01$"] {
        rec.extend((part.len() as u16).to_ne_bytes());
        rec.extend(part);
    }
    rec.extend(1_700_000_000u32.to_ne_bytes());
    rec.push(5);
    rec.extend(23u16.to_ne_bytes());
    rec.extend(16u16.to_ne_bytes());
    rec.extend([0xab; 16]);
    let mut b = vec![5, 1];
    b.extend((rec.len() as i32).to_ne_bytes());
    b.extend(&rec);
    let kt = Keytab::parse(&b).unwrap();
    let mut want = entry(&me(), 5, 23, &[0xab; 16]);
    want.principal.name_type = 0;
    assert_eq!(kt.entries, vec![want]);
    // Written back as v2.
    let v2 = kt.to_bytes();
    assert_eq!(&v2[..2], &[5, 2]);
    assert_eq!(Keytab::parse(&v2).unwrap(), kt);
    // A v1 count of 0 cannot include the realm.
    let mut bad = b.clone();
    bad[6..8].copy_from_slice(&0u16.to_ne_bytes());
    assert!(matches!(
        Keytab::parse(&bad),
        Err(KeytabError::Invalid { offset: 6, .. })
    ));
}

#[test]
fn round_trips_kvnos_enctypes_and_odd_names() {
    let odd = Principal {
        name_type: -1,
        components: vec![vec![], vec![0xff, 0xfe], b"HTTP".to_vec()],
        realm: vec![],
    };
    let kt = Keytab {
        entries: vec![
            entry(&me(), 300, 18, &[1; 32]),
            entry(&me(), 256, 17, &[2; 16]),
            entry(&me(), 0, 23, &[3; 16]),
            entry(&odd, 4_000_000_000, 65_535, &[]),
            entry(&me(), 3, 20, &[4; 8]), // aes256-sha384, unknown to AD
        ],
    };
    let b = kt.to_bytes();
    assert_eq!(Keytab::parse(&b).unwrap(), kt);
    // The 8-bit field holds the low byte of the kvno.
    assert_eq!(b[2 + 4 + 2 + 2 + 11 + 2 + 9 + 4 + 4], 300u32 as u8);
    let found = kt.find(&me(), None, None);
    let kvnos: Vec<u32> = found.iter().map(|e| e.kvno).collect();
    assert_eq!(kvnos, [300, 256, 3, 0]);
    assert_eq!(kt.principals(), vec![me(), odd.clone()]);
    assert_eq!(kt.find(&odd, Some(65_535), Some(4_000_000_000)).len(), 1);

    // Negative enctypes go out as 16-bit two's complement and come back unsigned, as in MIT.
    let neg = Keytab {
        entries: vec![entry(&me(), 1, -128, &[0; 16])],
    };
    assert_eq!(
        Keytab::parse(&neg.to_bytes()).unwrap().entries[0].enctype,
        0xff80
    );

    // Entries the format cannot hold: left out by to_bytes, an error from try_to_bytes.
    let big = Keytab {
        entries: vec![
            entry(&me(), 1, 18, &vec![0; 70_000]),
            entry(&me(), 1, 70_000, &[0; 16]),
            entry(&me(), 1, 18, &[0; 32]),
        ],
    };
    assert!(matches!(
        big.try_to_bytes(),
        Err(KeytabError::TooLarge { .. })
    ));
    let kept = Keytab::parse(&big.to_bytes()).unwrap();
    assert_eq!(kept.entries, big.entries[2..]);
}

#[test]
fn debug_redacts_keys() {
    let e = entry(&me(), 1, 18, &[0x5a; 32]);
    let s = format!("{e:?}");
    assert!(s.contains("redacted") && !s.contains("90"), "{s}");
    let kt = Keytab { entries: vec![e] };
    assert!(!format!("{kt:?}").contains("90,"));
}

/// A small deterministic PRNG (xorshift64*).
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
fn random_corruption_never_panics() {
    let file = vector();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..30_000 {
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
        if let Ok(kt) = Keytab::parse(&b) {
            assert_eq!(Keytab::parse(&kt.to_bytes()).unwrap(), kt);
        }
    }
    for _ in 0..30_000 {
        let len = rng.below(120);
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if b.len() >= 2 {
            b[0] = 5;
            b[1] = 1 + rng.below(2) as u8;
        }
        let _ = Keytab::parse(&b);
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keytab-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn write_is_atomic_with_exact_mode() {
    let dir = scratch("write");
    let path = dir.join("gmsa.keytab");
    let kt = Keytab::parse(&vector()).unwrap();
    kt.write(&path, 0o600).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    assert_eq!(fs::read(&path).unwrap(), vector());
    assert_eq!(Keytab::read(&path).unwrap(), kt);
    kt.write(&path, 0o640).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    assert_eq!(names_in(&dir), ["gmsa.keytab"]);

    // A failing rename (over a non-empty directory) leaves no temporary file.
    let occupied = dir.join("occupied");
    fs::create_dir(&occupied).unwrap();
    fs::write(occupied.join("x"), b"x").unwrap();
    assert!(matches!(
        kt.write(&occupied, 0o600),
        Err(KeytabError::Io { .. })
    ));
    assert_eq!(names_in(&dir), ["gmsa.keytab", "occupied"]);

    // An unrepresentable entry fails before anything is created.
    let big = Keytab {
        entries: vec![entry(&me(), 1, 18, &vec![0; 70_000])],
    };
    assert!(big.write(&dir.join("big.keytab"), 0o600).is_err());
    assert_eq!(names_in(&dir), ["gmsa.keytab", "occupied"]);

    let huge = dir.join("huge");
    fs::File::create(&huge)
        .unwrap()
        .set_len(krb5_proto::keytab::MAX_FILE_SIZE + 1)
        .unwrap();
    assert!(matches!(
        Keytab::read(&huge),
        Err(KeytabError::TooLarge { .. })
    ));
    let err = Keytab::read(&dir.join("missing")).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keytab_names() {
    let ok = |n: &str, p: &str| assert_eq!(resolve_path(Some(n)).unwrap(), Path::new(p));
    ok("FILE:/etc/krb5.keytab", "/etc/krb5.keytab");
    ok("WRFILE:/var/lib/gmsa.keytab", "/var/lib/gmsa.keytab");
    ok("/tmp/a:b", "/tmp/a:b");
    ok("rel.keytab", "rel.keytab");
    for bad in ["MEMORY:x", "KDB:", "FILE:", "WRFILE:", ""] {
        assert!(
            matches!(resolve_path(Some(bad)), Err(KeytabError::Unsupported(_))),
            "{bad}"
        );
    }
}

/// Run by `krb5_ktname_from_environment` in a child process.
#[test]
fn kt_env_child() {
    let Ok(expect) = std::env::var("KEYTAB_TEST_EXPECT") else {
        return;
    };
    let got = resolve_path(None);
    if expect == "ERR" {
        assert!(matches!(got, Err(KeytabError::Unsupported(_))));
    } else {
        assert_eq!(got.unwrap(), Path::new(&expect));
    }
}

#[test]
fn krb5_ktname_from_environment() {
    let exe = std::env::current_exe().unwrap();
    for (env, expect) in [
        (Some("FILE:/run/k.keytab"), "/run/k.keytab"),
        (Some("/run/k2.keytab"), "/run/k2.keytab"),
        (Some("MEMORY:k"), "ERR"),
        (Some(""), "/etc/krb5.keytab"),
        (None, "/etc/krb5.keytab"),
    ] {
        let mut cmd = Command::new(&exe);
        cmd.args(["--exact", "kt_env_child"])
            .env("KEYTAB_TEST_EXPECT", expect);
        match env {
            Some(v) => cmd.env("KRB5_KTNAME", v),
            None => cmd.env_remove("KRB5_KTNAME"),
        };
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{env:?}: {stdout}"
        );
    }
}
