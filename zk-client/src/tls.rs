//! TLS options shared by the adapters: which server certificates to trust, an optional client
//! certificate, and the name the server's certificate must carry; or a rustls configuration
//! of the application's own.
//!
//! The PEM convenience ([`TlsOptions::new`]) builds its configuration with rustls' `ring`
//! crypto provider and rustls' safe default protocol versions. For another provider
//! (`aws-lc-rs`, a FIPS-validated one), another certificate verifier, session resumption
//! settings or anything else rustls offers, build a `rustls::ClientConfig` (rustls 0.23, the
//! version re-exported as `rustls` by each adapter, whose features your own dependency on it
//! may extend) and pass it to [`TlsOptions::with_config`].

use std::io;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Why TLS could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS configuration: {0}")]
pub struct TlsError(pub String);

/// How to secure connections to the servers' `secureClientPort`.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    ca_pem: Vec<u8>,
    client_identity: Option<(Vec<u8>, Vec<u8>)>,
    server_name: Option<String>,
    /// The application's own configuration, used as given.
    config: Option<Arc<rustls::ClientConfig>>,
}

impl TlsOptions {
    /// Trust the CA certificates in `ca_pem` (PEM, one or more).
    pub fn new(ca_pem: impl Into<Vec<u8>>) -> TlsOptions {
        TlsOptions {
            ca_pem: ca_pem.into(),
            ..TlsOptions::default()
        }
    }

    /// Use the application's own rustls configuration, as given: its roots or verifier, its
    /// client certificate, its crypto provider, its protocol versions. The server name to
    /// check is still the host of the connect string, or [`TlsOptions::server_name`].
    pub fn with_config(config: Arc<rustls::ClientConfig>) -> TlsOptions {
        TlsOptions {
            config: Some(config),
            ..TlsOptions::default()
        }
    }

    /// Present this certificate chain and private key (both PEM) to the server (with
    /// [`TlsOptions::with_config`], the client certificate belongs in that configuration).
    pub fn client_identity(
        mut self,
        cert_chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> TlsOptions {
        self.client_identity = Some((cert_chain_pem.into(), key_pem.into()));
        self
    }

    /// Check the servers' certificates against `name` instead of the host names of the
    /// connect string.
    pub fn server_name(mut self, name: impl Into<String>) -> TlsOptions {
        self.server_name = Some(name.into());
        self
    }

    /// The name to check for a host of the connect string.
    pub fn name_for(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_owned())
            .map_err(|e| TlsError(format!("invalid server name {name:?}: {e}")))
    }

    /// The rustls configuration.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        if let Some(config) = &self.config {
            if self.client_identity.is_some() {
                return Err(TlsError(
                    "a client certificate goes in the given rustls ClientConfig".into(),
                ));
            }
            return Ok(config.clone());
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&self.ca_pem) {
            let cert = cert.map_err(|e| TlsError(format!("bad CA certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| TlsError(format!("unusable CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(TlsError("no CA certificate given".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(e.to_string()))?
            .with_root_certificates(roots);
        let config = match &self.client_identity {
            None => builder.with_no_client_auth(),
            Some((chain_pem, key_pem)) => {
                let chain = CertificateDer::pem_slice_iter(chain_pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| TlsError(format!("bad client certificate: {e}")))?;
                let key = PrivateKeyDer::from_pem_slice(key_pem)
                    .map_err(|e| TlsError(format!("bad client key: {e}")))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsError(e.to_string()))?
            }
        };
        Ok(Arc::new(config))
    }
}

/// TLS ready for connections: the rustls configuration, and the name to check for each server.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    config: Arc<rustls::ClientConfig>,
    options: Arc<TlsOptions>,
}

impl TlsSetup {
    /// Checks `options` and builds the configuration.
    pub fn new(options: TlsOptions) -> Result<TlsSetup, TlsError> {
        Ok(TlsSetup {
            config: options.client_config()?,
            options: Arc::new(options),
        })
    }

    /// The rustls configuration (cheap to clone).
    pub fn config(&self) -> Arc<rustls::ClientConfig> {
        self.config.clone()
    }

    /// The name to check in the certificate of `host` (as written in the connect string).
    pub fn server_name(&self, host: &str) -> io::Result<ServerName<'static>> {
        self.options
            .name_for(host)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_own_configuration_is_used_as_given_and_refuses_a_pem_identity() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth()
            })
            .map(Arc::new)
            .expect("a configuration");
        let options = TlsOptions::with_config(config.clone()).server_name("zk.example");
        let built = options.client_config().expect("used as given");
        assert!(Arc::ptr_eq(&built, &config));
        assert_eq!(
            options
                .name_for("10.0.0.1")
                .map(|n| n.to_str().into_owned()),
            Ok("zk.example".to_owned())
        );
        let with_pem = options.client_identity(&b"cert"[..], &b"key"[..]);
        assert!(with_pem.client_config().is_err());
        assert!(
            TlsOptions::new(Vec::new()).client_config().is_err(),
            "no CA"
        );
    }
}
