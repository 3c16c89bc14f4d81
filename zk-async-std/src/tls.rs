//! TLS for async-io connections, with rustls; without the `tls` feature every connection is plain.

use std::io;

use crate::stream::TcpStream;

use crate::runtime::AsyncIoTransport;

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
    pub(crate) async fn secure(
        &self,
        stream: TcpStream,
        host: &str,
    ) -> io::Result<AsyncIoTransport> {
        let Some(setup) = &self.0 else {
            return Ok(AsyncIoTransport::Plain(stream));
        };
        let connector = futures_rustls::TlsConnector::from(setup.config());
        let stream = connector.connect(setup.server_name(host)?, stream).await?;
        Ok(AsyncIoTransport::Tls(Box::new(stream)))
    }
}
