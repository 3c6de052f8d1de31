//! Work orders the provider signs: pulled over loopback TLS, verified offline, carried out
//! once; every order that is not the provider's authorisation for this terminal, this
//! technician and this moment is refused with exit 77 before anything changes.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::jobs::*;
use common::sync::Provider;
use common::{Sim, connect, json_of, posagent, secret_file};

const TECH: &str = "tech-7";

/// A data directory with the provider's profiles as shipped (signed orders only).
struct Desk {
    dir: tempfile::TempDir,
    secret: PathBuf,
    password: PathBuf,
}

impl Desk {
    fn new() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let secret = secret_file(dir.path(), "secret", common::DEMO_SECRET);
        let password = secret_file(dir.path(), "password", BACKUP_PASSWORD);
        Desk { dir, secret, password }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn configure(&self, technician: &str, provider: &Provider) {
        provider.configure(self.path(), technician);
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        posagent(self.path())
            .args(args)
            .arg("--secret-file")
            .arg(&self.secret)
            .arg("--password-file")
            .arg(&self.password)
            .args(["--yes", "--json"])
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap()
    }

    fn rebind_card(&self, sim: &Sim, order: &str) -> std::process::Output {
        self.run(&["rebind", "card", "--port", sim.port.to_str().unwrap(), "--order", order])
    }

    fn pull(&self) -> serde_json::Value {
        let out = posagent(self.path())
            .args(["orders", "pull", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        json_of(&out)
    }
}

/// The provider's plan: one row per order, the union of the rows' columns.
fn plan(dir: &Path, rows: &[Vec<(&str, String)>]) -> PathBuf {
    let columns: BTreeSet<&str> = rows.iter().flat_map(|r| r.iter().map(|(k, _)| *k)).collect();
    let mut text = columns.iter().copied().collect::<Vec<_>>().join(",") + "\n";
    for r in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                r.iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect();
        text.push_str(&(cells.join(",") + "\n"));
    }
    let p = dir.join("provider-orders.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn order(sim: &Sim, id: &str, technician: &str, extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut f = card_fields(sim, id, NEW_CARD);
    f.push(("technician", technician.to_string()));
    f.extend(extra.iter().cloned());
    f
}

/// A validity that runs out two seconds from now.
fn soon() -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Waits until the orders that expire [`soon`] have.
fn after_soon() {
    std::thread::sleep(std::time::Duration::from_secs(3));
}

struct World {
    desk: Desk,
    a: Sim,
    b: Sim,
    provider: Provider,
    _providers: tempfile::TempDir,
}

fn world() -> World {
    let desk = Desk::new();
    let a = Sim::start(
        desk.path(),
        "ttyA",
        &[
            "--serial",
            "ORD-AAAA",
            "--profile",
            "lakala",
            "--baud",
            common::FAST_BAUD,
        ],
    );
    let b = Sim::start(
        desk.path(),
        "ttyB",
        &[
            "--serial",
            "ORD-BBBB",
            "--profile",
            "lakala",
            "--seed",
            "4",
            "--baud",
            common::FAST_BAUD,
        ],
    );
    let later = (chrono::Local::now().date_naive() + chrono::Duration::days(10)).to_string();
    let rows = vec![
        order(&a, "WO-1", TECH, &[]),
        order(&a, "WO-COOL", TECH, &[("checks.card_cooldown_clear_until", later)]),
        order(&a, "WO-OTHER-TECH", "someone-else", &[]),
        order(&b, "WO-FOR-B", TECH, &[]),
        order(&a, "WO-OLD", TECH, &[("valid_until", soon())]),
        order(&a, "WO-TAMPER", TECH, &[]),
    ];
    let providers = tempfile::tempdir().unwrap();
    let plan = plan(desk.path(), &rows);
    let provider = Provider::start(providers.path(), 0, &["--orders", plan.to_str().unwrap()]);
    desk.configure(TECH, &provider);
    World {
        desk,
        a,
        b,
        provider,
        _providers: providers,
    }
}

fn refused_77(out: &std::process::Output, needle: &str) {
    assert_eq!(out.status.code(), Some(77), "{}", stderr(out));
    let text = stderr(out);
    assert!(text.contains(needle) && text.contains("othing was changed"), "{text}");
}

#[test]
fn a_pulled_order_runs_once_and_is_delivered() {
    let w = world();
    let pulled = w.desk.pull();
    let ids: Vec<&str> = pulled["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5, "the other technician's order is not served: {ids:?}");
    // Kept until its validity runs out: a later pull forgets the one that expired.
    after_soon();
    let again = w.desk.pull();
    assert!(
        again["refused"].as_array().unwrap().iter().any(|r| r[0] == "WO-OLD"),
        "{again}"
    );
    // A job on the order the pull refused says so, with why (77), not that it cannot find
    // an order file.
    let out = w.desk.rebind_card(&w.a, "WO-OLD");
    refused_77(&out, "was not kept when it was pulled");
    assert!(stderr(&out).contains("order_refused_at_pull"), "{}", stderr(&out));
    let list = json_of(
        &posagent(w.desk.path())
            .args(["orders", "list", "--json"])
            .output()
            .unwrap(),
    );
    let wo1 = list.as_array().unwrap().iter().find(|o| o["id"] == "WO-1").unwrap();
    assert_eq!(
        (wo1["operation"].as_str(), wo1["serial"].as_str(), wo1["state"].as_str()),
        (Some("rebind-card"), Some("ORD-AAAA"), Some("pulled"))
    );
    let show = posagent(w.desk.path())
        .args(["orders", "show", "WO-1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("622848*********4554") && !text.contains(NEW_CARD),
        "{text}"
    );

    let out = w.desk.rebind_card(&w.a, "WO-1");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = connect(&w.a).read_binding().unwrap();
    assert_eq!(after.card.as_ref().unwrap().pan.expose_full(), NEW_CARD);
    let sync = posagent(w.desk.path()).args(["sync", "--json"]).output().unwrap();
    assert_eq!(sync.status.code(), Some(0), "{}", stderr(&sync));
    // sync delivers, then pulls again: the executed order is no longer served.
    assert_eq!(
        json_of(&sync)["orders_pulled"],
        3,
        "neither the executed nor the expired order"
    );
    let store = posagent::store::Store::open(w.desk.path()).unwrap();
    let sub = store.submissions().unwrap().remove(0);
    assert_eq!(
        (sub.state.as_str(), sub.payload["order_signed"].as_bool()),
        ("accepted", Some(true))
    );
    // The same order again: refused before the terminal is touched.
    let again = w.desk.rebind_card(&w.a, "WO-1");
    refused_77(&again, "already carried out");
    assert_eq!(connect(&w.a).read_binding().unwrap(), after);
}

#[test]
fn orders_that_are_not_the_providers_authorisation_are_refused_with_77() {
    let w = world();
    w.desk.pull();
    let before = connect(&w.a).read_binding().unwrap();
    // Another terminal's order on this one.
    refused_77(&w.desk.rebind_card(&w.a, "WO-FOR-B"), "issued for terminal ORD-BBBB");
    // Expired.
    after_soon();
    refused_77(&w.desk.rebind_card(&w.a, "WO-OLD"), "valid until");
    // Altered after signing: one digit of the card.
    {
        let mut store = posagent::store::Store::open(w.desk.path()).unwrap();
        let keys = posagent::seal::LocalKeys::load_or_create(w.desk.path()).unwrap();
        let mut doc = posagent::sync::orders::document(&store, &keys, "WO-TAMPER")
            .unwrap()
            .unwrap();
        doc.order["fields"]["new.card"] = "6228480011223344562".into();
        let row = store
            .pulled_orders()
            .unwrap()
            .into_iter()
            .find(|o| o.id == "WO-TAMPER")
            .unwrap();
        store
            .save_pulled(&row, &keys.seal(&serde_json::to_vec(&doc).unwrap()))
            .unwrap();
    }
    refused_77(&w.desk.rebind_card(&w.a, "WO-TAMPER"), "does not verify");
    // Another technician's order, pulled under that name.
    w.desk.configure("someone-else", &w.provider);
    w.desk.pull();
    w.desk.configure(TECH, &w.provider);
    refused_77(
        &w.desk.rebind_card(&w.a, "WO-OTHER-TECH"),
        "issued to technician someone-else",
    );
    // Signed by a key no statement held here delegates (the statements forgotten).
    rusqlite::Connection::open(w.desk.path().join("posagent.db"))
        .unwrap()
        .execute("DELETE FROM key_statements", [])
        .unwrap();
    refused_77(&w.desk.rebind_card(&w.a, "WO-1"), "no key statement");
    assert_eq!(connect(&w.a).read_binding().unwrap(), before, "nothing changed");
    // As a technician would check it.
    let inspect = posagent(w.desk.path())
        .args([
            "inspect",
            "--json",
            "--port",
            w.a.port.to_str().unwrap(),
            "--secret-file",
        ])
        .arg(&w.desk.secret)
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    assert_eq!(
        json_of(&inspect)["binding"]["card"]["pan"],
        before.card.as_ref().unwrap().pan.to_string(),
        "the card on the terminal is the one it had"
    );
    assert_eq!(
        connect(&w.b).status().unwrap().status,
        posagent::domain::DeviceStatus::Bound
    );
}

#[test]
fn the_providers_signed_cooldown_check_refuses_with_its_date() {
    let w = world();
    w.desk.pull();
    let before = connect(&w.a).read_binding().unwrap();
    let out = w.desk.rebind_card(&w.a, "WO-COOL");
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let later = (chrono::Local::now().date_naive() + chrono::Duration::days(10)).to_string();
    assert!(
        stderr(&out).contains(&format!("runs until {later}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(connect(&w.a).read_binding().unwrap(), before);
}

/// A desk with a Lakala terminal and a local (unsigned) card order `id` for it: the
/// order's file and its text.
fn local_lakala_order(id: &str) -> (Desk, Sim, PathBuf, String) {
    let desk = Desk::new();
    let sim = Sim::start(
        desk.path(),
        "tty",
        &["--profile", "lakala", "--baud", common::FAST_BAUD],
    );
    let local = desk.path().join("local.toml");
    let text: String = card_fields(&sim, id, NEW_CARD)
        .iter()
        .map(|(k, v)| format!("{k} = \"{v}\"\n"))
        .collect();
    std::fs::write(&local, &text).unwrap();
    (desk, sim, local, text)
}

#[test]
fn a_local_order_is_refused_on_a_provider_profile_and_marked_unsigned_on_the_generic_one() {
    let (desk, sim, local, _) = local_lakala_order("WO-LOCAL");
    let before = connect(&sim).read_binding().unwrap();
    let out = desk.rebind_card(&sim, local.to_str().unwrap());
    refused_77(&out, "require_signed");
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
    // The generic profile takes local orders, on its own terminals; the submission says so.
    let generic = Sim::start(
        desk.path(),
        "tty-generic",
        &["--profile", "generic", "--baud", common::FAST_BAUD],
    );
    let generic_order = desk.path().join("generic.toml");
    let text: String = card_fields_as(&generic, "WO-LOCAL-GENERIC", NEW_CARD, "generic")
        .iter()
        .map(|(k, v)| format!("{k} = \"{v}\"\n"))
        .collect();
    std::fs::write(&generic_order, text).unwrap();
    let out = desk.rebind_card(&generic, generic_order.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sub = posagent::store::Store::open(desk.path())
        .unwrap()
        .submissions()
        .unwrap()
        .remove(0);
    assert_eq!(sub.payload["order_signed"], false);
}

/// Side door: an order chose its own profile, and `profile = "generic"` on a Lakala
/// terminal skipped Lakala's rule that orders be signed. The terminal decides the profile:
/// it says which provider's authority it enforces, and an order naming another profile
/// is refused with 77.
#[test]
fn an_order_naming_another_profile_than_the_terminals_is_refused() {
    let (desk, sim, local, text) = local_lakala_order("WO-AS-GENERIC");
    let before = connect(&sim).read_binding().unwrap();
    std::fs::write(
        &local,
        text.replace("profile = \"lakala\"", "profile = \"generic\"")
            .replace("new.expiry = \"09/39\"\n", ""),
    )
    .unwrap();
    for dry in [true, false] {
        let mut args = vec!["rebind", "card", "--port", sim.port.to_str().unwrap(), "--order"];
        args.push(local.to_str().unwrap());
        if dry {
            args.push("--dry-run");
        }
        let out = desk.run(&args);
        refused_77(&out, "answers as a lakala terminal");
        assert!(stderr(&out).contains("order_other_profile"), "{}", stderr(&out));
    }
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
}

/// A dry run passes through the gate a real run does: an unsigned order on a profile
/// that wants signed ones is refused with 77 by both. A regression: the dry run once said
/// "all checks passed".
#[test]
fn a_dry_run_refuses_an_unsigned_order_as_the_real_run_does() {
    let (desk, sim, local, _) = local_lakala_order("WO-LOCAL-DRY");
    let before = connect(&sim).read_binding().unwrap();
    let port = sim.port.to_str().unwrap();
    let order = local.to_str().unwrap();
    let dry = desk.run(&["rebind", "card", "--port", port, "--order", order, "--dry-run"]);
    refused_77(&dry, "require_signed");
    let real = desk.run(&["rebind", "card", "--port", port, "--order", order]);
    refused_77(&real, "require_signed");
    assert_eq!(connect(&sim).read_binding().unwrap(), before);
}

/// The jobs of pulled orders, cut off by a crash, are neither stranded nor shown as
/// executed: `orders list` says interrupted, and `jobs resume` finishes one while `jobs
/// abort` rolls the other back. A regression: the resume once read `pulled:WO-…` as a file
/// and the terminal stayed blocked for good.
#[test]
fn the_job_of_a_pulled_order_cut_off_by_a_crash_resumes_or_aborts() {
    let w = world();
    w.desk.pull();
    let killed = |sim: &Sim, order: &str, at: &str| {
        let out = posagent(w.desk.path())
            .args(["rebind", "card", "--port", sim.port.to_str().unwrap(), "--order", order])
            .arg("--secret-file")
            .arg(&w.desk.secret)
            .arg("--password-file")
            .arg(&w.desk.password)
            .args(["--yes", "--json"])
            .env("POSAGENT_KILL_AT", at)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            Some(9),
            "{}",
            stderr(&out)
        );
    };
    let before_b = connect(&w.b).read_binding().unwrap();
    killed(&w.a, "WO-1", "after:unbind_old");
    killed(&w.b, "WO-FOR-B", "after:unbind_old");
    let list = json_of(
        &posagent(w.desk.path())
            .args(["orders", "list", "--json"])
            .output()
            .unwrap(),
    );
    let state = |id: &str| {
        let o = list.as_array().unwrap().iter().find(|o| o["id"] == id).unwrap();
        (
            o["state"].as_str().unwrap().to_string(),
            o["job"].as_str().unwrap().to_string(),
        )
    };
    let (state_a, job_a) = state("WO-1");
    let (state_b, job_b) = state("WO-FOR-B");
    assert_eq!(
        (state_a.as_str(), state_b.as_str()),
        ("interrupted", "interrupted"),
        "{list}"
    );
    let jobs = json_of(
        &posagent(w.desk.path())
            .args(["jobs", "list", "--json"])
            .output()
            .unwrap(),
    );
    assert!(
        jobs.as_array().unwrap().iter().all(|j| j["state"] == "interrupted"),
        "a job no process carries on is not shown running: {jobs}"
    );
    let carry_on = |verb: &str, job: &str| {
        posagent(w.desk.path())
            .args(["jobs", verb, job, "--yes", "--json"])
            .arg("--secret-file")
            .arg(&w.desk.secret)
            .arg("--password-file")
            .arg(&w.desk.password)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap()
    };
    let resumed = carry_on("resume", &job_a);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let after = connect(&w.a).read_binding().unwrap();
    assert_eq!(after.card.as_ref().unwrap().pan.expose_full(), NEW_CARD);
    let aborted = carry_on("abort", &job_b);
    assert_eq!(aborted.status.code(), Some(0), "{}", stderr(&aborted));
    assert_eq!(connect(&w.b).read_binding().unwrap(), before_b, "rolled back");
    let list = json_of(
        &posagent(w.desk.path())
            .args(["orders", "list", "--json"])
            .output()
            .unwrap(),
    );
    let a = list.as_array().unwrap().iter().find(|o| o["id"] == "WO-1").unwrap();
    assert_eq!(a["state"], "executed", "{list}");
}

#[test]
fn run_pulled_carries_out_the_pulled_orders_whose_terminal_is_connected() {
    let w = world();
    w.desk.pull();
    after_soon();
    // Only terminal A is connected (probed); B's order waits.
    let out = w.desk.run(&["run", "--pulled", "--port", w.a.port.to_str().unwrap()]);
    let events = common::json_docs(&out);
    let result = |id: &str| {
        events
            .iter()
            .find(|e| e["event"] == "result" && e["order"] == id)
            .map(|e| e["status"].as_str().unwrap().to_string())
    };
    assert_eq!(result("WO-FOR-B"), None, "B is not connected: {events:?}");
    assert_eq!(result("WO-OLD"), None, "an expired order is left alone");
    assert_eq!(
        result("WO-COOL").as_deref(),
        Some("failed"),
        "the provider's cooldown check refuses it"
    );
    let done: Vec<_> = ["WO-1", "WO-TAMPER"]
        .into_iter()
        .filter(|id| result(id).as_deref() == Some("done"))
        .collect();
    assert_eq!(done.len(), 1, "one card change per cooldown: {events:?}");
    assert_eq!(
        connect(&w.a).read_binding().unwrap().card.unwrap().pan.expose_full(),
        NEW_CARD
    );
}
