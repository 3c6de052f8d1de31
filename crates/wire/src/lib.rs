//! The terminal link: frames over a byte port, reliable commands, windowed bulk transfer.
//!
//! Commands are stop-and-wait: the agent sends a Command frame, the terminal acknowledges
//! it at once (ACK) and answers later (Response with the same sequence number). A lost or
//! corrupted frame is sent again after a timeout or on a NAK, a bounded number of times;
//! the terminal recognises a repeated sequence number and answers from its cache instead of
//! running the command twice. Bulk data moves in a sliding window with selective
//! acknowledgements (see [`bulk`]). Both sides of the protocol use this module.

pub mod bulk;
pub mod encoding;
pub mod frame;
pub mod port;
pub mod proto;
pub mod rto;
pub mod settings;
pub mod sizing;
pub mod tlv;

pub(crate) use posagent_i18n::tr;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

use frame::{Decoder, Frame, Kind};
use port::{Port, PortError};

/// Why a link operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("{}", crate::tr!("link-timeout", command = *.command, attempts = *.attempts))]
    Timeout { command: &'static str, attempts: u32 },
    #[error("{}", crate::tr!("link-busy", command = *.command))]
    Busy { command: &'static str },
    #[error("{}", crate::tr!("link-stalled", offset = *.offset, total = *.total))]
    Stalled { offset: u64, total: u64 },
    #[error("{}", crate::tr!("link-protocol", reason = .0.as_str()))]
    Protocol(String),
}

impl LinkError {
    /// Whether reopening the port and resuming could help.
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            LinkError::Port(PortError::Disconnected) | LinkError::Stalled { .. }
        )
    }
}

/// Counters of one link, reported under `--json` by every command that moves data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkStats {
    /// Bytes written to the port, framing included.
    pub wire_bytes_out: u64,
    /// Bytes read from the port, framing and noise included.
    pub wire_bytes_in: u64,
    /// Application bytes moved in bulk transfers (both directions).
    pub payload_bytes: u64,
    pub frames_out: u64,
    pub frames_in: u64,
    /// Frames sent again (commands and data chunks).
    pub retransmissions: u64,
    /// Frames the peer sent again, as seen here: Data frames of units already held and
    /// answers to a command already answered.
    pub peer_retransmissions: u64,
    /// `Nak`s sent (asking the peer to repeat) and received.
    pub naks_out: u64,
    pub naks_in: u64,
    /// Waits that ran out: a command's answer overdue, a bulk chunk's retransmission timer.
    pub timeouts: u64,
    /// Received byte runs that failed CRC, length or escape checks.
    pub corrupt_frames: u64,
    /// Times the port was reopened after a disconnect.
    pub reconnects: u64,
    pub elapsed_seconds: f64,
}

impl LinkStats {
    /// Adds another link's counters (after a reconnect the new link starts from zero).
    pub fn absorb(&mut self, o: &LinkStats) {
        self.wire_bytes_out += o.wire_bytes_out;
        self.wire_bytes_in += o.wire_bytes_in;
        self.payload_bytes += o.payload_bytes;
        self.frames_out += o.frames_out;
        self.frames_in += o.frames_in;
        self.retransmissions += o.retransmissions;
        self.peer_retransmissions += o.peer_retransmissions;
        self.naks_out += o.naks_out;
        self.naks_in += o.naks_in;
        self.timeouts += o.timeouts;
        self.corrupt_frames += o.corrupt_frames;
        self.reconnects += o.reconnects;
    }
}

/// What one receive attempt produced.
#[derive(Debug)]
pub enum Received {
    Frame(Frame),
    /// Bytes that were not a valid frame.
    Corrupt,
    /// Nothing before the deadline.
    Timeout,
}

/// Size of one read from the port.
const READ_CHUNK: usize = 4096;

/// A framed link over a port.
pub struct Link<P: Port> {
    port: P,
    decoder: Decoder,
    queue: VecDeque<Result<Frame, frame::FrameError>>,
    next_seq: u16,
    /// Seconds one byte takes on the line (8N1: 10 bits).
    byte_time: f64,
    /// Agreed largest frame payload.
    pub max_payload: usize,
    /// Agreed bulk window, in frames.
    pub window: usize,
    /// The block size both sides agreed on for Data frames sized to the line; `None`:
    /// fixed chunks of `max_payload − 4`.
    pub block: Option<usize>,
    /// How long this side's Data frames should be, learnt from the loss it sees.
    sizer: sizing::FrameSizer,
    /// How long a quick command's answer takes, from the command's send (RFC 6298, as the
    /// bulk sender's timer): an answer overdue by it is asked for again.
    answer_rto: rto::Rto,
    /// The last command answered (its `seq`): a repeat of its answer is the peer's resend.
    answered: Option<u16>,
    pub stats: LinkStats,
}

impl<P: Port> Link<P> {
    /// A link over `port` at `baud` (used only to size timeouts).
    pub fn new(port: P, baud: u32) -> Link<P> {
        Link {
            port,
            decoder: Decoder::new(),
            queue: VecDeque::new(),
            next_seq: 1,
            byte_time: 10.0 / f64::from(baud.max(1)),
            max_payload: usize::from(proto::DEFAULT_MAX_PAYLOAD),
            window: usize::from(proto::DEFAULT_WINDOW),
            block: None,
            sizer: sizing::FrameSizer::default(),
            answer_rto: rto::Rto::new(proto::ACK_TIMEOUT * 2, proto::QUICK_RESPONSE_TIMEOUT),
            answered: None,
            stats: LinkStats::default(),
        }
    }

    /// Bytes per second the line carries at the baud it was opened with.
    pub fn nominal_rate(&self) -> f64 {
        1.0 / self.byte_time
    }

    /// How long `bytes` take on the line.
    pub fn wire_time(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(self.byte_time * bytes as f64)
    }

    /// Time for one full frame on the line, with stuffing headroom.
    pub fn frame_time(&self) -> Duration {
        self.wire_time(self.max_payload + self.max_payload / 32 + 16)
    }

    /// Sends one frame.
    pub fn send(&mut self, f: &Frame) -> Result<(), LinkError> {
        let bytes = f.encode();
        self.port.write_all(&bytes)?;
        self.stats.wire_bytes_out += bytes.len() as u64;
        self.stats.frames_out += 1;
        Ok(())
    }

    /// Waits for the next frame (or corrupt run) until `deadline`.
    pub fn recv(&mut self, deadline: Instant) -> Result<Received, LinkError> {
        let mut buf = [0u8; READ_CHUNK];
        loop {
            if let Some(r) = self.queue.pop_front() {
                return Ok(match r {
                    Ok(f) => {
                        self.stats.frames_in += 1;
                        Received::Frame(f)
                    }
                    Err(_) => {
                        self.stats.corrupt_frames += 1;
                        Received::Corrupt
                    }
                });
            }
            // Always look at the port once, even past the deadline: a sender polling with
            // a zero wait must still see the acknowledgements that have arrived.
            let n = self
                .port
                .read_timeout(&mut buf, deadline.saturating_duration_since(Instant::now()))?;
            self.stats.wire_bytes_in += n as u64;
            for b in &buf[..n] {
                if let Some(r) = self.decoder.push(*b) {
                    self.queue.push_back(r);
                }
            }
            if n == 0 && self.queue.is_empty() && Instant::now() >= deadline {
                return Ok(Received::Timeout);
            }
        }
    }

    /// The underlying port.
    pub fn port_mut(&mut self) -> &mut P {
        &mut self.port
    }

    /// Asks the terminal to repeat its answer to command `seq` (a `Nak`, §3).
    fn ask_again(&mut self, name: &'static str, seq: u16, code: u8, why: &'static str) -> Result<(), LinkError> {
        self.stats.naks_out += 1;
        tracing::debug!(command = name, seq, why, "asking for the answer again (Nak)");
        self.send(&Frame::bare(Kind::Nak, seq, code))
    }

    /// Sends a command and returns the response payload, retrying as the protocol says.
    pub fn command(&mut self, code: u8, payload: Vec<u8>) -> Result<Vec<u8>, LinkError> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        let name = command_name(code);
        let request = Frame {
            kind: Kind::Command,
            seq,
            code,
            payload,
        };
        let request_time = self.wire_time(request.payload.len() + 16);
        // A command the terminal answers at once: its answer is due within the measured
        // round trip, and asked for again when it is not (a damaged or lost answer costs
        // about one round trip, not the command's whole timeout). One that takes the
        // terminal time to carry out (SETTLE, BIND …) waits its own timeout.
        let quick = proto::response_timeout(code) <= proto::QUICK_RESPONSE_TIMEOUT;
        let (mut attempts, mut busy) = (0u32, 0u32);
        // Only an answer to a command sent once and never asked for again is a round trip.
        let mut measurable = true;
        'send: loop {
            if attempts > proto::COMMAND_RETRIES {
                tracing::debug!(command = name, attempts, "no answer: the command failed");
                return Err(LinkError::Timeout {
                    command: name,
                    attempts,
                });
            }
            if attempts > 0 {
                self.stats.retransmissions += 1;
                measurable = false;
                tracing::debug!(command = name, seq, attempt = attempts + 1, "command sent again");
            }
            attempts += 1;
            self.send(&request)?;
            let sent_at = Instant::now();
            let mut deadline = sent_at + request_time + proto::ACK_TIMEOUT + self.frame_time();
            let mut ask_again_at = quick.then(|| sent_at + request_time + self.answer_rto.current());
            loop {
                let until = ask_again_at.map_or(deadline, |at| at.min(deadline));
                match self.recv(until)? {
                    Received::Frame(f) if f.seq == seq && f.kind == Kind::Ack => {
                        deadline = Instant::now() + proto::response_timeout(code) + self.frame_time() * 2;
                    }
                    Received::Frame(f) if f.seq == seq && f.kind == Kind::Response && f.code == code => {
                        if quick && measurable {
                            self.answer_rto.sample(sent_at.elapsed().saturating_sub(request_time));
                        }
                        self.answered = Some(seq);
                        return Ok(f.payload);
                    }
                    Received::Frame(f) if Some(f.seq) == self.answered && f.kind == Kind::Response => {
                        self.stats.peer_retransmissions += 1;
                    }
                    Received::Frame(f) if f.seq == seq && f.kind == Kind::Busy => {
                        busy += 1;
                        if busy > proto::BUSY_RETRIES {
                            return Err(LinkError::Busy { command: name });
                        }
                        std::thread::sleep(proto::BUSY_BACKOFF);
                        attempts -= 1;
                        continue 'send;
                    }
                    Received::Frame(f) if f.kind == Kind::Nak && f.payload.is_empty() => {
                        self.stats.naks_in += 1;
                        tracing::debug!(command = name, seq, "the terminal asked for the command again (Nak)");
                        continue 'send;
                    }
                    // A garbled frame may have been our answer: ask for it again.
                    Received::Corrupt => {
                        self.ask_again(name, seq, code, "a damaged frame came")?;
                        measurable = false;
                        deadline = deadline.max(Instant::now() + proto::ACK_TIMEOUT + self.frame_time());
                    }
                    Received::Frame(_) => {} // stale answers and data chunks
                    Received::Timeout
                        if ask_again_at.is_some_and(|at| Instant::now() >= at) && Instant::now() < deadline =>
                    {
                        // The answer is overdue by the round trip: lost or cut short.
                        self.stats.timeouts += 1;
                        self.answer_rto.back_off();
                        self.ask_again(name, seq, code, "the answer is overdue")?;
                        measurable = false;
                        ask_again_at = Some(Instant::now() + self.answer_rto.current());
                    }
                    Received::Timeout => {
                        self.stats.timeouts += 1;
                        continue 'send;
                    }
                }
            }
        }
    }
}

/// A command's name, for messages.
pub fn command_name(code: u8) -> &'static str {
    use proto::cmd::*;
    match code {
        HELLO => "HELLO",
        IDENTIFY => "IDENTIFY",
        STATUS => "STATUS",
        AUTH_BEGIN => "AUTH_BEGIN",
        AUTH_PROVE => "AUTH_PROVE",
        READ_BINDING => "READ_BINDING",
        EXPORT_BEGIN => "EXPORT_BEGIN",
        EXPORT_END => "EXPORT_END",
        IMPORT_BEGIN => "IMPORT_BEGIN",
        IMPORT_COMMIT => "IMPORT_COMMIT",
        DIGEST => "DIGEST",
        SETTLE => "SETTLE",
        UNBIND => "UNBIND",
        BIND => "BIND",
        ACTIVATE => "ACTIVATE",
        TEST_TRANSACTION => "TEST_TRANSACTION",
        REBOOT => "REBOOT",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::port::{Port, mem_pair};
    use super::*;

    #[test]
    fn a_waiting_frame_is_returned_even_past_the_deadline() {
        // A sender polls for acknowledgements with a deadline of "now"; they must be seen.
        let (mut a, b) = mem_pair();
        a.write_all(&Frame::bare(Kind::Ack, 3, 0).encode()).unwrap();
        let mut link = Link::new(b, 115_200);
        let past = Instant::now() - Duration::from_secs(1);
        assert!(matches!(link.recv(past).unwrap(), Received::Frame(f) if f.seq == 3));
        assert!(matches!(link.recv(past).unwrap(), Received::Timeout));
    }

    /// An answer cut short after its Ack (its end lost on the line) is asked for again once
    /// overdue by the measured round trip: recovered in a fraction of a second, not after
    /// the command's 3 s timeout and a resend of the whole command.
    #[test]
    fn an_answer_cut_short_is_asked_for_again_within_the_round_trip() {
        let (a, b) = mem_pair();
        let agent = std::thread::spawn(move || {
            let mut link = Link::new(a, 1_000_000);
            // A few answered commands first: the round trip is measured.
            for _ in 0..3 {
                link.command(proto::cmd::IDENTIFY, Vec::new()).unwrap();
            }
            let started = Instant::now();
            let rsp = link.command(proto::cmd::STATUS, Vec::new()).unwrap();
            (rsp, started.elapsed(), link.stats.clone())
        });
        let mut terminal = Link::new(b, 1_000_000);
        let next = |t: &mut Link<_>, kind: Kind| loop {
            match t.recv(Instant::now() + Duration::from_secs(5)).unwrap() {
                Received::Frame(f) if f.kind == kind => return f,
                Received::Timeout => panic!("no {kind:?} came"),
                _ => {}
            }
        };
        let answer = |f: &Frame, payload: Vec<u8>| Frame {
            kind: Kind::Response,
            seq: f.seq,
            code: f.code,
            payload,
        };
        for _ in 0..3 {
            let f = next(&mut terminal, Kind::Command);
            terminal.send(&answer(&f, vec![1])).unwrap();
        }
        let f = next(&mut terminal, Kind::Command);
        terminal.send(&Frame::bare(Kind::Ack, f.seq, f.code)).unwrap();
        let whole = answer(&f, vec![7; 40]);
        let bytes = whole.encode();
        terminal.port_mut().write_all(&bytes[..bytes.len() / 2]).unwrap();
        let nak = next(&mut terminal, Kind::Nak);
        assert_eq!(nak.seq, f.seq, "the Nak names the command waited on");
        terminal.send(&whole).unwrap();
        let (rsp, took, stats) = agent.join().unwrap();
        assert_eq!(rsp, vec![7; 40]);
        assert!(took < Duration::from_millis(900), "recovered after {took:?}");
        // Asked by Nak (once overdue, and again for the damaged half), never resent.
        assert!(
            stats.retransmissions == 0 && stats.timeouts == 1 && stats.naks_out >= 1,
            "{stats:?}"
        );
    }

    #[test]
    fn commands_are_retransmitted_until_answered() {
        let (a, mut b) = mem_pair();
        let agent = std::thread::spawn(move || {
            let mut link = Link::new(a, 1_000_000);
            let rsp = link.command(proto::cmd::STATUS, vec![1, 2]).unwrap();
            (rsp, link.stats.retransmissions)
        });
        // Ignore the first copy, as if it were lost; answer the second.
        let mut decoder = frame::Decoder::new();
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while seen.len() < 2 {
            let n = b.read_timeout(&mut buf, Duration::from_secs(5)).unwrap();
            seen.extend(buf[..n].iter().filter_map(|x| decoder.push(*x)).map(Result::unwrap));
        }
        assert_eq!(seen[0], seen[1], "the retransmission is the same frame");
        let f = &seen[1];
        b.write_all(
            &Frame {
                kind: Kind::Response,
                seq: f.seq,
                code: f.code,
                payload: vec![9],
            }
            .encode(),
        )
        .unwrap();
        let (rsp, retransmissions) = agent.join().unwrap();
        assert_eq!(rsp, vec![9]);
        assert_eq!(retransmissions, 1);
    }
}
