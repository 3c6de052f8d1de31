//! The catalogues are complete: the same keys in both languages, the same placeholders in
//! each message, and every key the code asks for present.

use std::collections::{BTreeMap, BTreeSet};

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::{CATALOGUES, Lang, text_in};

/// Each message of a catalogue with the variables it uses.
fn messages(lang: Lang, source: &str) -> BTreeMap<String, BTreeSet<String>> {
    let resource = fluent_syntax::parser::parse(source)
        .unwrap_or_else(|(_, errors)| panic!("{} catalogue does not parse: {errors:?}", lang.tag()));
    let mut out = BTreeMap::new();
    for entry in resource.body {
        match entry {
            Entry::Message(m) => {
                let mut vars = BTreeSet::new();
                if let Some(p) = &m.value {
                    pattern_vars(p, &mut vars);
                }
                assert!(
                    out.insert(m.id.name.to_string(), vars).is_none(),
                    "{}: {} defined twice",
                    lang.tag(),
                    m.id.name
                );
            }
            Entry::Junk { content } => panic!("{} catalogue has junk: {content}", lang.tag()),
            _ => {}
        }
    }
    out
}

fn pattern_vars(p: &Pattern<&str>, vars: &mut BTreeSet<String>) {
    for element in &p.elements {
        if let PatternElement::Placeable { expression } = element {
            expression_vars(expression, vars);
        }
    }
}

fn expression_vars(e: &Expression<&str>, vars: &mut BTreeSet<String>) {
    match e {
        Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for v in variants {
                pattern_vars(&v.value, vars);
            }
        }
        Expression::Inline(i) => inline_vars(i, vars),
    }
}

fn inline_vars(i: &InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match i {
        InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_string());
        }
        InlineExpression::Placeable { expression } => expression_vars(expression, vars),
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, vars);
            }
        }
        _ => {}
    }
}

#[test]
fn catalogues_parse_and_match() {
    let [(en_lang, en_src), (zh_lang, zh_src)] = CATALOGUES;
    let en = messages(en_lang, en_src);
    let zh = messages(zh_lang, zh_src);
    let only_en: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
    let only_zh: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
    assert!(only_en.is_empty(), "missing from zh-CN.ftl: {only_en:?}");
    assert!(only_zh.is_empty(), "missing from en.ftl: {only_zh:?}");
    let differ: Vec<_> = en.iter().filter(|(k, vars)| zh[*k] != **vars).map(|(k, _)| k).collect();
    assert!(
        differ.is_empty(),
        "placeholders differ between en and zh-CN in: {differ:?}"
    );
    assert!(en.len() > 100, "the catalogues hold {} messages", en.len());
}

/// Every `tr!("key"` and `text_in(…, "key"` in the sources names a message that exists.
#[test]
fn every_key_the_code_uses_exists() {
    let en = messages(Lang::En, CATALOGUES[0].1);
    // Every crate of the workspace (this one only defines the macro).
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut missing = Vec::new();
    let mut used = 0;
    for pattern in ["crates/*/src/**/*.rs", "agent/src/**/*.rs"] {
        for file in glob::glob(&format!("{root}/{pattern}")).expect("glob pattern") {
            let file = file.expect("readable source directory");
            if file.strip_prefix(root).is_ok_and(|f| f.starts_with("crates/i18n")) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("readable source file");
            for key in keys_used(&text) {
                used += 1;
                if !en.contains_key(key) {
                    missing.push(format!("{}: {key}", file.display()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "keys used but not in the catalogues: {missing:#?}");
    assert!(used > 100, "found only {used} uses of tr!");
}

/// The catalogue keys a source file names: the literal after each `tr!(` (not after
/// `include_str!(`), and every literal that starts `rule-`, `hint-`, `len-`, `check-`,
/// `step-`, `receipt-` or `io-` (keys named as values: field rules, hints, lengths and check
/// names of `DomainError`, step names, the receipt's labels, kinds of I/O failure).
fn keys_used(text: &str) -> Vec<&str> {
    let mut keys = Vec::new();
    for pattern in [
        "tr!(\"",
        "\"rule-",
        "\"hint-",
        "\"len-",
        "\"check-",
        "\"step-",
        "\"receipt-",
        "\"io-",
    ] {
        // The literal starts after the pattern's quote.
        let quote = pattern.find('"').unwrap_or_default();
        let mut from = 0;
        while let Some(at) = text[from..].find(pattern) {
            let start = from + at;
            from = start + quote + 1;
            let before = text[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(end) = text[from..].find('"') {
                keys.push(&text[from..from + end]);
            }
        }
    }
    keys
}

#[test]
fn the_language_follows_the_locale() {
    for (locale, lang) in [
        ("zh_CN.UTF-8", Lang::ZhCn),
        ("zh_SG.GB2312", Lang::ZhCn),
        ("zh-Hans", Lang::ZhCn),
        ("zh_TW.UTF-8", Lang::En),
        ("en_US.UTF-8", Lang::En),
        ("C", Lang::En),
        ("de_DE@euro", Lang::En),
    ] {
        assert_eq!(Lang::from_locale(locale), lang, "{locale}");
    }
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    };
    assert_eq!(Lang::from_env_locale(env(&[("LANG", "zh_CN.UTF-8")])), Lang::ZhCn);
    assert_eq!(
        Lang::from_env_locale(env(&[("LC_ALL", "C"), ("LANG", "zh_CN.UTF-8")])),
        Lang::En
    );
    assert_eq!(
        Lang::from_env_locale(env(&[("LC_ALL", ""), ("LC_MESSAGES", "zh_CN.UTF-8")])),
        Lang::ZhCn
    );
    assert_eq!(Lang::from_env_locale(env(&[])), Lang::En);
    assert_eq!(Lang::parse("zh_cn"), Some(Lang::ZhCn));
    assert_eq!(Lang::parse("EN"), Some(Lang::En));
    assert_eq!(Lang::parse("fr"), None);
}

#[test]
fn messages_are_filled_in_each_language() {
    let mut args = super::FluentArgs::new();
    args.set("job", "J-1");
    let en = text_in(Lang::En, "job-not-found", Some(&args));
    let zh = text_in(Lang::ZhCn, "job-not-found", Some(&args));
    assert!(en.contains("J-1") && en.contains("not found"), "{en}");
    assert!(zh.contains("J-1") && zh.contains("未找到"), "{zh}");
    // Continuation lines keep their indent.
    let mut args = super::FluentArgs::new();
    args.set("reason", "r");
    args.set("job", "J-1");
    let text = text_in(Lang::En, "outcome-receipt-failed", Some(&args));
    assert!(text.contains("\n  `posagent jobs receipt J-1"), "{text:?}");
}

/// The pseudo-locale is the English catalogue, each message wrapped and accented, values and
/// code spans as they are.
#[test]
fn pseudo_locale_wraps_and_accents_every_message() {
    let mut args = crate::FluentArgs::new();
    args.set("job", "J7QX");
    let en = text_in(Lang::En, "help-order-already-done", Some(&args));
    let qps = text_in(Lang::Qps, "help-order-already-done", Some(&args));
    assert!(qps.starts_with('⟦') && qps.ends_with('⟧'), "{qps}");
    assert!(qps.contains("`posagent jobs show J7QX`"), "{qps}");
    assert!(!qps.contains("order"), "{qps}");
    assert_eq!(qps.chars().count(), en.chars().count() + 2);
    let [(en_lang, en_src), _] = CATALOGUES;
    for key in messages(en_lang, en_src).keys() {
        let qps = text_in(Lang::Qps, key, None);
        assert!(qps.starts_with('⟦') && qps.ends_with('⟧'), "{key}: {qps}");
    }
    assert_eq!(Lang::parse("qps"), Some(Lang::Qps));
}
