//! Pulling the work orders the provider issued to this technician: each is verified
//! against the provider's order keys before it is kept (sealed) for offline use.

use super::api;
use super::client::{Client, SyncError};
use crate::order::{Problem, WorkOrder};
use crate::profile::ProfileSet;
use crate::seal::LocalKeys;
use crate::signed::{OrderAuthError, OrderKeys, SignedOrder, Verified};
use crate::store::Store;
use crate::store::orders::PulledOrder;

/// What a pull brought.
#[derive(Debug, Default, serde::Serialize)]
pub struct Pulled {
    /// Orders verified and kept.
    pub kept: Vec<PulledOrder>,
    /// Orders refused, with why (not kept).
    pub refused: Vec<(String, String)>,
}

/// The provider's answer to `GET /v1/orders`.
#[derive(serde::Deserialize)]
struct OrdersAnswer {
    orders: Vec<SignedOrder>,
}

/// Fetches the orders issued to `technician`, verifies each and keeps those that verify.
pub async fn pull(
    client: &Client,
    technician: &str,
    order_keys: &OrderKeys,
    store: &mut Store,
    keys: &LocalKeys,
) -> Result<Pulled, SyncError> {
    let mut session = client.connect().await?;
    let path = format!("{}?technician={}", api::ORDERS_PATH, api::percent_encode(technician));
    let reply = session
        .send(&client.sign_request(hyper::Method::GET, &path, Vec::new()))
        .await?;
    let refused = |detail: String| SyncError::Refused {
        url: client.url().to_string(),
        detail,
    };
    if reply.status != 200 {
        let body = String::from_utf8_lossy(&reply.body)
            .chars()
            .take(200)
            .collect::<String>();
        return Err(refused(format!("HTTP {} for the orders: {body}", reply.status)));
    }
    let answer: OrdersAnswer = serde_json::from_slice(&reply.body)
        .map_err(|e| refused(crate::tr!("orders-answer-invalid", reason = e.to_string())))?;
    let mut pulled = Pulled::default();
    let now = chrono::Utc::now();
    // Orders are kept until their validity runs out, not after.
    store.forget_expired_orders(&crate::store::timestamp(now))?;
    for order in answer.orders {
        match order.verify(order_keys) {
            Ok(v) if v.valid_until < now => pulled
                .refused
                .push((v.id, crate::tr!("orders-expired-at", at = v.valid_until.to_rfc3339()))),
            Ok(v) => {
                let row = PulledOrder {
                    id: v.id.clone(),
                    technician: v.technician.clone(),
                    operation: v.fields.get("operation").cloned().unwrap_or_default(),
                    serial: v.fields.get("expect.serial").cloned(),
                    valid_until: crate::store::timestamp(v.valid_until),
                    key_id: v.key_id.clone(),
                    pulled_at: crate::store::now(),
                };
                let doc = serde_json::to_vec(&order).map_err(|e| SyncError::Setup(e.to_string()))?;
                store.save_pulled(&row, &keys.seal(&doc))?;
                pulled.kept.push(row);
            }
            Err(e) => pulled.refused.push((order.id(), e.to_string())),
        }
    }
    Ok(pulled)
}

/// A pulled order's signed document, opened.
pub fn document(store: &Store, keys: &LocalKeys, id: &str) -> Result<Option<SignedOrder>, SyncError> {
    let Some(sealed) = store.pulled_document(id)? else {
        return Ok(None);
    };
    let plain = keys.open(&sealed)?;
    serde_json::from_slice(&plain)
        .map(Some)
        .map_err(|e| SyncError::Setup(format!("pulled order {id}: {e}")))
}

/// Why a pulled order may not be carried out now.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// Not the provider's authorisation for this technician at this moment.
    #[error(transparent)]
    Auth(#[from] OrderAuthError),
    /// Signed, but not a valid order under today's profiles.
    #[error("{}", crate::tr!("pulled-not-valid", problems = .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")))]
    Invalid(Vec<Problem>),
}

/// A pulled order checked as a job checks it: its signature against `keys`, that it is
/// `technician`'s and valid now, and its fields against the profiles.
pub fn checked(
    doc: &SignedOrder,
    keys: &OrderKeys,
    technician: &str,
    profiles: &ProfileSet,
) -> Result<(WorkOrder, Verified), NotReady> {
    let v = doc.verify(keys)?;
    v.authorise(technician, chrono::Utc::now())?;
    let order = crate::order::validate(&v.raw(), profiles).map_err(NotReady::Invalid)?;
    Ok((order, v))
}
