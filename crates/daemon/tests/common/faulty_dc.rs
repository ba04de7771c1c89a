//! The real Samba AD DC behind our fault proxies ([`super::proxy`]), and a daemon pointed at
//! them: the KDC proxy listens on its own loopback address (krb5.conf `kdc = <ip>:<port>`), the
//! LDAP proxy on a free port of the DC's own address 127.0.0.2 and the daemon is given
//! `--dc dc1.example.test:<port>`: the LDAP service ticket is for `ldap/<the DC name as given>`,
//! so the name must stay the DC's (/etc/hosts maps it to 127.0.0.2), only the port is the
//! proxy's.
#![allow(dead_code)] // each test file uses a different part

use super::Daemon;
use super::proxy::{Faults, Proxy};
use std::path::Path;
use std::process::Command;

/// The DC's KDC (88, TCP and UDP) and LDAP (389) ports behind fault proxies.
pub struct FaultyDc {
    /// In front of the KDC.
    pub kdc: Proxy,
    /// In front of LDAP.
    pub ldap: Proxy,
}

impl FaultyDc {
    /// Both proxies with `faults`; the KDC proxy on `kdc_ip` (a loopback address of the
    /// test's own, e.g. `127.0.0.9`).
    pub async fn start(kdc_ip: &str, faults: Faults) -> Self {
        Self {
            kdc: Proxy::start(
                format!("{kdc_ip}:0").parse().unwrap(),
                "127.0.0.2:88".parse().unwrap(),
                faults,
            )
            .await,
            ldap: Proxy::start(
                "127.0.0.2:0".parse().unwrap(),
                "127.0.0.2:389".parse().unwrap(),
                faults,
            )
            .await,
        }
    }

    /// The same faults on both.
    pub fn set(&self, f: Faults) {
        self.kdc.set(f);
        self.ldap.set(f);
    }

    /// The DC "dies" (both proxies close everything, connections are refused).
    pub async fn down(&mut self) {
        self.kdc.down().await;
        self.ldap.down().await;
    }

    /// The DC is back.
    pub async fn up(&mut self) {
        self.kdc.up().await;
        self.ldap.up().await;
    }

    /// Writes `dir/krb5.conf` for the realm of `env` with the KDC proxy as its only KDC
    /// (`udp`: small requests over UDP, else TCP only) and starts a daemon on `dir/cf.sock`
    /// with leases under `dir/krbdir`, its log in `dir/daemon.log`, `extra` in its environment.
    pub fn daemon(
        &self,
        dir: &Path,
        env: &serde_json::Value,
        udp: bool,
        extra: &[(&str, &str)],
    ) -> Daemon {
        let mut cmd = self.command(dir, &dir.join("krbdir"), env, udp, extra);
        super::log_to_file(&mut cmd, dir);
        Daemon::spawn(cmd, &dir.join("cf.sock"))
    }

    /// The command [`FaultyDc::daemon`] spawns, with leases under `krbdir` (its log not set
    /// up yet).
    pub fn command(
        &self,
        dir: &Path,
        krbdir: &Path,
        env: &serde_json::Value,
        udp: bool,
        extra: &[(&str, &str)],
    ) -> Command {
        let conf = dir.join("krb5.conf");
        let realm = env["realm"].as_str().unwrap();
        let udp_limit = if udp {
            ""
        } else {
            "\tudp_preference_limit = 1\n"
        };
        std::fs::write(
            &conf,
            format!(
                "[libdefaults]\n\tdefault_realm = {realm}\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n\trdns = false\n{udp_limit}[realms]\n\t{realm} = {{\n\t\tkdc = {}\n\t}}\n",
                self.kdc.addr()
            ),
        )
        .unwrap();
        let mut cmd = Daemon::command(&dir.join("cf.sock"), krbdir);
        cmd.args([
            "--dc",
            &format!(
                "{}:{}",
                env["dc_host"].as_str().unwrap(),
                self.ldap.addr().port()
            ),
        ])
        .env("KRB5_CONFIG", &conf);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }
}
