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

/// The line of any byte of a file, found without a rescan of the text (which made large
/// files quadratic) and without an entry per line (a file of newlines would make that
/// several times the file): the line number at every [`Lines::STEP`] bytes, and the
/// newlines counted from there.
struct Lines<'t> {
    text: &'t [u8],
    /// The 1-based line at byte `i × STEP`.
    marks: Vec<u32>,
}

impl<'t> Lines<'t> {
    const STEP: usize = 4096;

    fn of(text: &'t str) -> Lines<'t> {
        let text = text.as_bytes();
        let mut marks = Vec::with_capacity(text.len() / Self::STEP + 1);
        let mut line = 1u32;
        for chunk in text.chunks(Self::STEP) {
            marks.push(line);
            line += chunk.iter().filter(|b| **b == b'\n').count() as u32;
        }
        Lines { text, marks }
    }

    /// The 1-based line holding byte `offset`.
    fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        // The last mark at or before `offset` (the file's end may lie on the boundary
        // after the last mark).
        let mark = (offset / Self::STEP).min(self.marks.len().saturating_sub(1));
        let Some(&at) = self.marks.get(mark) else {
            return 1;
        };
        let newlines = self.text[mark * Self::STEP..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        at as usize + newlines
    }
}

/// Fields (`key = value` pairs, or CSV cells with a value) one file may hold: ample for a
/// plan of thousands of orders, and what keeps reading a file at the size limit within a
/// few times its size in memory.
pub const MAX_FIELDS_PER_FILE: usize = 100_000;

/// A file over [`MAX_FIELDS_PER_FILE`], refused at the field past it.
fn too_many_fields(file: &Path, line: usize) -> OrderFileError {
    OrderFileError::Syntax {
        file: file.to_path_buf(),
        line,
        message: crate::tr!("orderfile-too-many-fields", limit = MAX_FIELDS_PER_FILE),
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

/// The most text one order may take (a file of one order, or one `[[order]]` table with
/// the lines up to the next): an order is a few kilobytes, and the TOML parser needs
/// several times the text it reads, so a file is parsed one order at a time.
pub const MAX_ORDER_TEXT: usize = 1 << 20;

/// Parses TOML text: one order at top level, or a list of `[[order]]` tables.
pub fn parse_toml(text: &str, file: &Path) -> Result<Vec<RawOrder>, OrderFileError> {
    let lines = Lines::of(text);
    let syntax = |at: usize, message: String| OrderFileError::Syntax {
        file: file.to_path_buf(),
        line: lines.line(at),
        message,
    };
    // Every pair has its `=`: more of them than the limit (some may be inside strings) is
    // refused before a tree of them is built.
    if let Some((at, _)) = text.match_indices('=').nth(MAX_FIELDS_PER_FILE) {
        return Err(too_many_fields(file, lines.line(at)));
    }
    // Each piece parsed on its own, at its place in the file.
    let parse = |start: usize, end: usize| {
        if end - start > MAX_ORDER_TEXT {
            return Err(syntax(
                start,
                crate::tr!("orderfile-order-too-long", limit = MAX_ORDER_TEXT),
            ));
        }
        DeTable::parse(&text[start..end]).map_err(|e| {
            syntax(
                start + e.span().map_or(0, |s| s.start),
                crate::tr!("orderfile-toml-syntax", detail = e.message().trim_end()),
            )
        })
    };
    let starts = order_tables(text);
    let Some(&first) = starts.first() else {
        let doc = parse(0, text.len())?;
        return Ok(vec![raw_from_table(doc.get_ref(), &lines, 0, file, 1)]);
    };
    if let Some((key, _)) = parse(0, first)?.get_ref().iter().next() {
        return Err(syntax(key.span().start, crate::tr!("orderfile-keys-before-orders")));
    }
    let mut orders = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        let doc = parse(start, end)?;
        let table = doc.get_ref();
        let Some(DeValue::Array(items)) = table
            .iter()
            .find(|(k, _)| k.get_ref() == "order")
            .map(|(_, v)| v.get_ref())
            .filter(|_| table.len() == 1)
        else {
            return Err(syntax(start, crate::tr!("orderfile-not-order-tables")));
        };
        for item in items {
            let DeValue::Table(t) = item.get_ref() else {
                return Err(syntax(
                    start + item.span().start,
                    crate::tr!("orderfile-not-order-tables"),
                ));
            };
            orders.push(raw_from_table(
                t,
                &lines,
                start,
                file,
                lines.line(start + item.span().start),
            ));
        }
    }
    Ok(orders)
}

/// Where each `[[order]]` header line starts, outside multi-line strings. (A header missed
/// or a string mistaken only makes a piece that does not parse: an error, never another
/// reading of the file.)
fn order_tables(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut open: Option<&str> = None;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if open.is_none() && is_order_header(line) {
            starts.push(at);
        }
        let mut rest = line;
        loop {
            match open {
                Some(delimiter) => match rest.find(delimiter) {
                    Some(i) => {
                        rest = &rest[i + 3..];
                        open = None;
                    }
                    None => break,
                },
                None => match ["\"\"\"", "'''"]
                    .into_iter()
                    .filter_map(|d| rest.find(d).map(|i| (i, d)))
                    .min()
                {
                    Some((i, delimiter)) => {
                        rest = &rest[i + 3..];
                        open = Some(delimiter);
                    }
                    None => break,
                },
            }
        }
        at += line.len();
    }
    starts
}

/// `[[order]]`, spaces allowed inside the brackets, a comment after.
fn is_order_header(line: &str) -> bool {
    let header = line
        .trim_start()
        .strip_prefix("[[")
        .map(str::trim_start)
        .and_then(|l| l.strip_prefix("order"))
        .map(str::trim_start)
        .and_then(|l| l.strip_prefix("]]"))
        .map(str::trim);
    header.is_some_and(|rest| rest.is_empty() || rest.starts_with('#'))
}

/// The order in `table`, whose spans count from `base` in the file.
fn raw_from_table(table: &DeTable<'_>, lines: &Lines<'_>, base: usize, file: &Path, line: usize) -> RawOrder {
    let mut fields = BTreeMap::new();
    flatten_toml(table, "", lines, base, &mut fields);
    RawOrder {
        file: file.to_path_buf(),
        line,
        fields,
    }
}

fn flatten_toml(
    table: &DeTable<'_>,
    prefix: &str,
    lines: &Lines<'_>,
    base: usize,
    out: &mut BTreeMap<String, RawField>,
) {
    for (key, value) in table.iter() {
        let name = format!("{prefix}{}", key.get_ref());
        let line = lines.line(base + value.span().start);
        let raw = match value.get_ref() {
            DeValue::Table(t) => {
                flatten_toml(t, &format!("{name}."), lines, base, out);
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

/// Why a CSV file could not be read, in the current language where the kind is known.
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            crate::tr!("csv-row-length", cells = *len, columns = *expected_len)
        }
        csv::ErrorKind::Utf8 { .. } => crate::tr!("csv-not-utf8"),
        _ => crate::tr!("orderfile-csv-syntax", detail = e.to_string()),
    }
}

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
        .map_err(|e| syntax(1, csv_reason(&e)))?
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
    let mut fields_read = 0;
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            syntax(line, csv_reason(&e))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        fields_read += record.iter().filter(|c| !c.trim().is_empty()).count();
        if fields_read > MAX_FIELDS_PER_FILE {
            return Err(too_many_fields(file, line));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte's line, the file's end included, whatever the file's length against the
    /// marks (an end on a mark's boundary was given the line of the mark before).
    #[test]
    fn every_offset_is_on_the_line_a_rescan_would_count() {
        for len in [
            0,
            1,
            Lines::STEP - 1,
            Lines::STEP,
            Lines::STEP + 1,
            2 * Lines::STEP,
            3 * Lines::STEP + 7,
        ] {
            let text: String = "ab\n".chars().cycle().take(len).collect();
            let lines = Lines::of(&text);
            for offset in 0..=len {
                let counted = text.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count() + 1;
                assert_eq!(lines.line(offset), counted, "offset {offset} of {len}");
            }
        }
    }
}
