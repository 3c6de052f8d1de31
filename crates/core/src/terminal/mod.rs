//! Typed commands to a terminal over the link: what the jobs and the CLI call.
//!
//! A [`Terminal`] owns the port path and its settings so that, when the port disappears
//! during a bulk transfer (cable pulled, device reset), it can reopen the same path, say
//! HELLO again, re-authenticate with the key it derived, and resume the transfer from the
//! last acknowledged offset. Other commands are not repeated after a reconnect: whether a
//! change took effect is for the caller to find out by reading the terminal again.

pub mod answers;
pub mod discover;
mod feed;
pub mod model;

pub use answers::{Announced, Terms};
pub use feed::Feed;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::domain::DeviceStatus;
use crate::link::bulk::{BulkEnd, Progress};
use crate::link::encoding;
use crate::link::port::{Opener, Port, SerialOpener};
use crate::link::proto::{self, Object, cmd, result, tag};
use crate::link::tlv::{Fields, TlvError, Writer};
use crate::link::{Link, LinkError, LinkStats, command_name};
use crate::profile::SerialSettings;
use model::{Binding, Identity, ModelError, Status};

/// The operator secret, wiped from memory when dropped and never printed.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps secret bytes (trailing newline already removed by the caller).
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(Zeroizing::new(bytes))
    }

    /// The raw bytes, for key derivation only.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reconnects allowed within one bulk transfer.
pub const MAX_RECONNECTS_PER_TRANSFER: u32 = 8;

/// Why a terminal operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("{}", crate::tr!("terminal-unavailable", port = .path.display().to_string(), reason = .source.to_string()))]
    Unavailable { path: PathBuf, source: LinkError },
    #[error("{}", crate::tr!("terminal-refused", command = *.command, reason = .message.as_str()))]
    Refused {
        command: &'static str,
        result: u8,
        message: String,
    },
    #[error("{}", crate::tr!("terminal-wrong-secret", left = *.left))]
    WrongSecret { left: u32 },
    #[error("{}", crate::tr!("terminal-locked-out", seconds = *.seconds))]
    LockedOut { seconds: u32 },
    #[error("{}", crate::tr!("terminal-not-genuine"))]
    NotGenuine,
    #[error("{}", crate::tr!("terminal-another-unit", port = .path.display().to_string(), found = .found.as_str(), expected = .expected.as_str()))]
    AnotherUnit {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{}", crate::tr!("terminal-invalid", reason = .0.to_string()))]
    Invalid(#[from] ModelError),
    #[error("{}", crate::tr!("terminal-transfer-failed", object = format!("{:?}", .object), what = .what.as_str()))]
    Verification { object: Object, what: String },
    /// The terminal refused a change for want of the provider's valid authorisation.
    #[error("{}", crate::tr!("terminal-not-authorised", command = *.command, reason = .message.as_str()))]
    NotAuthorised { command: &'static str, message: String },
}

impl TerminalError {
    /// A stable machine code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            TerminalError::Unavailable { .. } => "terminal_unavailable",
            TerminalError::Refused { .. } => "terminal_refused",
            TerminalError::WrongSecret { .. } => "wrong_secret",
            TerminalError::LockedOut { .. } => "locked_out",
            TerminalError::NotGenuine => "not_genuine",
            TerminalError::AnotherUnit { .. } => "another_unit",
            TerminalError::NotFound(_) => "terminal_not_found",
            TerminalError::Invalid(_) => "terminal_invalid_data",
            TerminalError::Verification { .. } => "transfer_verification_failed",
            TerminalError::NotAuthorised { .. } => "not_authorised",
        }
    }
}

impl From<TlvError> for TerminalError {
    fn from(e: TlvError) -> Self {
        TerminalError::Invalid(ModelError::Tlv(e))
    }
}

/// A transferred object with its announced checksum and record count.
#[derive(Debug, Clone)]
pub struct Exported {
    pub data: Vec<u8>,
    pub sha256: [u8; 32],
    pub records: u32,
}

/// An object as a terminal holds it, by digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredDigest {
    pub len: u32,
    pub sha256: [u8; 32],
    pub records: u32,
}

/// Result of a test transaction.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestResult {
    pub amount_fen: u32,
    pub auth_code: String,
    pub rrn: String,
}

/// Which part of a binding an UNBIND removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BindingPart {
    /// The whole device: merchant, settlement and phone (requires a settled batch).
    Device = 0,
    Card = 1,
    Account = 2,
    Phone = 3,
}

/// A connected terminal.
pub struct Terminal {
    path: PathBuf,
    settings: SerialSettings,
    opener: std::sync::Arc<dyn Opener>,
    link: Option<Link<Box<dyn Port>>>,
    key: Option<Zeroizing<[u8; 32]>>,
    identity: Option<Identity>,
    /// The serial exactly as the terminal reported it: the key is derived from these
    /// bytes, while `identity.serial` is normalised for comparing with orders.
    reported_serial: Option<String>,
    past: LinkStats,
    started: Instant,
    /// The encoding both sides agreed on in this session's HELLO for bulk objects (`None`:
    /// they travel as they are).
    encoding: Option<u8>,
    /// The provider root the terminal said in HELLO it enforces authority for (its key
    /// id); `None`: it does not enforce.
    authority_root: Option<[u8; 8]>,
}

/// What a change carries to a terminal that enforces authority: the key statement of its
/// provider's root and the authorisation of this change (docs/protocol.md §11).
#[derive(Debug, Clone)]
pub struct Authority {
    pub statement: Vec<u8>,
    pub authorisation: Vec<u8>,
}

impl Authority {
    /// `payload` with the statement and the authorisation after its own items.
    fn appended_to(&self, mut payload: Vec<u8>) -> Vec<u8> {
        payload.extend(
            Writer::new()
                .bytes(tag::KEY_STATEMENT, &self.statement)
                .bytes(tag::AUTHORISATION, &self.authorisation)
                .finish(),
        );
        payload
    }
}

/// What `inspect` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    pub identity: model::Identity,
    pub status: model::Status,
    pub binding: model::Binding,
    pub link: crate::link::LinkStats,
}

impl Terminal {
    /// Opens the serial port and says HELLO.
    pub fn open(path: &Path, settings: &SerialSettings) -> Result<Terminal, TerminalError> {
        Terminal::open_with(std::sync::Arc::new(SerialOpener), path, settings)
    }

    /// Opens the serial port at `path` and authenticates with `secret`.
    pub fn open_authenticated(
        path: &Path,
        settings: &SerialSettings,
        secret: &Secret,
    ) -> Result<Terminal, TerminalError> {
        let mut t = Terminal::open(path, settings)?;
        t.authenticate(secret)?;
        Ok(t)
    }

    /// Who the terminal is, what state it is in and what it is bound to.
    pub fn inspect(&mut self) -> Result<Inspection, TerminalError> {
        Ok(Inspection {
            identity: self.identify()?,
            status: self.status()?,
            binding: self.read_binding()?,
            link: self.stats(),
        })
    }

    /// Opens the port `opener` makes of `path` (and reopens it the same way after a
    /// disconnect) and says HELLO.
    pub fn open_with(
        opener: std::sync::Arc<dyn Opener>,
        path: &Path,
        settings: &SerialSettings,
    ) -> Result<Terminal, TerminalError> {
        let mut t = Terminal {
            opener,
            path: path.to_path_buf(),
            settings: settings.clone(),
            link: None,
            key: None,
            identity: None,
            reported_serial: None,
            past: LinkStats::default(),
            started: Instant::now(),
            encoding: None,
            authority_root: None,
        };
        t.connect()?;
        Ok(t)
    }

    /// The port path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The provider root the terminal enforces authority for (its key id), as it said in
    /// HELLO; `None`: it does not enforce (docs/protocol.md §11).
    pub fn authority_root(&self) -> Option<[u8; 8]> {
        self.authority_root
    }

    fn unavailable(&self, source: LinkError) -> TerminalError {
        TerminalError::Unavailable {
            path: self.path.clone(),
            source,
        }
    }

    fn connect(&mut self) -> Result<(), TerminalError> {
        let port = self
            .opener
            .open(&self.path, &self.settings)
            .map_err(|e| self.unavailable(e.into()))?;
        let mut link = Link::new(port, self.settings.baud);
        let hello = Writer::new()
            .bytes(tag::VERSIONS, proto::VERSIONS)
            .bytes(tag::MAX_PAYLOAD, &proto::DEFAULT_MAX_PAYLOAD.to_be_bytes())
            .u8(tag::WINDOW, proto::DEFAULT_WINDOW)
            .bytes(tag::ENCODINGS, &[encoding::DEFLATE])
            .bytes(tag::BLOCKS, &proto::BLOCK_SIZE.to_be_bytes())
            .finish();
        let rsp = link.command(cmd::HELLO, hello).map_err(|e| self.unavailable(e))?;
        let terms = Terms::from_hello(&rsp)?;
        link.max_payload = terms.max_payload;
        link.window = terms.window;
        link.block = terms.block;
        self.encoding = terms.encoding;
        self.authority_root = terms.authority_root;
        self.link = Some(link);
        Ok(())
    }

    /// Drops the port and reopens the same path until it answers (and, when this session
    /// had authenticated, accepts our proof again) or time runs out.
    pub fn reconnect(&mut self) -> Result<(), TerminalError> {
        self.reconnect_within(proto::RECONNECT_TIMEOUT)
    }

    /// [`Terminal::reconnect`], trying for `within`.
    fn reconnect_within(&mut self, within: std::time::Duration) -> Result<(), TerminalError> {
        if let Some(old) = self.link.take() {
            self.past.absorb(&old.stats);
        }
        self.past.reconnects += 1;
        tracing::debug!(port = %self.path.display(), within_s = within.as_secs(), "reopening the port");
        let deadline = Instant::now() + within;
        loop {
            let attempt = self
                .connect()
                .and_then(|()| self.same_unit())
                .and_then(|()| match self.key.clone() {
                    Some(key) => self.prove(&key),
                    None => Ok(()),
                });
            match attempt {
                Ok(()) => return Ok(()),
                Err(TerminalError::Unavailable { .. } | TerminalError::AnotherUnit { .. })
                    if Instant::now() < deadline =>
                {
                    if let Some(old) = self.link.take() {
                        self.past.absorb(&old.stats);
                    }
                    std::thread::sleep(proto::RECONNECT_INTERVAL);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After a reconnect the path must lead to the unit we were talking to: a port name can
    /// point at another device once the cable came back (or at a recycled pseudo-terminal).
    fn same_unit(&mut self) -> Result<(), TerminalError> {
        let Some(known) = self.identity.as_ref().map(|i| i.serial.clone()) else {
            return Ok(());
        };
        let now = Identity::decode(&self.call_once(cmd::IDENTIFY, Vec::new())?)?.serial;
        if now == known {
            Ok(())
        } else {
            Err(TerminalError::AnotherUnit {
                path: self.path.clone(),
                expected: known,
                found: now,
            })
        }
    }

    fn link(&mut self) -> &mut Link<Box<dyn Port>> {
        self.link.as_mut().expect("connected")
    }

    fn command(&mut self, code: u8, payload: Vec<u8>) -> Result<Vec<u8>, TerminalError> {
        let r = self.link().command(code, payload);
        r.map_err(|e| self.unavailable(e))
    }

    /// One command, its result checked; no retry beyond the link's own.
    fn call_once(&mut self, code: u8, payload: Vec<u8>) -> Result<Vec<u8>, TerminalError> {
        let rsp = self.command(code, payload)?;
        check(code, &rsp)?;
        Ok(rsp)
    }

    /// A command; read-only ones are asked again after the port comes back from a
    /// disconnect. Changes are never repeated blindly.
    fn call(&mut self, code: u8, payload: Vec<u8>) -> Result<Vec<u8>, TerminalError> {
        let read_only = matches!(
            code,
            cmd::IDENTIFY | cmd::STATUS | cmd::READ_BINDING | cmd::EXPORT_END | cmd::DIGEST
        );
        if !read_only {
            return self.call_once(code, payload);
        }
        self.again_after_disconnects(|t| t.call_once(code, payload.clone()).map(Some))
    }

    /// Runs `attempt` until it gives a value (`Ok(None)`: run it again), reopening the port
    /// after each disconnect, up to [`MAX_RECONNECTS_PER_TRANSFER`] times.
    ///
    /// A port that went away is waited for up to [`proto::RECONNECT_TIMEOUT`]. A transfer
    /// that stalled (the line there, nothing moving for [`proto::BULK_STALL_TIMEOUT`]) is
    /// resumed over a new session opened within the same time; if that one stalls too at
    /// the same offset, the transfer is abandoned: at most three stall timeouts (15 s)
    /// after the last progress, whatever the reconnects.
    fn again_after_disconnects<T>(
        &mut self,
        mut attempt: impl FnMut(&mut Terminal) -> Result<Option<T>, TerminalError>,
    ) -> Result<T, TerminalError> {
        let mut reconnects = 0;
        let mut stalled_at = None;
        loop {
            match attempt(self) {
                Ok(Some(t)) => return Ok(t),
                Ok(None) => {}
                Err(TerminalError::Unavailable { source, path })
                    if source.is_disconnect() && reconnects < MAX_RECONNECTS_PER_TRANSFER =>
                {
                    let within = match source {
                        LinkError::Stalled { offset, .. } => {
                            if stalled_at == Some(offset) {
                                tracing::warn!(port = %path.display(), offset, "no progress after a reconnect: the transfer is abandoned");
                                return Err(TerminalError::Unavailable { source, path });
                            }
                            stalled_at = Some(offset);
                            proto::BULK_STALL_TIMEOUT
                        }
                        _ => {
                            stalled_at = None;
                            proto::RECONNECT_TIMEOUT
                        }
                    };
                    reconnects += 1;
                    self.reconnect_within(within)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Vendor, model, serial number and firmware.
    pub fn identify(&mut self) -> Result<Identity, TerminalError> {
        if let Some(id) = &self.identity {
            return Ok(id.clone());
        }
        let rsp = self.call(cmd::IDENTIFY, Vec::new())?;
        let id = Identity::decode(&rsp)?;
        self.reported_serial = Some(Fields::parse(&rsp)?.need_text(tag::DEVICE_SERIAL)?.to_string());
        self.identity = Some(id.clone());
        Ok(id)
    }

    /// Status, transaction counts and whether this session is authenticated.
    pub fn status(&mut self) -> Result<Status, TerminalError> {
        let rsp = self.call(cmd::STATUS, Vec::new())?;
        Ok(Status::decode(&rsp)?)
    }

    /// Mutual challenge-response with a key derived from the operator secret.
    pub fn authenticate(&mut self, secret: &Secret) -> Result<(), TerminalError> {
        self.identify()?;
        let serial = self.reported_serial.as_deref().unwrap_or_default();
        let key = Zeroizing::new(model::derive_key(secret.bytes(), serial));
        self.key = Some(key.clone());
        let r = match self.prove(&key) {
            // Cut off mid-handshake: reconnecting proves again with the same key.
            Err(TerminalError::Unavailable { source, .. }) if source.is_disconnect() => self.reconnect(),
            r => r,
        };
        if r.is_err() {
            self.key = None;
        }
        r
    }

    fn prove(&mut self, key: &[u8; 32]) -> Result<(), TerminalError> {
        let rsp = self.call_once(cmd::AUTH_BEGIN, Vec::new())?;
        let nonce_t: [u8; proto::NONCE_LEN] = Fields::parse(&rsp)?.need_array(tag::NONCE_TERMINAL)?;
        let mut nonce_a = [0u8; proto::NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce_a);
        let mac = model::agent_proof(key, &nonce_t, &nonce_a);
        let payload = Writer::new()
            .bytes(tag::NONCE_AGENT, &nonce_a)
            .bytes(tag::MAC, &mac)
            .finish();
        let rsp = self.call_once(cmd::AUTH_PROVE, payload)?;
        // A response without its proof is as unproven as a wrong proof.
        let terminal_mac = Fields::parse(&rsp)
            .ok()
            .and_then(|f| f.need(tag::MAC).ok().map(<[u8]>::to_vec))
            .ok_or(TerminalError::NotGenuine)?;
        if !model::verify_terminal_proof(key, &nonce_a, &nonce_t, &terminal_mac) {
            return Err(TerminalError::NotGenuine);
        }
        Ok(())
    }

    /// The current binding, full numbers included (shown masked by `Display`/serde).
    pub fn read_binding(&mut self) -> Result<Binding, TerminalError> {
        let rsp = self.call(cmd::READ_BINDING, Vec::new())?;
        Ok(Binding::decode(&rsp)?)
    }

    /// Exports an object, resuming after disconnects, and checks its SHA-256.
    pub fn export(&mut self, object: Object, progress: Progress<'_>) -> Result<Exported, TerminalError> {
        self.export_gated(object, progress, None, || ()).map(|(e, ())| e)
    }

    /// Exports an object as [`Terminal::export`] does, passing its bytes on to `feed` (if
    /// any) as they arrive and, at the end, whether they check. `gate` is called once every
    /// byte has arrived, before they are decoded and checked, and what it returns comes back
    /// with the export: a backup waits there for its turn at the processor (see
    /// `backup::take`) holding the bytes only as they travelled, often deflated.
    pub fn export_gated<G>(
        &mut self,
        object: Object,
        progress: Progress<'_>,
        feed: Option<&Feed>,
        gate: impl FnOnce() -> G,
    ) -> Result<(Exported, G), TerminalError> {
        let r = self.receive(object, progress, feed).and_then(|(buf, a)| {
            let g = gate();
            Ok((check_export(object, buf, &a)?, g))
        });
        if let Some(feed) = feed {
            feed.finish(r.as_ref().map(drop).map_err(ToString::to_string));
        }
        r
    }

    /// Receives an object's bytes as they travel, resuming after disconnects, with what the
    /// terminal announced of them.
    fn receive(
        &mut self,
        object: Object,
        progress: Progress<'_>,
        feed: Option<&Feed>,
    ) -> Result<(Vec<u8>, Announced), TerminalError> {
        let mut buf = Vec::new();
        let mut announced: Option<Announced> = None;
        self.again_after_disconnects(|t| {
            let done = t.try_export(object, &mut buf, &mut announced, progress, feed)?;
            Ok(done.then_some(()))
        })?;
        Ok((buf, announced.expect("set by a completed export")))
    }

    /// One attempt; `Ok(false)` means "start again" (the object changed meanwhile).
    fn try_export(
        &mut self,
        object: Object,
        buf: &mut Vec<u8>,
        announced: &mut Option<Announced>,
        progress: Progress<'_>,
        feed: Option<&Feed>,
    ) -> Result<bool, TerminalError> {
        // Resume from a whole unit of this session, which may cut frames otherwise than
        // the last one did (a prefix cut otherwise is read again).
        let unit = self.link().unit();
        buf.truncate(buf.len() / unit * unit);
        let mut payload = Writer::new();
        payload.u8(tag::OBJECT, object as u8).u32(tag::OFFSET, buf.len() as u32);
        if let Some(enc) = self.encoding {
            payload.u8(tag::ENCODING, enc);
        }
        let rsp = self.call(cmd::EXPORT_BEGIN, payload.finish())?;
        let this = Announced::decode(&rsp)?;
        if announced.as_ref().is_some_and(|a| *a != this) && !buf.is_empty() {
            // The object changed while we were away (or now travels otherwise): what we
            // hold is stale.
            buf.clear();
            *announced = Some(this);
            self.call(cmd::EXPORT_END, Vec::new())?;
            return Ok(false);
        }
        let stream = this.stream_len();
        if let Some(feed) = feed {
            feed.announce(&this);
        }
        *announced = Some(this);
        let mut tee = |offset: usize, bytes: &[u8]| {
            if let Some(feed) = feed {
                feed.put(offset, bytes);
            }
        };
        let end = self.link().recv_bulk_teeing(stream, buf, progress, &mut tee);
        match end.map_err(|e| self.unavailable(e))? {
            // (Only a sender starves.)
            BulkEnd::Complete | BulkEnd::Starved(_) => {}
            BulkEnd::Command(_) => {
                return Err(TerminalError::Invalid(ModelError::Invalid {
                    field: "bulk",
                    message: "terminal sent a command".into(),
                }));
            }
        }
        self.call(cmd::EXPORT_END, Vec::new())?;
        Ok(true)
    }

    /// The SHA-256, length and record count of an object as stored; `None` from a terminal
    /// without DIGEST (it answers "unknown command"), which must then be read back.
    pub fn digest(&mut self, object: Object) -> Result<Option<StoredDigest>, TerminalError> {
        let payload = Writer::new().u8(tag::OBJECT, object as u8).finish();
        match self.call(cmd::DIGEST, payload) {
            Ok(rsp) => Ok(Some(StoredDigest::decode(&rsp)?)),
            Err(TerminalError::Refused {
                result: result::UNKNOWN_COMMAND,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Imports an object, resuming after disconnects; the terminal verifies length, count
    /// and SHA-256 before it applies anything.
    pub fn import(
        &mut self,
        object: Object,
        data: &[u8],
        records: u32,
        progress: Progress<'_>,
    ) -> Result<(), TerminalError> {
        let sha: [u8; 32] = Sha256::digest(data).into();
        // Encoded once: a resumed attempt sends the same bytes.
        let mut deflated: Option<Vec<u8>> = None;
        self.again_after_disconnects(|t| {
            let encoded = t
                .encoding
                .map(|enc| (enc, &*deflated.get_or_insert_with(|| encoding::deflate(data))));
            t.try_import(object, data, encoded, &sha, records, progress).map(Some)
        })
    }

    /// One attempt, sending `encoded` (its encoding and bytes) in place of `data` when the
    /// session agreed on one.
    fn try_import(
        &mut self,
        object: Object,
        data: &[u8],
        encoded: Option<(u8, &Vec<u8>)>,
        sha: &[u8; 32],
        records: u32,
        progress: Progress<'_>,
    ) -> Result<(), TerminalError> {
        let announced = Announced {
            len: data.len(),
            sha256: *sha,
            records,
            encoded: encoded.map(|(enc, bytes)| (enc, bytes.len())),
        };
        let offset = self.import_begin(object, &announced)?;
        let data: &[u8] = encoded.map_or(data, |(_, b)| b);
        let end = self.link().send_bulk(data, offset, progress);
        end.map_err(|e| self.unavailable(e))?;
        self.import_commit(object, records)
    }

    /// Imports the object `feed` brings from another terminal's export while it arrives,
    /// as it travels (deflated stays deflated), resuming after disconnects and after waits
    /// for the export; commits only once the export's SHA-256 and record count have
    /// checked. `Ok(false)`: the object travels in an encoding this session did not agree
    /// on, so nothing was sent; import it whole once exported.
    pub fn import_fed(&mut self, object: Object, feed: &Feed, progress: Progress<'_>) -> Result<bool, TerminalError> {
        let failed = |what: String| TerminalError::Verification { object, what };
        let announced = feed.announced().map_err(failed)?;
        if announced.encoded.is_some_and(|(enc, _)| self.encoding != Some(enc)) {
            return Ok(false);
        }
        self.again_after_disconnects(|t| {
            let offset = t.import_begin(object, &announced)?;
            let end = t.link().send_bulk(feed, offset, progress);
            match end.map_err(|e| t.unavailable(e))? {
                // Sent all the export had so far: wait for more, then carry on.
                BulkEnd::Starved(at) => feed.more_than(at).map(|()| None).map_err(failed),
                _ => Ok(Some(())),
            }
        })?;
        feed.verdict().map_err(failed)?;
        self.import_commit(object, announced.records)?;
        Ok(true)
    }

    /// IMPORT_BEGIN: announces the object and returns the offset the terminal already holds.
    fn import_begin(&mut self, object: Object, a: &Announced) -> Result<usize, TerminalError> {
        let mut begin = Writer::new();
        begin
            .u8(tag::OBJECT, object as u8)
            .u32(tag::TOTAL_LEN, a.len as u32)
            .bytes(tag::SHA256, &a.sha256)
            .u32(tag::RECORD_COUNT, a.records);
        if let Some((enc, n)) = a.encoded {
            begin.u8(tag::ENCODING, enc).u32(tag::ENCODED_LEN, n as u32);
        }
        let rsp = self.call(cmd::IMPORT_BEGIN, begin.finish())?;
        let offset = Fields::parse(&rsp)?.need_u32(tag::OFFSET)? as usize;
        let (chunk, stream) = (self.link().unit(), a.stream_len());
        if offset > stream || (!offset.is_multiple_of(chunk) && offset != stream) {
            return Err(TerminalError::Invalid(ModelError::Invalid {
                field: "offset",
                message: crate::tr!("terminal-bad-offset", offset = offset),
            }));
        }
        Ok(offset)
    }

    /// IMPORT_COMMIT: the terminal checks and applies what it received.
    fn import_commit(&mut self, object: Object, records: u32) -> Result<(), TerminalError> {
        let rsp = self.call(cmd::IMPORT_COMMIT, Writer::new().u8(tag::OBJECT, object as u8).finish())?;
        // Records already held are merged, so fewer may be added, never more.
        let added = Fields::parse(&rsp)?.need_u32(tag::TRANSACTION_COUNT)?;
        if added > records {
            return Err(TerminalError::Verification {
                object,
                what: crate::tr!("terminal-too-many-imported", added = added, sent = records),
            });
        }
        Ok(())
    }

    /// Closes the batch; returns how many transactions were settled.
    pub fn settle(&mut self) -> Result<u32, TerminalError> {
        let rsp = self.call(cmd::SETTLE, Vec::new())?;
        Ok(Fields::parse(&rsp)?.need_u32(tag::TRANSACTION_COUNT)?)
    }

    /// `payload` of a changing command, with `authority` after it when this terminal
    /// enforces the provider's authority (one that does not is sent none).
    fn authorised(&self, payload: Vec<u8>, authority: Option<&Authority>) -> Vec<u8> {
        match authority {
            Some(a) if self.authority_root.is_some() => a.appended_to(payload),
            _ => payload,
        }
    }

    /// Removes part of the binding, or the whole device binding; `authority` for a
    /// terminal that enforces it.
    pub fn unbind(&mut self, part: BindingPart, authority: Option<&Authority>) -> Result<(), TerminalError> {
        let payload = Writer::new().u8(tag::OBJECT, part as u8).finish();
        let payload = self.authorised(payload, authority);
        self.call(cmd::UNBIND, payload).map(drop)
    }

    /// Writes the given binding (the fields present replace the terminal's).
    pub fn bind(&mut self, binding: &Binding, authority: Option<&Authority>) -> Result<(), TerminalError> {
        self.bind_items(binding.encode(), authority)
    }

    /// Writes binding items as given (`DF10` first; a card, an account or a phone alone is
    /// a binding too, the rest is kept).
    pub fn bind_items(&mut self, items: Vec<u8>, authority: Option<&Authority>) -> Result<(), TerminalError> {
        let payload = self.authorised(items, authority);
        self.call(cmd::BIND, payload).map(drop)
    }

    /// Activates a blank unit with a one-time code; the unit makes its own keys.
    pub fn activate(&mut self, code: &str, authority: Option<&Authority>) -> Result<(), TerminalError> {
        let payload = Writer::new().str(tag::ACTIVATION_CODE, code).finish();
        let payload = self.authorised(payload, authority);
        self.call(cmd::ACTIVATE, payload).map(drop)
    }

    /// Runs a test transaction of `amount_fen`.
    /// `reference` (12 characters) makes it idempotent: asked again with the same
    /// reference, the terminal returns the same transaction instead of making another.
    pub fn test_transaction(&mut self, amount_fen: u32, reference: &str) -> Result<TestResult, TerminalError> {
        let request = Writer::new()
            .bytes(tag::AMOUNT_AUTHORISED, &model::amount_bcd(u64::from(amount_fen)))
            .str(tag::RRN, reference)
            .finish();
        let rsp = self.call(cmd::TEST_TRANSACTION, request)?;
        let f = Fields::parse(&rsp)?;
        Ok(TestResult {
            amount_fen,
            auth_code: f.need_text(tag::AUTH_CODE)?.into(),
            rrn: f.need_text(tag::RRN)?.into(),
        })
    }

    /// Makes the terminal hold exactly `target` (as far as a binding goes): nothing when it
    /// does already; else removes the parts it lacks, then binds it whole (so the last command leaves `target`, which is
    /// what an authorisation of a restore or a roll-back is judged by), or unbinds the
    /// device for an unbound target.
    pub fn apply_binding(&mut self, target: &Binding, authority: Option<&Authority>) -> Result<(), TerminalError> {
        let now = self.read_binding()?;
        if now == *target {
            return Ok(());
        }
        if target.status == DeviceStatus::Unbound {
            if now.status != DeviceStatus::Unbound {
                self.unbind(BindingPart::Device, authority)?;
            }
            return Ok(());
        }
        if target.phone.is_none() && now.phone.is_some() {
            self.unbind(BindingPart::Phone, authority)?;
        }
        if target.card.is_none() && now.card.is_some() {
            self.unbind(BindingPart::Card, authority)?;
        }
        if target.account.is_none() && now.account.is_some() {
            self.unbind(BindingPart::Account, authority)?;
        }
        self.bind(target, authority)
    }

    /// Restarts the terminal; the session must authenticate again afterwards.
    pub fn reboot(&mut self) -> Result<(), TerminalError> {
        self.call(cmd::REBOOT, Vec::new())?;
        self.reconnect()
    }

    /// Link counters since the port was first opened, across reconnects.
    pub fn stats(&self) -> LinkStats {
        let mut s = self.past.clone();
        if let Some(l) = &self.link {
            s.absorb(&l.stats);
        }
        s.elapsed_seconds = self.started.elapsed().as_secs_f64();
        s
    }
}

/// An object's bytes as they arrived, decoded (when they travelled deflated) and checked
/// against what the terminal announced: SHA-256 and record count.
fn check_export(object: Object, mut buf: Vec<u8>, a: &Announced) -> Result<Exported, TerminalError> {
    if let Some((enc, _)) = a.encoded {
        buf = encoding::decode(enc, &buf, a.len).map_err(|e| TerminalError::Verification {
            object,
            what: e.to_string(),
        })?;
    }
    let got: [u8; 32] = Sha256::digest(&buf).into();
    if got != a.sha256 {
        return Err(TerminalError::Verification {
            object,
            what: "SHA-256 of the received bytes differs from the terminal's".into(),
        });
    }
    let counted = model::count_records(object, &buf)?;
    if counted != a.records {
        return Err(TerminalError::Verification {
            object,
            what: crate::tr!("terminal-count-differs", announced = a.records, sent = counted),
        });
    }
    Ok(Exported {
        data: buf,
        sha256: a.sha256,
        records: a.records,
    })
}

/// Parses a response and turns a non-OK result into an error.
fn check(code: u8, rsp: &[u8]) -> Result<Fields<'_>, TerminalError> {
    let f = Fields::parse(rsp)?;
    let r = f.need_u8(tag::RESULT)?;
    if r == result::OK {
        return Ok(f);
    }
    let message = f
        .text(tag::MESSAGE)?
        .map_or_else(|| crate::tr!("drain-no-reason"), str::to_string);
    Err(match r {
        result::AUTH_FAILED => TerminalError::WrongSecret {
            left: f.need_u32(tag::AUTH_FAILURES_LEFT).unwrap_or(0),
        },
        result::LOCKED_OUT => TerminalError::LockedOut {
            seconds: f.need_u32(tag::LOCKED_SECONDS).unwrap_or(0),
        },
        result::NOT_AUTHORISED => TerminalError::NotAuthorised {
            command: command_name(code),
            message,
        },
        _ => TerminalError::Refused {
            command: command_name(code),
            result: r,
            message,
        },
    })
}
