//! The providers' key statements (docs/protocol.md §11): pulled while online
//! (`GET /v1/keys`), each verified against a root the profiles ship and kept unless it is
//! older than the one held (no rollback); read back offline to know which keys sign orders.

use super::api;
use super::client::{Client, Session, SyncError};
use crate::authority::{self, AuthorityError, Statement};
use crate::profile::ProfileSet;
use crate::signed::OrderKeys;
use crate::store::orders::StatementError;
use crate::store::{Store, StoreError};

/// The provider's answer to `GET /v1/keys`: each statement's value (`E3`), hex.
#[derive(serde::Deserialize)]
struct KeysAnswer {
    statements: Vec<String>,
}

/// Every root key the profiles trust (each once).
pub fn roots(profiles: &ProfileSet) -> Vec<[u8; 32]> {
    let mut roots: Vec<[u8; 32]> = profiles.iter().flat_map(|(p, _)| authority::trusted_roots(p)).collect();
    roots.sort_unstable();
    roots.dedup();
    roots
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// The order keys the statements this data directory keeps delegate, those that still
/// verify now against the profiles' roots (an expired statement delegates nothing).
pub fn held(store: &Store, profiles: &ProfileSet) -> Result<OrderKeys, StoreError> {
    let statements: Vec<Statement> = store
        .statements()?
        .iter()
        .filter_map(|raw| Statement::parse(raw).ok())
        .collect();
    let (keys, refused) = OrderKeys::from_statements(&statements, &roots(profiles), unix_now());
    for e in refused {
        tracing::warn!("a key statement kept here no longer stands: {e}");
    }
    Ok(keys)
}

/// Why a statement the provider served was not kept.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error(transparent)]
    Kept(#[from] StatementError),
}

/// Checks one statement the provider served against the profiles' roots at `now`, no
/// older than the one held for its root, and keeps it.
pub fn accept(store: &mut Store, roots: &[[u8; 32]], raw: &[u8], now: u64) -> Result<Statement, Refused> {
    let st = Statement::parse(raw)?;
    let root = roots
        .iter()
        .find(|r| authority::key_id(*r) == st.root_key_id)
        .ok_or(AuthorityError::UnknownRoot(st.root_key_id))?;
    st.verify(root, now, 0)?;
    store.save_statement(&hex::encode(st.root_key_id), st.version, raw)?;
    Ok(st)
}

/// Fetches the provider's key statements on `session` and keeps those that stand; returns
/// those refused, with why.
pub async fn pull(
    client: &Client,
    session: &mut Session,
    store: &mut Store,
    profiles: &ProfileSet,
) -> Result<Vec<String>, SyncError> {
    let answer: KeysAnswer = client.get_json(session, api::KEYS_PATH, "the key statements").await?;
    let roots = roots(profiles);
    let now = unix_now();
    let mut not_kept = Vec::new();
    for text in answer.statements.iter().take(crate::authority::MAX_STATEMENTS) {
        let outcome = hex::decode(text)
            .map_err(|_| Refused::Authority(AuthorityError::Malformed("a statement that is not hex".into())))
            .and_then(|raw| accept(store, &roots, &raw, now));
        if let Err(e) = outcome {
            not_kept.push(e.to_string());
        }
    }
    Ok(not_kept)
}
