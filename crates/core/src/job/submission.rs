//! The submission a finished job leaves for the provider: masked facts in the clear,
//! full numbers and ID numbers sealed with the local key.

use serde_json::json;

use super::JobError;
use super::change::Change;
use crate::journal::StepRecord;
use crate::store::now;
use crate::store::outbox::NewSubmission;

impl Change<'_> {
    pub(super) fn submission(&mut self) -> Result<NewSubmission, JobError> {
        let before = self.original()?;
        let after = self.made.after.clone();
        let o = &self.order;
        let documents = match self.c.done.get(&super::Step::CheckDocuments) {
            Some(StepRecord::Documents(d)) => Some(&d.documents),
            _ => None,
        };
        // How the phone was proven: the provider's confirmation id, its signed attestation,
        // or the documents the technician saw at a counter.
        let phone_proof = match self.c.done.get(&super::Step::VerifyPhone) {
            Some(StepRecord::Phone(p)) => Some(p),
            _ => None,
        };
        let payload = json!({
            "kind": o.operation,
            "order_id": o.id,
            "job_id": self.c.job.id,
            "profile": self.profile.name,
            "reason": o.reason,
            "merchant": { "mid": o.merchant.mid, "name": o.merchant.name, "kind": o.merchant.kind, "credit_code": o.merchant.credit_code },
            "terminal": self.c.job.terminal_serial,
            "replacement": self.c.job.replacement_serial,
            "before": before,
            "after": after,
            "verification": {
                "read_back": "match",
                "test_transaction": self.made.test,
                "transactions_moved": self.made.moved,
            },
            "backup_sha256": self.c.job.backup_sha256,
            "documents": documents,
            "phone_proof": phone_proof,
            "technician": self.c.job.technician,
            "completed_at": now(),
            "order_signed": self.signed.is_some(),
            "order_key_id": self.signed.as_ref().map(|s| s.key_id.clone()),
        });
        let n = &o.new;
        let sensitive = json!({
            "new": {
                "card": n.card.as_ref().map(|p| p.expose_full()),
                "account": n.account.as_ref().map(|a| a.expose_full()),
                "phone": n.phone.as_ref().map(|p| p.as_str()),
            },
            "merchant": { "legal_rep_id": o.merchant.legal_rep_id.as_ref().map(|r| r.expose_full()) },
            "agent": o.agent.as_ref().map(|a| json!({
                "name": a.name.as_ref().map(|n| n.as_str()),
                "id_number": a.id_number.as_ref().map(|r| r.expose_full()),
            })),
        });
        let sealed = self.c.keys.seal(sensitive.to_string().as_bytes());
        Ok(NewSubmission {
            id: uuid::Uuid::now_v7().to_string(),
            // One key per job: however often it is sent, the provider applies it once.
            idempotency_key: format!("job-{}", self.c.job.id),
            job_id: self.c.job.id.clone(),
            order_id: o.id.clone(),
            kind: o.operation.to_string(),
            payload,
            sealed,
        })
    }
}
