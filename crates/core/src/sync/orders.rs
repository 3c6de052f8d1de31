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
    /// Key statements the provider served that were not kept, with why (an older version
    /// than the one held, another provider's root, an expired one …).
    pub statements_refused: Vec<String>,
}

/// The provider's answer to `GET /v1/orders`.
#[derive(serde::Deserialize)]
struct OrdersAnswer {
    orders: Vec<SignedOrder>,
}

/// Fetches the provider's key statements, then the orders issued to `technician`, on one
/// connection; verifies each order (its key delegated by a statement kept, valid when the
/// order was issued and now) and keeps those that verify.
pub async fn pull(
    client: &Client,
    technician: &str,
    profiles: &ProfileSet,
    store: &mut Store,
    keys: &LocalKeys,
) -> Result<Pulled, SyncError> {
    let mut session = client.connect().await?;
    let statements_refused = super::keys::pull(client, &mut session, store, profiles).await?;
    let order_keys = super::keys::held(store, profiles)?;
    let path = format!("{}?technician={}", api::ORDERS_PATH, api::percent_encode(technician));
    let answer: OrdersAnswer = client.get_json(&mut session, &path, "the orders").await?;
    let mut pulled = Pulled {
        statements_refused,
        ..Pulled::default()
    };
    let now = chrono::Utc::now();
    // Orders are kept until their validity runs out, not after.
    store.forget_expired_orders(&crate::store::timestamp(now))?;
    for order in answer.orders {
        match order.verify(&order_keys, Some(now)) {
            Ok(v) if v.valid_until < now => pulled
                .refused
                .push((v.id, crate::tr!("orders-expired-at", at = v.valid_until.to_rfc3339()))),
            Ok(v) => pulled.kept.push(keep(store, keys, &order, &v)?),
            Err(e) => pulled.refused.push((order.id(), e.to_string())),
        }
    }
    for (id, reason) in &pulled.refused {
        store.save_refused_order(id, reason)?;
    }
    Ok(pulled)
}

/// Keeps a verified order (sealed) for offline use, as `orders pull` does.
pub fn keep(store: &mut Store, keys: &LocalKeys, order: &SignedOrder, v: &Verified) -> Result<PulledOrder, SyncError> {
    let row = PulledOrder {
        id: v.id.clone(),
        technician: v.technician.clone(),
        operation: v.fields.get("operation").cloned().unwrap_or_default(),
        serial: v.fields.get("expect.serial").cloned(),
        valid_until: crate::store::timestamp(v.valid_until),
        key_id: v.key_id.clone(),
        pulled_at: crate::store::now(),
    };
    let doc = serde_json::to_vec(order).map_err(|e| SyncError::Setup(e.to_string()))?;
    store.save_pulled(&row, &keys.seal(&doc))?;
    Ok(row)
}

/// Pulls the key statements and the orders issued to config.toml's technician from the
/// provider config.toml names (with `overrides` in its place); returns them with the
/// technician's name.
pub async fn pull_configured(
    paths: &crate::config::Paths,
    overrides: super::settings::Overrides,
) -> Result<(Pulled, String), PulledError> {
    let (settings, _, _) = super::settings::settings(paths, overrides)?;
    let technician = crate::config::Config::load(paths)?.technician();
    let profiles = ProfileSet::load(&paths.profile_overrides())?;
    let client = Client::new(&settings)?;
    let mut store = Store::open(&paths.data)?;
    let keys = LocalKeys::load_or_create(&paths.data).map_err(SyncError::from)?;
    let pulled = pull(&client, &technician, &profiles, &mut store, &keys).await?;
    Ok((pulled, technician))
}

/// A pulled order's signed document, opened.
pub fn document(store: &Store, keys: &LocalKeys, id: &str) -> Result<Option<SignedOrder>, SyncError> {
    let Some(sealed) = store.pulled_document(id)? else {
        return Ok(None);
    };
    let plain = keys.open(&sealed)?;
    serde_json::from_slice(&plain)
        .map(Some)
        .map_err(|e| SyncError::Setup(crate::tr!("pulled-order-unreadable", id = id, reason = e.to_string())))
}

/// Why the pulled orders could not be looked at (as opposed to one not being ready).
#[derive(Debug, thiserror::Error)]
pub enum PulledError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Settings(#[from] super::settings::SettingsError),
}

impl From<crate::store::StoreError> for PulledError {
    fn from(e: crate::store::StoreError) -> Self {
        PulledError::Sync(e.into())
    }
}

/// Where a pulled order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Waiting for a job.
    Pulled,
    /// A job is carrying it out right now.
    Running,
    /// Its job stopped before the end and waits for a resume or an abort.
    Interrupted,
    /// Its job is done.
    Executed,
    /// Its validity ran out before a job carried it out.
    Expired,
}

impl OrderState {
    /// The state as a person reads it.
    pub fn label(self) -> String {
        match self {
            OrderState::Pulled => crate::tr!("pulled-waiting"),
            OrderState::Running => crate::tr!("pulled-running"),
            OrderState::Interrupted => crate::tr!("pulled-interrupted"),
            OrderState::Executed => crate::tr!("pulled-executed"),
            OrderState::Expired => crate::tr!("pulled-expired"),
        }
    }
}

/// Where a pulled order stands, as `posagent orders` and the console list it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Standing {
    pub id: String,
    pub operation: String,
    pub serial: Option<String>,
    pub valid_until: String,
    pub state: OrderState,
    /// Whether its validity ends today, in this machine's time zone.
    pub due_today: bool,
    /// The job that carries it out (or did).
    pub job: Option<String>,
}

/// Every pulled order kept, with where it stands: a job recorded running that no process
/// carries on (the data directory `data` holds the jobs' locks) was cut off, and shows
/// interrupted.
pub fn standings(store: &Store, data: &std::path::Path) -> Result<Vec<Standing>, crate::store::StoreError> {
    use crate::store::jobs::JobState;
    let now = crate::store::now();
    let today = chrono::Local::now().date_naive();
    let mut listed = Vec::new();
    for o in store.pulled_orders()? {
        let job = match store.job_of_order(&o.id)? {
            Some(id) => store.job(&id)?,
            None => None,
        };
        let state = match &job {
            Some(j) => match crate::store::live::state_now(data, j) {
                JobState::Done => OrderState::Executed,
                JobState::Running => OrderState::Running,
                _ => OrderState::Interrupted,
            },
            None if o.valid_until < now => OrderState::Expired,
            None => OrderState::Pulled,
        };
        let due_today = chrono::DateTime::parse_from_rfc3339(&o.valid_until)
            .is_ok_and(|t| t.with_timezone(&chrono::Local).date_naive() == today);
        listed.push(Standing {
            id: o.id,
            operation: o.operation,
            serial: o.serial,
            valid_until: o.valid_until,
            state,
            due_today,
            job: job.map(|j| j.id),
        });
    }
    Ok(listed)
}

/// A pulled order as [`checked`] found it.
pub type Checked = Result<(WorkOrder, Verified), NotReady>;

/// The pulled orders of a data directory, checked against config.toml's order keys and
/// technician.
pub struct Ready {
    store: Store,
    local: LocalKeys,
    paths: crate::config::Paths,
}

impl Ready {
    pub fn open(paths: &crate::config::Paths) -> Result<Ready, PulledError> {
        let store = Store::open(&paths.data)?;
        let local = LocalKeys::load_or_create(&paths.data).map_err(SyncError::from)?;
        Ok(Ready {
            store,
            local,
            paths: paths.clone(),
        })
    }

    /// The order keys the statements kept delegate, and whose orders (config.toml's
    /// technician).
    fn authority(&self, profiles: &ProfileSet) -> Result<(OrderKeys, String), PulledError> {
        let keys = super::keys::held(&self.store, profiles)?;
        let technician = crate::config::Config::load(&self.paths)?.technician();
        Ok((keys, technician))
    }

    /// The pulled order `id` as the provider signed it; `None` when none was pulled.
    pub fn document(&self, id: &str) -> Result<Option<SignedOrder>, PulledError> {
        Ok(document(&self.store, &self.local, id)?)
    }

    /// The pulled order `id` checked as a job checks it ([`checked`]); `None` when no
    /// order by that id was pulled (the keys are read only when one was).
    pub fn one(&self, id: &str, profiles: &ProfileSet) -> Result<Option<Checked>, PulledError> {
        let Some(doc) = document(&self.store, &self.local, id)? else {
            return Ok(None);
        };
        let (keys, technician) = self.authority(profiles)?;
        Ok(Some(checked(&doc, &keys, &technician, profiles)))
    }

    /// Every pulled order no job has carried out yet, each checked ([`checked`]).
    pub fn all(&self, profiles: &ProfileSet) -> Result<Vec<Checked>, PulledError> {
        let (keys, technician) = self.authority(profiles)?;
        let mut orders = Vec::new();
        for o in self.store.pulled_orders()? {
            if self.store.job_of_order(&o.id)?.is_some() {
                continue;
            }
            if let Some(doc) = document(&self.store, &self.local, &o.id)? {
                orders.push(checked(&doc, &keys, &technician, profiles));
            }
        }
        Ok(orders)
    }
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

/// A pulled order checked as a job checks it: its signature against `keys` (the key
/// valid when it was issued and now), that it is `technician`'s and valid now, that the
/// profile it names trusts the root its key was delegated by, and its fields against the
/// profiles.
pub fn checked(
    doc: &SignedOrder,
    keys: &OrderKeys,
    technician: &str,
    profiles: &ProfileSet,
) -> Result<(WorkOrder, Verified), NotReady> {
    let now = chrono::Utc::now();
    let v = doc.verify(keys, Some(now))?;
    v.authorise(technician, now)?;
    let order = crate::order::validate(&v.raw(), profiles).map_err(NotReady::Invalid)?;
    v.signed_for(profiles.get(&order.profile).ok())?;
    Ok((order, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulled(id: &str, valid_until: chrono::DateTime<chrono::Utc>) -> PulledOrder {
        PulledOrder {
            id: id.into(),
            technician: "t".into(),
            operation: "rebind-card".into(),
            serial: Some("SN1".into()),
            valid_until: crate::store::timestamp(valid_until),
            key_id: "k".into(),
            pulled_at: crate::store::now(),
        }
    }

    #[test]
    fn standings_tell_waiting_expired_and_due_today_by_local_date() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let now = chrono::Utc::now();
        // The last second of today on this machine's clock.
        let end_of_today = chrono::Local::now()
            .date_naive()
            .and_hms_opt(23, 59, 59)
            .and_then(|t| t.and_local_timezone(chrono::Local).single())
            .unwrap()
            .with_timezone(&chrono::Utc);
        store
            .save_pulled(&pulled("A-LATER", now + chrono::Duration::days(3)), b"x")
            .unwrap();
        store
            .save_pulled(&pulled("B-GONE", now - chrono::Duration::hours(1)), b"x")
            .unwrap();
        store.save_pulled(&pulled("C-TODAY", end_of_today), b"x").unwrap();
        let s = standings(&store, dir.path()).unwrap();
        let of = |id: &str| s.iter().find(|o| o.id == id).unwrap();
        assert_eq!(
            (of("A-LATER").state, of("A-LATER").due_today),
            (OrderState::Pulled, false)
        );
        assert_eq!(of("B-GONE").state, OrderState::Expired);
        assert_eq!(
            (of("C-TODAY").state, of("C-TODAY").due_today),
            (OrderState::Pulled, true)
        );
        assert!(s.iter().all(|o| o.job.is_none()));
        // A job on an order that no process carries on was cut off: interrupted, not done.
        let mut job = crate::store::jobs::tests::job_record("J-A", "SN1");
        job.order_id = "A-LATER".into();
        store.create_job(&job).unwrap();
        let s = standings(&store, dir.path()).unwrap();
        let a = s.iter().find(|o| o.id == "A-LATER").unwrap();
        assert_eq!((a.state, a.job.as_deref()), (OrderState::Interrupted, Some("J-A")));
        let _held = crate::store::live::take(dir.path(), "J-A").unwrap().unwrap();
        let s = standings(&store, dir.path()).unwrap();
        assert_eq!(s.iter().find(|o| o.id == "A-LATER").unwrap().state, OrderState::Running);
    }
}
