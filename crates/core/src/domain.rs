//! Validated value types for everything a work order or a terminal binding holds.
//!
//! Every code-like type (card, account, phone, ID numbers, MID, TID, branch code) parses
//! through one normalisation rule, [`normalise_code`]: trim ASCII whitespace at both ends,
//! drop ASCII spaces and hyphens inside, uppercase ASCII letters. Nothing else is folded:
//! full-width digits, NBSP, U+3000, zero-width characters and other scripts' digits are
//! rejected, because a value that only *looks* right is worse than an error at the counter.
//! Holder names follow their own rule ([`HolderName`]) since spaces inside a name matter.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

/// Why a value was refused. The message never contains the full value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{}", crate::tr!("domain-empty"))]
    Empty,
    /// The character, and the catalogue key of what else is allowed (`hint-…`).
    #[error("{}", crate::tr!("domain-bad-char", char = .0.to_string(), hint = crate::i18n::text(.1, None)))]
    BadCharacter(CharDescription, &'static str),
    /// `expected` is the catalogue key of the length wanted (`len-…`).
    #[error("{}", crate::tr!("domain-length", got = *.got, expected = crate::i18n::text(.expected, None)))]
    Length { got: usize, expected: &'static str },
    /// The catalogue key of the check's name (`check-…`).
    #[error("{}", crate::tr!("domain-check-digit", name = crate::i18n::text(.0, None)))]
    CheckDigit(&'static str),
    /// The catalogue key of the rule broken (`rule-…`).
    #[error("{}", crate::i18n::text(.0, None))]
    Rule(&'static str),
    #[error("{0}")]
    Detail(String),
}

/// A printable description of a refused character: `'x' (U+0078)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharDescription(pub char);

impl fmt::Display for CharDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        if c.is_ascii_graphic() {
            write!(f, "'{c}' (U+{:04X})", c as u32)
        } else {
            write!(f, "an invisible or non-ASCII character U+{:04X}", c as u32)
        }
    }
}

/// The one normalisation rule for code-like values (see the module doc): surrounding ASCII
/// whitespace goes, spaces and hyphens *between* characters go (`6222 0202-…`), letters
/// are upper-cased. A leading or trailing hyphen stays, so that `-6222…` is refused as a
/// bad character instead of read as a number.
pub fn normalise_code(raw: &str) -> String {
    let s = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    let last = s.chars().count().saturating_sub(1);
    s.chars()
        .enumerate()
        .filter(|(i, c)| !((*c == ' ' || *c == '-') && *i > 0 && *i < last))
        .map(|(_, c)| c.to_ascii_uppercase())
        .collect()
}

/// Masks a digit string as first 6 / last 4 (`622202******1234`); short values keep less.
pub fn mask_middle(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    if n <= 4 {
        return "*".repeat(n);
    }
    let (head, tail) = if n >= 14 { (6, 4) } else { (n.saturating_sub(4) / 2, 4) };
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

fn only_ascii_digits(s: &str, hint: &'static str) -> Result<(), DomainError> {
    match s.chars().find(|c| !c.is_ascii_digit()) {
        Some(c) => Err(DomainError::BadCharacter(CharDescription(c), hint)),
        None => Ok(()),
    }
}

fn digits_of_length(raw: &str, min: usize, max: usize, expected: &'static str) -> Result<String, DomainError> {
    let s = normalise_code(raw);
    if s.is_empty() {
        return Err(DomainError::Empty);
    }
    only_ascii_digits(&s, "hint-none")?;
    if !(min..=max).contains(&s.len()) {
        return Err(DomainError::Length { got: s.len(), expected });
    }
    Ok(s)
}

/// Luhn (ISO/IEC 7812-1) check over ASCII digits.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

macro_rules! masked_number {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The full number. Only for writing to a terminal or an encrypted store.
            pub fn expose_full(&self) -> &str {
                &self.0
            }

            /// The last four digits, which may be shown and compared freely.
            pub fn last4(&self) -> &str {
                &self.0[self.0.len() - 4..]
            }

            /// First 6 / last 4, the form shown everywhere.
            pub fn masked(&self) -> String {
                mask_middle(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.masked())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.masked())
            }
        }

        /// Serialises masked: a full number never leaves through serde by accident.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.masked())
            }
        }
    };
}

masked_number!(
    /// A settlement card number (PAN): 16–19 digits, Luhn-valid.
    Pan
);
masked_number!(
    /// A bank or corporate account number: 8–32 digits, leading zeros kept.
    AccountNo
);

impl FromStr for Pan {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = digits_of_length(raw, 16, 19, "len-16-19-digits")?;
        if s.bytes().all(|b| b == b'0') {
            return Err(DomainError::Rule("rule-all-zeros-card-number"));
        }
        if !luhn_valid(&s) {
            return Err(DomainError::CheckDigit("check-luhn"));
        }
        Ok(Pan(s))
    }
}

impl FromStr for AccountNo {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = normalise_code(raw);
        // A spreadsheet that treated the number as a float mangles it beyond repair.
        if s.contains('E') && s.contains('.') {
            return Err(DomainError::Rule("rule-looks-like-spreadsheet-scientific"));
        }
        if s.ends_with(".0") {
            return Err(DomainError::Rule("rule-ends-0-spreadsheet-number"));
        }
        let s = digits_of_length(raw, 8, 32, "len-8-32-digits")?;
        if s.bytes().all(|b| b == b'0') {
            return Err(DomainError::Rule("rule-all-zeros-account-number"));
        }
        Ok(AccountNo(s))
    }
}

/// A China mobile number, stored as its 11 national digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Serialises masked (`138****5678`), like card numbers.
impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

impl Phone {
    /// The 11 national digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `138****5678`, the form shown to people.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Whether 11 national digits fall in the ranges libphonenumber lists as CN mobile:
/// `1740[0-5]\d{6}|1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}`.
fn is_cn_mobile_range(d: &[u8; 11]) -> bool {
    if d[0] != b'1' {
        return false;
    }
    let (second, third) = (d[1], d[2]);
    if &d[1..4] == b"740" {
        return (b'0'..=b'5').contains(&d[4]);
    }
    match second {
        b'3' | b'8' => true,
        b'4' => matches!(third, b'5' | b'7'),
        b'5' | b'9' => third != b'4',
        b'6' => matches!(third, b'2' | b'5'..=b'7'),
        b'7' => matches!(third, b'0'..=b'3' | b'5'..=b'8'),
        _ => false,
    }
}

impl FromStr for Phone {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = normalise_code(raw);
        if s.is_empty() {
            return Err(DomainError::Empty);
        }
        let national = s.strip_prefix("+86").or_else(|| s.strip_prefix("0086")).unwrap_or(&s);
        only_ascii_digits(national, "hint-optionally-prefixed-by-86")?;
        if national.len() == 13 && national.starts_with("86") {
            return Err(DomainError::Rule("rule-starts-with-bare-86"));
        }
        let digits: [u8; 11] = national.as_bytes().try_into().map_err(|_| DomainError::Length {
            got: national.len(),
            expected: "len-11-digits",
        })?;
        if !is_cn_mobile_range(&digits) {
            return Err(DomainError::Rule("rule-not-china-mobile-number"));
        }
        Ok(Phone(national.to_string()))
    }
}

/// ISO 7064 MOD 11-2 check character over 17 digits, as GB 11643-1999 uses it.
pub fn resident_id_check_char(first17: &[u8]) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    CHECK[(sum % 11) as usize] as char
}

/// A mainland resident identity number (GB 11643-1999), 18 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

impl ResidentId {
    /// The full number. Only for an encrypted store or a provider submission.
    pub fn expose_full(&self) -> &str {
        &self.0
    }
    /// First 6 / last 4.
    pub fn masked(&self) -> String {
        mask_middle(&self.0)
    }
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Serialises masked, like card numbers.
impl Serialize for ResidentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

/// The earliest birth date a resident ID may carry.
const EARLIEST_BIRTH_DATE: (i32, u32, u32) = (1800, 1, 1);

impl ResidentId {
    /// Parses with an explicit "today", so that tests do not depend on the clock.
    pub fn parse_on(raw: &str, today: NaiveDate) -> Result<Self, DomainError> {
        let s = normalise_code(raw);
        if s.is_empty() {
            return Err(DomainError::Empty);
        }
        if s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::Rule("rule-old-15digit-id-not"));
        }
        let n = s.chars().count();
        if let Some((_, c)) = s
            .chars()
            .enumerate()
            .find(|(i, c)| !(c.is_ascii_digit() || (*c == 'X' && *i == n - 1)))
        {
            return Err(DomainError::BadCharacter(
                CharDescription(c),
                "hint-with-x-allowed-last",
            ));
        }
        if s.len() != 18 {
            return Err(DomainError::Length {
                got: s.chars().count(),
                expected: "len-18-characters",
            });
        }
        if s.starts_with('0') {
            return Err(DomainError::Rule("rule-area-code-starting-with"));
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
        let birth = NaiveDate::from_ymd_opt(num(6..10) as i32, num(10..12), num(12..14))
            .ok_or(DomainError::Rule("rule-birth-date-that-does"))?;
        let (y, m, d) = EARLIEST_BIRTH_DATE;
        let earliest = NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN);
        if birth < earliest || birth > today {
            return Err(DomainError::Detail(crate::tr!(
                "domain-birth-range",
                birth = birth.to_string(),
                today = today.to_string()
            )));
        }
        if resident_id_check_char(&s.as_bytes()[..17]) != s.as_bytes()[17] as char {
            return Err(DomainError::CheckDigit("check-iso7064"));
        }
        Ok(ResidentId(s))
    }
}

impl FromStr for ResidentId {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        ResidentId::parse_on(raw, chrono::Local::now().date_naive())
    }
}

/// The alphabet of the unified social credit code: digits and 21 letters (no I, O, S, V, Z).
pub const CREDIT_CODE_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Check character of a unified social credit code over its first 17 characters
/// (GB 32100-2015: weights 3^(i-1) mod 31). `None` if a character is outside the alphabet.
pub fn credit_code_check_char(first17: &[u8]) -> Option<char> {
    let mut weight = 1u32;
    let mut sum = 0u32;
    for b in first17 {
        let v = CREDIT_CODE_ALPHABET.iter().position(|a| a == b)? as u32;
        sum += v * weight;
        weight = weight * 3 % 31;
    }
    Some(CREDIT_CODE_ALPHABET[((31 - sum % 31) % 31) as usize] as char)
}

/// A unified social credit code (统一社会信用代码, GB 32100-2015).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CreditCode(String);

impl CreditCode {
    /// The 18 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CreditCode {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = normalise_code(raw);
        if s.is_empty() {
            return Err(DomainError::Empty);
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii() && CREDIT_CODE_ALPHABET.contains(&(*c as u8))))
        {
            return Err(DomainError::BadCharacter(CharDescription(c), "hint-letters-ah-jn-p"));
        }
        if s.len() != 18 {
            return Err(DomainError::Length {
                got: s.len(),
                expected: "len-18-characters",
            });
        }
        if !s.as_bytes()[2..8].iter().all(u8::is_ascii_digit) {
            return Err(DomainError::Rule("rule-have-digits-positions-3"));
        }
        if credit_code_check_char(&s.as_bytes()[..17]) != Some(s.as_bytes()[17] as char) {
            return Err(DomainError::CheckDigit("check-gb32100"));
        }
        Ok(CreditCode(s))
    }
}

macro_rules! fixed_code {
    ($(#[$doc:meta])* $name:ident, $len:expr, $expected:expr, $alnum:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The normalised characters.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                let s = normalise_code(raw);
                if s.is_empty() {
                    return Err(DomainError::Empty);
                }
                let allowed = |c: char| if $alnum { c.is_ascii_alphanumeric() } else { c.is_ascii_digit() };
                if let Some(c) = s.chars().find(|c| !allowed(*c)) {
                    return Err(DomainError::BadCharacter(
                        CharDescription(c),
                        if $alnum { "hint-ascii-letters" } else { "hint-none" },
                    ));
                }
                if s.len() != $len {
                    return Err(DomainError::Length { got: s.len(), expected: $expected });
                }
                Ok($name(s))
            }
        }
    };
}

fixed_code!(
    /// A merchant id (MID): 15 digits.
    Mid, 15, "len-15-digits", false
);
fixed_code!(
    /// A terminal id (TID): 8 ASCII letters or digits.
    Tid, 8, "len-8-letters-digits", true
);
fixed_code!(
    /// A CNAPS bank branch code (联行号): 12 digits.
    BranchCode, 12, "len-12-digits", false
);

/// An account or card holder's name: 2–40 characters of CJK or Latin letters,
/// spaces and the middle dot `·`; no digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct HolderName(String);

impl HolderName {
    /// The name as written (trimmed, inner runs of spaces collapsed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HolderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2EBEF | 0xF900..=0xFAFF)
}

fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (matches!(c as u32, 0xC0..=0x24F) && c.is_alphabetic())
}

/// Longest and shortest holder names accepted, in characters.
const HOLDER_NAME_CHARS: std::ops::RangeInclusive<usize> = 2..=40;

impl FromStr for HolderName {
    type Err = DomainError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let trimmed = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        let s = trimmed
            .split(' ')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if s.is_empty() {
            return Err(DomainError::Empty);
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(is_cjk(*c) || is_latin_letter(*c) || *c == ' ' || *c == '·'))
        {
            return Err(DomainError::BadCharacter(CharDescription(c), "hint-names-take-cjk-latin").into_name_error());
        }
        let n = s.chars().count();
        if !HOLDER_NAME_CHARS.contains(&n) {
            return Err(DomainError::Length {
                got: n,
                expected: "len-2-40-characters",
            });
        }
        Ok(HolderName(s))
    }
}

impl DomainError {
    /// Holder names are not digit fields; say what they take instead.
    fn into_name_error(self) -> Self {
        match self {
            DomainError::BadCharacter(c, _) => {
                DomainError::Detail(crate::tr!("domain-bad-name-char", char = c.to_string()))
            }
            other => other,
        }
    }
}

/// Longest merchant, bank or model name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Characters that are invisible or reorder text when shown: zero-width marks, the byte
/// order mark, and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069) that can make a name read differently from what it holds.
pub(crate) fn is_hidden_format_char(c: char) -> bool {
    matches!(c as u32, 0x200B..=0x200F | 0xFEFF | 0x202A..=0x202E | 0x2066..=0x2069)
}

/// Free text such as a bank name or a merchant name: 1–`max` characters, no control,
/// invisible or bidirectional-control characters.
pub fn plain_text(raw: &str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{3000}');
    if s.is_empty() {
        return Err(DomainError::Empty);
    }
    if let Some(c) = s.chars().find(|c| c.is_control() || is_hidden_format_char(*c)) {
        return Err(DomainError::Detail(crate::tr!(
            "domain-contains",
            char = CharDescription(c).to_string()
        )));
    }
    let n = s.chars().count();
    if n > max {
        return Err(DomainError::Detail(crate::tr!("domain-too-long", count = n, max = max)));
    }
    Ok(s.to_string())
}

/// Device status as the terminal reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    Bound,
    Unbound,
    Active,
}

impl DeviceStatus {
    /// The byte a terminal uses for this status.
    pub fn to_u8(self) -> u8 {
        match self {
            DeviceStatus::Unbound => 0,
            DeviceStatus::Bound => 1,
            DeviceStatus::Active => 2,
        }
    }

    /// From a terminal's status byte.
    pub fn from_u8(b: u8) -> Option<DeviceStatus> {
        match b {
            0 => Some(DeviceStatus::Unbound),
            1 => Some(DeviceStatus::Bound),
            2 => Some(DeviceStatus::Active),
            _ => None,
        }
    }

    /// The name used in orders and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Unbound => "unbound",
            DeviceStatus::Bound => "bound",
            DeviceStatus::Active => "active",
        }
    }

    /// The status as a person reads it, in the current language.
    pub fn label(self) -> String {
        self.label_in(crate::i18n::lang())
    }

    /// The status as a person reads it, in `lang`.
    pub fn label_in(self, lang: crate::i18n::Lang) -> String {
        let key = match self {
            DeviceStatus::Unbound => "detail-unbound",
            DeviceStatus::Bound => "detail-bound",
            DeviceStatus::Active => "detail-active",
        };
        crate::i18n::text_in(lang, key, None)
    }
}

impl fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "bound" => Ok(DeviceStatus::Bound),
            "unbound" => Ok(DeviceStatus::Unbound),
            "active" => Ok(DeviceStatus::Active),
            _ => Err(DomainError::Rule("rule-bound-unbound-active")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each binding status has its words in both catalogues (a missing one would show its
    /// key).
    #[test]
    fn every_status_has_its_words() {
        for status in [DeviceStatus::Bound, DeviceStatus::Unbound, DeviceStatus::Active] {
            for lang in [crate::i18n::Lang::En, crate::i18n::Lang::ZhCn] {
                assert!(!status.label_in(lang).starts_with("detail-"), "{status} in {lang:?}");
            }
            assert_eq!(status.as_str().parse::<DeviceStatus>(), Ok(status));
        }
    }
    use proptest::prelude::*;

    /// A Luhn-valid test PAN (not a real card).
    const PAN: &str = "6222020200112233446";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn normalisation_trims_drops_spaces_and_hyphens_and_uppercases() {
        assert_eq!(normalise_code("  62-22 02\t"), "622202");
        assert_eq!(normalise_code("\n91350100m000100y43 "), "91350100M000100Y43");
    }

    #[test]
    fn a_leading_or_trailing_minus_is_not_a_separator() {
        assert_eq!(normalise_code("-6222"), "-6222");
        assert!(format!("-{PAN}").parse::<Pan>().is_err());
        assert!(format!("{PAN}-").parse::<Pan>().is_err());
        assert!("-62220202001122".parse::<AccountNo>().is_err());
    }

    #[test]
    fn all_zero_numbers_are_refused_though_luhn_passes() {
        assert!(luhn_valid("0000000000000000"));
        let e = "0000 0000 0000 0000".parse::<Pan>().unwrap_err().to_string();
        assert!(e.contains("all zeros"), "{e}");
        assert!("00000000".parse::<AccountNo>().is_err());
    }

    #[test]
    fn bidirectional_controls_are_refused_in_text() {
        for c in ['\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{200F}'] {
            let e = plain_text(&format!("Shop{c}A"), 100).unwrap_err().to_string();
            assert!(e.contains(&format!("U+{:04X}", c as u32)), "{e}");
        }
        assert!(plain_text("开心面馆 Shop", 100).is_ok());
    }

    #[test]
    fn pan_accepts_spaced_and_hyphenated_forms() {
        let p: Pan = "6222 0202-0011 2233 446".parse().unwrap();
        assert_eq!(p.expose_full(), PAN);
        assert_eq!(p.last4(), "3446");
    }

    #[test]
    fn pan_display_and_debug_are_masked() {
        let p: Pan = PAN.parse().unwrap();
        assert_eq!(p.to_string(), "622202*********3446");
        assert_eq!(format!("{p:?}"), "Pan(622202*********3446)");
        assert!(!format!("{p:?}{p}").contains(PAN));
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"622202*********3446\"");
    }

    #[test]
    fn pan_rejects_bad_luhn_length_and_foreign_characters() {
        assert_eq!(
            "6222020200112233445".parse::<Pan>(),
            Err(DomainError::CheckDigit("check-luhn"))
        );
        assert!(matches!(
            "622202020011223".parse::<Pan>(),
            Err(DomainError::Length { got: 15, .. })
        ));
        assert!(matches!(
            "62220202001122334455".parse::<Pan>(),
            Err(DomainError::Length { got: 20, .. })
        ));
        for bad in [
            "６222020200112233445",      // full-width digit
            "6222020200\u{a0}112233445", // NBSP
            "6222020200\u{3000}112233445",
            "6222020200\u{200b}112233445",
            "٦222020200112233445", // Arabic-Indic digit
            "6222_020200112233445",
            "6222.020200112233445",
            "6222/020200112233445",
            "(6222)020200112233445",
        ] {
            assert!(
                matches!(bad.parse::<Pan>(), Err(DomainError::BadCharacter(..))),
                "{:?} should be refused",
                bad.escape_unicode().to_string()
            );
        }
    }

    #[test]
    fn account_keeps_leading_zeros_and_refuses_spreadsheet_damage() {
        let a: AccountNo = "0012 3456 7890".parse().unwrap();
        assert_eq!(a.expose_full(), "001234567890");
        assert!(matches!(
            "6.22202E+18".parse::<AccountNo>(),
            Err(DomainError::Rule("rule-looks-like-spreadsheet-scientific"))
        ));
        assert!(matches!(
            "6222020200112233.0".parse::<AccountNo>(),
            Err(DomainError::Rule("rule-ends-0-spreadsheet-number"))
        ));
        assert!(matches!(
            "1234567".parse::<AccountNo>(),
            Err(DomainError::Length { .. })
        ));
        assert!(matches!(
            "1".repeat(33).parse::<AccountNo>(),
            Err(DomainError::Length { .. })
        ));
        assert_eq!(format!("{a:?}"), "AccountNo(0012****7890)");
    }

    #[test]
    fn phone_accepts_prefixes_and_mobile_ranges_only() {
        for ok in [
            "13812345678",
            "+86 138-1234-5678",
            "0086 13812345678",
            "17400123456",
            "19912345678",
            "16612345678",
        ] {
            assert_eq!(ok.parse::<Phone>().map(|p| p.as_str().len()), Ok(11), "{ok}");
        }
        assert!(matches!(
            "8613812345678".parse::<Phone>(),
            Err(DomainError::Rule("rule-starts-with-bare-86"))
        ));
        for not_mobile in [
            "12012345678",
            "14012345678",
            "19412345678",
            "17406123456",
            "16012345678",
            "17412345678",
        ] {
            assert!(
                matches!(not_mobile.parse::<Phone>(), Err(DomainError::Rule(_))),
                "{not_mobile}"
            );
        }
        assert!(matches!("1381234567".parse::<Phone>(), Err(DomainError::Length { .. })));
        assert!(matches!(
            "１3812345678".parse::<Phone>(),
            Err(DomainError::BadCharacter(..))
        ));
        assert_eq!("13812345678".parse::<Phone>().unwrap().masked(), "138****5678");
    }

    fn make_resident_id(area: &str, birth: &str, seq: &str) -> String {
        let body = format!("{area}{birth}{seq}");
        format!("{body}{}", resident_id_check_char(body.as_bytes()))
    }

    #[test]
    fn resident_id_rules() {
        let good = make_resident_id("110105", "19491001", "002");
        assert!(ResidentId::parse_on(&good, today()).is_ok());
        let with_x = (0..1000)
            .map(|n| make_resident_id("440305", "19900101", &format!("{n:03}")))
            .find(|s| s.ends_with('X'))
            .unwrap();
        let lower = with_x.to_lowercase();
        assert_eq!(ResidentId::parse_on(&lower, today()).unwrap().expose_full(), with_x);
        // wrong check digit
        let mut bad = good.clone().into_bytes();
        bad[17] = if bad[17] == b'1' { b'2' } else { b'1' };
        assert!(matches!(
            ResidentId::parse_on(std::str::from_utf8(&bad).unwrap(), today()),
            Err(DomainError::CheckDigit(_))
        ));
        let cases = [
            (make_resident_id("110105", "19490230", "002"), "does not exist"),
            (make_resident_id("110105", "17991231", "002"), "outside"),
            (make_resident_id("110105", "20261123", "002"), "outside"),
            (make_resident_id("010105", "19491001", "002"), "area code"),
            ("110105491001002".to_string(), "15-digit"),
        ];
        for (id, why) in cases {
            let err = ResidentId::parse_on(&id, today()).unwrap_err().to_string();
            assert!(err.contains(why), "{id}: {err}");
        }
        assert!(ResidentId::parse_on(&make_resident_id("110105", "18000101", "002"), today()).is_ok());
        assert!(ResidentId::parse_on(&make_resident_id("110105", "20261122", "002"), today()).is_ok());
    }

    #[test]
    fn credit_code_rules() {
        // A published example code with a valid check character.
        assert!("91350100M000100Y43".parse::<CreditCode>().is_ok());
        assert!("91350100m000100y43".parse::<CreditCode>().is_ok());
        assert!(matches!(
            "91350100M000100Y44".parse::<CreditCode>(),
            Err(DomainError::CheckDigit(_))
        ));
        assert!(matches!(
            "9135010OM000100Y43".parse::<CreditCode>(),
            Err(DomainError::BadCharacter(..))
        ));
        assert!(matches!(
            "91A50100M000100Y43".parse::<CreditCode>(),
            Err(DomainError::Rule(_))
        ));
        assert!(matches!(
            "91350100M000100Y4".parse::<CreditCode>(),
            Err(DomainError::Length { .. })
        ));
    }

    #[test]
    fn fixed_codes() {
        assert_eq!("8221-0000-0000-001".parse::<Mid>().unwrap().as_str(), "822100000000001");
        assert!("82210000000001".parse::<Mid>().is_err());
        assert_eq!("ab12cd34".parse::<Tid>().unwrap().as_str(), "AB12CD34");
        assert!("AB12CD3".parse::<Tid>().is_err());
        assert!("AB12_D34".parse::<Tid>().is_err());
        assert!("102100099996".parse::<BranchCode>().is_ok());
        assert!("10210009999".parse::<BranchCode>().is_err());
    }

    #[test]
    fn holder_names() {
        assert_eq!("  张三 ".parse::<HolderName>().unwrap().as_str(), "张三");
        assert_eq!("Zhang  San".parse::<HolderName>().unwrap().as_str(), "Zhang San");
        assert!("阿卜杜拉·买买提".parse::<HolderName>().is_ok());
        assert!("José Núñez".parse::<HolderName>().is_ok());
        assert!(matches!(
            "张".parse::<HolderName>(),
            Err(DomainError::Length { got: 1, .. })
        ));
        assert!("张三3".parse::<HolderName>().is_err());
        assert!("张\u{200b}三".parse::<HolderName>().is_err());
        assert!("a".repeat(41).parse::<HolderName>().is_err());
    }

    #[test]
    fn mask_middle_shapes() {
        assert_eq!(mask_middle("6222020200112233446"), "622202*********3446");
        assert_eq!(mask_middle("12345678"), "12**5678");
        assert_eq!(mask_middle("123"), "***");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn luhn_completion_is_accepted_and_any_single_digit_change_is_refused(
            body in proptest::collection::vec(0u8..10, 15..=18), pos in any::<prop::sample::Index>(), delta in 1u8..10
        ) {
            let mut digits: Vec<u8> = body.iter().map(|d| b'0' + d).collect();
            let check = (0..10u8).find(|c| { let mut t = digits.clone(); t.push(b'0' + c); luhn_valid(std::str::from_utf8(&t).unwrap()) }).unwrap();
            digits.push(b'0' + check);
            let s = String::from_utf8(digits.clone()).unwrap();
            prop_assert!(s.parse::<Pan>().is_ok());
            let i = pos.index(digits.len());
            digits[i] = b'0' + (digits[i] - b'0' + delta) % 10;
            prop_assert!(s != std::str::from_utf8(&digits).unwrap());
            prop_assert_eq!(String::from_utf8(digits).unwrap().parse::<Pan>(), Err(DomainError::CheckDigit("check-luhn")));
        }

        #[test]
        fn resident_id_single_digit_change_is_refused(seq in 0u32..1000, pos in 0usize..17, delta in 1u8..10) {
            let id = make_resident_id("320102", "19800615", &format!("{seq:03}"));
            prop_assert!(ResidentId::parse_on(&id, today()).is_ok());
            let mut b = id.into_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            // Any change is refused: by the check digit, or earlier by the date or area rule.
            prop_assert!(ResidentId::parse_on(std::str::from_utf8(&b).unwrap(), today()).is_err());
        }

        #[test]
        fn credit_code_check_char_completes_and_detects_substitution(
            head in proptest::collection::vec(0usize..31, 2), area in proptest::collection::vec(0u8..10, 6),
            tail in proptest::collection::vec(0usize..31, 9), pos in 0usize..17, delta in 1usize..31
        ) {
            let mut body: Vec<u8> = head.iter().map(|i| CREDIT_CODE_ALPHABET[*i]).collect();
            body.extend(area.iter().map(|d| b'0' + d));
            body.extend(tail.iter().map(|i| CREDIT_CODE_ALPHABET[*i]));
            let check = credit_code_check_char(&body).unwrap();
            let code = format!("{}{check}", std::str::from_utf8(&body).unwrap());
            prop_assert!(code.parse::<CreditCode>().is_ok());
            let mut changed = body.clone();
            let idx = CREDIT_CODE_ALPHABET.iter().position(|a| *a == changed[pos]).unwrap();
            changed[pos] = CREDIT_CODE_ALPHABET[(idx + delta) % 31];
            let changed = format!("{}{check}", std::str::from_utf8(&changed).unwrap());
            prop_assert!(changed.parse::<CreditCode>().is_err());
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = s.parse::<Pan>();
            let _ = s.parse::<AccountNo>();
            let _ = s.parse::<Phone>();
            let _ = ResidentId::parse_on(&s, today());
            let _ = s.parse::<CreditCode>();
            let _ = s.parse::<HolderName>();
            let _ = s.parse::<Tid>();
        }
    }
}
