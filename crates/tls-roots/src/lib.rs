//! Trust anchors for rustls from a PEM CA bundle: the one loader behind LDAPS to a domain
//! controller (`msds-gmsa`) and HTTPS to AWS (`cf-aws`).
//!
//! The file is read up to [`MAX_CA_FILE`] bytes; it must be valid PEM holding at least one
//! certificate; certificates rustls cannot use as trust anchors are skipped (system bundles
//! carry the odd one), but a file with none usable is an error. Every error names the file.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! let empty = dir.path().join("empty.pem");
//! std::fs::write(&empty, "").unwrap();
//! let e = tls_roots::load(&empty).unwrap_err();
//! assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
//! ```

use std::io::Read as _;
use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// The system CA bundle (Debian/Ubuntu layout).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The largest CA file read (8 MiB; Debian's bundle is about 200 KiB).
pub const MAX_CA_FILE: u64 = 8 << 20;

/// Why a CA file gave no trust anchors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaFileError {
    /// The file could not be opened or read.
    #[error("cannot {op} the CA file {}: {source}", path.display())]
    Io {
        /// "open" or "read".
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CA_FILE`].
    #[error("the CA file {} is larger than {MAX_CA_FILE} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid PEM.
    #[error("the CA file {} is not valid PEM: {reason}", path.display())]
    NotPem {
        /// The file.
        path: PathBuf,
        /// The PEM parser's complaint.
        reason: String,
    },
    /// The file holds no certificate.
    #[error(
        "the CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        path.display()
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// No certificate of the file can be a trust anchor.
    #[error(
        "none of the {ignored} certificates in the CA file {} can be used as a trust anchor",
        path.display()
    )]
    NoneUsable {
        /// The file.
        path: PathBuf,
        /// Certificates skipped.
        ignored: usize,
    },
}

/// The trust anchors of the PEM file at `path` and how many there are (see the
/// [crate documentation](crate) for what is accepted).
pub fn load(path: &Path) -> Result<(RootCertStore, usize), CaFileError> {
    let io = |op| {
        move |source| CaFileError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    };
    let file = std::fs::File::open(path).map_err(io("open"))?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io("read"))?;
    if bytes.len() as u64 > MAX_CA_FILE {
        return Err(CaFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaFileError::NotPem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(CaFileError::NoCertificate {
            path: path.to_owned(),
        });
    }
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(CaFileError::NoneUsable {
            path: path.to_owned(),
            ignored,
        });
    }
    Ok((store, added))
}
