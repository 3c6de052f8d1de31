//! `posagent config [path | show | init]`: where settings live, what they are, and a file
//! to start from.

use serde::Serialize;

use super::args::ConfigCommand;
use super::{CliError, Exit, Output};
use crate::config::{CONFIG_TEMPLATE, Config, Paths};

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
            let human = format!(
                "configuration  {}{}\ndata           {}\nprofiles       {}",
                w.config_file,
                if w.exists {
                    ""
                } else {
                    "  (not written yet: `posagent config init`)"
                },
                w.data_dir,
                w.profile_overrides
            );
            out.print(&human, &w);
        }
        ConfigCommand::Show => {
            // The file holds paths to keys, never keys; nothing in it is secret.
            let config = Config::load(paths).map_err(|e| CliError::new(Exit::DataErr, e))?;
            let text = toml::to_string(&config)
                .map_err(|e| CliError::new(Exit::Failure, format!("cannot show the configuration: {e}")))?;
            let human = format!("# {}\n{}", file.display(), text);
            out.print(&human, &config);
        }
        ConfigCommand::Init { force } => {
            if file.exists() && !force {
                return Err(
                    CliError::new(Exit::DataErr, format!("{} already exists", file.display()))
                        .help("pass --force to replace it, or edit it"),
                );
            }
            crate::private::dir(&paths.config)
                .and_then(|()| crate::private::replace(&file, CONFIG_TEMPLATE.as_bytes()))
                .map_err(|e| CliError::new(Exit::Failure, format!("cannot write {}: {e}", file.display())))?;
            out.print(
                &format!("wrote {}; uncomment what applies", file.display()),
                &serde_json::json!({ "written": file }),
            );
        }
    }
    Ok(())
}
