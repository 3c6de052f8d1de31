//! The pages that show: terminals, orders, jobs (list, detail, receipt) and the queue.

use std::path::PathBuf;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use posagent_core::i18n::Lang;
use posagent_core::profile::ProfileSet;
use posagent_core::store::{Store, local_time};
use posagent_core::terminal::discover;
use posagent_core::terminal::model::Binding;

use crate::App;
use crate::auth::Session;
use crate::html::{Failure, Nav, blocking, csrf, failure, frame, notice, secret_fields, t, ta};
use crate::wizard::OrderRef;

pub async fn home() -> Redirect {
    Redirect::to("/terminals")
}

/// Any address the console has no page for: said in the session's language, in the frame
/// with its menu, as 404.
pub async fn missing(Extension(s): Extension<Session>) -> Response {
    let lang = s.lang;
    let body = html! { (notice("error", &t(lang, "console-no-such-page"))) };
    let mut r = frame(&s, None, &t(lang, "console-no-such-page"), body);
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(kind))], body).into_response()
}

pub async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("../assets/console.css"))
}

pub async fn js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../assets/console.js"))
}

/// A terminal that answered, with what the store knows of it.
struct Seen {
    found: discover::Found,
    open_job: Option<String>,
}

fn discover_all(app: &App) -> Result<Vec<Seen>, Failure> {
    let agent = app.agent()?;
    let candidates = agent.candidates(&app.live.busy_ports())?;
    let store = agent.store()?;
    let mut found = discover::find(agent.opener(), &candidates, agent.profiles(), None);
    found.sort_by(|a, b| a.port.cmp(&b.port));
    found
        .into_iter()
        .map(|f| {
            let open_job = store.open_job_for(&f.serial)?.map(|j| j.id);
            Ok(Seen { found: f, open_job })
        })
        .collect()
}

/// The masked binding of one terminal, as read with the operator secret.
pub fn binding_list(lang: Lang, b: &Binding) -> Markup {
    html! {
        dl.binding {
            dt { (t(lang, "field-status")) } dd { (b.status.label_in(lang)) }
            @if let (Some(mid), Some(tid)) = (&b.mid, &b.tid) { dt { (t(lang, "diff-mid")) " / " (t(lang, "diff-tid")) } dd { (mid) " / " (tid) } }
            @if let Some(n) = &b.merchant_name { dt { (t(lang, "field-merchant")) } dd { (n) } }
            @if let Some(c) = &b.card { dt { (t(lang, "field-card")) } dd.num #bound-card { (c.pan) " · " (c.holder) } }
            @if let Some(a) = &b.account { dt { (t(lang, "field-account")) } dd.num { (a.number) " · " (a.holder) " · " (a.bank) } }
            @if let Some(p) = &b.phone { dt { (t(lang, "field-phone")) } dd.num { (p) } }
        }
    }
}

/// The Terminals page, with a binding just read (in its terminal's row).
pub async fn terminals(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    let lang = s.lang;
    let read: Option<(PathBuf, Markup)> = app
        .sessions
        .take_flash(&s)
        .and_then(|f| Some((f.port?, PreEscaped(f.html))));
    let a = app.clone();
    let seen = blocking(lang, move || discover_all(&a)).await;
    let busy: Vec<_> = app.live.list().into_iter().filter(|l| !l.finished()).collect();
    let body = posagent_core::i18n::in_lang(lang, || match seen {
        Err(e) => failure(&e),
        Ok(seen) if seen.is_empty() && busy.is_empty() => {
            html! { (notice("note", &t(lang, "console-no-terminals"))) p.hint { (t(lang, "help-no-terminal-found")) } }
        }
        Ok(seen) => html! {
            table #terminals {
                thead { tr {
                    th { (t(lang, "console-port")) } th { (t(lang, "console-model")) } th { (t(lang, "console-serial")) }
                    th { (t(lang, "console-binding")) } th { (t(lang, "console-unfinished")) }
                } }
                tbody {
                    @for l in &busy {
                        tr.busy {
                            td { @for p in &l.ports { code { (p.display()) } " " } }
                            td {} td { (l.serials.join(" → ")) }
                            td colspan="2" { (t(lang, "console-in-use")) " " a href={ "/live/" (l.key) } { (l.title) } }
                        }
                    }
                    @for x in &seen {
                        tr data-serial=(x.found.serial) {
                            td { code { (x.found.port.display()) } }
                            td { (x.found.vendor) " " (x.found.model) }
                            td.serial { (x.found.serial) }
                            td {
                                @match read.as_ref().filter(|(p, _)| *p == x.found.port) {
                                    Some((_, shown)) => (shown.clone()),
                                    None => form.inline method="post" action="/terminals/binding" {
                                        (csrf(&s))
                                        input type="hidden" name="port" value=(x.found.port.display());
                                        input type="hidden" name="profile" value=(x.found.profile);
                                        input type="password" name="secret" autocomplete="off" required placeholder=(t(lang, "console-operator-secret"));
                                        button type="submit" { (t(lang, "console-read-binding")) }
                                    },
                                }
                            }
                            td { @if let Some(j) = &x.open_job { a href={ "/jobs/" (j) } { (j) } } @else { "—" } }
                        }
                    }
                }
            }
        },
    });
    // console.js probes again every few seconds while nothing is being typed or shown.
    let body = html! { div #terminals-page data-refresh="5000" { (body) } };
    frame(&s, Some(Nav::Terminals), &t(lang, "console-nav-terminals"), body)
}

/// One order as the Orders page lists it.
struct Listed {
    r: OrderRef,
    id: String,
    operation: String,
    serial: String,
    source: String,
    valid_until: Option<String>,
    /// The job that carries it out.
    state: Option<String>,
    due_today: bool,
    expired: bool,
}

/// A file in the orders directory that holds problems, with them.
struct Invalid {
    file: String,
    problems: Vec<posagent_core::order::Problem>,
    error: Option<String>,
}

fn list_orders(app: &App) -> Result<(Vec<Listed>, Vec<Invalid>), Failure> {
    let paths = &app.opts.paths;
    let profiles = ProfileSet::load(&paths.profile_overrides())?;
    let mut listed = Vec::new();
    let mut invalid = Vec::new();
    let dir = &app.opts.orders_dir;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match posagent_core::order::check_file(&path, &profiles) {
            Ok((_, report)) if !report.valid => invalid.push(Invalid {
                file: name,
                problems: report.errors,
                error: None,
            }),
            Ok((orders, _)) => listed.extend(orders.into_iter().map(|o| Listed {
                r: OrderRef {
                    file: Some(name.clone()),
                    id: Some(o.id.clone()),
                    pulled: None,
                },
                operation: o.operation.label(),
                serial: o.expect.serial.clone().unwrap_or_default(),
                id: o.id,
                source: name.clone(),
                valid_until: None,
                state: None,
                due_today: false,
                expired: false,
            })),
            Err(e) => invalid.push(Invalid {
                file: name,
                problems: Vec::new(),
                error: Some(e.to_string()),
            }),
        }
    }
    let store = Store::open(&paths.data)?;
    for p in posagent_core::sync::orders::standings(&store, &paths.data)? {
        listed.push(Listed {
            r: OrderRef {
                file: None,
                id: None,
                pulled: Some(p.id.clone()),
            },
            operation: posagent_core::job::operation_label(&p.operation),
            serial: p.serial.unwrap_or_default(),
            id: p.id,
            source: posagent_core::tr!("console-pulled"),
            valid_until: Some(p.valid_until),
            state: p.job,
            due_today: p.due_today,
            expired: p.state == posagent_core::sync::orders::OrderState::Expired,
        });
    }
    Ok((listed, invalid))
}

pub async fn orders(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    let lang = s.lang;
    let a = app.clone();
    let listed = blocking(lang, move || list_orders(&a)).await;
    let body = posagent_core::i18n::in_lang(lang, || match listed {
        Err(e) => failure(&e),
        Ok((listed, invalid)) => html! {
            p.hint { (ta(lang, "console-orders-from", &[("dir", app.opts.orders_dir.display().to_string())])) }
            @if listed.is_empty() { (notice("note", &t(lang, "console-no-orders"))) } @else {
                table #orders {
                    thead { tr {
                        th { (t(lang, "console-order")) } th { (t(lang, "console-operation")) } th { (t(lang, "console-serial")) }
                        th { (t(lang, "console-source")) } th { (t(lang, "console-valid-until")) } th {}
                    } }
                    tbody {
                        @for o in &listed {
                            tr data-order=(o.id) {
                                td { (o.id) } td { (o.operation) } td { (o.serial) } td { (o.source) }
                                td {
                                    @if let Some(v) = &o.valid_until {
                                        (local_time(v))
                                        @if o.due_today { " " span.badge { (t(lang, "console-due-today")) } }
                                    } @else { "—" }
                                }
                                td {
                                    @if let Some(j) = &o.state { a href={ "/jobs/" (j) } { (j) } }
                                    @else if o.expired { (t(lang, "pulled-expired")) }
                                    @else { a.button href=(o.r.href()) data-start=(o.id) { (t(lang, "console-start-job")) } }
                                }
                            }
                        }
                    }
                }
            }
            @for f in &invalid {
                section.invalid data-file=(f.file) {
                    h2 { (ta(lang, "console-file-invalid", &[("file", f.file.clone())])) }
                    @if let Some(e) = &f.error { (notice("error", e)) }
                    @if !f.problems.is_empty() {
                        table.problems {
                            thead { tr { th { (t(lang, "console-line")) } th { (t(lang, "console-field")) } th { (t(lang, "console-value")) } th { (t(lang, "console-problem")) } } }
                            tbody { @for p in &f.problems {
                                tr { td { (p.line) } td { code { (p.field) } } td { (p.value.as_deref().unwrap_or("")) } td { (p.message) } }
                            } }
                        }
                    }
                }
            }
        },
    });
    frame(&s, Some(Nav::Orders), &t(lang, "console-nav-orders"), body)
}

pub async fn jobs(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    let lang = s.lang;
    let paths = app.opts.paths.clone();
    let data = paths.data.clone();
    let rows = blocking(lang, move || {
        let store = Store::open(&paths.data)?;
        Ok(store.jobs()?)
    })
    .await;
    let live = app.live.list();
    let body = posagent_core::i18n::in_lang(lang, || match rows {
        Err(e) => failure(&e),
        Ok(rows) => html! {
            @if live.iter().any(|l| !l.finished()) {
                h2 { (t(lang, "console-running-here")) }
                ul #live-jobs { @for l in live.iter().filter(|l| !l.finished()) {
                    li { a href={ "/live/" (l.key) } { (l.title) } " · " (local_time(&l.started_at)) }
                } }
            }
            @if rows.is_empty() { (notice("note", &t(lang, "console-no-jobs"))) } @else {
                table #jobs {
                    thead { tr {
                        th { (t(lang, "console-job")) } th { (t(lang, "console-operation")) } th { (t(lang, "console-serial")) }
                        th { (t(lang, "console-state")) } th { (t(lang, "console-updated")) }
                    } }
                    tbody { @for j in &rows {
                        @let state = posagent_core::store::live::state_now(&data, j);
                        tr data-job=(j.id) data-state=(state.as_str()) {
                            td { a href={ "/jobs/" (j.id) } { (j.id) } } td { (j.operation.label()) } td { (j.terminal_serial) }
                            td { (state.label()) } td { (local_time(&j.updated_at)) }
                        }
                    } }
                }
            }
        },
    });
    frame(&s, Some(Nav::Jobs), &t(lang, "console-nav-jobs"), body)
}

/// A job with its journal and submission, as its receipt shows them.
fn job_record(paths: &posagent_core::config::Paths, id: &str) -> Result<posagent_core::receipt::Facts, Failure> {
    Ok(posagent_core::receipt::read(&Store::open(&paths.data)?, id)?)
}

pub async fn job(State(app): State<App>, Extension(s): Extension<Session>, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let paths = app.opts.paths.clone();
    let id2 = id.clone();
    let data = paths.data.clone();
    let found = blocking(lang, move || job_record(&paths, &id2)).await;
    let live = app
        .live
        .list()
        .into_iter()
        .find(|l| !l.finished() && l.job_id().as_deref() == Some(id.as_str()));
    let body = posagent_core::i18n::in_lang(lang, || match found {
        Err(e) => failure(&e),
        Ok(posagent_core::receipt::Facts {
            job: j,
            journal,
            submission,
        }) => {
            let state = posagent_core::store::live::state_now(&data, &j);
            // A job another process carries on right now is followed there, not resumed here.
            let open = state == posagent_core::store::jobs::JobState::Interrupted;
            html! {
                dl.summary {
                    dt { (t(lang, "console-operation")) } dd { (j.operation.label()) }
                    dt { (t(lang, "console-order")) } dd { (j.order_id) }
                    dt { (t(lang, "console-serial")) } dd { (j.terminal_serial) @if let Some(r) = &j.replacement_serial { " → " (r) } }
                    dt { (t(lang, "console-state")) } dd #job-state data-state=(state.as_str()) { (state.label()) }
                    @if let Some(e) = &j.error { dt { (t(lang, "console-problem")) } dd { (e) } }
                    dt { (t(lang, "console-technician")) } dd { (posagent_core::config::technician_shown(&j.technician)) }
                    @if let Some(sub) = &submission { dt { (t(lang, "console-submission")) } dd { (sub.state.label()) } }
                }
                h2 { (t(lang, "console-journal")) }
                table #journal {
                    tbody { @for e in &journal {
                        tr { td { (posagent_core::job::step_label(e.entry.subject())) } td { (e.entry.phase().label()) } td { (local_time(&e.at)) } }
                    } }
                }
                @if let Some(l) = &live {
                    p { a href={ "/live/" (l.key) } #follow { (t(lang, "console-follow")) } }
                } @else if open {
                    section.continue {
                        h2 { (t(lang, "console-continue-title")) }
                        p.hint { (t(lang, "console-continue-hint")) }
                        form method="post" action={ "/jobs/" (j.id) "/resume" } autocomplete="off" {
                            (csrf(&s)) (secret_fields(lang, false))
                            button type="submit" id="resume" { (t(lang, "console-resume")) }
                            " "
                            button type="submit" formaction={ "/jobs/" (j.id) "/abort" } id="abort" class="secondary" { (t(lang, "console-abort")) }
                        }
                    }
                } @else if j.state != posagent_core::store::jobs::JobState::Planned {
                    p { a href={ "/jobs/" (j.id) "/receipt" } #receipt-link target="_blank" { (t(lang, "console-receipt")) } }
                }
            }
        }
    });
    frame(
        &s,
        Some(Nav::Jobs),
        &ta(lang, "console-job-title", &[("job", id)]),
        body,
    )
}

/// `GET /jobs/ID/receipt`: the printable receipt, as `posagent jobs receipt` writes it. It
/// carries its own policy (no script at all; its inline print styles only).
pub async fn receipt(State(app): State<App>, Extension(s): Extension<Session>, Path(id): Path<String>) -> Response {
    let paths = app.opts.paths.clone();
    let html = blocking(s.lang, move || Ok(job_record(&paths, &id)?.render())).await;
    match html {
        Ok(h) => (
            [(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
            )],
            axum::response::Html(h),
        )
            .into_response(),
        Err(e) => (StatusCode::NOT_FOUND, crate::auth::bare_page(&e.message)).into_response(),
    }
}

/// The Backups page: the backups this data directory recorded, one of which may be
/// restored onto the terminal it came from (the live page asks for the confirmation, as
/// for any job).
pub async fn backups(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    let lang = s.lang;
    let said = crate::html::said(&app, &s);
    let paths = app.opts.paths.clone();
    let rows = blocking(lang, move || Ok(Store::open(&paths.data)?.backups()?)).await;
    let body = posagent_core::i18n::in_lang(lang, || {
        html! {
            @if let Some(m) = said { (m) }
            @match rows {
                Err(e) => (failure(&e)),
                Ok(rows) if rows.is_empty() => (notice("note", &t(lang, "backups-none"))),
                Ok(rows) => form.restore method="post" action="/backups/restore" autocomplete="off" {
                    (csrf(&s))
                    table #backups {
                        thead { tr {
                            th {} th { (t(lang, "console-taken")) } th { (t(lang, "console-serial")) }
                            th { (t(lang, "console-transactions")) } th { (t(lang, "console-file")) }
                        } }
                        tbody { @for (i, b) in rows.iter().enumerate() {
                            tr data-backup=(b.id) {
                                td { input type="radio" name="backup" value=(b.id) id={ "backup-" (b.id) } checked[i == 0] required; }
                                td { (local_time(&b.created_at)) } td.serial { (b.terminal_serial) } td { (b.transactions) }
                                td { code { (std::path::Path::new(&b.file).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()) } }
                            }
                        } }
                    }
                    label { (t(lang, "console-restore-order")) " "
                        input type="text" name="order" id="restore-order" placeholder=(t(lang, "console-restore-order-example"));
                    }
                    (secret_fields(lang, false))
                    p.hint { (t(lang, "console-restore-hint")) }
                    button type="submit" id="restore" { (t(lang, "console-restore")) }
                },
            }
        }
    });
    frame(&s, Some(Nav::Backups), &t(lang, "console-nav-backups"), body)
}

/// The Queue page, with what the last action reported.
pub async fn queue(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    let lang = s.lang;
    let said = crate::html::said(&app, &s);
    let paths = app.opts.paths.clone();
    let rows = blocking(lang, move || {
        let store = Store::open(&paths.data)?;
        Ok(store.submissions()?)
    })
    .await;
    let body = posagent_core::i18n::in_lang(lang, || {
        html! {
            @if let Some(m) = said { (m) }
            form method="post" action="/queue/sync" {
                (csrf(&s))
                button type="submit" id="sync-now" { (t(lang, "console-sync-now")) }
            }
            @match rows {
                Err(e) => (failure(&e)),
                Ok(rows) if rows.is_empty() => (notice("note", &t(lang, "queue-empty"))),
                Ok(rows) => table #queue {
                    thead { tr {
                        th { (t(lang, "console-order")) } th { (t(lang, "console-kind")) } th { (t(lang, "console-state")) }
                        th { (t(lang, "console-attempts")) } th { (t(lang, "console-problem")) } th {}
                    } }
                    tbody { @for q in &rows {
                        tr data-submission=(q.id) data-state=(q.state.as_str()) {
                            td { (q.order_id) } td { (posagent_core::job::operation_label(&q.kind.to_string())) } td.state { (q.state.label()) } td { (q.attempts) }
                            td { @if let Some(r) = &q.reason { (r) } @if let Some(c) = &q.code { " (" code { (c) } ")" } }
                            td {
                                @if matches!(q.state.as_str(), "rejected" | "dead") {
                                    form.inline method="post" action={ "/queue/" (q.id) "/retry" } {
                                        (csrf(&s))
                                        button type="submit" class="secondary" { (t(lang, "console-retry")) }
                                    }
                                }
                            }
                        }
                    } }
                },
            }
        }
    });
    frame(&s, Some(Nav::Queue), &t(lang, "console-nav-queue"), body)
}
