//! Rendering for people and for scripts, and the exit codes of the contract
//! (docs/architecture.md, "The contract").

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::link::LinkStats;
use crate::terminal::model::Binding;
use crate::tr;

/// Exit codes: the contract with scripts (documented in docs/handbook.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[repr(u8)]
pub enum Exit {
    /// Anything else that went wrong.
    Failure = 1,
    /// The command line was wrong.
    Usage = 2,
    /// Input data (an order, a file, an archive) is invalid or missing.
    DataErr = 65,
    /// A terminal or the provider is unavailable.
    Unavailable = 69,
    /// Refused for lack of permission: wrong operator secret, terminal locked out.
    NoPerm = 77,
    /// Stopped by Ctrl-C or a termination signal at a safe point (128 + SIGINT).
    Interrupted = 130,
}

impl Exit {
    /// The machine code of an error that has no more precise one.
    fn code(self) -> &'static str {
        match self {
            Exit::Failure => "failure",
            Exit::Usage => "usage",
            Exit::DataErr => "invalid_data",
            Exit::Unavailable => "unavailable",
            Exit::NoPerm => "not_permitted",
            Exit::Interrupted => "interrupted",
        }
    }
}

/// An error as the user sees it: what went wrong, what to do next, and the exit code.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    /// A stable machine code for scripts (`cooldown_active`), the same in every language.
    pub code: String,
    /// What went wrong, in the user's language.
    pub message: String,
    pub help: Option<String>,
    /// Already reported on stdout (e.g. `order check` listed the problems).
    pub reported: bool,
}

impl CliError {
    /// An error with a message.
    pub fn new(exit: Exit, message: impl Into<String>) -> CliError {
        CliError {
            exit,
            code: exit.code().to_string(),
            message: message.into(),
            help: None,
            reported: false,
        }
    }

    /// Sets the machine code.
    pub fn code(mut self, code: impl Into<String>) -> CliError {
        self.code = code.into();
        self
    }

    /// Adds what the user should do next.
    pub fn help(mut self, help: impl Into<String>) -> CliError {
        self.help = Some(help.into());
        self
    }

    /// A failure whose details the command already printed.
    pub fn silent(exit: Exit) -> CliError {
        CliError {
            exit,
            code: exit.code().to_string(),
            message: String::new(),
            help: None,
            reported: true,
        }
    }
}

/// Writes one JSON value as one line on stdout and flushes it, whole: lines written from
/// parallel jobs or a long-running process never interleave and are seen at once.
pub fn json_line(value: &serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}

/// Where results go: text for people, one JSON document for scripts.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    /// `-q`: no step lines, bars or notes on stderr; results and errors only.
    pub quiet: bool,
}

impl Output {
    pub fn new(json: bool, quiet: bool) -> Output {
        Output { json, quiet }
    }

    /// Whether to tell the person watching what is happening (step lines, progress bars,
    /// which terminal was found) on stderr: not under `--json` or `-q`.
    pub fn narrates(&self) -> bool {
        !self.json && !self.quiet
    }

    /// Prints a result: `human` as text, or `data` as one JSON document.
    pub fn print(&self, human: &str, data: &impl Serialize) {
        let mut stdout = std::io::stdout().lock();
        let text = if self.json {
            serde_json::to_string_pretty(data).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        } else {
            human.to_string()
        };
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = writeln!(stdout, "{text}");
    }

    /// Reports an error and turns it into the process exit code.
    pub fn error(&self, e: &CliError) -> ExitCode {
        if !e.reported {
            if self.json {
                let doc = serde_json::json!({
                    "ok": false,
                    "exit_code": e.exit as u8,
                    "code": e.code,
                    "error": e.message,
                    "help": e.help,
                });
                json_line(&doc);
            } else {
                eprintln!("{}", tr!("error-line", message = e.message.as_str()));
                if let Some(h) = &e.help {
                    eprintln!("  {}", tr!("help-line", help = h.as_str()));
                }
            }
        }
        ExitCode::from(e.exit as u8)
    }
}

/// `text` padded with spaces to `width` terminal columns (a CJK character takes two).
pub fn pad(text: &str, width: usize) -> String {
    console::pad_str(text, width, console::Alignment::Left, None).into_owned()
}

/// One change a job or a restore would make: `label  from  →  to`, numbers masked.
pub fn change_line(d: &crate::terminal::model::Difference) -> String {
    format!("{} {}  →  {}", pad(&d.label(), 14), d.shown_from(), d.shown_to())
}

/// `label` padded to `width` columns (the column where values start), then `value`; a
/// label as wide as that or wider keeps one space before its value.
pub fn labelled(label: &str, value: &str, width: usize) -> String {
    let width = width.max(console::measure_text_width(label) + 1);
    format!("{}{value}", pad(label, width))
}

/// A text table whose columns line up on a terminal in any language, and fits its width:
/// the widest column that may be cut loses columns until the table fits, and its longer
/// cells end in `…` (`--json` keeps every value whole).
pub struct Table<const N: usize> {
    widths: [usize; N],
    rows: Vec<[String; N]>,
    /// Columns never cut (ids a command takes back, serials).
    whole: [bool; N],
}

/// The narrowest a cut column gets.
const LEAST_CUT: usize = 8;

/// Columns of the screen the tables fit: the terminal's width when standard output is
/// one, else 80.
pub fn screen_columns() -> usize {
    columns_of(&console::Term::stdout())
}

/// The width of `term` when it is a terminal, else 80.
pub fn columns_of(term: &console::Term) -> usize {
    if term.is_term() {
        usize::from(term.size().1).max(40)
    } else {
        80
    }
}

/// `text` as an indented note of at most `columns` display columns, its later lines under
/// its first; broken between words, or between characters in Chinese.
pub fn wrap_note(indent: &str, text: &str, columns: usize) -> String {
    let options = textwrap::Options::new(columns)
        .initial_indent(indent)
        .subsequent_indent(indent);
    textwrap::fill(text, options)
}

/// `head` then `items` (parts joined by ` · `), as lines of at most `columns` display
/// columns: a part that does not fit goes on the next line, under the first, and one too
/// long for any line is broken after a space, `-` or `/` where it can be (a file name at
/// one of its dashes), else at the edge; nothing is cut.
pub fn wrap_items(head: &str, items: &str, columns: usize) -> String {
    let indent = console::measure_text_width(head);
    let mut out = head.to_string();
    let mut used = indent;
    let newline = |out: &mut String, used: &mut usize| {
        out.push('\n');
        out.push_str(&" ".repeat(indent));
        *used = indent;
    };
    for (i, part) in items.split(" · ").enumerate() {
        let (sep, w) = (if i == 0 { "" } else { " · " }, console::measure_text_width(part));
        let sep_w = console::measure_text_width(sep);
        if i > 0 && used + sep_w + w > columns {
            out.push_str(" ·");
            newline(&mut out, &mut used);
        } else {
            out.push_str(sep);
            used += sep_w;
        }
        // Pieces that end where a line may break; each goes where it fits.
        for piece in part.split_inclusive([' ', '-', '/']) {
            let pw = console::measure_text_width(piece);
            if used + pw > columns && used > indent {
                newline(&mut out, &mut used);
            }
            // A piece wider than a whole line goes on a character at a time.
            for c in piece.chars() {
                let cw = console::measure_text_width(c.encode_utf8(&mut [0; 4]));
                if used + cw > columns && used > indent {
                    newline(&mut out, &mut used);
                }
                out.push(c);
                used += cw;
            }
        }
    }
    out.lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
}

impl<const N: usize> Table<N> {
    /// A table with these headers and minimum column widths.
    pub fn new(columns: [(String, usize); N]) -> Table<N> {
        let widths = columns.each_ref().map(|(_, w)| *w);
        let header = columns.map(|(h, _)| h);
        Table {
            widths,
            rows: vec![header],
            whole: [false; N],
        }
    }

    /// Column `i` is never cut.
    pub fn whole(mut self, i: usize) -> Table<N> {
        self.whole[i] = true;
        self
    }

    pub fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }

    /// The table as lines within the screen's width ([`screen_columns`]).
    pub fn render(&self) -> String {
        self.render_within(screen_columns())
    }

    /// The table as lines of at most `columns` display columns where it can be: each
    /// column as wide as its widest cell, then the widest that may be cut narrowed, one
    /// column at a time, down to [`LEAST_CUT`].
    pub fn render_within(&self, columns: usize) -> String {
        let mut widths = self.widths;
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(console::measure_text_width(cell));
            }
        }
        let total = |w: &[usize; N]| w.iter().sum::<usize>() + 2 * N.saturating_sub(1);
        while total(&widths) > columns {
            let widest = (0..N)
                .filter(|&i| !self.whole[i] && widths[i] > LEAST_CUT)
                .max_by_key(|&i| widths[i]);
            match widest {
                Some(i) => widths[i] -= 1,
                None => break,
            }
        }
        self.rows
            .iter()
            .map(|row| {
                let cells: Vec<String> = row
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| pad(&console::truncate_str(c, w, "…"), w))
                    .collect();
                cells.join("  ").trim_end().to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The shortest prefixes, at least 8 characters, that tell `ids` apart (as `jobs show` and
/// `queue show` take them), in the same order.
pub fn short_ids(ids: &[&str]) -> Vec<String> {
    let mut sorted: Vec<&str> = ids.to_vec();
    sorted.sort_unstable();
    // An id's shortest unique prefix is one longer than what it shares with a neighbour.
    let shared = |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    ids.iter()
        .map(|id| {
            let at = sorted.partition_point(|s| s < id);
            let before = at.checked_sub(1).map_or(0, |i| shared(sorted[i], id));
            let after = sorted.get(at + 1).map_or(0, |s| shared(s, id));
            let len = (before.max(after) + 1).max(8);
            id.chars().take(len).collect()
        })
        .collect()
}

/// Human lines for a binding, numbers masked.
pub fn describe_binding(b: &Binding) -> String {
    let mut lines = vec![field(tr!("field-status"), b.status.label())];
    if let (Some(mid), Some(tid)) = (&b.mid, &b.tid) {
        lines.push(field(tr!("diff-mid"), format!("{mid}    {} {tid}", tr!("diff-tid"))));
    }
    if let Some(n) = &b.merchant_name {
        lines.push(field(tr!("field-merchant"), n.to_string()));
    }
    if let Some(c) = &b.card {
        let expiry = c
            .expiry
            .as_deref()
            .map_or_else(|| "-".to_string(), crate::terminal::model::expiry_shown);
        lines.push(field(
            tr!("field-card"),
            tr!(
                "card-line",
                pan = c.pan.to_string(),
                holder = c.holder.to_string(),
                expiry = expiry.as_str()
            ),
        ));
    }
    if let Some(a) = &b.account {
        lines.push(field(
            tr!("field-account"),
            format!("{}  {}  {} ({})", a.number, a.holder, a.bank, a.branch),
        ));
    }
    if let Some(p) = &b.phone {
        lines.push(field(tr!("field-phone"), p.to_string()));
    }
    lines.join("\n")
}

/// `label` padded to the column where this command's values start, then `value`.
pub fn field(label: String, value: String) -> String {
    labelled(&label, &value, 10)
}

/// Human line for link counters.
pub fn describe_link(l: &LinkStats) -> String {
    field(
        tr!("field-link"),
        tr!(
            "link-line",
            out = l.wire_bytes_out,
            in = l.wire_bytes_in,
            frames = l.frames_out + l.frames_in,
            retransmissions = l.retransmissions,
            reconnects = l.reconnects,
            seconds = format!("{:.2}", l.elapsed_seconds)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long Chinese note keeps every character, each line within the width and under
    /// the first.
    #[test]
    fn a_note_wraps_within_the_width_in_chinese() {
        let note =
            "/dev/ttyS0 上没有终端：尝试 7 次后终端仍未应答 HELLO，请检查数据线和串口名，然后再试一次，或者换一根线";
        let shown = wrap_note("  ", note, 40);
        assert!(shown.lines().count() > 1, "{shown}");
        for line in shown.lines() {
            assert!(console::measure_text_width(line) <= 40, "{line}");
            assert!(line.starts_with("  "), "{line}");
        }
        let joined: String = shown.lines().map(str::trim).collect::<Vec<_>>().join("");
        assert_eq!(joined.replace(' ', ""), note.replace(' ', ""));
    }

    /// Where each cell of a rendered line starts, in terminal columns.
    fn column_starts(line: &str, cells: &[&str]) -> Vec<usize> {
        cells
            .iter()
            .map(|c| console::measure_text_width(&line[..line.find(c).expect("cell on the line")]))
            .collect()
    }

    #[test]
    fn a_table_too_wide_is_cut_in_its_widest_column_to_fit() {
        let mut t = Table::new([
            ("作业编号".to_string(), 0),
            ("商户".to_string(), 0),
            ("状态".to_string(), 0),
        ])
        .whole(0);
        let name = "上海市浦东新区张江高科技园区某某某某餐饮管理有限公司第一分店";
        t.row(["0123456789abcdef".into(), name.into(), "已完成".into()]);
        let text = t.render_within(40);
        for line in text.lines() {
            assert!(console::measure_text_width(line) <= 40, "{line}");
        }
        assert!(text.contains("0123456789abcdef"), "the id whole: {text}");
        assert!(text.contains('…') && text.contains("上海市"), "the name cut: {text}");
        assert!(text.contains("已完成"), "{text}");
        // Wide enough: nothing is cut.
        assert!(!t.render_within(200).contains('…'));
    }

    #[test]
    fn a_long_step_line_wraps_under_its_first_value_and_loses_nothing() {
        let head = "  [ok  ]  8/14 复制数据           ";
        let items = "文件 SIM-D3301861-01a24628-f289-76c1-b825-1861909929fa.zip · SHA-256 737e59a529c2… · 交易笔数 20000 · 记录数 20000 · 交易记录字节数 1820000";
        let text = wrap_items(head, items, 80);
        for line in text.lines() {
            assert!(console::measure_text_width(line) <= 80, "{line}");
        }
        let indent = console::measure_text_width(head);
        assert!(
            text.lines()
                .skip(1)
                .all(|l| console::measure_text_width(&l[..l.len() - l.trim_start().len()]) == indent)
        );
        // Every part is there, line breaks and indents aside.
        let bare = |t: &str| t.split_whitespace().collect::<String>();
        for part in items.split(" · ") {
            assert!(bare(&text).contains(&bare(part)), "{part} lost: {text}");
        }
        // The file name is broken at one of its dashes, not inside a group of its id.
        let name = text.lines().find(|l| l.contains("SIM-")).unwrap();
        assert!(name.trim_end().ends_with('-'), "{text}");
    }

    #[test]
    fn short_ids_are_the_shortest_unique_prefixes_of_eight_or_more() {
        let ids = [
            "01a2463f-4827-701f",
            "01a2463f-475f-7130",
            "abcdef0123",
            "01a2463f-4827-7aaa",
        ];
        let short = short_ids(&ids);
        assert_eq!(
            short,
            ["01a2463f-4827-70", "01a2463f-47", "abcdef01", "01a2463f-4827-7a"]
        );
    }

    #[test]
    fn columns_line_up_when_a_header_is_chinese() {
        let mut t = Table::new([
            ("作业编号".to_string(), 0),
            ("状态".to_string(), 0),
            ("备注".to_string(), 0),
        ]);
        t.row(["J-1".into(), "done".into(), "ok".into()]);
        t.row(["J-22222222".into(), "已完成".into(), "x".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        let header = column_starts(lines[0], &["作业编号", "状态", "备注"]);
        assert_eq!(column_starts(lines[1], &["J-1", "done", "ok"]), header, "{text}");
        assert_eq!(
            column_starts(lines[2], &["J-22222222", "已完成", "x"]),
            header,
            "{text}"
        );
        // A CJK character takes two columns: the widest first cell is the 10-column id.
        assert_eq!(header[1], 12, "{text}");
    }
}
