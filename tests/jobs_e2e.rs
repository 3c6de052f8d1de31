//! The five procedures end to end against simulated terminals, and each refusal.

mod common;

use std::path::{Path, PathBuf};

use common::jobs::*;
use common::{Sim, bound_card, connect, fixtures, json_of, posagent, secret_file};
use posagent::domain::DeviceStatus;
use posagent::link::proto::Object;
use posagent::terminal::model::{Binding, decode_log};

fn port(sim: &Sim) -> &str {
    sim.port.to_str().unwrap()
}

#[test]
fn rebind_card_changes_the_card_verifies_and_queues_one_submission() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let before = connect(&sim).read_binding().unwrap();
    let order = card_order(&bench, &sim, "WO-CARD-1", NEW_CARD);
    let out = bench.rebind_card(&sim, &order);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(doc["job"]["state"], "done");
    assert!(
        doc["test_transaction"]["rrn"].is_string(),
        "lakala asks for a test transaction"
    );
    let after = connect(&sim).read_binding().unwrap();
    assert_eq!(after.card.as_ref().unwrap().pan.expose_full(), NEW_CARD);
    assert_eq!((&after.mid, &after.tid), (&before.mid, &before.tid));
    let store = bench.store();
    assert_eq!(store.submissions().unwrap().len(), 1);
    assert!(store.verify_audit().unwrap().valid);
    // The job's backup holds the old binding.
    let backup = PathBuf::from(doc["backup_file"].as_str().unwrap());
    let contents = posagent::backup::read_archive(&backup, BACKUP_PASSWORD.as_bytes()).unwrap();
    assert_eq!(contents.binding, before);
}

/// The next step a finished job names is a command that works as printed: the queued
/// submission's own `queue show ID` (it named `queue show` without an id, which exits 2).
#[test]
fn the_queue_command_a_finished_job_names_works_as_printed() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let order = card_order(&bench, &sim, "WO-CARD-HINT", NEW_CARD);
    let out = bench
        .command(&rebind_args("card", &sim, &order))
        .arg("--yes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    // The heading says how the job ended once ("… finished: …", not "… — done" again).
    let heading = text
        .lines()
        .find(|l| l.contains(" finished: "))
        .unwrap_or_else(|| panic!("no outcome heading: {text}"));
    assert!(!heading.contains(" — "), "{heading}");
    let hint = text
        .split('`')
        .find(|part| part.starts_with("posagent queue "))
        .unwrap_or_else(|| panic!("no queue command named: {text}"));
    let args: Vec<&str> = hint.split_whitespace().skip(1).collect();
    let shown = posagent(bench.path()).args(&args).output().unwrap();
    assert_eq!(shown.status.code(), Some(0), "`{hint}`: {}", stderr(&shown));
    let id = &bench.store().submissions().unwrap()[0].id;
    assert!(String::from_utf8_lossy(&shown.stdout).contains(id.as_str()), "`{hint}`");
}

/// Every table a technician reads fits an 80-column terminal in Chinese, where a
/// character takes two columns (jobs was 112 wide, queue 120, profiles 105); `--json`
/// keeps every value whole.
#[test]
fn every_table_fits_80_columns_in_chinese() {
    let bench = Bench::default();
    let mut sims = Vec::new();
    for n in 0..2 {
        let seed = (70 + n).to_string();
        let sim = start_sim(&bench, &format!("tty{n}"), &["--seed", &seed]);
        let order = card_order(&bench, &sim, &format!("WO-CARD-WIDE-{n}"), NEW_CARD);
        let out = bench.rebind_card(&sim, &order);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        sims.push(sim);
    }
    // One more order pulled for the first terminal: a plan's report has a row.
    card_order(&bench, &sims[0], "WO-CARD-WIDE-NEXT", NEW_CARD);
    // A provider of the user's own with a long Chinese name.
    let generic = std::fs::read_to_string(fixtures().join("../../profiles/generic.toml")).unwrap();
    std::fs::create_dir_all(bench.path().join("profiles")).unwrap();
    std::fs::write(
        bench.path().join("profiles/zhangjiang.toml"),
        generic.replace("name = \"generic\"", "name = \"zhangjiang\"").replace(
            "display_name = \"Generic terminal (USB-serial bridge)\"",
            "display_name = \"中国银联商务有限公司上海分公司浦东新区张江高科技园区第三服务网点\"",
        ),
    )
    .unwrap();
    let ports = format!("{}/tty*", bench.path().display());
    let tables: [&[&str]; 7] = [
        &["jobs"],
        &["queue"],
        &["profiles"],
        &["backup", "list"],
        &["orders", "list"],
        &["devices"],
        &["run", "--pulled", "--dry-run"],
    ];
    for args in tables {
        // A plan's report takes the secrets; the lists do not.
        let mut cmd = if args[0] == "run" {
            bench.command(args)
        } else {
            let mut plain = posagent(bench.path());
            plain.args(args);
            plain
        };
        let out = cmd
            .env("POSAGENT_LANG", "zh-CN")
            .env("POSAGENT_PORTS", &ports)
            .output()
            .unwrap();
        // The plan's dry run reports the order that would fail (within its cooldown): 65.
        let expected = if args[0] == "run" { 65 } else { 0 };
        assert_eq!(out.status.code(), Some(expected), "{args:?}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.lines().count() >= 2, "{args:?}: a table: {text}");
        for line in text.lines() {
            let width = console::measure_text_width(line);
            assert!(width <= 80, "{args:?}: {width} columns:\n{line}\n\n{text}");
        }
    }
    // Cut on the screen, whole in JSON: the job ids `jobs show` takes.
    let out = posagent(bench.path()).args(["jobs", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for job in doc.as_array().expect("a list of jobs") {
        let id = job["id"].as_str().unwrap();
        let shown = posagent(bench.path()).args(["jobs", "show", id]).output().unwrap();
        assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    }
    let listed = posagent(bench.path())
        .env("POSAGENT_LANG", "zh-CN")
        .arg("jobs")
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&listed.stdout).lines().skip(1) {
        let shown_id = line.split_whitespace().next().unwrap();
        let shown = posagent(bench.path())
            .args(["jobs", "show", shown_id])
            .output()
            .unwrap();
        assert_eq!(
            shown.status.code(),
            Some(0),
            "the id as listed, `{shown_id}`: {}",
            stderr(&shown)
        );
    }
}

#[test]
fn rebind_account_replaces_the_account() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &["--account"]);
    let order = account_order(&bench, &sim, "WO-ACC-1");
    let out = bench.rebind("account", &sim, &order);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = connect(&sim).read_binding().unwrap();
    assert_eq!(after.account.unwrap().number.expose_full(), NEW_ACCOUNT);
    assert_eq!(bench.store().submissions().unwrap().len(), 1);
}

#[test]
fn rebind_phone_restarts_the_terminal_and_verifies() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let order = phone_order(&bench, &sim, "WO-PHONE-1");
    let out = bench.rebind("phone", &sim, &order);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        connect(&sim).read_binding().unwrap().phone.unwrap().as_str(),
        "13900001111"
    );
    let journal = bench.store().journal_of(&the_job(&bench).id).unwrap();
    assert!(
        journal
            .iter()
            .any(|e| e.entry.subject() == "reboot" && e.entry.phase().as_str() == "done")
    );
}

#[test]
fn unbind_settles_first_then_unbinds() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    assert!(connect(&sim).status().unwrap().unsettled > 0);
    let mut f = expect_fields(&sim, "WO-UNB-1", "unbind", "lakala");
    f.push(("reason", "customer-request".to_string()));
    let order = bench.order("unbind.toml", &f);
    let out = bench.run(&["unbind", "--port", port(&sim), "--order", order.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut t = connect(&sim);
    let status = t.status().unwrap();
    assert_eq!(
        (status.status, status.unsettled, status.transactions),
        (DeviceStatus::Unbound, 0, 120)
    );
}

#[test]
fn migrate_moves_everything_to_the_replacement_and_unbinds_the_old_unit() {
    let bench = Bench::default();
    let old = start_sim(&bench, "old", &[]);
    let new = start_sim(&bench, "new", &["--blank", "--serial", "NEW-0001"]);
    let mut t = connect(&old);
    let before = t.read_binding().unwrap();
    let old_log = decode_log(&t.export(Object::TransactionLog, &mut |_, _| {}).unwrap().data).unwrap();
    drop(t);
    let order = migrate_order(&bench, &old, "NEW-0001", "WO-MIG-1");
    let out = bench.run(&[
        "migrate",
        "--from",
        port(&old),
        "--to",
        port(&new),
        "--order",
        order.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_of(&out)["transactions_moved"], 120);
    assert_eq!(connect(&old).read_binding().unwrap().status, DeviceStatus::Unbound);
    let mut n = connect(&new);
    let after: Binding = n.read_binding().unwrap();
    assert_eq!(
        after,
        Binding {
            status: DeviceStatus::Bound,
            ..before
        }
    );
    let new_log = decode_log(&n.export(Object::TransactionLog, &mut |_, _| {}).unwrap().data).unwrap();
    for r in &old_log {
        assert_eq!(
            new_log.iter().filter(|x| x.rrn == r.rrn).count(),
            1,
            "transaction {} moved exactly once",
            r.rrn
        );
    }
    assert_eq!(bench.store().submissions().unwrap().len(), 1);
}

/// A migration's bars on a technician's 80-column terminal: the old unit's backup and the
/// new unit's import, drawn at once, each one bar per object that starts empty, never goes
/// back and ends at its total; every line within 80 columns.
#[test]
fn migration_progress_starts_empty_never_goes_back_and_fits_80_columns() {
    let bench = Bench::default();
    let old = start_sim(&bench, "old", &["--transactions", "20000"]);
    let new = start_sim(&bench, "new", &["--blank", "--serial", "NEW-0009"]);
    // A blank unit says its activation code, for a trainee's order.
    assert_eq!(
        new.announced()["activation_code"],
        posagent::sim::terminal::activation_code_for("NEW-0009")
    );
    let order = migrate_order(&bench, &old, "NEW-0009", "WO-MIG-9");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", bench.path())
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("POSAGENT_LANG")
        .args(["migrate", "--from", port(&old), "--to", port(&new), "--yes", "--order"])
        .arg(&order)
        .arg("--secret-file")
        .arg(&bench.secret)
        .arg("--password-file")
        .arg(&bench.password);
    let mut p = common::pty::PtyChild::spawn(cmd);
    let bars = common::pty::bars_of_success(&mut p);
    let mut labels: Vec<&str> = bars.iter().map(|b| b.0.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(
        labels.len(),
        2,
        "the backup's and the import's bars: {labels:?}\n{}",
        p.screen
    );
    // Each: the parameters, then the log.
    for (label, objects) in labels.iter().zip([2, 2]) {
        let of_label: Vec<_> = bars.iter().filter(|b| b.0 == *label).cloned().collect();
        common::pty::assert_progress(&of_label, objects, &p.screen);
    }
}

#[test]
fn a_binding_mismatch_is_refused_and_nothing_changes() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let before = connect(&sim).read_binding().unwrap();
    let mut f = card_fields(&sim, "WO-BAD-1", NEW_CARD);
    f.retain(|(k, _)| *k != "expect.tid");
    f.push(("expect.tid", "ZZ999999".to_string()));
    let order = bench.order("bad.toml", &f);
    let out = bench.rebind_card(&sim, &order);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).contains("`expect.tid`: order says ZZ999999"),
        "{}",
        stderr(&out)
    );
    // The next step: what to check, and with which command (there was none).
    let help = json_of(&out)["help"].as_str().unwrap_or_default().to_string();
    assert!(help.contains("posagent inspect"), "{help:?}");
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
    assert_eq!(the_job(&bench).state.as_str(), "refused");
    assert!(bench.store().submissions().unwrap().is_empty());
}

#[test]
fn missing_documents_are_refused_before_any_device_is_touched() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let mut f = card_fields(&sim, "WO-DOC-1", NEW_CARD);
    f.retain(|(k, _)| *k != "merchant.legal_rep_id");
    let order = bench.order("nodoc.toml", &f);
    let out = bench.rebind_card(&sim, &order);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("merchant.legal_rep_id"), "{}", stderr(&out));
    assert!(bench.store().jobs().unwrap().is_empty());
}

#[test]
fn rebinding_a_card_within_the_cooldown_is_refused_with_the_date() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let first_card = bound_card(&sim);
    let order = card_order(&bench, &sim, "WO-CD-1", NEW_CARD);
    assert!(bench.rebind_card(&sim, &order).status.success());
    // Straight back to the card that was just unbound.
    let back = card_order(&bench, &sim, "WO-CD-2", &first_card);
    let out = bench.rebind_card(&sim, &back);
    assert_eq!(out.status.code(), Some(65));
    let err = stderr(&out);
    let allowed = (chrono::Utc::now() + chrono::Duration::days(30))
        .date_naive()
        .to_string();
    assert!(
        err.contains("allows binding it again from") && err.contains(&allowed),
        "{err}"
    );
    assert!(
        json_of(&out)["help"].as_str().is_some_and(|h| h.contains("come back")),
        "{err}"
    );
    assert_eq!(
        connect(&sim).read_binding().unwrap().card.unwrap().pan.expose_full(),
        NEW_CARD
    );
}

/// A terminal whose bind date (DF19) is after today cannot say when the cooldown ends:
/// the change is refused with its own reason, not judged from that date.
#[test]
fn a_bind_date_in_the_future_is_refused_not_taken_as_the_last_change() {
    let bench = Bench::default();
    let future = (chrono::Local::now().date_naive() + chrono::Duration::days(400))
        .format("%Y%m%d")
        .to_string();
    let sim = start_sim(&bench, "tty", &["--settlement-since", &future]);
    let before = connect(&sim).read_binding().unwrap();
    let order = card_order(&bench, &sim, "WO-FUTURE", NEW_CARD);
    let out = bench.rebind_card(&sim, &order);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("bind_date_in_future"), "{}", stderr(&out));
    assert!(stderr(&out).contains("after today"), "{}", stderr(&out));
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
}

#[test]
fn a_wrong_secret_refuses_the_job() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let order = card_order(&bench, &sim, "WO-SEC-1", NEW_CARD);
    let wrong = secret_file(bench.path(), "wrong", "not-it");
    let out = posagent(bench.path())
        .args(rebind_args("card", &sim, &order))
        .args(["--yes", "--secret-file"])
        .arg(&wrong)
        .env("POSAGENT_BACKUP_PASSWORD", "job-backup-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert_eq!(the_job(&bench).state.as_str(), "refused");
}

#[test]
fn a_replacement_unit_that_is_already_bound_is_refused() {
    let bench = Bench::default();
    let old = start_sim(&bench, "old", &[]);
    let bound = start_sim(&bench, "new", &["--seed", "5", "--serial", "NEW-0002"]);
    let order = migrate_order(&bench, &old, "NEW-0002", "WO-MIG-2");
    let out = bench.run(&[
        "migrate",
        "--from",
        port(&old),
        "--to",
        port(&bound),
        "--order",
        order.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).contains("replacement unit NEW-0002 is already bound"),
        "{}",
        stderr(&out)
    );
    assert_eq!(connect(&old).read_binding().unwrap().status, DeviceStatus::Bound);
}

#[test]
fn a_second_job_on_a_terminal_with_an_unfinished_one_is_refused() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let order = card_order(&bench, &sim, "WO-TWO-1", NEW_CARD);
    let killed = bench
        .command(&rebind_args("card", &sim, &order))
        .arg("--yes")
        .env("POSAGENT_KILL_AT", "after:backup")
        .output()
        .unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&killed.status), Some(9));
    let job = the_job(&bench);
    let again = card_order(&bench, &sim, "WO-TWO-2", NEW_CARD);
    let out = bench.rebind_card(&sim, &again);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&job.id), "{}", stderr(&out));
}

#[test]
fn dry_run_checks_everything_and_changes_nothing() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let before = connect(&sim).read_binding().unwrap();
    let order = card_order(&bench, &sim, "WO-DRY-1", NEW_CARD);
    let mut args = rebind_args("card", &sim, &order);
    args.push("--dry-run");
    let out = bench.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(doc["job"]["state"], "planned");
    assert!(
        doc["plan"]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "card")
    );
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
    assert!(bench.store().backups().unwrap().is_empty());
}

#[test]
fn without_a_terminal_to_ask_and_without_yes_the_job_stops_before_any_change() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let before = connect(&sim).read_binding().unwrap();
    let order = card_order(&bench, &sim, "WO-ASK-1", NEW_CARD);
    let out = bench.command(&rebind_args("card", &sim, &order)).output().unwrap();
    // A usage error (pass --yes), as for a restore: no one said no.
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
    assert_eq!(the_job(&bench).state.as_str(), "cancelled");
}

#[test]
fn full_numbers_never_appear_in_the_database_or_anything_printed() {
    let bench = Bench::default();
    let card_sim = start_sim(&bench, "card", &[]);
    let old_card = bound_card(&card_sim);
    let acc_sim = start_sim(&bench, "acc", &["--seed", "3", "--account"]);
    let mut printed = String::new();
    let mut run = |args: &[&str]| {
        let out = bench.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        printed.push_str(&stderr(&out));
    };
    let card = card_order(&bench, &card_sim, "WO-SCAN-1", NEW_CARD);
    run(&rebind_args("card", &card_sim, &card));
    let account = account_order(&bench, &acc_sim, "WO-SCAN-2");
    run(&rebind_args("account", &acc_sim, &account));
    for args in [
        &["jobs", "list"][..],
        &["jobs", "list", "--json"],
        &["audit", "verify"],
        &["backup", "list", "--json"],
    ] {
        let out = posagent(bench.path()).args(args).output().unwrap();
        printed.push_str(&stderr(&out));
    }
    for job in bench.store().jobs().unwrap() {
        for json in [false, true] {
            let mut cmd = posagent(bench.path());
            cmd.args(["jobs", "show", &job.id]);
            if json {
                cmd.arg("--json");
            }
            printed.push_str(&stderr(&cmd.output().unwrap()));
        }
    }
    assert!(printed.contains("622848*********4554"), "the masked new card is shown");
    let secrets = [
        NEW_CARD,
        old_card.as_str(),
        NEW_ACCOUNT,
        "6217000010001234567",
        LEGAL_REP_ID,
    ];
    for s in secrets {
        assert!(!printed.contains(s), "{s} printed in clear");
    }
    for file in ["posagent.db", "posagent.db-wal", "audit.head"] {
        let bytes = std::fs::read(bench.path().join(file)).unwrap_or_default();
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} in clear in {file}"
            );
        }
    }
}

#[test]
fn the_queue_shows_the_jobs_submission_masked() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let order = card_order(&bench, &sim, "WO-Q-1", NEW_CARD);
    assert!(bench.rebind_card(&sim, &order).status.success());
    let list = posagent(bench.path()).args(["queue", "--json"]).output().unwrap();
    let rows = json_of(&list);
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["state"], "pending");
    assert_eq!(rows[0]["order_id"], "WO-Q-1");
    let id = rows[0]["id"].as_str().unwrap();
    let show = posagent(bench.path())
        .args(["queue", "show", &id[..13]])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("622848*********4554") && !text.contains(NEW_CARD),
        "{text}"
    );
    // Only rejected or dead submissions go back in the queue.
    let retry = posagent(bench.path()).args(["queue", "retry", id]).output().unwrap();
    assert_eq!(retry.status.code(), Some(1));
}

#[test]
fn the_database_its_wal_backups_keys_and_audit_head_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let order = card_order(&bench, &sim, "WO-MODE-1", NEW_CARD);
    assert!(bench.rebind_card(&sim, &order).status.success());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let home = bench.path();
    assert_eq!(mode(home), 0o700, "data directory");
    for dir in ["backups", "keys"] {
        assert_eq!(mode(&home.join(dir)), 0o700, "{dir}");
        for f in std::fs::read_dir(home.join(dir)).unwrap() {
            let f = f.unwrap().path();
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    for file in ["posagent.db", "audit.head"] {
        assert_eq!(mode(&home.join(file)), 0o600, "{file}");
    }
    // The WAL and shared-memory files exist while a connection is open.
    let store = bench.store();
    store.jobs().unwrap();
    for file in ["posagent.db-wal", "posagent.db-shm"] {
        assert_eq!(mode(&home.join(file)), 0o600, "{file}");
    }
    drop(store);
}

#[test]
fn a_second_card_change_for_the_merchant_on_another_terminal_is_refused_before_any_change() {
    let bench = Bench::default();
    // Two terminals of one merchant: the same seed gives the same MID.
    let a = start_sim(&bench, "a", &["--seed", "5", "--serial", "SHOP-A-01"]);
    let b = start_sim(&bench, "b", &["--seed", "5", "--serial", "SHOP-B-02"]);
    let first = card_order(&bench, &a, "WO-M-1", NEW_CARD);
    assert!(bench.rebind_card(&a, &first).status.success());
    let before = connect(&b).read_binding().unwrap();
    let second = card_order(&bench, &b, "WO-M-2", "6222020200112233446");
    let out = bench.rebind_card(&b, &second);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let today = chrono::Local::now().date_naive();
    let err = stderr(&out);
    assert!(
        err.contains("this agent changed it")
            && err.contains(&format!(
                "allows the next change from {}",
                today + chrono::Duration::days(30)
            )),
        "{err}"
    );
    assert!(err.contains("Nothing was changed"), "{err}");
    assert_eq!(connect(&b).read_binding().unwrap(), before);
}

#[test]
fn a_terminal_whose_card_was_bound_recently_is_refused_with_the_date() {
    let bench = Bench::default();
    let five_days_ago = chrono::Local::now().date_naive() - chrono::Duration::days(5);
    let since = five_days_ago.format("%Y%m%d").to_string();
    let sim = start_sim(&bench, "tty", &["--settlement-since", &since]);
    let before = connect(&sim).read_binding().unwrap();
    let order = card_order(&bench, &sim, "WO-SINCE-1", NEW_CARD);
    let out = bench.rebind_card(&sim, &order);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let allowed = five_days_ago + chrono::Duration::days(30);
    let err = stderr(&out);
    assert!(
        err.contains("the terminal reports it bound") && err.contains(&format!("from {allowed}")),
        "{err}"
    );
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
}

#[test]
fn when_the_terminal_cannot_tell_only_the_provider_check_flag_lets_a_card_change_through() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &["--settlement-since", "unknown"]);
    let before = connect(&sim).read_binding().unwrap();
    let order = card_order(&bench, &sim, "WO-UNK-1", NEW_CARD);
    let out = bench.rebind_card(&sim, &order);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot be checked offline"), "{}", stderr(&out));
    assert_eq!(connect(&sim).read_binding().unwrap(), before, "--yes alone changed it");
    let mut args = rebind_args("card", &sim, &order);
    args.push("--cooldown-checked-by-provider");
    let out = bench.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let audit = posagent(bench.path())
        .args(["audit", "verify", "--json"])
        .output()
        .unwrap();
    assert!(audit.status.success());
    let store = bench.store();
    let job = store
        .jobs()
        .unwrap()
        .into_iter()
        .find(|j| j.state.as_str() == "done")
        .unwrap();
    let cooldown = store
        .journal_of(&job.id)
        .unwrap()
        .into_iter()
        .find(|e| e.entry.subject() == "check_cooldown" && e.entry.phase().as_str() == "done");
    assert_eq!(
        cooldown.unwrap().entry.detail()["cooldown_checked_by"],
        "provider, as the technician confirmed"
    );
}

#[test]
fn a_terminal_settling_to_a_card_moves_to_a_bank_account_and_back() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let mut f = expect_fields(&sim, "WO-SW-1", "rebind-account", "lakala");
    assert!(f.iter().any(|(k, _)| *k == "expect.card_last4"));
    f.extend([
        ("reason", "bank-change".to_string()),
        ("new.account", NEW_ACCOUNT.to_string()),
        ("new.holder", "王五".to_string()),
        ("new.bank", "中国工商银行".to_string()),
        ("new.branch_code", "102100099996".to_string()),
    ]);
    let order = bench.order("WO-SW-1.toml", &f);
    let out = bench.rebind("account", &sim, &order);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let b = connect(&sim).read_binding().unwrap();
    assert!(b.card.is_none());
    assert_eq!(b.account.unwrap().number.expose_full(), NEW_ACCOUNT);
    // And a terminal settling to an account moves to a card.
    let sim = start_sim(&bench, "acc", &["--account", "--seed", "9"]);
    let mut f = expect_fields(&sim, "WO-SW-2", "rebind-card", "lakala");
    assert!(f.iter().any(|(k, _)| *k == "expect.account_last4"));
    f.extend([
        ("new.card", NEW_CARD.to_string()),
        ("new.holder", "李四".to_string()),
        ("new.expiry", "09/39".to_string()),
    ]);
    let order = bench.order("WO-SW-2.toml", &f);
    let out = bench.rebind_card(&sim, &order);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let b = connect(&sim).read_binding().unwrap();
    assert!(b.account.is_none());
    assert_eq!(b.card.unwrap().pan.expose_full(), NEW_CARD);
}

#[test]
fn people_read_local_times_with_their_offset_and_json_keeps_utc() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let order = card_order(&bench, &sim, "WO-TZ-1", NEW_CARD);
    assert!(bench.rebind_card(&sim, &order).status.success());
    let job = the_job(&bench);
    let show = |json: bool| {
        let mut cmd = posagent(bench.path());
        cmd.env("TZ", "CST-8").args(["jobs", "show", &job.id]);
        if json {
            cmd.arg("--json");
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).to_string()
    };
    let text = show(false);
    assert!(text.contains("+08:00"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&show(true)).unwrap();
    assert!(doc["job"]["created_at"].as_str().unwrap().ends_with('Z'), "{doc}");
}

#[test]
fn the_support_bundle_holds_logs_and_lists_but_no_number_secret_or_password() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let old_card = bound_card(&sim);
    let order = card_order(&bench, &sim, "WO-SUP-1", NEW_CARD);
    assert!(bench.rebind_card(&sim, &order).status.success());
    // -v puts the same events on stderr.
    let verbose = posagent(bench.path()).args(["-v", "jobs", "list"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&verbose.stderr).contains("start"),
        "{}",
        stderr(&verbose)
    );
    let file = bench.path().join("support.zip");
    let out = posagent(bench.path())
        .args(["support-bundle", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&file).unwrap()).unwrap();
    let mut all = Vec::new();
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        names.push(entry.name().unwrap().to_string());
        std::io::Read::read_to_end(&mut entry, &mut all).unwrap();
    }
    for wanted in [
        "logs/posagent.log",
        "jobs.json",
        "queue.json",
        "config.toml",
        "versions.json",
        "devices.txt",
    ] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} missing from {names:?}");
    }
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.contains("step done") && text.contains("622848*********4554"),
        "the log and lists are there, masked"
    );
    for secret in [
        NEW_CARD,
        old_card.as_str(),
        LEGAL_REP_ID,
        common::DEMO_SECRET,
        BACKUP_PASSWORD,
    ] {
        assert!(!text.contains(secret), "{secret} in the support bundle");
    }
}

/// Answering "n" at the confirmation ends the command once, plainly: the refusal is said
/// once, and no hint to force it with `--yes` (it was printed twice, with that hint).
#[test]
fn answering_no_says_so_once_and_suggests_no_way_around_it() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let order = card_order(&bench, &sim, "WO-CARD-NO", NEW_CARD);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", bench.path())
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("POSAGENT_LANG")
        .args(rebind_args("card", &sim, &order))
        .arg("--secret-file")
        .arg(&bench.secret)
        .arg("--password-file")
        .arg(&bench.password);
    let mut p = common::pty::PtyChild::spawn(cmd);
    p.expect("Carry out these changes?", std::time::Duration::from_secs(60));
    p.send_line("n");
    let status = p.wait(std::time::Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{}", p.screen);
    assert_eq!(p.screen.matches("nothing was changed").count(), 1, "{}", p.screen);
    assert!(!p.screen.contains("--yes"), "{}", p.screen);
    assert_eq!(the_job(&bench).state.as_str(), "cancelled");
}
