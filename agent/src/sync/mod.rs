//! Delivering the outbox to the provider. This module holds the parts that do not touch the
//! network: request signing and the retry schedule. The outbox's states and transitions
//! live in `store::outbox`.

pub mod backoff;
pub mod sign;
