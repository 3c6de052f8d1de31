//! The agent's HTTPS client for the sync API: rustls only (TLS 1.3 preferred, 1.2 the
//! minimum), the provider's certificate checked against a CA bundle (the system's roots by
//! default) and optionally pinned, an optional client certificate (mutual TLS), and one
//! kept-alive HTTP/1.1 connection per session. Every delivery is signed with the agent key.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::api;
use super::sign::{self, Signature};
use crate::seal::SealError;
use crate::store::StoreError;

/// Giving up on a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Giving up on a TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Giving up on an answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of an agent key.
pub const AGENT_KEY_LEN: usize = 32;

/// Where and how to reach the provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// `https://host[:port][/prefix]`.
    pub url: String,
    /// PEM bundle of the CAs to trust instead of the system's roots.
    pub ca: Option<PathBuf>,
    /// SHA-256 fingerprints (hex, colons allowed) of the provider certificates to accept.
    pub pins: Vec<String>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// File holding the agent's signing key: 64 hex digits.
    pub agent_key_file: PathBuf,
}

/// Why delivery could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A setting or a file it names is wrong.
    #[error("{0}")]
    Setup(String),
    /// Network trouble: nothing the agent can fix; try again later.
    #[error("{}", crate::tr!("sync-unreachable", url = .url.as_str(), detail = .detail.as_str()))]
    Unreachable { url: String, detail: String },
    /// The provider's certificate is not trusted.
    #[error("{}", crate::tr!("sync-untrusted", url = .url.as_str(), detail = .detail.as_str()))]
    Untrusted { url: String, detail: String },
    /// The provider refused this agent's certificate or signature.
    #[error("{}", crate::tr!("sync-refused", url = .url.as_str(), detail = .detail.as_str()))]
    Refused { url: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// A signed request, ready to send (and, for tests of replay protection, to send again).
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub method: hyper::Method,
    pub path: String,
    pub body: Bytes,
    pub signature: Signature,
}

/// How one request/answer exchange failed.
enum Exchange {
    Http(hyper::Error),
    Body(Box<dyn std::error::Error + Send + Sync>),
}

impl From<hyper::Error> for Exchange {
    fn from(e: hyper::Error) -> Self {
        Exchange::Http(e)
    }
}

/// An answer from the provider.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

/// Everything needed to open sessions with one provider.
pub struct Client {
    tls: Arc<ClientConfig>,
    url: String,
    host: String,
    port: u16,
    prefix: String,
    server_name: ServerName<'static>,
    key: Zeroizing<Vec<u8>>,
    key_id: String,
}

/// A PEM file, bounded and only if it is a regular file.
fn read_pem(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, SyncError> {
    crate::input::read_regular(path, crate::input::MAX_CERT_FILE, what)
        .map(Zeroizing::new)
        .map_err(|e| SyncError::Setup(e.to_string()))
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, SyncError> {
    let pem = read_pem(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SyncError::Setup(format!("{what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(SyncError::Setup(format!(
            "{what} {}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

/// Reads an agent key file: 64 hex digits (surrounding whitespace ignored).
pub fn read_agent_key(path: &Path) -> Result<Zeroizing<Vec<u8>>, SyncError> {
    let text = Zeroizing::new(
        crate::input::read_text(path, crate::input::MAX_SECRET_FILE, &crate::tr!("what-agent-key-file"))
            .map_err(|e| SyncError::Setup(e.to_string()))?,
    );
    let key = Zeroizing::new(hex::decode(text.trim()).map_err(|_| {
        SyncError::Setup(crate::tr!(
            "agent-key-not-hex",
            file = path.display().to_string(),
            digits = 2 * AGENT_KEY_LEN
        ))
    })?);
    if key.len() != AGENT_KEY_LEN {
        return Err(SyncError::Setup(crate::tr!(
            "agent-key-length",
            file = path.display().to_string(),
            digits = 2 * AGENT_KEY_LEN,
            found = 2 * key.len()
        )));
    }
    Ok(key)
}

fn parse_pin(pin: &str) -> Result<[u8; 32], SyncError> {
    let digits: String = pin.chars().filter(|c| *c != ':').collect();
    hex::decode(&digits)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| SyncError::Setup(crate::tr!("tls-bad-pin", pin = pin)))
}

/// The crypto provider posagent uses for TLS (ring).
pub fn crypto() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: Option<&Path>) -> Result<RootCertStore, SyncError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in read_certs(path, &crate::tr!("what-ca-bundle"))? {
                roots.add(cert).map_err(|e| {
                    SyncError::Setup(crate::tr!(
                        "tls-ca-bundle",
                        file = path.display().to_string(),
                        reason = e.to_string()
                    ))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(SyncError::Setup(crate::tr!("tls-no-system-ca")));
            }
        }
    }
    Ok(roots)
}

/// Builds the TLS configuration for `s`.
pub fn tls_config(s: &ProviderSettings) -> Result<Arc<ClientConfig>, SyncError> {
    let provider = crypto();
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(s.ca.as_deref())?), provider.clone())
        .build()
        .map_err(|e| SyncError::Setup(crate::tr!("tls-ca-bundle", file = "-", reason = e.to_string())))?;
    let pins = s.pins.iter().map(|p| parse_pin(p)).collect::<Result<Vec<_>, _>>()?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| SyncError::Setup(crate::tr!("tls-setup", reason = e.to_string())))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { inner, pins }));
    let config = match (&s.client_cert, &s.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, &crate::tr!("what-client-cert"))?;
            let key = PrivateKeyDer::from_pem_slice(&read_pem(key, &crate::tr!("what-client-key"))?).map_err(|e| {
                SyncError::Setup(crate::tr!(
                    "tls-client-key",
                    file = key.display().to_string(),
                    reason = e.to_string()
                ))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| SyncError::Setup(crate::tr!("tls-client-pair", reason = e.to_string())))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(SyncError::Setup(crate::tr!("tls-client-half")));
        }
    };
    Ok(Arc::new(config))
}

/// The WebPKI check, then (when pins are configured) the certificate's fingerprint.
#[derive(Debug)]
struct Pinned {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        let fingerprint: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if self.pins.is_empty() || self.pins.contains(&fingerprint) {
            Ok(verified)
        } else {
            Err(rustls::Error::General(crate::tr!(
                "tls-not-pinned",
                sha256 = hex::encode(fingerprint)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Turns a failure into what the technician should know, finding a TLS error in its causes.
fn classify(url: &str, e: &(dyn std::error::Error + 'static)) -> SyncError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut text = Vec::new();
    while let Some(c) = cause {
        if let Some(tls) = c.downcast_ref::<rustls::Error>() {
            return tls_error(url, tls);
        }
        // An io::Error's source() skips the error it wraps, which is where TLS puts its own.
        let wrapped = c.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        if let Some(tls) = wrapped.and_then(|w| w.downcast_ref::<rustls::Error>()) {
            return tls_error(url, tls);
        }
        let s = c.to_string();
        if !text.contains(&s) {
            text.push(s);
        }
        cause = wrapped
            .map(|w| w as &(dyn std::error::Error + 'static))
            .or_else(|| c.source());
    }
    SyncError::Unreachable {
        url: url.to_string(),
        detail: text.join(": "),
    }
}

fn tls_error(url: &str, e: &rustls::Error) -> SyncError {
    let untrusted = |detail: &str| SyncError::Untrusted {
        url: url.to_string(),
        detail: detail.to_string(),
    };
    let refused = |detail: &str| SyncError::Refused {
        url: url.to_string(),
        detail: detail.to_string(),
    };
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                untrusted(&crate::tr!("tls-unknown-issuer"))
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                untrusted(&crate::tr!("tls-expired"))
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                untrusted(&crate::tr!("tls-not-yet-valid"))
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                untrusted(&crate::tr!("tls-wrong-name"))
            }
            other => untrusted(&crate::tr!("tls-cert-refused", reason = format!("{other:?}"))),
        },
        rustls::Error::General(message) => untrusted(message),
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
            refused(&crate::tr!("tls-client-cert-required"))
        }
        rustls::Error::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::DecryptError
            | AlertDescription::AccessDenied,
        ) => refused(&crate::tr!("tls-client-cert-refused")),
        other => untrusted(&crate::tr!("tls-failed", reason = other.to_string())),
    }
}

impl Client {
    /// A client for `s`: reads the CA bundle, pins, client certificate and agent key.
    pub fn new(s: &ProviderSettings) -> Result<Client, SyncError> {
        let uri: hyper::Uri = s.url.parse().map_err(|e: hyper::http::uri::InvalidUri| {
            SyncError::Setup(crate::tr!("url-invalid", url = s.url.as_str(), reason = e.to_string()))
        })?;
        if uri.scheme_str() != Some("https") {
            return Err(SyncError::Setup(crate::tr!("url-not-https", url = s.url.as_str())));
        }
        let host = uri
            .host()
            .ok_or_else(|| SyncError::Setup(crate::tr!("url-no-host", url = s.url.as_str())))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let server_name = ServerName::try_from(host.clone())
            .map_err(|_| SyncError::Setup(crate::tr!("url-bad-host", url = s.url.as_str(), host = host.as_str())))?;
        let key = read_agent_key(&s.agent_key_file)?;
        Ok(Client {
            tls: tls_config(s)?,
            url: s.url.clone(),
            port: uri.port_u16().unwrap_or(443),
            prefix: uri.path().trim_end_matches('/').to_string(),
            host,
            server_name,
            key_id: sign::key_id(&key),
            key,
        })
    }

    /// The provider's URL, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Signs a POST of `body` to `path` (below the URL's prefix) for now.
    pub fn sign(&self, path: &str, body: Vec<u8>) -> SignedRequest {
        self.sign_request(hyper::Method::POST, path, body)
    }

    /// Signs a request of any method (the path may carry a query, signed as sent).
    pub fn sign_request(&self, method: hyper::Method, path: &str, body: Vec<u8>) -> SignedRequest {
        let path = format!("{}{path}", self.prefix);
        let signature = sign::sign(&self.key, method.as_str(), &path, &body, chrono::Utc::now().timestamp());
        SignedRequest {
            method,
            path,
            body: body.into(),
            signature,
        }
    }

    /// `GET path` on `session`, signed, its `200` answer read as JSON; anything else is
    /// the provider refusing (`what` names what was asked for, in the message).
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        session: &mut Session,
        path: &str,
        what: &str,
    ) -> Result<T, SyncError> {
        let reply = session
            .send(&self.sign_request(hyper::Method::GET, path, Vec::new()))
            .await?;
        let refused = |detail: String| SyncError::Refused {
            url: self.url().to_string(),
            detail,
        };
        if reply.status != 200 {
            let body = String::from_utf8_lossy(&reply.body)
                .chars()
                .take(200)
                .collect::<String>();
            return Err(refused(format!("HTTP {} for {what}: {body}", reply.status)));
        }
        serde_json::from_slice(&reply.body)
            .map_err(|e| refused(crate::tr!("orders-answer-invalid", reason = e.to_string())))
    }

    /// Opens a connection, completes TLS and checks the provider answers its health probe.
    pub async fn connect(&self) -> Result<Session, SyncError> {
        let unreachable = |detail: String| SyncError::Unreachable {
            url: self.url.clone(),
            detail,
        };
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| unreachable(crate::tr!("net-no-connection", seconds = CONNECT_TIMEOUT.as_secs())))?
        .map_err(|e| classify(&self.url, &e))?;
        let _ = tcp.set_nodelay(true);
        let tls = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            tokio_rustls::TlsConnector::from(self.tls.clone()).connect(self.server_name.clone(), tcp),
        )
        .await
        .map_err(|_| unreachable(crate::tr!("net-no-handshake", seconds = HANDSHAKE_TIMEOUT.as_secs())))?
        .map_err(|e| classify(&self.url, &e))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| classify(&self.url, &e))?;
        tokio::spawn(conn);
        let mut session = Session {
            sender,
            url: self.url.clone(),
            authority: format!("{}:{}", self.host, self.port),
            key_id: self.key_id.clone(),
        };
        let health = format!("{}{}", self.prefix, api::HEALTH_PATH);
        let reply = session.request(hyper::Method::GET, &health, Bytes::new(), None).await?;
        if reply.status != 200 {
            return Err(unreachable(crate::tr!("net-health", status = reply.status)));
        }
        Ok(session)
    }
}

/// One kept-alive connection to the provider.
pub struct Session {
    sender: SendRequest<Full<Bytes>>,
    url: String,
    authority: String,
    key_id: String,
}

impl Session {
    /// Sends a signed request and reads the whole answer. `Unreachable` means the request
    /// may or may not have reached the provider.
    pub async fn send(&mut self, r: &SignedRequest) -> Result<Reply, SyncError> {
        self.request(r.method.clone(), &r.path, r.body.clone(), Some(&r.signature))
            .await
    }

    async fn request(
        &mut self,
        method: hyper::Method,
        path: &str,
        body: Bytes,
        sig: Option<&Signature>,
    ) -> Result<Reply, SyncError> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("posagent/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(s) = sig {
            req = req
                .header(api::HEADER_KEY_ID, &self.key_id)
                .header(api::HEADER_TIMESTAMP, s.timestamp.to_string())
                .header(api::HEADER_NONCE, &s.nonce)
                .header(api::HEADER_SIGNATURE, &s.mac);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| SyncError::Setup(crate::tr!("net-bad-request", path = path, reason = e.to_string())))?;
        let url = self.url.clone();
        let exchange = async {
            self.sender.ready().await?;
            let resp = self.sender.send_request(req).await?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Read as it arrives, never more than MAX_RESPONSE: a huge answer is no answer.
            let body = http_body_util::Limited::new(resp.into_body(), api::MAX_RESPONSE)
                .collect()
                .await
                .map_err(Exchange::Body)?
                .to_bytes();
            Ok::<_, Exchange>(Reply {
                status,
                retry_after,
                body,
            })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(Exchange::Http(e))) => Err(classify(&url, &e)),
            Ok(Err(Exchange::Body(e))) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                Err(SyncError::Unreachable {
                    url,
                    detail: crate::tr!("net-answer-too-long", max = api::MAX_RESPONSE),
                })
            }
            Ok(Err(Exchange::Body(e))) => Err(classify(&url, e.as_ref())),
            Err(_) => Err(SyncError::Unreachable {
                url,
                detail: crate::tr!("net-no-answer", seconds = REQUEST_TIMEOUT.as_secs()),
            }),
        }
    }
}
