//! Bulk transfer: a sliding window of Data frames with selective acknowledgement.
//!
//! The object is cut into chunks of `max_payload - 4` bytes, anchored at offset 0, so a
//! transfer resumed at any acknowledged offset uses the same chunks. Each Data frame carries
//! its offset. The receiver answers every Data frame with an ACK holding the cumulative
//! offset (everything before it is in) and a 32-bit map of the chunks after it that are in.
//! The sender keeps up to `window` chunks unacknowledged; it resends a chunk when a later
//! one has been acknowledged while it has not (selective retransmission), when the receiver
//! asks for it with a NAK, or when nothing has come back for a retransmission timeout,
//! which is learnt from the acknowledgements' round trips ([`super::rto`]).
//! Either side gives up after [`proto::BULK_STALL_TIMEOUT`] without progress.
//!
//! A sender may send an object while it is still arriving from elsewhere (a [`Source`]
//! whose bytes come in over another line): it sends each chunk once the chunk is there,
//! and hands back [`BulkEnd::Starved`] when nothing new has come for [`STARVED_AFTER`], before
//! the receiver gives up waiting.

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::{Duration, Instant};

use super::frame::{Frame, Kind};
use super::port::Port;
use super::proto::{self, DATA_OFFSET_LEN, SACK_BITS};
use super::rto::Rto;
use super::{Link, LinkError, Received};

/// Largest object a bulk transfer may carry (64 MiB).
pub const MAX_OBJECT_LEN: usize = 64 << 20;

/// How long a sender waits for a [`Source`] with nothing new, everything sent so far
/// acknowledged, before it hands back [`BulkEnd::Starved`]: well inside the receiver's
/// [`proto::BULK_STALL_TIMEOUT`].
pub const STARVED_AFTER: Duration = Duration::from_millis(2500);

/// How often a starved sender looks at its source again.
const STARVED_POLL: Duration = Duration::from_millis(50);

/// How a bulk transfer ended without error.
#[derive(Debug)]
pub enum BulkEnd {
    /// Every byte is acknowledged (sender) or received (receiver).
    Complete,
    /// The peer sent a command instead: it has moved on (or started over).
    Command(Frame),
    /// Sender only: every byte the source had is acknowledged, up to this offset, and
    /// nothing new came for [`STARVED_AFTER`]. The receiver will soon stop waiting; start
    /// again (IMPORT_BEGIN answers where it stands) once the source has more.
    Starved(usize),
}

/// Observer of transfer progress: (bytes done, bytes total).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Receiver of each run of bytes that becomes contiguous: (its offset, the bytes).
pub type Tee<'a> = &'a mut dyn FnMut(usize, &[u8]);

/// What a bulk sender sends: an object whose bytes are all there, or one still arriving.
pub trait Source {
    /// The object's length.
    fn total(&self) -> usize;
    /// How many bytes from offset 0 are there now; while fewer than `want`, waits for more
    /// until `until`.
    fn ready(&self, want: usize, until: Instant) -> usize;
    /// Appends the bytes in `range` (all there) to `out`.
    fn copy_to(&self, range: Range<usize>, out: &mut Vec<u8>);
}

impl Source for [u8] {
    fn total(&self) -> usize {
        self.len()
    }

    fn ready(&self, _want: usize, _until: Instant) -> usize {
        self.len()
    }

    fn copy_to(&self, range: Range<usize>, out: &mut Vec<u8>) {
        out.extend_from_slice(&self[range]);
    }
}

/// Encodes a bulk ACK: cumulative offset and selective map.
pub fn ack_payload(cum: u32, sack: u32) -> Vec<u8> {
    let mut p = cum.to_be_bytes().to_vec();
    p.extend_from_slice(&sack.to_be_bytes());
    p
}

fn parse_ack(p: &[u8]) -> Option<(u32, u32)> {
    let cum = u32::from_be_bytes(p.get(0..4)?.try_into().ok()?);
    let sack = u32::from_be_bytes(p.get(4..8)?.try_into().ok()?);
    Some((cum, sack))
}

#[derive(Clone, Copy, Default)]
struct Slot {
    sent_at: Option<Instant>,
    acked: bool,
    /// Sent more than once: its acknowledgement is not a round-trip measurement.
    resent: bool,
}

impl<P: Port> Link<P> {
    /// Bytes of object data in one Data frame.
    pub fn chunk_size(&self) -> usize {
        self.max_payload - DATA_OFFSET_LEN
    }

    fn send_chunk<S: Source + ?Sized>(&mut self, data: &S, idx: usize) -> Result<(), LinkError> {
        let chunk = self.chunk_size();
        let start = idx * chunk;
        let end = (start + chunk).min(data.total());
        let mut payload = Vec::with_capacity(DATA_OFFSET_LEN + end - start);
        payload.extend_from_slice(&(start as u32).to_be_bytes());
        data.copy_to(start..end, &mut payload);
        self.send(&Frame {
            kind: Kind::Data,
            seq: idx as u16,
            code: 0,
            payload,
        })
    }

    /// Sends `data` from offset `start` (a chunk boundary already acknowledged), each chunk
    /// once the source has it.
    pub fn send_bulk<S: Source + ?Sized>(
        &mut self,
        data: &S,
        start: usize,
        progress: Progress<'_>,
    ) -> Result<BulkEnd, LinkError> {
        let chunk = self.chunk_size();
        let total = data.total();
        let n = total.div_ceil(chunk);
        let first = (start / chunk).min(n);
        let mut slots = vec![Slot::default(); n];
        slots[..first].iter_mut().for_each(|s| s.acked = true);
        let (mut base, mut next) = (first, first);
        let mut lost: BTreeSet<usize> = BTreeSet::new();
        // The nominal baud gives the first estimate; the acknowledgements' round trips the rest.
        let mut rto = Rto::new(
            proto::ACK_TIMEOUT + self.frame_time() * (self.window as u32 + 2),
            proto::BULK_STALL_TIMEOUT / 2,
        );
        let mut last_progress = Instant::now();
        let mut starved_since: Option<Instant> = None;
        progress((base * chunk).min(total) as u64, total as u64);
        while base < n {
            // Resend what is known lost first, then fill the window.
            let mut sent = false;
            while let Some(i) = lost.pop_first() {
                if !slots[i].acked {
                    self.send_chunk(data, i)?;
                    self.stats.retransmissions += 1;
                    slots[i].sent_at = Some(Instant::now());
                    slots[i].resent = true;
                    sent = true;
                    break;
                }
            }
            let mut starved = false;
            if !sent && next < n && next - base < self.window {
                let end = ((next + 1) * chunk).min(total);
                if data.ready(end, Instant::now()) >= end {
                    self.send_chunk(data, next)?;
                    self.stats.payload_bytes += (end - next * chunk) as u64;
                    slots[next].sent_at = Some(Instant::now());
                    next += 1;
                    sent = true;
                    starved_since = None;
                } else if next == base {
                    // Everything the source had is acknowledged: wait for it, not the peer.
                    let since = *starved_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= STARVED_AFTER {
                        return Ok(BulkEnd::Starved(base * chunk));
                    }
                    data.ready(end, Instant::now() + STARVED_POLL);
                    last_progress = Instant::now();
                    starved = true;
                }
            }
            // Poll without waiting while there is more to send; otherwise wait for the
            // oldest outstanding chunk's retransmission timeout.
            let oldest = slots[base].sent_at.unwrap_or_else(Instant::now);
            let deadline = if sent || starved {
                Instant::now()
            } else {
                oldest + rto.current()
            };
            let mut got_any = false;
            loop {
                let wait_until = if got_any { Instant::now() } else { deadline };
                match self.recv(wait_until)? {
                    Received::Frame(f) if f.kind == Kind::Ack => {
                        got_any = true;
                        let Some((cum, sack)) = parse_ack(&f.payload) else {
                            continue;
                        };
                        let cum_idx = (cum as usize).div_ceil(chunk).min(n);
                        let now = Instant::now();
                        let mut highest = None;
                        let newly = |slot: &mut Slot, rto: &mut Rto| {
                            if !slot.acked
                                && !slot.resent
                                && let Some(t) = slot.sent_at
                            {
                                rto.sample(now - t);
                            }
                            slot.acked = true;
                        };
                        for (i, slot) in slots.iter_mut().enumerate().take(cum_idx) {
                            newly(slot, &mut rto);
                            highest = Some(i);
                        }
                        for bit in 0..SACK_BITS {
                            let i = cum_idx + 1 + bit;
                            if i < n && sack & (1 << bit) != 0 {
                                newly(&mut slots[i], &mut rto);
                                highest = Some(i);
                            }
                        }
                        // A later chunk arrived while an earlier one did not: it was lost.
                        if let Some(h) = highest
                            && let Some(h_sent) = slots[h].sent_at
                        {
                            for (i, s) in slots.iter().enumerate().take(h).skip(base) {
                                if !s.acked && s.sent_at.is_some_and(|t| t < h_sent) {
                                    lost.insert(i);
                                }
                            }
                        }
                        let old_base = base;
                        while base < n && slots[base].acked {
                            base += 1;
                        }
                        if base > old_base {
                            last_progress = Instant::now();
                            progress((base * chunk).min(total) as u64, total as u64);
                        }
                    }
                    Received::Frame(f) if f.kind == Kind::Nak && f.payload.len() == 4 => {
                        got_any = true;
                        let off = u32::from_be_bytes([f.payload[0], f.payload[1], f.payload[2], f.payload[3]]);
                        let i = off as usize / chunk;
                        if i < n && !slots[i].acked {
                            lost.insert(i);
                        }
                    }
                    Received::Frame(f) if f.kind == Kind::Command => {
                        return Ok(BulkEnd::Command(f));
                    }
                    Received::Frame(_) | Received::Corrupt => got_any = true,
                    Received::Timeout => break,
                }
            }
            if base < n && !sent && slots[base].sent_at.is_some_and(|t| t + rto.current() <= Instant::now()) {
                lost.insert(base);
                rto.back_off();
            }
            if last_progress.elapsed() > proto::BULK_STALL_TIMEOUT {
                return Err(LinkError::Stalled {
                    offset: (base * chunk) as u64,
                    total: total as u64,
                });
            }
        }
        Ok(BulkEnd::Complete)
    }

    /// Receives an object of `total` bytes into `buf`, which holds the bytes already
    /// received (its length is the resume offset). On any return, `buf` holds exactly the
    /// contiguous bytes received, so a later call resumes where this one stopped.
    pub fn recv_bulk(&mut self, total: usize, buf: &mut Vec<u8>, progress: Progress<'_>) -> Result<BulkEnd, LinkError> {
        self.recv_bulk_teeing(total, buf, progress, &mut |_, _| {})
    }

    /// As [`Link::recv_bulk`], handing `tee` each run of bytes as it becomes contiguous
    /// (never the resumed prefix `buf` already held).
    pub fn recv_bulk_teeing(
        &mut self,
        total: usize,
        buf: &mut Vec<u8>,
        progress: Progress<'_>,
        tee: Tee<'_>,
    ) -> Result<BulkEnd, LinkError> {
        if total > MAX_OBJECT_LEN {
            return Err(LinkError::Protocol(format!(
                "object of {total} bytes exceeds the limit"
            )));
        }
        let chunk = self.chunk_size();
        let start = buf.len();
        if !start.is_multiple_of(chunk) && start != total {
            return Err(LinkError::Protocol(format!(
                "resume offset {start} is not a chunk boundary"
            )));
        }
        let n = total.div_ceil(chunk);
        let mut have = vec![false; n];
        have[..start / chunk].iter_mut().for_each(|h| *h = true);
        let mut cum = start;
        buf.resize(total, 0);
        let result = self.recv_bulk_loop(total, buf, &mut have, &mut cum, progress, tee);
        buf.truncate(cum);
        result
    }

    fn recv_bulk_loop(
        &mut self,
        total: usize,
        buf: &mut [u8],
        have: &mut [bool],
        cum: &mut usize,
        progress: Progress<'_>,
        tee: Tee<'_>,
    ) -> Result<BulkEnd, LinkError> {
        let chunk = self.chunk_size();
        let n = have.len();
        progress(*cum as u64, total as u64);
        while *cum < total {
            let deadline = Instant::now() + proto::BULK_STALL_TIMEOUT;
            match self.recv(deadline)? {
                Received::Frame(f) if f.kind == Kind::Data && f.payload.len() >= DATA_OFFSET_LEN => {
                    let off = u32::from_be_bytes([f.payload[0], f.payload[1], f.payload[2], f.payload[3]]) as usize;
                    let bytes = &f.payload[DATA_OFFSET_LEN..];
                    let idx = off / chunk;
                    let expected_len = chunk.min(total.saturating_sub(off));
                    // The sender is not trusted to stay inside the object.
                    if off.is_multiple_of(chunk) && idx < n && bytes.len() == expected_len && !have[idx] {
                        buf[off..off + bytes.len()].copy_from_slice(bytes);
                        have[idx] = true;
                        self.stats.payload_bytes += bytes.len() as u64;
                        let before = *cum;
                        while *cum < total && have[*cum / chunk] {
                            *cum = (*cum + chunk).min(total);
                        }
                        if *cum > before {
                            tee(before, &buf[before..*cum]);
                            progress(*cum as u64, total as u64);
                        }
                    }
                    self.send_bulk_ack(have, *cum, chunk)?;
                }
                Received::Frame(f) if f.kind == Kind::Command => return Ok(BulkEnd::Command(f)),
                Received::Frame(_) => {}
                Received::Corrupt => self.send_bulk_ack(have, *cum, chunk)?,
                Received::Timeout => {
                    return Err(LinkError::Stalled {
                        offset: *cum as u64,
                        total: total as u64,
                    });
                }
            }
        }
        Ok(BulkEnd::Complete)
    }

    fn send_bulk_ack(&mut self, have: &[bool], cum: usize, chunk: usize) -> Result<(), LinkError> {
        let cum_idx = cum.div_ceil(chunk);
        let mut sack = 0u32;
        for bit in 0..SACK_BITS {
            if have.get(cum_idx + 1 + bit).copied().unwrap_or(false) {
                sack |= 1 << bit;
            }
        }
        self.send(&Frame {
            kind: Kind::Ack,
            seq: 0,
            code: 0,
            payload: ack_payload(cum as u32, sack),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::port::{Port, mem_pair};
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn window_transfer_round_trips_over_memory() {
        let (a, b) = mem_pair();
        let data = pattern(50_000);
        let sent = data.clone();
        let sender = std::thread::spawn(move || {
            let mut link = Link::new(a, 1_000_000);
            let r = link.send_bulk(&sent[..], 0, &mut |_, _| {}).unwrap();
            (matches!(r, BulkEnd::Complete), link.stats)
        });
        let mut link = Link::new(b, 1_000_000);
        let mut buf = Vec::new();
        let r = link.recv_bulk(data.len(), &mut buf, &mut |_, _| {}).unwrap();
        assert!(matches!(r, BulkEnd::Complete));
        assert_eq!(buf, data);
        let (complete, stats) = sender.join().unwrap();
        assert!(complete);
        assert_eq!(stats.retransmissions, 0);
        assert_eq!(stats.payload_bytes, 50_000);
    }

    /// A regression: a sender that trusted the nominal baud resent nearly every chunk when
    /// the acknowledgements took longer than that baud promised (a line slower than told,
    /// or one that buffers). Here every byte from the receiver reaches the sender 600 ms
    /// late, against a first timeout of about 270 ms.
    #[test]
    fn a_sender_learns_a_slow_line_instead_of_resending_everything() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        use std::time::Duration;
        const LATE: Duration = Duration::from_millis(600);
        const POLL: Duration = Duration::from_millis(5);
        let (a, near) = mem_pair();
        let (far, b) = mem_pair();
        let (near, far) = (Arc::new(Mutex::new(near)), Arc::new(Mutex::new(far)));
        let stop = Arc::new(AtomicBool::new(false));
        let forward = {
            let (near, far, stop) = (near.clone(), far.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let n = near.lock().unwrap().read_timeout(&mut buf, POLL).unwrap_or(0);
                    if n > 0 {
                        far.lock().unwrap().write_all(&buf[..n]).unwrap();
                    }
                }
            })
        };
        let back = {
            let (near, far, stop) = (near.clone(), far.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut queued: std::collections::VecDeque<(Instant, Vec<u8>)> = Default::default();
                while !stop.load(Ordering::Relaxed) {
                    let n = far.lock().unwrap().read_timeout(&mut buf, POLL).unwrap_or(0);
                    if n > 0 {
                        queued.push_back((Instant::now() + LATE, buf[..n].to_vec()));
                    }
                    while queued.front().is_some_and(|(t, _)| *t <= Instant::now()) {
                        let (_, bytes) = queued.pop_front().unwrap();
                        near.lock().unwrap().write_all(&bytes).unwrap();
                    }
                }
            })
        };
        let data = pattern(64 * 1024);
        let sent = data.clone();
        let sender = std::thread::spawn(move || {
            let mut link = Link::new(a, 10_000_000);
            link.send_bulk(&sent[..], 0, &mut |_, _| {}).unwrap();
            link.stats
        });
        let mut link = Link::new(b, 10_000_000);
        let mut buf = Vec::new();
        link.recv_bulk(data.len(), &mut buf, &mut |_, _| {}).unwrap();
        let stats = sender.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        forward.join().unwrap();
        back.join().unwrap();
        assert_eq!(buf, data);
        let chunks = data.len().div_ceil(link.chunk_size()) as u64;
        assert!(
            stats.retransmissions <= 4,
            "{} of {chunks} chunks resent: the timeout did not learn the line",
            stats.retransmissions
        );
    }

    /// A source whose bytes are put in by the test while the sender runs.
    struct Trickle {
        total: usize,
        bytes: std::sync::Mutex<Vec<u8>>,
        more: std::sync::Condvar,
    }

    impl Trickle {
        fn push(&self, b: &[u8]) {
            self.bytes.lock().unwrap().extend_from_slice(b);
            self.more.notify_all();
        }
    }

    impl Source for Trickle {
        fn total(&self) -> usize {
            self.total
        }
        fn ready(&self, want: usize, until: Instant) -> usize {
            let mut b = self.bytes.lock().unwrap();
            while b.len() < want && Instant::now() < until {
                b = self.more.wait_timeout(b, until - Instant::now()).unwrap().0;
            }
            b.len()
        }
        fn copy_to(&self, range: Range<usize>, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.bytes.lock().unwrap()[range]);
        }
    }

    fn trickle(total: usize) -> std::sync::Arc<Trickle> {
        std::sync::Arc::new(Trickle {
            total,
            bytes: Default::default(),
            more: Default::default(),
        })
    }

    /// The other line's tee feeds the sender as bytes arrive (a one-pass migration): every
    /// byte goes once, and a sender never sends a chunk it does not have whole.
    #[test]
    fn a_sender_sends_an_object_while_it_arrives_and_never_a_partial_chunk() {
        let data = pattern(40_000);
        let source = trickle(data.len());
        let (a, b) = mem_pair();
        let sender = {
            let source = source.clone();
            std::thread::spawn(move || {
                let mut link = Link::new(a, 1_000_000);
                let end = link.send_bulk(&*source, 0, &mut |_, _| {}).unwrap();
                (matches!(end, BulkEnd::Complete), link.stats)
            })
        };
        let receiver = std::thread::spawn(move || {
            let mut link = Link::new(b, 1_000_000);
            let mut buf = Vec::new();
            link.recv_bulk(40_000, &mut buf, &mut |_, _| {}).unwrap();
            // Kept open until the sender has its last acknowledgement.
            (buf, link)
        });
        // Odd-sized pieces, so chunks are often half there.
        for piece in data.chunks(777) {
            source.push(piece);
            std::thread::sleep(Duration::from_millis(2));
        }
        let (got, _open) = receiver.join().unwrap();
        let (complete, stats) = sender.join().unwrap();
        assert_eq!(got, data);
        assert!(complete);
        assert_eq!(stats.retransmissions, 0);
        assert_eq!(stats.payload_bytes, 40_000);
    }

    /// A source that stops coming is handed back before the receiver gives up, with the
    /// offset every acknowledged byte reaches.
    #[test]
    fn a_sender_whose_source_stops_coming_says_where_it_stands() {
        let data = pattern(10_000);
        let source = trickle(data.len());
        source.push(&data[..5_000]);
        let (a, b) = mem_pair();
        let receiver = std::thread::spawn(move || {
            let mut link = Link::new(b, 1_000_000);
            let mut buf = Vec::new();
            let end = link.recv_bulk(10_000, &mut buf, &mut |_, _| {});
            (end.map(|_| ()).map_err(|e| e.to_string()), buf.len())
        });
        let mut link = Link::new(a, 1_000_000);
        let began = Instant::now();
        let end = link.send_bulk(&*source, 0, &mut |_, _| {}).unwrap();
        let chunk = link.chunk_size();
        assert!(
            matches!(end, BulkEnd::Starved(o) if o == 5_000 / chunk * chunk),
            "{end:?}"
        );
        assert!(began.elapsed() >= STARVED_AFTER);
        assert!(began.elapsed() < proto::BULK_STALL_TIMEOUT);
        // The receiver, left waiting, holds exactly the whole chunks it was sent.
        let (end, held) = receiver.join().unwrap();
        assert!(end.is_err());
        assert_eq!(held, 5_000 / chunk * chunk);
    }

    #[test]
    fn receiver_resumes_from_its_contiguous_prefix() {
        let (a, b) = mem_pair();
        let data = pattern(20_000);
        let sent = data.clone();
        let chunk = usize::from(proto::DEFAULT_MAX_PAYLOAD) - DATA_OFFSET_LEN;
        let mut buf = data[..chunk * 3].to_vec();
        let sender = std::thread::spawn(move || {
            let mut link = Link::new(a, 1_000_000);
            link.send_bulk(&sent[..], chunk * 3, &mut |_, _| {}).unwrap();
            link.stats
        });
        let mut link = Link::new(b, 1_000_000);
        link.recv_bulk(data.len(), &mut buf, &mut |_, _| {}).unwrap();
        assert_eq!(buf, data);
        assert_eq!(sender.join().unwrap().payload_bytes, (20_000 - chunk * 3) as u64);
    }

    #[test]
    fn out_of_range_chunks_from_a_hostile_sender_are_ignored() {
        let (mut a, b) = mem_pair();
        let mut link = Link::new(b, 1_000_000);
        let mut bad = 1_000_000u32.to_be_bytes().to_vec();
        bad.extend_from_slice(&[1; 10]);
        let mut good = 0u32.to_be_bytes().to_vec();
        good.extend_from_slice(&[9; 10]);
        for p in [bad, good] {
            a.write_all(
                &Frame {
                    kind: Kind::Data,
                    seq: 0,
                    code: 0,
                    payload: p,
                }
                .encode(),
            )
            .unwrap();
        }
        let mut buf = Vec::new();
        link.recv_bulk(10, &mut buf, &mut |_, _| {}).unwrap();
        assert_eq!(buf, vec![9; 10]);
    }
}
