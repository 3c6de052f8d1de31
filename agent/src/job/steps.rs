//! What each step does. Every step looks at the terminal before it acts, so running it a
//! second time after an interruption is safe.

use std::path::Path;

use serde_json::{Value, json};

use super::{JobError, Observer, Run, Step, kill_after_bytes, kill_now, open_terminal};
use crate::backup::{self, ManifestBase};
use crate::domain::DeviceStatus;
use crate::link::proto::Object;
use crate::order::Operation;
use crate::store::jobs::CardEvent;
use crate::terminal::Terminal;
use crate::terminal::model::{AccountBinding, Binding, CardBinding, Difference, decode_log, encode_params};

/// Data read from the old unit for a migration.
pub(super) struct Exported {
    params: Vec<u8>,
    params_count: u32,
    log: Vec<u8>,
    log_count: u32,
    log_sha: [u8; 32],
}

/// A short human description of a step's journal detail.
pub fn describe(detail: &Value) -> String {
    match detail {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn refused(step: Step, reason: impl Into<String>) -> JobError {
    JobError::Refused {
        step: step.name(),
        reason: reason.into(),
    }
}

/// A progress callback that reports to the observer and honours the transfer kill point.
fn progress<'o>(observer: &'o mut dyn Observer, label: &'o str) -> impl FnMut(u64, u64) + 'o {
    move |done, total| {
        observer.transfer(label, done, total);
        if kill_after_bytes(label).is_some_and(|n| done >= n && done < total) {
            kill_now();
        }
    }
}

fn shown<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "nothing".to_string(), |x| x.to_string())
}

impl Run<'_> {
    pub(super) fn exec(&mut self, step: Step) -> Result<Value, JobError> {
        match step {
            Step::CheckIdentity => self.check_identity(),
            Step::Authenticate => self.authenticate(),
            Step::CompareBinding => self.compare_binding(),
            Step::CheckDocuments => self.check_documents(),
            Step::CheckCooldown => self.check_cooldown(),
            Step::CheckReplacement => self.check_replacement(),
            Step::Backup => self.backup(),
            Step::Settle => self.settle(),
            Step::ExportData => {
                let e = self.export_old()?;
                let detail =
                    json!({ "records": e.log_count, "parameters": e.params_count, "sha256": hex::encode(e.log_sha) });
                self.made.exported = Some(e);
                Ok(detail)
            }
            Step::ActivateNew => self.activate_new(),
            Step::ImportData => self.import_data(),
            Step::VerifyImport => self.verify_import(),
            Step::UnbindOld => self.unbind_old(),
            Step::BindNew => self.bind_new(),
            Step::Reboot => {
                self.main.reboot()?;
                Ok(json!({}))
            }
            Step::Verify => self.verify(),
            Step::TestTransaction => self.test_transaction(),
            Step::Record => self.record(),
            Step::RestoreBinding | Step::RestoreParameters => Err(JobError::Order(format!(
                "{} belongs to a restore, not to {}",
                step.name(),
                self.order.operation
            ))),
        }
    }

    fn check_identity(&mut self) -> Result<Value, JobError> {
        let id = self.main.identify()?;
        if id.serial != self.job.terminal_serial {
            return Err(refused(
                Step::CheckIdentity,
                format!(
                    "this job is for terminal {}, but {} is connected",
                    self.job.terminal_serial, id.serial
                ),
            ));
        }
        if let Some(expected) = &self.order.expect.serial
            && *expected != id.serial
        {
            return Err(refused(
                Step::CheckIdentity,
                format!("expect.serial: order says {expected}, terminal is {}", id.serial),
            ));
        }
        Ok(json!({ "serial": id.serial, "vendor": id.vendor, "model": id.model, "firmware": id.firmware }))
    }

    fn authenticate(&mut self) -> Result<Value, JobError> {
        self.main.authenticate(self.secret)?;
        Ok(json!({ "authenticated": true }))
    }

    /// The replacement unit, opened and authenticated on first use.
    fn replacement(&mut self) -> Result<&mut Terminal, JobError> {
        if self.replacement.is_none() {
            let port = self
                .replacement_port
                .clone()
                .ok_or_else(|| JobError::Order("a migration needs the replacement's port (--to)".into()))?;
            let mut t = open_terminal(&self.opener, &port, self.profile)?;
            t.authenticate(self.secret)?;
            self.replacement = Some(t);
        }
        Ok(self.replacement.as_mut().expect("just opened"))
    }

    fn compare_binding(&mut self) -> Result<Value, JobError> {
        let b = self.main.read_binding()?;
        let o = &self.order;
        let mut wrong = Vec::new();
        if b.mid.as_ref() != Some(&o.merchant.mid) {
            wrong.push(format!(
                "merchant.mid: order says {}, terminal has {}",
                o.merchant.mid,
                shown(b.mid.as_ref())
            ));
        }
        if let Some(tid) = &o.expect.tid
            && b.tid.as_ref() != Some(tid)
        {
            wrong.push(format!(
                "expect.tid: order says {tid}, terminal has {}",
                shown(b.tid.as_ref())
            ));
        }
        if let Some(status) = o.expect.status
            && b.status != status
        {
            wrong.push(format!("expect.status: order says {status}, terminal is {}", b.status));
        }
        if let Some(last4) = &o.expect.card_last4
            && b.card.as_ref().map(|c| c.pan.last4()) != Some(last4.as_str())
        {
            wrong.push(format!(
                "expect.card_last4: order says {last4}, terminal has {}",
                shown(b.card.as_ref().map(|c| c.pan.to_string()))
            ));
        }
        if let Some(last4) = &o.expect.account_last4
            && b.account.as_ref().map(|a| a.number.last4()) != Some(last4.as_str())
        {
            wrong.push(format!(
                "expect.account_last4: order says {last4}, terminal has {}",
                shown(b.account.as_ref().map(|a| a.number.to_string()))
            ));
        }
        if let Some(holder) = &o.expect.holder {
            let found = b
                .card
                .as_ref()
                .map(|c| &c.holder)
                .or(b.account.as_ref().map(|a| &a.holder));
            if found != Some(holder) {
                wrong.push(format!(
                    "expect.holder: order says {holder}, terminal has {}",
                    shown(found)
                ));
            }
        }
        if let Some(phone) = &o.expect.phone
            && b.phone.as_ref() != Some(phone)
        {
            wrong.push(format!(
                "expect.phone: order says {phone}, terminal has {}",
                shown(b.phone.as_ref())
            ));
        }
        if matches!(o.operation, Operation::Unbind | Operation::Migrate) && b.status == DeviceStatus::Unbound {
            wrong.push("the terminal is already unbound".to_string());
        }
        if !wrong.is_empty() {
            return Err(refused(
                Step::CompareBinding,
                format!("the terminal does not match the order: {}", wrong.join("; ")),
            ));
        }
        let detail = json!({ "binding": b });
        self.made.original = Some(b);
        Ok(detail)
    }

    fn check_documents(&mut self) -> Result<Value, JobError> {
        let mut files: Vec<&Path> = self.order.evidence.iter().map(|p| p.as_path()).collect();
        if let Some(a) = self.order.agent.as_ref().and_then(|a| a.authorisation.as_deref()) {
            files.push(a);
        }
        let mut digests = Vec::new();
        for f in files {
            let sha = super::file_sha256(f).map_err(|e| {
                refused(
                    Step::CheckDocuments,
                    format!("document {} cannot be read: {e}", f.display()),
                )
            })?;
            digests.push(json!({ "file": f.file_name().map(|n| n.to_string_lossy().to_string()), "sha256": sha }));
        }
        Ok(json!({ "documents": digests }))
    }

    fn check_cooldown(&mut self) -> Result<Value, JobError> {
        let days = self.profile.settlement.card_cooldown_days;
        let Some(card) = self.order.new.card.clone() else {
            return Ok(json!({ "cooldown_days": days }));
        };
        if self
            .made
            .original
            .as_ref()
            .and_then(|b| b.card.as_ref())
            .is_some_and(|c| c.pan == card)
        {
            return Err(refused(
                Step::CheckCooldown,
                format!("card {card} is already the bound card"),
            ));
        }
        let cooldown = chrono::Duration::days(i64::from(days));
        let today = chrono::Local::now().date_naive();
        if let Some(at) = self.store.card_last_unbound(&self.keys.card_id(card.expose_full()))?
            && let Ok(when) = chrono::DateTime::parse_from_rfc3339(&at)
        {
            let allowed = when + cooldown;
            if chrono::Utc::now() < allowed {
                return Err(refused(
                    Step::CheckCooldown,
                    format!(
                        "card {card} was unbound on {}; profile {} allows binding it again from {}",
                        when.date_naive(),
                        self.profile.name,
                        allowed.date_naive()
                    ),
                ));
            }
        }
        // The provider's own check, signed with the order, settles it either way.
        if let Some(clear) = self
            .signed
            .as_ref()
            .and_then(|s| s.checks.get("card_cooldown_clear_until"))
        {
            let from = chrono::NaiveDate::parse_from_str(clear, "%Y-%m-%d").map_err(|_| {
                refused(
                    Step::CheckCooldown,
                    format!("checks.card_cooldown_clear_until '{clear}' is not a YYYY-MM-DD date"),
                )
            })?;
            if today < from {
                return Err(refused(
                    Step::CheckCooldown,
                    format!(
                        "the provider says merchant {}'s settlement-card cooldown runs until {from}; the change is allowed from then",
                        self.order.merchant.mid
                    ),
                ));
            }
            return Ok(
                json!({ "cooldown_days": days, "cooldown_checked_by": "provider, signed with the order", "clear_from": from }),
            );
        }
        // The provider's rule is per merchant: one settlement-card change per cooldown.
        // What the agent can know offline: its own record of changes for this merchant on
        // any terminal, and the date the terminal says its settlement was bound.
        let mid = self.order.merchant.mid.clone();
        let mut known = Vec::new();
        if let Some(at) = self.store.last_card_change_for_merchant(mid.as_str())?
            && let Ok(when) = chrono::DateTime::parse_from_rfc3339(&at)
        {
            known.push(("this agent changed it", when.with_timezone(&chrono::Local).date_naive()));
        }
        let since = self.main.status()?.settlement_since;
        if let Some(d) = since {
            known.push(("the terminal reports it bound", d));
        }
        if let Some((who, last)) = known.iter().max_by_key(|(_, d)| *d)
            && today < *last + cooldown
        {
            return Err(refused(
                Step::CheckCooldown,
                format!(
                    "merchant {mid}'s settlement card changed on {last} ({who}); profile {} allows the next change from {}",
                    self.profile.name,
                    *last + cooldown
                ),
            ));
        }
        if since.is_none() {
            if !self.cooldown_checked_by_provider {
                return Err(refused(
                    Step::CheckCooldown,
                    format!(
                        "the terminal does not say when its settlement card was bound, so profile {}'s {days}-day cooldown for merchant {mid} cannot be checked offline; confirm with the provider that a change is allowed now",
                        self.profile.name
                    ),
                ));
            }
            return Ok(
                json!({ "cooldown_days": days, "cooldown_checked_by": "provider, as the technician confirmed" }),
            );
        }
        Ok(json!({ "cooldown_days": days, "settlement_since": since }))
    }

    fn check_replacement(&mut self) -> Result<Value, JobError> {
        let wanted = self
            .order
            .replacement
            .clone()
            .ok_or_else(|| refused(Step::CheckReplacement, "the order names no replacement unit"))?;
        if wanted.activation_code.is_none() {
            return Err(refused(
                Step::CheckReplacement,
                "replacement.activation_code is missing; ask the provider for the unit's activation code",
            ));
        }
        let t = self.replacement()?;
        let id = t.identify()?;
        let b = t.read_binding()?;
        if wanted.serial.as_ref().is_some_and(|s| *s != id.serial) {
            return Err(refused(
                Step::CheckReplacement,
                format!(
                    "replacement.serial: order says {}, unit is {}",
                    shown(wanted.serial),
                    id.serial
                ),
            ));
        }
        if wanted.model.as_ref().is_some_and(|m| *m != id.model) {
            return Err(refused(
                Step::CheckReplacement,
                format!(
                    "replacement.model: order says {}, unit is {}",
                    shown(wanted.model),
                    id.model
                ),
            ));
        }
        if b.status != DeviceStatus::Unbound {
            return Err(refused(
                Step::CheckReplacement,
                format!(
                    "replacement unit {} is already {} (MID {}); use a blank unit or unbind it first",
                    id.serial,
                    b.status,
                    shown(b.mid)
                ),
            ));
        }
        Ok(json!({ "serial": id.serial, "model": id.model, "status": b.status }))
    }

    fn backup(&mut self) -> Result<Value, JobError> {
        let evidence = self
            .order
            .evidence
            .iter()
            .map(|p| crate::input::read_evidence(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| refused(Step::Backup, e.to_string()))?;
        let identity = self.main.identify()?;
        let contents = backup::capture(&mut self.main, evidence, &mut progress(self.observer, "backup"))?;
        let dir = self.paths.data.join("backups");
        crate::private::dir(&dir).map_err(|e| JobError::Order(format!("cannot create {}: {e}", dir.display())))?;
        let file = dir.join(format!("{}-{}.zip", identity.serial, self.job.id));
        let base = ManifestBase {
            profile: self.profile.name.clone(),
            terminal: identity.clone(),
            technician: Some(self.job.technician.clone()),
            job_id: Some(self.job.id.clone()),
        };
        let (written, record) = backup::keep(&file, base, &contents, self.backup_password, true, &self.store)?;
        let file_s = record.file;
        self.store.set_job_backup(&self.job.id, &file_s, &written.sha256)?;
        self.job.backup_file = Some(file_s.clone());
        self.job.backup_sha256 = Some(written.sha256.clone());
        self.made.original = Some(contents.binding);
        Ok(json!({ "file": file_s, "sha256": written.sha256, "transactions": contents.transactions.len() }))
    }

    /// The binding before the job: from this run, else from the job's backup.
    pub(super) fn original(&mut self) -> Result<Binding, JobError> {
        if let Some(b) = &self.made.original {
            return Ok(b.clone());
        }
        let b = match &self.job.backup_file {
            Some(f) => backup::read_archive(Path::new(f), self.backup_password)?.binding,
            // No backup yet means no change yet: the terminal still holds the original.
            None => self.main.read_binding()?,
        };
        self.made.original = Some(b.clone());
        Ok(b)
    }

    /// What the target terminal must hold when the job is done.
    fn expected(&mut self) -> Result<Binding, JobError> {
        let orig = self.original()?;
        let n = &self.order.new;
        Ok(match self.order.operation {
            Operation::RebindCard => Binding {
                card: self.new_card(),
                account: None,
                status: DeviceStatus::Bound,
                ..orig
            },
            Operation::RebindAccount => Binding {
                account: self.new_account(),
                card: None,
                status: DeviceStatus::Bound,
                ..orig
            },
            Operation::RebindPhone => Binding {
                phone: n.phone.clone(),
                ..orig
            },
            Operation::Unbind => Binding::unbound(),
            Operation::Migrate => orig,
        })
    }

    fn new_card(&self) -> Option<CardBinding> {
        let n = &self.order.new;
        Some(CardBinding {
            pan: n.card.clone()?,
            holder: n.holder.clone()?,
            expiry: n.expiry.map(|e| format!("{:02}{:02}", e.month, e.year % 100)),
        })
    }

    fn new_account(&self) -> Option<AccountBinding> {
        let n = &self.order.new;
        Some(AccountBinding {
            number: n.account.clone()?,
            holder: n.holder.clone()?,
            bank: n.bank.clone()?,
            branch: n.branch_code.clone()?,
        })
    }

    /// The changes the job will make to the main terminal, masked.
    pub(super) fn planned_changes(&mut self) -> Vec<Difference> {
        let (Ok(before), Ok(after)) = (self.original(), self.expected()) else {
            return Vec::new();
        };
        // A migration leaves the old unit unbound; its binding moves to the new one.
        let target = if self.order.operation == Operation::Migrate {
            Binding::unbound()
        } else {
            after
        };
        before.differences(&target)
    }

    fn settle(&mut self) -> Result<Value, JobError> {
        let settled = self.main.settle()?;
        let status = self.main.status()?;
        if status.unsettled != 0 {
            return Err(JobError::Verification {
                step: "settle",
                what: format!("{} transaction(s) still unsettled after settling", status.unsettled),
            });
        }
        Ok(json!({ "settled": settled, "transactions": status.transactions }))
    }

    fn export_old(&mut self) -> Result<Exported, JobError> {
        let mut cb = progress(self.observer, "export");
        let params = self.main.export(Object::Parameters, &mut cb)?;
        let log = self.main.export(Object::TransactionLog, &mut cb)?;
        Ok(Exported {
            params: params.data,
            params_count: params.records,
            log: log.data,
            log_count: log.records,
            log_sha: log.sha256,
        })
    }

    fn activate_new(&mut self) -> Result<Value, JobError> {
        let code = self
            .order
            .replacement
            .as_ref()
            .and_then(|r| r.activation_code.clone())
            .unwrap_or_default();
        let t = self.replacement()?;
        if t.status()?.status == DeviceStatus::Unbound {
            t.activate(&code)?;
        }
        Ok(json!({ "status": t.status()?.status }))
    }

    fn ensure_exported(&mut self) -> Result<(), JobError> {
        if self.made.exported.is_none() {
            self.made.exported = Some(self.export_old()?);
        }
        Ok(())
    }

    fn import_data(&mut self) -> Result<Value, JobError> {
        self.ensure_exported()?;
        self.replacement()?;
        let ex = self.made.exported.as_ref().expect("exported");
        let t = self.replacement.as_mut().expect("opened");
        let mut cb = progress(self.observer, "import");
        t.import(Object::Parameters, &ex.params, ex.params_count, &mut cb)?;
        t.import(Object::TransactionLog, &ex.log, ex.log_count, &mut cb)?;
        Ok(json!({ "records": ex.log_count, "parameters": ex.params_count }))
    }

    fn verify_import(&mut self) -> Result<Value, JobError> {
        self.ensure_exported()?;
        self.replacement()?;
        let t = self.replacement.as_mut().expect("opened");
        // The new unit was blank, so what it stores must be the export byte for byte: its
        // own digest says so without a second pass over the line.
        let stored = match self.verify {
            super::Verify::Digest => t.digest(Object::TransactionLog)?,
            super::Verify::Full => None,
        };
        if let Some(d) = stored {
            let ex = self.made.exported.as_ref().expect("exported");
            if d.records != ex.log_count || d.sha256 != ex.log_sha || d.len as usize != ex.log.len() {
                return Err(JobError::Verification {
                    step: "verify_import",
                    what: format!(
                        "new unit stores {} record(s) with SHA-256 {}, old unit had {} with {}",
                        d.records,
                        hex::encode(d.sha256),
                        ex.log_count,
                        hex::encode(ex.log_sha)
                    ),
                });
            }
            self.made.moved = Some(d.records);
            return Ok(json!({ "records": d.records, "sha256": hex::encode(d.sha256), "by": "digest" }));
        }
        let got = t.export(Object::TransactionLog, &mut progress(self.observer, "verify"))?;
        let ex = self.made.exported.as_ref().expect("exported");
        if got.records != ex.log_count || got.sha256 != ex.log_sha {
            return Err(JobError::Verification {
                step: "verify_import",
                what: format!(
                    "new unit holds {} record(s) with SHA-256 {}, old unit had {} with {}",
                    got.records,
                    hex::encode(got.sha256),
                    ex.log_count,
                    hex::encode(ex.log_sha)
                ),
            });
        }
        let records = decode_log(&got.data).map_err(|e| JobError::Verification {
            step: "verify_import",
            what: e.to_string(),
        })?;
        let unique: std::collections::BTreeSet<&str> = records.iter().map(|r| r.rrn.as_str()).collect();
        if unique.len() != records.len() {
            return Err(JobError::Verification {
                step: "verify_import",
                what: "duplicate transactions on the new unit".into(),
            });
        }
        self.made.moved = Some(got.records);
        Ok(json!({ "records": got.records, "sha256": hex::encode(got.sha256), "by": "read-back" }))
    }

    fn unbind_old(&mut self) -> Result<Value, JobError> {
        use crate::terminal::BindingPart;
        match self.order.operation {
            // Whatever it settles to now goes, card or account: a card-settled terminal
            // can move to an account and the reverse.
            Operation::RebindCard | Operation::RebindAccount => {
                let now = self.main.read_binding()?;
                if now.card.is_some() {
                    self.main.unbind(BindingPart::Card)?;
                }
                if now.account.is_some() {
                    self.main.unbind(BindingPart::Account)?;
                }
            }
            Operation::RebindPhone => self.main.unbind(BindingPart::Phone)?,
            Operation::Unbind | Operation::Migrate => {
                if self.main.read_binding()?.status != DeviceStatus::Unbound {
                    self.main.unbind(BindingPart::Device)?;
                }
            }
        }
        Ok(json!({}))
    }

    fn bind_new(&mut self) -> Result<Value, JobError> {
        let target = self.expected()?;
        match self.order.operation {
            Operation::Migrate => self.replacement()?.bind(&target)?,
            _ => self.main.bind(&target)?,
        }
        if self.order.operation == Operation::RebindCard {
            self.apply_settlement_params()?;
        }
        Ok(json!({}))
    }

    /// Daily limit and fee rate from the order go into the terminal's parameters.
    fn apply_settlement_params(&mut self) -> Result<(), JobError> {
        let n = &self.order.new;
        let updates: Vec<(&str, String)> = [
            ("limit.daily_yuan", n.daily_limit_yuan),
            ("fee.rate_percent", n.fee_rate_percent),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v.to_string())))
        .collect();
        if updates.is_empty() {
            return Ok(());
        }
        let current = self.main.export(Object::Parameters, &mut |_, _| {})?;
        let mut params =
            crate::terminal::model::decode_params(&current.data).map_err(crate::terminal::TerminalError::Invalid)?;
        for (k, v) in updates {
            params.insert(k.to_string(), v);
        }
        self.main.import(
            Object::Parameters,
            &encode_params(&params),
            params.len() as u32,
            &mut |_, _| {},
        )?;
        Ok(())
    }

    fn verify(&mut self) -> Result<Value, JobError> {
        let expected = self.expected()?;
        let now = match self.order.operation {
            Operation::Migrate => {
                if self.main.read_binding()?.status != DeviceStatus::Unbound {
                    return Err(JobError::Verification {
                        step: "verify",
                        what: "the old unit is still bound".into(),
                    });
                }
                self.replacement()?.read_binding()?
            }
            _ => self.main.read_binding()?,
        };
        let diffs = now.differences(&expected);
        if !diffs.is_empty() {
            let what = diffs
                .iter()
                .map(|d| format!("{}: reads {}, expected {}", d.field, d.from, d.to))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(JobError::Verification { step: "verify", what });
        }
        let detail = json!({ "binding": now });
        self.made.after = Some(now);
        Ok(detail)
    }

    fn test_transaction(&mut self) -> Result<Value, JobError> {
        let amount = self.profile.test_transaction.amount_fen;
        // A reference of the job's own: asking again returns the same transaction.
        let id = self.job.id.replace('-', "").to_uppercase();
        let reference = format!("T{}", &id[id.len() - 11..]);
        let t = match self.order.operation {
            Operation::Migrate => self.replacement()?,
            _ => &mut self.main,
        };
        let r = t.test_transaction(amount, &reference)?;
        let detail = json!({ "amount_fen": r.amount_fen, "auth_code": r.auth_code, "rrn": r.rrn });
        self.made.test = Some(r);
        Ok(detail)
    }

    fn record(&mut self) -> Result<Value, JobError> {
        let submission = self.submission()?;
        let mut cards = Vec::new();
        let old_card = self.original()?.card.map(|c| c.pan);
        if matches!(self.order.operation, Operation::RebindCard | Operation::Unbind)
            && let Some(pan) = old_card
        {
            cards.push(CardEvent {
                card_id: self.keys.card_id(pan.expose_full()),
                terminal: self.job.terminal_serial.clone(),
                bound: false,
            });
        }
        if let Some(pan) = self
            .order
            .new
            .card
            .as_ref()
            .filter(|_| self.order.operation == Operation::RebindCard)
        {
            cards.push(CardEvent {
                card_id: self.keys.card_id(pan.expose_full()),
                terminal: self.job.terminal_serial.clone(),
                bound: true,
            });
        }
        self.store.finish_job(&self.job, &submission, &cards)?;
        Ok(json!({ "submission": submission.id }))
    }

    /// Rolls back: puts the backed-up binding on the terminal and undoes the new unit.
    pub(super) fn abort(&mut self) -> Result<super::JobOutcome, JobError> {
        let touched: std::collections::BTreeSet<String> = self
            .store
            .journal_of(&self.job.id)?
            .into_iter()
            .filter(|e| e.phase == "intent")
            .map(|e| e.step)
            .collect();
        let was = |s: Step| touched.contains(s.name());
        if self.order.operation == Operation::Migrate && was(Step::UnbindOld) {
            return Err(JobError::Abort(format!(
                "the old unit was already unbound and the new one holds its data; finish the migration with `posagent jobs resume {}`",
                self.job.id
            )));
        }
        self.main.authenticate(self.secret)?;
        let mut undone = Vec::new();
        if [Step::UnbindOld, Step::BindNew, Step::Reboot].into_iter().any(was) {
            let original = self.original()?;
            self.main.apply_binding(&original)?;
            let now = self.main.read_binding()?;
            if now != original {
                return Err(JobError::Verification {
                    step: "abort",
                    what: "the terminal does not read back the backed-up binding".into(),
                });
            }
            undone.push("binding restored from the job's backup");
        }
        if self.order.operation == Operation::Migrate
            && [Step::ActivateNew, Step::ImportData, Step::BindNew]
                .into_iter()
                .any(was)
        {
            let t = self.replacement()?;
            if t.read_binding()?.status != DeviceStatus::Unbound {
                t.settle()?;
                t.unbind(crate::terminal::BindingPart::Device)?;
            }
            undone.push("replacement unit unbound");
        }
        let detail = json!({ "undone": undone });
        self.store.journal(&self.job, "rollback", "compensated", detail)?;
        self.store
            .end_job(&self.job, crate::store::jobs::JobState::Aborted, None)?;
        self.made.after = Some(self.main.read_binding()?);
        self.outcome(Vec::new())
    }
}
