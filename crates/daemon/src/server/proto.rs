//! Code generated from `proto/credentialsfetcher.proto` (package `credentialsfetcher`).
#![allow(missing_docs, clippy::all)]

tonic::include_proto!("credentialsfetcher");

use std::fmt;

impl fmt::Debug for CreateNonDomainJoinedKerberosLeaseRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateNonDomainJoinedKerberosLeaseRequest")
            .field("credspec_contents", &self.credspec_contents.len())
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("domain", &self.domain)
            .finish()
    }
}

impl fmt::Debug for RenewNonDomainJoinedKerberosLeaseRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenewNonDomainJoinedKerberosLeaseRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("domain", &self.domain)
            .finish()
    }
}

impl fmt::Debug for KerberosArnLeaseRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KerberosArnLeaseRequest")
            .field("credspec_arns", &self.credspec_arns)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("region", &self.region)
            .finish()
    }
}

impl fmt::Debug for RenewKerberosArnLeaseRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenewKerberosArnLeaseRequest")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("region", &self.region)
            .finish()
    }
}
