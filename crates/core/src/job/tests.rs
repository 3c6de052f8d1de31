//! The job engine in process, through the application layer, as every door reaches it:
//! each procedure against simulated terminals served over in-memory port pairs
//! (`testkit::inproc`), with the real store, backups and journal; stopped before every step,
//! unplugged at every changing command, refused and stopped at the prompt; then resumed,
//! aborted or started again.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::agent::Agent;
use crate::agent::plan::{Next, RunWith, Source};
use crate::config::Paths;
use crate::domain::DeviceStatus;
use crate::link::proto::Object;
use crate::order::Operation;
use crate::profile::ProfileSet;
use crate::store::Store;
use crate::store::jobs::JobState;
use crate::terminal::model::{AccountBinding, Binding, CardBinding, decode_log};
use crate::terminal::{Secret, Terminal};
use crate::testkit::DEMO_SECRET;
use crate::testkit::faults::FaultSpec;
use crate::testkit::inproc::InProcess;
use crate::testkit::issuer::Issuer;
use crate::testkit::terminal::{DEFAULT_SETTLEMENT_SINCE, Seed, activation_code_for};

const PASSWORD: &[u8] = b"job-backup-password";
const TECH: &str = "tech-in-process";
const ORDER_ID: &str = "WO-INPROC";
const LEGAL_REP_ID: &str = "110105194910010023";
const NEW_CARD: &str = "6228480011223344554";
const NEW_ACCOUNT: &str = "0012345678901";
const NEW_PHONE: &str = "13900001111";

/// Answers the prompt with `answer`, draws nothing, and asks to stop before the
/// `stop_before`-th step it runs.
struct Quiet {
    stop_before: Option<usize>,
    asked: Cell<usize>,
    answer: Decision,
    /// How often it was asked to confirm, and whether it said yes.
    prompted: usize,
    confirmed: bool,
}

impl Default for Quiet {
    fn default() -> Quiet {
        Quiet {
            stop_before: None,
            asked: Cell::new(0),
            answer: Decision::Yes,
            prompted: 0,
            confirmed: false,
        }
    }
}

impl Quiet {
    fn stopping_before(k: usize) -> Quiet {
        Quiet {
            stop_before: Some(k),
            ..Quiet::default()
        }
    }

    fn answering(answer: Decision) -> Quiet {
        Quiet {
            answer,
            ..Quiet::default()
        }
    }
}

impl Observer for Quiet {
    fn event(&mut self, _: &Event<'_>) {}

    fn confirm(&mut self, _: &PlanSummary) -> Decision {
        self.prompted += 1;
        self.confirmed |= self.answer == Decision::Yes;
        self.answer
    }

    fn stop_requested(&self) -> bool {
        self.asked.set(self.asked.get() + 1);
        self.stop_before == Some(self.asked.get())
    }
}

/// Which door a job comes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    /// A command with a local order file (`posagent rebind … --order FILE`).
    LocalFile,
    /// A command with a pulled order's id (`--order WO-…`).
    Pulled,
    /// A row of a plan (`posagent run PLAN`).
    PlanRow,
    /// The console's wizard: a pulled order, its terminals found among free ports.
    Console,
}

const DOORS: [Door; 4] = [Door::LocalFile, Door::Pulled, Door::PlanRow, Door::Console];

impl Door {
    /// Whether the door takes the provider's signed orders (to terminals that enforce its
    /// authority), or local order files (to terminals of the generic profile).
    fn signed(self) -> bool {
        matches!(self, Door::Pulled | Door::Console)
    }
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

/// The provider profile whose terminals a signed order of `op` changes.
fn profile_of(op: Operation) -> &'static str {
    match op {
        Operation::RebindCard | Operation::Migrate | Operation::RebindPhone => "lakala",
        Operation::RebindAccount | Operation::Unbind => "ums",
    }
}

/// A scratch directory, in memory where the machine has one (the matrix writes thousands
/// of journals; their fsyncs need not reach a disk).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap_or_else(|_| tempfile::tempdir().unwrap())
    } else {
        tempfile::tempdir().unwrap()
    }
}

/// A data directory, the simulated units and the order for one procedure, local and
/// pulled.
struct World {
    _dir: tempfile::TempDir,
    paths: Paths,
    sims: Arc<InProcess>,
    main: PathBuf,
    new: Option<PathBuf>,
    op: Operation,
    order_file: PathBuf,
    before: Binding,
    /// The old unit's transactions, by RRN.
    log: Vec<String>,
    copying: Copying,
    verify: Verify,
    /// The replacement's model, as it says.
    new_model: String,
    /// A provider's terminals, which enforce its authority, and its signed order; else
    /// terminals of the generic profile and a local order file.
    signed: bool,
}

impl World {
    /// Generic terminals and a local order file.
    fn new(op: Operation, faults: FaultSpec) -> World {
        World::disturbed(op, false, faults, FaultSpec::default(), 40)
    }

    /// A provider's terminals and its signed order, pulled.
    fn signed(op: Operation) -> World {
        World::disturbed(op, true, FaultSpec::default(), FaultSpec::default(), 40)
    }

    /// The world for `door`.
    fn through(door: Door, op: Operation) -> World {
        World::disturbed(op, door.signed(), FaultSpec::default(), FaultSpec::default(), 40)
    }

    /// A world whose units, once set up, inject `main_faults` and `new_faults`.
    fn disturbed(
        op: Operation,
        signed: bool,
        main_faults: FaultSpec,
        new_faults: FaultSpec,
        transactions: u32,
    ) -> World {
        let dir = scratch();
        let paths = Paths::under(dir.path());
        let sims = InProcess::new();
        let profile = if signed { profile_of(op) } else { "generic" };
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
            sims,
            main,
            new,
            op,
            order_file: PathBuf::new(),
            before: Binding::unbound(),
            log: Vec::new(),
            copying: Copying::default(),
            verify: Verify::Digest,
            new_model: String::new(),
            signed,
        };
        if let Some(new) = w.new.clone() {
            w.new_model = w.terminal(&new).identify().unwrap().model;
        }
        let mut t = w.terminal(&w.main.clone());
        w.before = t.read_binding().unwrap();
        w.log = decode_log(&t.export(Object::TransactionLog, &mut |_, _| {}).unwrap().data)
            .unwrap()
            .into_iter()
            .map(|r| r.rrn)
            .collect();
        drop(t);
        w.order_file = w.write_order();
        std::fs::write(w.paths.config_file(), format!("technician = \"{TECH}\"\n")).unwrap();
        if signed {
            w.issue();
        }
        // Armed only now, so that a byte-count unplug falls in the job, not in this setup.
        w.sims.with(&w.main, |sim| sim.arm(main_faults));
        if let Some(new) = &w.new {
            w.sims.with(new, |sim| sim.arm(new_faults));
        }
        w
    }

    /// The profile of the world's terminals.
    fn profile(&self) -> &'static str {
        if self.signed { profile_of(self.op) } else { "generic" }
    }

    /// The provider issues the world's order, signed, with the authorisations of the
    /// terminals it changes (each for the change it is at), and the data directory pulls it.
    fn issue(&self) {
        use crate::authority::{Grant, Operation as AuthOp, bind_items, target_digest};
        let issuer = Issuer::trusted_by(&self.paths, TECH, self.profile());
        let not_after = crate::sync::keys::unix_now() + 24 * 3600;
        let counter = |unit: &Path| self.sims.with(unit, |sim| sim.state.change_counter);
        let main_op = super::gate::main_operation_of(self.op);
        let target = bind_items(main_op, &self.expected());
        let mut authorisations = vec![issuer.authorise(&Grant {
            serial: "MAIN-0001",
            counter: counter(&self.main),
            operation: main_op,
            target: target_digest(target.as_deref()),
            not_after,
        })];
        if let Some(new) = &self.new {
            authorisations.push(issuer.authorise(&Grant {
                serial: "NEW-0002",
                counter: counter(new),
                operation: AuthOp::MigrateIn,
                target: target_digest(Some(&self.before.encode())),
                not_after,
            }));
        }
        let attested = [
            ("phone_verified_at", chrono::Utc::now().to_rfc3339()),
            ("phone_verified_number", NEW_PHONE.to_string()),
        ];
        let checks: &[(&str, String)] = if self.op == Operation::RebindPhone {
            &attested
        } else {
            &[]
        };
        issuer.deliver(&issuer.sign(ORDER_ID, &self.fields(true), checks, &authorisations));
    }

    fn terminal(&self, path: &Path) -> Terminal {
        let settings = ProfileSet::builtin().unwrap().get("generic").unwrap().serial.clone();
        let mut t = Terminal::open_with(self.sims.clone(), path, &settings).unwrap();
        t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec())).unwrap();
        t
    }

    /// The order's fields by their dotted names; a signed order proves a new phone by the
    /// provider's attestation, a local one at the counter.
    fn fields(&self, signed: bool) -> Vec<(&'static str, String)> {
        let b = &self.before;
        let mut f = vec![
            ("operation", self.op.to_string()),
            ("profile", self.profile().to_string()),
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
        match self.op {
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
            Operation::RebindPhone if signed => f.extend([
                ("expect.phone", b.phone.as_ref().unwrap().as_str().to_string()),
                ("new.phone", NEW_PHONE.into()),
                ("new.phone_path", "sms".into()),
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
                ("replacement.model", self.new_model.clone()),
                ("replacement.activation_code", activation_code_for("NEW-0002")),
            ]),
        }
        f
    }

    fn write_order(&self) -> PathBuf {
        let mut f = self.fields(false);
        f.insert(0, ("id", ORDER_ID.to_string()));
        let text: String = f.iter().map(|(k, v)| format!("{k} = \"{v}\"\n")).collect();
        std::fs::create_dir_all(&self.paths.data).unwrap();
        std::fs::write(self.paths.data.join("holder-id.jpg"), b"scan of the holder's ID").unwrap();
        let path = self.paths.data.join("order.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn agent(&self) -> Agent {
        Agent::open(&self.paths).unwrap().with_opener(self.sims.clone())
    }

    fn options(&self) -> Options {
        Options {
            copying: self.copying,
            verify: self.verify,
            // Offline, the technician having seen the documents: the counter path works.
            documents_checked: true,
            ..Options::default()
        }
    }

    /// Starts the job through `door`; the job's id, or why none ran to its end.
    fn start_through(&self, door: Door, observer: &mut dyn Observer) -> Result<String, JobError> {
        let agent = self.agent();
        let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
        let creds = Credentials {
            secret: &secret,
            password: PASSWORD,
        };
        let at = At {
            port: Some(self.main.clone()),
            replacement: self.new.clone(),
        };
        let started = match door {
            Door::LocalFile => {
                let order = agent.order(&OrderRef::Arg(&self.order_file), Some(self.op)).unwrap();
                agent.start(&order, &at, creds, &self.options(), observer)
            }
            Door::Pulled => {
                let order = agent.order(&OrderRef::Arg(Path::new(ORDER_ID)), Some(self.op)).unwrap();
                agent.start(&order, &at, creds, &self.options(), observer)
            }
            Door::Console => {
                let order = agent.order(&OrderRef::Pulled(ORDER_ID), None).unwrap();
                // The console finds the terminals among the ports no job of its own uses.
                let profile = agent.profiles().get(&order.order.profile).unwrap().clone();
                let find = |sn: &str| agent.locate(sn, &profile, &[]).unwrap();
                let at = At {
                    port: Some(find("MAIN-0001")),
                    replacement: self.new.as_ref().map(|_| find("NEW-0002")),
                };
                agent.start(&order, &at, creds, &self.options(), observer)
            }
            Door::PlanRow => {
                let plan = agent.plan(Source::File(&self.order_file)).unwrap();
                let (found, _) = agent.probe(&plan.orders, &[]).unwrap();
                let run = RunWith {
                    creds,
                    options: self.options(),
                };
                let ran = agent.run_one(&plan.orders[0], &found, &run, observer);
                return match ran.failure {
                    Some(crate::agent::plan::Failure::Job(e)) => Err(e),
                    Some(other) => panic!("{other}"),
                    None => Ok(ran.job.expect("a job ran")),
                };
            }
        };
        started.map(|o| o.job.id)
    }

    /// Carries job `id` on (a plan row: the plan run again).
    fn resume_through(&self, door: Door, id: &str, observer: &mut dyn Observer) -> Result<String, JobError> {
        if door == Door::PlanRow {
            let agent = self.agent();
            let plan = agent.plan(Source::File(&self.order_file)).unwrap();
            assert_eq!(
                plan.orders[0].next,
                Next::Resume(id.to_string()),
                "the plan carries the job on"
            );
            return self.start_through(door, observer);
        }
        let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
        let creds = Credentials {
            secret: &secret,
            password: PASSWORD,
        };
        self.agent()
            .resume(id, &At::default(), creds, &self.options(), observer)
            .map(|o| o.job.id)
    }

    fn abort(&self, id: &str) -> Result<JobOutcome, JobError> {
        let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
        let creds = Credentials {
            secret: &secret,
            password: PASSWORD,
        };
        self.agent().abort(id, &At::default(), creds, &mut Quiet::default())
    }

    fn start(&self, observer: &mut dyn Observer) -> Result<String, JobError> {
        self.start_through(Door::LocalFile, observer)
    }

    fn resume(&self, id: &str) -> Result<String, JobError> {
        self.resume_through(Door::LocalFile, id, &mut Quiet::default())
    }

    fn store(&self) -> Store {
        Store::open(&self.paths.data).unwrap()
    }

    /// The jobs recorded running or interrupted.
    fn unfinished(&self) -> Vec<String> {
        self.store()
            .jobs()
            .unwrap()
            .into_iter()
            .filter(|j| matches!(j.state, JobState::Running | JobState::Interrupted))
            .map(|j| j.id)
            .collect()
    }

    /// What the main terminal must hold once the procedure is done.
    fn expected(&self) -> Binding {
        let b = self.before.clone();
        match self.op {
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
    fn assert_finished(&self, ctx: &str) {
        let store = self.store();
        let jobs = store.jobs().unwrap();
        let done: Vec<_> = jobs.iter().filter(|j| j.state == JobState::Done).collect();
        assert_eq!(done.len(), 1, "{ctx}: {jobs:?}");
        assert!(store.submission_of_job(&done[0].id).unwrap().is_some(), "{ctx}");
        assert_eq!(store.submissions().unwrap().len(), 1, "{ctx}: one submission");
        assert!(store.verify_audit().unwrap().valid, "{ctx}: audit");
        assert_eq!(
            self.terminal(&self.main).read_binding().unwrap(),
            self.expected(),
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
            let test = ProfileSet::builtin()
                .unwrap()
                .get(self.profile())
                .unwrap()
                .test_transaction
                .required;
            assert_eq!(log.len(), self.log.len() + usize::from(test), "{ctx}");
        }
    }

    /// Nothing changed and nothing is queued: the terminals hold what they held.
    fn assert_untouched(&self, ctx: &str) {
        assert_eq!(self.terminal(&self.main).read_binding().unwrap(), self.before, "{ctx}");
        if let Some(new) = &self.new {
            assert_eq!(
                self.terminal(new).read_binding().unwrap().status,
                DeviceStatus::Unbound,
                "{ctx}: the new unit is still blank"
            );
        }
        assert!(self.store().submissions().unwrap().is_empty(), "{ctx}: nothing queued");
        assert!(self.store().verify_audit().unwrap().valid, "{ctx}: audit");
    }
}

fn steps_of(profile: &str, op: Operation, copying: Copying) -> usize {
    plan_with(op, ProfileSet::builtin().unwrap().get(profile).unwrap(), copying).len()
}

#[test]
fn every_procedure_runs_to_done() {
    for op in Operation::ALL {
        let w = World::new(op, FaultSpec::default());
        let job = w.start(&mut Quiet::default()).unwrap_or_else(|e| panic!("{op}: {e}"));
        assert_eq!(w.store().job(&job).unwrap().unwrap().state, JobState::Done, "{op}");
        w.assert_finished(&op.to_string());
    }
}

fn stop_before_every_step_of(op: Operation, copying: Copying) {
    for k in 1..=steps_of("generic", op, copying) {
        let mut w = World::new(op, FaultSpec::default());
        w.copying = copying;
        let ctx = format!("{op}, stopped before step {k}");
        match w.start(&mut Quiet::stopping_before(k)) {
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
        w.assert_finished(&ctx);
    }
}

/// The first release's way, kept for comparison: a job started so keeps it when resumed.
#[test]
fn a_migration_copied_step_after_step_stopped_before_any_step_resumes_to_the_same_end() {
    stop_before_every_step_of(Operation::Migrate, Copying::Sequential);
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

/// The journal record of the verify_import step.
fn verified_by(w: &World) -> crate::journal::CheckedBy {
    let store = w.store();
    let job = store.jobs().unwrap().remove(0);
    store
        .journal_of(&job.id)
        .unwrap()
        .into_iter()
        .find_map(|e| match e.entry {
            crate::journal::Entry::Done(Step::VerifyImport, crate::journal::StepRecord::ImportVerified(v)) => {
                Some(v.by)
            }
            _ => None,
        })
        .unwrap()
}

/// A one-pass migration stopped after its copy and resumed verifies the new unit against
/// what the copy recorded: it does not read the old unit's log again.
#[test]
fn a_migration_resumed_after_its_copy_does_not_read_the_old_log_again() {
    let w = World::new(Operation::Migrate, FaultSpec::default());
    let steps = plan(
        Operation::Migrate,
        &ProfileSet::builtin().unwrap().get("lakala").unwrap().clone(),
    );
    let verify = steps.iter().position(|s| *s == Step::VerifyImport).unwrap();
    let job = match w.start(&mut Quiet::stopping_before(verify + 1)) {
        Err(JobError::Stopped { job, next, .. }) => {
            assert_eq!(next, "verify_import");
            job
        }
        other => panic!("{other:?}"),
    };
    let before = w.sims.with(&w.main, |sim| sim.log_exports);
    w.resume(&job).unwrap();
    w.assert_finished("resumed after the copy");
    // assert_finished reads neither log of the old unit.
    assert_eq!(w.sims.with(&w.main, |sim| sim.log_exports), before);
    assert_eq!(verified_by(&w), crate::journal::CheckedBy::Digest);
}

/// A one-pass copy with the old unit's line, then the new unit's, pulled in the middle of
/// the log: each side reconnects and carries on from where its terminal stands, and the job
/// ends as an undisturbed one does.
#[test]
fn a_one_pass_copy_rides_out_an_unplug_mid_stream_on_either_line() {
    for (old, new) in [(MID_EXPORT, FaultSpec::default()), (FaultSpec::default(), MID_IMPORT)] {
        let ctx = format!("unplugged: old {:?}, new {:?}", old.unplug_after, new.unplug_after);
        let w = World::disturbed(Operation::Migrate, false, old, new, STREAM_TRANSACTIONS);
        let agent = w.agent();
        let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
        let order = agent.order(&OrderRef::Arg(&w.order_file), None).unwrap();
        let at = At {
            port: Some(w.main.clone()),
            replacement: w.new.clone(),
        };
        let creds = Credentials {
            secret: &secret,
            password: PASSWORD,
        };
        let outcome = agent
            .start(&order, &at, creds, &w.options(), &mut Quiet::default())
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        w.assert_finished(&ctx);
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
    let agent = w.agent();
    let order = agent.order(&OrderRef::Arg(&w.order_file), None).unwrap();
    let wrong = Secret::new(b"not-the-secret".to_vec());
    let at = At {
        port: Some(w.main.clone()),
        replacement: None,
    };
    let creds = Credentials {
        secret: &wrong,
        password: PASSWORD,
    };
    let e = agent
        .start(&order, &at, creds, &w.options(), &mut Quiet::default())
        .unwrap_err();
    assert!(
        matches!(
            e,
            JobError::Terminal(crate::terminal::TerminalError::WrongSecret { .. })
        ),
        "{e}"
    );
    assert_eq!(w.terminal(&w.main).read_binding().unwrap(), w.before);
}

#[test]
fn a_replacement_that_is_already_bound_is_refused_before_the_old_unit_changes() {
    let mut w = World::new(Operation::Migrate, FaultSpec::default());
    let bound = w.sims.add(
        "bound",
        &seed(w.profile(), "NEW-0002", false, false, 40),
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

#[test]
fn a_migration_verifies_by_digest_unless_told_to_read_back_or_the_terminal_cannot() {
    use crate::journal::CheckedBy;
    let w = World::new(Operation::Migrate, FaultSpec::default());
    w.start(&mut Quiet::default()).unwrap();
    w.assert_finished("digest");
    assert_eq!(verified_by(&w), CheckedBy::Digest);

    let mut w = World::new(Operation::Migrate, FaultSpec::default());
    w.verify = Verify::Full;
    w.start(&mut Quiet::default()).unwrap();
    w.assert_finished("full");
    assert_eq!(verified_by(&w), CheckedBy::ReadBack);

    // A terminal of the first protocol release has no DIGEST: read back, as before.
    let w = World::new(Operation::Migrate, FaultSpec::default());
    w.sims.with(w.new.as_ref().unwrap(), |s| s.legacy = true);
    w.start(&mut Quiet::default()).unwrap();
    w.assert_finished("legacy");
    assert_eq!(verified_by(&w), CheckedBy::ReadBack);
}

/// A job stopped at its confirmation asks again when resumed, through every door; it
/// changes nothing until it is answered yes.
#[test]
fn a_job_stopped_at_its_confirmation_asks_again_on_resume() {
    for door in DOORS {
        let w = World::through(door, Operation::RebindCard);
        let ctx = format!("{door:?}");
        let job = match w.start_through(door, &mut Quiet::answering(Decision::Stop)) {
            Err(JobError::Stopped { job, .. }) => job,
            other => panic!("{ctx}: {other:?}"),
        };
        w.assert_untouched(&ctx);
        assert_eq!(w.store().job(&job).unwrap().unwrap().state, JobState::Interrupted);
        // Refused now: the job ends cancelled, still nothing changed.
        let mut no = Quiet::answering(Decision::No);
        assert!(matches!(
            w.resume_through(door, &job, &mut no),
            Err(JobError::Cancelled)
        ));
        assert_eq!(no.prompted, 1, "{ctx}: asked again");
        w.assert_untouched(&ctx);
        assert_eq!(w.store().job(&job).unwrap().unwrap().state, JobState::Cancelled);
    }
}

/// Stopped at the prompt, then resumed and answered yes: the change is made, once.
#[test]
fn a_resume_answered_yes_makes_the_change_once() {
    let w = World::new(Operation::RebindCard, FaultSpec::default());
    let Err(JobError::Stopped { job, .. }) = w.start(&mut Quiet::answering(Decision::Stop)) else {
        panic!("stopped at the prompt")
    };
    let mut yes = Quiet::default();
    w.resume_through(Door::LocalFile, &job, &mut yes).unwrap();
    assert_eq!(yes.prompted, 1);
    w.assert_finished("resumed and confirmed");
}

/// A dry run goes through the same gate as a real run: an unsigned order on a profile
/// that wants a signature is refused by both.
#[test]
fn a_dry_run_refuses_what_the_real_run_refuses() {
    // Lakala's terminals, and the order as a local file: lakala wants orders signed.
    let w = World::signed(Operation::RebindCard);
    let agent = w.agent();
    let order = agent.order(&OrderRef::Arg(&w.order_file), None).unwrap();
    let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
    let at = At {
        port: Some(w.main.clone()),
        replacement: None,
    };
    for dry_run in [true, false] {
        let opts = Options { dry_run, ..w.options() };
        let creds = Credentials {
            secret: &secret,
            password: PASSWORD,
        };
        let e = agent
            .start(&order, &at, creds, &opts, &mut Quiet::default())
            .unwrap_err();
        assert!(
            matches!(e, JobError::Unauthorised(Unauthorised::Unsigned { .. })),
            "dry run {dry_run}: {e}"
        );
    }
    w.assert_untouched("unsigned");
}

/// What interrupts a job in the matrix.
#[derive(Debug, Clone, Copy)]
enum Interruption {
    /// A stop request before the k-th step run (Ctrl-C, the console's Stop).
    StopBefore(usize),
    /// The line pulled as a changing command arrives (before it is carried out) or after
    /// it is carried out but before it is answered.
    Unplug { command: &'static str, after: bool },
    /// The technician answers the confirmation.
    Prompt(Decision),
}

/// What is done after the interruption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FollowUp {
    Resume,
    Abort,
    StartAgain,
}

/// The commands that change a terminal in each procedure.
fn changing_commands(op: Operation) -> &'static [&'static str] {
    match op {
        Operation::RebindCard => &["unbind", "bind", "import_commit", "test_transaction"],
        Operation::RebindAccount => &["unbind", "bind"],
        Operation::RebindPhone => &["bind", "reboot"],
        Operation::Unbind => &["settle", "unbind"],
        Operation::Migrate => &["settle", "activate", "import_commit", "unbind", "bind"],
    }
}

fn interruptions(door: Door, op: Operation) -> Vec<Interruption> {
    let profile = if door.signed() { profile_of(op) } else { "generic" };
    let mut all: Vec<Interruption> = (1..=steps_of(profile, op, Copying::default()))
        .map(Interruption::StopBefore)
        .collect();
    for command in changing_commands(op) {
        for after in [false, true] {
            all.push(Interruption::Unplug { command, after });
        }
    }
    all.extend([Interruption::Prompt(Decision::No), Interruption::Prompt(Decision::Stop)]);
    all
}

/// One case of the matrix: `door`, `op`, interrupted by `what`, then `follow`. Asserts the
/// invariants; returns nothing when they hold.
fn matrix_case(door: Door, op: Operation, what: Interruption, follow: FollowUp) {
    let ctx = format!("{door:?} {op} {what:?} then {follow:?}");
    let faults = match what {
        Interruption::Unplug { command, after } => {
            let when = if after { "unplug_after" } else { "unplug_before" };
            format!("{when}={command}").parse().unwrap()
        }
        _ => FaultSpec::default(),
    };
    let (main_faults, new_faults) = match (op, what) {
        // A migration's new unit is the one activated, imported into and bound.
        (
            Operation::Migrate,
            Interruption::Unplug {
                command: "activate" | "import_commit" | "bind",
                ..
            },
        ) => (FaultSpec::default(), faults),
        _ => (faults, FaultSpec::default()),
    };
    let w = World::disturbed(op, door.signed(), main_faults, new_faults, 40);
    let mut first = match what {
        Interruption::StopBefore(k) => Quiet::stopping_before(k),
        Interruption::Prompt(answer) => Quiet::answering(answer),
        Interruption::Unplug { .. } => Quiet::default(),
    };
    let started = w.start_through(door, &mut first);
    // No change without a confirmation.
    if !first.confirmed {
        w.assert_untouched(&format!("{ctx}: not confirmed"));
    }
    assert!(first.prompted <= 1, "{ctx}: asked once");
    let unfinished = w.unfinished();
    assert!(unfinished.len() <= 1, "{ctx}: {unfinished:?}");
    let mut aborted = false;
    match follow {
        FollowUp::Resume => {
            if let Some(job) = unfinished.first() {
                w.resume_through(door, job, &mut Quiet::default())
                    .unwrap_or_else(|e| panic!("{ctx}: resume: {e}"));
            }
        }
        FollowUp::Abort => {
            if let Some(job) = unfinished.first() {
                match w.abort(job) {
                    Ok(o) => {
                        assert_eq!(o.job.state, JobState::Aborted, "{ctx}");
                        aborted = true;
                    }
                    // An unbind or a migration past its unit's unbinding only rolls forward.
                    Err(JobError::AbortTooLate(_)) => {
                        assert!(matches!(op, Operation::Migrate | Operation::Unbind), "{ctx}")
                    }
                    // So does a change its terminal made under the provider's authorisation.
                    Err(JobError::AuthorisationSpent(_)) => assert!(door.signed(), "{ctx}"),
                    Err(e) => panic!("{ctx}: abort: {e}"),
                }
            }
        }
        FollowUp::StartAgain => match w.start_through(door, &mut Quiet::default()) {
            Ok(_) => {}
            // The terminal's unfinished job holds it: it is to be resumed, not doubled.
            Err(JobError::Busy { job, .. }) => assert_eq!(Some(&job), unfinished.first(), "{ctx}"),
            // Done already: a signed order runs once; a local one no longer matches.
            Err(JobError::Unauthorised(Unauthorised::AlreadyDone { .. }) | JobError::Refused { .. })
                if started.is_ok() => {}
            Err(e) => panic!("{ctx}: start again: {e} (first: {started:?})"),
        },
    }
    // The terminal is never stranded: whatever is unfinished now resumes to its end.
    for job in w.unfinished() {
        w.resume_through(door, &job, &mut Quiet::default())
            .unwrap_or_else(|e| panic!("{ctx}: final resume of {job}: {e}"));
    }
    assert!(w.unfinished().is_empty(), "{ctx}");
    let store = w.store();
    assert!(store.verify_audit().unwrap().valid, "{ctx}: audit");
    let done = store
        .jobs()
        .unwrap()
        .iter()
        .filter(|j| j.state == JobState::Done)
        .count();
    assert!(done <= 1, "{ctx}: at most one change applied");
    assert_eq!(
        store.submissions().unwrap().len(),
        done,
        "{ctx}: one submission per change"
    );
    match done {
        1 => w.assert_finished(&ctx),
        _ if aborted || !first.confirmed => w.assert_untouched(&ctx),
        _ => panic!("{ctx}: neither done, nor undone: {:?}", store.jobs().unwrap()),
    }
}

/// Every door × every interruption × every follow-up: the terminal is never stranded, no
/// change happens without a confirmation, at most one change is applied and one
/// submission queued, and the audit chain holds.
#[test]
fn every_door_every_interruption_every_follow_up() {
    let mut cases = Vec::new();
    for door in DOORS {
        for op in Operation::ALL {
            for what in interruptions(door, op) {
                for follow in [FollowUp::Resume, FollowUp::Abort, FollowUp::StartAgain] {
                    cases.push((door, op, what, follow));
                }
            }
        }
    }
    let total = cases.len();
    let next = std::sync::Mutex::new(cases);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some((door, op, what, follow)) = next.lock().unwrap().pop() {
                    matrix_case(door, op, what, follow);
                }
            });
        }
    });
    eprintln!("matrix: {total} cases");
}

/// A restore through the agent: the world's card change done, then the job's backup put
/// back. Returns the world and the archive.
fn restored_world() -> (World, PathBuf) {
    let w = World::new(Operation::RebindCard, FaultSpec::default());
    let job = w.start(&mut Quiet::default()).unwrap();
    let archive = PathBuf::from(w.store().job(&job).unwrap().unwrap().backup_file.unwrap());
    (w, archive)
}

fn start_restore(w: &World, archive: &Path, observer: &mut dyn Observer) -> Result<JobOutcome, JobError> {
    let agent = w.agent();
    let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
    let contents = agent.read_archive(archive, PASSWORD).unwrap();
    let profile = agent.profiles().get(w.profile()).unwrap().clone();
    let creds = Credentials {
        secret: &secret,
        password: PASSWORD,
    };
    let archive = Archive {
        file: archive,
        contents,
        to_replacement: false,
    };
    agent.restore(archive, &w.main, &profile, None, creds, observer)
}

/// A restore runs in the engine every job runs in: stopped before each of its steps and
/// resumed, it ends with the backed-up binding on the terminal, confirmed once.
#[test]
fn a_restore_stopped_before_any_step_resumes_to_the_same_end() {
    for k in 1..=restore::RESTORE_PLAN.len() {
        let (w, archive) = restored_world();
        let ctx = format!("restore stopped before step {k}");
        match start_restore(&w, &archive, &mut Quiet::stopping_before(k)) {
            Err(JobError::Stopped { job, .. }) => {
                let mut yes = Quiet::default();
                w.resume_through(Door::LocalFile, &job, &mut yes)
                    .unwrap_or_else(|e| panic!("{ctx}: resume: {e}"));
                let job = w.store().job(&job).unwrap().unwrap();
                assert_eq!(job.state, JobState::Done, "{ctx}");
            }
            other => panic!("{ctx}: {other:?}"),
        }
        assert_eq!(w.terminal(&w.main).read_binding().unwrap(), w.before, "{ctx}");
        assert!(w.store().verify_audit().unwrap().valid, "{ctx}");
    }
}

/// A restore asks before it changes anything: a no leaves the terminal as it was; an abort
/// after its binding was written puts back what it overwrote.
#[test]
fn a_restore_asks_first_and_aborts_to_what_it_overwrote() {
    let (w, archive) = restored_world();
    let changed = w.terminal(&w.main).read_binding().unwrap();
    let mut no = Quiet::answering(Decision::No);
    let r = start_restore(&w, &archive, &mut no);
    assert!(matches!(r, Err(JobError::Cancelled)), "{r:?}");
    assert_eq!(no.prompted, 1);
    assert_eq!(w.terminal(&w.main).read_binding().unwrap(), changed, "nothing restored");
    // Stopped after the binding was written (before its parameters), then aborted.
    let stop_at = restore::RESTORE_PLAN
        .iter()
        .position(|s| *s == Step::RestoreParameters)
        .unwrap();
    let Err(JobError::Stopped { job, .. }) = start_restore(&w, &archive, &mut Quiet::stopping_before(stop_at + 1))
    else {
        panic!("stopped")
    };
    assert_eq!(
        w.terminal(&w.main).read_binding().unwrap(),
        w.before,
        "the binding was written"
    );
    let undone = w.abort(&job).unwrap();
    assert_eq!(undone.job.state, JobState::Aborted);
    assert_eq!(
        w.terminal(&w.main).read_binding().unwrap(),
        changed,
        "what it overwrote is back"
    );
}
