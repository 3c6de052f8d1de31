//! posagent's local web console for branch staff: the same job engine as the CLI, behind
//! pages served on loopback only.
//!
//! - **Who may use it.** `posagent console` prints a URL carrying a one-time token; the
//!   first request with it gets a session cookie (HttpOnly, SameSite=Strict) and the token
//!   is spent. Every other request needs that cookie, every state-changing one the
//!   session's CSRF token too (403 otherwise), and a `Host` naming the loopback address it
//!   listens on (a page from elsewhere cannot rebind a name to it).
//! - **What pages may do.** A strict Content-Security-Policy: scripts, styles and
//!   connections only from the console itself; every asset is compiled in.
//! - **Jobs outlive pages.** A job runs on its own thread; a page follows it through
//!   server-sent events and may go away and come back (`live`).
//!
//! Data flows one way: pages (`pages`, `wizard`, `actions`) → `live` → posagent-core's
//! application layer (`Agent`), the same one the command line calls.

mod actions;
mod auth;
mod html;
mod live;
mod pages;
pub mod serve;
mod wizard;

/// The form bodies and query strings the console's pages send, as it reads them
/// (urlencoded, through axum's `Form` and `Query`): named here so that a fuzz target can
/// feed them any bytes (fuzz/fuzz_targets/console_forms.rs).
pub mod forms {
    pub use crate::actions::{BindingForm, LangForm};
    pub use crate::auth::LoginQuery;
    pub use crate::live::{CodeForm, DecisionForm};
    pub use crate::wizard::{ContinueForm, OrderRef, RestoreForm, StartForm};
}

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use posagent_core::config::Paths;
use posagent_core::i18n::Lang;
use posagent_core::link::port::Opener;

/// How the console is set up.
pub struct Options {
    /// Where to listen; a loopback address (port 0: any free port).
    pub listen: SocketAddr,
    pub paths: Paths,
    /// The directory whose order files the Orders page lists.
    pub orders_dir: PathBuf,
    /// The pages' language until the user switches.
    pub lang: Lang,
    /// How terminals are reached (serial ports; simulated terminals in tests).
    pub opener: Arc<dyn Opener>,
}

/// Why the console cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{}", posagent_core::tr!("console-not-loopback", listen = .0.to_string()))]
    NotLoopback(SocketAddr),
    #[error("{}", posagent_core::tr!("console-cannot-listen", listen = .0.to_string(), reason = .1.to_string()))]
    Listen(SocketAddr, std::io::Error),
    #[error("{}", posagent_core::tr!("console-cannot-listen", listen = .0.to_string(), reason = .1.to_string()))]
    Serve(SocketAddr, std::io::Error),
    /// The orders directory could not be made.
    #[error("{}", posagent_core::tr!("cannot-create", dir = .0.display().to_string(), reason = .1.to_string()))]
    OrdersDir(std::path::PathBuf, std::io::Error),
}

impl posagent_core::diagnosis::Diagnose for ConsoleError {
    fn diagnosis(&self) -> posagent_core::diagnosis::Diagnosis {
        use posagent_core::diagnosis::{Diagnosis, Kind};
        match self {
            ConsoleError::NotLoopback(_) => Diagnosis::of(Kind::Usage)
                .code("not_loopback")
                .help(posagent_core::tr!("help-console-loopback")),
            ConsoleError::Listen(..) | ConsoleError::Serve(..) => Diagnosis::of(Kind::Unavailable)
                .code("cannot_listen")
                .help(posagent_core::tr!("help-console-listen")),
            ConsoleError::OrdersDir(..) => {
                Diagnosis::of(Kind::Failure).help(posagent_core::tr!("help-file-unreadable"))
            }
        }
    }
}

/// What every handler shares.
pub(crate) struct Console {
    pub opts: Options,
    pub sessions: auth::Sessions,
    pub live: live::Registry,
    /// The address actually listened on (`Host` must name it).
    pub addr: SocketAddr,
}

pub(crate) type App = Arc<Console>;

impl Console {
    /// The agent of the console's data directory, read afresh (config.toml and the
    /// profiles may change while the console runs), reaching terminals as the console does.
    pub fn agent(&self) -> Result<posagent_core::agent::Agent, posagent_core::agent::OpenError> {
        Ok(posagent_core::agent::Agent::open(&self.opts.paths)?.with_opener(self.opts.opener.clone()))
    }
}

/// A mutex's contents; a thread that panicked holding it leaves them as they were (each
/// use keeps them consistent on its own).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The page that hands the login to the browser, in the data directory.
pub const LOGIN_PAGE: &str = "console-login.html";

/// A console bound to its address, not yet serving.
pub struct Bound {
    listener: std::net::TcpListener,
    console: App,
    url: String,
}

impl Bound {
    /// The address to open: the console's, with the one-time login token.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Hands the login to the desktop's browser without the token on any command line
    /// (which every local user and program can read, in /proc): the browser is given a
    /// private (0600) page in the data directory that sends it on to the login, as Jupyter
    /// does. The page goes when the console stops; a failure leaves the login to open by
    /// hand.
    pub fn open_in_browser(&self) {
        let page = self.login_page();
        let url = html_escape::encode_double_quoted_attribute(&self.url);
        let html = format!(
            "<!doctype html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={url}\"><a href=\"{url}\">posagent</a>\n"
        );
        let written = page
            .parent()
            .map_or(Ok(()), posagent_core::private::dir)
            .and_then(|()| posagent_core::private::replace(&page, html.as_bytes()));
        if let Err(e) = written {
            tracing::warn!("browser not opened: {}: {e}", page.display());
            return;
        }
        let mut cmd = if cfg!(windows) {
            let mut c = std::process::Command::new("cmd");
            c.args(["/C", "start", ""]);
            c
        } else if cfg!(target_os = "macos") {
            std::process::Command::new("open")
        } else {
            std::process::Command::new("xdg-open")
        };
        if let Err(e) = cmd.arg(&page).stdin(std::process::Stdio::null()).spawn() {
            tracing::warn!("browser not opened: {e}");
        }
    }

    /// The private page [`Bound::open_in_browser`] writes.
    fn login_page(&self) -> PathBuf {
        self.console.opts.paths.data.join(LOGIN_PAGE)
    }

    /// Serves until `shutdown` resolves; then asks running jobs to stop at their next step
    /// boundary and waits for them (a job killed instead resumes from its journal anyway).
    pub fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), ConsoleError> {
        let addr = self.console.addr;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| ConsoleError::Serve(addr, e))?;
        let console = self.console.clone();
        let login_page = self.login_page();
        // Jobs are asked to stop as soon as the signal comes: a page following one keeps its
        // event stream open until the job ends, and the server waits for open requests.
        let live = console.live.clone();
        let shutdown = async move {
            shutdown.await;
            live.stop_all();
        };
        rt.block_on(async move {
            self.listener
                .set_nonblocking(true)
                .map_err(|e| ConsoleError::Serve(addr, e))?;
            let listener =
                tokio::net::TcpListener::from_std(self.listener).map_err(|e| ConsoleError::Serve(addr, e))?;
            serve::serve(listener, router(console.clone()), shutdown).await;
            Ok::<(), ConsoleError>(())
        })?;
        let _ = std::fs::remove_file(login_page);
        // Outside the runtime: this thread may block on the jobs' threads.
        self.console.live.stop_all_and_wait();
        Ok(())
    }
}

/// Binds the console to `opts.listen`, which must be a loopback address.
pub fn bind(opts: Options) -> Result<Bound, ConsoleError> {
    if !opts.listen.ip().is_loopback() {
        return Err(ConsoleError::NotLoopback(opts.listen));
    }
    posagent_core::private::dir(&opts.orders_dir).map_err(|e| ConsoleError::OrdersDir(opts.orders_dir.clone(), e))?;
    let listener = std::net::TcpListener::bind(opts.listen).map_err(|e| ConsoleError::Listen(opts.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ConsoleError::Listen(opts.listen, e))?;
    let sessions = auth::Sessions::new(opts.lang);
    let url = format!("http://{addr}/login?token={}", sessions.login_token());
    tracing::info!(%addr, "console listening");
    let console = Arc::new(Console {
        opts,
        sessions,
        live: live::Registry::default(),
        addr,
    });
    Ok(Bound { listener, console, url })
}

fn router(app: App) -> Router {
    Router::new()
        .route("/login", get(auth::login))
        .route("/", get(pages::home))
        .route("/assets/console.css", get(pages::css))
        .route("/assets/console.js", get(pages::js))
        .route("/lang", post(actions::lang))
        .route("/terminals", get(pages::terminals))
        .route("/terminals/binding", post(actions::binding))
        .route("/orders", get(pages::orders))
        .route("/wizard", get(wizard::page))
        .route("/wizard/start", post(wizard::start))
        .route("/live/{key}", get(live::page))
        .route("/live/{key}/events", get(live::events))
        .route("/live/{key}/confirm", post(live::confirm))
        .route("/live/{key}/code", post(live::code))
        .route("/live/{key}/stop", post(live::stop))
        .route("/jobs", get(pages::jobs))
        .route("/jobs/{id}", get(pages::job))
        .route("/jobs/{id}/receipt", get(pages::receipt))
        .route("/jobs/{id}/resume", post(wizard::resume))
        .route("/jobs/{id}/abort", post(wizard::abort))
        .route("/backups", get(pages::backups))
        .route("/backups/restore", post(wizard::restore))
        .route("/queue", get(pages::queue))
        .route("/queue/sync", post(actions::sync_now))
        .route("/queue/{id}/retry", post(actions::retry))
        .fallback(pages::missing)
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::guard))
        .with_state(app)
}
