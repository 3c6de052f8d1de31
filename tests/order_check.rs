//! `posagent order check` and the CLI's exit-code contract, driven as a user would.

mod common;

use common::{fixtures, json_of, posagent};

const NEW_CARD_FULL: &str = "6222020200112233446";
const BAD_CARD_FULL: &str = "6222020200112233445";

#[test]
fn valid_order_passes_with_exit_0() {
    let home = tempfile::tempdir().unwrap();
    let out = posagent(home.path())
        .args(["order", "check", "--json"])
        .arg(fixtures().join("orders/rebind-card.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let doc = json_of(&out);
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["errors"].as_array().unwrap().len(), 0);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(NEW_CARD_FULL));
}

#[test]
fn invalid_order_lists_every_problem_masked_with_exit_65() {
    let home = tempfile::tempdir().unwrap();
    let out = posagent(home.path())
        .args(["order", "check", "--json"])
        .arg(fixtures().join("orders/bad-card.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let doc = json_of(&out);
    assert_eq!(doc["valid"], false);
    let fields: Vec<&str> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["merchant.mid", "merchant.legal_rep_id", "new.card", "new.holder"]
    );
    let card = &doc["errors"][2];
    assert_eq!(card["value"], "622202*********3445");
    assert_eq!(card["line"], 17);
    assert!(card["message"].as_str().unwrap().contains("Luhn"));
    let all = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!all.contains(BAD_CARD_FULL), "full card number printed");
}

#[test]
fn human_output_names_file_line_and_field() {
    let home = tempfile::tempdir().unwrap();
    let out = posagent(home.path())
        .args(["order", "check"])
        .arg(fixtures().join("orders/bad-card.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad-card.toml:17: `new.card` = \"622202*********3445\": fails the Luhn check digit"),
        "{text}"
    );
}

#[test]
fn csv_plan_reports_rows_by_line() {
    let home = tempfile::tempdir().unwrap();
    let out = posagent(home.path())
        .args(["order", "check", "--json"])
        .arg(fixtures().join("orders/plan.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let doc = json_of(&out);
    assert_eq!(doc["orders"], 3);
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["field"], "new.account");
    assert_eq!(errors[0]["line"], 3);
    assert!(errors[0]["message"].as_str().unwrap().contains("scientific notation"));
}

#[test]
fn missing_and_malformed_files_are_data_errors() {
    let home = tempfile::tempdir().unwrap();
    let out = posagent(home.path())
        .args(["order", "check", "/nonexistent/order.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read order file /nonexistent/order.toml"));

    let bad = home.path().join("broken.toml");
    std::fs::write(&bad, "id = \"x\"\n\n[merchant\nmid = 1\n").unwrap();
    let out = posagent(home.path())
        .args(["order", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml:3:"), "{err}");

    let odd = home.path().join("order.txt");
    std::fs::write(&odd, "id = 1").unwrap();
    let out = posagent(home.path())
        .args(["order", "check"])
        .arg(&odd)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
}

#[test]
fn usage_errors_exit_2_with_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let out = posagent(home.path()).args(["order", "frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = posagent(home.path()).args(["--json", "sync"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "no provider configured");
    let doc = json_of(&out);
    assert_eq!(doc["error"], "no provider to sync with");
    assert!(doc["help"].as_str().unwrap().contains("--provider"), "{doc}");
}

#[test]
fn profiles_list_and_show() {
    let home = tempfile::tempdir().unwrap();
    let out = posagent(home.path()).args(["profiles", "--json"]).output().unwrap();
    assert!(out.status.success());
    let names: Vec<String> = json_of(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["allinpay", "generic", "lakala", "ruiyinxin", "shengpay", "ums"]);
    let out = posagent(home.path())
        .args(["profiles", "show", "lakala", "--json"])
        .output()
        .unwrap();
    assert_eq!(json_of(&out)["settlement"]["card_cooldown_days"], 30);
    let out = posagent(home.path())
        .args(["profiles", "show", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
}

#[test]
fn a_bad_profile_override_is_an_error_naming_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("profiles")).unwrap();
    std::fs::write(
        home.path().join("profiles/ums.toml"),
        "name = \"ums\"\ndisplay_name = 5\n",
    )
    .unwrap();
    let out = posagent(home.path())
        .args(["order", "check"])
        .arg(fixtures().join("orders/rebind-card.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("profiles/ums.toml") && err.contains("line 2"), "{err}");
}

#[test]
fn devices_and_fifos_are_refused_at_once_with_exit_65() {
    let home = tempfile::tempdir().unwrap();
    let zero = home.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = home.path().join("plan.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for (file, kind) in [(zero.as_path(), "a device"), (fifo.as_path(), "FIFO")] {
        let out = posagent(home.path())
            .args(["order", "check"])
            .arg(file)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(65), "{}: {err}", file.display());
        assert!(err.contains(kind) && err.contains("not a regular file"), "{err}");
    }
}

#[test]
fn config_path_init_and_show() {
    let home = tempfile::tempdir().unwrap();
    let path = json_of(
        &posagent(home.path())
            .args(["config", "path", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(path["exists"], false);
    let file = std::path::PathBuf::from(path["config_file"].as_str().unwrap());
    assert!(file.starts_with(home.path()));
    let init = posagent(home.path()).args(["config", "init"]).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("# agent_key_file") && text.contains("[ports]"), "{text}");
    // The template reads back as a valid (empty) configuration, and is not replaced silently.
    let show = posagent(home.path())
        .args(["config", "show", "--json"])
        .output()
        .unwrap();
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    assert!(json_of(&show)["provider"].is_object());
    let again = posagent(home.path()).args(["config", "init"]).output().unwrap();
    assert_eq!(again.status.code(), Some(65));
    std::fs::write(&file, "[provider]\nbatch_size = \"many\"\n").unwrap();
    let bad = posagent(home.path()).args(["config", "show"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("batch_size"));
}

/// An order file at the size limit is read within 4× its size in memory (a bounded data
/// segment, as the archive tests do), however it is made: 2.6 M tiny keys and a CSV plan
/// of 1 M rows are refused at the field limit (before a TOML tree is built, as the CSV
/// rows are read: 1.4 GB and 0.7 GB were measured before), and the most fields allowed,
/// with long values, are read and checked.
#[test]
fn a_file_at_the_size_limit_is_read_within_four_times_its_size() {
    let home = tempfile::tempdir().unwrap();
    let limit = posagent::input::MAX_ORDER_FILE as usize;
    let fill = |head: &str, line: &dyn Fn(usize) -> String| {
        let mut text = String::from(head);
        for i in 0.. {
            let l = line(i);
            if text.len() + l.len() > limit {
                break;
            }
            text.push_str(&l);
        }
        text
    };
    let fields = posagent::order::MAX_FIELDS_PER_FILE;
    let per_order = 25;
    let value = "x".repeat(limit / fields - 16);
    let cases = [
        ("keys.toml", fill("", &|i| format!("k{i:07} = 1\n")), true),
        (
            "plan.csv",
            fill("id,operation,profile\n", &|i| format!("WO-{i:07},unbind,generic\n")),
            true,
        ),
        (
            "long.toml",
            fill("", &|i| {
                let head = if i % per_order == 0 { "[[order]]\n" } else { "" };
                if i >= fields - fields / per_order {
                    return "#".repeat(limit);
                }
                format!("{head}f{:02} = \"{value}\"\n", i % per_order)
            }),
            false,
        ),
    ];
    for (name, text, refused) in cases {
        let file = home.path().join(name);
        std::fs::write(&file, &text).unwrap();
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
        cmd.env("POSAGENT_HOME", home.path())
            .env("LANG", "C.UTF-8")
            .args(["order", "check"])
            .arg(&file);
        let (code, stderr) = common::within_memory(cmd, 4 * limit as u64);
        assert_eq!(code, 65, "{name}: {stderr}");
        assert_eq!(
            stderr.contains(&format!("more than {fields} fields")),
            refused,
            "{name}: {stderr}"
        );
    }
}

/// The technician's name from the environment goes into every backup, audit record and
/// submission as config.toml's does: control characters are refused there too, naming
/// where the name came from.
#[test]
fn a_technician_name_with_control_characters_in_the_environment_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let out = posagent(home.path())
        .env("POSAGENT_TECHNICIAN", "zhang\u{1b}[2Jwei")
        .args(["config", "show"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(
        err.contains("POSAGENT_TECHNICIAN") && err.contains("technician"),
        "{err}"
    );
    let out = posagent(home.path())
        .env("POSAGENT_TECHNICIAN", "张伟")
        .args(["config", "show"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
