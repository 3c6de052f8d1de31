//! What each step does. Every step looks at the terminal before it acts, so running it a
//! second time after an interruption is safe.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::{JobError, Observer, Run, Step, kill_after_bytes, kill_now, open_terminal};
use crate::backup::{self};
use crate::domain::DeviceStatus;
use crate::link::proto::Object;
use crate::order::Operation;
use crate::store::jobs::CardEvent;
use crate::terminal::model::{AccountBinding, Binding, CardBinding, Difference, decode_log, encode_params};
use crate::terminal::{Feed, Terminal};

/// How often a one-pass copy reports the import's progress once the export is done.
const REPORT_EVERY: Duration = Duration::from_millis(100);

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

fn refused(step: Step, code: &'static str, reason: String) -> JobError {
    JobError::Refused {
        step: step.name(),
        code,
        reason,
    }
}

/// The log a migration's new unit must hold: as the old unit's export announced it.
#[derive(Debug, Clone, Copy)]
struct LogId {
    records: u32,
    sha256: [u8; 32],
    len: usize,
}

impl LogId {
    /// From the journal detail of a one-pass copy.
    fn from_detail(d: &Value) -> Option<LogId> {
        Some(LogId {
            records: u32::try_from(d["records"].as_u64()?).ok()?,
            sha256: hex::decode(d["log_sha256"].as_str()?).ok()?.try_into().ok()?,
            len: usize::try_from(d["log_len"].as_u64()?).ok()?,
        })
    }
}

impl Exported {
    fn log_id(&self) -> LogId {
        LogId {
            records: self.log_count,
            sha256: self.log_sha,
            len: self.log.len(),
        }
    }
}

/// The new unit's copy of the log is not the old unit's.
fn log_differs(records: u32, sha256: &[u8; 32], expected: &LogId) -> JobError {
    JobError::Verification {
        step: "verify_import",
        what: crate::tr!(
            "verify-log-differs",
            records = records,
            sha256 = hex::encode(sha256),
            expected_records = expected.records,
            expected_sha256 = hex::encode(expected.sha256)
        ),
    }
}

/// One field where the terminal differs from the order.
fn mismatch(field: &str, order: String, terminal: String) -> String {
    crate::tr!("mismatch-field", field = field, order = order, terminal = terminal)
}

/// A progress callback that reports to the observer and honours the transfer kill point.
fn progress<'o>(observer: &'o mut dyn Observer, label: &'o str) -> impl FnMut(u64, u64) + 'o {
    move |done, total| {
        observer.transfer(label, done, total);
        kill_point_in(label, done, total);
    }
}

/// The transfer kill point (`transfer:LABEL:BYTES`), from any thread.
fn kill_point_in(label: &str, done: u64, total: u64) {
    if kill_after_bytes(label).is_some_and(|n| done >= n && done < total) {
        kill_now();
    }
}

fn shown<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| crate::tr!("value-nothing"), |x| x.to_string())
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
            Step::VerifyPhone => self.verify_phone(),
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
            Step::CopyData => self.copy_data(),
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
            Step::RestoreBinding | Step::RestoreParameters => Err(JobError::NotInPlan {
                step: step.label(),
                operation: self.order.operation.label(),
            }),
        }
    }

    fn check_identity(&mut self) -> Result<Value, JobError> {
        let id = self.main.identify()?;
        if id.serial != self.job.terminal_serial {
            return Err(refused(
                Step::CheckIdentity,
                "another_unit",
                crate::tr!(
                    "refused-other-terminal",
                    expected = self.job.terminal_serial.as_str(),
                    serial = id.serial.as_str()
                ),
            ));
        }
        if let Some(expected) = &self.order.expect.serial
            && *expected != id.serial
        {
            return Err(refused(
                Step::CheckIdentity,
                "serial_mismatch",
                mismatch("expect.serial", expected.to_string(), id.serial.to_string()),
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
                .ok_or(super::OrderProblem::NoReplacementPort)?;
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
            wrong.push(mismatch(
                "merchant.mid",
                o.merchant.mid.to_string(),
                shown(b.mid.as_ref()),
            ));
        }
        if let Some(tid) = &o.expect.tid
            && b.tid.as_ref() != Some(tid)
        {
            wrong.push(mismatch("expect.tid", tid.to_string(), shown(b.tid.as_ref())));
        }
        if let Some(status) = o.expect.status
            && b.status != status
        {
            wrong.push(mismatch("expect.status", status.to_string(), b.status.to_string()));
        }
        if let Some(last4) = &o.expect.card_last4
            && b.card.as_ref().map(|c| c.pan.last4()) != Some(last4.as_str())
        {
            wrong.push(mismatch(
                "expect.card_last4",
                last4.to_string(),
                shown(b.card.as_ref().map(|c| c.pan.to_string())),
            ));
        }
        if let Some(last4) = &o.expect.account_last4
            && b.account.as_ref().map(|a| a.number.last4()) != Some(last4.as_str())
        {
            wrong.push(mismatch(
                "expect.account_last4",
                last4.to_string(),
                shown(b.account.as_ref().map(|a| a.number.to_string())),
            ));
        }
        if let Some(holder) = &o.expect.holder {
            let found = b
                .card
                .as_ref()
                .map(|c| &c.holder)
                .or(b.account.as_ref().map(|a| &a.holder));
            if found != Some(holder) {
                wrong.push(mismatch("expect.holder", holder.to_string(), shown(found)));
            }
        }
        if let Some(phone) = &o.expect.phone
            && b.phone.as_ref() != Some(phone)
        {
            wrong.push(mismatch("expect.phone", phone.to_string(), shown(b.phone.as_ref())));
        }
        if matches!(o.operation, Operation::Unbind | Operation::Migrate) && b.status == DeviceStatus::Unbound {
            wrong.push(crate::tr!("refused-already-unbound"));
        }
        if !wrong.is_empty() {
            return Err(refused(
                Step::CompareBinding,
                "binding_mismatch",
                crate::tr!("refused-binding-mismatch", problems = wrong.join("; ")),
            ));
        }
        let detail = json!({ "binding": b });
        self.made.original = Some(b);
        Ok(detail)
    }

    fn check_documents(&mut self) -> Result<Value, JobError> {
        let mut files: Vec<&Path> = self
            .order
            .evidence
            .iter()
            .chain(&self.order.scans)
            .map(|p| p.as_path())
            .collect();
        if let Some(a) = self.order.agent.as_ref().and_then(|a| a.authorisation.as_deref()) {
            files.push(a);
        }
        let mut digests = Vec::new();
        for f in files {
            let sha = super::file_sha256(f).map_err(|e| {
                refused(
                    Step::CheckDocuments,
                    "document_unreadable",
                    crate::tr!(
                        "refused-document",
                        file = f.display().to_string(),
                        reason = e.to_string()
                    ),
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
                "card_already_bound",
                crate::tr!("refused-same-card", card = card.to_string()),
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
                    "cooldown_active",
                    crate::tr!(
                        "refused-card-cooldown",
                        card = card.to_string(),
                        unbound = when.date_naive().to_string(),
                        profile = self.profile.name.as_str(),
                        from = allowed.date_naive().to_string()
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
                    "provider_check_invalid",
                    crate::tr!("refused-clear-until", value = clear.as_str()),
                )
            })?;
            if today < from {
                return Err(refused(
                    Step::CheckCooldown,
                    "cooldown_active",
                    crate::tr!(
                        "refused-provider-cooldown",
                        mid = self.order.merchant.mid.to_string(),
                        from = from.to_string()
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
            known.push((
                crate::tr!("cooldown-by-agent"),
                when.with_timezone(&chrono::Local).date_naive(),
            ));
        }
        let since = self.main.status()?.settlement_since;
        if let Some(d) = since {
            known.push((crate::tr!("cooldown-by-terminal"), d));
        }
        if let Some((who, last)) = known.iter().max_by_key(|(_, d)| *d)
            && today < *last + cooldown
        {
            return Err(refused(
                Step::CheckCooldown,
                "cooldown_active",
                crate::tr!(
                    "refused-merchant-cooldown",
                    mid = mid.to_string(),
                    last = last.to_string(),
                    who = who.as_str(),
                    profile = self.profile.name.as_str(),
                    from = (*last + cooldown).to_string()
                ),
            ));
        }
        if since.is_none() {
            if !self.cooldown_checked_by_provider {
                return Err(refused(
                    Step::CheckCooldown,
                    "cooldown_unknown",
                    crate::tr!(
                        "refused-cooldown-unknown",
                        profile = self.profile.name.as_str(),
                        days = days,
                        mid = mid.to_string()
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
        let wanted = self.order.replacement.clone().ok_or_else(|| {
            refused(
                Step::CheckReplacement,
                "no_replacement",
                crate::tr!("refused-no-replacement"),
            )
        })?;
        if wanted.activation_code.is_none() {
            return Err(refused(
                Step::CheckReplacement,
                "no_activation_code",
                crate::tr!("refused-no-activation-code"),
            ));
        }
        let t = self.replacement()?;
        let id = t.identify()?;
        let b = t.read_binding()?;
        if wanted.serial.as_ref().is_some_and(|s| *s != id.serial) {
            return Err(refused(
                Step::CheckReplacement,
                "serial_mismatch",
                mismatch("replacement.serial", shown(wanted.serial), id.serial.to_string()),
            ));
        }
        if wanted.model.as_ref().is_some_and(|m| *m != id.model) {
            return Err(refused(
                Step::CheckReplacement,
                "model_mismatch",
                mismatch("replacement.model", shown(wanted.model), id.model.to_string()),
            ));
        }
        if b.status != DeviceStatus::Unbound {
            return Err(refused(
                Step::CheckReplacement,
                "replacement_not_blank",
                crate::tr!(
                    "refused-replacement-bound",
                    serial = id.serial.as_str(),
                    status = b.status.to_string(),
                    mid = shown(b.mid)
                ),
            ));
        }
        Ok(json!({ "serial": id.serial, "model": id.model, "status": b.status }))
    }

    fn backup(&mut self) -> Result<Value, JobError> {
        let taken = self.take_backup(None, &mut |_| {})?;
        Ok(Self::backup_detail(&taken))
    }

    fn backup_detail(taken: &backup::Taken) -> Value {
        json!({ "file": taken.record.file, "sha256": taken.written.sha256, "transactions": taken.contents.transactions.len() })
    }

    /// Takes the job's backup of the main terminal and records it with the job, passing
    /// the log on to `feed` as it arrives; `also` is called at every step of progress.
    fn take_backup(
        &mut self,
        feed: Option<&Feed>,
        also: &mut dyn FnMut(&mut dyn Observer),
    ) -> Result<backup::Taken, JobError> {
        let evidence = self
            .order
            .evidence
            .iter()
            .map(|p| crate::input::read_evidence(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| refused(Step::Backup, "evidence_unreadable", e.to_string()))?;
        let dir = super::backups_dir(self.paths)?;
        let job_id = self.job.id.clone();
        let observer = &mut *self.observer;
        let taken = backup::take(
            &mut self.main,
            evidence,
            &mut |done, total| {
                observer.transfer("backup", done, total);
                kill_point_in("backup", done, total);
                also(observer);
            },
            |id| dir.join(format!("{}-{job_id}.zip", id.serial)),
            backup::Taking {
                profile: self.profile.name.clone(),
                technician: Some(self.job.technician.clone()),
                job_id: Some(self.job.id.clone()),
                password: self.backup_password,
                force: true,
                store: &self.store,
                feed,
            },
        )?;
        self.store
            .set_job_backup(&self.job.id, &taken.record.file, &taken.written.sha256)?;
        self.job.backup_file = Some(taken.record.file.clone());
        self.job.backup_sha256 = Some(taken.written.sha256.clone());
        self.made.original = Some(taken.contents.binding.clone());
        Ok(taken)
    }

    /// A one-pass migration's copy: one export of the (settled) old unit is the backup and,
    /// on the other line at the same time, the new unit's import, which is committed only
    /// once the export's SHA-256 and record count have checked. The backup is written and
    /// verified before the step is done; nothing on the old unit changes here.
    fn copy_data(&mut self) -> Result<Value, JobError> {
        let mut new = match self.replacement.take() {
            Some(t) => t,
            None => {
                self.replacement()?;
                self.replacement.take().expect("opened")
            }
        };
        let feed = Feed::default();
        let imported = [AtomicU64::new(0), AtomicU64::new(0)];
        let (taken, fed) = std::thread::scope(|s| {
            let importer = s.spawn(|| {
                new.import_fed(Object::TransactionLog, &feed, &mut |done, total| {
                    imported[0].store(done, Ordering::Relaxed);
                    imported[1].store(total, Ordering::Relaxed);
                    kill_point_in("import", done, total);
                })
            });
            let mut shown = 0;
            let mut report = |observer: &mut dyn Observer| {
                let done = imported[0].load(Ordering::Relaxed);
                if done != shown {
                    shown = done;
                    observer.transfer("import", done, imported[1].load(Ordering::Relaxed));
                }
            };
            let taken = {
                let _unfinished = feed.until_exported();
                self.take_backup(Some(&feed), &mut report)
            };
            while !importer.is_finished() {
                report(self.observer);
                std::thread::sleep(REPORT_EVERY);
            }
            report(self.observer);
            let fed = importer.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            (taken, fed)
        });
        self.replacement = Some(new);
        let (taken, fed) = (taken?, fed?);
        let new = self.replacement.as_mut().expect("put back");
        let mut cb = progress(self.observer, "import");
        if !fed {
            // The log came in an encoding the new unit did not agree on: sent as it is.
            new.import(Object::TransactionLog, &taken.log.data, taken.log.records, &mut cb)?;
        }
        new.import(Object::Parameters, &taken.params.data, taken.params.records, &mut cb)?;
        let mut detail = Self::backup_detail(&taken);
        detail["records"] = taken.log.records.into();
        detail["log_sha256"] = hex::encode(taken.log.sha256).into();
        detail["log_len"] = taken.log.data.len().into();
        detail["parameters"] = taken.params.records.into();
        detail["one_pass"] = fed.into();
        self.made.exported = Some(Exported {
            params: taken.params.data,
            params_count: taken.params.records,
            log: taken.log.data,
            log_count: taken.log.records,
            log_sha: taken.log.sha256,
        });
        Ok(detail)
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
                what: crate::tr!("verify-unsettled", count = status.unsettled),
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

    /// What the new unit's copy must be: from this run's export, else from the journal of
    /// a one-pass copy (a job resumed after it does not read the old unit's log again),
    /// else exported now.
    fn expected_log(&mut self) -> Result<LogId, JobError> {
        if self.made.exported.is_none()
            && let Some(id) = self.done.get(&Step::CopyData).and_then(LogId::from_detail)
        {
            return Ok(id);
        }
        self.ensure_exported()?;
        Ok(self.made.exported.as_ref().expect("exported").log_id())
    }

    fn verify_import(&mut self) -> Result<Value, JobError> {
        let expected = self.expected_log()?;
        self.replacement()?;
        let t = self.replacement.as_mut().expect("opened");
        // The new unit was blank, so what it stores must be the export byte for byte: its
        // own digest says so without a second pass over the line.
        let stored = match self.verify {
            super::Verify::Digest => t.digest(Object::TransactionLog)?,
            super::Verify::Full => None,
        };
        if let Some(d) = stored {
            if d.records != expected.records || d.sha256 != expected.sha256 || d.len as usize != expected.len {
                return Err(log_differs(d.records, &d.sha256, &expected));
            }
            self.made.moved = Some(d.records);
            return Ok(json!({ "records": d.records, "sha256": hex::encode(d.sha256), "by": "digest" }));
        }
        let got = t.export(Object::TransactionLog, &mut progress(self.observer, "verify"))?;
        if got.records != expected.records || got.sha256 != expected.sha256 {
            return Err(log_differs(got.records, &got.sha256, &expected));
        }
        let records = decode_log(&got.data).map_err(|e| JobError::Verification {
            step: "verify_import",
            what: e.to_string(),
        })?;
        let unique: std::collections::BTreeSet<&str> = records.iter().map(|r| r.rrn.as_str()).collect();
        if unique.len() != records.len() {
            return Err(JobError::Verification {
                step: "verify_import",
                what: crate::tr!("verify-duplicates"),
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
                        what: crate::tr!("verify-old-still-bound"),
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
                .map(|d| {
                    crate::tr!(
                        "verify-field-differs",
                        field = d.label(),
                        reads = d.from.as_str(),
                        expected = d.to.as_str()
                    )
                })
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
            return Err(JobError::AbortTooLate(self.job.id.clone()));
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
                    what: crate::tr!("verify-restore-readback"),
                });
            }
            undone.push("binding restored from the job's backup");
        }
        if self.order.operation == Operation::Migrate
            && [Step::ActivateNew, Step::CopyData, Step::ImportData, Step::BindNew]
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
