//! The gRPC service: maps RPCs to [`Manager`] calls and [`LeaseError`]s to status codes.

use super::lease::LeaseId;
use super::manager::{LeaseLogin, Manager};
use super::proto::credentials_fetcher_service_server::CredentialsFetcherService;
use super::proto::*;
use super::source::{DomainlessCreds, ErrorKind, LeaseError};
use tonic::{Request, Response, Status};
use zeroize::Zeroizing;

/// The service implementation.
#[derive(Clone)]
pub struct Service {
    manager: Manager,
}

impl Service {
    /// A service over `manager`.
    pub fn new(manager: Manager) -> Self {
        Self { manager }
    }
}

/// The gRPC status for a lease error (the message names the step and the cause).
pub fn status(e: &LeaseError) -> Status {
    let msg = e.to_string();
    match e.kind {
        ErrorKind::InvalidArgument => Status::invalid_argument(msg),
        ErrorKind::Unavailable => Status::unavailable(msg),
        ErrorKind::PermissionDenied => Status::permission_denied(msg),
        ErrorKind::FailedPrecondition => Status::failed_precondition(msg),
        ErrorKind::Unimplemented => Status::unimplemented(msg),
        _ => Status::internal(msg),
    }
}

fn paths(v: Vec<std::path::PathBuf>) -> Vec<String> {
    v.into_iter().map(|p| p.display().to_string()).collect()
}

#[tonic::async_trait]
impl CredentialsFetcherService for Service {
    async fn add_kerberos_lease(
        &self,
        request: Request<CreateKerberosLeaseRequest>,
    ) -> Result<Response<CreateKerberosLeaseResponse>, Status> {
        let r = request.into_inner();
        tracing::info!(credspecs = r.credspec_contents.len(), "AddKerberosLease");
        let added = self
            .manager
            .add(r.credspec_contents, LeaseLogin::DomainJoined, None)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(CreateKerberosLeaseResponse {
            lease_id: added.lease_id.to_string(),
            created_kerberos_file_paths: paths(added.dirs),
        }))
    }

    async fn add_non_domain_joined_kerberos_lease(
        &self,
        request: Request<CreateNonDomainJoinedKerberosLeaseRequest>,
    ) -> Result<Response<CreateNonDomainJoinedKerberosLeaseResponse>, Status> {
        let r = request.into_inner();
        tracing::info!(credspecs = r.credspec_contents.len(), user = %r.username, domain = %r.domain, "AddNonDomainJoinedKerberosLease");
        let creds = DomainlessCreds::new(&r.username, Zeroizing::new(r.password), &r.domain)
            .map_err(|e| status(&e))?;
        let added = self
            .manager
            .add(r.credspec_contents, LeaseLogin::Domainless(creds), None)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(CreateNonDomainJoinedKerberosLeaseResponse {
            lease_id: added.lease_id.to_string(),
            created_kerberos_file_paths: paths(added.dirs),
        }))
    }

    async fn renew_non_domain_joined_kerberos_lease(
        &self,
        request: Request<RenewNonDomainJoinedKerberosLeaseRequest>,
    ) -> Result<Response<RenewNonDomainJoinedKerberosLeaseResponse>, Status> {
        let r = request.into_inner();
        tracing::info!(user = %r.username, domain = %r.domain, "RenewNonDomainJoinedKerberosLease");
        let creds = DomainlessCreds::new(&r.username, Zeroizing::new(r.password), &r.domain)
            .map_err(|e| status(&e))?;
        let dirs = self
            .manager
            .renew_user(creds)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(RenewNonDomainJoinedKerberosLeaseResponse {
            renewed_kerberos_file_paths: paths(dirs),
        }))
    }

    async fn delete_kerberos_lease(
        &self,
        request: Request<DeleteKerberosLeaseRequest>,
    ) -> Result<Response<DeleteKerberosLeaseResponse>, Status> {
        let r = request.into_inner();
        tracing::info!(lease = %r.lease_id.chars().take(64).collect::<String>(), "DeleteKerberosLease");
        let id = LeaseId::parse(r.lease_id.trim())
            .map_err(|e| Status::invalid_argument(format!("checking the lease id: {e}")))?;
        let dirs = self.manager.delete(&id).await.map_err(|e| status(&e))?;
        Ok(Response::new(DeleteKerberosLeaseResponse {
            lease_id: id.to_string(),
            deleted_kerberos_file_paths: paths(dirs),
        }))
    }

    async fn health_check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        match self.manager.healthy() {
            Ok(()) => Ok(Response::new(HealthCheckResponse {
                status: "OK".into(),
            })),
            Err(e) => Err(Status::unavailable(format!(
                "the daemon cannot create leases: {e}"
            ))),
        }
    }

    async fn add_kerberos_arn_lease(
        &self,
        _request: Request<KerberosArnLeaseRequest>,
    ) -> Result<Response<CreateKerberosArnLeaseResponse>, Status> {
        Err(Status::unimplemented(
            "AddKerberosArnLease: credspecs stored in S3 are not supported by this daemon yet",
        ))
    }

    async fn renew_kerberos_arn_lease(
        &self,
        _request: Request<RenewKerberosArnLeaseRequest>,
    ) -> Result<Response<RenewKerberosArnLeaseResponse>, Status> {
        Err(Status::unimplemented(
            "RenewKerberosArnLease: credspecs stored in S3 are not supported by this daemon yet",
        ))
    }
}
