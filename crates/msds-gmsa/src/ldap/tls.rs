//! LDAPS: the TLS client (rustls with the pure-Rust `graviola` crypto provider), its trust
//! anchors, and the RFC 5929 `tls-server-end-point` channel bindings that a SASL GSSAPI bind
//! over TLS carries.
//!
//! * [`TlsClient::new`] trusts the certificates of a PEM CA file, or else the system bundle
//!   [`SYSTEM_CA_BUNDLE`]; the name verified is the DC host name the caller connects to.
//! * [`tls_server_end_point`] builds the channel-binding application data from the server's
//!   leaf certificate: `"tls-server-end-point:"` ‖ hash(certificate DER), the hash chosen from
//!   the certificate's signature algorithm ([`end_point_hash`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), msds_gmsa::ldap::LdapError> {
//! use std::time::Duration;
//! use msds_gmsa::ldap::conn::{Connection, Security};
//! use msds_gmsa::ldap::tls::TlsClient;
//!
//! let tls = TlsClient::new(Some("/etc/gmsa/ad-ca.pem".as_ref()))?;
//! let addr = "192.0.2.10:636".parse().unwrap();
//! let conn = Connection::connect_ldaps("dc1.example.test", addr, Duration::from_secs(5), &tls).await?;
//! assert_eq!(conn.security(), Security::Tls);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use sha2::Digest;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::LdapError;

/// The LDAPS port.
pub const LDAPS_PORT: u16 = 636;

/// The system's CA bundle (Debian/Ubuntu layout), used when no CA file is given.
pub const SYSTEM_CA_BUNDLE: &str = tls_roots::SYSTEM_CA_BUNDLE;

/// The prefix of the RFC 5929 channel-binding data.
pub const TLS_SERVER_END_POINT_PREFIX: &[u8] = b"tls-server-end-point:";

/// Where the trust anchors came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CaSource {
    /// A CA file given by the user.
    File(PathBuf),
    /// The system bundle ([`SYSTEM_CA_BUNDLE`]).
    System(PathBuf),
}

impl std::fmt::Display for CaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaSource::File(p) => write!(f, "the CA file {}", p.display()),
            CaSource::System(p) => {
                write!(f, "the system CA bundle {} (no CA file given)", p.display())
            }
        }
    }
}

/// A TLS client configuration for LDAPS: trust anchors and the crypto provider.
#[derive(Debug, Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    ca_source: CaSource,
    anchors: usize,
}

/// A completed TLS handshake: what the LDAP layer needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The RFC 5929 `tls-server-end-point` channel-binding data of the server's certificate.
    pub channel_bindings: Vec<u8>,
    /// The negotiated protocol version, e.g. `TLSv1_3`.
    pub protocol: String,
    /// The negotiated cipher suite.
    pub cipher_suite: String,
    /// Where the trust anchors came from.
    pub ca_source: CaSource,
}

fn setup_err(reason: String) -> LdapError {
    LdapError::TlsSetup { reason }
}

/// Reads the certificates of a PEM file into a root store ([`tls_roots::load`]).
/// Certificates rustls cannot use as trust anchors are skipped; a file with none usable is an
/// error.
pub fn load_trust_anchors(path: &Path) -> Result<(RootCertStore, usize), LdapError> {
    tls_roots::load(path).map_err(|e| setup_err(e.to_string()))
}

/// Whether this CPU has what the `graviola` crypto provider needs (x86_64: AES-NI, PCLMULQDQ,
/// AVX, AVX2, BMI1, ADX; aarch64: AES, SHA2, PMULL, NEON). Without them it would abort.
pub fn crypto_supported() -> bool {
    graviola::util::is_cpu_supported()
}

impl TlsClient {
    /// A client trusting the certificates in `ca_file` (PEM), or the system bundle
    /// [`SYSTEM_CA_BUNDLE`] when `None`. TLS 1.2 and 1.3 with rustls' safe defaults.
    pub fn new(ca_file: Option<&Path>) -> Result<Self, LdapError> {
        let ca_source = match ca_file {
            Some(p) => CaSource::File(p.to_path_buf()),
            None => CaSource::System(PathBuf::from(SYSTEM_CA_BUNDLE)),
        };
        let path = match &ca_source {
            CaSource::File(p) | CaSource::System(p) => p.clone(),
        };
        let (roots, anchors) = load_trust_anchors(&path)?;
        if !crypto_supported() {
            return Err(setup_err(
                "this CPU lacks instructions the TLS crypto provider (graviola) requires \
                 (x86_64: AES-NI, PCLMULQDQ, AVX2, BMI1, ADX); use plain LDAP with the SASL \
                 sealing layer instead"
                    .to_owned(),
            ));
        }
        let provider = Arc::new(rustls_graviola::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup_err(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            ca_source,
            anchors,
        })
    }

    /// Where the trust anchors came from.
    pub fn ca_source(&self) -> &CaSource {
        &self.ca_source
    }

    /// How many trust anchors were loaded.
    pub fn trust_anchor_count(&self) -> usize {
        self.anchors
    }

    /// Runs the TLS handshake on `tcp`, verifying the certificate for `host` (a DNS name or an
    /// IP address literal); `dc` names the DC in errors. Returns the stream and the channel
    /// bindings of the server's certificate.
    pub async fn handshake(
        &self,
        host: &str,
        dc: &str,
        tcp: TcpStream,
    ) -> Result<(TlsStream<TcpStream>, TlsInfo), LdapError> {
        let name = ServerName::try_from(host.to_owned()).map_err(|_| LdapError::TlsHandshake {
            dc: dc.to_owned(),
            reason: format!("{host:?} is not a DNS name or IP address to verify a certificate for"),
        })?;
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.config));
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| self.classify(host, dc, &e))?;
        let (_, session) = stream.get_ref();
        let leaf = session
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| LdapError::TlsHandshake {
                dc: dc.to_owned(),
                reason: "the server presented no certificate".to_owned(),
            })?;
        let channel_bindings =
            tls_server_end_point(leaf).map_err(|reason| LdapError::TlsHandshake {
                dc: dc.to_owned(),
                reason: format!("cannot compute the channel bindings: {reason}"),
            })?;
        let info = TlsInfo {
            channel_bindings,
            protocol: session
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            cipher_suite: session
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
            ca_source: self.ca_source.clone(),
        };
        Ok((stream, info))
    }

    fn classify(&self, host: &str, dc: &str, e: &std::io::Error) -> LdapError {
        use rustls::CertificateError as C;
        let tls = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match tls {
            Some(rustls::Error::InvalidCertificate(
                c @ (C::NotValidForName | C::NotValidForNameContext { .. }),
            )) => LdapError::CertificateNameMismatch {
                dc: dc.to_owned(),
                host: host.to_owned(),
                reason: c.to_string(),
                ca_source: self.ca_source.to_string(),
            },
            Some(rustls::Error::InvalidCertificate(c)) => LdapError::CertificateNotTrusted {
                dc: dc.to_owned(),
                host: host.to_owned(),
                reason: match c {
                    C::UnknownIssuer => {
                        "UnknownIssuer: it does not chain to any of the trust anchors".to_owned()
                    }
                    other => other.to_string(),
                },
                ca_source: self.ca_source.to_string(),
            },
            Some(other) => LdapError::TlsHandshake {
                dc: dc.to_owned(),
                reason: other.to_string(),
            },
            None => LdapError::Io {
                dc: dc.to_owned(),
                op: "TLS handshake",
                kind: e.kind(),
                message: e.to_string(),
            },
        }
    }
}

/// The hash of RFC 5929 §4.1 `tls-server-end-point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndPointHash {
    /// SHA-224 (certificates signed with SHA-224).
    Sha224,
    /// SHA-256 (signed with MD5, SHA-1 or SHA-256, and the fallback).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl EndPointHash {
    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            EndPointHash::Sha224 => sha2::Sha224::digest(data).to_vec(),
            EndPointHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            EndPointHash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            EndPointHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// Reads one DER TLV: (tag, contents, rest). Definite lengths of up to 4 bytes only; the
/// contents must lie inside `input`.
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("truncated DER (no tag)")?;
    let (&first, rest) = rest.split_first().ok_or("truncated DER (no length)")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(format!("unsupported DER length form {first:#04x}"));
        }
        let bytes = rest.get(..n).ok_or("truncated DER length")?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest.get(n..).unwrap_or_default())
    };
    let contents = rest
        .get(..len)
        .ok_or_else(|| format!("DER element of {len} bytes runs past its container"))?;
    Ok((tag, contents, rest.get(len..).unwrap_or_default()))
}

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;

// Signature algorithm OIDs (DER contents).
const RSA_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
const ECDSA_SHA2_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
const DSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03];
const DSA_SHA2_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03];
const OIW_SHA1_RSA: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1d];
// Hash algorithm OIDs (in RSASSA-PSS parameters).
const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const NIST_HASH_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];

/// The hash for `tls-server-end-point` over a certificate (RFC 5929 §4.1): SHA-256 when the
/// certificate's signature algorithm uses MD5 or SHA-1, else the signature's own hash
/// (SHA-224/256/384/512; for RSASSA-PSS the hash in its parameters). Algorithms without a
/// single hash (Ed25519, Ed448, unknown OIDs), for which the RFC leaves the binding
/// undefined, get SHA-256 (logged).
///
/// Only the outer `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, ... }` is
/// parsed; malformed DER is an error.
pub fn end_point_hash(cert_der: &[u8]) -> Result<EndPointHash, String> {
    let (tag, cert, _) = tlv(cert_der)?;
    if tag != SEQUENCE {
        return Err("a certificate is a DER SEQUENCE".to_owned());
    }
    let (_tbs_tag, _tbs, rest) = tlv(cert)?;
    let (tag, alg, _) = tlv(rest)?;
    if tag != SEQUENCE {
        return Err("the certificate's signatureAlgorithm is not a SEQUENCE".to_owned());
    }
    let (tag, oid, params) = tlv(alg)?;
    if tag != OID {
        return Err("the certificate's signatureAlgorithm has no OID".to_owned());
    }
    let by_nist_arc = |last: Option<&u8>| match last {
        Some(1) => Some(EndPointHash::Sha256),
        Some(2) => Some(EndPointHash::Sha384),
        Some(3) => Some(EndPointHash::Sha512),
        Some(4) => Some(EndPointHash::Sha224),
        _ => None,
    };
    let hash = if let Some(arc) = oid.strip_prefix(RSA_PREFIX) {
        match arc {
            // md2, md4, md5, sha1 WithRSAEncryption
            [2] | [3] | [4] | [5] => Some(EndPointHash::Sha256),
            [11] => Some(EndPointHash::Sha256),
            [12] => Some(EndPointHash::Sha384),
            [13] => Some(EndPointHash::Sha512),
            [14] => Some(EndPointHash::Sha224),
            [10] => Some(pss_hash(params, by_nist_arc)?),
            _ => None,
        }
    } else if oid == ECDSA_SHA1 || oid == DSA_SHA1 || oid == OIW_SHA1_RSA {
        Some(EndPointHash::Sha256)
    } else if let Some(arc) = oid.strip_prefix(ECDSA_SHA2_PREFIX) {
        match arc {
            [1] => Some(EndPointHash::Sha224),
            [2] => Some(EndPointHash::Sha256),
            [3] => Some(EndPointHash::Sha384),
            [4] => Some(EndPointHash::Sha512),
            _ => None,
        }
    } else if let Some(arc) = oid.strip_prefix(DSA_SHA2_PREFIX) {
        match arc {
            [1] => Some(EndPointHash::Sha224),
            [2] => Some(EndPointHash::Sha256),
            _ => None,
        }
    } else {
        None
    };
    Ok(hash.unwrap_or_else(|| {
        tracing::debug!(
            oid = ?oid,
            "tls-server-end-point is undefined for this certificate's signature algorithm; \
             using SHA-256"
        );
        EndPointHash::Sha256
    }))
}

/// The hash named in RSASSA-PSS-params (RFC 4055: `[0] hashAlgorithm DEFAULT sha1`), mapped per
/// RFC 5929 (SHA-1 → SHA-256).
fn pss_hash(
    params: &[u8],
    by_nist_arc: impl Fn(Option<&u8>) -> Option<EndPointHash>,
) -> Result<EndPointHash, String> {
    if params.is_empty() {
        return Ok(EndPointHash::Sha256);
    }
    let (tag, seq, _) = tlv(params)?;
    if tag != SEQUENCE {
        return Err("RSASSA-PSS parameters are not a SEQUENCE".to_owned());
    }
    if seq.is_empty() {
        return Ok(EndPointHash::Sha256); // all defaults: SHA-1
    }
    let (tag, explicit, _) = tlv(seq)?;
    if tag != 0xa0 {
        return Ok(EndPointHash::Sha256); // hashAlgorithm absent: SHA-1
    }
    let (tag, alg, _) = tlv(explicit)?;
    if tag != SEQUENCE {
        return Err("the RSASSA-PSS hashAlgorithm is not a SEQUENCE".to_owned());
    }
    let (tag, oid, _) = tlv(alg)?;
    if tag != OID {
        return Err("the RSASSA-PSS hashAlgorithm has no OID".to_owned());
    }
    if oid == SHA1 {
        return Ok(EndPointHash::Sha256);
    }
    match oid.strip_prefix(NIST_HASH_PREFIX) {
        Some([arc]) => Ok(by_nist_arc(Some(arc)).unwrap_or(EndPointHash::Sha256)),
        _ => Ok(EndPointHash::Sha256),
    }
}

/// The RFC 5929 `tls-server-end-point` channel-binding data for a server certificate:
/// `"tls-server-end-point:"` ‖ [`end_point_hash`]`(cert)` over the certificate's DER.
///
/// ```
/// use msds_gmsa::ldap::tls::tls_server_end_point;
/// // Not a certificate:
/// assert!(tls_server_end_point(&[0x30, 0x03, 0x02, 0x01]).is_err());
/// ```
pub fn tls_server_end_point(cert_der: &[u8]) -> Result<Vec<u8>, String> {
    let hash = end_point_hash(cert_der)?;
    let mut out = TLS_SERVER_END_POINT_PREFIX.to_vec();
    out.extend_from_slice(&hash.digest(cert_der));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .expect("fixture PEM")
            .to_vec()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Fixtures made with openssl (see testdata/README.md); each expected digest was computed
    /// independently with `openssl x509 -in F -outform der | openssl dgst -sha256` (or the
    /// hash named).
    #[test]
    fn channel_bindings_of_fixed_certificates() {
        for (file, pem, hash, expected) in [
            (
                "ecdsa-p256-sha256.pem",
                include_str!("testdata/ecdsa-p256-sha256.pem"),
                EndPointHash::Sha256,
                include_str!("testdata/ecdsa-p256-sha256.sha256"),
            ),
            (
                "ecdsa-p384-sha384.pem",
                include_str!("testdata/ecdsa-p384-sha384.pem"),
                EndPointHash::Sha384,
                include_str!("testdata/ecdsa-p384-sha384.sha384"),
            ),
            (
                "rsa-sha1.pem",
                include_str!("testdata/rsa-sha1.pem"),
                EndPointHash::Sha256,
                include_str!("testdata/rsa-sha1.sha256"),
            ),
            (
                "rsa-sha512.pem",
                include_str!("testdata/rsa-sha512.pem"),
                EndPointHash::Sha512,
                include_str!("testdata/rsa-sha512.sha512"),
            ),
            (
                "rsa-pss-sha384.pem",
                include_str!("testdata/rsa-pss-sha384.pem"),
                EndPointHash::Sha384,
                include_str!("testdata/rsa-pss-sha384.sha384"),
            ),
            (
                "ed25519.pem",
                include_str!("testdata/ed25519.pem"),
                EndPointHash::Sha256,
                include_str!("testdata/ed25519.sha256"),
            ),
        ] {
            let cert = der(pem);
            assert_eq!(end_point_hash(&cert), Ok(hash), "{file}");
            let cb = tls_server_end_point(&cert).unwrap();
            let (prefix, digest) = cb.split_at(TLS_SERVER_END_POINT_PREFIX.len());
            assert_eq!(prefix, b"tls-server-end-point:", "{file}");
            assert_eq!(hex(digest), expected.trim(), "{file}");
        }
    }

    #[test]
    fn channel_bindings_bytes_for_the_p256_fixture() {
        // The full application data, as the GSS 0x8003 checksum hashes it.
        let cert = der(include_str!("testdata/ecdsa-p256-sha256.pem"));
        let cb = tls_server_end_point(&cert).unwrap();
        assert_eq!(cb.len(), 21 + 32);
        let mut want = b"tls-server-end-point:".to_vec();
        let digest = include_str!("testdata/ecdsa-p256-sha256.sha256").trim();
        for i in (0..digest.len()).step_by(2) {
            want.push(u8::from_str_radix(&digest[i..i + 2], 16).unwrap());
        }
        assert_eq!(cb, want);
    }

    #[test]
    fn malformed_certificates_are_errors_not_panics() {
        let good = der(include_str!("testdata/ecdsa-p256-sha256.pem"));
        for n in 0..good.len().min(64) {
            let _ = end_point_hash(&good[..n]);
        }
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x31, 0x00],
            &[0x30, 0x02, 0x30, 0x00],
            &[0x30, 0x06, 0x30, 0x00, 0x30, 0x02, 0x05, 0x00],
        ] {
            assert!(end_point_hash(bad).is_err(), "{bad:02x?}");
        }
        // Truncations and single-byte corruptions never panic.
        for i in 0..good.len() {
            let mut c = good.clone();
            c[i] ^= 0xff;
            let _ = end_point_hash(&c);
        }
    }

    #[test]
    fn pss_parameter_defaults() {
        let id = |x: &[u8]| x.to_vec();
        let f = |params: &[u8]| {
            pss_hash(params, |a| match a {
                Some(2) => Some(EndPointHash::Sha384),
                Some(3) => Some(EndPointHash::Sha512),
                _ => None,
            })
        };
        assert_eq!(f(&[]), Ok(EndPointHash::Sha256));
        assert_eq!(f(&[0x30, 0x00]), Ok(EndPointHash::Sha256));
        // [0] { SEQUENCE { sha512 } }
        let mut p = id(&[0x30, 0x0f, 0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09]);
        p.extend_from_slice(NIST_HASH_PREFIX);
        p.push(3);
        assert_eq!(f(&p), Ok(EndPointHash::Sha512));
    }

    #[test]
    fn ca_file_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("msds-gmsa-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let e = TlsClient::new(Some(&missing)).unwrap_err().to_string();
        assert!(e.contains("missing.pem"), "{e}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = TlsClient::new(Some(&empty)).unwrap_err().to_string();
        assert!(
            e.contains("empty.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let broken = dir.join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nMIIB!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = TlsClient::new(Some(&broken)).unwrap_err().to_string();
        assert!(e.contains("broken.pem"), "{e}");
        let ok = dir.join("ok.pem");
        std::fs::write(&ok, include_str!("testdata/ecdsa-p256-sha256.pem")).unwrap();
        let c = TlsClient::new(Some(&ok)).unwrap();
        assert_eq!(c.trust_anchor_count(), 1);
        assert_eq!(c.ca_source(), &CaSource::File(ok.clone()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
