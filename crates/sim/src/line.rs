//! The simulated terminal's side of the cable: a pseudo-terminal (or a real port) paced at
//! the configured baud in both directions, with byte faults and a simulated unplug.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::faults::{FaultSpec, STALL_CHANCE_PER_FRAME, corrupt};
use crate::link::port::{ChannelReader, Port, PortError, SerialPort};

/// How often the reader thread looks again for an agent on the other end.
const READER_POLL: Duration = Duration::from_millis(20);
/// How long one read waits for bytes (and so how soon the reader sees its stop flag): a
/// read returns as soon as bytes come, and each empty one is a wake-up, which dozens of
/// idle simulators on one machine pay for.
const READ_WAIT: Duration = Duration::from_millis(100);
/// The timeouts of a port read and written at once on Windows (see
/// [`SerialPort::fix_timeouts`]): a paced write is a few milliseconds of bytes.
#[cfg(windows)]
const SHARED_TIMEOUT: Duration = Duration::from_millis(50);
/// Target duration of one paced write, so pacing stays smooth at every baud (each slice is
/// a wake-up; a late one is caught up, see [`CATCH_UP`]).
const PACE_SLICE: Duration = Duration::from_millis(10);

/// Pseudo-terminals exist only on Unix; on Windows the simulator serves on an existing
/// port (one side of a virtual null-modem pair) with `--port COMn`.
#[cfg(not(unix))]
pub fn open_pty(_link: Option<&Path>) -> Result<(SerialPort, PathBuf), PortError> {
    Err(PortError::Io(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        posagent_i18n::tr!("sim-no-pty"),
    )))
}

/// A new pseudo-terminal: the master end to serve on and the path an agent opens.
#[cfg(unix)]
pub fn open_pty(link: Option<&Path>) -> Result<(SerialPort, PathBuf), PortError> {
    use serialport::SerialPort as _;
    let (master, slave) = serialport::TTYPort::pair().map_err(|e| PortError::Io(e.into()))?;
    let path = PathBuf::from(
        slave
            .name()
            .ok_or_else(|| PortError::Io(std::io::Error::other("pty has no name")))?,
    );
    // The agent must be able to open the slave exclusively, so we do not keep it open.
    drop(slave);
    if let Some(link) = link {
        // Replace the symlink atomically so an agent never sees it missing.
        let tmp = link.with_extension("new-link");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&path, &tmp)?;
        std::fs::rename(&tmp, link)?;
    }
    Ok((SerialPort::from_open(Box::new(master)), path))
}

/// Seconds per byte at `baud`, 8N1.
fn byte_time(baud: u32) -> f64 {
    10.0 / f64::from(baud.max(1))
}

/// How far behind the line clock may fall before the line counts as idle. Without it,
/// every late wake-up from a sleep would be lost line time, which a UART fed without pause
/// does not lose.
const PACE_TOLERANCE: Duration = Duration::from_millis(2);

/// How far behind the line clock may fall while its bytes are already handed over (the rest
/// of one write, or bytes that were waiting to be read): a UART with a full FIFO does not
/// idle because the processor that fills it was late, so the line catches up, up to this.
/// A simulator on a busy machine (a depot of dozens on two cores) wakes late often; without
/// it, the simulated lines, not the agent, set the pace.
const CATCH_UP: Duration = Duration::from_millis(100);

/// Advances the line clock `next` by `n` bytes' time. After an idle gap (`waited`: the
/// bytes were not there yet) it starts afresh; bytes already there continue the clock.
fn advance(next: &mut Instant, byte_time: f64, n: usize, waited: bool) {
    let now = Instant::now();
    let lag = if waited { PACE_TOLERANCE } else { CATCH_UP };
    if now > *next + lag {
        *next = now;
    }
    *next += Duration::from_secs_f64(byte_time * n as f64);
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// Bytes written ahead of the line, waiting to go out at its rate (a buffered line).
struct Queue {
    state: std::sync::Mutex<(std::collections::VecDeque<Vec<u8>>, usize, bool)>,
    changed: std::sync::Condvar,
    capacity: usize,
}

impl Queue {
    /// Waits for room, then queues `piece`.
    fn push(&self, piece: Vec<u8>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while s.1 > 0 && s.1 + piece.len() > self.capacity && !s.2 {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.1 += piece.len();
        s.0.push_back(piece);
        self.changed.notify_all();
    }

    /// The next piece to send, waiting for one; `None` once closed.
    fn pop(&self) -> Option<Vec<u8>> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(piece) = s.0.pop_front() {
                s.1 -= piece.len();
                self.changed.notify_all();
                return Some(piece);
            }
            if s.2 {
                return None;
            }
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).2 = true;
        self.changed.notify_all();
    }
}

/// Sends queued bytes at the line's rate.
fn drain(queue: Arc<Queue>, mut port: SerialPort, byte_time: f64, bytes: Arc<AtomicU64>) {
    let mut next = Instant::now();
    loop {
        let asked = Instant::now();
        let Some(piece) = queue.pop() else { break };
        advance(&mut next, byte_time, piece.len(), asked.elapsed() > PACE_TOLERANCE);
        let _ = port.write_all(&piece);
        bytes.fetch_add(piece.len() as u64, Ordering::Relaxed);
        sleep_until(next);
    }
}

/// The paced, faulty line.
pub struct LinePort {
    writer: SerialPort,
    /// With a buffer: where writes go, and the thread that sends them at line rate.
    queue: Option<(Arc<Queue>, JoinHandle<()>)>,
    /// Seconds per byte at which the writer fills the buffer (`None`: at once).
    uart: Option<f64>,
    rx: ChannelReader,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    spec: FaultSpec,
    rng: StdRng,
    byte_time: f64,
    next_tx: Instant,
    slice: usize,
    bytes: Arc<AtomicU64>,
    unplug_at: Option<u64>,
}

impl LinePort {
    /// Serves on `port` at `baud` with `spec` faults; `spec.unplug_after` counts from now.
    pub fn new(port: SerialPort, baud: u32, spec: FaultSpec, seed: u64) -> Result<LinePort, PortError> {
        // Read on one handle, written on another: on Windows they share one set of
        // timeouts, short enough that a waiting read never holds a write for long.
        #[cfg(windows)]
        let port = port.fix_timeouts(SHARED_TIMEOUT)?;
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        let reader = {
            let mut port = port.try_clone()?;
            let (stop, bytes, spec) = (stop.clone(), bytes.clone(), spec.clone());
            let bt = byte_time(baud);
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed ^ 0x005E_ED0F_DA7A);
                let mut next = Instant::now();
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let asked = Instant::now();
                    match port.read_timeout(&mut buf, READ_WAIT) {
                        Ok(0) => {}
                        Ok(n) => {
                            // The bytes arrive no faster than the line carries them; bytes
                            // that were there at once had been waiting on the line.
                            let waited = asked.elapsed() > PACE_TOLERANCE;
                            advance(&mut next, bt, n, waited);
                            sleep_until(next);
                            bytes.fetch_add(n as u64, Ordering::Relaxed);
                            if tx.send(corrupt(&spec, &mut rng, &buf[..n])).is_err() {
                                break;
                            }
                        }
                        // Nobody has the other end open: a cable with no agent.
                        Err(_) => std::thread::sleep(READER_POLL),
                    }
                }
            })
        };
        let bt = byte_time(baud);
        let slice = ((PACE_SLICE.as_secs_f64() / bt) as usize).max(16);
        Ok(LinePort {
            writer: port,
            queue: None,
            uart: None,
            rx: ChannelReader::new(rx),
            stop,
            reader: Some(reader),
            unplug_at: spec.unplug_after,
            spec,
            rng: StdRng::seed_from_u64(seed),
            byte_time: bt,
            next_tx: Instant::now(),
            slice,
            bytes,
        })
    }

    /// Makes the line buffered: writes return once their bytes fit in `bytes` of buffer
    /// (as with a USB-serial bridge or the operating system's queue), and the bytes still
    /// leave at the line's rate. With `uart`, the writer's own UART feeds the buffer at
    /// that baud (faster than the line, when the terminal misjudges it); else at once.
    pub fn buffered(mut self, bytes: usize, uart: Option<u32>) -> Result<LinePort, PortError> {
        if bytes == 0 {
            return Ok(self);
        }
        let queue = Arc::new(Queue {
            state: std::sync::Mutex::new((std::collections::VecDeque::new(), 0, false)),
            changed: std::sync::Condvar::new(),
            capacity: bytes,
        });
        let port = self.writer.try_clone()?;
        let thread = {
            let (queue, bytes, bt) = (queue.clone(), self.bytes.clone(), self.byte_time);
            std::thread::spawn(move || drain(queue, port, bt, bytes))
        };
        self.queue = Some((queue, thread));
        self.uart = uart.map(byte_time);
        Ok(self)
    }

    fn unplugged(&self) -> bool {
        self.unplug_at.is_some_and(|n| self.bytes.load(Ordering::Relaxed) >= n)
    }
}

impl Port for LinePort {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        if self.unplugged() {
            return Err(PortError::Disconnected);
        }
        self.rx.read_timeout(buf, timeout)
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), PortError> {
        if let Some(stall) = self.spec.stall
            && self.rng.random_bool(STALL_CHANCE_PER_FRAME)
        {
            std::thread::sleep(stall);
        }
        let data = corrupt(&self.spec, &mut self.rng, data);
        if let Some((queue, _)) = &self.queue {
            if self.unplugged() {
                return Err(PortError::Disconnected);
            }
            for (i, piece) in data.chunks(self.slice).enumerate() {
                if let Some(bt) = self.uart {
                    advance(&mut self.next_tx, bt, piece.len(), i == 0);
                    sleep_until(self.next_tx);
                }
                queue.push(piece.to_vec());
            }
            return Ok(());
        }
        for (i, piece) in data.chunks(self.slice).enumerate() {
            if self.unplugged() {
                return Err(PortError::Disconnected);
            }
            // The first piece may follow an idle line; the rest of the write is there.
            advance(&mut self.next_tx, self.byte_time, piece.len(), i == 0);
            // With no agent on the other end the bytes are lost, as on a real cable.
            let _ = self.writer.write_all(piece);
            self.bytes.fetch_add(piece.len() as u64, Ordering::Relaxed);
            sleep_until(self.next_tx);
        }
        Ok(())
    }
}

impl Drop for LinePort {
    fn drop(&mut self) {
        if let Some((queue, thread)) = self.queue.take() {
            queue.close();
            let _ = thread.join();
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 115200 baud: 1,000 bytes take 86.8 ms.
    const BT: f64 = 10.0 / 115_200.0;

    #[test]
    fn a_late_wake_up_inside_a_write_is_caught_up_not_lost() {
        let start = Instant::now() - Duration::from_millis(50);
        let mut next = start;
        advance(&mut next, BT, 1000, false);
        // The line goes on from where it was: the 50 ms the writer was late are not idle.
        assert_eq!(next, start + Duration::from_secs_f64(BT * 1000.0));
    }

    #[test]
    fn bytes_after_an_idle_line_start_the_clock_afresh() {
        let start = Instant::now() - Duration::from_millis(50);
        let mut next = start;
        advance(&mut next, BT, 1000, true);
        assert!(next >= start + Duration::from_millis(50) + Duration::from_secs_f64(BT * 1000.0));
    }

    #[test]
    fn catching_up_is_bounded() {
        let start = Instant::now() - CATCH_UP - Duration::from_millis(50);
        let mut next = start;
        advance(&mut next, BT, 1000, false);
        // Far behind, the line counts as having been idle: no burst of more than CATCH_UP.
        assert!(next >= start + CATCH_UP + Duration::from_millis(50));
    }
}
