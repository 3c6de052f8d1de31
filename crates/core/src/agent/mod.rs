//! The application layer: one [`Agent`] opened once from a data directory (config.toml,
//! the profiles, the provider's order keys, the local key, how terminals are reached and
//! where one-time codes come from), with one method per use case. Every door (the command
//! line, the console, a plan run, the demo) parses what it was given, calls one of these
//! and renders what comes back; none assembles a job by hand, so what a job checks never
//! depends on where it was started.

pub mod plan;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backup::BackupError;
use crate::config::{Config, ConfigError, Paths};
use crate::job::{
    self, Archive, At, Context, Credentials, JobError, JobOutcome, Observer, Options, OrderForError, OrderRef,
    Prepared, Receipt,
};
use crate::link::port::{Opener, SerialOpener};
use crate::order::Operation;
use crate::profile::{Profile, ProfileError, ProfileSet};
use crate::seal::{LocalKeys, SealError};
use crate::store::Store;
use crate::store::jobs::JobState;
use crate::sync::codes::Codes;
use crate::sync::delivery::{Delivery, DeliveryError};
use crate::sync::settings::{Overrides, SettingsError};

/// Why the agent could not be opened on a data directory.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// The agent of one data directory.
pub struct Agent {
    paths: Paths,
    config: Config,
    profiles: ProfileSet,
    keys: LocalKeys,
    technician: String,
    opener: Arc<dyn Opener>,
    codes: Codes,
}

impl Agent {
    /// Opens the agent of `paths`: terminals on serial ports, codes from the provider
    /// config.toml names.
    pub fn open(paths: &Paths) -> Result<Agent, OpenError> {
        let config = Config::load(paths)?;
        let profiles = ProfileSet::load(&paths.profile_overrides())?;
        let keys = LocalKeys::load_or_create(&paths.data)?;
        let codes = Codes::configured(paths)?;
        Ok(Agent {
            paths: paths.clone(),
            technician: config.technician(),
            config,
            profiles,
            keys,
            opener: Arc::new(SerialOpener),
            codes,
        })
    }

    /// The same agent reaching terminals through `opener` (simulated terminals in tests).
    pub fn with_opener(mut self, opener: Arc<dyn Opener>) -> Agent {
        self.opener = opener;
        self
    }

    /// The same agent asking `codes` for one-time codes.
    pub fn with_codes(mut self, codes: Codes) -> Agent {
        self.codes = codes;
        self
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn profiles(&self) -> &ProfileSet {
        &self.profiles
    }

    /// Who is working (config.toml's technician).
    pub fn technician(&self) -> &str {
        &self.technician
    }

    /// How terminals are reached.
    pub fn opener(&self) -> &Arc<dyn Opener> {
        &self.opener
    }

    /// The data directory's store.
    pub fn store(&self) -> Result<Store, crate::store::StoreError> {
        Store::open(&self.paths.data)
    }

    /// What every job shares, with the order keys the key statements kept here delegate
    /// now (a pull may have brought new ones since the agent was opened).
    fn context(&self) -> Result<Context<'_>, crate::store::StoreError> {
        let order_keys = crate::sync::keys::held(&self.store()?, &self.profiles)?;
        Ok(Context {
            paths: &self.paths,
            profiles: &self.profiles,
            order_keys,
            technician: &self.technician,
            keys: &self.keys,
            opener: self.opener.clone(),
            codes: &self.codes,
        })
    }

    /// The order `r` names (for `op` when given), read and checked: a local file, one
    /// order of a file, or a pulled order verified against the provider's keys.
    pub fn order(&self, r: &OrderRef<'_>, op: Option<Operation>) -> Result<Prepared, OrderForError> {
        job::orders::prepare(&self.context()?, r, op)
    }

    /// Starts a job on `order` at `at`; a dry run passes the gate and changes nothing.
    pub fn start(
        &self,
        order: &Prepared,
        at: &At,
        creds: Credentials<'_>,
        opts: &Options,
        observer: &mut dyn Observer,
    ) -> Result<JobOutcome, JobError> {
        let outcome = job::start(&self.context()?, order, at, creds, opts, observer)?;
        Ok(self.with_receipt(outcome))
    }

    /// Carries an unfinished job on, whatever its order's origin.
    pub fn resume(
        &self,
        id: &str,
        at: &At,
        creds: Credentials<'_>,
        opts: &Options,
        observer: &mut dyn Observer,
    ) -> Result<JobOutcome, JobError> {
        let outcome = job::resume(&self.context()?, id, at, creds, opts, observer)?;
        Ok(self.with_receipt(outcome))
    }

    /// Rolls an unfinished job back, whatever its order's origin.
    pub fn abort(
        &self,
        id: &str,
        at: &At,
        creds: Credentials<'_>,
        observer: &mut dyn Observer,
    ) -> Result<JobOutcome, JobError> {
        let outcome = job::abort(&self.context()?, id, at, creds, observer)?;
        Ok(self.with_receipt(outcome))
    }

    /// Restores the backup `archive` (already read and checked with the password) onto
    /// the terminal at `port`, spoken to as `profile`, on the provider's pulled restore
    /// order `order` when there is one.
    pub fn restore(
        &self,
        archive: Archive<'_>,
        port: &Path,
        profile: &Profile,
        order: Option<&str>,
        creds: Credentials<'_>,
        observer: &mut dyn Observer,
    ) -> Result<JobOutcome, JobError> {
        let outcome = job::start_restore(&self.context()?, archive, port, profile, order, creds, observer)?;
        Ok(self.with_receipt(outcome))
    }

    /// Reads and checks a backup archive with `password`.
    pub fn read_archive(&self, file: &Path, password: &[u8]) -> Result<crate::backup::Opened, BackupError> {
        crate::backup::read_archive(file, password)
    }

    /// A delivery run, from config.toml with `overrides` in its place.
    pub fn delivery(&self, overrides: Overrides) -> Result<Delivery, DeliveryError> {
        Delivery::open(&self.paths, overrides)
    }

    /// Writes the receipt of a job that ran (a dry run has none); the job stands either
    /// way (`posagent jobs receipt ID` writes it again).
    fn with_receipt(&self, mut outcome: JobOutcome) -> JobOutcome {
        if outcome.job.state == JobState::Planned {
            return outcome;
        }
        let written = self
            .store()
            .map_err(Into::into)
            .and_then(|store| crate::receipt::write(&store, &self.paths.data, &outcome.job.id, None));
        outcome.receipt = match written {
            Ok(p) => Receipt {
                file: Some(p.display().to_string()),
                error: None,
            },
            Err(e) => {
                tracing::warn!(job = %outcome.job.id, "receipt not written: {e}");
                Receipt {
                    file: None,
                    error: Some(e.to_string()),
                }
            }
        };
        outcome
    }

    /// Where the terminal `serial` answers, spoken to as `profile`, among the ports but
    /// `exclude` (a probe must never speak into a running job's line).
    pub fn locate(
        &self,
        serial: &str,
        profile: &Profile,
        exclude: &[PathBuf],
    ) -> Result<PathBuf, crate::terminal::discover::ChooseError> {
        use crate::terminal::discover::{Choice, ChooseError, choose_among};
        match choose_among(
            &self.opener,
            &self.candidates(exclude)?,
            &self.profiles,
            None,
            Some(serial),
            Some(profile),
        )? {
            Choice::One { port, .. } => Ok(port),
            Choice::Several(found) => Err(ChooseError::SeveralAnswer {
                serial: serial.to_string(),
                ports: found
                    .iter()
                    .map(|f| f.port.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The ports worth probing for terminals, less `exclude` (ports a running job uses).
    pub fn candidates(
        &self,
        exclude: &[PathBuf],
    ) -> Result<Vec<crate::terminal::discover::Candidate>, crate::terminal::discover::DiscoverError> {
        let mut c = crate::terminal::discover::candidates_of(&self.opener, &self.config.ports.extra)?;
        c.retain(|c| !exclude.contains(&c.port));
        Ok(c)
    }
}
