//! KDC transport against real sockets on 127.0.0.1 (ephemeral ports, loopback only): UDP,
//! TCP framing, size policy, RESPONSE_TOO_BIG retry, failover, and DNS SRV discovery against a
//! DNS responder started in the test.
#![cfg(feature = "tokio")]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use krb5_proto::config::Krb5Conf;
use krb5_proto::rand::TestRng;
use krb5_proto::transport::{
    KdcAddr, KdcClient, MAX_TCP_REPLY, Protocol, SrvRecord, TransportError, frame_tcp,
    kdcs_from_srv, order_srv, read_tcp_length,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const SHORT: Duration = Duration::from_millis(200);

type Log = Arc<Mutex<Vec<Vec<u8>>>>;

/// A UDP "KDC" that records each request and answers with `reply`.
fn serve_udp(socket: UdpSocket, reply: Vec<u8>) -> Log {
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            seen.lock().unwrap().push(buf[..n].to_vec());
            let _ = socket.send_to(&reply, peer).await;
        }
    });
    log
}

/// A TCP "KDC": reads one framed request per connection, records it, writes `raw_reply`
/// as given (so tests can send broken framing).
fn serve_tcp(listener: TcpListener, raw_reply: Vec<u8>) -> Log {
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            let raw_reply = raw_reply.clone();
            tokio::spawn(async move {
                let mut prefix = [0u8; 4];
                if stream.read_exact(&mut prefix).await.is_err() {
                    return;
                }
                let len = u32::from_be_bytes(prefix) as usize;
                let mut body = vec![0u8; len];
                if stream.read_exact(&mut body).await.is_err() {
                    return;
                }
                seen.lock().unwrap().push(body);
                let _ = stream.write_all(&raw_reply).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    log
}

async fn udp_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

/// A TCP listener and a UDP socket on the same loopback port (a KDC on both protocols).
async fn udp_tcp_pair() -> (UdpSocket, TcpListener) {
    let (udp, tcp, _) = gmsa_testkit::udp_tcp_pair("127.0.0.1".parse().unwrap());
    udp.set_nonblocking(true).unwrap();
    tcp.set_nonblocking(true).unwrap();
    (
        UdpSocket::from_std(udp).unwrap(),
        TcpListener::from_std(tcp).unwrap(),
    )
}

/// A loopback port with nothing listening on UDP or TCP (bound once, then released).
async fn closed_port() -> u16 {
    let (udp, tcp) = udp_tcp_pair().await;
    let port = udp.local_addr().unwrap().port();
    drop((udp, tcp));
    port
}

fn addr(port: u16) -> KdcAddr {
    KdcAddr::parse(&format!("127.0.0.1:{port}")).unwrap()
}

/// A minimal KRB-ERROR with the given error code.
fn krb_error(code: u8) -> Vec<u8> {
    let body = [
        0xa0, 0x03, 0x02, 0x01, 0x05, // pvno 5
        0xa1, 0x03, 0x02, 0x01, 0x1e, // msg-type 30
        0xa4, 0x11, 0x18, 0x0f, b'2', b'0', b'2', b'5', b'0', b'1', b'0', b'1', b'0', b'0', b'0',
        b'0', b'0', b'0', b'Z', // stime
        0xa5, 0x03, 0x02, 0x01, 0x00, // susec
        0xa6, 0x03, 0x02, 0x01, code, // error-code
    ];
    let mut seq = vec![0x30, body.len() as u8];
    seq.extend_from_slice(&body);
    let mut msg = vec![0x7e, seq.len() as u8];
    msg.extend_from_slice(&seq);
    msg
}

#[test]
fn framing_round_trip_and_limits() {
    let framed = frame_tcp(b"hello").unwrap();
    assert_eq!(&framed[..4], &[0, 0, 0, 5]);
    assert_eq!(&framed[4..], b"hello");
    assert_eq!(read_tcp_length(framed[..4].try_into().unwrap()).unwrap(), 5);
    assert_eq!(frame_tcp(b"").unwrap(), [0, 0, 0, 0]);

    let max = u32::try_from(MAX_TCP_REPLY).unwrap().to_be_bytes();
    assert_eq!(read_tcp_length(max).unwrap(), MAX_TCP_REPLY);
    let over = (u32::try_from(MAX_TCP_REPLY).unwrap() + 1).to_be_bytes();
    assert!(matches!(
        read_tcp_length(over),
        Err(TransportError::ReplyTooLarge { len, .. }) if len == MAX_TCP_REPLY + 1
    ));
    assert!(matches!(
        read_tcp_length([0x80, 0, 0, 5]),
        Err(TransportError::BadLengthPrefix { .. })
    ));
    assert!(matches!(
        read_tcp_length([0xff; 4]),
        Err(TransportError::BadLengthPrefix { .. })
    ));
    assert!(matches!(
        read_tcp_length([0; 4]),
        Err(TransportError::EmptyReply)
    ));
}

#[test]
fn kdc_addr_parsing() {
    let ok: &[(&str, &str, u16, Option<Protocol>)] = &[
        ("kdc.example.test", "kdc.example.test", 88, None),
        (
            "kerberos.example.test:88",
            "kerberos.example.test",
            88,
            None,
        ),
        ("127.0.0.3:18888", "127.0.0.3", 18888, None),
        ("  127.0.0.2  ", "127.0.0.2", 88, None),
        ("[::1]:750", "::1", 750, None),
        ("[2001:db8::1]", "2001:db8::1", 88, None),
        ("2001:db8::1", "2001:db8::1", 88, None),
        ("tcp/host:1", "host", 1, Some(Protocol::Tcp)),
        ("TCP/[::1]:8888", "::1", 8888, Some(Protocol::Tcp)),
        ("udp/host", "host", 88, Some(Protocol::Udp)),
        ("dc_1.ad.example.test.", "dc_1.ad.example.test.", 88, None),
    ];
    for (input, host, port, protocol) in ok {
        let a = KdcAddr::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            (a.host.as_str(), a.port, a.protocol),
            (*host, *port, *protocol),
            "{input}"
        );
        // Display round-trips.
        assert_eq!(KdcAddr::parse(&a.to_string()).unwrap(), a, "{input}");
    }
    let bad = [
        "",
        "   ",
        "host:",
        "host:0",
        "host:65536",
        "host:88x",
        "host:-1",
        ":88",
        "[::1",
        "[::1]x",
        "[nothost]:88",
        "a:b:c",
        "bad host",
        "tcp/",
        "https://kdcproxy.example.test/KdcProxy",
        "host..name",
        "sctp/host",
    ];
    for input in bad {
        let err = KdcAddr::parse(input).expect_err(input);
        assert!(
            matches!(err, TransportError::InvalidKdcAddr { .. }),
            "{input}: {err}"
        );
    }
    assert_eq!(
        KdcAddr::parse("tcp/[::1]:8888").unwrap().to_string(),
        "tcp/[::1]:8888"
    );
}

#[tokio::test]
async fn udp_exchange() {
    let socket = udp_socket().await;
    let port = socket.local_addr().unwrap().port();
    let log = serve_udp(socket, b"AS-REP over UDP".to_vec());
    let client = KdcClient::new("MIT.TEST", vec![addr(port)]).with_timeout(SHORT);
    let reply = client.send(b"small AS-REQ").await.unwrap();
    assert_eq!(reply.bytes, b"AS-REP over UDP");
    assert_eq!(reply.protocol, Protocol::Udp);
    assert_eq!(reply.from, SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(*log.lock().unwrap(), [b"small AS-REQ".to_vec()]);
}

#[tokio::test]
async fn tcp_framing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = serve_tcp(listener, frame_tcp(b"TGS-REP over TCP").unwrap());
    let client = KdcClient::new(
        "MIT.TEST",
        vec![KdcAddr::parse(&format!("tcp/127.0.0.1:{port}")).unwrap()],
    )
    .with_timeout(SHORT);
    let reply = client.send(b"TGS-REQ").await.unwrap();
    assert_eq!(reply.bytes, b"TGS-REP over TCP");
    assert_eq!(reply.protocol, Protocol::Tcp);
    // The server saw exactly the request after stripping a correct length prefix.
    assert_eq!(*log.lock().unwrap(), [b"TGS-REQ".to_vec()]);

    let reply = client.send_tcp(b"again").await.unwrap();
    assert_eq!(reply.protocol, Protocol::Tcp);
}

#[tokio::test]
async fn size_policy_picks_the_protocol() {
    let (udp, tcp) = udp_tcp_pair().await;
    let port = udp.local_addr().unwrap().port();
    let udp_log = serve_udp(udp, b"via udp".to_vec());
    let tcp_log = serve_tcp(tcp, frame_tcp(b"via tcp").unwrap());
    let client = KdcClient::new("MIT.TEST", vec![addr(port)]).with_timeout(SHORT);
    assert_eq!(client.udp_preference_limit(), 1465);

    let small = vec![1u8; 1465];
    let reply = client.send(&small).await.unwrap();
    assert_eq!(
        (reply.protocol, reply.bytes.as_slice()),
        (Protocol::Udp, &b"via udp"[..])
    );

    let large = vec![2u8; 1466];
    let reply = client.send(&large).await.unwrap();
    assert_eq!(
        (reply.protocol, reply.bytes.as_slice()),
        (Protocol::Tcp, &b"via tcp"[..])
    );
    assert_eq!(udp_log.lock().unwrap().len(), 1);
    assert_eq!(*tcp_log.lock().unwrap(), [large]);

    // udp_preference_limit = 1 forces TCP for everything.
    let client = client.with_udp_preference_limit(1);
    let reply = client.send(b"tiny").await.unwrap();
    assert_eq!(reply.protocol, Protocol::Tcp);
    assert_eq!(udp_log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn response_too_big_retries_over_tcp() {
    let (udp, tcp) = udp_tcp_pair().await;
    let port = udp.local_addr().unwrap().port();
    let udp_log = serve_udp(udp, krb_error(52));
    let tcp_log = serve_tcp(tcp, frame_tcp(b"the big reply").unwrap());
    let client = KdcClient::new("MIT.TEST", vec![addr(port)]).with_timeout(SHORT);
    let reply = client.send(b"AS-REQ").await.unwrap();
    assert_eq!(reply.bytes, b"the big reply");
    assert_eq!(reply.protocol, Protocol::Tcp);
    assert_eq!(udp_log.lock().unwrap().len(), 1);
    assert_eq!(*tcp_log.lock().unwrap(), [b"AS-REQ".to_vec()]);

    // Any other KRB-ERROR is a reply like any other.
    let socket = udp_socket().await;
    let port = socket.local_addr().unwrap().port();
    serve_udp(socket, krb_error(25));
    let client = KdcClient::new("MIT.TEST", vec![addr(port)]).with_timeout(SHORT);
    let reply = client.send(b"AS-REQ").await.unwrap();
    assert_eq!(
        (reply.protocol, reply.bytes),
        (Protocol::Udp, krb_error(25))
    );
}

#[tokio::test]
async fn fails_over_from_a_silent_kdc() {
    let silent = udp_socket().await; // bound, never answers
    let silent_port = silent.local_addr().unwrap().port();
    let live = udp_socket().await;
    let live_port = live.local_addr().unwrap().port();
    serve_udp(live, b"from the second KDC".to_vec());

    let client =
        KdcClient::new("MIT.TEST", vec![addr(silent_port), addr(live_port)]).with_timeout(SHORT);
    let start = Instant::now();
    let reply = client.send(b"AS-REQ").await.unwrap();
    assert!(start.elapsed() >= SHORT, "the first KDC was not waited for");
    assert_eq!(reply.bytes, b"from the second KDC");
    assert_eq!(reply.from.port(), live_port);
    drop(silent);
}

/// A KDC that is only slow (answers over UDP after 1.5 s, past the 1 s hedge delay) is not
/// sent the same request again over TCP while its UDP attempt is under way: its answer is
/// taken, and its TCP port sees no connection.
#[tokio::test]
async fn a_slow_kdc_is_not_asked_twice_over_the_other_protocol() {
    let (udp, tcp) = udp_tcp_pair().await;
    let port = udp.local_addr().unwrap().port();
    let udp_seen = Arc::new(Mutex::new(0usize));
    let seen = udp_seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((_, peer)) = udp.recv_from(&mut buf).await {
            *seen.lock().unwrap() += 1;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = udp.send_to(b"slow", peer).await;
        }
    });
    let tcp_seen = Arc::new(Mutex::new(0usize));
    let seen = tcp_seen.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = tcp.accept().await {
            *seen.lock().unwrap() += 1;
            held.push(stream);
        }
    });
    let client = KdcClient::new("T.TEST", vec![addr(port)]).with_timeout(Duration::from_secs(5));
    let t = Instant::now();
    let reply = client.send(b"as-req").await.expect("the slow KDC answers");
    assert_eq!(reply.bytes, b"slow");
    assert_eq!(reply.protocol, Protocol::Udp);
    assert!(t.elapsed() >= Duration::from_millis(1500));
    assert_eq!(*udp_seen.lock().unwrap(), 1);
    assert_eq!(*tcp_seen.lock().unwrap(), 0, "asked again over TCP");
}

/// Two KDCs, the first slow (1.5 s): the second is asked after the 1 s hedge delay and its
/// reply, the first to arrive, wins.
#[tokio::test]
async fn the_first_reply_wins_after_the_hedge_delay() {
    let slow = udp_socket().await;
    let slow_port = slow.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((_, peer)) = slow.recv_from(&mut buf).await {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = slow.send_to(b"slow", peer).await;
        }
    });
    let fast = udp_socket().await;
    let fast_port = fast.local_addr().unwrap().port();
    let log = serve_udp(fast, b"fast".to_vec());
    let client = KdcClient::new(
        "T.TEST",
        vec![
            KdcAddr::parse(&format!("udp/127.0.0.1:{slow_port}")).unwrap(),
            KdcAddr::parse(&format!("udp/127.0.0.1:{fast_port}")).unwrap(),
        ],
    )
    .with_timeout(Duration::from_secs(5))
    .with_hedge_delay(Duration::from_millis(1000));
    let t = Instant::now();
    let reply = client.send(b"as-req").await.unwrap();
    let took = t.elapsed();
    assert_eq!(reply.bytes, b"fast");
    assert_eq!(reply.kdc_index, 1);
    assert_eq!(log.lock().unwrap().len(), 1);
    // Not before the hedge delay (the slow KDC alone until then).
    assert!(took >= Duration::from_millis(1000), "{took:?}");
}

/// A silent KDC, then one that refuses, then a live one: the refusal moves on at once (it
/// does not wait for another hedge delay because the silent attempt is still under way), so
/// the live KDC answers one hedge delay (2 s here) after the start, not two.
#[tokio::test]
async fn a_refusal_after_a_silent_kdc_moves_on_at_once() {
    let silent = gmsa_testkit::SilentKdc::start("127.0.0.1".parse().unwrap());
    let refused = closed_port().await;
    let live = udp_socket().await;
    let live_port = live.local_addr().unwrap().port();
    serve_udp(live, b"live".to_vec());
    let kdcs = [silent.port(), refused, live_port]
        .iter()
        .map(|p| KdcAddr::parse(&format!("udp/127.0.0.1:{p}")).unwrap())
        .collect();
    let client = KdcClient::new("T.TEST", kdcs)
        .with_timeout(Duration::from_secs(10))
        .with_hedge_delay(Duration::from_secs(2));
    let t = Instant::now();
    let reply = client.send(b"as-req").await.unwrap();
    let took = t.elapsed();
    assert_eq!((reply.bytes.as_slice(), reply.kdc_index), (&b"live"[..], 2));
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(
        took < Duration::from_millis(3500),
        "{took:?}: a second hedge delay"
    );
}

#[tokio::test]
async fn all_dead_lists_every_attempt() {
    let silent = udp_socket().await;
    let silent_port = silent.local_addr().unwrap().port();
    let closed = closed_port().await;
    let client =
        KdcClient::new("MIT.TEST", vec![addr(silent_port), addr(closed)]).with_timeout(SHORT);
    let err = client.send(b"AS-REQ").await.unwrap_err();
    let TransportError::Unreachable {
        realm,
        tried,
        bad_replies,
    } = &err
    else {
        panic!("expected Unreachable, got {err}");
    };
    assert_eq!(realm, "MIT.TEST");
    let expected = [
        format!("127.0.0.1:{silent_port}/udp: timed out after 200ms"),
        format!("127.0.0.1:{closed}/udp: connection refused"),
        format!("127.0.0.1:{silent_port}/tcp: connection refused"),
        format!("127.0.0.1:{closed}/tcp: connection refused"),
    ];
    assert_eq!(tried, &expected, "{err}");
    assert_eq!(*bad_replies, 0, "nothing answered: {err}");
    let message = err.to_string();
    assert!(message.contains("Check that a KDC is running"), "{message}");
    assert!(message.contains("MIT.TEST"), "{message}");
    assert!(message.contains(&expected[0]), "{message}");

    // Forcing TCP tries only TCP.
    let err = client.send_tcp(b"AS-REQ").await.unwrap_err();
    let TransportError::Unreachable { tried, .. } = &err else {
        panic!("expected Unreachable, got {err}");
    };
    assert_eq!(tried.len(), 2, "{err}");
    assert!(tried.iter().all(|t| t.contains("/tcp: ")), "{err}");

    // No KDC at all.
    let err = KdcClient::new("EMPTY.TEST", vec![])
        .send(b"x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no KDC address"), "{err}");
    drop(silent);
}

#[tokio::test]
async fn bad_tcp_replies_are_rejected() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // 2 MiB announced: over the 1 MiB cap, refused before reading or allocating it.
        (vec![0x00, 0x20, 0x00, 0x00, 1, 2, 3], "exceeds the limit"),
        (vec![0x80, 0x00, 0x00, 0x04, 1, 2, 3, 4], "high bit"),
        (vec![0, 0, 0, 0], "empty TCP reply"),
        // Announces 10 bytes, sends 3, closes.
        (
            vec![0, 0, 0, 10, 1, 2, 3],
            "closed before a full reply (3 of 10 bytes)",
        ),
    ];
    for (raw, needle) in cases {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        serve_tcp(listener, raw);
        let client = KdcClient::new("MIT.TEST", vec![addr(port)]).with_timeout(SHORT);
        let err = client.send_tcp(b"AS-REQ").await.unwrap_err();
        let TransportError::Unreachable {
            tried, bad_replies, ..
        } = &err
        else {
            panic!("expected Unreachable, got {err}");
        };
        assert_eq!(tried.len(), 1, "{err}");
        assert!(tried[0].contains(needle), "{needle}: {err}");
        // The hint says something answered, not that no KDC runs.
        assert_eq!(*bad_replies, 1, "{err}");
        assert!(err.to_string().contains("Something answered"), "{err}");
    }
}

/// A KDC that sends the length prefix and part of the reply, then nothing (the connection held
/// open): the attempt times out and says how far the reply got.
#[tokio::test]
async fn a_tcp_reply_that_stalls_mid_way_is_reported_as_such() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut req = [0u8; 64];
        let _ = stream.read(&mut req).await;
        stream.write_all(&[0, 0, 0, 10, 1, 2, 3]).await.unwrap();
        tokio::time::sleep(SHORT * 10).await;
        drop(stream);
    });
    let client = KdcClient::new("MIT.TEST", vec![addr(port)]).with_timeout(SHORT);
    let start = Instant::now();
    let err = client.send_tcp(b"AS-REQ").await.unwrap_err();
    assert!(start.elapsed() < SHORT * 5, "not bounded by the timeout");
    let TransportError::Unreachable {
        tried, bad_replies, ..
    } = &err
    else {
        panic!("expected Unreachable, got {err}");
    };
    assert_eq!(
        tried,
        &[format!(
            "127.0.0.1:{port}/tcp: timed out after 200ms: the reply stopped after 3 of the 10 \
             bytes it announced"
        )],
        "{err}"
    );
    assert_eq!(*bad_replies, 1, "{err}");
}

#[tokio::test]
async fn tcp_only_entries_are_tried_after_udp_ones() {
    // A UDP-only dead KDC and a TCP-only live one: the small request tries UDP first, then TCP.
    let closed = closed_port().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_tcp(listener, frame_tcp(b"tcp only").unwrap());
    let kdcs = vec![
        KdcAddr::parse(&format!("tcp/127.0.0.1:{port}")).unwrap(),
        KdcAddr::parse(&format!("udp/127.0.0.1:{closed}")).unwrap(),
    ];
    let client = KdcClient::new("MIT.TEST", kdcs).with_timeout(SHORT);
    let reply = client.send(b"AS-REQ").await.unwrap();
    assert_eq!(
        (reply.protocol, reply.bytes.as_slice()),
        (Protocol::Tcp, &b"tcp only"[..])
    );
}

#[tokio::test]
async fn discover_from_krb5_conf() {
    let conf = Krb5Conf::parse(
        "[libdefaults]\n default_realm = MIT.TEST\n dns_lookup_kdc = false\n rdns = false\n\
         udp_preference_limit = 1\n kdc_timeout = 7\n\
         [realms]\n MIT.TEST = {\n  kdc = 127.0.0.3:18888\n  kdc = tcp/kdc2.mit.test\n }\n",
    )
    .unwrap();
    let client = KdcClient::discover("MIT.TEST", &conf).await.unwrap();
    assert_eq!(client.realm(), "MIT.TEST");
    assert_eq!(
        client.kdcs(),
        [
            KdcAddr::parse("127.0.0.3:18888").unwrap(),
            KdcAddr::parse("tcp/kdc2.mit.test:88").unwrap()
        ]
    );
    assert_eq!(client.udp_preference_limit(), 1);
    assert_eq!(client.timeout(), Duration::from_secs(7));

    // Case-insensitive realm match, defaults kept.
    let conf = Krb5Conf::parse("[realms]\nmit.test = {\nkdc = 127.0.0.3\n}\n").unwrap();
    let client = KdcClient::discover("MIT.TEST", &conf).await.unwrap();
    assert_eq!(client.kdcs(), [KdcAddr::parse("127.0.0.3:88").unwrap()]);
    assert_eq!(client.timeout(), Duration::from_secs(3));

    // No KDC and DNS off: NoKdc with a hint.
    let conf = Krb5Conf::parse("[libdefaults]\ndns_lookup_kdc = false\n").unwrap();
    let err = KdcClient::discover("NONE.TEST", &conf).await.unwrap_err();
    assert!(matches!(err, TransportError::NoKdc { .. }), "{err}");
    assert!(err.to_string().contains("dns_lookup_kdc"), "{err}");

    // A malformed kdc line is reported with where it came from.
    let conf = Krb5Conf::parse("[realms]\nBAD.TEST = {\nkdc = host:99999\n}\n").unwrap();
    let err = KdcClient::discover("BAD.TEST", &conf).await.unwrap_err();
    assert!(err.to_string().contains("[realms] BAD.TEST"), "{err}");
}

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
    SrvRecord {
        priority,
        weight,
        port,
        target: target.to_owned(),
    }
}

fn targets(records: &[SrvRecord]) -> Vec<&str> {
    records.iter().map(|r| r.target.as_str()).collect()
}

#[test]
fn srv_ordering_by_priority_and_null_target() {
    let records = vec![
        srv(20, 0, 88, "c."),
        srv(10, 0, 88, "a."),
        srv(30, 5, 88, "."),
        srv(10, 0, 88, "b."),
        srv(0, 100, 88, "first."),
    ];
    for seed in 0..50 {
        let ordered = order_srv(records.clone(), &mut TestRng::new(seed));
        let t = targets(&ordered);
        assert_eq!(t.len(), 4);
        assert_eq!(t[0], "first.");
        assert!(t[1..3].contains(&"a.") && t[1..3].contains(&"b."));
        assert_eq!(t[3], "c.");
    }
    // Only the "no service" record: nothing.
    assert!(order_srv(vec![srv(0, 0, 0, ".")], &mut TestRng::new(1)).is_empty());
    assert!(order_srv(vec![], &mut TestRng::new(1)).is_empty());
    // Same seed, same order.
    let many: Vec<SrvRecord> = (0..10).map(|i| srv(1, 10, 88, &format!("h{i}."))).collect();
    assert_eq!(
        order_srv(many.clone(), &mut TestRng::new(7)),
        order_srv(many, &mut TestRng::new(7))
    );
}

#[test]
fn srv_weights_bias_the_first_pick() {
    let records = vec![
        srv(0, 90, 88, "heavy."),
        srv(0, 10, 88, "light."),
        srv(0, 0, 88, "zero."),
    ];
    let mut first: HashMap<String, u32> = HashMap::new();
    let mut rng = TestRng::new(42);
    let rounds = 4000;
    for _ in 0..rounds {
        let ordered = order_srv(records.clone(), &mut rng);
        assert_eq!(ordered.len(), 3);
        *first.entry(ordered[0].target.clone()).or_default() += 1;
    }
    let share = |t: &str| f64::from(*first.get(t).unwrap_or(&0)) / f64::from(rounds);
    // Expected about 90/101, 10/101, 1/101.
    assert!((0.85..0.93).contains(&share("heavy.")), "{first:?}");
    assert!((0.06..0.14).contains(&share("light.")), "{first:?}");
    assert!(share("zero.") < 0.03, "{first:?}");
    assert!(
        share("zero.") > 0.0,
        "weight 0 must keep a small chance: {first:?}"
    );
}

#[test]
fn srv_records_to_kdc_addrs() {
    let udp = vec![
        srv(0, 0, 88, "dc1.ad.test."),
        srv(1, 0, 88, "udponly.ad.test."),
    ];
    let tcp = vec![
        srv(0, 0, 88, "DC1.ad.test."),
        srv(5, 0, 750, "tcponly.ad.test."),
        srv(6, 0, 88, "bad name."),
    ];
    let kdcs = kdcs_from_srv(udp, tcp, &mut TestRng::new(3));
    assert_eq!(
        kdcs,
        [
            KdcAddr {
                host: "dc1.ad.test".into(),
                port: 88,
                protocol: None
            },
            KdcAddr {
                host: "udponly.ad.test".into(),
                port: 88,
                protocol: Some(Protocol::Udp)
            },
            KdcAddr {
                host: "tcponly.ad.test".into(),
                port: 750,
                protocol: Some(Protocol::Tcp)
            },
        ]
    );
}

/// A DNS responder on 127.0.0.1 answering SRV queries from a fixed table (NXDOMAIN otherwise).
async fn serve_dns(table: HashMap<String, Vec<SrvRecord>>) -> SocketAddr {
    use hickory_resolver::proto::op::{Message, ResponseCode};
    use hickory_resolver::proto::rr::rdata::SRV;
    use hickory_resolver::proto::rr::{Name, RData, Record};

    let socket = udp_socket().await;
    let local = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut response = Message::response(query.metadata.id, query.metadata.op_code);
            response.metadata.recursion_desired = query.metadata.recursion_desired;
            response.metadata.recursion_available = true;
            response.metadata.authoritative = true;
            let mut found = false;
            for q in &query.queries {
                let name = q.name().to_ascii().to_ascii_lowercase();
                if let Some(records) = table.get(&name) {
                    found = true;
                    for r in records {
                        let target = Name::from_ascii(&r.target).unwrap();
                        response.add_answer(Record::from_rdata(
                            q.name().clone(),
                            60,
                            RData::SRV(SRV::new(r.priority, r.weight, r.port, target)),
                        ));
                    }
                }
            }
            response.add_queries(query.queries.clone());
            if !found {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            let _ = socket.send_to(&response.to_vec().unwrap(), peer).await;
        }
    });
    local
}

#[tokio::test]
async fn discover_with_local_dns_srv() {
    let mut table = HashMap::new();
    table.insert(
        "_kerberos._udp.ad.test.".to_owned(),
        vec![
            srv(10, 0, 88, "dc2.ad.test."),
            srv(0, 0, 88, "dc1.ad.test."),
        ],
    );
    table.insert(
        "_kerberos._tcp.ad.test.".to_owned(),
        vec![
            srv(0, 0, 88, "dc1.ad.test."),
            srv(10, 0, 88, "dc2.ad.test."),
        ],
    );
    table.insert(
        "_kerberos._udp.none.test.".to_owned(),
        vec![srv(0, 0, 0, ".")],
    );
    let dns = serve_dns(table).await;

    let conf = Krb5Conf::parse("[libdefaults]\ndefault_realm = AD.TEST\n").unwrap();
    let client = KdcClient::discover_with_resolver("AD.TEST", &conf, Some(dns))
        .await
        .unwrap();
    assert_eq!(
        client.kdcs(),
        [
            KdcAddr {
                host: "dc1.ad.test".into(),
                port: 88,
                protocol: None
            },
            KdcAddr {
                host: "dc2.ad.test".into(),
                port: 88,
                protocol: None
            },
        ]
    );

    // "." target and NXDOMAIN: nothing found, the hint says what was looked up.
    let err = KdcClient::discover_with_resolver("NONE.TEST", &conf, Some(dns))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TransportError::NoKdc { .. }), "{message}");
    assert!(
        message.contains("_kerberos._udp/_tcp.NONE.TEST"),
        "{message}"
    );

    // krb5.conf kdc lines win over DNS.
    let conf = Krb5Conf::parse("[realms]\nAD.TEST = {\nkdc = 127.0.0.1:1088\n}\n").unwrap();
    let client = KdcClient::discover_with_resolver("AD.TEST", &conf, Some(dns))
        .await
        .unwrap();
    assert_eq!(client.kdcs(), [KdcAddr::parse("127.0.0.1:1088").unwrap()]);
}
