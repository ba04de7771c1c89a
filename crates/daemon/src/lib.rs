//! The `gmsa` command-line tool and the `credentials-fetcherd` daemon.
