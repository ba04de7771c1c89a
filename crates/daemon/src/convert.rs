//! Conversion between the engine's [`Credentials`] and MIT ccache entries.

use ccache::{Ccache, Credential, KeyBlock};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::{Credentials, Principal};
use zeroize::Zeroizing;

/// Why a ccache entry cannot be used as credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The session key's enctype is not supported by the engine.
    #[error(
        "the cached ticket for {server} uses enctype {enctype}, which this tool does not support"
    )]
    Enctype {
        /// The ticket's server.
        server: String,
        /// The enctype number.
        enctype: u16,
    },
    /// The session key is malformed.
    #[error("the cached session key for {server} is malformed: {source}")]
    Key {
        /// The ticket's server.
        server: String,
        /// The crypto error.
        source: krb5_proto::crypto::CryptoError,
    },
    /// No TGT in the cache.
    #[error(
        "no ticket-granting ticket (krbtgt/{realm}@{realm}) in the credential cache for {client}; run `gmsa kinit` first"
    )]
    NoTgt {
        /// The cache's default principal.
        client: String,
        /// The realm.
        realm: String,
    },
}

/// A ccache principal from an engine principal.
pub fn to_cc_principal(p: &Principal) -> ccache::Principal {
    ccache::Principal {
        name_type: p.name_type as u32,
        realm: p.realm.clone(),
        components: p.components.clone(),
    }
}

/// An engine principal from a ccache principal.
pub fn from_cc_principal(p: &ccache::Principal) -> Principal {
    Principal {
        name_type: p.name_type as i32,
        realm: p.realm.clone(),
        components: p.components.clone(),
    }
}

fn clamp_u32(t: i64) -> u32 {
    t.clamp(0, u32::MAX as i64) as u32
}

/// A ccache credential from engine credentials.
pub fn to_cc_credential(c: &Credentials) -> Credential {
    Credential {
        client: to_cc_principal(&c.client),
        server: to_cc_principal(&c.server),
        key: KeyBlock {
            enctype: c.session_key.etype().to_i32() as u16,
            key: Zeroizing::new(c.session_key.as_bytes().to_vec()),
        },
        authtime: clamp_u32(c.auth_time),
        starttime: clamp_u32(c.start_time),
        endtime: clamp_u32(c.end_time),
        renew_till: clamp_u32(c.renew_till.unwrap_or(0)),
        is_skey: false,
        ticket_flags: c.flags,
        addresses: Vec::new(),
        authdata: Vec::new(),
        ticket: c.ticket.clone(),
        second_ticket: Vec::new(),
    }
}

/// Engine credentials from a ccache credential; `time_offset` comes from the cache header.
pub fn from_cc_credential(c: &Credential, time_offset: i64) -> Result<Credentials, ConvertError> {
    let server = from_cc_principal(&c.server);
    let etype = EncType::from_i32(c.key.enctype as i32).ok_or_else(|| ConvertError::Enctype {
        server: server.to_string(),
        enctype: c.key.enctype,
    })?;
    let session_key = Key::new(etype, &c.key.key).map_err(|source| ConvertError::Key {
        server: server.to_string(),
        source,
    })?;
    Ok(Credentials {
        client: from_cc_principal(&c.client),
        server,
        session_key,
        ticket: c.ticket.clone(),
        flags: c.ticket_flags,
        auth_time: c.authtime as i64,
        start_time: if c.starttime == 0 {
            c.authtime as i64
        } else {
            c.starttime as i64
        },
        end_time: c.endtime as i64,
        renew_till: (c.renew_till != 0).then_some(c.renew_till as i64),
        time_offset,
        pa_type: None,
        client_kvno: None,
    })
}

/// A new cache holding a freshly obtained TGT, laid out as MIT `kinit` writes it: default principal,
/// the `pa_type` config entry, then the ticket; the header records the KDC time offset.
pub fn new_cache(tgt: &Credentials) -> Ccache {
    let client = to_cc_principal(&tgt.client);
    let mut cc = Ccache::new(client.clone());
    cc.time_offset = Some((
        tgt.time_offset.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        0,
    ));
    if let Some(pa) = tgt.pa_type {
        let server = to_cc_principal(&tgt.server);
        cc.credentials.push(Credential::config(
            &client,
            "pa_type",
            Some(&server),
            pa.to_string().as_bytes(),
        ));
    }
    cc.credentials.push(to_cc_credential(tgt));
    cc
}

/// The cache's TGT for its default principal's realm (or `start_realm`), as engine credentials.
pub fn find_tgt(cc: &Ccache) -> Result<Credentials, ConvertError> {
    let client = from_cc_principal(&cc.default_principal);
    let realm = cc
        .config_value("start_realm")
        .map(|r| r.to_vec())
        .unwrap_or_else(|| client.realm.clone());
    let tgt = to_cc_principal(&Principal::krbtgt(&realm));
    let offset = cc.time_offset.map(|(s, _)| s as i64).unwrap_or(0);
    match cc.find(&tgt) {
        Some(c) => from_cc_credential(c, offset),
        None => Err(ConvertError::NoTgt {
            client: client.to_string(),
            realm: String::from_utf8_lossy(&realm).into(),
        }),
    }
}
