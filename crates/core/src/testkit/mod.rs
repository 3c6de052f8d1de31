//! Simulated terminals for the job engine's own tests and for the simulators: the
//! terminal's behaviour (`terminal`), its faults (`faults`), and terminals served inside
//! this process over in-memory port pairs (`inproc`), reached through the same
//! [`Opener`](crate::link::port::Opener) seam as serial ports. Compiled for core's tests
//! and with the `testkit` feature (which the simulators' crate enables); never in the
//! product build.

pub mod faults;
pub mod inproc;
pub mod issuer;
pub mod terminal;

/// The operator secret the simulated terminal accepts when none is configured.
pub const DEMO_SECRET: &str = "posagent-demo-secret";
