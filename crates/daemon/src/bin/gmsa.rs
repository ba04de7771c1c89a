//! `gmsa`: Kerberos and gMSA command-line tool.
fn main() -> std::process::ExitCode {
    credentials_fetcherd::cli::main()
}
