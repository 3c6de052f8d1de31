//! The page a merchant signs after a job: one self-contained, printable A4 HTML file,
//! Chinese first then English, with no network fetch (fonts from the system). It is built
//! from what the store holds — the job, its journal and its submission — so numbers on it
//! are already masked (first 6 / last 4), and every value is HTML-escaped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

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
    #[error("{}", crate::tr!("receipt-write-failed", file = .path.display().to_string(), reason = .source.to_string()))]
    Write { path: PathBuf, source: std::io::Error },
}

/// The directory under the data directory where jobs keep their receipts.
pub fn dir(data: &Path) -> PathBuf {
    data.join("receipts")
}

/// Where a job's receipt is kept unless another place is asked for.
pub fn default_path(data: &Path, job_id: &str) -> PathBuf {
    dir(data).join(format!("{job_id}.html"))
}

/// Renders the receipt of job `id` (or a unique prefix) as the store holds it now and
/// writes it (0600: it names the merchant) to `dest`, else to [`default_path`]. Returns
/// where it went.
pub fn write(store: &Store, data: &Path, id: &str, dest: Option<&Path>) -> Result<PathBuf, ReceiptError> {
    let job = store.job(id)?.ok_or_else(|| ReceiptError::NotFound(id.to_string()))?;
    let journal = store.journal_of(&job.id)?;
    let submission = store.submission_of_job(&job.id)?;
    let html = render(&job, &journal, submission.as_ref());
    let (path, written) = match dest {
        Some(p) => (p.to_path_buf(), crate::private::replace(p, html.as_bytes())),
        None => {
            let p = default_path(data, &job.id);
            let written = crate::private::dir(&dir(data)).and_then(|()| crate::private::replace(&p, html.as_bytes()));
            (p, written)
        }
    };
    written.map_err(|source| ReceiptError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Renders the receipt of a job.
pub fn render(job: &JobRecord, journal: &[JournalEntry], submission: Option<&Submission>) -> String {
    let payload = submission.map(|s| &s.payload);
    let field = |path: &[&str]| payload.map(|p| text_at(p, path)).unwrap_or_else(|| "—".into());
    let mut h = String::with_capacity(16 * 1024);
    h.push_str(HEAD);
    let _ = write!(
        h,
        "<h1>终端绑定变更回执<br><small>Terminal binding change receipt</small></h1>\
         <p class=meta>{} · {} · {}</p>",
        esc(&job.id),
        label(&job.operation, OPERATIONS),
        label(job.state.as_str(), STATES),
    );
    section(&mut h, "商户", "Merchant");
    rows(
        &mut h,
        &[
            ("商户名称", "Name", field(&["merchant", "name"])),
            ("商户编号", "MID", group_digits(&field(&["merchant", "mid"]))),
            ("商户类型", "Kind", field(&["merchant", "kind"])),
        ],
    );
    section(&mut h, "终端", "Terminal");
    let mut terminals = vec![
        ("终端序列号", "Serial", job.terminal_serial.clone()),
        ("机型配置", "Profile", job.profile.clone()),
    ];
    if let Some(r) = &job.replacement_serial {
        terminals.push(("替换终端", "Replacement", r.clone()));
    }
    rows(&mut h, &terminals);
    section(&mut h, "变更内容", "What changed");
    match payload {
        Some(p) => change_table(&mut h, &p["before"], &p["after"]),
        None => h.push_str("<p>未完成，无变更记录 · The job did not finish; no change was recorded.</p>"),
    }
    section(&mut h, "操作步骤", "Procedure");
    steps(&mut h, journal);
    section(&mut h, "备份与验证", "Backup and verification");
    let test = payload
        .map(|p| &p["verification"]["test_transaction"])
        .filter(|t| t.is_object());
    rows(
        &mut h,
        &[
            (
                "备份文件",
                "Backup file",
                job.backup_file.as_deref().map_or_else(|| "—".into(), file_name),
            ),
            (
                "备份 SHA-256",
                "Backup SHA-256",
                job.backup_sha256.clone().unwrap_or_else(|| "—".into()),
            ),
            (
                "测试交易",
                "Test transaction",
                test.map_or_else(
                    || "—".into(),
                    |t| {
                        format!(
                            "{} 分 · auth {} · RRN {}",
                            text_at(t, &["amount_fen"]),
                            text_at(t, &["auth_code"]),
                            text_at(t, &["rrn"])
                        )
                    },
                ),
            ),
        ],
    );
    section(&mut h, "服务商同步", "Provider");
    rows(
        &mut h,
        &[
            (
                "同步状态",
                "Sync state",
                submission.map_or_else(|| "—".into(), |s| label(&s.state, SYNC)),
            ),
            (
                "服务商回执",
                "Provider receipt",
                submission.and_then(|s| s.receipt.clone()).unwrap_or_else(|| "—".into()),
            ),
            (
                "说明",
                "Reason",
                submission.and_then(|s| s.reason.clone()).unwrap_or_else(|| "—".into()),
            ),
        ],
    );
    section(&mut h, "工单", "Work order");
    let signed = match payload.map(|p| (&p["order_signed"], &p["order_key_id"])) {
        Some((Value::Bool(true), key)) => format!("服务商已签名 · signed by the provider (key {})", plain(key)),
        Some(_) => "未签名（本地工单） · not signed (local order)".into(),
        None => "—".into(),
    };
    rows(
        &mut h,
        &[
            ("工单号", "Order", job.order_id.clone()),
            ("签名", "Signature", signed),
            ("技术员", "Technician", job.technician.clone()),
            ("开始时间", "Started", local_time(&job.created_at)),
        ],
    );
    h.push_str(
        "<div class=sign><div><span>商户签字 Merchant signature</span><span>日期 Date</span></div>\
         <div><span>技术员签字 Technician signature</span><span>日期 Date</span></div></div>",
    );
    let _ = writeln!(
        h,
        "<p class=foot>posagent {} · {}</p></body></html>",
        env!("CARGO_PKG_VERSION"),
        local_time(&crate::store::now())
    );
    h
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

const OPERATIONS: &[(&str, &str)] = &[
    ("rebind-card", "更换结算卡 · Rebind settlement card"),
    ("rebind-account", "更换结算账户 · Rebind settlement account"),
    ("rebind-phone", "更换手机号 · Change phone number"),
    ("unbind", "解绑 · Unbind"),
    ("migrate", "换机迁移 · Migrate to a replacement unit"),
    ("restore", "从备份恢复 · Restore from backup"),
];

const STATES: &[(&str, &str)] = &[
    ("done", "已完成 · done"),
    ("running", "进行中 · running"),
    ("interrupted", "已中断 · interrupted"),
    ("refused", "已拒绝 · refused"),
    ("aborted", "已回滚 · aborted"),
    ("cancelled", "已取消 · cancelled"),
    ("planned", "仅预演 · planned"),
];

const SYNC: &[(&str, &str)] = &[
    ("pending", "待上传 · pending"),
    ("sending", "上传中 · sending"),
    ("accepted", "服务商已受理 · accepted"),
    ("rejected", "服务商拒绝 · rejected"),
    ("dead", "无法送达 · not deliverable"),
];

const PHASES: &[(&str, &str)] = &[
    ("done", "完成 · done"),
    ("failed", "失败 · failed"),
    ("refused", "拒绝 · refused"),
    ("interrupted", "中断 · interrupted"),
    ("compensated", "已回滚 · rolled back"),
];

const STEPS: &[(&str, &str)] = &[
    ("order", "工单"),
    ("check_identity", "核对终端身份"),
    ("authenticate", "认证"),
    ("compare_binding", "核对绑定"),
    ("check_documents", "核对材料"),
    ("check_cooldown", "检查冷却期"),
    ("check_replacement", "检查替换终端"),
    ("backup", "备份"),
    ("settle", "结算"),
    ("export_data", "导出数据"),
    ("activate_new", "激活新终端"),
    ("import_data", "导入数据"),
    ("verify_import", "校验导入"),
    ("unbind_old", "解除原绑定"),
    ("bind_new", "写入新绑定"),
    ("reboot", "重启"),
    ("verify", "回读校验"),
    ("test_transaction", "测试交易"),
    ("record", "记录待同步"),
    ("restore_binding", "恢复绑定"),
    ("restore_parameters", "恢复参数"),
];

/// `中文 · English` for a known machine word, else the word itself.
fn label(word: &str, table: &[(&str, &str)]) -> String {
    table
        .iter()
        .find(|(k, _)| *k == word)
        .map_or_else(|| word.to_string(), |(_, v)| v.to_string())
}

fn section(h: &mut String, zh: &str, en: &str) {
    let _ = write!(h, "<h2>{zh} · {en}</h2>");
}

fn rows(h: &mut String, rows: &[(&str, &str, String)]) {
    h.push_str("<table>");
    for (zh, en, v) in rows {
        let _ = write!(h, "<tr><th>{zh} {en}</th><td class=num>{}</td></tr>", esc(v));
    }
    h.push_str("</table>");
}

fn change_table(h: &mut String, before: &Value, after: &Value) {
    const FIELDS: &[(&str, &str, &[&str])] = &[
        ("状态", "Status", &["status"]),
        ("商户编号", "MID", &["mid"]),
        ("终端号", "TID", &["tid"]),
        ("商户名称", "Merchant name", &["merchant_name"]),
        ("结算卡", "Card", &["card", "pan"]),
        ("持卡人", "Card holder", &["card", "holder"]),
        ("有效期", "Expiry", &["card", "expiry"]),
        ("结算账户", "Account", &["account", "number"]),
        ("开户名", "Account holder", &["account", "holder"]),
        ("开户行", "Bank", &["account", "bank"]),
        ("手机号", "Phone", &["phone"]),
    ];
    h.push_str("<table><tr><th>项目 Field</th><th>变更前 Before</th><th>变更后 After</th></tr>");
    for (zh, en, path) in FIELDS {
        let (b, a) = (text_at(before, path), text_at(after, path));
        if b == "—" && a == "—" {
            continue;
        }
        let (b, a) = if path == &["mid"] {
            (group_digits(&b), group_digits(&a))
        } else {
            (b, a)
        };
        let class = if b == a { "" } else { " class=changed" };
        let _ = write!(
            h,
            "<tr{class}><th>{zh} {en}</th><td class=num>{}</td><td class=num>{}</td></tr>",
            esc(&b),
            esc(&a)
        );
    }
    h.push_str("</table>");
}

/// The steps in two columns, each with what it came to and when (month-day and time; the
/// offset is on the start time).
fn steps(h: &mut String, journal: &[JournalEntry]) {
    h.push_str("<div class=steps>");
    // What each step came to; the intents written before a step are for resuming.
    for e in journal.iter().filter(|e| e.phase != "intent") {
        let at = local_time(&e.at);
        let _ = write!(
            h,
            "<div><span>{} {}</span><span>{}</span><span>{}</span></div>",
            esc(&label(&e.step, STEPS)),
            esc(&e.step),
            esc(&label(&e.phase, PHASES)),
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
        JobRecord {
            id: "01a2-job".into(),
            order_id: "WO-1".into(),
            operation: "rebind-card".into(),
            profile: "lakala".into(),
            order_file: "o.toml".into(),
            order_sha256: "00".into(),
            terminal_serial: "SN1".into(),
            replacement_serial: None,
            port: "/dev/ttyUSB0".into(),
            replacement_port: None,
            state,
            step: None,
            backup_file: Some("/home/t/.local/share/posagent/backups/SN1-01a2-job.zip".into()),
            backup_sha256: Some("ab".repeat(32)),
            error: None,
            technician: "zhang.wei".into(),
            created_at: "2026-11-23T01:00:00.000Z".into(),
            updated_at: "2026-11-23T01:00:00.000Z".into(),
        }
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
            state: "pending".into(),
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
                step: "check_identity".into(),
                phase: "intent".into(),
                detail: Value::Null,
                at: "2026-11-23T01:00:00.000Z".into(),
            },
            JournalEntry {
                step: "compare_binding".into(),
                phase: "refused".into(),
                detail: Value::Null,
                at: "2026-11-23T01:00:01.000Z".into(),
            },
        ];
        let html = render(&job(JobState::Refused), &journal, None);
        assert!(html.contains("已拒绝 · refused"));
        assert!(html.contains("The job did not finish"));
        assert!(html.contains("核对绑定 compare_binding</span><span>拒绝 · refused"));
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
