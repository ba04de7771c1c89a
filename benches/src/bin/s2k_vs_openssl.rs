//! Our aes256 string-to-key (PBKDF2-HMAC-SHA1, 4096 iterations, + DK) against OpenSSL's PBKDF2 through
//! python3's hashlib, measured in the same run. Target: within 1.5x of OpenSSL.

use benches::{median, ms, sample};
use krb5_proto::crypto::{EncType, Key};
use std::process::Command;
use std::time::Duration;

fn main() {
    let n = 200;
    let ours = sample(n, || {
        std::hint::black_box(
            Key::from_password(
                EncType::Aes256CtsHmacSha196,
                b"password",
                b"EXAMPLE.TESTuser",
                None,
            )
            .unwrap(),
        );
    });
    let script = format!(
        "import hashlib,time,ssl\n\
         ts=[]\n\
         for _ in range({n}):\n t=time.perf_counter(); hashlib.pbkdf2_hmac('sha1', b'password', b'EXAMPLE.TESTuser', 4096, 32); ts.append(time.perf_counter()-t)\n\
         ts.sort(); print(ts[len(ts)//2]); print(ssl.OPENSSL_VERSION)"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 is installed");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let theirs = Duration::from_secs_f64(
        lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("median from python"),
    );
    let version = lines.next().unwrap_or("OpenSSL");
    let o = median(&ours);
    println!("aes256 string-to-key, 4096 iterations, median of {n}:");
    println!("  ours (RustCrypto pbkdf2/sha1 + DK):        {}", ms(o));
    println!("  {version} PBKDF2 via hashlib: {}", ms(theirs));
    println!(
        "  ratio ours/openssl: {:.2}x (target <= 1.5x)",
        o.as_secs_f64() / theirs.as_secs_f64()
    );
}
