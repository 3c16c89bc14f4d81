//! TLS for tokio connections, with rustls; without the `tls` feature every connection is plain.

use std::io;

use tokio::net::TcpStream;

use crate::runtime::TokioTransport;

/// The TLS set-up of a client, if any.
#[derive(Clone, Default)]
pub(crate) struct Tls(Option<zk_client::tls::TlsSetup>);

impl Tls {
    pub(crate) fn enable(
        &mut self,
        options: zk_client::tls::TlsOptions,
    ) -> Result<(), zk_client::tls::TlsError> {
        self.0 = Some(zk_client::tls::TlsSetup::new(options)?);
        Ok(())
    }

    /// Secures `stream` to `host` when TLS is on.
    pub(crate) async fn secure(&self, stream: TcpStream, host: &str) -> io::Result<TokioTransport> {
        let Some(setup) = &self.0 else {
            return Ok(TokioTransport::Plain(stream));
        };
        let connector = tokio_rustls::TlsConnector::from(setup.config());
        let stream = connector.connect(setup.server_name(host)?, stream).await?;
        Ok(TokioTransport::Tls(Box::new(stream)))
    }
}
