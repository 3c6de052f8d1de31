//! Work orders: what the clerk expects to find on a terminal and what to change.
//!
//! One order is a TOML file; many are a CSV file (one order per row, the same field names
//! flattened with dots, lists separated by `;`) or a TOML file with `[[order]]` tables.
//! Reading keeps the line of every value so that each problem names field, file and line.
//! Validation never stops at the first problem: `order check` reports them all.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

use crate::domain::{
    AccountNo, BranchCode, CreditCode, DeviceStatus, DomainError, HolderName, Mid, Pan, Phone, ResidentId, Tid,
    mask_middle, normalise_code, plain_text,
};
use crate::profile::{Profile, ProfileSet};

/// The five procedures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    RebindCard,
    RebindAccount,
    RebindPhone,
    Unbind,
    Migrate,
}

impl Operation {
    /// All operations, in procedure order.
    pub const ALL: [Operation; 5] = [
        Operation::RebindCard,
        Operation::RebindAccount,
        Operation::RebindPhone,
        Operation::Unbind,
        Operation::Migrate,
    ];

    /// The name used in orders and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::RebindCard => "rebind-card",
            Operation::RebindAccount => "rebind-account",
            Operation::RebindPhone => "rebind-phone",
            Operation::Unbind => "unbind",
            Operation::Migrate => "migrate",
        }
    }

    /// The order fields this procedure reads, beyond [`COMMON_FIELDS`].
    fn own_fields(self) -> &'static [&'static str] {
        match self {
            // Either settles to a card or to an account now: the order says which.
            Operation::RebindCard => &[
                "expect.card_last4",
                "expect.account_last4",
                "expect.holder",
                "new.card",
                "new.holder",
                "new.expiry",
                "new.daily_limit_yuan",
                "new.fee_rate_percent",
            ],
            Operation::RebindAccount => &[
                "expect.card_last4",
                "expect.account_last4",
                "expect.holder",
                "new.account",
                "new.holder",
                "new.bank",
                "new.branch_code",
            ],
            Operation::RebindPhone => &[
                "expect.phone",
                "new.phone",
                "new.phone_path",
                "scan.holder_id",
                "scan.agent_id",
            ],
            Operation::Unbind => &[],
            Operation::Migrate => &["replacement.serial", "replacement.model", "replacement.activation_code"],
        }
    }
}

impl Operation {
    /// The procedure's name as a person reads it, in the current language.
    pub fn label(self) -> String {
        match self {
            Operation::RebindCard => crate::tr!("op-rebind-card"),
            Operation::RebindAccount => crate::tr!("op-rebind-account"),
            Operation::RebindPhone => crate::tr!("op-rebind-phone"),
            Operation::Unbind => crate::tr!("op-unbind"),
            Operation::Migrate => crate::tr!("op-migrate"),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operation {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|o| o.as_str() == s.trim())
            .ok_or(DomainError::Rule("rule-rebindcard-rebindaccount-rebindphone-unbind"))
    }
}

/// Fields every order may carry.
pub const COMMON_FIELDS: &[&str] = &[
    "id",
    "operation",
    "profile",
    "reason",
    "evidence",
    "merchant.mid",
    "merchant.name",
    "merchant.kind",
    "merchant.credit_code",
    "merchant.legal_rep_id",
    "agent.name",
    "agent.id_number",
    "agent.authorisation",
    "expect.serial",
    "expect.tid",
    "expect.status",
];

/// Fields that prove who asks; profiles pick from these.
const DOCUMENT_FIELDS: &[&str] = &[
    "merchant.credit_code",
    "merchant.legal_rep_id",
    "agent.name",
    "agent.id_number",
    "agent.authorisation",
];

/// What a profile may ask of an order on the counter path: scans of the documents the
/// technician saw, and the document fields.
const COUNTER_DOCUMENT_FIELDS: &[&str] = &[
    "scan.holder_id",
    "scan.agent_id",
    "agent.authorisation",
    "agent.id_number",
    "merchant.legal_rep_id",
];

/// Whether a profile may require `field` for the counter path of a phone change.
pub fn is_counter_document(field: &str) -> bool {
    COUNTER_DOCUMENT_FIELDS.contains(&field)
}

/// Whether `field` is read by operation `op`.
pub fn field_used_by(op: Operation, field: &str) -> bool {
    COMMON_FIELDS.contains(&field) || op.own_fields().contains(&field)
}

/// Whether `field` is a document field a profile may require.
pub fn is_document_field(field: &str) -> bool {
    DOCUMENT_FIELDS.contains(&field)
}

/// Every field an order may carry, for any operation.
pub fn all_fields() -> BTreeSet<&'static str> {
    let mut all: BTreeSet<&str> = COMMON_FIELDS.iter().copied().collect();
    for op in Operation::ALL {
        all.extend(op.own_fields());
    }
    all
}

/// Fields whose values are personal data and are masked in every report.
const MASKED_FIELDS: &[&str] = &[
    "new.card",
    "new.account",
    "merchant.legal_rep_id",
    "agent.id_number",
    "new.phone",
    "expect.phone",
];

/// Fields never echoed at all.
const SECRET_FIELDS: &[&str] = &["replacement.activation_code"];

/// How a value is shown in a report: masked for personal data, hidden for secrets.
pub fn shown_value(field: &str, raw: &str) -> String {
    if SECRET_FIELDS.contains(&field) {
        "(hidden)".to_string()
    } else if MASKED_FIELDS.contains(&field) {
        mask_middle(&normalise_code(raw))
    } else {
        const MAX_SHOWN: usize = 40;
        raw.chars().take(MAX_SHOWN).collect()
    }
}

// ---------------------------------------------------------------- reading

/// A value as read from a file, before validation.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Text(String),
    /// A TOML number, kept as written.
    Number(String),
    List(Vec<String>),
    /// A CSV cell a spreadsheet would run as a formula (leading `=`, `+`, `-` or `@`).
    Formula(String),
    /// Any other TOML type (boolean, date, table in a list …), named.
    Other(&'static str),
}

/// One value with the line it stands on.
#[derive(Debug, Clone)]
pub struct RawField {
    pub value: RawValue,
    pub line: usize,
}

/// An order as read: dotted field names to values.
#[derive(Debug, Clone)]
pub struct RawOrder {
    /// The file it came from.
    pub file: PathBuf,
    /// Where the order starts (CSV row or `[[order]]` table), 1-based.
    pub line: usize,
    pub fields: BTreeMap<String, RawField>,
}

/// A file that could not be read as orders at all.
#[derive(Debug, thiserror::Error)]
pub enum OrderFileError {
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}", crate::tr!("orderfile-unknown-type", file = .0.display().to_string()))]
    UnknownFormat(PathBuf),
    #[error("{}", crate::tr!("orderfile-empty", file = .0.display().to_string()))]
    Empty(PathBuf),
}

/// Where each line starts, mapped once per file so that finding a value's line is a
/// binary search, not a rescan of the text (which made large files quadratic).
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &str) -> Lines {
        Lines(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    /// The 1-based line holding byte `offset`.
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

/// What kind of value a field held instead of text, as a person reads it.
fn kind_label(kind: &str) -> String {
    match kind {
        "boolean" => crate::tr!("kind-boolean"),
        "date" => crate::tr!("kind-date"),
        "list of non-strings" => crate::tr!("kind-list"),
        other => other.to_string(),
    }
}

/// Reads every order in `path` (TOML or CSV, by extension).
pub fn read_file(path: &Path) -> Result<Vec<RawOrder>, OrderFileError> {
    let text = crate::input::read_text(path, crate::input::MAX_ORDER_FILE, &crate::tr!("what-order-file"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let orders = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("toml") => parse_toml(text, path)?,
        Some("csv") => parse_csv(text, path)?,
        _ => return Err(OrderFileError::UnknownFormat(path.to_path_buf())),
    };
    if orders.is_empty() {
        return Err(OrderFileError::Empty(path.to_path_buf()));
    }
    Ok(orders)
}

/// Parses TOML text: one order at top level, or a list of `[[order]]` tables.
pub fn parse_toml(text: &str, file: &Path) -> Result<Vec<RawOrder>, OrderFileError> {
    let lines = Lines::of(text);
    let doc = DeTable::parse(text).map_err(|e| OrderFileError::Syntax {
        file: file.to_path_buf(),
        line: e.span().map_or(1, |s| lines.line(s.start)),
        message: e.message().trim_end().to_string(),
    })?;
    let table = doc.get_ref();
    let list = table.iter().find(|(k, _)| k.get_ref() == "order");
    match list.map(|(_, v)| v.get_ref()) {
        Some(DeValue::Array(items)) if table.len() == 1 => items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::Table(t) => Ok(raw_from_table(t, &lines, file, lines.line(item.span().start))),
                _ => Err(OrderFileError::Syntax {
                    file: file.to_path_buf(),
                    line: lines.line(item.span().start),
                    message: "`order` must be a list of tables ([[order]])".to_string(),
                }),
            })
            .collect(),
        _ => Ok(vec![raw_from_table(table, &lines, file, 1)]),
    }
}

fn raw_from_table(table: &DeTable<'_>, lines: &Lines, file: &Path, line: usize) -> RawOrder {
    let mut fields = BTreeMap::new();
    flatten_toml(table, "", lines, &mut fields);
    RawOrder {
        file: file.to_path_buf(),
        line,
        fields,
    }
}

fn flatten_toml(table: &DeTable<'_>, prefix: &str, lines: &Lines, out: &mut BTreeMap<String, RawField>) {
    for (key, value) in table.iter() {
        let name = format!("{prefix}{}", key.get_ref());
        let line = lines.line(value.span().start);
        let raw = match value.get_ref() {
            DeValue::Table(t) => {
                flatten_toml(t, &format!("{name}."), lines, out);
                continue;
            }
            DeValue::String(s) => RawValue::Text(s.to_string()),
            DeValue::Integer(i) => RawValue::Number(i.as_str().to_string()),
            DeValue::Float(f) => RawValue::Number(f.as_str().to_string()),
            DeValue::Array(items) => {
                let strings: Option<Vec<String>> = items
                    .iter()
                    .map(|v| match v.get_ref() {
                        DeValue::String(s) => Some(s.to_string()),
                        _ => None,
                    })
                    .collect();
                strings.map_or(RawValue::Other("list of non-strings"), RawValue::List)
            }
            DeValue::Boolean(_) => RawValue::Other("boolean"),
            DeValue::Datetime(_) => RawValue::Other("date"),
        };
        out.insert(name, RawField { value: raw, line });
    }
}

/// Separator of list values (evidence files) inside one CSV cell.
pub const CSV_LIST_SEPARATOR: char = ';';

/// First characters that make a spreadsheet evaluate a cell (CSV formula injection).
const FORMULA_PREFIXES: [char; 4] = ['=', '+', '-', '@'];

/// Parses CSV text: a header row of dotted field names, then one order per row.
pub fn parse_csv(text: &str, file: &Path) -> Result<Vec<RawOrder>, OrderFileError> {
    let syntax = |line: usize, message: String| OrderFileError::Syntax {
        file: file.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| syntax(1, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    if let Some(h) = headers.iter().find(|h| h.trim() != h.as_str()) {
        return Err(syntax(
            1,
            crate::tr!("csv-column-spaces", column = h.as_str(), trimmed = h.trim()),
        ));
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = headers.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(syntax(1, crate::tr!("csv-column-twice", column = dup.as_str())));
    }
    let mut orders = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            syntax(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let fields = headers
            .iter()
            .zip(record.iter())
            .filter(|(_, cell)| !cell.trim().is_empty())
            .map(|(h, cell)| {
                let value = if cell.trim_start().starts_with(FORMULA_PREFIXES) {
                    RawValue::Formula(cell.to_string())
                } else if h == "evidence" {
                    RawValue::List(cell.split(CSV_LIST_SEPARATOR).map(|s| s.trim().to_string()).collect())
                } else {
                    RawValue::Text(cell.to_string())
                };
                (h.clone(), RawField { value, line })
            })
            .collect();
        orders.push(RawOrder {
            file: file.to_path_buf(),
            line,
            fields,
        });
    }
    Ok(orders)
}

// ---------------------------------------------------------------- validated order

/// Whether the merchant is a company or an individual business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MerchantKind {
    Company,
    Individual,
}

/// Why a binding changes, as recorded with the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Expired,
    Lost,
    Damaged,
    BankChange,
    DeviceReplaced,
    BusinessChange,
    Compliance,
    DataMigration,
    CustomerRequest,
    Other,
}

const REASONS: [(&str, Reason); 10] = [
    ("expired", Reason::Expired),
    ("lost", Reason::Lost),
    ("damaged", Reason::Damaged),
    ("bank-change", Reason::BankChange),
    ("device-replaced", Reason::DeviceReplaced),
    ("business-change", Reason::BusinessChange),
    ("compliance", Reason::Compliance),
    ("data-migration", Reason::DataMigration),
    ("customer-request", Reason::CustomerRequest),
    ("other", Reason::Other),
];

impl FromStr for Reason {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        REASONS
            .iter()
            .find(|(n, _)| *n == s.trim())
            .map(|(_, r)| *r)
            .ok_or(DomainError::Rule("rule-expired-lost-damaged-bankchange"))
    }
}

/// How a new phone number is proven: SMS code to the new number, or at a counter with ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhonePath {
    Sms,
    Counter,
}

impl FromStr for PhonePath {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "sms" => Ok(PhonePath::Sms),
            "counter" => Ok(PhonePath::Counter),
            _ => Err(DomainError::Rule("rule-sms-code-new-number")),
        }
    }
}

/// A card expiry date, month and year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expiry {
    pub month: u32,
    pub year: i32,
}

impl Expiry {
    /// Parses `MM/YY`, refusing a month that has already ended on `today`.
    pub fn parse_on(raw: &str, today: NaiveDate) -> Result<Expiry, DomainError> {
        let s = raw.trim();
        let bad = DomainError::Rule("rule-mmyy-eg-0929");
        let (m, y) = s.split_once('/').ok_or(bad.clone())?;
        if m.len() != 2 || y.len() != 2 || !(m.bytes().chain(y.bytes()).all(|b| b.is_ascii_digit())) {
            return Err(bad);
        }
        let month: u32 = m.parse().map_err(|_| bad.clone())?;
        if !(1..=12).contains(&month) {
            return Err(DomainError::Rule("rule-month-outside-0112"));
        }
        let year = 2000 + y.parse::<i32>().map_err(|_| bad)?;
        if (year, month) < (today.year(), today.month()) {
            return Err(DomainError::Rule("rule-past-card-expired"));
        }
        Ok(Expiry { month, year })
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}", self.month, self.year % 100)
    }
}

/// The merchant the terminal belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct Merchant {
    pub mid: Mid,
    pub name: String,
    pub kind: MerchantKind,
    pub credit_code: Option<CreditCode>,
    pub legal_rep_id: Option<ResidentId>,
}

/// Someone acting on the merchant's behalf.
#[derive(Debug, Clone)]
pub struct AgentRep {
    pub name: Option<HolderName>,
    pub id_number: Option<ResidentId>,
    pub authorisation: Option<PathBuf>,
}

/// What the terminal must currently hold.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Expect {
    pub serial: Option<String>,
    pub tid: Option<Tid>,
    pub status: Option<DeviceStatus>,
    pub card_last4: Option<String>,
    pub account_last4: Option<String>,
    pub holder: Option<HolderName>,
    pub phone: Option<Phone>,
}

/// The values to write.
#[derive(Debug, Clone, Default)]
pub struct NewValues {
    pub card: Option<Pan>,
    pub holder: Option<HolderName>,
    pub expiry: Option<Expiry>,
    pub account: Option<AccountNo>,
    pub bank: Option<String>,
    pub branch_code: Option<BranchCode>,
    pub phone: Option<Phone>,
    pub phone_path: Option<PhonePath>,
    pub daily_limit_yuan: Option<f64>,
    pub fee_rate_percent: Option<f64>,
}

/// The replacement unit of a migration.
#[derive(Debug, Clone)]
pub struct Replacement {
    pub serial: Option<String>,
    pub model: Option<String>,
    /// One-time activation code; never logged or stored in clear.
    pub activation_code: Option<String>,
}

/// A validated work order.
#[derive(Debug, Clone)]
pub struct WorkOrder {
    pub id: String,
    pub operation: Operation,
    pub profile: String,
    pub reason: Option<Reason>,
    pub merchant: Merchant,
    pub agent: Option<AgentRep>,
    pub expect: Expect,
    pub new: NewValues,
    pub replacement: Option<Replacement>,
    pub evidence: Vec<PathBuf>,
    /// Scans of the documents seen at a counter (`scan.holder_id`, `scan.agent_id`).
    pub scans: Vec<PathBuf>,
}

/// One thing wrong with an order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    /// The dotted field name, e.g. `new.card`.
    pub field: String,
    pub file: PathBuf,
    pub line: usize,
    /// The value as shown to people (masked where personal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.field)?;
        if let Some(v) = &self.value {
            write!(f, " = \"{v}\"")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Longest order id accepted.
const MAX_ORDER_ID: usize = 64;
use crate::domain::MAX_NAME_CHARS as MAX_NAME;

fn parse_order_id(s: &str) -> Result<String, DomainError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(DomainError::Empty);
    }
    if s.len() > MAX_ORDER_ID || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(DomainError::Rule("rule-164-ascii-letters-digits"));
    }
    Ok(s.to_string())
}

/// Device serial numbers: ASCII letters, digits and hyphens, 4-32 characters, uppercased.
pub fn parse_serial(raw: &str) -> Result<String, DomainError> {
    let s = raw.trim_matches(|c: char| c.is_ascii_whitespace()).to_ascii_uppercase();
    if s.is_empty() {
        return Err(DomainError::Empty);
    }
    if !(4..=32).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(DomainError::Rule("rule-432-ascii-letters-digits"));
    }
    Ok(s)
}

fn parse_last4(raw: &str) -> Result<String, DomainError> {
    let s = normalise_code(raw);
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::Rule("rule-last-4-digits"));
    }
    Ok(s)
}

fn parse_number(raw: &str) -> Result<f64, DomainError> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or(DomainError::Rule("rule-number"))
}

/// Walks one raw order, collecting every problem.
struct Validator<'a> {
    raw: &'a RawOrder,
    base_dir: PathBuf,
    problems: Vec<Problem>,
}

impl<'a> Validator<'a> {
    fn problem(&mut self, field: &str, value: Option<String>, message: impl Into<String>) {
        let line = self.raw.fields.get(field).map_or(self.raw.line, |f| f.line);
        self.problems.push(Problem {
            field: field.to_string(),
            file: self.raw.file.clone(),
            line,
            value,
            message: message.into(),
        });
    }

    fn present(&self, field: &str) -> bool {
        self.raw.fields.contains_key(field)
    }

    /// Parses a text field; records a problem and returns `None` when it is bad or absent.
    fn text<T>(&mut self, field: &str, parse: impl FnOnce(&str) -> Result<T, DomainError>) -> Option<T> {
        let raw = self.raw.fields.get(field)?;
        let text = match &raw.value {
            RawValue::Text(t) => t.clone(),
            RawValue::Number(n) => {
                let msg = crate::tr!("value-bare-number", value = shown_value(field, n));
                self.problem(field, Some(shown_value(field, n)), msg);
                return None;
            }
            RawValue::List(_) => {
                self.problem(field, None, crate::tr!("value-list"));
                return None;
            }
            RawValue::Formula(t) => {
                let msg = crate::tr!(
                    "value-formula",
                    first = t.trim_start().chars().next().unwrap_or('=').to_string()
                );
                self.problem(field, Some(shown_value(field, t)), msg);
                return None;
            }
            RawValue::Other(kind) => {
                self.problem(field, None, crate::tr!("value-not-text", kind = kind_label(kind)));
                return None;
            }
        };
        match parse(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(field, Some(shown_value(field, &text)), e.to_string());
                None
            }
        }
    }

    /// A numeric field, written either as a TOML number or as text.
    fn number(&mut self, field: &str) -> Option<f64> {
        match self.raw.fields.get(field).map(|f| &f.value) {
            Some(RawValue::Number(n)) => {
                let n = n.clone();
                parse_number(&n)
                    .map_err(|e| self.problem(field, Some(n), e.to_string()))
                    .ok()
            }
            Some(_) => self.text(field, parse_number),
            None => None,
        }
    }

    /// A file named by the order: relative to the order's directory and inside it, and a
    /// regular file.
    fn file_path(&mut self, field: &str, raw: &str) -> Option<PathBuf> {
        let rel = Path::new(raw.trim());
        let leaves = rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
        if leaves {
            let msg = crate::tr!("value-file-outside");
            self.problem(field, Some(raw.to_string()), msg);
            return None;
        }
        let path = self.base_dir.join(rel);
        let inside = match (std::fs::canonicalize(&path), std::fs::canonicalize(self.dir())) {
            (Ok(file), Ok(dir)) => file.starts_with(dir),
            (Err(_), _) => {
                self.problem(
                    field,
                    Some(raw.to_string()),
                    crate::tr!("value-file-missing", file = path.display().to_string()),
                );
                return None;
            }
            (_, Err(_)) => false,
        };
        if !inside {
            let msg = crate::tr!("value-file-link-outside");
            self.problem(field, Some(raw.to_string()), msg);
            return None;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Some(path),
            _ => {
                let msg = crate::tr!("value-file-not-regular", file = path.display().to_string());
                self.problem(field, Some(raw.to_string()), msg);
                None
            }
        }
    }

    /// The order's directory (`.` for an order named without one).
    fn dir(&self) -> &Path {
        if self.base_dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.base_dir
        }
    }

    fn evidence(&mut self) -> Vec<PathBuf> {
        let list = match self.raw.fields.get("evidence").map(|f| f.value.clone()) {
            None => return Vec::new(),
            Some(RawValue::List(l)) => l,
            Some(RawValue::Text(t)) => vec![t],
            Some(RawValue::Formula(_)) => {
                // Reported by the one place that explains formulas.
                self.text("evidence", |_| Ok(()));
                return Vec::new();
            }
            Some(_) => {
                self.problem("evidence", None, crate::tr!("value-evidence-list"));
                return Vec::new();
            }
        };
        list.iter()
            .filter(|s| !s.trim().is_empty())
            .filter_map(|s| self.file_path("evidence", s))
            .collect()
    }
}

/// Validates one raw order against the profiles; every problem is returned.
pub fn validate(raw: &RawOrder, profiles: &ProfileSet) -> Result<WorkOrder, Vec<Problem>> {
    validate_on(raw, profiles, chrono::Local::now().date_naive())
}

/// [`validate`] with an explicit date, for dates checked against today.
pub fn validate_on(raw: &RawOrder, profiles: &ProfileSet, today: NaiveDate) -> Result<WorkOrder, Vec<Problem>> {
    let base_dir = raw.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut v = Validator {
        raw,
        base_dir,
        problems: Vec::new(),
    };

    let known = all_fields();
    for name in raw.fields.keys() {
        if !known.contains(name.as_str()) {
            v.problem(name, None, crate::tr!("field-unknown"));
        }
    }
    for required in [
        "id",
        "operation",
        "profile",
        "merchant.mid",
        "merchant.name",
        "merchant.kind",
    ] {
        if !v.present(required) {
            v.problem(required, None, crate::tr!("field-required"));
        }
    }

    let id = v.text("id", parse_order_id);
    let operation = v.text("operation", Operation::from_str);
    let profile_name = v.text("profile", |s| Ok(s.trim().to_string()));
    let profile: Option<&Profile> = match &profile_name {
        Some(name) => match profiles.get(name) {
            Ok(p) => Some(p),
            Err(e) => {
                v.problem("profile", Some(name.clone()), e.to_string());
                None
            }
        },
        None => None,
    };
    let reason = v.text("reason", Reason::from_str);
    let kind = v.text("merchant.kind", |s| match s.trim() {
        "company" => Ok(MerchantKind::Company),
        "individual" => Ok(MerchantKind::Individual),
        _ => Err(DomainError::Rule("rule-company-individual")),
    });
    let merchant_name = v.text("merchant.name", |s| plain_text(s, MAX_NAME));
    let mid = v.text("merchant.mid", Mid::from_str);
    let credit_code = v.text("merchant.credit_code", CreditCode::from_str);
    let legal_rep_id = v.text("merchant.legal_rep_id", |s| ResidentId::parse_on(s, today));

    let agent_present = ["agent.name", "agent.id_number", "agent.authorisation"]
        .iter()
        .any(|f| v.present(f));
    let agent = agent_present.then(|| AgentRep {
        name: v.text("agent.name", HolderName::from_str),
        id_number: v.text("agent.id_number", |s| ResidentId::parse_on(s, today)),
        authorisation: v
            .text("agent.authorisation", |s| Ok(s.to_string()))
            .and_then(|p| v.file_path("agent.authorisation", &p)),
    });

    let expect = Expect {
        serial: v.text("expect.serial", parse_serial),
        tid: v.text("expect.tid", Tid::from_str),
        status: v.text("expect.status", DeviceStatus::from_str),
        card_last4: v.text("expect.card_last4", parse_last4),
        account_last4: v.text("expect.account_last4", parse_last4),
        holder: v.text("expect.holder", HolderName::from_str),
        phone: v.text("expect.phone", Phone::from_str),
    };
    let new = NewValues {
        card: v.text("new.card", Pan::from_str),
        holder: v.text("new.holder", HolderName::from_str),
        expiry: v.text("new.expiry", |s| Expiry::parse_on(s, today)),
        account: v.text("new.account", AccountNo::from_str),
        bank: v.text("new.bank", |s| plain_text(s, MAX_NAME)),
        branch_code: v.text("new.branch_code", BranchCode::from_str),
        phone: v.text("new.phone", Phone::from_str),
        phone_path: v.text("new.phone_path", PhonePath::from_str),
        daily_limit_yuan: v.number("new.daily_limit_yuan"),
        fee_rate_percent: v.number("new.fee_rate_percent"),
    };
    let replacement_present = ["replacement.serial", "replacement.model", "replacement.activation_code"]
        .iter()
        .any(|f| v.present(f));
    let replacement = replacement_present.then(|| Replacement {
        serial: v.text("replacement.serial", parse_serial),
        model: v.text("replacement.model", |s| plain_text(s, MAX_NAME)),
        activation_code: v.text("replacement.activation_code", |s| {
            let s = normalise_code(s);
            if (6..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(s)
            } else {
                Err(DomainError::Rule("rule-632-ascii-letters-digits"))
            }
        }),
    });
    let evidence = v.evidence();
    let scans = ["scan.holder_id", "scan.agent_id"]
        .into_iter()
        .filter_map(|f| v.text(f, |s| Ok(s.to_string())).and_then(|p| v.file_path(f, &p)))
        .collect();

    if let (Some(op), Some(profile)) = (operation, profile) {
        check_against_profile(&mut v, op, profile, kind, agent_present);
        check_settlement_bounds(&mut v, profile, &new);
        if new.phone_path == Some(PhonePath::Counter)
            && let Some(rule) = profile.operations.get(&op)
        {
            for field in rule.counter_documents(agent_present) {
                if !v.present(&field) {
                    let why = crate::tr!("field-required-counter", profile = profile.name.as_str());
                    v.problem(&field, None, why);
                }
            }
        }
    }
    if matches!(operation, Some(Operation::RebindCard | Operation::RebindAccount)) {
        match (v.present("expect.card_last4"), v.present("expect.account_last4")) {
            (false, false) => v.problem("expect.card_last4", None, crate::tr!("field-settles-to")),
            (true, true) => v.problem("expect.account_last4", None, crate::tr!("field-settles-both")),
            _ => {}
        }
    }
    if let Some(op) = operation {
        for name in raw.fields.keys() {
            if known.contains(name.as_str()) && !field_used_by(op, name) {
                v.problem(name, None, crate::tr!("field-not-used", operation = op.label()));
            }
        }
    }
    if let (Some(old), Some(Some(new))) = (&expect.serial, replacement.as_ref().map(|r| &r.serial))
        && old == new
    {
        v.problem("replacement.serial", Some(new.clone()), crate::tr!("field-same-unit"));
    }

    if !v.problems.is_empty() {
        // File order reads best; missing fields (reported at the order's first line) lead.
        v.problems.sort_by_key(|p| p.line);
        return Err(v.problems);
    }
    // Every required value parsed, so the unwraps below hold; keep them total anyway.
    match (id, operation, profile_name, mid, merchant_name, kind) {
        (Some(id), Some(operation), Some(profile), Some(mid), Some(name), Some(kind)) => Ok(WorkOrder {
            id,
            operation,
            profile,
            reason,
            merchant: Merchant {
                mid,
                name,
                kind,
                credit_code,
                legal_rep_id,
            },
            agent,
            expect,
            new,
            replacement,
            evidence,
            scans,
        }),
        _ => Err(vec![Problem {
            field: "id".into(),
            file: raw.file.clone(),
            line: raw.line,
            value: None,
            message: crate::tr!("order-incomplete"),
        }]),
    }
}

fn check_against_profile(
    v: &mut Validator<'_>,
    op: Operation,
    profile: &Profile,
    kind: Option<MerchantKind>,
    agent_present: bool,
) {
    let Some(rule) = profile.operations.get(&op) else {
        let msg = crate::tr!(
            "field-op-unsupported",
            operation = op.label(),
            profile = profile.name.as_str()
        );
        v.problem("operation", Some(op.to_string()), msg);
        return;
    };
    let mut required: Vec<(String, String)> = rule
        .required_fields
        .iter()
        .map(|f| {
            let why = crate::tr!(
                "field-required-by",
                operation = op.label(),
                profile = profile.name.as_str()
            );
            (f.clone(), why)
        })
        .collect();
    let docs = match kind {
        Some(MerchantKind::Company) => &profile.documents.company,
        Some(MerchantKind::Individual) => &profile.documents.individual,
        None => &Vec::new(),
    };
    let why = match kind {
        Some(MerchantKind::Company) => crate::tr!("field-document-company", profile = profile.name.as_str()),
        _ => crate::tr!("field-document-individual", profile = profile.name.as_str()),
    };
    required.extend(docs.iter().map(|f| (f.clone(), why.clone())));
    if agent_present {
        required.extend(profile.documents.agent.iter().map(|f| {
            (
                f.clone(),
                crate::tr!("field-required-agent", profile = profile.name.as_str()),
            )
        }));
    }
    let mut seen = BTreeSet::new();
    for (field, message) in required {
        if seen.insert(field.clone()) && !v.present(&field) {
            v.problem(&field, None, message);
        }
    }
}

fn check_settlement_bounds(v: &mut Validator<'_>, profile: &Profile, new: &NewValues) {
    for (field, value, bounds, unit) in [
        (
            "new.daily_limit_yuan",
            new.daily_limit_yuan,
            profile.settlement.daily_limit_yuan,
            crate::tr!("unit-yuan"),
        ),
        (
            "new.fee_rate_percent",
            new.fee_rate_percent,
            profile.settlement.fee_rate_percent,
            "%".to_string(),
        ),
    ] {
        if let Some(x) = value
            && !bounds.contains(x)
        {
            let msg = crate::tr!(
                "field-out-of-bounds",
                min = bounds.min,
                max = bounds.max,
                unit = unit.as_str(),
                profile = profile.name.as_str()
            );
            v.problem(field, Some(x.to_string()), msg);
        }
    }
}

/// The outcome of checking a whole file.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub valid: bool,
    /// How many orders the file holds.
    pub orders: usize,
    pub errors: Vec<Problem>,
}

/// Reads and validates every order in a file.
pub fn check_file(path: &Path, profiles: &ProfileSet) -> Result<(Vec<WorkOrder>, CheckReport), OrderFileError> {
    let raws = read_file(path)?;
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut orders = Vec::new();
    for raw in &raws {
        match validate(raw, profiles) {
            Ok(o) => {
                if let Some(first) = ids.insert(o.id.clone(), raw.line) {
                    errors.push(Problem {
                        field: "id".into(),
                        file: raw.file.clone(),
                        line: raw.line,
                        value: Some(o.id.clone()),
                        message: crate::tr!("field-id-repeated", line = first),
                    });
                }
                orders.push(o);
            }
            Err(p) => errors.extend(p),
        }
    }
    let report = CheckReport {
        valid: errors.is_empty(),
        orders: raws.len(),
        errors,
    };
    Ok((orders, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    const GOOD: &str = r#"
id = "WO-2026-0001"
operation = "rebind-card"
profile = "lakala"

[merchant]
mid = "822100000000001"
name = "Happy Noodles 开心面馆"
kind = "individual"
legal_rep_id = "11010519491001002X"

[expect]
serial = "LKL-A8-000123"
tid = "AB12CD34"
card_last4 = "1234"

[new]
card = "6222 0202 0011 2233 446"
holder = "张三"
expiry = "09/29"
"#;

    fn check(text: &str) -> Result<WorkOrder, Vec<Problem>> {
        let raws = parse_toml(text, Path::new("order.toml")).unwrap();
        validate_on(&raws[0], &ProfileSet::builtin().unwrap(), today())
    }

    fn fields(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    fn fix_id(text: &str) -> String {
        // The example legal_rep_id needs its real check character.
        let body = "11010519491001002";
        let id = format!("{body}{}", crate::domain::resident_id_check_char(body.as_bytes()));
        text.replace("11010519491001002X", &id)
    }

    #[test]
    fn a_good_order_validates() {
        let o = check(&fix_id(GOOD)).unwrap();
        assert_eq!(o.operation, Operation::RebindCard);
        assert_eq!(o.new.card.unwrap().last4(), "3446");
        assert_eq!(o.expect.tid.unwrap().as_str(), "AB12CD34");
    }

    #[test]
    fn every_problem_is_reported_with_field_and_line() {
        let text = fix_id(GOOD)
            .replace("6222 0202 0011 2233 446", "6222 0202 0011 2233 445")
            .replace("\"09/29\"", "\"13/29\"")
            .replace("tid = \"AB12CD34\"", "tid = \"AB12\"\ncolour = \"red\"");
        let problems = check(&text).unwrap_err();
        assert_eq!(
            fields(&problems),
            ["expect.tid", "expect.colour", "new.card", "new.expiry"]
        );
        let card = &problems[2];
        assert_eq!(card.value.as_deref(), Some("622202*********3445"));
        assert!(card.message.contains("Luhn"));
        assert_eq!(
            card.line,
            text.lines().position(|l| l.starts_with("card =")).unwrap() + 1
        );
    }

    #[test]
    fn bare_numbers_are_refused_for_code_fields() {
        let text = fix_id(GOOD).replace("mid = \"822100000000001\"", "mid = 822100000000001");
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["merchant.mid"]);
        assert!(problems[0].message.contains("quoted string"));
    }

    #[test]
    fn profile_requirements_apply() {
        // Lakala wants new.expiry for rebind-card; a company needs its credit code.
        let text = fix_id(GOOD)
            .replace("expiry = \"09/29\"\n", "")
            .replace("\"individual\"", "\"company\"");
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["new.expiry", "merchant.credit_code"]);
        assert!(problems[1].message.contains("company"));
    }

    #[test]
    fn an_agent_needs_all_agent_documents() {
        let text = fix_id(GOOD) + "\n[agent]\nname = \"李四\"\n";
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["agent.id_number", "agent.authorisation"]);
    }

    #[test]
    fn fields_of_another_operation_are_refused() {
        let text = fix_id(GOOD) + "\n[replacement]\nserial = \"NEW-0001\"\n";
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["replacement.serial"]);
        assert!(problems[0].message.contains("not used by rebind-card"));
    }

    #[test]
    fn unknown_profile_and_operation_are_named() {
        let text = fix_id(GOOD)
            .replace("\"lakala\"", "\"paypal\"")
            .replace("\"rebind-card\"", "\"rebind\"");
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["operation", "profile"]);
    }

    #[test]
    fn settlement_bounds_come_from_the_profile() {
        let text = fix_id(GOOD) + "daily_limit_yuan = 900000\nfee_rate_percent = \"0.5\"\n";
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["new.daily_limit_yuan"]);
    }

    #[test]
    fn toml_syntax_error_names_the_line() {
        let err = parse_toml("id = \"x\"\n[merchant\n", Path::new("o.toml")).unwrap_err();
        assert!(matches!(err, OrderFileError::Syntax { line: 2, .. }), "{err}");
    }

    #[test]
    fn csv_rows_are_orders_and_errors_name_their_line() {
        let body = "11010519491001002";
        let id = format!("{body}{}", crate::domain::resident_id_check_char(body.as_bytes()));
        let csv = format!(
            "id,operation,profile,merchant.mid,merchant.name,merchant.kind,merchant.legal_rep_id,expect.serial,expect.tid,reason\n\
             U1,unbind,ums,822100000000001,Shop A,individual,{id},SN-0001,AB12CD34,device-replaced\n\
             U2,unbind,ums,82210000000000,Shop B,individual,{id},SN-0002,AB12CD35,device-replaced\n"
        );
        let raws = parse_csv(&csv, Path::new("plan.csv")).unwrap();
        assert_eq!(raws.len(), 2);
        let set = ProfileSet::builtin().unwrap();
        assert!(validate_on(&raws[0], &set, today()).is_ok());
        let p = validate_on(&raws[1], &set, today()).unwrap_err();
        assert_eq!((p[0].field.as_str(), p[0].line), ("merchant.mid", 3));
    }

    #[test]
    fn csv_cells_a_spreadsheet_would_run_are_refused() {
        let csv = "id,operation,profile,merchant.mid,merchant.name,merchant.kind,expect.serial,evidence\n\
                   U1,unbind,generic,822100000000001,=HYPERLINK(\"x\"),individual,@SUM(1),-2+3\n";
        let raws = parse_csv(csv, Path::new("plan.csv")).unwrap();
        let p = validate_on(&raws[0], &ProfileSet::builtin().unwrap(), today()).unwrap_err();
        let formulas: Vec<&str> = p
            .iter()
            .filter(|p| p.message.contains("runs as a formula"))
            .map(|p| p.field.as_str())
            .collect();
        assert_eq!(formulas, ["merchant.name", "expect.serial", "evidence"]);
    }

    #[test]
    fn a_card_change_says_what_the_terminal_settles_to_now() {
        let neither = fix_id(GOOD).replace("card_last4 = \"1234\"\n", "");
        let p = check(&neither).unwrap_err();
        assert_eq!(fields(&p), ["expect.card_last4"]);
        assert!(p[0].message.contains("or expect.account_last4"));
        let both = fix_id(GOOD).replace(
            "card_last4 = \"1234\"\n",
            "card_last4 = \"1234\"\naccount_last4 = \"5678\"\n",
        );
        assert_eq!(fields(&check(&both).unwrap_err()), ["expect.account_last4"]);
        let account = fix_id(GOOD).replace("card_last4 = \"1234\"\n", "account_last4 = \"5678\"\n");
        assert!(
            check(&account).is_ok(),
            "a terminal settling to an account may move to a card"
        );
    }

    #[test]
    fn csv_headers_with_spaces_are_refused_naming_the_column() {
        let err = parse_csv("id, operation\nA,unbind\n", Path::new("p.csv")).unwrap_err();
        assert!(err.to_string().contains("column ' operation' has spaces"), "{err}");
    }

    #[test]
    fn evidence_must_stay_inside_the_order_directory_and_be_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let orders = dir.path().join("orders");
        std::fs::create_dir(&orders).unwrap();
        std::fs::write(dir.path().join("outside.pdf"), b"%PDF").unwrap();
        std::fs::write(orders.join("scan.pdf"), b"%PDF").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.pdf"), orders.join("link.pdf")).unwrap();
        std::fs::create_dir(orders.join("folder")).unwrap();
        let check = |evidence: &str| {
            let text = fix_id(GOOD).replacen("\n[merchant]", &format!("evidence = [\"{evidence}\"]\n\n[merchant]"), 1);
            let raws = parse_toml(&text, &orders.join("o.toml")).unwrap();
            validate_on(&raws[0], &ProfileSet::builtin().unwrap(), today())
                .err()
                .map(|p| p.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("; "))
        };
        assert_eq!(check("scan.pdf"), None);
        for (bad, why) in [
            ("../outside.pdf", "inside the order's directory"),
            ("/etc/passwd", "inside the order's directory"),
            ("link.pdf", "leads outside"),
            ("folder", "not a regular file"),
        ] {
            let msg = check(bad).unwrap_or_default();
            assert!(msg.contains(why), "{bad}: {msg}");
        }
    }

    #[test]
    fn csv_with_ragged_row_is_a_syntax_error_with_line() {
        let err = parse_csv("id,operation\nA,unbind\nB\n", Path::new("p.csv")).unwrap_err();
        assert!(matches!(err, OrderFileError::Syntax { line: 3, .. }), "{err}");
    }

    #[test]
    fn toml_order_list_is_read() {
        let text = "[[order]]\nid = \"A\"\n\n[[order]]\nid = \"B\"\n";
        let raws = parse_toml(text, Path::new("plan.toml")).unwrap();
        assert_eq!(raws.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 4]);
    }

    #[test]
    fn expiry_rules() {
        assert_eq!(Expiry::parse_on("11/26", today()).unwrap().to_string(), "11/26");
        assert!(Expiry::parse_on("10/26", today()).is_err());
        assert!(Expiry::parse_on("00/30", today()).is_err());
        assert!(Expiry::parse_on("1/30", today()).is_err());
    }

    #[test]
    fn masked_fields_are_masked_in_reports() {
        assert_eq!(shown_value("new.account", "6222020200112233445"), "622202*********3445");
        assert_eq!(shown_value("replacement.activation_code", "SECRET"), "(hidden)");
        assert_eq!(shown_value("merchant.name", "Shop"), "Shop");
    }
}
