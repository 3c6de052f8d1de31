//! An object handed from an export on one line to an import on another while its bytes
//! arrive: a migration's one pass. The exporting side announces the object, puts in each run
//! of bytes as it becomes contiguous (as they travel: deflated when the terminal sends them
//! so), and ends with its verdict: the SHA-256 and record count checked, or why not. The
//! importing side sends what is there ([`Source`]) and commits only on a good verdict.

use std::ops::Range;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::Announced;
use crate::link::bulk::Source;

/// How long one wait for the exporting side lasts before the waiter looks again.
const LOOK_AGAIN: Duration = Duration::from_secs(1);

/// Bytes passed from one terminal's export to another's import (see the module).
#[derive(Default)]
pub struct Feed {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    announced: Option<Announced>,
    bytes: Vec<u8>,
    verdict: Option<Result<(), String>>,
}

impl Feed {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits until `done` says the state is ready, and returns what `done` made of it.
    fn wait_for<T>(&self, mut done: impl FnMut(&State) -> Option<T>) -> T {
        let mut s = self.lock();
        loop {
            if let Some(t) = done(&s) {
                return t;
            }
            s = self
                .changed
                .wait_timeout(s, LOOK_AGAIN)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The export's announcement. Another one for the same feed (the object changed while
    /// the line was away) fails the feed: what was passed on is stale.
    pub(super) fn announce(&self, a: &Announced) {
        self.update(|s| match &s.announced {
            None => s.announced = Some(a.clone()),
            Some(first) if first == a => {}
            Some(_) => {
                s.verdict.get_or_insert(Err(crate::tr!("feed-object-changed")));
            }
        });
    }

    /// Bytes from `offset` on, as they became contiguous (a resumed export may repeat some).
    pub(super) fn put(&self, offset: usize, bytes: &[u8]) {
        self.update(|s| {
            let have = s.bytes.len();
            if offset <= have && offset + bytes.len() > have {
                s.bytes.extend_from_slice(&bytes[have - offset..]);
            }
        });
    }

    /// The export's verdict; the first one given stands.
    pub(super) fn finish(&self, verdict: Result<(), String>) {
        self.update(|s| {
            s.verdict.get_or_insert(verdict);
        });
    }

    /// What the export announced, once it has; the export's failure if it came first.
    pub(super) fn announced(&self) -> Result<Announced, String> {
        self.wait_for(|s| match (&s.announced, &s.verdict) {
            (_, Some(Err(e))) => Some(Err(e.clone())),
            (Some(a), _) => Some(Ok(a.clone())),
            (None, _) => None,
        })
    }

    /// Waits until there are more than `have` bytes or a verdict; an export that failed
    /// says why.
    pub(super) fn more_than(&self, have: usize) -> Result<(), String> {
        self.wait_for(|s| match &s.verdict {
            Some(Err(e)) => Some(Err(e.clone())),
            Some(Ok(())) => Some(Ok(())),
            None => (s.bytes.len() > have).then_some(Ok(())),
        })
    }

    /// A guard that fails the feed when dropped before the export gave its verdict: hold
    /// it on the exporting side while an importing side waits.
    pub fn until_exported(&self) -> Unfinished<'_> {
        Unfinished(self)
    }

    /// The export's verdict, once given.
    pub(super) fn verdict(&self) -> Result<(), String> {
        self.wait_for(|s| s.verdict.clone())
    }
}

/// Gives a failed verdict if the export ends without one (an early return or a panic on
/// the exporting side), so the importing side never waits forever.
pub struct Unfinished<'a>(&'a Feed);

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        self.0.finish(Err(crate::tr!("feed-export-ended")));
    }
}

impl Source for Feed {
    fn total(&self) -> usize {
        self.lock().announced.as_ref().map_or(0, Announced::stream_len)
    }

    fn ready(&self, want: usize, until: Instant) -> usize {
        let mut s = self.lock();
        while s.bytes.len() < want {
            let now = Instant::now();
            if now >= until {
                break;
            }
            s = self
                .changed
                .wait_timeout(s, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        s.bytes.len()
    }

    fn copy_to(&self, range: Range<usize>, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.lock().bytes[range]);
    }
}
