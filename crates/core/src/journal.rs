//! The job journal's vocabulary: the steps every procedure is made of, the phases a
//! journal line records, and what each line holds, typed.
//!
//! A journal line is a (subject, phase, detail) triple in the store: the subject is a step
//! name, `order` (where the job's order came from), `confirm` (the technician confirmed the
//! change) or `rollback`; the phase is `intent`, `done`, `failed` or `compensated`. Here
//! each line is an [`Entry`], parsed by its subject and phase, so that a line this build
//! cannot read is an error, never a guess. The detail's JSON keeps the shape earlier
//! releases wrote, so their journals read the same.

use serde::{Deserialize, Serialize};

use crate::domain::DeviceStatus;
use crate::procedure::Operation;

/// A named step of a procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    CheckIdentity,
    Authenticate,
    CompareBinding,
    CheckDocuments,
    CheckCooldown,
    CheckReplacement,
    VerifyPhone,
    Backup,
    Settle,
    ExportData,
    ActivateNew,
    /// A one-pass migration's copy: one export of the old unit feeds its backup and the
    /// new unit's import at once.
    CopyData,
    ImportData,
    VerifyImport,
    UnbindOld,
    BindNew,
    Reboot,
    Verify,
    TestTransaction,
    Record,
    /// A restore writes the archive's binding, then its parameters.
    RestoreBinding,
    RestoreParameters,
}

/// Every step, in the order of the variants.
pub const ALL_STEPS: [Step; 22] = [
    Step::CheckIdentity,
    Step::Authenticate,
    Step::CompareBinding,
    Step::CheckDocuments,
    Step::CheckCooldown,
    Step::CheckReplacement,
    Step::VerifyPhone,
    Step::Backup,
    Step::Settle,
    Step::ExportData,
    Step::ActivateNew,
    Step::CopyData,
    Step::ImportData,
    Step::VerifyImport,
    Step::UnbindOld,
    Step::BindNew,
    Step::Reboot,
    Step::Verify,
    Step::TestTransaction,
    Step::Record,
    Step::RestoreBinding,
    Step::RestoreParameters,
];

impl Step {
    /// The step's name in the journal and on screen.
    pub fn name(self) -> &'static str {
        match self {
            Step::CheckIdentity => "check_identity",
            Step::Authenticate => "authenticate",
            Step::CompareBinding => "compare_binding",
            Step::CheckDocuments => "check_documents",
            Step::CheckCooldown => "check_cooldown",
            Step::CheckReplacement => "check_replacement",
            Step::VerifyPhone => "verify_phone",
            Step::Backup => "backup",
            Step::Settle => "settle",
            Step::ExportData => "export_data",
            Step::ActivateNew => "activate_new",
            Step::CopyData => "copy_data",
            Step::ImportData => "import_data",
            Step::VerifyImport => "verify_import",
            Step::UnbindOld => "unbind_old",
            Step::BindNew => "bind_new",
            Step::Reboot => "reboot",
            Step::Verify => "verify",
            Step::TestTransaction => "test_transaction",
            Step::Record => "record",
            Step::RestoreBinding => "restore_binding",
            Step::RestoreParameters => "restore_parameters",
        }
    }

    /// The step's name as a person reads it, in the current language.
    pub fn label(self) -> String {
        self.label_in(crate::i18n::lang())
    }

    /// The step's name in `lang`.
    pub fn label_in(self, lang: crate::i18n::Lang) -> String {
        let key = match self {
            Step::CheckIdentity => "step-check-identity",
            Step::Authenticate => "step-authenticate",
            Step::CompareBinding => "step-compare-binding",
            Step::CheckDocuments => "step-check-documents",
            Step::CheckCooldown => "step-check-cooldown",
            Step::CheckReplacement => "step-check-replacement",
            Step::VerifyPhone => "step-verify-phone",
            Step::Backup => "step-backup",
            Step::Settle => "step-settle",
            Step::ExportData => "step-export-data",
            Step::ActivateNew => "step-activate-new",
            Step::CopyData => "step-copy-data",
            Step::ImportData => "step-import-data",
            Step::VerifyImport => "step-verify-import",
            Step::UnbindOld => "step-unbind-old",
            Step::BindNew => "step-bind-new",
            Step::Reboot => "step-reboot",
            Step::Verify => "step-verify",
            Step::TestTransaction => "step-test-transaction",
            Step::Record => "step-record",
            Step::RestoreBinding => "step-restore-binding",
            Step::RestoreParameters => "step-restore-parameters",
        };
        crate::i18n::text_in(lang, key, None)
    }

    pub fn from_name(s: &str) -> Option<Step> {
        ALL_STEPS.iter().copied().find(|st| st.name() == s)
    }

    /// Checks change nothing; a failed check refuses the job.
    pub fn is_check(self) -> bool {
        matches!(
            self,
            Step::CheckIdentity
                | Step::Authenticate
                | Step::CompareBinding
                | Step::CheckDocuments
                | Step::CheckCooldown
                | Step::CheckReplacement
                | Step::VerifyPhone
        )
    }

    /// Whether a crash that loses this step's journal lines goes unnoticed: the step changes
    /// nothing and uses nothing up (not the phone check, whose code is spent once), so a
    /// resume runs it again and finds what it found.
    pub fn repeats_unnoticed(self) -> bool {
        self.is_check() && self != Step::VerifyPhone
    }

    /// Whether the step moves a terminal's log over a line (what the time still to go of a
    /// job mostly is).
    pub fn moves_data(self) -> bool {
        matches!(
            self,
            Step::Backup | Step::ExportData | Step::ImportData | Step::CopyData
        )
    }

    /// Steps run again on every resume because they establish the session.
    pub fn always_runs(self) -> bool {
        matches!(self, Step::CheckIdentity | Step::Authenticate)
    }
}

/// How a step went, for observers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Started,
    Done,
    /// Already done before this run (resume).
    Skipped,
    Failed,
}

impl StepStatus {
    /// The status as a person reads it.
    pub fn label(self) -> String {
        match self {
            StepStatus::Started => crate::tr!("status-started"),
            StepStatus::Done => crate::tr!("status-done"),
            StepStatus::Skipped => crate::tr!("status-skipped"),
            StepStatus::Failed => crate::tr!("status-failed"),
        }
    }
}

/// The `operation` a restore job is recorded under.
pub const RESTORE: &str = "restore";

/// The label of a step known by its journal name (a name no step has is shown as is).
pub fn step_label(name: &str) -> String {
    match name {
        ORDER => crate::tr!("step-order"),
        CONFIRM => crate::tr!("step-confirm"),
        ROLLBACK => crate::tr!("step-rollback"),
        _ => Step::from_name(name).map_or_else(|| name.to_string(), Step::label),
    }
}

/// The steps of a plan, by their labels, joined by arrows.
pub fn step_list(names: &[&str]) -> String {
    names.iter().map(|n| step_label(n)).collect::<Vec<_>>().join(" → ")
}

/// A job's operation as a person reads it (`rebind-card` → "rebind card", `restore`).
pub fn operation_label(name: &str) -> String {
    match name.parse::<Operation>() {
        Ok(op) => op.label(),
        Err(_) if name == RESTORE => crate::tr!("op-restore"),
        Err(_) => name.to_string(),
    }
}

/// What a transfer moves, as a person reads it (the observer is told `backup`, `export` …).
pub fn transfer_label(label: &str) -> String {
    match label {
        "backup" => crate::tr!("transfer-backup"),
        "export" => crate::tr!("transfer-export"),
        "import" => crate::tr!("transfer-import"),
        "verify" => crate::tr!("transfer-verify"),
        "parameters" => crate::tr!("transfer-parameters"),
        other => other.to_string(),
    }
}

/// How a migration moves the old unit's data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Copying {
    /// Settle, then one export feeds the backup and the new unit's import at once, on
    /// both lines together (one pass of the log).
    #[default]
    OnePass,
    /// Back up, settle, export again, then import: one transfer after another (three
    /// passes), as the first release did.
    Sequential,
}

impl Copying {
    /// The names on the command line and in the journal, in the order of the variants.
    pub const NAMES: [&'static str; 2] = ["one-pass", "sequential"];
}

impl std::str::FromStr for Copying {
    type Err = String;

    fn from_str(s: &str) -> Result<Copying, String> {
        match s {
            "one-pass" => Ok(Copying::OnePass),
            "sequential" => Ok(Copying::Sequential),
            other => Err(format!("{other}: give one of {}", Copying::NAMES.join(", "))),
        }
    }
}

/// A binding as the journal keeps it: numbers masked (first 6 / last 4), as the
/// terminal's binding serialises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedBinding {
    pub status: DeviceStatus,
    pub mid: Option<String>,
    pub tid: Option<String>,
    pub merchant_name: Option<String>,
    pub card: Option<MaskedCard>,
    pub account: Option<MaskedAccount>,
    pub phone: Option<String>,
}

/// A settlement card, masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedCard {
    pub pan: String,
    pub holder: String,
    pub expiry: Option<String>,
}

/// A settlement account, masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedAccount {
    pub number: String,
    pub holder: String,
    pub bank: String,
    pub branch: String,
}

/// Where a job's order came from, and what the technician said when starting it: the
/// `order` line, written when the job is recorded and read by every resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The provider signed it (it was pulled).
    pub signed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// The laptop's clock when a signed order was accepted (its validity is judged by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub laptop_clock: Option<String>,
    /// The local file, for an unsigned order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The technician saw the originals of the order's documents; holds for resumes.
    #[serde(default)]
    pub documents_checked: bool,
    /// How a migration copies; a job from before the choice existed has none (sequential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copying: Option<Copying>,
}

/// A document the order names, as it was read when checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentDigest {
    pub file: Option<String>,
    pub sha256: String,
}

/// Who settled that the settlement-card cooldown has run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CooldownBy {
    #[serde(rename = "provider, signed with the order")]
    SignedOrder,
    #[serde(rename = "provider, as the technician confirmed")]
    Technician,
}

/// How a phone number was proven (`verify_phone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PhoneProof {
    /// A one-time code the provider confirmed.
    Confirmed {
        path: ProofPath,
        phone: String,
        verification_id: String,
        confirmation_id: String,
        confirmed_at: String,
    },
    /// The provider attested it, signed with the order.
    Attested {
        path: ProofPath,
        phone: String,
        attested_at: String,
        attested_by: String,
    },
    /// A dry run: the code that would be sent was not.
    NotSent {
        path: ProofPath,
        phone: String,
        code_sent: bool,
    },
    /// At a counter: the documents a profile asks for, seen by the technician.
    Counter {
        path: ProofPath,
        documents: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        documents_checked_by: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        documents_checked: Option<bool>,
    },
}

/// The way a phone is proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProofPath {
    Sms,
    Counter,
}

/// How the new unit's copy of a log was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckedBy {
    #[serde(rename = "digest")]
    Digest,
    #[serde(rename = "read-back")]
    ReadBack,
}

/// `check_identity`: who answered (a restore names the unit the archive is of).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identified {
    pub serial: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_of: Option<String>,
}

/// `authenticate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticated {
    pub authenticated: bool,
}

/// `compare_binding`, `verify`, `restore_binding`: the binding read or written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingSeen {
    pub binding: MaskedBinding,
}

/// `check_documents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Documents {
    pub documents: Vec<DocumentDigest>,
}

/// `check_cooldown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cooldown {
    pub cooldown_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_checked_by: Option<CooldownBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_from: Option<chrono::NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_since: Option<chrono::NaiveDate>,
}

/// `check_replacement`: the blank unit found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacementSeen {
    pub serial: String,
    pub model: String,
    pub status: DeviceStatus,
}

/// `backup`: the archive kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupKept {
    pub file: String,
    pub sha256: String,
    pub transactions: u64,
}

/// `settle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    pub settled: u32,
    pub transactions: u32,
}

/// `export_data`: what the old unit gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exported {
    pub records: u32,
    pub parameters: u32,
    pub sha256: String,
}

/// `activate_new`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activated {
    pub status: DeviceStatus,
}

/// `copy_data`: the backup the one export became, and the log the new unit must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copied {
    pub file: String,
    pub sha256: String,
    pub transactions: u64,
    pub records: u32,
    pub log_sha256: String,
    pub log_len: u64,
    pub parameters: u32,
    pub one_pass: bool,
}

/// `import_data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub records: u32,
    pub parameters: u32,
}

/// `verify_import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportVerified {
    pub records: u32,
    pub sha256: String,
    pub by: CheckedBy,
}

/// `test_transaction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tested {
    pub amount_fen: u32,
    pub auth_code: String,
    pub rrn: String,
}

/// `record`: the submission queued (a restore that queues none names its archive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
}

/// `restore_parameters`: how many were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParametersWritten {
    pub parameters: u64,
}

/// `unbind_old`, `bind_new`, `reboot`: done, nothing more to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nothing {}

/// What a step recorded when it was done; each step has its one kind of record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum StepRecord {
    Identity(Identified),
    Authenticated(Authenticated),
    Binding(BindingSeen),
    Documents(Documents),
    Cooldown(Cooldown),
    Replacement(ReplacementSeen),
    Phone(PhoneProof),
    Backup(BackupKept),
    Settled(Settled),
    Exported(Exported),
    Activated(Activated),
    Copied(Copied),
    Imported(Imported),
    ImportVerified(ImportVerified),
    Test(Tested),
    Recorded(Recorded),
    Parameters(ParametersWritten),
    Nothing(Nothing),
}

impl StepRecord {
    /// Reads what `step` recorded: the kind of record is the step's own.
    pub fn parse(step: Step, detail: serde_json::Value) -> Result<StepRecord, serde_json::Error> {
        use serde_json::from_value as v;
        Ok(match step {
            Step::CheckIdentity => StepRecord::Identity(v(detail)?),
            Step::Authenticate => StepRecord::Authenticated(v(detail)?),
            Step::CompareBinding | Step::Verify | Step::RestoreBinding => StepRecord::Binding(v(detail)?),
            Step::CheckDocuments => StepRecord::Documents(v(detail)?),
            Step::CheckCooldown => StepRecord::Cooldown(v(detail)?),
            Step::CheckReplacement => StepRecord::Replacement(v(detail)?),
            Step::VerifyPhone => StepRecord::Phone(v(detail)?),
            Step::Backup => StepRecord::Backup(v(detail)?),
            Step::Settle => StepRecord::Settled(v(detail)?),
            Step::ExportData => StepRecord::Exported(v(detail)?),
            Step::ActivateNew => StepRecord::Activated(v(detail)?),
            Step::CopyData => StepRecord::Copied(v(detail)?),
            Step::ImportData => StepRecord::Imported(v(detail)?),
            Step::VerifyImport => StepRecord::ImportVerified(v(detail)?),
            Step::TestTransaction => StepRecord::Test(v(detail)?),
            Step::Record => StepRecord::Recorded(v(detail)?),
            Step::RestoreParameters => StepRecord::Parameters(v(detail)?),
            Step::UnbindOld | Step::BindNew | Step::Reboot => StepRecord::Nothing(v(detail)?),
        })
    }

    /// A short description of the record for the log: its plain values, `name=value`.
    pub fn describe(&self) -> String {
        describe_json(&serde_json::to_value(self).unwrap_or_default())
    }

    /// The record as a person reads it, in the current language (see [`shown_json`]);
    /// [`describe`](Self::describe) keeps the names, for the log.
    pub fn shown(&self) -> String {
        shown_json(&serde_json::to_value(self).unwrap_or_default())
    }
}

/// The label of each value a journal line may hold, as a person reads it.
const DETAIL_LABELS: &[(&str, &str)] = &[
    ("serial", "detail-serial"),
    ("vendor", "detail-vendor"),
    ("model", "detail-model"),
    ("firmware", "detail-firmware"),
    ("archive_of", "detail-archive-of"),
    ("authenticated", "detail-authenticated"),
    ("cooldown_days", "detail-cooldown-days"),
    ("cooldown_checked_by", "detail-cooldown-checked-by"),
    ("clear_from", "detail-clear-from"),
    ("settlement_since", "detail-settlement-since"),
    ("status", "detail-status"),
    ("file", "detail-file"),
    ("sha256", "detail-sha256"),
    ("transactions", "detail-transactions"),
    ("settled", "detail-settled"),
    ("records", "detail-records"),
    ("parameters", "detail-parameters"),
    ("log_len", "detail-log-len"),
    ("log_sha256", "detail-log-sha256"),
    ("one_pass", "detail-one-pass"),
    ("by", "detail-by"),
    ("amount_fen", "detail-amount-fen"),
    ("auth_code", "detail-auth-code"),
    ("rrn", "detail-rrn"),
    ("submission", "detail-submission"),
    ("restored_from", "detail-restored-from"),
    ("path", "detail-path"),
    ("phone", "detail-phone"),
    ("verification_id", "detail-verification-id"),
    ("confirmation_id", "detail-confirmation-id"),
    ("confirmed_at", "detail-confirmed-at"),
    ("attested_at", "detail-attested-at"),
    ("attested_by", "detail-attested-by"),
    ("code_sent", "detail-code-sent"),
    ("documents_checked_by", "detail-documents-checked-by"),
    ("documents_checked", "detail-documents-checked"),
    ("copying", "detail-copying"),
    ("signed", "detail-signed"),
    ("key_id", "detail-key-id"),
    ("issued_at", "detail-issued-at"),
    ("valid_until", "detail-valid-until"),
    ("laptop_clock", "detail-laptop-clock"),
    ("error", "detail-error"),
];

/// Values that are words, as a person reads them: (value, message).
const DETAIL_WORDS: &[(&str, &str)] = &[
    ("digest", "detail-by-digest"),
    ("read-back", "detail-by-read-back"),
    ("sms", "detail-path-sms"),
    ("counter", "detail-path-counter"),
    ("one-pass", "detail-copying-one-pass"),
    ("sequential", "detail-copying-sequential"),
    ("provider, signed with the order", "detail-cooldown-by-order"),
    ("provider, as the technician confirmed", "detail-cooldown-by-technician"),
];

/// Digits of a digest shown (the whole is in the journal, `jobs show --json` and the log).
const DIGEST_SHOWN: usize = 12;

/// Each plain value of a JSON object (nested objects and lists left out), labelled in the
/// current language: `固件 3.2.1 · 型号 A8`. Digests are cut to their first 12 digits and
/// files shown by name; words (a status, how a copy was checked) are translated.
fn shown_json(detail: &serde_json::Value) -> String {
    use serde_json::Value;
    let serde_json::Value::Object(m) = detail else {
        return String::new();
    };
    // A binding status in the words its type has; the other words from the table.
    let word = |w: &str| match w.parse::<crate::domain::DeviceStatus>() {
        Ok(status) => status.label(),
        Err(_) => DETAIL_WORDS
            .iter()
            .find(|(k, _)| *k == w)
            .map_or_else(|| w.to_string(), |(_, key)| crate::i18n::text(key, None)),
    };
    m.iter()
        .filter(|(_, v)| !v.is_object() && !v.is_array() && !v.is_null())
        .map(|(k, v)| {
            let value = match v {
                Value::Bool(true) => crate::tr!("detail-yes"),
                Value::Bool(false) => crate::tr!("detail-no"),
                Value::String(t) if k.ends_with("sha256") && t.chars().count() > DIGEST_SHOWN => {
                    format!("{}…", t.chars().take(DIGEST_SHOWN).collect::<String>())
                }
                Value::String(t) if k == "file" || k == "restored_from" => std::path::Path::new(t)
                    .file_name()
                    .map_or_else(|| t.clone(), |n| n.to_string_lossy().into_owned()),
                Value::String(t) => word(t),
                other => other.to_string(),
            };
            match DETAIL_LABELS.iter().find(|(name, _)| name == k) {
                Some((_, key)) => format!("{} {value}", crate::i18n::text(key, None)),
                None => format!("{k} {value}"),
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `name=value` for each plain value of a JSON object (nested objects and lists left out).
fn describe_json(detail: &serde_json::Value) -> String {
    match detail {
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array() && !v.is_null())
            .map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The phase of a journal line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Intent,
    Done,
    Failed,
    Compensated,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Intent => "intent",
            Phase::Done => "done",
            Phase::Failed => "failed",
            Phase::Compensated => "compensated",
        }
    }

    /// The phase as a person reads it.
    pub fn label(self) -> String {
        match self {
            Phase::Intent => crate::tr!("phase-intent"),
            Phase::Done => crate::tr!("phase-done"),
            Phase::Failed => crate::tr!("phase-failed"),
            Phase::Compensated => crate::tr!("phase-compensated"),
        }
    }
}

/// The subject of the `order` line.
pub const ORDER: &str = "order";
/// The subject of the line that records the technician's confirmation.
pub const CONFIRM: &str = "confirm";
/// The subject of the line that records a roll-back.
pub const ROLLBACK: &str = "rollback";

/// One journal line, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Where the order came from, and what holds for the whole job.
    Order(OrderRecord),
    /// The technician confirmed the change (or `--yes` did): resumes do not ask again.
    Confirmed,
    /// A step is about to run.
    Intent(Step),
    /// A step ran, and recorded this.
    Done(Step, StepRecord),
    /// A step failed, with what was said.
    Failed(Step, String),
    /// `jobs abort` rolled the job back: what it undid, in words.
    RolledBack(Vec<String>),
}

/// Why a stored journal line could not be read.
#[derive(Debug, thiserror::Error)]
#[error("journal line '{subject}' ({phase}): {reason}")]
pub struct EntryError {
    pub subject: String,
    pub phase: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
struct FailedDetail {
    error: String,
}

#[derive(Serialize, Deserialize)]
struct RollbackDetail {
    undone: Vec<String>,
}

impl Entry {
    /// Whether the job must wait for this line to be on disk before it goes on. The lines
    /// of a step that [repeats unnoticed](Step::repeats_unnoticed) need not: the next line
    /// that must (at the latest, the intent of the first step that changes something)
    /// takes them to disk with it, in order.
    pub fn must_reach_disk(&self) -> bool {
        !matches!(self, Entry::Intent(s) | Entry::Done(s, _) if s.repeats_unnoticed())
    }

    /// The line's subject: a step's name, `order`, `confirm` or `rollback`.
    pub fn subject(&self) -> &'static str {
        match self {
            Entry::Order(_) => ORDER,
            Entry::Confirmed => CONFIRM,
            Entry::RolledBack(_) => ROLLBACK,
            Entry::Intent(s) | Entry::Done(s, _) | Entry::Failed(s, _) => s.name(),
        }
    }

    pub fn phase(&self) -> Phase {
        match self {
            Entry::Intent(_) => Phase::Intent,
            Entry::Failed(..) => Phase::Failed,
            Entry::RolledBack(_) => Phase::Compensated,
            Entry::Order(_) | Entry::Confirmed | Entry::Done(..) => Phase::Done,
        }
    }

    /// The step the line is about, if any.
    pub fn step(&self) -> Option<Step> {
        match self {
            Entry::Intent(s) | Entry::Done(s, _) | Entry::Failed(s, _) => Some(*s),
            _ => None,
        }
    }

    /// The detail as stored (JSON).
    pub fn detail(&self) -> serde_json::Value {
        let json = |v: Result<serde_json::Value, serde_json::Error>| v.unwrap_or_default();
        match self {
            Entry::Order(o) => json(serde_json::to_value(o)),
            Entry::Confirmed | Entry::Intent(_) => serde_json::json!({}),
            Entry::Done(_, r) => json(serde_json::to_value(r)),
            Entry::Failed(_, error) => json(serde_json::to_value(FailedDetail { error: error.clone() })),
            Entry::RolledBack(undone) => json(serde_json::to_value(RollbackDetail { undone: undone.clone() })),
        }
    }

    /// A stored line, read by its subject and phase.
    pub fn parse(subject: &str, phase: &str, detail: &str) -> Result<Entry, EntryError> {
        let bad = |reason: String| EntryError {
            subject: subject.to_string(),
            phase: phase.to_string(),
            reason,
        };
        let json: serde_json::Value = serde_json::from_str(detail).map_err(|e| bad(e.to_string()))?;
        let de = |e: serde_json::Error| bad(e.to_string());
        match (subject, phase) {
            (ORDER, "done") => Ok(Entry::Order(serde_json::from_value(json).map_err(de)?)),
            (CONFIRM, "done") => Ok(Entry::Confirmed),
            (ROLLBACK, "compensated") => Ok(Entry::RolledBack(
                serde_json::from_value::<RollbackDetail>(json).map_err(de)?.undone,
            )),
            (name, phase) => {
                let step = Step::from_name(name).ok_or_else(|| bad("no step of this build has this name".into()))?;
                match phase {
                    "intent" => Ok(Entry::Intent(step)),
                    "done" => Ok(Entry::Done(step, StepRecord::parse(step, json).map_err(de)?)),
                    "failed" => Ok(Entry::Failed(
                        step,
                        serde_json::from_value::<FailedDetail>(json).map_err(de)?.error,
                    )),
                    _ => Err(bad("no such phase for a step".into())),
                }
            }
        }
    }

    /// The line's detail as a person reads it, in the current language.
    pub fn shown(&self) -> String {
        shown_json(&self.detail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every label and word the step lines use is in both catalogues.
    #[test]
    fn every_detail_label_and_word_is_in_both_languages() {
        for (_, key) in DETAIL_LABELS.iter().chain(DETAIL_WORDS) {
            for lang in [crate::i18n::Lang::En, crate::i18n::Lang::ZhCn] {
                assert!(crate::i18n::message_in(lang, key, None).is_some(), "{key} in {lang:?}");
            }
        }
    }

    /// A step's line reads as labelled values in the page's language, digests and paths
    /// short (it was `file=/…/backups/SIM-….zip log_sha256=<64 digits> one_pass=true …`).
    #[test]
    fn a_step_line_is_labelled_values_in_the_language_not_names() {
        let copied: StepRecord = StepRecord::parse(
            Step::CopyData,
            serde_json::json!({"file": "/home/t/.local/share/posagent/backups/SIM-1-01a2.zip", "sha256": "ab".repeat(32),
                "transactions": 3, "records": 3, "log_sha256": "cd".repeat(32), "log_len": 90, "parameters": 4, "one_pass": true}),
        )
        .unwrap();
        let verified = StepRecord::parse(
            Step::VerifyImport,
            serde_json::json!({"records": 3, "sha256": "cd", "by": "read-back"}),
        )
        .unwrap();
        let seen = StepRecord::parse(
            Step::CheckReplacement,
            serde_json::json!({"serial": "NEW-1", "model": "A8", "status": "unbound"}),
        )
        .unwrap();
        crate::i18n::in_lang(crate::i18n::Lang::ZhCn, || {
            for r in [&copied, &verified, &seen] {
                let line = r.shown();
                assert!(!line.contains('=') && !line.contains('_'), "{line}");
                assert!(line.chars().count() < 160, "{line}");
            }
            let line = copied.shown();
            assert!(line.contains("SIM-1-01a2.zip") && !line.contains("/home/"), "{line}");
            assert!(
                line.contains(&format!("{}…", "ab".repeat(6))) && !line.contains(&"ab".repeat(7)),
                "{line}"
            );
            assert!(verified.shown().contains("回读"), "{}", verified.shown());
            assert!(seen.shown().contains("未绑定"), "{}", seen.shown());
            // A digest that is not hex (a damaged database) is cut by characters, not bytes.
            let odd_digest = format!("a{}", "校验".repeat(10));
            let odd = StepRecord::parse(
                Step::VerifyImport,
                serde_json::json!({"records": 1, "sha256": odd_digest, "by": "digest"}),
            )
            .unwrap();
            let cut: String = odd_digest.chars().take(DIGEST_SHOWN).collect();
            assert!(odd.shown().contains(&format!("{cut}…")), "{}", odd.shown());
        });
    }

    /// The command line parses the names the journal keeps: a resumed job reads back the
    /// way it was started with.
    #[test]
    fn a_way_of_copying_has_one_name_on_the_command_line_and_in_the_journal() {
        for (name, copying) in Copying::NAMES.iter().zip([Copying::OnePass, Copying::Sequential]) {
            assert_eq!(name.parse::<Copying>(), Ok(copying));
            assert_eq!(serde_json::to_value(copying).unwrap(), *name);
        }
        assert!("both".parse::<Copying>().is_err());
    }

    /// Lines as earlier releases wrote them read back typed, and write back the same JSON.
    #[test]
    fn lines_written_by_earlier_releases_read_back_and_round_trip() {
        let lines = [
            (
                "order",
                "done",
                r#"{"signed":false,"file":"/o.toml","documents_checked":true,"copying":"one-pass"}"#,
            ),
            (
                "check_identity",
                "done",
                r#"{"serial":"SN1","vendor":"V","model":"M","firmware":"1.0"}"#,
            ),
            ("check_identity", "done", r#"{"serial":"SN1","archive_of":"SN1"}"#),
            ("authenticate", "done", r#"{"authenticated":true}"#),
            (
                "check_documents",
                "done",
                r#"{"documents":[{"file":"a.pdf","sha256":"00"}]}"#,
            ),
            (
                "check_cooldown",
                "done",
                r#"{"cooldown_days":30,"settlement_since":"2026-01-02"}"#,
            ),
            (
                "check_cooldown",
                "done",
                r#"{"cooldown_days":30,"cooldown_checked_by":"provider, signed with the order","clear_from":"2026-01-02"}"#,
            ),
            (
                "verify_phone",
                "done",
                r#"{"path":"sms","phone":"139****1111","verification_id":"v","confirmation_id":"c","confirmed_at":"t"}"#,
            ),
            (
                "verify_phone",
                "done",
                r#"{"path":"counter","documents":["id"],"documents_checked_by":"tech"}"#,
            ),
            ("backup", "done", r#"{"file":"/b.zip","sha256":"ab","transactions":3}"#),
            ("settle", "done", r#"{"settled":2,"transactions":3}"#),
            (
                "copy_data",
                "done",
                r#"{"file":"/b.zip","sha256":"ab","transactions":3,"records":3,"log_sha256":"cd","log_len":90,"parameters":4,"one_pass":true}"#,
            ),
            (
                "verify_import",
                "done",
                r#"{"records":3,"sha256":"cd","by":"read-back"}"#,
            ),
            ("unbind_old", "done", "{}"),
            ("record", "done", r#"{"submission":"s"}"#),
            ("backup", "intent", "{}"),
            ("backup", "failed", r#"{"error":"cable"}"#),
            ("rollback", "compensated", r#"{"undone":["binding restored"]}"#),
            ("confirm", "done", "{}"),
        ];
        for (subject, phase, detail) in lines {
            let e = Entry::parse(subject, phase, detail).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((e.subject(), e.phase().as_str()), (subject, phase));
            let again: serde_json::Value = serde_json::from_str(detail).unwrap();
            assert_eq!(e.detail(), again, "{subject} {phase}");
        }
    }

    #[test]
    fn a_line_a_step_does_not_record_is_refused() {
        assert!(Entry::parse("backup", "done", r#"{"settled":2,"transactions":3}"#).is_err());
        assert!(
            Entry::parse(
                "copy_data",
                "done",
                r#"{"file":"/b.zip","sha256":"ab","transactions":3}"#
            )
            .is_err()
        );
        assert!(Entry::parse("no_such_step", "done", "{}").is_err());
        assert!(Entry::parse("backup", "compensated", "{}").is_err());
        assert!(Entry::parse("backup", "done", "not json").is_err());
    }
}
