//! The procedure catalogue: the five operations and which order fields each reads; which
//! fields are documents a profile may require; which values are personal (masked) or
//! secret (hidden) when an order is shown. Profiles and orders both read it.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::{DomainError, mask_middle, normalise_code};

/// The five procedures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    RebindCard,
    RebindAccount,
    RebindPhone,
    Unbind,
    Migrate,
}

impl Operation {
    /// All operations, in procedure order.
    pub const ALL: [Operation; 5] = [
        Operation::RebindCard,
        Operation::RebindAccount,
        Operation::RebindPhone,
        Operation::Unbind,
        Operation::Migrate,
    ];

    /// The name used in orders and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::RebindCard => "rebind-card",
            Operation::RebindAccount => "rebind-account",
            Operation::RebindPhone => "rebind-phone",
            Operation::Unbind => "unbind",
            Operation::Migrate => "migrate",
        }
    }

    /// The order fields this procedure reads, beyond [`COMMON_FIELDS`].
    fn own_fields(self) -> &'static [&'static str] {
        match self {
            // Either settles to a card or to an account now: the order says which.
            Operation::RebindCard => &[
                "expect.card_last4",
                "expect.account_last4",
                "expect.holder",
                "new.card",
                "new.holder",
                "new.expiry",
                "new.daily_limit_yuan",
                "new.fee_rate_percent",
            ],
            Operation::RebindAccount => &[
                "expect.card_last4",
                "expect.account_last4",
                "expect.holder",
                "new.account",
                "new.holder",
                "new.bank",
                "new.branch_code",
            ],
            Operation::RebindPhone => &[
                "expect.phone",
                "new.phone",
                "new.phone_path",
                "scan.holder_id",
                "scan.agent_id",
            ],
            Operation::Unbind => &[],
            Operation::Migrate => &["replacement.serial", "replacement.model", "replacement.activation_code"],
        }
    }
}

impl Operation {
    /// The procedure's name as a person reads it, in the current language.
    pub fn label(self) -> String {
        match self {
            Operation::RebindCard => crate::tr!("op-rebind-card"),
            Operation::RebindAccount => crate::tr!("op-rebind-account"),
            Operation::RebindPhone => crate::tr!("op-rebind-phone"),
            Operation::Unbind => crate::tr!("op-unbind"),
            Operation::Migrate => crate::tr!("op-migrate"),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operation {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|o| o.as_str() == s.trim())
            .ok_or(DomainError::Rule("rule-rebindcard-rebindaccount-rebindphone-unbind"))
    }
}

/// Fields every order may carry.
pub const COMMON_FIELDS: &[&str] = &[
    "id",
    "operation",
    "profile",
    "reason",
    "evidence",
    "merchant.mid",
    "merchant.name",
    "merchant.kind",
    "merchant.credit_code",
    "merchant.legal_rep_id",
    "agent.name",
    "agent.id_number",
    "agent.authorisation",
    "expect.serial",
    "expect.tid",
    "expect.status",
];

/// Fields that prove who asks; profiles pick from these.
const DOCUMENT_FIELDS: &[&str] = &[
    "merchant.credit_code",
    "merchant.legal_rep_id",
    "agent.name",
    "agent.id_number",
    "agent.authorisation",
];

/// What a profile may ask of an order on the counter path: scans of the documents the
/// technician saw, and the document fields.
const COUNTER_DOCUMENT_FIELDS: &[&str] = &[
    "scan.holder_id",
    "scan.agent_id",
    "agent.authorisation",
    "agent.id_number",
    "merchant.legal_rep_id",
];

/// Whether a profile may require `field` for the counter path of a phone change.
pub fn is_counter_document(field: &str) -> bool {
    COUNTER_DOCUMENT_FIELDS.contains(&field)
}

/// Whether `field` is read by operation `op`.
pub fn field_used_by(op: Operation, field: &str) -> bool {
    COMMON_FIELDS.contains(&field) || op.own_fields().contains(&field)
}

/// Whether `field` is a document field a profile may require.
pub fn is_document_field(field: &str) -> bool {
    DOCUMENT_FIELDS.contains(&field)
}

/// Every field an order may carry, for any operation.
pub fn all_fields() -> BTreeSet<&'static str> {
    let mut all: BTreeSet<&str> = COMMON_FIELDS.iter().copied().collect();
    for op in Operation::ALL {
        all.extend(op.own_fields());
    }
    all
}

/// Fields whose values are personal data and are masked in every report.
const MASKED_FIELDS: &[&str] = &[
    "new.card",
    "new.account",
    "merchant.legal_rep_id",
    "agent.id_number",
    "new.phone",
    "expect.phone",
];

/// Fields never echoed at all.
const SECRET_FIELDS: &[&str] = &["replacement.activation_code"];

/// How a value is shown in a report: masked for personal data, hidden for secrets.
pub fn shown_value(field: &str, raw: &str) -> String {
    if SECRET_FIELDS.contains(&field) {
        crate::tr!("value-hidden")
    } else if MASKED_FIELDS.contains(&field) {
        mask_middle(&normalise_code(raw))
    } else {
        const MAX_SHOWN: usize = 40;
        raw.chars().take(MAX_SHOWN).map(visible).collect()
    }
}

/// An order field's name as a person reads it, in the current language (`merchant.mid` →
/// "merchant ID (MID)"); a name no order takes, as it is.
pub fn field_label(field: &str) -> String {
    crate::i18n::message_in(crate::i18n::lang(), &field_key(field), None).unwrap_or_else(|| field.to_string())
}

/// The catalogue key of an order field's name: `order-field-merchant-mid`.
fn field_key(field: &str) -> String {
    format!("order-field-{}", field.replace(['.', '_'], "-"))
}

/// A provider's check in a signed order (`card_cooldown_clear_until`) as a person reads
/// it, in the current language; a check posagent does not know, by its name as code.
pub fn check_label(check: &str) -> String {
    let key = format!("order-check-{}", check.replace('_', "-"));
    crate::i18n::message_in(crate::i18n::lang(), &key, None)
        .unwrap_or_else(|| crate::tr!("orders-show-check", check = check))
}

/// A merchant's kind (`merchant.kind`) and the catalogue key of its name.
pub const MERCHANT_KINDS: &[(&str, &str)] = &[
    ("individual", "receipt-kind-individual"),
    ("company", "receipt-kind-company"),
];

/// An order value that is a word of the order format (an operation, a merchant kind, a
/// reason, a status, how a phone change is proven, a profile), in the current language;
/// `None` for every other value, which is shown as it is.
pub fn value_word(field: &str, value: &str) -> Option<String> {
    let word = |key: String| crate::i18n::message_in(crate::i18n::lang(), &key, None);
    match field {
        "operation" => value.parse::<Operation>().ok().map(Operation::label),
        "merchant.kind" => MERCHANT_KINDS
            .iter()
            .find(|(kind, _)| *kind == value)
            .map(|(_, key)| crate::i18n::text(key, None)),
        "reason" => word(format!("reason-{value}")),
        "expect.status" => value.parse::<crate::domain::DeviceStatus>().ok().map(|s| s.label()),
        "new.phone_path" => word(format!("detail-path-{value}")),
        "profile" => Some(crate::profile::shown_name_of(value)),
        _ => None,
    }
}

/// A character as a report shows it: control and invisible formatting characters (a
/// right-to-left override would reorder the line it is shown in) as `\u{202E}`.
fn visible(c: char) -> String {
    if c.is_control() || crate::domain::is_hidden_format_char(c) {
        format!("\\u{{{:04X}}}", c as u32)
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::shown_value;

    /// Every field an order takes has its name in both catalogues.
    #[test]
    fn every_field_has_a_label() {
        for lang in [crate::i18n::Lang::En, crate::i18n::Lang::ZhCn] {
            crate::i18n::in_lang(lang, || {
                for field in super::all_fields() {
                    let key = super::field_key(field);
                    assert!(crate::i18n::message_in(lang, &key, None).is_some(), "{key} in {lang:?}");
                }
                for reason in ["expired", "device-replaced", "other"] {
                    assert!(super::value_word("reason", reason).is_some(), "{reason}");
                }
            });
        }
    }

    #[test]
    fn a_shown_value_never_carries_a_control_or_reordering_character() {
        assert_eq!(shown_value("merchant.name", "开心\u{202E}面馆"), "开心\\u{202E}面馆");
        assert_eq!(shown_value("merchant.name", "a\u{7}b\u{200B}"), "a\\u{0007}b\\u{200B}");
        assert_eq!(shown_value("merchant.name", "开心面馆"), "开心面馆");
    }
}
