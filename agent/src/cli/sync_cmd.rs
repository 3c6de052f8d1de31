//! `posagent sync [--watch]`: deliver the outbox to the provider.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use super::args::{ProviderArgs, SyncArgs};
use super::{CliError, Exit, Output, json_line, runtime};
use crate::config::{Config, Paths};
use crate::seal::LocalKeys;
use crate::store::Store;
use crate::sync::client::{Client, ProviderSettings, SyncError};
use crate::sync::drain::{DEFAULT_BATCH, Drain, DrainOptions, SyncEvent, SyncObserver, Tally};

impl From<SyncError> for CliError {
    fn from(e: SyncError) -> Self {
        let (exit, help) = match &e {
            SyncError::Setup(_) => (Exit::DataErr, "fix the setting or file named; nothing was sent"),
            SyncError::Unreachable { .. } => (
                Exit::Unavailable,
                "submissions stay queued; run `posagent sync` again when a network is back, or keep `posagent sync --watch` running",
            ),
            SyncError::Untrusted { .. } => (
                Exit::NoPerm,
                "nothing was sent and submissions stay queued; check --provider-ca, the provider's certificate and this laptop's clock",
            ),
            SyncError::Refused { .. } => (
                Exit::NoPerm,
                "nothing was marked sent; check the client certificate and the agent key file with the provider",
            ),
            SyncError::Store(_) | SyncError::Seal(_) => (Exit::Failure, "the queue is unchanged"),
        };
        CliError::new(exit, e.to_string()).help(help)
    }
}

/// The command line over config.toml; relative config paths are taken from the config
/// directory.
pub(super) fn settings(paths: &Paths, a: &ProviderArgs) -> Result<(ProviderSettings, usize, Duration), CliError> {
    let config = Config::load(paths).map_err(|e| CliError::new(Exit::DataErr, e))?;
    let p = config.provider;
    let rel = |f: Option<PathBuf>| f.map(|f| if f.is_absolute() { f } else { paths.config.join(f) });
    let url = a.url.clone().or(p.url).ok_or_else(|| {
        CliError::new(Exit::Usage, "no provider to sync with")
            .help("give --provider https://HOST[:PORT] or set url in the [provider] table of config.toml")
    })?;
    let agent_key_file = a.agent_key_file.clone().or(rel(p.agent_key_file)).ok_or_else(|| {
        CliError::new(Exit::Usage, "no agent key to sign deliveries with")
            .help("give --agent-key-file FILE (or POSAGENT_AGENT_KEY_FILE), or set agent_key_file in [provider]")
    })?;
    let (client_cert, client_key) = match (&a.client_cert, &a.client_key) {
        (Some(c), Some(k)) => (Some(c.clone()), Some(k.clone())),
        _ => (rel(p.client_cert), rel(p.client_key)),
    };
    let config_file = paths.config.join(crate::config::CONFIG_FILE);
    let batch = p.batch_size.unwrap_or(DEFAULT_BATCH);
    if batch == 0 || batch > crate::sync::api::MAX_BATCH {
        return Err(CliError::new(
            Exit::DataErr,
            format!(
                "{}: provider.batch_size must be 1 to {}",
                config_file.display(),
                crate::sync::api::MAX_BATCH
            ),
        ));
    }
    let retry_base = match p.retry_base_ms {
        None => crate::sync::backoff::BASE_DELAY,
        Some(ms @ 10..=600_000) => Duration::from_millis(ms),
        Some(_) => {
            return Err(CliError::new(
                Exit::DataErr,
                format!("{}: provider.retry_base_ms must be 10 to 600000", config_file.display()),
            ));
        }
    };
    Ok((
        ProviderSettings {
            url,
            ca: a.provider_ca.clone().or(rel(p.ca)),
            pins: p.pins,
            client_cert,
            client_key,
            agent_key_file,
        },
        batch,
        retry_base,
    ))
}

/// Draws a drain: a bar for a one-off sync, one line per event when watching.
struct SyncScreen {
    json: bool,
    quiet: bool,
    watch: bool,
    bar: ProgressBar,
    reachable: Option<bool>,
}

impl SyncScreen {
    fn new(out: &Output, watch: bool, pending: u64) -> SyncScreen {
        let bar = if !out.narrates() || watch || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let b = ProgressBar::new(pending);
            b.set_style(
                ProgressStyle::with_template("sync [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        };
        SyncScreen {
            json: out.json,
            quiet: out.quiet,
            watch,
            bar,
            reachable: None,
        }
    }

    fn line(&self, event: &str, text: &str, data: serde_json::Value) {
        if self.json {
            let mut doc = serde_json::json!({ "event": event, "at": crate::store::now() });
            if let (Some(d), serde_json::Value::Object(extra)) = (doc.as_object_mut(), data) {
                d.extend(extra);
            }
            json_line(&doc);
        } else if !self.quiet {
            self.bar.suspend(|| eprintln!("{text}"));
        }
    }
}

impl SyncObserver for SyncScreen {
    fn event(&mut self, e: SyncEvent<'_>) {
        match e {
            SyncEvent::Connected { url } => {
                if self.reachable != Some(true) && (self.watch || !self.json) {
                    self.line(
                        "connected",
                        &format!("connected to {url}"),
                        serde_json::json!({ "url": url }),
                    );
                }
                self.reachable = Some(true);
            }
            SyncEvent::Delivered { tally } => {
                self.bar.set_position(tally.accepted + tally.rejected + tally.dead);
                self.bar.set_message(format!(
                    "accepted {}, rejected {}, to retry {}",
                    tally.accepted, tally.rejected, tally.retried
                ));
                if self.watch {
                    self.line(
                        "delivered",
                        &format!(
                            "delivered: accepted {}, rejected {}, to retry {}, dead {}",
                            tally.accepted, tally.rejected, tally.retried, tally.dead
                        ),
                        serde_json::json!({ "tally": tally }),
                    );
                }
            }
            SyncEvent::Waiting { until } => self.bar.set_message(format!("waiting for retries due {until}")),
            SyncEvent::Unreachable { error } => {
                if self.reachable != Some(false) {
                    self.line(
                        "unreachable",
                        &format!("{error}; still watching"),
                        serde_json::json!({ "error": error.to_string() }),
                    );
                }
                self.reachable = Some(false);
            }
        }
    }
}

/// Stops the drain after its batch in flight on the first Ctrl-C or SIGTERM; a second one
/// quits at once (anything left `sending` is put back by the next run).
fn stop_on_signals(json: bool) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            return;
        };
        for n in 0.. {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if n > 0 {
                std::process::exit(130);
            }
            if !json {
                eprintln!("stopping after the batch in flight (press Ctrl-C again to quit at once)");
            }
            let _ = tx.send(true);
        }
    });
    rx
}

fn pending(store: &Store) -> Result<u64, CliError> {
    let counts = store.outbox_counts()?;
    Ok(["pending", "sending"]
        .iter()
        .map(|s| counts.get(*s).copied().unwrap_or(0) as u64)
        .sum())
}

/// Holds `<data>/sync.lock` for as long as it lives: one delivery run per data directory,
/// so a second run cannot put the first one's submissions in flight back in the queue.
fn one_sync_at_a_time(paths: &Paths) -> Result<std::fs::File, CliError> {
    let path = paths.data.join("sync.lock");
    let fail = |e: std::io::Error| CliError::new(Exit::Failure, format!("cannot open {}: {e}", path.display()));
    crate::private::dir(&paths.data).map_err(fail)?;
    let file = crate::private::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(fail)?;
    // SAFETY: flock on a descriptor this function owns; the lock ends with the file.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(CliError::new(
            Exit::Unavailable,
            "another `posagent sync` is delivering from this data directory",
        )
        .help("let it finish, or stop it (Ctrl-C) and run this again"));
    }
    Ok(file)
}

pub fn run(paths: &Paths, a: &SyncArgs, out: &Output) -> Result<(), CliError> {
    let (settings, batch_size, retry_base) = settings(paths, &a.provider)?;
    let client = Client::new(&settings)?;
    let _lock = one_sync_at_a_time(paths)?;
    let mut store = Store::open(&paths.data)?;
    let keys = LocalKeys::load_or_create(&paths.data).map_err(SyncError::from)?;
    let opts = DrainOptions {
        batch_size,
        max_wait: Duration::from_secs(if a.watch { a.interval } else { a.max_wait }),
        retry_base,
    };
    let queued = pending(&store)?;
    let mut screen = SyncScreen::new(out, a.watch, queued);
    let (tally, result) = runtime()?.block_on(async {
        if queued == 0 && !a.watch {
            // Nothing to send: still prove the provider is reachable and trusted.
            client.connect().await?;
        }
        let stop = stop_on_signals(out.json);
        let mut drain = Drain::new(&mut store, &keys, &client, opts, stop)?;
        let result = if a.watch {
            drain.watch(Duration::from_secs(a.interval), &mut screen).await
        } else {
            drain.run(&mut screen).await
        };
        Ok::<_, SyncError>((drain.tally.clone(), result))
    })?;
    screen.bar.finish_and_clear();
    match result {
        Ok(()) => {
            // Delivered; now the orders issued meanwhile, when the provider's keys are known.
            let order_keys = super::orders_cmd::order_keys(paths)?;
            let pulled = if !a.watch && !order_keys.is_empty() {
                let tech = super::job_cmd::technician(paths)?;
                let p = runtime()?.block_on(crate::sync::orders::pull(
                    &client,
                    &tech,
                    &order_keys,
                    &mut store,
                    &keys,
                ))?;
                Some(p.kept.len())
            } else {
                None
            };
            summary(&store, client.url(), &tally, out, !a.watch, pulled)
        }
        Err(e) => {
            // Say what was delivered before the failure, then the failure itself.
            if tally.batches > 0 && !out.json {
                let _ = summary(&store, client.url(), &tally, out, false, None);
            }
            Err(e.into())
        }
    }
}

/// Prints what was delivered and what is left. With `judge`, the result is an error when
/// something was refused or is still queued (a one-off sync); a watch stopped on request,
/// or a run that already failed, is not judged again.
fn summary(
    store: &Store,
    url: &str,
    tally: &Tally,
    out: &Output,
    judge: bool,
    orders_pulled: Option<usize>,
) -> Result<(), CliError> {
    let counts = store.outbox_counts()?;
    let count = |s: &str| counts.get(s).copied().unwrap_or(0);
    let left = count("pending") + count("sending");
    let next = store.next_attempt_at()?;
    let mut human = format!(
        "Synced with {url}: {} accepted, {} rejected, {} to retry, {} dead\nQueue: {} pending, {} accepted, {} rejected, {} dead",
        tally.accepted,
        tally.rejected,
        tally.retried,
        tally.dead,
        left,
        count("accepted"),
        count("rejected"),
        count("dead"),
    );
    if let Some(n) = &next {
        human.push_str(&format!("\nNext retry due {}", super::local_time(n)));
    }
    if let Some(n) = orders_pulled {
        human.push_str(&format!(
            "\nOrders: {n} pulled and verified (`posagent orders` lists them)"
        ));
    }
    let doc = serde_json::json!({
        "ok": tally.rejected + tally.dead == 0 && left == 0,
        "provider": url,
        "tally": tally,
        "queue": counts,
        "next_attempt_at": next,
        "orders_pulled": orders_pulled,
    });
    if out.json && !judge {
        // A watch writes JSON lines; its summary is one more line.
        let mut line = doc;
        line["event"] = "summary".into();
        json_line(&line);
    } else {
        out.print(&human, &doc);
    }
    if !judge {
        return Ok(());
    }
    if tally.rejected + tally.dead > 0 {
        return Err(CliError::new(
            Exit::Failure,
            format!(
                "{} submission(s) were refused by the provider and {} ran out of retries",
                tally.rejected, tally.dead
            ),
        )
        .help("`posagent queue` lists them with the provider's reason; `posagent jobs show JOB` gives the way back"));
    }
    if left > 0 {
        return Err(CliError::new(
            Exit::Unavailable,
            format!("{left} submission(s) are still queued for a later retry"),
        )
        .help("run `posagent sync` again later, or keep `posagent sync --watch` running"));
    }
    Ok(())
}
