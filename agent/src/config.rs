//! Where posagent keeps its data and reads its configuration.
//!
//! `--home DIR` or `POSAGENT_HOME` puts everything (database, backups, config, profile
//! overrides) under one directory, which is what tests and portable installs use.
//! Without it, the platform's data and config directories are used.

use std::path::{Path, PathBuf};

/// The directories posagent uses.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Database, logs and default backup location.
    pub data: PathBuf,
    /// `config.toml` and the `profiles/` override directory.
    pub config: PathBuf,
}

/// No data directory could be determined.
#[derive(Debug, thiserror::Error)]
#[error("cannot determine a data directory (no HOME?); set POSAGENT_HOME or pass --home DIR")]
pub struct NoHome;

impl Paths {
    /// Everything under `home`.
    pub fn under(home: &Path) -> Paths {
        Paths {
            data: home.to_path_buf(),
            config: home.to_path_buf(),
        }
    }

    /// `home` when given, else the platform's directories.
    pub fn resolve(home: Option<&Path>) -> Result<Paths, NoHome> {
        if let Some(h) = home {
            return Ok(Paths::under(h));
        }
        let dirs = directories::ProjectDirs::from("", "", "posagent").ok_or(NoHome)?;
        Ok(Paths {
            data: dirs.data_dir().to_path_buf(),
            config: dirs.config_dir().to_path_buf(),
        })
    }

    /// Where profile overrides live.
    pub fn profile_overrides(&self) -> PathBuf {
        self.config.join("profiles")
    }
}
