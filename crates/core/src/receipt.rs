//! The page a merchant signs after a job: one self-contained, printable A4 HTML file,
//! Chinese first then English, with no network fetch (fonts from the system). It is built
//! from what the store holds — the job, its journal and its submission — so numbers on it
//! are already masked (first 6 / last 4), and every value is HTML-escaped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::i18n::{FluentArgs, Lang, text_in};
use crate::journal::{self, Phase, Step};

use crate::store::jobs::{JobRecord, JournalEntry};
use crate::store::outbox::Submission;
use crate::store::{Store, StoreError, local_time};

/// Why a receipt could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("{}", crate::tr!("job-not-found", job = .0.as_str()))]
    NotFound(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{}", crate::tr!("receipt-write-failed", file = .path.display().to_string(), reason = crate::input::describe_io(.source)))]
    Write { path: PathBuf, source: std::io::Error },
    /// A PDF was asked for and no browser to print it with was found.
    #[error("{}", crate::tr!("receipt-no-pdf", file = .0.display().to_string()))]
    NoBrowser(PathBuf),
    /// The browser ran and no PDF came of it.
    #[error("{}", crate::tr!("receipt-pdf-failed", file = .path.display().to_string(), reason = .reason.as_str()))]
    Pdf { path: PathBuf, reason: String },
}

/// Environment variable naming the browser that prints a receipt to PDF.
pub const BROWSER_ENV: &str = "POSAGENT_BROWSER";

/// Browsers that print a page to PDF headless, looked for on the PATH in this order.
const BROWSERS: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "msedge",
];

/// How long a browser may take to print one page.
const PRINT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The directory under the data directory where jobs keep their receipts.
pub fn dir(data: &Path) -> PathBuf {
    data.join("receipts")
}

/// Where a job's receipt is kept unless another place is asked for.
pub fn default_path(data: &Path, job_id: &str) -> PathBuf {
    dir(data).join(format!("{job_id}.html"))
}

/// Renders the receipt of job `id` (or a unique prefix) as the store holds it now and
/// writes it (0600: it names the merchant) to `dest`, else to [`default_path`]. A `dest`
/// ending in `.pdf` gets a PDF, printed by a headless browser ([`BROWSER_ENV`], else the
/// first of [`BROWSERS`] on the PATH) from the page kept at [`default_path`]. Returns where
/// it went.
pub fn write(store: &Store, data: &Path, id: &str, dest: Option<&Path>) -> Result<PathBuf, ReceiptError> {
    read(store, id)?.write(data, dest)
}

/// What a receipt shows of one job, as the store holds it ([`read`]): rendered as a page
/// ([`Facts::render`], the console's) or written to a file ([`Facts::write`]).
pub struct Facts {
    pub job: JobRecord,
    pub journal: Vec<JournalEntry>,
    pub submission: Option<Submission>,
}

/// Reads what the receipt of job `id` shows.
pub fn read(store: &Store, id: &str) -> Result<Facts, ReceiptError> {
    let job = store.job(id)?.ok_or_else(|| ReceiptError::NotFound(id.to_string()))?;
    let journal = store.journal_of(&job.id)?;
    let submission = store.submission_of_job(&job.id)?;
    Ok(Facts {
        job,
        journal,
        submission,
    })
}

impl Facts {
    /// The receipt, as a page.
    pub fn render(&self) -> String {
        render(&self.job, &self.journal, self.submission.as_ref())
    }

    /// Renders the receipt and writes it as [`write`] does.
    pub fn write(&self, data: &Path, dest: Option<&Path>) -> Result<PathBuf, ReceiptError> {
        let html = self.render();
        let pdf = dest.filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")));
        let page = match dest {
            Some(p) if pdf.is_none() => p.to_path_buf(),
            _ => default_path(data, &self.job.id),
        };
        let written = if dest.is_some() && pdf.is_none() {
            crate::private::replace(&page, html.as_bytes())
        } else {
            crate::private::dir(&dir(data)).and_then(|()| crate::private::replace(&page, html.as_bytes()))
        };
        written.map_err(|source| ReceiptError::Write {
            path: page.clone(),
            source,
        })?;
        match pdf {
            Some(out) => print_pdf(&page, out).map(|()| out.to_path_buf()),
            None => Ok(page),
        }
    }
}

/// The browser to print with: the one [`BROWSER_ENV`] names, else the first of
/// [`BROWSERS`] on the PATH.
fn browser() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os(BROWSER_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(named));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        BROWSERS.iter().find_map(|name| {
            let file = dir.join(if cfg!(windows) {
                format!("{name}.exe")
            } else {
                name.to_string()
            });
            file.is_file().then_some(file)
        })
    })
}

/// Prints `page` to the PDF `out` with a headless browser (its own empty profile, no
/// header or footer), written beside `out` and moved there once it is a PDF, 0600.
fn print_pdf(page: &Path, out: &Path) -> Result<(), ReceiptError> {
    let failed = |reason: String| ReceiptError::Pdf {
        path: out.to_path_buf(),
        reason,
    };
    let browser = browser().ok_or_else(|| ReceiptError::NoBrowser(out.to_path_buf()))?;
    let page = std::fs::canonicalize(page).map_err(|e| failed(crate::input::describe_io(&e)))?;
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stem = uuid::Uuid::now_v7().simple().to_string();
    let (tmp, profile) = (dir.join(format!(".{stem}.pdf")), dir.join(format!(".{stem}.profile")));
    let mut cmd = std::process::Command::new(&browser);
    cmd.args(["--headless", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg("--no-pdf-header-footer")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", tmp.display()))
        .arg(url_of(&page))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // Chromium will not start its sandbox as root; the page is this program's own.
    #[cfg(unix)]
    if unsafe { libc::geteuid() } == 0 {
        cmd.arg("--no-sandbox");
    }
    let result = run_for(cmd, PRINT_TIMEOUT, &browser).and_then(|()| {
        let head = std::fs::read(&tmp).map(|b| b.starts_with(b"%PDF-")).unwrap_or(false);
        if !head {
            return Err(crate::tr!("receipt-pdf-none", browser = browser.display().to_string()));
        }
        crate::private::restrict(&tmp)
            .and_then(|()| std::fs::rename(&tmp, out))
            .map_err(|e| crate::input::describe_io(&e))
    });
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_dir_all(&profile);
    result.map_err(failed)
}

/// A `file://` URL for an absolute path.
fn url_of(path: &Path) -> String {
    let text = path.display().to_string().replace('\\', "/");
    let text = text.strip_prefix("//?/").unwrap_or(&text).to_string();
    let encoded: String = text
        .chars()
        .map(|c| match c {
            ' ' => "%20".to_string(),
            '#' => "%23".to_string(),
            '%' => "%25".to_string(),
            '?' => "%3F".to_string(),
            c => c.to_string(),
        })
        .collect();
    if encoded.starts_with('/') {
        format!("file://{encoded}")
    } else {
        format!("file:///{encoded}")
    }
}

/// Runs `cmd` to its end, for at most `limit`; why not, in words.
fn run_for(mut cmd: std::process::Command, limit: std::time::Duration, name: &Path) -> Result<(), String> {
    let shown = name.display().to_string();
    let mut child = cmd.spawn().map_err(|e| {
        crate::tr!(
            "receipt-browser-not-run",
            browser = shown.as_str(),
            reason = crate::input::describe_io(&e)
        )
    })?;
    let until = std::time::Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if std::time::Instant::now() < until => std::thread::sleep(std::time::Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(crate::tr!(
                    "receipt-browser-timeout",
                    browser = shown.as_str(),
                    seconds = limit.as_secs()
                ));
            }
            Err(e) => return Err(crate::input::describe_io(&e)),
        }
    }
}

/// Renders the receipt of a job: every label in Chinese then English, from the catalogues.
fn render(job: &JobRecord, journal: &[JournalEntry], submission: Option<&Submission>) -> String {
    let payload = submission.map(|s| &s.payload);
    let field = |path: &[&str]| payload.map(|p| text_at(p, path)).unwrap_or_else(|| "—".into());
    let mut h = String::with_capacity(16 * 1024);
    h.push_str(HEAD);
    let _ = write!(
        h,
        "<h1>{}<br><small>{}</small></h1><p class=meta>{} · {} · {}</p>",
        zh("receipt-title"),
        en("receipt-title"),
        esc(&job.id),
        label(job.operation.as_str(), OPERATIONS),
        label(job.state.as_str(), STATES),
    );
    section(&mut h, "receipt-merchant");
    rows(
        &mut h,
        &[
            ("receipt-merchant-name", field(&["merchant", "name"])),
            ("receipt-mid", group_digits(&field(&["merchant", "mid"]))),
            (
                "receipt-merchant-kind",
                label(&field(&["merchant", "kind"]), crate::procedure::MERCHANT_KINDS),
            ),
        ],
    );
    section(&mut h, "receipt-terminal");
    let mut terminals = vec![
        ("receipt-serial", job.terminal_serial.clone()),
        ("receipt-profile", crate::profile::shown_name_of(&job.profile)),
    ];
    if let Some(r) = &job.replacement_serial {
        terminals.push(("receipt-replacement", r.clone()));
    }
    rows(&mut h, &terminals);
    section(&mut h, "receipt-changes");
    match payload {
        // A migration: the old unit before and after (unbound), the replacement after.
        Some(p) if job.replacement_serial.is_some() => {
            let old_after = serde_json::json!({ "status": "unbound" });
            let columns = [
                (unit_heading("receipt-old-unit", &job.terminal_serial), &p["before"]),
                (unit_heading("receipt-old-unit-after", &job.terminal_serial), &old_after),
                (
                    unit_heading("receipt-new-unit", job.replacement_serial.as_deref().unwrap_or("—")),
                    &p["after"],
                ),
            ];
            change_table(&mut h, &columns);
        }
        Some(p) => change_table(
            &mut h,
            &[
                (
                    format!("{} {}", zh("receipt-before"), en("receipt-before")),
                    &p["before"],
                ),
                (format!("{} {}", zh("receipt-after"), en("receipt-after")), &p["after"]),
            ],
        ),
        None => {
            let _ = write!(h, "<p>{} · {}</p>", zh("receipt-no-change"), en("receipt-no-change"));
        }
    }
    section(&mut h, "receipt-procedure");
    steps(&mut h, journal);
    section(&mut h, "receipt-backup-section");
    let test = payload
        .map(|p| &p["verification"]["test_transaction"])
        .filter(|t| t.is_object());
    rows(
        &mut h,
        &[
            (
                "receipt-backup-file",
                job.backup_file.as_deref().map_or_else(|| "—".into(), file_name),
            ),
            (
                "receipt-backup-sha256",
                job.backup_sha256.clone().unwrap_or_else(|| "—".into()),
            ),
            (
                "receipt-test",
                test.map_or_else(
                    || "—".into(),
                    |t| {
                        let args = FluentArgs::from_iter([
                            ("fen", text_at(t, &["amount_fen"])),
                            ("auth", text_at(t, &["auth_code"])),
                            ("rrn", text_at(t, &["rrn"])),
                        ]);
                        crate::i18n::text("receipt-test-value", Some(&args))
                    },
                ),
            ),
        ],
    );
    section(&mut h, "receipt-provider");
    rows(
        &mut h,
        &[
            (
                "receipt-sync-state",
                submission.map_or_else(|| "—".into(), |s| label(s.state.as_str(), SYNC)),
            ),
            (
                "receipt-provider-receipt",
                submission.and_then(|s| s.receipt.clone()).unwrap_or_else(|| "—".into()),
            ),
            (
                "receipt-reason",
                submission.and_then(|s| s.reason.clone()).unwrap_or_else(|| "—".into()),
            ),
        ],
    );
    section(&mut h, "receipt-order");
    let signed = match payload.map(|p| (&p["order_signed"], &p["order_key_id"])) {
        Some((Value::Bool(true), key)) => {
            let args = FluentArgs::from_iter([("key", plain(key))]);
            format!(
                "{} · {}",
                text_in(first(), "receipt-signed", Some(&args)),
                text_in(second(), "receipt-signed", Some(&args))
            )
        }
        Some(_) => format!("{} · {}", zh("receipt-unsigned"), en("receipt-unsigned")),
        None => "—".into(),
    };
    rows(
        &mut h,
        &[
            ("receipt-order-id", job.order_id.clone()),
            ("receipt-signature", signed),
            ("receipt-technician", crate::config::technician_shown(&job.technician)),
            ("receipt-started", local_time(&job.created_at)),
        ],
    );
    let _ = write!(
        h,
        "<div class=sign><div><span>{} {}</span><span>{} {}</span></div>\
         <div><span>{} {}</span><span>{} {}</span></div></div>",
        zh("receipt-merchant-signature"),
        en("receipt-merchant-signature"),
        zh("receipt-date"),
        en("receipt-date"),
        zh("receipt-technician-signature"),
        en("receipt-technician-signature"),
        zh("receipt-date"),
        en("receipt-date"),
    );
    let _ = writeln!(
        h,
        "<p class=foot>posagent {} · {}</p></body></html>",
        env!("CARGO_PKG_VERSION"),
        local_time(&crate::store::now())
    );
    h
}

/// The languages of the receipt's labels: Chinese, then English (in the pseudo-locale,
/// both pseudo-localised, so that a test sees every label come from the catalogue).
fn first() -> Lang {
    if crate::i18n::lang() == Lang::Qps {
        Lang::Qps
    } else {
        Lang::ZhCn
    }
}

/// The receipt's second language of labels: English (see [`first`]).
fn second() -> Lang {
    if crate::i18n::lang() == Lang::Qps {
        Lang::Qps
    } else {
        Lang::En
    }
}

fn zh(key: &str) -> String {
    text_in(first(), key, None)
}

fn en(key: &str) -> String {
    text_in(second(), key, None)
}

const HEAD: &str = "<!DOCTYPE html><html lang=zh-CN><head><meta charset=utf-8>\
<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>posagent receipt</title><style>\
@page{size:A4;margin:14mm}\
body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"PingFang SC\",\"Microsoft YaHei\",sans-serif;font-size:8.5pt;line-height:1.25;color:#000;max-width:182mm;margin:auto}\
h1{font-size:14pt;margin:0 0 1mm}h1 small{font-size:10pt;font-weight:normal}\
h2{font-size:9.5pt;border-bottom:1px solid #000;margin:2.5mm 0 0.5mm;padding-bottom:0.3mm}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;vertical-align:top;padding:0.2mm 1.5mm;border-bottom:1px solid #ddd}\
th{width:38mm;font-weight:normal;color:#333}.changed td{font-weight:bold}\
.meta,.foot{color:#333;font-size:8pt;margin:1mm 0}.num{font-family:monospace;word-break:break-all}\
.steps{columns:2;column-gap:6mm}.steps div{display:flex;gap:2mm;border-bottom:1px solid #ddd;padding:0.2mm 1mm;break-inside:avoid}\
.steps span:first-child{flex:1}.steps span:last-child{font-family:monospace}\
.sign{display:flex;gap:10mm;margin-top:12mm;break-inside:avoid}.sign div{flex:1;border-top:1px solid #000;padding-top:1mm;display:flex;justify-content:space-between}\
</style></head><body>";

/// Machine words and the catalogue keys of their receipt labels.
const OPERATIONS: &[(&str, &str)] = &[
    ("rebind-card", "receipt-op-rebind-card"),
    ("rebind-account", "receipt-op-rebind-account"),
    ("rebind-phone", "receipt-op-rebind-phone"),
    ("unbind", "receipt-op-unbind"),
    ("migrate", "receipt-op-migrate"),
    ("restore", "receipt-op-restore"),
];

const STATES: &[(&str, &str)] = &[
    ("done", "receipt-state-done"),
    ("running", "receipt-state-running"),
    ("interrupted", "receipt-state-interrupted"),
    ("refused", "receipt-state-refused"),
    ("aborted", "receipt-state-aborted"),
    ("cancelled", "receipt-state-cancelled"),
    ("planned", "receipt-state-planned"),
];

const SYNC: &[(&str, &str)] = &[
    ("pending", "receipt-sync-pending"),
    ("sending", "receipt-sync-sending"),
    ("accepted", "receipt-sync-accepted"),
    ("rejected", "receipt-sync-rejected"),
    ("dead", "receipt-sync-dead"),
];

const PHASES: &[(&str, &str)] = &[
    ("done", "receipt-phase-done"),
    ("failed", "receipt-phase-failed"),
    ("compensated", "receipt-phase-compensated"),
];

/// `中文 · English` for a known machine word, else the word itself.
fn label(word: &str, table: &[(&str, &str)]) -> String {
    table
        .iter()
        .find(|(k, _)| *k == word)
        .map_or_else(|| word.to_string(), |(_, key)| format!("{} · {}", zh(key), en(key)))
}

/// A step's name in `lang` (the journal's entries besides steps: the order, the
/// confirmation, a rollback).
fn step_in(step: &str, lang: Lang) -> String {
    let key = match Step::from_name(step) {
        Some(s) => return s.label_in(lang),
        None if step == journal::ORDER => "receipt-step-order",
        None if step == journal::CONFIRM => "receipt-step-confirm",
        None if step == journal::ROLLBACK => "receipt-step-rollback",
        None => return step.to_string(),
    };
    text_in(lang, key, None)
}

fn section(h: &mut String, key: &str) {
    let _ = write!(h, "<h2>{} · {}</h2>", zh(key), en(key));
}

fn rows(h: &mut String, rows: &[(&str, String)]) {
    h.push_str("<table>");
    for (key, v) in rows {
        let _ = write!(
            h,
            "<tr><th>{} {}</th><td class=num>{}</td></tr>",
            zh(key),
            en(key),
            esc(v)
        );
    }
    h.push_str("</table>");
}

/// A unit's column heading, in both languages, with its serial.
fn unit_heading(key: &str, serial: &str) -> String {
    let args = FluentArgs::from_iter([("serial", serial.to_string())]);
    format!(
        "{}<br>{}",
        esc(&text_in(first(), key, Some(&args))),
        esc(&text_in(second(), key, Some(&args)))
    )
}

/// The binding's fields, one column per heading (already HTML), a row marked where the
/// columns differ; statuses in both languages.
fn change_table(h: &mut String, columns: &[(String, &Value)]) {
    const FIELDS: &[(&str, &[&str])] = &[
        ("receipt-status", &["status"]),
        ("receipt-mid", &["mid"]),
        ("receipt-tid", &["tid"]),
        ("receipt-merchant-name", &["merchant_name"]),
        ("receipt-card", &["card", "pan"]),
        ("receipt-card-holder", &["card", "holder"]),
        ("receipt-expiry", &["card", "expiry"]),
        ("receipt-account", &["account", "number"]),
        ("receipt-account-holder", &["account", "holder"]),
        ("receipt-bank", &["account", "bank"]),
        ("receipt-phone", &["phone"]),
    ];
    let _ = write!(h, "<table><tr><th>{} {}</th>", zh("receipt-field"), en("receipt-field"));
    for (heading, _) in columns {
        let _ = write!(h, "<th>{heading}</th>");
    }
    h.push_str("</tr>");
    for (key, path) in FIELDS {
        let values: Vec<String> = columns
            .iter()
            .map(|(_, v)| {
                let t = text_at(v, path);
                match *path {
                    ["mid"] => group_digits(&t),
                    ["card", "expiry"] => crate::terminal::model::expiry_shown(&t),
                    ["status"] => t
                        .parse::<crate::domain::DeviceStatus>()
                        .map_or(t, |s| format!("{} · {}", s.label_in(first()), s.label_in(second()))),
                    _ => t,
                }
            })
            .collect();
        if values.iter().all(|v| v == "—") {
            continue;
        }
        let class = if values.windows(2).all(|w| w[0] == w[1]) {
            ""
        } else {
            " class=changed"
        };
        let _ = write!(h, "<tr{class}><th>{} {}</th>", zh(key), en(key));
        for v in values {
            let _ = write!(h, "<td class=num>{}</td>", esc(&v));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

/// The steps in two columns, each with what it came to and when (month-day and time; the
/// offset is on the start time).
fn steps(h: &mut String, journal: &[JournalEntry]) {
    h.push_str("<div class=steps>");
    // What each step came to; the intents written before a step are for resuming.
    for e in journal.iter().filter(|e| e.entry.phase() != Phase::Intent) {
        let at = local_time(&e.at);
        let subject = e.entry.subject();
        let _ = write!(
            h,
            "<div><span>{} {}</span><span>{}</span><span>{}</span></div>",
            esc(&step_in(subject, first())),
            esc(&step_in(subject, second())),
            esc(&label(e.entry.phase().as_str(), PHASES)),
            esc(at.get(5..19).unwrap_or(&at))
        );
    }
    h.push_str("</div>");
}

/// The text at a path in a JSON value: strings as they are, numbers printed, absent as `—`.
fn text_at(v: &Value, path: &[&str]) -> String {
    plain(path.iter().fold(v, |v, k| &v[*k]))
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// The last part of a path (the laptop's directories mean nothing to the merchant).
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}

/// A long number in groups of four, as it is read out and compared by eye.
fn group_digits(s: &str) -> String {
    if s.len() < 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_string();
    }
    let groups: Vec<&str> = s
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    groups.join(" ")
}

/// A value as HTML text (also safe inside a quoted attribute).
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_safe(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::jobs::JobState;

    fn job(state: JobState) -> JobRecord {
        let mut job = JobRecord::new(
            crate::store::jobs::NewJob {
                order_id: "WO-1".into(),
                operation: crate::store::jobs::JobKind::Procedure(crate::procedure::Operation::RebindCard),
                profile: "lakala".into(),
                order_file: "o.toml".into(),
                order_sha256: "00".into(),
                terminal_serial: "SN1".into(),
                replacement_serial: None,
                port: "/dev/ttyUSB0".into(),
                replacement_port: None,
                technician: "zhang.wei".into(),
            },
            state,
        );
        job.id = "01a2-job".into();
        job.backup_file = Some("/home/t/.local/share/posagent/backups/SN1-01a2-job.zip".into());
        job.backup_sha256 = Some("ab".repeat(32));
        job.created_at = "2026-11-23T01:00:00.000Z".into();
        job
    }

    #[test]
    fn a_hostile_name_is_text_and_the_changed_card_stands_out() {
        let binding = |pan: &str| serde_json::json!({ "status": "bound", "card": { "pan": pan, "holder": "张三" } });
        let submission = Submission {
            id: "s".into(),
            idempotency_key: "job-01a2-job".into(),
            job_id: "01a2-job".into(),
            order_id: "WO-1".into(),
            kind: "rebind-card".into(),
            payload: serde_json::json!({
                "merchant": { "name": "<script>alert(1)</script>", "mid": "898310048161234" },
                "before": binding("622202*********3446"),
                "after": binding("622848*********4554"),
                "order_signed": false,
            }),
            state: crate::store::outbox::OutboxState::Pending,
            attempts: 0,
            next_attempt_at: String::new(),
            receipt: None,
            code: None,
            reason: None,
            created_at: String::new(),
        };
        let html = render(&job(JobState::Done), &[], Some(&submission));
        assert!(!html.contains("<script>"), "the name is escaped");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains(
            "<tr class=changed><th>结算卡 Card</th><td class=num>622202*********3446</td><td class=num>622848*********4554</td></tr>"
        ));
        assert!(
            html.contains("<tr><th>持卡人 Card holder</th>"),
            "an unchanged row is plain"
        );
        assert!(
            html.contains("SN1-01a2-job.zip") && !html.contains("/home/t/"),
            "the file, not the laptop's path"
        );
        assert!(html.contains("未签名"));
    }

    #[test]
    fn a_job_that_did_not_finish_says_so_and_shows_what_it_came_to() {
        let journal = [
            JournalEntry {
                entry: journal::Entry::Intent(Step::CheckIdentity),
                at: "2026-11-23T01:00:00.000Z".into(),
            },
            JournalEntry {
                entry: journal::Entry::Failed(Step::CompareBinding, "differs".into()),
                at: "2026-11-23T01:00:01.000Z".into(),
            },
        ];
        let html = render(&job(JobState::Refused), &journal, None);
        assert!(html.contains("已拒绝 · refused"));
        assert!(html.contains("The job did not finish"));
        assert!(
            html.contains("比对绑定 compare_binding</span><span>失败 · failed"),
            "{html}"
        );
        assert!(
            !html.contains("check_identity"),
            "intents are for resuming, not for the merchant"
        );
    }

    #[test]
    fn values_are_escaped_and_long_numbers_grouped() {
        assert!(!esc("<script>\"'").contains(['<', '"', '\'']));
        assert_eq!(group_digits("898310048161234"), "8983 1004 8161 234");
        assert_eq!(group_digits("AB12CD34"), "AB12CD34");
        assert_eq!(label("unbind", OPERATIONS), "解绑 · Unbind");
        assert_eq!(label("unknown", OPERATIONS), "unknown");
    }
}
