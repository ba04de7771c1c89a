//! Captures real messages from the local MIT KDC (`testenv/mit-kdc.sh start`) into `fuzz/seeds/`,
//! so the fuzz targets start from what a real KDC sends: KRB-ERROR (pre-authentication required,
//! unknown principal), AS-REP, TGS-REP, plus MIT's own ccache and keytab files.

use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsExchange, AsOptions, AsStep, Secret};
use krb5_proto::rand::OsRng;
use krb5_proto::tgs_exchange::{TgsExchange, TgsOptions, TgsStep};
use krb5_proto::transport::{KdcAddr, KdcClient};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

fn save(root: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    println!("{target}/{name}: {} bytes", bytes.len());
}

fn main() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds"));
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let dir = PathBuf::from(base).join("mit");
    let env: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("testenv.json")).expect("testenv.json"),
    )
    .unwrap();
    let kdc = KdcClient::new(
        "MIT.TEST",
        vec![KdcAddr::parse(env["kdc"].as_str().unwrap()).unwrap()],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let send = |b: &[u8]| rt.block_on(kdc.send(b)).unwrap().bytes;

    let p = Principal::parse("aes256sha1@MIT.TEST", None).unwrap();
    let pw_file = env["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "aes256sha1@MIT.TEST")
        .unwrap()["password_file"]
        .as_str()
        .unwrap()
        .to_string();
    let pw = std::fs::read_to_string(pw_file)
        .unwrap()
        .trim_end_matches('\n')
        .to_string();
    let (mut pending, mut req) = AsExchange::new(p, Secret::password(&pw), AsOptions::default())
        .start(SystemTime::now(), &mut OsRng);
    save(&root, "asn1_kdc_reply", "as-req.der", &req.bytes);
    let mut round = 0;
    let tgt = loop {
        let reply = send(&req.bytes);
        let name = if reply.first() == Some(&0x7e) {
            format!("mit-krb-error-{round}.der")
        } else {
            "mit-as-rep.der".into()
        };
        save(&root, "asn1_kdc_reply", &name, &reply);
        save(&root, "as_exchange_reply", &name, &reply);
        if reply.first() == Some(&0x7e) {
            save(&root, "asn1_krb_error", &name, &reply);
        }
        round += 1;
        match pending
            .handle_reply(&reply, SystemTime::now(), &mut OsRng)
            .unwrap()
        {
            AsStep::Send(p, r) => (pending, req) = (*p, r),
            AsStep::Done(c) => break c,
        }
    };
    let unknown = Principal::parse("nobody@MIT.TEST", None).unwrap();
    let (_, req) = AsExchange::new(unknown, Secret::password("x"), AsOptions::default())
        .start(SystemTime::now(), &mut OsRng);
    let reply = send(&req.bytes);
    save(&root, "asn1_krb_error", "mit-principal-unknown.der", &reply);
    save(&root, "asn1_kdc_reply", "mit-principal-unknown.der", &reply);

    let svc = Principal::parse("HTTP/svc.mit.test@MIT.TEST", None).unwrap();
    let (pending, req) = TgsExchange::new(tgt, svc, TgsOptions::default())
        .start(SystemTime::now(), &mut OsRng)
        .unwrap();
    let reply = send(&req.bytes);
    save(&root, "asn1_kdc_reply", "mit-tgs-rep.der", &reply);
    assert!(matches!(
        pending.handle_reply(&reply).unwrap(),
        TgsStep::Done(_)
    ));

    if let Some(kt) = env["keytabs"]["keyuser"].as_str() {
        save(
            &root,
            "keytab_parse",
            "mit-kadmin.keytab",
            &std::fs::read(kt).unwrap(),
        );
    }
    save(
        &root,
        "krb5_conf",
        "client-krb5.conf",
        &std::fs::read(env["krb5_conf"].as_str().unwrap()).unwrap(),
    );
    // A ccache written by MIT kinit.
    let cc = dir.join("seed-cc");
    let mut child = std::process::Command::new("kinit")
        .args(["-c", cc.to_str().unwrap(), "aes256sha1@MIT.TEST"])
        .env("KRB5_CONFIG", env["krb5_conf"].as_str().unwrap())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("MIT kinit");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), format!("{pw}\n").as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    save(
        &root,
        "ccache_parse",
        "mit-kinit.ccache",
        &std::fs::read(&cc).unwrap(),
    );
}
