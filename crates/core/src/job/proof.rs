//! `verify_phone`: what proves a phone number before anything changes. A phone change
//! proves the new number (a one-time code sent to it, or documents seen at a counter); a
//! card change under a profile with `confirm_by_sms` proves the merchant holds the phone
//! bound now. A code is asked of the provider, read from the technician, handed back and
//! forgotten: only the provider's confirmation id is kept.

use zeroize::Zeroizing;

use super::change::Change;
use super::{CodeAnswer, Event, JobError, Step};
use crate::domain::Phone;
use crate::journal::{PhoneProof, ProofPath, StepRecord};
use crate::order::{Operation, PhonePath};
use crate::store::codes::{CodeLimit, PER_NUMBER, PER_ORDER};
use crate::sync::api::{CodePurpose, CodeRequest};
use crate::sync::codes::{CodeError, CodeService};

/// Why no phone proof came of a code: the technician stopped, or the provider said no.
enum Proven {
    Stop,
    Failed(CodeError),
}

impl From<CodeError> for Proven {
    fn from(e: CodeError) -> Proven {
        Proven::Failed(e)
    }
}

/// What the technician is asked for a code.
#[derive(Debug, Clone)]
pub struct CodeAsk {
    /// Where the code went, masked.
    pub phone: String,
    pub purpose: CodePurpose,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub attempts_left: u32,
    /// The code given before was wrong.
    pub again: bool,
}

/// A one-time code as the technician typed it.
pub type Code = Zeroizing<String>;

fn refused(code: &'static str, reason: String) -> JobError {
    JobError::Refused {
        step: Step::VerifyPhone.name(),
        code,
        reason,
    }
}

/// The signed order's names for an attestation of `purpose`: when, and which number.
fn attestation_keys(purpose: CodePurpose) -> (&'static str, &'static str) {
    match purpose {
        CodePurpose::PhoneChange => ("phone_verified_at", "phone_verified_number"),
        CodePurpose::CardChange => ("card_change_confirmed_at", "card_change_confirmed_number"),
    }
}

impl Change<'_> {
    pub(super) fn verify_phone(&mut self) -> Result<StepRecord, JobError> {
        let (purpose, phone) = match self.order.operation {
            Operation::RebindPhone => (CodePurpose::PhoneChange, self.order.new.phone.clone()),
            _ => (CodePurpose::CardChange, self.original()?.phone),
        };
        let Some(phone) = phone else {
            return Err(refused("no_phone_bound", crate::tr!("refused-no-phone-bound")));
        };
        if purpose == CodePurpose::PhoneChange && self.order.new.phone_path == Some(PhonePath::Counter) {
            return self.at_counter();
        }
        if let Some(proof) = self.attested(purpose, &phone)? {
            return Ok(StepRecord::Phone(proof));
        }
        if self.c.dry_run {
            // A dry run sends nothing: a code would reach the merchant for nothing.
            return Ok(StepRecord::Phone(PhoneProof::NotSent {
                path: ProofPath::Sms,
                phone: phone.masked(),
                code_sent: false,
            }));
        }
        let offline = |detail: String| {
            let (phone, detail) = (phone.masked(), detail.as_str());
            let reason = match purpose {
                CodePurpose::PhoneChange => crate::tr!("refused-phone-offline", phone = phone, detail = detail),
                CodePurpose::CardChange => crate::tr!("refused-card-sms-offline", phone = phone, detail = detail),
            };
            refused("provider_unreachable", reason)
        };
        let Some(mut codes) = self.codes.connect() else {
            return Err(offline(crate::tr!("code-no-provider")));
        };
        if !self.c.observer.can_ask_codes() {
            // No code could be read here: say so, without having one sent for nothing.
            return Err(match codes.reachable() {
                Err(CodeError::Offline(e)) => offline(e.to_string()),
                _ => refused(
                    "code_needs_technician",
                    crate::tr!("refused-code-needs-technician", order = self.order.id.as_str()),
                ),
            });
        }
        self.within_code_limits(&phone)?;
        self.with_code(codes.as_mut(), purpose, &phone).map_err(|e| match e {
            Proven::Stop => JobError::StopRequested,
            Proven::Failed(e @ CodeError::Refused { .. }) if e.is_limit() => refused("code_limit", e.to_string()),
            Proven::Failed(CodeError::Offline(e)) => offline(e.to_string()),
            Proven::Failed(e @ (CodeError::Wrong { .. } | CodeError::Exhausted)) => {
                refused("code_wrong", e.to_string())
            }
            Proven::Failed(e @ CodeError::Expired) => refused("code_expired", e.to_string()),
            Proven::Failed(e @ CodeError::Refused { .. }) => refused("code_refused", e.to_string()),
        })
    }

    /// Takes one code of the limits for this order and `phone` (store/codes.rs), or
    /// refuses, saying when a code may be sent again: nothing is sent.
    fn within_code_limits(&mut self, phone: &Phone) -> Result<(), JobError> {
        let number = self.c.keys.phone_id(phone.as_str());
        let taken = self
            .c
            .store
            .take_code_send(self.order.id.as_str(), &number, chrono::Utc::now())?;
        let local = |at: chrono::DateTime<chrono::Utc>| crate::store::local_time(&crate::store::timestamp(at));
        match taken {
            Ok(()) => Ok(()),
            Err(CodeLimit::Order { again_at }) => Err(refused(
                "code_limit",
                crate::tr!(
                    "refused-code-limit-order",
                    order = self.order.id.as_str(),
                    limit = PER_ORDER,
                    at = local(again_at)
                ),
            )),
            Err(CodeLimit::Number { again_at }) => Err(refused(
                "code_limit",
                crate::tr!(
                    "refused-code-limit-number",
                    phone = phone.masked(),
                    limit = PER_NUMBER,
                    at = local(again_at)
                ),
            )),
        }
    }

    /// Sends a code to `phone` and asks for it until the provider confirms it, refuses it
    /// for good, or no code is given.
    fn with_code(
        &mut self,
        codes: &mut dyn CodeService,
        purpose: CodePurpose,
        phone: &Phone,
    ) -> Result<StepRecord, Proven> {
        let sent = codes.send(&CodeRequest {
            phone: phone.as_str().to_string(),
            purpose,
            order_id: self.order.id.clone(),
            job_id: self.c.job.id.clone(),
            merchant_mid: self.order.merchant.mid.to_string(),
            terminal: self.c.job.terminal_serial.clone(),
        })?;
        tracing::info!(job = %self.c.job.id, verification = %sent.id, "one-time code sent");
        let expires_at = chrono::DateTime::parse_from_rfc3339(&sent.expires_at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|_| chrono::Utc::now() + chrono::Duration::minutes(5));
        let mut ask = CodeAsk {
            phone: phone.masked(),
            purpose,
            expires_at,
            attempts_left: sent.attempts,
            again: false,
        };
        loop {
            self.c.observer.event(&Event::Code { ask: &ask });
            let code = match self.c.observer.one_time_code(&ask) {
                CodeAnswer::Code(code) => code,
                CodeAnswer::Stop => return Err(Proven::Stop),
                CodeAnswer::None if chrono::Utc::now() >= ask.expires_at => return Err(CodeError::Expired.into()),
                CodeAnswer::None => {
                    return Err(CodeError::Refused {
                        code: "no_code".into(),
                        message: crate::tr!("code-none-given"),
                    }
                    .into());
                }
            };
            match codes.confirm(&sent.id, code.trim()) {
                Ok(c) => {
                    return Ok(StepRecord::Phone(PhoneProof::Confirmed {
                        path: ProofPath::Sms,
                        phone: phone.masked(),
                        verification_id: sent.id,
                        confirmation_id: c.confirmation_id,
                        confirmed_at: c.confirmed_at,
                    }));
                }
                Err(CodeError::Wrong { attempts_left }) if attempts_left > 0 => {
                    ask.attempts_left = attempts_left;
                    ask.again = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The provider's own attestation, signed with the order, that the merchant proved
    /// `phone` before the visit: accepted offline.
    fn attested(&self, purpose: CodePurpose, phone: &Phone) -> Result<Option<PhoneProof>, JobError> {
        let (at_key, number_key) = attestation_keys(purpose);
        let Some(checks) = self.signed.as_ref().map(|s| &s.checks) else {
            return Ok(None);
        };
        let Some(at) = checks.get(at_key) else {
            return Ok(None);
        };
        let when = chrono::DateTime::parse_from_rfc3339(at)
            .ok()
            .filter(|t| *t <= chrono::Utc::now() + crate::signed::CLOCK_SKEW)
            .ok_or_else(|| {
                refused(
                    "provider_check_invalid",
                    crate::tr!("refused-attestation-invalid", check = at_key, value = at.as_str()),
                )
            })?;
        // The number as a phone number, however it is written (`+86…`, `0086…` or national).
        let number = checks.get(number_key).and_then(|n| n.parse::<Phone>().ok());
        if number.as_ref() != Some(phone) {
            let shown = number.map_or_else(|| crate::tr!("value-nothing"), |p| p.masked());
            return Err(refused(
                "attestation_other_number",
                crate::tr!(
                    "refused-attestation-number",
                    check = number_key,
                    attested = shown,
                    phone = phone.masked()
                ),
            ));
        }
        Ok(Some(PhoneProof::Attested {
            path: ProofPath::Sms,
            phone: phone.masked(),
            attested_at: when.to_rfc3339(),
            attested_by: "provider, signed with the order".into(),
        }))
    }

    /// The counter path: the order carries the documents (checked when it was read), and
    /// the technician says they saw the originals.
    fn at_counter(&mut self) -> Result<StepRecord, JobError> {
        let documents = self
            .profile
            .operations
            .get(&self.order.operation)
            .map(|r| r.counter_documents(self.order.agent.is_some()))
            .unwrap_or_default();
        if !self.options.documents_checked && !self.c.dry_run {
            return Err(refused(
                "documents_not_checked",
                crate::tr!("refused-originals-not-seen", documents = documents.join(", ")),
            ));
        }
        if !self.options.documents_checked {
            // A dry run may come before the documents are seen; it says they are not yet.
            return Ok(StepRecord::Phone(PhoneProof::Counter {
                path: ProofPath::Counter,
                documents,
                documents_checked_by: None,
                documents_checked: Some(false),
            }));
        }
        Ok(StepRecord::Phone(PhoneProof::Counter {
            path: ProofPath::Counter,
            documents,
            documents_checked_by: Some(self.c.job.technician.clone()),
            documents_checked: None,
        }))
    }
}

/// A file a script writes one-time codes into (`--sms-code-file`): waited for, read once
/// and removed, so no code stays on disk.
#[derive(Debug, Clone)]
pub struct CodeFile {
    pub path: std::path::PathBuf,
    /// When the file was last written before this job could have sent a code (`None`: it
    /// did not exist): a file not written since holds no code of this job's.
    stale: Option<std::time::SystemTime>,
}

/// How often a code file is looked at while waiting for it.
const CODE_FILE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

impl CodeFile {
    /// Watches `path`, which is looked at now: whatever it holds already is stale. The
    /// job's code is the one written after this moment, however soon after the code was
    /// sent that happens.
    pub fn new(path: std::path::PathBuf) -> CodeFile {
        let stale = modified(&path);
        CodeFile { path, stale }
    }

    /// Waits until the file is written again (until `until`, or until `stop` says so),
    /// then reads and removes it; `Ok(None)` when no code came.
    pub fn wait(
        &mut self,
        until: chrono::DateTime<chrono::Utc>,
        stop: impl Fn() -> bool,
    ) -> Result<Option<Code>, crate::input::InputError> {
        let code = self.poll(until, stop);
        // Whatever came of it, the next code is whatever is written next.
        self.stale = None;
        code
    }

    fn poll(
        &self,
        until: chrono::DateTime<chrono::Utc>,
        stop: impl Fn() -> bool,
    ) -> Result<Option<Code>, crate::input::InputError> {
        while chrono::Utc::now() < until && !stop() {
            let now = modified(&self.path);
            if now.is_some() && now != self.stale {
                // A code is a few digits; anything larger is not one.
                let bytes = Zeroizing::new(crate::input::read_regular(
                    &self.path,
                    crate::input::MAX_SECRET_FILE,
                    &crate::tr!("what-code-file"),
                )?);
                if !bytes.iter().all(u8::is_ascii_whitespace) {
                    let _ = std::fs::remove_file(&self.path);
                    return Ok(Some(Code::new(String::from_utf8_lossy(&bytes).trim().to_string())));
                }
            }
            std::thread::sleep(CODE_FILE_POLL);
        }
        Ok(None)
    }
}

/// When `file` was last written; `None` when it does not exist.
fn modified(file: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}
