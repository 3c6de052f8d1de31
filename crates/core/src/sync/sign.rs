//! Request signing for the sync API: HMAC-SHA256 with the agent's key over the method,
//! path, timestamp, a fresh nonce and the SHA-256 of the body. The provider refuses a
//! request whose signature does not verify, whose timestamp is outside its window, or whose
//! nonce it has already seen in that window, so a captured request cannot be replayed.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How far a request's timestamp may be from the provider's clock, either way.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;
/// Bytes of a request nonce.
pub const NONCE_LEN: usize = 16;

/// The three values a signed request carries in its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Unix seconds.
    pub timestamp: i64,
    /// Hex, [`NONCE_LEN`] random bytes.
    pub nonce: String,
    /// Hex HMAC-SHA256.
    pub mac: String,
}

/// Why the provider refuses a request's signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature does not verify")]
    BadSignature,
    #[error("timestamp is more than {TIMESTAMP_WINDOW_SECS} s from the provider's clock")]
    Stale,
    #[error("nonce already used: a replayed request")]
    Replayed,
    #[error("malformed signature header")]
    Malformed,
}

fn mac_over(key: &[u8], method: &str, path: &str, timestamp: i64, nonce: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    let canonical = format!(
        "{method}\n{path}\n{timestamp}\n{nonce}\n{}",
        hex::encode(Sha256::digest(body))
    );
    mac.update(canonical.as_bytes());
    mac
}

/// Names an agent key without revealing it: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(key: &[u8]) -> String {
    hex::encode(&Sha256::digest(key)[..8])
}

/// Signs a request at `now` (Unix seconds) with a fresh nonce.
pub fn sign(key: &[u8], method: &str, path: &str, body: &[u8], now: i64) -> Signature {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let nonce = hex::encode(nonce);
    let mac = hex::encode(mac_over(key, method, path, now, &nonce, body).finalize().into_bytes());
    Signature {
        timestamp: now,
        nonce,
        mac,
    }
}

/// The provider's side: checks signatures and remembers nonces for the window.
pub struct Verifier {
    key: Vec<u8>,
    seen: HashMap<String, i64>,
}

impl Verifier {
    pub fn new(key: &[u8]) -> Verifier {
        Verifier {
            key: key.to_vec(),
            seen: HashMap::new(),
        }
    }

    /// Verifies a request received at `now`; a nonce is accepted once.
    pub fn verify(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
        sig: &Signature,
        now: i64,
    ) -> Result<(), SignatureError> {
        if sig.nonce.len() != 2 * NONCE_LEN || !sig.nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SignatureError::Malformed);
        }
        let mac = hex::decode(&sig.mac).map_err(|_| SignatureError::Malformed)?;
        // Check the MAC first: an unauthenticated caller must learn nothing else.
        mac_over(&self.key, method, path, sig.timestamp, &sig.nonce, body)
            .verify_slice(&mac)
            .map_err(|_| SignatureError::BadSignature)?;
        if (now - sig.timestamp).abs() > TIMESTAMP_WINDOW_SECS {
            return Err(SignatureError::Stale);
        }
        self.seen.retain(|_, at| now - *at <= 2 * TIMESTAMP_WINDOW_SECS);
        if self.seen.insert(sig.nonce.clone(), sig.timestamp).is_some() {
            return Err(SignatureError::Replayed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"agent-key-for-tests";
    const NOW: i64 = 1_795_000_000;

    /// The test vector docs/sync-api.md gives a provider to check its implementation with.
    #[test]
    fn the_documented_test_vector() {
        let key: Vec<u8> = (0u8..32).collect();
        let (ts, nonce, body) = (
            1_795_000_000,
            "000102030405060708090a0b0c0d0e0f",
            br#"{"submissions":[]}"#,
        );
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sync-api.md")).unwrap();
        let body_sha = hex::encode(Sha256::digest(body));
        let mac = hex::encode(
            mac_over(&key, "POST", "/v1/submissions/batch", ts, nonce, body)
                .finalize()
                .into_bytes(),
        );
        for value in [key_id(&key), body_sha, mac] {
            assert!(
                doc.contains(&format!("`{value}`")),
                "docs/sync-api.md does not show {value}"
            );
        }
        let mut v = Verifier::new(&key);
        let sig = Signature {
            timestamp: ts,
            nonce: nonce.into(),
            mac: hex::encode(
                mac_over(&key, "POST", "/v1/submissions/batch", ts, nonce, body)
                    .finalize()
                    .into_bytes(),
            ),
        };
        assert_eq!(v.verify("POST", "/v1/submissions/batch", body, &sig, ts), Ok(()));
    }

    #[test]
    fn a_signed_request_verifies_once() {
        let mut v = Verifier::new(KEY);
        let sig = sign(KEY, "POST", "/v1/submissions", b"{}", NOW);
        assert_eq!(v.verify("POST", "/v1/submissions", b"{}", &sig, NOW + 3), Ok(()));
        assert_eq!(
            v.verify("POST", "/v1/submissions", b"{}", &sig, NOW + 4),
            Err(SignatureError::Replayed)
        );
    }

    #[test]
    fn any_change_to_what_was_signed_is_refused() {
        let sig = sign(KEY, "POST", "/v1/submissions", b"{\"a\":1}", NOW);
        let mut v = Verifier::new(KEY);
        assert_eq!(
            v.verify("POST", "/v1/submissions", b"{\"a\":2}", &sig, NOW),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            v.verify("PUT", "/v1/submissions", b"{\"a\":1}", &sig, NOW),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            v.verify("POST", "/v1/other", b"{\"a\":1}", &sig, NOW),
            Err(SignatureError::BadSignature)
        );
        let moved = Signature {
            timestamp: NOW + 1,
            ..sig.clone()
        };
        assert_eq!(
            v.verify("POST", "/v1/submissions", b"{\"a\":1}", &moved, NOW),
            Err(SignatureError::BadSignature)
        );
        let mut other = Verifier::new(b"another key");
        assert_eq!(
            other.verify("POST", "/v1/submissions", b"{\"a\":1}", &sig, NOW),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn old_or_future_requests_are_stale() {
        let mut v = Verifier::new(KEY);
        let old = sign(KEY, "POST", "/p", b"", NOW - TIMESTAMP_WINDOW_SECS - 1);
        assert_eq!(v.verify("POST", "/p", b"", &old, NOW), Err(SignatureError::Stale));
        let future = sign(KEY, "POST", "/p", b"", NOW + TIMESTAMP_WINDOW_SECS + 1);
        assert_eq!(v.verify("POST", "/p", b"", &future, NOW), Err(SignatureError::Stale));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let mut v = Verifier::new(KEY);
        let sig = Signature {
            timestamp: NOW,
            nonce: "xyz".into(),
            mac: "00".into(),
        };
        assert_eq!(v.verify("POST", "/p", b"", &sig, NOW), Err(SignatureError::Malformed));
    }
}
