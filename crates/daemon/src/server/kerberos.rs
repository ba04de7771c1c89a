//! The real [`TicketSource`]: log in (machine keytab or domainless user), read the gMSA password
//! over sealed LDAP, log in as the gMSA.
//!
//! Caches: the user's or machine's TGT is reused while it has more than five minutes left; the
//! decoded password blob is reused per gMSA until its `QueryPasswordInterval` runs out (at most
//! one hour), so N leases of one gMSA cost one LDAP read. Concurrent requests for the same entry
//! wait for the first one instead of repeating its work.

use super::source::{
    BoxFuture, ErrorKind, LeaseError, Login, TicketOutcome, TicketRequest, TicketSource,
};
use krb5_proto::as_exchange::{AsOptions, Secret};
use krb5_proto::client::Client;
use krb5_proto::keytab::Keytab;
use krb5_proto::{Credentials, Principal};
use msds_gmsa::{FetchOptions, GmsaLookup, ManagedPasswordBlob};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use zeroize::Zeroizing;

/// Longest a password blob is reused.
const MAX_PASSWORD_AGE: Duration = Duration::from_secs(3600);
/// A cached TGT must have at least this much life left.
const TGT_MARGIN: Duration = Duration::from_secs(300);

struct CachedTgt {
    tgt: Credentials,
    /// For domainless logins: the password that got it (a different password is a new login).
    password: Option<Zeroizing<String>>,
}

struct CachedPassword {
    blob: ManagedPasswordBlob,
    sam: String,
    dn: String,
    until: Instant,
}

type Slot<T> = Arc<tokio::sync::Mutex<Option<T>>>;

/// Kerberos + LDAP ticket source.
pub struct KerberosSource {
    client: Client,
    fetch: FetchOptions,
    tgts: Mutex<HashMap<String, Slot<CachedTgt>>>,
    passwords: Mutex<HashMap<String, Slot<CachedPassword>>>,
}

fn slot<T>(map: &Mutex<HashMap<String, Slot<T>>>, key: &str) -> Slot<T> {
    let mut m = match map.lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    m.entry(key.to_string()).or_default().clone()
}

impl KerberosSource {
    /// A source using `client` for the KDC and `fetch` for the DC.
    pub fn new(client: Client, fetch: FetchOptions) -> Self {
        Self {
            client,
            fetch,
            tgts: Mutex::default(),
            passwords: Mutex::default(),
        }
    }

    /// The login principal and secret.
    async fn login_secret(
        &self,
        req: &TicketRequest,
    ) -> Result<(Principal, Secret, Option<Zeroizing<String>>), LeaseError> {
        let realm = req.credspec.realm();
        match &req.login {
            Login::DomainJoined { keytab, principal } => {
                let step = format!("reading the host keytab {}", keytab.display());
                let path = keytab.clone();
                let kt = tokio::task::spawn_blocking(move || Keytab::read(&path))
                    .await
                    .map_err(|e| LeaseError::internal(step.clone(), e))?
                    .map_err(|e| LeaseError::new(ErrorKind::FailedPrecondition, step.clone(), e))?;
                let p = match principal {
                    Some(p) => Principal::parse(p, Some(&realm))
                        .map_err(|e| LeaseError::invalid(step.clone(), e))?,
                    None => {
                        let all = kt.principals();
                        all.iter()
                            .find(|p| {
                                p.realm_str().eq_ignore_ascii_case(&realm)
                                    && p.components.len() == 1
                            })
                            .or_else(|| all.first())
                            .cloned()
                            .ok_or_else(|| {
                                LeaseError::new(
                                    ErrorKind::FailedPrecondition,
                                    step.clone(),
                                    "the keytab is empty",
                                )
                            })?
                    }
                };
                let keys = kt.keys_for(&p);
                if keys.is_empty() {
                    return Err(LeaseError::new(
                        ErrorKind::FailedPrecondition,
                        step,
                        format!("no usable key for {p}"),
                    ));
                }
                Ok((p, Secret::Keys(keys), None))
            }
            Login::Domainless(c) => {
                let user_realm = c.domain.to_ascii_uppercase();
                let p = Principal::parse(&c.username, Some(&user_realm))
                    .map_err(|e| LeaseError::invalid("checking the domainless user name", e))?;
                Ok((
                    p,
                    Secret::Password(Zeroizing::new(c.password.as_bytes().to_vec())),
                    Some(c.password.clone()),
                ))
            }
        }
    }

    async fn user_tgt(&self, req: &TicketRequest) -> Result<Credentials, LeaseError> {
        let (principal, secret, password) = self.login_secret(req).await?;
        let slot = slot(&self.tgts, &principal.to_string().to_ascii_lowercase());
        let mut guard = slot.lock().await;
        if let Some(c) = guard.as_ref()
            && c.password == password
            && c.tgt.is_valid_at(SystemTime::now(), TGT_MARGIN)
        {
            return Ok(c.tgt.clone());
        }
        let tgt = self
            .client
            .as_exchange(principal.clone(), secret, AsOptions::default())
            .await
            .map_err(|e| LeaseError::from_krb5(format!("logging in as {principal}"), &e))?;
        *guard = Some(CachedTgt {
            tgt: tgt.clone(),
            password,
        });
        Ok(tgt)
    }

    async fn password(
        &self,
        req: &TicketRequest,
        fresh: bool,
    ) -> Result<(ManagedPasswordBlob, String, String), LeaseError> {
        let spec = &req.credspec;
        let key = format!(
            "{}\\{}",
            spec.domain,
            spec.sam_account_name().to_ascii_lowercase()
        );
        let slot = slot(&self.passwords, &key);
        let mut guard = slot.lock().await;
        if !fresh
            && let Some(c) = guard.as_ref()
            && Instant::now() < c.until
        {
            return Ok((c.blob.clone(), c.sam.clone(), c.dn.clone()));
        }
        let user_tgt = self.user_tgt(req).await?;
        let lookup = match (&req.distinguished_name, &req.ou) {
            (Some(dn), _) if !dn.is_empty() => GmsaLookup::Dn(dn.clone()),
            (_, Some(ou)) if !ou.is_empty() => GmsaLookup::UnderOu {
                ou_dn: ou.clone(),
                sam: spec.sam_account_name(),
            },
            _ => GmsaLookup::SamAccountName(spec.sam_account_name()),
        };
        let fetched = msds_gmsa::fetch_managed_password(
            &self.client,
            &user_tgt,
            &spec.domain,
            &lookup,
            &self.fetch,
        )
        .await
        .map_err(|e| {
            LeaseError::from_gmsa(
                format!(
                    "reading msDS-ManagedPassword of {} in {} over LDAP",
                    spec.sam_account_name(),
                    spec.domain
                ),
                &e,
            )
        })?;
        tracing::info!(
            gmsa = %fetched.sam_account_name,
            dc = %fetched.dc,
            "read msDS-ManagedPassword of {} from DC {}",
            fetched.sam_account_name,
            fetched.dc
        );
        let reuse = fetched.blob.query_password_interval().min(MAX_PASSWORD_AGE);
        let out = (
            fetched.blob.clone(),
            fetched.sam_account_name.clone(),
            fetched.dn.clone(),
        );
        *guard = Some(CachedPassword {
            blob: fetched.blob,
            sam: fetched.sam_account_name,
            dn: fetched.dn,
            until: Instant::now() + reuse,
        });
        Ok(out)
    }

    async fn ticket(&self, req: TicketRequest) -> Result<TicketOutcome, LeaseError> {
        let realm = req.credspec.realm();
        let mut fresh = false;
        loop {
            let (blob, sam, dn) = self.password(&req, fresh).await?;
            match msds_gmsa::gmsa_tgt(&self.client, &realm, &sam, &blob, &AsOptions::default())
                .await
            {
                Ok(msds_gmsa::GmsaTicket { tgt, .. }) => {
                    return Ok(TicketOutcome {
                        tgt,
                        distinguished_name: dn,
                    });
                }
                // A cached password the KDC no longer accepts: read it again once.
                Err(_) if !fresh => fresh = true,
                Err(e) => {
                    return Err(LeaseError::from_gmsa(
                        format!("logging in as the gMSA {sam}@{realm}"),
                        &e,
                    ));
                }
            }
        }
    }
}

impl TicketSource for KerberosSource {
    fn get_ticket(&self, req: TicketRequest) -> BoxFuture<'_, Result<TicketOutcome, LeaseError>> {
        Box::pin(self.ticket(req))
    }
}
