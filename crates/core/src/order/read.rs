//! Reading work orders into raw fields with their lines: one order per TOML file, many in
//! a TOML file of `[[order]]` tables or a CSV file (one per row).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

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

impl RawOrder {
    /// An order given as text fields by their dotted names, named `name` in messages.
    pub fn of_fields(name: impl Into<PathBuf>, fields: &BTreeMap<String, String>) -> RawOrder {
        RawOrder {
            file: name.into(),
            line: 1,
            fields: fields
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        RawField {
                            value: RawValue::Text(v.clone()),
                            line: 1,
                        },
                    )
                })
                .collect(),
        }
    }
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
pub(super) fn kind_label(kind: &str) -> String {
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
    let orders = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("toml") => parse_toml(&text, path)?,
        Some("csv") => parse_csv(&text, path)?,
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
