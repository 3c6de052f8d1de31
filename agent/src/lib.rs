//! posagent: an offline field agent that checks, backs up, rebinds, unbinds and migrates
//! payment terminals over USB serial, journals every step and syncs with the provider.
//!
//! This package is the command line (`cli`); the work is done by the crates under
//! `crates/`: `posagent-core` (domain, orders, jobs, store, sync), `posagent-wire` (the
//! serial protocol), `posagent-i18n` (the catalogues) and, with the `sim` feature,
//! `posagent-sim` (the simulated terminal and provider). They are re-exported here under
//! their module names, so `posagent::store`, `posagent::link` … name the same things
//! everywhere.

pub use posagent_core::*;
#[cfg(feature = "sim")]
pub use posagent_sim as sim;

pub mod cli;
