//! A Kerberos V5 client engine in pure Rust.
//!
//! The core is sans-IO: every exchange is a state machine that takes bytes, the current time and a
//! source of randomness, and returns bytes to send. Nothing here opens a socket unless the `tokio`
//! feature's [`transport`] module is used to drive it.
//!
//! * [`asn1`]: RFC 4120 messages (with MS-KILE additions) on `rasn`, names as raw bytes.
//! * [`crypto`]: the enctype profiles 17, 18, 19, 20 and 23: string-to-key, encryption, checksums.
//! * [`as_exchange`] / [`tgs_exchange`] / [`ap`]: AS, TGS and AP exchanges as typed state machines;
//!   the TGS exchange follows cross-realm referrals and [`realm_path`]s (`[capaths]`) itself.
//! * [`keytab`]: MIT keytab v2 read and write.
//! * [`config`]: `krb5.conf` parsing; [`etype_policy`]: which enctypes krb5.conf permits.
//! * [`transport`] (feature `tokio`): UDP/TCP to KDCs, failover, DNS SRV discovery, and the
//!   host/port, DNS-resolver and address helpers `msds-gmsa` reuses for domain controllers.
//! * [`client`] (feature `tokio`): the async driver: it runs the exchanges over the transport
//!   with a per-request transport policy (TCP after `KRB_ERR_RESPONSE_TOO_BIG`, remembered per
//!   realm; with [`Client::with_tcp_for_tickets`](client::Client::with_tcp_for_tickets) every
//!   request answered with a ticket straight over TCP, as Active Directory needs).
//!
//! Errors are one [`Error`]; a KDC's refusal is a [`error::KdcError`] with the RFC name, a
//! hint, and classifications such as [`Error::is_bad_credentials`].
//!
//! A login and a service ticket against an Active Directory KDC:
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn demo() -> krb5_proto::Result<()> {
//! use krb5_proto::as_exchange::{AsOptions, Secret};
//! use krb5_proto::client::Client;
//! use krb5_proto::config::Krb5Conf;
//! use krb5_proto::Principal;
//!
//! let kdc = Client::new(Krb5Conf::load_default()?).with_tcp_for_tickets();
//! let me = Principal::parse("alice@EXAMPLE.TEST", None)?;
//! let tgt = match kdc.as_exchange(me, Secret::password("secret"), AsOptions::default()).await {
//!     Err(e) if e.is_bad_credentials() => {
//!         eprintln!("wrong password, or the account is refused: {e}");
//!         return Ok(());
//!     }
//!     other => other?,
//! };
//! let http = Principal::parse("HTTP/web.example.test@EXAMPLE.TEST", None)?;
//! let ticket = kdc.tgs_exchange(&tgt, http, Default::default()).await?;
//! println!("{} until {}", ticket.server, ticket.end_time);
//! # Ok(()) }
//! ```

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
pub mod realm_path;
pub mod s2k;
pub mod tgs_exchange;
#[cfg(feature = "tokio")]
pub mod transport;

pub use creds::Credentials;
pub use error::{Error, ReplyCheck, Result};
pub use principal::Principal;
