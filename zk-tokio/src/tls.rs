//! TLS for tokio connections, with rustls.

use std::io;
use std::sync::Arc;

use tokio::net::TcpStream;
use zk_client::tls::{TlsError, TlsOptions};

/// What the tokio runtime needs to secure a connection.
#[derive(Clone)]
pub(crate) struct TokioTls {
    connector: tokio_rustls::TlsConnector,
    options: Arc<TlsOptions>,
}

impl TokioTls {
    pub(crate) fn new(options: TlsOptions) -> Result<TokioTls, TlsError> {
        let config = options.client_config()?;
        Ok(TokioTls {
            connector: tokio_rustls::TlsConnector::from(config),
            options: Arc::new(options),
        })
    }

    pub(crate) async fn wrap(
        &self,
        stream: TcpStream,
        host: &str,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let name = self
            .options
            .name_for(host)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.connector.connect(name, stream).await
    }
}
