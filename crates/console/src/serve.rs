//! The console's HTTP server: each connection served by hyper, and every connection
//! accounted for, so that no number of idle, half-sent or abandoned connections from other
//! local programs can starve the branch clerk's browser.
//!
//! - A connection with no request in progress (never sent one, sent headers halfway, or
//!   idle between requests) is closed after [`IDLE_TIMEOUT`].
//! - A request whose handler has not answered within [`REQUEST_TIMEOUT`] (a body trickled
//!   in byte by byte) is closed with its connection.
//! - At most [`MAX_CONNECTIONS`] are open: a new one beyond that closes the connection idle
//!   the longest, and only when none is idle is the new one turned away. A page's event
//!   stream (a running job) counts as busy, never idle.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

use crate::lock;

/// A connection with nothing in progress is closed after this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// A request is answered within this long (reading a terminal or syncing included), or its
/// connection is closed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Connections open at once; far below the usual 1,024 open files.
pub const MAX_CONNECTIONS: usize = 256;

/// How often the timeouts are checked.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// One open connection.
struct Conn {
    /// When it was accepted, or its last request or response ended.
    quiet_since: Mutex<Instant>,
    /// When the oldest request in progress began (handlers running).
    request_since: Mutex<Option<Instant>>,
    requests: AtomicUsize,
    /// Response bodies still being sent (an event stream stays open while its job runs).
    bodies: AtomicUsize,
    close: Notify,
    /// Told to close (its task has yet to end).
    closing: AtomicBool,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            quiet_since: Mutex::new(Instant::now()),
            request_since: Mutex::new(None),
            requests: AtomicUsize::new(0),
            bodies: AtomicUsize::new(0),
            close: Notify::new(),
            closing: AtomicBool::new(false),
        }
    }

    fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.close.notify_one();
    }

    fn open(&self) -> bool {
        !self.closing.load(Ordering::SeqCst)
    }

    fn idle(&self) -> bool {
        self.requests.load(Ordering::SeqCst) == 0 && self.bodies.load(Ordering::SeqCst) == 0
    }

    /// Whether the sweep closes it now (`closing`: the console is stopping).
    fn expired(&self, now: Instant, closing: bool) -> bool {
        if self.idle() {
            closing || now.duration_since(*lock(&self.quiet_since)) > IDLE_TIMEOUT
        } else {
            lock(&self.request_since).is_some_and(|t| now.duration_since(t) > REQUEST_TIMEOUT)
        }
    }
}

/// Counts one request or response body in progress on a connection while it lives.
struct Busy {
    conn: Arc<Conn>,
    request: bool,
}

impl Busy {
    fn request(conn: &Arc<Conn>) -> Busy {
        if conn.requests.fetch_add(1, Ordering::SeqCst) == 0 {
            *lock(&conn.request_since) = Some(Instant::now());
        }
        Busy {
            conn: conn.clone(),
            request: true,
        }
    }

    fn body(conn: &Arc<Conn>) -> Busy {
        conn.bodies.fetch_add(1, Ordering::SeqCst);
        Busy {
            conn: conn.clone(),
            request: false,
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *lock(&self.conn.quiet_since) = Instant::now();
        if self.request {
            if self.conn.requests.fetch_sub(1, Ordering::SeqCst) == 1 {
                *lock(&self.conn.request_since) = None;
            }
        } else {
            self.conn.bodies.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A response body, counted busy on its connection until sent or dropped.
struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The open connections.
#[derive(Default)]
struct Conns {
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
}

impl Conns {
    /// Makes room for one more: at the cap, closes the connection idle the longest;
    /// `false` when every one is busy.
    fn room(&self) -> bool {
        let open = lock(&self.open);
        if open.values().filter(|c| c.open()).count() < MAX_CONNECTIONS {
            return true;
        }
        let oldest = open
            .values()
            .filter(|c| c.open() && c.idle())
            .min_by_key(|c| *lock(&c.quiet_since));
        oldest.inspect(|c| c.close()).is_some()
    }

    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::new(Conn::new());
        lock(&self.open).insert(id, conn.clone());
        (id, conn)
    }

    fn sweep(&self, closing: bool) {
        let now = Instant::now();
        for c in lock(&self.open)
            .values()
            .filter(|c| c.open() && c.expired(now, closing))
        {
            c.close();
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, closes
/// idle connections and waits for the requests and event streams in progress to end.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let conns = Arc::new(Conns::default());
    let sweeper = {
        let conns = conns.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SWEEP_EVERY).await;
                conns.sweep(false);
            }
        })
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: the sweep frees some.
                    tracing::warn!("console: connection not accepted: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if !conns.room() {
            tracing::warn!("console: {MAX_CONNECTIONS} connections busy; one more turned away");
            continue;
        }
        let (id, conn) = conns.add();
        let (router, conns) = (router.clone(), conns.clone());
        tokio::spawn(async move {
            serve_one(stream, router, conn.clone()).await;
            lock(&conns.open).remove(&id);
        });
    }
    sweeper.abort();
    drop(listener);
    while !lock(&conns.open).is_empty() {
        conns.sweep(true);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn serve_one(stream: tokio::net::TcpStream, router: Router, conn: Arc<Conn>) {
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let (mut router, conn) = (router.clone(), conn.clone());
            async move {
                let busy = Busy::request(&conn);
                let response = tower_service::Service::call(&mut router, req.map(Body::new)).await;
                let body = Busy::body(&conn);
                drop(busy);
                response.map(|r| r.map(|inner| Tracked { inner, _busy: body }))
            }
        })
    };
    let served = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        r = served => {
            if let Err(e) = r {
                tracing::debug!("console connection: {e}");
            }
        }
        () = conn.close.notified() => {}
    }
}
