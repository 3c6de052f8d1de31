//! One delivery run, as `posagent sync`, the console's "Sync now" and the demo carry it
//! out: the provider settings, a client, the data directory's delivery lock, the store and
//! the local keys, taken in that order (so a wrong setting is reported before anything is
//! opened); then the outbox delivered, and the orders issued meanwhile pulled.

use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use super::client::{Client, SyncError};
use super::drain::{Drain, DrainOptions, SyncObserver, Tally};
use super::orders::{Pulled, PulledError};
use super::settings::{Overrides, SettingsError};
use crate::config::Paths;
use crate::seal::LocalKeys;
use crate::store::{Store, StoreError};

/// Why a delivery run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// Another run holds the data directory's delivery lock.
    #[error("{}", crate::tr!("sync-busy"))]
    Busy,
    #[error("{}", crate::tr!("cannot-open", file = .path.display().to_string(), reason = crate::input::describe_io(.source)))]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// config.toml's technician or the profiles could not be read.
    #[error(transparent)]
    Pulled(#[from] PulledError),
}

impl From<StoreError> for DeliveryError {
    fn from(e: StoreError) -> Self {
        DeliveryError::Sync(e.into())
    }
}

/// How long a run goes on.
#[derive(Debug, Clone, Copy)]
pub enum Rounds {
    /// Until nothing is due within `max_wait`; with nothing queued, it still connects, to
    /// prove the provider reachable and trusted.
    Once { max_wait: Duration },
    /// Until asked to stop, looking for new submissions every `interval`.
    Watch { interval: Duration },
}

/// A delivery run, holding the delivery lock for as long as it lives.
pub struct Delivery {
    client: Client,
    store: Store,
    keys: LocalKeys,
    batch_size: usize,
    retry_base: Duration,
    _lock: File,
}

impl Delivery {
    /// Everything a run needs, from config.toml with `overrides` in its place.
    pub fn open(paths: &Paths, overrides: Overrides) -> Result<Delivery, DeliveryError> {
        let (settings, batch_size, retry_base) = super::settings::settings(paths, overrides)?;
        let client = Client::new(&settings)?;
        let lock = super::lock::one_delivery_run(&paths.data)
            .map_err(|source| DeliveryError::Lock {
                path: paths.data.join(super::lock::LOCK_FILE),
                source,
            })?
            .ok_or(DeliveryError::Busy)?;
        let store = Store::open(&paths.data)?;
        let keys = LocalKeys::load_or_create(&paths.data).map_err(SyncError::from)?;
        Ok(Delivery {
            client,
            store,
            keys,
            batch_size,
            retry_base,
            _lock: lock,
        })
    }

    /// The provider's address.
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// The store the run delivers from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Submissions waiting to be delivered (or left in flight by a killed run).
    pub fn queued(&self) -> Result<u64, StoreError> {
        Ok(self.store.queue_state()?.waiting().unsigned_abs())
    }

    /// Delivers the outbox; setting `stop` ends the run after the batch in flight. Returns
    /// what was done, and how the run ended.
    pub async fn deliver(
        &mut self,
        rounds: Rounds,
        stop: watch::Receiver<bool>,
        obs: &mut dyn SyncObserver,
    ) -> Result<(Tally, Result<(), SyncError>), DeliveryError> {
        let max_wait = match rounds {
            Rounds::Once { max_wait } => max_wait,
            Rounds::Watch { interval } => interval,
        };
        if matches!(rounds, Rounds::Once { .. }) && self.queued()? == 0 {
            self.client.connect().await?;
        }
        let opts = DrainOptions {
            batch_size: self.batch_size,
            max_wait,
            retry_base: self.retry_base,
        };
        let mut drain = Drain::new(&mut self.store, &self.keys, &self.client, opts, stop)?;
        let result = match rounds {
            Rounds::Once { .. } => drain.run(obs).await,
            Rounds::Watch { interval } => drain.watch(interval, obs).await,
        };
        Ok((drain.tally.clone(), result))
    }

    /// Pulls the providers' key statements and the orders issued to config.toml's
    /// technician.
    pub async fn pull_orders(&mut self, paths: &Paths) -> Result<Pulled, DeliveryError> {
        let technician = crate::config::Config::load(paths)
            .map_err(PulledError::from)?
            .technician();
        let profiles = crate::profile::ProfileSet::load(&paths.profile_overrides()).map_err(PulledError::from)?;
        let pulled = super::orders::pull(&self.client, &technician, &profiles, &mut self.store, &self.keys).await?;
        Ok(pulled)
    }
}
