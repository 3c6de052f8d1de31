//! The pseudo-locale: the English catalogue with each message wrapped in `⟦…⟧` and its
//! letters swapped for accented look-alikes. Text from the catalogue then reads as
//! "⟦Ňó ţéŕɱíñáĺ⟧", while anything the code wrote itself stays plain ASCII and stands out.
//! Code spans (`posagent devices`) and the values filled in keep their spelling: they are
//! what a user types or data, not prose.

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

/// Opens a message in the pseudo-locale.
pub const OPEN: char = '⟦';
/// Closes a message in the pseudo-locale.
pub const CLOSE: char = '⟧';

/// The pseudo-localised catalogue made from the English one (`source`).
pub fn localise(source: &str) -> String {
    let mut resource = match fluent_syntax::parser::parse(source.to_string()) {
        Ok(r) => r,
        // A broken English catalogue fails its own test; its sound entries still serve.
        Err((partial, _)) => partial,
    };
    for entry in &mut resource.body {
        match entry {
            Entry::Message(m) => {
                if let Some(value) = &mut m.value {
                    accent_pattern(value, &mut false);
                    value.elements.insert(0, text(OPEN.to_string()));
                    value.elements.push(text(CLOSE.to_string()));
                }
            }
            Entry::Term(t) => accent_pattern(&mut t.value, &mut false),
            _ => {}
        }
    }
    fluent_syntax::serializer::serialize(&resource)
}

fn text(value: String) -> PatternElement<String> {
    PatternElement::TextElement { value }
}

/// Accents the pattern's own words; `in_code` carries an open code span from one piece of
/// text to the next (a command with a value filled in: `posagent jobs show { $job }`).
fn accent_pattern(pattern: &mut Pattern<String>, in_code: &mut bool) {
    for element in &mut pattern.elements {
        match element {
            PatternElement::TextElement { value } => *value = accent(value, in_code),
            PatternElement::Placeable { expression } => accent_expression(expression, in_code),
        }
    }
}

fn accent_expression(expression: &mut Expression<String>, in_code: &mut bool) {
    match expression {
        Expression::Select { variants, .. } => {
            let before = *in_code;
            for v in variants {
                *in_code = before;
                accent_pattern(&mut v.value, in_code);
            }
        }
        Expression::Inline(InlineExpression::Placeable { expression }) => accent_expression(expression, in_code),
        Expression::Inline(_) => {}
    }
}

/// `s` with its letters accented, except inside code spans.
fn accent(s: &str, in_code: &mut bool) -> String {
    s.chars()
        .map(|c| {
            if c == '`' {
                *in_code = !*in_code;
            }
            if *in_code { c } else { accented(c) }
        })
        .collect()
}

/// The accented look-alike of an ASCII letter; every other character as it is.
pub fn accented(c: char) -> char {
    const LOWER: [char; 26] = [
        'á', 'ƀ', 'ç', 'ď', 'é', 'ƒ', 'ĝ', 'ĥ', 'í', 'ĵ', 'ķ', 'ĺ', 'ɱ', 'ñ', 'ó', 'þ', 'ǫ', 'ŕ', 'š', 'ţ', 'ú', 'ṽ',
        'ŵ', 'ẋ', 'ý', 'ž',
    ];
    const UPPER: [char; 26] = [
        'Á', 'Ɓ', 'Ç', 'Ď', 'É', 'Ƒ', 'Ĝ', 'Ĥ', 'Í', 'Ĵ', 'Ķ', 'Ĺ', 'Ṁ', 'Ñ', 'Ó', 'Þ', 'Ǫ', 'Ŕ', 'Š', 'Ţ', 'Ú', 'Ṽ',
        'Ŵ', 'Ẋ', 'Ý', 'Ž',
    ];
    match c {
        'a'..='z' => LOWER[c as usize - 'a' as usize],
        'A'..='Z' => UPPER[c as usize - 'A' as usize],
        _ => c,
    }
}
