//! Asking for the one-time code the merchant received: from `--sms-code-file` (for
//! scripts: the file is waited for, read once and removed, so no code stays on disk) or
//! typed at a hidden prompt. The code is handed to the job and never printed or logged.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::job::{Code, CodeAnswer, CodeAsk, CodeFile};
use crate::sync::api::CodePurpose;
use crate::tr;

/// Where the technician's codes come from: a file a script writes, else a prompt.
#[derive(Debug, Clone, Default)]
pub(super) struct CodeSource {
    file: Option<CodeFile>,
}

impl CodeSource {
    /// Codes from `file` (see [`CodeFile::new`]), else typed.
    pub fn from_file(file: Option<PathBuf>) -> CodeSource {
        CodeSource {
            file: file.map(CodeFile::new),
        }
    }

    /// Whether a code can be had at all: a file, or a person at a terminal.
    pub fn available(&self) -> bool {
        self.file.is_some() || std::io::stdin().is_terminal()
    }

    /// The code for `ask`: none when none came before it expired or nothing was typed;
    /// a stop when the technician pressed Ctrl-C meanwhile.
    pub fn code(&mut self, ask: &CodeAsk, narrate: bool) -> CodeAnswer {
        let until = ask
            .expires_at
            .with_timezone(&chrono::Local)
            .format("%H:%M:%S")
            .to_string();
        let sent = match ask.purpose {
            CodePurpose::PhoneChange => tr!("code-sent-new", phone = ask.phone.as_str()),
            CodePurpose::CardChange => tr!("code-sent-bound", phone = ask.phone.as_str()),
        };
        let again = if ask.again {
            format!("{} ", tr!("code-again"))
        } else {
            String::new()
        };
        let left = tr!("code-until", until = until.as_str(), left = ask.attempts_left);
        match &mut self.file {
            Some(f) => {
                if narrate {
                    eprintln!(
                        "{again}{sent} {left} {}",
                        tr!("code-waiting-file", file = f.path.display().to_string())
                    );
                }
                let code = f.wait(ask.expires_at, super::interrupt::requested).unwrap_or_else(|e| {
                    tracing::warn!("code file: {e}");
                    eprintln!("{e}");
                    None
                });
                match code {
                    Some(c) => CodeAnswer::Code(c),
                    None if super::interrupt::requested() => CodeAnswer::Stop,
                    None => CodeAnswer::None,
                }
            }
            None => {
                let question = format!("{again}{sent} {left} {}", tr!("code-prompt"));
                let read = move || rpassword::prompt_password(question).map(Code::new);
                let cut_short =
                    |r: &std::io::Result<Code>| r.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::Interrupted);
                match super::prompt::ask(read, cut_short) {
                    super::prompt::Asked::Stopped => CodeAnswer::Stop,
                    super::prompt::Asked::Answer(Ok(c)) if !c.trim().is_empty() => CodeAnswer::Code(c),
                    super::prompt::Asked::Answer(_) => CodeAnswer::None,
                }
            }
        }
    }
}
