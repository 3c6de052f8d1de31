//! The pages' frame and the small pieces every page uses: text in the session's language,
//! the navigation, the language switch, forms that carry the CSRF token.

use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use posagent_core::i18n::{FluentArgs, Lang, text_in};

use crate::auth::Session;

/// The message `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    text_in(lang, key, None)
}

/// The message `key` in `lang` with `args` filled in.
pub fn ta(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let mut a = FluentArgs::new();
    for (k, v) in args {
        a.set(*k, v.clone());
    }
    text_in(lang, key, Some(&a))
}

/// Which page the navigation marks as current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Terminals,
    Orders,
    Jobs,
    Backups,
    Queue,
}

/// A page in the console's frame.
pub fn frame(s: &Session, nav: Option<Nav>, title: &str, body: Markup) -> Response {
    let lang = s.lang;
    let links = [
        (Nav::Terminals, "/terminals", "console-nav-terminals"),
        (Nav::Orders, "/orders", "console-nav-orders"),
        (Nav::Jobs, "/jobs", "console-nav-jobs"),
        (Nav::Backups, "/backups", "console-nav-backups"),
        (Nav::Queue, "/queue", "console-nav-queue"),
    ];
    let (other, other_label) = match lang {
        Lang::ZhCn | Lang::Qps => ("en", "English"),
        Lang::En => ("zh-CN", "中文"),
    };
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang.tag()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="csrf" content=(s.csrf);
                    title { (title) " · posagent" }
                    link rel="stylesheet" href="/assets/console.css";
                    script src="/assets/console.js" defer {}
                }
                body {
                    header {
                        span.brand { "posagent" }
                        nav {
                            @for (n, href, key) in links {
                                a href=(href) class=[(nav == Some(n)).then_some("current")] id={ "nav-" (href.trim_start_matches('/')) } { (t(lang, key)) }
                            }
                        }
                        form.lang method="post" action="/lang" {
                            (csrf(s))
                            input type="hidden" name="lang" value=(other);
                            button type="submit" id="lang-switch" { (other_label) }
                        }
                    }
                    main {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
        .into_string(),
    )
    .into_response()
}

/// What the last action said (it redirected here), once.
pub fn said(app: &crate::App, s: &Session) -> Option<maud::PreEscaped<String>> {
    app.sessions.take_flash(s).map(|f| maud::PreEscaped(f.html))
}

/// The hidden CSRF field every form carries.
pub fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A message box: `kind` is `error`, `ok` or `note`.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { p class={ "notice " (kind) } role="status" { (text) } }
}

/// What went wrong, as the command line says it: the message and the next step (the
/// error's diagnosis), in the language it was made in.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    pub help: Option<String>,
}

impl Failure {
    /// A failure that is only a sentence.
    pub fn said(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            help: None,
        }
    }
}

impl<E: posagent_core::diagnosis::Diagnose> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure {
            message: e.to_string(),
            help: e.diagnosis().help,
        }
    }
}

/// A failure shown: its message, and what to do next.
pub fn failure(f: &Failure) -> Markup {
    html! {
        div.failure role="status" {
            p class="notice error" { (f.message) }
            @if let Some(h) = &f.help { p.hint.next-step { (h) } }
        }
    }
}

/// The operator secret and backup password fields: typed, sent once in the form body,
/// never stored (autocomplete off so the browser does not keep them either).
pub fn secret_fields(lang: Lang, new_password: bool) -> Markup {
    html! {
        label { (t(lang, "console-operator-secret"))
            input type="password" name="secret" id="secret" autocomplete="off" required;
        }
        label { (t(lang, "console-backup-password"))
            input type="password" name="password" id="password" autocomplete="off" required;
        }
        @if new_password {
            label { (t(lang, "console-backup-password-again"))
                input type="password" name="password_again" id="password_again" autocomplete="off" required;
            }
        }
    }
}

/// Runs blocking work (ports, the store, a terminal) off the server's threads, speaking
/// `lang`.
pub async fn blocking<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(move || posagent_core::i18n::in_lang(lang, f))
        .await
        .unwrap_or_else(|e| Err(Failure::said(e.to_string())))
}
