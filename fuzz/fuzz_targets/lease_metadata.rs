//! Lease metadata files read back at start-up (`<krbdir>/<lease>/<lease>_metadata.json`,
//! possibly written by upstream or tampered with): `Metadata::parse`, what `Metadata::read`
//! runs on the file's bytes.
//!
//! Invariants: accepted metadata has at most `MAX_TICKETS_PER_LEASE` tickets, and every ticket
//! directory is `<krbdir>/<lease>/<valid gMSA name>` naming the ticket's own gMSA (no way out of
//! the krbdir); what the daemon writes back (`to_vec_pretty`) parses to the same metadata.
#![no_main]

use credentials_fetcherd::credspec::valid_account_name;
use credentials_fetcherd::server::lease::{LeaseId, MAX_TICKETS_PER_LEASE, Metadata};
use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path};

fuzz_target!(|data: &[u8]| {
    let root = Path::new("/var/credentials-fetcher/krbdir");
    let id = LeaseId::parse("0123456789abcdef0123").expect("a valid id");
    let Ok(md) = Metadata::parse(root, &id, data) else {
        return;
    };
    assert!(md.tickets.len() <= MAX_TICKETS_PER_LEASE);
    let lease_dir = root.join(id.as_str());
    for t in &md.tickets {
        let dir = t.dir();
        assert_eq!(
            dir.parent(),
            Some(lease_dir.as_path()),
            "{:?}",
            t.krb_file_path
        );
        assert!(dir.starts_with(root));
        assert!(
            dir.components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_))),
            "{dir:?}"
        );
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 name");
        assert!(valid_account_name(name));
        assert!(name.eq_ignore_ascii_case(&t.service_account_name));
    }
    let written = serde_json::to_vec_pretty(&md).expect("metadata encodes");
    let again = Metadata::parse(root, &id, &written).expect("what we write parses");
    assert_eq!(again, md);
});
