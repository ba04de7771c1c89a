//! `krb5.conf` in MIT profile syntax.
//!
//! The file is a list of `[section]`s holding `key = value` relations; a value may instead be a
//! `{ ... }` block of further relations (the shape of `[realms]`). Lines whose first non-blank
//! character is `#` or `;` are comments. `*` "final" markers (`[libdefaults]*`, `key = value *`,
//! `}*`) are accepted and ignored. Repeated keys keep every value in file order, and repeated
//! sections or realm blocks are merged, so single-valued queries return the first value seen.
//!
//! [`Krb5Conf::load`] follows `include FILE` and `includedir DIR` lines (with a depth, file-count
//! and total-size limit); [`Krb5Conf::parse`] never touches the file system and only records
//! them (see [`Krb5Conf::skipped_includes`]).
//!
//! ```
//! use krb5_proto::config::Krb5Conf;
//!
//! let conf = Krb5Conf::parse(
//!     "[libdefaults]\n default_realm = MIT.TEST\n dns_lookup_kdc = false\n\n\
//!      [realms]\n MIT.TEST = {\n  kdc = 127.0.0.3:18888\n  kdc = kdc2.mit.test\n }\n\n\
//!      [domain_realm]\n .mit.test = MIT.TEST\n",
//! )?;
//! assert_eq!(conf.default_realm(), Some("MIT.TEST"));
//! assert_eq!(conf.kdcs("MIT.TEST"), ["127.0.0.3:18888", "kdc2.mit.test"]);
//! assert!(!conf.dns_lookup_kdc());
//! assert_eq!(conf.realm_for_host("host1.mit.test").as_deref(), Some("MIT.TEST"));
//! # Ok::<(), krb5_proto::config::ConfigError>(())
//! ```

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest single configuration file (or text given to [`Krb5Conf::parse`]), in bytes.
pub const MAX_FILE_SIZE: usize = 1024 * 1024;
/// Largest total size of all files read by one load (main file, includes and every file of a
/// `KRB5_CONFIG` list), in bytes.
pub const MAX_TOTAL_SIZE: usize = 4 * 1024 * 1024;
/// Deepest nesting of `{ ... }` blocks.
pub const MAX_NESTING: usize = 16;
/// Deepest chain of `include`/`includedir` (a file including a file including ...).
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// Most files read by one load.
pub const MAX_FILES: usize = 256;
/// Most directory entries looked at for one `includedir`.
const MAX_DIR_ENTRIES: usize = 4096;

/// The default path when `KRB5_CONFIG` is not set.
pub const DEFAULT_PATH: &str = "/etc/krb5.conf";

/// krb5.conf could not be read or understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A line does not follow the profile syntax.
    #[error("{origin}:{line}: {message}")]
    Syntax {
        /// The file (or `<text>` for [`Krb5Conf::parse`]).
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A file, or all files of one load together, exceed a size limit.
    #[error("{origin}: configuration too large ({size} bytes, limit {limit} bytes)")]
    TooLarge {
        /// The file (or `<text>`).
        origin: String,
        /// The size seen (at least; reading stops at the limit).
        size: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// `{ ... }` blocks nested deeper than [`MAX_NESTING`].
    #[error("{origin}:{line}: blocks nested deeper than {limit} levels")]
    TooDeep {
        /// The file (or `<text>`).
        origin: String,
        /// 1-based line number of the `{` that went too deep.
        line: usize,
        /// The nesting limit.
        limit: usize,
    },
    /// `include`/`includedir` nested too deeply, looped, or read too many files.
    #[error("{origin}:{line}: cannot include {path}: {reason}")]
    Include {
        /// The including file.
        origin: String,
        /// 1-based line number of the directive.
        line: usize,
        /// The file or directory named by the directive.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// One load would read more than [`MAX_FILES`] files.
    #[error("{origin}: more than {limit} configuration files (check includedir directories)")]
    TooManyFiles {
        /// The file that would go over the limit.
        origin: String,
        /// The limit.
        limit: usize,
    },
    /// An enctype list of `[libdefaults]` leaves no enctype that can be used.
    #[error(
        "[libdefaults] {setting} = {value:?} leaves no usable enctype{}: list at least one of \
         aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96, aes256-cts-hmac-sha384-192, \
         aes128-cts-hmac-sha256-128 (or arcfour-hmac with allow_rc4 = true)",
        if *allow_rc4 == Some(false) { " (allow_rc4 = false removes arcfour-hmac)" } else { "" }
    )]
    NoEnctypes {
        /// The setting, e.g. `permitted_enctypes`.
        setting: String,
        /// Its value (`DEFAULT` when unset).
        value: String,
        /// The `allow_rc4` setting.
        allow_rc4: Option<bool>,
    },
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// One relation's value: a string or a `{ ... }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Value(String),
    Group(Relations),
}

/// Relations in file order.
type Relations = Vec<(String, Node)>;

/// An open `{` block while parsing: its name, the line it opened on, its relations so far.
type OpenBlock = (String, usize, Relations);

/// A parsed krb5.conf (possibly several files merged).
///
/// Sections, realm blocks and keys keep file order; lookups see every file in the order it was
/// read, so the first file of a `KRB5_CONFIG` list wins for single-valued settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Krb5Conf {
    sections: Vec<(String, Relations)>,
    skipped_includes: Vec<String>,
}

/// Whether `include` directives are followed (and the bookkeeping to bound them).
struct Loader {
    follow: bool,
    total: usize,
    files: usize,
    chain: Vec<PathBuf>,
}

impl Loader {
    fn no_fs() -> Self {
        Self {
            follow: false,
            total: 0,
            files: 0,
            chain: Vec::new(),
        }
    }

    fn fs() -> Self {
        Self {
            follow: true,
            ..Self::no_fs()
        }
    }
}

impl Krb5Conf {
    /// An empty configuration (every query returns its default).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses krb5.conf text. Never touches the file system: `include`/`includedir` lines are
    /// recorded in [`skipped_includes`](Self::skipped_includes), not followed.
    ///
    /// Errors name the line: `<text>:7: expected '=' after "kdc"`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut conf = Self::default();
        conf.parse_into(text, "<text>", None, &mut Loader::no_fs())?;
        Ok(conf)
    }

    /// Reads and parses one file, following its `include` and `includedir` lines (relative
    /// paths are taken from the including file's directory).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut conf = Self::default();
        conf.load_file(path, &mut Loader::fs())?;
        Ok(conf)
    }

    /// Loads the configuration the way MIT does: every file of the colon-separated
    /// `$KRB5_CONFIG` list (merged, the first file winning for single-valued settings), or
    /// [`DEFAULT_PATH`] when it is unset. Files that do not exist are skipped, so a machine
    /// without any krb5.conf gets an empty configuration rather than an error.
    pub fn load_default() -> Result<Self, ConfigError> {
        match std::env::var_os("KRB5_CONFIG") {
            Some(list) if !list.is_empty() => Self::load_list(&list),
            _ => Self::load_list(OsStr::new(DEFAULT_PATH)),
        }
    }

    /// Loads a colon-separated list of files (the `KRB5_CONFIG` format), merged in order;
    /// missing files are skipped and empty entries ignored.
    pub fn load_list(list: &OsStr) -> Result<Self, ConfigError> {
        let paths: Vec<PathBuf> = std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        Self::load_paths(&paths)
    }

    /// Loads several files merged in order (the first file winning for single-valued
    /// settings); files that do not exist are skipped.
    pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Self, ConfigError> {
        let mut conf = Self::default();
        let mut loader = Loader::fs();
        for path in paths {
            let path = path.as_ref();
            match conf.load_file(path, &mut loader) {
                // Only the listed file itself may be missing; a missing include is an error.
                Err(ConfigError::Io {
                    path: failed,
                    source,
                }) if source.kind() == io::ErrorKind::NotFound && failed == path => {}
                other => other?,
            }
        }
        Ok(conf)
    }

    /// `include`/`includedir` lines that [`parse`](Self::parse) saw but did not follow.
    pub fn skipped_includes(&self) -> &[String] {
        &self.skipped_includes
    }

    /// Every string value at `path` (`["libdefaults", "default_realm"]`,
    /// `["realms", "MIT.TEST", "kdc"]`), in file order; names match exactly.
    pub fn values(&self, path: &[&str]) -> Vec<&str> {
        let mut out = Vec::new();
        let Some((section, rest)) = path.split_first() else {
            return out;
        };
        for (name, relations) in &self.sections {
            if name == section {
                collect_values(relations, rest, &mut out);
            }
        }
        out
    }

    /// The (block, key) pairs of a section of `{ ... }` blocks, in file order without repeats:
    /// for `[capaths]`, (client realm, server realm).
    pub fn relation_keys2(&self, section: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, relations) in &self.sections {
            if name != section {
                continue;
            }
            for (block, node) in relations {
                let Node::Group(children) = node else {
                    continue;
                };
                for (key, _) in children {
                    if !out.iter().any(|(b, k)| b == block && k == key) {
                        out.push((block.clone(), key.clone()));
                    }
                }
            }
        }
        out
    }

    /// `[libdefaults] default_realm`.
    pub fn default_realm(&self) -> Option<&str> {
        self.libdefault("default_realm")
    }

    /// The first value of any top-level `[libdefaults]` key, e.g. `"udp_preference_limit"`,
    /// `"kdc_timeout"`, `"clockskew"`.
    pub fn libdefault(&self, key: &str) -> Option<&str> {
        self.values(&["libdefaults", key]).into_iter().next()
    }

    /// A `[libdefaults]` boolean (`true/yes/on/1`, `false/no/off/0`, as MIT also `t/y/nil/n`);
    /// `None` when unset or not a boolean.
    pub fn libdefault_bool(&self, key: &str) -> Option<bool> {
        self.libdefault(key).and_then(parse_bool)
    }

    /// A `[libdefaults]` time interval (see [`parse_duration`]); `None` when unset or malformed.
    pub fn libdefault_duration(&self, key: &str) -> Option<Duration> {
        self.libdefault(key).and_then(parse_duration)
    }

    /// Whether KDCs may be looked up with DNS SRV records: `dns_lookup_kdc`, else
    /// `dns_fallback`, else `true`.
    pub fn dns_lookup_kdc(&self) -> bool {
        self.libdefault_bool("dns_lookup_kdc")
            .or_else(|| self.libdefault_bool("dns_fallback"))
            .unwrap_or(true)
    }

    /// `[libdefaults] udp_preference_limit` in bytes, if set to a number.
    pub fn udp_preference_limit(&self) -> Option<usize> {
        self.libdefault("udp_preference_limit")
            .and_then(|v| v.trim().parse().ok())
    }

    /// `[libdefaults] kdc_timeout`, if set to a valid interval.
    pub fn kdc_timeout(&self) -> Option<Duration> {
        self.libdefault_duration("kdc_timeout")
    }

    /// `[libdefaults] clockskew`, if set to a valid interval (MIT's default is 300 s).
    pub fn clockskew(&self) -> Option<Duration> {
        self.libdefault_duration("clockskew")
    }

    /// The `kdc` entries of `[realms] REALM = { ... }` in file order.
    pub fn kdcs(&self, realm: &str) -> Vec<String> {
        self.realm_value(realm, "kdc")
    }

    /// Every value of `key` in the realm's block(s), in file order. The realm name is matched
    /// exactly, or case-insensitively when no block matches exactly.
    pub fn realm_value(&self, realm: &str, key: &str) -> Vec<String> {
        let mut exact = Vec::new();
        let mut folded = Vec::new();
        for (name, relations) in &self.sections {
            if name != "realms" {
                continue;
            }
            for (realm_name, node) in relations {
                let Node::Group(children) = node else {
                    continue;
                };
                if realm_name == realm {
                    collect_values(children, &[key], &mut exact);
                } else if realm_name.eq_ignore_ascii_case(realm) {
                    collect_values(children, &[key], &mut folded);
                }
            }
        }
        let chosen = if exact.is_empty() && !self.has_realm_block(realm) {
            folded
        } else {
            exact
        };
        chosen.into_iter().map(str::to_owned).collect()
    }

    fn has_realm_block(&self, realm: &str) -> bool {
        self.sections
            .iter()
            .filter(|(name, _)| name == "realms")
            .flat_map(|(_, relations)| relations)
            .any(|(name, node)| name == realm && matches!(node, Node::Group(_)))
    }

    /// The realm of a host from `[domain_realm]`: an exact entry for the host first, then the
    /// longest `.domain` suffix entry. Names compare case-insensitively and a trailing dot on
    /// `host` is ignored. `None` when nothing matches (callers usually fall back to the default
    /// realm).
    pub fn realm_for_host(&self, host: &str) -> Option<String> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        let entries: Vec<(&str, &str)> = self
            .sections
            .iter()
            .filter(|(name, _)| name == "domain_realm")
            .flat_map(|(_, relations)| relations)
            .filter_map(|(k, node)| match node {
                Node::Value(v) => Some((k.as_str(), v.as_str())),
                Node::Group(_) => None,
            })
            .collect();
        let lookup = |name: &str| {
            entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| (*v).to_owned())
        };
        if let Some(realm) = lookup(&host) {
            return Some(realm);
        }
        host.char_indices()
            .filter(|(_, c)| *c == '.')
            .find_map(|(i, _)| host.get(i..).and_then(lookup))
    }

    fn load_file(&mut self, path: &Path, loader: &mut Loader) -> Result<(), ConfigError> {
        if loader.files >= MAX_FILES {
            return Err(ConfigError::TooManyFiles {
                origin: path.display().to_string(),
                limit: MAX_FILES,
            });
        }
        let text = read_capped(path, MAX_FILE_SIZE)?;
        loader.files += 1;
        loader.total = loader.total.saturating_add(text.len());
        if loader.total > MAX_TOTAL_SIZE {
            return Err(ConfigError::TooLarge {
                origin: path.display().to_string(),
                size: loader.total,
                limit: MAX_TOTAL_SIZE,
            });
        }
        let canonical = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        loader.chain.push(canonical);
        let origin = path.display().to_string();
        let result = self.parse_into(&text, &origin, path.parent(), loader);
        loader.chain.pop();
        result
    }

    fn parse_into(
        &mut self,
        text: &str,
        origin: &str,
        base_dir: Option<&Path>,
        loader: &mut Loader,
    ) -> Result<(), ConfigError> {
        if text.len() > MAX_FILE_SIZE {
            return Err(ConfigError::TooLarge {
                origin: origin.to_owned(),
                size: text.len(),
                limit: MAX_FILE_SIZE,
            });
        }
        let syntax = |line: usize, message: String| ConfigError::Syntax {
            origin: origin.to_owned(),
            line,
            message,
        };
        // Index into self.sections of the current section.
        let mut section: Option<usize> = None;
        // Open `{` blocks: name, line opened, children so far.
        let mut stack: Vec<OpenBlock> = Vec::new();
        // `key =` with nothing after it: a `{` may follow on the next line.
        let mut pending: Option<(String, usize)> = None;

        for (index, raw) in text.split('\n').enumerate() {
            let lineno = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some((tag, _)) = pending.take() {
                if line == "{" {
                    if stack.len() >= MAX_NESTING {
                        return Err(ConfigError::TooDeep {
                            origin: origin.to_owned(),
                            line: lineno,
                            limit: MAX_NESTING,
                        });
                    }
                    stack.push((tag, lineno, Vec::new()));
                    continue;
                }
                // Lenient: `key =` alone is an empty value.
                self.add_relation(section, &mut stack, tag, Node::Value(String::new()));
            }

            if let Some((directive, arg)) = include_directive(line) {
                if let Some((name, opened, _)) = stack.last() {
                    return Err(syntax(
                        lineno,
                        format!(
                            "{directive} inside the block {name:?} opened at line {opened}; \
                             put it at the top level"
                        ),
                    ));
                }
                if arg.is_empty() {
                    return Err(syntax(lineno, format!("{directive} needs a path")));
                }
                if !loader.follow {
                    self.skipped_includes.push(format!("{directive} {arg}"));
                    continue;
                }
                let target = match base_dir {
                    Some(dir) => dir.join(arg),
                    None => PathBuf::from(arg),
                };
                self.follow_include(directive, &target, origin, lineno, loader)?;
                continue;
            }

            if let Some(rest) = line.strip_prefix('[') {
                if let Some((name, opened, _)) = stack.last() {
                    return Err(syntax(
                        lineno,
                        format!(
                            "section header inside the block {name:?} opened at line {opened} (missing '}}'?)"
                        ),
                    ));
                }
                let Some(end) = rest.find(']') else {
                    return Err(syntax(
                        lineno,
                        "section header without ']' (write [name])".to_owned(),
                    ));
                };
                let name = rest.get(..end).unwrap_or("").trim();
                if name.is_empty() {
                    return Err(syntax(lineno, "empty section name".to_owned()));
                }
                // Anything after ']' (the `*` final marker) is ignored, as MIT does.
                section = Some(match self.sections.iter().position(|(n, _)| n == name) {
                    Some(i) => i,
                    None => {
                        self.sections.push((name.to_owned(), Vec::new()));
                        self.sections.len() - 1
                    }
                });
                continue;
            }

            if let Some(rest) = line.strip_prefix('}') {
                let rest = rest.trim();
                if !(rest.is_empty() || rest == "*") {
                    return Err(syntax(
                        lineno,
                        format!("unexpected text {rest:?} after '}}'"),
                    ));
                }
                let Some((name, _, children)) = stack.pop() else {
                    return Err(syntax(lineno, "'}' without a matching '{'".to_owned()));
                };
                self.add_relation(section, &mut stack, name, Node::Group(children));
                continue;
            }

            // A relation: tag [*] = value
            let tag_end = line
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(line.len());
            let (tag, after) = line.split_at(tag_end);
            let tag = tag.strip_suffix('*').unwrap_or(tag);
            let Some(value) = after.trim_start().strip_prefix('=') else {
                return Err(syntax(
                    lineno,
                    format!("expected '=' after {tag:?} (write key = value)"),
                ));
            };
            if tag.is_empty() {
                return Err(syntax(
                    lineno,
                    "missing key before '=' (write key = value)".to_owned(),
                ));
            }
            if section.is_none() {
                return Err(syntax(
                    lineno,
                    format!("{tag:?} appears before any [section] header"),
                ));
            }
            let value = value.trim();
            if let Some(after_brace) = value.strip_prefix('{') {
                if !after_brace.trim().is_empty() {
                    return Err(syntax(
                        lineno,
                        "text after '{' must go on its own line".to_owned(),
                    ));
                }
                if stack.len() >= MAX_NESTING {
                    return Err(ConfigError::TooDeep {
                        origin: origin.to_owned(),
                        line: lineno,
                        limit: MAX_NESTING,
                    });
                }
                stack.push((tag.to_owned(), lineno, Vec::new()));
                continue;
            }
            if value.is_empty() {
                pending = Some((tag.to_owned(), lineno));
                continue;
            }
            let value = parse_value(value);
            self.add_relation(section, &mut stack, tag.to_owned(), Node::Value(value));
        }

        if let Some((tag, _)) = pending.take() {
            self.add_relation(section, &mut stack, tag, Node::Value(String::new()));
        }
        if let Some((name, opened, _)) = stack.last() {
            return Err(syntax(
                *opened,
                format!("block {name:?} is never closed (missing '}}')"),
            ));
        }
        Ok(())
    }

    fn add_relation(
        &mut self,
        section: Option<usize>,
        stack: &mut [OpenBlock],
        key: String,
        node: Node,
    ) {
        if let Some((_, _, children)) = stack.last_mut() {
            children.push((key, node));
        } else if let Some((_, relations)) = section.and_then(|i| self.sections.get_mut(i)) {
            relations.push((key, node));
        }
    }

    fn follow_include(
        &mut self,
        directive: &str,
        target: &Path,
        origin: &str,
        line: usize,
        loader: &mut Loader,
    ) -> Result<(), ConfigError> {
        let refuse = |reason: String| ConfigError::Include {
            origin: origin.to_owned(),
            line,
            path: target.to_path_buf(),
            reason,
        };
        if loader.chain.len() > MAX_INCLUDE_DEPTH {
            return Err(refuse(format!(
                "includes nested deeper than {MAX_INCLUDE_DEPTH} levels"
            )));
        }
        if directive == "include" {
            let canonical = fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
            if loader.chain.contains(&canonical) {
                return Err(refuse("it includes itself (include loop)".to_owned()));
            }
            return self.load_file(target, loader);
        }
        let entries = fs::read_dir(target).map_err(|source| ConfigError::Io {
            path: target.to_path_buf(),
            source,
        })?;
        let mut names = Vec::new();
        for (seen, entry) in entries.enumerate() {
            if seen >= MAX_DIR_ENTRIES {
                return Err(refuse(format!(
                    "directory has more than {MAX_DIR_ENTRIES} entries"
                )));
            }
            let entry = entry.map_err(|source| ConfigError::Io {
                path: target.to_path_buf(),
                source,
            })?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if includedir_name_ok(name) {
                names.push(name.to_owned());
            }
        }
        names.sort();
        for name in names {
            let path = target.join(&name);
            // Only regular files (following symlinks); subdirectories are not descended.
            if !fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false) {
                continue;
            }
            let canonical = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if loader.chain.contains(&canonical) {
                return Err(refuse(format!(
                    "{} includes itself (include loop)",
                    path.display()
                )));
            }
            self.load_file(&path, loader)?;
        }
        Ok(())
    }
}

fn collect_values<'a>(relations: &'a [(String, Node)], path: &[&str], out: &mut Vec<&'a str>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    for (name, node) in relations {
        if name != first {
            continue;
        }
        match (node, rest.is_empty()) {
            (Node::Value(v), true) => out.push(v),
            (Node::Group(children), false) => collect_values(children, rest, out),
            _ => {}
        }
    }
}

/// `include PATH` / `includedir PATH` (but not a relation named `include = ...`).
fn include_directive(line: &str) -> Option<(&'static str, &str)> {
    for directive in ["includedir", "include"] {
        if let Some(rest) = line.strip_prefix(directive)
            && rest.starts_with(|c: char| c.is_whitespace())
        {
            let arg = rest.trim();
            if arg.starts_with('=') {
                return None;
            }
            return Some((directive, arg));
        }
    }
    None
}

/// MIT's rule for `includedir`: names made only of letters, digits, `-` and `_`, or ending in
/// `.conf`; never hidden files.
fn includedir_name_ok(name: &str) -> bool {
    if name.is_empty() || name.starts_with('.') {
        return false;
    }
    name.ends_with(".conf")
        || name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A relation value: quoted (with `\n \t \b \\ \"` escapes) or bare, without a final `*` marker.
fn parse_value(value: &str) -> String {
    if let Some(quoted) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('b') => out.push('\u{8}'),
                    Some(other) => out.push(other),
                    None => break,
                },
                other => out.push(other),
            }
        }
        return out;
    }
    let value = match value.strip_suffix('*') {
        Some(before) if before.ends_with(char::is_whitespace) => before.trim_end(),
        _ => value,
    };
    value.to_owned()
}

/// Reads at most `cap` bytes of a file (UTF-8, invalid sequences replaced), failing with
/// [`ConfigError::TooLarge`] beyond it.
fn read_capped(path: &Path, cap: usize) -> Result<String, ConfigError> {
    let io_err = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::open(path).map_err(io_err)?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit).read_to_end(&mut bytes).map_err(io_err)?;
    if bytes.len() > cap {
        return Err(ConfigError::TooLarge {
            origin: path.display().to_string(),
            size: bytes.len(),
            limit: cap,
        });
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// A profile boolean: `true/yes/on/1/t/y` or `false/no/off/0/nil/n`, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "t" | "y" => Some(true),
        "false" | "no" | "off" | "0" | "nil" | "n" => Some(false),
        _ => None,
    }
}

/// A profile time interval: plain seconds (`300`), `h:m` or `h:m:s` (`0:05:00`), or units
/// `d h m s` combined (`1h30m`, `5m`, `10s`, `1d`). `None` when malformed or absurdly large.
///
/// ```
/// use std::time::Duration;
/// use krb5_proto::config::parse_duration;
/// assert_eq!(parse_duration("300"), Some(Duration::from_secs(300)));
/// assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(parse_duration("0:05:00"), Some(Duration::from_secs(300)));
/// assert_eq!(parse_duration("soon"), None);
/// ```
pub fn parse_duration(s: &str) -> Option<Duration> {
    const MAX_SECS: u64 = 100 * 365 * 24 * 3600;
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let number = |t: &str| -> Option<u64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let secs = if let Some(n) = number(s) {
        n
    } else if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        let nums: Option<Vec<u64>> = parts.iter().map(|p| number(p)).collect();
        match nums?.as_slice() {
            [h, m] if *m < 60 => h.checked_mul(3600)?.checked_add(m * 60)?,
            [h, m, sec] if *m < 60 && *sec < 60 => {
                h.checked_mul(3600)?.checked_add(m * 60 + sec)?
            }
            _ => return None,
        }
    } else {
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => return None,
            };
            let n = number(&digits)?;
            total = total.checked_add(n.checked_mul(unit)?)?;
            digits.clear();
        }
        if !digits.is_empty() {
            return None;
        }
        total
    };
    (secs <= MAX_SECS).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_final_marker_and_quotes() {
        assert_eq!(parse_value("abc *"), "abc");
        assert_eq!(parse_value("abc*"), "abc*");
        assert_eq!(parse_value("*"), "*");
        assert_eq!(parse_value(r#""a \"b\"\tc" ignored"#), "a \"b\"\tc");
        assert_eq!(parse_value(r#""unterminated"#), "unterminated");
    }

    #[test]
    fn includedir_names() {
        for ok in ["a", "krb5-realms", "x_y", "10-site.conf", "A9"] {
            assert!(includedir_name_ok(ok), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            ".x.conf",
            "a.b",
            "backup~",
            "x.conf.rpmsave",
            "a b",
        ] {
            assert!(!includedir_name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn include_directive_detection() {
        assert_eq!(include_directive("include /a"), Some(("include", "/a")));
        assert_eq!(
            include_directive("includedir /etc/krb5.conf.d/"),
            Some(("includedir", "/etc/krb5.conf.d/"))
        );
        assert_eq!(include_directive("include = x"), None);
        assert_eq!(include_directive("included = x"), None);
        assert_eq!(include_directive("include"), None);
    }

    #[test]
    fn durations() {
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(parse_duration("0"), s(0));
        assert_eq!(parse_duration(" 5m "), s(300));
        assert_eq!(parse_duration("1d2h3m4s"), s(93_784));
        assert_eq!(parse_duration("1:00"), s(3600));
        assert_eq!(parse_duration("1:60"), None);
        assert_eq!(parse_duration("1:2:3:4"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5m3"), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("99999999999999999999999"), None);
        assert_eq!(parse_duration("999999999999999h"), None);
    }

    #[test]
    fn booleans() {
        for t in ["true", "YES", "On", "1", "t", "y"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "No", "OFF", "0", "nil", "n"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }
}
