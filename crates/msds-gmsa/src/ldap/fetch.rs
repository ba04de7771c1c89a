//! Reading a gMSA's `msDS-ManagedPassword` from a DC in one call: one use of a
//! [`GmsaReader`] session, opened and closed.

use krb5_proto::Credentials;
use krb5_proto::client::Client;

use super::lookup::validate;
pub use super::lookup::{FetchOptions, FetchedPassword, GMSA_ATTRS, GmsaLookup};
use super::session::GmsaReader;
use crate::GmsaError;

/// Reads a gMSA's `msDS-ManagedPassword` from a DC of `domain`, authenticating as the owner
/// of `user_tgt`.
///
/// Steps: find the DC (`opts.dc`, else DNS SRV `_ldap._tcp.dc._msdcs.<domain>`, with
/// failover), connect (with [`TlsMode::Ldaps`](super::conn::TlsMode::Ldaps): on port 636 by default, TLS handshake
/// verifying the certificate for the DC's name) while getting a service ticket for
/// `ldap/<dc fqdn>@REALM` (REALM = the TGT client's realm) from `kdc`, SASL GSSAPI bind with
/// the confidentiality layer (over LDAPS: with `tls-server-end-point` channel bindings and no
/// layer), search for the gMSA (`(&(objectClass=msDS-GroupManagedServiceAccount)
/// (sAMAccountName=NAME$))` in the subtree of the domain — `DC=` labels of `domain`, or the
/// rootDSE's `defaultNamingContext` if that finds nothing — or of the OU, or base scope on a
/// DN), parse the blob, unbind. This is one [`GmsaReader::fetch`]; use a [`GmsaReader`] to read
/// several gMSAs over one bound connection.
///
/// Errors a person can act on: [`GmsaError::GmsaNotFound`], [`GmsaError::NotAllowedToRetrieve`]
/// (the object was returned without the attribute), [`GmsaError::ConfidentialityRequired`],
/// [`GmsaError::BindRejected`], [`GmsaError::DcUnreachable`] (every address tried),
/// [`GmsaError::NoDcFound`], [`GmsaError::ServiceTicket`]; over LDAPS
/// [`LdapError::CertificateNotTrusted`](crate::LdapError::CertificateNotTrusted) and
/// [`LdapError::CertificateNameMismatch`](crate::LdapError::CertificateNameMismatch) (inside
/// [`GmsaError::LdapProtocol`]) name the DC and the CA file in use.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use krb5_proto::as_exchange::{AsOptions, Secret};
/// use krb5_proto::client::Client;
/// use krb5_proto::config::Krb5Conf;
/// use krb5_proto::Principal;
/// use msds_gmsa::{FetchOptions, GmsaKeys, GmsaLookup, computer_account_salt, fetch_managed_password};
///
/// let kdc = Client::new(Krb5Conf::load_default()?);
/// let me = Principal::parse("svc-fetcher@EXAMPLE.TEST", None)?;
/// let tgt = kdc.as_exchange(me, Secret::password("secret"), AsOptions::default()).await?;
///
/// let lookup = GmsaLookup::SamAccountName("WebApp01".into());
/// let fetched = fetch_managed_password(&kdc, &tgt, "example.test", &lookup, &FetchOptions::default()).await?;
///
/// let salt = computer_account_salt("EXAMPLE.TEST", &fetched.sam_account_name);
/// let keys = GmsaKeys::derive(fetched.blob.password_for_authentication()?, &salt)?;
/// println!("{} from {}: {} keys", fetched.dn, fetched.dc, keys.as_vec().len());
/// # Ok(()) }
/// ```
pub async fn fetch_managed_password(
    kdc: &Client,
    user_tgt: &Credentials,
    domain: &str,
    lookup: &GmsaLookup,
    opts: &FetchOptions,
) -> Result<FetchedPassword, GmsaError> {
    validate(lookup)?;
    let mut reader = GmsaReader::new(kdc.clone(), domain, opts.clone())?;
    let result = reader.fetch(user_tgt, lookup).await;
    reader.close().await;
    result
}
