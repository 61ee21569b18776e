//! TLS to PostgreSQL with rustls (feature `postgres-rustls`).

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{Result, error::malformed};

/// A TLS connector for PostgreSQL that trusts exactly the CA certificates in
/// `ca_pem` (PEM, one or more `CERTIFICATE` blocks) and checks that the
/// server's certificate names the host connected to. rustls with the *ring*
/// provider; TLS 1.2 and 1.3.
///
/// The *ring* provider has no post-quantum key exchange (rustls marks it
/// deprecated for that reason); it is used because it builds without the C
/// and CMake toolchain that aws-lc-rs needs. Traffic to a database on a
/// network an attacker may record for later decryption should go through
/// a connector with aws-lc-rs, built by the application and passed to
/// `connect`.
///
/// Pass it to `PostgresStore::connect` or `AsyncPostgresStore::connect`
/// (with `sslmode=require` in the parameters), or to a pool the application
/// builds itself; the stores' `connect_rustls` constructors do both.
pub fn postgres_rustls_connector(ca_pem: &[u8]) -> Result<MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| malformed("CA certificate", e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| malformed("CA certificate", e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(malformed(
            "CA certificate",
            "no certificate in the PEM text",
        ));
    }
    #[expect(
        deprecated,
        reason = "ring has no post-quantum key exchange; see the function's documentation"
    )]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| malformed("TLS configuration", e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
