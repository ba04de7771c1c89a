//! Kerberos exchanges with an Active Directory KDC, choosing the transport per message.
//!
//! AD's AS-REPs and TGS-REPs carry a PAC and rarely fit the 1465-byte UDP limit. Sent over UDP,
//! such a request makes the KDC do all its work (check the pre-authentication, build the PAC,
//! encrypt the ticket) only to answer `KRB_ERR_RESPONSE_TOO_BIG`, and the client sends it
//! again over TCP: the whole exchange twice (measured ~8 ms on Samba 4.22). So here only the
//! first AS-REQ, without pre-authentication (answered with a small KRB-ERROR carrying the
//! salt), goes the way the transport prefers (UDP for small requests); every request that
//! gets a ticket goes straight to TCP.

use std::time::SystemTime;

use krb5_proto::as_exchange::{AsExchange, AsOptions, AsStep, Secret};
use krb5_proto::client::Client;
use krb5_proto::rand::OsRng;
use krb5_proto::tgs_exchange::{TgsExchange, TgsOptions, TgsStep};
use krb5_proto::{Credentials, Principal};

/// An AS exchange (a TGT unless `opts.server` says otherwise) for `client`, like
/// [`Client::as_exchange`], but with every request after a first one without pre-authentication
/// sent over TCP (see the [module documentation](self)). A request carrying pre-authentication
/// from the start ([`AsOptions::preauth_hint`]) goes over TCP too.
///
/// ```no_run
/// # async fn demo() -> Result<(), krb5_proto::Error> {
/// use krb5_proto::as_exchange::{AsOptions, Secret};
/// use krb5_proto::client::Client;
/// use krb5_proto::config::Krb5Conf;
/// use krb5_proto::Principal;
///
/// let kdc = Client::new(Krb5Conf::load_default()?);
/// let me = Principal::parse("svc-fetcher@EXAMPLE.TEST", None)?;
/// let tgt = msds_gmsa::kdc::as_exchange(&kdc, me, Secret::password("secret"), AsOptions::default()).await?;
/// # let _ = tgt; Ok(()) }
/// ```
pub async fn as_exchange(
    kdc: &Client,
    client: Principal,
    secret: Secret,
    opts: AsOptions,
) -> Result<Credentials, krb5_proto::Error> {
    let optimistic = opts.preauth_hint.is_some();
    let (mut pending, mut req) =
        AsExchange::new(client, secret, opts).start(SystemTime::now(), &mut OsRng);
    let mut first = !optimistic;
    loop {
        let transport = kdc.kdc_for(&req.realm).await?;
        let reply = if first && !req.tcp_only {
            transport.send(&req.bytes).await?
        } else {
            transport.send_tcp(&req.bytes).await?
        };
        first = false;
        match pending.handle_reply(&reply.bytes, SystemTime::now(), &mut OsRng)? {
            AsStep::Send(p, r) => (pending, req) = (*p, r),
            AsStep::Done(creds) => return Ok(creds),
        }
    }
}

/// A TGS exchange like [`Client::tgs_exchange`], every request over TCP (a TGS-REP from AD
/// carries the service ticket's PAC).
pub async fn tgs_exchange(
    kdc: &Client,
    tgt: &Credentials,
    server: Principal,
    opts: TgsOptions,
) -> Result<Credentials, krb5_proto::Error> {
    let (mut pending, mut req) =
        TgsExchange::new(tgt.clone(), server, opts).start(SystemTime::now(), &mut OsRng)?;
    loop {
        let transport = kdc.kdc_for(&req.realm).await?;
        let reply = transport.send_tcp(&req.bytes).await?;
        match pending.handle_reply(&reply.bytes)? {
            TgsStep::Send(p, r) => (pending, req) = (*p, r),
            TgsStep::Done(creds) => return Ok(creds),
        }
    }
}
