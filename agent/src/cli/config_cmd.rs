//! `posagent config [path | show | init]`: where settings live, what they are, and a file
//! to start from.

use serde::Serialize;

use super::args::ConfigCommand;
use super::{CliError, Exit, Output};
use crate::config::{Config, Paths};
use crate::tr;

#[derive(Serialize)]
struct Where {
    config_file: String,
    config_dir: String,
    data_dir: String,
    profile_overrides: String,
    exists: bool,
}

pub fn run(paths: &Paths, action: Option<ConfigCommand>, out: &Output) -> Result<(), CliError> {
    let file = paths.config_file();
    match action.unwrap_or(ConfigCommand::Path) {
        ConfigCommand::Path => {
            let w = Where {
                config_file: file.display().to_string(),
                config_dir: paths.config.display().to_string(),
                data_dir: paths.data.display().to_string(),
                profile_overrides: paths.profile_overrides().display().to_string(),
                exists: file.is_file(),
            };
            let config_line = if w.exists {
                w.config_file.clone()
            } else {
                tr!("config-not-written", file = w.config_file.as_str())
            };
            let human = [
                (tr!("config-file-label"), config_line),
                (tr!("config-data-label"), w.data_dir.clone()),
                (tr!("config-profiles-label"), w.profile_overrides.clone()),
            ]
            .map(|(label, value)| super::output::labelled(&label, &value, 15))
            .join("\n");
            out.print(&human, &w);
        }
        ConfigCommand::Show => {
            // The file holds paths to keys, never keys; nothing in it is secret.
            let config = Config::load(paths)?;
            let text = toml::to_string(&config)
                .map_err(|e| CliError::new(Exit::Failure, tr!("config-show-failed", reason = e.to_string())))?;
            let human = format!("# {}\n{}", file.display(), text);
            out.print(&human, &config);
        }
        ConfigCommand::Init { force } => {
            let file = Config::init(paths, force)?;
            out.print(
                &tr!("config-written", file = file.display().to_string()),
                &serde_json::json!({ "written": file }),
            );
        }
    }
    Ok(())
}
