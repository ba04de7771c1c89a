//! The gRPC service: parses each request once (credspecs into [`LeaseSpecs`]), maps RPCs to
//! [`Manager`] calls and [`LeaseError`]s to status codes. The ARN RPCs
//! (`AddKerberosArnLease`, `RenewKerberosArnLease`) read their credspecs (S3 or SSM) and the
//! domainless user's secret (Secrets Manager) with the request's AWS credentials here, then
//! hand parsed credspecs and the user to the manager.

use super::config::DEFAULT_RPC_DEADLINE;
use super::error::{ErrorKind, LeaseError};
use super::lease::LeaseId;
use super::manager::{LeaseLogin, Manager, PendingLease};
use super::proto::credentials_fetcher_service_server::CredentialsFetcherService;
use super::proto::*;
use super::secret::{DomainlessCreds, SecretSource, creds_from_secret};
use super::specs::{LeaseSpecs, SpecText};
use crate::credspec::CredSpec;
use cf_aws::AwsClients;
use cf_aws::arn::CredspecArn;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::{Request, Response, Status};
use zeroize::Zeroizing;

/// The service implementation.
#[derive(Clone)]
pub struct Service {
    manager: Manager,
    secret: Option<Arc<dyn SecretSource>>,
    deadline: Duration,
}

impl Service {
    /// A service over `manager`.
    pub fn new(manager: Manager) -> Self {
        Self {
            manager,
            secret: None,
            deadline: DEFAULT_RPC_DEADLINE,
        }
    }

    /// Runs every Add*/Renew* RPC under `deadline` (a caller's shorter `grpc-timeout` wins).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The deadline of one call: ours, or the caller's `grpc-timeout` when shorter.
    fn deadline_for<T>(&self, request: &Request<T>) -> Duration {
        request
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map_or(self.deadline, |t| t.min(self.deadline))
    }

    /// Runs `rpc` until `deadline`: past it the call fails with DEADLINE_EXCEEDED and `rpc` is
    /// dropped, which rolls back a lease it had not committed yet (see [`Manager::add`]).
    async fn within<T>(
        name: &str,
        deadline: Duration,
        rpc: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        match tokio::time::timeout(deadline, rpc).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(
                    rpc = name,
                    deadline_ms = deadline.as_millis() as u64,
                    "{name}: the deadline passed before the answer; nothing is committed"
                );
                Err(Status::deadline_exceeded(format!(
                    "{name}: no answer within {} ms (the DC or KDC is slow); nothing was created, retry",
                    deadline.as_millis()
                )))
            }
        }
    }

    /// A service whose `AddKerberosLease` logs in domainless as the user from `secret` (upstream's
    /// "secret vault" mode, e.g. an AWS Secrets Manager secret).
    pub fn with_secret_source(manager: Manager, secret: Option<Arc<dyn SecretSource>>) -> Self {
        Self {
            secret,
            ..Self::new(manager)
        }
    }

    /// `AddKerberosLease` as the secret's user; when the login is refused the secret is read
    /// again (it may have been rotated) and, if it changed, the lease is tried once more.
    async fn add_with_secret(
        &self,
        secret: &dyn SecretSource,
        specs: LeaseSpecs,
    ) -> Result<PendingLease, LeaseError> {
        let domain = specs.domain().to_string();
        let creds = secret.credentials(&domain).await?;
        match self
            .manager
            .add(specs.clone(), LeaseLogin::Domainless(creds.clone()), None)
            .await
        {
            Err(e) if e.kind == ErrorKind::PermissionDenied => {
                let fresh = secret.credentials(&domain).await?;
                if fresh == creds {
                    return Err(e);
                }
                tracing::info!(user = %fresh.username, "the domainless secret changed; retrying with it");
                self.manager
                    .add(specs, LeaseLogin::Domainless(fresh), None)
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
        ErrorKind::DeadlineExceeded => Status::deadline_exceeded(msg),
        ErrorKind::ResourceExhausted => Status::resource_exhausted(msg),
        _ => Status::internal(msg),
    }
}

/// A `grpc-timeout` header value (1-8 digits and a unit: H, M, S, m, u, n).
pub fn parse_grpc_timeout(v: &str) -> Option<Duration> {
    let v = v.trim();
    let unit = v.chars().last()?;
    let digits = &v[..v.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
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
        let deadline = self.deadline_for(&request);
        let r = request.into_inner();
        Self::within("AddKerberosLease", deadline, async move {
            tracing::info!(credspecs = r.credspec_contents.len(), "AddKerberosLease");
            let specs = LeaseSpecs::parse(&r.credspec_contents).map_err(|e| status(&e))?;
            let pending = match &self.secret {
                Some(secret) => self.add_with_secret(secret.as_ref(), specs).await,
                None => {
                    self.manager
                        .add(specs, LeaseLogin::DomainJoined, None)
                        .await
                }
            }
            .map_err(|e| status(&e))?;
            let response = CreateKerberosLeaseResponse {
                lease_id: pending.added().lease_id.to_string(),
                created_kerberos_file_paths: paths(pending.added().dirs.clone()),
            };
            pending.commit().map_err(|e| status(&e))?;
            Ok(Response::new(response))
        })
        .await
    }

    async fn add_non_domain_joined_kerberos_lease(
        &self,
        request: Request<CreateNonDomainJoinedKerberosLeaseRequest>,
    ) -> Result<Response<CreateNonDomainJoinedKerberosLeaseResponse>, Status> {
        let deadline = self.deadline_for(&request);
        let r = request.into_inner();
        Self::within("AddNonDomainJoinedKerberosLease", deadline, async move {
            tracing::info!(credspecs = r.credspec_contents.len(), user = %r.username, domain = %r.domain, "AddNonDomainJoinedKerberosLease");
            let creds = DomainlessCreds::new(&r.username, Zeroizing::new(r.password), &r.domain)
                .map_err(|e| status(&e))?;
            let specs = LeaseSpecs::parse(&r.credspec_contents).map_err(|e| status(&e))?;
            let pending = self
                .manager
                .add(specs, LeaseLogin::Domainless(creds), None)
                .await
                .map_err(|e| status(&e))?;
            // One path per credspec in request order: the agent uses the first of each answer.
            let response = CreateNonDomainJoinedKerberosLeaseResponse {
                lease_id: pending.added().lease_id.to_string(),
                created_kerberos_file_paths: paths(pending.added().paths.clone()),
            };
            pending.commit().map_err(|e| status(&e))?;
            Ok(Response::new(response))
        })
        .await
    }

    async fn renew_non_domain_joined_kerberos_lease(
        &self,
        request: Request<RenewNonDomainJoinedKerberosLeaseRequest>,
    ) -> Result<Response<RenewNonDomainJoinedKerberosLeaseResponse>, Status> {
        let deadline = self.deadline_for(&request);
        let r = request.into_inner();
        Self::within("RenewNonDomainJoinedKerberosLease", deadline, async move {
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
        })
        .await
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
        let deadline = self.deadline_for(&request);
        let r = request.into_inner();
        Self::within("AddKerberosArnLease", deadline, async move {
            tracing::info!(arns = ?r.credspec_arns.iter().map(|a| a.chars().take(300).collect::<String>()).collect::<Vec<_>>(), region = %r.region, "AddKerberosArnLease");
            let resp = add_arn_lease(&self.manager, r).await.map_err(|e| {
                tracing::warn!(error = %e, "AddKerberosArnLease failed");
                status(&e)
            })?;
            Ok(Response::new(resp))
        })
        .await
    }

    async fn renew_kerberos_arn_lease(
        &self,
        request: Request<RenewKerberosArnLeaseRequest>,
    ) -> Result<Response<RenewKerberosArnLeaseResponse>, Status> {
        let deadline = self.deadline_for(&request);
        let r = request.into_inner();
        Self::within("RenewKerberosArnLease", deadline, async move {
            tracing::info!(region = %r.region, "RenewKerberosArnLease");
            let status = match renew_arn_leases(&self.manager, r).await {
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
        })
        .await
    }
}

/// The task's AWS credentials and region an ARN request carries.
trait TaskCredentials {
    /// Access key id, secret access key, session token, region.
    fn task_credentials(&self) -> [&str; 4];
}

impl TaskCredentials for KerberosArnLeaseRequest {
    fn task_credentials(&self) -> [&str; 4] {
        [
            &self.access_key_id,
            &self.secret_access_key,
            &self.session_token,
            &self.region,
        ]
    }
}

impl TaskCredentials for RenewKerberosArnLeaseRequest {
    fn task_credentials(&self) -> [&str; 4] {
        [
            &self.access_key_id,
            &self.secret_access_key,
            &self.session_token,
            &self.region,
        ]
    }
}

/// The clients for an ARN request's task credentials.
async fn request_clients(r: &impl TaskCredentials) -> Result<AwsClients, LeaseError> {
    let [access_key_id, secret_access_key, session_token, region] = r.task_credentials();
    AwsClients::with_static_credentials(
        access_key_id,
        secret_access_key,
        Some(session_token),
        region,
    )
    .await
    .map_err(|e| LeaseError::from_aws("checking the request's AWS credentials", &e))
}

/// Reads the user of a credspec's `CredentialArn` secret.
async fn arn_user(
    aws: &AwsClients,
    credential_arn: &str,
    domain: &str,
) -> Result<DomainlessCreds, LeaseError> {
    let step = format!("reading the domainless user from the secret {credential_arn}");
    let secret = aws
        .get_secret_json(credential_arn)
        .await
        .map_err(|e| LeaseError::from_aws(step, &e))?;
    creds_from_secret(secret, domain)
}

/// `AddKerberosArnLease`: reads each credspec (S3 or SSM) and its `CredentialArn` secret with
/// the request's credentials and region, then creates one lease. Every credspec of one request
/// must name the same domainless user. Nothing is written unless every step succeeds.
async fn add_arn_lease(
    manager: &Manager,
    r: KerberosArnLeaseRequest,
) -> Result<CreateKerberosArnLeaseResponse, LeaseError> {
    LeaseSpecs::check_count(r.credspec_arns.len(), "credspec ARNs")?;
    let arns = r
        .credspec_arns
        .iter()
        .map(|a| {
            CredspecArn::parse(a.trim())
                .map_err(|e| LeaseError::invalid("checking the credspec ARN", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let aws = request_clients(&r).await?;
    let mut specs = Vec::with_capacity(arns.len());
    let mut user: Option<DomainlessCreds> = None;
    let mut users_by_arn: BTreeMap<String, DomainlessCreds> = BTreeMap::new();
    for arn in &arns {
        let resource = arn.resource();
        let text = aws
            .read_credspec(arn)
            .await
            .map_err(|e| LeaseError::from_aws(format!("reading the credspec {resource}"), &e))?;
        let spec = CredSpec::parse(text.as_bytes())
            .map_err(|e| LeaseError::invalid(format!("parsing the credspec {resource}"), e))?;
        let cred_arn = spec.credential_arn.clone().filter(|a| !a.trim().is_empty()).ok_or_else(|| {
            LeaseError::invalid(
                format!("parsing the credspec {resource}"),
                "it has no HostAccountConfig.PluginInput.CredentialArn naming the domainless user's secret",
            )
        })?;
        let creds = match users_by_arn.get(&cred_arn) {
            Some(c) => c.clone(),
            None => {
                let c = arn_user(&aws, cred_arn.trim(), &spec.domain).await?;
                users_by_arn.insert(cred_arn, c.clone());
                c
            }
        };
        match &user {
            Some(u) if u.key() != creds.key() => {
                return Err(LeaseError::invalid(
                    "checking the request",
                    format!(
                        "the credspecs name different domainless users ({} and {}); send one request per user",
                        u.key(),
                        creds.key()
                    ),
                ));
            }
            Some(_) => {}
            None => user = Some(creds),
        }
        specs.push(SpecText { spec, text });
    }
    let Some(creds) = user else {
        return Err(LeaseError::invalid(
            "checking the request",
            "no credspec ARN given",
        ));
    };
    let pending = manager
        .add(LeaseSpecs::new(specs)?, LeaseLogin::Domainless(creds), None)
        .await?;
    let added = pending.added();
    let response = CreateKerberosArnLeaseResponse {
        lease_id: added.lease_id.to_string(),
        krb_ticket_response_map: r
            .credspec_arns
            .iter()
            .zip(&added.paths)
            .map(|(arn, path)| KerberosTicketArnResponse {
                credspec_arns: arn.trim().to_string(),
                created_kerberos_file_paths: path.display().to_string(),
            })
            .collect(),
    };
    pending.commit()?;
    Ok(response)
}

/// `RenewKerberosArnLease`: re-reads the `CredentialArn` secret of every ARN lease with the
/// request's credentials and renews those tickets now. Every secret and every lease is tried,
/// even after a failure; the result is the number of renewed tickets, or the first error once
/// all were tried.
async fn renew_arn_leases(
    manager: &Manager,
    r: RenewKerberosArnLeaseRequest,
) -> Result<usize, LeaseError> {
    let aws = request_clients(&r).await?;
    // Each secret once, with the domain of a ticket that uses it.
    let mut secrets: BTreeMap<String, String> = BTreeMap::new();
    for id in manager.lease_ids() {
        if let Some(md) = manager.lease(&id) {
            for t in md.tickets {
                if !t.credential_arn.trim().is_empty() && !t.domainless_user.is_empty() {
                    secrets
                        .entry(t.credential_arn.trim().to_string())
                        .or_insert_with(|| t.user_domain().to_owned());
                }
            }
        }
    }
    let mut renewed = 0;
    let mut first_err = None;
    for (arn, domain) in secrets {
        let r = match arn_user(&aws, &arn, &domain).await {
            Ok(creds) => manager.renew_user(creds).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(dirs) => renewed += dirs.len(),
            Err(e) => {
                tracing::warn!(secret = %arn, error = %e, "renewing the ARN leases of this secret failed");
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(renewed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts() {
        for (v, d) in [
            ("15S", Duration::from_secs(15)),
            ("19999m", Duration::from_millis(19_999)),
            ("1H", Duration::from_secs(3600)),
            ("2M", Duration::from_secs(120)),
            ("500u", Duration::from_micros(500)),
            ("7n", Duration::from_nanos(7)),
        ] {
            assert_eq!(parse_grpc_timeout(v), Some(d), "{v}");
        }
        for bad in ["", "S", "123456789S", "10s", "-1S", "1.5S", "10"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }
}
