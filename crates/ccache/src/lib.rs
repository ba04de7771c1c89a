//! MIT FILE credential cache (stub: to be filled by the ccache work).
