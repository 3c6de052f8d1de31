//! Byte ports under the link: a real serial port (`serialport`) and an in-memory pair.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::settings::{FlowControl, Parity, SerialSettings};

/// How long one write may block before the port counts as stuck.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long opening waits for a port that another program holds locked.
pub const OPEN_BUSY_WAIT: Duration = Duration::from_secs(2);
/// Pause between attempts to open a locked port.
pub const OPEN_BUSY_RETRY: Duration = Duration::from_millis(50);

/// Whether `serialport` refused because another open file holds the port's lock.
fn is_locked(e: &serialport::Error) -> bool {
    (e.kind() == serialport::ErrorKind::NoDevice && e.description.contains("lock")) || e.description.contains("busy")
}

/// Why a port operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("{}", crate::tr!("port-closed"))]
    Disconnected,
    #[error("{}", crate::tr!("port-open-failed", port = .path.display().to_string(), reason = .message.as_str()))]
    Open { path: PathBuf, message: String },
    #[error("{}", crate::tr!("port-io", reason = .0.to_string()))]
    Io(#[from] std::io::Error),
}

/// A byte pipe to a terminal.
pub trait Port: Send {
    /// Reads what is available, waiting at most `timeout`; `Ok(0)` means nothing came.
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError>;
    /// Writes every byte.
    fn write_all(&mut self, data: &[u8]) -> Result<(), PortError>;
}

fn is_disconnect(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    // EIO is what a pty slave or a vanished USB device returns once the other end is gone.
    // `serialport` hands it over without its OS code, as kind `Other` carrying the errno's
    // short description: both when read(2) fails with EIO and when ppoll(2) reports POLLERR
    // without POLLHUP (which a pty does, now and then, as its other end closes).
    matches!(e.kind(), BrokenPipe | ConnectionReset | UnexpectedEof | NotConnected)
        || e.raw_os_error() == Some(5)
        || (e.kind() == Other && e.raw_os_error().is_none() && e.to_string() == SERIALPORT_EIO)
}

/// How `serialport` describes EIO once it has dropped the OS code (nix's `Errno::EIO.desc()`).
const SERIALPORT_EIO: &str = "I/O error";

impl<P: Port + ?Sized> Port for Box<P> {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        (**self).read_timeout(buf, timeout)
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), PortError> {
        (**self).write_all(data)
    }
}

/// Opens the byte port to a terminal by its path: a serial device for the product, or, in
/// tests, a simulated terminal served in the same process over [`mem_pair`].
pub trait Opener: Send + Sync {
    fn open(&self, path: &Path, settings: &SerialSettings) -> Result<Box<dyn Port>, PortError>;

    /// The paths this opener reaches, when it knows them all (simulated terminals); `None`
    /// for serial ports, which the machine lists.
    fn listed(&self) -> Option<Vec<std::path::PathBuf>> {
        None
    }
}

/// Opens serial devices (and pseudo-terminals) through `serialport`.
pub struct SerialOpener;

impl Opener for SerialOpener {
    fn open(&self, path: &Path, settings: &SerialSettings) -> Result<Box<dyn Port>, PortError> {
        Ok(Box::new(SerialPort::open(path, settings)?))
    }
}

/// A real serial device, opened through `serialport`.
pub struct SerialPort {
    inner: Box<dyn serialport::SerialPort>,
    /// Timeouts set once for good (see [`SerialPort::fix_timeouts`]).
    fixed: bool,
}

/// Why a port did not open, in the current language where the system says what kind of
/// failure it was.
fn open_reason(e: &serialport::Error) -> String {
    match e.kind() {
        serialport::ErrorKind::Io(kind) => posagent_i18n::io_reason(&std::io::Error::from(kind)),
        serialport::ErrorKind::NoDevice => crate::tr!("port-no-device"),
        _ => crate::tr!("io-other", detail = e.to_string()),
    }
}

impl SerialPort {
    /// Opens `path` with the profile's line settings.
    pub fn open(path: &Path, s: &SerialSettings) -> Result<SerialPort, PortError> {
        let open_err = |message: String| PortError::Open {
            path: path.to_path_buf(),
            message,
        };
        let name = path.to_str().ok_or_else(|| open_err(crate::tr!("port-not-utf8")))?;
        let data_bits = match s.data_bits {
            5 => serialport::DataBits::Five,
            6 => serialport::DataBits::Six,
            7 => serialport::DataBits::Seven,
            _ => serialport::DataBits::Eight,
        };
        let parity = match s.parity {
            Parity::None => serialport::Parity::None,
            Parity::Odd => serialport::Parity::Odd,
            Parity::Even => serialport::Parity::Even,
        };
        let stop_bits = if s.stop_bits == 2 {
            serialport::StopBits::Two
        } else {
            serialport::StopBits::One
        };
        let flow = match s.flow_control {
            FlowControl::None => serialport::FlowControl::None,
            FlowControl::Software => serialport::FlowControl::Software,
            FlowControl::Hardware => serialport::FlowControl::Hardware,
        };
        let builder = serialport::new(name, s.baud)
            .data_bits(data_bits)
            .parity(parity)
            .stop_bits(stop_bits)
            .flow_control(flow)
            .timeout(WRITE_TIMEOUT);
        // Another program (a modem manager probing a new device, or a process that forked
        // while holding the port) may hold the lock for a moment: wait briefly for it.
        let deadline = std::time::Instant::now() + OPEN_BUSY_WAIT;
        loop {
            match builder.clone().open() {
                Ok(inner) => return Ok(SerialPort { inner, fixed: false }),
                Err(e) if is_locked(&e) && std::time::Instant::now() < deadline => std::thread::sleep(OPEN_BUSY_RETRY),
                Err(e) if is_locked(&e) => {
                    return Err(open_err(crate::tr!("port-busy")));
                }
                Err(e) => return Err(open_err(open_reason(&e))),
            }
        }
    }

    /// Wraps an already open port (e.g. one end of a pseudo-terminal).
    pub fn from_open(inner: Box<dyn serialport::SerialPort>) -> SerialPort {
        SerialPort { inner, fixed: false }
    }

    /// A second handle to the same device, for a reader thread.
    pub fn try_clone(&self) -> Result<SerialPort, PortError> {
        let inner = self.inner.try_clone().map_err(|e| PortError::Io(e.into()))?;
        Ok(SerialPort {
            inner,
            fixed: self.fixed,
        })
    }

    /// Sets the read and write timeouts once and keeps them, for a device read on one
    /// handle while written on another. On Windows the timeouts belong to the device, not
    /// the handle, and I/O on the two handles takes turns: a write that set a long timeout
    /// would hold the reader's next read, and the writer behind it, that long.
    pub fn fix_timeouts(mut self, timeout: Duration) -> Result<SerialPort, PortError> {
        self.inner.set_timeout(timeout).map_err(|e| PortError::Io(e.into()))?;
        self.fixed = true;
        Ok(self)
    }

    fn set_timeout(&mut self, timeout: Duration) -> Result<(), PortError> {
        if self.fixed {
            return Ok(());
        }
        self.inner.set_timeout(timeout).map_err(|e| PortError::Io(e.into()))
    }
}

impl Port for SerialPort {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        // A zero timeout polls: `serialport` hands it to ppoll(2) as a zero timespec.
        let deadline = Instant::now() + timeout;
        let read = loop {
            self.set_timeout(deadline.saturating_duration_since(Instant::now()))?;
            match self.inner.read(buf) {
                // A signal (Ctrl-C, whose handler lets the step finish) cut the wait short:
                // wait out the rest, as if it had not come.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                read => break read,
            }
        };
        match read {
            Ok(0) => Err(PortError::Disconnected),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(0),
            Err(e) if is_disconnect(&e) => Err(PortError::Disconnected),
            Err(e) => Err(PortError::Io(e)),
        }
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), PortError> {
        self.set_timeout(WRITE_TIMEOUT)?;
        match self.inner.write_all(data) {
            Ok(()) => Ok(()),
            Err(e) if is_disconnect(&e) => Err(PortError::Disconnected),
            Err(e) => Err(PortError::Io(e)),
        }
    }
}

/// Bytes arriving as chunks on a channel (from another thread), read like a port.
pub struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    pending: VecDeque<u8>,
}

impl ChannelReader {
    /// Reads from chunks sent on `rx`; a closed channel is a disconnect.
    pub fn new(rx: mpsc::Receiver<Vec<u8>>) -> ChannelReader {
        ChannelReader {
            rx,
            pending: VecDeque::new(),
        }
    }

    /// As [`Port::read_timeout`].
    pub fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        if self.pending.is_empty() {
            match self.rx.recv_timeout(timeout) {
                Ok(chunk) => self.pending.extend(chunk),
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(0),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(PortError::Disconnected),
            }
        }
        let n = buf.len().min(self.pending.len());
        for (dst, src) in buf.iter_mut().zip(self.pending.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

/// One end of an in-memory port pair, for unit tests of the protocol.
pub struct MemPort {
    tx: mpsc::Sender<Vec<u8>>,
    rx: ChannelReader,
}

/// Two connected in-memory ports.
pub fn mem_pair() -> (MemPort, MemPort) {
    let (a_tx, b_rx) = mpsc::channel();
    let (b_tx, a_rx) = mpsc::channel();
    (
        MemPort {
            tx: a_tx,
            rx: ChannelReader::new(a_rx),
        },
        MemPort {
            tx: b_tx,
            rx: ChannelReader::new(b_rx),
        },
    )
}

impl Port for MemPort {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        self.rx.read_timeout(buf, timeout)
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), PortError> {
        self.tx.send(data.to_vec()).map_err(|_| PortError::Disconnected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn an_eio_without_its_os_code_is_a_disconnect_and_other_errors_are_not() {
        // As `serialport` returns a pty's POLLERR or a read's EIO on Unix.
        assert!(is_disconnect(&Error::other("I/O error")));
        assert!(is_disconnect(&Error::from_raw_os_error(5)));
        assert!(is_disconnect(&Error::new(ErrorKind::BrokenPipe, "Broken pipe")));
        assert!(!is_disconnect(&Error::other("Not a typewriter")));
        assert!(!is_disconnect(&Error::new(ErrorKind::PermissionDenied, "I/O error")));
        assert!(!is_disconnect(&Error::from_raw_os_error(13)));
    }

    #[cfg(unix)]
    #[test]
    fn a_read_cut_short_by_a_signal_waits_out_its_timeout() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};

        extern "C" fn ignore(_: libc::c_int) {}
        // SAFETY: a handler that does nothing, for a signal nothing else in this binary uses;
        // without SA_RESTART, so a wait in ppoll(2) ends with EINTR as it would on Ctrl-C.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()), 0);
        }
        let (_terminal, ours) = serialport::TTYPort::pair().expect("a pseudo-terminal");
        let mut port = SerialPort::from_open(Box::new(ours));
        // SAFETY: pthread_self has no preconditions.
        let reader = unsafe { libc::pthread_self() };
        let done = Arc::new(AtomicBool::new(false));
        let signaller = {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                    // SAFETY: the reader thread outlives this loop: it sets `done` first.
                    unsafe { libc::pthread_kill(reader, libc::SIGUSR1) };
                }
            })
        };
        let started = Instant::now();
        let read = port.read_timeout(&mut [0u8; 16], Duration::from_millis(300));
        let waited = started.elapsed();
        done.store(true, Ordering::Relaxed);
        signaller.join().unwrap();
        assert!(matches!(read, Ok(0)), "{read:?}");
        assert!(waited >= Duration::from_millis(290), "returned after {waited:?}");
    }
}
