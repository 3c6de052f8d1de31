//! The console's small actions: switch language, read a terminal's binding, deliver the
//! queue now, put a refused submission back in the queue.

use std::path::PathBuf;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use posagent_core::config::Config;
use posagent_core::i18n::Lang;
use posagent_core::store::Store;
use posagent_core::sync::delivery::{DeliveryError, Rounds};
use posagent_core::sync::drain::{Quiet, Tally};
use posagent_core::terminal::{Secret, Terminal};
use zeroize::Zeroizing;

use crate::App;
use crate::auth::{Flash, Session};
use crate::html::{Failure, blocking, failure, notice, t, ta};
use crate::pages::binding_list;

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
        // This session only: every page, message and job it starts speaks it.
        app.sessions.set_lang(&s.csrf, lang);
    }
    // Back where the switch was pressed (its path only: never another site).
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(page_of)
        .unwrap_or_else(|| "/terminals".into());
    Redirect::to(&back).into_response()
}

/// The console page a Referer names: its path and query, only when a browser would take
/// that as a path on this host. A backslash (`/\evil.example` is `//evil.example` to a
/// browser), `//`, a control character or anything that is not a plain path gives `None`.
fn page_of(referer: &str) -> Option<String> {
    let rest = &referer[referer.find("://")? + 3..];
    let path = &rest[rest.find('/')?..];
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-_.~?=&%+".contains(&b));
    (plain && !path.starts_with("//")).then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::page_of;

    #[test]
    fn a_referer_leads_back_to_a_console_page_never_elsewhere() {
        assert_eq!(
            page_of("http://127.0.0.1:8080/jobs/J-1?x=1").as_deref(),
            Some("/jobs/J-1?x=1")
        );
        assert_eq!(page_of("http://127.0.0.1:8080/").as_deref(), Some("/"));
        for hostile in [
            "http://127.0.0.1:8080/\\evil.example",
            "http://127.0.0.1:8080//evil.example",
            "http://127.0.0.1:8080/\\/evil.example",
            "http://127.0.0.1:8080/a\tb",
            "http://127.0.0.1:8080/a b",
            "http://127.0.0.1:8080/%0d%0a\r\nSet-Cookie:x",
            "http://127.0.0.1:8080",
            "/jobs",
        ] {
            assert_eq!(page_of(hostile), None, "{hostile}");
        }
    }
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
    let read = blocking(lang, move || {
        let agent = a.agent()?;
        let profile = agent.profiles().get(&f.profile)?;
        let mut term = Terminal::open_with(agent.opener().clone(), &p, &profile.serial)?;
        term.authenticate(&secret)?;
        Ok(term.read_binding()?)
    })
    .await;
    let shown = posagent_core::i18n::in_lang(lang, || match read {
        Ok(b) => binding_list(lang, &b),
        Err(e) => failure(&e),
    });
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
fn sync_once(app: &App) -> Result<(Tally, Option<usize>), Failure> {
    let paths = &app.opts.paths;
    let mut delivery = app.agent()?.delivery(Default::default())?;
    // On one of the runtime's blocking threads, where waiting for a future is allowed.
    tokio::runtime::Handle::current()
        .block_on(async {
            let (_stop, never) = tokio::sync::watch::channel(false);
            let rounds = Rounds::Once {
                max_wait: Duration::from_secs(5),
            };
            let (tally, result) = delivery.deliver(rounds, never, &mut Quiet).await?;
            result.map_err(DeliveryError::from)?;
            let pulled = delivery.pull_orders(paths).await?;
            Ok::<_, DeliveryError>((tally, Some(pulled.kept.len())))
        })
        .map_err(Failure::from)
}

/// `POST /queue/sync`: delivers what waits, now.
pub async fn sync_now(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    let lang = s.lang;
    let a = app.clone();
    let said = match blocking(lang, move || sync_once(&a)).await {
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
        Err(e) => html! { div #sync-result { (failure(&e)) } },
    };
    back_to_queue(&app, &s, said)
}

/// `POST /queue/ID/retry`: a refused or abandoned submission goes back in the queue.
pub async fn retry(State(app): State<App>, Extension(s): Extension<Session>, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let paths = app.opts.paths.clone();
    let id2 = id.clone();
    let done = blocking(lang, move || {
        let tech = Config::load(&paths)?.technician();
        let mut store = Store::open(&paths.data)?;
        Ok(store.retry_submission(&id2, &tech)?)
    })
    .await;
    let said = match done {
        Ok(true) => notice("ok", &ta(lang, "console-requeued", &[("submission", id)])),
        Ok(false) => notice("error", &t(lang, "console-not-retryable")),
        Err(e) => failure(&e),
    };
    back_to_queue(&app, &s, said)
}
