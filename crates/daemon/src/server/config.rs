//! Daemon settings from flags, the environment and /etc/ecs/ecs.config (in that order of
//! precedence).

use super::lease::LeaseId;
use std::collections::HashMap;
use std::path::PathBuf;

/// Default socket path.
pub const DEFAULT_SOCKET: &str = "/var/credentials-fetcher/socket/credentials_fetcher.sock";
/// Default krbdir.
pub const DEFAULT_KRBDIR: &str = "/var/credentials-fetcher/krbdir";
/// How long an Add*/Renew* RPC may take by default (`CF_RPC_DEADLINE_SECS`): shorter than
/// the ECS agent's 20 s attempt, so a slow DC gets an answer (DEADLINE_EXCEEDED, retried by the
/// agent) before the agent gives up on the call, and the lease is rolled back, not leaked.
pub const DEFAULT_RPC_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);
/// The ECS agent's config file.
pub const ECS_CONFIG: &str = "/etc/ecs/ecs.config";
/// Set to `1` to accept a `CF_KRB5CC_MODE` that lets "other" read the ccaches (e.g. 644);
/// without it such a mode stops the daemon at start.
pub const ALLOW_WORLD_READABLE: &str = "CF_KRB5CC_MODE_ALLOW_WORLD_READABLE";

/// Settings given on the command line (each overrides the environment and ecs.config).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// Socket path.
    pub socket: Option<PathBuf>,
    /// krbdir.
    pub krbdir: Option<PathBuf>,
    /// Socket group (name or number).
    pub socket_group: Option<String>,
    /// ccache mode (octal string).
    pub ccache_mode: Option<String>,
    /// ccache group.
    pub ccache_group: Option<String>,
    /// Host keytab.
    pub keytab: Option<PathBuf>,
    /// Machine principal in the keytab.
    pub machine_principal: Option<String>,
    /// Domain controller(s).
    pub dc: Option<String>,
    /// DNS server for DC discovery (`--dns-server` / `CF_DNS_SERVER`).
    pub dns_server: Option<String>,
    /// AWS Secrets Manager secret name for domainless mode.
    pub aws_sm_secret_name: Option<String>,
    /// JSON file with the domainless user's credentials.
    pub domainless_secret_file: Option<PathBuf>,
    /// Credspec file for a lease at start-up (`path[:leaseid]`).
    pub cred_spec_file: Option<String>,
    /// `CF_GMSA_OU`.
    pub gmsa_ou: Option<String>,
    /// `CF_GMSA_DISTINGUISHED_NAME`.
    pub gmsa_dn: Option<String>,
    /// `--rpc-deadline-secs` / `CF_RPC_DEADLINE_SECS`.
    pub rpc_deadline_secs: Option<String>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Unix socket path.
    pub socket: PathBuf,
    /// Group of the socket (gid), when any.
    pub socket_gid: Option<u32>,
    /// krbdir.
    pub krbdir: PathBuf,
    /// Mode of ccache files.
    pub ccache_mode: u32,
    /// Group of ccache files, when any.
    pub ccache_gid: Option<u32>,
    /// Host keytab.
    pub keytab: PathBuf,
    /// Machine principal.
    pub machine_principal: Option<String>,
    /// Domain controller(s) (`DOMAIN_CONTROLLER_GMSA`): `host[:port]`, or several separated by
    /// commas, tried in that order; none: DNS SRV with AD sites (`msds_gmsa::dc`).
    pub dc: Option<String>,
    /// DNS server (`ip:port`) for the SRV/address look-ups of DCs and KDCs
    /// (`CF_DNS_SERVER`); none: the system's resolvers.
    pub dns_server: Option<std::net::SocketAddr>,
    /// `CF_GMSA_OU`.
    pub gmsa_ou: Option<String>,
    /// `CF_GMSA_DISTINGUISHED_NAME`.
    pub gmsa_dn: Option<String>,
    /// `CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA` / `--aws_sm_secret_name` (stored; the
    /// AWS call is not implemented yet).
    pub aws_sm_secret_name: Option<String>,
    /// Domainless credentials file (`CF_DOMAINLESS_SECRET_FILE`).
    pub domainless_secret_file: Option<PathBuf>,
    /// `CF_CRED_SPEC_FILE`: credspec path and optional lease id.
    pub cred_spec_file: Option<(PathBuf, Option<LeaseId>)>,
    /// Longest an Add*/Renew* RPC runs (`--rpc-deadline-secs` / `CF_RPC_DEADLINE_SECS`, seconds,
    /// default [`DEFAULT_RPC_DEADLINE`]); a caller's shorter `grpc-timeout` wins.
    pub rpc_deadline: std::time::Duration,
    /// Test hook `CF_TEST_RENEW_SECS`: renew every N seconds instead of from the ticket's life.
    pub test_renew_secs: Option<u64>,
    /// Test hook `CF_TEST_FAKE_TICKETS=1`: synthetic tickets, no KDC (for tests of the RPC layer).
    pub test_fake_tickets: bool,
}

/// Errors in the settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A bad value.
    #[error("{name}: {problem}")]
    Bad {
        /// The setting.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
}

fn bad(name: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Bad {
        name,
        problem: problem.into(),
    }
}

/// Parses an ecs.config-style file: `KEY=VALUE` lines; blank lines, `#` comments, an `export `
/// prefix and matching quotes around the value are allowed; lines without `=` are skipped.
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let mut v = v.trim();
        for q in ['"', '\''] {
            if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
                v = &v[1..v.len() - 1];
                break;
            }
        }
        out.insert(k.trim().to_string(), v.to_string());
    }
    out
}

/// Looks a group up by name in an /etc/group-format text; a number is taken as a gid.
pub fn resolve_group(name: &str, etc_group: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    etc_group.lines().find_map(|l| {
        let mut it = l.split(':');
        (it.next()? == name).then_some(())?;
        it.next()?;
        it.next()?.parse().ok()
    })
}

impl Config {
    /// Resolves settings: `flags`, then `env`, then `ecs_config` (the text of /etc/ecs/ecs.config),
    /// then defaults. `etc_group` is the text of /etc/group.
    pub fn resolve(
        flags: &Flags,
        env: &dyn Fn(&str) -> Option<String>,
        ecs_config: Option<&str>,
        etc_group: &str,
    ) -> Result<Self, ConfigError> {
        let ecs = ecs_config.map(parse_env_file).unwrap_or_default();
        let get = |k: &str| {
            env(k)
                .filter(|v| !v.is_empty())
                .or_else(|| ecs.get(k).filter(|v| !v.is_empty()).cloned())
        };
        let socket = match &flags.socket {
            Some(p) => p.clone(),
            None => match get("CREDENTIALS_FETCHER_HOST") {
                Some(h) => {
                    let p = h
                        .strip_prefix("unix://")
                        .or_else(|| h.strip_prefix("unix:"))
                        .unwrap_or(&h);
                    if !p.starts_with('/') {
                        return Err(bad(
                            "CREDENTIALS_FETCHER_HOST",
                            format!("{h:?} is not unix:///absolute/path"),
                        ));
                    }
                    PathBuf::from(p)
                }
                None => PathBuf::from(DEFAULT_SOCKET),
            },
        };
        let krbdir = flags
            .krbdir
            .clone()
            .or_else(|| get("CF_KRB_DIR").map(PathBuf::from))
            .unwrap_or(DEFAULT_KRBDIR.into());
        if !krbdir.is_absolute() {
            return Err(bad("CF_KRB_DIR", "must be an absolute path"));
        }
        // Upstream refuses metadata paths with these characters; keep our paths readable by it.
        if krbdir
            .to_string_lossy()
            .chars()
            .any(|c| "&:\\|*?<>`${}()\";".contains(c) || c.is_control())
        {
            return Err(bad(
                "CF_KRB_DIR",
                "must not contain any of & : \\ | * ? < > ` $ { } ( ) \" ;",
            ));
        }
        let group = |name: &'static str,
                     v: Option<String>,
                     default: Option<&str>|
         -> Result<Option<u32>, ConfigError> {
            match v {
                Some(g) if g == "none" => Ok(None),
                Some(g) => resolve_group(&g, etc_group)
                    .map(Some)
                    .ok_or_else(|| bad(name, format!("no group {g:?}"))),
                None => Ok(default.and_then(|d| resolve_group(d, etc_group))),
            }
        };
        let socket_gid = group(
            "--socket-group",
            flags
                .socket_group
                .clone()
                .or_else(|| get("CF_SOCKET_GROUP")),
            Some("ec2-user"),
        )?;
        let ccache_gid = group(
            "CF_KRB5CC_GID",
            flags.ccache_group.clone().or_else(|| get("CF_KRB5CC_GID")),
            None,
        )?;
        let ccache_mode = match flags.ccache_mode.clone().or_else(|| get("CF_KRB5CC_MODE")) {
            Some(m) => {
                let v = u32::from_str_radix(m.trim_start_matches("0o"), 8)
                    .map_err(|_| bad("CF_KRB5CC_MODE", format!("{m:?} is not octal")))?;
                if v & !0o777 != 0 || v & 0o002 != 0 || v & 0o400 == 0 {
                    return Err(bad(
                        "CF_KRB5CC_MODE",
                        format!("{m}: must be owner-readable and not world-writable"),
                    ));
                }
                if v & 0o004 != 0 {
                    let forced = get(ALLOW_WORLD_READABLE).is_some_and(|f| f.trim() == "1");
                    if !forced {
                        return Err(bad(
                            "CF_KRB5CC_MODE",
                            format!(
                                "{m} lets every local user (\"other\") read the tickets: use 640 with \
                                 CF_KRB5CC_GID=<the containers' group>, or set \
                                 {ALLOW_WORLD_READABLE}=1 to force it"
                            ),
                        ));
                    }
                    tracing::warn!(
                        mode = %format!("{v:o}"),
                        "{ALLOW_WORLD_READABLE}=1: ccaches are written readable by every local user"
                    );
                }
                v
            }
            None => 0o600,
        };
        let keytab = flags
            .keytab
            .clone()
            .or_else(|| {
                get("KRB5_KTNAME").map(|k| PathBuf::from(k.strip_prefix("FILE:").unwrap_or(&k)))
            })
            .unwrap_or_else(|| "/etc/krb5.keytab".into());
        let cred_spec_file = match flags
            .cred_spec_file
            .clone()
            .or_else(|| get("CF_CRED_SPEC_FILE"))
        {
            None => None,
            Some(v) => {
                let (p, id) = match v.rsplit_once(':') {
                    Some((p, id)) => (
                        p.to_string(),
                        Some(
                            LeaseId::parse(id)
                                .map_err(|e| bad("CF_CRED_SPEC_FILE", e.to_string()))?,
                        ),
                    ),
                    None => (v.clone(), None),
                };
                Some((PathBuf::from(p), id))
            }
        };
        let rpc_deadline = match flags
            .rpc_deadline_secs
            .clone()
            .or_else(|| get("CF_RPC_DEADLINE_SECS"))
        {
            None => DEFAULT_RPC_DEADLINE,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(s) if s > 0.0 && s <= 600.0 => std::time::Duration::from_secs_f64(s),
                _ => {
                    return Err(bad(
                        "CF_RPC_DEADLINE_SECS",
                        format!("{v:?}: give seconds, more than 0 and at most 600"),
                    ));
                }
            },
        };
        let dns_server = match flags.dns_server.clone().or_else(|| get("CF_DNS_SERVER")) {
            None => None,
            Some(v) => Some(v.trim().parse::<std::net::SocketAddr>().map_err(|_| {
                bad(
                    "CF_DNS_SERVER",
                    format!("{v:?}: give an IP address and port, e.g. 10.0.0.2:53"),
                )
            })?),
        };
        Ok(Self {
            dns_server,
            socket,
            socket_gid,
            krbdir,
            ccache_mode,
            ccache_gid,
            keytab,
            machine_principal: flags
                .machine_principal
                .clone()
                .or_else(|| get("CF_MACHINE_PRINCIPAL")),
            dc: flags.dc.clone().or_else(|| get("DOMAIN_CONTROLLER_GMSA")),
            gmsa_ou: flags.gmsa_ou.clone().or_else(|| get("CF_GMSA_OU")),
            gmsa_dn: flags
                .gmsa_dn
                .clone()
                .or_else(|| get("CF_GMSA_DISTINGUISHED_NAME")),
            aws_sm_secret_name: flags
                .aws_sm_secret_name
                .clone()
                .or_else(|| get("CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA")),
            domainless_secret_file: flags
                .domainless_secret_file
                .clone()
                .or_else(|| get("CF_DOMAINLESS_SECRET_FILE").map(PathBuf::from)),
            cred_spec_file,
            rpc_deadline,
            test_renew_secs: get("CF_TEST_RENEW_SECS")
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0),
            test_fake_tickets: get("CF_TEST_FAKE_TICKETS").is_some_and(|v| v == "1"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_config_is_read_robustly() {
        let text = "# comment\n\nECS_CLUSTER=x\n  DOMAIN_CONTROLLER_GMSA = \"dc1.example.test\"\nnot a pair\nexport CF_GMSA_OU='OU=x,DC=y'\nCREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA=aws/secret\n";
        let env = |k: &str| (k == "CF_GMSA_OU").then(|| "OU=env".to_string());
        let c = Config::resolve(&Flags::default(), &env, Some(text), "ec2-user:x:1000:\n").unwrap();
        assert_eq!(c.dc.as_deref(), Some("dc1.example.test"));
        assert_eq!(c.gmsa_ou.as_deref(), Some("OU=env"), "environment wins");
        assert_eq!(c.aws_sm_secret_name.as_deref(), Some("aws/secret"));
        assert_eq!(c.socket_gid, Some(1000));
        assert_eq!(c.socket, PathBuf::from(DEFAULT_SOCKET));
        assert_eq!(c.ccache_mode, 0o600);
        assert_eq!(c.rpc_deadline, DEFAULT_RPC_DEADLINE);
        let flags = Flags {
            dc: Some("flag".into()),
            ..Flags::default()
        };
        assert_eq!(
            Config::resolve(&flags, &env, Some(text), "")
                .unwrap()
                .dc
                .as_deref(),
            Some("flag")
        );
    }

    #[test]
    fn env_values() {
        let env = |k: &str| match k {
            "CREDENTIALS_FETCHER_HOST" => Some("unix:///tmp/x.sock".to_string()),
            "CF_KRB_DIR" => Some("/tmp/krb".to_string()),
            "CF_CRED_SPEC_FILE" => Some("/etc/spec.json:0123456789abcdef0123".to_string()),
            "KRB5_KTNAME" => Some("FILE:/tmp/kt".to_string()),
            "CF_KRB5CC_MODE" => Some("640".to_string()),
            "CF_RPC_DEADLINE_SECS" => Some("2.5".to_string()),
            _ => None,
        };
        let c = Config::resolve(&Flags::default(), &env, None, "").unwrap();
        assert_eq!(c.socket, PathBuf::from("/tmp/x.sock"));
        assert_eq!(c.krbdir, PathBuf::from("/tmp/krb"));
        assert_eq!(c.rpc_deadline, std::time::Duration::from_millis(2500));
        assert_eq!(c.keytab, PathBuf::from("/tmp/kt"));
        assert_eq!(c.ccache_mode, 0o640);
        let (p, id) = c.cred_spec_file.unwrap();
        assert_eq!(p, PathBuf::from("/etc/spec.json"));
        assert_eq!(id.unwrap().as_str(), "0123456789abcdef0123");
        assert_eq!(c.socket_gid, None);
        for (k, v) in [
            ("CF_KRB5CC_MODE", "666"),
            ("CF_KRB5CC_MODE", "x"),
            ("CF_KRB_DIR", "rel"),
            ("CF_KRB_DIR", "/a:b"),
            ("CREDENTIALS_FETCHER_HOST", "tcp://x"),
        ] {
            let env = |key: &str| (key == k).then(|| v.to_string());
            assert!(
                Config::resolve(&Flags::default(), &env, None, "").is_err(),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn world_readable_ccache_modes_need_the_force_setting() {
        for mode in ["644", "604", "444", "0o644"] {
            let env = |k: &str| (k == "CF_KRB5CC_MODE").then(|| mode.to_string());
            let e = Config::resolve(&Flags::default(), &env, None, "").unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains(ALLOW_WORLD_READABLE) && text.contains("other"),
                "{mode}: {text}"
            );
            let forced = |k: &str| match k {
                "CF_KRB5CC_MODE" => Some(mode.to_string()),
                ALLOW_WORLD_READABLE => Some("1".to_string()),
                _ => None,
            };
            let c = Config::resolve(&Flags::default(), &forced, None, "").unwrap();
            assert_eq!(c.ccache_mode & 0o004, 0o004, "{mode}");
            let not_one = |k: &str| match k {
                "CF_KRB5CC_MODE" => Some(mode.to_string()),
                ALLOW_WORLD_READABLE => Some("yes".to_string()),
                _ => None,
            };
            assert!(Config::resolve(&Flags::default(), &not_one, None, "").is_err());
        }
        // Group-readable is fine without it; so is the flag form.
        let env = |k: &str| (k == "CF_KRB5CC_MODE").then(|| "640".to_string());
        assert_eq!(
            Config::resolve(&Flags::default(), &env, None, "")
                .unwrap()
                .ccache_mode,
            0o640
        );
        let flags = Flags {
            ccache_mode: Some("644".into()),
            ..Flags::default()
        };
        assert!(Config::resolve(&flags, &|_| None, None, "").is_err());
    }

    #[test]
    fn groups() {
        let g = "root:x:0:\nec2-user:x:1000:a,b\n";
        assert_eq!(resolve_group("ec2-user", g), Some(1000));
        assert_eq!(resolve_group("42", g), Some(42));
        assert_eq!(resolve_group("nobody", g), None);
    }
}
