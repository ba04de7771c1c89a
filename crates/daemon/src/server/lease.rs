//! Lease ids, the on-disk layout and the metadata file, compatible with aws/credentials-fetcher.
//!
//! Both ways: the daemon adopts the leases upstream 1.3.x (C++, jsoncpp: `krb_file_path`,
//! `service_account_name`, `domain_name`, `domainless_user`, `credspec_info`) and 2.x (Go: those
//! plus `distinguished_name` and, when set, `credential_arn`) leave in the krbdir, and upstream
//! reads ours: the same field names, all strings; 1.3.6 reads each with jsoncpp's `asString` and
//! ignores the others, skips a ticket whose `krb_file_path` does not exist and stops at one
//! containing any of ``& : \ | * ? < > ` $ { } ( ) " ;`` (so the krbdir path must not), v2 takes
//! each known key that is a string. `credential_arn` is written only when set, as v2 does.
//! (tests/daemon_upgrade.rs proves both directions against the Samba DC.)
//!
//! ```text
//! <krbdir>/<lease_id>/<lease_id>_metadata.json
//! <krbdir>/<lease_id>/<gMSA name>/krb5cc
//! ```
//!
//! # Crash safety
//!
//! The metadata file is the lease's commit record. An add writes the ccaches, then the metadata
//! under a pending name (`<lease_id>_metadata.json.pending`, [`Metadata::write_pending`]), and
//! renames it to its final name ([`commit_pending`]) only at the commit point, right before the
//! caller gets its answer. A delete first renames the lease directory to a tombstone
//! (`.<lease_id>.deleting`, [`Layout::tombstone`]), then removes it. So whenever the daemon is
//! killed, the krbdir holds committed leases whole, plus leftovers that [`scan_leftovers`] finds
//! at the next start: lease directories without a committed metadata file (an add that never
//! answered) and tombstones (a delete that was under way). One window stays: a kill after the
//! commit but before the answer reaches the caller leaves a lease the caller never learnt the id
//! of (no acknowledgment from the caller could close it; the window is the answer's send).
//!
//! ```
//! use credentials_fetcherd::server::lease::{LeaseId, Metadata, TicketInfo};
//! let id = LeaseId::generate().unwrap();
//! assert_eq!(id.as_str().len(), 20);
//! let dir = std::env::temp_dir().join(format!("lease-doc-{id}"));
//! let md = Metadata { tickets: vec![TicketInfo {
//!     krb_file_path: dir.join(id.as_str()).join("WebApp01/krb5cc").display().to_string(),
//!     service_account_name: "WebApp01".into(), domain_name: "example.test".into(),
//!     ..TicketInfo::default() }] };
//! md.write(&dir, &id).unwrap();
//! assert_eq!(Metadata::read(&dir, &id).unwrap(), md);
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// The largest metadata file read (a lease holds at most [`MAX_TICKETS_PER_LEASE`] tickets).
pub const MAX_METADATA_LEN: u64 = 4 * 1024 * 1024;
/// The most credspecs one request may carry.
pub const MAX_TICKETS_PER_LEASE: usize = 256;
/// The ccache file name inside a ticket directory.
pub const CCACHE_NAME: &str = "krb5cc";

/// A lease id: 10 random bytes as 20 lowercase hex characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseId(String);

/// Errors of the on-disk layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Not 20 lowercase hex characters.
    #[error("lease id {0:?} is not 20 lowercase hexadecimal characters")]
    BadLeaseId(String),
    /// The system random generator failed.
    #[error("cannot draw a random lease id: {0}")]
    Random(String),
    /// File-system failure.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Malformed metadata.
    #[error("metadata {path}: {cause}")]
    BadMetadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        cause: String,
    },
}

impl LeaseId {
    /// Draws a new random id.
    pub fn generate() -> Result<Self, LayoutError> {
        let mut b = [0u8; 10];
        getrandom::fill(&mut b).map_err(|e| LayoutError::Random(e.to_string()))?;
        Ok(Self(hex::encode(b)))
    }

    /// Validates an id from a client or a directory name (upstream's format only).
    pub fn parse(s: &str) -> Result<Self, LayoutError> {
        if s.len() == 20
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_string()))
        } else {
            Err(LayoutError::BadLeaseId(s.chars().take(64).collect()))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeaseId({})", self.0)
    }
}

/// Paths of the layout under one krbdir.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The krbdir.
    pub root: PathBuf,
}

impl Layout {
    /// The lease's directory.
    pub fn lease_dir(&self, id: &LeaseId) -> PathBuf {
        self.root.join(id.as_str())
    }
    /// The directory of one gMSA's ticket (the path returned to clients, bind-mounted into containers).
    /// `gmsa` must have passed [`crate::credspec::valid_account_name`].
    pub fn ticket_dir(&self, id: &LeaseId, gmsa: &str) -> PathBuf {
        self.lease_dir(id).join(gmsa)
    }
    /// The metadata file.
    pub fn metadata_path(&self, id: &LeaseId) -> PathBuf {
        metadata_path(&self.root, id)
    }
    /// The metadata file of a lease written but not committed yet (see the module docs).
    pub fn pending_metadata_path(&self, id: &LeaseId) -> PathBuf {
        pending_metadata_path(&self.root, id)
    }
    /// The name a lease directory takes while it is being deleted (see the module docs).
    pub fn tombstone(&self, id: &LeaseId) -> PathBuf {
        self.root.join(format!(".{id}{TOMBSTONE_SUFFIX}"))
    }
}

/// Suffix of a lease directory being deleted: `.<lease_id>.deleting` in the krbdir.
pub const TOMBSTONE_SUFFIX: &str = ".deleting";

fn metadata_path(root: &Path, id: &LeaseId) -> PathBuf {
    root.join(id.as_str()).join(format!("{id}_metadata.json"))
}

fn pending_metadata_path(root: &Path, id: &LeaseId) -> PathBuf {
    root.join(id.as_str())
        .join(format!("{id}_metadata.json.pending"))
}

/// One ticket of a lease, as upstream records it (field names are upstream's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketInfo {
    /// The ccache path, `<krbdir>/<lease>/<gMSA>/krb5cc` (upstream 1.3 and v2 write the file; older
    /// builds the directory: both are read).
    pub krb_file_path: String,
    /// The gMSA name without `$`.
    pub service_account_name: String,
    /// The AD domain.
    pub domain_name: String,
    /// The domainless user (empty for domain-joined).
    pub domainless_user: String,
    /// The domainless user's own AD domain when it is not the gMSA's `domain_name`: a user of
    /// another domain or forest reading the gMSA through a trust. Empty: the gMSA's domain, the
    /// only case upstream knows (it has no such field; ours is omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domainless_user_domain: String,
    /// The credspec JSON.
    pub credspec_info: String,
    /// The gMSA's distinguished name, when known.
    pub distinguished_name: String,
    /// The credspec's `CredentialArn` (written by upstream v2 only; omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credential_arn: String,
}

impl TicketInfo {
    /// The domainless user's own domain: `domainless_user_domain`, else the gMSA's `domain_name`.
    ///
    /// ```
    /// use credentials_fetcherd::server::lease::TicketInfo;
    /// let mut t = TicketInfo { domain_name: "other.test".into(), ..TicketInfo::default() };
    /// assert_eq!(t.user_domain(), "other.test");
    /// t.domainless_user_domain = "example.test".into();
    /// assert_eq!(t.user_domain(), "example.test");
    /// ```
    pub fn user_domain(&self) -> &str {
        if self.domainless_user_domain.trim().is_empty() {
            &self.domain_name
        } else {
            &self.domainless_user_domain
        }
    }

    /// The ticket directory named by `krb_file_path`.
    pub fn dir(&self) -> PathBuf {
        let p = Path::new(&self.krb_file_path);
        if p.file_name().is_some_and(|n| n == CCACHE_NAME) {
            p.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            p.to_path_buf()
        }
    }
}

/// The `<lease_id>_metadata.json` file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The lease's tickets.
    #[serde(rename = "krb_ticket_info", default)]
    pub tickets: Vec<TicketInfo>,
}

impl Metadata {
    /// Reads and checks a lease's metadata: every ticket directory must be `<krbdir>/<lease>/<name>`
    /// with a valid gMSA name, so a tampered file cannot point the daemon outside the krbdir.
    pub fn read(root: &Path, id: &LeaseId) -> Result<Self, LayoutError> {
        let path = metadata_path(root, id);
        let io = |source| LayoutError::Io {
            op: "reading",
            path: path.clone(),
            source,
        };
        let len = std::fs::metadata(&path).map_err(io)?.len();
        if len > MAX_METADATA_LEN {
            return Err(LayoutError::BadMetadata {
                path,
                cause: format!("{len} bytes, over the limit"),
            });
        }
        let bytes = std::fs::read(&path).map_err(io)?;
        Self::parse(root, id, &bytes)
    }

    /// Parses and checks the bytes of lease `id`'s metadata file under `root` (what
    /// [`Metadata::read`] does once the file is read; also the fuzz target's entry point).
    pub fn parse(root: &Path, id: &LeaseId, bytes: &[u8]) -> Result<Self, LayoutError> {
        let path = metadata_path(root, id);
        if bytes.len() as u64 > MAX_METADATA_LEN {
            return Err(LayoutError::BadMetadata {
                path,
                cause: format!("{} bytes, over the limit", bytes.len()),
            });
        }
        let md: Metadata = serde_json::from_slice(bytes).map_err(|e| LayoutError::BadMetadata {
            path: path.clone(),
            cause: e.to_string(),
        })?;
        if md.tickets.len() > MAX_TICKETS_PER_LEASE {
            return Err(LayoutError::BadMetadata {
                path,
                cause: "too many tickets".into(),
            });
        }
        let lease_dir = root.join(id.as_str());
        for t in &md.tickets {
            let dir = t.dir();
            let ok = dir.parent() == Some(lease_dir.as_path())
                && dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    crate::credspec::valid_account_name(n)
                        && n.eq_ignore_ascii_case(&t.service_account_name)
                });
            if !ok {
                return Err(LayoutError::BadMetadata {
                    path,
                    cause: format!(
                        "ticket path {:?} is not {}/<gMSA name> for gMSA {:?}",
                        t.krb_file_path,
                        lease_dir.display(),
                        t.service_account_name
                    ),
                });
            }
        }
        Ok(md)
    }

    /// Writes the metadata atomically (temporary file + rename in the lease directory), pretty
    /// printed like upstream's writer, mode [`METADATA_MODE`] (0600: it names the domainless
    /// user and the credspecs, and only the daemon reads it), fsynced (see
    /// [`Metadata::write_with`]).
    pub fn write(&self, root: &Path, id: &LeaseId) -> Result<(), LayoutError> {
        self.write_with(root, id, Durability::Fsync)
    }

    /// [`Metadata::write`] with a choice of durability. The daemon writes it with
    /// [`Durability::PageCache`]: a lease must outlive the daemon (SIGKILL, crash, upgrade) while
    /// its containers run, and the page cache does that; a power loss also ends the containers
    /// the lease served, and an fsync would cost every add a disk flush (5-25 ms on a busy disk).
    /// After a power loss a lease whose metadata did not reach the disk is not recovered
    /// (upstream does not fsync either).
    pub fn write_with(
        &self,
        root: &Path,
        id: &LeaseId,
        durability: Durability,
    ) -> Result<(), LayoutError> {
        self.write_as(root, id, durability, None)
    }

    /// [`Metadata::write_with`] giving the file group `gid` (the daemon's `CF_KRB5CC_GID`).
    pub fn write_as(
        &self,
        root: &Path,
        id: &LeaseId,
        durability: Durability,
        gid: Option<u32>,
    ) -> Result<(), LayoutError> {
        self.write_to(root, id, metadata_path(root, id), durability, gid)
    }

    /// Writes the metadata under its pending name, with group `gid`: the lease is not committed
    /// until [`commit_pending`] renames it (see the module docs on crash safety).
    pub fn write_pending(
        &self,
        root: &Path,
        id: &LeaseId,
        durability: Durability,
        gid: Option<u32>,
    ) -> Result<(), LayoutError> {
        self.write_to(root, id, pending_metadata_path(root, id), durability, gid)
    }

    fn write_to(
        &self,
        root: &Path,
        id: &LeaseId,
        path: PathBuf,
        durability: Durability,
        gid: Option<u32>,
    ) -> Result<(), LayoutError> {
        let dir = root.join(id.as_str());
        std::fs::create_dir_all(&dir).map_err(|source| LayoutError::Io {
            op: "creating",
            path: dir.clone(),
            source,
        })?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| LayoutError::BadMetadata {
            path: path.clone(),
            cause: e.to_string(),
        })?;
        write_atomic(&path, &bytes, METADATA_MODE, gid, durability)
    }
}

/// Mode of a lease's metadata file (and of its renewal-state file).
pub const METADATA_MODE: u32 = 0o600;

/// Mode of lease and ticket directories for ccaches of mode `ccache_mode`: 0750 (owner and the
/// `CF_KRB5CC_GID` group may enter), plus 0005 when the ccache itself is readable by others (a
/// mode allowed only with `CF_KRB5CC_MODE_ALLOW_WORLD_READABLE=1`), so such a ccache stays
/// reachable.
pub fn dir_mode(ccache_mode: u32) -> u32 {
    if ccache_mode & 0o004 != 0 {
        0o755
    } else {
        0o750
    }
}

/// Gives `path` exactly `mode` (whatever the umask) and, when `gid` is set, that group.
pub fn set_mode_and_group(path: &Path, mode: u32, gid: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Creates the directory `path` with exactly `mode` and group `gid` (see
/// [`set_mode_and_group`]); fails if it exists.
pub fn create_dir_with(path: &Path, mode: u32, gid: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().mode(mode & 0o700).create(path)?;
    set_mode_and_group(path, mode, gid)
}

pub use atomic_replace::Durability;

/// Replaces `path` with `bytes` atomically: a new temporary file `.<name>.tmp.<pid>.<n>` in the
/// same directory, created with `O_EXCL` and exactly `mode` (whatever the umask), given group
/// `gid` before it becomes visible, written, fsynced if asked, renamed over `path` (then the
/// directory fsynced if asked). A reader of `path` sees the old file or the new one, never a
/// partial one. On error the temporary file is removed and `path` is left as it was.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    gid: Option<u32>,
    durability: Durability,
) -> Result<(), LayoutError> {
    atomic_replace::Replace::new(mode)
        .group(gid)
        .durability(durability)
        .write(path, bytes)
        .map_err(|e| LayoutError::Io {
            op: e.op,
            path: e.path,
            source: e.source,
        })
}

/// Commits a lease written with [`Metadata::write_pending`]: renames its pending metadata file
/// to the final name (atomic; from then on the lease survives a restart).
pub fn commit_pending(root: &Path, id: &LeaseId) -> Result<(), LayoutError> {
    let from = pending_metadata_path(root, id);
    std::fs::rename(&from, metadata_path(root, id)).map_err(|source| LayoutError::Io {
        op: "committing",
        path: from,
        source,
    })
}

/// What an interrupted add or delete left in the krbdir (see the module docs): directories named
/// like lease ids without a committed metadata file, and tombstones `.<lease_id>.deleting`.
/// Nothing else is returned (other files of the krbdir are not ours to remove).
pub fn scan_leftovers(root: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let orphan = LeaseId::parse(&name).is_ok_and(|id| !metadata_path(root, &id).is_file());
        let tombstone = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(TOMBSTONE_SUFFIX))
            .is_some_and(|n| LeaseId::parse(n).is_ok());
        if orphan || tombstone {
            out.push(entry.path());
        }
    }
    out.sort();
    out
}

/// Lease ids found in the krbdir (directories named like lease ids holding a metadata file).
pub fn scan(root: &Path) -> Result<Vec<LeaseId>, LayoutError> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(LayoutError::Io {
                op: "listing",
                path: root.to_path_buf(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if let Ok(id) = LeaseId::parse(&name)
            && metadata_path(root, &id).is_file()
        {
            out.push(id);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids() {
        let a = LeaseId::generate().unwrap();
        let b = LeaseId::generate().unwrap();
        assert_ne!(a, b);
        assert!(LeaseId::parse(a.as_str()).is_ok());
        for bad in [
            "",
            "../../../etc/passwd0",
            "ABCDEF0123456789abcd",
            "0123456789abcdef012",
            "0123456789abcdef0123/",
        ] {
            assert!(LeaseId::parse(bad).is_err(), "{bad}");
        }
    }

    /// A metadata file as upstream 1.3 writes it (jsoncpp StreamWriterBuilder: tab-indented).
    fn upstream_sample(root: &Path, id: &str) -> String {
        format!(
            "{{\n\t\"krb_ticket_info\" : \n\t[\n\t\t{{\n\t\t\t\"credspec_info\" : \"{{}}\",\n\t\t\t\"distinguished_name\" : \"\",\n\t\t\t\"domain_name\" : \"example.test\",\n\t\t\t\"domainless_user\" : \"svc-fetcher\",\n\t\t\t\"krb_file_path\" : \"{}/{id}/WebApp01/krb5cc\",\n\t\t\t\"service_account_name\" : \"WebApp01\"\n\t\t}}\n\t]\n}}",
            root.display()
        )
    }

    #[test]
    fn upstream_metadata_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let id = LeaseId::parse("0123456789abcdef0123").unwrap();
        std::fs::create_dir_all(root.path().join(id.as_str()).join("WebApp01")).unwrap();
        std::fs::write(
            metadata_path(root.path(), &id),
            upstream_sample(root.path(), id.as_str()),
        )
        .unwrap();
        assert_eq!(scan(root.path()).unwrap(), vec![id.clone()]);
        let md = Metadata::read(root.path(), &id).unwrap();
        assert_eq!(md.tickets.len(), 1);
        assert_eq!(md.tickets[0].domainless_user, "svc-fetcher");
        assert_eq!(
            md.tickets[0].dir(),
            root.path().join(id.as_str()).join("WebApp01")
        );
        md.write(root.path(), &id).unwrap();
        let again = Metadata::read(root.path(), &id).unwrap();
        assert_eq!(again, md);
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(metadata_path(root.path(), &id)).unwrap())
                .unwrap();
        let t = &v["krb_ticket_info"][0];
        for k in [
            "krb_file_path",
            "service_account_name",
            "domain_name",
            "domainless_user",
            "credspec_info",
            "distinguished_name",
        ] {
            assert!(t[k].is_string(), "{k}");
        }
        // Old builds recorded the directory.
        let mut old = md.clone();
        old.tickets[0].krb_file_path = root
            .path()
            .join(id.as_str())
            .join("WebApp01")
            .display()
            .to_string();
        old.write(root.path(), &id).unwrap();
        assert_eq!(
            Metadata::read(root.path(), &id).unwrap().tickets[0].dir(),
            md.tickets[0].dir()
        );
    }

    /// A metadata file as upstream v2 writes it (Go `json.MarshalIndent` of a map: sorted keys).
    #[test]
    fn upstream_v2_metadata_keeps_credential_arn() {
        let root = tempfile::tempdir().unwrap();
        let id = LeaseId::parse("0123456789abcdef0123").unwrap();
        let dir = root.path().join(id.as_str()).join("WebApp01");
        std::fs::create_dir_all(&dir).unwrap();
        let text = serde_json::json!({"krb_ticket_info": [{
            "credential_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:u",
            "credspec_info": "{}",
            "distinguished_name": "CN=WebApp01,CN=Managed Service Accounts,DC=example,DC=test",
            "domain_name": "example.test",
            "domainless_user": "svc-fetcher",
            "krb_file_path": dir.join("krb5cc").display().to_string(),
            "service_account_name": "WebApp01",
        }]});
        std::fs::write(
            metadata_path(root.path(), &id),
            serde_json::to_vec_pretty(&text).unwrap(),
        )
        .unwrap();
        let md = Metadata::read(root.path(), &id).unwrap();
        assert_eq!(
            md.tickets[0].credential_arn,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:u"
        );
        md.write(root.path(), &id).unwrap();
        let again: serde_json::Value =
            serde_json::from_slice(&std::fs::read(metadata_path(root.path(), &id)).unwrap())
                .unwrap();
        assert_eq!(again, text, "every field as v2 wrote it");
        // Without a CredentialArn the field is left out, as v2 does.
        let mut plain = md.clone();
        plain.tickets[0].credential_arn.clear();
        plain.write(root.path(), &id).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(metadata_path(root.path(), &id)).unwrap())
                .unwrap();
        assert!(v["krb_ticket_info"][0].get("credential_arn").is_none());
    }

    #[test]
    fn metadata_cannot_escape() {
        let root = tempfile::tempdir().unwrap();
        let id = LeaseId::parse("0123456789abcdef0123").unwrap();
        for path in [
            "/etc/krb5cc",
            "{root}/{id}/../../x/krb5cc",
            "{root}/{id}/a/b/krb5cc",
            "{root}/{id}/Other/krb5cc",
        ] {
            let p = path
                .replace("{root}", &root.path().display().to_string())
                .replace("{id}", id.as_str());
            let md = Metadata {
                tickets: vec![TicketInfo {
                    krb_file_path: p.clone(),
                    service_account_name: "WebApp01".into(),
                    ..Default::default()
                }],
            };
            md.write(root.path(), &id).unwrap();
            assert!(
                matches!(
                    Metadata::read(root.path(), &id),
                    Err(LayoutError::BadMetadata { .. })
                ),
                "{p}"
            );
        }
        std::fs::write(metadata_path(root.path(), &id), b"{not json").unwrap();
        assert!(Metadata::read(root.path(), &id).is_err());
    }

    #[test]
    fn atomic_write_mode_and_no_leftovers() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("krb5cc");
        for (mode, d) in [
            (0o600, Durability::PageCache),
            (0o640, Durability::Fsync),
            (0o644, Durability::PageCache),
        ] {
            write_atomic(&p, b"ticket", mode, None, d).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), b"ticket");
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                mode
            );
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("krb5cc")]);
        // A failed rename (the target is a directory) leaves no temporary file behind.
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::create_dir(sub.join("krb5cc")).unwrap();
        std::fs::write(sub.join("krb5cc").join("x"), b"").unwrap();
        assert!(
            write_atomic(
                &sub.join("krb5cc"),
                b"t",
                0o600,
                None,
                Durability::PageCache
            )
            .is_err()
        );
        assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 1);
    }
}
