//! Rendering for people and for scripts, and the exit codes of DESIGN.md.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::order::OrderFileError;
use crate::profile::ProfileError;

/// Exit codes: the contract with scripts (documented in docs/handbook.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[repr(u8)]
pub enum Exit {
    /// Anything else that went wrong.
    Failure = 1,
    /// The command line was wrong.
    Usage = 2,
    /// Input data (an order, a file, an archive) is invalid or missing.
    DataErr = 65,
    /// A terminal or the provider is unavailable.
    Unavailable = 69,
    /// Refused for lack of permission: wrong operator secret, terminal locked out.
    NoPerm = 77,
    /// Stopped by Ctrl-C or a termination signal at a safe point (128 + SIGINT).
    Interrupted = 130,
}

/// An error as the user sees it: what went wrong, what to do next, and the exit code.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
    pub help: Option<String>,
    /// Already reported on stdout (e.g. `order check` listed the problems).
    pub reported: bool,
}

impl CliError {
    /// An error with a message.
    pub fn new(exit: Exit, message: impl Into<String>) -> CliError {
        CliError {
            exit,
            message: message.into(),
            help: None,
            reported: false,
        }
    }

    /// Adds what the user should do next.
    pub fn help(mut self, help: impl Into<String>) -> CliError {
        self.help = Some(help.into());
        self
    }

    /// A failure whose details the command already printed.
    pub fn silent(exit: Exit) -> CliError {
        CliError {
            exit,
            message: String::new(),
            help: None,
            reported: true,
        }
    }
}

impl From<ProfileError> for CliError {
    fn from(e: ProfileError) -> Self {
        let help = match &e {
            ProfileError::Invalid { .. } => "fix the profile file, or remove it to use the built-in one",
            ProfileError::Unknown(_) => "run `posagent profiles` to see the names",
            ProfileError::Io(..) => "check the directory's permissions",
            ProfileError::Read(_) => "replace it with a plain TOML file, or remove it to use the built-in profile",
        };
        CliError::new(Exit::DataErr, e.to_string()).help(help)
    }
}

impl From<crate::input::InputError> for CliError {
    fn from(e: crate::input::InputError) -> Self {
        CliError::new(Exit::DataErr, e.to_string())
    }
}

impl From<OrderFileError> for CliError {
    fn from(e: OrderFileError) -> Self {
        CliError::new(Exit::DataErr, e.to_string())
    }
}

/// Writes one JSON value as one line on stdout and flushes it, whole: lines written from
/// parallel jobs or a long-running process never interleave and are seen at once.
pub fn json_line(value: &serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}

/// Where results go: text for people, one JSON document for scripts.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    /// `-q`: no step lines, bars or notes on stderr; results and errors only.
    pub quiet: bool,
}

impl Output {
    pub fn new(json: bool, quiet: bool) -> Output {
        Output { json, quiet }
    }

    /// Whether to tell the person watching what is happening (step lines, progress bars,
    /// which terminal was found) on stderr: not under `--json` or `-q`.
    pub fn narrates(&self) -> bool {
        !self.json && !self.quiet
    }

    /// Prints a result: `human` as text, or `data` as one JSON document.
    pub fn print(&self, human: &str, data: &impl Serialize) {
        let mut stdout = std::io::stdout().lock();
        let text = if self.json {
            serde_json::to_string_pretty(data).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        } else {
            human.to_string()
        };
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = writeln!(stdout, "{text}");
    }

    /// Reports an error and turns it into the process exit code.
    pub fn error(&self, e: &CliError) -> ExitCode {
        if !e.reported {
            if self.json {
                let doc = serde_json::json!({
                    "ok": false,
                    "exit_code": e.exit as u8,
                    "error": e.message,
                    "help": e.help,
                });
                json_line(&doc);
            } else {
                eprintln!("error: {}", e.message);
                if let Some(h) = &e.help {
                    eprintln!("  help: {h}");
                }
            }
        }
        ExitCode::from(e.exit as u8)
    }
}
