//! The order a job runs: every order of a file, checked, or one order for one procedure:
//! from a file, or pulled from the provider (its signature, addressee and validity checked).

use std::path::{Path, PathBuf};

use crate::config::Paths;
use crate::order::{Operation, OrderFileError, Problem, WorkOrder};
use crate::profile::{ProfileError, ProfileSet};
use crate::signed::{OrderAuthError, Verified};
use crate::sync::orders::{NotReady, PulledError, Ready};

/// Problems listed one per line, as the messages show them.
fn listed(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

/// Why there is no order to run.
#[derive(Debug, thiserror::Error)]
pub enum OrderForError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    File(#[from] OrderFileError),
    /// The file has problems; none of its orders is run.
    #[error("{}", crate::tr!("orders-file-invalid", file = .file.display().to_string(), problems = listed(.problems)))]
    Invalid { file: PathBuf, problems: Vec<Problem> },
    #[error("{}", crate::tr!("orders-file-several", file = .file.display().to_string(), count = *.count))]
    Several { file: PathBuf, count: usize },
    #[error("{}", crate::tr!("order-wrong-operation", order = .order.as_str(), operation = .operation.label(), wanted = .wanted.label()))]
    WrongOperation {
        order: String,
        operation: Operation,
        wanted: Operation,
    },
    #[error(transparent)]
    Pulled(#[from] PulledError),
    #[error("{}", crate::tr!("pulled-order-invalid", order = .order.as_str(), problems = listed(.problems)))]
    PulledInvalid { order: String, problems: Vec<Problem> },
    /// Not the provider's authorisation for this technician now.
    #[error(transparent)]
    Unauthorised(#[from] OrderAuthError),
}

/// Reads and validates every order in `file`; any problem refuses the whole file.
pub fn every_order(paths: &Paths, file: &Path) -> Result<(Vec<WorkOrder>, ProfileSet), OrderForError> {
    let profiles = ProfileSet::load(&paths.profile_overrides())?;
    Ok((valid_orders(file, &profiles)?, profiles))
}

fn valid_orders(file: &Path, profiles: &ProfileSet) -> Result<Vec<WorkOrder>, OrderForError> {
    let (orders, report) = crate::order::check_file(file, profiles)?;
    if !report.valid {
        return Err(OrderForError::Invalid {
            file: file.to_path_buf(),
            problems: report.errors,
        });
    }
    Ok(orders)
}

/// The order for `op`: `arg` is the id of an order pulled from the provider, or a file
/// holding exactly one order.
pub fn one_order(
    paths: &Paths,
    arg: &Path,
    op: Operation,
) -> Result<(WorkOrder, ProfileSet, Option<Verified>), OrderForError> {
    let of_op = |order: WorkOrder| {
        if order.operation == op {
            Ok(order)
        } else {
            Err(OrderForError::WrongOperation {
                order: order.id,
                operation: order.operation,
                wanted: op,
            })
        }
    };
    let profiles = ProfileSet::load(&paths.profile_overrides())?;
    if !arg.exists()
        && let Some(id) = arg.to_str()
        && let Some(ready) = Ready::open(paths)?.one(id, &profiles)?
    {
        let (order, v) = ready.map_err(|e| match e {
            NotReady::Auth(e) => OrderForError::Unauthorised(e),
            NotReady::Invalid(problems) => OrderForError::PulledInvalid {
                order: id.to_string(),
                problems,
            },
        })?;
        return Ok((of_op(order)?, profiles, Some(v)));
    }
    let orders = valid_orders(arg, &profiles)?;
    let [order]: [WorkOrder; 1] = orders.try_into().map_err(|v: Vec<WorkOrder>| OrderForError::Several {
        file: arg.to_path_buf(),
        count: v.len(),
    })?;
    Ok((of_op(order)?, profiles, None))
}
