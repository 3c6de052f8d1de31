//! `posagent demo`: a full migration on a fresh machine with nothing else running. Starts
//! two simulated terminals on pseudo-terminals and a simulated provider on loopback (as
//! processes of the posagent binary, [`SimProcess`]), in a new data directory; pulls the
//! signed order the provider issued; migrates the old unit to the replacement; delivers the
//! submission; stops every process it started. The command line draws it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use posagent_core::agent::{Agent, OpenError};
use posagent_core::config::Paths;
use posagent_core::diagnosis::{Diagnose, Diagnosis, Kind};
use posagent_core::job::{
    At, Copying, Credentials, JobError, JobOutcome, Observer, Options, OrderForError, OrderRef, Verify,
};
use posagent_core::order::Operation;
use posagent_core::profile::{ProfileError, ProfileSet};
use posagent_core::receipt::ReceiptError;
use posagent_core::store::outbox::Submission;
use posagent_core::store::{Store, StoreError};
use posagent_core::sync::delivery::{DeliveryError, Rounds};
use posagent_core::sync::drain::{Quiet, Tally};
use posagent_core::sync::orders::{Pulled, PulledError};
use posagent_core::terminal::{Secret, Terminal, TerminalError};

use crate::DEMO_SECRET;
use crate::harness::{SimProcess, StartError};
use crate::terminal::activation_code_for;

pub const OLD_SERIAL: &str = "DEMO-OLD-0001";
pub const NEW_SERIAL: &str = "DEMO-NEW-0002";
const PROFILE: &str = "lakala";
const ORDER_ID: &str = "WO-DEMO-0001";
pub const TECHNICIAN: &str = "demo";
/// A valid (checksummed) resident ID used for the demo merchant's legal representative.
const DEMO_LEGAL_REP_ID: &str = "110105194910010023";

/// The demo's size.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Transactions on the old unit.
    pub transactions: u32,
    /// Line rate of the simulated terminals.
    pub baud: u32,
}

/// What the demo reports as it goes.
pub enum DemoEvent<'a> {
    /// Its data directory, made.
    Home(&'a Path),
    /// A simulator process started (to be stopped with this process on a signal).
    Spawned(u32),
    /// The simulators are up.
    Started {
        old_port: &'a Path,
        new_port: &'a Path,
        url: &'a str,
    },
    /// The provider's order was pulled.
    Pulled(&'a Pulled),
    /// The migration begins.
    Migrating { old: &'a str, new: &'a str, order: &'a str },
    /// The submission is being delivered.
    Delivering,
    /// The delivery run ended.
    Delivered(&'a Tally),
}

/// What the demo leaves behind.
pub struct DemoRun {
    pub home: PathBuf,
    pub outcome: JobOutcome,
    pub password_file: PathBuf,
    pub submission: Option<Submission>,
    /// The receipt, written again once it can show the provider's receipt.
    pub receipt: PathBuf,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{}", posagent_i18n::tr!("demo-no-field", field = *.0))]
    NoField(&'static str),
    #[error("{}", posagent_i18n::tr!("demo-cannot-write", file = .file.display().to_string(), reason = .source.to_string()))]
    Write {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", posagent_i18n::tr!("demo-no-merchant"))]
    NoMerchant,
    /// The pulled order is not there, not the provider's authorisation, or not valid.
    #[error(transparent)]
    Order(#[from] OrderForError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("{}", posagent_i18n::tr!("demo-not-delivered"))]
    NotDelivered,
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Terminal(#[from] TerminalError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Pulled(#[from] PulledError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
}

fn write_private(path: &Path, text: &str) -> Result<(), DemoError> {
    crate::private::write_new(path, text.as_bytes()).map_err(|source| DemoError::Write {
        file: path.to_path_buf(),
        source,
    })
}

fn field(v: &serde_json::Value, key: &'static str) -> Result<PathBuf, DemoError> {
    v[key].as_str().map(PathBuf::from).ok_or(DemoError::NoField(key))
}

/// The provider's plan: one order, issued to the demo technician, moving what the old unit
/// holds to the replacement.
fn order_plan(old_port: &Path, profiles: &ProfileSet) -> Result<String, DemoError> {
    let mut t = Terminal::open(old_port, &profiles.get(PROFILE)?.serial)?;
    t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec()))?;
    let b = t.read_binding()?;
    // The binding the new unit takes over, which the provider knows from its records and
    // authorises the new unit to hold.
    let binding = hex::encode(b.encode());
    Ok(format!(
        "id,technician,operation,profile,reason,merchant.mid,merchant.name,merchant.kind,merchant.legal_rep_id,\
         expect.serial,expect.tid,replacement.serial,replacement.model,replacement.activation_code,authority.binding\n\
         {ORDER_ID},{TECHNICIAN},migrate,{PROFILE},device-replaced,{},Demo Noodle Shop,individual,{DEMO_LEGAL_REP_ID},\
         {OLD_SERIAL},{},{NEW_SERIAL},A8,{},{binding}\n",
        b.mid.ok_or(DemoError::NoMerchant)?,
        b.tid.ok_or(DemoError::NoMerchant)?,
        activation_code_for(NEW_SERIAL),
    ))
}

/// Runs the demo with simulators from the posagent binary `exe`, in a new directory under
/// the system's temporary directory.
pub fn run(
    exe: &Path,
    opts: DemoOptions,
    say: &mut dyn FnMut(DemoEvent<'_>),
    observer: &mut dyn Observer,
) -> Result<DemoRun, DemoError> {
    let home = std::env::temp_dir().join(format!("posagent-demo-{}", uuid::Uuid::now_v7().simple()));
    crate::private::dir(&home).map_err(|source| DemoError::Write {
        file: home.clone(),
        source,
    })?;
    let paths = Paths::under(&home);
    say(DemoEvent::Home(&home));
    let profiles = ProfileSet::load(&paths.profile_overrides())?;

    let mut children = Vec::new();
    let mut start = |args: Vec<String>, say: &mut dyn FnMut(DemoEvent<'_>)| -> Result<serde_json::Value, DemoError> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = SimProcess::start(exe, &home, &args, true)?;
        say(DemoEvent::Spawned(process.id()));
        let announced = process.announced.clone();
        children.push(process);
        Ok(announced)
    };
    let terminal = |link: &str, serial: &str, what: &[&str]| {
        let link = home.join(link).display().to_string();
        let mut args = vec![
            "terminal",
            "--pty",
            "--link",
            &link,
            "--profile",
            PROFILE,
            "--serial",
            serial,
        ];
        args.extend(what);
        let baud = opts.baud.to_string();
        args.extend(["--baud", &baud]);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let transactions = opts.transactions.to_string();
    let old = start(terminal("old-tty", OLD_SERIAL, &["--transactions", &transactions]), say)?;
    let new = start(terminal("new-tty", NEW_SERIAL, &["--blank"]), say)?;
    let old_port = field(&old, "port")?;
    let new_port = field(&new, "port")?;
    // The provider issues the work order, signed; the agent pulls it like any other.
    let plan = home.join("provider-orders.csv");
    write_private(&plan, &order_plan(&old_port, &profiles)?)?;
    let provider = start(
        vec![
            "provider".into(),
            "--tls-dir".into(),
            home.join("provider").display().to_string(),
            "--orders".into(),
            plan.display().to_string(),
        ],
        say,
    )?;
    let url = provider["url"].as_str().ok_or(DemoError::NoField("url"))?;
    say(DemoEvent::Started {
        old_port: &old_port,
        new_port: &new_port,
        url,
    });
    let config = format!(
        "technician = \"{TECHNICIAN}\"\n\n[provider]\nurl = \"{url}\"\nca = \"{}\"\nagent_key_file = \"{}\"\n",
        field(&provider, "ca")?.display(),
        field(&provider, "agent_key")?.display(),
    );
    write_private(&paths.config_file(), &config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| DemoError::Write {
            file: home.clone(),
            source,
        })?;
    let agent = Agent::open(&paths)?;
    let mut delivery = agent.delivery(Default::default())?;
    let pulled = runtime.block_on(delivery.pull_orders(&paths))?;
    say(DemoEvent::Pulled(&pulled));
    let order = agent.order(&OrderRef::Pulled(ORDER_ID), Some(Operation::Migrate))?;

    let password_file = home.join("backup-password");
    let password = hex::encode(rand::random::<[u8; 16]>());
    write_private(&password_file, &format!("{password}\n"))?;
    say(DemoEvent::Migrating {
        old: OLD_SERIAL,
        new: NEW_SERIAL,
        order: &order.order.id,
    });
    let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
    let outcome = agent.start(
        &order,
        &At {
            port: Some(old_port),
            replacement: Some(new_port),
        },
        Credentials {
            secret: &secret,
            password: password.as_bytes(),
        },
        &Options {
            verify: Verify::Digest,
            copying: Copying::OnePass,
            ..Options::default()
        },
        observer,
    )?;

    say(DemoEvent::Delivering);
    let (_stop, never) = tokio::sync::watch::channel(false);
    let once = Rounds::Once {
        max_wait: Duration::from_secs(60),
    };
    let (tally, result) = runtime.block_on(delivery.deliver(once, never, &mut Quiet))?;
    say(DemoEvent::Delivered(&tally));
    result.map_err(DeliveryError::from)?;
    drop(delivery);
    drop(children);

    let store = Store::open(&paths.data)?;
    let submission = store.submission_of_job(&outcome.job.id)?;
    if submission.as_ref().is_none_or(|s| s.state.as_str() != "accepted") {
        return Err(DemoError::NotDelivered);
    }
    // Written again now that the provider accepted it: the receipt shows its answer.
    let receipt = posagent_core::receipt::write(&store, &paths.data, &outcome.job.id, None)?;
    Ok(DemoRun {
        home,
        outcome,
        password_file,
        submission,
        receipt,
    })
}

impl Diagnose for DemoError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            DemoError::Order(e) => e.diagnosis(),
            DemoError::Open(e) => e.diagnosis(),
            DemoError::Profile(e) => e.diagnosis(),
            DemoError::Terminal(e) => e.diagnosis(),
            DemoError::Job(e) => e.diagnosis(),
            DemoError::Delivery(e) => e.diagnosis(),
            DemoError::Pulled(e) => e.diagnosis(),
            DemoError::Store(e) => e.diagnosis(),
            DemoError::Receipt(e) => e.diagnosis(),
            _ => Diagnosis::of(Kind::Failure),
        }
    }
}
