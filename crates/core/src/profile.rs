//! Provider profiles: how to talk to a provider's terminals and what its procedures require.
//!
//! The profiles under `profiles/` are compiled into the binary. A file with the same name in
//! the override directory (`<config>/profiles/NAME.toml`) replaces the built-in one whole,
//! but may only tighten its security rules (signed orders, the terminals' authority and its
//! roots, the card cooldown, documents, confirmation by SMS), never loosen them: an override
//! that would is refused. A profile that does not parse, or names an unknown field or
//! operation, is an error that names the file, the line and the key; it is never replaced
//! by defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::procedure::{Operation, field_used_by};
pub use posagent_wire::settings::{FlowControl, Parity, SerialSettings};

/// The built-in profiles: (name, file text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("allinpay", include_str!("../../../profiles/allinpay.toml")),
    ("generic", include_str!("../../../profiles/generic.toml")),
    ("lakala", include_str!("../../../profiles/lakala.toml")),
    ("ruiyinxin", include_str!("../../../profiles/ruiyinxin.toml")),
    ("shengpay", include_str!("../../../profiles/shengpay.toml")),
    ("ums", include_str!("../../../profiles/ums.toml")),
];

/// The provider's name of the profile `name` in the current language where posagent ships
/// it, else `name` itself (a profile of the user's own, shown by its file's name).
pub fn shown_name_of(name: &str) -> String {
    catalogue_name(name).unwrap_or_else(|| name.to_string())
}

fn catalogue_name(name: &str) -> Option<String> {
    crate::i18n::message_in(crate::i18n::lang(), &format!("profile-name-{name}"), None)
}

/// A provider / terminal family profile.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name, equal to the file stem.
    pub name: String,
    /// The provider's name as people know it.
    pub display_name: String,
    /// Line settings of the terminals' serial port.
    pub serial: SerialSettings,
    /// USB vendor/product id pairs that identify this family's terminals.
    #[serde(default)]
    pub usb: Vec<UsbId>,
    /// The operations this provider supports, each with the order fields it requires.
    pub operations: BTreeMap<Operation, OperationRule>,
    /// Documents (order fields) required by merchant kind and for an acting agent.
    pub documents: Documents,
    /// Settlement rules.
    pub settlement: Settlement,
    /// The test transaction after a change.
    pub test_transaction: TestTransaction,
    /// Where work orders may come from.
    pub orders: OrdersPolicy,
    /// The provider's authority over its terminals (docs/protocol.md §11).
    pub authority: AuthorityPolicy,
}

/// `[authority]`: whether the profile's terminals judge every change of their binding by
/// the provider's authorisation, and the provider's root keys.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthorityPolicy {
    /// The terminals must enforce authority: the agent refuses to change one that does not.
    pub enforced: bool,
    /// The provider's root public keys (Ed25519, 64 hex digits), which sign its key
    /// statements.
    pub roots: Vec<String>,
}

impl AuthorityPolicy {
    /// The root public keys.
    pub fn root_keys(&self) -> Vec<[u8; 32]> {
        self.roots
            .iter()
            .filter_map(|r| hex::decode(r).ok()?.try_into().ok())
            .collect()
    }
}

/// `[orders]`: whether only provider-signed orders are carried out.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersPolicy {
    /// A local order file is refused; orders come from `posagent orders pull`.
    pub require_signed: bool,
}

/// A USB VID:PID pair.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UsbId {
    pub vid: u16,
    pub pid: u16,
}

impl fmt::Display for UsbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vid, self.pid)
    }
}

/// What one operation requires under this profile.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OperationRule {
    /// Order fields that must be present (dotted names, e.g. `new.card`).
    #[serde(default)]
    pub required_fields: Vec<String>,
    /// rebind-phone: what an order on the counter path (`new.phone_path = "counter"`) must
    /// carry (default: the holder's resident ID, scanned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_documents: Option<Vec<String>>,
    /// rebind-phone: what it must carry besides when someone acts for the merchant
    /// (default: the authorisation letter and the agent's ID, scanned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_agent_documents: Option<Vec<String>>,
    /// rebind-card: the provider sends a code to the phone bound now, and the new card is
    /// bound only once the merchant has given it (or the signed order says they did).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm_by_sms: bool,
}

impl OperationRule {
    /// The documents the counter path needs: the holder's, and with `agent` the agent's.
    pub fn counter_documents(&self, agent: bool) -> Vec<String> {
        let mut docs = self
            .counter_documents
            .clone()
            .unwrap_or_else(|| vec!["scan.holder_id".into()]);
        if agent {
            docs.extend(
                self.counter_agent_documents
                    .clone()
                    .unwrap_or_else(|| vec!["agent.authorisation".into(), "scan.agent_id".into()]),
            );
        }
        docs
    }
}

/// Which order fields prove who asks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Documents {
    pub company: Vec<String>,
    pub individual: Vec<String>,
    /// Required when someone acts on the merchant's behalf.
    pub agent: Vec<String>,
}

/// Settlement rules: card cooldown and parameter bounds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    /// Days before the same settlement card may be bound again (0: no cooldown).
    pub card_cooldown_days: u32,
    /// Allowed daily settlement limit, in yuan.
    pub daily_limit_yuan: Bounds,
    /// Allowed fee rate, in percent.
    pub fee_rate_percent: Bounds,
}

/// An inclusive numeric range.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub min: f64,
    pub max: f64,
}

impl Bounds {
    /// Whether `v` lies within the bounds.
    pub fn contains(&self, v: f64) -> bool {
        (self.min..=self.max).contains(&v)
    }
}

/// The test transaction a profile asks for after a change.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestTransaction {
    pub required: bool,
    /// Amount in fen (1 fen = 0.01 yuan).
    pub amount_fen: u32,
}

/// A profile that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{}", crate::tr!("profile-invalid", file = .file.as_str(), reason = .message.as_str()))]
    Invalid { file: String, message: String },
    #[error("{}", crate::tr!("profile-unknown", name = .0.as_str()))]
    Unknown(String),
    #[error("{}", crate::tr!("profile-dir-unreadable", dir = .0.display().to_string(), reason = crate::input::describe_io(.1)))]
    Io(PathBuf, std::io::Error),
    #[error(transparent)]
    Read(Box<crate::input::InputError>),
    /// A data-directory override that would loosen a built-in profile's security rule.
    #[error("{}", crate::tr!("profile-loosens", file = .file.display().to_string(), rule = *.rule))]
    Loosens { file: PathBuf, rule: &'static str },
}

impl Profile {
    /// The provider's name in the current language: the catalogue's `profile-name-NAME` for
    /// the profiles that ship with posagent, else the file's `display_name` as written.
    pub fn shown_name(&self) -> String {
        catalogue_name(&self.name).unwrap_or_else(|| self.display_name.clone())
    }

    /// Parses and checks one profile; `file` names it in errors.
    pub fn parse(text: &str, file: &str, expected_name: &str) -> Result<Profile, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            file: file.to_string(),
            message,
        };
        let profile: Profile = toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        if profile.name != expected_name {
            return Err(invalid(crate::tr!(
                "profile-name-differs",
                name = profile.name.as_str(),
                expected = expected_name
            )));
        }
        for (op, rule) in &profile.operations {
            if rule.confirm_by_sms && *op != Operation::RebindCard {
                return Err(invalid(crate::tr!("profile-confirm-by-sms", operation = op.as_str())));
            }
            let mut counter = rule
                .counter_documents
                .iter()
                .chain(&rule.counter_agent_documents)
                .flatten();
            if let Some(bad) =
                counter.find(|f| *op != Operation::RebindPhone || !crate::procedure::is_counter_document(f))
            {
                return Err(invalid(crate::tr!(
                    "profile-not-counter-document",
                    operation = op.as_str(),
                    field = bad.as_str()
                )));
            }
            for field in &rule.required_fields {
                if !field_used_by(*op, field) {
                    return Err(invalid(crate::tr!(
                        "profile-field-unused",
                        operation = op.as_str(),
                        field = field.as_str()
                    )));
                }
            }
        }
        let docs = &profile.documents;
        for (key, list) in [
            ("company", &docs.company),
            ("individual", &docs.individual),
            ("agent", &docs.agent),
        ] {
            if let Some(bad) = list.iter().find(|f| !crate::procedure::is_document_field(f)) {
                return Err(invalid(crate::tr!(
                    "profile-not-document",
                    key = key,
                    field = bad.as_str()
                )));
            }
        }
        if profile.authority.roots.len() != profile.authority.root_keys().len() {
            return Err(invalid(crate::tr!("profile-root-key")));
        }
        if profile.authority.enforced && !profile.orders.require_signed {
            return Err(invalid(crate::tr!("profile-enforced-unsigned")));
        }
        let s = &profile.serial;
        if !(5..=8).contains(&s.data_bits) || !(1..=2).contains(&s.stop_bits) || s.baud == 0 {
            return Err(invalid(crate::tr!("profile-serial")));
        }
        for (key, b) in [
            ("settlement.daily_limit_yuan", profile.settlement.daily_limit_yuan),
            ("settlement.fee_rate_percent", profile.settlement.fee_rate_percent),
        ] {
            if !(b.min.is_finite() && b.max.is_finite() && b.min <= b.max && b.min >= 0.0) {
                return Err(invalid(crate::tr!("profile-bounds", key = key)));
            }
        }
        Ok(profile)
    }

    /// Whether this profile supports `op`.
    pub fn supports(&self, op: Operation) -> bool {
        self.operations.contains_key(&op)
    }

    /// The first security rule in which this profile (an override) is looser than `base`
    /// (the built-in one of the same name), if any.
    pub fn loosens(&self, base: &Profile) -> Option<&'static str> {
        let docs = |mine: &[String], theirs: &[String]| theirs.iter().all(|d| mine.contains(d));
        let sms = |p: &Profile| {
            p.operations
                .get(&Operation::RebindCard)
                .is_some_and(|r| r.confirm_by_sms)
        };
        if base.orders.require_signed && !self.orders.require_signed {
            return Some("orders.require_signed");
        }
        if base.authority.enforced && !self.authority.enforced {
            return Some("authority.enforced");
        }
        if self.authority.roots != base.authority.roots {
            return Some("authority.roots");
        }
        if self.settlement.card_cooldown_days < base.settlement.card_cooldown_days {
            return Some("settlement.card_cooldown_days");
        }
        if !docs(&self.documents.company, &base.documents.company)
            || !docs(&self.documents.individual, &base.documents.individual)
            || !docs(&self.documents.agent, &base.documents.agent)
        {
            return Some("documents");
        }
        if sms(base) && !sms(self) {
            return Some("operations.rebind-card.confirm_by_sms");
        }
        None
    }
}

/// Every known profile: the built-in ones, replaced by overrides where present.
#[derive(Debug, Clone)]
pub struct ProfileSet {
    profiles: BTreeMap<String, (Profile, Source)>,
}

/// Where a profile came from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Builtin,
    Override(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin => f.write_str("built-in"),
            Source::Override(p) => write!(f, "{}", p.display()),
        }
    }
}

impl ProfileSet {
    /// The built-in profiles only.
    pub fn builtin() -> Result<ProfileSet, ProfileError> {
        let mut profiles = BTreeMap::new();
        for (name, text) in BUILTIN {
            let file = format!("profiles/{name}.toml (built in)");
            profiles.insert(name.to_string(), (Profile::parse(text, &file, name)?, Source::Builtin));
        }
        Ok(ProfileSet { profiles })
    }

    /// Built-in profiles with files from `dir` laid over them (a missing dir is fine).
    pub fn load(override_dir: &Path) -> Result<ProfileSet, ProfileError> {
        let mut set = ProfileSet::builtin()?;
        let entries = match std::fs::read_dir(override_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(set),
            Err(e) => return Err(ProfileError::Io(override_dir.to_path_buf(), e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(|e| ProfileError::Io(override_dir.to_path_buf(), e))?;
        paths.retain(|p| p.extension().is_some_and(|x| x == "toml"));
        paths.sort();
        for path in paths {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let text = crate::input::read_text(
                &path,
                crate::input::MAX_CONFIG_FILE,
                &crate::tr!("what-profile-override"),
            )
            .map_err(|e| ProfileError::Read(Box::new(e)))?;
            let profile = Profile::parse(&text, &path.display().to_string(), &name)?;
            if let Some((built_in, _)) = set.profiles.get(&name)
                && let Some(rule) = profile.loosens(built_in)
            {
                return Err(ProfileError::Loosens { file: path, rule });
            }
            set.profiles.insert(name, (profile, Source::Override(path)));
        }
        Ok(set)
    }

    /// The profile called `name`.
    pub fn get(&self, name: &str) -> Result<&Profile, ProfileError> {
        self.profiles
            .get(name)
            .map(|(p, _)| p)
            .ok_or_else(|| ProfileError::Unknown(name.to_string()))
    }

    /// Every profile with where it came from, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&Profile, &Source)> {
        self.profiles.values().map(|(p, s)| (p, s))
    }

    /// The first profile (by name, `generic` last) listing this USB id.
    pub fn match_usb(&self, id: UsbId) -> Option<&Profile> {
        let mut candidates: Vec<&Profile> = self
            .profiles
            .values()
            .map(|(p, _)| p)
            .filter(|p| p.usb.contains(&id))
            .collect();
        candidates.sort_by_key(|p| p.name == "generic");
        candidates.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_parses() {
        let set = ProfileSet::builtin().unwrap();
        let names: Vec<_> = set.iter().map(|(p, _)| p.name.as_str()).collect();
        assert_eq!(names, ["allinpay", "generic", "lakala", "ruiyinxin", "shengpay", "ums"]);
        assert_eq!(set.get("lakala").unwrap().settlement.card_cooldown_days, 30);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = BUILTIN[2]
            .1
            .replace("card_cooldown_days = 30", "card_cooldown_days = 30\ncooldown = 5");
        let err = Profile::parse(&text, "lakala.toml", "lakala").unwrap_err().to_string();
        assert!(err.contains("lakala.toml"), "{err}");
        assert!(err.contains("line"), "{err}");
        assert!(err.contains("cooldown"), "{err}");
    }

    #[test]
    fn wrong_type_is_an_error_not_a_default() {
        let text = BUILTIN[2]
            .1
            .replace("card_cooldown_days = 30", "card_cooldown_days = \"thirty\"");
        let err = Profile::parse(&text, "lakala.toml", "lakala").unwrap_err().to_string();
        assert!(err.contains("line") && err.contains("card_cooldown_days"), "{err}");
    }

    #[test]
    fn required_field_not_used_by_the_operation_is_refused() {
        let text = BUILTIN[2].1.replacen("\"new.card\"", "\"replacement.serial\"", 1);
        let err = Profile::parse(&text, "lakala.toml", "lakala").unwrap_err().to_string();
        assert!(
            err.contains("replacement.serial") && err.contains("rebind-card"),
            "{err}"
        );
    }

    #[test]
    fn sms_confirmation_and_counter_documents_belong_to_their_operations() {
        let set = ProfileSet::builtin().unwrap();
        let card = |p: &str| set.get(p).unwrap().operations[&Operation::RebindCard].confirm_by_sms;
        assert!(card("shengpay") && !card("lakala"));
        let phone = &set.get("ums").unwrap().operations[&Operation::RebindPhone];
        assert_eq!(phone.counter_documents(false), ["scan.holder_id"]);
        assert_eq!(
            phone.counter_documents(true),
            ["scan.holder_id", "agent.authorisation", "scan.agent_id"]
        );
        let lakala = BUILTIN[2].1;
        for (bad, key) in [
            (
                lakala.replacen(
                    "[operations.unbind]\n",
                    "[operations.unbind]\nconfirm_by_sms = true\n",
                    1,
                ),
                "confirm_by_sms",
            ),
            (
                lakala.replacen(
                    "counter_documents = [\"scan.holder_id\"]",
                    "counter_documents = [\"new.card\"]",
                    1,
                ),
                "new.card",
            ),
        ] {
            assert_ne!(bad, lakala, "the replacement applied");
            let err = Profile::parse(&bad, "lakala.toml", "lakala").unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn override_replaces_builtin_and_a_bad_override_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let text = BUILTIN[2]
            .1
            .replace("card_cooldown_days = 30", "card_cooldown_days = 45");
        std::fs::write(dir.path().join("lakala.toml"), text).unwrap();
        let set = ProfileSet::load(dir.path()).unwrap();
        assert_eq!(set.get("lakala").unwrap().settlement.card_cooldown_days, 45);
        std::fs::write(dir.path().join("ums.toml"), "name = \"ums\"\n[serial\n").unwrap();
        let err = ProfileSet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("ums.toml") && err.contains("line 2"), "{err}");
    }

    /// Side door: a data-directory override turned signing off (`require_signed = false`)
    /// and every other security rule could be loosened the same way. An override may
    /// tighten them only.
    #[test]
    fn an_override_may_tighten_security_rules_but_never_loosen_them() {
        let lakala = BUILTIN[2].1;
        let loosened = [
            (
                "require_signed = true",
                "require_signed = false",
                "orders.require_signed",
            ),
            ("enforced = true", "enforced = false", "authority.enforced"),
            ("roots = [\"", "roots = [\"00", "authority.roots"),
            (
                "card_cooldown_days = 30",
                "card_cooldown_days = 3",
                "settlement.card_cooldown_days",
            ),
            (
                "individual = [\"merchant.legal_rep_id\"]",
                "individual = []",
                "documents",
            ),
        ];
        for (from, to, rule) in loosened {
            let dir = tempfile::tempdir().unwrap();
            let text = lakala.replacen(from, to, 1);
            assert_ne!(text, lakala, "{rule}: the replacement applied");
            std::fs::write(dir.path().join("lakala.toml"), text).unwrap();
            let err = ProfileSet::load(dir.path()).unwrap_err();
            assert!(
                matches!(&err, ProfileError::Loosens { rule: r, .. } if *r == rule)
                    || matches!(&err, ProfileError::Invalid { .. }),
                "{rule}: {err}"
            );
            assert!(err.to_string().contains("lakala.toml"), "{err}");
        }
        // SMS confirmation taken off shengpay's card changes.
        let shengpay = BUILTIN[4].1;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("shengpay.toml"),
            shengpay.replacen("confirm_by_sms = true", "confirm_by_sms = false", 1),
        )
        .unwrap();
        assert!(matches!(
            ProfileSet::load(dir.path()),
            Err(ProfileError::Loosens {
                rule: "operations.rebind-card.confirm_by_sms",
                ..
            })
        ));
        // Tighter is fine: a longer cooldown, a document more.
        let dir = tempfile::tempdir().unwrap();
        let tighter = lakala
            .replacen("card_cooldown_days = 30", "card_cooldown_days = 60", 1)
            .replacen(
                "individual = [\"merchant.legal_rep_id\"]",
                "individual = [\"merchant.legal_rep_id\", \"merchant.credit_code\"]",
                1,
            );
        std::fs::write(dir.path().join("lakala.toml"), tighter).unwrap();
        let set = ProfileSet::load(dir.path()).unwrap();
        assert_eq!(set.get("lakala").unwrap().settlement.card_cooldown_days, 60);
    }

    #[test]
    fn usb_match_prefers_a_provider_over_generic() {
        let set = ProfileSet::builtin().unwrap();
        let lakala_id = set.get("lakala").unwrap().usb[0];
        assert_eq!(set.match_usb(lakala_id).unwrap().name, "lakala");
        let bridge = set.get("generic").unwrap().usb[0];
        assert_eq!(set.match_usb(bridge).unwrap().name, "generic");
        assert!(
            set.match_usb(UsbId {
                vid: 0xdead,
                pid: 0xbeef
            })
            .is_none()
        );
    }
}
