//! Delivering the outbox to the provider: the wire format (`api`), request signing
//! (`sign`), the retry schedule (`backoff`), the HTTPS client (`client`) and the delivery
//! loop (`drain`). The outbox's states and transitions live in `store::outbox`.

pub mod api;
pub mod backoff;
pub mod client;
pub mod codes;
pub mod delivery;
pub mod drain;
pub mod keys;
pub mod lock;
pub mod orders;
pub mod settings;
pub mod sign;
