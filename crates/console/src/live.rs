//! Jobs started from the console: each runs on its own thread with an observer that keeps
//! every event it is told, so a page may follow it over server-sent events, go away and
//! come back (the events are replayed from the last one it saw). Closing the page does not
//! stop a job; the Stop button does, at the next step boundary, as Ctrl-C does in the CLI.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use posagent_core::i18n::Lang;
use posagent_core::job::{
    Code, CodeAnswer, CodeAsk, Decision, Event as JobEvent, JobError, JobOutcome, Observer, PlanSummary,
};
use serde_json::{Value, json};
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::auth::Session;
use crate::html::{Failure, csrf, frame, t};
use crate::{App, lock};

/// What a person answers a waiting job.
enum Answer {
    Confirm(bool),
    Code(Code),
}

/// Why a job started from the console did not end well: the failure with its next step,
/// and the job it left (interrupted or stopped), if one was recorded.
pub struct JobFailure {
    failure: Failure,
    job: Option<String>,
}

impl From<JobError> for JobFailure {
    fn from(e: JobError) -> JobFailure {
        let job = match &e {
            JobError::Interrupted { job, .. } | JobError::Stopped { job, .. } => Some(job.clone()),
            _ => None,
        };
        JobFailure { failure: e.into(), job }
    }
}

impl From<posagent_core::agent::OpenError> for JobFailure {
    fn from(e: posagent_core::agent::OpenError) -> JobFailure {
        JobFailure {
            failure: e.into(),
            job: None,
        }
    }
}

/// One job started from the console.
pub struct Live {
    pub key: String,
    /// What it does, in words (`换结算卡 · ORD-1`).
    pub title: String,
    /// The terminals (serials) and ports it holds until it ends.
    pub serials: Vec<String>,
    pub ports: Vec<PathBuf>,
    pub started_at: String,
    job_id: Mutex<Option<String>>,
    events: Mutex<Vec<Value>>,
    count: watch::Sender<usize>,
    answers: Mutex<Option<mpsc::Sender<Answer>>>,
    stop: AtomicBool,
    finished: AtomicBool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Live {
    fn push(&self, event: Value) {
        let n = {
            let mut all = lock(&self.events);
            all.push(event);
            all.len()
        };
        self.count.send_replace(n);
    }

    fn events_from(&self, from: usize) -> Vec<Value> {
        lock(&self.events)
            .get(from..)
            .map(<[Value]>::to_vec)
            .unwrap_or_default()
    }

    pub fn job_id(&self) -> Option<String> {
        lock(&self.job_id).clone()
    }

    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    /// Whether it is unfinished and uses one of `serials` or `ports`.
    fn holds(&self, serials: &[String], ports: &[PathBuf]) -> bool {
        !self.finished()
            && (self.serials.iter().any(|s| serials.contains(s)) || self.ports.iter().any(|p| ports.contains(p)))
    }

    /// Hands `answer` to the job when it is waiting for one; whether it was.
    fn answer(&self, answer: Answer) -> bool {
        lock(&self.answers).take().is_some_and(|tx| tx.send(answer).is_ok())
    }

    /// Waits for a person's answer; `None` when asked to stop meanwhile.
    fn wait_answer(&self) -> Option<Answer> {
        let (tx, rx) = mpsc::channel();
        *lock(&self.answers) = Some(tx);
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(a) => return Some(a),
                Err(mpsc::RecvTimeoutError::Timeout) if !self.stop.load(Ordering::SeqCst) => {}
                Err(_) => {
                    lock(&self.answers).take();
                    return None;
                }
            }
        }
    }
}

/// The jobs this console started.
#[derive(Default, Clone)]
pub struct Registry {
    all: Arc<Mutex<HashMap<String, Arc<Live>>>>,
}

/// What a job started from the console needs besides its observer.
pub struct Spec {
    pub title: String,
    pub serials: Vec<String>,
    pub ports: Vec<PathBuf>,
    /// The language of the session that started it: its messages and events speak it.
    pub lang: Lang,
}

impl Registry {
    pub fn get(&self, key: &str) -> Option<Arc<Live>> {
        lock(&self.all).get(key).cloned()
    }

    /// Every job, newest first.
    pub fn list(&self) -> Vec<Arc<Live>> {
        let mut v: Vec<_> = lock(&self.all).values().cloned().collect();
        v.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        v
    }

    /// The ports unfinished jobs are using.
    pub fn busy_ports(&self) -> Vec<PathBuf> {
        lock(&self.all)
            .values()
            .filter(|l| !l.finished())
            .flat_map(|l| l.ports.iter().cloned())
            .collect()
    }

    /// The unfinished job holding one of `serials` or `ports`, if any.
    pub fn holder(&self, serials: &[String], ports: &[PathBuf]) -> Option<Arc<Live>> {
        lock(&self.all).values().find(|l| l.holds(serials, ports)).cloned()
    }

    /// Starts `run` on its own thread, unless another job from this console holds one of
    /// the terminals (then that job is returned).
    pub fn spawn(
        &self,
        spec: Spec,
        run: impl FnOnce(&mut LiveObserver) -> Result<JobOutcome, JobFailure> + Send + 'static,
    ) -> Result<Arc<Live>, Arc<Live>> {
        let mut all = lock(&self.all);
        if let Some(h) = all.values().find(|l| l.holds(&spec.serials, &spec.ports)) {
            return Err(h.clone());
        }
        let key = crate::auth::random_hex::<12>();
        let live = Arc::new(Live {
            key: key.clone(),
            title: spec.title,
            serials: spec.serials,
            ports: spec.ports,
            started_at: posagent_core::store::now(),
            job_id: Mutex::new(None),
            events: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            answers: Mutex::new(None),
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        all.insert(key, live.clone());
        drop(all);
        let for_thread = live.clone();
        let lang = spec.lang;
        let handle = std::thread::spawn(move || {
            // The job's messages in the language of the session that started it.
            posagent_core::i18n::in_lang(lang, || {
                let mut observer = LiveObserver {
                    live: for_thread.clone(),
                    last_percent: BTreeMap::new(),
                };
                let end = match run(&mut observer) {
                    Ok(outcome) => {
                        *lock(&for_thread.job_id) = Some(outcome.job.id.clone());
                        json!({
                            "event": "outcome",
                            "ok": true,
                            "job": outcome.job.id,
                            "state": outcome.job.state,
                            "state_label": outcome.job.state.label(),
                            "receipt": outcome.receipt.file.is_some().then(|| format!("/jobs/{}/receipt", outcome.job.id)),
                        })
                    }
                    Err(e) => {
                        let job = e.job.or_else(|| for_thread.job_id());
                        if let Some(j) = &job {
                            *lock(&for_thread.job_id) = Some(j.clone());
                        }
                        tracing::warn!(job = ?job, "console job ended: {}", e.failure.message);
                        json!({
                            "event": "outcome",
                            "ok": false,
                            "job": job,
                            "message": e.failure.message,
                            "help": e.failure.help,
                        })
                    }
                };
                for_thread.finished.store(true, Ordering::SeqCst);
                for_thread.push(end);
            })
        });
        *lock(&live.thread) = Some(handle);
        Ok(live)
    }

    /// Asks every running job to stop at its next step boundary (one waiting for a
    /// person's answer takes it as "no").
    pub fn stop_all(&self) {
        for l in self.list() {
            l.stop.store(true, Ordering::SeqCst);
        }
    }

    /// [`Registry::stop_all`], then waits for the jobs to end.
    pub fn stop_all_and_wait(&self) {
        self.stop_all();
        for l in self.list() {
            if let Some(h) = lock(&l.thread).take() {
                let _ = h.join();
            }
        }
    }
}

/// Tells a [`Live`] what its job does.
pub struct LiveObserver {
    live: Arc<Live>,
    /// The last percent sent of each transfer under way, by label (a one-pass copy runs
    /// two at once).
    last_percent: BTreeMap<String, u64>,
}

impl Observer for LiveObserver {
    fn event(&mut self, event: &JobEvent<'_>) {
        match event {
            JobEvent::Transfer { what, done, total } => {
                // Only when the percent moves: a page need not see every chunk.
                let percent = (done * 100).checked_div(*total).unwrap_or(100);
                if self.last_percent.insert(what.to_string(), percent) == Some(percent) {
                    return;
                }
            }
            JobEvent::Step { .. } => self.last_percent.clear(),
            _ => {}
        }
        let mut v = serde_json::to_value(event).unwrap_or_default();
        if let JobEvent::Confirm { plan } = event {
            *lock(&self.live.job_id) = Some(plan.job_id.clone());
            v["html"] = plan_html(plan).into();
        }
        self.live.push(v);
    }

    fn confirm(&mut self, _plan: &PlanSummary) -> Decision {
        let answer = match self.live.wait_answer() {
            Some(Answer::Confirm(true)) => Decision::Yes,
            Some(_) => Decision::No,
            // Asked to stop while it waited: the job stops, resumable, nothing changed.
            None => Decision::Stop,
        };
        self.live
            .push(json!({ "event": "answered", "confirmed": answer == Decision::Yes }));
        answer
    }

    fn stop_requested(&self) -> bool {
        self.live.stop.load(Ordering::SeqCst)
    }

    fn can_ask_codes(&self) -> bool {
        true
    }

    fn one_time_code(&mut self, _ask: &CodeAsk) -> CodeAnswer {
        let code = match self.live.wait_answer() {
            Some(Answer::Code(c)) => CodeAnswer::Code(c),
            Some(_) => CodeAnswer::None,
            None => CodeAnswer::Stop,
        };
        self.live.push(json!({ "event": "answered" }));
        code
    }
}

/// The checks' outcome as the person confirming sees it: what changes, masked, and the
/// steps to come (in the language the console speaks now).
fn plan_html(plan: &PlanSummary) -> String {
    use posagent_core::i18n::{lang, text};
    let lang = lang();
    html! {
        p { (text("console-plan-terminal", None)) " " strong { (plan.terminal) }
            @if let Some(r) = &plan.replacement { " → " strong { (r) } } }
        table #changes {
            thead { tr { th { (t(lang, "console-field")) } th { (t(lang, "console-before")) } th { (t(lang, "console-after")) } } }
            tbody {
                @for d in &plan.changes {
                    tr { td { (d.label()) } td.num { (d.shown_from()) } td.num { (d.shown_to()) } }
                }
            }
        }
        p.steps { (t(lang, "console-steps-to-come")) " "
            (posagent_core::job::step_list(&plan.steps)) }
    }
    .into_string()
}

fn not_found(s: &Session) -> Response {
    let lang = s.lang;
    let body = html! { (crate::html::notice("error", &t(lang, "console-live-unknown"))) a href="/jobs" { (t(lang, "console-nav-jobs")) } };
    let mut r = frame(s, None, &t(lang, "console-live-title"), body);
    *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
    r
}

/// `GET /live/KEY`: a job's progress, kept current by `console.js` from its events.
pub async fn page_of(app: &App, s: &Session, key: &str) -> Response {
    let Some(live) = app.live.get(key) else {
        return not_found(s);
    };
    let lang = s.lang;
    let body = html! {
        div #live data-events={ "/live/" (key) "/events" } {
            ol #steps {}
            div #transfer hidden {}
            section #confirm hidden {
                h2 { (t(lang, "console-confirm-title")) }
                div #plan {}
                form method="post" action={ "/live/" (key) "/confirm" } {
                    (csrf(s))
                    button type="submit" name="decision" value="yes" id="confirm-yes" { (t(lang, "console-confirm-yes")) }
                    " "
                    button type="submit" name="decision" value="no" id="confirm-no" class="secondary" { (t(lang, "console-confirm-no")) }
                }
            }
            section #code hidden {
                h2 { (t(lang, "console-code-title")) }
                p #code-ask {}
                form method="post" action={ "/live/" (key) "/code" } {
                    (csrf(s))
                    input type="password" name="code" id="code-input" autocomplete="one-time-code" inputmode="numeric";
                    button type="submit" id="code-send" { (t(lang, "console-code-send")) }
                }
            }
            div #result {}
            form #stop-form method="post" action={ "/live/" (key) "/stop" } {
                (csrf(s))
                button type="submit" id="stop" class="secondary" { (t(lang, "console-stop")) }
            }
            template #texts data-receipt=(t(lang, "console-receipt")) data-job=(t(lang, "console-job-detail")) data-done=(t(lang, "console-job-done")) data-failed=(t(lang, "console-job-failed")) data-again=(t(lang, "console-code-again")) {}
        }
    };
    frame(s, None, &live.title, body)
}

pub async fn page(State(app): State<App>, Extension(s): Extension<Session>, Path(key): Path<String>) -> Response {
    page_of(&app, &s, &key).await
}

/// `GET /live/KEY/events`: the job's events as server-sent events, each message a JSON
/// array of events, its id the number of events sent so far (a reconnecting page
/// carries on from `Last-Event-ID`). The stream ends after the job's last event.
pub async fn events(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(live) = app.live.get(&key) else {
        return not_found(&s);
    };
    let from: usize = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let rx = live.count.subscribe();
    let stream = futures_util::stream::unfold((live, rx, from, false), |(live, mut rx, sent, ended)| async move {
        if ended {
            return None;
        }
        loop {
            // Read `finished` before the events: the last event is pushed after it is set.
            let finished = live.finished();
            let batch = live.events_from(sent);
            if !batch.is_empty() {
                let n = sent + batch.len();
                let ended = finished && live.events_from(n).is_empty();
                let event = Event::default().id(n.to_string()).data(Value::from(batch).to_string());
                return Some((Ok::<_, Infallible>(event), (live, rx, n, ended)));
            }
            if finished {
                return None;
            }
            if rx.changed().await.is_err() {
                return None;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

#[derive(serde::Deserialize)]
pub struct DecisionForm {
    decision: String,
}

/// `POST /live/KEY/confirm`: the person's answer once the checks have passed.
pub async fn confirm(
    State(app): State<App>,
    Path(key): Path<String>,
    axum::Form(d): axum::Form<DecisionForm>,
) -> Response {
    if let Some(live) = app.live.get(&key) {
        live.answer(Answer::Confirm(d.decision == "yes"));
    }
    Redirect::to(&format!("/live/{key}")).into_response()
}

#[derive(serde::Deserialize)]
pub struct CodeForm {
    code: String,
}

/// `POST /live/KEY/code`: the one-time code the merchant received (handed to the job, never
/// kept).
pub async fn code(State(app): State<App>, Path(key): Path<String>, axum::Form(f): axum::Form<CodeForm>) -> Response {
    let code = Zeroizing::new(f.code);
    if let Some(live) = app.live.get(&key) {
        live.answer(Answer::Code(Zeroizing::new(code.trim().to_string())));
    }
    Redirect::to(&format!("/live/{key}")).into_response()
}

/// `POST /live/KEY/stop`: the job stops before its next step (and can be resumed).
pub async fn stop(State(app): State<App>, Path(key): Path<String>) -> Response {
    if let Some(live) = app.live.get(&key) {
        live.stop.store(true, Ordering::SeqCst);
    }
    Redirect::to(&format!("/live/{key}")).into_response()
}
