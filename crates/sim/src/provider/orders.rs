//! The simulated provider's authority (docs/protocol.md §11) and the work orders it issues.
//!
//! - For each provider profile whose terminals enforce its authority, the provider holds
//!   the profile's training root (which the agent trusts in builds with the simulators)
//!   and an order key per key generation, made on first use and kept in its directory.
//!   The root's key statement (`GET /v1/keys`) delegates the current generation's key and
//!   lists the one before as retired.
//! - A plan (CSV: the columns of a plan, plus `technician`, and optionally `valid_until`,
//!   `checks.NAME` and `authority.NAME`) says what to issue. Each order is signed as it is
//!   served, with the authorisations of the terminals it changes, each for the change the
//!   terminal is at: the plan's `authority.counter` (`authority.replacement_counter` for a
//!   migration's new unit; 0 when absent) plus the changes of that terminal reported to
//!   this provider since. A migration's new unit and a restore bind a whole binding, which
//!   the provider knows from its records: here the plan's `authority.binding` (the
//!   binding's items, hex).

use std::collections::BTreeMap;
use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::authority::{self, Authorisation, DelegatedKey, Grant, Operation as AuthOp, Statement, target_digest};
use crate::order::RawOrder;
use crate::profile::ProfileSet;
use crate::signed::{self, SignedOrder};

/// How long an order is valid unless the plan says.
pub const DEFAULT_VALIDITY: chrono::Duration = chrono::Duration::days(7);
/// A year, in seconds.
const YEAR: u64 = 365 * 24 * 3600;

/// Which statement the provider serves.
#[derive(Debug, Clone)]
pub struct KeyOptions {
    /// The key generation: the statement's version, and which order key signs.
    pub generation: u32,
    /// How long the statement stands, from start.
    pub statement_ttl: std::time::Duration,
}

impl Default for KeyOptions {
    fn default() -> Self {
        KeyOptions {
            generation: 1,
            statement_ttl: std::time::Duration::from_secs(YEAR),
        }
    }
}

/// One profile's root, statement and current order key.
struct ProfileKeys {
    profile: String,
    key: Ed25519KeyPair,
    statement: Statement,
}

/// The provider's keys: one root, statement and order key per enforcing profile.
pub struct Keys {
    profiles: Vec<ProfileKeys>,
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// The order key of `profile`'s generation `generation`, made on first use.
fn order_key(dir: &Path, profile: &str, generation: u32) -> Result<Ed25519KeyPair, String> {
    let file = dir.join(format!("order-key-{profile}-{generation}.pk8"));
    if !file.exists() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|e| e.to_string())?;
        crate::private::write_new(&file, pkcs8.as_ref()).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ed25519KeyPair::from_pkcs8(&bytes).map_err(|e| format!("{}: {e}", file.display()))
}

fn delegated(key: &Ed25519KeyPair, valid_from: u64, valid_until: u64) -> DelegatedKey {
    let public_key: [u8; 32] = key.public_key().as_ref().try_into().expect("32 bytes");
    DelegatedKey {
        key_id: authority::key_id(&public_key),
        public_key,
        valid_from,
        valid_until,
    }
}

impl Keys {
    /// The keys in `dir` for every profile that enforces the provider's authority.
    pub fn ensure(dir: &Path, profiles: &ProfileSet, o: &KeyOptions) -> Result<Keys, String> {
        let now = unix_now();
        let mut all = Vec::new();
        for (p, _) in profiles.iter().filter(|(p, _)| p.authority.enforced) {
            let key = order_key(dir, &p.name, o.generation)?;
            let mut keys = Vec::new();
            // The generation before is listed, retired: it signed until this one began.
            if o.generation > 1
                && dir
                    .join(format!("order-key-{}-{}.pk8", p.name, o.generation - 1))
                    .exists()
            {
                let old = order_key(dir, &p.name, o.generation - 1)?;
                keys.push(delegated(&old, now - 2 * YEAR, now - 1));
            }
            keys.push(delegated(&key, now - YEAR, now + YEAR));
            let statement = Statement::sign(
                o.generation,
                now + o.statement_ttl.as_secs(),
                &keys,
                &authority::training_root(&p.name),
            );
            all.push(ProfileKeys {
                profile: p.name.clone(),
                key,
                statement,
            });
        }
        Ok(Keys { profiles: all })
    }

    /// The statements, as `GET /v1/keys` serves them (each value hex).
    pub fn statements(&self) -> Vec<String> {
        self.profiles
            .iter()
            .map(|p| hex::encode(p.statement.to_bytes()))
            .collect()
    }

    fn of(&self, profile: &str) -> Option<&ProfileKeys> {
        self.profiles.iter().find(|p| p.profile == profile)
    }
}

/// A terminal's authorisation as planned: signed when the order is served, for the change
/// the terminal is at then.
#[derive(Debug, Clone)]
struct Planned {
    serial: String,
    /// The change it was at when the plan was written.
    base: u32,
    operation: AuthOp,
    target: [u8; 32],
}

/// An order to issue to a technician.
pub struct Issued {
    pub technician: String,
    pub id: String,
    profile: String,
    /// The order without its authorisations.
    order: serde_json::Value,
    grants: Vec<Planned>,
    not_after: u64,
}

/// Reads the plan: one order per row.
pub fn plan(plan: &Path, profiles: &ProfileSet) -> Result<Vec<Issued>, String> {
    let text = crate::input::read_text(plan, crate::input::MAX_ORDER_FILE, "order plan").map_err(|e| e.to_string())?;
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: {e}", plan.display()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let now = chrono::Utc::now();
    let mut issued = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let at = |what: String| format!("{} row {}: {what}", plan.display(), n + 1);
        let row = row.map_err(|e| at(e.to_string()))?;
        let mut fields = BTreeMap::new();
        let mut checks = serde_json::Map::new();
        let mut auth = BTreeMap::new();
        let (mut technician, mut valid_until) = (None, None);
        for (h, v) in headers.iter().zip(row.iter()).filter(|(_, v)| !v.trim().is_empty()) {
            match h.as_str() {
                "technician" => technician = Some(v.to_string()),
                "valid_until" => valid_until = Some(v.to_string()),
                c if c.starts_with("checks.") => {
                    checks.insert(c["checks.".len()..].to_string(), v.into());
                }
                c if c.starts_with("authority.") => {
                    auth.insert(c["authority.".len()..].to_string(), v.to_string());
                }
                f => {
                    fields.insert(f.to_string(), v.to_string());
                }
            }
        }
        let (Some(id), Some(technician)) = (fields.get("id").cloned(), technician) else {
            return Err(at("every row needs id and technician".into()));
        };
        let valid_until =
            valid_until.unwrap_or_else(|| (now + DEFAULT_VALIDITY).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let not_after = chrono::DateTime::parse_from_rfc3339(&valid_until)
            .map_err(|_| at(format!("valid_until {valid_until} is not an RFC 3339 time")))?
            .timestamp();
        let profile = fields.get("profile").cloned().unwrap_or_default();
        let grants = grants(plan, &fields, &auth, profiles).map_err(at)?;
        fields.remove("id");
        let order = serde_json::json!({
            "id": id,
            "technician": technician,
            "issued_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "valid_until": valid_until,
            "fields": fields,
            "checks": checks,
        });
        issued.push(Issued {
            technician,
            id,
            profile,
            order,
            grants,
            not_after: u64::try_from(not_after).unwrap_or(0),
        });
    }
    Ok(issued)
}

/// The authorisations an order's row plans: none for a profile that does not enforce the
/// provider's authority, or an order that is not valid (it is issued as it is, and the
/// agent refuses it).
fn grants(
    plan: &Path,
    fields: &BTreeMap<String, String>,
    auth: &BTreeMap<String, String>,
    profiles: &ProfileSet,
) -> Result<Vec<Planned>, String> {
    let enforced = fields
        .get("profile")
        .and_then(|p| profiles.get(p).ok())
        .is_some_and(|p| p.authority.enforced);
    if !enforced {
        return Ok(Vec::new());
    }
    let counter = |name: &str| -> Result<u32, String> {
        auth.get(name).map_or(Ok(0), |v| {
            v.parse().map_err(|_| format!("authority.{name} {v} is not a number"))
        })
    };
    let binding = || -> Result<Vec<u8>, String> {
        let text = auth
            .get("binding")
            .ok_or("authority.binding (the binding's items, hex) is needed to bind a whole binding")?;
        hex::decode(text).map_err(|_| "authority.binding is not hex".to_string())
    };
    let serial = fields.get("expect.serial").cloned().unwrap_or_default();
    let main = |operation, target| Planned {
        serial: serial.clone(),
        base: 0,
        operation,
        target,
    };
    if fields.get("operation").map(String::as_str) == Some(crate::job::gate::RESTORE_OPERATION) {
        return Ok(vec![Planned {
            base: counter("counter")?,
            ..main(AuthOp::Restore, target_digest(Some(&binding()?)))
        }]);
    }
    // Scans are named relative to the plan.
    let Ok(order) = crate::order::validate(&RawOrder::of_fields(plan, fields), profiles) else {
        return Ok(Vec::new());
    };
    let op = crate::job::gate::main_operation_of(order.operation);
    let mut planned = vec![Planned {
        base: counter("counter")?,
        ..main(op, target_digest(crate::job::rebind_items(&order).as_deref()))
    }];
    if let Some(new) = order.replacement.as_ref().and_then(|r| r.serial.clone()) {
        planned.push(Planned {
            serial: new,
            base: counter("replacement_counter")?,
            operation: AuthOp::MigrateIn,
            target: target_digest(Some(&binding()?)),
        });
    }
    Ok(planned)
}

impl Issued {
    /// The order as served now: its authorisations for the changes its terminals are at
    /// (`changes` says how many changes of a terminal were reported since the plan), and
    /// the whole signed with the order key of its profile (a profile without one: the
    /// key of the first profile that has one, which its agent will not trust).
    pub fn signed(&self, keys: &Keys, changes: &dyn Fn(&str) -> u32) -> Result<SignedOrder, String> {
        let k = keys
            .of(&self.profile)
            .or_else(|| keys.profiles.first())
            .ok_or("the provider has no order key")?;
        let mut order = self.order.clone();
        let authority: serde_json::Map<String, serde_json::Value> = self
            .grants
            .iter()
            .map(|g| {
                let a = Authorisation::sign(
                    &Grant {
                        serial: &g.serial,
                        counter: g.base + changes(&g.serial),
                        operation: g.operation,
                        target: g.target,
                        not_after: self.not_after,
                    },
                    &k.key,
                );
                (g.serial.clone(), hex::encode(a.to_bytes()).into())
            })
            .collect();
        if !authority.is_empty() {
            order["authority"] = authority.into();
        }
        signed::sign(order, &k.key)
    }

    /// What a submission on the order must match.
    pub fn facts(&self) -> super::ledger::Issued {
        let strings = |k: &str| -> BTreeMap<String, String> {
            self.order[k]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        };
        super::ledger::Issued {
            technician: self.technician.clone(),
            fields: strings("fields"),
            checks: strings("checks"),
        }
    }
}
