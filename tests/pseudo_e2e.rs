//! Every word a user reads comes from the catalogue: each command's text output, its
//! errors and its help in the pseudo-locale (`--lang qps`), where catalogue text is
//! accented and anything else stands out as plain ASCII.

mod common;

use common::jobs::*;
use common::pseudo::{Seen, assert_every_error_has_help, assert_translated, visible_text};
use common::{fixtures, json_of, posagent};

/// `posagent --lang qps ARGS` in `home`: everything it wrote, its arguments being data.
fn qps(home: &std::path::Path, args: &[&str]) -> Seen {
    let out = posagent(home).arg("--lang").arg("qps").args(args).output().unwrap();
    Seen {
        what: args.join(" "),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        data: args.iter().map(|a| a.trim_start_matches('-').to_string()).collect(),
    }
}

/// The profiles' names: what `--profile` takes, shown as typed.
fn profile_names() -> Vec<String> {
    posagent::profile::ProfileSet::builtin()
        .unwrap()
        .iter()
        .map(|(p, _)| p.name.clone())
        .collect()
}

/// Every command's `--help`, found by walking the command tree.
fn every_help() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: &[String], out: &mut Vec<Vec<String>>) {
        let mut args = path.to_vec();
        args.push("--help".to_string());
        out.push(args);
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            walk(sub, &p, out);
        }
    }
    let mut out = Vec::new();
    walk(&posagent::cli::command(), &[], &mut out);
    out
}

/// `text` without its lines of TOML: sections, keys with values (commented out or not),
/// the items of arrays; comments stay.
fn without_toml(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let l = line.trim().trim_start_matches("# ");
            let key = l.split_once(" = ").is_some_and(|(k, _)| {
                k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '"'))
            });
            let section = l.starts_with('[') && l.ends_with(']');
            let item = l.starts_with('"') || l == "]";
            !(key || section || item)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn help_and_commands_without_a_terminal_speak_only_the_catalogue() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let bad = fixtures().join("orders/bad-card.toml");
    let ragged = h.join("ragged.csv");
    std::fs::write(&ragged, "id,operation\nWO-1,rebind-card,extra\n").unwrap();
    let good = fixtures().join("orders/rebind-card.toml");
    let mut outputs: Vec<Seen> = every_help()
        .iter()
        .map(|args| qps(h, &args.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect();
    for args in [
        &["profiles"][..],
        &["profiles", "show", "lakala"],
        &["profiles", "show", "nope"],
        &["config", "init"],
        &["config", "show"],
        &["config", "path"],
        &["jobs", "list"],
        &["jobs", "show", "NOPE"],
        &["queue", "list"],
        &["queue", "show", "NOPE"],
        &["orders", "list"],
        &["orders", "show", "NOPE"],
        &["devices"],
        &["audit", "verify"],
        &["order", "check", bad.to_str().unwrap()],
        &["order", "check", good.to_str().unwrap()],
        &["order", "check", "/nonexistent/order.toml"],
        &["order", "check", ragged.to_str().unwrap()],
        &["support-bundle", "--out", "/nonexistent/dir/support.zip"],
        &["console", "--listen", "10.0.0.1:80"],
        &["backup", "verify", "/nonexistent/backup.zip"],
        &["jobs", "receipt", "NOPE"],
        &["orders", "pull"],
        &["inspect", "--port", "/nonexistent/tty"],
        &["restore", "/nonexistent/backup.zip", "--port", "/nonexistent/tty"],
        &["sync"],
        &["frobnicate"],
        &["--frobnicate"],
        &["rebind", "cardx", "--order", "o.toml"],
        &["rebind", "card"],
    ] {
        outputs.push(qps(h, args));
    }
    // A configuration file's keys and values are TOML, written as the documentation names
    // them; its comments and everything around them are the catalogue's.
    for seen in outputs
        .iter_mut()
        .filter(|s| s.what == "config show" || s.what.starts_with("profiles show"))
    {
        seen.text = without_toml(&seen.text);
    }
    let config = std::fs::read_to_string(h.join("config.toml")).unwrap();
    outputs.push(Seen {
        what: "config.toml written by config init".to_string(),
        text: without_toml(&config),
        data: Vec::new(),
    });
    assert_translated(&outputs, &profile_names());
    assert_every_error_has_help(&outputs);
}

/// `posagent --lang qps ARGS` with the bench's secrets: everything it wrote, its arguments
/// being data.
fn qps_job(bench: &Bench, args: &[&str]) -> (Seen, std::process::Output) {
    let out = bench
        .command(args)
        .arg("--lang")
        .arg("qps")
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let seen = Seen {
        what: args.join(" "),
        text: stderr(&out),
        data: args.iter().map(|a| a.trim_start_matches('-').to_string()).collect(),
    };
    (seen, out)
}

/// The ids of every job and submission, and what the terminals say of themselves: data.
fn records(bench: &Bench, sims: &[&common::Sim]) -> Vec<String> {
    let mut data = Vec::new();
    for job in bench.store().jobs().unwrap() {
        data.push(job.id.clone());
        data.push(job.id[..8].to_string());
    }
    let queue = json_of(
        &posagent(bench.path())
            .args(["queue", "list", "--json"])
            .output()
            .unwrap(),
    );
    for item in queue.as_array().into_iter().flatten() {
        if let Some(id) = item["id"].as_str() {
            data.extend([id.to_string(), id.chars().take(8).collect()]);
        }
    }
    for sim in sims {
        let who = common::connect(sim).identify().unwrap();
        data.extend([who.vendor, who.model, who.firmware]);
    }
    data.push("Test Shop".to_string());
    data.extend(profile_names());
    data
}

#[test]
fn jobs_their_records_and_their_refusals_speak_only_the_catalogue() {
    let bench = Bench::default();
    let old = start_sim(&bench, "old", &[]);
    let new = start_sim(&bench, "new", &["--blank", "--serial", "NEW-QPS1"]);
    let port = old.port.to_str().unwrap();
    let to = new.port.to_str().unwrap();
    let card = card_order(&bench, &old, "WO-QPS-1", NEW_CARD);
    let card = card.to_str().unwrap();
    let archive = bench.path().join("old.zip");
    let archive = archive.to_str().unwrap();
    let mut seen = Vec::new();
    let mut run = |args: &[&str]| {
        let (s, out) = qps_job(&bench, args);
        seen.push(s);
        out
    };
    run(&["inspect", "--port", port]);
    run(&["backup", "--port", port, "--out", archive]);
    run(&["backup", "verify", archive]);
    run(&["rebind", "card", "--port", port, "--order", card, "--dry-run"]);
    // No terminal to ask for confirmation on: refused, nothing changed.
    run(&["rebind", "card", "--port", port, "--order", card]);
    let done = run(&["rebind", "card", "--port", port, "--order", card, "--yes"]);
    assert!(done.status.success(), "{}", stderr(&done));
    // The same order again, and a change within the cooldown.
    run(&["rebind", "card", "--port", port, "--order", card, "--yes"]);
    let again = card_order(&bench, &old, "WO-QPS-2", "6222020200112233445");
    run(&[rebind_args("card", &old, &again), vec!["--yes"]].concat());
    // An order that does not match the terminal.
    let mut wrong = card_fields(&old, "WO-QPS-WRONG", NEW_CARD);
    wrong.retain(|(k, _)| *k != "expect.tid");
    wrong.extend([
        ("expect.tid", "ZZ999999".to_string()),
        ("expect.status", "unbound".to_string()),
    ]);
    let wrong = bench.order("wrong.toml", &wrong);
    run(&[rebind_args("card", &old, &wrong), vec!["--yes"]].concat());
    // A restore without the provider's order.
    run(&["restore", archive, "--port", port, "--yes"]);
    let migrate = migrate_order(&bench, &old, "NEW-QPS1", "WO-QPS-3");
    let migrate = migrate.to_str().unwrap();
    run(&["migrate", "--from", port, "--to", to, "--order", migrate, "--dry-run"]);
    let moved = run(&["migrate", "--from", port, "--to", to, "--order", migrate, "--yes"]);
    assert!(moved.status.success(), "{}", stderr(&moved));

    let h = bench.path();
    let jobs = bench.store().jobs().unwrap();
    for job in &jobs {
        seen.push(qps(h, &["jobs", "show", &job.id]));
        let page = h.join(format!("{}.html", job.id));
        let written = qps(h, &["jobs", "receipt", &job.id, "--out", page.to_str().unwrap()]);
        seen.push(written);
        seen.push(Seen {
            what: format!("receipt of {}", job.id),
            text: visible_text(&std::fs::read_to_string(&page).unwrap()),
            data: Vec::new(),
        });
    }
    let queue = json_of(&posagent(h).args(["queue", "list", "--json"]).output().unwrap());
    for item in queue.as_array().into_iter().flatten() {
        // What the provider receives is shown as the document it is, after its heading.
        let mut shown = qps(h, &["queue", "show", item["id"].as_str().unwrap()]);
        let document = shown.text.find("\n{\n").expect("the submission's document");
        shown.text.truncate(document);
        seen.push(shown);
    }
    for args in [
        &["jobs", "list"][..],
        &["queue", "list"],
        &["orders", "list"],
        &["orders", "show", "WO-QPS-1"],
        &["backup", "list"],
        &["audit", "verify"],
        &["sync", "--provider", "https://127.0.0.1:9", "--max-wait", "0"],
    ] {
        seen.push(qps(h, args));
    }
    let mut data = records(&bench, &[&old, &new]);
    data.extend(["WO-QPS-WRONG", "ZZ999999"].map(String::from));
    assert_translated(&seen, &data);
    assert_every_error_has_help(&seen);
}

/// Pulling orders, a plan over them, delivery to the provider and the support desk's zip
/// speak only the catalogue too.
#[test]
fn plans_delivery_and_the_support_desk_speak_only_the_catalogue() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let plan = provider_plan(&bench, "qps-tech", &[card_fields(&sim, "WO-QPS-PLAN", NEW_CARD)]);
    let provider_dir = tempfile::tempdir().unwrap();
    let provider = common::sync::Provider::start(provider_dir.path(), 0, &["--orders", plan.to_str().unwrap()]);
    provider.configure(bench.path(), "qps-tech");
    let port = sim.port.to_str().unwrap();
    let bundle = bench.path().join("support.zip");
    let mut seen = Vec::new();
    for args in [
        &["orders", "pull"][..],
        &["orders", "list"],
        &["run", "--pulled", "--port", port, "--dry-run"],
        &["run", "--pulled", "--port", port, "--yes"],
        &["sync"],
        &["queue", "list"],
        &["jobs", "list"],
        &["support-bundle", "--out", bundle.to_str().unwrap()],
        &["support-bundle", "--out", bundle.to_str().unwrap()],
    ] {
        seen.push(qps_job_or_plain(&bench, args));
    }
    // The demo, in a data directory of its own.
    let demo = tempfile::tempdir().unwrap();
    seen.push(qps(demo.path(), &["demo"]));
    let job = &bench.store().jobs().unwrap()[0].id;
    for args in [&["jobs", "resume", job.as_str()][..], &["jobs", "abort", job.as_str()]] {
        seen.push(qps_job_or_plain(&bench, args));
    }
    let queue = json_of(
        &posagent(bench.path())
            .args(["queue", "list", "--json"])
            .output()
            .unwrap(),
    );
    let submission = queue[0]["id"].as_str().unwrap().to_string();
    seen.push(qps(bench.path(), &["queue", "retry", &submission]));
    let mut data = records(&bench, &[&sim]);
    data.extend(
        [
            "qps-tech",
            "WO-QPS-PLAN",
            "DEMO-OLD-0001",
            "DEMO-NEW-0002",
            "WO-DEMO-0001",
        ]
        .map(String::from),
    );
    data.push(provider.url.clone());
    assert_translated(&seen, &data);
    assert_every_error_has_help(&seen);
}

/// [`qps_job`] for the commands that take secrets, [`qps`] for the others.
fn qps_job_or_plain(bench: &Bench, args: &[&str]) -> Seen {
    let takes_secrets = matches!(args[0], "run" | "rebind" | "unbind" | "migrate" | "backup" | "restore")
        || matches!(args.get(1), Some(&"resume" | &"abort"));
    if takes_secrets {
        qps_job(bench, args).0
    } else {
        qps(bench.path(), args)
    }
}

/// What a technician meets at the keyboard in the pseudo-locale: the picker when two
/// terminals answer, the secret's prompt, the confirmation answered "no", and a backup's
/// bars on an 80-column terminal.
#[test]
fn prompts_pickers_and_bars_speak_only_the_catalogue() {
    let bench = Bench::default();
    let one = start_sim(&bench, "tty0", &["--serial", "PICK-0001"]);
    let two = start_sim(&bench, "tty1", &["--serial", "PICK-0002"]);
    let ports = format!("{}/tty*", bench.path().display());
    let at_keyboard = |args: &[&str]| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
        cmd.env("POSAGENT_HOME", bench.path())
            .env("POSAGENT_PORTS", &ports)
            .env("POSAGENT_LANG", "qps")
            .env_remove("POSAGENT_SECRET")
            .env_remove("POSAGENT_BACKUP_PASSWORD")
            .args(args);
        common::pty::PtyChild::spawn(cmd)
    };
    let wait = std::time::Duration::from_secs(60);
    let mut seen = Vec::new();
    let mut keep = |what: &str, p: &common::pty::PtyChild| {
        seen.push(Seen {
            what: what.to_string(),
            text: console::strip_ansi_codes(&p.screen).replace('\r', "\n"),
            data: Vec::new(),
        })
    };

    // Two terminals answer: the picker, a number, then the secret asked for.
    let mut p = at_keyboard(&["inspect"]);
    p.expect("2)", wait);
    p.send_line("2");
    p.send_secret(common::DEMO_SECRET);
    assert!(p.wait(wait).success(), "{}", p.screen);
    keep("inspect, picked", &p);

    // The confirmation, answered "no".
    let order = card_order(&bench, &one, "WO-QPS-KEY", NEW_CARD);
    let mut args = rebind_args("card", &one, &order);
    let secret = bench.secret.to_str().unwrap();
    let password = bench.password.to_str().unwrap();
    args.extend(["--secret-file", secret, "--password-file", password]);
    let mut p = at_keyboard(&args);
    p.expect("[y/N]", wait);
    p.send_line("n");
    assert_eq!(p.wait(wait).code(), Some(1), "{}", p.screen);
    keep("rebind card, answered no", &p);

    // A backup's bars.
    let zip = bench.path().join("keyboard.zip");
    let port = two.port.to_str().unwrap();
    let args = [
        "backup",
        "--port",
        port,
        "--out",
        zip.to_str().unwrap(),
        "--secret-file",
        secret,
        "--password-file",
        password,
    ];
    let mut p = at_keyboard(&args);
    assert!(p.wait(wait).success(), "{}", p.screen);
    keep("backup on a terminal", &p);

    let mut data = records(&bench, &[&one, &two]);
    data.extend(["PICK-0001", "PICK-0002", "WO-QPS-KEY", "keyboard.zip"].map(String::from));
    assert_translated(&seen, &data);
}
