//! The whole gMSA chain on the local Samba AD DC (`testenv/samba-dc.sh start`), measured in the same run:
//!
//! * upstream's process chain: MIT `kinit` for the user, `ldapsearch -Y GSSAPI` (sealed) for msDS-ManagedPassword,
//!   a decoder process (python3: base64 -> UTF-16 -> UTF-8 with U+FFFD, as upstream's .NET decoder does), then
//!   `kinit` for the gMSA with the password on stdin;
//! * one `gmsa fetch` process;
//! * the same chain in-process (krb5-proto + msds-gmsa), with our own CPU time measured so the rest — the
//!   DC's work and the loopback round trips — is the floor no client can go under.
//!
//! Prints medians and ratios. Target: `gmsa fetch` >= 10x faster than the upstream chain.

use benches::{median, ms, percentile, sample};
use krb5_proto::Principal;
use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::config::Krb5Conf;
use krb5_proto::transport::KdcAddr;
use msds_gmsa::{FetchOptions, GmsaLookup};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DECODER: &str = r#"
import base64, sys
b64 = ''
take = False
for line in sys.stdin.read().splitlines():
    if line.startswith('msDS-ManagedPassword::'):
        b64 = line.split('::', 1)[1].strip(); take = True
    elif take and line.startswith(' '):
        b64 += line[1:]
    else:
        take = False
blob = base64.b64decode(b64)
cur = int.from_bytes(blob[8:10], 'little')
end = cur
while blob[end:end + 2] != b'\x00\x00':
    end += 2
sys.stdout.buffer.write(blob[cur:end].decode('utf-16-le', 'replace').encode('utf-8') + b'\n')
"#;

/// Nanoseconds this thread has spent on a CPU (Linux schedstat).
fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        s.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(input) = stdin {
        child.stdin.as_mut().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let dir = PathBuf::from(base).join("samba");
    let env: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("testenv.json"))
            .expect("run `testenv/samba-dc.sh start` first"),
    )
    .unwrap();
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    let conf = s(&env["krb5_conf"]);
    let pw_file = s(&env["users"]["reader"]["password_file"]);
    let password = std::fs::read(&pw_file).unwrap();
    let gmsa_dn = s(&env["gmsa"]["dn"]);
    let dc_host = s(&env["dc_host"]);
    let scratch = dir.join("bench");
    std::fs::create_dir_all(&scratch).unwrap();
    let credspec = scratch.join("credspec.json");
    std::fs::write(
        &credspec,
        r#"{"CmsPlugins":["ActiveDirectory"],"DomainJoinConfig":{"DnsName":"example.test","NetBiosName":"EXAMPLE"},
           "ActiveDirectoryConfig":{"GroupManagedServiceAccounts":[{"Name":"WebApp01","Scope":"example.test"}]}}"#,
    )
    .unwrap();
    let gmsa = std::env::current_exe().unwrap().with_file_name("gmsa");
    assert!(
        gmsa.exists(),
        "build it first: cargo build --release --bin gmsa"
    );
    let (user_cc, gmsa_cc, our_cc) = (
        scratch.join("user-cc"),
        scratch.join("gmsa-cc"),
        scratch.join("our-cc"),
    );

    let upstream_chain = || {
        run(
            Command::new("kinit")
                .args(["-c", user_cc.to_str().unwrap(), "svc-fetcher@EXAMPLE.TEST"])
                .env("KRB5_CONFIG", &conf),
            Some(&[&password[..], b"\n"].concat()),
        );
        let ldif = run(
            Command::new("ldapsearch")
                .args([
                    "-LLL",
                    "-N",
                    "-Q",
                    "-Y",
                    "GSSAPI",
                    "-O",
                    "minssf=56",
                    "-H",
                    &format!("ldap://{dc_host}"),
                ])
                .args(["-b", &gmsa_dn, "-s", "base", "msDS-ManagedPassword"])
                .env("KRB5_CONFIG", &conf)
                .env("KRB5CCNAME", format!("FILE:{}", user_cc.display())),
            None,
        );
        let pw = run(Command::new("python3").args(["-c", DECODER]), Some(&ldif));
        run(
            Command::new("kinit")
                .args(["-c", gmsa_cc.to_str().unwrap(), "WebApp01$@EXAMPLE.TEST"])
                .env("KRB5_CONFIG", &conf),
            Some(&pw),
        );
    };
    let gmsa_fetch = || {
        run(
            Command::new(&gmsa)
                .args([
                    "fetch",
                    "--credspec",
                    credspec.to_str().unwrap(),
                    "--user",
                    "svc-fetcher@EXAMPLE.TEST",
                ])
                .args([
                    "--password-file",
                    &pw_file,
                    "--dc",
                    &dc_host,
                    "-c",
                    our_cc.to_str().unwrap(),
                ])
                .env("KRB5_CONFIG", &conf),
            None,
        );
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(Krb5Conf::load(conf.as_ref()).unwrap())
        .with_kdcs(vec![KdcAddr::parse("127.0.0.2:88").unwrap()]);
    let user = Principal::parse("svc-fetcher@EXAMPLE.TEST", None).unwrap();
    let opts = FetchOptions {
        dc: Some(dc_host.clone()),
        ..FetchOptions::default()
    };
    let lookup = GmsaLookup::SamAccountName("WebApp01$".into());
    let cpu = std::cell::RefCell::new(Vec::new());
    let in_process = || {
        let c0 = thread_cpu();
        rt.block_on(async {
            let t = Instant::now();
            let tgt = client
                .as_exchange(
                    user.clone(),
                    Secret::password(&password),
                    AsOptions::default(),
                )
                .await
                .unwrap();
            let t1 = t.elapsed();
            let f =
                msds_gmsa::fetch_managed_password(&client, &tgt, "example.test", &lookup, &opts)
                    .await
                    .unwrap();
            let t2 = t.elapsed();
            let tk = msds_gmsa::gmsa_tgt(
                &client,
                "EXAMPLE.TEST",
                &f.sam_account_name,
                &f.blob,
                &AsOptions::default(),
            )
            .await
            .unwrap();
            let t3 = t.elapsed();
            if std::env::var("BENCH_STEPS").is_ok() {
                eprintln!(
                    "user AS {:?}  ldap fetch {:?}  gmsa AS {:?}",
                    t1,
                    t2 - t1,
                    t3 - t2
                );
            }
            std::hint::black_box(tk);
        });
        cpu.borrow_mut().push(thread_cpu() - c0);
    };

    // Warm up each path once, then measure.
    upstream_chain();
    gmsa_fetch();
    in_process();
    cpu.borrow_mut().clear();
    let t0 = Instant::now();
    let up = sample(n, upstream_chain);
    let ours = sample(n, gmsa_fetch);
    let inproc = sample(n, in_process);
    let mut cpu = cpu.into_inner();
    cpu.sort();
    let (u, g, i, c) = (median(&up), median(&ours), median(&inproc), median(&cpu));
    println!(
        "gMSA chain on the local Samba 4.22 AD DC, {n} runs each ({:.1} s in all):",
        t0.elapsed().as_secs_f64()
    );
    println!(
        "  upstream chain (kinit + ldapsearch -Y GSSAPI + decoder + kinit): median {}  p90 {}",
        ms(u),
        ms(percentile(&up, 90.0))
    );
    println!(
        "  `gmsa fetch` process:                                           median {}  p90 {}",
        ms(g),
        ms(percentile(&ours, 90.0))
    );
    println!(
        "  in-process chain (krb5-proto + msds-gmsa):                      median {}  p90 {}",
        ms(i),
        ms(percentile(&inproc, 90.0))
    );
    println!(
        "    of which our CPU time: {}; the rest, {}, is the DC's work and loopback round trips (the floor)",
        ms(c),
        ms(i.saturating_sub(c))
    );
    println!(
        "  ratio upstream / gmsa fetch: {:.1}x (target >= 10x)",
        u.as_secs_f64() / g.as_secs_f64()
    );
    println!(
        "  ratio upstream / in-process: {:.1}x",
        u.as_secs_f64() / i.as_secs_f64()
    );
}
