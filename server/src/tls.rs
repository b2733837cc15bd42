//! HTTPS served directly: rustls on the accept loop, from PEM files that SIGHUP reloads.
//!
//! WeChat mini-programs call only HTTPS domains. The server can terminate TLS itself from
//! `tls.cert_file` and `tls.key_file` (for instance the files certbot or acme.sh keeps
//! renewed), or sit behind a reverse proxy that does (see [`crate::proxy`]). Each new
//! connection takes the configuration in use when it arrives; on SIGHUP both files are read
//! again, and the new pair replaces the old only if it loads and the key matches the
//! certificate; otherwise the old pair stays in use and the error is logged.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::{Context, bail};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsSettings;

/// The TLS configuration in use, and where it was loaded from.
#[derive(Debug)]
pub struct Tls {
    settings: TlsSettings,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Loads the certificate and key named in `settings`.
    pub fn load(settings: &TlsSettings) -> anyhow::Result<Tls> {
        let config = server_config(&settings.cert_file, &settings.key_file)?;
        Ok(Tls {
            settings: settings.clone(),
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// Reads the files again; the new pair is used from the next connection on, or, if it does
    /// not load, the pair in use is kept and the error returned.
    pub fn reload(&self) -> anyhow::Result<()> {
        let config = server_config(&self.settings.cert_file, &self.settings.key_file)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        Ok(())
    }

    /// An acceptor with the configuration in use now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// Answers every SIGHUP in `hangups` until dropped: reloads `tls`, or, with HTTPS not served
/// here, says there is nothing to reload. (SIGHUP must never end the server, as its default
/// action would: `systemctl reload` sends it whatever the configuration.)
#[cfg(unix)]
pub async fn reload_on(mut hangups: tokio::signal::unix::Signal, tls: Option<Arc<Tls>>) {
    while hangups.recv().await.is_some() {
        let Some(tls) = &tls else {
            tracing::info!(
                "SIGHUP: nothing to reload, HTTPS is not served here ([tls] is not set)"
            );
            continue;
        };
        match tls.reload() {
            Ok(()) => tracing::info!(
                cert_file = %tls.settings.cert_file.display(),
                "SIGHUP: the certificate and key are reloaded"
            ),
            Err(err) => tracing::error!(
                error = format!("{err:#}"),
                "SIGHUP: the certificate and key were not reloaded; the ones in use are kept"
            ),
        }
    }
}

/// A server configuration from PEM files: HTTP/2 and HTTP/1.1, TLS 1.2 and 1.3.
fn server_config(cert_file: &Path, key_file: &Path) -> anyhow::Result<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|err| anyhow::anyhow!("{err}"))
        .with_context(|| {
            format!(
                "cannot read certificates from tls.cert_file {}",
                cert_file.display()
            )
        })?;
    if chain.is_empty() {
        bail!(
            "tls.cert_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            cert_file.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|err| anyhow::anyhow!("{err}"))
        .with_context(|| {
            format!(
                "cannot read a private key (PKCS#8, PKCS#1 or SEC1 PEM) from tls.key_file {}",
                key_file.display()
            )
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the TLS provider offers no safe protocol version")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| {
            format!(
                "the key in {} does not go with the certificate in {}",
                key_file.display(),
                cert_file.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
