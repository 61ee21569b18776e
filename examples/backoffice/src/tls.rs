//! HTTPS: a certificate and key from files, or a development certificate
//! made on first start (kept in the data folder, mode 0600).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest;

use crate::app::private_dir;
use crate::error::{Error, Result, internal};

/// Where the server's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tls {
    /// A certificate chain and its private key, PEM files (a real CA's).
    Files {
        /// The certificate chain, leaf first.
        cert: PathBuf,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// A self-signed certificate for `localhost` and `127.0.0.1`, made on
    /// first start and kept in `DATA/tls/`: for development and tests
    /// (clients must trust `DATA/tls/cert.pem`).
    Development,
}

/// The files of the development certificate under `data_dir`.
pub fn development_certificate(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The pin of the development certificate: base64 of the SHA-256 of its
/// public key (SubjectPublicKeyInfo), as browsers take it to trust one key
/// (`chromium --ignore-certificate-errors-spki-list=PIN`).
pub fn development_certificate_pin(data_dir: &Path) -> Result<String> {
    Ok(
        std::fs::read_to_string(data_dir.join("tls").join("cert.spki-sha256"))?
            .trim()
            .to_owned(),
    )
}

/// Makes the development certificate if it is not there yet.
fn ensure_development_certificate(data_dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let (cert, key) = development_certificate(data_dir);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    private_dir(&data_dir.join("tls"))?;
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let made = rcgen::generate_simple_self_signed(names).map_err(internal)?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
    write_private(&cert, made.cert.pem().as_bytes())?;
    let spki = rcgen::PublicKeyData::subject_public_key_info(&made.signing_key);
    let pin = data_encoding::BASE64.encode(&sha2::Sha256::digest(&spki));
    write_private(
        &data_dir.join("tls").join("cert.spki-sha256"),
        pin.as_bytes(),
    )?;
    tracing::info!(cert = %cert.display(), "development certificate made");
    Ok((cert, key))
}

/// Writes `bytes` to `path`, readable by its owner only (0600), synced.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// The rustls configuration of the server (TLS 1.2 and 1.3, ring's
/// cipher suites, HTTP/1.1 and HTTP/2 by ALPN).
pub(crate) fn server_config(tls: &Tls, data_dir: &Path) -> Result<Arc<ServerConfig>> {
    let (cert, key) = match tls {
        Tls::Files { cert, key } => (cert.clone(), key.clone()),
        Tls::Development => ensure_development_certificate(data_dir)?,
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
        .map_err(|e| Error::Internal(format!("certificate `{}`: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(Error::Internal(format!(
            "certificate `{}`: no certificate in the file",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| Error::Internal(format!("private key `{}`: {e}", key.display())))?;
    #[expect(
        deprecated,
        reason = "ring is the workspace's TLS provider; it offers no post-quantum key exchange (aws-lc-rs would)"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(internal)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(internal)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
