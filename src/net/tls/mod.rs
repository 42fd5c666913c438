//! TLS to servers started with `-Z`, by rustls (its `ring` provider: no
//! system OpenSSL at run time, no cmake at build time).
//!
//! A handle's TLS settings ([`TlsOptions`]) become one [`TlsClient`] when
//! they are applied, so a missing CA file or a key that does not parse is
//! an error of `configure`, not of the first request. Each new TCP
//! connection to a TLS server then makes its handshake within the connect
//! timeout ([`TlsStream::handshake`]); nothing is written to the socket
//! before it except the handshake itself.

mod stream;
mod verify;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::Resumption;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use crate::error::{Error, Kind, Result};
pub use stream::TlsStream;

/// A handle's TLS settings (Tcl's `-tls`, `-tlsca`, `-tlscert`,
/// `-tlskey`, `-tlsname`, `-tlsverify`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Speak TLS to every TCP server of the handle (not to socket files:
    /// memcached serves TLS on TCP only). A server written `tls://host:port`
    /// or `tcp://host:port` says it for itself. Default off.
    pub enabled: bool,
    /// The PEM file of the certificates that may sign a server's
    /// certificate (memcached deployments use private CAs). Without one,
    /// the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The client's certificate chain (PEM), for servers that verify
    /// clients (memcached's `ssl_verify_mode` 2); with [`Self::key_file`].
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// The name a server's certificate must carry. Default: the host of
    /// its spec (a DNS name or an IP address).
    pub server_name: Option<String>,
    /// Check the server's certificate (its chain to a trusted root, its
    /// dates, its name). Default on. Off accepts any certificate from
    /// anyone who can reach the connection: for tests against throwaway
    /// certificates only.
    pub verify: bool,
}

impl Default for TlsOptions {
    fn default() -> TlsOptions {
        TlsOptions {
            enabled: false,
            ca_file: None,
            cert_file: None,
            key_file: None,
            server_name: None,
            verify: true,
        }
    }
}

/// A handle's TLS settings and, once made, their `TlsClient`: made when
/// the settings are applied if TLS is on (so that `configure` reports a bad
/// file), else by the first connection to a `tls://` server.
#[derive(Debug, Default)]
pub struct TlsSetup {
    options: TlsOptions,
    client: OnceLock<Result<TlsClient>>,
}

impl TlsSetup {
    /// Settings whose client is made when first needed.
    pub fn new(options: TlsOptions) -> TlsSetup {
        TlsSetup {
            options,
            client: OnceLock::new(),
        }
    }

    /// Settings with their client made now: an error if they are bad.
    pub fn ready(options: TlsOptions) -> Result<TlsSetup> {
        let client = TlsClient::new(&options)?;
        Ok(TlsSetup {
            options,
            client: OnceLock::from(Ok(client)),
        })
    }

    /// The same settings, with the client if made (for a new server list).
    pub fn again(&self) -> TlsSetup {
        TlsSetup {
            options: self.options.clone(),
            client: self.client.clone(),
        }
    }

    pub fn options(&self) -> &TlsOptions {
        &self.options
    }

    /// The client, made now if it was not.
    pub fn client(&self) -> Result<&TlsClient> {
        self.client
            .get_or_init(|| TlsClient::new(&self.options))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// TLS settings made ready: the rustls configuration every connection of
/// a handle shares, and the server name to verify if not each server's
/// own host.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    name: Option<ServerName<'static>>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// Reads the files `options` names and makes the configuration. Every
    /// problem is an `Invalid` error naming the file and what is wrong.
    pub fn new(options: &TlsOptions) -> Result<TlsClient> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS: {e}")))?;
        let builder = if options.verify {
            builder.with_root_certificates(roots(options.ca_file.as_deref())?)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verify::AcceptAny::new(provider)))
        };
        let mut config = match (&options.cert_file, &options.key_file) {
            (Some(cert), Some(key)) => {
                let chain = certificates(cert, "client certificate")?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    invalid(format!(
                        "cannot read the TLS key file \"{}\": {}",
                        key.display(),
                        pem_problem(e)
                    ))
                })?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    invalid(format!(
                        "TLS client certificate \"{}\" and its key: {e}",
                        cert.display()
                    ))
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err(invalid("a TLS client certificate needs its key")),
            (None, Some(_)) => return Err(invalid("a TLS key needs its client certificate")),
        };
        // No session resumption: a forked child would resume its parent's
        // sessions with the same secrets. A handshake happens only when a
        // connection opens, and connections are pooled.
        config.resumption = Resumption::disabled();
        let name = match &options.server_name {
            Some(name) => Some(server_name(name)?),
            None => None,
        };
        Ok(TlsClient {
            config: Arc::new(config),
            name,
        })
    }

    /// The name to verify on the server `host`.
    fn name_for(&self, host: &str) -> Result<ServerName<'static>> {
        match &self.name {
            Some(name) => Ok(name.clone()),
            None => server_name(host),
        }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Kind::Invalid, message)
}

/// A DNS name or an IP address a certificate can carry.
fn server_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_string()).map_err(|_| {
        invalid(format!(
            "bad TLS server name \"{}\": must be a DNS name or an IP address",
            name.escape_debug()
        ))
    })
}

/// The certificates of the PEM file `path`; at least one.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let unreadable = |why: String| {
        invalid(format!(
            "cannot read the TLS {what} file \"{}\": {why}",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(pem_problem(e)))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| unreadable(pem_problem(e)))?;
    if certs.is_empty() {
        return Err(unreadable("no PEM certificate in it".to_string()));
    }
    Ok(certs)
}

/// What is wrong with a PEM file: the system's words for a file that
/// cannot be read.
fn pem_problem(e: pem::Error) -> String {
    match e {
        pem::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// The roots a server's chain must reach: those of `ca_file`, else the
/// system's.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certs = match ca_file {
        Some(path) => certificates(path, "CA")?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (_, ignored) = roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(invalid(match ca_file {
            Some(path) => format!(
                "the TLS CA file \"{}\" holds no usable certificate ({ignored} refused)",
                path.display()
            ),
            None => "no system CA certificates found: give a CA file (-tlsca)".to_string(),
        }));
    }
    Ok(roots)
}
