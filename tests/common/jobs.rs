//! Helpers for job tests: a data directory with secrets, orders written from what a
//! simulated terminal holds, and job runs through the real binary.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;
use std::sync::Mutex;

use posagent::authority::{Authorisation, Grant, Operation as AuthOp, target_digest};
use posagent::config::Paths;
use posagent::profile::ProfileSet;
use posagent::sim::issuer::Issuer;
use posagent::sim::terminal::activation_code_for;
use posagent::store::Store;

use super::{DEMO_SECRET, FAST_BAUD, Sim, connect, connect_at, posagent, secret_file};

/// The value of `name` among `fields`.
fn field(fields: &[(&str, String)], name: &str) -> Option<String> {
    fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
}

pub const LEGAL_REP_ID: &str = "110105194910010023";
pub const NEW_CARD: &str = "6228480011223344554";
pub const NEW_ACCOUNT: &str = "0012345678901";
pub const BACKUP_PASSWORD: &str = "job-backup-password";

/// A data directory with the secrets a job needs, and the provider that issues its
/// orders: an order for a provider's terminals is signed with the authorisations of the
/// terminals it changes and kept as `orders pull` keeps it (the provider profiles take
/// only signed orders, and their terminals judge the authorisations); an order of the
/// generic profile is written as a local file.
pub struct Bench {
    pub dir: tempfile::TempDir,
    pub secret: PathBuf,
    pub password: PathBuf,
    /// The provider of each profile, made on first use.
    issuers: Mutex<BTreeMap<String, Issuer>>,
    /// Where the terminals started on this desk answer, by serial.
    ports: Mutex<BTreeMap<String, PathBuf>>,
}

impl Default for Bench {
    fn default() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let secret = secret_file(dir.path(), "secret", DEMO_SECRET);
        let password = secret_file(dir.path(), "password", BACKUP_PASSWORD);
        Bench {
            dir,
            secret,
            password,
            issuers: Mutex::default(),
            ports: Mutex::default(),
        }
    }
}

impl Bench {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remembers where the terminal `sim` answers (its change counter and binding are
    /// read from there when an order for it is issued).
    pub fn knows(&self, sim: &Sim) {
        self.ports.lock().unwrap().insert(sim.serial.clone(), sim.port.clone());
    }

    /// The order `name` from dotted fields: signed and pulled for a provider's profile
    /// (its id stands for it on the command line), else written as a local file.
    pub fn order(&self, name: &str, fields: &[(&str, String)]) -> PathBuf {
        let profile = field(fields, "profile").unwrap_or_default();
        let enforced = ProfileSet::builtin()
            .unwrap()
            .get(&profile)
            .is_ok_and(|p| p.authority.enforced);
        if !enforced {
            let text: String = fields.iter().map(|(k, v)| format!("{k} = \"{v}\"\n")).collect();
            let p = self.path().join(name);
            std::fs::write(&p, text).unwrap();
            return p;
        }
        let id = field(fields, "id").expect("an order id");
        let mut issuers = self.issuers.lock().unwrap();
        let issuer = self.issuer(&mut issuers, &profile);
        let rest: Vec<(&str, String)> = fields
            .iter()
            .filter(|(k, _)| *k != "id" && !k.starts_with("checks."))
            .cloned()
            .collect();
        let checks: Vec<(&str, String)> = fields
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("checks.").map(|c| (c, v.clone())))
            .collect();
        let signed = issuer.sign(&id, &rest, &checks, &self.authorisations(issuer, fields));
        issuer.deliver(&signed);
        PathBuf::from(id)
    }

    /// The provider's order `id` to restore `binding` on the Lakala terminal `sim`, signed
    /// with its authorisation and pulled.
    pub fn restore_order(&self, sim: &Sim, id: &str, binding: &posagent::terminal::model::Binding) {
        let mut issuers = self.issuers.lock().unwrap();
        let issuer = self.issuer(&mut issuers, "lakala");
        let a = issuer.authorise(&Grant {
            serial: &sim.serial,
            counter: connect(sim).status().unwrap().change_counter.unwrap(),
            operation: AuthOp::Restore,
            target: target_digest(Some(&binding.encode())),
            not_after: u64::try_from((chrono::Utc::now() + chrono::Duration::days(1)).timestamp()).unwrap(),
        });
        let fields = [
            ("operation", "restore".to_string()),
            ("profile", "lakala".to_string()),
            ("expect.serial", sim.serial.clone()),
        ];
        issuer.deliver(&issuer.sign(id, &fields, &[], &[a]));
    }

    /// The provider of `profile`, made on first use for this desk's technician.
    fn issuer<'a>(&self, issuers: &'a mut BTreeMap<String, Issuer>, profile: &str) -> &'a Issuer {
        issuers.entry(profile.to_string()).or_insert_with(|| {
            let paths = Paths::under(self.path());
            let technician = posagent::config::Config::load(&paths).unwrap().technician();
            Issuer::trusted_by(&paths, &technician, profile)
        })
    }

    /// The authorisations a provider signs into the order `fields`: each terminal it
    /// changes, for the change it is at.
    fn authorisations(&self, issuer: &Issuer, fields: &[(&str, String)]) -> Vec<Authorisation> {
        let map: BTreeMap<String, String> = fields
            .iter()
            .filter(|(k, _)| !k.starts_with("checks."))
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let Ok(order) = posagent::order::validate(
            // Scans named relative to the desk, where the agent runs.
            &posagent::order::RawOrder::of_fields(self.path().join("bench order"), &map),
            &ProfileSet::builtin().unwrap(),
        ) else {
            return Vec::new();
        };
        let ports = self.ports.lock().unwrap();
        let counter = |serial: &str| {
            ports
                .get(serial)
                .and_then(|p| connect_at(p).status().unwrap().change_counter)
                .unwrap_or(0)
        };
        let not_after = u64::try_from((chrono::Utc::now() + chrono::Duration::days(1)).timestamp()).unwrap();
        let serial = order.expect.serial.clone().unwrap_or_default();
        let operation = posagent::job::gate::main_operation_of(order.operation);
        let mut all = vec![issuer.authorise(&Grant {
            serial: &serial,
            counter: counter(&serial),
            operation,
            target: target_digest(posagent::job::rebind_items(&order).as_deref()),
            not_after,
        })];
        if let Some(new) = order.replacement.as_ref().and_then(|r| r.serial.clone()) {
            let binding = ports
                .get(&serial)
                .map(|p| connect_at(p).read_binding().unwrap().encode());
            all.push(issuer.authorise(&Grant {
                serial: &new,
                counter: counter(&new),
                operation: AuthOp::MigrateIn,
                target: target_digest(binding.as_deref()),
                not_after,
            }));
        }
        all
    }

    /// `posagent orders pull`: the provider's statements and orders, as the technician
    /// would pull them.
    pub fn pull(&self) -> serde_json::Value {
        let out = posagent(self.path())
            .args(["orders", "pull", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Runs posagent with the secrets, `--yes` and `--json`.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args)
            .args(["--yes", "--json"])
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap()
    }

    /// posagent with `args` and the secret files, nothing else.
    pub fn command(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = posagent(self.path());
        cmd.args(args)
            .arg("--secret-file")
            .arg(&self.secret)
            .arg("--password-file")
            .arg(&self.password);
        cmd
    }

    /// `posagent rebind KIND` (card, account, phone) on `sim` with `order` (a phone change
    /// on the counter path, the technician having seen the documents).
    pub fn rebind(&self, kind: &str, sim: &Sim, order: &Path) -> std::process::Output {
        let mut args = rebind_args(kind, sim, order);
        if kind == "phone" {
            args.push("--documents-checked");
        }
        self.run(&args)
    }

    /// `posagent rebind card` on `sim` with `order`.
    pub fn rebind_card(&self, sim: &Sim, order: &Path) -> std::process::Output {
        self.rebind("card", sim, order)
    }

    pub fn store(&self) -> Store {
        Store::open(self.path()).unwrap()
    }
}

/// `rebind KIND --port PORT --order ORDER`, to add flags to.
pub fn rebind_args<'a>(kind: &'a str, sim: &'a Sim, order: &'a Path) -> Vec<&'a str> {
    vec![
        "rebind",
        kind,
        "--port",
        sim.port.to_str().unwrap(),
        "--order",
        order.to_str().unwrap(),
    ]
}

/// The order fields that describe what `sim` holds now.
pub fn expect_fields(sim: &Sim, id: &str, op: &str, profile: &str) -> Vec<(&'static str, String)> {
    let b = connect(sim).read_binding().unwrap();
    let mut f = vec![
        ("id", id.to_string()),
        ("operation", op.to_string()),
        ("profile", profile.to_string()),
        ("merchant.mid", b.mid.unwrap().to_string()),
        ("merchant.name", "Test Shop".to_string()),
        ("merchant.kind", "individual".to_string()),
        ("merchant.legal_rep_id", LEGAL_REP_ID.to_string()),
        ("expect.serial", sim.serial.clone()),
        ("expect.tid", b.tid.unwrap().to_string()),
    ];
    // A card or account change says what the terminal settles to now.
    match (op, &b.card, &b.account) {
        ("rebind-card" | "rebind-account", Some(c), _) => f.push(("expect.card_last4", c.pan.last4().to_string())),
        ("rebind-card" | "rebind-account", None, Some(a)) => {
            f.push(("expect.account_last4", a.number.last4().to_string()))
        }
        ("rebind-phone", ..) => f.push(("expect.phone", b.phone.unwrap().as_str().to_string())),
        _ => {}
    }
    f
}

/// A provider's plan of `rows` (each an order's fields) issued to `technician`: the file
/// `posagent sim provider --orders` reads. A migration's row says the binding its new unit
/// takes over (`authority.binding`), which a provider knows from its records.
pub fn provider_plan(bench: &Bench, technician: &str, rows: &[Vec<(&str, String)>]) -> PathBuf {
    let mut columns: Vec<&str> = vec!["technician"];
    for r in rows {
        for (k, _) in r {
            if !columns.contains(k) {
                columns.push(k);
            }
        }
    }
    let mut text = columns.join(",") + "\n";
    for r in rows {
        let cell = |c: &str| {
            if c == "technician" {
                return technician.to_string();
            }
            r.iter()
                .find(|(k, _)| *k == c)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        text.push_str(&(columns.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",") + "\n"));
    }
    let p = bench.path().join("provider-plan.csv");
    std::fs::write(&p, text).unwrap();
    p
}

/// The binding `sim` holds, as a provider's plan gives it (`authority.binding`).
pub fn binding_hex(sim: &Sim) -> String {
    hex::encode(connect(sim).read_binding().unwrap().encode())
}

/// Order fields for rebinding what `sim` holds to `card` (Lakala rules).
pub fn card_fields(sim: &Sim, id: &str, card: &str) -> Vec<(&'static str, String)> {
    card_fields_as(sim, id, card, "lakala")
}

/// Order fields for rebinding what `sim` holds to `card`, under `profile`.
pub fn card_fields_as(sim: &Sim, id: &str, card: &str, profile: &str) -> Vec<(&'static str, String)> {
    let mut f = expect_fields(sim, id, "rebind-card", profile);
    f.extend([
        ("new.card", card.to_string()),
        ("new.holder", "李四".to_string()),
        ("new.expiry", "09/39".to_string()),
    ]);
    f
}

pub fn card_order(bench: &Bench, sim: &Sim, id: &str, card: &str) -> PathBuf {
    card_order_as(bench, sim, id, card, "lakala")
}

/// A card change of a terminal of `profile` (a local file for the generic profile).
pub fn card_order_as(bench: &Bench, sim: &Sim, id: &str, card: &str, profile: &str) -> PathBuf {
    bench.order(&format!("{id}.toml"), &card_fields_as(sim, id, card, profile))
}

pub fn account_order(bench: &Bench, sim: &Sim, id: &str) -> PathBuf {
    let mut f = expect_fields(sim, id, "rebind-account", "lakala");
    f.extend([
        ("reason", "bank-change".to_string()),
        ("new.account", NEW_ACCOUNT.to_string()),
        ("new.holder", "王五".to_string()),
        ("new.bank", "中国工商银行".to_string()),
        ("new.branch_code", "102100099996".to_string()),
    ]);
    bench.order(&format!("{id}.toml"), &f)
}

/// The number the phone-change orders move to.
pub const NEW_PHONE: &str = "13900001111";

/// The fields of a phone change to [`NEW_PHONE`] on `path` (`sms` or `counter`) of a
/// Lakala terminal.
pub fn phone_fields(sim: &Sim, id: &str, path: &str) -> Vec<(&'static str, String)> {
    phone_fields_as(sim, id, path, "lakala")
}

/// The fields of a phone change to [`NEW_PHONE`] on `path` of a terminal of `profile`.
pub fn phone_fields_as(sim: &Sim, id: &str, path: &str, profile: &str) -> Vec<(&'static str, String)> {
    let mut f = expect_fields(sim, id, "rebind-phone", profile);
    f.extend([
        ("new.phone", NEW_PHONE.to_string()),
        ("new.phone_path", path.to_string()),
    ]);
    f
}

/// A phone change to [`NEW_PHONE`] on `path` (`sms` or `counter`); a counter order
/// carries the scan of the holder's ID.
pub fn phone_order_by(bench: &Bench, sim: &Sim, id: &str, path: &str) -> PathBuf {
    phone_order_as(bench, sim, id, path, "lakala")
}

/// A phone change on `path` of a terminal of `profile` (a local file for the generic one).
pub fn phone_order_as(bench: &Bench, sim: &Sim, id: &str, path: &str, profile: &str) -> PathBuf {
    let mut f = phone_fields_as(sim, id, path, profile);
    if path == "counter" {
        std::fs::write(bench.path().join("holder-id.jpg"), b"scan of the holder's ID").unwrap();
        f.push(("scan.holder_id", "holder-id.jpg".to_string()));
    }
    bench.order(&format!("{id}.toml"), &f)
}

/// A phone change on the counter path (works offline).
pub fn phone_order(bench: &Bench, sim: &Sim, id: &str) -> PathBuf {
    phone_order_by(bench, sim, id, "counter")
}

pub fn migrate_order(bench: &Bench, old: &Sim, new_serial: &str, id: &str) -> PathBuf {
    bench.order(
        &format!("{id}.toml"),
        &migrate_fields(old, new_serial, "A8", id, "lakala"),
    )
}

/// The fields of a migration of `old` to the blank unit `new_serial` (of `model`) under
/// `profile`.
pub fn migrate_fields(
    old: &Sim,
    new_serial: &str,
    model: &str,
    id: &str,
    profile: &str,
) -> Vec<(&'static str, String)> {
    let mut f = expect_fields(old, id, "migrate", profile);
    f.extend([
        ("reason", "device-replaced".to_string()),
        ("replacement.serial", new_serial.to_string()),
        ("replacement.model", model.to_string()),
        ("replacement.activation_code", activation_code_for(new_serial)),
    ]);
    f
}

/// A simulated Lakala terminal at [`FAST_BAUD`] with 120 transactions, unless `extra` says
/// how many (or another profile), known to the bench's provider.
pub fn start_sim(bench: &Bench, name: &str, extra: &[&str]) -> Sim {
    let mut args = vec!["--baud", FAST_BAUD];
    if !extra.contains(&"--profile") {
        args.extend(["--profile", "lakala"]);
    }
    if !extra.contains(&"--transactions") {
        args.extend(["--transactions", "120"]);
    }
    args.extend_from_slice(extra);
    let sim = Sim::start(bench.path(), name, &args);
    bench.knows(&sim);
    sim
}

/// Everything a command said: errors go to stdout as JSON under `--json`, else to stderr.
pub fn stderr(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn the_job(bench: &Bench) -> posagent::store::jobs::JobRecord {
    let jobs = bench.store().jobs().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs.into_iter().next().unwrap()
}
