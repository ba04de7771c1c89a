//! A fault-injecting TCP + UDP proxy for tests against the real peers: it listens on one
//! address (TCP and UDP on the same port) and forwards to one upstream address (e.g. the Samba
//! DC's KDC on 127.0.0.2:88 or its LDAP port 389), applying the current [`Faults`]:
//!
//! - `delay`: every chunk a client sends (a TCP read, a UDP datagram) is held this long before
//!   it is forwarded (answers are not delayed), so each round trip gets slower by `delay`;
//! - `drop_rate`: the share (0.0-1.0) of client chunks thrown away; for TCP the connection is
//!   closed instead (a stream cannot lose a chunk and stay usable);
//! - `conn_drop_rate`: the share of accepted TCP connections closed at once, before anything
//!   is forwarded;
//! - `stall`: nothing is forwarded (connections are accepted and held open, datagrams are
//!   swallowed) until the faults change;
//! - `corrupt_replies`: the next N TCP answer chunks (upstream to client) longer than 16 bytes
//!   get one byte in their middle flipped (the length prefix of a SASL frame is left alone, so
//!   the frame arrives whole but does not unseal or decode); the count goes down by one per
//!   corrupted chunk ([`Proxy::corrupted`] says how many were).
//!
//! Faults can be changed at any time with [`Proxy::set`] and apply to chunks read from then
//! on. [`Proxy::down`] makes the peer look dead (listeners and every connection closed: TCP
//! connects are refused, UDP datagrams get ICMP port unreachable) until [`Proxy::up`] listens
//! again on the same address. The proxy runs on the test's tokio runtime and stops when dropped.
//!
//! ```ignore
//! let kdc = Proxy::start("127.0.0.9:0".parse()?, "127.0.0.2:88".parse()?, Faults::delay(ms(3000))).await;
//! // point krb5.conf at kdc.addr(); later: kdc.set(Faults::default());
//! ```
#![allow(dead_code)] // each test file uses a different part

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;

/// What the proxy does to the traffic (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Hold each client chunk this long before forwarding it.
    pub delay: Duration,
    /// Share of client chunks dropped (TCP: the connection is closed instead).
    pub drop_rate: f64,
    /// Share of accepted TCP connections closed at once.
    pub conn_drop_rate: f64,
    /// Forward nothing.
    pub stall: bool,
    /// Corrupt this many of the next TCP answer chunks.
    pub corrupt_replies: u32,
}

impl Faults {
    /// Only a delay.
    pub fn delay(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }
}

/// A running proxy (stopped on drop).
pub struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    corrupted: Arc<std::sync::atomic::AtomicU64>,
    tasks: JoinSet<()>,
}

impl Proxy {
    /// Starts a proxy listening on `listen` (port 0: any free port, the same for TCP and UDP)
    /// and forwarding to `upstream`.
    pub async fn start(listen: SocketAddr, upstream: SocketAddr, faults: Faults) -> Self {
        let tcp = TcpListener::bind(listen)
            .await
            .unwrap_or_else(|e| panic!("proxy: binding TCP {listen}: {e}"));
        let addr = tcp.local_addr().unwrap();
        let mut p = Self {
            addr,
            upstream,
            faults: Arc::new(Mutex::new(faults)),
            corrupted: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            tasks: JoinSet::new(),
        };
        p.serve(tcp).await;
        p
    }

    async fn serve(&mut self, tcp: TcpListener) {
        let addr = self.addr;
        let udp = Arc::new(
            UdpSocket::bind(addr)
                .await
                .unwrap_or_else(|e| panic!("proxy: binding UDP {addr}: {e}")),
        );
        self.tasks.spawn(tcp_loop(
            tcp,
            self.upstream,
            self.faults.clone(),
            self.corrupted.clone(),
        ));
        self.tasks
            .spawn(udp_loop(udp, self.upstream, self.faults.clone()));
    }

    /// The peer "dies": the listeners and every connection are closed (a TCP connect is
    /// refused, a UDP datagram answered by ICMP port unreachable) until [`Proxy::up`].
    pub async fn down(&mut self) {
        self.tasks.abort_all();
        // Each task owns its sockets (and the JoinSet of its connections): once joined, all
        // of them are closed.
        while self.tasks.join_next().await.is_some() {}
    }

    /// The peer is back: listening again on the same address (TCP and UDP).
    pub async fn up(&mut self) {
        if !self.tasks.is_empty() {
            return;
        }
        // SO_REUSEADDR (set by tokio) lets the port be bound again despite TIME_WAIT.
        let tcp = TcpListener::bind(self.addr)
            .await
            .unwrap_or_else(|e| panic!("proxy: binding TCP {} again: {e}", self.addr));
        self.serve(tcp).await;
    }

    /// The listening address (TCP and UDP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the faults for the chunks read from now on.
    pub fn set(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }

    /// How many answer chunks have been corrupted so far.
    pub fn corrupted(&self) -> u64 {
        self.corrupted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The current faults.
    pub fn faults(&self) -> Faults {
        *self.faults.lock().unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// A uniform number in [0, 1).
fn unit() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0)
}

/// What to do with one client chunk, after waiting out the delay: `true` forwards it.
async fn admit(faults: &Mutex<Faults>) -> bool {
    loop {
        let f = *faults.lock().unwrap();
        if f.stall {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        if !f.delay.is_zero() {
            tokio::time::sleep(f.delay).await;
        }
        return !(f.drop_rate > 0.0 && unit() < f.drop_rate);
    }
}

async fn tcp_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    corrupted: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut conns = JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        let conn_drop_rate = faults.lock().unwrap().conn_drop_rate;
        if conn_drop_rate > 0.0 && unit() < conn_drop_rate {
            drop(client);
            continue;
        }
        let faults = faults.clone();
        let corrupted = corrupted.clone();
        conns.spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = async {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if !admit(&faults).await || sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            };
            let down = async {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if n > 16 {
                        let mut f = faults.lock().unwrap();
                        if f.corrupt_replies > 0 {
                            f.corrupt_replies -= 1;
                            buf[n / 2] ^= 0x5a;
                            corrupted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            };
            // Either side ending ends the connection (both halves are dropped).
            tokio::select! {
                () = up => {}
                () = down => {}
            }
        });
    }
}

async fn udp_loop(socket: Arc<UdpSocket>, upstream: SocketAddr, faults: Arc<Mutex<Faults>>) {
    // One upstream socket per client address, answering back through `socket`.
    let peers: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut tasks = JoinSet::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok((n, client)) = socket.recv_from(&mut buf).await {
        let datagram = buf[..n].to_vec();
        let existing = peers.lock().unwrap().get(&client).cloned();
        let peer = match existing {
            Some(p) => p,
            None => {
                let Ok(p) = UdpSocket::bind("127.0.0.1:0").await else {
                    continue;
                };
                if p.connect(upstream).await.is_err() {
                    continue;
                }
                let p = Arc::new(p);
                peers.lock().unwrap().insert(client, p.clone());
                let (p2, socket2) = (p.clone(), socket.clone());
                tasks.spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = p2.recv(&mut buf).await {
                        let _ = socket2.send_to(&buf[..n], client).await;
                    }
                });
                p
            }
        };
        let faults = faults.clone();
        tasks.spawn(async move {
            if admit(&faults).await {
                let _ = peer.send(&datagram).await;
            }
        });
    }
}
