//! Progress bars for transfers: drawn on stderr in a terminal, hidden under `--json` or
//! when stderr is not a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Output;

/// Where transfer bars are drawn: stderr in a terminal, nowhere under `--json` or when
/// stderr is not a terminal.
pub fn transfer_bars(out: &Output) -> MultiProgress {
    if !out.narrates() || !std::io::stderr().is_terminal() {
        return MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
    }
    MultiProgress::new()
}

/// A byte-count bar for one transfer, to add to [`transfer_bars`].
pub fn transfer_bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    // At most 78 columns: label 16, bar 22, "1.23 MiB/4.56 MiB 123.45 KiB/s", the time left.
    let template = format!(
        "{{msg:<16}} [{{bar:20}}] {{bytes}}/{{total_bytes}} {{binary_bytes_per_sec}} {} {{eta}}",
        crate::tr!("bar-eta")
    );
    let style = ProgressStyle::with_template(&template)
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
