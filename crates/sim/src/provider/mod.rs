//! The simulated provider: serves the sync API over TLS (optionally requiring a client
//! certificate), checks signatures, timestamps and schema, applies each idempotency key once
//! in its own SQLite file, enforces provider rules, and injects faults.

pub mod certs;
pub mod faults;
pub mod ledger;
pub mod orders;
pub mod phones;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use serde_json::json;

use crate::sync::api;
use crate::sync::client::{crypto, read_agent_key};
use crate::sync::sign::{self, Signature, Verifier};
use faults::ProviderFaults;
use ledger::{Ledger, Rules};

/// Everything `posagent sim provider` needs.
pub struct ProviderOptions {
    /// Address to listen on, e.g. `127.0.0.1:0`.
    pub listen: String,
    /// Certificates, agent key and ledger.
    pub dir: PathBuf,
    pub faults: ProviderFaults,
    /// Refuse clients without a certificate signed by the directory's CA.
    pub require_client_cert: bool,
    pub card_cooldown_days: u32,
    /// Seed for the fault dice.
    pub seed: u64,
    /// A plan of orders to issue, signed, to the technicians it names.
    pub orders: Option<PathBuf>,
    /// Which key statement it serves (its generation and how long it stands).
    pub keys: orders::KeyOptions,
    /// Where it "sends" one-time codes (default: `sms.jsonl` in `dir`).
    pub sms_log: Option<PathBuf>,
    /// How long a code is accepted.
    pub sms_ttl: std::time::Duration,
}

/// The connection is dropped without an answer (a simulated reset).
#[derive(Debug, thiserror::Error)]
#[error("connection reset (simulated)")]
pub struct Reset;

struct State {
    ledger: Mutex<Ledger>,
    verifier: Mutex<Verifier>,
    key_id: String,
    faults: ProviderFaults,
    rules: Rules,
    rng: Mutex<StdRng>,
    /// Whether a batch was seen yet (for `throttle_first`).
    throttled: std::sync::atomic::AtomicBool,
    /// The orders it issues, signed as they are served.
    orders: Vec<orders::Issued>,
    /// Its roots' statements and order keys.
    keys: orders::Keys,
    phones: phones::Phones,
}

impl State {
    fn roll(&self, rate: f64) -> bool {
        rate > 0.0 && self.rng.lock().unwrap_or_else(|p| p.into_inner()).random_bool(rate)
    }
}

fn tls_config(dir: &Path, require_client_cert: bool) -> Result<Arc<ServerConfig>, String> {
    let read = |name: &str| {
        CertificateDer::pem_file_iter(dir.join(name))
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    let chain = read(certs::SERVER_CERT)?;
    let key = PrivateKeyDer::from_pem_file(dir.join(certs::SERVER_KEY))
        .map_err(|e| format!("{}: {e}", dir.join(certs::SERVER_KEY).display()))?;
    let provider = crypto();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        for c in read(certs::CA_CERT)? {
            roots.add(c).map_err(|e| e.to_string())?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| e.to_string())?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

/// Runs the provider until the process ends; `announce` receives the start-up line.
pub async fn serve(o: ProviderOptions, announce: impl FnOnce(serde_json::Value)) -> Result<(), String> {
    certs::ensure(&o.dir)?;
    let tls = tokio_rustls::TlsAcceptor::from(tls_config(&o.dir, o.require_client_cert)?);
    let key = read_agent_key(&o.dir.join(certs::AGENT_KEY)).map_err(|e| e.to_string())?;
    let profiles = crate::profile::ProfileSet::builtin().map_err(|e| e.to_string())?;
    let keys = orders::Keys::ensure(&o.dir, &profiles, &o.keys)?;
    let issued = match &o.orders {
        Some(plan) => orders::plan(plan, &profiles)?,
        None => Vec::new(),
    };
    let sms_log = o.sms_log.clone().unwrap_or_else(|| o.dir.join(phones::SMS_LOG));
    let state = Arc::new(State {
        phones: phones::Phones::new(sms_log.clone(), o.sms_ttl),
        ledger: Mutex::new(Ledger::open(&o.dir)?),
        verifier: Mutex::new(Verifier::new(&key)),
        key_id: sign::key_id(&key),
        rules: Rules {
            card_cooldown_days: o.card_cooldown_days,
            reject_rate: o.faults.reject,
            orders: issued.iter().map(|i| (i.id.clone(), i.facts())).collect(),
        },
        faults: o.faults,
        rng: Mutex::new(StdRng::seed_from_u64(o.seed)),
        throttled: std::sync::atomic::AtomicBool::new(false),
        orders: issued,
        keys,
    });
    let listener = tokio::net::TcpListener::bind(&o.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", o.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let path = |name: &str| o.dir.join(name).display().to_string();
    announce(json!({
        "url": format!("https://{addr}"),
        "ca": path(certs::CA_CERT),
        "client_cert": path(certs::CLIENT_CERT),
        "client_key": path(certs::CLIENT_KEY),
        "agent_key": path(certs::AGENT_KEY),
        "ledger": path(ledger::LEDGER_FILE),
        "sms_log": sms_log.display().to_string(),
        "require_client_cert": o.require_client_cert,
    }));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            if let Some(d) = state.faults.slow_handshake {
                tokio::time::sleep(d).await;
            }
            let Ok(stream) = tls.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response<Full<Bytes>> {
    answer(status, json!({ "code": code, "message": message.to_string() }))
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Reset> {
    match (req.method().as_str(), req.uri().path()) {
        ("GET", api::HEALTH_PATH) => Ok(answer(StatusCode::OK, json!({ "status": "ok" }))),
        ("POST", api::BATCH_PATH) => batch(state, req).await,
        ("GET", api::ORDERS_PATH) => Ok(list_orders(&state, req)),
        ("GET", api::KEYS_PATH) => Ok(list_keys(&state, req)),
        ("POST", api::PHONE_VERIFICATIONS_PATH) => Ok(phone_verification(&state, req).await),
        ("POST", path) if path.starts_with(api::PHONE_VERIFICATIONS_PATH) && path.ends_with("/confirm") => {
            Ok(phone_verification(&state, req).await)
        }
        (_, path) => Ok(error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such endpoint: {path}"),
        )),
    }
}

fn signature(req: &hyper::http::request::Parts) -> Option<(String, Signature)> {
    let h = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    Some((
        h(api::HEADER_KEY_ID)?,
        Signature {
            timestamp: h(api::HEADER_TIMESTAMP)?.parse().ok()?,
            nonce: h(api::HEADER_NONCE)?,
            mac: h(api::HEADER_SIGNATURE)?,
        },
    ))
}

/// Checks a request's signature headers; the refusal to send back when they fail.
fn refusal(state: &State, parts: &hyper::http::request::Parts, body: &[u8]) -> Option<Response<Full<Bytes>>> {
    let Some((key_id, sig)) = signature(parts) else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "unsigned",
            "the request carries no valid signature headers",
        ));
    };
    if key_id != state.key_id {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "unknown_key",
            format!("agent key {key_id} is not registered"),
        ));
    }
    let path = parts.uri.path_and_query().map_or(parts.uri.path(), |p| p.as_str());
    let verified = state.verifier.lock().unwrap_or_else(|p| p.into_inner()).verify(
        parts.method.as_str(),
        path,
        body,
        &sig,
        chrono::Utc::now().timestamp(),
    );
    verified.err().map(|e| {
        let code = match e {
            sign::SignatureError::BadSignature => "bad_signature",
            sign::SignatureError::Stale => "stale",
            sign::SignatureError::Replayed => "replayed",
            sign::SignatureError::Malformed => "malformed_signature",
        };
        error(StatusCode::UNAUTHORIZED, code, e)
    })
}

/// `GET /v1/orders?technician=NAME`: the orders issued to NAME and not yet executed.
fn list_orders(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, _) = req.into_parts();
    if let Some(refused) = refusal(state, &parts, b"") {
        return refused;
    }
    let Some(technician) = parts
        .uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("technician=")))
        .and_then(api::percent_decode)
    else {
        return error(StatusCode::BAD_REQUEST, "schema", "technician=NAME is required");
    };
    let ledger = state.ledger.lock().unwrap_or_else(|p| p.into_inner());
    let executed = ledger.executed_orders().unwrap_or_default();
    let changes = |serial: &str| ledger.changes_of(serial).unwrap_or(0);
    let mut orders = Vec::new();
    for i in state
        .orders
        .iter()
        .filter(|i| i.technician == technician && !executed.contains(&i.id))
    {
        match i.signed(&state.keys, &changes) {
            Ok(o) => orders.push(o),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
        }
    }
    answer(StatusCode::OK, json!({ "orders": orders }))
}

/// `GET /v1/keys`: the key statement of each root the provider signs under.
fn list_keys(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, _) = req.into_parts();
    if let Some(refused) = refusal(state, &parts, b"") {
        return refused;
    }
    answer(StatusCode::OK, json!({ "statements": state.keys.statements() }))
}

/// `POST /v1/phone-verifications` and `POST /v1/phone-verifications/{id}/confirm`.
async fn phone_verification(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, 64 * 1024).collect().await.map(|b| b.to_bytes()) else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "bodies are limited to 64 KiB",
        );
    };
    if let Some(refused) = refusal(state, &parts, &body) {
        return refused;
    }
    let id = parts
        .uri
        .path()
        .strip_prefix(api::PHONE_VERIFICATIONS_PATH)
        .and_then(|p| p.strip_prefix('/'))
        .and_then(|p| p.strip_suffix("/confirm"))
        .and_then(api::percent_decode);
    let result = match id {
        None => {
            let sent = state
                .phones
                .send(&body, &mut *state.rng.lock().unwrap_or_else(|p| p.into_inner()));
            if let (Ok(_), Some(d)) = (&sent, state.faults.delay) {
                tokio::time::sleep(d).await;
            }
            sent.map(|sent| answer(StatusCode::CREATED, json!(sent)))
        }
        Some(id) => state
            .phones
            .confirm(&id, &body, &state.ledger)
            .map(|done| answer(StatusCode::OK, json!(done))),
    };
    result.unwrap_or_else(|(status, body)| answer(status, json!(body)))
}

async fn batch(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Reset> {
    if let Some(d) = state.faults.delay {
        tokio::time::sleep(d).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, api::MAX_BODY).collect().await.map(|b| b.to_bytes()) else {
        return Ok(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("bodies are limited to {} bytes", api::MAX_BODY),
        ));
    };
    if let Some(d) = state.faults.throttle_first
        && !state.throttled.swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, "throttled", "slow down (simulated)");
        if let Ok(v) = hyper::header::HeaderValue::from_str(&d.as_secs().to_string()) {
            r.headers_mut().insert(hyper::header::RETRY_AFTER, v);
        }
        return Ok(r);
    }
    if state.roll(state.faults.unavailable) {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "try again shortly (simulated)",
        );
        r.headers_mut()
            .insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from_static("1"));
        return Ok(r);
    }
    if let Some(refused) = refusal(&state, &parts, &body) {
        return Ok(refused);
    }
    let doc: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return Ok(error(
                StatusCode::BAD_REQUEST,
                "schema",
                format!("body is not JSON: {e}"),
            ));
        }
    };
    let Some(items) = doc["submissions"].as_array() else {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            "schema",
            "body must be {\"submissions\": [...]}",
        ));
    };
    if items.len() > api::MAX_BATCH {
        return Ok(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("at most {} submissions per batch", api::MAX_BATCH),
        ));
    }
    if state.roll(state.faults.reset_before) {
        return Err(Reset);
    }
    let results = {
        let mut rng = state.rng.lock().unwrap_or_else(|p| p.into_inner());
        state
            .ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .apply(items, &state.rules, &mut *rng)
    };
    let results = match results {
        Ok(r) => r,
        Err(e) => return Ok(error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e)),
    };
    if state.roll(state.faults.reset_after) {
        return Err(Reset);
    }
    if state.roll(state.faults.huge_answer) {
        let padding = "x".repeat(5 << 20);
        return Ok(answer(
            StatusCode::OK,
            json!({ "results": results, "padding": padding }),
        ));
    }
    let mut results = results;
    if state.roll(state.faults.no_receipt) {
        for r in &mut results {
            r.receipt = None;
        }
    }
    Ok(answer(StatusCode::OK, json!({ "results": results })))
}

/// What the provider in `dir` has applied.
pub fn report(dir: &Path) -> Result<ledger::Report, String> {
    if !dir.join(ledger::LEDGER_FILE).exists() {
        return Err(format!(
            "no provider ledger in {}; start `posagent sim provider --tls-dir {}` first",
            dir.display(),
            dir.display()
        ));
    }
    Ledger::open(dir)?.report()
}
