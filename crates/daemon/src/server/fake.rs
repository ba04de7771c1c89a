//! A test double for [`TicketSource`]: no network, synthetic tickets. Compiled only for the
//! daemon's own tests and with the `test-fake` feature (which the daemon's integration tests
//! enable through a dev-dependency on the crate itself); never in a release build.
//! `CF_TEST_FAKE_TICKETS=1` selects it in a daemon built with that feature.

use super::error::{BoxFuture, ErrorKind, LeaseError};
use super::source::{Login, TicketOutcome, TicketRequest, TicketSource};
use krb5_proto::Credentials;

/// A test source: no network, a synthetic TGT (not usable against a KDC) whose lifetime is
/// configurable; counts calls and can be told to fail or to be slow.
#[derive(Debug)]
pub struct FakeSource {
    /// Lifetime of the issued tickets.
    pub lifetime: std::time::Duration,
    /// Delay before answering.
    pub delay: std::time::Duration,
    /// gMSA names (case-insensitive) whose requests fail with `Unavailable`.
    pub fail_for: std::sync::Mutex<Vec<String>>,
    /// Number of calls.
    pub calls: std::sync::atomic::AtomicUsize,
    /// Domainless passwords refused like a KDC refuses a wrong one (`PermissionDenied`).
    pub refused_passwords: std::sync::Mutex<Vec<String>>,
    /// Number of login checks ([`TicketSource::check_login`]).
    pub checks: std::sync::atomic::AtomicUsize,
    /// How far the fake KDC's clock is ahead of the local one (seconds): ticket times are on
    /// its clock and [`Credentials::time_offset`] says so.
    pub kdc_offset: i64,
}

impl FakeSource {
    fn refuse(&self, login: &Login) -> Result<(), LeaseError> {
        let Login::Domainless(c) = login else {
            return Ok(());
        };
        let refused = self
            .refused_passwords
            .lock()
            .map(|v| v.iter().any(|p| p.as_str() == c.password.as_str()))
            .unwrap_or(false);
        if refused {
            return Err(LeaseError::new(
                ErrorKind::PermissionDenied,
                format!("logging in as {}", c.key()),
                "KDC_ERR_PREAUTH_FAILED (fake source)",
            ));
        }
        Ok(())
    }
}

impl Default for FakeSource {
    fn default() -> Self {
        Self {
            lifetime: std::time::Duration::from_secs(36_000),
            delay: std::time::Duration::ZERO,
            fail_for: Default::default(),
            calls: Default::default(),
            refused_passwords: Default::default(),
            checks: Default::default(),
            kdc_offset: 0,
        }
    }
}

impl TicketSource for FakeSource {
    fn check_login<'a>(
        &'a self,
        login: &'a Login,
        realm: &'a str,
    ) -> BoxFuture<'a, Result<(), LeaseError>> {
        let _ = realm;
        Box::pin(async move {
            self.checks
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.refuse(login)
        })
    }

    fn get_ticket(&self, req: TicketRequest) -> BoxFuture<'_, Result<TicketOutcome, LeaseError>> {
        Box::pin(async move {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            self.refuse(&req.login)?;
            let fail = self
                .fail_for
                .lock()
                .map(|v| {
                    v.iter()
                        .any(|n| n.eq_ignore_ascii_case(&req.credspec.gmsa_name))
                })
                .unwrap_or(false);
            if fail {
                return Err(LeaseError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "reading the password of {}",
                        req.credspec.sam_account_name()
                    ),
                    "fake source told to fail",
                ));
            }
            let realm = req.credspec.realm();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
                + self.kdc_offset;
            let key = krb5_proto::crypto::Key::new(
                krb5_proto::crypto::EncType::Aes256CtsHmacSha196,
                &[7u8; 32],
            )
            .map_err(|e| LeaseError::internal("making a fake key", e))?;
            Ok(TicketOutcome {
                tgt: Credentials {
                    client: krb5_proto::Principal::new(
                        krb5_proto::principal::name_type::PRINCIPAL,
                        [req.credspec.sam_account_name()],
                        &realm,
                    ),
                    server: krb5_proto::Principal::krbtgt(realm.as_bytes()),
                    session_key: key,
                    ticket: b"fake ticket".to_vec(),
                    flags: 0x40e1_0000,
                    auth_time: now,
                    start_time: now,
                    end_time: now + self.lifetime.as_secs() as i64,
                    renew_till: None,
                    time_offset: self.kdc_offset,
                    pa_type: None,
                    client_kvno: None,
                },
                distinguished_name: req.distinguished_name.clone().unwrap_or_else(|| {
                    format!(
                        "CN={},CN=Managed Service Accounts,DC={}",
                        req.credspec.gmsa_name,
                        req.credspec.domain.replace('.', ",DC=")
                    )
                }),
            })
        })
    }
}
