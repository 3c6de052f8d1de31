//! Questions asked on the terminal that Ctrl-C ends at once. The answer is read on a
//! thread of its own while the command waits for it or for a stop request; a stop leaves
//! the question unanswered (the terminal's echo put back as it was), and the job asking
//! ends interrupted, resumable, with nothing changed.

use std::sync::mpsc;
use std::time::Duration;

use super::interrupt;

/// How often the wait for an answer looks for a stop request.
const STOP_POLL: Duration = Duration::from_millis(50);

/// How long a read cut short by a signal waits for the signal's handler to say it was a
/// stop (the handler runs on its own thread, a moment after the read gives up).
const STOP_GRACE: Duration = Duration::from_millis(500);

/// What came of a question.
pub enum Asked<T> {
    Answer(T),
    /// Ctrl-C (or a termination signal) came first.
    Stopped,
}

/// Asks with `read` (which prints the question and reads the answer), unless a stop is
/// requested first. `cut_short` tells an answer the read gave up on (a hidden prompt's read
/// interrupted by the signal itself): then the stop request that comes with it wins.
pub fn ask<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static, cut_short: impl Fn(&T) -> bool) -> Asked<T> {
    if interrupt::requested() {
        return Asked::Stopped;
    }
    let echo = Echo::save();
    let _at = interrupt::AtPrompt::enter();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read());
    });
    loop {
        match rx.recv_timeout(STOP_POLL) {
            Ok(answer) if cut_short(&answer) && stop_follows() => {
                echo.restore();
                eprintln!();
                return Asked::Stopped;
            }
            Ok(answer) => return Asked::Answer(answer),
            Err(mpsc::RecvTimeoutError::Timeout) if !interrupt::requested() => {}
            // Stopped, or the reader gave up (its terminal went away): nothing was answered.
            Err(_) => {
                echo.restore();
                eprintln!();
                return Asked::Stopped;
            }
        }
    }
}

/// Whether a stop request comes within [`STOP_GRACE`].
fn stop_follows() -> bool {
    let deadline = std::time::Instant::now() + STOP_GRACE;
    while std::time::Instant::now() < deadline {
        if interrupt::requested() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    interrupt::requested()
}

/// The terminal's mode before a question (a hidden prompt turns echo off while it reads).
struct Echo {
    #[cfg(unix)]
    saved: Option<libc::termios>,
}

impl Echo {
    #[cfg(unix)]
    fn save() -> Echo {
        // SAFETY: tcgetattr writes a termios for a file descriptor this process holds.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } == 0;
        Echo { saved: ok.then_some(t) }
    }

    #[cfg(not(unix))]
    fn save() -> Echo {
        Echo {}
    }

    #[cfg(unix)]
    fn restore(&self) {
        if let Some(t) = &self.saved {
            // SAFETY: puts back the termios read from the same descriptor.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t);
            }
        }
    }

    #[cfg(not(unix))]
    fn restore(&self) {}
}
