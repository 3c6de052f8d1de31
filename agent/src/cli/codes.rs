//! Asking for the one-time code the merchant received: from `--sms-code-file` (for
//! scripts: the file is waited for, read once and removed, so no code stays on disk) or
//! typed at a hidden prompt. The code is handed to the job and never printed or logged.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::job::{Code, CodeAsk};
use crate::sync::api::CodePurpose;
use crate::tr;

/// How often a code file is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(200);

/// Where the technician's codes come from.
#[derive(Debug, Clone, Default)]
pub(super) struct CodeSource {
    file: Option<PathBuf>,
    /// When the code file was last written before this job could have sent a code (`None`:
    /// it did not exist): a file not written since holds no code of this job's.
    stale: Option<SystemTime>,
}

impl CodeSource {
    /// Codes from `file`, which is looked at now: whatever it holds already is stale. The
    /// job's code is the one written after this moment, however soon after the code was
    /// sent that happens.
    pub fn from_file(file: Option<PathBuf>) -> CodeSource {
        let stale = file.as_deref().and_then(modified);
        CodeSource { file, stale }
    }

    /// Whether a code can be had at all: a file, or a person at a terminal.
    pub fn available(&self) -> bool {
        self.file.is_some() || std::io::stdin().is_terminal()
    }

    /// The code for `ask`; `None` when none came before it expired, the technician
    /// stopped, or nothing was typed.
    pub fn code(&mut self, ask: &CodeAsk, narrate: bool) -> Option<Code> {
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
        match &self.file {
            Some(f) => {
                if narrate {
                    eprintln!(
                        "{again}{sent} {left} {}",
                        tr!("code-waiting-file", file = f.display().to_string())
                    );
                }
                let code = wait_for_file(f, self.stale, ask.expires_at);
                // Read and removed: the next code is whatever is written next.
                self.stale = None;
                code
            }
            None => {
                let answer = rpassword::prompt_password(format!("{again}{sent} {left} {}", tr!("code-prompt")))
                    .ok()
                    .map(Code::new)?;
                (!answer.trim().is_empty()).then_some(answer)
            }
        }
    }
}

/// When `file` was last written; `None` when it does not exist.
fn modified(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

/// Waits until `file` exists with another write than `stale`, then reads and removes it.
fn wait_for_file(file: &Path, stale: Option<SystemTime>, until: chrono::DateTime<chrono::Utc>) -> Option<Code> {
    while chrono::Utc::now() < until && !super::interrupt::requested() {
        let now = modified(file);
        if now.is_some() && now != stale {
            // A code is a few digits; anything larger is not one.
            let read = crate::input::read_regular(file, crate::input::MAX_SECRET_FILE, &tr!("what-code-file"));
            match read.map(zeroize::Zeroizing::new) {
                Ok(bytes) if !bytes.iter().all(u8::is_ascii_whitespace) => {
                    let _ = std::fs::remove_file(file);
                    return Some(Code::new(String::from_utf8_lossy(&bytes).trim().to_string()));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("code file: {e}");
                    eprintln!("{e}");
                    return None;
                }
            }
        }
        std::thread::sleep(POLL);
    }
    None
}
