//! The job wizard: an order → the terminal(s) it names, found by their serials → the
//! operator secret and the backup password, typed into the page → the job runs (checks,
//! then the person confirms the masked difference on the live page, then the change) →
//! the receipt. Resume and abort of an interrupted job start the same way.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use posagent_core::config::Config;
use posagent_core::job::{self, Continue, Copying, JobSetup, Proof, Verify};
use posagent_core::order::{Operation, WorkOrder};
use posagent_core::profile::ProfileSet;
use posagent_core::signed::{OrderKeys, Verified};
use posagent_core::store::Store;
use posagent_core::terminal::Secret;
use posagent_core::terminal::discover::{self, Choice};
use zeroize::Zeroizing;

use crate::App;
use crate::auth::{Flash, Session};
use crate::html::{csrf, frame, notice, secret_fields, t, ta};
use crate::live::{Live, Spec};
use posagent_core::sync::orders::{NotReady, Ready};

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

/// An order ready to run.
pub struct Loaded {
    pub order: WorkOrder,
    pub profiles: ProfileSet,
    pub order_file: PathBuf,
    pub signed: Option<Verified>,
}

/// A file named in a form, inside the orders directory (no other path is accepted).
pub fn order_file(dir: &FsPath, name: &str) -> Option<PathBuf> {
    let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != ".." && name != ".";
    plain.then(|| dir.join(name))
}

/// Loads and checks the order `r` names; an error is a sentence to show.
pub fn load(app: &App, r: &OrderRef) -> Result<Loaded, String> {
    let paths = &app.opts.paths;
    let profiles = ProfileSet::load(&paths.profile_overrides()).map_err(|e| e.to_string())?;
    if let Some(id) = &r.pulled {
        let (order, v) = Ready::open(paths)
            .and_then(|r| r.one(id, &profiles))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| posagent_core::tr!("job-pulled-gone", order = id.as_str()))?
            .map_err(|e| match e {
                NotReady::Auth(e) => e.to_string(),
                NotReady::Invalid(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            })?;
        return Ok(Loaded {
            order,
            profiles,
            order_file: PathBuf::from(format!("{}{id}", job::PULLED)),
            signed: Some(v),
        });
    }
    let (Some(name), Some(id)) = (&r.file, &r.id) else {
        return Err(posagent_core::tr!("console-order-unknown"));
    };
    let file = order_file(&app.opts.orders_dir, name).ok_or_else(|| posagent_core::tr!("console-order-unknown"))?;
    let (orders, report) = posagent_core::order::check_file(&file, &profiles).map_err(|e| e.to_string())?;
    if !report.valid {
        return Err(report
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "));
    }
    let order = orders
        .into_iter()
        .find(|o| &o.id == id)
        .ok_or_else(|| posagent_core::tr!("console-order-unknown"))?;
    Ok(Loaded {
        order,
        profiles,
        order_file: file,
        signed: None,
    })
}

/// Where the terminal with `serial` answers, found among the ports (as `posagent` finds
/// it without `--port`).
fn locate(app: &App, profiles: &ProfileSet, serial: &str, profile: &str) -> Result<PathBuf, String> {
    let forced = profiles.get(profile).map_err(|e| e.to_string())?;
    let candidates = crate::live::free_candidates(app)?;
    match discover::choose_among(&candidates, profiles, None, Some(serial), Some(forced)) {
        Ok(Choice::One { port, .. }) => Ok(port),
        Ok(Choice::Several(found)) => Err(posagent_core::tr!(
            "console-several-answer",
            serial = serial,
            ports = found
                .iter()
                .map(|f| f.port.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The ports of the order's terminal and, for a migration, of its replacement.
fn ports_of(app: &App, l: &Loaded) -> Result<(PathBuf, Option<PathBuf>), String> {
    let main = l
        .order
        .expect
        .serial
        .as_deref()
        .ok_or_else(|| posagent_core::tr!("job-where", flag = "--port", field = "expect.serial"))?;
    let port = locate(app, &l.profiles, main, &l.order.profile)?;
    let to = match l.order.operation {
        Operation::Migrate => {
            let sn = l
                .order
                .replacement
                .as_ref()
                .and_then(|r| r.serial.as_deref())
                .ok_or_else(|| posagent_core::tr!("job-where", flag = "--to", field = "replacement.serial"))?;
            Some(locate(app, &l.profiles, sn, &l.order.profile)?)
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
/// the store (from the CLI, or a console that stopped).
fn held_by(app: &App, serials: &[String], ports: &[PathBuf], lang: posagent_core::i18n::Lang) -> Option<Markup> {
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

fn busy(l: &Live, lang: posagent_core::i18n::Lang) -> Markup {
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

/// `GET /wizard?…`: the order, its terminal(s) found, and the form that starts the job.
pub async fn page(State(app): State<App>, Extension(s): Extension<Session>, Query(r): Query<OrderRef>) -> Response {
    let lang = s.lang;
    let app2 = app.clone();
    let r2 = r.clone();
    let found = tokio::task::spawn_blocking(move || {
        let l = load(&app2, &r2)?;
        // A terminal a job holds does not answer a probe: say who holds it instead.
        let ports = match held_by(&app2, &serials_of(&l.order), &[], lang) {
            Some(h) => Err(h),
            None => ports_of(&app2, &l).map_err(|e| notice("error", &e)),
        };
        Ok::<_, String>((l, ports))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let said = crate::html::said(&app, &s);
    let body = match found {
        Err(e) => html! { (notice("error", &e)) a href="/orders" { (t(lang, "console-back-to-orders")) } },
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
    };
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

fn failed(app: &App, s: &Session, message: &str, back: &str) -> Response {
    back_with(app, s, notice("error", message), back)
}

fn started(app: &App, s: &Session, r: Result<Arc<Live>, Arc<Live>>, back: &str) -> Response {
    match r {
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
    let again = Zeroizing::new(f.password_again.unwrap_or_default());
    let sec = secrets(f.secret, f.password);
    let back = f.order.href();
    if *again.as_bytes() != **sec.password {
        return failed(&app, &s, &posagent_core::tr!("passwords-differ"), &back);
    }
    if let Err(e) = posagent_core::backup::check_password(&sec.password) {
        return failed(&app, &s, &e.to_string(), &back);
    }
    let l = match load(&app, &f.order) {
        Ok(l) => l,
        Err(e) => return failed(&app, &s, &e, &back),
    };
    let port = PathBuf::from(&f.port);
    let to = f.to.filter(|t| !t.is_empty()).map(PathBuf::from);
    let serials = serials_of(&l.order);
    let ports: Vec<PathBuf> = std::iter::once(port.clone()).chain(to.clone()).collect();
    if let Some(h) = held_by(&app, &serials, &ports, s.lang) {
        return back_with(&app, &s, h, &back);
    }
    let title = format!("{} · {}", l.order.operation.label(), l.order.id);
    let paths = &app.opts.paths;
    let setting = Config::load(paths).map_err(|e| e.to_string()).and_then(|c| {
        let proof = Proof::configured(paths, f.documents_checked.is_some()).map_err(|e| e.to_string())?;
        Ok((c.technician(), proof))
    });
    let (technician, proof) = match setting {
        Ok(v) => v,
        Err(e) => return failed(&app, &s, &e, &back),
    };
    let for_job = app.clone();
    let spec = Spec { title, serials, ports };
    started(
        &app,
        &s,
        app.live.spawn(spec, move |observer| {
            let paths = &for_job.opts.paths;
            let profile = l.profiles.get(&l.order.profile)?;
            let setup = JobSetup {
                opener: for_job.opts.opener.clone(),
                paths,
                profile,
                order: l.order.clone(),
                order_file: &l.order_file,
                port: &port,
                replacement_port: to.as_deref(),
                secret: &sec.secret,
                backup_password: &sec.password,
                technician: &technician,
                dry_run: false,
                cooldown_checked_by_provider: false,
                verify: Verify::default(),
                copying: Copying::default(),
                signed: l.signed.clone(),
                proof,
            };
            job::start(setup, observer)
        }),
        &back,
    )
}

#[derive(serde::Deserialize)]
pub struct ContinueForm {
    secret: String,
    password: String,
}

/// `POST /jobs/ID/resume` and `/jobs/ID/abort`: carries on (or undoes) an interrupted job.
fn carry_on(app: App, s: Session, id: String, f: ContinueForm, abort: bool) -> Response {
    let sec = secrets(f.secret, f.password);
    let back = format!("/jobs/{id}");
    let paths = app.opts.paths.clone();
    let job = match Store::open(&paths.data).map_err(|e| e.to_string()).and_then(|st| {
        st.job(&id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| posagent_core::tr!("job-not-found", job = id.as_str()))
    }) {
        Ok(j) => j,
        Err(e) => return failed(&app, &s, &e, &back),
    };
    let (profiles, keys) = match ProfileSet::load(&paths.profile_overrides())
        .map_err(|e| e.to_string())
        .and_then(|p| Ok((p, OrderKeys::configured(&paths).map_err(|e| e.to_string())?)))
    {
        Ok(v) => v,
        Err(e) => return failed(&app, &s, &e, &back),
    };
    let serials: Vec<String> = std::iter::once(job.terminal_serial.clone())
        .chain(job.replacement_serial.clone())
        .collect();
    let proof = match Proof::configured(&paths, false) {
        Ok(p) => p,
        Err(e) => return failed(&app, &s, &e.to_string(), &back),
    };
    let verb = t(s.lang, if abort { "console-abort" } else { "console-resume" });
    let spec = Spec {
        title: format!("{verb} · {}", job.id),
        serials,
        ports: std::iter::once(&job.port)
            .chain(job.replacement_port.as_ref())
            .map(PathBuf::from)
            .collect(),
    };
    let for_job = app.clone();
    started(
        &app,
        &s,
        app.live.spawn(spec, move |observer| {
            let paths = &for_job.opts.paths;
            let c = Continue {
                opener: for_job.opts.opener.clone(),
                verify: Verify::default(),
                order_keys: &keys,
                paths,
                profiles: &profiles,
                secret: &sec.secret,
                backup_password: &sec.password,
                port: None,
                replacement_port: None,
                proof,
            };
            if abort {
                c.abort(&id, observer)
            } else {
                c.resume(&id, observer)
            }
        }),
        &back,
    )
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
