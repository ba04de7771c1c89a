//! A Kerberos V5 client engine in pure Rust.
//!
//! The core is sans-IO: every exchange is a state machine that takes bytes, the current time and a
//! source of randomness, and returns bytes to send. Nothing here opens a socket unless the `tokio`
//! feature's [`transport`] module is used to drive it.
//!
//! * [`asn1`]: RFC 4120 messages (with MS-KILE additions) on `rasn`, names as raw bytes.
//! * [`crypto`]: the enctype profiles 17, 18, 19, 20 and 23: string-to-key, encryption, checksums.
//! * [`as_exchange`] / [`tgs_exchange`] / [`ap`]: AS, TGS and AP exchanges as typed state machines.
//! * [`keytab`]: MIT keytab v2 read and write.
//! * [`config`]: `krb5.conf` parsing; [`etype_policy`]: which enctypes krb5.conf permits.
//! * [`transport`] (feature `tokio`): UDP/TCP to KDCs, failover and DNS SRV discovery.

pub mod ap;
pub mod as_exchange;
pub mod asn1;
#[cfg(feature = "tokio")]
pub mod client;
pub mod config;
pub mod creds;
pub mod crypto;
pub mod error;
pub mod etype_policy;
pub mod gss;
pub mod keytab;
pub mod principal;
pub mod rand;
pub mod s2k;
pub mod tgs_exchange;
#[cfg(feature = "tokio")]
pub mod transport;

pub use creds::Credentials;
pub use error::{Error, ReplyCheck, Result};
pub use principal::Principal;
