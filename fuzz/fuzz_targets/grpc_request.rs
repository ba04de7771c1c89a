//! The gRPC requests' bytes as the daemon receives them: protobuf decoding of every request
//! message (prost, as tonic does), then the checks each handler runs before any work:
//! `LeaseId::parse` on the trimmed lease id, `DomainlessCreds::new` on user/password/domain,
//! `LeaseSpecs::parse` on the credspecs, `CredspecArn::parse` on the trimmed ARNs.
//!
//! Input: one selector byte (which message), then the protobuf bytes.
//!
//! Invariants: every decoded message re-encodes to bytes that decode to the same message;
//! accepted lease ids are 20 lowercase hex characters; accepted users have a valid lower-case
//! domain and a 1-103-byte name without control characters or `/`; accepted credspec lists
//! hold 1 to 256 credspecs, no two with the same gMSA name.
#![no_main]

use cf_aws::arn::CredspecArn;
use credentials_fetcherd::credspec::valid_domain;
use credentials_fetcherd::server::lease::{LeaseId, MAX_TICKETS_PER_LEASE};
use credentials_fetcherd::server::proto::{
    CreateKerberosLeaseRequest, CreateNonDomainJoinedKerberosLeaseRequest,
    DeleteKerberosLeaseRequest, HealthCheckRequest, KerberosArnLeaseRequest,
    RenewKerberosArnLeaseRequest, RenewNonDomainJoinedKerberosLeaseRequest,
};
use credentials_fetcherd::server::secret::DomainlessCreds;
use credentials_fetcherd::server::specs::LeaseSpecs;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use zeroize::Zeroizing;

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<M> {
    let m = M::decode(bytes).ok()?;
    let again = M::decode(m.encode_to_vec().as_slice()).expect("our encoding decodes");
    assert_eq!(again, m);
    Some(m)
}

fn check_user(username: &str, password: &str, domain: &str) {
    if let Ok(c) = DomainlessCreds::new(username, Zeroizing::new(password.to_string()), domain) {
        assert!(valid_domain(&c.domain) && c.domain == c.domain.to_ascii_lowercase());
        assert!(!c.username.is_empty() && c.username.len() < 104);
        assert!(!c.username.chars().any(|ch| ch.is_control() || ch == '/'));
        assert!(!c.password.is_empty() && c.password.len() < 104);
    }
}

fn check_credspecs(contents: &[String]) {
    if let Ok(specs) = LeaseSpecs::parse(contents) {
        assert_eq!(specs.requested().len(), contents.len());
        let distinct: Vec<_> = specs.distinct().collect();
        assert!(!distinct.is_empty() && distinct.len() <= MAX_TICKETS_PER_LEASE);
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert!(!a.spec.gmsa_name.eq_ignore_ascii_case(&b.spec.gmsa_name));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    match sel % 7 {
        0 => {
            if let Some(r) = round_trip::<CreateKerberosLeaseRequest>(bytes) {
                check_credspecs(&r.credspec_contents);
            }
        }
        1 => {
            if let Some(r) = round_trip::<CreateNonDomainJoinedKerberosLeaseRequest>(bytes) {
                check_user(&r.username, &r.password, &r.domain);
                check_credspecs(&r.credspec_contents);
            }
        }
        2 => {
            if let Some(r) = round_trip::<RenewNonDomainJoinedKerberosLeaseRequest>(bytes) {
                check_user(&r.username, &r.password, &r.domain);
            }
        }
        3 => {
            if let Some(r) = round_trip::<DeleteKerberosLeaseRequest>(bytes)
                && let Ok(id) = LeaseId::parse(r.lease_id.trim())
            {
                assert_eq!(id.as_str().len(), 20);
                assert!(
                    id.as_str()
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                );
                assert_eq!(id.as_str(), r.lease_id.trim());
            }
        }
        4 => {
            if let Some(r) = round_trip::<KerberosArnLeaseRequest>(bytes) {
                for a in r.credspec_arns.iter().take(MAX_TICKETS_PER_LEASE) {
                    let _ = CredspecArn::parse(a.trim());
                }
            }
        }
        5 => {
            let _ = round_trip::<RenewKerberosArnLeaseRequest>(bytes);
        }
        _ => {
            let _ = round_trip::<HealthCheckRequest>(bytes);
        }
    }
});
