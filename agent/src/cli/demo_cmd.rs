//! `posagent demo`: a full migration on a fresh machine with nothing else running. Starts
//! two simulated terminals on pseudo-terminals and a simulated provider on loopback, in a new
//! data directory; migrates the old unit to the replacement with progress; syncs the
//! submission; says what happened and where the backup is; stops every process it started.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use clap::Args;

use super::args::{OrdersCommand, ProviderArgs, SyncArgs};
use super::screen::{print_outcome, screen};
use super::{CliError, Exit, Output, load_profiles, sync_cmd};
use crate::config::Paths;
use crate::job::{self, JobSetup};
use crate::sim::DEMO_SECRET;
use crate::sim::terminal::activation_code_for;
use crate::store::Store;
use crate::terminal::{Secret, Terminal};
use crate::tr;

const OLD_SERIAL: &str = "DEMO-OLD-0001";
const NEW_SERIAL: &str = "DEMO-NEW-0002";
const PROFILE: &str = "lakala";
const ORDER_ID: &str = "WO-DEMO-0001";
const TECHNICIAN: &str = "demo";
/// A valid (checksummed) resident ID used for the demo merchant's legal representative.
const DEMO_LEGAL_REP_ID: &str = "110105194910010023";

/// The processes the demo started; stopped when dropped, whatever happens.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Children {
    /// Starts `posagent ARGS…` and returns its first line of output (its announcement).
    fn start(&mut self, home: &Path, args: &[&str]) -> Result<serde_json::Value, CliError> {
        let fail = |e: String| {
            CliError::new(
                Exit::Failure,
                tr!("demo-cannot-start", command = args.join(" "), reason = e),
            )
        };
        let exe = std::env::current_exe().map_err(|e| fail(e.to_string()))?;
        let mut child = Command::new(exe)
            .args(args)
            .env("POSAGENT_HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        let stdout = child.stdout.take();
        super::interrupt::register_child(child.id());
        self.0.push(child);
        let mut line = String::new();
        if let Some(s) = stdout {
            // The reader stays with the child's pipe until it ends.
            let mut reader = BufReader::new(s);
            reader.read_line(&mut line).map_err(|e| fail(e.to_string()))?;
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        }
        serde_json::from_str(&line).map_err(|_| fail(tr!("demo-bad-announcement", line = format!("{line:?}"))))
    }
}

fn field(v: &serde_json::Value, key: &str) -> Result<PathBuf, CliError> {
    v[key]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| CliError::new(Exit::Failure, tr!("demo-no-field", field = key)))
}

fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    crate::private::write_new(path, text.as_bytes()).map_err(|e| {
        CliError::new(
            Exit::Failure,
            tr!(
                "demo-cannot-write",
                file = path.display().to_string(),
                reason = e.to_string()
            ),
        )
    })
}

/// The provider's plan: one order, issued to the demo technician, moving what the old unit
/// holds to the replacement.
fn order_plan(old_port: &Path, paths: &Paths) -> Result<String, CliError> {
    let profiles = load_profiles(paths)?;
    let profile = profiles.get(PROFILE)?;
    let mut t = Terminal::open(old_port, &profile.serial)?;
    t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec()))?;
    let b = t.read_binding()?;
    let missing = || CliError::new(Exit::Failure, tr!("demo-no-merchant"));
    Ok(format!(
        "id,technician,operation,profile,reason,merchant.mid,merchant.name,merchant.kind,merchant.legal_rep_id,\
         expect.serial,expect.tid,replacement.serial,replacement.model,replacement.activation_code\n\
         {ORDER_ID},{TECHNICIAN},migrate,{PROFILE},device-replaced,{},Demo Noodle Shop,individual,{DEMO_LEGAL_REP_ID},\
         {OLD_SERIAL},{},{NEW_SERIAL},A8,{}\n",
        b.mid.ok_or_else(missing)?,
        b.tid.ok_or_else(missing)?,
        activation_code_for(NEW_SERIAL),
    ))
}

pub fn run(a: &DemoArgs, out: &Output) -> Result<(), CliError> {
    // Ctrl-C or a termination signal stops the simulators at once (they are registered as
    // they start) and whatever the demo was doing then fails: report it as the stop it is.
    super::interrupt::install();
    demo(a, out).map_err(|e| {
        if super::interrupt::requested() {
            CliError::new(Exit::Interrupted, tr!("demo-stopped"))
        } else {
            e
        }
    })
}

fn demo(a: &DemoArgs, out: &Output) -> Result<(), CliError> {
    let home = std::env::temp_dir().join(format!("posagent-demo-{}", uuid::Uuid::now_v7().simple()));
    crate::private::dir(&home).map_err(|e| {
        CliError::new(
            Exit::Failure,
            tr!(
                "demo-cannot-write",
                file = home.display().to_string(),
                reason = e.to_string()
            ),
        )
    })?;
    let paths = Paths::under(&home);
    let say = |text: &str| {
        if out.narrates() {
            eprintln!("{text}");
        }
    };
    say(&tr!("demo-data-dir", dir = home.display().to_string()));

    let mut children = Children(Vec::new());
    let (baud, txns) = (a.baud.to_string(), a.transactions.to_string());
    let old = children.start(
        &home,
        &[
            "sim",
            "terminal",
            "--pty",
            "--link",
            &home.join("old-tty").display().to_string(),
            "--profile",
            PROFILE,
            "--serial",
            OLD_SERIAL,
            "--transactions",
            &txns,
            "--baud",
            &baud,
        ],
    )?;
    let new = children.start(
        &home,
        &[
            "sim",
            "terminal",
            "--pty",
            "--link",
            &home.join("new-tty").display().to_string(),
            "--profile",
            PROFILE,
            "--serial",
            NEW_SERIAL,
            "--blank",
            "--baud",
            &baud,
        ],
    )?;
    let old_port = field(&old, "port")?;
    // The provider issues the work order, signed; the agent pulls it like any other.
    let plan = home.join("provider-orders.csv");
    write_private(&plan, &order_plan(&old_port, &paths)?)?;
    let provider = children.start(
        &home,
        &[
            "sim",
            "provider",
            "--tls-dir",
            &home.join("provider").display().to_string(),
            "--orders",
            &plan.display().to_string(),
        ],
    )?;
    let new_port = field(&new, "port")?;
    say(&tr!(
        "demo-started",
        old = OLD_SERIAL,
        old_port = old_port.display().to_string(),
        new = NEW_SERIAL,
        new_port = new_port.display().to_string(),
        url = provider["url"].as_str().unwrap_or("?")
    ));

    let config = format!(
        "technician = \"{TECHNICIAN}\"\n\n[provider]\nurl = \"{}\"\nca = \"{}\"\nagent_key_file = \"{}\"\norder_key_files = [\"{}\"]\n",
        provider["url"].as_str().unwrap_or_default(),
        field(&provider, "ca")?.display(),
        field(&provider, "agent_key")?.display(),
        field(&provider, "order_key")?.display()
    );
    write_private(&paths.config_file(), &config)?;
    say(&tr!("demo-pulling"));
    super::orders_cmd::run(
        &paths,
        Some(OrdersCommand::Pull {
            provider: ProviderArgs::default(),
        }),
        out,
    )?;
    let password_file = home.join("backup-password");
    let password = hex::encode(rand::random::<[u8; 16]>());
    write_private(&password_file, &format!("{password}\n"))?;

    let profiles = load_profiles(&paths)?;
    let secret = Secret::new(DEMO_SECRET.as_bytes().to_vec());
    let store = Store::open(&paths.data)?;
    let local = crate::seal::LocalKeys::load_or_create(&paths.data).map_err(crate::sync::client::SyncError::from)?;
    let signed = crate::sync::orders::document(&store, &local, ORDER_ID)?
        .ok_or_else(|| CliError::new(Exit::Failure, tr!("demo-not-pulled")))?
        .verify(&super::orders_cmd::order_keys(&paths)?)
        .map_err(|e| CliError::new(Exit::NoPerm, e.to_string()))?;
    let order = crate::order::validate(&signed.raw(), &profiles)
        .map_err(|_| CliError::new(Exit::Failure, tr!("demo-order-invalid")))?;
    drop(store);
    let order_file = PathBuf::from(ORDER_ID);
    say(&tr!(
        "demo-migrating",
        old = OLD_SERIAL,
        new = NEW_SERIAL,
        order = order.id.as_str()
    ));
    let mut view = screen(out, true);
    let outcome = job::start(
        JobSetup {
            opener: std::sync::Arc::new(crate::job::SerialOpener),
            paths: &paths,
            profile: profiles.get(PROFILE)?,
            order,
            order_file: &order_file,
            port: &old_port,
            replacement_port: Some(&new_port),
            secret: &secret,
            backup_password: password.as_bytes(),
            technician: TECHNICIAN,
            dry_run: false,
            cooldown_checked_by_provider: false,
            verify: crate::job::Verify::Digest,
            signed: Some(signed),
            proof: Default::default(),
        },
        &mut view,
    )?;
    print_outcome(out, &outcome, &tr!("verb-finished"));

    say(&tr!("demo-delivering"));
    sync_cmd::run(
        &paths,
        &SyncArgs {
            watch: false,
            interval: 10,
            max_wait: 60,
            provider: ProviderArgs::default(),
        },
        out,
    )?;
    drop(children);

    let store = Store::open(&paths.data)?;
    let submission = store.submission_of_job(&outcome.job.id)?;
    // Written again now that it can show the provider's receipt.
    let receipt = crate::receipt::write(&store, &paths.data, &outcome.job.id, None)?;
    let backup = outcome.backup_file.clone().unwrap_or_default();
    let human = tr!(
        "demo-finished",
        backup = backup.as_str(),
        password_file = password_file.display().to_string(),
        provider_receipt = submission.as_ref().and_then(|s| s.receipt.as_deref()).unwrap_or("-"),
        receipt = receipt.display().to_string(),
        home = home.display().to_string(),
        job = outcome.job.id.as_str(),
    );
    out.print(
        &human,
        &serde_json::json!({
            "ok": true,
            "data_dir": home,
            "job": outcome.job.id,
            "job_state": outcome.job.state.as_str(),
            "backup": backup,
            "backup_password_file": password_file,
            "submission": submission,
            "receipt": receipt,
        }),
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Transactions on the old unit.
    #[arg(long, default_value_t = 200)]
    pub transactions: u32,
    /// Line rate of the simulated terminals.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
}
