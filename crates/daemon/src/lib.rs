//! The `credentials-fetcherd` daemon ([`server`]) and the `gmsa` command-line tool ([`cli`]).
//!
//! The library part holds what both binaries share: credspec parsing ([`credspec`]), the keytab
//! login rule ([`login`]) and conversion between the Kerberos engine's
//! [`krb5_proto::Credentials`] and MIT credential caches ([`convert`]).

pub mod cli;
pub mod convert;
pub mod credspec;
pub mod logging;
pub mod login;
pub mod server;
pub mod timefmt;
