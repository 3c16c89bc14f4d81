//! The tokio primitives the client core needs.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use zk_client::adapter::{BoxFuture, Runtime, Transport};

#[cfg(feature = "tls")]
use crate::tls::Tls;

/// Runs the client on the tokio runtime of the task that creates it.
#[derive(Clone, Default)]
pub struct Tokio {
    tls: Tls,
}

impl std::fmt::Debug for Tokio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokio").finish_non_exhaustive()
    }
}

/// A connection: plain TCP, or TLS over TCP.
#[derive(Debug)]
pub enum TokioTransport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

fn poll_read_tokio<T: AsyncRead + Unpin>(
    io: &mut T,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let mut read_buf = ReadBuf::new(buf);
    match Pin::new(io).poll_read(cx, &mut read_buf) {
        Poll::Ready(Ok(())) => Poll::Ready(Ok(read_buf.filled().len())),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

impl Transport for TokioTransport {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self {
            TokioTransport::Plain(s) => poll_read_tokio(s, cx, buf),
            #[cfg(feature = "tls")]
            TokioTransport::Tls(s) => poll_read_tokio(s.as_mut(), cx, buf),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            TokioTransport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            TokioTransport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            TokioTransport::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            TokioTransport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
}

impl Runtime for Tokio {
    type Transport = TokioTransport;
    type Sleep = tokio::time::Sleep;

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: Instant) -> tokio::time::Sleep {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }

    fn spawn(&self, task: BoxFuture<()>) -> io::Result<()> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        runtime.spawn(task);
        Ok(())
    }

    fn resolve(&self, host: &zk_client::HostAddr) -> BoxFuture<io::Result<Vec<SocketAddr>>> {
        let target = (host.host.clone(), host.port);
        Box::pin(async move { Ok(tokio::net::lookup_host(target).await?.collect()) })
    }

    fn connect(
        &self,
        addr: SocketAddr,
        server_name: &str,
    ) -> BoxFuture<io::Result<TokioTransport>> {
        let (tls, host) = (self.tls.clone(), server_name.to_owned());
        Box::pin(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
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
    ) -> io::Result<TokioTransport> {
        Ok(TokioTransport::Plain(stream))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::GetDataError;
    use crate::{Client, CommonError, ConnectError, SessionState};

    #[test]
    fn a_client_whose_runtime_is_gone_is_closed() {
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Nothing listens on port 1: the session keeps trying until its runtime goes.
        let client = first
            .block_on(async { Client::builder("127.0.0.1:1").start() })
            .unwrap();
        let mut states = client.state_watcher();
        drop(first);

        assert_eq!(client.state(), SessionState::Closed);
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        second.block_on(async {
            let last = states.wait_for(|s| s.is_terminal()).await;
            assert_eq!(last, Some(SessionState::Closed));
            assert_eq!(
                client
                    .get_data("/")
                    .await
                    .map_err(zk_client::ops::OpError::into_kind),
                Err(GetDataError::Common(CommonError::Closed))
            );
            assert_eq!(client.close().await, SessionState::Closed);
        });
    }

    #[test]
    fn starting_outside_a_tokio_runtime_fails_instead_of_panicking() {
        let started = Client::builder("127.0.0.1:2181").start();
        assert!(
            matches!(started, Err(ConnectError::Start(_))),
            "{started:?}"
        );
    }
}
