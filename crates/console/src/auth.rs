//! Who may use the console: a one-time login token traded for a session cookie, a CSRF
//! token per session on every state-changing request, a `Host` that names the console's
//! own loopback address, and the security headers on every answer.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, html};
use posagent_core::i18n::Lang;
use rand::RngCore;

use crate::{App, lock};

/// The session cookie's name.
pub const COOKIE: &str = "posagent_console";

/// The policy every page is served under: nothing from elsewhere, no inline script or style.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The largest form the console accepts (secrets and a few ids).
const FORM_LIMIT: usize = 16 * 1024;

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every state-changing request must carry (form field `csrf`, or the
    /// `X-CSRF-Token` header).
    pub csrf: String,
    pub lang: Lang,
}

/// What an action said, shown once by the page it redirects to (post, redirect, get: a
/// reload never repeats the action).
#[derive(Debug, Clone)]
pub struct Flash {
    /// The terminal the message is about (a binding read), if any.
    pub port: Option<std::path::PathBuf>,
    /// Markup, escaped already.
    pub html: String,
}

/// The login token (until spent) and the sessions it opened.
pub struct Sessions {
    token: Mutex<Option<String>>,
    shown_token: String,
    by_id: Mutex<HashMap<String, Session>>,
    /// By session (its CSRF token).
    flashes: Mutex<HashMap<String, Flash>>,
    default_lang: Lang,
}

/// `N` random bytes in hex.
pub fn random_hex<const N: usize>() -> String {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Equal strings, compared in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    pub fn new(default_lang: Lang) -> Sessions {
        let token = random_hex::<32>();
        Sessions {
            token: Mutex::new(Some(token.clone())),
            shown_token: token,
            by_id: Mutex::new(HashMap::new()),
            flashes: Mutex::new(HashMap::new()),
            default_lang,
        }
    }

    /// The token printed in the console's URL.
    pub fn login_token(&self) -> &str {
        &self.shown_token
    }

    /// Spends the login token: a new session's id, or `None` when `given` is not the
    /// token or it was spent already.
    fn trade(&self, given: &str) -> Option<String> {
        let mut token = lock(&self.token);
        if !token.as_deref().is_some_and(|t| same(t, given)) {
            return None;
        }
        *token = None;
        let id = random_hex::<32>();
        let session = Session {
            csrf: random_hex::<32>(),
            lang: self.default_lang,
        };
        lock(&self.by_id).insert(id.clone(), session);
        Some(id)
    }

    fn get(&self, id: &str) -> Option<Session> {
        lock(&self.by_id).get(id).cloned()
    }

    /// Keeps what an action said for the session's next page.
    pub fn set_flash(&self, s: &Session, flash: Flash) {
        lock(&self.flashes).insert(s.csrf.clone(), flash);
    }

    /// What the last action said, once.
    pub fn take_flash(&self, s: &Session) -> Option<Flash> {
        lock(&self.flashes).remove(&s.csrf)
    }

    /// Switches the language of the session `csrf` belongs to.
    pub fn set_lang(&self, csrf: &str, lang: Lang) {
        let mut all = lock(&self.by_id);
        if let Some(s) = all.values_mut().find(|s| s.csrf == csrf) {
            s.lang = lang;
        }
    }
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    token: String,
}

/// `GET /login?token=…`: trades the one-time token for a session cookie.
pub async fn login(State(app): State<App>, Query(q): Query<LoginQuery>) -> Response {
    let Some(id) = app.sessions.trade(&q.token) else {
        tracing::warn!("console login refused: token unknown or spent");
        return refused(&posagent_core::tr!("console-token-spent"));
    };
    tracing::info!("console session opened");
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
    let mut r = Redirect::to("/terminals").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// A 403 with a sentence saying what to do.
pub fn refused(why: &str) -> Response {
    let body = bare_page(why);
    (StatusCode::FORBIDDEN, body).into_response()
}

/// A page outside the frame, for refusals before a session exists.
pub fn bare_page(message: &str) -> axum::response::Html<String> {
    axum::response::Html(
        html! {
            (DOCTYPE)
            html {
                head { meta charset="utf-8"; title { "posagent" } }
                body { p #refused { (message) } }
            }
        }
        .into_string(),
    )
}

fn cookie_session(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

fn host_is_ours(app: &App, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let port = app.addr.port();
    [
        app.addr.to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(host))
}

/// The CSRF token a form or a script sent: the `X-CSRF-Token` header, else the form's
/// `csrf` field.
fn sent_csrf(headers: &HeaderMap, body: &Bytes) -> Option<String> {
    if let Some(h) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return Some(h.to_string());
    }
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
}

/// Checks every request (see the module) and adds the security headers to every answer.
pub async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let mut response = check(&app, req, next).await;
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn check(app: &App, req: Request, next: Next) -> Response {
    if !host_is_ours(app, req.headers()) {
        return refused(&posagent_core::tr!("console-wrong-host"));
    }
    if req.uri().path() == "/login" {
        return next.run(req).await;
    }
    let Some(session) = cookie_session(req.headers()).and_then(|id| app.sessions.get(id)) else {
        return refused(&posagent_core::tr!("console-no-session"));
    };
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(session.clone());
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "").into_response();
    };
    if !sent_csrf(&parts.headers, &bytes).is_some_and(|t| same(&t, &session.csrf)) {
        tracing::warn!(path = %parts.uri.path(), "console request refused: no valid CSRF token");
        return refused(&posagent_core::tr!("console-no-csrf"));
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_token_is_spent_by_its_first_use() {
        let s = Sessions::new(Lang::ZhCn);
        let token = s.login_token().to_string();
        assert!(s.trade("wrong").is_none());
        let id = s.trade(&token).expect("first use");
        assert!(s.get(&id).is_some());
        assert!(s.trade(&token).is_none(), "second use");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; posagent_console=abc; b=2"),
        );
        assert_eq!(cookie_session(&h), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("posagent_consolex=abc"));
        assert_eq!(cookie_session(&h), None);
    }

    #[test]
    fn csrf_comes_from_the_header_or_the_form() {
        let mut h = HeaderMap::new();
        let body = Bytes::from_static(b"a=1&csrf=xyz");
        assert_eq!(sent_csrf(&h, &body).as_deref(), Some("xyz"));
        h.insert("x-csrf-token", HeaderValue::from_static("hdr"));
        assert_eq!(sent_csrf(&h, &body).as_deref(), Some("hdr"));
        assert_eq!(sent_csrf(&HeaderMap::new(), &Bytes::new()), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
