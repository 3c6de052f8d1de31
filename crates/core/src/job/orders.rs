//! The order a job carries out, from wherever it comes (a file holding one order, one
//! order of a plan, or an order pulled from the provider), and the same order read again
//! for a resume or an abort, which must be the one the job began with.

use std::path::{Path, PathBuf};

use super::{Context, JobError, OrderProblem, PULLED, Unauthorised};
use crate::order::{Operation, OrderFileError, Problem, WorkOrder};
use crate::profile::ProfileError;
use crate::signed::{OrderAuthError, Verified};
use crate::store::Store;
use crate::store::jobs::JobRecord;
use crate::sync::orders::{NotReady, PulledError};

/// Where an order comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A local file (TOML or a plan), not signed.
    File(PathBuf),
    /// Pulled from the provider, signed; by its id.
    Pulled(String),
}

/// An order ready for a job: validated, and verified if the provider signed it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub order: WorkOrder,
    /// The provider's signature, for a pulled order.
    pub signed: Option<Verified>,
    pub origin: Origin,
}

impl Prepared {
    /// What a job record keeps of its order: where it came from (`pulled:ID` or the
    /// file's path) and its SHA-256 (of the signed bytes, or of the file).
    pub(crate) fn recorded(&self) -> Result<(String, String), OrderProblem> {
        match &self.origin {
            Origin::Pulled(id) => Ok((
                format!("{PULLED}{id}"),
                self.signed.as_ref().map(|v| v.sha256.clone()).unwrap_or_default(),
            )),
            Origin::File(path) => {
                let sha = super::file_sha256(path).map_err(|e| OrderProblem::Unreadable {
                    file: path.clone(),
                    reason: e.to_string(),
                })?;
                let shown = std::fs::canonicalize(path).unwrap_or(path.clone());
                Ok((shown.display().to_string(), sha))
            }
        }
    }

    /// How the order's source is named in messages: its file, or `pulled order ID`.
    pub fn source_name(&self) -> String {
        match &self.origin {
            Origin::File(p) => p.display().to_string(),
            Origin::Pulled(id) => format!("{PULLED}{id}"),
        }
    }
}

/// Which order a door asks for.
#[derive(Debug, Clone)]
pub enum OrderRef<'a> {
    /// What a technician types: a file holding one order, or the id of a pulled one.
    Arg(&'a Path),
    /// One order of a file, by its id (the file may hold several).
    InFile { file: &'a Path, id: &'a str },
    /// A pulled order, by its id.
    Pulled(&'a str),
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
    /// No order by this id in the file.
    #[error("{}", crate::tr!("order-not-in-file", order = .order.as_str(), file = .file.display().to_string()))]
    NotInFile { file: PathBuf, order: String },
    #[error("{}", crate::tr!("order-wrong-operation", order = .order.as_str(), operation = .operation.label(), wanted = .wanted.label()))]
    WrongOperation {
        order: String,
        operation: Operation,
        wanted: Operation,
    },
    #[error(transparent)]
    Pulled(#[from] PulledError),
    /// No order by this id was pulled.
    #[error("{}", crate::tr!("job-pulled-gone", order = .0.as_str()))]
    PulledGone(String),
    #[error("{}", crate::tr!("pulled-order-invalid", order = .order.as_str(), problems = listed(.problems)))]
    PulledInvalid { order: String, problems: Vec<Problem> },
    /// Not the provider's authorisation for this technician now.
    #[error(transparent)]
    Unauthorised(#[from] OrderAuthError),
    /// The provider served it, and the pull refused it.
    #[error("{}", crate::tr!("order-refused-at-pull", order = .order.as_str(), reason = .reason.as_str()))]
    RefusedAtPull { order: String, reason: String },
}

impl From<crate::store::StoreError> for OrderForError {
    fn from(e: crate::store::StoreError) -> Self {
        OrderForError::Pulled(e.into())
    }
}

/// Problems listed one per line, as the messages show them.
fn listed(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

/// Every order in `file`, validated; any problem refuses the whole file.
pub fn every_order(cx: &Context<'_>, file: &Path) -> Result<Vec<Prepared>, OrderForError> {
    let (orders, report) = crate::order::check_file(file, cx.profiles)?;
    if !report.valid {
        return Err(OrderForError::Invalid {
            file: file.to_path_buf(),
            problems: report.errors,
        });
    }
    Ok(orders
        .into_iter()
        .map(|order| Prepared {
            order,
            signed: None,
            origin: Origin::File(file.to_path_buf()),
        })
        .collect())
}

/// The order `r` names, for `op` when given.
pub fn prepare(cx: &Context<'_>, r: &OrderRef<'_>, op: Option<Operation>) -> Result<Prepared, OrderForError> {
    let prepared = match r {
        OrderRef::Pulled(id) => pulled(cx, id)?,
        OrderRef::Arg(arg) => match arg.to_str().filter(|_| !arg.exists()) {
            Some(id) if pulled_exists(cx, id)? => pulled(cx, id)?,
            Some(id) if let Some(reason) = Store::open(&cx.paths.data)?.refused_order(id)? => {
                return Err(OrderForError::RefusedAtPull {
                    order: id.to_string(),
                    reason,
                });
            }
            _ => {
                let mut all = every_order(cx, arg)?;
                if all.len() != 1 {
                    return Err(OrderForError::Several {
                        file: arg.to_path_buf(),
                        count: all.len(),
                    });
                }
                all.remove(0)
            }
        },
        OrderRef::InFile { file, id } => every_order(cx, file)?
            .into_iter()
            .find(|p| p.order.id == *id)
            .ok_or_else(|| OrderForError::NotInFile {
                file: file.to_path_buf(),
                order: id.to_string(),
            })?,
    };
    match op {
        Some(wanted) if prepared.order.operation != wanted => Err(OrderForError::WrongOperation {
            order: prepared.order.id,
            operation: prepared.order.operation,
            wanted,
        }),
        _ => Ok(prepared),
    }
}

fn pulled_exists(cx: &Context<'_>, id: &str) -> Result<bool, OrderForError> {
    let store = Store::open(&cx.paths.data).map_err(PulledError::from)?;
    Ok(store.pulled_document(id).map_err(PulledError::from)?.is_some())
}

/// A pulled order checked as a job checks it: signature, technician, validity, fields.
fn pulled(cx: &Context<'_>, id: &str) -> Result<Prepared, OrderForError> {
    let store = Store::open(&cx.paths.data).map_err(PulledError::from)?;
    let doc = crate::sync::orders::document(&store, cx.keys, id)
        .map_err(PulledError::from)?
        .ok_or_else(|| OrderForError::PulledGone(id.to_string()))?;
    let (order, v) =
        crate::sync::orders::checked(&doc, &cx.order_keys, cx.technician, cx.profiles).map_err(|e| match e {
            NotReady::Auth(e) => OrderForError::Unauthorised(e),
            NotReady::Invalid(problems) => OrderForError::PulledInvalid {
                order: id.to_string(),
                problems,
            },
        })?;
    Ok(Prepared {
        order,
        signed: Some(v),
        origin: Origin::Pulled(id.to_string()),
    })
}

/// The pulled restore order `id`, verified as a job verifies a pulled order (its key valid
/// when it was issued and now, delegated by a root the profile it names trusts); `now`
/// `None` for a job begun on it (finished or rolled back whatever the time).
pub fn restore_order(
    cx: &Context<'_>,
    store: &Store,
    id: &str,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<crate::signed::Verified, OrderForError> {
    let doc = crate::sync::orders::document(store, cx.keys, id)
        .map_err(PulledError::from)?
        .ok_or_else(|| OrderForError::PulledGone(id.to_string()))?;
    let v = doc.verify(&cx.order_keys, now)?;
    let profile = v.fields.get("profile").and_then(|p| cx.profiles.get(p).ok());
    v.signed_for(profile)?;
    Ok(v)
}

/// Pulled orders that may not be carried out now: each id, with why.
pub type LeftAlone = Vec<(String, String)>;

/// Every pulled order no job has carried out yet, checked; those that may not be carried
/// out now, with why.
pub fn every_pulled(cx: &Context<'_>) -> Result<(Vec<Prepared>, LeftAlone), OrderForError> {
    let store = Store::open(&cx.paths.data).map_err(PulledError::from)?;
    let (mut ready, mut left) = (Vec::new(), Vec::new());
    for o in store.pulled_orders().map_err(PulledError::from)? {
        if store.job_of_order(&o.id).map_err(PulledError::from)?.is_some() {
            continue;
        }
        match pulled(cx, &o.id) {
            Ok(p) => ready.push(p),
            Err(e) => left.push((o.id, e.to_string())),
        }
    }
    Ok((ready, left))
}

/// The order job `job` began with, read again: its local file, which must not have
/// changed, or the pulled order from the store, verified again (so a record edited since
/// cannot steer the rest of the job). Its validity window is not judged again: a job that
/// began on a valid order may always be finished or rolled back.
pub(crate) fn of_job(cx: &Context<'_>, store: &Store, job: &JobRecord) -> Result<Prepared, JobError> {
    let no_longer = || {
        JobError::from(OrderProblem::InvalidNow {
            order: job.order_id.clone(),
            file: job.order_file.clone(),
        })
    };
    if let Some(id) = job.order_file.strip_prefix(PULLED) {
        let doc = crate::sync::orders::document(store, cx.keys, id)
            .map_err(OrderProblem::from)?
            .ok_or_else(|| OrderProblem::PulledGone(id.to_string()))?;
        let v = doc.verify(&cx.order_keys, None).map_err(Unauthorised::from)?;
        if v.sha256 != job.order_sha256 {
            return Err(OrderProblem::PulledChanged(id.to_string()).into());
        }
        let order = crate::order::validate(&v.raw(), cx.profiles).map_err(|_| no_longer())?;
        return Ok(Prepared {
            order,
            signed: Some(v),
            origin: Origin::Pulled(id.to_string()),
        });
    }
    let file = Path::new(&job.order_file);
    let sha = super::file_sha256(file).map_err(|e| OrderProblem::JobOrderUnreadable {
        file: file.to_path_buf(),
        reason: e.to_string(),
    })?;
    if sha != job.order_sha256 {
        return Err(OrderProblem::Changed(file.to_path_buf()).into());
    }
    let (orders, report) = crate::order::check_file(file, cx.profiles).map_err(OrderProblem::from)?;
    let order = orders
        .into_iter()
        .find(|o| o.id == job.order_id)
        .filter(|_| report.valid)
        .ok_or_else(no_longer)?;
    Ok(Prepared {
        order,
        signed: None,
        origin: Origin::File(file.to_path_buf()),
    })
}
