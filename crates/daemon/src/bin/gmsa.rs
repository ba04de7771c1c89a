//! `gmsa`: Kerberos and gMSA command-line tool.
fn main() {}
