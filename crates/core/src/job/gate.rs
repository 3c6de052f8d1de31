//! The gate every job passes before anything changes, whatever door it came through (a
//! command, the console, a plan, the demo, a resume): first the provider's authority over
//! the order, here, then the job's check steps (identity, binding, documents, cooldown,
//! replacement, phone), which the engine runs. A dry run passes through exactly this gate
//! and stops after it. A job that has begun to change a terminal is past the gate: it can
//! always be finished or rolled back.

use super::orders::Prepared;
use super::{JobError, Unauthorised};
use crate::profile::Profile;
use crate::store::Store;

/// Whether `p` may be carried out on the terminal `serial` now, by `technician`: an
/// unsigned order only where the profile allows one; a signed order only by the
/// technician it was issued to, within its validity, on the terminal it names, and once
/// (`this_job`, when resuming, is the job that may already hold it).
pub fn authorise(
    p: &Prepared,
    profile: &Profile,
    store: &Store,
    technician: &str,
    serial: &str,
    this_job: Option<&str>,
) -> Result<(), JobError> {
    let Some(v) = &p.signed else {
        if profile.orders.require_signed {
            return Err(Unauthorised::Unsigned {
                profile: profile.name.clone(),
                file: p.source_name(),
            }
            .into());
        }
        return Ok(());
    };
    v.authorise(technician, chrono::Utc::now())
        .map_err(Unauthorised::from)?;
    if p.order.expect.serial.as_deref() != Some(serial) {
        return Err(Unauthorised::OtherTerminal {
            order: v.id.clone(),
            expected: p.order.expect.serial.clone().unwrap_or_else(|| "-".into()),
            serial: serial.to_string(),
        }
        .into());
    }
    if let Some(job) = store.job_of_order(&v.id)?
        && Some(job.as_str()) != this_job
    {
        return Err(Unauthorised::AlreadyDone {
            order: v.id.clone(),
            job,
        }
        .into());
    }
    Ok(())
}
