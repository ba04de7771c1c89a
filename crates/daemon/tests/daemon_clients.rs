//! Every RPC through three independent gRPC client stacks (issue 10), with identical answers:
//!
//! * tonic: our own client ([`credentials_fetcherd::server::connect`]);
//! * grpc-core: Python grpcio from PyPI with a default channel (`grpc.insecure_channel("unix:PATH")`,
//!   no options), stubs generated from the daemon's .proto at test time with grpcio-tools. It
//!   sends the socket path, percent-encoded, as `:authority`, which h2 alone refuses;
//! * a raw HTTP/2 client on the `h2` crate sending grpc-go's framing and `:authority: localhost`.
//!
//! Each stack drives its own daemon (synthetic tickets, `CF_TEST_FAKE_TICKETS=1`) through the same
//! script; answers are compared after lease ids and the krbdir are replaced by placeholders.

use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::credentials_fetcher_service_client::CredentialsFetcherServiceClient;
use credentials_fetcherd::server::proto::*;
use prost::Message as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

mod common;
use common::Daemon;

const SERVICE: &str = "/credentialsfetcher.CredentialsFetcherService/";

/// A call's answer: the response message's bytes, or (gRPC status code, message).
type Answer = Result<Vec<u8>, (i32, String)>;

enum Stack {
    Tonic(CredentialsFetcherServiceClient<tonic::transport::Channel>),
    Python {
        child: Child,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
    },
    H2(PathBuf),
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Stack::Python { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Python grpcio client: reads `RPC HEX` lines, answers `ok HEX` or `err CODE HEXMESSAGE`.
const PY_CLIENT: &str = r#"
import sys, importlib
import grpc
sys.path.insert(0, sys.argv[2])
pb = importlib.import_module("credentialsfetcher_pb2")
pbg = importlib.import_module("credentialsfetcher_pb2_grpc")
service = pb.DESCRIPTOR.services_by_name["CredentialsFetcherService"]
channel = grpc.insecure_channel("unix:" + sys.argv[1])
stub = pbg.CredentialsFetcherServiceStub(channel)
print("grpcio", grpc.__version__, flush=True)
for line in sys.stdin:
    rpc, req = line.split()
    req_type = getattr(pb, service.methods_by_name[rpc].input_type.name)
    request = req_type.FromString(bytes.fromhex("" if req == "-" else req))
    try:
        resp = getattr(stub, rpc)(request, timeout=60)
        print("ok", resp.SerializeToString().hex() or "-", flush=True)
    except grpc.RpcError as e:
        print("err", e.code().value[0], (e.details() or "").encode().hex() or "-", flush=True)
"#;

fn python_stack(socket: &Path, dir: &Path) -> Stack {
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    let out = dir.join("py");
    std::fs::create_dir_all(&out).unwrap();
    let gen_out = Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(&proto)
        .arg(format!("--python_out={}", out.display()))
        .arg(format!("--grpc_python_out={}", out.display()))
        .arg("credentialsfetcher.proto")
        .output()
        .expect("python3 runs");
    common::ok(
        &gen_out,
        "grpc_tools.protoc (testenv/clients.sh install: pip grpcio-tools)",
    );
    let script = dir.join("client.py");
    std::fs::write(&script, PY_CLIENT).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(socket)
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut hello = String::new();
    stdout.read_line(&mut hello).unwrap();
    assert!(
        hello.starts_with("grpcio "),
        "the Python grpcio client starts (testenv/clients.sh install): {hello:?}"
    );
    eprintln!("Python client: {}", hello.trim());
    Stack::Python {
        child,
        stdin,
        stdout,
    }
}

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        Vec::new()
    } else {
        hex::decode(s).unwrap()
    }
}

/// The percent-decoding of `grpc-message` (gRPC over HTTP/2 spec).
fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && let Ok(b) =
                u8::from_str_radix(std::str::from_utf8(&s[i + 1..i + 3]).unwrap_or("x"), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One unary call as grpc-go frames it, on a fresh HTTP/2 connection (the ECS agent dials per call).
async fn h2_call(socket: &Path, rpc: &str, req: Vec<u8>) -> Answer {
    let io = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (client, conn) = h2::client::handshake(io).await.unwrap();
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{SERVICE}{rpc}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", "grpc-go/1.72.0")
        .header("grpc-timeout", "60S")
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(req.len() as u32).to_be_bytes());
    framed.extend_from_slice(&req);
    send.send_data(bytes::Bytes::from(framed), true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    let (parts, mut body) = response.into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.unwrap().unwrap_or_default();
    // A trailers-only response carries the status in the headers.
    let get = |k: &str| trailers.get(k).or_else(|| parts.headers.get(k)).cloned();
    let code: i32 = get("grpc-status")
        .expect("grpc-status")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    drop(client);
    conn.abort();
    if code != 0 {
        let msg = get("grpc-message")
            .map(|v| percent_decode(v.as_bytes()))
            .unwrap_or_default();
        return Err((code, msg));
    }
    assert!(data.len() >= 5 && data[0] == 0, "one uncompressed message");
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    assert_eq!(data.len(), 5 + len);
    Ok(data[5..].to_vec())
}

fn status(s: tonic::Status) -> (i32, String) {
    (s.code() as i32, s.message().to_string())
}

impl Stack {
    async fn call(&mut self, rpc: &str, req: Vec<u8>) -> Answer {
        match self {
            Stack::Tonic(c) => tonic_call(c, rpc, &req).await,
            Stack::Python { stdin, stdout, .. } => {
                let h = if req.is_empty() {
                    "-".to_string()
                } else {
                    hex::encode(&req)
                };
                writeln!(stdin, "{rpc} {h}").unwrap();
                stdin.flush().unwrap();
                let mut line = String::new();
                stdout.read_line(&mut line).unwrap();
                let parts: Vec<&str> = line.split_whitespace().collect();
                match parts.as_slice() {
                    ["ok", resp] => Ok(unhex(resp)),
                    ["err", code, msg] => Err((
                        code.parse().unwrap(),
                        String::from_utf8(unhex(msg)).unwrap(),
                    )),
                    _ => panic!("Python client said {line:?}"),
                }
            }
            Stack::H2(socket) => h2_call(socket, rpc, req).await,
        }
    }
}

async fn tonic_call(
    c: &mut CredentialsFetcherServiceClient<tonic::transport::Channel>,
    rpc: &str,
    req: &[u8],
) -> Answer {
    macro_rules! call {
        ($method:ident, $req:ty) => {
            c.$method(<$req>::decode(req).unwrap())
                .await
                .map(|r| r.into_inner().encode_to_vec())
                .map_err(status)
        };
    }
    match rpc {
        "HealthCheck" => call!(health_check, HealthCheckRequest),
        "AddKerberosLease" => call!(add_kerberos_lease, CreateKerberosLeaseRequest),
        "AddNonDomainJoinedKerberosLease" => call!(
            add_non_domain_joined_kerberos_lease,
            CreateNonDomainJoinedKerberosLeaseRequest
        ),
        "RenewNonDomainJoinedKerberosLease" => call!(
            renew_non_domain_joined_kerberos_lease,
            RenewNonDomainJoinedKerberosLeaseRequest
        ),
        "DeleteKerberosLease" => call!(delete_kerberos_lease, DeleteKerberosLeaseRequest),
        "AddKerberosArnLease" => call!(add_kerberos_arn_lease, KerberosArnLeaseRequest),
        "RenewKerberosArnLease" => call!(renew_kerberos_arn_lease, RenewKerberosArnLeaseRequest),
        other => panic!("unknown RPC {other}"),
    }
}

/// The answer as text: the decoded response's Debug, or the status code and message.
fn show(rpc: &str, answer: &Answer) -> String {
    let bytes = match answer {
        Err((code, msg)) => return format!("{rpc}: status {code}: {msg}"),
        Ok(b) => &b[..],
    };
    let body = match rpc {
        "HealthCheck" => format!("{:?}", HealthCheckResponse::decode(bytes).unwrap()),
        "AddKerberosLease" => format!("{:?}", CreateKerberosLeaseResponse::decode(bytes).unwrap()),
        "AddNonDomainJoinedKerberosLease" => format!(
            "{:?}",
            CreateNonDomainJoinedKerberosLeaseResponse::decode(bytes).unwrap()
        ),
        "RenewNonDomainJoinedKerberosLease" => format!(
            "{:?}",
            RenewNonDomainJoinedKerberosLeaseResponse::decode(bytes).unwrap()
        ),
        "DeleteKerberosLease" => {
            format!("{:?}", DeleteKerberosLeaseResponse::decode(bytes).unwrap())
        }
        "AddKerberosArnLease" => format!(
            "{:?}",
            CreateKerberosArnLeaseResponse::decode(bytes).unwrap()
        ),
        "RenewKerberosArnLease" => format!(
            "{:?}",
            RenewKerberosArnLeaseResponse::decode(bytes).unwrap()
        ),
        other => panic!("unknown RPC {other}"),
    };
    format!("{rpc}: ok {body}")
}

fn lease_id_of(answer: &Answer) -> String {
    CreateKerberosLeaseResponse::decode(&answer.as_ref().expect("an add succeeded")[..])
        .unwrap()
        .lease_id
}

fn spec(name: &str) -> String {
    common::credspec(name, "example.test", "EXAMPLE")
}

/// The same calls through one stack against a fresh daemon; the answers, normalized.
async fn script(stack: &mut Stack, krbdir: &Path) -> Vec<String> {
    let mut shown = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let mut run = async |rpc: &str, req: Vec<u8>, ids: &mut Vec<String>| -> Answer {
        let a = stack.call(rpc, req).await;
        if rpc.starts_with("Add") && a.is_ok() {
            ids.push(lease_id_of(&a));
        }
        let mut s = show(rpc, &a).replace(&krbdir.display().to_string(), "<krbdir>");
        for (i, id) in ids.iter().enumerate() {
            s = s.replace(id, &format!("<lease {i}>"));
        }
        shown.push(s);
        a
    };
    let user = |password: &str| CreateNonDomainJoinedKerberosLeaseRequest {
        credspec_contents: vec![spec("WebApp03")],
        username: "svc-fetcher".into(),
        password: password.into(),
        domain: "example.test".into(),
    };
    let aws = || RenewKerberosArnLeaseRequest {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "secret".into(),
        session_token: String::new(),
        region: "us-east-1".into(),
    };
    // (RPC, request, whether it succeeds)
    let calls: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "HealthCheck",
            HealthCheckRequest {
                service: "cf".into(),
            }
            .encode_to_vec(),
            true,
        ),
        (
            "AddKerberosLease",
            CreateKerberosLeaseRequest {
                credspec_contents: vec![spec("WebApp01"), spec("WebApp02"), spec("webapp01")],
            }
            .encode_to_vec(),
            true,
        ),
        (
            "AddKerberosLease",
            CreateKerberosLeaseRequest {
                credspec_contents: vec!["{".into()],
            }
            .encode_to_vec(),
            false,
        ),
        (
            "AddNonDomainJoinedKerberosLease",
            user("secret").encode_to_vec(),
            true,
        ),
        (
            "AddNonDomainJoinedKerberosLease",
            user(&"p".repeat(200)).encode_to_vec(),
            false,
        ),
        (
            "RenewNonDomainJoinedKerberosLease",
            RenewNonDomainJoinedKerberosLeaseRequest {
                username: "svc-fetcher".into(),
                password: "secret".into(),
                domain: "example.test".into(),
            }
            .encode_to_vec(),
            true,
        ),
        (
            "AddKerberosArnLease",
            KerberosArnLeaseRequest {
                credspec_arns: vec!["not-an-arn".into()],
                access_key_id: aws().access_key_id,
                secret_access_key: aws().secret_access_key,
                session_token: aws().session_token,
                region: aws().region,
            }
            .encode_to_vec(),
            false,
        ),
        ("RenewKerberosArnLease", aws().encode_to_vec(), true),
    ];
    for (rpc, req, succeeds) in calls {
        let a = run(rpc, req, &mut ids).await;
        assert_eq!(a.is_ok(), succeeds, "{rpc}: {a:?}");
    }
    for id in ids
        .clone()
        .into_iter()
        .chain(["0123456789abcdef0123".to_string(), "../../etc".to_string()])
    {
        let _ = run(
            "DeleteKerberosLease",
            DeleteKerberosLeaseRequest { lease_id: id }.encode_to_vec(),
            &mut ids,
        )
        .await;
    }
    shown
}

fn start(dir: &Path) -> Daemon {
    let socket = dir.join("sock/credentials_fetcher.sock");
    let mut cmd = Daemon::command(&socket, &dir.join("krbdir"));
    cmd.env("CF_TEST_FAKE_TICKETS", "1")
        .env(
            "RUST_LOG",
            "warn,credentials_fetcherd::server::authority=debug",
        )
        // Any AWS call stays on this machine (none is expected: the ARN is refused first).
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("daemon.log")).unwrap());
    Daemon::spawn(cmd, &socket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_the_same_through_tonic_grpc_core_and_raw_h2() {
    let mut answers = Vec::new();
    for name in [
        "tonic",
        "grpc-core (Python grpcio)",
        "raw h2 (grpc-go framing)",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = start(dir.path());
        let mut stack = match name {
            "tonic" => Stack::Tonic(connect(&d.socket).await.unwrap()),
            "raw h2 (grpc-go framing)" => Stack::H2(d.socket.clone()),
            _ => python_stack(&d.socket, dir.path()),
        };
        let shown = script(&mut stack, &d.krbdir).await;
        drop(stack);
        assert!(
            common::dir_names(&d.krbdir).is_empty(),
            "{name}: every lease deleted"
        );
        eprintln!("{name}:\n  {}", shown.join("\n  "));
        drop(d);
        let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
        let rewritten = log.contains("serving it as localhost");
        if name.starts_with("grpc-core") {
            // grpc-core really sent the percent-encoded path, which h2 alone refuses.
            assert!(
                rewritten && log.contains("%2Fsock%2Fcredentials_fetcher.sock"),
                "{log}"
            );
        } else {
            assert!(!rewritten, "{name} sends a valid authority: {log}");
        }
        answers.push((name, shown));
    }
    let (first, want) = &answers[0];
    // The script's own expectations, checked once on the first stack.
    assert_eq!(want.len(), 12);
    assert!(want[0].contains("status: \"OK\""), "{}", want[0]);
    assert!(
        want[1].contains("<krbdir>/<lease 0>/WebApp01\", \"<krbdir>/<lease 0>/WebApp02\""),
        "{}",
        want[1]
    );
    assert!(
        want[2].contains("status 3"),
        "INVALID_ARGUMENT: {}",
        want[2]
    );
    assert!(
        want[3].contains("<krbdir>/<lease 1>/WebApp03"),
        "{}",
        want[3]
    );
    assert!(want[4].contains("status 3"), "{}", want[4]);
    assert!(want[5].contains("<lease 1>/WebApp03"), "{}", want[5]);
    assert!(want[6].contains("status 3"), "{}", want[6]);
    assert!(want[7].contains("ok"), "{}", want[7]);
    assert!(want[11].contains("status 3"), "{}", want[11]);
    for (name, got) in &answers[1..] {
        assert_eq!(got, want, "{name} vs {first}");
    }
}
