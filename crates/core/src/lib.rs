//! posagent's domain: work orders and provider profiles, the terminal's commands over the
//! wire, encrypted backups, the five procedures as resumable jobs, the SQLite store, sealing
//! and the delivery to the provider. No printing, no prompting, no `process::exit`: the CLI
//! does those.
//!
//! Data flows one way: `agent` (the application layer, one method per use case) → `job`
//! (the engine and its procedures) → `terminal` → `link` (posagent-wire) → port; jobs write
//! to `store`; `sync` reads it.

pub use posagent_i18n as i18n;
pub use posagent_i18n::tr;
pub use posagent_wire as link;

pub mod agent;
pub mod authority;
pub mod backup;
pub mod config;
pub mod diagnosis;
pub mod domain;
pub mod input;
pub mod job;
pub mod journal;
pub mod machine;
pub mod order;
pub mod private;
pub mod procedure;
pub mod profile;
pub mod receipt;
pub mod seal;
pub mod signed;
pub mod store;
pub mod support;
pub mod sync;
pub mod terminal;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
