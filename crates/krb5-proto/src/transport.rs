//! KDC transport (stub: to be filled by the transport work).

/// No KDC answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No KDC could be reached.
    #[error("no KDC reachable for realm {realm}; tried: {tried}")]
    Unreachable {
        /// The realm.
        realm: String,
        /// Addresses tried, with the failure of each.
        tried: String,
    },
}
