//! cf-aws against moto (`testenv/moto.sh start`): the signed server checks signatures and IAM
//! policies. Fails (never skips) when moto is not running.

use cf_aws::{AwsClients, AwsError, AwsErrorKind};

#[path = "support/moto_seed.rs"]
mod moto_seed;
use moto_seed::{put_object, put_parameter, put_secret, unique};

struct Moto {
    endpoint: String,
    region: String,
    account: String,
    reader: (String, String),
    denied: (String, String),
}

fn moto() -> Moto {
    let base = std::env::var("TESTENV_DIR").unwrap_or_else(|_| "/tmp/gmsa-testenv".into());
    let p = format!("{base}/moto/testenv.json");
    let bytes = std::fs::read(&p).unwrap_or_else(|e| {
        panic!("the moto test environment is missing ({p}: {e}); run `testenv/moto.sh start`")
    });
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("testenv.json is JSON");
    let s = |x: &serde_json::Value| x.as_str().expect("string in testenv.json").to_string();
    Moto {
        endpoint: s(&v["endpoint"]),
        region: s(&v["region"]),
        account: s(&v["account_id"]),
        reader: (
            s(&v["reader"]["access_key_id"]),
            s(&v["reader"]["secret_access_key"]),
        ),
        denied: (
            s(&v["denied"]["access_key_id"]),
            s(&v["denied"]["secret_access_key"]),
        ),
    }
}

async fn clients(m: &Moto, key: &(String, String)) -> AwsClients {
    AwsClients::with_static_credentials(&key.0, &key.1, None, &m.region)
        .await
        .unwrap()
        .with_endpoint_url(&m.endpoint)
}

fn service_code(e: &AwsError) -> &str {
    e.code()
        .unwrap_or_else(|| panic!("not a service error: {e}"))
}

#[tokio::test]
async fn secrets() {
    let m = moto();
    let aws = clients(&m, &m.reader).await;
    let name = unique("cf-aws-secret");
    let arn = put_secret(
        &aws,
        &name,
        r#"{"username":"svc-fetcher","password":"pw","domainName":"example.test","distinguishedName":"CN=WebApp01,DC=example,DC=test"}"#,
    )
    .await;
    for id in [name.as_str(), arn.as_str()] {
        let s = aws.get_secret_json(id).await.unwrap();
        assert_eq!(s.username, "svc-fetcher");
        assert_eq!(s.password.as_str(), "pw");
        assert_eq!(s.domain.as_deref(), Some("example.test"));
        assert_eq!(
            s.distinguished_name.as_deref(),
            Some("CN=WebApp01,DC=example,DC=test")
        );
    }

    // Missing.
    let e = aws
        .get_secret_json(&format!("{name}-missing"))
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), "ResourceNotFoundException", "{e}");
    assert_eq!(e.kind(), AwsErrorKind::NotFound);
    let msg = e.to_string();
    assert!(
        msg.contains("GetSecretValue") && msg.contains(&name),
        "{msg}"
    );

    // Malformed JSON.
    let bad = unique("cf-aws-bad");
    put_secret(&aws, &bad, "username=svc-fetcher password=hunter2").await;
    let e = aws.get_secret_json(&bad).await.unwrap_err();
    assert!(matches!(e, AwsError::BadSecret { .. }), "{e}");
    assert!(e.to_string().contains("not valid JSON") && !e.to_string().contains("hunter2"));

    // A wrong secret key: the signature is refused.
    let wrong = clients(&m, &(m.reader.0.clone(), "wrong-secret-key".into())).await;
    let e = wrong.get_secret_json(&name).await.unwrap_err();
    assert_eq!(service_code(&e), "SignatureDoesNotMatch", "{e}");
    assert_eq!(e.kind(), AwsErrorKind::Denied);

    // A user without permissions.
    let denied = clients(&m, &m.denied).await;
    let e = denied.get_secret_json(&name).await.unwrap_err();
    assert!(service_code(&e).starts_with("AccessDenied"), "{e}");
    assert_eq!(e.kind(), AwsErrorKind::Denied);
    assert!(e.to_string().contains("GetSecretValue"), "{e}");
}

#[tokio::test]
async fn credspecs_from_s3_and_ssm() {
    let m = moto();
    let aws = clients(&m, &m.reader).await;
    assert_eq!(aws.caller_account().await.unwrap(), m.account);
    let bucket = unique("cf-aws-bucket");
    let spec = r#"{"DomainJoinConfig":{"DnsName":"example.test"}}"#;
    put_object(&aws, &bucket, "specs/web.json", spec.as_bytes().to_vec()).await;
    put_object(&aws, &bucket, "big.json", vec![b' '; 4001]).await;
    put_object(&aws, &bucket, "limit.json", vec![b' '; 4000]).await;

    let got = aws
        .read_credspec_arn(&format!(
            "arn:aws:s3:::{bucket}/specs/web.json#123/WebApp01"
        ))
        .await
        .unwrap();
    assert_eq!(got, spec);
    assert_eq!(
        aws.read_credspec_arn(&format!("arn:aws:s3:::{bucket}/limit.json"))
            .await
            .unwrap()
            .len(),
        4000
    );
    let e = aws
        .read_credspec_arn(&format!("arn:aws:s3:::{bucket}/big.json"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            AwsError::TooLarge {
                size: 4001,
                limit: 4000,
                call: "HeadObject",
                ..
            }
        ),
        "{e}"
    );
    let e = aws
        .read_credspec_arn(&format!("arn:aws:s3:::{bucket}/nope.json"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), AwsErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("HeadObject"), "{e}");

    let param = unique("cf-aws-param");
    put_parameter(&aws, &param, spec).await;
    let arn = format!("arn:aws:ssm:{}:{}:parameter/{param}", m.region, m.account);
    assert_eq!(aws.read_credspec_arn(&arn).await.unwrap(), spec);
    let e = aws
        .read_credspec_arn(&format!("{arn}-missing"))
        .await
        .unwrap_err();
    assert_eq!(service_code(&e), "ParameterNotFound", "{e}");
    assert!(e.to_string().contains("GetParameter"), "{e}");

    let denied = clients(&m, &m.denied).await;
    let e = denied.read_credspec_arn(&arn).await.unwrap_err();
    assert_eq!(e.kind(), AwsErrorKind::Denied, "{e}");

    let e = aws
        .read_credspec_arn(&format!("arn:aws:s3:::{bucket}/x#1/../../etc"))
        .await
        .unwrap_err();
    assert!(matches!(e, AwsError::InvalidArn { .. }), "{e}");
}

#[tokio::test]
async fn unreachable_endpoint_is_a_transport_error() {
    let m = moto();
    // A closed port on loopback: connection refused, reported as unavailable.
    let aws = clients(&m, &m.reader)
        .await
        .with_endpoint_url("http://127.0.0.1:9");
    let e = aws.get_secret_json("x").await.unwrap_err();
    assert_eq!(e.kind(), AwsErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("GetSecretValue"), "{e}");
}
