//! Which encryption types a login may use: krb5.conf `[libdefaults]` `permitted_enctypes`,
//! `default_tkt_enctypes`, `default_tgs_enctypes` and `allow_rc4`, with MIT krb5's names.
//!
//! * An enctype list is MIT's syntax: names separated by spaces or commas, each optionally
//!   prefixed `+` (add, the default) or `-` (remove). `DEFAULT` stands for the default list;
//!   the family names `aes`, `aes-sha1`, `aes-sha2` and `rc4` stand for their members. Names
//!   this crate does not implement (des3, camellia, ...) are ignored, as MIT ignores unknown
//!   names.
//! * `permitted_enctypes` defaults to `DEFAULT`; `default_tkt_enctypes` (AS requests) and
//!   `default_tgs_enctypes` (TGS requests) default to `permitted_enctypes` (MIT 1.18 and
//!   later), and are always narrowed to it.
//! * RC4 (`arcfour-hmac`, etype 23): MIT 1.21 added `allow_rc4`, default *false*, and
//!   announced it will come to govern RC4 the way `allow_weak_crypto` governs weak enctypes.
//!   Here that is already so: `DEFAULT` holds RC4 only with `allow_rc4 = true`; with
//!   `allow_rc4` unset, RC4 is used only when an enctype list names it explicitly
//!   (`arcfour-hmac`, `rc4-hmac`, `arcfour-hmac-md5` or the family `rc4`); with
//!   `allow_rc4 = false` it is never used, whatever the lists say. So without any setting a
//!   login offers and accepts AES only, and a KDC (or a machine in the middle) cannot make the
//!   client encrypt a timestamp under the NT hash.
//!
//! ```
//! use krb5_proto::config::Krb5Conf;
//! use krb5_proto::crypto::EncType;
//! use krb5_proto::etype_policy::EnctypePolicy;
//!
//! let default = EnctypePolicy::default();
//! assert!(!default.permits(EncType::Rc4Hmac));
//! assert_eq!(default.tkt_enctypes()[0], EncType::Aes256CtsHmacSha196);
//!
//! let conf = Krb5Conf::parse("[libdefaults]\n allow_rc4 = true\n")?;
//! assert!(EnctypePolicy::from_conf(&conf)?.permits(EncType::Rc4Hmac));
//! # Ok::<(), krb5_proto::config::ConfigError>(())
//! ```

use crate::config::{ConfigError, Krb5Conf};
use crate::crypto::EncType;

/// The enctypes of MIT's `DEFAULT` that this crate implements, strongest first, without RC4.
const DEFAULT_NO_RC4: [EncType; 4] = [
    EncType::Aes256CtsHmacSha196,
    EncType::Aes128CtsHmacSha196,
    EncType::Aes256CtsHmacSha384192,
    EncType::Aes128CtsHmacSha256128,
];

/// The enctypes a client may offer and accept, from krb5.conf (see the [module](self) docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnctypePolicy {
    permitted: Vec<EncType>,
    tkt: Vec<EncType>,
    tgs: Vec<EncType>,
    allow_rc4: Option<bool>,
    /// `permitted_enctypes` or `default_tkt_enctypes` is set.
    lists_set: bool,
}

impl Default for EnctypePolicy {
    /// MIT's defaults with RC4 off: 18, 17, 20, 19 for everything.
    fn default() -> Self {
        Self {
            permitted: DEFAULT_NO_RC4.to_vec(),
            tkt: DEFAULT_NO_RC4.to_vec(),
            tgs: DEFAULT_NO_RC4.to_vec(),
            allow_rc4: None,
            lists_set: false,
        }
    }
}

impl EnctypePolicy {
    /// Every enctype this crate implements, RC4 included: for tests and tools that must reach
    /// any key (never the default of a login).
    pub fn allow_all() -> Self {
        Self {
            permitted: EncType::ALL.to_vec(),
            tkt: EncType::ALL.to_vec(),
            tgs: EncType::ALL.to_vec(),
            allow_rc4: Some(true),
            lists_set: false,
        }
    }

    /// The policy of a krb5.conf's `[libdefaults]`.
    ///
    /// Errors: a list that leaves no enctype this crate implements (e.g.
    /// `permitted_enctypes = des3-cbc-sha1`, or only `arcfour-hmac` with `allow_rc4 = false`).
    pub fn from_conf(conf: &Krb5Conf) -> Result<Self, ConfigError> {
        let allow_rc4 = conf.libdefault_bool("allow_rc4");
        let default = default_list(allow_rc4);
        let permitted = match conf.libdefault("permitted_enctypes") {
            Some(v) => parse_list(v, &default, allow_rc4),
            None => default,
        };
        let narrowed = |key: &str| match conf.libdefault(key) {
            Some(v) => {
                let mut list = parse_list(v, &permitted, allow_rc4);
                list.retain(|e| permitted.contains(e));
                list
            }
            None => permitted.clone(),
        };
        let tkt = narrowed("default_tkt_enctypes");
        let tgs = narrowed("default_tgs_enctypes");
        for (key, list) in [
            ("permitted_enctypes", &permitted),
            ("default_tkt_enctypes", &tkt),
            ("default_tgs_enctypes", &tgs),
        ] {
            if list.is_empty() {
                return Err(ConfigError::NoEnctypes {
                    setting: key.to_owned(),
                    value: conf.libdefault(key).unwrap_or("DEFAULT").to_owned(),
                    allow_rc4,
                });
            }
        }
        let lists_set = conf.libdefault("permitted_enctypes").is_some()
            || conf.libdefault("default_tkt_enctypes").is_some();
        Ok(Self {
            permitted,
            tkt,
            tgs,
            allow_rc4,
            lists_set,
        })
    }

    /// Whether `etype` may be used at all (for a key, a session key or a reply).
    pub fn permits(&self, etype: EncType) -> bool {
        self.permitted.contains(&etype)
    }

    /// The permitted enctypes in preference order.
    pub fn permitted(&self) -> &[EncType] {
        &self.permitted
    }

    /// The enctypes to offer in an AS-REQ, in preference order.
    pub fn tkt_enctypes(&self) -> &[EncType] {
        &self.tkt
    }

    /// The enctypes to offer in a TGS-REQ, in preference order.
    pub fn tgs_enctypes(&self) -> &[EncType] {
        &self.tgs
    }

    /// What a person should change so that `etype` is used, naming the setting:
    /// `set allow_rc4 = true in [libdefaults] of krb5.conf to permit it`.
    pub fn how_to_enable(&self, etype: EncType) -> String {
        let name = etype.name();
        if etype == EncType::Rc4Hmac {
            let lists = "add arcfour-hmac to permitted_enctypes and default_tkt_enctypes";
            return match (self.allow_rc4, self.lists_set) {
                (Some(false), false) => "set allow_rc4 = true (it is false) in [libdefaults] of \
                                         krb5.conf to permit it"
                    .to_owned(),
                (Some(false), true) => format!(
                    "set allow_rc4 = true (it is false) and {lists} in [libdefaults] of \
                     krb5.conf to permit it"
                ),
                (_, true) => format!(
                    "{lists} in [libdefaults] of krb5.conf (or set allow_rc4 = true where \
                     they say DEFAULT) to permit it"
                ),
                (_, false) => {
                    "set allow_rc4 = true in [libdefaults] of krb5.conf to permit it".to_owned()
                }
            };
        }
        format!(
            "add {name} to permitted_enctypes and default_tkt_enctypes in [libdefaults] of \
             krb5.conf to permit it"
        )
    }
}

fn default_list(allow_rc4: Option<bool>) -> Vec<EncType> {
    let mut v = DEFAULT_NO_RC4.to_vec();
    if allow_rc4 == Some(true) {
        v.push(EncType::Rc4Hmac);
    }
    v
}

/// The members of one list entry (without its `+`/`-`).
fn expand(name: &str, default: &[EncType]) -> Vec<EncType> {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "default" => default.to_vec(),
        "aes" => DEFAULT_NO_RC4.to_vec(),
        "aes-sha1" => vec![EncType::Aes256CtsHmacSha196, EncType::Aes128CtsHmacSha196],
        "aes-sha2" => vec![
            EncType::Aes256CtsHmacSha384192,
            EncType::Aes128CtsHmacSha256128,
        ],
        "rc4" => vec![EncType::Rc4Hmac],
        _ => EncType::from_name(name).into_iter().collect(),
    }
}

/// Parses an MIT enctype list; `default` is what `DEFAULT` means here.
fn parse_list(value: &str, default: &[EncType], allow_rc4: Option<bool>) -> Vec<EncType> {
    let mut out: Vec<EncType> = Vec::new();
    for token in value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
    {
        let (remove, name) = match token.as_bytes().first() {
            Some(b'-') => (true, token.get(1..).unwrap_or("")),
            Some(b'+') => (false, token.get(1..).unwrap_or("")),
            _ => (false, token),
        };
        for e in expand(name, default) {
            if remove {
                out.retain(|x| *x != e);
            } else if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    if allow_rc4 == Some(false) {
        out.retain(|e| *e != EncType::Rc4Hmac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use EncType::*;

    fn policy(libdefaults: &str) -> Result<EnctypePolicy, ConfigError> {
        EnctypePolicy::from_conf(&Krb5Conf::parse(&format!(
            "[libdefaults]\n{libdefaults}\n"
        ))?)
    }

    const AES: [EncType; 4] = [
        Aes256CtsHmacSha196,
        Aes128CtsHmacSha196,
        Aes256CtsHmacSha384192,
        Aes128CtsHmacSha256128,
    ];

    #[test]
    fn nothing_set_is_aes_only() {
        let p = policy("").unwrap();
        assert_eq!(p, EnctypePolicy::default());
        assert_eq!(p.tkt_enctypes(), AES);
        assert_eq!(p.tgs_enctypes(), AES);
        assert!(!p.permits(Rc4Hmac));
    }

    #[test]
    fn allow_rc4_true_adds_rc4_to_default_last() {
        let p = policy("allow_rc4 = true").unwrap();
        assert_eq!(p.tkt_enctypes().last(), Some(&Rc4Hmac));
        assert_eq!(p.tkt_enctypes().len(), 5);
        assert!(p.permits(Rc4Hmac));
    }

    #[test]
    fn explicit_rc4_in_a_list_counts_when_allow_rc4_is_unset() {
        let p = policy("permitted_enctypes = aes256-cts-hmac-sha1-96 arcfour-hmac").unwrap();
        assert_eq!(p.tkt_enctypes(), [Aes256CtsHmacSha196, Rc4Hmac]);
        let p = policy("permitted_enctypes = DEFAULT +rc4").unwrap();
        assert!(p.permits(Rc4Hmac));
        let p = policy("permitted_enctypes = DEFAULT").unwrap();
        assert!(!p.permits(Rc4Hmac));
    }

    #[test]
    fn allow_rc4_false_wins_over_every_list() {
        let p = policy(
            "allow_rc4 = false\n permitted_enctypes = rc4-hmac aes128-cts\n \
             default_tkt_enctypes = arcfour-hmac-md5 aes128-sha1",
        )
        .unwrap();
        assert_eq!(p.tkt_enctypes(), [Aes128CtsHmacSha196]);
        assert!(!p.permits(Rc4Hmac));
        assert!(
            p.how_to_enable(Rc4Hmac)
                .contains("allow_rc4 = true (it is false)")
        );
        let err = policy("allow_rc4 = false\n permitted_enctypes = arcfour-hmac").unwrap_err();
        assert!(err.to_string().contains("permitted_enctypes"), "{err}");
        assert!(err.to_string().contains("allow_rc4"), "{err}");
    }

    #[test]
    fn tkt_and_tgs_lists_default_to_permitted_and_are_narrowed_to_it() {
        let p = policy(
            "allow_rc4 = yes\n permitted_enctypes = aes256-cts aes128-cts arcfour-hmac\n \
             default_tkt_enctypes = aes128-cts aes256-sha2 aes256-cts",
        )
        .unwrap();
        assert_eq!(p.tkt_enctypes(), [Aes128CtsHmacSha196, Aes256CtsHmacSha196]);
        assert_eq!(
            p.tgs_enctypes(),
            [Aes256CtsHmacSha196, Aes128CtsHmacSha196, Rc4Hmac]
        );
    }

    #[test]
    fn minus_removes_and_families_expand() {
        let p = policy("permitted_enctypes = DEFAULT -aes-sha2, -aes128-cts").unwrap();
        assert_eq!(p.tkt_enctypes(), [Aes256CtsHmacSha196]);
        let p = policy("permitted_enctypes = aes-sha2 camellia256-cts-cmac des3-cbc-sha1").unwrap();
        assert_eq!(
            p.tkt_enctypes(),
            [Aes256CtsHmacSha384192, Aes128CtsHmacSha256128]
        );
        let p = policy("default_tkt_enctypes = AES256-CTS-HMAC-SHA1-96").unwrap();
        assert_eq!(p.tkt_enctypes(), [Aes256CtsHmacSha196]);
        assert_eq!(p.tgs_enctypes(), AES);
    }

    #[test]
    fn a_list_without_any_known_enctype_is_an_error_naming_it() {
        let err = policy("default_tkt_enctypes = des3-cbc-sha1").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("default_tkt_enctypes"), "{msg}");
        assert!(msg.contains("des3-cbc-sha1"), "{msg}");
    }

    #[test]
    fn how_to_enable_names_the_setting() {
        let p = EnctypePolicy::default();
        assert_eq!(
            p.how_to_enable(Rc4Hmac),
            "set allow_rc4 = true in [libdefaults] of krb5.conf to permit it"
        );
        let p = policy("permitted_enctypes = aes256-cts").unwrap();
        assert!(
            p.how_to_enable(Rc4Hmac)
                .starts_with("add arcfour-hmac to permitted_enctypes and default_tkt_enctypes")
        );
        assert!(
            p.how_to_enable(Aes128CtsHmacSha196)
                .contains("add aes128-cts-hmac-sha1-96 to permitted_enctypes")
        );
    }
}
