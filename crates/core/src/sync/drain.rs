//! The delivery loop: claim due submissions, send them in signed batches over one kept-alive
//! connection, record each answer. Nothing is claimed before the provider has answered its
//! health probe on a trusted connection, so "provider down" costs no attempt. Every answer
//! is recorded in one transaction; a kill at any point leaves submissions `sending`, which
//! the next run puts back (the provider applies each idempotency key once).

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::api::{self, Batch, BatchAnswer, ErrorBody, Item, Status};
use super::backoff;
use super::client::{Client, Reply, Session, SyncError};
use crate::seal::LocalKeys;
use crate::store::outbox::{Claimed, Outcome};
use crate::store::{Store, now, timestamp};

/// Submissions per request.
pub const DEFAULT_BATCH: usize = 100;

/// A delivery setting of `[provider]` outside what it may be.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::tr!("config-range", file = .file.display().to_string(), field = *.field, min = *.min, max = *.max))]
pub struct OutOfRange {
    pub file: std::path::PathBuf,
    pub field: &'static str,
    pub min: u64,
    pub max: u64,
}

/// Batch size and first-retry ceiling as `[provider]` in `file` sets them (else the
/// defaults), checked against what a delivery can do.
pub fn delivery_settings(
    p: &crate::config::ProviderConfig,
    file: &std::path::Path,
) -> Result<(usize, Duration), OutOfRange> {
    let out_of_range = |field, min, max| OutOfRange {
        file: file.to_path_buf(),
        field,
        min,
        max,
    };
    let batch = p.batch_size.unwrap_or(DEFAULT_BATCH);
    if batch == 0 || batch > api::MAX_BATCH {
        return Err(out_of_range("provider.batch_size", 1, api::MAX_BATCH as u64));
    }
    let retry_base = match p.retry_base_ms {
        None => backoff::BASE_DELAY,
        Some(ms @ 10..=600_000) => Duration::from_millis(ms),
        Some(_) => return Err(out_of_range("provider.retry_base_ms", 10, 600_000)),
    };
    Ok((batch, retry_base))
}

/// How a drain behaves.
#[derive(Debug, Clone)]
pub struct DrainOptions {
    /// Submissions per request (at most [`api::MAX_BATCH`]).
    pub batch_size: usize,
    /// Wait for retries that fall due within this long before returning.
    pub max_wait: Duration,
    /// The first retry's back-off ceiling (see [`backoff::delay`]).
    pub retry_base: Duration,
}

/// An observer that wants no report as a drain goes (its tally says what was done).
pub struct Quiet;

impl SyncObserver for Quiet {
    fn event(&mut self, _e: SyncEvent<'_>) {}
}

/// What a drain has done so far.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    pub accepted: u64,
    pub rejected: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Submissions whose retry budget ran out.
    pub dead: u64,
    /// Requests sent.
    pub batches: u64,
}

/// What a drain reports as it goes.
#[derive(Debug)]
pub enum SyncEvent<'a> {
    /// A trusted connection to the provider is up.
    Connected { url: &'a str },
    /// A batch was answered; the running tally.
    Delivered { tally: &'a Tally },
    /// Waiting for retries due at `until`.
    Waiting { until: &'a str },
    /// The provider could not be reached (watch mode keeps trying).
    Unreachable { error: &'a SyncError },
}

/// Receives a drain's events (the CLI draws them).
pub trait SyncObserver {
    fn event(&mut self, e: SyncEvent<'_>);
}

/// One delivery run over the outbox.
pub struct Drain<'a> {
    store: &'a mut Store,
    keys: &'a LocalKeys,
    client: &'a Client,
    opts: DrainOptions,
    stop: watch::Receiver<bool>,
    session: Option<Session>,
    /// A `Retry-After` from the provider holds back every request, not only the batch it
    /// answered: nothing is sent before this instant.
    hold_until: Option<std::time::Instant>,
    pub tally: Tally,
}

impl<'a> Drain<'a> {
    /// Prepares a drain; first puts back what a killed run left `sending`. Setting `stop`
    /// to true ends the drain after the batch in flight.
    pub fn new(
        store: &'a mut Store,
        keys: &'a LocalKeys,
        client: &'a Client,
        opts: DrainOptions,
        stop: watch::Receiver<bool>,
    ) -> Result<Drain<'a>, SyncError> {
        store.recover_sending()?;
        Ok(Drain {
            store,
            keys,
            client,
            opts,
            stop,
            session: None,
            hold_until: None,
            tally: Tally::default(),
        })
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps for `d` unless asked to stop first; returns whether to stop.
    async fn sleep_or_stop(&mut self, d: Duration) -> bool {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
        self.stopping()
    }

    /// Delivers everything due, waiting for retries due within `max_wait`; returns when
    /// nothing more is due soon, when asked to stop, or with the error that stopped it.
    pub async fn run(&mut self, obs: &mut dyn SyncObserver) -> Result<(), SyncError> {
        let result = self.rounds(obs).await;
        // Do not keep an idle connection: the provider may close it at any time.
        self.session = None;
        result
    }

    async fn rounds(&mut self, obs: &mut dyn SyncObserver) -> Result<(), SyncError> {
        loop {
            if self.stopping() {
                return Ok(());
            }
            let at = now();
            if !self.store.has_due(&at)? {
                let Some(next) = self.store.next_attempt_at()? else {
                    return Ok(());
                };
                let wait = until(&next);
                if wait > self.opts.max_wait {
                    return Ok(());
                }
                obs.event(SyncEvent::Waiting { until: &next });
                if self.sleep_or_stop(wait).await {
                    return Ok(());
                }
                continue;
            }
            if let Some(wait) = self
                .hold_until
                .and_then(|t| t.checked_duration_since(std::time::Instant::now()))
            {
                if wait > self.opts.max_wait {
                    return Ok(());
                }
                obs.event(SyncEvent::Waiting {
                    until: &timestamp(chrono::Utc::now() + wait),
                });
                if self.sleep_or_stop(wait).await {
                    return Ok(());
                }
                continue;
            }
            if self.session.is_none() {
                self.session = Some(self.client.connect().await?);
                obs.event(SyncEvent::Connected { url: self.client.url() });
            }
            let claimed = self
                .store
                .claim_due(&at, self.opts.batch_size.clamp(1, api::MAX_BATCH))?;
            if !claimed.is_empty() {
                self.deliver(claimed).await?;
                self.tally.batches += 1;
                obs.event(SyncEvent::Delivered { tally: &self.tally });
            }
        }
    }

    /// Keeps delivering until asked to stop: whenever something is due and the provider
    /// answers, checking every `interval`.
    pub async fn watch(&mut self, interval: Duration, obs: &mut dyn SyncObserver) -> Result<(), SyncError> {
        loop {
            match self.run(obs).await {
                Ok(()) => {}
                Err(e @ SyncError::Unreachable { .. }) => obs.event(SyncEvent::Unreachable { error: &e }),
                Err(e) => return Err(e),
            }
            if self.stopping() || self.sleep_or_stop(interval).await {
                return Ok(());
            }
        }
    }

    async fn deliver(&mut self, claimed: Vec<Claimed>) -> Result<(), SyncError> {
        let ids: Vec<String> = claimed.iter().map(|c| c.submission.id.clone()).collect();
        let request = match self.request(&claimed) {
            Ok(r) => r,
            Err(e) => {
                self.store.release(&ids)?;
                return Err(e);
            }
        };
        let session = self.session.as_mut().expect("connected before claiming");
        let outcomes = match session.send(&request).await {
            Ok(reply) => {
                self.hold_until = reply.retry_after.map(|d| std::time::Instant::now() + d);
                match judge(&claimed, self.opts.retry_base, &reply) {
                    Ok(outcomes) => outcomes,
                    Err(detail) => {
                        self.store.release(&ids)?;
                        return Err(SyncError::Refused {
                            url: self.client.url().to_string(),
                            detail,
                        });
                    }
                }
            }
            Err(SyncError::Unreachable { detail, .. }) => {
                // The provider may have applied the batch; the idempotency keys make the
                // next attempt safe. This connection is done for.
                self.session = None;
                retry_all(
                    &claimed,
                    self.opts.retry_base,
                    &crate::tr!("drain-interrupted", detail = detail.as_str()),
                    None,
                )
            }
            Err(e) => {
                self.store.release(&ids)?;
                return Err(e);
            }
        };
        tracing::info!(submissions = ids.len(), "batch answered");
        let pairs: Vec<(String, Outcome)> = ids.into_iter().zip(outcomes).collect();
        for state in self.store.record_outcomes(&pairs)? {
            match state.as_str() {
                "accepted" => self.tally.accepted += 1,
                "rejected" => self.tally.rejected += 1,
                "dead" => self.tally.dead += 1,
                _ => self.tally.retried += 1,
            }
        }
        Ok(())
    }

    fn request(&self, claimed: &[Claimed]) -> Result<super::client::SignedRequest, SyncError> {
        let submissions = claimed
            .iter()
            .map(|c| item(self.keys, c))
            .collect::<Result<Vec<_>, _>>()?;
        let body = serde_json::to_vec(&Batch { submissions }).map_err(|e| SyncError::Setup(e.to_string()))?;
        Ok(self.client.sign(api::BATCH_PATH, body))
    }
}

/// A claimed submission as sent: its sealed fields opened.
pub fn item(keys: &LocalKeys, c: &Claimed) -> Result<Item, SyncError> {
    let plain = keys.open(&c.sealed)?;
    let sensitive = serde_json::from_slice(&plain).map_err(|e| {
        SyncError::Setup(format!(
            "submission {}: its sealed fields are not JSON ({e})",
            c.submission.id
        ))
    })?;
    let s = &c.submission;
    Ok(Item {
        id: s.id.clone(),
        idempotency_key: s.idempotency_key.clone(),
        kind: s.kind.clone(),
        order_id: s.order_id.clone(),
        job_id: s.job_id.clone(),
        created_at: s.created_at.clone(),
        payload: s.payload.clone(),
        sensitive,
    })
}

/// How long until `at` (a stored timestamp); zero if past or unreadable.
fn until(at: &str) -> Duration {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .and_then(|t| (t.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok())
        .unwrap_or(Duration::ZERO)
}

/// Each of `claimed` tried again later, or given up once its attempts are spent (the
/// drain, not the store, decides when a submission is dead).
fn retry_all(claimed: &[Claimed], base: Duration, reason: &str, retry_after: Option<Duration>) -> Vec<Outcome> {
    let mut rng = rand::rng();
    claimed
        .iter()
        .map(|c| {
            if c.submission.attempts >= backoff::MAX_ATTEMPTS {
                return Outcome::GiveUp {
                    reason: reason.to_string(),
                };
            }
            let wait = backoff::delay(c.submission.attempts, base, retry_after, &mut rng);
            let at = chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
            Outcome::Retry {
                reason: reason.to_string(),
                next_attempt_at: timestamp(at),
            }
        })
        .collect()
}

/// At most `max` characters of a provider's text, marked with `…` when cut.
fn capped(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// Turns the provider's answer into one outcome per submission, or, when the provider
/// refused the agent itself (401/403), the reason to stop.
pub fn judge(claimed: &[Claimed], base: Duration, reply: &Reply) -> Result<Vec<Outcome>, String> {
    let message = || {
        serde_json::from_slice::<ErrorBody>(&reply.body)
            .map(|e| format!("{} ({})", e.message, e.code))
            .unwrap_or_else(|_| String::from_utf8_lossy(&reply.body).chars().take(200).collect())
    };
    match reply.status {
        200 => {
            let Ok(answer) = serde_json::from_slice::<BatchAnswer>(&reply.body) else {
                return Ok(retry_all(claimed, base, &crate::tr!("drain-unreadable"), None));
            };
            let mut by_key: HashMap<String, api::ItemResult> = answer
                .results
                .into_iter()
                .map(|r| (r.idempotency_key.clone(), r))
                .collect();
            Ok(claimed
                .iter()
                .map(|c| match by_key.remove(&c.submission.idempotency_key) {
                    // An acceptance must carry the provider's receipt: one without is a
                    // malformed answer, tried again rather than recorded as done.
                    Some(r) if r.status == Status::Accepted => match r.receipt.filter(|x| !x.trim().is_empty()) {
                        Some(receipt) => Outcome::Accepted {
                            receipt: capped(&receipt, api::MAX_RECEIPT),
                        },
                        None => {
                            retry_all(std::slice::from_ref(c), base, &crate::tr!("drain-no-receipt"), None).remove(0)
                        }
                    },
                    Some(r) => Outcome::Rejected {
                        code: r.code.map(|x| capped(&x, api::MAX_CODE)),
                        reason: capped(
                            r.reason.as_deref().unwrap_or(&crate::tr!("drain-no-reason")),
                            api::MAX_REASON,
                        ),
                    },
                    None => retry_all(std::slice::from_ref(c), base, &crate::tr!("drain-no-answer"), None).remove(0),
                })
                .collect())
        }
        401 | 403 => Err(format!("HTTP {}: {}", reply.status, message())),
        408 | 425 | 429 | 500..=599 => Ok(retry_all(
            claimed,
            base,
            &format!("HTTP {}: {}", reply.status, message()),
            reply.retry_after,
        )),
        400..=499 => Ok(claimed
            .iter()
            .map(|_| Outcome::Rejected {
                code: Some(format!("http_{}", reply.status)),
                reason: capped(&message(), api::MAX_REASON),
            })
            .collect()),
        other => Ok(retry_all(
            claimed,
            base,
            &crate::tr!("drain-unexpected-http", status = other),
            reply.retry_after,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::Submission;

    #[test]
    fn delivery_settings_default_and_refuse_what_a_delivery_cannot_do() {
        let file = std::path::Path::new("config.toml");
        let mut p = crate::config::ProviderConfig::default();
        assert_eq!(
            delivery_settings(&p, file).unwrap(),
            (DEFAULT_BATCH, backoff::BASE_DELAY)
        );
        p.batch_size = Some(api::MAX_BATCH + 1);
        let e = delivery_settings(&p, file).unwrap_err();
        assert_eq!((e.field, e.max), ("provider.batch_size", api::MAX_BATCH as u64));
        p.batch_size = Some(25);
        p.retry_base_ms = Some(5);
        assert_eq!(delivery_settings(&p, file).unwrap_err().field, "provider.retry_base_ms");
        p.retry_base_ms = Some(50);
        assert_eq!(delivery_settings(&p, file).unwrap(), (25, Duration::from_millis(50)));
    }

    fn claimed(key: &str) -> Claimed {
        Claimed {
            submission: Submission {
                id: format!("id-{key}"),
                idempotency_key: key.to_string(),
                job_id: "J".into(),
                order_id: "O".into(),
                kind: "unbind".into(),
                payload: serde_json::json!({}),
                state: crate::store::outbox::OutboxState::Sending,
                attempts: 1,
                next_attempt_at: now(),
                receipt: None,
                code: None,
                reason: None,
                created_at: now(),
            },
            sealed: Vec::new(),
        }
    }

    fn reply(status: u16, body: serde_json::Value, retry_after: Option<u64>) -> Reply {
        Reply {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: body.to_string().into(),
        }
    }

    const BASE: Duration = Duration::from_millis(100);

    #[test]
    fn each_answer_becomes_the_documented_outcome() {
        let batch = [claimed("a"), claimed("b"), claimed("c")];
        let ok = reply(
            200,
            serde_json::json!({ "results": [
                { "idempotency_key": "b", "status": "rejected", "code": "cooldown", "reason": "too soon" },
                { "idempotency_key": "a", "status": "accepted", "receipt": "R1" },
            ]}),
            None,
        );
        let out = judge(&batch, BASE, &ok).unwrap();
        assert_eq!(out[0], Outcome::Accepted { receipt: "R1".into() });
        assert_eq!(
            out[1],
            Outcome::Rejected {
                code: Some("cooldown".into()),
                reason: "too soon".into()
            }
        );
        assert!(matches!(&out[2], Outcome::Retry { reason, .. } if reason.contains("did not answer")));

        let refused = reply(
            401,
            serde_json::json!({ "code": "replayed", "message": "nonce already used" }),
            None,
        );
        assert!(judge(&batch, BASE, &refused).unwrap_err().contains("replayed"));

        let bad = reply(
            400,
            serde_json::json!({ "code": "schema", "message": "no submissions" }),
            None,
        );
        let out = judge(&batch, BASE, &bad).unwrap();
        assert!(
            out.iter()
                .all(|o| matches!(o, Outcome::Rejected { code, reason } if code.as_deref() == Some("http_400") && reason.contains("no submissions")))
        );

        let garbled = reply(200, serde_json::json!("not an answer"), None);
        assert!(
            judge(&batch, BASE, &garbled)
                .unwrap()
                .iter()
                .all(|o| matches!(o, Outcome::Retry { .. }))
        );
    }

    #[test]
    fn an_acceptance_without_a_receipt_is_retried_and_long_texts_are_capped() {
        let batch = [claimed("a"), claimed("b")];
        let long = "x".repeat(10_000);
        let r = reply(
            200,
            serde_json::json!({ "results": [
                { "idempotency_key": "a", "status": "accepted" },
                { "idempotency_key": "b", "status": "rejected", "code": long, "reason": long },
            ]}),
            None,
        );
        let out = judge(&batch, BASE, &r).unwrap();
        assert!(
            matches!(&out[0], Outcome::Retry { reason, .. } if reason.contains("without a receipt")),
            "{out:?}"
        );
        let Outcome::Rejected { code, reason } = &out[1] else {
            panic!("{out:?}")
        };
        assert_eq!(code.as_deref().map(|c| c.chars().count()), Some(api::MAX_CODE));
        assert_eq!(reason.chars().count(), api::MAX_REASON);
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn busy_answers_retry_no_sooner_than_retry_after() {
        let batch = [claimed("a")];
        for status in [408, 425, 429, 500, 503] {
            let r = reply(status, serde_json::json!({ "code": "x", "message": "later" }), Some(30));
            let out = judge(&batch, BASE, &r).unwrap();
            let Outcome::Retry { next_attempt_at, .. } = &out[0] else {
                panic!("{status}: {out:?}");
            };
            assert!(
                until(next_attempt_at) >= Duration::from_secs(29),
                "{status}: {next_attempt_at}"
            );
        }
    }
}
