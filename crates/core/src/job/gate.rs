//! The gate every job passes before anything changes, whatever door it came through (a
//! command, the console, a plan, the demo, a resume): first the provider's authority over
//! the order, here, then the job's check steps (identity, binding, documents, cooldown,
//! replacement, phone), which the engine runs. A dry run passes through exactly this gate
//! and stops after it. A job that has begun to change a terminal is past the gate: it can
//! always be finished or rolled back (as far as the terminal, which judges the provider's
//! authority itself, lets it).
//!
//! The terminal decides the profile: one that enforces the provider's authority names the
//! root it enforces (HELLO), and the order's profile must trust that root; one that does
//! not is refused when the order's profile requires enforcing terminals, and when its USB
//! id says it belongs to another profile.

use std::path::Path;

use super::context::Context;
use super::orders::Prepared;
use super::{JobError, Unauthorised};
use crate::authority::{self, Authorisation, Operation as AuthOp};
use crate::profile::Profile;
use crate::signed::{OrderKeys, Verified};
use crate::store::Store;
use crate::terminal::{Authority, Terminal};

/// Whether `p` may be carried out on `main` (at `port`, with serial `serial`) now, by
/// the context's technician: the terminal of the order's profile; an unsigned order only
/// where the profile allows one; a signed order only by the technician it was issued to,
/// within its validity, on the terminal it names, and once (`this_job`, when resuming, is
/// the job that may already hold it); and for a terminal that enforces the provider's
/// authority, the order's authorisation for it, for the change it is at. Returns what a
/// change of `main` carries (none for a terminal that does not enforce).
#[allow(clippy::too_many_arguments)]
pub fn authorise(
    cx: &Context<'_>,
    p: &Prepared,
    profile: &Profile,
    store: &Store,
    main: &mut Terminal,
    port: &Path,
    serial: &str,
    this_job: Option<&str>,
) -> Result<Option<Authority>, JobError> {
    of_terminal(cx, profile, main, port, serial)?;
    let Some(v) = &p.signed else {
        if profile.orders.require_signed {
            return Err(Unauthorised::Unsigned {
                profile: profile.name.clone(),
                file: p.source_name(),
            }
            .into());
        }
        return grant(None, &cx.order_keys, main, serial, main_operation(p), false);
    };
    v.authorise(cx.technician, chrono::Utc::now())
        .map_err(Unauthorised::from)?;
    if p.order.expect.serial.as_deref() != Some(serial) {
        return Err(Unauthorised::OtherTerminal {
            order: v.id.clone(),
            expected: p.order.expect.serial.clone().unwrap_or_else(|| "-".into()),
            serial: serial.to_string(),
        }
        .into());
    }
    not_done(store, v, this_job)?;
    grant(Some(v), &cx.order_keys, main, serial, main_operation(p), false)
}

/// Whether a restore of an archive whose binding `writes_binding` (differs from the
/// terminal's) may go ahead on `main`: the terminal of `profile`; where the profile takes
/// signed orders only or the terminal enforces the provider's authority, the provider's
/// restore `order` for this terminal, issued to this technician, valid now and not used
/// by another job, with its authorisation. Returns what the binding's write carries.
#[allow(clippy::too_many_arguments)]
pub fn authorise_restore(
    cx: &Context<'_>,
    order: Option<&Verified>,
    profile: &Profile,
    store: &Store,
    main: &mut Terminal,
    port: &Path,
    serial: &str,
    writes_binding: bool,
    this_job: Option<&str>,
) -> Result<Option<Authority>, JobError> {
    of_terminal(cx, profile, main, port, serial)?;
    let Some(v) = order else {
        if writes_binding && (profile.orders.require_signed || main.authority_root().is_some()) {
            return Err(Unauthorised::RestoreUnordered {
                serial: serial.to_string(),
                profile: profile.name.clone(),
            }
            .into());
        }
        return Ok(None);
    };
    v.authorise(cx.technician, chrono::Utc::now())
        .map_err(Unauthorised::from)?;
    let field = |k: &str| v.fields.get(k).map(String::as_str);
    if field("operation") != Some(RESTORE_OPERATION) {
        return Err(Unauthorised::NotARestore {
            order: v.id.clone(),
            operation: field("operation").unwrap_or("-").to_string(),
        }
        .into());
    }
    if field("expect.serial") != Some(serial) {
        return Err(Unauthorised::OtherTerminal {
            order: v.id.clone(),
            expected: field("expect.serial").unwrap_or("-").to_string(),
            serial: serial.to_string(),
        }
        .into());
    }
    if field("profile") != Some(profile.name.as_str()) {
        return Err(Unauthorised::OtherProfile {
            serial: serial.to_string(),
            profile: field("profile").unwrap_or("-").to_string(),
            answered: profile.name.clone(),
        }
        .into());
    }
    not_done(store, v, this_job)?;
    if !writes_binding {
        return Ok(None);
    }
    grant(Some(v), &cx.order_keys, main, serial, AuthOp::Restore, false)
}

/// No job but `this_job` carried out (or is carrying out) the order `v`: an order runs once.
fn not_done(store: &Store, v: &Verified, this_job: Option<&str>) -> Result<(), JobError> {
    match store.job_of_order(&v.id)? {
        Some(job) if Some(job.as_str()) != this_job => Err(Unauthorised::AlreadyDone {
            order: v.id.clone(),
            job,
        }
        .into()),
        _ => Ok(()),
    }
}

/// The `operation` of a provider's order to restore a backup.
pub const RESTORE_OPERATION: &str = "restore";

/// What the authorisation of the order's main terminal must name.
pub fn main_operation(p: &Prepared) -> AuthOp {
    main_operation_of(p.order.operation)
}

/// What the authorisation of a procedure's main terminal must name.
pub fn main_operation_of(op: crate::order::Operation) -> AuthOp {
    use crate::order::Operation as Op;
    match op {
        Op::RebindCard => AuthOp::RebindCard,
        Op::RebindAccount => AuthOp::RebindAccount,
        Op::RebindPhone => AuthOp::RebindPhone,
        Op::Unbind => AuthOp::Unbind,
        Op::Migrate => AuthOp::MigrateOut,
    }
}

/// The terminal is one of `profile`'s, as far as it tells: by the root it enforces, else
/// by its USB id; a profile whose terminals must enforce refuses one that does not.
fn of_terminal(
    cx: &Context<'_>,
    profile: &Profile,
    t: &Terminal,
    port: &Path,
    serial: &str,
) -> Result<(), Unauthorised> {
    let other = |answered: String| Unauthorised::OtherProfile {
        serial: serial.to_string(),
        profile: profile.name.clone(),
        answered,
    };
    match t.authority_root() {
        Some(root) => {
            if authority::is_root_of(profile, root) {
                return Ok(());
            }
            let answered = authority::profile_of_root(cx.profiles, root)
                .map_or_else(|| format!("root {}", hex::encode(root)), |p| p.name.clone());
            Err(other(answered))
        }
        None if profile.authority.enforced => Err(Unauthorised::NotEnforcing {
            serial: serial.to_string(),
            profile: profile.name.clone(),
        }),
        None => {
            let by_usb = crate::terminal::discover::usb_id_of(&cx.opener, port).and_then(|u| cx.profiles.match_usb(u));
            match by_usb {
                Some(p) if p.name != profile.name && p.name != "generic" => Err(other(p.name.clone())),
                _ => Ok(()),
            }
        }
    }
}

/// What a change of `t` (serial `serial`) carries: nothing when it does not enforce the
/// provider's authority; else the order's authorisation for it, which must verify against
/// the key statement held for the order's root, name this terminal and `op`, and, unless
/// the job has `begun` (its change under way, or being rolled back), the change the
/// terminal is at.
pub fn grant(
    signed: Option<&Verified>,
    keys: &OrderKeys,
    t: &mut Terminal,
    serial: &str,
    op: AuthOp,
    begun: bool,
) -> Result<Option<Authority>, JobError> {
    let Some(root) = t.authority_root() else {
        return Ok(None);
    };
    let order = signed.map_or_else(|| "-".to_string(), |v| v.id.clone());
    let Some(raw) = signed.and_then(|v| v.authority.get(serial)) else {
        return Err(Unauthorised::NoAuthorisation {
            order,
            serial: serial.to_string(),
        }
        .into());
    };
    let v = signed.expect("an authorisation comes with a signed order");
    let invalid = |reason: String| Unauthorised::Authorisation {
        order: order.clone(),
        serial: serial.to_string(),
        reason,
    };
    let statement = keys
        .statement_of(&v.root_key_id)
        .ok_or_else(|| invalid(authority::AuthorityError::UnknownRoot(v.root_key_id).to_string()))?;
    if v.root_key_id != root {
        return Err(invalid(authority::AuthorityError::UnknownRoot(v.root_key_id).to_string()).into());
    }
    let a = Authorisation::parse(raw).map_err(|e| invalid(e.to_string()))?;
    a.verify(statement, crate::sync::keys::unix_now())
        .map_err(|e| invalid(e.to_string()))?;
    if a.serial != serial {
        return Err(invalid(crate::tr!("authority-for-serial", serial = a.serial.as_str())).into());
    }
    if a.operation != op {
        return Err(invalid(crate::tr!(
            "authority-for-operation",
            operation = a.operation.as_str(),
            wanted = op.as_str()
        ))
        .into());
    }
    if !begun {
        let at = t.status()?.change_counter.unwrap_or(0);
        if a.counter != at {
            return Err(Unauthorised::Stale {
                order,
                serial: serial.to_string(),
                counter: a.counter,
                at,
            }
            .into());
        }
    }
    Ok(Some(Authority {
        statement: statement.to_bytes().to_vec(),
        authorisation: raw.clone(),
    }))
}

/// Whether the change `grant` authorises is made on `t`: the terminal has moved past the
/// change the authorisation is for, so it accepts nothing more under it (not even putting
/// back what it replaced).
pub fn spent(grant: Option<&Authority>, t: &mut Terminal) -> Result<bool, JobError> {
    let Some(g) = grant else {
        return Ok(false);
    };
    let Ok(a) = Authorisation::parse(&g.authorisation) else {
        return Ok(false);
    };
    Ok(t.status()?.change_counter.is_some_and(|at| at > a.counter))
}
