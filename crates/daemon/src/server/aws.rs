//! The AWS side of the daemon (through [`cf_aws`]): the domainless user from a Secrets Manager
//! secret ([`AwsSecretSource`]) and the ARN leases of `AddKerberosArnLease` /
//! `RenewKerberosArnLease` ([`add_arn_lease`], [`renew_arn_leases`]).

use super::manager::{LeaseLogin, Manager};
use super::proto::{
    CreateKerberosArnLeaseResponse, KerberosArnLeaseRequest, KerberosTicketArnResponse,
    RenewKerberosArnLeaseRequest,
};
use super::source::{BoxFuture, DomainlessCreds, ErrorKind, LeaseError, SecretSource};
use crate::credspec::CredSpec;
use cf_aws::arn::CredspecArn;
use cf_aws::{AwsClients, AwsError, AwsErrorKind};
use std::collections::BTreeMap;
use tokio::sync::OnceCell;

/// Classifies an AWS failure for the gRPC caller; `step` says what the daemon was doing.
pub fn lease_error(step: impl Into<String>, e: &AwsError) -> LeaseError {
    let kind = match (e.kind(), e) {
        // A malformed configured secret is the host's set-up, not the caller's input.
        (_, AwsError::BadSecret { .. }) => ErrorKind::FailedPrecondition,
        (AwsErrorKind::NotFound, _) => ErrorKind::FailedPrecondition,
        (AwsErrorKind::Denied, _) => ErrorKind::PermissionDenied,
        (AwsErrorKind::NoCredentials, _) => ErrorKind::FailedPrecondition,
        (AwsErrorKind::Invalid, _) => ErrorKind::InvalidArgument,
        (AwsErrorKind::Unavailable, _) => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    LeaseError::new(kind, step, e)
}

/// Validated domainless credentials from a secret; `domain` is used when the secret names none.
/// (Public for the fuzz target `domainless_secret`.)
pub fn creds_from_secret(
    secret: cf_aws::DomainlessSecret,
    domain: &str,
) -> Result<DomainlessCreds, LeaseError> {
    let domain = secret.domain.as_deref().unwrap_or(domain).to_string();
    Ok(
        DomainlessCreds::new(&secret.username, secret.password, &domain)?
            .with_distinguished_name(secret.distinguished_name),
    )
}

/// The domainless user from an AWS Secrets Manager secret
/// (`CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA` / `--aws_sm_secret_name`), read with
/// the host's credentials (the standard chain: environment, profile, ECS, EC2 instance role).
/// Every call reads the secret afresh, so a rotated secret is picked up.
pub struct AwsSecretSource {
    name: String,
    clients: OnceCell<AwsClients>,
}

impl std::fmt::Debug for AwsSecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSecretSource")
            .field("name", &self.name)
            .finish()
    }
}

impl AwsSecretSource {
    /// A source for the secret `name` (a name or an ARN); the AWS configuration is loaded on
    /// first use.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            clients: OnceCell::new(),
        }
    }

    /// A source over already configured clients.
    pub fn with_clients(name: impl Into<String>, clients: AwsClients) -> Self {
        Self {
            name: name.into(),
            clients: OnceCell::new_with(Some(clients)),
        }
    }

    /// The secret's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn clients(&self) -> Result<&AwsClients, LeaseError> {
        self.clients
            .get_or_try_init(AwsClients::from_env)
            .await
            .map_err(|e| lease_error("loading the AWS configuration", &e))
    }
}

impl SecretSource for AwsSecretSource {
    fn credentials(&self, domain: &str) -> BoxFuture<'_, Result<DomainlessCreds, LeaseError>> {
        let domain = domain.to_string();
        Box::pin(async move {
            let step = format!(
                "reading the domainless user from the AWS Secrets Manager secret {}",
                self.name
            );
            let secret = self
                .clients()
                .await?
                .get_secret_json(&self.name)
                .await
                .map_err(|e| lease_error(step.clone(), &e))?;
            creds_from_secret(secret, &domain)
        })
    }
}

/// The clients for an ARN request's task credentials.
async fn request_clients(
    access_key_id: &str,
    secret_access_key: &str,
    session_token: &str,
    region: &str,
) -> Result<AwsClients, LeaseError> {
    AwsClients::with_static_credentials(
        access_key_id,
        secret_access_key,
        Some(session_token),
        region,
    )
    .await
    .map_err(|e| lease_error("checking the request's AWS credentials", &e))
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
        .map_err(|e| lease_error(step, &e))?;
    creds_from_secret(secret, domain)
}

/// `AddKerberosArnLease`: reads each credspec (S3 or SSM) and its `CredentialArn` secret with
/// the request's credentials and region, then creates one lease. Every credspec of one request
/// must name the same domainless user. Nothing is written unless every step succeeds.
pub async fn add_arn_lease(
    manager: &Manager,
    r: KerberosArnLeaseRequest,
) -> Result<CreateKerberosArnLeaseResponse, LeaseError> {
    if r.credspec_arns.is_empty() {
        return Err(LeaseError::invalid(
            "checking the request",
            "no credspec ARN given",
        ));
    }
    if r.credspec_arns.len() > super::lease::MAX_TICKETS_PER_LEASE {
        return Err(LeaseError::invalid(
            "checking the request",
            format!(
                "more than {} credspec ARNs",
                super::lease::MAX_TICKETS_PER_LEASE
            ),
        ));
    }
    let arns = r
        .credspec_arns
        .iter()
        .map(|a| {
            CredspecArn::parse(a.trim())
                .map_err(|e| LeaseError::invalid("checking the credspec ARN", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let aws = request_clients(
        &r.access_key_id,
        &r.secret_access_key,
        &r.session_token,
        &r.region,
    )
    .await?;
    let mut texts = Vec::with_capacity(arns.len());
    let mut specs = Vec::with_capacity(arns.len());
    let mut user: Option<DomainlessCreds> = None;
    let mut users_by_arn: BTreeMap<String, DomainlessCreds> = BTreeMap::new();
    for arn in &arns {
        let resource = arn.resource();
        let text = aws
            .read_credspec(arn)
            .await
            .map_err(|e| lease_error(format!("reading the credspec {resource}"), &e))?;
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
        texts.push(text);
        specs.push(spec);
    }
    let Some(creds) = user else {
        return Err(LeaseError::invalid(
            "checking the request",
            "no credspec ARN given",
        ));
    };
    let added = manager
        .add(texts, LeaseLogin::Domainless(creds), None)
        .await?;
    let layout = &manager.config().layout;
    Ok(CreateKerberosArnLeaseResponse {
        lease_id: added.lease_id.to_string(),
        krb_ticket_response_map: r
            .credspec_arns
            .iter()
            .zip(&specs)
            .map(|(arn, spec)| {
                // Duplicate gMSAs share the directory named after the first spelling.
                let first = specs
                    .iter()
                    .find(|s| {
                        s.domain == spec.domain && s.gmsa_name.eq_ignore_ascii_case(&spec.gmsa_name)
                    })
                    .unwrap_or(spec);
                KerberosTicketArnResponse {
                    credspec_arns: arn.trim().to_string(),
                    created_kerberos_file_paths: layout
                        .ticket_dir(&added.lease_id, &first.gmsa_name)
                        .display()
                        .to_string(),
                }
            })
            .collect(),
    })
}

/// `RenewKerberosArnLease`: re-reads the `CredentialArn` secret of every ARN lease with the
/// request's credentials and renews those tickets now. `Ok(())` when every renewal succeeded.
pub async fn renew_arn_leases(
    manager: &Manager,
    r: RenewKerberosArnLeaseRequest,
) -> Result<usize, LeaseError> {
    let aws = request_clients(
        &r.access_key_id,
        &r.secret_access_key,
        &r.session_token,
        &r.region,
    )
    .await?;
    // Each secret once, with the domain of a ticket that uses it.
    let mut secrets: BTreeMap<String, String> = BTreeMap::new();
    for id in manager.lease_ids() {
        if let Some(md) = manager.lease(&id) {
            for t in md.tickets {
                if !t.credential_arn.trim().is_empty() && !t.domainless_user.is_empty() {
                    secrets
                        .entry(t.credential_arn.trim().to_string())
                        .or_insert(t.domain_name);
                }
            }
        }
    }
    let mut renewed = 0;
    for (arn, domain) in secrets {
        let creds = arn_user(&aws, &arn, &domain).await?;
        renewed += manager.renew_user(creds).await?.len();
    }
    Ok(renewed)
}
