//! The five procedures (rebind card, account or phone; unbind; migrate): the plan of steps
//! for an operation under a profile, and what a job of one of them holds while it runs.
//! What each step does, the changes to confirm and the roll-back are in `steps` (and
//! `proof`, `submission`), which makes [`Change`] a procedure the engine runs.

use std::path::PathBuf;
use std::sync::Arc;

use super::engine::Common;
use super::{Copying, Options, Step};
use crate::authority::Operation as AuthOp;
use crate::link::port::Opener;
use crate::order::{Operation, WorkOrder};
use crate::profile::Profile;
use crate::signed::{OrderKeys, Verified};
use crate::sync::codes::Codes;
use crate::terminal::model::{AccountBinding, Binding, CardBinding};
use crate::terminal::{Authority, Terminal, TestResult};

/// The steps of `op` under `profile`, in order (a migration copies in one pass).
pub fn plan(op: Operation, profile: &Profile) -> Vec<Step> {
    plan_with(op, profile, Copying::default())
}

/// The steps of `op` under `profile`, a migration copying as `copying` says.
pub fn plan_with(op: Operation, profile: &Profile, copying: Copying) -> Vec<Step> {
    use Step::*;
    let test = profile.test_transaction.required;
    let mut steps = vec![CheckIdentity, Authenticate, CompareBinding, CheckDocuments];
    match op {
        Operation::RebindCard => {
            // On every profile: the provider's own cooldown check may come signed with the
            // order even where the profile keeps none.
            steps.push(CheckCooldown);
            if profile.operations.get(&op).is_some_and(|r| r.confirm_by_sms) {
                steps.push(VerifyPhone);
            }
            steps.extend([Backup, UnbindOld, BindNew, Verify]);
        }
        Operation::RebindAccount => steps.extend([Backup, UnbindOld, BindNew, Verify]),
        Operation::RebindPhone => steps.extend([VerifyPhone, Backup, BindNew, Reboot, Verify]),
        Operation::Unbind => steps.extend([Backup, Settle, UnbindOld, Verify]),
        Operation::Migrate => {
            steps.push(CheckReplacement);
            steps.extend(match copying {
                Copying::OnePass => &[Settle, ActivateNew, CopyData][..],
                Copying::Sequential => &[Backup, Settle, ExportData, ActivateNew, ImportData][..],
            });
            steps.extend([VerifyImport, UnbindOld, BindNew, Verify]);
        }
    }
    if test && op != Operation::Unbind && op != Operation::RebindPhone {
        steps.push(TestTransaction);
    }
    steps.push(Record);
    steps
}

/// The settlement card a rebind-card order binds.
pub(crate) fn new_card(order: &WorkOrder) -> Option<CardBinding> {
    let n = &order.new;
    Some(CardBinding {
        pan: n.card.clone()?,
        holder: n.holder.clone()?,
        expiry: n.expiry.map(|e| format!("{:02}{:02}", e.month, e.year % 100)),
    })
}

/// The settlement account a rebind-account order binds.
pub(crate) fn new_account(order: &WorkOrder) -> Option<AccountBinding> {
    let n = &order.new;
    Some(AccountBinding {
        number: n.account.clone()?,
        holder: n.holder.clone()?,
        bank: n.bank.clone()?,
        branch: n.branch_code.clone()?,
    })
}

/// What a rebind's BIND carries, from the order alone: its new card, account or phone, as
/// the provider's authorisation digests it (docs/protocol.md §11); `None` for the other
/// procedures, and for an order that lacks the value.
pub fn rebind_items(order: &WorkOrder) -> Option<Vec<u8>> {
    let new = Binding {
        card: new_card(order),
        account: new_account(order),
        phone: order.new.phone.clone(),
        ..Binding::unbound()
    };
    let op = match order.operation {
        Operation::RebindCard => AuthOp::RebindCard,
        Operation::RebindAccount => AuthOp::RebindAccount,
        Operation::RebindPhone => AuthOp::RebindPhone,
        _ => return None,
    };
    crate::authority::bind_items(op, &new)
}

/// Data read from the old unit for a migration.
pub(crate) struct Exported {
    pub params: Vec<u8>,
    pub params_count: u32,
    pub log: Vec<u8>,
    pub log_count: u32,
    pub log_sha: [u8; 32],
}

/// What a run's steps produce, for later steps and the outcome. Empty at the start of
/// every run: a resumed run recovers what it needs from the terminal or the job's backup.
#[derive(Default)]
pub(crate) struct Made {
    /// The binding before the job, from the terminal or the job's backup.
    pub original: Option<Binding>,
    pub exported: Option<Exported>,
    pub test: Option<TestResult>,
    pub moved: Option<u32>,
    pub after: Option<Binding>,
}

/// What the changes of each terminal carry to it when it enforces the provider's authority
/// (none for one that does not).
#[derive(Default)]
pub(crate) struct Grants {
    pub main: Option<Authority>,
    /// Found when the replacement is first opened.
    pub replacement: Option<Authority>,
}

/// One of the five procedures being carried out.
pub(crate) struct Change<'a> {
    pub c: Common<'a>,
    /// How the replacement unit is reached.
    pub opener: Arc<dyn Opener>,
    pub profile: &'a Profile,
    pub order: WorkOrder,
    /// The provider's signature over the order, when it was pulled.
    pub signed: Option<Verified>,
    /// The order keys held, to check the replacement's authorisation when it is opened.
    pub order_keys: OrderKeys,
    pub grants: Grants,
    pub main: Terminal,
    pub replacement: Option<Terminal>,
    pub replacement_port: Option<PathBuf>,
    /// What this run's steps have produced so far.
    pub made: Made,
    pub options: Options,
    /// Where one-time codes are asked for.
    pub codes: Codes,
}
