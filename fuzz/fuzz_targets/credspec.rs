//! ECS credential specs as the daemon reads them (`AddKerberosLease` contents, `CF_CRED_SPEC_FILE`,
//! S3/SSM objects, the copy in lease metadata): `CredSpec::parse` and the request-level
//! `LeaseSpecs::parse`.
//!
//! Invariants: what parses has a valid gMSA name (no `$`, no path separator, not `.`/`..`) and
//! a valid lower-case DNS domain; its ticket directory is a direct child of the lease
//! directory; the spec re-encoded as ECS JSON parses back to the same spec; a request holding
//! the spec twice gives one ticket; a spec that does not parse makes the request fail.
#![no_main]

use credentials_fetcherd::credspec::{CredSpec, valid_account_name, valid_domain};
use credentials_fetcherd::server::lease::{Layout, LeaseId};
use credentials_fetcherd::server::specs::LeaseSpecs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = CredSpec::parse(data);
    let text = std::str::from_utf8(data).ok().map(str::to_string);
    match parsed {
        Ok(spec) => {
            assert!(valid_account_name(&spec.gmsa_name), "{:?}", spec.gmsa_name);
            assert!(!spec.gmsa_name.ends_with('$'));
            assert!(valid_domain(&spec.domain), "{:?}", spec.domain);
            assert_eq!(spec.domain, spec.domain.to_ascii_lowercase());
            assert_eq!(spec.realm(), spec.domain.to_ascii_uppercase());
            assert_eq!(spec.sam_account_name(), format!("{}$", spec.gmsa_name));
            let layout = Layout {
                root: "/var/credentials-fetcher/krbdir".into(),
            };
            let id = LeaseId::parse("0123456789abcdef0123").expect("a valid id");
            let dir = layout.ticket_dir(&id, &spec.gmsa_name);
            assert_eq!(dir.parent(), Some(layout.lease_dir(&id).as_path()));
            assert_eq!(
                dir.file_name().and_then(|n| n.to_str()),
                Some(spec.gmsa_name.as_str())
            );
            let again = serde_json::json!({
                "DomainJoinConfig": {"DnsName": spec.domain, "NetBiosName": spec.netbios_name},
                "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": spec.gmsa_name}]},
                "HostAccountConfig": {"PluginInput": {"CredentialArn": spec.credential_arn}},
            });
            let bytes = serde_json::to_vec(&again).expect("JSON encodes");
            assert_eq!(CredSpec::parse(&bytes).as_ref(), Ok(&spec));
            if let Some(text) = text {
                let merged = LeaseSpecs::parse(&[text.clone(), text])
                    .expect("a valid credspec makes a valid request");
                assert_eq!(merged.requested().len(), 2);
                let distinct: Vec<_> = merged.distinct().collect();
                assert_eq!(distinct.len(), 1);
                assert_eq!(distinct[0].spec, spec);
            }
        }
        Err(e) => {
            let _ = e.to_string();
            if let Some(text) = text {
                assert!(LeaseSpecs::parse(&[text]).is_err());
            }
        }
    }
});
