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

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zip::write::FileOptions;
use zip::{AesMode, CompressionMethod, ZipArchive, ZipWriter};

use crate::domain::DeviceStatus;
use crate::link::bulk::Progress;
use crate::link::proto::Object;
use crate::terminal::model::{self, AccountBinding, Binding, CardBinding, Identity, TxnRecord};
use crate::terminal::{Terminal, TerminalError};

/// The archive format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the manifest entry.
pub const MANIFEST: &str = "manifest.json";
/// Shortest backup password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Largest entry read back (guards against a crafted archive exhausting memory).
pub const MAX_ENTRY_LEN: u64 = 256 << 20;

/// Why an archive could not be written or trusted.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; pass --force to replace it")]
    Exists(PathBuf),
    #[error("the backup password must be at least {MIN_PASSWORD_LEN} characters")]
    WeakPassword,
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{0}: not a complete zip archive (truncated, or not a posagent backup)")]
    NotAnArchive(PathBuf),
    #[error("{0}: wrong password")]
    WrongPassword(PathBuf),
    #[error("{path}: entry {entry} is missing")]
    Missing { path: PathBuf, entry: String },
    #[error("{path}: entry {entry} has been altered or is damaged ({what})")]
    Altered { path: PathBuf, entry: String, what: String },
    #[error("{path}: entry {entry} is not listed in the manifest")]
    Unexpected { path: PathBuf, entry: String },
    #[error("{path}: entry {entry} is not encrypted")]
    NotEncrypted { path: PathBuf, entry: String },
    #[error("{path}: archive format version {found} is not known to this posagent (it reads version {FORMAT_VERSION})")]
    UnknownFormat { path: PathBuf, found: u32 },
    #[error("{path}: {entry} is invalid: {message}")]
    Invalid {
        path: PathBuf,
        entry: String,
        message: String,
    },
}

/// One entry as the manifest lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntryInfo {
    pub name: String,
    pub size: u64,
    pub sha256: String,
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
            merchant_name: self.merchant_name.clone(),
            card: match &self.card {
                Some(c) => Some(CardBinding {
                    pan: c.number.parse().map_err(e("card number"))?,
                    holder: c.holder.parse().map_err(e("card holder"))?,
                    expiry: c.expiry.clone(),
                }),
                None => None,
            },
            account: match &self.account {
                Some(a) => Some(AccountBinding {
                    number: a.number.parse().map_err(e("account number"))?,
                    holder: a.holder.parse().map_err(e("account holder"))?,
                    bank: a.bank.clone(),
                    branch: a.branch_code.parse().map_err(e("branch code"))?,
                }),
                None => None,
            },
            phone: self.phone.as_deref().map(str::parse).transpose().map_err(e("phone"))?,
        })
    }
}

/// What a backup holds besides its manifest.
#[derive(Debug, Clone)]
pub struct Contents {
    pub binding: Binding,
    pub params: BTreeMap<String, String>,
    pub transactions: Vec<TxnRecord>,
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

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn zip_err(path: &Path) -> impl Fn(zip::result::ZipError) -> BackupError + '_ {
    move |e| BackupError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Serialises the contents into named entries (manifest excluded).
fn entries_of(c: &Contents) -> Result<Vec<(String, Vec<u8>)>, serde_json::Error> {
    let mut out = vec![
        (
            "binding.json".to_string(),
            serde_json::to_vec_pretty(&StoredBinding::from_binding(&c.binding))?,
        ),
        ("params.json".to_string(), serde_json::to_vec_pretty(&c.params)?),
    ];
    let mut log = Vec::new();
    for r in &c.transactions {
        serde_json::to_writer(&mut log, r)?;
        log.push(b'\n');
    }
    out.push(("transactions.jsonl".to_string(), log));
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
        out.push((entry, bytes.clone()));
    }
    Ok(out)
}

/// Reads everything a backup holds from an authenticated terminal: binding, parameters
/// and the full transaction log (each transfer verified by SHA-256).
pub fn capture(
    t: &mut Terminal,
    evidence: Vec<(String, Vec<u8>)>,
    progress: Progress<'_>,
) -> Result<Contents, TerminalError> {
    let binding = t.read_binding()?;
    let params = t.export(Object::Parameters, progress)?;
    let log = t.export(Object::TransactionLog, progress)?;
    let invalid = |e| TerminalError::Invalid(e);
    Ok(Contents {
        binding,
        params: model::decode_params(&params.data).map_err(invalid)?,
        transactions: model::decode_log(&log.data).map_err(invalid)?,
        evidence,
    })
}

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes an archive atomically. `force` allows replacing an existing file.
pub fn write_archive(
    path: &Path,
    base: ManifestBase,
    contents: &Contents,
    password: &[u8],
    force: bool,
) -> Result<Written, BackupError> {
    if password.len() < MIN_PASSWORD_LEN {
        return Err(BackupError::WeakPassword);
    }
    if path.exists() && !force {
        return Err(BackupError::Exists(path.to_path_buf()));
    }
    let entries = entries_of(contents).map_err(|e| BackupError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        profile: base.profile,
        terminal: base.terminal,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        technician: base.technician,
        job_id: base.job_id,
        entries: entries
            .iter()
            .map(|(n, b)| EntryInfo {
                name: n.clone(),
                size: b.len() as u64,
                sha256: sha_hex(b),
            })
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_entries(path, &manifest_bytes, &entries, password)?;
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    Ok(Written {
        path: path.to_path_buf(),
        size: bytes.len() as u64,
        sha256: sha_hex(&bytes),
        manifest,
    })
}

/// Writes a manifest and entries as an encrypted zip, via a temporary file.
pub fn write_entries(
    path: &Path,
    manifest: &[u8],
    entries: &[(String, Vec<u8>)],
    password: &[u8],
) -> Result<(), BackupError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.partial",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("backup")
    ));
    let file = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
    let mut zip = ZipWriter::new(file);
    let opts: FileOptions<'_, '_, ()> = FileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .with_aes_encryption_bytes(AesMode::Aes256, password);
    let all = std::iter::once((MANIFEST, manifest)).chain(entries.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    for (name, bytes) in all {
        zip.start_file(name, opts).map_err(zip_err(&tmp))?;
        zip.write_all(bytes).map_err(io_err(&tmp))?;
    }
    let file = zip.finish().map_err(zip_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads and checks an archive: password, manifest, every entry's presence, size and
/// SHA-256, no unlisted entries, and that the contents parse.
pub fn read_archive(path: &Path, password: &[u8]) -> Result<(Manifest, Contents), BackupError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut zip = ZipArchive::new(file).map_err(|_| BackupError::NotAnArchive(path.to_path_buf()))?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|s| s.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|_| BackupError::NotAnArchive(path.to_path_buf()))?;
    let manifest_bytes = read_entry(&mut zip, path, MANIFEST, password)?;
    #[derive(Deserialize)]
    struct Version {
        format_version: u32,
    }
    let invalid = |entry: &str, message: String| BackupError::Invalid {
        path: path.to_path_buf(),
        entry: entry.to_string(),
        message,
    };
    let v: Version = serde_json::from_slice(&manifest_bytes).map_err(|e| invalid(MANIFEST, e.to_string()))?;
    if v.format_version != FORMAT_VERSION {
        return Err(BackupError::UnknownFormat {
            path: path.to_path_buf(),
            found: v.format_version,
        });
    }
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| invalid(MANIFEST, e.to_string()))?;
    if let Some(extra) = names
        .iter()
        .find(|n| *n != MANIFEST && !manifest.entries.iter().any(|e| &e.name == *n))
    {
        return Err(BackupError::Unexpected {
            path: path.to_path_buf(),
            entry: extra.clone(),
        });
    }
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for e in &manifest.entries {
        if !names.contains(&e.name) {
            return Err(BackupError::Missing {
                path: path.to_path_buf(),
                entry: e.name.clone(),
            });
        }
        let bytes = read_entry(&mut zip, path, &e.name, password)?;
        if bytes.len() as u64 != e.size || sha_hex(&bytes) != e.sha256 {
            return Err(BackupError::Altered {
                path: path.to_path_buf(),
                entry: e.name.clone(),
                what: "size or SHA-256 differs from the manifest".into(),
            });
        }
        data.insert(e.name.clone(), bytes);
    }
    let take = |name: &str| {
        data.get(name).ok_or_else(|| BackupError::Missing {
            path: path.to_path_buf(),
            entry: name.to_string(),
        })
    };
    let stored: StoredBinding =
        serde_json::from_slice(take("binding.json")?).map_err(|e| invalid("binding.json", e.to_string()))?;
    let binding = stored.to_binding().map_err(|m| invalid("binding.json", m))?;
    let params = serde_json::from_slice(take("params.json")?).map_err(|e| invalid("params.json", e.to_string()))?;
    let transactions = take("transactions.jsonl")?
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_slice(l).map_err(|e| invalid("transactions.jsonl", format!("line {}: {e}", i + 1)))
        })
        .collect::<Result<Vec<TxnRecord>, _>>()?;
    let evidence = data
        .iter()
        .filter(|(n, _)| n.starts_with("evidence/"))
        .map(|(n, b)| (n.clone(), b.clone()))
        .collect();
    Ok((
        manifest,
        Contents {
            binding,
            params,
            transactions,
            evidence,
        },
    ))
}

fn read_entry(
    zip: &mut ZipArchive<std::fs::File>,
    path: &Path,
    name: &str,
    password: &[u8],
) -> Result<Vec<u8>, BackupError> {
    let altered = |what: String| BackupError::Altered {
        path: path.to_path_buf(),
        entry: name.to_string(),
        what,
    };
    let entry = match zip.by_name_decrypt(name, password) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(BackupError::Missing {
                path: path.to_path_buf(),
                entry: name.to_string(),
            });
        }
        Err(zip::result::ZipError::InvalidPassword) => {
            return Err(BackupError::WrongPassword(path.to_path_buf()));
        }
        Err(e) => return Err(altered(e.to_string())),
    };
    if !entry.encrypted() {
        return Err(BackupError::NotEncrypted {
            path: path.to_path_buf(),
            entry: name.to_string(),
        });
    }
    let mut bytes = Vec::new();
    entry
        .take(MAX_ENTRY_LEN)
        .read_to_end(&mut bytes)
        .map_err(|e| altered(e.to_string()))?;
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
                transactions: Vec::new(),
                evidence: vec![("scan.pdf".into(), b"%PDF".to_vec())],
            },
        )
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
        let (m, c) = read_archive(&path, b"correct horse").unwrap();
        assert_eq!(m.terminal.serial, "SN-0001");
        assert_eq!(c.binding, contents.binding);
        assert_eq!(c.evidence, vec![("evidence/scan.pdf".to_string(), b"%PDF".to_vec())]);
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
    }
}
