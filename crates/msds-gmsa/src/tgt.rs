//! The gMSA's own ticket: an AS exchange with the keys of the password read from its blob.

use std::borrow::Cow;

use crate::{GmsaError, GmsaKeys, ManagedPasswordBlob, Utf16Password};
use krb5_proto::as_exchange::{AsOptions, PreauthHint, Secret};
use krb5_proto::client::Client;
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::{Credentials, Principal};

/// The gMSA's TGT and the password that obtained it.
#[derive(Debug)]
pub struct GmsaTicket {
    /// The TGT, client = the gMSA.
    pub tgt: Credentials,
    /// The password the KDC accepted (current, or previous during a rollover).
    pub password: Utf16Password,
    /// Whether that was the blob's previous password.
    pub used_previous: bool,
}

impl GmsaTicket {
    /// The account's keys (RC4, AES128, AES256) for a keytab, with the computer-account salt.
    pub fn keys(&self, realm: &str, sam_account_name: &str) -> Result<GmsaKeys, GmsaError> {
        GmsaKeys::derive(
            &self.password,
            &crate::computer_account_salt(realm, sam_account_name),
        )
    }
}

/// The Kerberos secret for a gMSA password: AES keys from the munged UTF-8 form with the KDC's
/// salt, RC4 from the raw UTF-16 (MD4), so passwords with unpaired surrogates work for every enctype.
pub fn secret_for(password: &Utf16Password) -> Secret {
    Secret::PasswordWithRc4 {
        utf8: password.to_utf8_munged(),
        rc4: Key::rc4_from_utf16le(password.as_utf16le()),
    }
}

/// `kdc` with Active Directory's transport policy: requests answered with a ticket (which
/// carries a PAC) go straight to TCP ([`Client::with_tcp_for_tickets`]), whatever the caller set.
pub(crate) fn ad_client(kdc: &Client) -> Cow<'_, Client> {
    if kdc.tcp_for_tickets() {
        Cow::Borrowed(kdc)
    } else {
        Cow::Owned(kdc.clone().with_tcp_for_tickets())
    }
}

/// Logs in as the gMSA `sam_account_name@realm` with the password from `blob`.
///
/// The password chosen first follows MS-ADTS: the previous one inside the rollover window, else the
/// current one. If the KDC answers KDC_ERR_PREAUTH_FAILED and the blob holds the other password,
/// that one is tried once (the KDC and the DC that served the blob may disagree for a moment).
///
/// The exchange goes to the KDC with [`Client::with_tcp_for_tickets`] set (an AD KDC's AS-REP
/// does not fit UDP), and with a pre-authentication hint built from the computer-account salt,
/// so it is usually one TCP round trip.
pub async fn gmsa_tgt(
    kdc: &Client,
    realm: &str,
    sam_account_name: &str,
    blob: &ManagedPasswordBlob,
    opts: &AsOptions,
) -> Result<GmsaTicket, GmsaError> {
    let first = blob.password_for_authentication()?;
    let first_is_previous = blob.previous().is_some_and(|p| std::ptr::eq(p, first));
    let other = if first_is_previous {
        Some(blob.current())
    } else {
        blob.previous()
    };
    let principal = Principal::new(
        krb5_proto::principal::name_type::PRINCIPAL,
        [sam_account_name],
        realm,
    );
    // gMSAs are computer accounts: their AES salt follows a known rule, so the first request can
    // carry the encrypted timestamp (one round trip fewer; the exchange falls back if refused).
    let mut opts = opts.clone();
    if opts.preauth_hint.is_none() {
        opts.preauth_hint = Some(PreauthHint {
            etype: EncType::Aes256CtsHmacSha196,
            salt: crate::computer_account_salt(realm, sam_account_name),
            s2kparams: None,
        });
    }
    // With the pre-authentication hint the first request already gets the AS-REP: TCP.
    let kdc = ad_client(kdc);
    match kdc
        .as_exchange(principal.clone(), secret_for(first), opts.clone())
        .await
    {
        Ok(tgt) => Ok(GmsaTicket {
            tgt,
            password: first.clone(),
            used_previous: first_is_previous,
        }),
        Err(krb5_proto::Error::Kdc(k)) if k.is_preauth_failed() && other.is_some() => {
            let other = other.expect("checked is_some above");
            let tgt = kdc.as_exchange(principal, secret_for(other), opts).await?;
            Ok(GmsaTicket {
                tgt,
                password: other.clone(),
                used_previous: !first_is_previous,
            })
        }
        Err(e) => Err(e.into()),
    }
}
