//! The `gmsa` command-line tool and (to come) the `credentials-fetcherd` daemon.
//!
//! The library part holds what both binaries share: conversion between the Kerberos engine's
//! [`krb5_proto::Credentials`] and MIT credential caches ([`convert`]), and the CLI itself ([`cli`]).

pub mod cli;
pub mod convert;
pub mod credspec;
pub mod login;
pub mod server;
pub mod timefmt;
