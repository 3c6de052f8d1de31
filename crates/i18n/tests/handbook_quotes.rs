//! The handbooks quote the program's words: every message a handbook shows in bold quotes
//! (`**"…"**`, `**“…”**`) is made of the catalogue's own text. Placeholders the handbook
//! writes for values (`…`, N, X, Y, STEP, JOB, PORT, 作业编号) and commands in backticks
//! are left out; what remains must be covered by pieces of the catalogue's messages (their
//! text between placeables), each piece long enough to mean something.

use std::path::PathBuf;

fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every message's text between its placeables (`{ $x }`, `{"  "}`), one piece each.
fn pieces(catalogue: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in catalogue.lines() {
        let value = match line.split_once(" = ") {
            Some((key, v)) if !key.starts_with(' ') && !key.starts_with('#') => v,
            _ if line.starts_with("    ") => line.trim(),
            _ => continue,
        };
        let mut depth = 0;
        let mut piece = String::new();
        for c in value.chars() {
            match c {
                '{' => {
                    depth += 1;
                    out.push(std::mem::take(&mut piece));
                }
                '}' => depth -= 1,
                c if depth == 0 => piece.push(c),
                _ => {}
            }
        }
        out.push(piece);
    }
    out.into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The bold quotes of a handbook, with the line each is on.
fn quotes(handbook: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in handbook.lines().enumerate() {
        for (open, close) in [("**\"", "\"**"), ("**“", "”**")] {
            let mut rest = line;
            while let Some(i) = rest.find(open) {
                let after = &rest[i + open.len()..];
                let Some(j) = after.find(close) else { break };
                out.push((n + 1, after[..j].to_string()));
                rest = &after[j + close.len()..];
            }
        }
    }
    out
}

/// The parts of a quote that are the program's text: split at the handbook's placeholders,
/// at identifiers (snake_case), at commands in backticks and, where `latin_is_value` (the
/// Chinese handbook), at every run of Latin letters and digits (a serial, a port, a
/// profile's name).
fn fragments(quote: &str, latin_is_value: bool) -> Vec<String> {
    const PLACEHOLDERS: [&str; 7] = ["N", "X", "Y", "STEP", "JOB", "PORT", "作业编号"];
    let mut text = String::new();
    let mut in_code = false;
    let mut word = String::new();
    let flush = |word: &mut String, text: &mut String| {
        // A snake_case word is an identifier (a step, a code), shown as it is.
        let value = PLACEHOLDERS.contains(&word.as_str()) || word.contains('_') || latin_is_value;
        if value {
            text.push('\u{0}');
        } else {
            text.push_str(word);
        }
        word.clear();
    };
    for c in quote.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '/' || (latin_is_value && c == '.') {
            word.push(c);
            continue;
        }
        if in_code {
            word.clear();
        } else if !word.is_empty() {
            flush(&mut word, &mut text);
        }
        match c {
            '`' => {
                in_code = !in_code;
                text.push('\u{0}');
            }
            '…' | '“' | '”' | '"' => text.push('\u{0}'),
            _ if in_code => {}
            c => text.push(c),
        }
    }
    if !word.is_empty() && !in_code {
        flush(&mut word, &mut text);
    }
    text.replace("作业编号", "\u{0}")
        .split('\u{0}')
        .map(|f| {
            f.trim_matches(|c: char| c.is_whitespace() || "：:；;。.，,、()（）".contains(c))
                .to_string()
        })
        .filter(|f| !f.is_empty())
        .collect()
}

/// Whether `fragment` is covered, left to right, by substrings of `pieces`, each at least
/// `least` characters (or a whole piece).
fn covered(fragment: &str, pieces: &[String], least: usize) -> bool {
    if pieces.iter().any(|p| p.contains(fragment)) {
        return true;
    }
    let chars: Vec<char> = fragment.chars().collect();
    let mut at = 0;
    while at < chars.len() {
        let longest = (at + 1..=chars.len()).rev().find(|&end| {
            let s: String = chars[at..end].iter().collect();
            pieces
                .iter()
                .any(|p| p.contains(&s) && (s.chars().count() >= least || *p == s))
        });
        match longest {
            Some(end) => at = end,
            None => return false,
        }
    }
    true
}

fn check(handbook: &str, catalogue: &str, least: usize, latin_is_value: bool) {
    let pieces = pieces(&read(catalogue));
    let quotes = quotes(&read(handbook));
    assert!(quotes.len() >= 8, "{handbook}: {} quotes found", quotes.len());
    let mut wrong = Vec::new();
    for (line, quote) in quotes {
        for f in fragments(&quote, latin_is_value) {
            if !covered(&f, &pieces, least) {
                wrong.push(format!("{handbook}:{line}: \"{f}\" (in \"{quote}\")"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "quoted, but not the program's words:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_english_handbook_quotes_the_program() {
    check("docs/handbook.md", "crates/i18n/locales/en.ftl", 12, false);
}

#[test]
fn the_chinese_handbook_quotes_the_program() {
    check("docs/handbook.zh-CN.md", "crates/i18n/locales/zh-CN.ftl", 4, true);
}
