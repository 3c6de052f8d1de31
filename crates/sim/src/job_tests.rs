//! The job engine in-process: every procedure against simulated terminals served over
//! in-memory port pairs (`sim::inproc`), with the real store, backups and journal; stopped
//! before every step and resumed; refused where it must be.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::DEMO_SECRET;
use crate::domain::DeviceStatus;
use crate::faults::FaultSpec;
use crate::inproc::InProcess;
use crate::link::proto::Object;
use crate::profile::ProfileSet;
use crate::terminal::{DEFAULT_SETTLEMENT_SINCE, Seed, activation_code_for};
use posagent_core::config::Paths;
use posagent_core::job::*;
use posagent_core::order::{Operation, WorkOrder};
use posagent_core::store::Store;
use posagent_core::store::jobs::JobState;
use posagent_core::terminal::model::Binding;
use posagent_core::terminal::model::{AccountBinding, CardBinding, decode_log};
use posagent_core::terminal::{Secret, Terminal, TerminalError};

const PASSWORD: &[u8] = b"job-backup-password";
const LEGAL_REP_ID: &str = "110105194910010023";
const NEW_CARD: &str = "6228480011223344554";
const NEW_ACCOUNT: &str = "0012345678901";
const NEW_PHONE: &str = "13900001111";

/// Answers yes, draws nothing, and asks to stop before the `stop_before`-th step it runs.
#[derive(Default)]
struct Quiet {
    stop_before: Option<usize>,
    asked: Cell<usize>,
}

impl Observer for Quiet {
    fn step(&mut self, _: Step, _: StepStatus, _: &str) {}
    fn transfer(&mut self, _: &str, _: u64, _: u64) {}
    fn confirm(&mut self, _: &PlanSummary) -> bool {
        true
    }
    fn stop_requested(&self) -> bool {
        self.asked.set(self.asked.get() + 1);
        self.stop_before == Some(self.asked.get())
    }
}

/// A data directory, the simulated units and the order for one procedure.
struct World {
    _dir: tempfile::TempDir,
    paths: Paths,
    profiles: ProfileSet,
    sims: Arc<InProcess>,
    main: PathBuf,
    new: Option<PathBuf>,
    order_file: PathBuf,
    before: Binding,
    /// The old unit's transactions, by RRN.
    log: Vec<String>,
    copying: Copying,
}

fn seed<'a>(profile: &'a str, serial: &str, blank: bool, account: bool, transactions: u32) -> Seed<'a> {
    Seed {
        profile,
        seed: 7,
        transactions,
        blank,
        serial: Some(serial.to_string()),
        account,
        settlement_since: Some(DEFAULT_SETTLEMENT_SINCE.to_string()),
    }
}

fn profile_of(op: Operation) -> &'static str {
    match op {
        Operation::RebindCard | Operation::Migrate => "lakala",
        Operation::RebindAccount | Operation::Unbind => "ums",
        Operation::RebindPhone => "generic",
    }
}

impl World {
    fn new(op: Operation, faults: FaultSpec) -> World {
        World::disturbed(op, faults, FaultSpec::default(), 40)
    }

    /// A world whose units, once set up, inject `main_faults` and `new_faults`.
    fn disturbed(op: Operation, main_faults: FaultSpec, new_faults: FaultSpec, transactions: u32) -> World {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        // Local order files, as the tests write them, for every profile.
        let overrides = paths.profile_overrides();
        std::fs::create_dir_all(&overrides).unwrap();
        for name in ["lakala", "ums"] {
            let text =
                std::fs::read_to_string(format!("{}/../../profiles/{name}.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
            std::fs::write(
                overrides.join(format!("{name}.toml")),
                text.replace("require_signed = true", "require_signed = false"),
            )
            .unwrap();
        }
        let profiles = ProfileSet::load(&overrides).unwrap();
        let sims = InProcess::new();
        let profile = profile_of(op);
        let main = sims.add(
            "main",
            &seed(
                profile,
                "MAIN-0001",
                false,
                op == Operation::RebindAccount,
                transactions,
            ),
            FaultSpec::default(),
        );
        let new = (op == Operation::Migrate)
            .then(|| sims.add("new", &seed(profile, "NEW-0002", true, false, 0), FaultSpec::default()));
        let mut w = World {
            _dir: dir,
            paths,
            profiles,
            sims,
            main,
            new,
            order_file: PathBuf::new(),
            before: Binding::unbound(),
            log: Vec::new(),
            copying: Copying::default(),
        };
        let mut t = w.terminal(&w.main.clone());
        w.before = t.read_binding().unwrap();
        w.log = decode_log(&t.export(Object::TransactionLog, &mut |_, _| {}).unwrap().data)
            .unwrap()
            .into_iter()
            .map(|r| r.rrn)
            .collect();
        drop(t);
        w.order_file = w.write_order(op);
        // Armed only now, so that a byte-count unplug falls in the job, not in this setup.
        w.sims.with(&w.main, |sim| sim.arm(main_faults));
        if let Some(new) = &w.new {
            w.sims.with(new, |sim| sim.arm(new_faults));
        }
        w
    }

    fn terminal(&self, path: &Path) -> Terminal {
        let settings = self.profiles.get("generic").unwrap().serial.clone();
        let mut t = Terminal::open_with(self.sims.clone(), path, &settings).unwrap();
        t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec())).unwrap();
        t
    }

    fn write_order(&self, op: Operation) -> PathBuf {
        let b = &self.before;
        let mut f = vec![
            ("id", "WO-INPROC".to_string()),
            ("operation", op.to_string()),
            ("profile", profile_of(op).to_string()),
            ("merchant.mid", b.mid.as_ref().unwrap().to_string()),
            ("merchant.name", "Test Shop".to_string()),
            ("merchant.kind", "individual".to_string()),
            ("merchant.legal_rep_id", LEGAL_REP_ID.to_string()),
            ("expect.serial", "MAIN-0001".to_string()),
            ("expect.tid", b.tid.as_ref().unwrap().to_string()),
        ];
        let settles_to = match (&b.card, &b.account) {
            (Some(c), _) => ("expect.card_last4", c.pan.last4().to_string()),
            (None, Some(a)) => ("expect.account_last4", a.number.last4().to_string()),
            _ => unreachable!("generated units settle somewhere"),
        };
        match op {
            Operation::RebindCard => f.extend([
                settles_to,
                ("new.card", NEW_CARD.into()),
                ("new.holder", "李四".into()),
                ("new.expiry", "09/39".into()),
            ]),
            Operation::RebindAccount => f.extend([
                settles_to,
                ("reason", "bank-change".into()),
                ("new.account", NEW_ACCOUNT.into()),
                ("new.holder", "王五".into()),
                ("new.bank", "中国工商银行".into()),
                ("new.branch_code", "102100099996".into()),
            ]),
            Operation::RebindPhone => f.extend([
                ("expect.phone", b.phone.as_ref().unwrap().as_str().to_string()),
                ("new.phone", NEW_PHONE.into()),
                ("new.phone_path", "counter".into()),
                ("scan.holder_id", "holder-id.jpg".into()),
            ]),
            Operation::Unbind => f.push(("reason", "business-change".into())),
            Operation::Migrate => f.extend([
                ("reason", "device-replaced".into()),
                ("replacement.serial", "NEW-0002".into()),
                ("replacement.model", "A8".into()),
                ("replacement.activation_code", activation_code_for("NEW-0002")),
            ]),
        }
        let text: String = f.iter().map(|(k, v)| format!("{k} = \"{v}\"\n")).collect();
        std::fs::write(self.paths.data.join("holder-id.jpg"), b"scan of the holder's ID").unwrap();
        let path = self.paths.data.join("order.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn order(&self) -> WorkOrder {
        let (mut orders, report) = posagent_core::order::check_file(&self.order_file, &self.profiles).unwrap();
        assert!(report.valid, "{:?}", report.errors);
        orders.remove(0)
    }

    /// The job this world's order makes, with `secret` and `verify`.
    fn setup<'a>(&'a self, secret: &'a Secret, verify: Verify) -> JobSetup<'a> {
        let order = self.order();
        JobSetup {
            opener: self.sims.clone(),
            paths: &self.paths,
            profile: self.profiles.get(&order.profile).unwrap(),
            order,
            order_file: &self.order_file,
            port: &self.main,
            replacement_port: self.new.as_deref(),
            secret,
            backup_password: PASSWORD,
            technician: "tech-in-process",
            dry_run: false,
            cooldown_checked_by_provider: false,
            verify,
            copying: self.copying,
            signed: None,
            proof: self.proof(),
        }
    }

    /// Offline, the technician having seen the documents: the counter path works.
    fn proof(&self) -> Proof {
        Proof {
            provider: None,
            documents_checked: true,
        }
    }

    fn start(&self, observer: &mut dyn Observer) -> Result<JobOutcome, JobError> {
        let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
        start(self.setup(&secret, Verify::Digest), observer)
    }

    fn resume(&self, job: &str) -> Result<JobOutcome, JobError> {
        let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
        Continue {
            opener: self.sims.clone(),
            verify: Verify::Digest,
            order_keys: &posagent_core::signed::OrderKeys::default(),
            paths: &self.paths,
            profiles: &self.profiles,
            secret: &secret,
            backup_password: PASSWORD,
            port: Some(&self.main),
            replacement_port: self.new.as_deref(),
            proof: self.proof(),
        }
        .resume(job, &mut Quiet::default())
    }

    fn store(&self) -> Store {
        Store::open(&self.paths.data).unwrap()
    }

    /// What the main terminal must hold once the procedure is done.
    fn expected(&self, op: Operation) -> Binding {
        let b = self.before.clone();
        match op {
            Operation::RebindCard => Binding {
                card: Some(CardBinding {
                    pan: NEW_CARD.parse().unwrap(),
                    holder: "李四".parse().unwrap(),
                    expiry: Some("0939".into()),
                }),
                account: None,
                ..b
            },
            Operation::RebindAccount => Binding {
                account: Some(AccountBinding {
                    number: NEW_ACCOUNT.parse().unwrap(),
                    holder: "王五".parse().unwrap(),
                    bank: "中国工商银行".into(),
                    branch: "102100099996".parse().unwrap(),
                }),
                card: None,
                ..b
            },
            Operation::RebindPhone => Binding {
                phone: Some(NEW_PHONE.parse().unwrap()),
                ..b
            },
            Operation::Unbind | Operation::Migrate => Binding::unbound(),
        }
    }

    /// Every invariant of a finished job: done, one submission, an intact audit trail, the
    /// terminals holding exactly what the procedure set out to make, nothing lost or doubled.
    fn assert_finished(&self, op: Operation, ctx: &str) {
        let store = self.store();
        let jobs = store.jobs().unwrap();
        let done: Vec<_> = jobs.iter().filter(|j| j.state == JobState::Done).collect();
        assert_eq!(done.len(), 1, "{ctx}: {jobs:?}");
        assert!(store.submission_of_job(&done[0].id).unwrap().is_some(), "{ctx}");
        assert_eq!(store.submissions().unwrap().len(), 1, "{ctx}: one submission");
        assert!(store.verify_audit().unwrap().valid, "{ctx}: audit");
        assert_eq!(
            self.terminal(&self.main).read_binding().unwrap(),
            self.expected(op),
            "{ctx}"
        );
        if let Some(new) = &self.new {
            let mut t = self.terminal(new);
            assert_eq!(t.read_binding().unwrap(), self.before, "{ctx}: the new unit took over");
            let log = decode_log(&t.export(Object::TransactionLog, &mut |_, _| {}).unwrap().data).unwrap();
            for rrn in &self.log {
                let copies: Vec<_> = log.iter().filter(|r| &r.rrn == rrn).collect();
                assert_eq!(copies.len(), 1, "{ctx}: transaction {rrn} moved exactly once");
                assert!(copies[0].settled, "{ctx}: settled before the move");
            }
            // The profile's test transaction on the new unit is the only other record.
            assert_eq!(log.len(), self.log.len() + 1, "{ctx}");
        }
    }
}

fn steps_of(op: Operation, copying: Copying) -> usize {
    plan_with(op, ProfileSet::builtin().unwrap().get(profile_of(op)).unwrap(), copying).len()
}

#[test]
fn every_procedure_runs_to_done() {
    for op in Operation::ALL {
        let w = World::new(op, FaultSpec::default());
        let outcome = w.start(&mut Quiet::default()).unwrap_or_else(|e| panic!("{op}: {e}"));
        assert_eq!(outcome.job.state, JobState::Done, "{op}");
        w.assert_finished(op, &op.to_string());
    }
}

/// Stopped before each step in turn (as Ctrl-C does), then resumed: always the same end.
fn stop_before_every_step_then_resume(op: Operation) {
    stop_before_every_step_of(op, Copying::default());
}

fn stop_before_every_step_of(op: Operation, copying: Copying) {
    for k in 1..=steps_of(op, copying) {
        let mut w = World::new(op, FaultSpec::default());
        w.copying = copying;
        let mut stopping = Quiet {
            stop_before: Some(k),
            ..Quiet::default()
        };
        let ctx = format!("{op}, stopped before step {k}");
        match w.start(&mut stopping) {
            Err(JobError::Stopped { job, .. }) => {
                assert_eq!(
                    w.store().job(&job).unwrap().unwrap().state,
                    JobState::Interrupted,
                    "{ctx}"
                );
                w.resume(&job).unwrap_or_else(|e| panic!("{ctx}: resume: {e}"));
            }
            other => panic!("{ctx}: {other:?}"),
        }
        w.assert_finished(op, &ctx);
    }
}

#[test]
fn a_card_change_stopped_before_any_step_resumes_to_the_same_end() {
    stop_before_every_step_then_resume(Operation::RebindCard);
}

#[test]
fn an_account_change_stopped_before_any_step_resumes_to_the_same_end() {
    stop_before_every_step_then_resume(Operation::RebindAccount);
}

#[test]
fn a_phone_change_stopped_before_any_step_resumes_to_the_same_end() {
    stop_before_every_step_then_resume(Operation::RebindPhone);
}

#[test]
fn an_unbind_stopped_before_any_step_resumes_to_the_same_end() {
    stop_before_every_step_then_resume(Operation::Unbind);
}

#[test]
fn a_migration_stopped_before_any_step_resumes_to_the_same_end() {
    stop_before_every_step_then_resume(Operation::Migrate);
}

/// Transactions on the old unit for the mid-stream unplugs: its log deflates to about
/// 11 KB, six chunks.
const STREAM_TRANSACTIONS: u32 = 600;

/// Where the old unit's line is pulled: bytes into its session, measured to fall in the
/// middle of the log's export (after its third chunk of six; the import then waits for
/// the export to come back).
const MID_EXPORT: FaultSpec = FaultSpec::unplug_after_bytes(9_000);

/// Where the new unit's line is pulled: measured to fall in the middle of the log's
/// import (the checks and the activation take about 1 KB).
const MID_IMPORT: FaultSpec = FaultSpec::unplug_after_bytes(7_000);

/// A one-pass migration stopped after its copy and resumed verifies the new unit against
/// what the copy recorded: it does not read the old unit's log again.
#[test]
fn a_migration_resumed_after_its_copy_does_not_read_the_old_log_again() {
    let w = World::new(Operation::Migrate, FaultSpec::default());
    let steps = plan(Operation::Migrate, w.profiles.get("lakala").unwrap());
    let verify = steps.iter().position(|s| *s == Step::VerifyImport).unwrap();
    let mut stopping = Quiet {
        stop_before: Some(verify + 1),
        ..Quiet::default()
    };
    let job = match w.start(&mut stopping) {
        Err(JobError::Stopped { job, next, .. }) => {
            assert_eq!(next, "verify_import");
            job
        }
        other => panic!("{other:?}"),
    };
    let before = w.sims.with(&w.main, |sim| sim.log_exports);
    w.resume(&job).unwrap();
    w.assert_finished(Operation::Migrate, "resumed after the copy");
    // assert_finished reads neither log of the old unit.
    assert_eq!(w.sims.with(&w.main, |sim| sim.log_exports), before);
    assert_eq!(verified_by(&w), "digest");
}

/// The first release's way, kept for comparison: a job started so keeps it when resumed.
#[test]
fn a_migration_copied_step_after_step_stopped_before_any_step_resumes_to_the_same_end() {
    stop_before_every_step_of(Operation::Migrate, Copying::Sequential);
}

/// A one-pass copy with the old unit's line, then the new unit's, pulled in the middle of
/// the log: each side reconnects and carries on from where its terminal stands, and the job
/// ends as an undisturbed one does.
#[test]
fn a_one_pass_copy_rides_out_an_unplug_mid_stream_on_either_line() {
    for (old, new) in [(MID_EXPORT, FaultSpec::default()), (FaultSpec::default(), MID_IMPORT)] {
        let ctx = format!("unplugged: old {:?}, new {:?}", old.unplug_after, new.unplug_after);
        let w = World::disturbed(Operation::Migrate, old, new, STREAM_TRANSACTIONS);
        let outcome = w.start(&mut Quiet::default()).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        w.assert_finished(Operation::Migrate, &ctx);
        for unit in [&w.main, w.new.as_ref().unwrap()] {
            assert_eq!(
                w.sims.with(unit, |sim| sim.take_byte_unplug()),
                None,
                "{ctx}: the unplug happened"
            );
        }
        assert_eq!(outcome.link.reconnects, 1, "{ctx}");
    }
}

#[test]
fn an_unplug_at_every_changing_command_is_ridden_out() {
    for (op, cmd) in [
        (Operation::RebindCard, "unbind"),
        (Operation::RebindCard, "bind"),
        (Operation::RebindCard, "test_transaction"),
        (Operation::RebindPhone, "reboot"),
        (Operation::Unbind, "settle"),
        (Operation::Migrate, "settle"),
        (Operation::Migrate, "unbind"),
    ] {
        for when in ["unplug_before", "unplug_after"] {
            let faults: FaultSpec = format!("{when}={cmd}").parse().unwrap();
            let w = World::new(op, faults);
            let ctx = format!("{op} with {when}={cmd}");
            if let Err(e) = w.start(&mut Quiet::default()) {
                let job = w.store().jobs().unwrap().remove(0);
                assert_ne!(job.state, JobState::Done, "{ctx}: {e}");
                w.resume(&job.id).unwrap_or_else(|e| panic!("{ctx}: resume: {e}"));
            }
            w.assert_finished(op, &ctx);
        }
    }
}

#[test]
fn a_mismatched_binding_or_a_wrong_secret_is_refused_and_nothing_changes() {
    let w = World::new(Operation::RebindCard, FaultSpec::default());
    let text = std::fs::read_to_string(&w.order_file).unwrap();
    let tid = w.before.tid.as_ref().unwrap().to_string();
    std::fs::write(&w.order_file, text.replace(&tid, "ZZ999999")).unwrap();
    match w.start(&mut Quiet::default()) {
        Err(JobError::Refused { step, reason, .. }) => {
            assert_eq!(step, "compare_binding");
            assert!(reason.contains("expect.tid"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.terminal(&w.main).read_binding().unwrap(), w.before);
    assert_eq!(w.store().jobs().unwrap()[0].state, JobState::Refused);
    assert!(w.store().backups().unwrap().is_empty(), "refused before the backup");

    let w = World::new(Operation::RebindCard, FaultSpec::default());
    let wrong = Secret::new(b"not-the-secret".to_vec());
    let e = start(w.setup(&wrong, Verify::Digest), &mut Quiet::default()).unwrap_err();
    assert!(
        matches!(e, JobError::Terminal(TerminalError::WrongSecret { .. })),
        "{e}"
    );
    assert_eq!(w.terminal(&w.main).read_binding().unwrap(), w.before);
}

#[test]
fn a_replacement_that_is_already_bound_is_refused_before_the_old_unit_changes() {
    let mut w = World::new(Operation::Migrate, FaultSpec::default());
    let bound = w.sims.add(
        "bound",
        &seed("lakala", "NEW-0002", false, false, 40),
        FaultSpec::default(),
    );
    w.new = Some(bound);
    match w.start(&mut Quiet::default()) {
        Err(JobError::Refused { step, .. }) => assert_eq!(step, "check_replacement"),
        other => panic!("{other:?}"),
    }
    let main = w.main.clone();
    assert_eq!(w.terminal(&main).read_binding().unwrap(), w.before);
    assert_eq!(w.terminal(&main).status().unwrap().status, DeviceStatus::Bound);
}

/// The detail the verify_import step journaled.
fn verified_by(w: &World) -> String {
    let store = w.store();
    let job = store.jobs().unwrap().remove(0);
    let e = store
        .journal_of(&job.id)
        .unwrap()
        .into_iter()
        .find(|e| e.step == "verify_import" && e.phase == "done")
        .unwrap();
    e.detail["by"].as_str().unwrap().to_string()
}

#[test]
fn a_migration_verifies_by_digest_unless_told_to_read_back_or_the_terminal_cannot() {
    let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
    let w = World::new(Operation::Migrate, FaultSpec::default());
    start(w.setup(&secret, Verify::Digest), &mut Quiet::default()).unwrap();
    w.assert_finished(Operation::Migrate, "digest");
    assert_eq!(verified_by(&w), "digest");

    let w = World::new(Operation::Migrate, FaultSpec::default());
    start(w.setup(&secret, Verify::Full), &mut Quiet::default()).unwrap();
    w.assert_finished(Operation::Migrate, "full");
    assert_eq!(verified_by(&w), "read-back");

    // A terminal of the first protocol release has no DIGEST: read back, as before.
    let w = World::new(Operation::Migrate, FaultSpec::default());
    w.sims.with(w.new.as_ref().unwrap(), |s| s.legacy = true);
    start(w.setup(&secret, Verify::Digest), &mut Quiet::default()).unwrap();
    w.assert_finished(Operation::Migrate, "legacy");
    assert_eq!(verified_by(&w), "read-back");
}
