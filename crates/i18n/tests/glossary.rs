//! The catalogues and the handbooks follow docs/glossary.md: each concept's word is used,
//! in English and in Chinese, and none of the variants the glossary rules out.

use std::path::PathBuf;

fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The glossary's rows: (English, Chinese, the Chinese variants not to use).
fn terms() -> Vec<(String, String, Vec<String>)> {
    let text = read("docs/glossary.md");
    let rows: Vec<(String, String, Vec<String>)> = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| concept"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 4, "a glossary row of four cells: {l}");
            let not = cells[3]
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
                .collect();
            (cells[1].to_string(), cells[2].to_string(), not)
        })
        .collect();
    assert!(rows.len() >= 15, "the glossary's table: {} rows", rows.len());
    rows
}

#[test]
fn every_concept_has_its_word_in_the_program_or_the_handbook() {
    let en = read("crates/i18n/locales/en.ftl") + &read("docs/handbook.md");
    let zh = read("crates/i18n/locales/zh-CN.ftl") + &read("docs/handbook.zh-CN.md");
    let en = en.to_lowercase();
    for (english, chinese, _) in terms() {
        assert!(
            en.contains(&english.to_lowercase()),
            "'{english}' is in neither en.ftl nor handbook.md"
        );
        assert!(
            zh.contains(&chinese),
            "'{chinese}' is in neither zh-CN.ftl nor handbook.zh-CN.md"
        );
    }
}

#[test]
fn no_variant_the_glossary_rules_out_is_used() {
    for file in ["crates/i18n/locales/zh-CN.ftl", "docs/handbook.zh-CN.md"] {
        let text = read(file);
        for (_, chinese, not) in terms() {
            for variant in not {
                let lines: Vec<String> = text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| l.contains(&variant))
                    .map(|(n, l)| format!("{file}:{}: {l}", n + 1))
                    .collect();
                assert!(
                    lines.is_empty(),
                    "'{variant}' where the glossary says '{chinese}':\n{}",
                    lines.join("\n")
                );
            }
        }
    }
}
