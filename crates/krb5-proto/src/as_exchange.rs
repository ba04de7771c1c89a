//! AS exchange state machine.
