//! A provider issuing signed work orders to a data directory, as a pull would leave them:
//! the training root of its profile delegates an order key in a key statement the data
//! directory keeps, and each order, signed with that key, carries the authorisations of
//! the terminals it changes (docs/protocol.md §11).

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::authority::{Authorisation, DelegatedKey, Grant, Statement, key_id, training_root};
use crate::config::Paths;
use crate::signed::SignedOrder;

/// A year, in seconds.
const YEAR: u64 = 365 * 24 * 3600;

/// A provider's order key, trusted by one data directory.
pub struct Issuer {
    key: Ed25519KeyPair,
    paths: Paths,
    /// Whom the orders are issued to (config.toml's technician).
    pub technician: String,
    /// The statement delegating the key, as kept.
    pub statement: Statement,
}

impl Issuer {
    /// A new order key of `profile`'s provider, delegated by its training root (valid from
    /// a month ago for a year), the statement kept in the data directory as a pull keeps
    /// it; its orders issued to `technician`.
    pub fn trusted_by(paths: &Paths, technician: &str, profile: &str) -> Issuer {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("a key pair");
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("the key just made");
        let now = crate::sync::keys::unix_now();
        let public_key: [u8; 32] = key.public_key().as_ref().try_into().expect("32 bytes");
        let delegated = DelegatedKey {
            key_id: key_id(&public_key),
            public_key,
            valid_from: now - YEAR / 12,
            valid_until: now + YEAR,
        };
        let root = training_root(profile);
        let statement = Statement::sign(1, now + YEAR, &[delegated], &root);
        let mut store = crate::store::Store::open(&paths.data).expect("the store");
        let roots = [root.public_key().as_ref().try_into().expect("32 bytes")];
        crate::sync::keys::accept(&mut store, &roots, statement.to_bytes(), now).expect("the statement is kept");
        Issuer {
            key,
            paths: paths.clone(),
            technician: technician.to_string(),
            statement,
        }
    }

    /// The provider's authorisation of `grant`, signed with the order key.
    pub fn authorise(&self, grant: &Grant<'_>) -> Authorisation {
        Authorisation::sign(grant, &self.key)
    }

    /// An order `id` with `fields` (dotted names), the provider's `checks` and the
    /// terminals' `authorisations`, valid for a day from now.
    pub fn sign(
        &self,
        id: &str,
        fields: &[(&str, String)],
        checks: &[(&str, String)],
        authorisations: &[Authorisation],
    ) -> SignedOrder {
        let now = chrono::Utc::now();
        let map = |pairs: &[(&str, String)]| -> serde_json::Map<String, serde_json::Value> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.clone().into())).collect()
        };
        let authority: serde_json::Map<String, serde_json::Value> = authorisations
            .iter()
            .map(|a| (a.serial.clone(), hex::encode(a.to_bytes()).into()))
            .collect();
        let order = serde_json::json!({
            "id": id,
            "technician": self.technician,
            "issued_at": (now - chrono::Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "valid_until": (now + chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "fields": map(fields),
            "checks": map(checks),
            "authority": authority,
        });
        crate::signed::sign(order, &self.key).expect("an order signs")
    }

    /// Keeps `order` in the store as `orders pull` would, once it verifies.
    pub fn deliver(&self, order: &SignedOrder) {
        let mut store = crate::store::Store::open(&self.paths.data).expect("the store");
        let profiles = crate::profile::ProfileSet::builtin().expect("the profiles");
        let keys = crate::sync::keys::held(&store, &profiles).expect("the statements");
        let v = order
            .verify(&keys, Some(chrono::Utc::now()))
            .expect("the order verifies");
        let local = crate::seal::LocalKeys::load_or_create(&self.paths.data).expect("the local key");
        crate::sync::orders::keep(&mut store, &local, order, &v).expect("kept");
    }
}
