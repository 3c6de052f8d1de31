//! `posagent sync [--watch]`: deliver the outbox to the provider.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::args::{ProviderArgs, SyncArgs};
use super::{CliError, Exit, Output, json_line, runtime};
use crate::config::Paths;
use crate::store::Store;
use crate::sync::delivery::{Delivery, Rounds};
use crate::sync::drain::{SyncEvent, SyncObserver, Tally};
use crate::sync::settings::Overrides;
use crate::tr;

/// What the command line puts in place of config.toml's `[provider]`.
pub(super) fn overrides(a: &ProviderArgs) -> Overrides {
    Overrides {
        url: a.url.clone(),
        ca: a.provider_ca.clone(),
        client: a.client_cert.clone().zip(a.client_key.clone()),
        agent_key_file: a.agent_key_file.clone(),
    }
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
                ProgressStyle::with_template(&format!("{} [{{bar:20}}] {{pos}}/{{len}} {{msg}}", tr!("bar-sync")))
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
                        &tr!("sync-connected", url = url),
                        serde_json::json!({ "url": url }),
                    );
                }
                self.reachable = Some(true);
            }
            SyncEvent::Delivered { tally } => {
                self.bar.set_position(tally.accepted + tally.rejected + tally.dead);
                self.bar.set_message(tr!(
                    "sync-progress",
                    accepted = tally.accepted,
                    rejected = tally.rejected,
                    retried = tally.retried
                ));
                if self.watch {
                    self.line(
                        "delivered",
                        &tr!(
                            "sync-delivered",
                            accepted = tally.accepted,
                            rejected = tally.rejected,
                            retried = tally.retried,
                            dead = tally.dead
                        ),
                        serde_json::json!({ "tally": tally }),
                    );
                }
            }
            SyncEvent::Waiting { until } => self
                .bar
                .set_message(tr!("sync-waiting", until = super::local_time(until))),
            SyncEvent::Unreachable { error } => {
                if self.reachable != Some(false) {
                    self.line(
                        "unreachable",
                        &tr!("sync-still-watching", error = error.to_string()),
                        serde_json::json!({ "error": error.to_string() }),
                    );
                }
                self.reachable = Some(false);
            }
        }
    }
}

pub fn run(paths: &Paths, a: &SyncArgs, out: &Output) -> Result<(), CliError> {
    let mut delivery = Delivery::open(paths, overrides(&a.provider))?;
    let rounds = if a.watch {
        Rounds::Watch {
            interval: Duration::from_secs(a.interval),
        }
    } else {
        Rounds::Once {
            max_wait: Duration::from_secs(a.max_wait),
        }
    };
    let mut screen = SyncScreen::new(out, a.watch, delivery.queued()?);
    let rt = runtime()?;
    // The first Ctrl-C or SIGTERM ends the run after the batch in flight; a second quits at
    // once (anything left `sending` is put back by the next run).
    super::interrupt::install_saying(tr!("sync-stopping"));
    let (tally, result) = rt.block_on(async {
        let stop = super::interrupt::stop_channel();
        delivery.deliver(rounds, stop, &mut screen).await
    })?;
    screen.bar.finish_and_clear();
    match result {
        Ok(()) => {
            // Delivered; now the provider's keys and the orders issued meanwhile.
            let pulled = if a.watch {
                None
            } else {
                Some(rt.block_on(delivery.pull_orders(paths))?.kept.len())
            };
            summary(delivery.store(), delivery.url(), &tally, out, !a.watch, pulled)
        }
        Err(e) => {
            // Say what was delivered before the failure, then the failure itself.
            if tally.batches > 0 && !out.json {
                let _ = summary(delivery.store(), delivery.url(), &tally, out, false, None);
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
    let queue = store.queue_state()?;
    let (count, left) = (|s: &str| queue.count(s), queue.waiting());
    let mut human = tr!(
        "sync-summary",
        url = url,
        accepted = tally.accepted,
        rejected = tally.rejected,
        retried = tally.retried,
        dead = tally.dead,
        pending = left,
        queue_accepted = count("accepted"),
        queue_rejected = count("rejected"),
        queue_dead = count("dead")
    );
    if let Some(n) = &queue.next_attempt_at {
        human.push_str(&format!("\n{}", tr!("sync-next-retry", at = super::local_time(n))));
    }
    if let Some(n) = orders_pulled {
        human.push_str(&format!("\n{}", tr!("sync-orders-pulled", count = n)));
    }
    let doc = serde_json::json!({
        "ok": tally.rejected + tally.dead == 0 && left == 0,
        "provider": url,
        "tally": tally,
        "queue": queue.counts,
        "next_attempt_at": queue.next_attempt_at,
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
            tr!("sync-refused-some", rejected = tally.rejected, dead = tally.dead),
        )
        .code("submissions_refused")
        .help(tr!("help-sync-refused-some")));
    }
    if left > 0 {
        return Err(CliError::new(Exit::Unavailable, tr!("sync-left", count = left))
            .code("submissions_queued")
            .help(tr!("help-sync-left")));
    }
    Ok(())
}
