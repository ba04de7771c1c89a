//! Log filtering shared by `credentials-fetcherd` (and any subscriber the CLI sets up): a
//! verbosity never makes a third-party crate log what it should not.
//!
//! `RUST_LOG` (else `--verbosity`) chooses the level as usual, but a second filter,
//! [`third_party_cap`], always applies on top:
//!
//! - our own crates ([`OUR_CRATES`]: the daemon, `gmsa`, `krb5_proto`, `msds_gmsa`, `ccache`,
//!   `atomic_replace`, `cf_aws`) may log at any level: they never log a password, key,
//!   password blob or session key (secret-bearing types print `<redacted>` in `Debug`);
//! - the crates that see raw protocol bytes ([`QUIET_CRATES`]: `ldap3_proto`, which traces
//!   whole LDAP messages, the msDS-ManagedPassword attribute included; `rustls`, `h2`,
//!   `hyper`, `hyper_util`, `tonic`, `tower`, `aws*`, `reqwest`) log warnings and errors only;
//! - every other crate logs at most `info`.
//!
//! So `RUST_LOG=trace` or `RUST_LOG=ldap3_proto=trace` still shows no secret.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// Targets (crate names) that may log at any level.
pub const OUR_CRATES: &[&str] = &[
    "credentials_fetcherd",
    "gmsa",
    "krb5_proto",
    "msds_gmsa",
    "ccache",
    "atomic_replace",
    "cf_aws",
];

/// Third-party crates that see protocol bytes (LDAP messages, HTTP/2 frames, TLS records, AWS
/// requests): warnings and errors only.
pub const QUIET_CRATES: &[&str] = &[
    "ldap3_proto",
    "rustls",
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "aws",
    "reqwest",
];

/// The filter described in the [module](self) docs; add it to the subscriber's layer next to
/// the `RUST_LOG` filter (an event must pass both).
pub fn third_party_cap() -> Targets {
    let mut t = Targets::new().with_default(LevelFilter::INFO);
    for c in QUIET_CRATES {
        t = t.with_target(*c, LevelFilter::WARN);
    }
    for c in OUR_CRATES {
        t = t.with_target(*c, LevelFilter::TRACE);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn third_party_crates_are_capped_whatever_the_verbosity() {
        let cap = third_party_cap();
        for target in [
            "ldap3_proto",
            "ldap3_proto::proto",
            "h2::codec::framed_read",
            "hyper::proto::h1",
            "tonic::transport",
            "rustls::client",
            "aws_smithy_runtime",
        ] {
            assert!(!cap.would_enable(target, &Level::INFO), "{target}");
            assert!(!cap.would_enable(target, &Level::TRACE), "{target}");
            assert!(cap.would_enable(target, &Level::WARN), "{target}");
        }
        assert!(!cap.would_enable("some_other_crate", &Level::DEBUG));
        assert!(cap.would_enable("some_other_crate", &Level::INFO));
        for target in [
            "credentials_fetcherd::server::kerberos",
            "gmsa",
            "krb5_proto::transport",
            "msds_gmsa::ldap::session",
        ] {
            assert!(cap.would_enable(target, &Level::TRACE), "{target}");
        }
    }
}
