//! The async-io primitives the client core needs.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::stream::TcpStream;
use futures_io::{AsyncRead, AsyncWrite};
use std::sync::Arc;

use zk_client::adapter::{BoxFuture, InlineDriver, Runtime, Transport};
use zk_client::HostAddr;

use crate::assist::Assist;

#[cfg(feature = "tls")]
use crate::tls::Tls;

/// The async-io runtime (async-std, smol): sockets and timers on async-io's reactor, and each
/// session driven by the tasks that wait for its replies, with a small background thread of its
/// own taking over when none waits. Nothing depends on which executor polls the client's
/// futures.
#[derive(Clone, Default)]
pub struct AsyncIo {
    tls: Tls,
}

impl std::fmt::Debug for AsyncIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncIo").finish_non_exhaustive()
    }
}

/// A connection: plain TCP, or TLS over TCP.
#[derive(Debug)]
pub enum AsyncIoTransport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<futures_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncIoTransport {
    fn io(&mut self) -> Pin<&mut (dyn AsyncReadWrite + Send + Unpin)> {
        match self {
            AsyncIoTransport::Plain(s) => Pin::new(s),
            #[cfg(feature = "tls")]
            AsyncIoTransport::Tls(s) => Pin::new(s.as_mut()),
        }
    }
}

trait AsyncReadWrite: AsyncRead + AsyncWrite {}
impl<T: AsyncRead + AsyncWrite> AsyncReadWrite for T {}

impl Transport for AsyncIoTransport {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io().poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io().poll_write(cx, buf)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io().poll_flush(cx)
    }
}

impl Runtime for AsyncIo {
    type Transport = AsyncIoTransport;
    type Sleep = TimerFuture;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> TimerFuture {
        TimerFuture(async_io::Timer::at(deadline))
    }

    // A driver on a thread of its own cost a futex wake-up (and often an eventfd write) per
    // reply batch and per submission: about twice the CPU per request of zk-tokio. The tasks
    // that await replies drive the session instead (see `crate::assist`).
    fn start_driver(&self, driver: BoxFuture<()>) -> io::Result<Option<Arc<dyn InlineDriver>>> {
        let assist: Arc<dyn InlineDriver> = Assist::start(driver)?;
        Ok(Some(assist))
    }

    fn resolve(&self, host: &HostAddr) -> BoxFuture<io::Result<Vec<SocketAddr>>> {
        let target = (host.host.clone(), host.port);
        Box::pin(async move { async_net::resolve(target).await })
    }

    fn connect(
        &self,
        addr: SocketAddr,
        server_name: &str,
    ) -> BoxFuture<io::Result<AsyncIoTransport>> {
        let (tls, host) = (self.tls.clone(), server_name.to_owned());
        Box::pin(async move {
            let stream = TcpStream::connect(addr).await?;
            tls.secure(stream, &host).await
        })
    }

    #[cfg(feature = "tls")]
    fn enable_tls(
        &mut self,
        options: zk_client::tls::TlsOptions,
    ) -> Result<(), zk_client::tls::TlsError> {
        self.tls.enable(options)
    }
}

/// Without the `tls` feature every connection is plain.
#[cfg(not(feature = "tls"))]
#[derive(Clone, Default)]
pub(crate) struct Tls;

#[cfg(not(feature = "tls"))]
impl Tls {
    pub(crate) async fn secure(
        &self,
        stream: TcpStream,
        _host: &str,
    ) -> io::Result<AsyncIoTransport> {
        Ok(AsyncIoTransport::Plain(stream))
    }
}

/// An async-io timer as a `()` future.
#[derive(Debug)]
pub struct TimerFuture(async_io::Timer);

impl std::future::Future for TimerFuture {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}
