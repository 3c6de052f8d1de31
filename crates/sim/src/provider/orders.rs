//! The simulated provider issues work orders: a plan (CSV, the same columns as a plan
//! plus `technician`, and optionally `valid_until` and `checks.*`) is signed with the
//! provider's order key, made on first start and kept beside its certificates.

use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::signed::{self, OrderKey, SignedOrder};

/// The order key's private half (PKCS#8), in the provider's directory.
pub const ORDER_KEY: &str = "order-key.pk8";
/// Its public half, as an agent configures it (`provider.order_key_files`).
pub const ORDER_KEY_PUB: &str = "order-key.pub.json";
/// How long an order is valid unless the plan says.
pub const DEFAULT_VALIDITY: chrono::Duration = chrono::Duration::days(7);

/// Loads the order key, making it (and its public file) on first start.
pub fn ensure_key(dir: &Path) -> Result<Ed25519KeyPair, String> {
    let private = dir.join(ORDER_KEY);
    if !private.exists() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|e| e.to_string())?;
        crate::private::write_new(&private, pkcs8.as_ref()).map_err(|e| format!("{}: {e}", private.display()))?;
    }
    let bytes = std::fs::read(&private).map_err(|e| format!("{}: {e}", private.display()))?;
    let key = Ed25519KeyPair::from_pkcs8(&bytes).map_err(|e| format!("{}: {e}", private.display()))?;
    let public = OrderKey {
        algorithm: "ed25519".into(),
        public_key: hex::encode(key.public_key().as_ref()),
        valid_from: Some((chrono::Utc::now() - chrono::Duration::days(365)).to_rfc3339()),
        valid_until: None,
    };
    let text = serde_json::to_string_pretty(&public).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(ORDER_KEY_PUB), text).map_err(|e| e.to_string())?;
    Ok(key)
}

/// An order issued to a technician.
pub struct Issued {
    pub technician: String,
    pub order: SignedOrder,
}

/// Reads the plan and signs every row as one order.
pub fn issue(plan: &Path, key: &Ed25519KeyPair) -> Result<Vec<Issued>, String> {
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
    for row in reader.records() {
        let row = row.map_err(|e| format!("{}: {e}", plan.display()))?;
        let mut fields = serde_json::Map::new();
        let mut checks = serde_json::Map::new();
        let (mut id, mut technician, mut valid_until) = (None, None, None);
        for (h, v) in headers.iter().zip(row.iter()).filter(|(_, v)| !v.trim().is_empty()) {
            match h.as_str() {
                "id" => id = Some(v.to_string()),
                "technician" => technician = Some(v.to_string()),
                "valid_until" => valid_until = Some(v.to_string()),
                c if c.starts_with("checks.") => {
                    checks.insert(c["checks.".len()..].to_string(), v.into());
                }
                f => {
                    fields.insert(f.to_string(), v.into());
                }
            }
        }
        let (Some(id), Some(technician)) = (id, technician) else {
            return Err(format!("{}: every row needs id and technician", plan.display()));
        };
        let order = serde_json::json!({
            "id": id,
            "technician": technician,
            "issued_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "valid_until": valid_until.unwrap_or_else(|| (now + DEFAULT_VALIDITY).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "fields": fields,
            "checks": checks,
        });
        issued.push(Issued {
            technician,
            order: signed::sign(order, key)?,
        });
    }
    Ok(issued)
}

/// Where the public order key is, for the start-up announcement.
pub fn public_key_file(dir: &Path) -> PathBuf {
    dir.join(ORDER_KEY_PUB)
}
