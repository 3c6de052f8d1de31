//! The archive's container: a zip of WinZip AE-2 entries (AES-256), which `7z` and the
//! `zip` crate open given the password, written and read back with keys derived beforehand.
//!
//! Each entry has its own random salt, and its keys (one for AES-256 in counter mode, one
//! for HMAC-SHA1 over the encrypted bytes, and a two-byte password check) come from the
//! password and that salt through PBKDF2-HMAC-SHA1, 1,000 rounds. The derivation is most
//! of what encrypting an archive costs the processor, so a backup derives its entries' keys
//! while its log is still on the line, on a thread that runs only when a core would
//! otherwise idle ([`KeyRing::ahead`]), and the archive is written and read back with them:
//! the read-back checks each entry's authentication code and digest without deriving
//! again. Archives from anywhere else are read by the `zip` crate, which derives the keys
//! from the password.
//!
//! Layout (PKWARE APPNOTE 6.3, with WinZip's "AES Encryption Information"), all numbers
//! little-endian:
//!
//! ```text
//! per entry   local header (method 99, flags: encrypted, UTF-8 name; CRC 0 as AE-2 says)
//!             name, extra field 0x9901 (7 bytes: vendor version 2, "AE", strength 3 for
//!             AES-256, actual method 8 deflate)
//!             salt (16) | password check (2) | deflated bytes, AES-CTR | HMAC-SHA1 (first 10)
//! then        central directory (the same fields, mode 0600), end of central directory
//! ```
//! The counter starts at 1 and counts little-endian over the whole 16-byte block; the HMAC
//! covers the encrypted bytes only. No entry or offset past 4 GiB (an archive holds at most
//! 1 GiB), so no Zip64 records.

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use flate2::{Compress, Compression, FlushCompress, Status};
use pbkdf2::hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha1::Sha1;
use zeroize::Zeroizing;

type Cipher = ctr::Ctr128LE<Aes256>;

const SALT: usize = 16;
const CHECK: usize = 2;
const KEY: usize = 32;
const MAC: usize = 10;
const ROUNDS: u32 = 1000;
/// What an entry's stored bytes hold besides its data: salt, password check and code.
const OVERHEAD: u64 = (SALT + CHECK + MAC) as u64;
/// Compression method "AES encrypted" (the actual one is in the extra field).
const METHOD_AES: u16 = 99;
/// Version needed to extract: 5.1, AES.
const VERSION: u16 = 51;
/// Flags: encrypted (bit 0), name in UTF-8 (bit 11).
const FLAGS: u16 = 0x0001 | 0x0800;
/// The AES extra field: header ID 0x9901, 7 bytes: AE-2, "AE", AES-256, deflated.
const AES_EXTRA: [u8; 11] = [0x01, 0x99, 7, 0, 2, 0, b'A', b'E', 3, 8, 0];
/// Where a local header's compressed and uncompressed sizes are.
const SIZES_AT: u64 = 18;
/// How hard entries are deflated. Every archive is deflated, encrypted and read back before
/// its job goes on, a depot's dozens at once, and the JSON of a log deflates well at any
/// level: a 2,000-record log (375 KB) deflates to 42.9 KB in 0.68 ms at level 2 against
/// 38.3 KB in 2.58 ms at the default 6 (level 1 takes 0.53 ms for 59.8 KB).
const LEVEL: u32 = 2;

/// Compressors of archives written before, kept for the next: a compressor's tables are
/// the largest thing an archive being written holds (hundreds of KB, zeroed when made), and
/// at most as many archives are written at once as there are cores.
static SPARE: Mutex<Vec<Compress>> = Mutex::new(Vec::new());

/// A compressor from [`SPARE`], given back when dropped.
struct Deflater(Option<Compress>);

impl Deflater {
    fn take() -> Deflater {
        let spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner).pop();
        Deflater(Some(
            spare.unwrap_or_else(|| Compress::new(Compression::new(LEVEL), false)),
        ))
    }

    /// The compressor, ready for a new stream.
    fn fresh(&mut self) -> &mut Compress {
        let z = self.0.as_mut().expect("held until dropped");
        z.reset();
        z
    }
}

impl Drop for Deflater {
    fn drop(&mut self) {
        let mut spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < crate::machine::cores() {
            spare.extend(self.0.take());
        }
    }
}

/// One entry's keys.
pub struct Keys {
    salt: [u8; SALT],
    cipher: Zeroizing<[u8; KEY]>,
    auth: Zeroizing<[u8; KEY]>,
    check: [u8; CHECK],
}

impl Keys {
    /// Keys for a new entry: a fresh salt, and what the password makes of it.
    fn derive(password: &[u8]) -> Keys {
        let mut salt = [0; SALT];
        rand::rng().fill_bytes(&mut salt);
        Keys::with_salt(password, salt)
    }

    /// What the password makes of `salt`.
    fn with_salt(password: &[u8], salt: [u8; SALT]) -> Keys {
        let mut out = Zeroizing::new([0u8; 2 * KEY + CHECK]);
        pbkdf2::pbkdf2_hmac::<Sha1>(password, &salt, ROUNDS, out.as_mut_slice());
        let mut keys = Keys {
            salt,
            cipher: Zeroizing::new([0; KEY]),
            auth: Zeroizing::new([0; KEY]),
            check: [out[2 * KEY], out[2 * KEY + 1]],
        };
        keys.cipher.copy_from_slice(&out[..KEY]);
        keys.auth.copy_from_slice(&out[KEY..2 * KEY]);
        keys
    }

    fn cipher(&self) -> Cipher {
        let mut iv = [0u8; 16];
        iv[0] = 1;
        Cipher::new(&(*self.cipher).into(), &iv.into())
    }

    fn mac(&self) -> Hmac<Sha1> {
        // Any key length is a valid HMAC key.
        <Hmac<Sha1> as KeyInit>::new_from_slice(self.auth.as_slice()).expect("HMAC takes any key length")
    }
}

/// The keys of an archive's entries, one each, in the order they are written.
#[derive(Default)]
pub struct KeyRing(Vec<Keys>);

impl KeyRing {
    /// Keys for `entries` entries.
    pub fn derive(password: &[u8], entries: usize) -> KeyRing {
        let mut ring = KeyRing::default();
        ring.ensure(password, entries);
        ring
    }

    /// Derives keys until there are at least `entries`.
    pub fn ensure(&mut self, password: &[u8], entries: usize) {
        while self.0.len() < entries {
            self.0.push(Keys::derive(password));
        }
    }

    /// Keys for `entries` entries, derived from now on by a thread of the lowest priority
    /// ([`crate::machine::idle_priority`]): a backup's copy waits on its line for seconds,
    /// while a depot's other jobs may need the processor now. [`Ahead::ready`] takes them.
    pub fn ahead(password: &[u8], entries: usize) -> Ahead {
        let shared = Arc::new((Mutex::new(KeyRing::default()), AtomicBool::new(false)));
        let theirs = Arc::clone(&shared);
        let password = Zeroizing::new(password.to_vec());
        let deriving = std::thread::Builder::new().name("keys".into()).spawn(move || {
            crate::machine::idle_priority();
            let (ring, taken) = &*theirs;
            loop {
                let keys = Keys::derive(&password);
                let mut ring = ring.lock().unwrap_or_else(PoisonError::into_inner);
                if taken.load(Ordering::Relaxed) || ring.0.len() >= entries {
                    break;
                }
                ring.0.push(keys);
            }
        });
        // Without a thread (the system would not start one), all are derived when needed.
        drop(deriving);
        Ahead { shared, entries }
    }

    /// The keys of the `i`th entry written.
    pub fn get(&self, i: usize) -> &Keys {
        &self.0[i]
    }

    /// The keys an entry's salt names, if they are in this ring.
    fn by_salt(&self, salt: &[u8]) -> Option<&Keys> {
        self.0.iter().find(|k| k.salt == salt)
    }
}

/// Keys being derived ahead (see [`KeyRing::ahead`]).
pub struct Ahead {
    /// The keys derived so far, and whether they have been taken (the thread then stops).
    shared: Arc<(Mutex<KeyRing>, AtomicBool)>,
    entries: usize,
}

impl Ahead {
    /// The keys: those derived so far, and the rest derived now, at this thread's priority
    /// (a job never waits on the thread of the lowest priority).
    pub fn ready(self, password: &[u8]) -> KeyRing {
        let (ring, taken) = &*self.shared;
        taken.store(true, Ordering::Relaxed);
        let mut ring = std::mem::take(&mut *ring.lock().unwrap_or_else(PoisonError::into_inner));
        ring.ensure(password, self.entries);
        ring
    }
}

impl Drop for Ahead {
    /// Not needed after all (the backup failed): the thread stops after the key it derives.
    fn drop(&mut self) {
        self.shared.1.store(true, Ordering::Relaxed);
    }
}

fn too_large() -> std::io::Error {
    std::io::Error::other("the archive would pass 4 GiB, the most a zip without Zip64 holds")
}

fn u32_of(n: u64) -> std::io::Result<u32> {
    u32::try_from(n).map_err(|_| too_large())
}

/// DOS date and time of now, local (the zip format's clock), clamped to 1980–2107.
fn dos_now() -> (u16, u16) {
    use chrono::{Datelike, Timelike};
    let now = chrono::Local::now();
    let year = now.year().clamp(1980, 2107) as u16;
    let date = ((year - 1980) << 9) | ((now.month() as u16) << 5) | now.day() as u16;
    let time = ((now.hour() as u16) << 11) | ((now.minute() as u16) << 5) | (now.second() as u16 / 2);
    (time, date)
}

/// An archive being written: entries one after another ([`Writer::entry`]), then the
/// central directory ([`Writer::finish`]).
pub struct Writer<W: Write + Seek> {
    out: W,
    /// One compressor for every entry, reset for each.
    deflater: Deflater,
    central: Vec<u8>,
    entries: u16,
    stamp: (u16, u16),
}

/// What an entry's header says of it, the same in both of its headers.
struct Header<'a> {
    name: &'a str,
    stored: u32,
    size: u32,
}

impl Header<'_> {
    /// The fields the local header and the central directory share, from "version needed".
    fn common(&self, stamp: (u16, u16), out: &mut Vec<u8>) {
        for v in [VERSION, FLAGS, METHOD_AES, stamp.0, stamp.1] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [0, self.stored, self.size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(AES_EXTRA.len() as u16).to_le_bytes());
    }
}

impl<W: Write + Seek> Writer<W> {
    /// An archive written to `out`.
    pub fn new(out: W) -> Writer<W> {
        Writer {
            out,
            deflater: Deflater::take(),
            central: Vec::new(),
            entries: 0,
            stamp: dos_now(),
        }
    }

    /// Writes an entry `name` holding what `body` writes, deflated and encrypted with `keys`.
    pub fn entry(
        &mut self,
        name: &str,
        keys: &Keys,
        body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        u16::try_from(name.len()).map_err(|_| std::io::Error::other("entry name too long"))?;
        let entries = self
            .entries
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("too many entries"))?;
        let at = self.out.stream_position()?;
        let mut head = Header {
            name,
            stored: 0,
            size: 0,
        };
        let mut local = 0x0403_4b50u32.to_le_bytes().to_vec();
        head.common(self.stamp, &mut local);
        local.extend_from_slice(name.as_bytes());
        local.extend_from_slice(&AES_EXTRA);
        self.out.write_all(&local)?;
        self.out.write_all(&keys.salt)?;
        self.out.write_all(&keys.check)?;
        let mut sealing = Sealing {
            deflater: self.deflater.fresh(),
            out: &mut self.out,
            cipher: keys.cipher(),
            mac: keys.mac(),
            buf: Vec::with_capacity(32 << 10),
            taken: 0,
            written: 0,
        };
        body(&mut sealing)?;
        let (size, written) = sealing.close()?;
        head.stored = u32_of(written + OVERHEAD)?;
        head.size = u32_of(size)?;
        let end = self.out.stream_position()?;
        self.out.seek(SeekFrom::Start(at + SIZES_AT))?;
        self.out.write_all(&head.stored.to_le_bytes())?;
        self.out.write_all(&head.size.to_le_bytes())?;
        self.out.seek(SeekFrom::Start(end))?;
        self.central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        // Made by: Unix (3), spec 5.1.
        self.central.extend_from_slice(&(3u16 << 8 | VERSION).to_le_bytes());
        head.common(self.stamp, &mut self.central);
        self.central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        self.central.extend_from_slice(&(0o100_600u32 << 16).to_le_bytes());
        self.central.extend_from_slice(&u32_of(at)?.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.central.extend_from_slice(&AES_EXTRA);
        self.entries = entries;
        Ok(())
    }

    /// Writes the central directory and its end record; gives back the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        let at = u32_of(self.out.stream_position()?)?;
        self.out.write_all(&self.central)?;
        let mut end = 0x0605_4b50u32.to_le_bytes().to_vec();
        end.extend_from_slice(&[0; 4]); // this disk, the directory's disk
        end.extend_from_slice(&self.entries.to_le_bytes());
        end.extend_from_slice(&self.entries.to_le_bytes());
        end.extend_from_slice(&u32_of(self.central.len() as u64)?.to_le_bytes());
        end.extend_from_slice(&at.to_le_bytes());
        end.extend_from_slice(&[0; 2]); // comment length
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Deflates what is written through it, then encrypts the deflated bytes and authenticates
/// them on their way to `out`.
struct Sealing<'w, W> {
    deflater: &'w mut Compress,
    out: &'w mut W,
    cipher: Cipher,
    mac: Hmac<Sha1>,
    buf: Vec<u8>,
    /// Bytes taken in, and bytes written out.
    taken: u64,
    written: u64,
}

impl<W: Write> Sealing<'_, W> {
    /// Deflates `input` (`flush` says whether it ends the entry) into the buffer, then
    /// encrypts, authenticates and writes out what came of it; gives the input consumed.
    fn pass(&mut self, input: &[u8], flush: FlushCompress) -> std::io::Result<(usize, Status)> {
        let (was_in, was_out) = (self.deflater.total_in(), self.deflater.total_out());
        self.buf.clear();
        let status = self
            .deflater
            .compress_vec(input, &mut self.buf, flush)
            .map_err(std::io::Error::other)?;
        let consumed = (self.deflater.total_in() - was_in) as usize;
        if consumed == 0 && self.deflater.total_out() == was_out && status != Status::StreamEnd {
            return Err(std::io::Error::other("the compressor made no progress"));
        }
        self.cipher.apply_keystream(&mut self.buf);
        self.mac.update(&self.buf);
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        Ok((consumed, status))
    }

    /// Ends the deflated stream and writes the authentication code; gives the bytes taken
    /// in and the bytes encrypted.
    fn close(mut self) -> std::io::Result<(u64, u64)> {
        while self.pass(&[], FlushCompress::Finish)?.1 != Status::StreamEnd {}
        self.out.write_all(&self.mac.finalize().into_bytes()[..MAC])?;
        Ok((self.taken, self.written))
    }
}

impl<W: Write> Write for Sealing<'_, W> {
    fn write(&mut self, input: &[u8]) -> std::io::Result<usize> {
        let mut at = 0;
        while at < input.len() {
            at += self.pass(&input[at..], FlushCompress::None)?.0;
        }
        self.taken += input.len() as u64;
        Ok(input.len())
    }

    /// The stream is flushed whole when the entry ends ([`Sealing::close`]).
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An entry's bytes as stored (`stored` of them from `raw`), decrypted with the keys of
/// `ring` its salt names, inflated; its authentication code is checked once its last
/// byte is read, before the end is reported.
pub fn open<'r>(mut raw: impl Read + 'r, stored: u64, ring: &KeyRing) -> std::io::Result<Box<dyn Read + 'r>> {
    let altered = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let data = stored
        .checked_sub(OVERHEAD)
        .ok_or_else(|| altered("shorter than its salt, password check and authentication code"))?;
    let mut head = [0u8; SALT + CHECK];
    raw.read_exact(&mut head)?;
    let keys = ring
        .by_salt(&head[..SALT])
        .filter(|k| k.check == head[SALT..])
        .ok_or_else(|| altered("its salt is not one this archive was written with"))?;
    let opened = Opening {
        raw,
        left: data,
        cipher: keys.cipher(),
        mac: Some(keys.mac()),
    };
    Ok(Box::new(flate2::read::DeflateDecoder::new(
        std::io::BufReader::with_capacity(64 << 10, opened),
    )))
}

/// Decrypts an entry's data, checking its authentication code at the end.
struct Opening<R> {
    raw: R,
    left: u64,
    cipher: Cipher,
    /// Until the code is checked.
    mac: Option<Hmac<Sha1>>,
}

impl<R: Read> Opening<R> {
    /// Reads the stored code and compares it with the one computed, once.
    fn check(&mut self) -> std::io::Result<()> {
        if let Some(mac) = self.mac.take() {
            let mut code = [0u8; MAC];
            self.raw.read_exact(&mut code)?;
            mac.verify_truncated_left(&code)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "its authentication code differs"))?;
        }
        Ok(())
    }
}

impl<R: Read> Read for Opening<R> {
    /// The code is checked in the read that takes the last byte: an inflater that stops at
    /// the end of its stream may never ask again.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            self.check()?;
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.raw.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(mac) = &mut self.mac {
            mac.update(&buf[..n]);
        }
        self.cipher.apply_keystream(&mut buf[..n]);
        self.left -= n as u64;
        if self.left == 0 {
            self.check()?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &[u8] = b"correct horse battery";

    fn written(entries: &[(&str, &[u8])]) -> (Vec<u8>, KeyRing) {
        let ring = KeyRing::derive(PW, entries.len());
        let mut w = Writer::new(std::io::Cursor::new(Vec::new()));
        for (i, (name, body)) in entries.iter().enumerate() {
            w.entry(name, ring.get(i), |out| out.write_all(body)).unwrap();
        }
        (w.finish().unwrap().into_inner(), ring)
    }

    /// Keys derived ahead are the ones a password makes of their salts, as many as asked,
    /// each with its own salt, whether the thread derived them or the taker did.
    #[test]
    fn keys_derived_ahead_are_all_there_each_salted_and_made_by_the_password() {
        for wait in [std::time::Duration::ZERO, std::time::Duration::from_millis(50)] {
            let ahead = KeyRing::ahead(PW, 5);
            std::thread::sleep(wait);
            let ring = ahead.ready(PW);
            assert_eq!(ring.0.len(), 5);
            let salts: std::collections::BTreeSet<_> = ring.0.iter().map(|k| k.salt).collect();
            assert_eq!(salts.len(), 5, "one salt per entry");
            for k in &ring.0 {
                let again = Keys::with_salt(PW, k.salt);
                assert_eq!((*again.cipher, *again.auth, again.check), (*k.cipher, *k.auth, k.check));
            }
        }
    }

    /// The `zip` crate, deriving the keys from the password, reads what this writes.
    #[test]
    fn the_zip_crate_reads_the_entries_with_the_password() {
        let log = "第一行 line\n".repeat(5000);
        let (bytes, _) = written(&[("a.json", b"{}"), ("evidence/发票.jpg", log.as_bytes()), ("empty", b"")]);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(zip.len(), 3);
        for (name, want) in [
            ("a.json", &b"{}"[..]),
            ("evidence/发票.jpg", log.as_bytes()),
            ("empty", b""),
        ] {
            let mut got = Vec::new();
            let mut e = zip.by_name_decrypt(name, PW).unwrap();
            assert!(e.encrypted());
            assert_eq!(e.size(), want.len() as u64);
            assert_eq!(e.unix_mode(), Some(0o100_600));
            e.read_to_end(&mut got).unwrap();
            assert_eq!(got, want, "{name}");
        }
        assert!(matches!(
            zip.by_name_decrypt("a.json", b"another password"),
            Err(zip::result::ZipError::InvalidPassword)
        ));
    }

    fn read_back(bytes: &[u8], ring: &KeyRing, name: &str) -> std::io::Result<Vec<u8>> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let i = zip.index_for_name(name).unwrap();
        let raw = zip.by_index_raw(i).unwrap();
        let stored = raw.compressed_size();
        let mut out = Vec::new();
        open(raw, stored, ring)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn the_read_back_opens_entries_with_the_ring_and_refuses_a_changed_byte() {
        let log = b"0123456789abcdef".repeat(4096);
        let (bytes, ring) = written(&[("params.json", b"{\"a\":1}"), ("transactions.jsonl", &log)]);
        assert_eq!(read_back(&bytes, &ring, "transactions.jsonl").unwrap(), log);
        assert_eq!(read_back(&bytes, &ring, "params.json").unwrap(), b"{\"a\":1}");
        // Keys derived for another archive do not open it.
        let other = KeyRing::derive(PW, 2);
        let err = read_back(&bytes, &other, "params.json").unwrap_err();
        assert!(err.to_string().contains("salt"), "{err}");
        // One byte of the code changed: the data inflates as written, and is refused.
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        let i = zip.index_for_name("transactions.jsonl").unwrap();
        let raw = zip.by_index_raw(i).unwrap();
        let end = (raw.data_start().unwrap() + raw.compressed_size()) as usize;
        drop(raw);
        let mut bad = bytes.clone();
        bad[end - 1] ^= 1;
        let err = read_back(&bad, &ring, "transactions.jsonl").unwrap_err();
        assert!(err.to_string().contains("authentication code differs"), "{err}");
    }
}
