//! The simulated provider's phone verification: it "sends" a six-digit code by appending
//! one JSON line per message to its SMS log (`{"phone", "code", "expires_at", "purpose"}`),
//! accepts it until it expires and for a few attempts, and records each confirmation in its
//! ledger, so that a submission can only cite a confirmation it really issued.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use hyper::StatusCode;
use rand::Rng;

use super::ledger::{Confirmation, Ledger};
use crate::sync::api::{CodeConfirmed, CodeRefused, CodeRequest, CodeSent};

/// Codes a verification accepts before it is spent.
pub const ATTEMPTS: u32 = 3;
/// How long a code is accepted unless `--sms-ttl` says.
pub const DEFAULT_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// The SMS log inside the provider's directory unless `--sms-log` says.
pub const SMS_LOG: &str = "sms.jsonl";

/// A refusal: HTTP status and the body.
pub type Refusal = (StatusCode, CodeRefused);

fn refusal(status: StatusCode, code: &str, message: impl Into<String>, attempts_left: Option<u32>) -> Refusal {
    (
        status,
        CodeRefused {
            code: code.into(),
            message: message.into(),
            attempts_left,
        },
    )
}

struct Pending {
    request: CodeRequest,
    code: String,
    expires_at: chrono::DateTime<chrono::Utc>,
    attempts_left: u32,
    confirmed: Option<CodeConfirmed>,
}

/// Codes sent and not yet spent.
pub struct Phones {
    pending: Mutex<HashMap<String, Pending>>,
    /// Codes sent in the limits' window: order, number, when.
    sent: Mutex<Vec<(String, String, chrono::DateTime<chrono::Utc>)>>,
    log: PathBuf,
    ttl: chrono::Duration,
}

fn now_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Phones {
    pub fn new(log: PathBuf, ttl: std::time::Duration) -> Phones {
        Phones {
            pending: Mutex::new(HashMap::new()),
            sent: Mutex::default(),
            log,
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(5)),
        }
    }

    /// `POST /v1/phone-verifications`.
    pub fn send(&self, body: &[u8], rng: &mut impl Rng) -> Result<CodeSent, Refusal> {
        let mut request: CodeRequest = serde_json::from_slice(body)
            .map_err(|e| refusal(StatusCode::BAD_REQUEST, "schema", format!("body: {e}"), None))?;
        let phone = request
            .phone
            .parse::<crate::domain::Phone>()
            .map_err(|e| refusal(StatusCode::BAD_REQUEST, "schema", format!("phone: {e}"), None))?;
        if request.merchant_mid.is_empty() || request.order_id.is_empty() {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                "schema",
                "merchant_mid and order_id are required",
                None,
            ));
        }
        request.phone = phone.as_str().to_string();
        self.within_limits(&request)?;
        let code = format!("{:06}", rng.random_range(0..1_000_000u32));
        let expires_at = chrono::Utc::now() + self.ttl;
        let line = serde_json::json!({
            "phone": phone.as_str(),
            "code": code,
            "expires_at": now_text(expires_at),
            "purpose": request.purpose,
        });
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|mut f| writeln!(f, "{line}"))
            .map_err(|e| {
                refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    format!("sms log: {e}"),
                    None,
                )
            })?;
        let id = format!("pv-{}", uuid::Uuid::now_v7());
        self.lock().insert(
            id.clone(),
            Pending {
                request,
                code,
                expires_at,
                attempts_left: ATTEMPTS,
                confirmed: None,
            },
        );
        Ok(CodeSent {
            id,
            expires_at: now_text(expires_at),
            attempts: ATTEMPTS,
        })
    }

    /// Takes one code of the limits on codes (the agent's own, docs/sync-api.md "Limits on
    /// codes": per order and per number in any hour), or refuses `429 too_many_codes`.
    fn within_limits(&self, request: &CodeRequest) -> Result<(), Refusal> {
        use crate::store::codes::{PER_NUMBER, PER_ORDER, WINDOW};
        let now = chrono::Utc::now();
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.retain(|(_, _, at)| *at > now - WINDOW);
        let limited = |count: usize, limit: u32, what: String| {
            (count >= limit as usize).then(|| {
                refusal(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_codes",
                    format!("{what} has had {limit} codes in the last hour, the most allowed"),
                    None,
                )
            })
        };
        let for_order = sent.iter().filter(|(o, _, _)| *o == request.order_id).count();
        let for_number = sent.iter().filter(|(_, n, _)| *n == request.phone).count();
        if let Some(r) = limited(for_order, PER_ORDER, format!("order {}", request.order_id))
            .or_else(|| limited(for_number, PER_NUMBER, "the number".into()))
        {
            return Err(r);
        }
        sent.push((request.order_id.clone(), request.phone.clone(), now));
        Ok(())
    }

    /// `POST /v1/phone-verifications/{id}/confirm`.
    pub fn confirm(&self, id: &str, body: &[u8], ledger: &Mutex<Ledger>) -> Result<CodeConfirmed, Refusal> {
        let check: crate::sync::api::CodeCheck = serde_json::from_slice(body)
            .map_err(|e| refusal(StatusCode::BAD_REQUEST, "schema", format!("body: {e}"), None))?;
        let mut pending = self.lock();
        let p = pending.get_mut(id).ok_or_else(|| {
            refusal(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no verification {id}"),
                None,
            )
        })?;
        if let Some(done) = &p.confirmed {
            // The same code again (a repeated request) gets the same confirmation.
            return if check.code == p.code {
                Ok(done.clone())
            } else {
                Err(refusal(
                    StatusCode::CONFLICT,
                    "already_confirmed",
                    "confirmed before",
                    None,
                ))
            };
        }
        if chrono::Utc::now() > p.expires_at {
            return Err(refusal(StatusCode::GONE, "expired", "the code has expired", None));
        }
        if p.attempts_left == 0 {
            return Err(refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "attempts_exhausted",
                "too many wrong codes",
                None,
            ));
        }
        if check.code != p.code {
            p.attempts_left -= 1;
            return Err(refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_code",
                "the code is not the one sent",
                Some(p.attempts_left),
            ));
        }
        let confirmed = CodeConfirmed {
            id: id.to_string(),
            confirmation_id: format!("pvc-{}", uuid::Uuid::now_v7()),
            confirmed_at: now_text(chrono::Utc::now()),
        };
        ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record_confirmation(&Confirmation {
                confirmation_id: confirmed.confirmation_id.clone(),
                verification_id: id.to_string(),
                purpose: p.request.purpose,
                phone: p.request.phone.clone(),
                mid: p.request.merchant_mid.clone(),
                job_id: p.request.job_id.clone(),
                terminal: p.request.terminal.clone(),
                confirmed_at: confirmed.confirmed_at.clone(),
            })
            .map_err(|e| refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", e, None))?;
        p.confirmed = Some(confirmed.clone());
        Ok(confirmed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}
