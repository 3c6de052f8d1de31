//! The provider's authority over a terminal's binding, as the terminal itself checks it
//! (docs/protocol.md §11). A laptop is not a trusted place: the agent's checks only fail
//! early, the terminal is the judge.
//!
//! - A provider's **root keys** ship with its profile (`[authority] roots`). A root signs a
//!   **key statement**: a version (never lower than one already accepted: no rollback), an
//!   expiry, and the order-signing keys it delegates, each with the window it may sign in.
//! - An order-signing key signs each work order, and for each terminal the order changes an
//!   **authorisation**: the terminal's serial, its change counter (each change a terminal
//!   accepts moves it on, so an authorisation is used at most once), the operation, the
//!   SHA-256 of the binding items the change writes, and a time after which it is void.
//! - A terminal that enforces authority (HELLO `DF46`) refuses BIND, UNBIND and ACTIVATE
//!   without a statement from its root and an authorisation for it (result 10).
//!
//! Both are BER-TLV values (statement `E3`, authorisation `E4`), signed with Ed25519 over a
//! domain string followed by the value's items before the signature, which is the last item.

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use crate::link::proto::tag;
use crate::link::tlv::{self, Fields, Writer};
use crate::terminal::model::Binding;

/// What a key statement's signature covers, before the statement's items.
pub const STATEMENT_DOMAIN: &[u8] = b"posagent-keys-v1\n";
/// What an authorisation's signature covers, before its items.
pub const AUTHORISATION_DOMAIN: &[u8] = b"posagent-auth-v1\n";
/// The most keys a statement may delegate (a bound for terminals, which keep one in RAM).
pub const MAX_STATEMENT_KEYS: usize = 16;
/// The most statements a provider serves at once (one per root it signs with).
pub const MAX_STATEMENTS: usize = 16;

/// A key's id: the first 8 bytes of SHA-256 over its 32 public-key bytes.
pub fn key_id(public_key: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(public_key);
    let mut id = [0u8; 8];
    id.copy_from_slice(&d[..8]);
    id
}

/// Why a statement or an authorisation does not stand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    #[error("{}", crate::tr!("authority-malformed", what = .0.as_str()))]
    Malformed(String),
    #[error("{}", crate::tr!("authority-unknown-root", key = hex::encode(.0)))]
    UnknownRoot([u8; 8]),
    #[error("{}", crate::tr!("authority-statement-signature"))]
    BadStatementSignature,
    #[error("{}", crate::tr!("authority-authorisation-signature"))]
    BadAuthorisationSignature,
    #[error("{}", crate::tr!("authority-statement-expired", version = *.version, at = stamp(*.expires)))]
    StatementExpired { version: u32, expires: u64 },
    #[error("{}", crate::tr!("authority-rollback", version = *.offered, held = *.held))]
    Rollback { offered: u32, held: u32 },
    #[error("{}", crate::tr!("authority-unknown-key", key = hex::encode(.0)))]
    UnknownKey([u8; 8]),
    #[error("{}", crate::tr!("authority-key-not-valid", key = hex::encode(.key), at = stamp(*.at)))]
    KeyNotValid { key: [u8; 8], at: u64 },
    #[error("{}", crate::tr!("authority-expired", at = stamp(*.0)))]
    Expired(u64),
}

/// A Unix time as people read it (UTC).
fn stamp(secs: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), 0)
        .map_or_else(|| secs.to_string(), |t| t.to_rfc3339())
}

fn malformed(what: impl Into<String>) -> AuthorityError {
    AuthorityError::Malformed(what.into())
}

/// Splits a signed value into the bytes its signature covers and the signature, which must
/// be its last item (`DF6D`, 64 bytes).
fn signed_parts(value: &[u8]) -> Result<(&[u8], [u8; 64]), AuthorityError> {
    let items = tlv::parse(value).map_err(|e| malformed(e.to_string()))?;
    let Some((tag::SIGNATURE, sig)) = items.last().copied() else {
        return Err(malformed("the signature (DF6D) must be the last item"));
    };
    let sig: [u8; 64] = sig.try_into().map_err(|_| malformed("a signature is 64 bytes"))?;
    // The signature item is 3 bytes of tag and length before its 64 bytes.
    let covered = &value[..value.len() - 64 - 3];
    Ok((covered, sig))
}

fn verify_ed25519(public_key: &[u8; 32], domain: &[u8], covered: &[u8], sig: &[u8; 64]) -> bool {
    let mut msg = Vec::with_capacity(domain.len() + covered.len());
    msg.extend_from_slice(domain);
    msg.extend_from_slice(covered);
    UnparsedPublicKey::new(&ED25519, public_key).verify(&msg, sig).is_ok()
}

fn sign_ed25519(key: &Ed25519KeyPair, domain: &[u8], covered: &[u8]) -> [u8; 64] {
    let mut msg = Vec::with_capacity(domain.len() + covered.len());
    msg.extend_from_slice(domain);
    msg.extend_from_slice(covered);
    let mut sig = [0u8; 64];
    sig.copy_from_slice(key.sign(&msg).as_ref());
    sig
}

fn array<const N: usize>(f: &Fields<'_>, t: u32, name: &str) -> Result<[u8; N], AuthorityError> {
    f.need_array::<N>(t)
        .map_err(|_| malformed(format!("{name} ({t:X}) must be {N} bytes")))
}

fn time(f: &Fields<'_>, t: u32, name: &str) -> Result<u64, AuthorityError> {
    Ok(u64::from_be_bytes(array::<8>(f, t, name)?))
}

/// An order-signing key a statement delegates, and when it may sign (Unix seconds, both
/// ends included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedKey {
    pub key_id: [u8; 8],
    pub public_key: [u8; 32],
    pub valid_from: u64,
    pub valid_until: u64,
}

impl DelegatedKey {
    /// Whether the key may sign at `at`.
    pub fn valid_at(&self, at: u64) -> bool {
        self.valid_from <= at && at <= self.valid_until
    }
}

/// A root's statement of the order-signing keys it delegates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub version: u32,
    pub expires: u64,
    pub keys: Vec<DelegatedKey>,
    pub root_key_id: [u8; 8],
    /// The value as signed (the contents of `E3`).
    raw: Vec<u8>,
}

impl Statement {
    /// Reads a statement (the value of an `E3` item); its signature is checked by
    /// [`Statement::verify`].
    pub fn parse(value: &[u8]) -> Result<Statement, AuthorityError> {
        let f = Fields::parse(value).map_err(|e| malformed(e.to_string()))?;
        signed_parts(value)?;
        let mut keys = Vec::new();
        for entry in f.all(tag::DELEGATED_KEY) {
            if keys.len() == MAX_STATEMENT_KEYS {
                return Err(malformed(format!("more than {MAX_STATEMENT_KEYS} keys")));
            }
            let e = Fields::parse(entry).map_err(|e| malformed(e.to_string()))?;
            let public_key = array::<32>(&e, tag::PUBLIC_KEY, "public key")?;
            let key_id = array::<8>(&e, tag::KEY_ID, "key id")?;
            if key_id != self::key_id(&public_key) {
                return Err(malformed("a key id that is not its key's"));
            }
            let (valid_from, valid_until) = (
                time(&e, tag::VALID_FROM, "valid from")?,
                time(&e, tag::VALID_UNTIL, "valid until")?,
            );
            if valid_from > valid_until {
                return Err(malformed("a key valid until before it is valid from"));
            }
            keys.push(DelegatedKey {
                key_id,
                public_key,
                valid_from,
                valid_until,
            });
        }
        Ok(Statement {
            version: u32::from_be_bytes(array::<4>(&f, tag::STATEMENT_VERSION, "version")?),
            expires: time(&f, tag::EXPIRES, "expiry")?,
            keys,
            root_key_id: array::<8>(&f, tag::ROOT_KEY_ID, "root key id")?,
            raw: value.to_vec(),
        })
    }

    /// Signs a statement with `root`.
    pub fn sign(version: u32, expires: u64, keys: &[DelegatedKey], root: &Ed25519KeyPair) -> Statement {
        let mut w = Writer::new();
        w.bytes(tag::STATEMENT_VERSION, &version.to_be_bytes())
            .bytes(tag::EXPIRES, &expires.to_be_bytes());
        for k in keys {
            w.nested(tag::DELEGATED_KEY, |e| {
                e.bytes(tag::KEY_ID, &k.key_id)
                    .bytes(tag::PUBLIC_KEY, &k.public_key)
                    .bytes(tag::VALID_FROM, &k.valid_from.to_be_bytes())
                    .bytes(tag::VALID_UNTIL, &k.valid_until.to_be_bytes());
            });
        }
        w.bytes(tag::ROOT_KEY_ID, &key_id(root.public_key().as_ref()));
        let mut covered = w.finish();
        let sig = sign_ed25519(root, STATEMENT_DOMAIN, &covered);
        covered.extend(Writer::new().bytes(tag::SIGNATURE, &sig).finish());
        Statement::parse(&covered).expect("a statement just written reads back")
    }

    /// The value as sent (the contents of `E3`).
    pub fn to_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Checks the signature with the root `public_key`, that the statement has not expired
    /// at `now` (Unix seconds) and that it is no older than version `held`.
    pub fn verify(&self, public_key: &[u8; 32], now: u64, held: u32) -> Result<(), AuthorityError> {
        if self.root_key_id != key_id(public_key) {
            return Err(AuthorityError::UnknownRoot(self.root_key_id));
        }
        let (covered, sig) = signed_parts(&self.raw)?;
        if !verify_ed25519(public_key, STATEMENT_DOMAIN, covered, &sig) {
            return Err(AuthorityError::BadStatementSignature);
        }
        if self.version < held {
            return Err(AuthorityError::Rollback {
                offered: self.version,
                held,
            });
        }
        if self.expires <= now {
            return Err(AuthorityError::StatementExpired {
                version: self.version,
                expires: self.expires,
            });
        }
        Ok(())
    }

    /// The delegated key `id`.
    pub fn key(&self, id: &[u8; 8]) -> Option<&DelegatedKey> {
        self.keys.iter().find(|k| k.key_id == *id)
    }
}

/// What a change does, as an authorisation names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Operation {
    RebindCard = 1,
    RebindAccount = 2,
    RebindPhone = 3,
    Unbind = 4,
    /// The old unit of a migration: unbound whole.
    MigrateOut = 5,
    /// The new unit of a migration: activated, then bound to the old unit's binding.
    MigrateIn = 6,
    /// A backed-up binding written back.
    Restore = 7,
}

impl Operation {
    pub fn from_u8(b: u8) -> Option<Operation> {
        use Operation::*;
        [
            RebindCard,
            RebindAccount,
            RebindPhone,
            Unbind,
            MigrateOut,
            MigrateIn,
            Restore,
        ]
        .into_iter()
        .find(|o| *o as u8 == b)
    }

    /// The name orders and messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::RebindCard => "rebind-card",
            Operation::RebindAccount => "rebind-account",
            Operation::RebindPhone => "rebind-phone",
            Operation::Unbind => "unbind",
            Operation::MigrateOut => "migrate-out",
            Operation::MigrateIn => "migrate-in",
            Operation::Restore => "restore",
        }
    }
}

/// A provider's authorisation of one change on one terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorisation {
    pub serial: String,
    pub counter: u32,
    pub operation: Operation,
    /// SHA-256 of the binding items the change's BIND carries (for operations that bind).
    pub target: [u8; 32],
    pub not_after: u64,
    pub key_id: [u8; 8],
    /// The value as signed (the contents of `E4`).
    raw: Vec<u8>,
}

/// What an authorisation says, to be signed.
pub struct Grant<'a> {
    pub serial: &'a str,
    pub counter: u32,
    pub operation: Operation,
    pub target: [u8; 32],
    pub not_after: u64,
}

impl Authorisation {
    /// Reads an authorisation (the value of an `E4` item); its signature is checked by
    /// [`Authorisation::verify`].
    pub fn parse(value: &[u8]) -> Result<Authorisation, AuthorityError> {
        let f = Fields::parse(value).map_err(|e| malformed(e.to_string()))?;
        signed_parts(value)?;
        let op = f
            .need_u8(tag::AUTH_OPERATION)
            .ok()
            .and_then(Operation::from_u8)
            .ok_or_else(|| malformed("an operation (DF6E) this protocol does not know"))?;
        Ok(Authorisation {
            serial: f
                .need_text(tag::DEVICE_SERIAL)
                .map_err(|e| malformed(e.to_string()))?
                .to_string(),
            counter: u32::from_be_bytes(array::<4>(&f, tag::CHANGE_COUNTER, "counter")?),
            operation: op,
            target: array::<32>(&f, tag::AUTH_TARGET, "target")?,
            not_after: time(&f, tag::NOT_AFTER, "not after")?,
            key_id: array::<8>(&f, tag::KEY_ID, "key id")?,
            raw: value.to_vec(),
        })
    }

    /// Signs `grant` with the order-signing `key`.
    pub fn sign(grant: &Grant<'_>, key: &Ed25519KeyPair) -> Authorisation {
        let mut w = Writer::new();
        w.str(tag::DEVICE_SERIAL, grant.serial)
            .bytes(tag::CHANGE_COUNTER, &grant.counter.to_be_bytes())
            .u8(tag::AUTH_OPERATION, grant.operation as u8)
            .bytes(tag::AUTH_TARGET, &grant.target)
            .bytes(tag::NOT_AFTER, &grant.not_after.to_be_bytes())
            .bytes(tag::KEY_ID, &key_id(key.public_key().as_ref()));
        let mut covered = w.finish();
        let sig = sign_ed25519(key, AUTHORISATION_DOMAIN, &covered);
        covered.extend(Writer::new().bytes(tag::SIGNATURE, &sig).finish());
        Authorisation::parse(&covered).expect("an authorisation just written reads back")
    }

    /// The value as sent (the contents of `E4`).
    pub fn to_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Checks it against `statement` (already verified) at `now`: its key delegated there
    /// and valid now, its own validity, its signature.
    pub fn verify(&self, statement: &Statement, now: u64) -> Result<(), AuthorityError> {
        let key = statement
            .key(&self.key_id)
            .ok_or(AuthorityError::UnknownKey(self.key_id))?;
        if !key.valid_at(now) {
            return Err(AuthorityError::KeyNotValid {
                key: self.key_id,
                at: now,
            });
        }
        if self.not_after < now {
            return Err(AuthorityError::Expired(self.not_after));
        }
        let (covered, sig) = signed_parts(&self.raw)?;
        if !verify_ed25519(&key.public_key, AUTHORISATION_DOMAIN, covered, &sig) {
            return Err(AuthorityError::BadAuthorisationSignature);
        }
        Ok(())
    }
}

/// The binding items a change writes, as its BIND carries them: what an authorisation's
/// target digests. A card, an account or a phone alone for the three rebinds (after
/// `DF10` = 1, which a BIND needs and whose value the terminal ignores); the whole binding
/// for a migration's new unit and a restore. Unbinds write none.
pub fn bind_items(op: Operation, target: &Binding) -> Option<Vec<u8>> {
    let mut w = Writer::new();
    match op {
        Operation::RebindCard => {
            let c = target.card.as_ref()?;
            w.u8(tag::DEVICE_STATUS, 1)
                .str(tag::CARD_NUMBER, c.pan.expose_full())
                .str(tag::HOLDER_NAME, c.holder.as_str());
            if let Some(e) = &c.expiry {
                w.str(tag::CARD_EXPIRY, e);
            }
        }
        Operation::RebindAccount => {
            let a = target.account.as_ref()?;
            w.u8(tag::DEVICE_STATUS, 1)
                .str(tag::ACCOUNT_NUMBER, a.number.expose_full())
                .str(tag::HOLDER_NAME, a.holder.as_str())
                .str(tag::BANK_NAME, &a.bank)
                .str(tag::BRANCH_CODE, a.branch.as_str());
        }
        Operation::RebindPhone => {
            w.u8(tag::DEVICE_STATUS, 1)
                .str(tag::PHONE, target.phone.as_ref()?.as_str());
        }
        Operation::MigrateIn | Operation::Restore => return Some(target.encode()),
        Operation::Unbind | Operation::MigrateOut => return None,
    }
    Some(w.finish())
}

/// SHA-256 of `items` (or of nothing, for a change that binds nothing).
pub fn target_digest(items: Option<&[u8]>) -> [u8; 32] {
    Sha256::digest(items.unwrap_or_default()).into()
}

/// The root keys the agent trusts for `profile`: those it ships with, and in a build with
/// the simulators (never the product's), the profile's training root.
pub fn trusted_roots(profile: &crate::profile::Profile) -> Vec<[u8; 32]> {
    #[allow(unused_mut)]
    let mut roots = profile.authority.root_keys();
    #[cfg(any(test, feature = "testkit"))]
    if profile.authority.enforced {
        let root = training_root(&profile.name);
        roots.push(root.public_key().as_ref().try_into().expect("32 bytes"));
    }
    roots
}

/// Whether `root` (a key id, as a terminal names it in HELLO) is one of `profile`'s roots.
pub fn is_root_of(profile: &crate::profile::Profile, root: [u8; 8]) -> bool {
    trusted_roots(profile).iter().any(|k| key_id(k) == root)
}

/// The profile whose root `root` is: the provider a terminal that names it belongs to.
pub fn profile_of_root(profiles: &crate::profile::ProfileSet, root: [u8; 8]) -> Option<&crate::profile::Profile> {
    profiles.iter().map(|(p, _)| p).find(|p| is_root_of(p, root))
}

/// The training root of a provider profile: made from a seed anyone can read in this
/// source, so that the simulated provider can sign for it. Trusted only by builds with the
/// simulators (training laptops, the demo, the tests), never by the product.
#[cfg(any(test, feature = "testkit"))]
pub fn training_root(profile: &str) -> Ed25519KeyPair {
    let seed = Sha256::digest(format!("posagent-training-root/{profile}").as_bytes());
    Ed25519KeyPair::from_seed_unchecked(&seed).expect("32 bytes make a key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: &str) -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&Sha256::digest(seed.as_bytes())).unwrap()
    }

    fn delegated(k: &Ed25519KeyPair, from: u64, until: u64) -> DelegatedKey {
        let public_key: [u8; 32] = k.public_key().as_ref().try_into().unwrap();
        DelegatedKey {
            key_id: key_id(&public_key),
            public_key,
            valid_from: from,
            valid_until: until,
        }
    }

    fn public(k: &Ed25519KeyPair) -> [u8; 32] {
        k.public_key().as_ref().try_into().unwrap()
    }

    /// The test vector of docs/protocol.md §11: fixed keys, fixed times, the bytes given
    /// there in hex.
    #[test]
    fn the_documented_test_vector() {
        let root = key("posagent-test-vector/root");
        let signer = key("posagent-test-vector/order-key");
        let st = Statement::sign(
            3,
            1_900_000_000,
            &[delegated(&signer, 1_700_000_000, 1_900_000_000)],
            &root,
        );
        let grant = Grant {
            serial: "SN-VECTOR-1",
            counter: 7,
            operation: Operation::RebindPhone,
            target: target_digest(Some(
                &Writer::new()
                    .u8(tag::DEVICE_STATUS, 1)
                    .str(tag::PHONE, "13900001111")
                    .finish(),
            )),
            not_after: 1_800_000_000,
        };
        let a = Authorisation::sign(&grant, &signer);
        assert_eq!(
            hex::encode(public(&root)),
            "3a2990ca3293c52897e644593276e18f42c72cfec7b96eb4267e205cb3c424ac"
        );
        assert_eq!(
            hex::encode(st.to_bytes()),
            include_str!("../../../docs/vectors/statement.hex").trim()
        );
        assert_eq!(
            hex::encode(a.to_bytes()),
            include_str!("../../../docs/vectors/authorisation.hex").trim()
        );
        st.verify(&public(&root), 1_750_000_000, 0).unwrap();
        a.verify(&st, 1_750_000_000).unwrap();
    }

    /// Side door: a key file's bound that was not RFC 3339 (`"2025-01-01"`) was ignored, and
    /// the key never expired. A statement's bounds are fixed-size integers it signs: one that
    /// does not read as such, or a window that ends before it begins, is refused whole.
    #[test]
    fn a_statement_with_an_unreadable_or_inverted_bound_is_refused() {
        let (root, signer) = (key("root"), key("signer"));
        let k = delegated(&signer, 100, 1_500);
        // A statement signed by the root whose key has these bounds as written.
        let signed_with = |valid_from: &[u8], valid_until: &[u8]| {
            let mut w = Writer::new();
            w.bytes(tag::STATEMENT_VERSION, &1u32.to_be_bytes())
                .bytes(tag::EXPIRES, &2_000u64.to_be_bytes());
            w.nested(tag::DELEGATED_KEY, |e| {
                e.bytes(tag::KEY_ID, &k.key_id)
                    .bytes(tag::PUBLIC_KEY, &k.public_key)
                    .bytes(tag::VALID_FROM, valid_from)
                    .bytes(tag::VALID_UNTIL, valid_until);
            });
            w.bytes(tag::ROOT_KEY_ID, &key_id(&public(&root)));
            let mut covered = w.finish();
            let sig = sign_ed25519(&root, STATEMENT_DOMAIN, &covered);
            covered.extend(Writer::new().bytes(tag::SIGNATURE, &sig).finish());
            Statement::parse(&covered)
        };
        let (from, until) = (100u64.to_be_bytes(), 1_500u64.to_be_bytes());
        assert!(signed_with(&from, &until).is_ok());
        for (what, f, u) in [
            ("a bound of 7 bytes", &from[..], &until[1..]),
            ("a bound as text", &from[..], &b"2025-01-01"[..]),
            ("a window that ends before it begins", &until[..], &from[..]),
        ] {
            assert!(matches!(signed_with(f, u), Err(AuthorityError::Malformed(_))), "{what}");
        }
    }

    #[test]
    fn a_statement_and_an_authorisation_verify_and_any_change_does_not() {
        let (root, signer) = (key("root"), key("signer"));
        let st = Statement::sign(1, 2_000, &[delegated(&signer, 100, 1_500)], &root);
        st.verify(&public(&root), 1_000, 1).unwrap();
        let grant = Grant {
            serial: "SN1",
            counter: 0,
            operation: Operation::RebindCard,
            target: [7; 32],
            not_after: 1_200,
        };
        let a = Authorisation::sign(&grant, &signer);
        a.verify(&st, 1_000).unwrap();
        // Every byte of either, changed, breaks it (or no longer parses).
        for i in 0..st.to_bytes().len() {
            let mut b = st.to_bytes().to_vec();
            b[i] ^= 0x01;
            if let Ok(bad) = Statement::parse(&b) {
                assert!(bad.verify(&public(&root), 1_000, 1).is_err(), "statement byte {i}");
            }
        }
        for i in 0..a.to_bytes().len() {
            let mut b = a.to_bytes().to_vec();
            b[i] ^= 0x01;
            if let Ok(bad) = Authorisation::parse(&b) {
                assert!(bad.verify(&st, 1_000).is_err(), "authorisation byte {i}");
            }
        }
        // Another root, an older version than held, an expired statement.
        assert_eq!(
            st.verify(&public(&key("other")), 1_000, 1),
            Err(AuthorityError::UnknownRoot(st.root_key_id))
        );
        assert_eq!(
            st.verify(&public(&root), 1_000, 2),
            Err(AuthorityError::Rollback { offered: 1, held: 2 })
        );
        assert!(matches!(
            st.verify(&public(&root), 2_000, 1),
            Err(AuthorityError::StatementExpired { .. })
        ));
        // A key outside its window, a void authorisation, a key not delegated.
        assert!(matches!(a.verify(&st, 1_600), Err(AuthorityError::KeyNotValid { .. })));
        assert!(matches!(a.verify(&st, 1_300), Err(AuthorityError::Expired(1_200))));
        let other = Authorisation::sign(&grant, &key("not delegated"));
        assert!(matches!(other.verify(&st, 1_000), Err(AuthorityError::UnknownKey(_))));
    }
}
