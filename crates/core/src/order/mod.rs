//! Work orders: what the clerk expects to find on a terminal and what to change.
//!
//! One order is a TOML file; many are a CSV file (one order per row, the same field names
//! flattened with dots, lists separated by `;`) or a TOML file with `[[order]]` tables.
//! Reading (`read`) keeps the line of every value so that each problem names field, file
//! and line. Validation (`validate`) never stops at the first problem: `order check`
//! reports them all. Which fields each operation reads is the procedure catalogue
//! (`crate::procedure`).

mod read;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::domain::{
    AccountNo, BranchCode, CreditCode, DeviceStatus, DomainError, HolderName, Mid, Pan, Phone, ResidentId, Tid,
};
pub use crate::procedure::*;
use crate::profile::ProfileSet;
pub use read::*;
pub use validate::*;

/// Whether the merchant is a company or an individual business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MerchantKind {
    Company,
    Individual,
}

/// Why a binding changes, as recorded with the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Expired,
    Lost,
    Damaged,
    BankChange,
    DeviceReplaced,
    BusinessChange,
    Compliance,
    DataMigration,
    CustomerRequest,
    Other,
}

const REASONS: [(&str, Reason); 10] = [
    ("expired", Reason::Expired),
    ("lost", Reason::Lost),
    ("damaged", Reason::Damaged),
    ("bank-change", Reason::BankChange),
    ("device-replaced", Reason::DeviceReplaced),
    ("business-change", Reason::BusinessChange),
    ("compliance", Reason::Compliance),
    ("data-migration", Reason::DataMigration),
    ("customer-request", Reason::CustomerRequest),
    ("other", Reason::Other),
];

impl FromStr for Reason {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        REASONS
            .iter()
            .find(|(n, _)| *n == s.trim())
            .map(|(_, r)| *r)
            .ok_or(DomainError::Rule("rule-expired-lost-damaged-bankchange"))
    }
}

/// How a new phone number is proven: SMS code to the new number, or at a counter with ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhonePath {
    Sms,
    Counter,
}

impl FromStr for PhonePath {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "sms" => Ok(PhonePath::Sms),
            "counter" => Ok(PhonePath::Counter),
            _ => Err(DomainError::Rule("rule-sms-code-new-number")),
        }
    }
}

/// A card expiry date, month and year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expiry {
    pub month: u32,
    pub year: i32,
}

impl Expiry {
    /// Parses `MM/YY`, refusing a month that has already ended on `today`.
    pub fn parse_on(raw: &str, today: NaiveDate) -> Result<Expiry, DomainError> {
        let s = raw.trim();
        let bad = DomainError::Rule("rule-mmyy-eg-0929");
        let (m, y) = s.split_once('/').ok_or(bad.clone())?;
        if m.len() != 2 || y.len() != 2 || !(m.bytes().chain(y.bytes()).all(|b| b.is_ascii_digit())) {
            return Err(bad);
        }
        let month: u32 = m.parse().map_err(|_| bad.clone())?;
        if !(1..=12).contains(&month) {
            return Err(DomainError::Rule("rule-month-outside-0112"));
        }
        let year = 2000 + y.parse::<i32>().map_err(|_| bad)?;
        if (year, month) < (today.year(), today.month()) {
            return Err(DomainError::Rule("rule-past-card-expired"));
        }
        Ok(Expiry { month, year })
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}", self.month, self.year % 100)
    }
}

/// The merchant the terminal belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct Merchant {
    pub mid: Mid,
    pub name: String,
    pub kind: MerchantKind,
    pub credit_code: Option<CreditCode>,
    pub legal_rep_id: Option<ResidentId>,
}

/// Someone acting on the merchant's behalf.
#[derive(Debug, Clone)]
pub struct AgentRep {
    pub name: Option<HolderName>,
    pub id_number: Option<ResidentId>,
    pub authorisation: Option<PathBuf>,
}

/// What the terminal must currently hold.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Expect {
    pub serial: Option<String>,
    pub tid: Option<Tid>,
    pub status: Option<DeviceStatus>,
    pub card_last4: Option<String>,
    pub account_last4: Option<String>,
    pub holder: Option<HolderName>,
    pub phone: Option<Phone>,
}

/// The values to write.
#[derive(Debug, Clone, Default)]
pub struct NewValues {
    pub card: Option<Pan>,
    pub holder: Option<HolderName>,
    pub expiry: Option<Expiry>,
    pub account: Option<AccountNo>,
    pub bank: Option<String>,
    pub branch_code: Option<BranchCode>,
    pub phone: Option<Phone>,
    pub phone_path: Option<PhonePath>,
    pub daily_limit_yuan: Option<f64>,
    pub fee_rate_percent: Option<f64>,
}

/// The replacement unit of a migration.
#[derive(Debug, Clone)]
pub struct Replacement {
    pub serial: Option<String>,
    pub model: Option<String>,
    /// One-time activation code; never logged or stored in clear.
    pub activation_code: Option<String>,
}

/// A validated work order.
#[derive(Debug, Clone)]
pub struct WorkOrder {
    pub id: String,
    pub operation: Operation,
    pub profile: String,
    pub reason: Option<Reason>,
    pub merchant: Merchant,
    pub agent: Option<AgentRep>,
    pub expect: Expect,
    pub new: NewValues,
    pub replacement: Option<Replacement>,
    pub evidence: Vec<PathBuf>,
    /// Scans of the documents seen at a counter (`scan.holder_id`, `scan.agent_id`).
    pub scans: Vec<PathBuf>,
}

/// One thing wrong with an order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    /// The dotted field name, e.g. `new.card`.
    pub field: String,
    pub file: PathBuf,
    pub line: usize,
    /// The value as shown to people (masked where personal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The field as written in the file (a place in it, like the line), as code.
        write!(f, "{}:{}: `{}`", self.file.display(), self.line, self.field)?;
        if let Some(v) = &self.value {
            write!(f, " = \"{v}\"")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The outcome of checking a whole file.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub valid: bool,
    /// How many orders the file holds.
    pub orders: usize,
    pub errors: Vec<Problem>,
}

/// Reads and validates every order in a file.
pub fn check_file(path: &Path, profiles: &ProfileSet) -> Result<(Vec<WorkOrder>, CheckReport), OrderFileError> {
    let raws = read_file(path)?;
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut orders = Vec::new();
    for raw in &raws {
        match validate(raw, profiles) {
            Ok(o) => {
                if let Some(first) = ids.insert(o.id.clone(), raw.line) {
                    errors.push(Problem {
                        field: "id".into(),
                        file: raw.file.clone(),
                        line: raw.line,
                        value: Some(o.id.clone()),
                        message: crate::tr!("field-id-repeated", line = first),
                    });
                }
                orders.push(o);
            }
            Err(p) => errors.extend(p),
        }
    }
    let report = CheckReport {
        valid: errors.is_empty(),
        orders: raws.len(),
        errors,
    };
    Ok((orders, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    const GOOD: &str = r#"
id = "WO-2026-0001"
operation = "rebind-card"
profile = "lakala"

[merchant]
mid = "822100000000001"
name = "Happy Noodles 开心面馆"
kind = "individual"
legal_rep_id = "11010519491001002X"

[expect]
serial = "LKL-A8-000123"
tid = "AB12CD34"
card_last4 = "1234"

[new]
card = "6222 0202 0011 2233 446"
holder = "张三"
expiry = "09/29"
"#;

    fn check(text: &str) -> Result<WorkOrder, Vec<Problem>> {
        let raws = parse_toml(text, Path::new("order.toml")).unwrap();
        validate_on(&raws[0], &ProfileSet::builtin().unwrap(), today())
    }

    fn fields(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    fn fix_id(text: &str) -> String {
        // The example legal_rep_id needs its real check character.
        let body = "11010519491001002";
        let id = format!("{body}{}", crate::domain::resident_id_check_char(body.as_bytes()));
        text.replace("11010519491001002X", &id)
    }

    #[test]
    fn a_good_order_validates() {
        let o = check(&fix_id(GOOD)).unwrap();
        assert_eq!(o.operation, Operation::RebindCard);
        assert_eq!(o.new.card.unwrap().last4(), "3446");
        assert_eq!(o.expect.tid.unwrap().as_str(), "AB12CD34");
    }

    #[test]
    fn every_problem_is_reported_with_field_and_line() {
        let text = fix_id(GOOD)
            .replace("6222 0202 0011 2233 446", "6222 0202 0011 2233 445")
            .replace("\"09/29\"", "\"13/29\"")
            .replace("tid = \"AB12CD34\"", "tid = \"AB12\"\ncolour = \"red\"");
        let problems = check(&text).unwrap_err();
        assert_eq!(
            fields(&problems),
            ["expect.tid", "expect.colour", "new.card", "new.expiry"]
        );
        let card = &problems[2];
        assert_eq!(card.value.as_deref(), Some("622202*********3445"));
        assert!(card.message.contains("Luhn"));
        assert_eq!(
            card.line,
            text.lines().position(|l| l.starts_with("card =")).unwrap() + 1
        );
    }

    #[test]
    fn bare_numbers_are_refused_for_code_fields() {
        let text = fix_id(GOOD).replace("mid = \"822100000000001\"", "mid = 822100000000001");
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["merchant.mid"]);
        assert!(problems[0].message.contains("quoted string"));
    }

    #[test]
    fn profile_requirements_apply() {
        // Lakala wants new.expiry for rebind-card; a company needs its credit code.
        let text = fix_id(GOOD)
            .replace("expiry = \"09/29\"\n", "")
            .replace("\"individual\"", "\"company\"");
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["new.expiry", "merchant.credit_code"]);
        assert!(problems[1].message.contains("company"));
    }

    #[test]
    fn an_agent_needs_all_agent_documents() {
        let text = fix_id(GOOD) + "\n[agent]\nname = \"李四\"\n";
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["agent.id_number", "agent.authorisation"]);
    }

    #[test]
    fn fields_of_another_operation_are_refused() {
        let text = fix_id(GOOD) + "\n[replacement]\nserial = \"NEW-0001\"\n";
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["replacement.serial"]);
        assert!(problems[0].message.contains("not used by rebind-card"));
    }

    #[test]
    fn unknown_profile_and_operation_are_named() {
        let text = fix_id(GOOD)
            .replace("\"lakala\"", "\"paypal\"")
            .replace("\"rebind-card\"", "\"rebind\"");
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["operation", "profile"]);
    }

    #[test]
    fn settlement_bounds_come_from_the_profile() {
        let text = fix_id(GOOD) + "daily_limit_yuan = 900000\nfee_rate_percent = \"0.5\"\n";
        let problems = check(&text).unwrap_err();
        assert_eq!(fields(&problems), ["new.daily_limit_yuan"]);
    }

    #[test]
    fn toml_syntax_error_names_the_line() {
        let err = parse_toml("id = \"x\"\n[merchant\n", Path::new("o.toml")).unwrap_err();
        assert!(matches!(err, OrderFileError::Syntax { line: 2, .. }), "{err}");
    }

    #[test]
    fn csv_rows_are_orders_and_errors_name_their_line() {
        let body = "11010519491001002";
        let id = format!("{body}{}", crate::domain::resident_id_check_char(body.as_bytes()));
        let csv = format!(
            "id,operation,profile,merchant.mid,merchant.name,merchant.kind,merchant.legal_rep_id,expect.serial,expect.tid,reason\n\
             U1,unbind,ums,822100000000001,Shop A,individual,{id},SN-0001,AB12CD34,device-replaced\n\
             U2,unbind,ums,82210000000000,Shop B,individual,{id},SN-0002,AB12CD35,device-replaced\n"
        );
        let raws = parse_csv(&csv, Path::new("plan.csv")).unwrap();
        assert_eq!(raws.len(), 2);
        let set = ProfileSet::builtin().unwrap();
        assert!(validate_on(&raws[0], &set, today()).is_ok());
        let p = validate_on(&raws[1], &set, today()).unwrap_err();
        assert_eq!((p[0].field.as_str(), p[0].line), ("merchant.mid", 3));
    }

    #[test]
    fn csv_cells_a_spreadsheet_would_run_are_refused() {
        let csv = "id,operation,profile,merchant.mid,merchant.name,merchant.kind,expect.serial,evidence\n\
                   U1,unbind,generic,822100000000001,=HYPERLINK(\"x\"),individual,@SUM(1),-2+3\n";
        let raws = parse_csv(csv, Path::new("plan.csv")).unwrap();
        let p = validate_on(&raws[0], &ProfileSet::builtin().unwrap(), today()).unwrap_err();
        let formulas: Vec<&str> = p
            .iter()
            .filter(|p| p.message.contains("runs as a formula"))
            .map(|p| p.field.as_str())
            .collect();
        assert_eq!(formulas, ["merchant.name", "expect.serial", "evidence"]);
    }

    #[test]
    fn a_card_change_says_what_the_terminal_settles_to_now() {
        let neither = fix_id(GOOD).replace("card_last4 = \"1234\"\n", "");
        let p = check(&neither).unwrap_err();
        assert_eq!(fields(&p), ["expect.card_last4"]);
        assert!(p[0].message.contains("or expect.account_last4"));
        let both = fix_id(GOOD).replace(
            "card_last4 = \"1234\"\n",
            "card_last4 = \"1234\"\naccount_last4 = \"5678\"\n",
        );
        assert_eq!(fields(&check(&both).unwrap_err()), ["expect.account_last4"]);
        let account = fix_id(GOOD).replace("card_last4 = \"1234\"\n", "account_last4 = \"5678\"\n");
        assert!(
            check(&account).is_ok(),
            "a terminal settling to an account may move to a card"
        );
    }

    #[test]
    fn csv_headers_with_spaces_are_refused_naming_the_column() {
        let err = parse_csv("id, operation\nA,unbind\n", Path::new("p.csv")).unwrap_err();
        assert!(err.to_string().contains("column ' operation' has spaces"), "{err}");
    }

    #[test]
    fn evidence_must_stay_inside_the_order_directory_and_be_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let orders = dir.path().join("orders");
        std::fs::create_dir(&orders).unwrap();
        std::fs::write(dir.path().join("outside.pdf"), b"%PDF").unwrap();
        std::fs::write(orders.join("scan.pdf"), b"%PDF").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.pdf"), orders.join("link.pdf")).unwrap();
        std::fs::write(orders.join("empty.jpg"), b"").unwrap();
        std::fs::create_dir(orders.join("folder")).unwrap();
        let check = |evidence: &str| {
            let text = fix_id(GOOD).replacen("\n[merchant]", &format!("evidence = [\"{evidence}\"]\n\n[merchant]"), 1);
            let raws = parse_toml(&text, &orders.join("o.toml")).unwrap();
            validate_on(&raws[0], &ProfileSet::builtin().unwrap(), today())
                .err()
                .map(|p| p.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("; "))
        };
        assert_eq!(check("scan.pdf"), None);
        for (bad, why) in [
            ("../outside.pdf", "inside the order's directory"),
            ("/etc/passwd", "inside the order's directory"),
            ("link.pdf", "leads outside"),
            ("folder", "not a regular file"),
            ("empty.jpg", "is empty (0 bytes)"),
        ] {
            let msg = check(bad).unwrap_or_default();
            assert!(msg.contains(why), "{bad}: {msg}");
        }
    }

    #[test]
    fn csv_with_ragged_row_is_a_syntax_error_with_line() {
        let err = parse_csv("id,operation\nA,unbind\nB\n", Path::new("p.csv")).unwrap_err();
        assert!(matches!(err, OrderFileError::Syntax { line: 3, .. }), "{err}");
    }

    #[test]
    fn toml_order_list_is_read() {
        let text = "[[order]]\nid = \"A\"\n\n[[order]]\nid = \"B\"\n";
        let raws = parse_toml(text, Path::new("plan.toml")).unwrap();
        assert_eq!(raws.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 4]);
    }

    /// A plan is parsed one `[[order]]` at a time (so that memory follows the largest
    /// order, not the file), and reads as a whole file would: sub-tables, comments,
    /// `[[order]]` inside a multi-line string, lines counted from the file's start.
    #[test]
    fn a_plan_read_order_by_order_reads_as_the_whole_file() {
        let text = "# a plan\n\n[[order]] # first\nid = \"A\"\nnote = \"\"\"\n[[order]]\n\"\"\"\n\
                    [order.merchant]\nmid = \"1\"\n[[ order ]]\nid = \"B\"\nbad = \n";
        let err = parse_toml(text, Path::new("plan.toml")).unwrap_err();
        assert!(matches!(err, OrderFileError::Syntax { line: 12, .. }), "{err}");
        let text = text.replace("bad = \n", "");
        let raws = parse_toml(&text, Path::new("plan.toml")).unwrap();
        assert_eq!(raws.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 10]);
        assert_eq!(raws[0].fields["note"].value, RawValue::Text("[[order]]\n".into()));
        assert_eq!(raws[0].fields["merchant.mid"].line, 9);
        assert_eq!(raws[1].fields["id"].line, 11);
        let err = parse_toml("id = \"X\"\n[[order]]\nid = \"A\"\n", Path::new("p.toml")).unwrap_err();
        assert!(
            err.to_string().contains("p.toml:1: keys before the first [[order]]"),
            "{err}"
        );
        let long = format!(
            "[[order]]\nid = \"A\"\nnote = \"{}\"\n[[order]]\nid = \"B\"\n",
            "x".repeat(MAX_ORDER_TEXT)
        );
        let err = parse_toml(&long, Path::new("p.toml")).unwrap_err();
        assert!(
            err.to_string()
                .contains("p.toml:1: an order of more than 1048576 bytes"),
            "{err}"
        );
    }

    #[test]
    fn expiry_rules() {
        assert_eq!(Expiry::parse_on("11/26", today()).unwrap().to_string(), "11/26");
        assert!(Expiry::parse_on("10/26", today()).is_err());
        assert!(Expiry::parse_on("00/30", today()).is_err());
        assert!(Expiry::parse_on("1/30", today()).is_err());
    }

    #[test]
    fn masked_fields_are_masked_in_reports() {
        assert_eq!(shown_value("new.account", "6222020200112233445"), "622202*********3445");
        assert_eq!(shown_value("replacement.activation_code", "SECRET"), "(hidden)");
        assert_eq!(shown_value("merchant.name", "Shop"), "Shop");
    }
}
