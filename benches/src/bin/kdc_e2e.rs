//! End to end on the local MIT KDC (`testenv/mit-kdc.sh start`), measured in the same run:
//! an in-process AS exchange vs one MIT `kinit` process for the same principal (target >= 5x faster),
//! and a `gmsa kinit` process vs a `kinit` process (target: faster).

use benches::{median, ms, percentile, sample};
use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::config::Krb5Conf;
use krb5_proto::transport::KdcAddr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let dir = PathBuf::from(base).join("mit");
    let env: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("testenv.json"))
            .expect("run `testenv/mit-kdc.sh start` first"),
    )
    .expect("testenv.json");
    let conf_path = env["krb5_conf"].as_str().expect("krb5_conf").to_string();
    let kdc = env["kdc"].as_str().expect("kdc").to_string();
    let entry = env["principals"]
        .as_array()
        .expect("principals")
        .iter()
        .find(|p| p["name"].as_str() == Some("aes256sha1@MIT.TEST"))
        .expect("aes256sha1 in testenv.json")
        .clone();
    let pw_file = entry["password_file"]
        .as_str()
        .expect("password_file")
        .to_string();
    let password = std::fs::read_to_string(&pw_file)
        .expect("password")
        .trim_end_matches('\n')
        .to_string();
    let principal = Principal::parse("aes256sha1@MIT.TEST", None).unwrap();
    let gmsa = std::env::var("GMSA_BIN").unwrap_or_else(|_| {
        let exe = std::env::current_exe().expect("own path");
        exe.with_file_name("gmsa").to_string_lossy().into_owned()
    });
    assert!(
        std::path::Path::new(&gmsa).exists(),
        "build the gmsa binary first: cargo build --release --bin gmsa ({gmsa})"
    );
    let scratch = dir.join("bench");
    std::fs::create_dir_all(&scratch).unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(Krb5Conf::load(conf_path.as_ref()).unwrap())
        .with_kdcs(vec![KdcAddr::parse(&kdc).unwrap()]);
    // Warm up both sides once (page cache, KDC database).
    rt.block_on(client.as_exchange(
        principal.clone(),
        Secret::password(&password),
        AsOptions::default(),
    ))
    .unwrap();

    let in_process = sample(n, || {
        rt.block_on(client.as_exchange(
            principal.clone(),
            Secret::password(&password),
            AsOptions::default(),
        ))
        .unwrap();
    });
    let mit_cc = scratch.join("mit-cc");
    let mit_kinit = sample(n, || {
        let mut child = Command::new("kinit")
            .args(["-c", mit_cc.to_str().unwrap(), "aes256sha1@MIT.TEST"])
            .env("KRB5_CONFIG", &conf_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("MIT kinit");
        child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kinit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    let our_cc = scratch.join("gmsa-cc");
    let gmsa_kinit = sample(n, || {
        let out = Command::new(&gmsa)
            .args([
                "kinit",
                "aes256sha1@MIT.TEST",
                "--password-file",
                &pw_file,
                "-c",
                our_cc.to_str().unwrap(),
            ])
            .env("KRB5_CONFIG", &conf_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gmsa kinit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    let (a, k, g) = (median(&in_process), median(&mit_kinit), median(&gmsa_kinit));
    println!(
        "AS exchange for aes256sha1@MIT.TEST on the local MIT krb5 KDC ({kdc}), {n} runs each:"
    );
    println!(
        "  in-process AS exchange (krb5-proto):  median {}  p90 {}",
        ms(a),
        ms(percentile(&in_process, 90.0))
    );
    println!(
        "  `gmsa kinit` process:                 median {}  p90 {}",
        ms(g),
        ms(percentile(&gmsa_kinit, 90.0))
    );
    println!(
        "  MIT `kinit` process:                  median {}  p90 {}",
        ms(k),
        ms(percentile(&mit_kinit, 90.0))
    );
    println!(
        "  ratio kinit / in-process: {:.1}x (target >= 5x)",
        k.as_secs_f64() / a.as_secs_f64()
    );
    println!(
        "  ratio kinit / gmsa kinit: {:.1}x (target > 1x)",
        k.as_secs_f64() / g.as_secs_f64()
    );
}
