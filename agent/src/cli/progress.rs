//! Progress bars for transfers: drawn on stderr in a terminal, hidden under `--json` or
//! when stderr is not a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use super::Output;

/// A byte-count bar for one transfer.
pub fn transfer_bar(out: &Output, label: &str) -> ProgressBar {
    if !out.narrates() || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style =
        ProgressStyle::with_template("{msg:<24} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(label.to_string());
    bar
}

/// Adapts a bar to the library's `(done, total)` progress callback.
pub fn feed(bar: &ProgressBar) -> impl FnMut(u64, u64) + '_ {
    move |done, total| {
        if bar.length() != Some(total) {
            bar.set_length(total);
        }
        bar.set_position(done);
    }
}

/// How a step ended, as `[ok  ]`, `[skip]` or `[FAIL]`: green, yellow or red when stderr is
/// a terminal and `NO_COLOR` is not set (<https://no-color.org>), plain otherwise.
pub fn step_mark(status: crate::job::StepStatus) -> Option<String> {
    use crate::job::StepStatus;
    let (word, colour) = match status {
        StepStatus::Started => return None,
        StepStatus::Done => ("ok  ", console::Color::Green),
        StepStatus::Skipped => ("skip", console::Color::Yellow),
        StepStatus::Failed => ("FAIL", console::Color::Red),
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if no_color || !std::io::stderr().is_terminal() {
        return Some(format!("[{word}]"));
    }
    Some(format!(
        "[{}]",
        console::style(word).fg(colour).bold().force_styling(true)
    ))
}
