//! `posagent run`: a plan over eight simulated terminals in parallel, one of them faulty.

mod common;

use std::path::PathBuf;

use common::Sim;
use common::jobs::*;

/// A phone rebind at the counter for each sim's terminal; the holder's ID scan beside it.
fn orders(bench: &Bench, sims: &[Sim]) -> Vec<Vec<(&'static str, String)>> {
    std::fs::write(bench.path().join("holder-id.jpg"), b"scan of the holder's ID").unwrap();
    sims.iter()
        .enumerate()
        .map(|(i, sim)| {
            let mut f = expect_fields(sim, &format!("WO-RUN-{i}"), "rebind-phone", "generic");
            f.extend([
                ("new.phone", "13900001111".to_string()),
                ("new.phone_path", "counter".to_string()),
                ("scan.holder_id", "holder-id.jpg".to_string()),
            ]);
            f
        })
        .collect()
}

/// The plan as TOML `[[order]]` tables.
fn plan(bench: &Bench, sims: &[Sim]) -> PathBuf {
    let mut text = String::new();
    for f in orders(bench, sims) {
        text.push_str("[[order]]\n");
        for (k, v) in f {
            text.push_str(&format!("{k} = \"{v}\"\n"));
        }
    }
    let p = bench.path().join("plan.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The plan as CSV, one order per row.
fn csv_plan(bench: &Bench, sims: &[Sim]) -> PathBuf {
    let rows = orders(bench, sims);
    let header: Vec<&str> = rows[0].iter().map(|(k, _)| *k).collect();
    let mut text = header.join(",") + "\n";
    for f in &rows {
        text.push_str(&f.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(","));
        text.push('\n');
    }
    let p = bench.path().join("plan.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn start(bench: &Bench, i: usize, faults: Option<&str>) -> Sim {
    let serial = format!("RUN-SN-{i:04}");
    let seed = (100 + i).to_string();
    // Plans are local files: the generic profile's terminals take them.
    let mut extra = vec!["--serial", &serial, "--seed", &seed, "--profile", "generic"];
    if let Some(f) = faults {
        extra.extend(["--faults", f]);
    }
    start_sim(bench, &format!("t{i}"), &extra)
}

/// `posagent run PLAN --jobs 8 --documents-checked --port …` over the sims' ports.
fn run_args(plan: &std::path::Path, sims: &[Sim]) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        plan.display().to_string(),
        "--jobs".into(),
        "8".into(),
        "--documents-checked".into(),
    ];
    for s in sims {
        args.extend(["--port".into(), s.port.display().to_string()]);
    }
    args
}

/// Runs the plan over the sims' ports; the result lines and the exit code.
fn run(bench: &Bench, plan: &std::path::Path, sims: &[Sim]) -> (Vec<serde_json::Value>, Option<i32>, String) {
    let args = run_args(plan, sims);
    let out = bench.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let results = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "result")
        .collect();
    (results, out.status.code(), stderr(&out))
}

fn by_status<'a>(results: &'a [serde_json::Value], status: &str) -> Vec<&'a serde_json::Value> {
    results.iter().filter(|r| r["status"] == status).collect()
}

#[test]
fn a_plan_over_eight_terminals_survives_a_faulty_one_and_a_rerun_finishes_it() {
    let bench = Bench::default();
    let mut sims: Vec<Sim> = (0..7).map(|i| start(&bench, i, None)).collect();
    sims.push(start(&bench, 7, None));
    let plan = plan(&bench, &sims);
    // The eighth terminal starts answering BUSY to everything.
    sims.pop();
    sims.push(start(&bench, 7, Some("busy=1")));

    let (results, code, err) = run(&bench, &plan, &sims);
    assert_eq!(code, Some(69), "{err}");
    assert_eq!(results.len(), 8, "one result per order: {err}");
    assert_eq!(by_status(&results, "done").len(), 7, "{results:?}");
    let failed = by_status(&results, "failed");
    assert_eq!(failed.len(), 1, "{results:?}");
    assert_eq!(failed[0]["terminal"], "RUN-SN-0007");
    assert!(
        failed[0]["error"].as_str().unwrap().contains("did not answer"),
        "{failed:?}"
    );
    let first_jobs: Vec<_> = bench.store().jobs().unwrap();
    assert_eq!(first_jobs.len(), 7);
    // One receipt per order that ran, in the receipts directory, named by its job.
    for r in by_status(&results, "done") {
        let receipt = std::path::Path::new(r["receipt"].as_str().expect("a receipt per order"));
        assert_eq!(receipt.parent(), Some(bench.path().join("receipts").as_path()));
        assert!(
            std::fs::read_to_string(receipt)
                .unwrap()
                .contains(r["order"].as_str().unwrap())
        );
    }
    assert!(failed[0].get("receipt").is_none(), "no job ran, so no receipt");

    // The fault is cleared (the unit restarts without it) and the plan runs again.
    sims.pop();
    sims.push(start(&bench, 7, None));
    let (results, code, err) = run(&bench, &plan, &sims);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(by_status(&results, "skipped").len(), 7, "{results:?}");
    let done = by_status(&results, "done");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["terminal"], "RUN-SN-0007");
    let jobs = bench.store().jobs().unwrap();
    assert_eq!(jobs.len(), 8, "no new job for the seven finished orders");
    for j in &first_jobs {
        let now = jobs.iter().find(|x| x.id == j.id).unwrap();
        assert_eq!(
            (now.state, &now.updated_at),
            (j.state, &j.updated_at),
            "{} untouched",
            j.order_id
        );
    }
    for sim in &sims {
        assert_eq!(
            common::connect(sim).read_binding().unwrap().phone.unwrap().as_str(),
            "13900001111"
        );
    }
    assert_eq!(bench.store().submissions().unwrap().len(), 8);

    // A plan that is all done needs no terminal, secret or password.
    let again = common::posagent(bench.path())
        .args(["run", plan.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let skipped = String::from_utf8_lossy(&again.stdout)
        .lines()
        .filter(|l| l.contains("\"status\":\"skipped\""))
        .count();
    assert_eq!(skipped, 8);
}

#[test]
fn a_run_killed_mid_plan_is_resumed_from_the_journal_by_running_the_plan_again() {
    let bench = Bench::default();
    let sims: Vec<Sim> = (0..2).map(|i| start(&bench, 30 + i, None)).collect();
    let plan = plan(&bench, &sims);
    let args = run_args(&plan, &sims);
    let killed = bench
        .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .args(["--yes", "--json"])
        .env("POSAGENT_KILL_AT", "after:backup")
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(killed.status.code(), None, "killed by SIGKILL: {}", stderr(&killed));
    let interrupted: Vec<_> = bench.store().jobs().unwrap();
    assert!(
        interrupted.iter().any(|j| j.state.as_str() == "running"),
        "{interrupted:?}"
    );

    let (results, code, err) = run(&bench, &plan, &sims);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(by_status(&results, "done").len(), 2, "{results:?}");
    let jobs = bench.store().jobs().unwrap();
    assert_eq!(jobs.len(), 2, "the interrupted jobs were resumed, not started again");
    for j in &interrupted {
        assert!(
            jobs.iter().any(|x| x.id == j.id && x.state.as_str() == "done"),
            "{j:?} resumed"
        );
    }
    assert_eq!(bench.store().submissions().unwrap().len(), 2);
}

#[test]
fn a_dry_run_of_a_csv_plan_maps_every_order_to_its_port_and_changes_nothing() {
    let bench = Bench::default();
    let sims: Vec<Sim> = (0..2).map(|i| start(&bench, 20 + i, None)).collect();
    let plan = csv_plan(&bench, &sims);
    let out = bench.run(&[
        "run",
        plan.to_str().unwrap(),
        "--dry-run",
        "--port",
        sims[0].port.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    // The report, then the error document.
    let doc = common::json_docs(&out).swap_remove(0);
    let orders = doc["orders"].as_array().unwrap();
    assert_eq!(orders[0]["status"], "planned");
    assert_eq!(orders[0]["port"], sims[0].port.display().to_string());
    assert_eq!(
        orders[1]["status"], "failed",
        "the second terminal's port was not probed"
    );
    assert!(bench.store().jobs().unwrap().is_empty());
}

#[test]
fn the_demo_migrates_syncs_and_stops_what_it_started() {
    let home = tempfile::tempdir().unwrap();
    let out = common::posagent(home.path())
        .args(["demo", "--json"])
        .timeout(std::time::Duration::from_secs(240))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // One document: the demo's summary.
    let docs = common::json_docs(&out);
    assert_eq!(docs.len(), 1, "{docs:?}");
    let doc = &docs[0];
    assert_eq!(doc["job_state"], "done", "{doc}");
    assert_eq!(doc["submission"]["state"], "accepted", "{doc}");
    let backup = PathBuf::from(doc["backup"].as_str().unwrap());
    let password = std::fs::read_to_string(doc["backup_password_file"].as_str().unwrap()).unwrap();
    let t = std::process::Command::new("7z")
        .args(["t", &format!("-p{}", password.trim())])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stdout));
    let data_dir = doc["data_dir"].as_str().unwrap().to_string();
    let left = common::processes_mentioning(&data_dir);
    assert!(left.is_empty(), "processes left running: {left:?}");
    std::fs::remove_dir_all(&data_dir).unwrap();
}

#[test]
fn a_dry_run_authenticates_and_compares_so_a_wrong_tid_or_a_locked_terminal_is_reported() {
    let bench = Bench::default();
    let sims: Vec<Sim> = (0..3).map(|i| start(&bench, 40 + i, None)).collect();
    let mut rows = orders(&bench, &sims);
    for (k, v) in rows[1].iter_mut() {
        if *k == "expect.tid" {
            *v = "ZZ999999".into();
        }
    }
    let mut text = String::new();
    for f in rows {
        text.push_str("[[order]]\n");
        for (k, v) in f {
            text.push_str(&format!("{k} = \"{v}\"\n"));
        }
    }
    let plan = bench.path().join("plan.toml");
    std::fs::write(&plan, text).unwrap();
    let read = |s: &Sim| common::connect(s).read_binding().unwrap();
    let before = [read(&sims[0]), read(&sims[1])];
    // Lock the third terminal out with wrong secrets.
    let wrong = posagent::terminal::Secret::new(b"not-the-secret".to_vec());
    let settings = posagent::profile::ProfileSet::builtin()
        .unwrap()
        .get("lakala")
        .unwrap()
        .serial
        .clone();
    for _ in 0..5 {
        let mut t = posagent::terminal::Terminal::open(&sims[2].port, &settings).unwrap();
        assert!(t.authenticate(&wrong).is_err());
    }
    let mut args = vec!["run", plan.to_str().unwrap(), "--dry-run"];
    for s in &sims {
        args.extend(["--port", s.port.to_str().unwrap()]);
    }
    let out = bench.run(&args);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = common::json_docs(&out).swap_remove(0);
    let orders = doc["orders"].as_array().unwrap();
    assert_eq!(orders[0]["status"], "planned", "{doc}");
    assert_eq!(orders[1]["status"], "failed");
    assert!(orders[1]["error"].as_str().unwrap().contains("expect.tid"), "{doc}");
    assert_eq!(orders[2]["status"], "failed");
    assert!(orders[2]["error"].as_str().unwrap().contains("locked"), "{doc}");
    assert!(bench.store().jobs().unwrap().is_empty(), "a dry run leaves no job");
    let list = common::posagent(bench.path())
        .args(["jobs", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(common::json_of(&list), serde_json::json!([]));
    assert_eq!(before, [read(&sims[0]), read(&sims[1])], "nothing changed");
}
