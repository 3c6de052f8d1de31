//! The command line of the provider's side: `queue`, `sync` and `audit`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Every submission, newest first.
    List,
    /// One submission: state, attempts, the provider's answer, the masked payload.
    Show { id: String },
    /// Queue a rejected or dead submission again.
    Retry { id: String },
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Keep running and deliver whenever the provider is reachable.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: how often to look for work and for the provider, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Without --watch: wait for retries that fall due within this many seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub max_wait: u64,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

/// How to reach the provider (each flag overrides the `[provider]` table of config.toml).
#[derive(Debug, Args, Clone, Default)]
pub struct ProviderArgs {
    /// Provider URL, https://host[:port][/prefix] (else provider.url in config.toml).
    #[arg(long = "provider", value_name = "URL")]
    pub url: Option<String>,
    /// PEM bundle of CAs to trust for the provider (else provider.ca, else system roots).
    #[arg(long, value_name = "FILE")]
    pub provider_ca: Option<PathBuf>,
    /// Client certificate for mutual TLS (PEM).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Private key of the client certificate (PEM).
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// File holding the agent's signing key, 64 hex digits (else provider.agent_key_file).
    #[arg(long, value_name = "FILE", env = "POSAGENT_AGENT_KEY_FILE")]
    pub agent_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and name the first bad record.
    Verify,
}
