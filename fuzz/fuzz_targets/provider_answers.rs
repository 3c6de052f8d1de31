//! Any bytes as the provider's answers: a batch's results (whatever the status), a code
//! request's and a code check's answers, the key statements and the orders pulled. Reading
//! them reports errors, never panics; and an answer never marks accepted a submission the
//! provider did not accept with a receipt, nor one that was not sent.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use posagent::signed::SignedOrder;
use posagent::store::outbox::{Claimed, Outcome, OutboxState, Submission};
use posagent::sync::api::{BatchAnswer, CodeConfirmed, CodeRefused, CodeSent, ErrorBody, Status};
use posagent::sync::client::Reply;
use posagent::sync::drain::judge;

fn claimed(key: &str) -> Claimed {
    Claimed {
        submission: Submission {
            id: format!("id-{key}"),
            idempotency_key: key.to_string(),
            job_id: "J".into(),
            order_id: "O".into(),
            kind: "unbind".into(),
            payload: serde_json::Value::Null,
            state: OutboxState::Sending,
            attempts: 1,
            next_attempt_at: "2026-01-01T00:00:00Z".into(),
            receipt: None,
            code: None,
            reason: None,
            created_at: "2026-01-01T00:00:00Z".into(),
        },
        sealed: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let sent = [claimed("job-a"), claimed("job-b"), claimed("job-c")];
    let status = data.first().map_or(200, |b| [200, 200, 400, 401, 429, 503][usize::from(*b) % 6]);
    let reply = Reply {
        status,
        retry_after: None,
        body: bytes::Bytes::copy_from_slice(data),
    };
    if let Ok(outcomes) = judge(&sent, Duration::from_millis(10), &reply) {
        assert_eq!(outcomes.len(), sent.len(), "one outcome per submission sent");
        let parsed = serde_json::from_slice::<BatchAnswer>(data).ok();
        for (c, o) in sent.iter().zip(&outcomes) {
            if let Outcome::Accepted { receipt } = o {
                assert_eq!(status, 200);
                assert!(!receipt.trim().is_empty());
                let accepted = parsed.as_ref().is_some_and(|a| {
                    a.results.iter().any(|r| {
                        r.idempotency_key == c.submission.idempotency_key && r.status == Status::Accepted
                    })
                });
                assert!(accepted, "{} marked accepted without the provider's word", c.submission.idempotency_key);
            }
        }
    }
    let _ = serde_json::from_slice::<ErrorBody>(data);
    let _ = serde_json::from_slice::<CodeSent>(data);
    let _ = serde_json::from_slice::<CodeConfirmed>(data);
    let _ = serde_json::from_slice::<CodeRefused>(data);
    if let Ok(orders) = serde_json::from_slice::<Vec<SignedOrder>>(data) {
        for o in &orders {
            let _ = o.shown();
            let _ = o.id();
        }
    }
    if let Ok(statements) = serde_json::from_slice::<Vec<String>>(data) {
        for s in statements {
            if let Ok(raw) = hex::decode(s) {
                let _ = posagent::authority::Statement::parse(&raw);
            }
        }
    }
});
