//! `posagent console`: the web console for branch staff, on loopback.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, Exit, Output};
use crate::config::Paths;
use crate::i18n::Lang;
use crate::tr;

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Address to listen on: a loopback address only; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Open the console in this laptop's browser.
    #[arg(long)]
    pub open: bool,
    /// Directory of order files the Orders page lists (default: orders/ in the data directory).
    #[arg(long, value_name = "DIR")]
    pub orders: Option<PathBuf>,
}

/// Serves until Ctrl-C. `lang`: the language asked for (`--lang`, `POSAGENT_LANG`); the
/// pages are in Chinese otherwise, as branch staff read them.
pub fn run(paths: &Paths, a: &ConsoleArgs, lang: Option<Lang>, out: &Output) -> Result<(), CliError> {
    let lang = lang.unwrap_or(Lang::ZhCn);
    crate::i18n::set_lang(lang);
    let orders_dir = a.orders.clone().unwrap_or_else(|| paths.data.join("orders"));
    crate::private::dir(&orders_dir).map_err(|e| {
        CliError::new(
            Exit::Failure,
            tr!(
                "cannot-create",
                dir = orders_dir.display().to_string(),
                reason = e.to_string()
            ),
        )
    })?;
    let bound = posagent_console::bind(posagent_console::Options {
        listen: a.listen,
        paths: paths.clone(),
        orders_dir,
        lang,
        opener: std::sync::Arc::new(crate::job::SerialOpener),
    })
    .map_err(|e| match e {
        posagent_console::ConsoleError::NotLoopback(_) => {
            CliError::new(Exit::Usage, e.to_string()).code("not_loopback")
        }
        _ => CliError::new(Exit::Unavailable, e.to_string()).code("cannot_listen"),
    })?;
    // One JSON line on stdout whatever the output mode: what scripts (and the browser) need.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", serde_json::json!({ "url": bound.url() }));
    let _ = stdout.flush();
    drop(stdout);
    if !out.json && !out.quiet {
        eprintln!("{}", tr!("console-ready", url = bound.url()));
    }
    if a.open {
        open_in_browser(bound.url());
    }
    bound
        .serve(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .map_err(|e| CliError::new(Exit::Unavailable, e.to_string()).code("cannot_listen"))
}

/// Hands `url` to the desktop's browser; a failure only leaves the URL to open by hand.
fn open_in_browser(url: &str) {
    let mut cmd = if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else {
        std::process::Command::new("xdg-open")
    };
    if let Err(e) = cmd.arg(url).stdin(std::process::Stdio::null()).spawn() {
        tracing::warn!("browser not opened: {e}");
    }
}
