//! Credentials: a ticket with its session key and times, as produced by the AS and TGS exchanges.

use crate::crypto::Key;
use crate::principal::Principal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A ticket obtained from a KDC together with what the client needs to use it.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The client principal as the KDC named it (canonical).
    pub client: Principal,
    /// The server principal of the ticket (`krbtgt/REALM@REALM` for a TGT).
    pub server: Principal,
    /// The session key shared with `server`.
    pub session_key: Key,
    /// The DER-encoded `Ticket`, opaque to the client.
    pub ticket: Vec<u8>,
    /// Ticket flags (KerberosFlags as a big-endian u32; see `asn1::TicketFlags`).
    pub flags: u32,
    /// Time of initial authentication (Unix seconds).
    pub auth_time: i64,
    /// Start of validity (Unix seconds); equals `auth_time` when the KDC omitted it.
    pub start_time: i64,
    /// End of validity (Unix seconds).
    pub end_time: i64,
    /// Latest renewal time (Unix seconds), for renewable tickets.
    pub renew_till: Option<i64>,
    /// The KDC's clock minus ours, in seconds, as learned during the exchange.
    pub time_offset: i64,
    /// The pre-authentication type that was used (e.g. 2 for encrypted timestamp), if any.
    pub pa_type: Option<i32>,
    /// For an AS exchange, the key version number of the client key the reply was encrypted in
    /// (as the KDC stated it); `None` otherwise.
    pub client_kvno: Option<u32>,
}

impl Credentials {
    /// Whether the ticket is still valid at `now` with `margin` to spare (KDC-adjusted time).
    pub fn is_valid_at(&self, now: SystemTime, margin: Duration) -> bool {
        let now = unix_secs(now) + self.time_offset;
        now >= self.start_time.saturating_sub(300) && now + margin.as_secs() as i64 <= self.end_time
    }

    /// The remaining lifetime at `now` (zero when expired).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        let now = unix_secs(now) + self.time_offset;
        Duration::from_secs(self.end_time.saturating_sub(now).max(0) as u64)
    }
}

/// Seconds since the Unix epoch (negative before 1970).
pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Seconds and microseconds since the Unix epoch.
pub(crate) fn unix_secs_usec(t: SystemTime) -> (i64, i32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_micros() as i32),
        Err(e) => (-(e.duration().as_secs() as i64), 0),
    }
}
