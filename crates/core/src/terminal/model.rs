//! What a terminal holds, and how it travels in TLV. Used by the agent and the simulator
//! alike; decoding validates every value with the domain types, so neither side trusts
//! what the other sends.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::{AccountNo, BranchCode, DeviceStatus, HolderName, Mid, Pan, Phone, Tid, plain_text};
use crate::link::proto::tag;
use crate::link::tlv::{Fields, TlvError, Writer};

/// A value that came off the wire but is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Tlv(#[from] TlvError),
    #[error("{}", crate::tr!("model-invalid-field", field = *.field, reason = .message.as_str()))]
    Invalid { field: &'static str, message: String },
}

fn invalid(field: &'static str, e: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid {
        field,
        message: e.to_string(),
    }
}

/// Who the terminal is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub vendor: String,
    pub model: String,
    pub serial: String,
    pub firmware: String,
}

impl Identity {
    pub fn encode(&self) -> Vec<u8> {
        Writer::new()
            .str(tag::VENDOR, &self.vendor)
            .str(tag::MODEL, &self.model)
            .str(tag::DEVICE_SERIAL, &self.serial)
            .str(tag::FIRMWARE, &self.firmware)
            .finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Identity, ModelError> {
        let f = Fields::parse(bytes)?;
        let text = |t, name| {
            f.need_text(t)
                .map_err(ModelError::from)
                .and_then(|s| plain_text(s, 64).map_err(|e| invalid(name, e)))
        };
        Ok(Identity {
            vendor: text(tag::VENDOR, "vendor")?,
            model: text(tag::MODEL, "model")?,
            serial: crate::order::parse_serial(f.need_text(tag::DEVICE_SERIAL)?).map_err(|e| invalid("serial", e))?,
            firmware: text(tag::FIRMWARE, "firmware")?,
        })
    }
}

/// The settlement card a terminal is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardBinding {
    pub pan: Pan,
    pub holder: HolderName,
    /// `MMYY`, as printed on the card.
    pub expiry: Option<String>,
}

/// A card's expiry as people read it: `MMYY` shown `MM/YY`; anything else as it is.
pub fn expiry_shown(mmyy: &str) -> String {
    match mmyy.as_bytes() {
        [m1, m2, y1, y2] if mmyy.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}{}/{}{}", *m1 as char, *m2 as char, *y1 as char, *y2 as char)
        }
        _ => mmyy.to_string(),
    }
}

/// The settlement account a terminal is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountBinding {
    pub number: AccountNo,
    pub holder: HolderName,
    pub bank: String,
    pub branch: BranchCode,
}

/// What ties a terminal to a merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    pub status: DeviceStatus,
    pub mid: Option<Mid>,
    pub tid: Option<Tid>,
    pub merchant_name: Option<String>,
    pub card: Option<CardBinding>,
    pub account: Option<AccountBinding>,
    pub phone: Option<Phone>,
}

impl Binding {
    /// The binding as the journal keeps it: numbers masked, as it serialises.
    pub fn masked(&self) -> crate::journal::MaskedBinding {
        let c = self.card.as_ref().map(|c| crate::journal::MaskedCard {
            pan: c.pan.to_string(),
            holder: c.holder.to_string(),
            expiry: c.expiry.clone(),
        });
        let a = self.account.as_ref().map(|a| crate::journal::MaskedAccount {
            number: a.number.to_string(),
            holder: a.holder.to_string(),
            bank: a.bank.clone(),
            branch: a.branch.to_string(),
        });
        crate::journal::MaskedBinding {
            status: self.status,
            mid: self.mid.as_ref().map(ToString::to_string),
            tid: self.tid.as_ref().map(ToString::to_string),
            merchant_name: self.merchant_name.clone(),
            card: c,
            account: a,
            phone: self.phone.as_ref().map(|p| p.masked()),
        }
    }

    /// An unbound, empty binding.
    pub fn unbound() -> Binding {
        Binding {
            status: DeviceStatus::Unbound,
            mid: None,
            tid: None,
            merchant_name: None,
            card: None,
            account: None,
            phone: None,
        }
    }

    /// The wire (and backup) form, with full numbers: only for the link and encrypted files.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(tag::DEVICE_STATUS, self.status.to_u8());
        if let Some(m) = &self.mid {
            w.str(tag::MERCHANT_ID, m.as_str());
        }
        if let Some(t) = &self.tid {
            w.str(tag::TERMINAL_ID, t.as_str());
        }
        if let Some(n) = &self.merchant_name {
            w.str(tag::MERCHANT_NAME, n);
        }
        if let Some(c) = &self.card {
            w.str(tag::CARD_NUMBER, c.pan.expose_full())
                .str(tag::HOLDER_NAME, c.holder.as_str());
            if let Some(e) = &c.expiry {
                w.str(tag::CARD_EXPIRY, e);
            }
        }
        if let Some(a) = &self.account {
            w.str(tag::ACCOUNT_NUMBER, a.number.expose_full())
                .str(tag::HOLDER_NAME, a.holder.as_str())
                .str(tag::BANK_NAME, &a.bank)
                .str(tag::BRANCH_CODE, a.branch.as_str());
        }
        if let Some(p) = &self.phone {
            w.str(tag::PHONE, p.as_str());
        }
        w.finish()
    }

    /// Parses and validates the wire form.
    pub fn decode(bytes: &[u8]) -> Result<Binding, ModelError> {
        let f = Fields::parse(bytes)?;
        let status = DeviceStatus::from_u8(f.need_u8(tag::DEVICE_STATUS)?)
            .ok_or_else(|| invalid("status", "unknown status byte"))?;
        let holder = || -> Result<HolderName, ModelError> {
            f.need_text(tag::HOLDER_NAME)?.parse().map_err(|e| invalid("holder", e))
        };
        let card = match f.text(tag::CARD_NUMBER)? {
            Some(pan) => Some(CardBinding {
                pan: pan.parse().map_err(|e| invalid("card", e))?,
                holder: holder()?,
                expiry: f.text(tag::CARD_EXPIRY)?.map(str::to_string),
            }),
            None => None,
        };
        let account = match f.text(tag::ACCOUNT_NUMBER)? {
            Some(n) => Some(AccountBinding {
                number: n.parse().map_err(|e| invalid("account", e))?,
                holder: holder()?,
                bank: plain_text(f.need_text(tag::BANK_NAME)?, 100).map_err(|e| invalid("bank", e))?,
                branch: f
                    .need_text(tag::BRANCH_CODE)?
                    .parse()
                    .map_err(|e| invalid("branch", e))?,
            }),
            None => None,
        };
        Ok(Binding {
            status,
            mid: f
                .text(tag::MERCHANT_ID)?
                .map(str::parse)
                .transpose()
                .map_err(|e| invalid("mid", e))?,
            tid: f
                .text(tag::TERMINAL_ID)?
                .map(str::parse)
                .transpose()
                .map_err(|e| invalid("tid", e))?,
            merchant_name: f
                .text(tag::MERCHANT_NAME)?
                .map(|s| plain_text(s, 100))
                .transpose()
                .map_err(|e| invalid("merchant_name", e))?,
            card,
            account,
            phone: f
                .text(tag::PHONE)?
                .map(str::parse)
                .transpose()
                .map_err(|e| invalid("phone", e))?,
        })
    }
}

/// One field that differs between two bindings, values masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub field: &'static str,
    pub from: String,
    pub to: String,
}

impl Difference {
    /// The field's name as a person reads it, in the current language.
    pub fn label(&self) -> String {
        match self.field {
            "status" => crate::tr!("diff-status"),
            "mid" => crate::tr!("diff-mid"),
            "tid" => crate::tr!("diff-tid"),
            "merchant_name" => crate::tr!("diff-merchant-name"),
            "card" => crate::tr!("diff-card"),
            "account" => crate::tr!("diff-account"),
            "phone" => crate::tr!("diff-phone"),
            "card/account" => crate::tr!("diff-card-or-account"),
            other => other.to_string(),
        }
    }

    /// The value before, as a person reads it (a status in words of the current language).
    pub fn shown_from(&self) -> String {
        self.shown(&self.from)
    }

    /// The value after, as a person reads it.
    pub fn shown_to(&self) -> String {
        self.shown(&self.to)
    }

    fn shown(&self, value: &str) -> String {
        match (self.field, value.parse::<DeviceStatus>()) {
            ("status", Ok(status)) => status.label(),
            _ => value.to_string(),
        }
    }
}

fn shown<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_string(), ToString::to_string)
}

impl Binding {
    /// Fields of `self` that differ in `other` (masked, for people).
    pub fn differences(&self, other: &Binding) -> Vec<Difference> {
        let card = |b: &Binding| {
            b.card.as_ref().map(|c| {
                format!(
                    "{} {} {}",
                    c.pan,
                    c.holder,
                    c.expiry.as_deref().map_or_else(String::new, expiry_shown)
                )
            })
        };
        let account = |b: &Binding| {
            b.account
                .as_ref()
                .map(|a| format!("{} {} {} {}", a.number, a.holder, a.bank, a.branch))
        };
        let rows = [
            ("status", self.status.to_string(), other.status.to_string()),
            ("mid", shown(&self.mid), shown(&other.mid)),
            ("tid", shown(&self.tid), shown(&other.tid)),
            ("merchant_name", shown(&self.merchant_name), shown(&other.merchant_name)),
            ("card", shown(&card(self)), shown(&card(other))),
            ("account", shown(&account(self)), shown(&account(other))),
            ("phone", shown(&self.phone), shown(&other.phone)),
        ];
        let mut out: Vec<Difference> = rows
            .into_iter()
            .filter(|(_, a, b)| a != b)
            .map(|(field, from, to)| Difference { field, from, to })
            .collect();
        // Masked forms can hide a difference in the middle digits; compare the real values.
        if out.is_empty() && self != other {
            out.push(Difference {
                field: "card/account",
                from: crate::tr!("value-masked"),
                to: crate::tr!("value-hidden-differs"),
            });
        }
        out
    }
}

/// A terminal's status summary.

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub status: DeviceStatus,
    pub transactions: u32,
    pub unsettled: u32,
    pub authenticated: bool,
    /// The terminal's change counter (docs/protocol.md §11), when it enforces authority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_counter: Option<u32>,
    /// When the current settlement card or account was bound, if the terminal says.
    pub settlement_since: Option<chrono::NaiveDate>,
    /// Optional fields the terminal sent malformed, left out with a warning (each names
    /// the field and why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

impl Status {
    /// Reads STATUS's answer. The required fields must be well formed; an optional one
    /// that is not (DF19 not a YYYYMMDD date) is left out, logged and listed in `ignored`,
    /// so that `inspect` still shows the terminal and a job that needs it says it is
    /// unknown.
    pub fn decode(rsp: &[u8]) -> Result<Status, ModelError> {
        let f = Fields::parse(rsp)?;
        let mut ignored = Vec::new();
        let settlement_since = match f.get(tag::SETTLEMENT_SINCE) {
            None => None,
            Some(raw) => {
                let date = std::str::from_utf8(raw)
                    .ok()
                    .filter(|d| d.len() == 8)
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y%m%d").ok());
                if date.is_none() {
                    let why = crate::tr!("status-ignored-since", value = hex::encode(raw));
                    tracing::warn!("{why}");
                    ignored.push(why);
                }
                date
            }
        };
        Ok(Status {
            status: DeviceStatus::from_u8(f.need_u8(tag::DEVICE_STATUS)?).ok_or(ModelError::Invalid {
                field: "status",
                message: "unknown status byte".into(),
            })?,
            transactions: f.need_u32(tag::TRANSACTION_COUNT)?,
            unsettled: f.need_u32(tag::UNSETTLED_COUNT)?,
            authenticated: f.need_u8(tag::AUTHENTICATED)? != 0,
            change_counter: f.need_array::<4>(tag::CHANGE_COUNTER).ok().map(u32::from_be_bytes),
            settlement_since,
            ignored,
        })
    }
}

/// One transaction in a terminal's log (card numbers masked, as terminals keep them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRecord {
    pub seq: u32,
    /// `YYMMDD`.
    pub date: String,
    /// `HHMMSS`.
    pub time: String,
    pub amount_fen: u64,
    /// ISO 4217 numeric (156 = CNY).
    pub currency: u16,
    /// EMV transaction type (00 sale, 20 refund).
    pub kind: u8,
    pub masked_pan: String,
    pub settled: bool,
    pub batch: u32,
    pub auth_code: String,
    /// Retrieval reference number; unique per transaction.
    pub rrn: String,
}

/// An amount in fen as `9F02` carries it everywhere: 6 bytes of BCD, 12 digits (EMV n12).
pub fn amount_bcd(fen: u64) -> Vec<u8> {
    with_number_bcd(fen, 12, <[u8]>::to_vec)
}

/// The amount in fen from a `9F02` value (6 bytes of BCD).
pub fn amount_from_bcd(value: &[u8]) -> Result<u64, ModelError> {
    if value.len() != 6 {
        return Err(invalid("amount", "9F02 must be 6 bytes of BCD"));
    }
    let mut fen = 0u64;
    each_bcd_digit(value, "amount", |d| fen = fen * 10 + u64::from(d))?;
    Ok(fen)
}

/// Hands `f` the digits `digits` packed two to a byte, a `0` put before an odd count. Every
/// record a log is encoded from goes through here four times: up to 40 digits are packed
/// on the stack.
fn with_bcd<R>(digits: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let pad = digits.len() % 2;
    let n = digits.len().div_ceil(2);
    let mut stack = [0u8; 20];
    let mut heap = Vec::new();
    let out: &mut [u8] = if n <= stack.len() {
        &mut stack[..n]
    } else {
        heap.resize(n, 0);
        &mut heap
    };
    for (i, d) in digits.iter().enumerate() {
        let (at, nibble) = ((i + pad) / 2, d.wrapping_sub(b'0'));
        if (i + pad).is_multiple_of(2) {
            out[at] = nibble << 4;
        } else {
            out[at] |= nibble;
        }
    }
    f(out)
}

/// [`with_bcd`] of `value` in decimal, with leading zeros to `width` digits (at most 20).
fn with_number_bcd<R>(value: u64, width: usize, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    let mut rest = value;
    while rest > 0 {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    with_bcd(&digits[start.min(digits.len() - width.min(digits.len()))..], f)
}

/// Puts in `out` (emptied first) the digits `bytes` hold two to a byte.
fn bcd_into(out: &mut String, bytes: &[u8], field: &'static str) -> Result<(), ModelError> {
    out.clear();
    each_bcd_digit(bytes, field, |d| out.push(char::from(b'0' + d)))
}

/// Hands `each` the digits `bytes` hold two to a byte, in order; a nibble over 9 is an
/// error naming `field`.
fn each_bcd_digit(bytes: &[u8], field: &'static str, mut each: impl FnMut(u8)) -> Result<(), ModelError> {
    for b in bytes {
        for nibble in [b >> 4, b & 0x0F] {
            if nibble > 9 {
                return Err(invalid(field, "not BCD"));
            }
            each(nibble);
        }
    }
    Ok(())
}

impl TxnRecord {
    /// Appends this record as one constructed `E1` item.
    pub fn encode_into(&self, out: &mut Writer) {
        out.nested(tag::RECORD, |w| {
            w.u32(tag::TRANSACTION_SEQ, self.seq);
            with_bcd(self.date.as_bytes(), |v| w.bytes(tag::TRANSACTION_DATE, v));
            with_bcd(self.time.as_bytes(), |v| w.bytes(tag::TRANSACTION_TIME, v));
            with_number_bcd(self.amount_fen, 12, |v| w.bytes(tag::AMOUNT_AUTHORISED, v));
            with_number_bcd(self.currency.into(), 4, |v| w.bytes(tag::CURRENCY_CODE, v));
            w.u8(tag::TRANSACTION_TYPE, self.kind)
                .str(tag::MASKED_PAN, &self.masked_pan)
                .u8(tag::SETTLED, u8::from(self.settled))
                .u32(tag::BATCH_NO, self.batch)
                .str(tag::AUTH_CODE, &self.auth_code)
                .str(tag::RRN, &self.rrn);
        });
    }

    /// Parses one record's `E1` value.
    pub fn decode(value: &[u8]) -> Result<TxnRecord, ModelError> {
        let mut record = TxnRecord::default();
        record.read(&Fields::parse(value)?)?;
        Ok(record)
    }

    /// Becomes the record `f` holds (one record's fields), its text written in the room it
    /// has: a log's thousands of records are decoded one after the other through one.
    fn read(&mut self, f: &Fields<'_>) -> Result<(), ModelError> {
        let masked_pan = f.need_text(tag::MASKED_PAN)?;
        if masked_pan.bytes().filter(u8::is_ascii_digit).count() > 10 {
            return Err(invalid(
                "masked_pan",
                "holds more than 10 digits; terminals keep card numbers masked",
            ));
        }
        let text = |out: &mut String, t| -> Result<(), ModelError> {
            out.clear();
            out.push_str(f.need_text(t)?);
            Ok(())
        };
        self.seq = f.need_u32(tag::TRANSACTION_SEQ)?;
        bcd_into(&mut self.date, f.need(tag::TRANSACTION_DATE)?, "date")?;
        bcd_into(&mut self.time, f.need(tag::TRANSACTION_TIME)?, "time")?;
        self.amount_fen = amount_from_bcd(f.need(tag::AMOUNT_AUTHORISED)?)?;
        self.currency = currency_from_bcd(f.need(tag::CURRENCY_CODE)?)?;
        self.kind = f.need_u8(tag::TRANSACTION_TYPE)?;
        text(&mut self.masked_pan, tag::MASKED_PAN)?;
        self.settled = f.need_u8(tag::SETTLED)? != 0;
        self.batch = f.need_u32(tag::BATCH_NO)?;
        text(&mut self.auth_code, tag::AUTH_CODE)?;
        text(&mut self.rrn, tag::RRN)
    }
}

/// The currency from a `5F2A` value: BCD digits, at least one, of a number that fits 16 bits.
fn currency_from_bcd(value: &[u8]) -> Result<u16, ModelError> {
    if value.is_empty() {
        return Err(invalid("currency", "5F2A holds no digits"));
    }
    let mut code = 0u32;
    each_bcd_digit(value, "currency", |d| {
        code = code.saturating_mul(10).saturating_add(u32::from(d))
    })?;
    u16::try_from(code).map_err(|_| invalid("currency", "5F2A holds a number over 65535"))
}

/// Encodes a transaction log object.
pub fn encode_log(records: &[TxnRecord]) -> Vec<u8> {
    let mut w = Writer::new();
    for r in records {
        r.encode_into(&mut w);
    }
    w.finish()
}

/// How many records an object's bytes hold (top-level `E1` records of a log, `E2`
/// parameters), to compare with the count the terminal announced.
pub fn count_records(object: crate::link::proto::Object, bytes: &[u8]) -> Result<u32, ModelError> {
    let record_tag = match object {
        crate::link::proto::Object::TransactionLog => tag::RECORD,
        crate::link::proto::Object::Parameters => tag::PARAM,
    };
    Ok(Fields::parse(bytes)?.all(record_tag).count() as u32)
}

/// Decodes a transaction log object.
pub fn decode_log(bytes: &[u8]) -> Result<Vec<TxnRecord>, ModelError> {
    Fields::parse(bytes)?.all(tag::RECORD).map(TxnRecord::decode).collect()
}

/// Hands `each` every record of a transaction log object in turn, decoded, without holding
/// them all (each is decoded in the room of the one before); returns how many there were.
pub fn for_each_record<E: From<ModelError>>(
    bytes: &[u8],
    mut each: impl FnMut(&TxnRecord) -> Result<(), E>,
) -> Result<u32, E> {
    let fields = Fields::parse(bytes).map_err(ModelError::from)?;
    let (mut parts, mut record) = (Fields::default(), TxnRecord::default());
    let mut n = 0;
    for value in fields.all(tag::RECORD) {
        parts.reparse(value).map_err(ModelError::from)?;
        record.read(&parts)?;
        each(&record)?;
        n += 1;
    }
    Ok(n)
}

/// A terminal's parameters, in the terminal's own order; names are unique.
pub type Params = indexmap::IndexMap<String, String>;

/// Encodes a parameters object: `E2 { DF70 name, DF71 value }` per parameter, in order.
pub fn encode_params(params: &Params) -> Vec<u8> {
    let mut w = Writer::new();
    for (k, v) in params {
        w.nested(tag::PARAM, |p| {
            p.str(tag::PARAM_NAME, k).str(tag::PARAM_VALUE, v);
        });
    }
    w.finish()
}

/// Decodes a parameters object, keeping the terminal's order; a name that appears twice is
/// refused (one of the two values would otherwise be lost without a word).
pub fn decode_params(bytes: &[u8]) -> Result<Params, ModelError> {
    let mut params = Params::new();
    for v in Fields::parse(bytes)?.all(tag::PARAM) {
        let f = Fields::parse(v)?;
        let name = f.need_text(tag::PARAM_NAME)?.to_string();
        let value = f.need_text(tag::PARAM_VALUE)?.to_string();
        if params.insert(name.clone(), value).is_some() {
            return Err(invalid("parameters", format!("the name {name} appears twice")));
        }
    }
    Ok(params)
}

type HmacSha256 = Hmac<Sha256>;

/// The per-terminal key both sides derive from the operator secret; the secret itself
/// never crosses the wire.
pub fn derive_key(secret: &[u8], serial: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"posagent/operator-key/v1\0");
    mac.update(serial.as_bytes());
    mac.finalize().into_bytes().into()
}

fn proof(key: &[u8; 32], role: &[u8], first: &[u8], second: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(role);
    mac.update(first);
    mac.update(second);
    mac
}

/// The agent's proof: HMAC(key, "agent" | terminal nonce | agent nonce).
pub fn agent_proof(key: &[u8; 32], nonce_t: &[u8], nonce_a: &[u8]) -> [u8; 32] {
    proof(key, b"agent", nonce_t, nonce_a).finalize().into_bytes().into()
}

/// The terminal's proof: HMAC(key, "terminal" | agent nonce | terminal nonce).
pub fn terminal_proof(key: &[u8; 32], nonce_a: &[u8], nonce_t: &[u8]) -> [u8; 32] {
    proof(key, b"terminal", nonce_a, nonce_t).finalize().into_bytes().into()
}

/// Constant-time check of an agent proof.
pub fn verify_agent_proof(key: &[u8; 32], nonce_t: &[u8], nonce_a: &[u8], mac: &[u8]) -> bool {
    proof(key, b"agent", nonce_t, nonce_a).verify_slice(mac).is_ok()
}

/// Constant-time check of a terminal proof.
pub fn verify_terminal_proof(key: &[u8; 32], nonce_a: &[u8], nonce_t: &[u8], mac: &[u8]) -> bool {
    proof(key, b"terminal", nonce_a, nonce_t).verify_slice(mac).is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn status_answer(since: Option<&[u8]>) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(tag::DEVICE_STATUS, DeviceStatus::Bound.to_u8())
            .u32(tag::TRANSACTION_COUNT, 3)
            .u32(tag::UNSETTLED_COUNT, 1)
            .u8(tag::AUTHENTICATED, 1);
        if let Some(d) = since {
            w.bytes(tag::SETTLEMENT_SINCE, d);
        }
        w.finish()
    }

    /// A card's expiry reads `MM/YY` wherever a person sees it (it was shown `1230`).
    #[test]
    fn a_cards_expiry_is_shown_month_slash_year() {
        assert_eq!(expiry_shown("1230"), "12/30");
        assert_eq!(expiry_shown("0939"), "09/39");
        assert_eq!(expiry_shown("12/30"), "12/30");
        assert_eq!(expiry_shown("12A0"), "12A0");
        let mut before = Binding::unbound();
        before.card = Some(CardBinding {
            pan: "6222020200112233446".parse().unwrap(),
            holder: "张三".parse().unwrap(),
            expiry: Some("1230".into()),
        });
        let mut after = before.clone();
        after.card.as_mut().unwrap().expiry = Some("0939".into());
        let d = before.differences(&after);
        assert!(d[0].from.ends_with("12/30") && d[0].to.ends_with("09/39"), "{d:?}");
    }

    #[test]
    fn a_malformed_settlement_date_is_ignored_with_a_warning_not_a_failure() {
        let good = Status::decode(&status_answer(Some(b"20250101"))).unwrap();
        assert_eq!(good.settlement_since, chrono::NaiveDate::from_ymd_opt(2025, 1, 1));
        assert!(good.ignored.is_empty());
        assert_eq!(Status::decode(&status_answer(None)).unwrap().settlement_since, None);
        for bad in [&b"2025-01-01"[..], b"20251341", b"\xff\xfe", b"", b"2025010"] {
            let s = Status::decode(&status_answer(Some(bad))).unwrap();
            assert_eq!(s.settlement_since, None, "{bad:?}");
            assert_eq!(s.transactions, 3);
            assert!(s.ignored.len() == 1 && s.ignored[0].contains("DF19"), "{:?}", s.ignored);
        }
    }

    pub(crate) fn sample_binding() -> Binding {
        Binding {
            status: DeviceStatus::Bound,
            mid: Some("822100000000001".parse().unwrap()),
            tid: Some("AB12CD34".parse().unwrap()),
            merchant_name: Some("开心面馆".into()),
            card: Some(CardBinding {
                pan: "6222020200112233446".parse().unwrap(),
                holder: "张三".parse().unwrap(),
                expiry: Some("0939".into()),
            }),
            account: None,
            phone: Some("13812345678".parse().unwrap()),
        }
    }

    #[test]
    fn parameters_keep_the_terminals_order_and_a_repeated_name_is_refused() {
        let params: Params = [("z.last", "1"), ("a.first", "2"), ("m.mid", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let back = decode_params(&encode_params(&params)).unwrap();
        assert_eq!(back.keys().collect::<Vec<_>>(), ["z.last", "a.first", "m.mid"]);
        let json = serde_json::to_string(&back).unwrap();
        assert_eq!(json, r#"{"z.last":"1","a.first":"2","m.mid":"3"}"#);
        let mut twice = encode_params(&params);
        twice.extend(encode_params(&params));
        let e = decode_params(&twice).unwrap_err().to_string();
        assert!(e.contains("z.last appears twice"), "{e}");
    }

    #[test]
    fn digits_pack_as_their_formatted_text_would() {
        // The packing as it was written first: text formatted, a 0 put before an odd count.
        fn by_text(digits: &str) -> Vec<u8> {
            let padded = if digits.len() % 2 == 1 {
                format!("0{digits}")
            } else {
                digits.to_string()
            };
            padded
                .as_bytes()
                .chunks(2)
                .map(|p| ((p[0] - b'0') << 4) | (p[1] - b'0'))
                .collect()
        }
        for digits in ["", "7", "260101", "12345", "0000", &"9".repeat(41)] {
            assert_eq!(with_bcd(digits.as_bytes(), <[u8]>::to_vec), by_text(digits), "{digits}");
        }
        for (value, width) in [
            (0, 12),
            (1, 12),
            (156, 4),
            (123_456_789_012, 12),
            (u64::MAX, 12),
            (12_345, 4),
        ] {
            let text = format!("{value:0width$}");
            assert_eq!(with_number_bcd(value, width, <[u8]>::to_vec), by_text(&text), "{text}");
        }
    }

    #[test]
    fn amounts_are_six_bytes_of_bcd() {
        assert_eq!(amount_bcd(1), [0, 0, 0, 0, 0, 1]);
        assert_eq!(amount_from_bcd(&amount_bcd(123_456_789_012)).unwrap(), 123_456_789_012);
        assert!(amount_from_bcd(&[0, 0, 0, 1]).is_err(), "4 bytes is not the encoding");
        assert!(
            amount_from_bcd(&[0, 0, 0, 0, 0, 0x1A]).is_err(),
            "a nibble over 9 is not BCD"
        );
    }

    #[test]
    fn binding_round_trips_and_serialises_masked() {
        let b = sample_binding();
        assert_eq!(Binding::decode(&b.encode()).unwrap(), b);
        let json = serde_json::to_string(&b).unwrap();
        assert!(!json.contains("6222020200112233446") && json.contains("622202*********3446"));
    }

    #[test]
    fn a_binding_with_a_bad_card_is_refused() {
        let bytes = Writer::new()
            .u8(tag::DEVICE_STATUS, 1)
            .str(tag::CARD_NUMBER, "6222020200112233445")
            .str(tag::HOLDER_NAME, "张三")
            .finish();
        assert!(matches!(
            Binding::decode(&bytes),
            Err(ModelError::Invalid { field: "card", .. })
        ));
    }

    #[test]
    fn records_round_trip_and_full_pans_are_refused() {
        let r = TxnRecord {
            seq: 7,
            date: "261122".into(),
            time: "101500".into(),
            amount_fen: 12345,
            currency: 156,
            kind: 0,
            masked_pan: "622202******3446".into(),
            settled: false,
            batch: 3,
            auth_code: "A1B2C3".into(),
            rrn: "000000000007".into(),
        };
        let log = encode_log(std::slice::from_ref(&r));
        assert_eq!(decode_log(&log).unwrap(), vec![r.clone()]);
        let leaky = TxnRecord {
            masked_pan: "6222020200112233446".into(),
            ..r
        };
        assert!(decode_log(&encode_log(&[leaky])).is_err());
    }

    #[test]
    fn records_decoded_one_after_another_keep_nothing_of_the_one_before() {
        let long = TxnRecord {
            seq: 1,
            date: "261122".into(),
            time: "235959".into(),
            amount_fen: 999_999_999_999,
            currency: 840,
            kind: 20,
            masked_pan: "622202******3446".into(),
            settled: true,
            batch: 9,
            auth_code: "ABCDEF".into(),
            rrn: "123456789012".into(),
        };
        let short = TxnRecord {
            seq: 2,
            date: "010101".into(),
            time: "000000".into(),
            amount_fen: 0,
            currency: 156,
            kind: 0,
            masked_pan: "6222".into(),
            settled: false,
            batch: 0,
            auth_code: String::new(),
            rrn: "7".into(),
        };
        let log = encode_log(&[long.clone(), short.clone(), long.clone()]);
        let mut seen = Vec::new();
        let n = for_each_record(&log, |r| {
            seen.push(r.clone());
            Ok::<_, ModelError>(())
        })
        .unwrap();
        assert_eq!((n, seen), (3, vec![long.clone(), short, long]));
    }

    #[test]
    fn a_currency_with_no_digits_or_over_16_bits_is_refused() {
        let log_with = |currency: &[u8]| {
            let mut w = Writer::new();
            w.nested(tag::RECORD, |w| {
                w.u32(tag::TRANSACTION_SEQ, 1)
                    .bytes(tag::TRANSACTION_DATE, &[0x26, 0x11, 0x22])
                    .bytes(tag::TRANSACTION_TIME, &[0x10, 0x15, 0x00])
                    .bytes(tag::AMOUNT_AUTHORISED, &amount_bcd(1))
                    .bytes(tag::CURRENCY_CODE, currency)
                    .u8(tag::TRANSACTION_TYPE, 0)
                    .str(tag::MASKED_PAN, "622202******3446")
                    .u8(tag::SETTLED, 0)
                    .u32(tag::BATCH_NO, 1)
                    .str(tag::AUTH_CODE, "A1")
                    .str(tag::RRN, "1");
            });
            w.finish()
        };
        assert_eq!(decode_log(&log_with(&[0x01, 0x56])).unwrap()[0].currency, 156);
        assert_eq!(decode_log(&log_with(&[0x06, 0x55, 0x35])).unwrap()[0].currency, 65535);
        for bad in [&[][..], &[0x06, 0x55, 0x36], &[0x99, 0x99, 0x99, 0x99, 0x99, 0x99]] {
            let err = decode_log(&log_with(bad)).unwrap_err().to_string();
            assert!(err.contains("currency"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn proofs_verify_only_with_the_same_key() {
        let k = derive_key(b"secret", "SN-1");
        let other = derive_key(b"secret", "SN-2");
        let (na, nt) = ([1u8; 32], [2u8; 32]);
        let m = agent_proof(&k, &nt, &na);
        assert!(verify_agent_proof(&k, &nt, &na, &m));
        assert!(!verify_agent_proof(&other, &nt, &na, &m));
        assert!(
            !verify_terminal_proof(&k, &na, &nt, &m),
            "roles are not interchangeable"
        );
    }
}
