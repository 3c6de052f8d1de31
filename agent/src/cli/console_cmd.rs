//! `posagent console`: the web console for branch staff, on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, Output};
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
    let bound = posagent_console::bind(posagent_console::Options {
        listen: a.listen,
        paths: paths.clone(),
        orders_dir,
        lang,
        opener: std::sync::Arc::new(crate::job::SerialOpener),
    })?;
    // One JSON line on stdout whatever the output mode: what scripts (and the browser) need.
    super::json_line(&serde_json::json!({ "url": bound.url() }));
    if !out.json && !out.quiet {
        eprintln!("{}", tr!("console-ready", url = bound.url()));
    }
    if a.open {
        bound.open_in_browser();
    }
    Ok(bound.serve(async {
        let _ = tokio::signal::ctrl_c().await;
    })?)
}
