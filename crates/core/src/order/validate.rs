//! Validating a raw order against the profiles, collecting every problem with its field,
//! file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;

use super::*;
use crate::domain::{
    AccountNo, BranchCode, CreditCode, DeviceStatus, DomainError, HolderName, Mid, Pan, Phone, ResidentId, Tid,
    normalise_code, plain_text,
};
use crate::profile::{Profile, ProfileSet};

/// Longest order id accepted.
const MAX_ORDER_ID: usize = 64;
use crate::domain::MAX_NAME_CHARS as MAX_NAME;

fn parse_order_id(s: &str) -> Result<String, DomainError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(DomainError::Empty);
    }
    if s.len() > MAX_ORDER_ID || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(DomainError::Rule("rule-164-ascii-letters-digits"));
    }
    Ok(s.to_string())
}

/// Device serial numbers: ASCII letters, digits and hyphens, 4-32 characters, uppercased.
pub fn parse_serial(raw: &str) -> Result<String, DomainError> {
    let s = raw.trim_matches(|c: char| c.is_ascii_whitespace()).to_ascii_uppercase();
    if s.is_empty() {
        return Err(DomainError::Empty);
    }
    if !(4..=32).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(DomainError::Rule("rule-432-ascii-letters-digits"));
    }
    Ok(s)
}

fn parse_last4(raw: &str) -> Result<String, DomainError> {
    let s = normalise_code(raw);
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::Rule("rule-last-4-digits"));
    }
    Ok(s)
}

fn parse_number(raw: &str) -> Result<f64, DomainError> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or(DomainError::Rule("rule-number"))
}

/// Walks one raw order, collecting every problem.
struct Validator<'a> {
    raw: &'a RawOrder,
    base_dir: PathBuf,
    problems: Vec<Problem>,
}

impl<'a> Validator<'a> {
    fn problem(&mut self, field: &str, value: Option<String>, message: impl Into<String>) {
        let line = self.raw.fields.get(field).map_or(self.raw.line, |f| f.line);
        self.problems.push(Problem {
            field: field.to_string(),
            file: self.raw.file.clone(),
            line,
            value,
            message: message.into(),
        });
    }

    fn present(&self, field: &str) -> bool {
        self.raw.fields.contains_key(field)
    }

    /// Parses a text field; records a problem and returns `None` when it is bad or absent.
    fn text<T>(&mut self, field: &str, parse: impl FnOnce(&str) -> Result<T, DomainError>) -> Option<T> {
        let raw = self.raw.fields.get(field)?;
        let text = match &raw.value {
            RawValue::Text(t) => t.clone(),
            RawValue::Number(n) => {
                let msg = crate::tr!("value-bare-number", value = shown_value(field, n));
                self.problem(field, Some(shown_value(field, n)), msg);
                return None;
            }
            RawValue::List(_) => {
                self.problem(field, None, crate::tr!("value-list"));
                return None;
            }
            RawValue::Formula(t) => {
                let msg = crate::tr!(
                    "value-formula",
                    first = t.trim_start().chars().next().unwrap_or('=').to_string()
                );
                self.problem(field, Some(shown_value(field, t)), msg);
                return None;
            }
            RawValue::Other(kind) => {
                self.problem(field, None, crate::tr!("value-not-text", kind = kind_label(kind)));
                return None;
            }
        };
        match parse(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(field, Some(shown_value(field, &text)), e.to_string());
                None
            }
        }
    }

    /// A numeric field, written either as a TOML number or as text.
    fn number(&mut self, field: &str) -> Option<f64> {
        match self.raw.fields.get(field).map(|f| &f.value) {
            Some(RawValue::Number(n)) => {
                let n = n.clone();
                parse_number(&n)
                    .map_err(|e| self.problem(field, Some(n), e.to_string()))
                    .ok()
            }
            Some(_) => self.text(field, parse_number),
            None => None,
        }
    }

    /// A file named by the order: relative to the order's directory and inside it, and a
    /// regular file.
    fn file_path(&mut self, field: &str, raw: &str) -> Option<PathBuf> {
        let rel = Path::new(raw.trim());
        let leaves = rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
        if leaves {
            let msg = crate::tr!("value-file-outside");
            self.problem(field, Some(raw.to_string()), msg);
            return None;
        }
        let path = self.base_dir.join(rel);
        let inside = match (std::fs::canonicalize(&path), std::fs::canonicalize(self.dir())) {
            (Ok(file), Ok(dir)) => file.starts_with(dir),
            (Err(_), _) => {
                self.problem(
                    field,
                    Some(raw.to_string()),
                    crate::tr!("value-file-missing", file = path.display().to_string()),
                );
                return None;
            }
            (_, Err(_)) => false,
        };
        if !inside {
            let msg = crate::tr!("value-file-link-outside");
            self.problem(field, Some(raw.to_string()), msg);
            return None;
        }
        match std::fs::metadata(&path) {
            // A 0-byte scan shows nothing: it proves no document.
            Ok(m) if m.is_file() && m.len() == 0 => {
                let msg = crate::tr!("value-file-empty", file = path.display().to_string());
                self.problem(field, Some(raw.to_string()), msg);
                None
            }
            Ok(m) if m.is_file() => Some(path),
            _ => {
                let msg = crate::tr!("value-file-not-regular", file = path.display().to_string());
                self.problem(field, Some(raw.to_string()), msg);
                None
            }
        }
    }

    /// The order's directory (`.` for an order named without one).
    fn dir(&self) -> &Path {
        if self.base_dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.base_dir
        }
    }

    fn evidence(&mut self) -> Vec<PathBuf> {
        let list = match self.raw.fields.get("evidence").map(|f| f.value.clone()) {
            None => return Vec::new(),
            Some(RawValue::List(l)) => l,
            Some(RawValue::Text(t)) => vec![t],
            Some(RawValue::Formula(_)) => {
                // Reported by the one place that explains formulas.
                self.text("evidence", |_| Ok(()));
                return Vec::new();
            }
            Some(_) => {
                self.problem("evidence", None, crate::tr!("value-evidence-list"));
                return Vec::new();
            }
        };
        list.iter()
            .filter(|s| !s.trim().is_empty())
            .filter_map(|s| self.file_path("evidence", s))
            .collect()
    }
}

/// Validates one raw order against the profiles; every problem is returned.
pub fn validate(raw: &RawOrder, profiles: &ProfileSet) -> Result<WorkOrder, Vec<Problem>> {
    validate_on(raw, profiles, chrono::Local::now().date_naive())
}

/// [`validate`] with an explicit date, for dates checked against today.
pub fn validate_on(raw: &RawOrder, profiles: &ProfileSet, today: NaiveDate) -> Result<WorkOrder, Vec<Problem>> {
    let base_dir = raw.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut v = Validator {
        raw,
        base_dir,
        problems: Vec::new(),
    };

    let known = all_fields();
    for name in raw.fields.keys() {
        if !known.contains(name.as_str()) {
            v.problem(name, None, crate::tr!("field-unknown"));
        }
    }
    for required in [
        "id",
        "operation",
        "profile",
        "merchant.mid",
        "merchant.name",
        "merchant.kind",
    ] {
        if !v.present(required) {
            v.problem(required, None, crate::tr!("field-required"));
        }
    }

    let id = v.text("id", parse_order_id);
    let operation = v.text("operation", Operation::from_str);
    let profile_name = v.text("profile", |s| Ok(s.trim().to_string()));
    let profile: Option<&Profile> = match &profile_name {
        Some(name) => match profiles.get(name) {
            Ok(p) => Some(p),
            Err(e) => {
                v.problem("profile", Some(name.clone()), e.to_string());
                None
            }
        },
        None => None,
    };
    let reason = v.text("reason", Reason::from_str);
    let kind = v.text("merchant.kind", |s| match s.trim() {
        "company" => Ok(MerchantKind::Company),
        "individual" => Ok(MerchantKind::Individual),
        _ => Err(DomainError::Rule("rule-company-individual")),
    });
    let merchant_name = v.text("merchant.name", |s| plain_text(s, MAX_NAME));
    let mid = v.text("merchant.mid", Mid::from_str);
    let credit_code = v.text("merchant.credit_code", CreditCode::from_str);
    let legal_rep_id = v.text("merchant.legal_rep_id", |s| ResidentId::parse_on(s, today));

    let agent_present = ["agent.name", "agent.id_number", "agent.authorisation"]
        .iter()
        .any(|f| v.present(f));
    let agent = agent_present.then(|| AgentRep {
        name: v.text("agent.name", HolderName::from_str),
        id_number: v.text("agent.id_number", |s| ResidentId::parse_on(s, today)),
        authorisation: v
            .text("agent.authorisation", |s| Ok(s.to_string()))
            .and_then(|p| v.file_path("agent.authorisation", &p)),
    });

    let expect = Expect {
        serial: v.text("expect.serial", parse_serial),
        tid: v.text("expect.tid", Tid::from_str),
        status: v.text("expect.status", DeviceStatus::from_str),
        card_last4: v.text("expect.card_last4", parse_last4),
        account_last4: v.text("expect.account_last4", parse_last4),
        holder: v.text("expect.holder", HolderName::from_str),
        phone: v.text("expect.phone", Phone::from_str),
    };
    let new = NewValues {
        card: v.text("new.card", Pan::from_str),
        holder: v.text("new.holder", HolderName::from_str),
        expiry: v.text("new.expiry", |s| Expiry::parse_on(s, today)),
        account: v.text("new.account", AccountNo::from_str),
        bank: v.text("new.bank", |s| plain_text(s, MAX_NAME)),
        branch_code: v.text("new.branch_code", BranchCode::from_str),
        phone: v.text("new.phone", Phone::from_str),
        phone_path: v.text("new.phone_path", PhonePath::from_str),
        daily_limit_yuan: v.number("new.daily_limit_yuan"),
        fee_rate_percent: v.number("new.fee_rate_percent"),
    };
    let replacement_present = ["replacement.serial", "replacement.model", "replacement.activation_code"]
        .iter()
        .any(|f| v.present(f));
    let replacement = replacement_present.then(|| Replacement {
        serial: v.text("replacement.serial", parse_serial),
        model: v.text("replacement.model", |s| plain_text(s, MAX_NAME)),
        activation_code: v.text("replacement.activation_code", |s| {
            let s = normalise_code(s);
            if (6..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(s)
            } else {
                Err(DomainError::Rule("rule-632-ascii-letters-digits"))
            }
        }),
    });
    let evidence = v.evidence();
    let scans = ["scan.holder_id", "scan.agent_id"]
        .into_iter()
        .filter_map(|f| v.text(f, |s| Ok(s.to_string())).and_then(|p| v.file_path(f, &p)))
        .collect();

    if let (Some(op), Some(profile)) = (operation, profile) {
        check_against_profile(&mut v, op, profile, kind, agent_present);
        check_settlement_bounds(&mut v, profile, &new);
        if new.phone_path == Some(PhonePath::Counter)
            && let Some(rule) = profile.operations.get(&op)
        {
            for field in rule.counter_documents(agent_present) {
                if !v.present(&field) {
                    let why = crate::tr!("field-required-counter", profile = profile.name.as_str());
                    v.problem(&field, None, why);
                }
            }
        }
    }
    if matches!(operation, Some(Operation::RebindCard | Operation::RebindAccount)) {
        match (v.present("expect.card_last4"), v.present("expect.account_last4")) {
            (false, false) => v.problem("expect.card_last4", None, crate::tr!("field-settles-to")),
            (true, true) => v.problem("expect.account_last4", None, crate::tr!("field-settles-both")),
            _ => {}
        }
    }
    if let Some(op) = operation {
        for name in raw.fields.keys() {
            if known.contains(name.as_str()) && !field_used_by(op, name) {
                v.problem(name, None, crate::tr!("field-not-used", operation = op.label()));
            }
        }
    }
    if let (Some(old), Some(Some(new))) = (&expect.serial, replacement.as_ref().map(|r| &r.serial))
        && old == new
    {
        v.problem("replacement.serial", Some(new.clone()), crate::tr!("field-same-unit"));
    }

    if !v.problems.is_empty() {
        // File order reads best; missing fields (reported at the order's first line) lead.
        v.problems.sort_by_key(|p| p.line);
        return Err(v.problems);
    }
    // Every required value parsed, so the unwraps below hold; keep them total anyway.
    match (id, operation, profile_name, mid, merchant_name, kind) {
        (Some(id), Some(operation), Some(profile), Some(mid), Some(name), Some(kind)) => Ok(WorkOrder {
            id,
            operation,
            profile,
            reason,
            merchant: Merchant {
                mid,
                name,
                kind,
                credit_code,
                legal_rep_id,
            },
            agent,
            expect,
            new,
            replacement,
            evidence,
            scans,
        }),
        _ => Err(vec![Problem {
            field: "id".into(),
            file: raw.file.clone(),
            line: raw.line,
            value: None,
            message: crate::tr!("order-incomplete"),
        }]),
    }
}

fn check_against_profile(
    v: &mut Validator<'_>,
    op: Operation,
    profile: &Profile,
    kind: Option<MerchantKind>,
    agent_present: bool,
) {
    let Some(rule) = profile.operations.get(&op) else {
        let msg = crate::tr!(
            "field-op-unsupported",
            operation = op.label(),
            profile = profile.name.as_str()
        );
        v.problem("operation", Some(op.to_string()), msg);
        return;
    };
    let mut required: Vec<(String, String)> = rule
        .required_fields
        .iter()
        .map(|f| {
            let why = crate::tr!(
                "field-required-by",
                operation = op.label(),
                profile = profile.name.as_str()
            );
            (f.clone(), why)
        })
        .collect();
    let docs = match kind {
        Some(MerchantKind::Company) => &profile.documents.company,
        Some(MerchantKind::Individual) => &profile.documents.individual,
        None => &Vec::new(),
    };
    let why = match kind {
        Some(MerchantKind::Company) => crate::tr!("field-document-company", profile = profile.name.as_str()),
        _ => crate::tr!("field-document-individual", profile = profile.name.as_str()),
    };
    required.extend(docs.iter().map(|f| (f.clone(), why.clone())));
    if agent_present {
        required.extend(profile.documents.agent.iter().map(|f| {
            (
                f.clone(),
                crate::tr!("field-required-agent", profile = profile.name.as_str()),
            )
        }));
    }
    let mut seen = BTreeSet::new();
    for (field, message) in required {
        if seen.insert(field.clone()) && !v.present(&field) {
            v.problem(&field, None, message);
        }
    }
}

fn check_settlement_bounds(v: &mut Validator<'_>, profile: &Profile, new: &NewValues) {
    for (field, value, bounds, unit) in [
        (
            "new.daily_limit_yuan",
            new.daily_limit_yuan,
            profile.settlement.daily_limit_yuan,
            crate::tr!("unit-yuan"),
        ),
        (
            "new.fee_rate_percent",
            new.fee_rate_percent,
            profile.settlement.fee_rate_percent,
            "%".to_string(),
        ),
    ] {
        if let Some(x) = value
            && !bounds.contains(x)
        {
            let msg = crate::tr!(
                "field-out-of-bounds",
                min = bounds.min,
                max = bounds.max,
                unit = unit.as_str(),
                profile = profile.name.as_str()
            );
            v.problem(field, Some(x.to_string()), msg);
        }
    }
}
