//! A TCP stream on async-io's reactor that asks for readiness before reading once it knows the
//! socket is drained.
//!
//! A read that returns fewer bytes than asked for emptied the socket's receive queue, so the next
//! read would only fail with `WouldBlock`. async-io's own stream makes that read anyway (one
//! failing system call per wake-up); this one waits for the reactor's readiness instead, which
//! costs nothing when the socket's interest is already registered.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use async_io::Async;
use futures_io::{AsyncRead, AsyncWrite};

/// A non-blocking TCP connection registered with async-io's reactor.
#[derive(Debug)]
pub struct TcpStream {
    io: Async<std::net::TcpStream>,
    /// The last read found the receive queue empty: wait for readiness before reading again.
    drained: bool,
}

impl TcpStream {
    /// Connects to `addr`, with Nagle's algorithm off (requests are small and latency-bound).
    pub(crate) async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let io = Async::<std::net::TcpStream>::connect(addr).await?;
        io.get_ref().set_nodelay(true)?;
        Ok(TcpStream { io, drained: false })
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if this.drained {
                ready!(this.io.poll_readable(cx))?;
                this.drained = false;
            }
            match this.io.get_ref().read(buf) {
                Ok(n) => {
                    this.drained = n < buf.len();
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => this.drained = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }
}
