//! The daemon's clock 10 minutes ahead of, and 10 minutes behind, the real Samba AD DC (issue 9,
//! fault-injection suite), shifted with libfaketime (`LD_PRELOAD` of `libfaketime.so.1` with
//! `FAKETIME=±10m`; the test daemon binary is dynamically linked; `testenv/clients.sh install`
//! installs Debian's `libfaketime`). MIT's default `clockskew` is 5 minutes, so every exchange
//! stamped with the local clock is refused with KRB_AP_ERR_SKEW until the daemon uses the KDC's
//! time from the error (MIT's `kdc_timesync`).
//!
//! - the shift is real: the daemon's log timestamps are 10 minutes off the test's clock;
//! - an add succeeds (AS pre-authentication, the TGS exchange for `ldap/<dc>`, the sealed LDAP
//!   bind and the gMSA's own login all on KDC time) and MIT `klist` reads the ccache, whose
//!   ticket starts at the KDC's (the test's) time;
//! - the renewal is scheduled on the KDC's time: the daemon's "next renewal scheduled" log
//!   line gives the delay, and the instant (the add's answer + that delay, on the test's clock,
//!   which is the KDC's) lies within 50-75 % of the ticket's life. krb5.conf sets
//!   `ticket_lifetime = 20m` so that a schedule on the local clock (10 minutes early or late)
//!   falls outside that window;
//! - RenewNonDomainJoinedKerberosLease and delete work.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod common;
use common::Daemon;

/// The ticket lifetime asked for in the test's krb5.conf.
const LIFETIME: i64 = 20 * 60;

/// libfaketime's preloaded library (Debian's path; `FAKETIME_LIB` overrides it).
fn faketime_lib() -> PathBuf {
    let candidates = [
        std::env::var("FAKETIME_LIB").unwrap_or_default(),
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1".into(),
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1".into(),
        "/usr/lib/faketime/libfaketime.so.1".into(),
    ];
    candidates
        .iter()
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("libfaketime is missing ({candidates:?}); run `testenv/clients.sh install`")
        })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Unix seconds of the `YYYY-MM-DDTHH:MM:SS` prefix of a log line (tracing's UTC timestamp).
fn log_time(line: &str) -> Option<i64> {
    let b = line.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| line.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

use common::reader_add_request as add_request;

/// The Samba DC's krb5.conf with `ticket_lifetime` added to `[libdefaults]`.
fn krb5_conf(env: &serde_json::Value, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(env["krb5_conf"].as_str().unwrap()).unwrap();
    assert!(text.contains("[libdefaults]"), "{text}");
    let conf = dir.join("krb5.conf");
    std::fs::write(
        &conf,
        text.replacen(
            "[libdefaults]",
            &format!("[libdefaults]\n\tticket_lifetime = {LIFETIME}s"),
            1,
        ),
    )
    .unwrap();
    conf
}

/// The "next renewal scheduled" delays (seconds) the log gives for `lease`.
fn scheduled(log: &str, lease: &str) -> Vec<i64> {
    log.lines()
        .filter(|l| l.contains("next renewal scheduled") && l.contains(lease))
        .filter_map(|l| {
            l.split("in_secs=")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

async fn skewed(offset_secs: i64) {
    let env = common::TestEnv::samba_dc().json;
    let dir = tempfile::tempdir().unwrap();
    let conf = krb5_conf(&env, dir.path());
    let socket = dir.path().join("cf.sock");
    let mut cmd = Daemon::command(&socket, &dir.path().join("krbdir"));
    cmd.args(["--dc", env["dc_host"].as_str().unwrap()])
        .env("KRB5_CONFIG", &conf)
        .env("LD_PRELOAD", faketime_lib())
        .env("FAKETIME", format!("{offset_secs:+}"))
        // Tokio's timers stay on the real monotonic clock.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("FAKETIME_NO_CACHE", "1");
    common::log_to_file(&mut cmd, dir.path());
    let d = Daemon::spawn(cmd, &socket);
    let log = || common::daemon_log(dir.path());

    // 1. The daemon's clock is really shifted.
    let t = now();
    let first = log();
    let daemon_time = first
        .lines()
        .find_map(log_time)
        .unwrap_or_else(|| panic!("a timestamped log line:\n{first}"));
    assert!(
        (daemon_time - t - offset_secs).abs() < 30,
        "libfaketime shifts the daemon's clock by {offset_secs} s: its log says {daemon_time}, the test's clock {t}\n{first}"
    );

    // 2. An add succeeds: every exchange recovers from KRB_AP_ERR_SKEW.
    let mut c = connect(&d.socket).await.unwrap();
    let r = c
        .add_non_domain_joined_kerberos_lease(add_request(&env))
        .await
        .unwrap_or_else(|e| panic!("add with the clock {offset_secs:+} s off: {e:?}\n{}", log()))
        .into_inner();
    let answered = now();
    let path = &r.created_kerberos_file_paths[0];
    let listing = common::klist_lease(env["krb5_conf"].as_str().unwrap(), path);
    assert!(listing.contains("krbtgt/"), "{listing}");
    let cc = ccache::Ccache::read(&Path::new(path).join("krb5cc")).unwrap();
    let tgt = cc.tickets().next().expect("a ticket");
    let start = if tgt.starttime == 0 {
        tgt.authtime
    } else {
        tgt.starttime
    } as i64;
    let end = tgt.endtime as i64;
    eprintln!(
        "offset {offset_secs:+} s: ticket {start}..{end} ({} s), answered at {answered}",
        end - start
    );
    assert!(
        (start - answered).abs() < 60,
        "the ticket starts on the KDC's time ({start}), the test's clock says {answered}"
    );
    assert!(
        end - start <= LIFETIME + 60 && end - start >= LIFETIME / 2,
        "ticket_lifetime = {LIFETIME}s is asked: {start}..{end}"
    );

    // 3. The renewal is scheduled on the KDC's time (depends on the daemon computing the
    //    schedule from KDC-corrected time).
    let mut delays = scheduled(&log(), &r.lease_id);
    for _ in 0..50 {
        if !delays.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        delays = scheduled(&log(), &r.lease_id);
    }
    let delay = *delays.first().unwrap_or_else(|| {
        panic!(
            "a \"next renewal scheduled\" line for the lease:\n{}",
            log()
        )
    });
    let at = answered + delay;
    let life = end - start;
    let (lo, hi) = (start + life / 2, start + life * 3 / 4);
    eprintln!(
        "offset {offset_secs:+} s: renewal in {delay} s, at {at} (KDC time); window {lo}..{hi}"
    );
    assert!(
        at >= lo - 10 && at <= hi + 10,
        "the renewal is scheduled on the KDC's time: at {at} = the answer {answered} + {delay} s, \
         want 50-75 % of the ticket's life {lo}..{hi} (a schedule on the daemon's clock is {offset_secs:+} s off)\n{}",
        log()
    );

    // 4. Renew and delete work too.
    let before = std::fs::metadata(Path::new(path).join("krb5cc"))
        .unwrap()
        .modified()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let renewed = c
        .renew_non_domain_joined_kerberos_lease(common::reader_renew_request(&env))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "renew with the clock {offset_secs:+} s off: {e:?}\n{}",
                log()
            )
        })
        .into_inner();
    assert_eq!(renewed.renewed_kerberos_file_paths.len(), 1, "{renewed:?}");
    let after = std::fs::metadata(Path::new(path).join("krb5cc"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(after > before, "the renew rewrote the ccache");
    common::klist_lease(env["krb5_conf"].as_str().unwrap(), path);
    c.delete_kerberos_lease(DeleteKerberosLeaseRequest {
        lease_id: r.lease_id.clone(),
    })
    .await
    .unwrap();
    assert!(d.leases().is_empty(), "{:?}", d.leases());
}

/// The daemon's clock 10 minutes ahead of the DC's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_10_minutes_ahead_adds_and_renews_on_kdc_time() {
    skewed(600).await;
}

/// The daemon's clock 10 minutes behind the DC's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_10_minutes_behind_adds_and_renews_on_kdc_time() {
    skewed(-600).await;
}
