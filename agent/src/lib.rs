//! posagent: an offline field agent that checks, backs up, rebinds, unbinds and migrates
//! payment terminals over USB serial, journals every step and syncs with the provider.
//!
//! Data flows one way: `cli` → `job` → `terminal` → `link` → port; jobs write to `store`;
//! `sync` reads it. Nothing below `cli` prints.

pub mod backup;
pub mod cli;
pub mod config;
pub mod domain;
pub mod i18n;
pub mod input;
pub mod job;
pub mod link;
pub mod order;
pub mod private;
pub mod profile;
pub mod receipt;
pub mod seal;
pub mod signed;
pub mod sim;
pub mod store;
pub mod sync;

pub mod terminal;
