//! Ctrl-C and termination (SIGINT, SIGTERM, SIGHUP; Ctrl-C and console close on Windows)
//! while a job runs: the first asks the job to stop at its next safe point (at a question,
//! at once: see `prompt`), a second quits at once (the journal makes that safe too).
//! Processes registered here (the demo's simulators) are stopped either way.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

static STOP: AtomicBool = AtomicBool::new(false);
/// A question is waiting for its answer: a stop ends it at once, with no more said here.
static AT_PROMPT: AtomicBool = AtomicBool::new(false);
static PRESSES: AtomicUsize = AtomicUsize::new(0);
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Exit code after an interruption (128 + SIGINT, the shell convention).
pub const INTERRUPTED: u8 = 130;

/// What the first stop request says will happen.
static FIRST: OnceLock<String> = OnceLock::new();

/// Installs the handler; call once, before the work that may be interrupted.
pub fn install() {
    install_saying(crate::tr!("interrupt-first"));
}

/// Installs the handler, which says `first` on the first request.
pub fn install_saying(first: String) {
    let _ = FIRST.set(first);
    // Fails only if a handler is already installed, which then serves the same purpose.
    let _ = ctrlc::set_handler(|| {
        STOP.store(true, Ordering::SeqCst);
        stop_children();
        if PRESSES.fetch_add(1, Ordering::SeqCst) == 0 {
            if !AT_PROMPT.load(Ordering::SeqCst) {
                eprintln!("\n{}", FIRST.get().map_or("", String::as_str));
            }
        } else {
            eprintln!("\n{}", crate::tr!("interrupt-second"));
            std::process::exit(i32::from(INTERRUPTED));
        }
    });
}

/// While it lives, a question waits for its answer (see [`AtPrompt::enter`]).
pub struct AtPrompt;

impl AtPrompt {
    pub fn enter() -> AtPrompt {
        AT_PROMPT.store(true, Ordering::SeqCst);
        AtPrompt
    }
}

impl Drop for AtPrompt {
    fn drop(&mut self) {
        AT_PROMPT.store(false, Ordering::SeqCst);
    }
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// A channel that turns true once a stop is asked for, for async work (call inside a
/// runtime).
pub fn stop_channel() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(requested());
    tokio::spawn(async move {
        while !requested() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = tx.send(true);
    });
    rx
}

/// Registers a child process to stop on interruption (the demo's simulators).
#[cfg(feature = "sim")]
pub fn register_child(pid: u32) {
    if let Ok(mut c) = CHILDREN.lock() {
        c.push(pid);
    }
}

fn stop_children() {
    let pids = CHILDREN.lock().map(|c| c.clone()).unwrap_or_default();
    for pid in pids {
        kill(pid);
    }
}

#[cfg(unix)]
fn kill(pid: u32) {
    // SAFETY: kill(2) with a pid this process started; a stale pid is at worst refused.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
}

#[cfg(not(unix))]
fn kill(pid: u32) {
    let _ = std::process::Command::new("taskkill")
        .args(["/PID", &pid.to_string(), "/T", "/F"])
        .output();
}
