//! Progress bars for transfers: drawn on stderr in a terminal, hidden under `--json` or
//! when stderr is not a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use super::Output;

/// A byte-count bar for one transfer.
pub fn transfer_bar(out: &Output, label: &str) -> ProgressBar {
    if out.json || !std::io::stderr().is_terminal() {
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
