//! TLS for async-io connections, with rustls.

use std::io;
use std::sync::Arc;

use async_net::TcpStream;
use zk_client::tls::{TlsError, TlsOptions};

/// What the async-io runtime needs to secure a connection.
#[derive(Clone)]
pub(crate) struct AsyncIoTls {
    connector: futures_rustls::TlsConnector,
    options: Arc<TlsOptions>,
}

impl AsyncIoTls {
    pub(crate) fn new(options: TlsOptions) -> Result<AsyncIoTls, TlsError> {
        let config = options.client_config()?;
        Ok(AsyncIoTls {
            connector: futures_rustls::TlsConnector::from(config),
            options: Arc::new(options),
        })
    }

    pub(crate) async fn wrap(
        &self,
        stream: TcpStream,
        host: &str,
    ) -> io::Result<futures_rustls::client::TlsStream<TcpStream>> {
        let name = self
            .options
            .name_for(host)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.connector.connect(name, stream).await
    }
}
