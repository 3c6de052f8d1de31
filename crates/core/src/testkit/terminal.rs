//! The simulated terminal's behaviour: its memory and how it answers each command.
//!
//! It trusts nothing the agent sends: every value is parsed and validated, changes need an
//! authenticated session, offsets and sizes are bounded, and wrong secrets lead to lockout.
//! State persists in a JSON file after every change, so killing and restarting the
//! simulator is a power cycle.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use ring::signature::KeyPair;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::faults::{FaultSpec, Lie};
use crate::authority::{self, Authorisation, Operation as AuthOp, Statement};
use crate::domain::{DeviceStatus, luhn_valid};
use crate::link::bulk::{BulkEnd, MAX_OBJECT_LEN};
use crate::link::encoding;
use crate::link::frame::{Frame, Kind};
use crate::link::port::Port;
use crate::link::proto::{self, Object, cmd, result, tag};
use crate::link::tlv::{Fields, Writer};
use crate::link::{Link, LinkError, Received};
use crate::terminal::model::{self, AccountBinding, Binding, CardBinding, Identity, TxnRecord};

/// Everything a terminal remembers across power cycles.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TerminalState {
    pub identity: Identity,
    /// The binding in its wire form (validated when it was written).
    pub binding: Vec<u8>,
    pub params: model::Params,
    pub transactions: Vec<TxnRecord>,
    pub batch: u32,
    pub next_seq: u32,
    /// Keys from the provider; they never leave the terminal.
    pub keys: String,
    pub activated: bool,
    pub auth_failures: u32,
    pub locked_until_unix: u64,
    /// When the current settlement card or account was bound (`YYYYMMDD`); `None` for a
    /// terminal that does not keep the date (and state files from before it was kept).
    #[serde(default)]
    pub settlement_since: Option<String>,
    /// The provider root this unit enforces authority for (its public key, hex); `None`:
    /// it does not (docs/protocol.md §11).
    #[serde(default)]
    pub authority_root: Option<String>,
    /// Changes of its binding accepted under an authorisation.
    #[serde(default)]
    pub change_counter: u32,
    /// The newest key statement version accepted.
    #[serde(default)]
    pub statement_version: u32,
    /// The authorisation a change is under way with.
    #[serde(default)]
    pub open_authorisation: Option<OpenAuthorisation>,
}

/// An authorisation a change began with and has not ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAuthorisation {
    /// SHA-256 of the authorisation's value, hex.
    pub digest: String,
    /// The binding (wire form) and whether the unit was activated when it began: a change
    /// that ends there again is a roll-back.
    pub from_binding: Vec<u8>,
    pub from_activated: bool,
}

/// A changing command's payload split into its own items and the key statement (`E3`) and
/// authorisation (`E4`) that follow them; `None` when they are not there so.
fn split_authority(payload: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let items = crate::link::tlv::parse_items(payload).ok()?;
    let first = items
        .iter()
        .position(|(t, _, _)| *t == tag::KEY_STATEMENT || *t == tag::AUTHORISATION)?;
    let [(tag::KEY_STATEMENT, statement, at), (tag::AUTHORISATION, auth, _)] = items[first..] else {
        return None;
    };
    Some((&payload[..at], statement, auth))
}

/// Whether a BIND changed the settlement card or account (and so restarts its date).
fn payload_binds_settlement(after: &Binding, before: &Binding) -> bool {
    after.card != before.card || after.account != before.account
}

/// The activation code the simulated provider issues for a unit (documented in
/// docs/protocol.md so that tests and the demo can compute it).
pub fn activation_code_for(serial: &str) -> String {
    let d = Sha256::digest(format!("posagent-sim-activation/{serial}").as_bytes());
    hex::encode_upper(&d[..5])
}

fn vendor_model(profile: &str) -> (&'static str, &'static str) {
    match profile {
        "lakala" => ("PAX", "A8"),
        "ums" => ("Landi", "A8-UMS"),
        "shengpay" => ("Newland", "ME31"),
        "ruiyinxin" => ("Centerm", "K9"),
        "allinpay" => ("PAX", "A920"),
        _ => ("Generic", "POS-1"),
    }
}

fn random_digits(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

fn random_pan(rng: &mut StdRng) -> String {
    let body = format!("622202{}", random_digits(rng, 12));
    (0..10)
        .map(|c| format!("{body}{c}"))
        .find(|p| luhn_valid(p))
        .unwrap_or_default()
}

/// What a new simulated unit looks like.
pub struct Seed<'a> {
    pub profile: &'a str,
    pub seed: u64,
    pub transactions: u32,
    pub blank: bool,
    pub serial: Option<String>,
    /// Bound to a bank account instead of a settlement card.
    pub account: bool,
    /// When the settlement was bound (`YYYYMMDD`), or `None` for a terminal that does not say.
    pub settlement_since: Option<String>,
}

/// The settlement date a generated unit reports unless told otherwise: long enough ago
/// that no profile's cooldown still runs.
pub const DEFAULT_SETTLEMENT_SINCE: &str = "20250101";

impl TerminalState {
    /// A reproducible terminal from a seed.
    pub fn generate(s: &Seed<'_>) -> TerminalState {
        let mut rng = StdRng::seed_from_u64(s.seed);
        let serial = s
            .serial
            .clone()
            .unwrap_or_else(|| format!("SIM-{:08X}", rng.next_u32()));
        let (vendor, model) = vendor_model(s.profile);
        let identity = Identity {
            vendor: vendor.into(),
            model: model.into(),
            serial,
            firmware: "3.2.1".into(),
        };
        let mut keys = [0u8; 16];
        rng.fill_bytes(&mut keys);
        let binding = if s.blank {
            Binding::unbound()
        } else {
            let pan = random_pan(&mut rng);
            let card = CardBinding {
                pan: pan.parse().expect("generated PAN is Luhn-valid"),
                holder: "张三".parse().expect("valid name"),
                expiry: Some("1230".into()),
            };
            let account = AccountBinding {
                number: format!("6217{}", random_digits(&mut rng, 15))
                    .parse()
                    .expect("19 digits"),
                holder: "张三".parse().expect("valid name"),
                bank: "中国建设银行".into(),
                branch: "105100000017".parse().expect("12 digits"),
            };
            Binding {
                status: DeviceStatus::Bound,
                mid: format!("8221{}", random_digits(&mut rng, 11)).parse().ok(),
                tid: format!("T{}", random_digits(&mut rng, 7)).parse().ok(),
                merchant_name: Some(format!("模拟商户 {}", rng.random_range(100..1000))),
                card: (!s.account).then_some(card),
                account: s.account.then_some(account),
                phone: format!("138{}", random_digits(&mut rng, 8)).parse().ok(),
            }
        };
        let params: model::Params = if s.blank {
            model::Params::new()
        } else {
            [
                ("comm.host", "pos.example-provider.cn"),
                ("comm.port", "8583"),
                ("comm.timeout_s", "30"),
                ("settle.auto_time", "23:00"),
                ("fee.rate_percent", "0.55"),
                ("limit.daily_yuan", "50000"),
                ("receipt.header", "欢迎光临"),
                ("receipt.copies", "2"),
                ("tip.enabled", "false"),
                ("contactless.enabled", "true"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let n = if s.blank { 0 } else { s.transactions };
        let unsettled_from = n - (n / 20).max(u32::from(n > 0));
        let masked = binding_masked_pan(&mut rng);
        let transactions = (0..n)
            .map(|i| {
                let day = 1 + i * 28 / n.max(1);
                TxnRecord {
                    seq: i + 1,
                    date: format!("2611{:02}", day.min(28)),
                    time: format!("{:02}{:02}{:02}", 8 + i % 12, i % 60, (i * 7) % 60),
                    amount_fen: rng.random_range(100..500_000),
                    currency: 156,
                    kind: if i % 50 == 49 { 0x20 } else { 0x00 },
                    masked_pan: masked.clone(),
                    settled: i < unsettled_from,
                    batch: if i < unsettled_from {
                        1 + i / 500
                    } else {
                        1 + unsettled_from / 500 + 1
                    },
                    auth_code: format!("{:06}", rng.random_range(0..1_000_000)),
                    rrn: format!("{:012}", u64::from(i + 1) + s.seed % 1_000_000 * 1_000_000),
                }
            })
            .collect::<Vec<_>>();
        let batch = transactions.last().map_or(1, |t| t.batch);
        // A provider's terminal enforces its authority from the start, with the profile's
        // training root (the simulated provider signs with it).
        let enforced = crate::profile::ProfileSet::builtin()
            .ok()
            .and_then(|set| set.get(s.profile).ok().map(|p| p.authority.enforced))
            .unwrap_or(false);
        let authority_root =
            enforced.then(|| hex::encode(crate::authority::training_root(s.profile).public_key().as_ref()));
        TerminalState {
            identity,
            binding: binding.encode(),
            params,
            transactions,
            batch,
            next_seq: n + 1,
            keys: hex::encode(keys),
            activated: !s.blank,
            auth_failures: 0,
            locked_until_unix: 0,
            settlement_since: if s.blank { None } else { s.settlement_since.clone() },
            authority_root,
            change_counter: 0,
            statement_version: 0,
            open_authorisation: None,
        }
    }

    /// Loads saved state.
    pub fn load(path: &Path) -> Result<TerminalState, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: not a terminal state file: {e}", path.display()))
    }

    /// Saves atomically: temporary file, fsync, rename.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        serde_json::to_writer(&mut f, self)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }

    fn binding(&self) -> Binding {
        Binding::decode(&self.binding).unwrap_or_else(|_| Binding::unbound())
    }

    fn unsettled(&self) -> u32 {
        self.transactions.iter().filter(|t| !t.settled).count() as u32
    }
}

fn binding_masked_pan(rng: &mut StdRng) -> String {
    format!("623{}******{}", random_digits(rng, 3), random_digits(rng, 4))
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A bulk transfer the terminal takes part in after answering a command.
enum Follow {
    Export { data: Vec<u8>, offset: usize },
    Import,
}

/// An import being received.
struct Staging {
    object: Object,
    total: usize,
    sha: [u8; 32],
    records: u32,
    /// The encoding the object travels in and the encoded stream's length.
    encoded: Option<(u8, usize)>,
    /// The bytes received so far (of the encoded stream when it is encoded).
    buf: Vec<u8>,
}

impl Staging {
    /// Bytes the Data frames carry.
    fn stream(&self) -> usize {
        self.encoded.map_or(self.total, |(_, n)| n)
    }
}

/// A simulated terminal serving one line.
pub struct SimTerminal {
    pub state: TerminalState,
    state_path: Option<PathBuf>,
    secret: Vec<u8>,
    faults: FaultSpec,
    rng: StdRng,
    authenticated: bool,
    nonce_t: Option<[u8; proto::NONCE_LEN]>,
    last: Option<Frame>,
    staging: Option<Staging>,
    last_import_total: Option<u32>,
    /// The command-triggered unplug has happened (it happens once).
    unplugged: bool,
    /// Behaves as a terminal of the first protocol release: no DIGEST, no encodings, fixed
    /// chunks.
    pub legacy: bool,
    /// Exports of the transaction log begun (resumed ones included), for tests that check
    /// what a job reads.
    pub log_exports: u32,
    /// Offers no encoding in HELLO: objects travel as they are.
    pub plain: bool,
    /// The encoding agreed in this session's HELLO.
    encoding: Option<u8>,
    /// A log deflated ahead, by the SHA-256 of its plain bytes (see `prepare_export`).
    deflated: Option<([u8; 32], Vec<u8>)>,
}

/// A deflate stream of `n` zero bytes (about `n / 1000` bytes long), written without
/// holding the zeros.
fn zero_bomb(n: usize) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = [0u8; 1 << 16];
    for _ in 0..n / zeros.len() {
        let _ = e.write_all(&zeros);
    }
    e.finish().unwrap_or_default()
}

fn ok() -> Writer {
    let mut w = Writer::new();
    w.u8(tag::RESULT, result::OK);
    w
}

fn fail(code: u8, message: &str) -> Vec<u8> {
    Writer::new().u8(tag::RESULT, code).str(tag::MESSAGE, message).finish()
}

impl SimTerminal {
    pub fn new(
        state: TerminalState,
        state_path: Option<PathBuf>,
        secret: Vec<u8>,
        faults: FaultSpec,
        seed: u64,
    ) -> SimTerminal {
        SimTerminal {
            state,
            state_path,
            secret,
            faults,
            rng: StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(7)),
            authenticated: false,
            legacy: false,
            log_exports: 0,
            plain: false,
            encoding: None,
            nonce_t: None,
            last: None,
            staging: None,
            last_import_total: None,
            unplugged: false,
            deflated: None,
        }
    }

    /// Deflates ahead the transaction log as it will be exported: settled, as a job settles
    /// a unit before it copies the log. Each real terminal has a processor of its own; the
    /// simulators of a depot bench share the agent's, where 64 logs deflated at once, as
    /// the copies begin, took a quarter of the machine (docs/performance.md). A log that
    /// changed otherwise is deflated when asked for, as before.
    pub fn prepare_export(&mut self) {
        let settled: Vec<TxnRecord> = self
            .state
            .transactions
            .iter()
            .map(|t| TxnRecord {
                settled: true,
                ..t.clone()
            })
            .collect();
        let data = model::encode_log(&settled);
        self.deflated = Some((Sha256::digest(&data).into(), encoding::deflate(&data)));
    }

    /// `data`, whose SHA-256 is `sha`, deflated: the stream deflated ahead when it is of
    /// these bytes.
    fn deflate(&self, data: &[u8], sha: &[u8; 32]) -> Vec<u8> {
        match &self.deflated {
            Some((known, encoded)) if known == sha => encoded.clone(),
            _ => encoding::deflate(data),
        }
    }

    fn save(&self) {
        if let Some(p) = &self.state_path
            && let Err(e) = self.state.save(p)
        {
            eprintln!("sim terminal: cannot save state to {}: {e}", p.display());
        }
    }

    /// Replaces the faults to inject from now on (a unit set up unharmed, then armed).
    #[cfg(test)]
    pub(crate) fn arm(&mut self, faults: FaultSpec) {
        self.faults = faults;
    }

    /// The byte-count unplug (`unplug=BYTES`), handed to the line that serves next: it
    /// happens once.
    pub(crate) fn take_byte_unplug(&mut self) -> Option<u64> {
        self.faults.unplug_after.take()
    }

    /// Serves frames until the line fails (an unplug returns `Disconnected`).
    pub fn serve<P: Port>(&mut self, link: &mut Link<P>) -> Result<(), LinkError> {
        // A new line is a new session.
        self.authenticated = false;
        self.last = None;
        loop {
            match link.recv(std::time::Instant::now() + Duration::from_secs(1))? {
                Received::Frame(f) if f.kind == Kind::Command => self.on_command(link, f)?,
                Received::Frame(f) if f.kind == Kind::Nak && f.payload.is_empty() => {
                    if let Some(last) = self.last.clone() {
                        link.send(&last)?;
                    }
                }
                Received::Frame(f) if f.kind == Kind::Data => {
                    if let Some(total) = self.last_import_total {
                        link.send(&Frame {
                            kind: Kind::Ack,
                            seq: 0,
                            code: 0,
                            payload: crate::link::bulk::ack_payload(total, 0),
                        })?;
                    }
                }
                Received::Corrupt => link.send(&Frame::bare(Kind::Nak, 0, 0))?,
                Received::Frame(_) | Received::Timeout => {}
            }
        }
    }

    fn on_command<P: Port>(&mut self, link: &mut Link<P>, first: Frame) -> Result<(), LinkError> {
        let mut pending = Some(first);
        while let Some(f) = pending.take() {
            let restartable = matches!(f.code, cmd::EXPORT_BEGIN | cmd::IMPORT_BEGIN | cmd::HELLO);
            if let Some(last) = &self.last
                && last.seq == f.seq
                && !restartable
            {
                // A repeat of a command already carried out: answer again, do not redo it.
                link.send(&last.clone())?;
                continue;
            }
            if self.faults.busy > 0.0 && self.rng.random_bool(self.faults.busy) {
                link.send(&Frame::bare(Kind::Busy, f.seq, f.code))?;
                continue;
            }
            link.send(&Frame::bare(Kind::Ack, f.seq, f.code))?;
            if let Some(d) = self.faults.slow {
                std::thread::sleep(d);
            }
            self.unplug_if(f.code, false)?;
            let (payload, follow) = self.execute(link, &f);
            self.unplug_if(f.code, true)?;
            let rsp = Frame {
                kind: Kind::Response,
                seq: f.seq,
                code: f.code,
                payload,
            };
            link.send(&rsp)?;
            self.last = Some(rsp);
            let end = match follow {
                None => continue,
                Some(Follow::Export { data, offset }) => {
                    // Stuck: only whole units of the first half are ever sent.
                    let unit = link.unit();
                    let end = match self.faults.lie {
                        Some(Lie::StuckExport) if data.len() > 2 * unit => data.len() / 2 / unit * unit,
                        _ => data.len(),
                    };
                    link.send_bulk(&data[..end], offset.min(end), &mut |_, _| {})
                }
                Some(Follow::Import) => {
                    let staging = self.staging.as_mut().expect("import staged");
                    let total = staging.stream();
                    let mut buf = std::mem::take(&mut staging.buf);
                    let r = link.recv_bulk(total, &mut buf, &mut |_, _| {});
                    staging.buf = buf;
                    if matches!(r, Ok(BulkEnd::Complete)) {
                        self.last_import_total = Some(total as u32);
                    }
                    r
                }
            };
            match end {
                Ok(BulkEnd::Command(next)) => pending = Some(next),
                // (A log in memory never starves its sender.)
                Ok(BulkEnd::Complete | BulkEnd::Starved(_)) => {}
                // The agent went quiet: wait for it to come back and ask again.
                Err(LinkError::Stalled { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The `unplug_before` / `unplug_after` fault: the line drops at this command, once.
    fn unplug_if(&mut self, code: u8, after: bool) -> Result<(), LinkError> {
        if !self.unplugged && self.faults.unplug_on == Some((code, after)) {
            self.unplugged = true;
            return Err(LinkError::Port(crate::link::port::PortError::Disconnected));
        }
        Ok(())
    }

    fn execute<P: Port>(&mut self, link: &mut Link<P>, f: &Frame) -> (Vec<u8>, Option<Follow>) {
        let needs_auth = !matches!(
            f.code,
            cmd::HELLO | cmd::IDENTIFY | cmd::STATUS | cmd::AUTH_BEGIN | cmd::AUTH_PROVE
        );
        if needs_auth && !self.authenticated {
            return (fail(result::AUTH_REQUIRED, "authenticate first"), None);
        }
        let fields = match Fields::parse(&f.payload) {
            Ok(x) => x,
            Err(e) => return (fail(result::BAD_REQUEST, &e.to_string()), None),
        };
        let r = match f.code {
            cmd::HELLO => self.hello(link, &fields),
            cmd::IDENTIFY => {
                let mut p = ok().finish();
                p.extend(self.state.identity.encode());
                Ok(p)
            }
            cmd::STATUS => {
                let mut w = ok();
                w.u8(tag::DEVICE_STATUS, self.state.binding().status.to_u8())
                    .u32(tag::TRANSACTION_COUNT, self.state.transactions.len() as u32)
                    .u32(tag::UNSETTLED_COUNT, self.state.unsettled())
                    .u8(tag::AUTHENTICATED, u8::from(self.authenticated));
                if let Some(since) = &self.state.settlement_since {
                    w.str(tag::SETTLEMENT_SINCE, since);
                }
                if self.root().is_some() {
                    w.u32(tag::CHANGE_COUNTER, self.state.change_counter);
                }
                Ok(w.finish())
            }
            cmd::AUTH_BEGIN => self.auth_begin(),
            cmd::AUTH_PROVE => self.auth_prove(&fields),
            cmd::READ_BINDING => {
                let mut p = ok().finish();
                p.extend_from_slice(&self.state.binding);
                Ok(p)
            }
            cmd::EXPORT_BEGIN => return self.export_begin(link, &fields),
            cmd::EXPORT_END => Ok(ok().finish()),
            cmd::IMPORT_BEGIN => return self.import_begin(link, &fields),
            cmd::IMPORT_COMMIT => self.import_commit(&fields),
            cmd::DIGEST if !self.legacy => match fields.need_u8(tag::OBJECT).ok().and_then(Object::from_u8) {
                Some(object) => {
                    let (data, records) = self.object_bytes(object);
                    Ok(ok()
                        .u32(tag::TOTAL_LEN, data.len() as u32)
                        .bytes(tag::SHA256, &Sha256::digest(&data))
                        .u32(tag::RECORD_COUNT, records)
                        .finish())
                }
                None => Err(fail(result::BAD_REQUEST, "unknown object")),
            },
            cmd::SETTLE => Ok(self.settle()),
            cmd::UNBIND | cmd::BIND | cmd::ACTIVATE if self.root().is_some() => {
                self.with_authority(f.code, &f.payload, &fields)
            }
            cmd::UNBIND => self.unbind(&fields),
            cmd::BIND => self.bind(&f.payload),
            cmd::ACTIVATE => self.activate(&fields),
            cmd::TEST_TRANSACTION => self.test_transaction(&fields),
            cmd::REBOOT => {
                self.authenticated = false;
                Ok(ok().finish())
            }
            _ => Err(fail(result::UNKNOWN_COMMAND, "unknown command")),
        };
        (r.unwrap_or_else(|e| e), None)
    }

    fn hello<P: Port>(&mut self, link: &mut Link<P>, f: &Fields<'_>) -> Result<Vec<u8>, Vec<u8>> {
        self.authenticated = false;
        self.nonce_t = None;
        let versions = f.get(tag::VERSIONS).unwrap_or(&[]);
        let Some(v) = proto::VERSIONS.iter().rev().find(|v| versions.contains(v)) else {
            return Err(fail(result::BAD_REQUEST, "no common protocol version"));
        };
        let theirs = f
            .need_array::<2>(tag::MAX_PAYLOAD)
            .map(u16::from_be_bytes)
            .unwrap_or(256);
        let max = theirs.clamp(64, proto::DEFAULT_MAX_PAYLOAD);
        let window = f.need_u8(tag::WINDOW).unwrap_or(1).clamp(1, proto::DEFAULT_WINDOW);
        link.max_payload = usize::from(max);
        link.window = usize::from(window);
        let offered = f.get(tag::ENCODINGS).unwrap_or(&[]);
        self.encoding =
            (!self.legacy && !self.plain && offered.contains(&encoding::DEFLATE)).then_some(encoding::DEFLATE);
        // Data frames sized to the line, when offered the block this terminal uses.
        let block = proto::BLOCK_SIZE.to_be_bytes();
        link.block = (!self.legacy
            && f.get(tag::BLOCKS) == Some(&block[..])
            && usize::from(proto::BLOCK_SIZE) <= link.chunk_size())
        .then_some(usize::from(proto::BLOCK_SIZE));
        let mut rsp = ok();
        rsp.u8(tag::VERSION_CHOSEN, *v)
            .bytes(tag::MAX_PAYLOAD, &max.to_be_bytes())
            .u8(tag::WINDOW, window);
        if let Some(e) = self.encoding {
            rsp.bytes(tag::ENCODINGS, &[e]);
        }
        if link.block.is_some() {
            rsp.bytes(tag::BLOCKS, &block);
        }
        if let Some(root) = self.root() {
            rsp.bytes(tag::AUTHORITY_ROOT, &authority::key_id(&root));
        }
        Ok(rsp.finish())
    }

    /// The provider root this unit enforces authority for (none when it does not, or when
    /// it is a terminal of the first protocol release).
    fn root(&self) -> Option<[u8; 32]> {
        if self.legacy {
            return None;
        }
        hex::decode(self.state.authority_root.as_deref()?).ok()?.try_into().ok()
    }

    /// A changing command on a unit that enforces authority (docs/protocol.md §11): its
    /// statement and authorisation checked, what it does checked against the operation the
    /// authorisation names, then carried out, and the authorisation opened or closed.
    fn with_authority(&mut self, code: u8, payload: &[u8], f: &Fields<'_>) -> Result<Vec<u8>, Vec<u8>> {
        let refuse = |why: &str| fail(result::NOT_AUTHORISED, why);
        let (own, statement, auth) = split_authority(payload).ok_or_else(|| {
            refuse("a provider's key statement (E3) and authorisation (E4) must follow the command's items")
        })?;
        let root = self.root().expect("enforcing");
        let now = now_unix();
        let st = Statement::parse(statement).map_err(|e| refuse(&e.to_string()))?;
        st.verify(&root, now, self.state.statement_version)
            .map_err(|e| refuse(&e.to_string()))?;
        let a = Authorisation::parse(auth).map_err(|e| refuse(&e.to_string()))?;
        a.verify(&st, now).map_err(|e| refuse(&e.to_string()))?;
        if a.serial != self.state.identity.serial {
            return Err(refuse(&format!("the authorisation is for terminal {}", a.serial)));
        }
        let digest = hex::encode(Sha256::digest(auth));
        let open = self.state.open_authorisation.clone();
        match &open {
            Some(o) if o.digest != digest => return Err(refuse("another authorisation's change is under way here")),
            None if a.counter != self.state.change_counter => {
                return Err(refuse(&format!(
                    "the authorisation is for change {}; this terminal is at change {}",
                    a.counter, self.state.change_counter
                )));
            }
            _ => {}
        }
        let (from_binding, from_activated) = open
            .as_ref()
            .map_or((self.state.binding.clone(), self.state.activated), |o| {
                (o.from_binding.clone(), o.from_activated)
            });
        // What the command would leave, to tell a roll-back from the change itself (one
        // the unit would refuse anyway is judged by its authorisation first).
        let after = match code {
            cmd::UNBIND => self.unbind_result(f).ok(),
            cmd::BIND => self.bind_result(own).ok().map(|b| (b.encode(), self.state.activated)),
            _ => Some((self.state.binding.clone(), true)),
        };
        let rollback = open.is_some() && after == Some((from_binding.clone(), from_activated));
        let part = f.need_u8(tag::OBJECT).unwrap_or(0);
        let binds_target = authority::target_digest(Some(own)) == a.target;
        let allowed = rollback
            || match (code, a.operation) {
                (cmd::ACTIVATE, AuthOp::MigrateIn) => true,
                (cmd::UNBIND, AuthOp::RebindCard | AuthOp::RebindAccount) => matches!(part, 1 | 2),
                (cmd::UNBIND, AuthOp::RebindPhone) => part == 3,
                (cmd::UNBIND, AuthOp::Unbind | AuthOp::MigrateOut) => part == 0,
                (cmd::UNBIND, AuthOp::Restore) => matches!(part, 1..=3),
                (
                    cmd::BIND,
                    AuthOp::RebindCard
                    | AuthOp::RebindAccount
                    | AuthOp::RebindPhone
                    | AuthOp::MigrateIn
                    | AuthOp::Restore,
                ) => binds_target,
                _ => false,
            };
        if !allowed {
            return Err(refuse(&format!(
                "the authorisation ({}) does not cover this command or these values",
                a.operation.as_str()
            )));
        }
        let answer = match code {
            cmd::UNBIND => self.unbind(f)?,
            cmd::BIND => self.bind(own)?,
            _ => self.activate(f)?,
        };
        let completes = !rollback
            && ((code == cmd::BIND && binds_target)
                || (code == cmd::UNBIND && part == 0 && matches!(a.operation, AuthOp::Unbind | AuthOp::MigrateOut)));
        self.state.statement_version = self.state.statement_version.max(st.version);
        if completes {
            // The change is made: its authorisation is spent.
            self.state.change_counter += 1;
            self.state.open_authorisation = None;
        } else if rollback {
            // Back where it began: nothing changed, nothing spent.
            self.state.open_authorisation = None;
        } else {
            self.state.open_authorisation = Some(OpenAuthorisation {
                digest,
                from_binding,
                from_activated,
            });
        }
        self.save();
        Ok(answer)
    }

    fn key(&self) -> [u8; 32] {
        model::derive_key(&self.secret, &self.state.identity.serial)
    }

    fn locked_for(&self) -> u64 {
        self.state.locked_until_unix.saturating_sub(now_unix())
    }

    fn auth_begin(&mut self) -> Result<Vec<u8>, Vec<u8>> {
        let locked = self.locked_for();
        if locked > 0 {
            return Err(Writer::new()
                .u8(tag::RESULT, result::LOCKED_OUT)
                .str(tag::MESSAGE, "locked after repeated wrong secrets")
                .u32(tag::LOCKED_SECONDS, locked as u32)
                .finish());
        }
        let mut nonce = [0u8; proto::NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        self.nonce_t = Some(nonce);
        Ok(ok().bytes(tag::NONCE_TERMINAL, &nonce).finish())
    }

    fn auth_prove(&mut self, f: &Fields<'_>) -> Result<Vec<u8>, Vec<u8>> {
        let Some(nonce_t) = self.nonce_t.take() else {
            return Err(fail(result::BAD_REQUEST, "AUTH_BEGIN first"));
        };
        let (Ok(nonce_a), Ok(mac)) = (f.need_array::<{ proto::NONCE_LEN }>(tag::NONCE_AGENT), f.need(tag::MAC)) else {
            return Err(fail(result::BAD_REQUEST, "nonce and MAC required"));
        };
        let key = self.key();
        if !model::verify_agent_proof(&key, &nonce_t, &nonce_a, mac) {
            self.state.auth_failures += 1;
            let left = proto::MAX_AUTH_FAILURES.saturating_sub(self.state.auth_failures);
            let rsp = if left == 0 {
                self.state.auth_failures = 0;
                self.state.locked_until_unix = now_unix() + proto::LOCKOUT.as_secs();
                Writer::new()
                    .u8(tag::RESULT, result::LOCKED_OUT)
                    .str(tag::MESSAGE, "too many wrong secrets")
                    .u32(tag::LOCKED_SECONDS, proto::LOCKOUT.as_secs() as u32)
                    .finish()
            } else {
                Writer::new()
                    .u8(tag::RESULT, result::AUTH_FAILED)
                    .str(tag::MESSAGE, "wrong secret")
                    .u32(tag::AUTH_FAILURES_LEFT, left)
                    .finish()
            };
            self.save();
            return Err(rsp);
        }
        // Saved only when it changes: a depot's sessions do not rewrite every state file.
        if self.state.auth_failures != 0 {
            self.state.auth_failures = 0;
            self.save();
        }
        self.authenticated = true;
        if self.faults.lie == Some(Lie::NoProof) {
            return Ok(ok().finish());
        }
        Ok(ok()
            .bytes(tag::MAC, &model::terminal_proof(&key, &nonce_a, &nonce_t))
            .finish())
    }

    fn object_bytes(&self, object: Object) -> (Vec<u8>, u32) {
        match object {
            Object::TransactionLog => (
                model::encode_log(&self.state.transactions),
                self.state.transactions.len() as u32,
            ),
            Object::Parameters => (model::encode_params(&self.state.params), self.state.params.len() as u32),
        }
    }

    fn export_begin<P: Port>(&mut self, link: &Link<P>, f: &Fields<'_>) -> (Vec<u8>, Option<Follow>) {
        let Some(object) = f.need_u8(tag::OBJECT).ok().and_then(Object::from_u8) else {
            return (fail(result::BAD_REQUEST, "unknown object"), None);
        };
        let offset = f.need_u32(tag::OFFSET).unwrap_or(0) as usize;
        self.log_exports += u32::from(object == Object::TransactionLog);
        let (data, records) = self.object_bytes(object);
        let sha: [u8; 32] = Sha256::digest(&data).into();
        let records = records + u32::from(self.faults.lie == Some(Lie::ExportCount));
        let mut rsp = ok();
        rsp.u32(tag::TOTAL_LEN, data.len() as u32)
            .bytes(tag::SHA256, &sha)
            .u32(tag::RECORD_COUNT, records);
        // Deflated when this session agreed on it and the agent asks for it.
        let asked = f.need_u8(tag::ENCODING).ok();
        let stream = match self.encoding.filter(|e| asked == Some(*e)) {
            Some(e) if self.faults.lie == Some(Lie::InflatedSize) && object == Object::TransactionLog => {
                let bomb = zero_bomb(1 << 30);
                let mut rsp = ok();
                rsp.u32(tag::TOTAL_LEN, 1 << 30)
                    .bytes(tag::SHA256, &sha)
                    .u32(tag::RECORD_COUNT, records)
                    .u8(tag::ENCODING, e)
                    .u32(tag::ENCODED_LEN, bomb.len() as u32);
                return (rsp.finish(), Some(Follow::Export { data: bomb, offset: 0 }));
            }
            Some(e) => {
                let encoded = self.deflate(&data, &sha);
                rsp.u8(tag::ENCODING, e).u32(tag::ENCODED_LEN, encoded.len() as u32);
                encoded
            }
            None => data,
        };
        if offset > stream.len() || (!offset.is_multiple_of(link.unit()) && offset != stream.len()) {
            return (
                fail(result::BAD_REQUEST, "offset is not a chunk boundary inside the object"),
                None,
            );
        }
        (rsp.finish(), Some(Follow::Export { data: stream, offset }))
    }

    fn import_begin<P: Port>(&mut self, link: &Link<P>, f: &Fields<'_>) -> (Vec<u8>, Option<Follow>) {
        let parsed = (|| {
            let object = Object::from_u8(f.need_u8(tag::OBJECT).ok()?)?;
            let total = f.need_u32(tag::TOTAL_LEN).ok()? as usize;
            let sha = f.need_array::<32>(tag::SHA256).ok()?;
            let records = f.need_u32(tag::RECORD_COUNT).ok()?;
            Some((object, total, sha, records))
        })();
        let Some((object, total, sha, records)) = parsed else {
            return (
                fail(result::BAD_REQUEST, "object, length, SHA-256 and record count required"),
                None,
            );
        };
        if total > MAX_OBJECT_LEN {
            return (fail(result::BAD_REQUEST, "object too large"), None);
        }
        let encoded = match f.get(tag::ENCODING) {
            None => None,
            Some(_) => match (f.need_u8(tag::ENCODING).ok(), f.need_u32(tag::ENCODED_LEN).ok()) {
                (Some(e), Some(n)) if Some(e) == self.encoding && (n as usize) <= MAX_OBJECT_LEN => {
                    Some((e, n as usize))
                }
                _ => {
                    return (
                        fail(result::BAD_REQUEST, "an encoding this session did not agree on"),
                        None,
                    );
                }
            },
        };
        if !self.state.activated {
            return (fail(result::WRONG_STATE, "activate the unit before importing"), None);
        }
        let same = self
            .staging
            .as_ref()
            .is_some_and(|s| s.object == object && s.total == total && s.sha == sha && s.encoded == encoded);
        if !same {
            self.staging = Some(Staging {
                object,
                total,
                sha,
                records,
                encoded,
                buf: Vec::new(),
            });
        }
        self.last_import_total = None;
        let staging = self.staging.as_mut().expect("just set");
        let unit = link.unit();
        let resume = staging.buf.len() / unit * unit;
        staging.buf.truncate(resume);
        (ok().u32(tag::OFFSET, resume as u32).finish(), Some(Follow::Import))
    }

    fn import_commit(&mut self, f: &Fields<'_>) -> Result<Vec<u8>, Vec<u8>> {
        let object = f.need_u8(tag::OBJECT).ok().and_then(Object::from_u8);
        let Some(staging) = self.staging.take_if(|s| Some(s.object) == object) else {
            return Err(fail(result::WRONG_STATE, "no import of that object in progress"));
        };
        let buf = match staging.encoded {
            Some((e, n)) if staging.buf.len() == n => {
                encoding::decode(e, &staging.buf, staging.total).map_err(|e| fail(result::CHECKSUM, &e.to_string()))?
            }
            Some(_) => {
                return Err(fail(result::CHECKSUM, "the encoded stream is incomplete"));
            }
            None => staging.buf,
        };
        if buf.len() != staging.total || Sha256::digest(&buf)[..] != staging.sha {
            return Err(fail(
                result::CHECKSUM,
                "received bytes do not match the announced length and SHA-256",
            ));
        }
        let added = match staging.object {
            Object::TransactionLog => {
                let records = model::decode_log(&buf).map_err(|e| fail(result::BAD_REQUEST, &e.to_string()))?;
                if records.len() as u32 != staging.records {
                    return Err(fail(result::CHECKSUM, "record count differs from the announced count"));
                }
                // Merge by retrieval reference number: importing twice adds nothing twice.
                let known: BTreeSet<String> = self.state.transactions.iter().map(|t| t.rrn.clone()).collect();
                let new: Vec<TxnRecord> = records.into_iter().filter(|r| !known.contains(&r.rrn)).collect();
                let n = new.len() as u32;
                self.state.transactions.extend(new);
                self.state.next_seq = self.state.transactions.iter().map(|t| t.seq).max().unwrap_or(0) + 1;
                n
            }
            Object::Parameters => {
                let params = model::decode_params(&buf).map_err(|e| fail(result::BAD_REQUEST, &e.to_string()))?;
                if params.len() as u32 != staging.records {
                    return Err(fail(
                        result::CHECKSUM,
                        "parameter count differs from the announced count",
                    ));
                }
                self.state.params = params;
                staging.records
            }
        };
        self.save();
        Ok(ok().u32(tag::TRANSACTION_COUNT, added).finish())
    }

    fn settle(&mut self) -> Vec<u8> {
        let mut n = 0;
        for t in self.state.transactions.iter_mut().filter(|t| !t.settled) {
            t.settled = true;
            n += 1;
        }
        if n > 0 {
            self.state.batch += 1;
        }
        self.save();
        ok().u32(tag::TRANSACTION_COUNT, n).finish()
    }

    /// What UNBIND would leave: the binding (wire form) and whether the unit stays active.
    fn unbind_result(&self, f: &Fields<'_>) -> Result<(Vec<u8>, bool), Vec<u8>> {
        let mut b = self.state.binding();
        let mut activated = self.state.activated;
        match f.need_u8(tag::OBJECT).unwrap_or(0) {
            0 => {
                let unsettled = self.state.unsettled();
                if unsettled > 0 {
                    return Err(fail(
                        result::UNSETTLED,
                        &format!("{unsettled} unsettled transaction(s); settle first"),
                    ));
                }
                b = Binding::unbound();
                activated = false;
            }
            1 => b.card = None,
            2 => b.account = None,
            3 => b.phone = None,
            _ => return Err(fail(result::BAD_REQUEST, "unknown binding part")),
        }
        if b.card.is_none() && b.account.is_none() && b.status == DeviceStatus::Bound {
            b.status = DeviceStatus::Active;
        }
        Ok((b.encode(), activated))
    }

    fn unbind(&mut self, f: &Fields<'_>) -> Result<Vec<u8>, Vec<u8>> {
        let (binding, activated) = self.unbind_result(f)?;
        self.state.binding = binding;
        self.state.activated = activated;
        // DF19 dates the card or account held: with neither left, there is no date.
        let held = self.state.binding();
        if held.card.is_none() && held.account.is_none() {
            self.state.settlement_since = None;
        }
        self.save();
        Ok(ok().finish())
    }

    /// What BIND with `payload` would leave.
    fn bind_result(&self, payload: &[u8]) -> Result<Binding, Vec<u8>> {
        if !self.state.activated {
            return Err(fail(result::WRONG_STATE, "the unit is not active; activate it first"));
        }
        let new = Binding::decode(payload).map_err(|e| fail(result::BAD_REQUEST, &e.to_string()))?;
        let mut b = self.state.binding();
        if new.card.is_some() && new.account.is_some() {
            return Err(fail(result::BAD_REQUEST, "bind a card or an account, not both"));
        }
        b.mid = new.mid.or(b.mid);
        b.tid = new.tid.or(b.tid);
        b.merchant_name = new.merchant_name.or(b.merchant_name);
        if new.card.is_some() {
            b.card = new.card;
            b.account = None;
        }
        if new.account.is_some() {
            b.account = new.account;
            b.card = None;
        }
        b.phone = new.phone.or(b.phone);
        b.status = if b.mid.is_some() && b.tid.is_some() && (b.card.is_some() || b.account.is_some()) {
            DeviceStatus::Bound
        } else {
            DeviceStatus::Active
        };
        Ok(b)
    }

    fn bind(&mut self, payload: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
        let b = self.bind_result(payload)?;
        if payload_binds_settlement(&b, &self.state.binding()) {
            self.state.settlement_since = Some(chrono::Local::now().format("%Y%m%d").to_string());
        }
        self.state.binding = b.encode();
        self.save();
        Ok(ok().finish())
    }

    fn activate(&mut self, f: &Fields<'_>) -> Result<Vec<u8>, Vec<u8>> {
        if self.state.activated {
            return Err(fail(result::WRONG_STATE, "the unit is already active"));
        }
        let code = f.text(tag::ACTIVATION_CODE).ok().flatten().unwrap_or("");
        if code != activation_code_for(&self.state.identity.serial) {
            return Err(fail(result::BAD_ACTIVATION, "activation code not valid for this unit"));
        }
        // A newly activated unit gets its own keys; none come from another terminal.
        let mut keys = [0u8; 16];
        rand::rng().fill_bytes(&mut keys);
        self.state.keys = hex::encode(keys);
        self.state.activated = true;
        let mut b = self.state.binding();
        b.status = DeviceStatus::Active;
        self.state.binding = b.encode();
        self.save();
        Ok(ok().finish())
    }

    fn test_transaction(&mut self, f: &Fields<'_>) -> Result<Vec<u8>, Vec<u8>> {
        if self.state.binding().status != DeviceStatus::Bound {
            return Err(fail(result::WRONG_STATE, "the unit is not bound"));
        }
        let amount = f
            .need(tag::AMOUNT_AUTHORISED)
            .map_err(|e| fail(result::BAD_REQUEST, &e.to_string()))
            .and_then(|v| model::amount_from_bcd(v).map_err(|e| fail(result::BAD_REQUEST, &e.to_string())))
            .and_then(|a| u32::try_from(a).map_err(|_| fail(result::BAD_REQUEST, "amount too large")))?;
        // The agent's reference makes the command idempotent.
        let reference = f
            .text(tag::RRN)
            .ok()
            .flatten()
            .filter(|r| r.len() == 12 && r.bytes().all(|b| b.is_ascii_alphanumeric()));
        if let Some(existing) = reference.and_then(|r| self.state.transactions.iter().find(|t| t.rrn == r)) {
            return Ok(ok()
                .str(tag::AUTH_CODE, &existing.auth_code)
                .str(tag::RRN, &existing.rrn)
                .finish());
        }
        let seq = self.state.next_seq;
        self.state.next_seq += 1;
        let auth = format!("{:06}", self.rng.random_range(0..1_000_000));
        let rrn = reference.map_or_else(
            || format!("T{:011}", u64::from(seq) * 1000 + self.rng.random_range(0..1000)),
            str::to_string,
        );
        self.state.transactions.push(TxnRecord {
            seq,
            date: "261122".into(),
            time: "120000".into(),
            amount_fen: u64::from(amount),
            currency: 156,
            kind: 0,
            masked_pan: "TEST".into(),
            settled: false,
            batch: self.state.batch,
            auth_code: auth.clone(),
            rrn: rrn.clone(),
        });
        self.save();
        Ok(ok().str(tag::AUTH_CODE, &auth).str(tag::RRN, &rrn).finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What deflate makes of a generated log: the figure docs/performance.md reports. Real
    /// logs repeat the same tags, dates, currency and merchant as these do, but their
    /// amounts, times and references vary more, so they deflate somewhat less.
    #[test]
    fn a_generated_log_deflates_to_under_a_third() {
        let state = TerminalState::generate(&Seed {
            profile: "lakala",
            seed: 42,
            transactions: 2000,
            blank: false,
            serial: None,
            account: false,
            settlement_since: None,
        });
        let log = model::encode_log(&state.transactions);
        let deflated = encoding::deflate(&log);
        let ratio = log.len() as f64 / deflated.len() as f64;
        println!("{} bytes deflate to {} ({ratio:.2}×)", log.len(), deflated.len());
        assert!(ratio > 3.0, "{ratio:.2}");
        assert_eq!(encoding::decode(encoding::DEFLATE, &deflated, log.len()).unwrap(), log);
    }

    #[test]
    fn a_log_deflated_ahead_is_the_settled_one_and_a_log_changed_otherwise_is_deflated_afresh() {
        let state = TerminalState::generate(&Seed {
            profile: "generic",
            seed: 7,
            transactions: 400,
            blank: false,
            serial: None,
            account: false,
            settlement_since: None,
        });
        let mut sim = SimTerminal::new(state, None, b"secret".to_vec(), FaultSpec::default(), 7);
        sim.prepare_export();
        let log = |sim: &SimTerminal| {
            let data = sim.object_bytes(Object::TransactionLog).0;
            let sha: [u8; 32] = Sha256::digest(&data).into();
            (data, sha)
        };
        let ahead = |sim: &SimTerminal| sim.deflated.as_ref().map(|(sha, _)| *sha);
        let (unsettled, sha) = log(&sim);
        assert_ne!(ahead(&sim), Some(sha), "the log deflated ahead is the unsettled one");
        assert_eq!(sim.deflate(&unsettled, &sha), encoding::deflate(&unsettled));
        sim.settle();
        let (settled, sha) = log(&sim);
        assert_eq!(ahead(&sim), Some(sha), "the log deflated ahead is not the settled one");
        let sent = sim.deflate(&settled, &sha);
        assert_eq!(
            encoding::decode(encoding::DEFLATE, &sent, settled.len()).unwrap(),
            settled
        );
        // A record added after: the log is deflated as it is now.
        let mut added = sim.state.transactions[0].clone();
        added.seq = 401;
        sim.state.transactions.push(added);
        let (changed, sha) = log(&sim);
        let sent = sim.deflate(&changed, &sha);
        assert_eq!(
            encoding::decode(encoding::DEFLATE, &sent, changed.len()).unwrap(),
            changed
        );
    }
}
