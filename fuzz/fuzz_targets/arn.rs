//! ARNs from `AddKerberosArnLease` requests and credspecs: `cf_aws::arn::CredspecArn::parse`
//! (as the daemon calls it, on the trimmed string) and `SecretArn::parse`.
//!
//! Invariants: an accepted credspec ARN's suffix is two safe path components
//! (`[A-Za-z0-9._-]{1,64}`, not `.`/`..`); its `resource()` (the ARN without the suffix)
//! parses back to the same location, and with the suffix appended to the same ARN; an accepted
//! secret ARN parses back from its own text to the same value.
#![no_main]

use cf_aws::arn::{CredspecArn, MAX_ARN_LEN, SecretArn};
use libfuzzer_sys::fuzz_target;

fn safe(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn without_suffix(a: &CredspecArn) -> CredspecArn {
    let mut a = a.clone();
    match &mut a {
        CredspecArn::S3 { suffix, .. } | CredspecArn::Ssm { suffix, .. } => *suffix = None,
        _ => {}
    }
    a
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match CredspecArn::parse(text.trim()) {
        Ok(arn) => {
            assert!(text.trim().len() <= MAX_ARN_LEN);
            let resource = arn.resource();
            let bare = CredspecArn::parse(&resource)
                .unwrap_or_else(|e| panic!("resource {resource:?} of an accepted ARN: {e}"));
            assert_eq!(bare, without_suffix(&arn));
            if let Some(s) = arn.suffix() {
                assert!(safe(&s.id) && safe(&s.dir), "{s:?}");
                let full = format!("{resource}#{}/{}", s.id, s.dir);
                assert_eq!(CredspecArn::parse(&full).ok().as_ref(), Some(&arn));
            }
        }
        Err(e) => {
            let _ = (e.to_string(), e.kind());
        }
    }
    if let Ok(s) = SecretArn::parse(text) {
        assert!(s.name.len() <= 512 && !s.name.is_empty());
        assert_eq!(s.account.len(), 12);
        assert_eq!(SecretArn::parse(&s.arn).ok().as_ref(), Some(&s));
        assert!(s.arn.ends_with(&format!(":secret:{}", s.name)));
    }
});
