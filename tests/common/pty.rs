//! A program run on a real pseudo-terminal as its controlling terminal, so that prompts
//! (which read /dev/tty) can be answered the way a person at the keyboard would.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process whose stdin, stdout, stderr and controlling terminal are one pty.
pub struct PtyChild {
    master: std::fs::File,
    child: Child,
    /// Everything the program has written so far.
    pub screen: String,
}

impl PtyChild {
    /// Starts `cmd` on a new pseudo-terminal.
    pub fn spawn(mut cmd: Command) -> PtyChild {
        let (mut master, mut slave) = (0, 0);
        // The size of the terminal a technician has: 80 columns, 24 lines.
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two descriptors into the given integers.
        let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: both descriptors were just opened and are owned here.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        // SAFETY: fcntl on an open descriptor.
        unsafe {
            let flags = libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&master), libc::F_GETFL);
            libc::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&master),
                libc::F_SETFL,
                flags | libc::O_NONBLOCK,
            );
        }
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on a pty");
        PtyChild {
            master: std::fs::File::from(master),
            child,
            screen: String::new(),
        }
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            match self.master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.screen.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    }

    /// Waits until the screen shows `needle`; panics with the screen after `timeout`.
    pub fn expect(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            self.pump();
            if self.screen.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {needle:?}; screen:\n{}",
                self.screen
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types a secret once the program has turned echo off (as a password prompt does);
    /// typing earlier would show it on the screen, which no person could do either.
    pub fn send_secret(&mut self, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // SAFETY: tcgetattr on an open pty master reports the terminal's settings.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            let rc = unsafe { libc::tcgetattr(std::os::fd::AsRawFd::as_raw_fd(&self.master), &mut t) };
            if rc == 0 && t.c_lflag & libc::ECHO == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "echo never went off; screen:\n{}",
                self.screen
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self.send_line(line);
    }

    /// Whether the terminal echoes what is typed (a hidden prompt turns that off).
    pub fn terminal_echoes(&self) -> bool {
        // SAFETY: tcgetattr on an open pty master reports the terminal's settings.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(std::os::fd::AsRawFd::as_raw_fd(&self.master), &mut t) };
        rc == 0 && t.c_lflag & libc::ECHO != 0
    }

    /// Sends bytes as typed (keys such as the arrows are escape sequences).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// Types a line.
    pub fn send_line(&mut self, line: &str) {
        self.master.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// Waits for the program to end, keeping what it printed.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            self.pump();
            if let Some(status) = self.child.try_wait().unwrap() {
                self.pump();
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "program did not end; screen:\n{}",
                self.screen
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The progress bars drawn in `screen`, in the order drawn: (label, done, total) in bytes as
/// shown, from every redraw of a line `LABEL [====>  ] DONE/TOTAL …` (escape sequences
/// removed); and each such line's display width, trailing blanks left out.
pub fn bars_drawn(screen: &str) -> (Vec<(String, f64, f64)>, Vec<usize>) {
    let plain = strip_escapes(screen);
    let mut bars = Vec::new();
    let mut widths = Vec::new();
    // The terminal wraps at its 80th column, and a redraw of several bars pads each to the
    // full width and lets it wrap: a text line is as many screen rows as it fills.
    let rows: Vec<String> = plain.split(['\r', '\n']).flat_map(screen_rows).collect();
    for line in rows.iter().filter(|l| !l.trim().is_empty()) {
        let (Some(open), Some(close)) = (line.find(" ["), line.find("] ")) else {
            continue;
        };
        let Some((done, total)) = line[close + 2..].split_once('/') else {
            continue;
        };
        // "3.64 KiB/12.50 KiB 1.00 KiB/s …": the amounts are two words each.
        let amount = |words: &mut dyn Iterator<Item = &str>| -> Option<f64> {
            let n: f64 = words.next()?.parse().ok()?;
            let unit = match words.next()? {
                "B" => 1.0,
                "KiB" => 1024.0,
                "MiB" => 1024.0 * 1024.0,
                "GiB" => 1024.0 * 1024.0 * 1024.0,
                _ => return None,
            };
            Some(n * unit)
        };
        let (Some(done), Some(total)) = (
            amount(
                &mut done
                    .split_whitespace()
                    .rev()
                    .take(2)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev(),
            ),
            amount(&mut total.split_whitespace()),
        ) else {
            continue;
        };
        bars.push((line[..open].trim().to_string(), done, total));
        widths.push(console::measure_text_width(line.trim_end()));
    }
    (bars, widths)
}

/// `text` with each ANSI escape sequence (CSI `ESC [ … letter`, and lone `ESC x`) made a
/// line break: a redraw starts with one, so each drawn line stands alone.
/// Columns of the pseudo-terminal.
const COLUMNS: usize = 80;

/// `line` as the terminal's rows: cut at every 80th column. A row filled to its last column
/// with no blank there is given one column more, so text that ran past the edge shows as
/// wider than the screen.
fn screen_rows(line: &str) -> Vec<String> {
    let mut rows = vec![String::new()];
    let mut width = 0;
    for c in line.chars() {
        let w = console::measure_text_width(c.encode_utf8(&mut [0; 4]));
        if width + w > COLUMNS {
            rows.push(String::new());
            width = 0;
        }
        rows.last_mut().unwrap().push(c);
        width += w;
    }
    let full = rows.len() - 1;
    for row in &mut rows[..full] {
        if !row.ends_with(' ') {
            row.push('…');
        }
    }
    rows
}

fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        out.push('\n');
        if chars.next_if_eq(&'[').is_some() {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// Bars as drawn: `objects` transfers, each a run of redraws with one total that starts at
/// 0, never goes back and ends at its total; none of 0 bytes.
pub fn assert_progress(bars: &[(String, f64, f64)], objects: usize, screen: &str) {
    assert!(!bars.is_empty(), "no bar drawn: {screen}");
    let mut runs: Vec<Vec<f64>> = Vec::new();
    let mut total = None;
    for (_, done, t) in bars {
        assert!(*t > 0.0, "a bar for an empty object: {bars:?}");
        if total != Some(*t) {
            runs.push(Vec::new());
            total = Some(*t);
        }
        runs.last_mut().unwrap().push(*done);
    }
    let totals: Vec<f64> = {
        let mut t: Vec<f64> = bars.iter().map(|b| b.2).collect();
        t.dedup();
        t
    };
    assert_eq!(runs.len(), objects, "one bar per object: {bars:?}");
    for (run, total) in runs.iter().zip(totals) {
        assert_eq!(run[0], 0.0, "starts empty: {run:?}");
        assert!(run.windows(2).all(|w| w[0] <= w[1]), "went back: {run:?}");
        assert_eq!(*run.last().unwrap(), total, "ends at its total: {run:?}");
    }
}

/// Waits for `p` to succeed and returns the bars it drew, every one checked to fit the
/// 80-column screen.
pub fn bars_of_success(p: &mut PtyChild) -> Vec<(String, f64, f64)> {
    let status = p.wait(std::time::Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "{}", p.screen);
    let (bars, widths) = bars_drawn(&p.screen);
    assert!(
        widths.iter().all(|w| *w <= 80),
        "a bar over 80 columns: {widths:?}\n{}",
        p.screen
    );
    bars
}
