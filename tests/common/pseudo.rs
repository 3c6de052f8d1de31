//! Reading output in the pseudo-locale (`--lang qps`): every catalogue message arrives
//! wrapped in `⟦…⟧` with its letters accented, so a plain ASCII word is one the code wrote
//! itself. What may stay plain: data (numbers, identifiers, names the test gave, the
//! terminal's identity), commands in code spans, paths, options and unit symbols.

use std::path::Path;

/// Words that are neither prose nor data but symbols every language writes alike.
const SYMBOLS: [&str; 9] = ["posagent", "B", "KiB", "MiB", "GiB", "TiB", "PIN", "UTC", "http"];

/// The plain words in `text` that did not come from the catalogue, each with its line;
/// `data` lists the strings the test put in (names, serials, ids), which may stay as they
/// are.
pub fn untranslated(text: &str, data: &[String]) -> Vec<String> {
    let mut data: Vec<&str> = data.iter().map(String::as_str).filter(|d| !d.is_empty()).collect();
    // The longest first, so that a name is not cut up by a shorter one inside it.
    data.sort_by_key(|d| std::cmp::Reverse(d.len()));
    let mut found = Vec::new();
    let mut before = "";
    for line in text.lines() {
        let mut plain = line.to_string();
        for d in &data {
            plain = without_word(&plain, d);
        }
        let plain = without_syntax(&without_code_spans(&plain));
        for token in plain.split(|c: char| !is_token_char(c)) {
            let token = token.trim_end_matches(['.', ':', '-', '+', '#', '%']);
            if is_data(token) {
                continue;
            }
            found.push(format!("{token:?} in: {} (after: {})", line.trim(), before.trim()));
        }
        before = line;
    }
    found
}

/// What a command or page showed, and the data it may show as it is.
pub struct Seen {
    /// The command line or page.
    pub what: String,
    pub text: String,
    /// What the user typed into it (echoed back in errors), with the test's data.
    pub data: Vec<String>,
}

/// Fails the test with every error in `seen` that does not say what to do next (its
/// `help:` line), as the handbook promises.
pub fn assert_every_error_has_help(seen: &[Seen]) {
    let error = accented_prefix("error:");
    let help = accented_prefix("help:");
    let bare: Vec<String> = seen
        .iter()
        .filter(|s| s.text.contains(&error) && !s.text.contains(&help))
        .map(|s| format!("{}\n{}", s.what, s.text))
        .collect();
    assert!(bare.is_empty(), "errors without a next step: {bare:#?}");
}

/// `word` as the pseudo-locale opens a message with it: `⟦éŕŕóŕ:`.
fn accented_prefix(word: &str) -> String {
    std::iter::once('⟦')
        .chain(word.chars().map(posagent::i18n::accented))
        .collect()
}

/// Fails the test with every untranslated word of everything `seen`; `data` may appear
/// in any of it.
pub fn assert_translated(seen: &[Seen], data: &[String]) {
    let mut problems = Vec::new();
    for s in seen {
        let all: Vec<String> = data.iter().chain(&s.data).cloned().collect();
        for p in untranslated(&s.text, &all) {
            problems.push(format!("{}: {p}", s.what));
        }
    }
    assert!(
        problems.is_empty(),
        "{} untranslated word(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// `line` with each whole-word occurrence of `word` blanked (not inside a longer token: a
/// data value `config` leaves `/home/config.toml` alone).
fn without_word(line: &str, word: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back().or_else(|| out.chars().next_back());
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        let edge = |c: Option<char>| c.is_none_or(|c| !is_token_char(c));
        if edge(before) && edge(after) {
            out.push(' ');
        } else {
            out.push_str(word);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '\\' | '-' | '+' | '@' | '#' | '~' | '%')
}

/// Numbers, identifiers with digits, paths, options, names with underscores (variables,
/// configuration keys), single letters and symbols.
fn is_data(token: &str) -> bool {
    token.chars().filter(char::is_ascii_alphabetic).count() < 2
        || token.chars().any(|c| c.is_ascii_digit())
        || token.contains(['/', '\\', '_'])
        || token.starts_with('-')
        || SYMBOLS.contains(&token)
}

/// `line` without command syntax: placeholders (`<FILE>`, `[OPTIONS]`), the command words
/// after `posagent`, and the command names a help page lists in its first column.
fn without_syntax(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    // `[OPTIONS]` in a usage line; elsewhere brackets hold words (`[FAIL]`), checked.
    let usage = line.contains("posagent ");
    let opens: &[char] = if usage { &['<', '['] } else { &['<'] };
    while let Some(open) = rest.find(opens) {
        out.push_str(&rest[..open]);
        let close = if rest[open..].starts_with('<') { '>' } else { ']' };
        match rest[open..].find(close) {
            Some(end) if is_placeholder(&rest[open + 1..open + end]) => {
                out.push(' ');
                rest = &rest[open + end + 1..];
            }
            _ => {
                out.push_str(&rest[open..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    let mut words: Vec<&str> = out.split(' ').collect();
    // A help page's command list: "  name   ⟦description⟧".
    let listed = line.starts_with("  ")
        && words
            .iter()
            .filter(|w| !w.is_empty())
            .nth(1)
            .is_some_and(|w| w.starts_with('⟦'));
    let mut command = false;
    for w in &mut words {
        let is_word = !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        if *w == "posagent" {
            command = true;
        } else if command && is_word {
            *w = "";
        } else if !w.is_empty() {
            command = false;
        }
    }
    if listed && let Some(first) = words.iter_mut().find(|w| !w.is_empty()) {
        *first = "";
    }
    words.join(" ")
}

/// Whether `inner` (between `<>` or `[]`) names a value to type: `FILE`, `OPTIONS`, `ID`…
fn is_placeholder(inner: &str) -> bool {
    // Names in capitals, perhaps with a file extension, perhaps alternatives: `FILE`,
    // `FILE.zip`, `ADDR:PORT`, `FILE.html|FILE.pdf`.
    inner.trim_end_matches("...").split('|').all(|name| {
        let (stem, ext) = name.split_once('.').unwrap_or((name, ""));
        !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | ':'))
            && ext.chars().all(|c| c.is_ascii_lowercase())
    })
}

/// `line` with its `code spans` blanked out: commands a user types read the same in every
/// language.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut code = false;
    for c in line.chars() {
        if c == '`' {
            code = !code;
            out.push(' ');
        } else {
            out.push(if code { ' ' } else { c });
        }
    }
    out
}

/// The visible text of an HTML page: its tags, scripts and styles removed, entities of
/// the few kinds the pages use decoded, one line per block.
pub fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let skip_to = ["script", "style"]
            .iter()
            .find(|name| tag[1..].starts_with(**name))
            .and_then(|name| tag.find(&format!("</{name}>")).map(|end| end + name.len() + 3));
        let end = skip_to.unwrap_or_else(|| tag.find('>').map_or(tag.len(), |e| e + 1));
        // Attributes a person reads: placeholders, titles, alternative texts, button values.
        for attribute in ["placeholder=\"", "title=\"", "alt=\"", "aria-label=\""] {
            if let Some(at) = tag[..end].find(attribute) {
                let value = &tag[at + attribute.len()..end];
                out.push('\n');
                out.push_str(value.split('"').next().unwrap_or_default());
            }
        }
        out.push('\n');
        rest = &tag[end..];
    }
    out.push_str(rest);
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
}

/// The text a path is shown as, for the data list.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}
