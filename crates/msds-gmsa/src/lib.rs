//! Group Managed Service Account (gMSA) support: read a gMSA's password from Active Directory
//! and log in as the gMSA.
//!
//! The way the daemon (`credentials-fetcherd`) and `gmsa fetch` use it, one lease:
//!
//! 1. a user (the domainless user, or the host's machine account) gets a TGT with
//!    [`krb5_proto::client::Client::as_exchange`];
//! 2. a [`GmsaReader`] finds a DC ([`dc`]: `--dc`, or DNS SRV), gets a service ticket for
//!    `ldap/<dc>`, binds with SASL GSSAPI and the confidentiality layer (or over LDAPS,
//!    [`ldap`]) and searches for the gMSA; the constructed attribute `msDS-ManagedPassword`
//!    comes back as a [`FetchedPassword`] whose [`ManagedPasswordBlob`] is parsed strictly by
//!    its offsets (MS-ADTS 2.2.19);
//! 3. [`gmsa_tgt`] logs in as the gMSA with the password the KDC currently accepts
//!    ([`ManagedPasswordBlob::password_for_authentication`], falling back to the other one on
//!    `KDC_ERR_PREAUTH_FAILED`): the AES keys from the password as Windows munges it to UTF-8,
//!    the RC4 key from the raw UTF-16 ([`secret_for`]), pre-authentication guessed from the
//!    computer-account salt ([`computer_account_salt`]) so it is one TCP round trip;
//! 4. the caller writes [`GmsaTicket::tgt`] to a credential cache (crate `ccache`).
//!
//! The KDC exchanges go through the caller's [`krb5_proto::client::Client`], with
//! [`with_tcp_for_tickets`](krb5_proto::client::Client::with_tcp_for_tickets) applied: AD's
//! tickets carry a PAC too large for UDP.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use krb5_proto::as_exchange::{AsOptions, Secret};
//! use krb5_proto::client::Client;
//! use krb5_proto::config::Krb5Conf;
//! use krb5_proto::Principal;
//! use msds_gmsa::{FetchOptions, GmsaLookup, GmsaReader, gmsa_tgt};
//!
//! let kdc = Client::new(Krb5Conf::load_default()?).with_tcp_for_tickets();
//! let me = Principal::parse("svc-fetcher@EXAMPLE.TEST", None)?;
//! let user_tgt = kdc.as_exchange(me, Secret::password("secret"), AsOptions::default()).await?;
//!
//! let mut reader = GmsaReader::new(kdc.clone(), "example.test", FetchOptions::default())?;
//! let fetched = reader.fetch(&user_tgt, &GmsaLookup::SamAccountName("WebApp01".into())).await?;
//! reader.close().await;
//!
//! let ticket = gmsa_tgt(&kdc, "EXAMPLE.TEST", &fetched.sam_account_name, &fetched.blob,
//!     &AsOptions::default()).await?;
//! println!("TGT for {} until {}", ticket.tgt.client, ticket.tgt.end_time);
//! # Ok(()) }
//! ```
//!
//! Without a KDC, the blob on its own: parse it, pick the password, and derive the keys a keytab
//! would hold ([`GmsaKeys::derive`]; the login above does not need them):
//!
//! ```
//! use msds_gmsa::{GmsaKeys, ManagedPasswordBlob, computer_account_salt};
//!
//! # fn blob_from_ldap() -> Vec<u8> {
//! #     let pw: Vec<u8> = "S3cret!".encode_utf16().flat_map(u16::to_le_bytes).collect();
//! #     let q = 16 + pw.len() + 2;
//! #     let mut b = vec![1, 0, 0, 0];
//! #     b.extend_from_slice(&((q + 16) as u32).to_le_bytes());
//! #     for off in [16u16, 0, q as u16, q as u16 + 8] { b.extend_from_slice(&off.to_le_bytes()); }
//! #     b.extend_from_slice(&pw);
//! #     b.extend_from_slice(&[0, 0]);
//! #     b.extend_from_slice(&(30 * 24 * 3600 * 10_000_000u64).to_le_bytes());
//! #     b.extend_from_slice(&(30 * 24 * 3600 * 10_000_000u64 - 3_000_000_000).to_le_bytes());
//! #     b
//! # }
//! let blob = ManagedPasswordBlob::parse(&blob_from_ldap())?;
//! let password = blob.password_for_authentication()?;
//! let salt = computer_account_salt("EXAMPLE.COM", "WebApp01$");
//! let keys = GmsaKeys::derive(password, &salt)?;
//! assert_eq!(keys.as_vec().len(), 3); // aes256, aes128, rc4 — strongest first
//! # Ok::<(), msds_gmsa::GmsaError>(())
//! ```

mod blob;
pub mod dc;
mod error;
mod keys;
pub mod ldap;
pub mod netlogon;
mod password;
mod salt;
pub mod tgt;

pub use blob::{BlobHeader, MAX_CLOCK_SKEW_TICKS, ManagedPasswordBlob};
pub use error::{BlobField, GmsaError};
pub use keys::GmsaKeys;
pub use ldap::LdapError;
pub use ldap::conn::{Connection, RootDse, Security, TlsMode};
pub use ldap::fetch::fetch_managed_password;
pub use ldap::lookup::{FetchOptions, FetchedPassword, GmsaLookup};
pub use ldap::sasl::SaslLayer;
pub use ldap::session::GmsaReader;
pub use password::Utf16Password;
pub use salt::{computer_account_salt, computer_account_salt_with_domain};
pub use tgt::{GmsaTicket, gmsa_tgt, secret_for};
