//! Domainless secrets: the domainless user's credentials ([`DomainlessCreds`]) and where they
//! come from ([`SecretSource`]): a JSON file ([`FileSecretSource`]) or an AWS Secrets Manager
//! secret ([`AwsSecretSource`]), both parsed by [`cf_aws::DomainlessSecret::parse`] and checked
//! by [`creds_from_secret`].

use super::error::{BoxFuture, ErrorKind, LeaseError};
use cf_aws::AwsClients;
use std::fmt;
use std::path::PathBuf;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

/// A domainless user's credentials. `Debug` redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DomainlessCreds {
    /// The user name (`user` or `user@REALM`).
    pub username: String,
    /// The password.
    pub password: Zeroizing<String>,
    /// The user's AD domain.
    pub domain: String,
    /// The gMSA's distinguished name when the secret gives one (upstream's
    /// `distinguishedName`): the gMSA it names is read at that DN instead of being searched for.
    pub distinguished_name: Option<String>,
}

impl DomainlessCreds {
    /// Validated credentials: user and password non-empty and under 104 bytes like upstream, no
    /// control characters in the user name, a valid domain.
    pub fn new(
        username: &str,
        password: Zeroizing<String>,
        domain: &str,
    ) -> Result<Self, LeaseError> {
        let step = "checking the domainless credentials";
        let username = username.trim();
        if username.is_empty()
            || username.len() >= 104
            || username.chars().any(|c| c.is_control() || c == '/')
        {
            return Err(LeaseError::invalid(
                step,
                "the user name must be 1-103 bytes without control characters or '/'",
            ));
        }
        if password.is_empty() || password.len() >= 104 {
            return Err(LeaseError::invalid(
                step,
                "the password must be 1-103 bytes",
            ));
        }
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !crate::credspec::valid_domain(&domain) {
            return Err(LeaseError::invalid(
                step,
                format!("the domain {domain:?} is not a valid DNS domain name"),
            ));
        }
        Ok(Self {
            username: username.to_string(),
            password,
            domain,
            distinguished_name: None,
        })
    }

    /// The same credentials with the gMSA DN from the secret (blank: none).
    pub fn with_distinguished_name(mut self, dn: Option<String>) -> Self {
        self.distinguished_name = dn.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
        self
    }

    /// The DN to read `gmsa` at: the secret's DN when its first RDN names that gMSA
    /// (`CN=<name>`, case-insensitive, a trailing `$` ignored), else none — a DN naming another
    /// account must not be read for this one.
    pub fn dn_for(&self, gmsa: &str) -> Option<&str> {
        let dn = self.distinguished_name.as_deref()?;
        let first = dn.split(',').next()?.trim();
        let (attr, value) = first.split_once('=')?;
        let name = gmsa.trim_end_matches('$');
        (attr.trim().eq_ignore_ascii_case("CN")
            && value
                .trim()
                .trim_end_matches('$')
                .eq_ignore_ascii_case(name))
        .then_some(dn)
    }

    /// The key identifying this user across leases: `user@domain`, lower case.
    pub fn key(&self) -> String {
        user_key(&self.username, &self.domain)
    }
}

/// `user@domain` in lower case (the user's own `@REALM` suffix is dropped).
pub fn user_key(username: &str, domain: &str) -> String {
    let user = username.split('@').next().unwrap_or(username);
    format!(
        "{}@{}",
        user.to_ascii_lowercase(),
        domain.to_ascii_lowercase()
    )
}

impl fmt::Debug for DomainlessCreds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Domainless")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("domain", &self.domain)
            .field("distinguished_name", &self.distinguished_name)
            .finish()
    }
}

/// Supplies the domainless user's credentials (file, or AWS Secrets Manager in another issue).
pub trait SecretSource: Send + Sync {
    /// Reads the credentials; `domain` is used when the secret names none.
    fn credentials(&self, domain: &str) -> BoxFuture<'_, Result<DomainlessCreds, LeaseError>>;
}

/// A JSON file `{"username": "...", "password": "...", "domainName": "..."}` (domain optional),
/// the shape of upstream's Secrets Manager secret.
#[derive(Debug, Clone)]
pub struct FileSecretSource {
    /// The file.
    pub path: PathBuf,
}

impl SecretSource for FileSecretSource {
    fn credentials(&self, domain: &str) -> BoxFuture<'_, Result<DomainlessCreds, LeaseError>> {
        let domain = domain.to_string();
        Box::pin(async move {
            let step = format!("reading the domainless secret {}", self.path.display());
            let bytes =
                Zeroizing::new(tokio::fs::read(&self.path).await.map_err(|e| {
                    LeaseError::new(ErrorKind::FailedPrecondition, step.clone(), e)
                })?);
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| LeaseError::new(ErrorKind::FailedPrecondition, step.clone(), e))?;
            // The same JSON as the Secrets Manager secret, parsed by the same code (its 64 KiB
            // bound, key names and error messages that never quote the content).
            let secret = cf_aws::DomainlessSecret::parse(&self.path.display().to_string(), text)
                .map_err(|e| LeaseError::from_aws(step, &e))?;
            creds_from_secret(secret, &domain)
        })
    }
}

/// Validated domainless credentials from a secret; `domain` is used when the secret names none.
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
            .map_err(|e| LeaseError::from_aws("loading the AWS configuration", &e))
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
                .map_err(|e| LeaseError::from_aws(step.clone(), &e))?;
            creds_from_secret(secret, &domain)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_dn_is_used_only_for_the_gmsa_it_names() {
        let c = DomainlessCreds::new("svc", Zeroizing::new("pw".into()), "example.test")
            .unwrap()
            .with_distinguished_name(Some(
                " CN=WebApp01,CN=Managed Service Accounts,DC=example,DC=test ".into(),
            ));
        let dn = "CN=WebApp01,CN=Managed Service Accounts,DC=example,DC=test";
        assert_eq!(c.dn_for("WebApp01"), Some(dn));
        assert_eq!(c.dn_for("webapp01$"), Some(dn));
        assert_eq!(c.dn_for("WebApp02"), None);
        let none = c.clone().with_distinguished_name(Some("  ".into()));
        assert_eq!(none.distinguished_name, None);
        assert_eq!(none.dn_for("WebApp01"), None);
        let ou = c.with_distinguished_name(Some("OU=Apps,DC=example,DC=test".into()));
        assert_eq!(ou.dn_for("Apps"), None);
        assert!(!format!("{ou:?}").contains("pw"));
    }
}
