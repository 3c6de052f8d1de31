//! The sync API on the wire, shared by the agent's client and the simulated provider.
//! docs/sync-api.md (and docs/sync-api.yaml) describe it for a provider to implement.

use serde::{Deserialize, Serialize};

/// Unsigned liveness probe; the agent's first request on every connection.
pub const HEALTH_PATH: &str = "/v1/health";
/// Signed batch delivery.
pub const BATCH_PATH: &str = "/v1/submissions/batch";
/// Signed: the work orders issued to a technician (`?technician=NAME`).
pub const ORDERS_PATH: &str = "/v1/orders";
/// Signed: the key statements of the provider's roots (docs/protocol.md §11), which
/// delegate the keys its orders and authorisations are signed with.
pub const KEYS_PATH: &str = "/v1/keys";
/// Signed: asks the provider to send a one-time code to a phone.
pub const PHONE_VERIFICATIONS_PATH: &str = "/v1/phone-verifications";

/// Signed: checks the code a verification sent (`{id}` is the verification's id).
pub fn confirm_path(id: &str) -> String {
    format!("{PHONE_VERIFICATIONS_PATH}/{}/confirm", percent_encode(id))
}

/// Percent-encodes a query value: every byte outside `A–Z a–z 0–9 - . _ ~`.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Undoes [`percent_encode`]; `None` for a malformed escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = (bytes.next()? as char).to_digit(16)?;
            let lo = (bytes.next()? as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}
/// Most submissions a provider must accept in one batch.
pub const MAX_BATCH: usize = 500;
/// Largest request body a provider must accept.
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// Largest answer the agent reads; a longer one is cut off and treated as no answer.
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;
/// Longest receipt, rejection code and reason the agent stores (characters; longer ones
/// are cut, marked with `…`).
pub const MAX_RECEIPT: usize = 256;
pub const MAX_CODE: usize = 64;
pub const MAX_REASON: usize = 1024;

/// Which agent key signed the request (see [`super::sign::key_id`]).
pub const HEADER_KEY_ID: &str = "x-posagent-key-id";
pub const HEADER_TIMESTAMP: &str = "x-posagent-timestamp";
pub const HEADER_NONCE: &str = "x-posagent-nonce";
pub const HEADER_SIGNATURE: &str = "x-posagent-signature";

/// The operations a submission can report.
pub const KINDS: [&str; 6] = [
    "rebind-card",
    "rebind-account",
    "rebind-phone",
    "unbind",
    "migrate",
    "restore",
];

/// One submission as delivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    /// The provider applies each key once and answers repeats with its first answer.
    pub idempotency_key: String,
    pub kind: String,
    pub order_id: String,
    pub job_id: String,
    pub created_at: String,
    /// Masked facts: merchant, terminal(s), binding before and after, verification.
    pub payload: serde_json::Value,
    /// Full numbers the provider needs to act on (only ever sent over TLS).
    pub sensitive: serde_json::Value,
}

/// A delivery request.
#[derive(Debug, Serialize, Deserialize)]
pub struct Batch {
    pub submissions: Vec<Item>,
}

/// What the provider decided about one submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Accepted,
    Rejected,
}

/// The provider's answer for one submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    pub idempotency_key: String,
    pub status: Status,
    /// Present when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// Machine-readable reason when rejected (`cooldown`, `verification`, `schema`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What a person should read when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer to a batch: one result per submission, in any order.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchAnswer {
    pub results: Vec<ItemResult>,
}

/// The body of every non-200 answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Why a one-time code is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodePurpose {
    /// The merchant proves they hold the new number of a phone change.
    PhoneChange,
    /// The merchant confirms a new settlement card from the phone bound now.
    CardChange,
}

/// `POST /v1/phone-verifications`: send a code to `phone`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRequest {
    /// The full mobile number (11 digits).
    pub phone: String,
    pub purpose: CodePurpose,
    pub order_id: String,
    pub job_id: String,
    pub merchant_mid: String,
    pub terminal: String,
}

/// The answer (201): the code is on its way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeSent {
    /// The verification's id, for the confirmation.
    pub id: String,
    /// When the code stops being accepted (RFC 3339).
    pub expires_at: String,
    /// How many codes may be tried.
    pub attempts: u32,
}

/// `POST /v1/phone-verifications/{id}/confirm`: the code the merchant received.
#[derive(Serialize, Deserialize)]
pub struct CodeCheck {
    pub code: String,
}

/// The answer (200): the code was right.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeConfirmed {
    /// The verification's id.
    pub id: String,
    /// What the agent reports in the job's submission as proof.
    pub confirmation_id: String,
    pub confirmed_at: String,
}

/// The body of a refused confirmation (`wrong_code` 422, `expired` 410,
/// `attempts_exhausted` 429, `not_found` 404).
#[derive(Debug, Serialize, Deserialize)]
pub struct CodeRefused {
    pub code: String,
    pub message: String,
    /// With `wrong_code`: how many tries are left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
}
