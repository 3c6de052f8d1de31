//! Where and how to deliver: config.toml's `[provider]` with what the command line puts
//! in its place, checked.

use std::path::PathBuf;
use std::time::Duration;

use super::client::ProviderSettings;

/// What the command line may put in place of `[provider]` settings.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub url: Option<String>,
    pub ca: Option<PathBuf>,
    /// A client certificate and its key, given together.
    pub client: Option<(PathBuf, PathBuf)>,
    pub agent_key_file: Option<PathBuf>,
}

/// Why the provider settings are not usable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    OutOfRange(#[from] super::drain::OutOfRange),
    #[error("{}", crate::tr!("sync-no-provider"))]
    NoProvider,
    #[error("{}", crate::tr!("sync-no-agent-key"))]
    NoAgentKey,
}

/// Where and how to deliver: `overrides` over config.toml's `[provider]` (relative paths
/// taken from the config directory), with the batch size and first-retry ceiling.
pub fn settings(
    paths: &crate::config::Paths,
    overrides: Overrides,
) -> Result<(ProviderSettings, usize, Duration), SettingsError> {
    let config = crate::config::Config::load(paths).map_err(SettingsError::Config)?;
    let p = config.provider;
    let config_file = paths.config.join(crate::config::CONFIG_FILE);
    let (batch, retry_base) = super::drain::delivery_settings(&p, &config_file)?;
    let rel = |f: Option<PathBuf>| f.map(|f| if f.is_absolute() { f } else { paths.config.join(f) });
    let url = overrides.url.or(p.url).ok_or(SettingsError::NoProvider)?;
    let agent_key_file = overrides
        .agent_key_file
        .or(rel(p.agent_key_file))
        .ok_or(SettingsError::NoAgentKey)?;
    let (client_cert, client_key) = match overrides.client {
        Some((c, k)) => (Some(c), Some(k)),
        None => (rel(p.client_cert), rel(p.client_key)),
    };
    Ok((
        ProviderSettings {
            url,
            ca: overrides.ca.or(rel(p.ca)),
            pins: p.pins,
            client_cert,
            client_key,
            agent_key_file,
        },
        batch,
        retry_base,
    ))
}
