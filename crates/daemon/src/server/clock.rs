//! KDC-corrected time for renewal scheduling: the one place that knows how far each realm's KDC
//! clock is from ours.
//!
//! Ticket times (start, end) are the KDC's. Every AS/TGS reply tells how far the KDC's clock
//! is from the local one ([`krb5_proto::Credentials::time_offset`], KDC minus local, learned
//! from the reply's authtime or a KRB-ERROR's stime during skew recovery; also stored in the
//! ccache's DeltaTime header). [`KdcClock`] keeps the latest offset per realm and answers "what
//! time is it on that KDC now": renewals are scheduled from the ticket's endtime against that,
//! so a host clock 10 minutes off neither renews 10 minutes late (tickets expire under the
//! containers) nor early. The local clock is injected ([`KdcClock::with_local_clock`]) so the
//! schedule is unit-tested without waiting or changing the system time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The local clock, Unix seconds.
pub type LocalClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// An offset this large (seconds) is logged at warn when first seen for a realm (it is used
/// either way).
pub const SKEW_WARN_SECS: i64 = 60;

/// Per-realm KDC clock offsets (see the module documentation).
pub struct KdcClock {
    local: LocalClock,
    offsets: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for KdcClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KdcClock")
            .field("offsets", &*lock(&self.offsets))
            .finish_non_exhaustive()
    }
}

impl Default for KdcClock {
    fn default() -> Self {
        Self::with_local_clock(Arc::new(system_now))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The system clock, Unix seconds.
pub fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl KdcClock {
    /// A clock reading local time from `local` (tests inject a fixed or moving time).
    pub fn with_local_clock(local: LocalClock) -> Self {
        Self {
            local,
            offsets: Mutex::default(),
        }
    }

    fn key(realm: &str) -> String {
        realm.trim_end_matches('.').to_ascii_uppercase()
    }

    /// Local time now (Unix seconds).
    pub fn local_now(&self) -> i64 {
        (self.local)()
    }

    /// Records `offset` (KDC minus local seconds, from a reply of `realm`'s KDC). Logged when it
    /// changes by more than a few seconds (at warn when at least [`SKEW_WARN_SECS`]).
    pub fn observe(&self, realm: &str, offset: i64) {
        let key = Self::key(realm);
        let old = lock(&self.offsets).insert(key.clone(), offset);
        if old.is_none_or(|o| (o - offset).abs() > 5) {
            if offset.abs() >= SKEW_WARN_SECS {
                tracing::warn!(realm = %key, offset_s = offset, "the KDC of {key} is {offset} s from the local clock: renewals are scheduled on the KDC's time");
            } else if old.is_some() {
                tracing::info!(realm = %key, offset_s = offset, "KDC clock offset of {key} changed");
            }
        }
    }

    /// The last offset seen for `realm` (0 when none yet).
    pub fn offset(&self, realm: &str) -> i64 {
        lock(&self.offsets)
            .get(&Self::key(realm))
            .copied()
            .unwrap_or(0)
    }

    /// The time on `realm`'s KDC now (local time plus its offset), Unix seconds.
    pub fn kdc_now(&self, realm: &str) -> i64 {
        self.local_now() + self.offset(realm)
    }

    /// Forgets every realm's offset (when no lease is left).
    pub fn clear(&self) {
        lock(&self.offsets).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    #[test]
    fn offsets_per_realm_with_an_injected_clock() {
        let t = Arc::new(AtomicI64::new(1_000_000));
        let t2 = t.clone();
        let c = KdcClock::with_local_clock(Arc::new(move || t2.load(Ordering::SeqCst)));
        assert_eq!(c.kdc_now("EXAMPLE.TEST"), 1_000_000, "unknown: local time");
        c.observe("example.test.", 600);
        c.observe("MIT.TEST", -600);
        assert_eq!(c.kdc_now("EXAMPLE.TEST"), 1_000_600);
        assert_eq!(c.kdc_now("mit.test"), 999_400);
        t.store(1_000_010, Ordering::SeqCst);
        assert_eq!(
            c.kdc_now("EXAMPLE.TEST"),
            1_000_610,
            "follows the local clock"
        );
        c.observe("EXAMPLE.TEST", 0);
        assert_eq!(c.offset("EXAMPLE.TEST"), 0, "the latest offset wins");
        c.clear();
        assert_eq!(c.offset("MIT.TEST"), 0);
    }
}
