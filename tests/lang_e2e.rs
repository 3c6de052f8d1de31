//! Chinese first: the language follows `--lang`, `POSAGENT_LANG` and the locale, for errors,
//! step lines, summaries and help; JSON keeps the same machine codes in every language.

mod common;

use common::jobs::*;
use common::{fixtures, json_of, posagent};

/// `posagent ARGS` in `home` with the locale `lang` (as `LANG`).
fn under_locale(home: &std::path::Path, lang: &str, args: &[&str]) -> std::process::Output {
    posagent(home).env("LANG", lang).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn errors_follow_the_locale_and_the_flag_wins() {
    let home = tempfile::tempdir().unwrap();
    let zh = under_locale(home.path(), "zh_CN.UTF-8", &["jobs", "show", "NOPE"]);
    assert_eq!(zh.status.code(), Some(65));
    let err = text(&zh.stderr);
    assert!(err.contains("错误：") && err.contains("未找到作业 NOPE"), "{err}");
    assert!(!err.contains("error:"), "{err}");

    let en = under_locale(home.path(), "zh_CN.UTF-8", &["--lang", "en", "jobs", "show", "NOPE"]);
    assert_eq!(en.status.code(), Some(65));
    assert!(
        text(&en.stderr).contains("error: job NOPE not found"),
        "{}",
        text(&en.stderr)
    );

    // POSAGENT_LANG speaks for a machine whose locale is English.
    let env = posagent(home.path())
        .env("POSAGENT_LANG", "zh-CN")
        .args(["jobs", "show", "NOPE"])
        .output()
        .unwrap();
    assert!(text(&env.stderr).contains("未找到作业"), "{}", text(&env.stderr));

    // A language posagent does not speak is a usage error naming it, not a silent default.
    let bad = posagent(home.path())
        .env("POSAGENT_LANG", "tlh")
        .args(["jobs", "list"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("tlh"), "{}", text(&bad.stderr));
}

#[test]
fn json_errors_carry_the_same_code_in_every_language() {
    let home = tempfile::tempdir().unwrap();
    let docs: Vec<serde_json::Value> = ["zh_CN.UTF-8", "en_US.UTF-8"]
        .iter()
        .map(|lang| json_of(&under_locale(home.path(), lang, &["--json", "jobs", "show", "NOPE"])))
        .collect();
    assert_eq!(docs[0]["code"], "job_not_found");
    assert_eq!(docs[0]["code"], docs[1]["code"]);
    assert_eq!(docs[0]["exit_code"], 65);
    assert!(docs[0]["error"].as_str().unwrap().contains("未找到作业"), "{}", docs[0]);
    assert!(docs[1]["error"].as_str().unwrap().contains("not found"), "{}", docs[1]);
}

#[test]
fn order_check_reports_in_chinese() {
    let home = tempfile::tempdir().unwrap();
    let file = fixtures().join("orders/bad-card.toml");
    let file = file.to_str().unwrap();
    let zh = under_locale(home.path(), "zh_CN.UTF-8", &["order", "check", file]);
    assert_eq!(zh.status.code(), Some(65));
    let out = text(&zh.stdout);
    assert!(out.contains("1 张工单中有 4 个问题"), "{out}");
    assert!(
        out.contains("未通过 Luhn 校验位") && out.contains("应为 15 位数字"),
        "{out}"
    );
    let en = under_locale(home.path(), "zh_CN.UTF-8", &["--lang", "en", "order", "check", file]);
    let out = text(&en.stdout);
    assert!(
        out.contains("4 problem(s) in 1 order(s)") && out.contains("fails the Luhn check digit"),
        "{out}"
    );
}

#[test]
fn help_is_in_chinese() {
    let home = tempfile::tempdir().unwrap();
    let out = text(&under_locale(home.path(), "zh_CN.UTF-8", &["jobs", "--help"]).stdout);
    assert!(
        out.contains("用法：") && out.contains("作业日志") && out.contains("显示帮助"),
        "{out}"
    );
    let out = text(&under_locale(home.path(), "zh_CN.UTF-8", &["--lang", "en", "jobs", "--help"]).stdout);
    assert!(out.contains("Usage:") && out.contains("The job journal"), "{out}");
}

/// Each command's FILE says what file it takes: an archive for `restore` and `backup
/// verify`, not an order.
#[test]
fn a_commands_file_argument_is_described_as_what_it_takes() {
    let home = tempfile::tempdir().unwrap();
    for (args, wanted) in [
        (&["restore", "--help"][..], "backup archive"),
        (&["backup", "verify", "--help"], "backup archive"),
        (&["order", "check", "--help"], "order"),
    ] {
        let out = text(&under_locale(home.path(), "C.UTF-8", args).stdout);
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with("<FILE>"))
            .unwrap_or_default();
        assert!(line.contains(wanted), "{args:?}: {line}");
    }
}

#[test]
fn a_job_narrates_its_steps_and_summary_in_the_chosen_language() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let order = card_order(&bench, &sim, "WO-ZH-1", NEW_CARD);
    let out = bench
        .command(&rebind_args("card", &sim, &order))
        .arg("--yes")
        .env("LANG", "zh_CN.UTF-8")
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let steps = stderr(&out);
    for line in ["核对身份", "比对绑定", "检查冷却期", "备份", "写入新绑定", "校验"] {
        assert!(steps.contains(line), "no step line {line:?}: {steps}");
    }
    assert!(steps.contains("[成功]"), "{steps}");
    let summary = text(&out.stdout);
    assert!(
        summary.contains("作业") && summary.contains("已完成") && summary.contains("更换结算卡"),
        "{summary}"
    );
    assert!(summary.contains("待打印签字的签收单"), "{summary}");

    // The refusal of a second change within the cooldown: Chinese words, the same code.
    let back = card_order(&bench, &sim, "WO-ZH-2", NEW_CARD);
    let refused = bench
        .command(&rebind_args("card", &sim, &back))
        .args(["--yes", "--json"])
        .env("LANG", "zh_CN.UTF-8")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(65));
    let doc = json_of(&refused);
    assert_eq!(doc["code"], "card_already_bound", "{doc}");
    assert!(doc["error"].as_str().unwrap().contains("已经是当前绑定的卡"), "{doc}");

    // The same list of jobs in English after `--lang en`.
    let list = posagent(bench.path()).args(["--lang", "en", "jobs"]).output().unwrap();
    let list = text(&list.stdout);
    assert!(list.starts_with("JOB") && list.contains("rebind-card"), "{list}");
}

#[test]
fn command_line_mistakes_are_explained_in_chinese_with_exit_2() {
    let home = tempfile::tempdir().unwrap();
    for (args, words) in [
        (&["--frobnicate"][..], "无法识别的参数“--frobnicate”"),
        (
            &["rebind", "cardx", "--order", "o.toml"][..],
            "可用的值：`card`, `account`, `phone`",
        ),
        (&["rebind", "card"][..], "缺少必需的参数：--order"),
        (&["--lang", "tlh", "jobs"][..], "posagent 不支持语言“tlh”"),
    ] {
        let out = under_locale(home.path(), "zh_CN.UTF-8", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.starts_with("错误：") && err.contains(words), "{args:?}: {err}");
    }
    let doc = json_of(&under_locale(home.path(), "zh_CN.UTF-8", &["--json", "--frobnicate"]));
    assert_eq!(
        (doc["code"].as_str(), doc["exit_code"].as_u64()),
        (Some("usage"), Some(2))
    );
    // In English, clap's own words, as before.
    let en = under_locale(home.path(), "en_US.UTF-8", &["--frobnicate"]);
    assert_eq!(en.status.code(), Some(2));
    assert!(
        text(&en.stderr).contains("unexpected argument '--frobnicate' found"),
        "{}",
        text(&en.stderr)
    );
}
