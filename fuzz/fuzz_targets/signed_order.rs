//! Any bytes as a pulled order (`GET /v1/orders`' items): reading and verifying report
//! errors, never panic. And for every order the fuzzer makes that can be signed, the
//! canonical encoding is stable (encoding the order read back from it gives the same
//! bytes), the signature verifies, and it no longer verifies once any byte of the signed
//! content is changed.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use posagent::authority::{DelegatedKey, Statement, key_id};
use posagent::signed::{self, OrderKeys, SignedOrder};
use ring::signature::{Ed25519KeyPair, KeyPair};

/// An order key delegated by a root, and the keys that trust it (made once).
fn keys() -> &'static (Ed25519KeyPair, OrderKeys) {
    static KEYS: OnceLock<(Ed25519KeyPair, OrderKeys)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let root = Ed25519KeyPair::from_seed_unchecked(&[1; 32]).unwrap();
        let key = Ed25519KeyPair::from_seed_unchecked(&[2; 32]).unwrap();
        let public_key: [u8; 32] = key.public_key().as_ref().try_into().unwrap();
        let delegated = DelegatedKey {
            key_id: key_id(&public_key),
            public_key,
            valid_from: 0,
            valid_until: u64::MAX / 2,
        };
        let statement = Statement::sign(1, u64::MAX / 2, &[delegated], &root);
        let root_public: [u8; 32] = root.public_key().as_ref().try_into().unwrap();
        let (keys, refused) = OrderKeys::from_statements(&[statement], &[root_public], 1);
        assert!(refused.is_empty());
        (key, keys)
    })
}

fuzz_target!(|data: &[u8]| {
    let (key, keys) = keys();
    // As the provider serves it, whatever it says.
    if let Ok(order) = serde_json::from_slice::<SignedOrder>(data) {
        let _ = order.verify(keys, None);
        let _ = order.shown();
    }
    // As an order object to sign.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(bytes) = signed::signed_bytes(&value) else { return };
    let canonical = &bytes[signed::DOMAIN.len()..];
    let again: serde_json::Value = serde_json::from_slice(canonical).expect("canonical JSON reads back");
    assert_eq!(signed::signed_bytes(&again).unwrap(), bytes, "the canonical encoding is stable");
    let order = signed::sign(value, key).unwrap();
    // It verifies as far as its signature goes (its fields may still be refused).
    let verdict = order.verify(keys, None);
    assert!(
        !matches!(verdict, Err(signed::OrderAuthError::BadSignature { .. })),
        "{verdict:?}"
    );
    // Any one byte of the canonical content changed, where the result is still an order.
    let at = data.len() % canonical.len().max(1);
    let mut changed = canonical.to_vec();
    changed[at] ^= 0x01;
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&changed)
        && signed::signed_bytes(&v).is_ok_and(|b| b != bytes)
    {
        let forged = SignedOrder { order: v, ..order };
        assert!(forged.verify(keys, None).is_err(), "a changed order still verifies");
    }
});
