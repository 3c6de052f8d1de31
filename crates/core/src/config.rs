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
#[error("{}", crate::tr!("no-home"))]
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
        // Data stays on this machine: on Windows %LOCALAPPDATA% (backups and the database
        // must not roam with the profile); elsewhere the same as the data directory.
        Ok(Paths {
            data: dirs.data_local_dir().to_path_buf(),
            config: dirs.config_dir().to_path_buf(),
        })
    }

    /// Where profile overrides live.
    pub fn profile_overrides(&self) -> PathBuf {
        self.config.join("profiles")
    }
}

/// Who is working, when config.toml does not say.
pub const TECHNICIAN_ENV: &str = "POSAGENT_TECHNICIAN";

/// The longest technician name, in characters.
pub const MAX_TECHNICIAN_CHARS: usize = 64;

/// `config.toml` in the config directory. Every key is optional; an unknown key or a wrong
/// type is an error naming the file and line, never ignored.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who is working: recorded in backups and the audit trail.
    pub technician: Option<String>,
    /// Where `posagent sync` delivers; each key can be overridden on the command line.
    #[serde(default)]
    pub provider: ProviderConfig,
    /// Where else to look for terminals.
    #[serde(default)]
    pub ports: PortsConfig,
}

impl Config {
    /// Who is working: `technician`, else `POSAGENT_TECHNICIAN`, else the login name.
    pub fn technician(&self) -> String {
        self.technician
            .clone()
            .or_else(|| std::env::var(TECHNICIAN_ENV).ok())
            .or_else(|| std::env::var("USER").ok().map(|u| format!("user:{u}")))
            .unwrap_or_else(|| UNKNOWN_TECHNICIAN.to_string())
    }
}

/// Who a job records when no technician is configured and the system names no user.
pub const UNKNOWN_TECHNICIAN: &str = "unknown";

/// A recorded technician as a person reads it: the name, or "unknown" in the current
/// language.
pub fn technician_shown(recorded: &str) -> String {
    if recorded == UNKNOWN_TECHNICIAN {
        crate::tr!("technician-unknown")
    } else {
        recorded.to_string()
    }
}

/// The `[ports]` table.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PortsConfig {
    /// Globs of extra places to look for terminals (pseudo-terminals, network serial
    /// devices), besides the machine's serial ports.
    #[serde(default)]
    pub extra: Vec<String>,
}

/// The `[provider]` table. Relative paths are relative to the config directory.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// `https://host[:port][/prefix]`.
    pub url: Option<String>,
    /// PEM bundle of CAs to trust instead of the system's roots.
    pub ca: Option<PathBuf>,
    /// SHA-256 fingerprints of the provider certificates to accept (hex, colons allowed).
    #[serde(default)]
    pub pins: Vec<String>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// File holding the agent's signing key (64 hex digits).
    pub agent_key_file: Option<PathBuf>,
    /// Submissions per request.
    pub batch_size: Option<usize>,
    /// Ceiling of the first retry's random wait, in milliseconds (doubling per attempt,
    /// capped at 15 minutes).
    pub retry_base_ms: Option<u64>,
}

/// A key config.toml once had that would add a trust anchor, which only the profiles
/// shipped with the product may (docs/security.md): refused, saying so.
const TRUST_ANCHOR_KEY: &str = "order_key_files";

/// Name of the configuration file inside the config directory.
pub const CONFIG_FILE: &str = "config.toml";

/// What `posagent config init` writes, in order: a comment (its catalogue key, one line
/// of the file per line of the message) or lines of TOML as they are (sections and the
/// keys, commented out with example values).
const CONFIG_TEMPLATE: &[(Template, &str)] = &[
    (Template::Comment, "config-tpl-intro"),
    (Template::Comment, "config-tpl-relative"),
    (Template::Toml, ""),
    (Template::Comment, "config-tpl-technician"),
    (Template::Toml, "# technician = \"zhang.wei\"\n\n[provider]"),
    (Template::Comment, "config-tpl-url"),
    (Template::Toml, "# url = \"https://sync.provider.example/posagent\""),
    (Template::Comment, "config-tpl-ca"),
    (Template::Toml, "# ca = \"provider-ca.pem\""),
    (Template::Comment, "config-tpl-pins"),
    (Template::Toml, "# pins = [\"AB:CD:...\"]"),
    (Template::Comment, "config-tpl-client"),
    (
        Template::Toml,
        "# client_cert = \"agent.pem\"\n# client_key = \"agent.key.pem\"",
    ),
    (Template::Comment, "config-tpl-agent-key"),
    (Template::Toml, "# agent_key_file = \"agent.key\""),
    (Template::Comment, "config-tpl-batch"),
    (Template::Toml, "# batch_size = 100\n# retry_base_ms = 2000"),
    (Template::Comment, "config-tpl-order-keys"),
    (Template::Toml, "\n[ports]"),
    (Template::Comment, "config-tpl-extra"),
    (Template::Toml, "# extra = [\"/tmp/pos-*\"]"),
];

/// A piece of [`CONFIG_TEMPLATE`].
#[derive(Clone, Copy)]
enum Template {
    /// A catalogue key, written as `# ` comment lines in the current language.
    Comment,
    /// Lines written as they are.
    Toml,
}

/// The text of a new `config.toml`: every key, commented, with what it does, in the
/// current language.
pub fn config_template() -> String {
    let mut out = String::new();
    for (kind, value) in CONFIG_TEMPLATE {
        match kind {
            Template::Comment => {
                for line in crate::i18n::text(value, None).lines() {
                    out.push_str(&format!("# {line}\n"));
                }
            }
            Template::Toml => {
                out.push_str(value);
                out.push('\n');
            }
        }
    }
    out
}

impl Paths {
    /// The configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config.join(CONFIG_FILE)
    }
}

/// Why `config.toml` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    /// Not TOML, or a key or value this version does not know (the parser's words, which
    /// name the line).
    #[error("{}: {reason}", .file.display())]
    Invalid { file: PathBuf, reason: String },
}

impl Config {
    /// Reads `config.toml`; a missing file is an empty configuration.
    pub fn load(paths: &Paths) -> Result<Config, ConfigError> {
        let path = paths.config.join(CONFIG_FILE);
        let config =
            match crate::input::read_text(&path, crate::input::MAX_CONFIG_FILE, &crate::tr!("what-config-file")) {
                Ok(text) => toml::from_str::<Config>(&text).map_err(|e| {
                    let mut reason = e.to_string().trim_end().to_string();
                    if reason.contains(TRUST_ANCHOR_KEY) {
                        reason = format!("{reason}\n{}", crate::tr!("config-no-trust-anchors"));
                    }
                    ConfigError::Invalid {
                        file: path.clone(),
                        reason,
                    }
                })?,
                Err(e) if e.is_not_found() => Config::default(),
                Err(e) => return Err(e.into()),
            };
        // The name goes into every backup, audit record and submission: plain text only.
        let named = [
            (path, config.technician.clone()),
            (PathBuf::from(TECHNICIAN_ENV), std::env::var(TECHNICIAN_ENV).ok()),
        ];
        for (file, name) in named {
            if let Some(Err(e)) = name.map(|n| crate::domain::plain_text(&n, MAX_TECHNICIAN_CHARS)) {
                return Err(ConfigError::Invalid {
                    file,
                    reason: format!("technician: {e}"),
                });
            }
        }
        Ok(config)
    }

    /// Writes [`config_template`] as `config.toml` (over an existing file only with
    /// `force`); returns where.
    pub fn init(paths: &Paths, force: bool) -> Result<PathBuf, InitError> {
        let file = paths.config_file();
        if file.exists() && !force {
            return Err(InitError::Exists(file));
        }
        crate::private::dir(&paths.config)
            .and_then(|()| crate::private::replace(&file, config_template().as_bytes()))
            .map_err(|source| InitError::Write {
                file: file.clone(),
                source,
            })?;
        Ok(file)
    }
}

/// Why `config.toml` was not written.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{}", crate::tr!("file-exists", file = .0.display().to_string()))]
    Exists(PathBuf),
    #[error("{}", crate::tr!("cannot-write", file = .file.display().to_string(), reason = crate::input::describe_io(.source)))]
    Write {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_empty_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(&Paths::under(dir.path())).unwrap();
        assert!(c.technician.is_none());
    }

    /// Side door: trust anchors lived in the user-writable config.toml, so a technician
    /// could add an order key and sign orders for themself. config.toml adds none now: a
    /// key file named there is refused, saying where keys come from.
    #[test]
    fn config_toml_cannot_add_a_trust_anchor() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.config).unwrap();
        std::fs::write(
            paths.config.join(CONFIG_FILE),
            "technician = \"a\"\n[provider]\norder_key_files = [\"mine.json\"]\n",
        )
        .unwrap();
        let text = Config::load(&paths).unwrap_err().to_string();
        assert!(text.contains("line 3"), "{text}");
        assert!(text.contains(&crate::tr!("config-no-trust-anchors")), "{text}");
    }

    #[test]
    fn a_bad_file_is_an_error_naming_the_file_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.config).unwrap();
        std::fs::write(paths.config.join(CONFIG_FILE), "technician = \"a\"\n[provider\n").unwrap();
        match Config::load(&paths) {
            Err(e @ ConfigError::Invalid { .. }) => {
                let text = e.to_string();
                assert!(text.contains(CONFIG_FILE) && text.contains("line 2"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_technician_name_with_control_characters_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.config).unwrap();
        std::fs::write(paths.config.join(CONFIG_FILE), "technician = \"zhang\\u001b[2Jwei\"\n").unwrap();
        match Config::load(&paths) {
            Err(e @ ConfigError::Invalid { .. }) => {
                let text = e.to_string();
                assert!(text.contains(CONFIG_FILE) && text.contains("technician"), "{text}");
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(paths.config.join(CONFIG_FILE), "technician = \"张伟\"\n").unwrap();
        assert_eq!(Config::load(&paths).unwrap().technician(), "张伟");
    }
}
