//! Backup archives: one zip file, every entry AES-256 encrypted (WinZip AE-2, which `7z`
//! opens given the password), with a manifest that records each entry's size and SHA-256.
//!
//! ```text
//! manifest.json        format version, agent version, profile, terminal identity, time,
//!                      technician, job id, and size + SHA-256 of every other entry
//! binding.json         the binding with full numbers (the reason the archive is encrypted)
//! params.json          the terminal's parameters
//! transactions.jsonl   the transaction log, one record per line
//! evidence/NAME        scans of documents, as given
//! ```
//! Terminal keys are never in a backup. Archives are written to a temporary file in the
//! target directory, fsynced, then renamed, so a crash never leaves half an archive under
//! the final name.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zip::{AesMode, ZipArchive};

use crate::domain::{DeviceStatus, DomainError, MAX_NAME_CHARS, plain_text};
use crate::link::bulk::Progress;
use crate::link::proto::Object;
use crate::terminal::model::{self, AccountBinding, Binding, CardBinding, Identity, TxnRecord};
use crate::terminal::{Exported, Feed, Terminal, TerminalError};

mod winzip;

use winzip::KeyRing;

/// The archive format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the manifest entry.
pub const MANIFEST: &str = "manifest.json";
/// Shortest backup password accepted, in characters (not bytes: `开心面馆…` counts 1 each).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The one rule for backup passwords (docs/security.md): at least [`MIN_PASSWORD_CHARS`]
/// characters. A password that is not UTF-8 is counted in bytes.
pub fn check_password(password: &[u8]) -> Result<(), BackupError> {
    let chars = std::str::from_utf8(password).map_or(password.len(), |s| s.chars().count());
    if chars < MIN_PASSWORD_CHARS {
        return Err(BackupError::WeakPassword);
    }
    Ok(())
}

/// Why an archive could not be written or trusted.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{}", crate::tr!("backup-exists", file = .0.display().to_string()))]
    Exists(PathBuf),
    #[error("{}", crate::tr!("backup-weak-password", min = MIN_PASSWORD_CHARS))]
    WeakPassword,
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{}", crate::tr!("backup-not-archive", file = .0.display().to_string()))]
    NotAnArchive(PathBuf),
    #[error("{}", crate::tr!("backup-wrong-password", file = .0.display().to_string()))]
    WrongPassword(PathBuf),
    #[error("{}", crate::tr!("backup-entry-missing", file = .path.display().to_string(), entry = .entry.as_str()))]
    Missing { path: PathBuf, entry: String },
    #[error("{}", crate::tr!("backup-entry-altered", file = .path.display().to_string(), entry = .entry.as_str(), what = .what.as_str()))]
    Altered { path: PathBuf, entry: String, what: String },
    #[error("{}", crate::tr!("backup-entry-unlisted", file = .path.display().to_string(), entry = .entry.as_str()))]
    Unexpected { path: PathBuf, entry: String },
    #[error("{}", crate::tr!("backup-entry-unencrypted", file = .path.display().to_string(), entry = .entry.as_str()))]
    NotEncrypted { path: PathBuf, entry: String },
    #[error("{}", crate::tr!("backup-unknown-format", file = .path.display().to_string(), found = *.found, known = FORMAT_VERSION))]
    UnknownFormat { path: PathBuf, found: u32 },
    #[error("{path}: {what}")]
    Limit { path: PathBuf, what: String },
    #[error(transparent)]
    Unreadable(Box<crate::input::InputError>),
    #[error("{}", crate::tr!("backup-not-recorded", reason = .0.to_string()))]
    Record(Box<crate::store::StoreError>),
    /// A record of the log as the terminal sent it does not decode: the terminal's data is
    /// at fault, not the archive ([`take`] reports it as the terminal's).
    #[error(transparent)]
    BadRecord(model::ModelError),
    #[error("{}", crate::tr!("backup-entry-invalid", file = .path.display().to_string(), entry = .entry.as_str(), reason = .message.as_str()))]
    Invalid {
        path: PathBuf,
        entry: String,
        message: String,
    },
}

impl BackupError {
    /// A stable machine code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::Exists(_) => "file_exists",
            BackupError::WeakPassword => "weak_password",
            BackupError::Io { .. } => "backup_io",
            BackupError::NotAnArchive(_) => "not_an_archive",
            BackupError::WrongPassword(_) => "wrong_password",
            BackupError::Missing { .. } => "archive_entry_missing",
            BackupError::Altered { .. } => "archive_altered",
            BackupError::Unexpected { .. } => "archive_entry_unlisted",
            BackupError::NotEncrypted { .. } => "archive_not_encrypted",
            BackupError::UnknownFormat { .. } => "archive_format_unknown",
            BackupError::Limit { .. } => "archive_too_large",
            BackupError::Unreadable(_) => "file_unreadable",
            BackupError::Record(_) => "backup_not_recorded",
            BackupError::BadRecord(_) => "terminal_invalid_data",
            BackupError::Invalid { .. } => "archive_invalid",
        }
    }
}

/// One entry as the manifest lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntryInfo {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// What an entry holds: bytes, or the terminal's transaction log, written out as JSON
/// lines record by record as the entry is written (the lines are never all in memory).
pub enum Body<'a> {
    Bytes(Vec<u8>),
    Log(&'a [u8]),
}

impl Body<'_> {
    fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        match self {
            Body::Bytes(bytes) => w.write_all(bytes),
            Body::Log(log) => {
                let mut out = std::io::BufWriter::with_capacity(64 << 10, w);
                model::for_each_record(log, |r| {
                    serde_json::to_writer(&mut out, &r)?;
                    out.write_all(b"\n")
                })?;
                out.flush()
            }
        }
    }
}

impl From<model::ModelError> for std::io::Error {
    /// Kept whole inside: an entry whose record does not decode is told apart from a file
    /// that cannot be written ([`entry_err`]).
    fn from(e: model::ModelError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// Counts and hashes what is written to it.
#[derive(Default)]
struct Tally {
    sha: Sha256,
    size: u64,
}

impl Write for Tally {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sha.update(buf);
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Passes what is written on to `inner`, counting and hashing it.
struct Tee<'w> {
    inner: &'w mut dyn Write,
    tally: &'w mut Tally,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.tally.write_all(&buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub agent_version: String,
    pub profile: String,
    pub terminal: Identity,
    pub created_at: String,
    pub technician: Option<String>,
    pub job_id: Option<String>,
    pub entries: Vec<EntryInfo>,
}

/// The binding with full numbers, as stored inside the encrypted archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredBinding {
    pub status: DeviceStatus,
    pub mid: Option<String>,
    pub tid: Option<String>,
    pub merchant_name: Option<String>,
    pub card: Option<StoredCard>,
    pub account: Option<StoredAccount>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredCard {
    pub number: String,
    pub holder: String,
    pub expiry: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredAccount {
    pub number: String,
    pub holder: String,
    pub bank: String,
    pub branch_code: String,
}

impl StoredBinding {
    /// The full form of a binding (for the encrypted archive only).
    pub fn from_binding(b: &Binding) -> StoredBinding {
        StoredBinding {
            status: b.status,
            mid: b.mid.as_ref().map(|m| m.as_str().to_string()),
            tid: b.tid.as_ref().map(|t| t.as_str().to_string()),
            merchant_name: b.merchant_name.clone(),
            card: b.card.as_ref().map(|c| StoredCard {
                number: c.pan.expose_full().to_string(),
                holder: c.holder.as_str().to_string(),
                expiry: c.expiry.clone(),
            }),
            account: b.account.as_ref().map(|a| StoredAccount {
                number: a.number.expose_full().to_string(),
                holder: a.holder.as_str().to_string(),
                bank: a.bank.clone(),
                branch_code: a.branch.as_str().to_string(),
            }),
            phone: b.phone.as_ref().map(|p| p.as_str().to_string()),
        }
    }

    /// Back to a validated binding.
    pub fn to_binding(&self) -> Result<Binding, String> {
        fn e(field: &'static str) -> impl Fn(crate::domain::DomainError) -> String {
            move |err| format!("{field} {err}")
        }

        Ok(Binding {
            status: self.status,
            mid: self.mid.as_deref().map(str::parse).transpose().map_err(e("mid"))?,
            tid: self.tid.as_deref().map(str::parse).transpose().map_err(e("tid"))?,
            merchant_name: self
                .merchant_name
                .as_deref()
                .map(|n| plain_text(n, MAX_NAME_CHARS))
                .transpose()
                .map_err(e("merchant name"))?,
            card: match &self.card {
                Some(c) => Some(CardBinding {
                    pan: c.number.parse().map_err(e("card number"))?,
                    holder: c.holder.parse().map_err(e("card holder"))?,
                    expiry: c
                        .expiry
                        .as_deref()
                        .map(valid_expiry)
                        .transpose()
                        .map_err(e("card expiry"))?,
                }),
                None => None,
            },
            account: match &self.account {
                Some(a) => Some(AccountBinding {
                    number: a.number.parse().map_err(e("account number"))?,
                    holder: a.holder.parse().map_err(e("account holder"))?,
                    bank: plain_text(&a.bank, MAX_NAME_CHARS).map_err(e("bank"))?,
                    branch: a.branch_code.parse().map_err(e("branch code"))?,
                }),
                None => None,
            },
            phone: self.phone.as_deref().map(str::parse).transpose().map_err(e("phone"))?,
        })
    }
}

/// A stored expiry: `MMYY` as the terminal holds it (it may lie in the past).
fn valid_expiry(s: &str) -> Result<String, DomainError> {
    let ok = s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) && matches!(s[..2].parse::<u8>(), Ok(1..=12));
    ok.then(|| s.to_string()).ok_or(DomainError::Rule("rule-mmyy"))
}

/// What a backup holds besides its manifest.
#[derive(Debug, Clone)]
pub struct Contents {
    pub binding: Binding,
    pub params: crate::terminal::model::Params,
    /// The transaction log as the terminal sent it (its records checked when it came).
    pub log: Exported,
    /// (file name, bytes) of evidence scans.
    pub evidence: Vec<(String, Vec<u8>)>,
}

/// Metadata for a new archive; entries are filled in when it is written.
pub struct ManifestBase {
    pub profile: String,
    pub terminal: Identity,
    pub technician: Option<String>,
    pub job_id: Option<String>,
}

/// A written archive.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub path: PathBuf,
    pub size: u64,
    /// SHA-256 of the archive file itself.
    pub sha256: String,
    pub manifest: Manifest,
}

/// Why an entry could not be written to the archive at `tmp`: a record of the log that does
/// not decode is the terminal's data at fault, anything else the file.
fn entry_err(tmp: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |e| {
        if !e.get_ref().is_some_and(|inner| inner.is::<model::ModelError>()) {
            return io_err(tmp)(e);
        }
        match e.into_inner().map(|inner| inner.downcast::<model::ModelError>()) {
            Some(Ok(bad)) => BackupError::BadRecord(*bad),
            other => BackupError::Io {
                path: tmp.to_path_buf(),
                message: format!("{other:?}"),
            },
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Io {
        path: path.to_path_buf(),
        message: crate::input::describe_io(&e),
    }
}

/// Entries an archive of `evidence` documents holds: the manifest, the binding, the
/// parameters, the log and each document (see [`entries_of`]).
fn entry_count(evidence: usize) -> usize {
    4 + evidence
}

/// Serialises the contents into named entries (manifest excluded).
fn entries_of(c: &Contents) -> Result<Vec<(String, Body<'_>)>, serde_json::Error> {
    let mut out = vec![
        (
            "binding.json".to_string(),
            Body::Bytes(serde_json::to_vec_pretty(&StoredBinding::from_binding(&c.binding))?),
        ),
        (
            "params.json".to_string(),
            Body::Bytes(serde_json::to_vec_pretty(&c.params)?),
        ),
        ("transactions.jsonl".to_string(), Body::Log(&c.log.data)),
    ];
    let mut used = std::collections::BTreeSet::new();
    for (i, (name, bytes)) in c.evidence.iter().enumerate() {
        let base = Path::new(name)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("evidence");
        let entry = if used.insert(base.to_string()) {
            format!("evidence/{base}")
        } else {
            format!("evidence/{i}-{base}")
        };
        out.push((entry, Body::Bytes(bytes.clone())));
    }
    Ok(out)
}

/// What a backup read from a terminal: the archive's contents, and the parameters and the
/// log as they came (for a migration, which imports them into the new unit).
struct Captured {
    contents: Contents,
    params: Exported,
    turn: Turn,
}

/// Reads everything a backup holds from an authenticated terminal: binding, parameters
/// and the full transaction log (each transfer verified by SHA-256), passing the log on to
/// `feed` as it arrives when there is one.
fn capture(
    t: &mut Terminal,
    evidence: Vec<(String, Vec<u8>)>,
    progress: Progress<'_>,
    feed: Option<&Feed>,
) -> Result<Captured, TerminalError> {
    let binding = t.read_binding()?;
    let params = t.export(Object::Parameters, progress)?;
    // The log is decoded, checked, written out and read back in the archive's turn (see
    // [`keep`]): a depot's jobs whose logs arrive together wait holding them as they
    // travelled, not decoded.
    // Every record must read (a backup holds none it could not write back): each is decoded
    // once, as the archive is written (`BackupError::BadRecord`).
    let (log, turn) = t.export_gated(Object::TransactionLog, progress, feed, || WRITING.take())?;
    let invalid = |e| TerminalError::Invalid(e);
    Ok(Captured {
        contents: Contents {
            binding,
            params: model::decode_params(&params.data).map_err(invalid)?,
            log,
            evidence,
        },
        params,
        turn,
    })
}

/// Who a backup is taken for, and how it is kept (see [`take`]).
pub struct Taking<'a> {
    pub profile: String,
    pub technician: Option<String>,
    pub job_id: Option<String>,
    pub password: &'a [u8],
    /// Whether an existing file may be replaced.
    pub force: bool,
    pub store: &'a mut crate::store::Store,
    /// Where the log goes on to as it arrives (a one-pass migration's import), if anywhere.
    pub feed: Option<&'a Feed>,
}

/// A backup taken: the terminal it came from, what it holds, the archive and its record.
pub struct Taken {
    pub identity: Identity,
    pub contents: Contents,
    pub written: Written,
    pub record: crate::store::BackupRecord,
    /// The parameters as the terminal sent them (the log is in `contents`).
    pub params: Exported,
}

/// Why no backup was taken.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    #[error(transparent)]
    Terminal(#[from] TerminalError),
    #[error(transparent)]
    Backup(#[from] BackupError),
}

/// Reads an authenticated terminal ([`capture`]) and keeps a verified archive of it
/// ([`keep`]) where `place` says for the unit identified: the one way `posagent backup`, a
/// job's backup step and a restore's backup of what it overwrites take one.
pub fn take(
    t: &mut Terminal,
    evidence: Vec<(String, Vec<u8>)>,
    progress: Progress<'_>,
    place: impl FnOnce(&Identity) -> PathBuf,
    how: Taking<'_>,
) -> Result<Taken, TakeError> {
    let identity = t.identify()?;
    // The entries' keys are derived while the log is on the line, not in the archive's turn.
    let keys = KeyRing::ahead(how.password, entry_count(evidence.len()));
    let Captured { contents, params, turn } = capture(t, evidence, progress, how.feed)?;
    let keys = keys.ready(how.password);
    let path = place(&identity);
    let base = ManifestBase {
        profile: how.profile,
        terminal: identity.clone(),
        technician: how.technician,
        job_id: how.job_id,
    };
    let (written, record) =
        keep(&path, base, &contents, how.password, keys, how.force, how.store, turn).map_err(|e| match e {
            BackupError::BadRecord(bad) => TakeError::Terminal(TerminalError::Invalid(bad)),
            e => TakeError::Backup(e),
        })?;
    Ok(Taken {
        identity,
        contents,
        written,
        record,
        params,
    })
}

/// Writes an archive atomically. `force` allows replacing an existing file.
pub fn write_archive(
    path: &Path,
    base: ManifestBase,
    contents: &Contents,
    password: &[u8],
    force: bool,
) -> Result<Written, BackupError> {
    let (partial, manifest) = stage_archive(path, base, contents, password, &mut KeyRing::default(), force)?;
    let (size, sha256) = digest_of(partial.path())?;
    partial.place(path)?;
    Ok(Written {
        path: path.to_path_buf(),
        size,
        sha256,
        manifest,
    })
}

/// Writes an archive for `path` under its temporary name (see [`Partial`]), with the keys
/// of `keys` and any more the password makes.
fn stage_archive(
    path: &Path,
    base: ManifestBase,
    contents: &Contents,
    password: &[u8],
    keys: &mut KeyRing,
    force: bool,
) -> Result<(Partial, Manifest), BackupError> {
    check_password(password)?;
    if path.exists() && !force {
        return Err(BackupError::Exists(path.to_path_buf()));
    }
    let entries = entries_of(contents).map_err(|e| BackupError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    keys.ensure(password, entries.len() + 1);
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut manifest = None;
    let partial = write_zip(path, &entries, keys, |listed| {
        let m = Manifest {
            format_version: FORMAT_VERSION,
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            profile: base.profile,
            terminal: base.terminal,
            created_at,
            technician: base.technician,
            job_id: base.job_id,
            entries: listed,
        };
        let bytes = serde_json::to_vec_pretty(&m).map_err(std::io::Error::other);
        manifest = Some(m);
        bytes
    })?;
    Ok((partial, manifest.expect("written with the archive")))
}

/// A file's size and SHA-256 (hex).
fn digest_of(path: &Path) -> Result<(u64, String), BackupError> {
    let mut sha = Sha256::new();
    let size = std::io::copy(&mut std::fs::File::open(path).map_err(io_err(path))?, &mut sha).map_err(io_err(path))?;
    Ok((size, hex::encode(sha.finalize())))
}

/// Writes an archive, reads it back and records it in the database: the one way a backup
/// comes to exist. Compressing, encrypting and reading back is work for the processor, and
/// each archive being written holds its compressor's state: it is done in a `turn` of
/// [`WRITING`], as many at once as there are cores. The archive is read back under its
/// temporary name and put in place only once it has; waiting for the disk comes after the
/// turn is given back, so no core idles on it. On any failure nothing is left under `path`,
/// so there is never a complete archive that `backup list` does not know, nor one that did
/// not verify. `keys` are the entries' (see [`winzip`]): the read-back opens them without
/// deriving them again.
#[expect(clippy::too_many_arguments, reason = "each is one of the archive's inputs")]
fn keep(
    path: &Path,
    base: ManifestBase,
    contents: &Contents,
    password: &[u8],
    mut keys: KeyRing,
    force: bool,
    store: &mut crate::store::Store,
    turn: Turn,
) -> Result<(Written, crate::store::BackupRecord), BackupError> {
    let job_id = base.job_id.clone();
    let serial = base.terminal.serial.clone();
    let profile = base.profile.clone();
    let (partial, manifest) = stage_archive(path, base, contents, password, &mut keys, force)?;
    // Only a backup that reads back counts: no change before a verified backup.
    let opened = open_archive_at(partial.path(), path, Unlock::Keys(&keys), Lines::Counted)?;
    if opened.transactions != contents.log.records as usize {
        return Err(BackupError::Altered {
            path: path.to_path_buf(),
            entry: "transactions.jsonl".into(),
            what: crate::tr!(
                "backup-count-differs",
                written = contents.log.records,
                read = opened.transactions
            ),
        });
    }
    let (size, sha256) = digest_of(partial.path())?;
    drop(turn);
    partial.place(path)?;
    let written = Written {
        path: path.to_path_buf(),
        size,
        sha256,
        manifest,
    };
    let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut record = crate::store::BackupRecord {
        id: 0,
        created_at: written.manifest.created_at.clone(),
        terminal_serial: serial,
        profile,
        file: file.display().to_string(),
        size: written.size,
        sha256: written.sha256.clone(),
        transactions: contents.log.records,
        job_id,
    };
    match store.record_backup(&record) {
        Ok(id) => {
            record.id = id;
            Ok((written, record))
        }
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(BackupError::Record(Box::new(e)))
        }
    }
}

/// Archives written at once in this process (see [`keep`]).
static WRITING: Turns = Turns::new();

/// At most as many holders at once as the machine has cores; the others wait their turn.
struct Turns {
    held: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

/// A turn, given back when dropped.
struct Turn(&'static Turns);

impl Turns {
    const fn new() -> Turns {
        Turns {
            held: std::sync::Mutex::new(0),
            freed: std::sync::Condvar::new(),
        }
    }

    fn take(&'static self) -> Turn {
        let most = crate::machine::cores();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        while *held >= most {
            held = self.freed.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        *held += 1;
        Turn(self)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        *self.0.held.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

/// Writes entries and then a manifest as an encrypted zip, via a temporary file.
pub fn write_entries(
    path: &Path,
    manifest: &[u8],
    entries: &[(String, Body<'_>)],
    password: &[u8],
) -> Result<(), BackupError> {
    let keys = KeyRing::derive(password, entries.len() + 1);
    write_zip(path, entries, &keys, |_| Ok(manifest.to_vec()))?.place(path)
}

/// An archive written whole under a temporary name beside its place (`.NAME.partial`), not
/// yet flushed to disk: [`place`](Partial::place) flushes it and renames it into place;
/// dropped before, it is removed (half an archive, or one that did not read back, is no
/// backup).
struct Partial {
    tmp: PathBuf,
    file: Option<std::fs::File>,
}

impl Partial {
    fn path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes the archive to disk, renames it to `path` and makes the rename durable.
    fn place(mut self, path: &Path) -> Result<(), BackupError> {
        if let Some(file) = self.file.take() {
            file.sync_all().map_err(io_err(&self.tmp))?;
        }
        std::fs::rename(&self.tmp, path).map_err(io_err(path))?;
        self.tmp = PathBuf::new();
        if let Ok(d) = std::fs::File::open(dir_of(path)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The directory a file is in (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `entries`, each hashed as it is written, then the manifest `manifest` makes of
/// their list, as an encrypted zip under the temporary name of `path`, each with its keys
/// from `keys` in turn: each entry is serialised once.
fn write_zip(
    path: &Path,
    entries: &[(String, Body<'_>)],
    keys: &KeyRing,
    manifest: impl FnOnce(Vec<EntryInfo>) -> std::io::Result<Vec<u8>>,
) -> Result<Partial, BackupError> {
    let tmp = dir_of(path).join(format!(
        ".{}.partial",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("backup")
    ));
    let file = crate::private::create(&tmp).map_err(io_err(&tmp))?;
    let mut partial = Partial { tmp, file: None };
    let tmp = partial.tmp.clone();
    let mut zip = winzip::Writer::new(std::io::BufWriter::with_capacity(64 << 10, file));
    let mut listed = Vec::with_capacity(entries.len());
    for (i, (name, body)) in entries.iter().enumerate() {
        let mut tally = Tally::default();
        zip.entry(name, keys.get(i), |out| {
            let mut tee = Tee {
                inner: out,
                tally: &mut tally,
            };
            body.write_to(&mut tee)
        })
        .map_err(entry_err(&tmp))?;
        listed.push(EntryInfo {
            name: name.clone(),
            size: tally.size,
            sha256: hex::encode(tally.sha.finalize()),
        });
    }
    let manifest = manifest(listed).map_err(io_err(&tmp))?;
    zip.entry(MANIFEST, keys.get(entries.len()), |out| out.write_all(&manifest))
        .map_err(io_err(&tmp))?;
    let file = zip
        .finish()
        .and_then(|out| out.into_inner().map_err(|e| e.into_error()));
    partial.file = Some(file.map_err(io_err(&tmp))?);
    Ok(partial)
}

/// Most entries an archive may hold (manifest, binding, parameters, log and evidence).
pub const MAX_ENTRIES: usize = 64;
/// Most bytes all entries together may hold once decompressed.
pub const MAX_TOTAL_SIZE: u64 = 1 << 30;
/// Largest JSON document (manifest, binding, parameters) parsed from an archive; the only
/// entries ever held in memory whole.
pub const MAX_JSON_ENTRY: u64 = 4 << 20;
/// Longest line of the transaction log.
pub const MAX_LOG_LINE: u64 = 64 << 10;

/// What an archive holds, as checked by [`read_archive`]: the binding and parameters to
/// restore, and what the rest amounts to. The log and the evidence are only streamed
/// through their checksums, never held in memory.
#[derive(Debug, Clone)]
pub struct Opened {
    pub manifest: Manifest,
    pub binding: Binding,
    pub params: crate::terminal::model::Params,
    /// Records in `transactions.jsonl`, each of which parsed.
    pub transactions: usize,
    /// Names of the evidence entries.
    pub evidence: Vec<String>,
}

/// Whether an entry name is one the format allows: the fixed names, or `evidence/NAME`
/// with a plain file name. Anything with `..`, a leading `/`, a backslash, a drive or NUL
/// is refused before anything is read.
fn allowed_name(name: &str) -> bool {
    const FIXED: [&str; 4] = [MANIFEST, "binding.json", "params.json", "transactions.jsonl"];
    if FIXED.contains(&name) {
        return true;
    }
    name.strip_prefix("evidence/").is_some_and(|base| {
        !base.is_empty()
            && base != "."
            && base != ".."
            && !base
                .chars()
                .any(|c| matches!(c, '/' | '\\' | ':' | '\0') || c.is_control())
    })
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
    len: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Reads and checks an archive without ever holding more than one small JSON document in
/// memory: the entry list (count, names, no duplicates, every entry AES-256), the password,
/// the manifest (no entry twice, sizes within [`MAX_TOTAL_SIZE`]), then every entry
/// streamed through its size and SHA-256, the log parsed line by line and the binding
/// validated like an order.
pub fn read_archive(path: &Path, password: &[u8]) -> Result<Opened, BackupError> {
    open_archive(path, Unlock::Password(password), Lines::Parsed)
}

/// How [`open_archive`] reads the log's lines.
#[derive(Clone, Copy)]
enum Lines {
    /// Each parsed as a record: an archive from anywhere.
    Parsed,
    /// Only counted: the read-back of an archive this process has just written, whose
    /// lines it serialised itself from records it decoded; their SHA-256 against the
    /// manifest's is what shows they are on disk as written (parsing them again took a
    /// quarter of the read-back's time).
    Counted,
}

/// [`read_archive`], with the log's lines read as `lines` says.
fn open_archive(path: &Path, unlock: Unlock<'_>, lines: Lines) -> Result<Opened, BackupError> {
    open_archive_at(path, path, unlock, lines)
}

/// [`open_archive`] of the file at `file`, named `path` in what it says (an archive read
/// back under its temporary name is the one that will be at `path`).
fn open_archive_at(file: &Path, path: &Path, unlock: Unlock<'_>, lines: Lines) -> Result<Opened, BackupError> {
    let invalid = |entry: &str, message: String| BackupError::Invalid {
        path: path.to_path_buf(),
        entry: entry.to_string(),
        message,
    };
    let (file, _) =
        crate::input::open_regular(file, crate::input::MAX_ARCHIVE_FILE, &crate::tr!("what-backup-archive"))
            .map_err(|e| BackupError::Unreadable(Box::new(e)))?;
    let mut zip = ZipArchive::new(file).map_err(|_| BackupError::NotAnArchive(path.to_path_buf()))?;
    if zip.len() > MAX_ENTRIES {
        return Err(BackupError::Limit {
            path: path.to_path_buf(),
            what: crate::tr!("backup-too-many-entries", count = zip.len(), max = MAX_ENTRIES),
        });
    }
    if zip.has_duplicate_names() {
        return Err(invalid("(archive)", crate::tr!("backup-duplicate-names")));
    }
    let mut names = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|_| BackupError::NotAnArchive(path.to_path_buf()))?;
        let name = String::from_utf8(entry.name_raw().to_vec())
            .ok()
            .filter(|n| allowed_name(n))
            .ok_or_else(|| {
                invalid(
                    &String::from_utf8_lossy(entry.name_raw()).escape_debug().to_string(),
                    "is not a name a posagent backup may hold (no '..', absolute paths, backslashes or NUL)".into(),
                )
            })?;
        let aes256 = matches!(
            zip::HasZipMetadata::get_metadata(&entry).aes_settings(),
            Some((AesMode::Aes256, _))
        );
        if !entry.encrypted() || !aes256 {
            return Err(BackupError::NotEncrypted {
                path: path.to_path_buf(),
                entry: name,
            });
        }
        names.push((name, entry.size()));
    }
    if !names.iter().any(|(n, _)| n == MANIFEST) {
        return Err(BackupError::Missing {
            path: path.to_path_buf(),
            entry: MANIFEST.into(),
        });
    }
    let manifest_bytes = read_json_entry(&mut zip, path, MANIFEST, unlock)?;
    #[derive(Deserialize)]
    struct Version {
        format_version: u32,
    }
    let v: Version = serde_json::from_slice(&manifest_bytes).map_err(|e| invalid(MANIFEST, e.to_string()))?;
    if v.format_version != FORMAT_VERSION {
        return Err(BackupError::UnknownFormat {
            path: path.to_path_buf(),
            found: v.format_version,
        });
    }
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| invalid(MANIFEST, e.to_string()))?;
    drop(manifest_bytes);
    let mut listed = std::collections::BTreeSet::new();
    let mut total: u64 = 0;
    for e in &manifest.entries {
        if !listed.insert(e.name.as_str()) {
            return Err(invalid(
                MANIFEST,
                crate::tr!("backup-listed-twice", entry = e.name.as_str()),
            ));
        }
        total = total.saturating_add(e.size);
    }
    if total > MAX_TOTAL_SIZE {
        return Err(BackupError::Limit {
            path: path.to_path_buf(),
            what: crate::tr!("backup-too-large", total = total, max = MAX_TOTAL_SIZE),
        });
    }
    if let Some((extra, _)) = names
        .iter()
        .find(|(n, _)| n != MANIFEST && !listed.contains(n.as_str()))
    {
        return Err(BackupError::Unexpected {
            path: path.to_path_buf(),
            entry: extra.clone(),
        });
    }
    let (mut binding, mut params, mut transactions) = (None, None, None);
    for e in &manifest.entries {
        let altered = |what: String| BackupError::Altered {
            path: path.to_path_buf(),
            entry: e.name.clone(),
            what,
        };
        match names.iter().find(|(n, _)| *n == e.name) {
            None => {
                return Err(BackupError::Missing {
                    path: path.to_path_buf(),
                    entry: e.name.clone(),
                });
            }
            Some((_, size)) if *size != e.size => {
                return Err(altered(crate::tr!("backup-size-differs")));
            }
            Some(_) => {}
        }
        let entry = open_entry(&mut zip, path, &e.name, unlock)?;
        let mut reader = Hashing {
            inner: entry.take(e.size + 1),
            sha: Sha256::new(),
            len: 0,
        };
        match e.name.as_str() {
            "binding.json" | "params.json" => {
                if e.size > MAX_JSON_ENTRY {
                    return Err(BackupError::Limit {
                        path: path.to_path_buf(),
                        what: crate::tr!(
                            "backup-entry-too-large",
                            entry = e.name.as_str(),
                            size = e.size,
                            max = MAX_JSON_ENTRY
                        ),
                    });
                }
                let mut bytes = Vec::with_capacity(e.size as usize);
                reader.read_to_end(&mut bytes).map_err(|err| altered(err.to_string()))?;
                check_digest(&reader, e, &altered)?;
                if e.name == "binding.json" {
                    let stored: StoredBinding =
                        serde_json::from_slice(&bytes).map_err(|err| invalid(&e.name, err.to_string()))?;
                    binding = Some(stored.to_binding().map_err(|m| invalid(&e.name, m))?);
                } else {
                    params = Some(serde_json::from_slice(&bytes).map_err(|err| invalid(&e.name, err.to_string()))?);
                }
            }
            "transactions.jsonl" if matches!(lines, Lines::Counted) => {
                let mut buf = vec![0; 64 << 10];
                let mut count = 0;
                loop {
                    let n = reader.read(&mut buf).map_err(|err| altered(err.to_string()))?;
                    if n == 0 {
                        break;
                    }
                    count += buf[..n].iter().filter(|b| **b == b'\n').count();
                }
                check_digest(&reader, e, &altered)?;
                transactions = Some(count);
            }
            "transactions.jsonl" => {
                let mut lines = std::io::BufReader::new(&mut reader);
                let mut line = Vec::new();
                let mut count = 0usize;
                loop {
                    line.clear();
                    let n = (&mut lines)
                        .take(MAX_LOG_LINE + 1)
                        .read_until(b'\n', &mut line)
                        .map_err(|err| altered(err.to_string()))?;
                    if n == 0 {
                        break;
                    }
                    if n as u64 > MAX_LOG_LINE {
                        let msg = crate::tr!("backup-line-too-long", line = count + 1, max = MAX_LOG_LINE);
                        return Err(invalid(&e.name, msg));
                    }
                    if line.iter().all(|b| *b == b'\n') {
                        continue;
                    }
                    count += 1;
                    serde_json::from_slice::<TxnRecord>(&line).map_err(|err| {
                        invalid(
                            &e.name,
                            crate::tr!("backup-bad-line", line = count, reason = err.to_string()),
                        )
                    })?;
                }
                drop(lines);
                check_digest(&reader, e, &altered)?;
                transactions = Some(count);
            }
            _ => {
                std::io::copy(&mut reader, &mut std::io::sink()).map_err(|err| altered(err.to_string()))?;
                check_digest(&reader, e, &altered)?;
            }
        }
    }
    let missing = |entry: &str| BackupError::Missing {
        path: path.to_path_buf(),
        entry: entry.to_string(),
    };
    let evidence = manifest
        .entries
        .iter()
        .filter(|e| e.name.starts_with("evidence/"))
        .map(|e| e.name.clone())
        .collect();
    Ok(Opened {
        binding: binding.ok_or_else(|| missing("binding.json"))?,
        params: params.ok_or_else(|| missing("params.json"))?,
        transactions: transactions.ok_or_else(|| missing("transactions.jsonl"))?,
        evidence,
        manifest,
    })
}

fn check_digest<R>(
    reader: &Hashing<R>,
    e: &EntryInfo,
    altered: &dyn Fn(String) -> BackupError,
) -> Result<(), BackupError> {
    if reader.len != e.size || hex::encode(reader.sha.clone().finalize()) != e.sha256 {
        return Err(altered(crate::tr!("backup-digest-differs")));
    }
    Ok(())
}

/// How [`open_archive`] opens the entries.
#[derive(Clone, Copy)]
enum Unlock<'a> {
    /// With the password: an archive from anywhere (the `zip` crate derives each entry's
    /// keys from it).
    Password(&'a [u8]),
    /// With the keys the archive was just written with: its read-back.
    Keys(&'a KeyRing),
}

fn open_entry<'z>(
    zip: &'z mut ZipArchive<std::fs::File>,
    path: &Path,
    name: &str,
    unlock: Unlock<'_>,
) -> Result<Box<dyn Read + 'z>, BackupError> {
    let opened = match unlock {
        Unlock::Password(password) => zip
            .by_name_decrypt(name, password)
            .map(|e| Box::new(e) as Box<dyn Read>),
        Unlock::Keys(keys) => match zip.index_for_name(name) {
            None => Err(zip::result::ZipError::FileNotFound),
            Some(i) => zip.by_index_raw(i).and_then(|raw| {
                let stored = raw.compressed_size();
                winzip::open(raw, stored, keys).map_err(zip::result::ZipError::Io)
            }),
        },
    };
    match opened {
        Ok(e) => Ok(e),
        Err(zip::result::ZipError::FileNotFound) => Err(BackupError::Missing {
            path: path.to_path_buf(),
            entry: name.to_string(),
        }),
        Err(zip::result::ZipError::InvalidPassword) => Err(BackupError::WrongPassword(path.to_path_buf())),
        Err(e) => Err(BackupError::Altered {
            path: path.to_path_buf(),
            entry: name.to_string(),
            what: e.to_string(),
        }),
    }
}

/// A small JSON entry, whole, refused past [`MAX_JSON_ENTRY`].
fn read_json_entry(
    zip: &mut ZipArchive<std::fs::File>,
    path: &Path,
    name: &str,
    unlock: Unlock<'_>,
) -> Result<Vec<u8>, BackupError> {
    let entry = open_entry(zip, path, name, unlock)?;
    let mut bytes = Vec::new();
    entry
        .take(MAX_JSON_ENTRY + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| BackupError::Altered {
            path: path.to_path_buf(),
            entry: name.to_string(),
            what: e.to_string(),
        })?;
    if bytes.len() as u64 > MAX_JSON_ENTRY {
        return Err(BackupError::Limit {
            path: path.to_path_buf(),
            what: crate::tr!(
                "backup-entry-too-large",
                entry = name,
                size = bytes.len(),
                max = MAX_JSON_ENTRY
            ),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (ManifestBase, Contents) {
        let binding = crate::terminal::model::tests::sample_binding();
        let base = ManifestBase {
            profile: "generic".into(),
            terminal: Identity {
                vendor: "V".into(),
                model: "M".into(),
                serial: "SN-0001".into(),
                firmware: "1".into(),
            },
            technician: Some("tech-7".into()),
            job_id: None,
        };
        let params = [("a".to_string(), "1".to_string())].into_iter().collect();
        (
            base,
            Contents {
                binding,
                params,
                log: Exported {
                    data: Vec::new(),
                    sha256: [0; 32],
                    records: 0,
                },
                evidence: vec![("scan.pdf".into(), b"%PDF".to_vec())],
            },
        )
    }

    /// An archive is put in place only once it has read back: one whose log does not count
    /// what the terminal said leaves neither itself nor its temporary file, and no record.
    /// One that reads back is in place, recorded, and its temporary file gone.
    #[test]
    fn an_archive_is_in_place_only_once_it_has_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::store::Store::open(dir.path()).unwrap();
        let path = dir.path().join("b.zip");
        let leftovers = || {
            let mut names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with("posagent.db") && n != crate::store::audit::HEAD_FILE)
                .collect();
            names.sort();
            names
        };
        let (base, mut contents) = sample();
        contents.log.records = 1;
        let err = keep(
            &path,
            sample().0,
            &contents,
            PW,
            KeyRing::default(),
            false,
            &mut store,
            WRITING.take(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("b.zip"), "named by its place: {err}");
        assert!(matches!(err, BackupError::Altered { .. }), "{err}");
        assert_eq!(leftovers(), Vec::<String>::new());
        assert!(store.backups().unwrap().is_empty());

        contents.log.records = 0;
        let (written, record) = keep(
            &path,
            base,
            &contents,
            PW,
            KeyRing::derive(PW, entry_count(1)),
            false,
            &mut store,
            WRITING.take(),
        )
        .unwrap();
        assert_eq!(leftovers(), ["b.zip"]);
        assert_eq!(store.backups().unwrap().len(), 1);
        assert_eq!(record.sha256, written.sha256);
        assert_eq!(digest_of(&path).unwrap(), (written.size, written.sha256));
    }

    /// A log whose record does not decode is the terminal's data at fault: no archive, no
    /// temporary file, no record, and the error says which field.
    #[test]
    fn a_record_that_does_not_decode_leaves_no_archive_and_is_told_as_the_terminal_s() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::store::Store::open(dir.path()).unwrap();
        let path = dir.path().join("b.zip");
        let (base, mut contents) = sample();
        let mut log = posagent_wire::tlv::Writer::new();
        log.nested(crate::link::proto::tag::RECORD, |r| {
            r.str(crate::link::proto::tag::RRN, "only a reference");
        });
        contents.log.data = log.finish();
        contents.log.records = 1;
        let err = keep(
            &path,
            base,
            &contents,
            PW,
            KeyRing::default(),
            false,
            &mut store,
            WRITING.take(),
        )
        .unwrap_err();
        assert!(matches!(err, BackupError::BadRecord(_)), "{err:?}");
        assert!(err.to_string().contains("DF"), "names the missing field: {err}");
        assert_eq!(err.code(), "terminal_invalid_data");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("b.zip"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
        assert!(store.backups().unwrap().is_empty());
    }

    #[test]
    fn no_more_archives_are_written_at_once_than_there_are_cores() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static TURNS: Turns = Turns::new();
        let most = crate::machine::cores();
        let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..most * 4 {
                s.spawn(|| {
                    let _turn = TURNS.take();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(peak.load(Ordering::SeqCst), most, "all the turns were used, never more");
    }

    #[test]
    fn round_trip_and_masking_at_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.zip");
        let (base, contents) = sample();
        let w = write_archive(&path, base, &contents, b"correct horse", false).unwrap();
        assert_eq!(w.manifest.entries.len(), 4);
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.windows(19).any(|w| w == b"6222020200112233446"));
        let opened = read_archive(&path, b"correct horse").unwrap();
        assert_eq!(opened.manifest.terminal.serial, "SN-0001");
        assert_eq!(opened.binding, contents.binding);
        assert_eq!(opened.evidence, ["evidence/scan.pdf"]);
    }

    const PW: &[u8] = b"correct horse";

    /// Writes an archive from entries as given, with a manifest that lists them truthfully
    /// unless `manifest` is given.
    fn craft(entries: &[(String, Vec<u8>)], manifest: Option<Vec<u8>>) -> (tempfile::TempDir, PathBuf) {
        let entries: Vec<(String, Body<'_>)> = entries
            .iter()
            .map(|(n, b)| (n.clone(), Body::Bytes(b.clone())))
            .collect();
        let entries = &entries[..];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crafted.zip");
        write_zip(&path, entries, &KeyRing::derive(PW, entries.len() + 1), |listed| {
            Ok(manifest.unwrap_or_else(|| {
                let (base, _) = sample();
                let m = Manifest {
                    format_version: FORMAT_VERSION,
                    agent_version: "0".into(),
                    profile: base.profile,
                    terminal: base.terminal,
                    created_at: "2026-11-23T00:00:00Z".into(),
                    technician: None,
                    job_id: None,
                    entries: listed,
                };
                serde_json::to_vec(&m).unwrap()
            }))
        })
        .unwrap()
        .place(&path)
        .unwrap();
        (dir, path)
    }

    fn good_entries() -> Vec<(String, Vec<u8>)> {
        let contents = sample().1;
        entries_of(&contents)
            .unwrap()
            .into_iter()
            .map(|(name, body)| {
                let mut bytes = Vec::new();
                body.write_to(&mut bytes).unwrap();
                (name, bytes)
            })
            .collect()
    }

    fn refused(path: &Path) -> String {
        read_archive(path, PW).unwrap_err().to_string()
    }

    fn assert_refused(path: &Path, why: &str) {
        let msg = refused(path);
        assert!(msg.contains(why), "expected {why:?}: {msg}");
    }

    #[test]
    fn a_read_back_counts_the_log_lines_through_their_digest_and_reading_parses_them() {
        let mut entries = good_entries();
        let log = |entries: &mut Vec<(String, Vec<u8>)>, bytes: &[u8]| {
            let entry = entries.iter_mut().find(|(n, _)| n == "transactions.jsonl").unwrap();
            entry.1 = bytes.to_vec();
        };
        log(&mut entries, b"not a record\nnor this\n");
        let (_d, path) = craft(&entries, None);
        assert_eq!(
            open_archive(&path, Unlock::Password(PW), Lines::Counted)
                .unwrap()
                .transactions,
            2
        );
        assert_refused(&path, "transactions.jsonl is invalid: line 1");

        // Lines changed after the manifest was made: counting them still checks their digest.
        let manifest = serde_json::to_vec(
            &open_archive(&path, Unlock::Password(PW), Lines::Counted)
                .unwrap()
                .manifest,
        )
        .unwrap();
        log(&mut entries, b"not a record\nnor that\n");
        let (_d2, altered) = craft(&entries, Some(manifest));
        let msg = open_archive(&altered, Unlock::Password(PW), Lines::Counted)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("size or SHA-256 differs from the manifest"), "{msg}");
    }

    #[test]
    fn a_manifest_listing_an_entry_twice_is_refused() {
        let entries = good_entries();
        let (_d, path) = craft(&entries, None);
        let mut m = manifest_value(&path);
        let first = m["entries"][0].clone();
        m["entries"].as_array_mut().unwrap().push(first);
        let (_d2, twice) = craft(&entries, Some(serde_json::to_vec(&m).unwrap()));
        assert_refused(&twice, "lists entry binding.json twice");
    }

    #[test]
    fn entry_names_that_leave_the_archive_are_refused() {
        for bad in [
            "evidence/../x",
            "/etc/passwd",
            "evidence\\x",
            "evidence/a\0b",
            "../binding.json",
        ] {
            let mut entries = good_entries();
            entries.push((bad.to_string(), b"x".to_vec()));
            let (_d, path) = craft(&entries, None);
            let msg = refused(&path);
            assert!(msg.contains("is not a name a posagent backup may hold"), "{bad}: {msg}");
        }
    }

    #[test]
    fn the_total_size_the_manifest_declares_is_capped() {
        let entries = good_entries();
        let (_d, path) = craft(&entries, None);
        let mut m = manifest_value(&path);
        for e in m["entries"].as_array_mut().unwrap() {
            e["size"] = serde_json::json!(MAX_TOTAL_SIZE / 2);
        }
        let (_d2, big) = craft(&entries, Some(serde_json::to_vec(&m).unwrap()));
        assert_refused(&big, &format!("at most {MAX_TOTAL_SIZE}"));
    }

    #[test]
    fn an_oversized_merchant_name_in_the_binding_is_refused() {
        // 5 MB is over the JSON cap; 200 characters is valid JSON but not a valid name.
        for (len, expected) in [
            (5 << 20, "binding.json holds"),
            (200, "binding.json is invalid: merchant name"),
        ] {
            let mut entries = good_entries();
            let mut b: serde_json::Value = serde_json::from_slice(&entries[0].1).unwrap();
            b["merchant_name"] = serde_json::json!("N".repeat(len));
            entries[0].1 = serde_json::to_vec(&b).unwrap();
            let (_d, path) = craft(&entries, None);
            let msg = refused(&path);
            assert!(msg.contains(expected), "{}", &msg[..msg.len().min(300)]);
            assert!(msg.len() < 500, "the message must not carry the name");
        }
    }

    /// The manifest of a good archive, as JSON to tamper with.
    fn manifest_value(path: &Path) -> serde_json::Value {
        serde_json::to_value(read_archive(path, PW).unwrap().manifest).unwrap()
    }

    /// Rewrites every `from` to `to` (same length) in the archive's bytes.
    fn patch(path: &Path, from: &[u8], to: &[u8]) {
        let mut raw = std::fs::read(path).unwrap();
        let mut i = 0;
        while let Some(pos) = raw[i..].windows(from.len()).position(|w| w == from) {
            raw[i + pos..i + pos + to.len()].copy_from_slice(to);
            i += pos + 1;
        }
        std::fs::write(path, raw).unwrap();
    }

    #[test]
    fn two_entries_with_one_name_are_refused() {
        let mut entries = good_entries();
        entries.push(("evidence/scan-a.pdf".into(), b"A".to_vec()));
        entries.push(("evidence/scan-b.pdf".into(), b"B".to_vec()));
        let (_d, path) = craft(&entries, None);
        patch(&path, b"evidence/scan-b.pdf", b"evidence/scan-a.pdf");
        assert_refused(&path, "two entries have the same name");
    }

    #[test]
    fn entries_that_are_not_aes_256_are_refused() {
        use zip::ZipWriter;
        use zip::write::FileOptions;
        let entries = good_entries();
        let (_d, path) = craft(&entries, None);
        // Rewrite the archive with params.json stored in clear, then with AES-128.
        let rewrite = |opts: FileOptions<'_, '_, ()>| {
            let out = path.with_extension("mixed.zip");
            let mut zip = ZipWriter::new(std::fs::File::create(&out).unwrap());
            let aes: FileOptions<'_, '_, ()> = FileOptions::default().with_aes_encryption_bytes(AesMode::Aes256, PW);
            let manifest = serde_json::to_vec(&read_archive(&path, PW).unwrap().manifest).unwrap();
            zip.start_file(MANIFEST, aes).unwrap();
            zip.write_all(&manifest).unwrap();
            for (n, b) in &entries {
                zip.start_file(n, if n == "params.json" { opts } else { aes }).unwrap();
                zip.write_all(b).unwrap();
            }
            zip.finish().unwrap();
            out
        };
        let clear = rewrite(FileOptions::default());
        assert_refused(&clear, "params.json is not AES-256 encrypted");
        let aes128 = rewrite(FileOptions::default().with_aes_encryption_bytes(AesMode::Aes128, PW));
        assert_refused(&aes128, "params.json is not AES-256 encrypted");
    }

    #[test]
    fn existing_file_needs_force_and_weak_passwords_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.zip");
        std::fs::write(&path, b"keep me").unwrap();
        let (base, contents) = sample();
        assert!(matches!(
            write_archive(&path, base, &contents, b"correct horse", false),
            Err(BackupError::Exists(_))
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
        let (base, contents) = sample();
        assert!(matches!(
            write_archive(&path, base, &contents, b"short", true),
            Err(BackupError::WeakPassword)
        ));
        // Characters are counted, not bytes: 4 CJK characters are 12 bytes but too short.
        assert!(check_password("开心面馆".as_bytes()).is_err());
        assert!(check_password("开心面馆开心面馆开心面馆".as_bytes()).is_ok());
        assert!(check_password(b"eleven-char").is_err());
    }
}
