//! Progress bars for transfers: drawn on stderr in a terminal, hidden under `--json` or
//! when stderr is not a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::Output;

/// Where transfer bars are drawn: stderr in a terminal, nowhere under `--json` or when
/// stderr is not a terminal.
pub fn transfer_bars(out: &Output) -> MultiProgress {
    if !out.narrates() || !std::io::stderr().is_terminal() {
        return MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
    }
    MultiProgress::new()
}

/// Display columns of a bar's label: the bar line fits 80 columns with it.
const LABEL_COLUMNS: usize = 12;

/// A byte-count bar for one transfer of `total` bytes, drawn empty at once: the label, the
/// bar, done/total, the average rate since it began and the time left, in the current
/// language, at most 80 columns.
fn transfer_bar(label: &str, total: u64) -> ProgressBar {
    // Drawn nowhere until added to the screen's bars (set up on stderr, its style and label
    // would draw a stray copy of it there first).
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    // label 12, " [" bar 14 "] " 18, "999.99 KiB/999.99 KiB" 21, " 999.99 KiB/s" 13,
    // " 剩余 9分59秒" 13: 77 columns at most.
    let style = ProgressStyle::with_template("{msg} [{bar:14}] {bytes}/{total_bytes} {rate} {left}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}/s", HumanBytes(average_rate(s) as u64));
        })
        .with_key("left", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let rate = average_rate(s);
            let left = s.len().unwrap_or(0).saturating_sub(s.pos());
            if rate > 0.0 && left > 0 {
                let secs = (left as f64 / rate).ceil() as u64;
                let _ = w.write_str(&crate::tr!(
                    "bar-left",
                    minutes = secs / 60,
                    seconds = format!("{:02}", secs % 60)
                ));
            }
        })
        .progress_chars("=> ");
    bar.set_style(style);
    let label = console::truncate_str(label, LABEL_COLUMNS, "…");
    bar.set_message(super::output::pad(&label, LABEL_COLUMNS));
    bar
}

/// Bytes per second since the bar began: steady, where the library's recent-steps estimate
/// jumps when an acknowledgement covers much at once.
fn average_rate(s: &ProgressState) -> f64 {
    let secs = s.elapsed().as_secs_f64();
    if secs < 0.05 { 0.0 } else { s.pos() as f64 / secs }
}

/// The bars of the transfers reported under one label: one per object, each starting empty
/// with its total known, never going back, finished at its total; none for an empty object.
/// A report whose total differs, or whose count starts again, is the next object's.
pub struct Transfers {
    multi: MultiProgress,
    label: String,
    current: Option<(ProgressBar, u64)>,
}

impl Transfers {
    pub fn new(multi: &MultiProgress, label: &str) -> Transfers {
        Transfers {
            multi: multi.clone(),
            label: label.to_string(),
            current: None,
        }
    }

    /// `done` of `total` bytes of the transfer under way.
    pub fn update(&mut self, done: u64, total: u64) {
        let next = match &self.current {
            Some((bar, t)) => *t != total || done < bar.position(),
            None => true,
        };
        if next {
            self.finish();
            if total == 0 {
                return;
            }
            let bar = self.multi.add(transfer_bar(&self.label, total));
            // Shown empty first, even when the first news is of bytes already through (an
            // import's first acknowledgement): redraws are rate-limited, and the next one
            // would otherwise be the first seen.
            bar.force_draw();
            self.current = Some((bar, total));
        }
        if let Some((bar, total)) = &self.current {
            bar.set_position(done.min(*total));
            if done >= *total {
                bar.finish();
            }
        }
    }

    /// Takes the bar under way off the screen.
    pub fn finish(&mut self) {
        if let Some((bar, _)) = self.current.take() {
            bar.finish_and_clear();
        }
    }

    /// Adapts to the library's `(done, total)` progress callback.
    pub fn feed(&mut self) -> impl FnMut(u64, u64) + '_ {
        move |done, total| self.update(done, total)
    }
}

/// How a step ended, as `[ok  ]`, `[skip]` or `[FAIL]` (`[成功]`, `[跳过]`, `[失败]`), padded
/// to one width: green, yellow or red when stderr is a terminal and `NO_COLOR` is not set
/// (<https://no-color.org>), plain otherwise.
pub fn step_mark(status: crate::job::StepStatus) -> Option<String> {
    use crate::job::StepStatus;
    let (word, colour) = match status {
        StepStatus::Started => return None,
        StepStatus::Done => (crate::tr!("mark-ok"), console::Color::Green),
        StepStatus::Skipped => (crate::tr!("mark-skip"), console::Color::Yellow),
        StepStatus::Failed => (crate::tr!("mark-fail"), console::Color::Red),
    };
    let word = super::output::pad(&word, 4);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if no_color || !std::io::stderr().is_terminal() {
        return Some(format!("[{word}]"));
    }
    Some(format!(
        "[{}]",
        console::style(word).fg(colour).bold().force_styling(true)
    ))
}

/// ` · eta 1m 05s` in the current language, or nothing for less than a second.
pub fn eta_suffix(left: Option<Duration>) -> String {
    match left.map(|d| d.as_secs()) {
        Some(secs) if secs > 0 => format!(
            " · {}",
            crate::tr!("eta", minutes = secs / 60, seconds = format!("{:02}", secs % 60))
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_reads_minutes_and_seconds() {
        assert_eq!(eta_suffix(Some(Duration::from_secs(65))), " · eta 1m 05s");
        assert_eq!(eta_suffix(Some(Duration::from_millis(300))), "");
        assert_eq!(eta_suffix(None), "");
    }
}
