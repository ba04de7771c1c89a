//! Test support shared by the integration tests of several crates of this workspace.
//!
//! Only misbehaving peers live here, the kind a real server cannot be made to be on demand:
//! the real KDCs and DCs are started by `testenv/*.sh`.

use std::net::{IpAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A UDP socket and a TCP listener bound to the same port of `ip` (a KDC listens on both).
///
/// A port free for UDP may be taken for TCP by another test's client at the same moment, so
/// this tries up to 100 ports.
///
/// ```
/// let (udp, tcp, port) = gmsa_testkit::udp_tcp_pair("127.0.0.1".parse().unwrap());
/// assert_eq!(udp.local_addr().unwrap().port(), port);
/// assert_eq!(tcp.local_addr().unwrap().port(), port);
/// ```
pub fn udp_tcp_pair(ip: IpAddr) -> (UdpSocket, TcpListener, u16) {
    (0..100)
        .find_map(|_| {
            let udp = UdpSocket::bind((ip, 0)).ok()?;
            let port = udp.local_addr().ok()?.port();
            let tcp = TcpListener::bind((ip, port)).ok()?;
            Some((udp, tcp, port))
        })
        .unwrap_or_else(|| panic!("no port of {ip} free for both UDP and TCP"))
}

/// A KDC that is down without saying so, as a powered-off DC looks from a client whose packets
/// still reach a socket: its UDP port reads and never answers, its TCP port accepts and holds
/// every connection without a byte. It counts what reached it (datagrams and connections).
///
/// ```
/// let kdc = gmsa_testkit::SilentKdc::start("127.0.0.1".parse().unwrap());
/// let _held = std::net::TcpStream::connect(("127.0.0.1", kdc.port())).unwrap();
/// let t = std::time::Instant::now();
/// while kdc.asked() == 0 && t.elapsed() < std::time::Duration::from_secs(5) {
///     std::thread::sleep(std::time::Duration::from_millis(10));
/// }
/// assert_eq!(kdc.asked(), 1);
/// ```
pub struct SilentKdc {
    port: u16,
    asked: Arc<AtomicUsize>,
}

impl SilentKdc {
    /// Binds a port of `ip` for both protocols and serves it from two threads for the rest of
    /// the test process.
    pub fn start(ip: IpAddr) -> Self {
        let (udp, tcp, port) = udp_tcp_pair(ip);
        let asked = Arc::new(AtomicUsize::new(0));
        let seen = asked.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while udp.recv(&mut buf).is_ok() {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        let seen = asked.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in tcp.incoming() {
                seen.fetch_add(1, Ordering::SeqCst);
                held.push(conn);
            }
        });
        SilentKdc { port, asked }
    }

    /// The port it listens on (UDP and TCP).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Datagrams and connections received so far.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}
