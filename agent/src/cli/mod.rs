//! The command-line front end: parse, call the library, render text or JSON, map errors to
//! exit codes. The only layer that prints.

mod args;
mod backup_cmd;
mod codes;
mod config_cmd;
mod console_cmd;
#[cfg(feature = "sim")]
mod demo_cmd;
mod device_cmd;
mod errors;
mod interrupt;
mod job_args;
mod job_cmd;
mod jobs_cmd;
mod lang;
mod logging;
mod manpage_cmd;
mod orders_cmd;
mod output;
mod profiles_cmd;
mod progress;
mod prompt;
mod queue_cmd;
mod run_cmd;
mod run_report;
mod screen;
mod secrets;
mod support_cmd;
mod sync_args;
mod sync_cmd;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

pub use crate::store::local_time;
pub use args::Cli;
use args::{Command, OrderCommand};
pub use output::{CliError, Exit, Output, json_line};

use crate::config::Paths;
use crate::profile::ProfileSet;

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    posagent_core::machine::allocator_for_jobs();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    crate::i18n::set_lang(lang::choose(&args));
    let cli = match command()
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => match lang::usage_error(&e) {
            // `--help`, `--version`, and every error in English: as clap writes them.
            None => e.exit(),
            Some(usage) => {
                let json = args.iter().any(|a| a == "--json");
                return Output::new(json, false).error(&usage);
            }
        },
    };
    let out = Output::new(cli.json, cli.quiet);
    match run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(exit = e.exit as u8, error = %e.message, "failed");
            out.error(&e)
        }
    }
}

/// The command line's grammar, with its help in the current language.
pub fn command() -> clap::Command {
    lang::localised(Cli::command())
}

/// Runs a parsed command line.
pub fn run(cli: Cli, out: &Output) -> Result<(), CliError> {
    let paths = Paths::resolve(cli.home.as_deref()).map_err(|e| CliError::new(Exit::Failure, e.to_string()))?;
    logging::init(&paths.data, cli.verbose);
    let lang = cli.lang;
    tracing::info!(command = ?std::env::args().nth(1), version = env!("CARGO_PKG_VERSION"), "start");
    match cli.command {
        Command::Order(OrderCommand::Check { file }) => order_check(&paths, &file, out),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "posagent", &mut std::io::stdout());
            Ok(())
        }
        Command::Manpage { dir } => manpage_cmd::run(dir.as_deref()),
        Command::Profiles { action } => profiles_cmd::run(&paths, action, out),
        Command::Config { action } => config_cmd::run(&paths, action, out),
        Command::SupportBundle { out: file, force } => support_cmd::run(&paths, &file, force, out),
        Command::Orders { action } => orders_cmd::run(&paths, action, out),
        Command::Devices => device_cmd::devices(&paths, out),
        Command::Inspect(a) => device_cmd::inspect(&paths, &a, out),
        #[cfg(feature = "sim")]
        Command::Sim(c) => Ok(crate::sim::command::run(&paths, c, json_line)?),
        Command::Backup(a) => backup_cmd::run(&paths, a, out),
        Command::Restore(a) => backup_cmd::restore(&paths, &a, out),
        Command::Rebind(a) => job_cmd::rebind(&paths, &a, out),
        Command::Unbind(a) => job_cmd::unbind(&paths, &a, out),
        Command::Migrate(a) => job_cmd::migrate(&paths, &a, out),
        Command::Jobs { action } => jobs_cmd::jobs(&paths, action, out),
        Command::Audit(c) => jobs_cmd::audit(&paths, c, out),
        Command::Sync(a) => sync_cmd::run(&paths, &a, out),
        Command::Run(a) => run_cmd::run(&paths, &a, out),
        #[cfg(feature = "sim")]
        Command::Demo(a) => demo_cmd::run(&a, out),
        Command::Queue { action } => queue_cmd::run(&paths, action, &job_cmd::technician(&paths)?, out),
        Command::Console(a) => console_cmd::run(&paths, &a, lang, out),
    }
}

/// A single-threaded async runtime for the network commands.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(Exit::Failure, crate::tr!("runtime-failed", reason = e.to_string())))
}

/// The agent of the data directory: every job command goes through it.
pub fn agent(paths: &Paths) -> Result<crate::agent::Agent, CliError> {
    Ok(crate::agent::Agent::open(paths)?)
}

/// Loads the built-in profiles with the user's overrides.
pub fn load_profiles(paths: &Paths) -> Result<ProfileSet, CliError> {
    ProfileSet::load(&paths.profile_overrides()).map_err(CliError::from)
}

fn order_check(paths: &Paths, file: &std::path::Path, out: &Output) -> Result<(), CliError> {
    let profiles = load_profiles(paths)?;
    let (_, report) = crate::order::check_file(file, &profiles)?;
    let file_name = file.display().to_string();
    let human = if report.valid {
        crate::tr!("order-check-valid", file = file_name, orders = report.orders)
    } else {
        let mut s = crate::tr!(
            "order-check-invalid",
            file = file_name,
            problems = report.errors.len(),
            orders = report.orders
        );
        for p in &report.errors {
            s.push_str(&format!("\n  {p}"));
        }
        s
    };
    out.print(&human, &report);
    if report.valid {
        Ok(())
    } else {
        Err(CliError::silent(Exit::DataErr))
    }
}
