//! Work orders the provider signs (docs/sync-api.md, "Signed work orders"): Ed25519 over a
//! canonical encoding, verified offline before anything on a terminal changes, with an
//! order-signing key that a provider root (shipped with the profiles) delegates in a key
//! statement the agent pulled (`authority`). A key verifies an order only if it may sign
//! both when the order was issued and now.
//!
//! ```text
//! signed bytes = "posagent-order-v1\n" ‖ canonical JSON of the `order` object
//! ```
//! Canonical JSON: object members sorted by the bytes of their names, at every level; no
//! whitespace; every value a string or an object; strings with `"` and `\` escaped as
//! `\"` and `\\`, control characters as `\u00XX` (lower-case hex), everything else as its
//! UTF-8 bytes.

use std::collections::BTreeMap;

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::authority::{DelegatedKey, Statement};
use crate::order::RawOrder;

/// What the signature covers, before the canonical order.
pub const DOMAIN: &[u8] = b"posagent-order-v1\n";
/// How far an order's `issued_at` may lie ahead of this laptop's clock.
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// An order as the provider issues it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SignedOrder {
    pub order: serde_json::Value,
    pub key_id: String,
    pub signature: String,
}

/// A signed order as it may be shown: every field masked as the order checker masks it
/// (card and account numbers 6/4, codes hidden). What it says, not yet verified.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub id: String,
    pub technician: String,
    pub issued_at: String,
    pub valid_until: String,
    pub key_id: String,
    pub fields: BTreeMap<String, String>,
    pub checks: BTreeMap<String, String>,
}

impl SignedOrder {
    /// The order as it may be shown ([`Shown`]).
    pub fn shown(&self) -> Shown {
        let text = |k: &str| self.order[k].as_str().unwrap_or_default().to_string();
        let map = |k: &str, mask: bool| -> BTreeMap<String, String> {
            self.order[k]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(f, v)| {
                            let v = v.as_str().unwrap_or_default();
                            (
                                f.clone(),
                                if mask {
                                    crate::procedure::shown_value(f, v)
                                } else {
                                    v.to_string()
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Shown {
            id: text("id"),
            technician: text("technician"),
            issued_at: text("issued_at"),
            valid_until: text("valid_until"),
            key_id: self.key_id.clone(),
            fields: map("fields", true),
            checks: map("checks", false),
        }
    }
}

/// Why an order is not the provider's authorisation.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OrderAuthError {
    #[error("{}", crate::tr!("auth-malformed", order = .id.as_str(), reason = .message.as_str()))]
    Malformed { id: String, message: String },
    #[error("{}", crate::tr!("auth-unknown-key", order = .id.as_str(), key = .key_id.as_str()))]
    UnknownKey { id: String, key_id: String },
    #[error("{}", crate::tr!("auth-bad-signature", order = .id.as_str()))]
    BadSignature { id: String },
    #[error("{}", crate::tr!("auth-key-not-valid", order = .id.as_str(), issued = .issued_at.as_str(), key = .key_id.as_str()))]
    KeyNotValid {
        id: String,
        key_id: String,
        issued_at: String,
    },
    /// The key may have signed it then, but no longer signs (retired or expired).
    #[error("{}", crate::tr!("auth-key-retired", order = .id.as_str(), key = .key_id.as_str(), now = .now.as_str()))]
    KeyRetired { id: String, key_id: String, now: String },
    /// Signed by a key of another provider's root than the order's profile trusts.
    #[error("{}", crate::tr!("auth-other-provider", order = .id.as_str(), profile = .profile.as_str()))]
    OtherProvider { id: String, profile: String },
    #[error("{}", crate::tr!("auth-expired", order = .id.as_str(), until = .valid_until.as_str(), now = .now.as_str()))]
    Expired {
        id: String,
        valid_until: String,
        now: String,
    },
    #[error("{}", crate::tr!("auth-not-yet-valid", order = .id.as_str(), issued = .issued_at.as_str(), now = .now.as_str()))]
    NotYetValid { id: String, issued_at: String, now: String },
    #[error("{}", crate::tr!("auth-other-technician", order = .id.as_str(), issued_to = .issued_to.as_str(), technician = .technician.as_str()))]
    OtherTechnician {
        id: String,
        issued_to: String,
        technician: String,
    },
}

/// Key id: the first 8 bytes of SHA-256 over the 32 public-key bytes, lower-case hex.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

fn canonical_into(v: &serde_json::Value, out: &mut String) -> Result<(), String> {
    match v {
        serde_json::Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        serde_json::Value::Object(m) => {
            let sorted: BTreeMap<&str, &serde_json::Value> = m.iter().map(|(k, v)| (k.as_str(), v)).collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_into(&serde_json::Value::String(k.to_string()), out)?;
                out.push(':');
                canonical_into(v, out)?;
            }
            out.push('}');
        }
        other => return Err(format!("{other} is not a string or an object")),
    }
    Ok(())
}

/// The bytes an order's signature covers.
pub fn signed_bytes(order: &serde_json::Value) -> Result<Vec<u8>, String> {
    let mut text = String::new();
    canonical_into(order, &mut text)?;
    Ok([DOMAIN, text.as_bytes()].concat())
}

/// Signs `order` (the provider's side; the simulated provider uses it).
pub fn sign(order: serde_json::Value, key: &Ed25519KeyPair) -> Result<SignedOrder, String> {
    let bytes = signed_bytes(&order)?;
    Ok(SignedOrder {
        key_id: key_id(key.public_key().as_ref()),
        signature: hex::encode(key.sign(&bytes).as_ref()),
        order,
    })
}

/// The order-signing keys this agent trusts: each delegated in a key statement the
/// provider served (verified against a root one of the profiles ships, and not expired),
/// with the root that delegated it.
#[derive(Debug, Clone, Default)]
pub struct OrderKeys {
    keys: Vec<([u8; 8], DelegatedKey)>,
    statements: Vec<Statement>,
}

impl OrderKeys {
    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys of `statements` that verify against one of `roots` at `now` (Unix
    /// seconds); the statements that do not, with why.
    pub fn from_statements(
        statements: &[Statement],
        roots: &[[u8; 32]],
        now: u64,
    ) -> (OrderKeys, Vec<crate::authority::AuthorityError>) {
        let mut trusted = OrderKeys::default();
        let mut refused = Vec::new();
        for st in statements {
            let root = roots.iter().find(|r| crate::authority::key_id(*r) == st.root_key_id);
            let checked = match root {
                Some(r) => st.verify(r, now, 0),
                None => Err(crate::authority::AuthorityError::UnknownRoot(st.root_key_id)),
            };
            match checked {
                Ok(()) => {
                    trusted.keys.extend(st.keys.iter().map(|k| (st.root_key_id, k.clone())));
                    trusted.statements.push(st.clone());
                }
                Err(e) => refused.push(e),
            }
        }
        (trusted, refused)
    }

    /// The statement of root `root_key_id`, to hand to a terminal with a change.
    pub fn statement_of(&self, root_key_id: &[u8; 8]) -> Option<&Statement> {
        self.statements.iter().find(|s| s.root_key_id == *root_key_id)
    }

    fn find(&self, key_id: &str) -> Option<&([u8; 8], DelegatedKey)> {
        self.keys.iter().find(|(_, k)| hex::encode(k.key_id) == key_id)
    }
}

/// An order whose signature verified: what the job reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub id: String,
    pub technician: String,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub valid_until: chrono::DateTime<chrono::Utc>,
    pub key_id: String,
    /// Every order field by its dotted name (`new.card` …), `id` included.
    pub fields: BTreeMap<String, String>,
    /// The provider's own checks (`card_cooldown_clear_until`, `documents_verified_at` …).
    pub checks: BTreeMap<String, String>,
    /// SHA-256 of the signed bytes, hex: stands for the order in the journal.
    pub sha256: String,
    /// The root that delegated the key (its key id).
    pub root_key_id: [u8; 8],
    /// The terminals' authorisations, by serial (the values of their `E4` items).
    pub authority: BTreeMap<String, Vec<u8>>,
}

fn strings(v: &serde_json::Value, what: &str) -> Result<BTreeMap<String, String>, String> {
    match v {
        serde_json::Value::Null => Ok(BTreeMap::new()),
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| format!("{what}.{k} is not a string"))
            })
            .collect(),
        _ => Err(format!("{what} is not an object")),
    }
}

fn time(v: &serde_json::Value, name: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    v[name]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| format!("{name} is not an RFC 3339 time"))
}

impl SignedOrder {
    /// The order's id, for messages (before anything is trusted).
    pub fn id(&self) -> String {
        self.order["id"].as_str().unwrap_or("(no id)").to_string()
    }

    /// Checks the signature against `keys`, and that the key may sign at the order's
    /// `issued_at` and, when given, at `now` too (a key retired or expired since verifies
    /// no new work; a job begun on the order may still be finished); returns the order's
    /// content.
    pub fn verify(
        &self,
        keys: &OrderKeys,
        now: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Verified, OrderAuthError> {
        let id = self.id();
        let malformed = |message: String| OrderAuthError::Malformed {
            id: id.clone(),
            message,
        };
        let Some((root_key_id, key)) = keys.find(&self.key_id) else {
            return Err(OrderAuthError::UnknownKey {
                id,
                key_id: self.key_id.clone(),
            });
        };
        let bytes = signed_bytes(&self.order).map_err(malformed)?;
        let signature = hex::decode(&self.signature).map_err(|_| malformed("the signature is not hex".into()))?;
        UnparsedPublicKey::new(&ED25519, &key.public_key)
            .verify(&bytes, &signature)
            .map_err(|_| OrderAuthError::BadSignature { id: id.clone() })?;
        let o = &self.order;
        let issued_at = time(o, "issued_at").map_err(malformed)?;
        let valid_until = time(o, "valid_until").map_err(malformed)?;
        let secs = |t: chrono::DateTime<chrono::Utc>| u64::try_from(t.timestamp()).unwrap_or(0);
        if !key.valid_at(secs(issued_at)) {
            return Err(OrderAuthError::KeyNotValid {
                id,
                key_id: self.key_id.clone(),
                issued_at: issued_at.to_rfc3339(),
            });
        }
        if let Some(now) = now
            && !key.valid_at(secs(now))
        {
            return Err(OrderAuthError::KeyRetired {
                id,
                key_id: self.key_id.clone(),
                now: now.to_rfc3339(),
            });
        }
        let mut fields = strings(&o["fields"], "fields").map_err(malformed)?;
        fields.insert("id".into(), id.clone());
        let authority = strings(&o["authority"], "authority")
            .map_err(malformed)?
            .into_iter()
            .map(|(serial, h)| {
                hex::decode(&h)
                    .map(|b| (serial.clone(), b))
                    .map_err(|_| malformed(format!("authority.{serial} is not hex")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Verified {
            technician: o["technician"].as_str().unwrap_or_default().to_string(),
            checks: strings(&o["checks"], "checks").map_err(malformed)?,
            key_id: self.key_id.clone(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            root_key_id: *root_key_id,
            authority,
            issued_at,
            valid_until,
            fields,
            id,
        })
    }
}

impl Verified {
    /// Whether `profile` (the one the order names) trusts the root that delegated the key
    /// it is signed with: a provider signs for its own terminals only.
    pub fn signed_for(&self, profile: Option<&crate::profile::Profile>) -> Result<(), OrderAuthError> {
        let trusted = profile.map(crate::authority::trusted_roots).unwrap_or_default();
        if trusted.iter().any(|r| crate::authority::key_id(r) == self.root_key_id) {
            return Ok(());
        }
        Err(OrderAuthError::OtherProvider {
            id: self.id.clone(),
            profile: profile.map_or_else(|| "-".to_string(), |p| p.name.clone()),
        })
    }

    /// Whether it may be carried out now, by `technician`, by this laptop's clock `now`.
    pub fn authorise(&self, technician: &str, now: chrono::DateTime<chrono::Utc>) -> Result<(), OrderAuthError> {
        if self.technician != technician {
            return Err(OrderAuthError::OtherTechnician {
                id: self.id.clone(),
                issued_to: self.technician.clone(),
                technician: technician.to_string(),
            });
        }
        if now > self.valid_until {
            return Err(OrderAuthError::Expired {
                id: self.id.clone(),
                valid_until: self.valid_until.to_rfc3339(),
                now: now.to_rfc3339(),
            });
        }
        if now + CLOCK_SKEW < self.issued_at {
            return Err(OrderAuthError::NotYetValid {
                id: self.id.clone(),
                issued_at: self.issued_at.to_rfc3339(),
                now: now.to_rfc3339(),
            });
        }
        Ok(())
    }

    /// The order as the validator reads orders, named `pulled order ID` (in the current
    /// language).
    pub fn raw(&self) -> RawOrder {
        RawOrder::of_fields(crate::tr!("pulled-order-named", id = self.id.as_str()), &self.fields)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The test vector's key: seed bytes 0x00..0x1f.
    pub(crate) fn vector_key() -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&(0u8..32).collect::<Vec<_>>()).unwrap()
    }

    fn vector_order() -> serde_json::Value {
        serde_json::json!({
            "id": "WO-VECTOR-1",
            "technician": "zhang.wei",
            "issued_at": "2026-11-23T00:00:00Z",
            "valid_until": "2026-11-30T00:00:00Z",
            "fields": { "operation": "unbind", "profile": "ums", "merchant.mid": "822100000000001" },
            "checks": {}
        })
    }

    fn secs(t: &str) -> u64 {
        chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp() as u64
    }

    /// `key` delegated from `from` to `until` by a test root, in a statement that expires
    /// long after.
    pub(crate) fn keys_window(key: &Ed25519KeyPair, from: &str, until: &str) -> OrderKeys {
        let root = Ed25519KeyPair::from_seed_unchecked(&[5u8; 32]).unwrap();
        let public: [u8; 32] = key.public_key().as_ref().try_into().unwrap();
        let delegated = DelegatedKey {
            key_id: crate::authority::key_id(&public),
            public_key: public,
            valid_from: secs(from),
            valid_until: secs(until),
        };
        let st = Statement::sign(1, secs("2100-01-01T00:00:00Z"), &[delegated], &root);
        let root_public: [u8; 32] = root.public_key().as_ref().try_into().unwrap();
        let (keys, refused) = OrderKeys::from_statements(&[st], &[root_public], secs("2026-11-25T00:00:00Z"));
        assert!(refused.is_empty(), "{refused:?}");
        keys
    }

    fn keys_for(key: &Ed25519KeyPair, from: Option<&str>) -> OrderKeys {
        keys_window(key, from.unwrap_or("2000-01-01T00:00:00Z"), "2099-01-01T00:00:00Z")
    }

    #[test]
    fn the_documented_test_vector() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sync-api.md")).unwrap();
        let key = vector_key();
        let signed = sign(vector_order(), &key).unwrap();
        let canonical = String::from_utf8(signed_bytes(&vector_order()).unwrap()[DOMAIN.len()..].to_vec()).unwrap();
        for value in [
            hex::encode(key.public_key().as_ref()),
            signed.key_id.clone(),
            canonical,
            signed.signature.clone(),
        ] {
            assert!(
                doc.contains(&format!("`{value}`")),
                "docs/sync-api.md does not show {value}"
            );
        }
    }

    #[test]
    fn a_signed_order_verifies_and_any_change_does_not() {
        let key = vector_key();
        let keys = keys_for(&key, None);
        let signed = sign(vector_order(), &key).unwrap();
        let v = signed.verify(&keys, None).unwrap();
        assert_eq!(v.fields["merchant.mid"], "822100000000001");
        assert_eq!(v.fields["id"], "WO-VECTOR-1");
        let mut tampered = signed.clone();
        tampered.order["fields"]["merchant.mid"] = "822100000000002".into();
        assert_eq!(
            tampered.verify(&keys, None),
            Err(OrderAuthError::BadSignature {
                id: "WO-VECTOR-1".into()
            })
        );
        // Member order and whitespace do not matter; the content does.
        let reordered: serde_json::Value = serde_json::from_str(
            &serde_json::to_string_pretty(&signed.order)
                .unwrap()
                .replace("\n", "\n   "),
        )
        .unwrap();
        assert!(
            SignedOrder {
                order: reordered,
                ..signed.clone()
            }
            .verify(&keys, None)
            .is_ok()
        );
        let other = Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).unwrap();
        assert!(matches!(
            signed.verify(&keys_for(&other, None), None),
            Err(OrderAuthError::UnknownKey { .. })
        ));
        assert!(matches!(
            signed.verify(&keys_for(&key, Some("2027-01-01T00:00:00Z")), None),
            Err(OrderAuthError::KeyNotValid { .. })
        ));
    }

    #[test]
    fn time_and_technician_are_checked() {
        let key = vector_key();
        let v = sign(vector_order(), &key)
            .unwrap()
            .verify(&keys_for(&key, None), None)
            .unwrap();
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        assert!(v.authorise("zhang.wei", at("2026-11-25T00:00:00Z")).is_ok());
        assert!(matches!(
            v.authorise("li.si", at("2026-11-25T00:00:00Z")),
            Err(OrderAuthError::OtherTechnician { .. })
        ));
        assert!(matches!(
            v.authorise("zhang.wei", at("2026-12-01T00:00:00Z")),
            Err(OrderAuthError::Expired { .. })
        ));
        assert!(matches!(
            v.authorise("zhang.wei", at("2026-11-22T00:00:00Z")),
            Err(OrderAuthError::NotYetValid { .. })
        ));
    }

    /// Side door: a retired key still signed, because its window was checked against the
    /// order's `issued_at`, which the signer chooses: an order backdated into the old
    /// key's window ran. A key must be valid when the order was issued and now.
    #[test]
    fn a_retired_key_no_longer_signs_however_the_order_is_dated() {
        let key = vector_key();
        // Retired on 2026-11-24; the order says it was issued on the 23rd.
        let keys = keys_window(&key, "2026-01-01T00:00:00Z", "2026-11-24T00:00:00Z");
        let signed = sign(vector_order(), &key).unwrap();
        let at = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        assert!(signed.verify(&keys, Some(at("2026-11-23T12:00:00Z"))).is_ok());
        assert!(matches!(
            signed.verify(&keys, Some(at("2026-11-25T00:00:00Z"))),
            Err(OrderAuthError::KeyRetired { .. })
        ));
    }
}
