//! `credentials-fetcherd`: drop-in replacement for aws/credentials-fetcher (to come).
fn main() {
    eprintln!("credentials-fetcherd: not implemented yet");
    std::process::exit(1);
}
