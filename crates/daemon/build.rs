//! Generates the gRPC code from proto/credentialsfetcher.proto with protox (pure Rust: no protoc).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/credentialsfetcher.proto");
    let fds = protox::compile(["credentialsfetcher.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Messages carrying secrets get hand-written, redacting Debug impls (server/proto.rs).
        .skip_debug([
            "credentialsfetcher.CreateNonDomainJoinedKerberosLeaseRequest",
            "credentialsfetcher.RenewNonDomainJoinedKerberosLeaseRequest",
            "credentialsfetcher.KerberosArnLeaseRequest",
            "credentialsfetcher.RenewKerberosArnLeaseRequest",
        ])
        .compile_fds(fds)?;
    Ok(())
}
