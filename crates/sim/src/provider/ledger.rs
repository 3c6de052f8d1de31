//! The simulated provider's own SQLite file: one answer per idempotency key, and an
//! append-only log of the binding changes it applied. The log has no uniqueness constraint
//! on purpose, so a test counting its rows per key would see a submission applied twice.

use std::path::Path;

use rand::Rng;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::sync::api::{self, CodePurpose, Item, ItemResult, Status};

/// The provider's file inside its directory.
pub const LEDGER_FILE: &str = "provider.sqlite";

/// Provider rules that depend on configuration.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Days between two settlement-card changes of one merchant.
    pub card_cooldown_days: u32,
    /// Chance per new submission of a (simulated) review refusal.
    pub reject_rate: f64,
    /// The orders this provider issued, by id: what a submission on a signed order must
    /// match.
    pub orders: std::collections::BTreeMap<String, Issued>,
}

/// An order as the provider issued it: to whom, its fields and its checks.
#[derive(Debug, Clone, Default)]
pub struct Issued {
    pub technician: String,
    pub fields: std::collections::BTreeMap<String, String>,
    pub checks: std::collections::BTreeMap<String, String>,
}

/// A one-time code the provider confirmed (the code itself is not kept).
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub confirmation_id: String,
    pub verification_id: String,
    pub purpose: CodePurpose,
    pub phone: String,
    pub mid: String,
    /// The job and the terminal the code was asked for: the only ones it proves.
    pub job_id: String,
    pub terminal: String,
    pub confirmed_at: String,
}

/// The provider's store.
pub struct Ledger {
    conn: Connection,
}

/// One answered submission, as the report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Answered {
    pub idempotency_key: String,
    pub submission_id: String,
    pub kind: String,
    pub mid: String,
    pub status: String,
    pub receipt: Option<String>,
    pub code: Option<String>,
    pub reason: Option<String>,
    /// How often the submission was delivered (repeats answered from the first answer).
    pub deliveries: u64,
    /// Binding changes applied for it: 1 if accepted, 0 if rejected; never more.
    pub applied: u64,
    /// When its first and latest delivery that was judged arrived.
    pub first_at: String,
    pub last_at: String,
}

/// What the provider has received and applied.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub accepted: u64,
    pub rejected: u64,
    pub deliveries: u64,
    pub changes_applied: u64,
    pub submissions: Vec<Answered>,
}

fn sql(e: rusqlite::Error) -> String {
    format!("provider ledger: {e}")
}

impl Ledger {
    /// Opens (creating) the ledger in `dir`.
    pub fn open(dir: &Path) -> Result<Ledger, String> {
        let conn = Connection::open(dir.join(LEDGER_FILE)).map_err(sql)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(sql)?;
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS answers (
                 idempotency_key TEXT PRIMARY KEY,
                 submission_id TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 mid TEXT NOT NULL,
                 content_sha256 TEXT NOT NULL,
                 status TEXT NOT NULL,
                 receipt TEXT,
                 code TEXT,
                 reason TEXT,
                 deliveries INTEGER NOT NULL,
                 first_at TEXT NOT NULL,
                 last_at TEXT NOT NULL,
                 order_id TEXT
             );
             CREATE TABLE IF NOT EXISTS changes (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 idempotency_key TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 mid TEXT NOT NULL,
                 terminal TEXT,
                 applied_at TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS changes_by_mid ON changes (mid, kind, applied_at);
             CREATE INDEX IF NOT EXISTS answers_by_order ON answers (order_id, status);
             CREATE TABLE IF NOT EXISTS reported (
                 idempotency_key TEXT NOT NULL,
                 serial TEXT NOT NULL,
                 PRIMARY KEY (idempotency_key, serial)
             );
             CREATE TABLE IF NOT EXISTS confirmations (
                 confirmation_id TEXT PRIMARY KEY,
                 verification_id TEXT NOT NULL,
                 purpose TEXT NOT NULL,
                 phone TEXT NOT NULL,
                 mid TEXT NOT NULL,
                 job_id TEXT NOT NULL,
                 terminal TEXT NOT NULL,
                 confirmed_at TEXT NOT NULL,
                 used_by TEXT
             );",
        )
        .map_err(sql)?;
        Ok(Ledger { conn })
    }

    /// Applies a batch in one transaction and returns one result per item.
    pub fn apply(
        &mut self,
        items: &[serde_json::Value],
        rules: &Rules,
        rng: &mut impl Rng,
    ) -> Result<Vec<ItemResult>, String> {
        let tx = self.conn.transaction().map_err(sql)?;
        let at = crate::store::now();
        let mut results = Vec::with_capacity(items.len());
        for raw in items {
            results.push(apply_one(&tx, raw, rules, rng, &at).map_err(sql)?);
        }
        tx.commit().map_err(sql)?;
        Ok(results)
    }

    /// Keeps a confirmation, for submissions to cite.
    pub fn record_confirmation(&self, c: &Confirmation) -> Result<(), String> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO confirmations (confirmation_id, verification_id, purpose, phone, mid, job_id, terminal, confirmed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    c.confirmation_id,
                    c.verification_id,
                    purpose_name(c.purpose),
                    c.phone,
                    c.mid,
                    c.job_id,
                    c.terminal,
                    c.confirmed_at
                ],
            )
            .map(|_| ())
            .map_err(sql)
    }

    /// The order ids of accepted submissions: orders carried out.
    pub fn executed_orders(&self) -> Result<Vec<String>, String> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT order_id FROM answers WHERE status = 'accepted' AND order_id IS NOT NULL")
            .map_err(sql)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// How many changes of terminal `serial` were reported (each job that changed it,
    /// once, accepted or not: the terminal made the change either way).
    pub fn changes_of(&self, serial: &str) -> Result<u32, String> {
        self.conn
            .query_row("SELECT COUNT(*) FROM reported WHERE serial = ?1", [serial], |r| {
                r.get(0)
            })
            .map_err(sql)
    }

    /// Everything answered so far.
    pub fn report(&self) -> Result<Report, String> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT a.idempotency_key, a.submission_id, a.kind, a.mid, a.status, a.receipt, a.code, a.reason, a.deliveries,
                        (SELECT COUNT(*) FROM changes c WHERE c.idempotency_key = a.idempotency_key), a.first_at, a.last_at
                 FROM answers a ORDER BY a.first_at, a.idempotency_key",
            )
            .map_err(sql)?;
        let submissions = stmt
            .query_map([], |r| {
                Ok(Answered {
                    idempotency_key: r.get(0)?,
                    submission_id: r.get(1)?,
                    kind: r.get(2)?,
                    mid: r.get(3)?,
                    status: r.get(4)?,
                    receipt: r.get(5)?,
                    code: r.get(6)?,
                    reason: r.get(7)?,
                    deliveries: r.get::<_, i64>(8)? as u64,
                    applied: r.get::<_, i64>(9)? as u64,
                    first_at: r.get(10)?,
                    last_at: r.get(11)?,
                })
            })
            .map_err(sql)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql)?;
        let changes: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM changes", [], |r| r.get(0))
            .map_err(sql)?;
        Ok(Report {
            accepted: submissions.iter().filter(|s| s.status == "accepted").count() as u64,
            rejected: submissions.iter().filter(|s| s.status == "rejected").count() as u64,
            deliveries: submissions.iter().map(|s| s.deliveries).sum(),
            changes_applied: changes as u64,
            submissions,
        })
    }
}

fn rejected(key: &str, code: &str, reason: String) -> ItemResult {
    ItemResult {
        idempotency_key: key.to_string(),
        status: Status::Rejected,
        receipt: None,
        code: Some(code.to_string()),
        reason: Some(reason),
    }
}

/// Checks what a submission must carry; returns the item or the reason it is malformed.
fn well_formed(raw: &serde_json::Value) -> Result<(Item, String), String> {
    let item: Item = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
    if item.idempotency_key.is_empty() || item.idempotency_key.len() > 128 {
        return Err("idempotency_key must be 1 to 128 characters".into());
    }
    if !api::KINDS.contains(&item.kind.as_str()) {
        return Err(format!("kind '{}' is not one of {}", item.kind, api::KINDS.join(", ")));
    }
    let mid = item.payload["merchant"]["mid"]
        .as_str()
        .filter(|m| !m.is_empty())
        .ok_or("payload.merchant.mid is missing")?
        .to_string();
    if !item.sensitive.is_object() {
        return Err("sensitive must be an object".into());
    }
    Ok((item, mid))
}

fn purpose_name(p: CodePurpose) -> &'static str {
    match p {
        CodePurpose::PhoneChange => "phone-change",
        CodePurpose::CardChange => "card-change",
    }
}

/// How a submission says its phone was proven (`payload.phone_proof`): a confirmation
/// this provider issued for that number, merchant, job and terminal and not yet cited by
/// another submission; its own attestation, signed into the order the job ran; or documents
/// seen at a counter. `Err` says what is wrong.
fn phone_proven(
    tx: &Connection,
    item: &Item,
    mid: &str,
    purpose: CodePurpose,
    rules: &Rules,
) -> rusqlite::Result<Result<(), String>> {
    let proof = &item.payload["phone_proof"];
    let text = |k: &str| proof[k].as_str().filter(|s| !s.is_empty());
    match (text("path"), text("confirmation_id"), text("attested_at")) {
        (Some("sms"), Some(id), _) => {
            type Found = (String, String, String, String, String, Option<String>);
            let found: Option<Found> = tx
                .query_row(
                    "SELECT purpose, phone, mid, job_id, terminal, used_by FROM confirmations WHERE confirmation_id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )
                .optional()?;
            let new_phone = item.sensitive["new"]["phone"].as_str();
            let key = item.idempotency_key.as_str();
            Ok(match found {
                None => Err(format!("confirmation {id} was never issued by this provider")),
                Some((p, ..)) if p != purpose_name(purpose) => Err(format!("confirmation {id} was for a {p}")),
                Some((_, phone, ..)) if purpose == CodePurpose::PhoneChange && new_phone != Some(phone.as_str()) => {
                    Err(format!("confirmation {id} was for another number"))
                }
                Some((_, _, m, ..)) if m != mid => Err(format!("confirmation {id} was for another merchant")),
                Some((.., job, _, _)) if job != item.job_id => Err(format!("confirmation {id} was for job {job}")),
                Some((.., terminal, _)) if item.payload["terminal"].as_str() != Some(terminal.as_str()) => {
                    Err(format!("confirmation {id} was for terminal {terminal}"))
                }
                Some((.., Some(used))) if used != key => Err(format!(
                    "confirmation {id} already backs submission {used}; one confirmation backs one change"
                )),
                Some(_) => Ok(()),
            })
        }
        (Some("sms"), None, Some(_)) => {
            let signed = item.payload["order_signed"].as_bool() == Some(true);
            let (at, number) = match purpose {
                CodePurpose::PhoneChange => ("phone_verified_at", "phone_verified_number"),
                CodePurpose::CardChange => ("card_change_confirmed_at", "card_change_confirmed_number"),
            };
            let attested = rules
                .orders
                .get(&item.order_id)
                .is_some_and(|o| o.checks.contains_key(at) && o.checks.contains_key(number));
            Ok(if signed && attested {
                Ok(())
            } else {
                Err(format!(
                    "the submission claims this provider's attestation, but order {} as issued carries none ({at}, {number})",
                    item.order_id
                ))
            })
        }
        (Some("counter"), ..) => {
            let documents = proof["documents"].as_array().is_some_and(|d| !d.is_empty());
            Ok(if documents && text("documents_checked_by").is_some() {
                Ok(())
            } else {
                Err("a counter proof names the documents seen (phone_proof.documents) and who saw them (documents_checked_by)".into())
            })
        }
        _ => Ok(Err(
            "the submission does not say how the phone was proven (payload.phone_proof)".into(),
        )),
    }
}

/// A submission on a signed order matches the order as this provider issued it: the same
/// operation, terminal, replacement, technician and new values. `Err` names what differs.
fn matches_order(item: &Item, rules: &Rules) -> Result<(), String> {
    if item.payload["order_signed"].as_bool() != Some(true) {
        return Ok(());
    }
    let Some(o) = rules.orders.get(&item.order_id) else {
        return Err(format!("order {} was not issued by this provider", item.order_id));
    };
    let field = |k: &str| o.fields.get(k).map(String::as_str);
    let checks = [
        ("kind", Some(item.kind.as_str()), field("operation")),
        (
            "payload.terminal",
            item.payload["terminal"].as_str(),
            field("expect.serial"),
        ),
        (
            "payload.replacement",
            item.payload["replacement"].as_str(),
            field("replacement.serial"),
        ),
        (
            "payload.technician",
            item.payload["technician"].as_str(),
            Some(o.technician.as_str()),
        ),
    ];
    for (name, sent, issued) in checks {
        if sent != issued {
            return Err(format!(
                "{name} is {}, but order {} was issued for {}",
                sent.unwrap_or("null"),
                item.order_id,
                issued.unwrap_or("null")
            ));
        }
    }
    for (name, order_field) in [("card", "new.card"), ("account", "new.account"), ("phone", "new.phone")] {
        if let Some(issued) = field(order_field)
            && item.sensitive["new"][name].as_str() != Some(issued)
        {
            return Err(format!(
                "sensitive.new.{name} is not the {order_field} order {} was issued with",
                item.order_id
            ));
        }
    }
    Ok(())
}

/// The provider's rules for a new submission: `Err((code, reason))` refuses it.
fn judge(
    tx: &Connection,
    item: &Item,
    mid: &str,
    rules: &Rules,
    rng: &mut impl Rng,
) -> rusqlite::Result<Result<(), (&'static str, String)>> {
    if item.payload["verification"]["read_back"].as_str() != Some("match") {
        return Ok(Err((
            "verification",
            "the terminal's read-back did not match the order; redo the job".into(),
        )));
    }
    let purpose = match item.kind.as_str() {
        "rebind-phone" => Some(CodePurpose::PhoneChange),
        "rebind-card" if !item.payload["phone_proof"].is_null() => Some(CodePurpose::CardChange),
        _ => None,
    };
    if let Err(reason) = matches_order(item, rules) {
        return Ok(Err(("order_mismatch", reason)));
    }
    if let Some(purpose) = purpose
        && let Err(reason) = phone_proven(tx, item, mid, purpose, rules)?
    {
        return Ok(Err(("verification", reason)));
    }
    if item.kind == "rebind-card" {
        let card = item.sensitive["new"]["card"].as_str().unwrap_or("");
        if let Err(e) = card.parse::<crate::domain::Pan>() {
            return Ok(Err((
                "card_invalid",
                format!("the new settlement card number is not valid: {e}"),
            )));
        }
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(rules.card_cooldown_days));
        let last: Option<String> = tx
            .query_row(
                "SELECT applied_at FROM changes WHERE mid = ?1 AND kind = 'rebind-card' AND applied_at > ?2
                 ORDER BY applied_at DESC LIMIT 1",
                params![mid, crate::store::timestamp(cutoff)],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(last) = last {
            let next = chrono::DateTime::parse_from_rfc3339(&last)
                .map(|t| {
                    (t + chrono::Duration::days(i64::from(rules.card_cooldown_days)))
                        .date_naive()
                        .to_string()
                })
                .unwrap_or_default();
            return Ok(Err((
                "cooldown",
                format!(
                    "merchant {mid} changed its settlement card on {}; the next change is allowed from {next}",
                    &last[..10.min(last.len())]
                ),
            )));
        }
    }
    if rules.reject_rate > 0.0 && rng.random_bool(rules.reject_rate) {
        return Ok(Err((
            "review",
            "the provider's review refused this change (simulated); contact the provider's merchant desk".into(),
        )));
    }
    Ok(Ok(()))
}

fn apply_one(
    tx: &Connection,
    raw: &serde_json::Value,
    rules: &Rules,
    rng: &mut impl Rng,
    at: &str,
) -> rusqlite::Result<ItemResult> {
    let key = raw["idempotency_key"].as_str().unwrap_or_default().to_string();
    let (item, mid) = match well_formed(raw) {
        Ok(x) => x,
        Err(e) => return Ok(rejected(&key, "schema", e)),
    };
    let content = hex::encode(Sha256::digest(raw.to_string().as_bytes()));
    // The terminals the job changed moved on by one change each.
    for serial in [&item.payload["terminal"], &item.payload["replacement"]]
        .into_iter()
        .filter_map(|s| s.as_str())
    {
        tx.execute(
            "INSERT OR IGNORE INTO reported (idempotency_key, serial) VALUES (?1, ?2)",
            params![key, serial],
        )?;
    }
    let first: Option<(String, ItemResult, i64)> = tx
        .query_row(
            "SELECT content_sha256, status, receipt, code, reason, deliveries FROM answers WHERE idempotency_key = ?1",
            [&key],
            |r| {
                let status: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    ItemResult {
                        idempotency_key: key.clone(),
                        status: if status == "accepted" {
                            Status::Accepted
                        } else {
                            Status::Rejected
                        },
                        receipt: r.get(2)?,
                        code: r.get(3)?,
                        reason: r.get(4)?,
                    },
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    // Only an acceptance is recorded for good; a rejected key is judged again when it
    // comes back (after `queue retry`, once its cause is gone).
    if let Some((sha, answer, _)) = &first
        && answer.status == Status::Accepted
    {
        if *sha != content {
            return Ok(rejected(
                &key,
                "conflict",
                "this idempotency key was used before with different content".into(),
            ));
        }
        tx.execute(
            "UPDATE answers SET deliveries = deliveries + 1, last_at = ?2 WHERE idempotency_key = ?1",
            params![key, at],
        )?;
        return Ok(answer.clone());
    }
    if first.is_some() {
        tx.execute("DELETE FROM answers WHERE idempotency_key = ?1", [&key])?;
    }
    let earlier_deliveries = first.map_or(0, |(_, _, n)| n);
    let used: Option<String> = tx
        .query_row(
            "SELECT idempotency_key FROM answers WHERE order_id = ?1 AND status = 'accepted' AND idempotency_key != ?2",
            params![item.order_id, key],
            |r| r.get(0),
        )
        .optional()?;
    let verdict = match used {
        Some(other) => Err((
            "order_used",
            format!(
                "order {} was already carried out ({other}); it is executed once",
                item.order_id
            ),
        )),
        None => judge(tx, &item, &mid, rules, rng)?,
    };
    let result = match verdict {
        Ok(()) => {
            tx.execute(
                "INSERT INTO changes (idempotency_key, kind, mid, terminal, applied_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key, item.kind, mid, item.payload["terminal"].as_str(), at],
            )?;
            // The confirmation it cites is spent: it backs this change only.
            if let Some(id) = item.payload["phone_proof"]["confirmation_id"].as_str() {
                tx.execute(
                    "UPDATE confirmations SET used_by = ?2 WHERE confirmation_id = ?1",
                    params![id, key],
                )?;
            }
            ItemResult {
                idempotency_key: key.clone(),
                status: Status::Accepted,
                receipt: Some(format!("PRV-{:010}", tx.last_insert_rowid())),
                code: None,
                reason: None,
            }
        }
        Err((code, reason)) => rejected(&key, code, reason),
    };
    tx.execute(
        "INSERT INTO answers (idempotency_key, submission_id, kind, mid, content_sha256, status, receipt, code, reason, deliveries, first_at, last_at, order_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1 + ?11, ?10, ?10, ?12)",
        params![
            key,
            item.id,
            item.kind,
            mid,
            content,
            if result.status == Status::Accepted { "accepted" } else { "rejected" },
            result.receipt,
            result.code,
            result.reason,
            at,
            earlier_deliveries,
            item.order_id
        ],
    )?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn item(key: &str, kind: &str, mid: &str, card: &str) -> serde_json::Value {
        serde_json::json!({
            "id": format!("id-{key}"), "idempotency_key": key, "kind": kind, "order_id": format!("O-{key}"), "job_id": "J-1",
            "created_at": "2026-11-22T00:00:00.000Z",
            "payload": { "merchant": { "mid": mid }, "terminal": "SN1", "verification": { "read_back": "match" } },
            "sensitive": { "new": { "card": card } },
        })
    }

    const RULES: Rules = Rules {
        card_cooldown_days: 30,
        reject_rate: 0.0,
        orders: std::collections::BTreeMap::new(),
    };

    #[test]
    fn a_key_is_applied_once_and_repeats_get_the_first_answer() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(dir.path()).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let a = item("job-1", "rebind-card", "898000000000001", "6222021234567890128");
        let first = l.apply(std::slice::from_ref(&a), &RULES, &mut rng).unwrap();
        let again = l.apply(&[a.clone(), a], &RULES, &mut rng).unwrap();
        assert_eq!(first[0].status, Status::Accepted);
        assert_eq!(again, vec![first[0].clone(), first[0].clone()]);
        let r = l.report().unwrap();
        assert_eq!((r.accepted, r.deliveries, r.changes_applied), (1, 3, 1));
        let changed = item("job-1", "rebind-card", "898000000000001", "6222021234567890136");
        let conflict = l.apply(&[changed], &RULES, &mut rng).unwrap();
        assert_eq!(conflict[0].code.as_deref(), Some("conflict"));
    }

    #[test]
    fn an_order_is_carried_out_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(dir.path()).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut second = item("k2", "unbind", "M2", "");
        second["order_id"] = "O-k1".into();
        let out = l
            .apply(&[item("k1", "unbind", "M1", ""), second], &RULES, &mut rng)
            .unwrap();
        assert_eq!(out[0].status, Status::Accepted);
        assert_eq!(out[1].code.as_deref(), Some("order_used"), "{out:?}");
        assert_eq!(l.executed_orders().unwrap(), ["O-k1"]);
    }

    #[test]
    fn rules_refuse_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(dir.path()).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let out = l
            .apply(
                &[
                    item("k1", "rebind-card", "M1", "6222021234567890128"),
                    item("k2", "rebind-card", "M1", "6222021234567890136"),
                    item("k3", "rebind-card", "M2", "6222021234567890129"),
                    serde_json::json!({ "idempotency_key": "k4", "kind": "unbind" }),
                ],
                &RULES,
                &mut rng,
            )
            .unwrap();
        assert_eq!(out[0].status, Status::Accepted);
        assert_eq!(out[1].code.as_deref(), Some("cooldown"));
        assert!(out[1].reason.as_deref().unwrap().contains("merchant M1"), "{out:?}");
        assert_eq!(out[2].code.as_deref(), Some("card_invalid"));
        assert_eq!(out[3].code.as_deref(), Some("schema"));
        let mut unverified = item("k5", "unbind", "M3", "");
        unverified["payload"]["verification"]["read_back"] = "differs".into();
        let out = l.apply(&[unverified], &RULES, &mut rng).unwrap();
        assert_eq!(out[0].code.as_deref(), Some("verification"));
        assert_eq!(l.report().unwrap().changes_applied, 1);
    }

    #[test]
    fn a_phone_change_must_cite_a_confirmation_the_provider_issued_for_its_job_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(dir.path()).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        l.record_confirmation(&Confirmation {
            confirmation_id: "pvc-real".into(),
            verification_id: "pv-1".into(),
            purpose: CodePurpose::PhoneChange,
            phone: "13900001111".into(),
            mid: "M1".into(),
            job_id: "J-1".into(),
            terminal: "SN1".into(),
            confirmed_at: "2026-11-30T00:00:00Z".into(),
        })
        .unwrap();
        let phone = |key: &str, proof: serde_json::Value, number: &str| {
            let mut i = item(key, "rebind-phone", "M1", "");
            i["payload"]["phone_proof"] = proof;
            i["sensitive"]["new"]["phone"] = number.into();
            i
        };
        let sms = |id: &str| serde_json::json!({ "path": "sms", "confirmation_id": id });
        let counter = |documents: serde_json::Value| serde_json::json!({ "path": "counter", "documents": documents, "documents_checked_by": "tech" });
        let mut other_job = phone("k6", sms("pvc-real"), "13900001111");
        other_job["job_id"] = "J-2".into();
        let mut other_terminal = phone("k7", sms("pvc-real"), "13900001111");
        other_terminal["payload"]["terminal"] = "SN2".into();
        let mut attested = phone(
            "k9",
            serde_json::json!({ "path": "sms", "attested_at": "2026-11-30T00:00:00Z" }),
            "13900004444",
        );
        attested["payload"]["order_signed"] = false.into();
        let out = l
            .apply(
                &[
                    phone("k1", serde_json::Value::Null, "13900001111"),
                    phone("k2", sms("pvc-made-up"), "13900001111"),
                    phone("k3", sms("pvc-real"), "13900002222"),
                    other_job,
                    other_terminal,
                    phone("k4", sms("pvc-real"), "13900001111"),
                    phone("k8", sms("pvc-real"), "13900001111"),
                    attested,
                    phone("k10", counter(serde_json::json!([])), "13900003333"),
                    phone("k5", counter(serde_json::json!(["scan.holder_id"])), "13900003333"),
                ],
                &RULES,
                &mut rng,
            )
            .unwrap();
        let codes: Vec<Option<&str>> = out.iter().map(|r| r.code.as_deref()).collect();
        assert_eq!(
            codes,
            [
                Some("verification"),
                Some("verification"),
                Some("verification"),
                Some("verification"),
                Some("verification"),
                None,
                Some("verification"),
                Some("verification"),
                Some("verification"),
                None
            ],
            "{out:?}"
        );
        let reason = |i: usize| out[i].reason.clone().unwrap();
        assert!(reason(1).contains("never issued"), "{out:?}");
        assert!(reason(3).contains("for job J-1"), "{out:?}");
        assert!(reason(4).contains("for terminal SN1"), "{out:?}");
        assert!(
            reason(6).contains("already backs"),
            "one confirmation, one change: {out:?}"
        );
        assert!(reason(7).contains("attestation"), "{out:?}");
        assert!(reason(8).contains("documents"), "{out:?}");
    }

    /// A submission on a signed order matches the order as the provider issued it.
    #[test]
    fn a_submission_on_a_signed_order_must_match_the_order_as_issued() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(dir.path()).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let issued = Issued {
            technician: "tech".into(),
            fields: [
                ("operation", "rebind-card"),
                ("expect.serial", "SN1"),
                ("new.card", "6222021234567890128"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            checks: Default::default(),
        };
        let rules = Rules {
            orders: [("O-k1".to_string(), issued.clone()), ("O-k2".to_string(), issued)]
                .into_iter()
                .collect(),
            ..RULES
        };
        let signed = |key: &str, card: &str| {
            let mut i = item(key, "rebind-card", "M1", card);
            i["payload"]["order_signed"] = true.into();
            i["payload"]["technician"] = "tech".into();
            i
        };
        let mut unknown = signed("k3", "6222021234567890128");
        unknown["order_id"] = "O-never".into();
        let out = l
            .apply(
                &[
                    signed("k2", "6222021234567890136"),
                    unknown,
                    signed("k1", "6222021234567890128"),
                ],
                &rules,
                &mut rng,
            )
            .unwrap();
        let codes: Vec<Option<&str>> = out.iter().map(|r| r.code.as_deref()).collect();
        assert_eq!(codes, [Some("order_mismatch"), Some("order_mismatch"), None], "{out:?}");
        assert!(out[0].reason.as_deref().unwrap().contains("new.card"), "{out:?}");
        assert!(out[1].reason.as_deref().unwrap().contains("not issued"), "{out:?}");
    }
}
