//! The job wizard: an order → the terminal(s) it names, found by their serials → the
//! operator secret and the backup password, typed into the page → the job runs (checks,
//! then the person confirms the masked difference on the live page, then the change) →
//! the receipt. Resume and abort of an unfinished job, and the restore of a backup, start
//! the same way. Every one goes through the agent, as the command line does.

use std::path::{Path as FsPath, PathBuf};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use posagent_core::agent::Agent;
use posagent_core::i18n::{Lang, in_lang};
use posagent_core::job::{Archive, At, Credentials, JobOutcome, Options, OrderRef as Source, Prepared};
use posagent_core::order::{Operation, WorkOrder};
use posagent_core::store::Store;
use posagent_core::terminal::Secret;
use zeroize::Zeroizing;

use crate::App;
use crate::auth::{Flash, Session};
use crate::html::{Failure, blocking, csrf, failure, frame, notice, secret_fields, t, ta};
use crate::live::{JobFailure, Live, LiveObserver, Spec};

/// Which order: a file in the orders directory and an id in it, or a pulled order's id.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct OrderRef {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub pulled: Option<String>,
}

impl OrderRef {
    /// The wizard's address for this order.
    pub fn href(&self) -> String {
        match (&self.pulled, &self.file, &self.id) {
            (Some(p), ..) => format!("/wizard?pulled={}", url_part(p)),
            (None, Some(f), Some(i)) => format!("/wizard?file={}&id={}", url_part(f), url_part(i)),
            _ => "/orders".into(),
        }
    }
}

fn url_part(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A file named in a form, inside the orders directory (no other path is accepted).
pub fn order_file(dir: &FsPath, name: &str) -> Option<PathBuf> {
    let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != ".." && name != ".";
    plain.then(|| dir.join(name))
}

/// Loads and checks the order `r` names, as the agent reads any order.
pub fn load(app: &App, r: &OrderRef) -> Result<Prepared, Failure> {
    let agent = app.agent()?;
    if let Some(id) = &r.pulled {
        return Ok(agent.order(&Source::Pulled(id), None)?);
    }
    let (Some(name), Some(id)) = (&r.file, &r.id) else {
        return Err(Failure::said(t(posagent_core::i18n::lang(), "console-order-unknown")));
    };
    let file = order_file(&app.opts.orders_dir, name)
        .ok_or_else(|| Failure::said(t(posagent_core::i18n::lang(), "console-order-unknown")))?;
    Ok(agent.order(&Source::InFile { file: &file, id }, None)?)
}

/// The ports of the order's terminal and, for a migration, of its replacement, found
/// among the ports no job of this console uses.
fn ports_of(app: &App, p: &Prepared) -> Result<(PathBuf, Option<PathBuf>), Failure> {
    let agent = app.agent()?;
    let profile = agent.profiles().get(&p.order.profile)?;
    let busy = app.live.busy_ports();
    let lang = posagent_core::i18n::lang();
    let main = p.order.expect.serial.as_deref().ok_or_else(|| {
        Failure::said(ta(
            lang,
            "job-where",
            &[("flag", "--port".into()), ("field", "expect.serial".into())],
        ))
    })?;
    let port = agent.locate(main, profile, &busy)?;
    let to = match p.order.operation {
        Operation::Migrate => {
            let sn = p
                .order
                .replacement
                .as_ref()
                .and_then(|r| r.serial.as_deref())
                .ok_or_else(|| {
                    Failure::said(ta(
                        lang,
                        "job-where",
                        &[("flag", "--to".into()), ("field", "replacement.serial".into())],
                    ))
                })?;
            Some(agent.locate(sn, profile, &busy)?)
        }
        _ => None,
    };
    Ok((port, to))
}

fn serials_of(order: &WorkOrder) -> Vec<String> {
    order
        .expect
        .serial
        .iter()
        .chain(order.replacement.as_ref().and_then(|r| r.serial.as_ref()))
        .cloned()
        .collect()
}

/// Who holds a terminal this job needs: a job from this console, or an unfinished job in
/// the store (from the command line, or a console that stopped).
fn held_by(app: &App, serials: &[String], ports: &[PathBuf], lang: Lang) -> Option<Markup> {
    if let Some(l) = app.live.holder(serials, ports) {
        return Some(busy(&l, lang));
    }
    let store = Store::open(&app.opts.paths.data).ok()?;
    serials.iter().find_map(|s| {
        let j = store.open_job_for(s).ok()??;
        let text = ta(
            lang,
            "console-held-by-job",
            &[
                ("serial", s.clone()),
                ("job", j.id.clone()),
                ("technician", j.technician.clone()),
                ("since", posagent_core::store::local_time(&j.created_at)),
            ],
        );
        Some(html! { (notice("error", &text)) a href={ "/jobs/" (j.id) } #holder { (j.id) } })
    })
}

fn busy(l: &Live, lang: Lang) -> Markup {
    let text = ta(
        lang,
        "console-held-by-live",
        &[
            ("title", l.title.clone()),
            ("since", posagent_core::store::local_time(&l.started_at)),
        ],
    );
    html! { (notice("error", &text)) a href={ "/live/" (l.key) } #holder { (l.title) } }
}

/// What the wizard page shows once the order is read: the terminals found, or why none.
type Found = (Prepared, Result<(PathBuf, Option<PathBuf>), Markup>);

/// `GET /wizard?…`: the order, its terminal(s) found, and the form that starts the job.
pub async fn page(State(app): State<App>, Extension(s): Extension<Session>, Query(r): Query<OrderRef>) -> Response {
    let lang = s.lang;
    let app2 = app.clone();
    let r2 = r.clone();
    let found: Result<Found, Failure> = blocking(lang, move || {
        let l = load(&app2, &r2)?;
        // A terminal a job holds does not answer a probe: say who holds it instead.
        let ports = match held_by(&app2, &serials_of(&l.order), &[], lang) {
            Some(h) => Err(h),
            None => ports_of(&app2, &l).map_err(|e| failure(&e)),
        };
        Ok((l, ports))
    })
    .await;
    let said = crate::html::said(&app, &s);
    let body = in_lang(lang, || match found {
        Err(e) => html! { (failure(&e)) a href="/orders" { (t(lang, "console-back-to-orders")) } },
        Ok((l, ports)) => {
            let o = &l.order;
            let summary = html! {
                dl.summary {
                    dt { (t(lang, "console-order")) } dd #order-id { (o.id) }
                    dt { (t(lang, "console-operation")) } dd { (o.operation.label()) }
                    dt { (t(lang, "console-merchant")) } dd { (o.merchant.name) " · " (o.merchant.mid) }
                    dt { (t(lang, "console-signed")) } dd { (t(lang, if l.signed.is_some() { "console-yes" } else { "console-no" })) }
                }
            };
            match ports {
                Err(e) => html! { (summary) (e) a href=(r.href()) #retry { (t(lang, "console-look-again")) } },
                Ok((port, to)) => {
                    let all_ports: Vec<PathBuf> = std::iter::once(port.clone()).chain(to.clone()).collect();
                    let holder = held_by(&app, &serials_of(o), &all_ports, lang);
                    html! {
                        (summary)
                        h2 { (t(lang, "console-found")) }
                        ul #found {
                            li { (o.expect.serial.as_deref().unwrap_or("-")) " — " code { (port.display()) } }
                            @if let Some(to) = &to {
                                li { (o.replacement.as_ref().and_then(|r| r.serial.as_deref()).unwrap_or("-")) " — " code { (to.display()) } }
                            }
                        }
                        @if let Some(h) = holder { (h) } @else {
                            form.wizard method="post" action="/wizard/start" autocomplete="off" {
                                (csrf(&s))
                                @if let Some(p) = &r.pulled { input type="hidden" name="pulled" value=(p); }
                                @if let Some(f) = &r.file { input type="hidden" name="file" value=(f); }
                                @if let Some(i) = &r.id { input type="hidden" name="id" value=(i); }
                                input type="hidden" name="port" value=(port.display());
                                @if let Some(to) = &to { input type="hidden" name="to" value=(to.display()); }
                                (secret_fields(lang, true))
                                label.check { input type="checkbox" name="documents_checked" value="on" id="documents_checked"; (t(lang, "console-documents-checked")) }
                                p.hint { (t(lang, "console-start-hint")) }
                                button type="submit" id="start" { (t(lang, "console-start")) }
                            }
                        }
                    }
                }
            }
        }
    });
    let body = html! { @if let Some(m) = said { (m) } (body) };
    frame(
        &s,
        Some(crate::html::Nav::Orders),
        &t(lang, "console-wizard-title"),
        body,
    )
}

#[derive(serde::Deserialize)]
pub struct StartForm {
    #[serde(flatten)]
    order: OrderRef,
    port: String,
    #[serde(default)]
    to: Option<String>,
    secret: String,
    password: String,
    #[serde(default)]
    password_again: Option<String>,
    #[serde(default)]
    documents_checked: Option<String>,
}

/// The secrets a form carried, taken out of it at once.
struct Secrets {
    secret: Secret,
    password: Zeroizing<Vec<u8>>,
}

impl Secrets {
    fn credentials(&self) -> Credentials<'_> {
        Credentials {
            secret: &self.secret,
            password: &self.password,
        }
    }
}

fn secrets(secret: String, password: String) -> Secrets {
    let secret = Zeroizing::new(secret);
    let password = Zeroizing::new(password);
    Secrets {
        secret: Secret::new(secret.as_bytes().to_vec()),
        password: Zeroizing::new(password.as_bytes().to_vec()),
    }
}

/// Back to the page the form was on, which shows `said` once.
fn back_with(app: &App, s: &Session, said: Markup, back: &str) -> Response {
    app.sessions.set_flash(
        s,
        Flash {
            port: None,
            html: said.into_string(),
        },
    );
    Redirect::to(back).into_response()
}

fn failed(app: &App, s: &Session, f: &Failure, back: &str) -> Response {
    back_with(app, s, failure(f), back)
}

/// Runs `job` with the console's agent on a thread of its own and sends the page to follow
/// it (or back, saying which job holds a terminal it needs).
fn run_job(
    app: &App,
    s: &Session,
    spec: Spec,
    back: &str,
    job: impl FnOnce(&Agent, &mut LiveObserver) -> Result<JobOutcome, JobFailure> + Send + 'static,
) -> Response {
    let for_job = app.clone();
    match app.live.spawn(spec, move |observer| job(&for_job.agent()?, observer)) {
        Ok(live) => Redirect::to(&format!("/live/{}", live.key)).into_response(),
        Err(holder) => back_with(app, s, busy(&holder, s.lang), back),
    }
}

/// `POST /wizard/start`: starts the job; the live page follows it.
pub async fn start(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    axum::Form(f): axum::Form<StartForm>,
) -> Response {
    let lang = s.lang;
    let again = Zeroizing::new(f.password_again.unwrap_or_default());
    let sec = secrets(f.secret, f.password);
    let back = f.order.href();
    if *again.as_bytes() != **sec.password {
        return failed(&app, &s, &Failure::said(t(lang, "passwords-differ")), &back);
    }
    let loaded = in_lang(lang, || {
        posagent_core::backup::check_password(&sec.password)?;
        load(&app, &f.order)
    });
    let l = match loaded {
        Ok(l) => l,
        Err(e) => return failed(&app, &s, &e, &back),
    };
    let port = PathBuf::from(&f.port);
    let to = f.to.filter(|t| !t.is_empty()).map(PathBuf::from);
    let serials = serials_of(&l.order);
    let ports: Vec<PathBuf> = std::iter::once(port.clone()).chain(to.clone()).collect();
    if let Some(h) = held_by(&app, &serials, &ports, lang) {
        return back_with(&app, &s, h, &back);
    }
    let title = in_lang(lang, || format!("{} · {}", l.order.operation.label(), l.order.id));
    let opts = Options {
        documents_checked: f.documents_checked.is_some(),
        ..Options::default()
    };
    let spec = Spec {
        title,
        serials,
        ports,
        lang,
    };
    run_job(&app, &s, spec, &back, move |agent, observer| {
        let at = At {
            port: Some(port),
            replacement: to,
        };
        Ok(agent.start(&l, &at, sec.credentials(), &opts, observer)?)
    })
}

#[derive(serde::Deserialize)]
pub struct ContinueForm {
    secret: String,
    password: String,
}

/// `POST /jobs/ID/resume` and `/jobs/ID/abort`: carries on (or undoes) an unfinished job,
/// whatever its order's origin.
fn carry_on(app: App, s: Session, id: String, f: ContinueForm, abort: bool) -> Response {
    let lang = s.lang;
    let sec = secrets(f.secret, f.password);
    let back = format!("/jobs/{id}");
    let job = in_lang(lang, || -> Result<_, Failure> {
        Store::open(&app.opts.paths.data)?
            .job(&id)?
            .ok_or_else(|| posagent_core::job::JobError::NotFound(id.clone()).into())
    });
    let job = match job {
        Ok(j) => j,
        Err(e) => return failed(&app, &s, &e, &back),
    };
    let verb = t(lang, if abort { "console-abort" } else { "console-resume" });
    let spec = Spec {
        title: format!("{verb} · {}", job.id),
        serials: std::iter::once(job.terminal_serial.clone())
            .chain(job.replacement_serial.clone())
            .collect(),
        ports: std::iter::once(&job.port)
            .chain(job.replacement_port.as_ref())
            .map(PathBuf::from)
            .collect(),
        lang,
    };
    run_job(&app, &s, spec, &back, move |agent, observer| {
        let creds = sec.credentials();
        Ok(if abort {
            agent.abort(&job.id, &At::default(), creds, observer)?
        } else {
            agent.resume(&job.id, &At::default(), creds, &Options::default(), observer)?
        })
    })
}

pub async fn resume(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<ContinueForm>,
) -> Response {
    carry_on(app, s, id, f, false)
}

pub async fn abort(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<ContinueForm>,
) -> Response {
    carry_on(app, s, id, f, true)
}

#[derive(serde::Deserialize)]
pub struct RestoreForm {
    /// The backup's id in the store.
    backup: i64,
    /// The provider's pulled restore order, when the restore changes a binding on a
    /// profile that takes signed orders only.
    #[serde(default)]
    order: String,
    secret: String,
    password: String,
}

/// `POST /backups/ID/restore`: restores a backup the store records onto the terminal it
/// came from, found by its serial; the live page asks for the confirmation.
pub async fn restore(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    axum::Form(f): axum::Form<RestoreForm>,
) -> Response {
    let lang = s.lang;
    let sec = secrets(f.secret, f.password);
    let back = "/backups".to_string();
    let found = in_lang(lang, || -> Result<_, Failure> {
        let agent = app.agent()?;
        let record = agent
            .store()?
            .backups()?
            .into_iter()
            .find(|b| b.id == f.backup)
            .ok_or_else(|| Failure::said(t(lang, "console-backup-unknown")))?;
        let contents = agent.read_archive(FsPath::new(&record.file), &sec.password)?;
        let profile = agent.profiles().get(&record.profile)?.clone();
        let port = agent.locate(&record.terminal_serial, &profile, &app.live.busy_ports())?;
        Ok((record, contents, profile, port))
    });
    let (record, contents, profile, port) = match found {
        Ok(v) => v,
        Err(e) => return failed(&app, &s, &e, &back),
    };
    let spec = Spec {
        title: format!("{} · {}", t(lang, "op-restore"), record.terminal_serial),
        serials: vec![record.terminal_serial.clone()],
        ports: vec![port.clone()],
        lang,
    };
    run_job(&app, &s, spec, &back, move |agent, observer| {
        let archive = Archive {
            file: FsPath::new(&record.file),
            contents,
            to_replacement: false,
        };
        let order = Some(f.order.trim()).filter(|o| !o.is_empty());
        Ok(agent.restore(archive, &port, &profile, order, sec.credentials(), observer)?)
    })
}
