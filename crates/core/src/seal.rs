//! Secrets at rest: a random local key in the data directory (`keys/local.key`, mode 0600)
//! from which two subkeys are derived: one seals sensitive fields of queued submissions
//! with ChaCha20-Poly1305, the other keys the HMAC that stands for a card number where only
//! equality matters (the settlement-card cooldown). The SQLite file alone reveals neither.
//! docs/security.md describes the key handling.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Where the local key lives, relative to the data directory.
pub const KEY_FILE: &str = "keys/local.key";
/// Bytes of the local key.
const KEY_LEN: usize = 32;
/// Bytes of a ChaCha20-Poly1305 nonce, stored before the ciphertext.
const NONCE_LEN: usize = 12;

/// Why sealing or unsealing failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{}", crate::tr!("seal-key", file = .path.display().to_string(), reason = .message.as_str()))]
    Key { path: PathBuf, message: String },
    #[error("{}", crate::tr!("seal-open"))]
    Open,
}

/// The local keys of one data directory.
#[derive(Clone)]
pub struct LocalKeys {
    seal: Zeroizing<[u8; 32]>,
    card: Zeroizing<[u8; 32]>,
}

fn derive(master: &[u8], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(label);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

impl LocalKeys {
    /// Loads the key, creating it (0600) on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<LocalKeys, SealError> {
        let path = data_dir.join(KEY_FILE);
        let err = |message: String| SealError::Key {
            path: path.clone(),
            message,
        };
        // Read as any input is: a regular file of a bounded size (a FIFO, a device or a
        // link to one planted in its place is refused, not waited on or read for ever).
        let what = crate::tr!("what-local-key");
        let read = |path: &Path| crate::input::read_regular(path, KEY_LEN as u64, &what).map(Zeroizing::new);
        let master: Zeroizing<Vec<u8>> = match read(&path) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                let dir = path.parent().expect("key file has a directory");
                crate::private::dir(dir).map_err(|e| err(crate::input::describe_io(&e)))?;
                let mut key = Zeroizing::new(vec![0u8; KEY_LEN]);
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
                // Written whole under a private name, then linked into place: a process or
                // thread creating the key at the same moment either wins the link or reads
                // the complete key the winner linked.
                let tmp = dir.join(format!(".local.key.{}", uuid::Uuid::now_v7().simple()));
                let written = crate::private::options()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)
                    .and_then(|mut f| f.write_all(&key).and_then(|()| f.sync_all()));
                let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Ok(()) => key,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        read(&path).map_err(|e| err(e.to_string()))?
                    }
                    Err(e) => return Err(err(crate::input::describe_io(&e))),
                }
            }
            Err(crate::input::InputError::TooLarge { .. }) => {
                return Err(err(crate::tr!("seal-key-length", bytes = KEY_LEN)));
            }
            Err(e) => return Err(err(e.to_string())),
        };
        if master.len() != KEY_LEN {
            return Err(err(crate::tr!("seal-key-length", bytes = KEY_LEN)));
        }
        Ok(LocalKeys {
            seal: derive(&master, b"posagent/seal/v1"),
            card: derive(&master, b"posagent/card-id/v1"),
        })
    }

    /// Encrypts and authenticates `plain`: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(self.seal.as_ref()));
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(&nonce, plain)
                .expect("in-memory encryption does not fail"),
        );
        out
    }

    /// Opens what [`seal`](Self::seal) produced.
    pub fn open(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let cipher = ChaCha20Poly1305::new(Key::from_slice(self.seal.as_ref()));
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map(Zeroizing::new)
            .map_err(|_| SealError::Open)
    }

    /// A keyed digest that identifies a card number without revealing it.
    pub fn card_id(&self, full_number: &str) -> String {
        self.number_id(b"", full_number)
    }

    /// A keyed digest that identifies a phone number without revealing it (never equal to
    /// a card's).
    pub fn phone_id(&self, number: &str) -> String {
        self.number_id(b"phone\0", number)
    }

    fn number_id(&self, kind: &[u8], number: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.card.as_ref()).expect("HMAC takes any key length");
        mac.update(kind);
        mac.update(number.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local key is read as any input: a FIFO or a link to a device in its place is
    /// refused at once, naming the file, not waited on or read without end.
    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_device_as_the_local_key_is_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let e = LocalKeys::load_or_create(dir.path()).err().unwrap().to_string();
        assert!(e.contains("local.key") && e.contains("device"), "{e}");
        std::fs::remove_file(&path).unwrap();
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = LocalKeys::load_or_create(dir.path()).err().unwrap().to_string();
        assert!(e.contains("local.key"), "{e}");
        std::fs::write(dir.path().join("big"), vec![7u8; 4096]).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::rename(dir.path().join("big"), &path).unwrap();
        assert!(LocalKeys::load_or_create(dir.path()).is_err());
    }

    #[test]
    fn keys_created_at_the_same_moment_are_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let sealed: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| LocalKeys::load_or_create(dir.path()).unwrap().seal(b"same key")))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let k = LocalKeys::load_or_create(dir.path()).unwrap();
        for s in sealed {
            assert_eq!(&k.open(&s).unwrap()[..], b"same key");
        }
    }

    #[test]
    fn seal_round_trips_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let k = LocalKeys::load_or_create(dir.path()).unwrap();
        let sealed = k.seal(b"6222020200112233446");
        assert!(!sealed.windows(19).any(|w| w == b"6222020200112233446"));
        assert_eq!(&k.open(&sealed).unwrap()[..], b"6222020200112233446");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(k.open(&bad).is_err());
        // The same directory gives the same keys; another gives others.
        let again = LocalKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(again.card_id("x"), k.card_id("x"));
        let other = LocalKeys::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open(&sealed).is_err());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }
}
