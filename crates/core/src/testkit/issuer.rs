//! A provider issuing signed work orders to a data directory, as a pull would leave them:
//! its order key trusted by config.toml, each order signed and kept sealed in the store.

use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::config::Paths;
use crate::signed::{OrderKey, OrderKeys, SignedOrder};

/// The key file config.toml names, in the configuration directory.
pub const KEY_FILE: &str = "testkit-order-key.json";

/// A provider's order key, trusted by one data directory.
pub struct Issuer {
    key: Ed25519KeyPair,
    paths: Paths,
    /// Whom the orders are issued to (config.toml's technician).
    pub technician: String,
}

impl Issuer {
    /// A new order key, written where config.toml (rewritten, naming `technician`) trusts it.
    pub fn trusted_by(paths: &Paths, technician: &str) -> Issuer {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("a key pair");
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("the key just made");
        let public = OrderKey {
            algorithm: "ed25519".into(),
            public_key: hex::encode(key.public_key().as_ref()),
            valid_from: Some((chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339()),
            valid_until: None,
        };
        crate::private::dir(&paths.config).expect("the configuration directory");
        std::fs::write(
            paths.config.join(KEY_FILE),
            serde_json::to_string(&public).expect("a key serialises"),
        )
        .expect("the key file");
        std::fs::write(
            paths.config.join(crate::config::CONFIG_FILE),
            format!("technician = \"{technician}\"\n[provider]\norder_key_files = [\"{KEY_FILE}\"]\n"),
        )
        .expect("config.toml");
        Issuer {
            key,
            paths: paths.clone(),
            technician: technician.to_string(),
        }
    }

    /// An order `id` with `fields` (dotted names) and the provider's `checks`, valid for a
    /// day from now.
    pub fn sign(&self, id: &str, fields: &[(&str, String)], checks: &[(&str, String)]) -> SignedOrder {
        let now = chrono::Utc::now();
        let map = |pairs: &[(&str, String)]| -> serde_json::Map<String, serde_json::Value> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.clone().into())).collect()
        };
        let order = serde_json::json!({
            "id": id,
            "technician": self.technician,
            "issued_at": (now - chrono::Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "valid_until": (now + chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "fields": map(fields),
            "checks": map(checks),
        });
        crate::signed::sign(order, &self.key).expect("an order signs")
    }

    /// Keeps `order` in the store as `orders pull` would, once it verifies.
    pub fn deliver(&self, order: &SignedOrder) {
        let keys = OrderKeys::configured(&self.paths).expect("the configured key");
        let v = order.verify(&keys).expect("the order verifies");
        let mut store = crate::store::Store::open(&self.paths.data).expect("the store");
        let local = crate::seal::LocalKeys::load_or_create(&self.paths.data).expect("the local key");
        crate::sync::orders::keep(&mut store, &local, order, &v).expect("kept");
    }

    /// The configuration directory the key is in.
    pub fn config_dir(&self) -> &Path {
        &self.paths.config
    }
}
