//! What every job of a data directory shares, opened once by the application layer and
//! handed to the gate, the order lookups and the job's start, resume and abort.

use std::sync::Arc;

use crate::config::Paths;
use crate::link::port::Opener;
use crate::profile::ProfileSet;
use crate::seal::LocalKeys;
use crate::signed::OrderKeys;
use crate::sync::codes::Codes;

/// What every job of a data directory shares: the application layer opens it once.
pub struct Context<'a> {
    pub paths: &'a Paths,
    pub profiles: &'a ProfileSet,
    /// The order keys the providers' roots delegate, to check a pulled order's signature.
    pub order_keys: OrderKeys,
    /// Who is working (config.toml's technician).
    pub technician: &'a str,
    /// The local key: opens pulled orders, seals submissions.
    pub keys: &'a LocalKeys,
    /// How terminals are reached: serial ports, or in tests simulated terminals in the
    /// same process.
    pub opener: Arc<dyn Opener>,
    /// Where one-time codes are asked for.
    pub codes: &'a Codes,
}
