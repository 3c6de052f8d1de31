//! The console's small actions: switch language, read a terminal's binding, deliver the
//! queue now, put a refused submission back in the queue.

use std::path::PathBuf;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use posagent_core::config::{Config, Paths};
use posagent_core::i18n::Lang;
use posagent_core::profile::ProfileSet;
use posagent_core::store::Store;
use posagent_core::sync::delivery::{Delivery, DeliveryError, Rounds};
use posagent_core::sync::drain::{Quiet, Tally};
use posagent_core::terminal::{Secret, Terminal};
use zeroize::Zeroizing;

use crate::App;
use crate::auth::{Flash, Session};
use crate::html::{notice, t, ta};
use crate::pages::{binding_list, blocking};

#[derive(serde::Deserialize)]
pub struct LangForm {
    lang: String,
}

/// `POST /lang`: the session's pages (and the job engine's messages) in another language;
/// back to the page it was asked from.
pub async fn lang(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LangForm>,
) -> Response {
    if let Some(lang) = Lang::parse(&f.lang) {
        app.sessions.set_lang(&s.csrf, lang);
        // One person at one laptop: the job engine's messages follow the pages.
        posagent_core::i18n::set_lang(lang);
    }
    // Back where the switch was pressed (its path only: never another site).
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.find("://").map(|i| &r[i + 3..]))
        .and_then(|r| r.find('/').map(|i| r[i..].to_string()))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/terminals".into());
    Redirect::to(&back).into_response()
}

#[derive(serde::Deserialize)]
pub struct BindingForm {
    port: String,
    profile: String,
    secret: String,
}

/// `POST /terminals/binding`: reads one terminal's binding with the operator secret (used
/// for this one reading, never kept) and shows it masked on the Terminals page.
pub async fn binding(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    axum::Form(f): axum::Form<BindingForm>,
) -> Response {
    let secret = Secret::new(Zeroizing::new(f.secret).as_bytes().to_vec());
    let port = PathBuf::from(&f.port);
    let (a, p) = (app.clone(), port.clone());
    let lang = s.lang;
    let read = blocking(move || {
        let profiles = ProfileSet::load(&a.opts.paths.profile_overrides()).map_err(|e| e.to_string())?;
        let profile = profiles.get(&f.profile).map_err(|e| e.to_string())?;
        let mut term = Terminal::open_with(a.opts.opener.clone(), &p, &profile.serial).map_err(|e| e.to_string())?;
        term.authenticate(&secret).map_err(|e| e.to_string())?;
        term.read_binding().map_err(|e| e.to_string())
    })
    .await;
    let shown = match read {
        Ok(b) => binding_list(lang, &b),
        Err(e) => notice("error", &e),
    };
    app.sessions.set_flash(
        &s,
        Flash {
            port: Some(port),
            html: shown.into_string(),
        },
    );
    Redirect::to("/terminals").into_response()
}

/// Shows `said` once on the Queue page.
fn back_to_queue(app: &App, s: &Session, said: Markup) -> Response {
    app.sessions.set_flash(
        s,
        Flash {
            port: None,
            html: said.into_string(),
        },
    );
    Redirect::to("/queue").into_response()
}

/// One delivery run, then the orders issued meanwhile (as `posagent sync`).
fn sync_once(paths: &Paths) -> Result<(Tally, Option<usize>), DeliveryError> {
    let mut delivery = Delivery::open(paths, Default::default())?;
    // On one of the runtime's blocking threads, where waiting for a future is allowed.
    tokio::runtime::Handle::current().block_on(async {
        let (_stop, never) = tokio::sync::watch::channel(false);
        let rounds = Rounds::Once {
            max_wait: Duration::from_secs(5),
        };
        let (tally, result) = delivery.deliver(rounds, never, &mut Quiet).await?;
        result?;
        let pulled = delivery.pull_orders(paths).await?;
        Ok((tally, pulled.map(|p| p.kept.len())))
    })
}

/// `POST /queue/sync`: delivers what waits, now.
pub async fn sync_now(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    let lang = s.lang;
    let paths = app.opts.paths.clone();
    let said = match blocking(move || sync_once(&paths).map_err(|e| e.to_string())).await {
        Ok((tally, pulled)) => {
            let mut text = ta(
                lang,
                "console-synced",
                &[
                    ("accepted", tally.accepted.to_string()),
                    ("rejected", tally.rejected.to_string()),
                    ("retried", tally.retried.to_string()),
                ],
            );
            if let Some(n) = pulled {
                text.push(' ');
                text.push_str(&ta(lang, "console-orders-pulled", &[("count", n.to_string())]));
            }
            html! { p #sync-result .notice.ok role="status" { (text) } }
        }
        Err(e) => html! { p #sync-result .notice.error role="status" { (e) } },
    };
    back_to_queue(&app, &s, said)
}

/// `POST /queue/ID/retry`: a refused or abandoned submission goes back in the queue.
pub async fn retry(State(app): State<App>, Extension(s): Extension<Session>, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let paths = app.opts.paths.clone();
    let id2 = id.clone();
    let done = blocking(move || {
        let tech = Config::load(&paths).map_err(|e| e.to_string())?.technician();
        let mut store = Store::open(&paths.data).map_err(|e| e.to_string())?;
        store.retry_submission(&id2, &tech).map_err(|e| e.to_string())
    })
    .await;
    let said = match done {
        Ok(true) => notice("ok", &ta(lang, "console-requeued", &[("submission", id)])),
        Ok(false) => notice("error", &t(lang, "console-not-retryable")),
        Err(e) => notice("error", &e),
    };
    back_to_queue(&app, &s, said)
}
