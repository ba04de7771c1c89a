//! The daemon's AWS side against moto (`testenv/moto.sh start`) and the Samba AD DC
//! (`testenv/samba-dc.sh start`): the domainless user from Secrets Manager (static credentials
//! and the emulated EC2 instance role), ARN leases from S3 and SSM credspecs, and each AWS error
//! reaching the gRPC caller with nothing left on disk. Fails (never skips) without either peer.

use cf_aws::AwsClients;
use cf_aws::sdk::secretsmanager;
use credentials_fetcherd::server::connect;
use credentials_fetcherd::server::proto::*;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tonic::Code;

type Client =
    credentials_fetcher_service_client::CredentialsFetcherServiceClient<tonic::transport::Channel>;

fn testenv_dir() -> String {
    std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into())
}

fn read_json(which: &str, how: &str) -> serde_json::Value {
    let p = format!("{}/{which}/testenv.json", testenv_dir());
    let bytes = std::fs::read(&p).unwrap_or_else(|e| {
        panic!("the {which} test environment is missing ({p}: {e}); run `{how}`")
    });
    serde_json::from_slice(&bytes).expect("testenv.json is JSON")
}

/// The Samba DC and moto descriptions; either missing fails the test.
struct Env {
    samba: serde_json::Value,
    moto: serde_json::Value,
}

impl Env {
    fn load() -> Self {
        Self {
            samba: read_json("samba", "testenv/samba-dc.sh start"),
            moto: read_json("moto", "testenv/moto.sh start"),
        }
    }
    fn s(&self, v: &serde_json::Value) -> String {
        v.as_str().expect("a string in testenv.json").to_string()
    }
    fn endpoint(&self) -> String {
        self.s(&self.moto["endpoint"])
    }
    fn region(&self) -> String {
        self.s(&self.moto["region"])
    }
    fn account(&self) -> String {
        self.s(&self.moto["account_id"])
    }
    fn key(&self, who: &str) -> (String, String) {
        (
            self.s(&self.moto[who]["access_key_id"]),
            self.s(&self.moto[who]["secret_access_key"]),
        )
    }
    /// The Samba reader user's secret JSON.
    fn user_secret(&self) -> String {
        let pw = std::fs::read_to_string(self.s(&self.samba["users"]["reader"]["password_file"]))
            .expect("svc-fetcher password file");
        serde_json::json!({
            "username": self.samba["users"]["reader"]["name"],
            "password": pw,
            "domainName": self.samba["domain"],
        })
        .to_string()
    }
    /// [`Env::user_secret`] with a `distinguishedName`.
    fn user_secret_with_dn(&self, dn: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&self.user_secret()).unwrap();
        v["distinguishedName"] = dn.into();
        v.to_string()
    }
    fn gmsa_principal(&self) -> String {
        self.s(&self.samba["gmsa"]["principal"])
    }
    /// Seeding clients (reader credentials) for `endpoint`.
    async fn admin(&self, endpoint: &str) -> AwsClients {
        let (k, s) = self.key("reader");
        AwsClients::with_static_credentials(&k, &s, None, &self.region())
            .await
            .unwrap()
            .with_endpoint_url(endpoint)
    }
}

fn spec(env: &Env, credential_arn: Option<&str>) -> String {
    let s = &env.samba;
    let name = s["gmsa"]["name"].as_str().unwrap();
    let mut v = serde_json::json!({
        "CmsPlugins": ["ActiveDirectory"],
        "DomainJoinConfig": {"DnsName": s["domain"], "NetBiosName": s["netbios_domain"], "MachineAccountName": name},
        "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": name, "Scope": s["domain"]}]}
    });
    if let Some(arn) = credential_arn {
        v["HostAccountConfig"] = serde_json::json!({
            "PortableCcgVersion": "1",
            "PluginGUID": "{859E1386-BDB4-49E8-85C7-3070B13920E1}",
            "PluginInput": {"CredentialArn": arn}
        });
    }
    v.to_string()
}

mod common;
use common::Daemon;

#[path = "../../aws/tests/support/moto_seed.rs"]
mod moto_seed;
use moto_seed::{put_object, put_parameter, put_secret, unique};

/// Starts the daemon with a clean AWS environment (no host credentials, no profile files, no
/// IMDS) plus `extra`.
fn start(dir: &Path, env: &Env, extra: &[(&str, String)], log: &Path) -> Daemon {
    let socket = dir.join("cf.sock");
    let krbdir = dir.join("krbdir");
    let mut cmd = Daemon::command(&socket, &krbdir);
    cmd.args(["--dc", env.samba["dc_host"].as_str().unwrap()]);
    cmd.env("KRB5_CONFIG", env.samba["krb5_conf"].as_str().unwrap())
        .env("RUST_LOG", "info")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for k in [
        "CF_TEST_FAKE_TICKETS",
        "CF_TEST_RENEW_SECS",
        "DOMAIN_CONTROLLER_GMSA",
        "NOTIFY_SOCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA",
        "CF_DOMAINLESS_SECRET_FILE",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in extra {
        if let Some(name) = k.strip_prefix('-') {
            cmd.env_remove(name);
        } else {
            cmd.env(k, v);
        }
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()));
    let started =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Daemon::spawn(cmd, &socket)));
    started.unwrap_or_else(|_| {
        panic!(
            "daemon did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        )
    })
}

fn klist(env: &Env, dir: &str) -> String {
    common::klist_lease(env.samba["krb5_conf"].as_str().unwrap(), dir)
}

fn metadata(d: &Daemon, lease: &str) -> serde_json::Value {
    let p = d.krbdir.join(lease).join(format!("{lease}_metadata.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// A domainless lease through AddKerberosLease: the user comes from `secret` read with `aws_env`.
async fn domainless_via_secret(env: &Env, d: &Daemon) {
    let mut c = connect(&d.socket).await.unwrap();
    let added = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: vec![spec(env, None)],
        })
        .await
        .unwrap_or_else(|s| panic!("AddKerberosLease: {s:?}"))
        .into_inner();
    let path = &added.created_kerberos_file_paths[0];
    assert!(
        klist(env, path).contains(&env.gmsa_principal()),
        "{}",
        klist(env, path)
    );
    let md = metadata(d, &added.lease_id);
    assert_eq!(
        md["krb_ticket_info"][0]["domainless_user"],
        env.samba["users"]["reader"]["name"]
    );
    c.delete_kerberos_lease(DeleteKerberosLeaseRequest {
        lease_id: added.lease_id.clone(),
    })
    .await
    .unwrap();
    assert!(d.leases().is_empty(), "{:?}", d.leases());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_user_with_static_credentials() {
    let env = Env::load();
    let aws = env.admin(&env.endpoint()).await;
    let name = unique("cf-daemon-user");
    put_secret(&aws, &name, &env.user_secret()).await;
    let dir = tempfile::tempdir().unwrap();
    let (k, s) = env.key("reader");
    let d = start(
        dir.path(),
        &env,
        &[
            (
                "CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA",
                name.clone(),
            ),
            ("AWS_ACCESS_KEY_ID", k),
            ("AWS_SECRET_ACCESS_KEY", s),
            ("AWS_REGION", env.region()),
            ("AWS_ENDPOINT_URL", env.endpoint()),
        ],
        &dir.path().join("daemon.log"),
    );
    domainless_via_secret(&env, &d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_user_with_instance_role_credentials() {
    // moto's IMDS hands out credentials its own IAM does not know: this test uses the moto
    // server without signature checks; the proof that IMDS was used is in its request log.
    let env = Env::load();
    let open = env.s(&env.moto["open_endpoint"]);
    let aws = env.admin(&open).await;
    let name = unique("cf-daemon-imds");
    put_secret(&aws, &name, &env.user_secret()).await;
    let log = env.s(&env.moto["open_log"]);
    let before = std::fs::read_to_string(&log).unwrap_or_default().len();
    let dir = tempfile::tempdir().unwrap();
    let d = start(
        dir.path(),
        &env,
        &[
            (
                "CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA",
                name.clone(),
            ),
            ("AWS_ENDPOINT_URL", open.clone()),
            ("-AWS_EC2_METADATA_DISABLED", String::new()),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", open.clone()),
        ],
        &dir.path().join("daemon.log"),
    );
    domainless_via_secret(&env, &d).await;
    let moto_log = std::fs::read_to_string(&log).unwrap();
    let new = moto_log.get(before..).unwrap_or_default();
    assert!(
        new.contains("PUT /latest/api/token"),
        "no IMDSv2 token request:\n{new}"
    );
    assert!(
        new.contains("GET /latest/meta-data/iam/security-credentials/default-role"),
        "no instance-role credential request:\n{new}"
    );
    assert!(
        new.contains("GET /latest/meta-data/placement/region"),
        "the region did not come from IMDS:\n{new}"
    );
}

fn arn_req(env: &Env, who: &str, arns: Vec<String>) -> KerberosArnLeaseRequest {
    let (k, s) = env.key(who);
    KerberosArnLeaseRequest {
        credspec_arns: arns,
        access_key_id: k,
        secret_access_key: s,
        session_token: String::new(),
        region: env.region(),
    }
}

fn renew_req(env: &Env, who: &str) -> RenewKerberosArnLeaseRequest {
    let (k, s) = env.key(who);
    RenewKerberosArnLeaseRequest {
        access_key_id: k,
        secret_access_key: s,
        session_token: String::new(),
        region: env.region(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arn_leases_from_s3_and_ssm_and_renewal() {
    let env = Env::load();
    let aws = env.admin(&env.endpoint()).await;
    let secret_arn = put_secret(&aws, &unique("cf-daemon-arn-user"), &env.user_secret()).await;
    let bucket = unique("cf-daemon-specs");
    put_object(
        &aws,
        &bucket,
        "specs/webapp01.json",
        spec(&env, Some(&secret_arn)).into_bytes(),
    )
    .await;
    // The SSM credspec's secret also gives the gMSA's DN (upstream's distinguishedName): the
    // gMSA is read at that DN.
    let dn = env.s(&env.samba["gmsa"]["dn"]);
    let dn_secret = put_secret(
        &aws,
        &unique("cf-daemon-arn-user-dn"),
        &env.user_secret_with_dn(&dn),
    )
    .await;
    let param = unique("cf-daemon-spec");
    // This credspec's HostAccountConfig.PluginInput is a JSON string holding the object (the
    // S3 one's is the object itself, as the ECS agent sends it): both are accepted.
    let mut ssm_spec: serde_json::Value =
        serde_json::from_str(&spec(&env, Some(&dn_secret))).unwrap();
    let input = ssm_spec["HostAccountConfig"]["PluginInput"].to_string();
    ssm_spec["HostAccountConfig"]["PluginInput"] = input.into();
    put_parameter(&aws, &param, &ssm_spec.to_string()).await;
    let s3_arn = format!("arn:aws:s3:::{bucket}/specs/webapp01.json#123/WebApp01");
    let ssm_arn = format!(
        "arn:aws:ssm:{}:{}:parameter/{param}#456/WebApp01",
        env.region(),
        env.account()
    );

    let dir = tempfile::tempdir().unwrap();
    let d = start(
        dir.path(),
        &env,
        &[("AWS_ENDPOINT_URL", env.endpoint())],
        &dir.path().join("daemon.log"),
    );
    let mut c = connect(&d.socket).await.unwrap();
    let mut leases = Vec::new();
    for arn in [&s3_arn, &ssm_arn] {
        let r = c
            .add_kerberos_arn_lease(arn_req(&env, "reader", vec![arn.clone()]))
            .await
            .unwrap_or_else(|s| panic!("AddKerberosArnLease {arn}: {s:?}"))
            .into_inner();
        assert_eq!(r.krb_ticket_response_map.len(), 1);
        let m = &r.krb_ticket_response_map[0];
        assert_eq!(&m.credspec_arns, arn);
        assert_eq!(
            Path::new(&m.created_kerberos_file_paths),
            d.krbdir.join(&r.lease_id).join("WebApp01")
        );
        assert!(klist(&env, &m.created_kerberos_file_paths).contains(&env.gmsa_principal()));
        let md = metadata(&d, &r.lease_id);
        let want_secret = if arn == &ssm_arn {
            &dn_secret
        } else {
            &secret_arn
        };
        assert_eq!(
            md["krb_ticket_info"][0]["credential_arn"],
            want_secret.as_str()
        );
        assert_eq!(
            md["krb_ticket_info"][0]["distinguished_name"]
                .as_str()
                .map(str::to_ascii_lowercase),
            Some(dn.to_ascii_lowercase())
        );
        leases.push((r.lease_id.clone(), m.created_kerberos_file_paths.clone()));
    }

    // Renewal with the task credentials rewrites both ccaches.
    let stamp = |p: &str| {
        std::fs::metadata(format!("{p}/krb5cc"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = leases.iter().map(|(_, p)| stamp(p)).collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let renew = async |c: &mut Client| {
        c.renew_kerberos_arn_lease(renew_req(&env, "reader"))
            .await
            .unwrap()
            .into_inner()
            .status
    };
    assert_eq!(renew(&mut c).await, "successful");
    for ((_, p), b) in leases.iter().zip(before) {
        assert!(stamp(p) > b, "{p} was not rewritten");
        assert!(klist(&env, p).contains(&env.gmsa_principal()));
    }
    // One secret broken: "failed", but the lease of the other secret is still renewed (each
    // secret broken in turn, so whatever order the daemon tries them in, one run has the broken
    // secret first).
    for (broken, renewed) in [(&secret_arn, 1), (&dn_secret, 0)] {
        let sm = secretsmanager::Client::new(aws.sdk_config());
        sm.put_secret_value()
            .secret_id(broken.as_str())
            .secret_string("{\"username\": \"svc-fetcher\", password: broken")
            .send()
            .await
            .unwrap();
        let before: Vec<_> = leases.iter().map(|(_, p)| stamp(p)).collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(renew(&mut c).await, "failed", "secret {broken} is broken");
        // (Both secrets name the same user, so the good one's renewal may also renew the other
        // lease: only the good one's is asserted.)
        let (_, p) = &leases[renewed];
        assert!(
            stamp(p) > before[renewed],
            "{p} was not renewed although its secret is fine"
        );
        let good = if broken == &secret_arn {
            env.user_secret()
        } else {
            env.user_secret_with_dn(&dn)
        };
        sm.put_secret_value()
            .secret_id(broken.as_str())
            .secret_string(good)
            .send()
            .await
            .unwrap();
    }
    // Refused credentials: "failed", tickets untouched.
    let mut bad = renew_req(&env, "reader");
    bad.secret_access_key = "wrong-secret-key".into();
    let r = c.renew_kerberos_arn_lease(bad).await.unwrap().into_inner();
    assert_eq!(r.status, "failed");

    for (id, _) in leases {
        c.delete_kerberos_lease(DeleteKerberosLeaseRequest { lease_id: id })
            .await
            .unwrap();
    }
    assert!(d.leases().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_errors_reach_the_caller_and_leave_nothing() {
    let env = Env::load();
    let aws = env.admin(&env.endpoint()).await;
    let good_secret = put_secret(&aws, &unique("cf-daemon-err-user"), &env.user_secret()).await;
    let bad_secret = put_secret(
        &aws,
        &unique("cf-daemon-err-bad"),
        "{\"username\": \"svc-fetcher\", password: hunter2",
    )
    .await;
    let missing_secret = format!("{good_secret}-missing");
    let bucket = unique("cf-daemon-err");
    put_object(
        &aws,
        &bucket,
        "good.json",
        spec(&env, Some(&good_secret)).into_bytes(),
    )
    .await;
    put_object(
        &aws,
        &bucket,
        "malformed-secret.json",
        spec(&env, Some(&bad_secret)).into_bytes(),
    )
    .await;
    put_object(
        &aws,
        &bucket,
        "missing-secret.json",
        spec(&env, Some(&missing_secret)).into_bytes(),
    )
    .await;
    put_object(
        &aws,
        &bucket,
        "no-credential-arn.json",
        spec(&env, None).into_bytes(),
    )
    .await;
    let wrong_dn_secret = put_secret(
        &aws,
        &unique("cf-daemon-err-dn"),
        &env.user_secret_with_dn("CN=WebApp01,OU=Nowhere,DC=example,DC=test"),
    )
    .await;
    put_object(
        &aws,
        &bucket,
        "wrong-dn.json",
        spec(&env, Some(&wrong_dn_secret)).into_bytes(),
    )
    .await;
    let mut big = spec(&env, Some(&good_secret)).into_bytes();
    big.resize(4001, b' ');
    put_object(&aws, &bucket, "big.json", big).await;
    let s3 = |key: &str| format!("arn:aws:s3:::{bucket}/{key}#123/WebApp01");

    let dir = tempfile::tempdir().unwrap();
    let d = start(
        dir.path(),
        &env,
        &[
            ("AWS_ENDPOINT_URL", env.endpoint()),
            (
                "CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA",
                unique("cf-daemon-no-such-secret"),
            ),
            ("AWS_ACCESS_KEY_ID", env.key("reader").0),
            ("AWS_SECRET_ACCESS_KEY", env.key("reader").1),
            ("AWS_REGION", env.region()),
        ],
        &dir.path().join("daemon.log"),
    );
    let mut c = connect(&d.socket).await.unwrap();

    // The configured secret does not exist.
    let e = c
        .add_kerberos_lease(CreateKerberosLeaseRequest {
            credspec_contents: vec![spec(&env, None)],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    for want in [
        "GetSecretValue",
        "ResourceNotFoundException",
        "cf-daemon-no-such-secret",
    ] {
        assert!(e.message().contains(want), "{want}: {}", e.message());
    }
    assert!(d.leases().is_empty(), "{:?}", d.leases());

    let wrong_key = {
        let mut r = arn_req(&env, "reader", vec![s3("good.json")]);
        r.secret_access_key = "wrong-secret-key".into();
        r
    };
    let cases: Vec<(&str, KerberosArnLeaseRequest, Code, Vec<&str>)> = vec![
        (
            "bad signature",
            wrong_key,
            Code::PermissionDenied,
            vec!["GetCallerIdentity", "SignatureDoesNotMatch"],
        ),
        (
            "access denied",
            arn_req(&env, "denied", vec![s3("good.json")]),
            Code::PermissionDenied,
            vec!["HeadObject", "Forbidden", "access denied", "good.json"],
        ),
        (
            "secret missing",
            arn_req(&env, "reader", vec![s3("missing-secret.json")]),
            Code::FailedPrecondition,
            vec!["GetSecretValue", "ResourceNotFoundException", "-missing"],
        ),
        (
            "malformed secret",
            arn_req(&env, "reader", vec![s3("malformed-secret.json")]),
            Code::FailedPrecondition,
            vec!["not valid JSON", "cf-daemon-err-bad"],
        ),
        (
            "secret DN where the gMSA is not",
            arn_req(&env, "reader", vec![s3("wrong-dn.json")]),
            Code::FailedPrecondition,
            vec!["OU=Nowhere"],
        ),
        (
            "object too large",
            arn_req(&env, "reader", vec![s3("big.json")]),
            Code::InvalidArgument,
            vec!["HeadObject", "4001 bytes", "4000", "big.json"],
        ),
        (
            "object missing",
            arn_req(&env, "reader", vec![s3("nope.json")]),
            Code::FailedPrecondition,
            vec!["HeadObject", "nope.json"],
        ),
        (
            "no CredentialArn",
            arn_req(&env, "reader", vec![s3("no-credential-arn.json")]),
            Code::InvalidArgument,
            vec!["CredentialArn"],
        ),
        (
            "path escape",
            arn_req(
                &env,
                "reader",
                vec![format!("arn:aws:s3:::{bucket}/good.json#123/..")],
            ),
            Code::InvalidArgument,
            vec!["invalid ARN"],
        ),
        (
            "ssm parameter missing",
            arn_req(
                &env,
                "reader",
                vec![format!(
                    "arn:aws:ssm:{}:{}:parameter/cf-no-such-param",
                    env.region(),
                    env.account()
                )],
            ),
            Code::FailedPrecondition,
            vec!["GetParameter", "ParameterNotFound", "cf-no-such-param"],
        ),
        (
            "one good, one bad",
            arn_req(&env, "reader", vec![s3("good.json"), s3("big.json")]),
            Code::InvalidArgument,
            vec!["big.json"],
        ),
    ];
    for (what, req, code, wants) in cases {
        let e = c.add_kerberos_arn_lease(req).await.unwrap_err();
        assert_eq!(e.code(), code, "{what}: {e:?}");
        for want in wants {
            assert!(
                e.message().contains(want),
                "{what}: want {want:?} in {}",
                e.message()
            );
        }
        assert!(!e.message().contains("hunter2"), "{what}: {}", e.message());
        assert!(d.leases().is_empty(), "{what}: {:?}", d.leases());
    }
}
