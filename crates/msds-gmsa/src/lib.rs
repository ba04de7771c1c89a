//! Group Managed Service Account (gMSA) support.
//!
//! A gMSA's password is read from the constructed LDAP attribute `msDS-ManagedPassword`, whose
//! value is an `MSDS-MANAGEDPASSWORD_BLOB` (MS-ADTS 2.2.19). This crate
//!
//! * parses that blob strictly by its offsets ([`ManagedPasswordBlob::parse`]),
//! * picks the password the KDC currently accepts
//!   ([`ManagedPasswordBlob::password_for_authentication`]),
//! * turns the raw UTF-16LE password into Kerberos keys ([`GmsaKeys::derive`]): RC4-HMAC is the
//!   NT hash of the raw UTF-16LE bytes, the AES keys use the password converted to UTF-8 the way
//!   Windows and Samba do it ([`Utf16Password::to_utf8_munged`]) and the computer-account salt
//!   ([`computer_account_salt`]).
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
