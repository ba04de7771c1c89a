//! The gRPC service: maps RPCs to [`Manager`] calls and [`LeaseError`]s to status codes.

use super::lease::LeaseId;
use super::manager::{LeaseLogin, Manager};
use super::proto::credentials_fetcher_service_server::CredentialsFetcherService;
use super::proto::*;
use super::source::{DomainlessCreds, ErrorKind, LeaseError, SecretSource};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use zeroize::Zeroizing;

/// The service implementation.
#[derive(Clone)]
pub struct Service {
    manager: Manager,
    secret: Option<Arc<dyn SecretSource>>,
}

impl Service {
    /// A service over `manager`.
    pub fn new(manager: Manager) -> Self {
        Self {
            manager,
            secret: None,
        }
    }

    /// A service whose `AddKerberosLease` logs in domainless as the user from `secret` (upstream's
    /// "secret vault" mode, e.g. an AWS Secrets Manager secret).
    pub fn with_secret_source(manager: Manager, secret: Option<Arc<dyn SecretSource>>) -> Self {
        Self { manager, secret }
    }

    /// `AddKerberosLease` as the secret's user; when the login is refused the secret is read
    /// again (it may have been rotated) and, if it changed, the lease is tried once more.
    async fn add_with_secret(
        &self,
        secret: &dyn SecretSource,
        credspecs: Vec<String>,
    ) -> Result<super::manager::Added, LeaseError> {
        let specs = Manager::parse_credspecs(&credspecs)?;
        let domain = specs
            .first()
            .map(|(s, _)| s.domain.clone())
            .unwrap_or_default();
        let creds = secret.credentials(&domain).await?;
        match self
            .manager
            .add(
                credspecs.clone(),
                LeaseLogin::Domainless(creds.clone()),
                None,
            )
            .await
        {
            Err(e) if e.kind == ErrorKind::PermissionDenied => {
                let fresh = secret.credentials(&domain).await?;
                if fresh == creds {
                    return Err(e);
                }
                tracing::info!(user = %fresh.username, "the domainless secret changed; retrying with it");
                self.manager
                    .add(credspecs, LeaseLogin::Domainless(fresh), None)
                    .await
            }
            r => r,
        }
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
        let added = match &self.secret {
            Some(secret) => {
                self.add_with_secret(secret.as_ref(), r.credspec_contents)
                    .await
            }
            None => {
                self.manager
                    .add(r.credspec_contents, LeaseLogin::DomainJoined, None)
                    .await
            }
        }
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
        request: Request<KerberosArnLeaseRequest>,
    ) -> Result<Response<CreateKerberosArnLeaseResponse>, Status> {
        let r = request.into_inner();
        tracing::info!(arns = ?r.credspec_arns.iter().map(|a| a.chars().take(300).collect::<String>()).collect::<Vec<_>>(), region = %r.region, "AddKerberosArnLease");
        let resp = super::aws::add_arn_lease(&self.manager, r)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "AddKerberosArnLease failed");
                status(&e)
            })?;
        Ok(Response::new(resp))
    }

    async fn renew_kerberos_arn_lease(
        &self,
        request: Request<RenewKerberosArnLeaseRequest>,
    ) -> Result<Response<RenewKerberosArnLeaseResponse>, Status> {
        let r = request.into_inner();
        tracing::info!(region = %r.region, "RenewKerberosArnLease");
        let status = match super::aws::renew_arn_leases(&self.manager, r).await {
            Ok(n) => {
                tracing::info!(tickets = n, "ARN leases renewed");
                "successful"
            }
            Err(e) => {
                tracing::warn!(error = %e, "RenewKerberosArnLease failed");
                "failed"
            }
        };
        Ok(Response::new(RenewKerberosArnLeaseResponse {
            status: status.into(),
        }))
    }
}
