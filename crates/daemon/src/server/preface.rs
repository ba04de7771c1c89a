//! Bounds on connections that never become gRPC calls.
//!
//! hyper's HTTP/2 server waits for a client's connection preface without a time limit, so a
//! client that connects to the socket and says nothing (or crashes half-way) would hold one of
//! the daemon's file descriptors for ever; a thousand such clients, a thousand descriptors.
//! [`PrefaceDeadline`] wraps each accepted connection: one that has not sent the 24 bytes of the
//! HTTP/2 preface within [`PREFACE_TIMEOUT`] gets a read error (`TimedOut`), and hyper closes it.
//! After the preface, HTTP/2 keep-alive pings ([`KEEPALIVE_INTERVAL`], [`KEEPALIVE_TIMEOUT`],
//! set in [`super::serve_on`]) close connections whose peer stopped answering, e.g. one that
//! sent half a frame and went silent. Garbage (random bytes, HTTP/1) is refused by h2 at once.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use credentials_fetcherd::server::preface::PrefaceDeadline;
//! use tokio::io::AsyncReadExt as _;
//! let (client, server) = tokio::io::duplex(64);
//! let mut conn = PrefaceDeadline::with_timeout(server, std::time::Duration::from_millis(10));
//! let mut buf = [0u8; 24];
//! let e = conn.read(&mut buf).await.unwrap_err();
//! assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
//! drop(client);
//! # }
//! ```

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};

/// How long a new connection may take to send the HTTP/2 preface.
pub const PREFACE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an HTTP/2 connection may be silent before the daemon pings it.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long the daemon waits for the answer to its ping before it closes the connection.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The length of the HTTP/2 client preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
const PREFACE_LEN: usize = 24;

/// A connection that fails its reads once [`PREFACE_TIMEOUT`] has passed without 24 bytes
/// from the client; after them it is the connection itself. Writes pass through.
pub struct PrefaceDeadline<S> {
    inner: S,
    seen: usize,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> PrefaceDeadline<S> {
    /// Wraps an accepted connection with [`PREFACE_TIMEOUT`].
    pub fn new(inner: S) -> Self {
        Self::with_timeout(inner, PREFACE_TIMEOUT)
    }

    /// Wraps an accepted connection with another time limit.
    pub fn with_timeout(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            seen: 0,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PrefaceDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(d) = &mut this.deadline
            && d.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no HTTP/2 preface within the time limit",
            )));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.deadline.is_some() {
            this.seen += buf.filled().len() - before;
            if this.seen >= PREFACE_LEN {
                this.deadline = None;
            }
        }
        r
    }
}

forward_writes_to_inner!(PrefaceDeadline);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn the_preface_in_time_lifts_the_deadline() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut conn = PrefaceDeadline::with_timeout(server, Duration::from_millis(50));
        client
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 24];
        conn.read_exact(&mut buf).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.write_all(b"x").await.unwrap();
        assert_eq!(conn.read(&mut buf).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_partial_preface_times_out() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut conn = PrefaceDeadline::with_timeout(server, Duration::from_millis(50));
        client.write_all(b"PRI * HTTP/2.0").await.unwrap();
        let mut buf = [0u8; 24];
        assert_eq!(conn.read(&mut buf).await.unwrap(), 14);
        let e = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
