//! What each step of the five procedures does, and what makes [`Change`] a procedure the
//! engine runs (the changes to confirm, what the terminal holds, the roll-back). Every step
//! looks at the terminal before it acts, so running it a second time after an
//! interruption is safe.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use super::JobOutcome;
use super::change::{Change, Exported, plan_with};
use super::engine::{Common, Procedure};
use super::{JobError, Observer, Step, kill_point_in};
use crate::backup::{self};
use crate::domain::DeviceStatus;
use crate::journal::{self as j, StepRecord};
use crate::link::proto::Object;
use crate::order::Operation;
use crate::store::jobs::CardEvent;
use crate::terminal::model::{AccountBinding, Binding, CardBinding, Difference, decode_log, encode_params};
use crate::terminal::{Feed, Terminal};

/// How often a one-pass copy reports the import's progress once the export is done.
const REPORT_EVERY: Duration = Duration::from_millis(100);

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
    /// From the journal record of a one-pass copy.
    fn from_copy(d: &j::Copied) -> Option<LogId> {
        Some(LogId {
            records: d.records,
            sha256: hex::decode(&d.log_sha256).ok()?.try_into().ok()?,
            len: usize::try_from(d.log_len).ok()?,
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

/// One field where the terminal differs from the order: its name as people read it,
/// and as the order file spells it.
fn mismatch(field: &str, order: String, terminal: String) -> String {
    crate::tr!(
        "mismatch-field",
        field = crate::procedure::field_label(field),
        key = field,
        order = order,
        terminal = terminal
    )
}

/// Items of a list in one sentence, joined as the current language joins them.
fn listed(items: &[String]) -> String {
    items.join(&crate::tr!("list-separator"))
}

/// Tells `observer` how transfer `what` goes.
fn transfer(observer: &mut dyn Observer, what: &str, done: u64, total: u64) {
    observer.event(&super::Event::Transfer { what, done, total });
}

/// A progress callback that reports to the observer and honours the transfer kill point.
fn progress<'o>(observer: &'o mut dyn Observer, label: &'o str) -> impl FnMut(u64, u64) + 'o {
    move |done, total| {
        transfer(observer, label, done, total);
        kill_point_in(label, done, total);
    }
}

fn shown<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| crate::tr!("value-nothing"), |x| x.to_string())
}

impl<'a> Procedure<'a> for Change<'a> {
    fn common(&mut self) -> &mut Common<'a> {
        &mut self.c
    }

    fn steps(&self) -> Vec<Step> {
        plan_with(self.order.operation, self.profile, self.options.copying)
    }

    fn exec(&mut self, step: Step) -> Result<StepRecord, JobError> {
        self.run(step)
    }

    fn reconnect(&mut self) -> Result<(), JobError> {
        self.main.reconnect()?;
        if let Some(r) = self.replacement.as_mut() {
            r.reconnect()?;
        }
        Ok(())
    }

    fn changes(&mut self) -> Vec<Difference> {
        self.planned_changes()
    }

    fn terminal_state(&self) -> String {
        let last = self
            .steps()
            .into_iter()
            .rev()
            .find(|s| !s.is_check() && self.c.done.contains_key(s));
        let what = match last {
            None => return crate::tr!("state-unchanged"),
            Some(Step::Backup) => crate::tr!("state-backed-up"),
            Some(Step::Settle) => crate::tr!("state-settled"),
            Some(Step::ExportData | Step::ActivateNew | Step::CopyData | Step::ImportData | Step::VerifyImport) => {
                crate::tr!("state-data-moving")
            }
            Some(Step::UnbindOld) => crate::tr!("state-unbound"),
            Some(Step::BindNew | Step::Reboot) => crate::tr!("state-bound-unverified"),
            Some(_) => crate::tr!("state-bound-verified"),
        };
        crate::tr!(
            "state-last-step",
            step = last.map(Step::label).unwrap_or_default(),
            what = what
        )
    }

    fn roll_back(&mut self) -> Result<Vec<String>, JobError> {
        self.undo()
    }

    fn outcome(&mut self, changes: Vec<Difference>) -> Result<JobOutcome, JobError> {
        let job = self.c.store.job(&self.c.job.id)?.unwrap_or_else(|| self.c.job.clone());
        let submission_id = match self.c.done.get(&Step::Record) {
            Some(StepRecord::Recorded(r)) => r.submission.clone(),
            _ => None,
        };
        let mut link = self.main.stats();
        if let Some(r) = &self.replacement {
            link.absorb(&r.stats());
        }
        if job.state == crate::store::jobs::JobState::Aborted && self.made.after.is_none() {
            self.made.after = Some(self.main.read_binding()?);
        }
        Ok(JobOutcome {
            receipt: Default::default(),
            backup_file: job.backup_file.clone(),
            plan: self.summary(changes),
            job,
            submission_id,
            test_transaction: self.made.test.clone(),
            transactions_moved: self.made.moved,
            binding_after: self.made.after.clone(),
            link,
        })
    }
}

impl Change<'_> {
    pub(super) fn run(&mut self, step: Step) -> Result<StepRecord, JobError> {
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
                let record = StepRecord::Exported(j::Exported {
                    records: e.log_count,
                    parameters: e.params_count,
                    sha256: hex::encode(e.log_sha),
                });
                self.made.exported = Some(e);
                Ok(record)
            }
            Step::ActivateNew => self.activate_new(),
            Step::CopyData => self.copy_data(),
            Step::ImportData => self.import_data(),
            Step::VerifyImport => self.verify_import(),
            Step::UnbindOld => self.unbind_old(),
            Step::BindNew => self.bind_new(),
            Step::Reboot => {
                self.main.reboot()?;
                Ok(StepRecord::Nothing(j::Nothing {}))
            }
            Step::Verify => self.verify(),
            Step::TestTransaction => self.run_test_transaction(),
            Step::Record => self.record(),
            Step::RestoreBinding | Step::RestoreParameters => Err(JobError::NotInPlan {
                step: step.label(),
                operation: self.order.operation.label(),
            }),
        }
    }

    fn check_identity(&mut self) -> Result<StepRecord, JobError> {
        let id = self.main.identify()?;
        if id.serial != self.c.job.terminal_serial {
            return Err(refused(
                Step::CheckIdentity,
                "another_unit",
                crate::tr!(
                    "refused-other-terminal",
                    expected = self.c.job.terminal_serial.as_str(),
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
        Ok(StepRecord::Identity(j::Identified {
            serial: id.serial,
            vendor: Some(id.vendor),
            model: Some(id.model),
            firmware: Some(id.firmware),
            archive_of: None,
        }))
    }

    fn authenticate(&mut self) -> Result<StepRecord, JobError> {
        self.main.authenticate(self.c.secret)?;
        Ok(StepRecord::Authenticated(j::Authenticated { authenticated: true }))
    }

    /// The replacement unit, opened and authenticated on first use.
    fn replacement(&mut self) -> Result<&mut Terminal, JobError> {
        if self.replacement.is_none() {
            let port = self
                .replacement_port
                .clone()
                .ok_or(super::OrderProblem::NoReplacementPort)?;
            let mut t = Terminal::open_with(self.opener.clone(), &port, &self.profile.serial)?;
            t.authenticate(self.c.secret)?;
            // Before the confirmation this is the gate's (the replacement's change must be
            // the one it is at); after it, what its changes carry.
            let serial = t.identify()?.serial;
            self.grants.replacement = super::gate::grant(
                self.signed.as_ref(),
                &self.order_keys,
                &mut t,
                &serial,
                crate::authority::Operation::MigrateIn,
                self.c.confirmed,
            )?;
            self.replacement = Some(t);
        }
        Ok(self.replacement.as_mut().expect("just opened"))
    }

    fn compare_binding(&mut self) -> Result<StepRecord, JobError> {
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
            wrong.push(mismatch("expect.status", status.label(), b.status.label()));
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
                crate::tr!("refused-binding-mismatch", problems = listed(&wrong)),
            ));
        }
        let record = StepRecord::Binding(j::BindingSeen { binding: b.masked() });
        self.made.original = Some(b);
        Ok(record)
    }

    fn check_documents(&mut self) -> Result<StepRecord, JobError> {
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
            digests.push(j::DocumentDigest {
                file: f.file_name().map(|n| n.to_string_lossy().to_string()),
                sha256: sha,
            });
        }
        Ok(StepRecord::Documents(j::Documents { documents: digests }))
    }

    fn check_cooldown(&mut self) -> Result<StepRecord, JobError> {
        let days = self.profile.settlement.card_cooldown_days;
        let record = |by, clear_from, settlement_since| {
            StepRecord::Cooldown(j::Cooldown {
                cooldown_days: days,
                cooldown_checked_by: by,
                clear_from,
                settlement_since,
            })
        };
        let Some(card) = self.order.new.card.clone() else {
            return Ok(record(None, None, None));
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
        if let Some(at) = self
            .c
            .store
            .card_last_unbound(&self.c.keys.card_id(card.expose_full()))?
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
            return Ok(record(Some(j::CooldownBy::SignedOrder), Some(from), None));
        }
        // A profile without a cooldown of its own: the provider's signed check was all.
        if days == 0 {
            return Ok(record(None, None, None));
        }
        // The provider's rule is per merchant: one settlement-card change per cooldown.
        // What the agent can know offline: its own record of changes for this merchant on
        // any terminal, and the date the terminal says its settlement was bound.
        let mid = self.order.merchant.mid.clone();
        let mut known = Vec::new();
        if let Some(at) = self.c.store.last_card_change_for_merchant(mid.as_str())?
            && let Ok(when) = chrono::DateTime::parse_from_rfc3339(&at)
        {
            known.push((
                crate::tr!("cooldown-by-agent"),
                when.with_timezone(&chrono::Local).date_naive(),
            ));
        }
        let since = self.main.status()?.settlement_since;
        if let Some(d) = since.filter(|d| *d > today) {
            return Err(refused(
                Step::CheckCooldown,
                "bind_date_in_future",
                crate::tr!(
                    "refused-bind-date-future",
                    date = d.to_string(),
                    today = today.to_string()
                ),
            ));
        }
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
            if !self.options.cooldown_checked_by_provider {
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
            return Ok(record(Some(j::CooldownBy::Technician), None, None));
        }
        Ok(record(None, None, since))
    }

    fn check_replacement(&mut self) -> Result<StepRecord, JobError> {
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
        Ok(StepRecord::Replacement(j::ReplacementSeen {
            serial: id.serial,
            model: id.model,
            status: b.status,
        }))
    }

    fn backup(&mut self) -> Result<StepRecord, JobError> {
        let taken = self.take_backup(None, &mut |_| {})?;
        Ok(StepRecord::Backup(j::BackupKept {
            file: taken.record.file,
            sha256: taken.written.sha256,
            transactions: u64::from(taken.contents.log.records),
        }))
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
        let taken = self
            .c
            .take_backup(&mut self.main, &self.profile.name, evidence, feed, also)?;
        self.made.original = Some(taken.contents.binding.clone());
        Ok(taken)
    }

    /// A one-pass migration's copy: one export of the (settled) old unit is the backup and,
    /// on the other line at the same time, the new unit's import, which is committed only
    /// once the export's SHA-256 and record count have checked. The backup is written and
    /// verified before the step is done; nothing on the old unit changes here.
    fn copy_data(&mut self) -> Result<StepRecord, JobError> {
        let mut new = match self.replacement.take() {
            Some(t) => t,
            None => {
                self.replacement()?;
                self.replacement.take().expect("opened")
            }
        };
        let feed = Feed::default();
        let imported = [AtomicU64::new(0), AtomicU64::new(0)];
        // Dropped when the importer ends, however it ends: the step goes on at once.
        let (ended, importer_ended) = std::sync::mpsc::channel::<()>();
        let (taken, fed) = std::thread::scope(|s| {
            let importer = s.spawn(|| {
                let _ended = ended;
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
                    transfer(observer, "import", done, imported[1].load(Ordering::Relaxed));
                }
            };
            let taken = {
                let _unfinished = feed.until_exported();
                self.take_backup(Some(&feed), &mut report)
            };
            while let Err(RecvTimeoutError::Timeout) = importer_ended.recv_timeout(REPORT_EVERY) {
                report(self.c.observer);
            }
            report(self.c.observer);
            let fed = importer.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            (taken, fed)
        });
        self.replacement = Some(new);
        let (taken, fed) = (taken?, fed?);
        let new = self.replacement.as_mut().expect("put back");
        let mut cb = progress(self.c.observer, "import");
        if !fed {
            // The log came in an encoding the new unit did not agree on: sent as it is.
            let log = &taken.contents.log;
            new.import(Object::TransactionLog, &log.data, log.records, &mut cb)?;
        }
        new.import(Object::Parameters, &taken.params.data, taken.params.records, &mut cb)?;
        let record = StepRecord::Copied(j::Copied {
            file: taken.record.file,
            sha256: taken.written.sha256,
            transactions: u64::from(taken.contents.log.records),
            records: taken.contents.log.records,
            log_sha256: hex::encode(taken.contents.log.sha256),
            log_len: taken.contents.log.data.len() as u64,
            parameters: taken.params.records,
            one_pass: fed,
        });
        // The log is not kept: what later steps check the new unit's copy against is in
        // this step's record (see `expected_log`). A depot's jobs hold no decoded log while
        // their last steps wait for the processor.
        Ok(record)
    }

    /// The binding before the job: from this run, else from the job's backup.
    pub(super) fn original(&mut self) -> Result<Binding, JobError> {
        if let Some(b) = &self.made.original {
            return Ok(b.clone());
        }
        let b = match &self.c.job.backup_file {
            Some(f) => backup::read_archive(Path::new(f), self.c.backup_password)?.binding,
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
        super::change::new_card(&self.order)
    }

    fn new_account(&self) -> Option<AccountBinding> {
        super::change::new_account(&self.order)
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

    fn settle(&mut self) -> Result<StepRecord, JobError> {
        let settled = self.main.settle()?;
        let status = self.main.status()?;
        if status.unsettled != 0 {
            return Err(JobError::Verification {
                step: "settle",
                what: crate::tr!("verify-unsettled", count = status.unsettled),
            });
        }
        Ok(StepRecord::Settled(j::Settled {
            settled,
            transactions: status.transactions,
        }))
    }

    fn export_old(&mut self) -> Result<Exported, JobError> {
        let mut cb = progress(self.c.observer, "export");
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

    fn activate_new(&mut self) -> Result<StepRecord, JobError> {
        let code = self
            .order
            .replacement
            .as_ref()
            .and_then(|r| r.activation_code.clone())
            .unwrap_or_default();
        self.replacement()?;
        let t = self.replacement.as_mut().expect("opened");
        if t.status()?.status == DeviceStatus::Unbound {
            t.activate(&code, self.grants.replacement.as_ref())?;
        }
        Ok(StepRecord::Activated(j::Activated {
            status: t.status()?.status,
        }))
    }

    fn ensure_exported(&mut self) -> Result<(), JobError> {
        if self.made.exported.is_none() {
            self.made.exported = Some(self.export_old()?);
        }
        Ok(())
    }

    fn import_data(&mut self) -> Result<StepRecord, JobError> {
        self.ensure_exported()?;
        self.replacement()?;
        let ex = self.made.exported.as_ref().expect("exported");
        let t = self.replacement.as_mut().expect("opened");
        let mut cb = progress(self.c.observer, "import");
        t.import(Object::Parameters, &ex.params, ex.params_count, &mut cb)?;
        t.import(Object::TransactionLog, &ex.log, ex.log_count, &mut cb)?;
        Ok(StepRecord::Imported(j::Imported {
            records: ex.log_count,
            parameters: ex.params_count,
        }))
    }

    /// What the new unit's copy must be: from the record of a one-pass copy (in this run or
    /// the journal of one before: a job resumed after it does not read the old unit's log
    /// again), else from this run's export, else exported now.
    fn expected_log(&mut self) -> Result<LogId, JobError> {
        if self.made.exported.is_none()
            && let Some(StepRecord::Copied(copied)) = self.c.done.get(&Step::CopyData)
            && let Some(id) = LogId::from_copy(copied)
        {
            return Ok(id);
        }
        self.ensure_exported()?;
        Ok(self.made.exported.as_ref().expect("exported").log_id())
    }

    fn verify_import(&mut self) -> Result<StepRecord, JobError> {
        let expected = self.expected_log()?;
        self.replacement()?;
        let t = self.replacement.as_mut().expect("opened");
        // The new unit was blank, so what it stores must be the export byte for byte: its
        // own digest says so without a second pass over the line.
        let stored = match self.options.verify {
            super::Verify::Digest => t.digest(Object::TransactionLog)?,
            super::Verify::Full => None,
        };
        if let Some(d) = stored {
            if d.records != expected.records || d.sha256 != expected.sha256 || d.len as usize != expected.len {
                return Err(log_differs(d.records, &d.sha256, &expected));
            }
            self.made.moved = Some(d.records);
            return Ok(StepRecord::ImportVerified(j::ImportVerified {
                records: d.records,
                sha256: hex::encode(d.sha256),
                by: j::CheckedBy::Digest,
            }));
        }
        let got = t.export(Object::TransactionLog, &mut progress(self.c.observer, "verify"))?;
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
        Ok(StepRecord::ImportVerified(j::ImportVerified {
            records: got.records,
            sha256: hex::encode(got.sha256),
            by: j::CheckedBy::ReadBack,
        }))
    }

    fn unbind_old(&mut self) -> Result<StepRecord, JobError> {
        use crate::terminal::BindingPart;
        match self.order.operation {
            // Whatever it settles to now goes, card or account: a card-settled terminal
            // can move to an account and the reverse.
            Operation::RebindCard | Operation::RebindAccount => {
                let now = self.main.read_binding()?;
                let grant = self.grants.main.as_ref();
                if now.card.is_some() {
                    self.main.unbind(BindingPart::Card, grant)?;
                }
                if now.account.is_some() {
                    self.main.unbind(BindingPart::Account, grant)?;
                }
            }
            Operation::RebindPhone => self.main.unbind(BindingPart::Phone, self.grants.main.as_ref())?,
            Operation::Unbind | Operation::Migrate => {
                if self.main.read_binding()?.status != DeviceStatus::Unbound {
                    self.main.unbind(BindingPart::Device, self.grants.main.as_ref())?;
                }
            }
        }
        Ok(StepRecord::Nothing(j::Nothing {}))
    }

    fn bind_new(&mut self) -> Result<StepRecord, JobError> {
        let target = self.expected()?;
        match self.order.operation {
            Operation::Migrate => {
                self.replacement()?;
                let t = self.replacement.as_mut().expect("opened");
                // Bound already (by a run cut off before it could journal it): its
                // authorisation is spent, and nothing is left to do.
                if t.read_binding()? != target {
                    t.bind(&target, self.grants.replacement.as_ref())?;
                }
            }
            // A rebind writes what it changes, and only that: what the provider authorised.
            _ if self.main.read_binding()? == target => {}
            _ => {
                let items = super::change::rebind_items(&self.order).ok_or_else(|| JobError::Verification {
                    step: "bind_new",
                    what: crate::tr!("bind-nothing", operation = self.order.operation.as_str()),
                })?;
                self.main.bind_items(items, self.grants.main.as_ref())?;
            }
        }
        if self.order.operation == Operation::RebindCard {
            self.apply_settlement_params()?;
        }
        Ok(StepRecord::Nothing(j::Nothing {}))
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

    fn verify(&mut self) -> Result<StepRecord, JobError> {
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
                        reads = d.shown_from(),
                        expected = d.shown_to()
                    )
                })
                .collect::<Vec<_>>();
            let what = listed(&what);
            return Err(JobError::Verification { step: "verify", what });
        }
        let record = StepRecord::Binding(j::BindingSeen { binding: now.masked() });
        self.made.after = Some(now);
        Ok(record)
    }

    fn run_test_transaction(&mut self) -> Result<StepRecord, JobError> {
        let amount = self.profile.test_transaction.amount_fen;
        // A reference of the job's own: asking again returns the same transaction.
        let id = self.c.job.id.replace('-', "").to_uppercase();
        let reference = format!("T{}", &id[id.len() - 11..]);
        let t = match self.order.operation {
            Operation::Migrate => self.replacement()?,
            _ => &mut self.main,
        };
        let r = t.test_transaction(amount, &reference)?;
        let record = StepRecord::Test(j::Tested {
            amount_fen: r.amount_fen,
            auth_code: r.auth_code.clone(),
            rrn: r.rrn.clone(),
        });
        self.made.test = Some(r);
        Ok(record)
    }

    fn record(&mut self) -> Result<StepRecord, JobError> {
        let submission = self.submission()?;
        let mut cards = Vec::new();
        let old_card = self.original()?.card.map(|c| c.pan);
        if matches!(self.order.operation, Operation::RebindCard | Operation::Unbind)
            && let Some(pan) = old_card
        {
            cards.push(CardEvent {
                card_id: self.c.keys.card_id(pan.expose_full()),
                terminal: self.c.job.terminal_serial.clone(),
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
                card_id: self.c.keys.card_id(pan.expose_full()),
                terminal: self.c.job.terminal_serial.clone(),
                bound: true,
            });
        }
        self.c.store.finish_job(&self.c.job, &submission, &cards)?;
        Ok(StepRecord::Recorded(j::Recorded {
            submission: Some(submission.id),
            restored_from: None,
        }))
    }

    /// Rolls back: puts the backed-up binding on the terminal and undoes the new unit;
    /// what it undid, in words.
    pub(super) fn undo(&mut self) -> Result<Vec<String>, JobError> {
        let touched: std::collections::BTreeSet<Step> = self
            .c
            .store
            .journal_of(&self.c.job.id)?
            .into_iter()
            .filter_map(|e| match e.entry {
                j::Entry::Intent(step) => Some(step),
                _ => None,
            })
            .collect();
        let was = |s: Step| touched.contains(&s);
        // A unit unbound whole is deactivated: only the provider's activation code could
        // bring it back, so an unbind or a migration past that point only rolls forward.
        if matches!(self.order.operation, Operation::Migrate | Operation::Unbind) && was(Step::UnbindOld) {
            return Err(JobError::AbortTooLate(self.c.job.id.clone()));
        }
        self.main.authenticate(self.c.secret)?;
        if super::gate::spent(self.grants.main.as_ref(), &mut self.main)? {
            return Err(JobError::AuthorisationSpent(self.c.job.id.clone()));
        }
        let mut undone = Vec::new();
        if [Step::UnbindOld, Step::BindNew, Step::Reboot].into_iter().any(was) {
            let original = self.original()?;
            self.main.apply_binding(&original, self.grants.main.as_ref())?;
            let now = self.main.read_binding()?;
            if now != original {
                return Err(JobError::Verification {
                    step: "abort",
                    what: crate::tr!("verify-restore-readback"),
                });
            }
            undone.push("binding restored from the job's backup".to_string());
        }
        if self.order.operation == Operation::Migrate
            && [Step::ActivateNew, Step::CopyData, Step::ImportData, Step::BindNew]
                .into_iter()
                .any(was)
        {
            self.replacement()?;
            let t = self.replacement.as_mut().expect("opened");
            if t.read_binding()?.status != DeviceStatus::Unbound {
                t.settle()?;
                t.unbind(crate::terminal::BindingPart::Device, self.grants.replacement.as_ref())?;
            }
            undone.push("replacement unit unbound".to_string());
        }
        self.made.after = Some(self.main.read_binding()?);
        Ok(undone)
    }
}
