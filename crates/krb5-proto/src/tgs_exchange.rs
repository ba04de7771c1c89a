//! TGS exchange state machine.
