//! Helpers for job tests: a data directory with secrets, orders written from what a
//! simulated terminal holds, and job runs through the real binary.

use std::path::{Path, PathBuf};

use posagent::sim::terminal::activation_code_for;
use posagent::store::Store;
use posagent::terminal::model::AccountBinding;

use super::{DEMO_SECRET, FAST_BAUD, Sim, connect, posagent, secret_file};

pub const LEGAL_REP_ID: &str = "110105194910010023";
pub const NEW_CARD: &str = "6228480011223344554";
pub const NEW_ACCOUNT: &str = "0012345678901";
pub const BACKUP_PASSWORD: &str = "job-backup-password";

/// A data directory with the secrets a job needs.
pub struct Bench {
    pub dir: tempfile::TempDir,
    pub secret: PathBuf,
    pub password: PathBuf,
}

/// The provider profiles take only signed orders; these tests drive jobs with local order
/// files, so their data directory overrides that one rule (as a branch's own profile
/// override could) and nothing else.
pub fn accept_local_orders(home: &Path) {
    let dir = home.join("profiles");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["lakala", "ums", "shengpay", "ruiyinxin", "allinpay"] {
        let text = std::fs::read_to_string(super::fixtures().join(format!("../../profiles/{name}.toml"))).unwrap();
        assert!(text.contains("require_signed = true"), "{name}");
        std::fs::write(
            dir.join(format!("{name}.toml")),
            text.replace("require_signed = true", "require_signed = false"),
        )
        .unwrap();
    }
}

impl Default for Bench {
    fn default() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        accept_local_orders(dir.path());
        let secret = secret_file(dir.path(), "secret", DEMO_SECRET);
        let password = secret_file(dir.path(), "password", BACKUP_PASSWORD);
        Bench { dir, secret, password }
    }
}

impl Bench {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes an order from dotted fields.
    pub fn order(&self, name: &str, fields: &[(&str, String)]) -> PathBuf {
        let text: String = fields.iter().map(|(k, v)| format!("{k} = \"{v}\"\n")).collect();
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
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

/// Order fields for rebinding what `sim` holds to `card` (Lakala rules).
pub fn card_fields(sim: &Sim, id: &str, card: &str) -> Vec<(&'static str, String)> {
    let mut f = expect_fields(sim, id, "rebind-card", "lakala");
    f.extend([
        ("new.card", card.to_string()),
        ("new.holder", "李四".to_string()),
        ("new.expiry", "09/39".to_string()),
    ]);
    f
}

pub fn card_order(bench: &Bench, sim: &Sim, id: &str, card: &str) -> PathBuf {
    bench.order(&format!("{id}.toml"), &card_fields(sim, id, card))
}

/// Gives the simulated terminal a settlement account instead of its card.
pub fn make_account_bound(sim: &Sim) {
    let mut t = connect(sim);
    let mut b = t.read_binding().unwrap();
    b.card = None;
    b.account = Some(AccountBinding {
        number: "6217000010001234567".parse().unwrap(),
        holder: "张三".parse().unwrap(),
        bank: "中国建设银行".into(),
        branch: "105100000017".parse().unwrap(),
    });
    t.apply_binding(&b).unwrap();
}

pub fn account_order(bench: &Bench, sim: &Sim, id: &str) -> PathBuf {
    let mut f = expect_fields(sim, id, "rebind-account", "ums");
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

/// A phone change to [`NEW_PHONE`] on `path` (`sms` or `counter`); a counter order
/// carries the scan of the holder's ID.
pub fn phone_order_by(bench: &Bench, sim: &Sim, id: &str, path: &str) -> PathBuf {
    let mut f = expect_fields(sim, id, "rebind-phone", "generic");
    f.extend([
        ("new.phone", NEW_PHONE.to_string()),
        ("new.phone_path", path.to_string()),
    ]);
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
    let mut f = expect_fields(old, id, "migrate", "lakala");
    f.extend([
        ("reason", "device-replaced".to_string()),
        ("replacement.serial", new_serial.to_string()),
        ("replacement.model", "A8".to_string()),
        ("replacement.activation_code", activation_code_for(new_serial)),
    ]);
    bench.order(&format!("{id}.toml"), &f)
}

/// A simulated Lakala terminal at [`FAST_BAUD`] with 120 transactions, unless `extra` says
/// how many.
pub fn start_sim(bench: &Bench, name: &str, extra: &[&str]) -> Sim {
    let mut args = vec!["--baud", FAST_BAUD, "--profile", "lakala"];
    if !extra.contains(&"--transactions") {
        args.extend(["--transactions", "120"]);
    }
    args.extend_from_slice(extra);
    Sim::start(bench.path(), name, &args)
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
