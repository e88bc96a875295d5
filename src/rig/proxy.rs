//! A userspace TCP delay proxy: the network distance between the systems and a store,
//! on a machine whose kernel has no `netem`.
//!
//! Semantics follow Toxiproxy's latency toxic, with its lessons:
//! - each direction is delayed by half the round trip;
//! - each chunk is delayed from the moment it was *received*, so the chunks of one
//!   message do not add their delays up (a 64 KB body is not 4 × RTT late);
//! - jitter multiplies the one-way delay by a log-normal factor of median 1 (a tail,
//!   not a uniform band), and chunks never overtake each other (TCP is ordered);
//! - an optional bandwidth limit serialises the bytes of each direction;
//! - connection set-up pays its round trip: what the client sends before one RTT has
//!   passed since it connected is held until then (its SYN/SYN-ACK would have taken
//!   that long), then travels its half.
//!
//! The pumps are OS threads, not tokio tasks: tokio's timer has millisecond
//! granularity, which would turn a 1 ms round trip into 2–3 ms; a thread sleeping to a
//! deadline is late by tens of microseconds — by Linux's default 50 µs timer slack,
//! which the writer threads therefore set to 1 µs. The lateness of every chunk against
//! its deadline is kept: it is the proxy's own overhead, and results record it.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, LogNormal};
use serde::{Deserialize, Serialize};

/// Bytes read at once; with [`CHUNKS_IN_FLIGHT`] it bounds a direction's memory.
const CHUNK_BYTES: usize = 16 * 1024;
/// Chunks held per direction before the reader waits (back-pressure, bounded memory).
const CHUNKS_IN_FLIGHT: usize = 256;

/// The distance to one store.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Round-trip time, milliseconds (each direction gets half).
    pub rtt_ms: f64,
    /// Log-normal sigma of the one-way delay's multiplier (median 1); 0: no jitter.
    #[serde(default)]
    pub jitter_sigma: f64,
    /// Bytes per second each way; absent: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_bytes_per_s: Option<f64>,
}

/// The largest round trip accepted: beyond a minute it is a typo, not a network.
const MAX_RTT_MS: f64 = 60_000.0;

impl Link {
    /// Refuses negative, NaN or absurd figures, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if !(self.rtt_ms.is_finite() && (0.0..=MAX_RTT_MS).contains(&self.rtt_ms)) {
            return Err(format!(
                "rtt_ms: {} is not a round trip (0 to {MAX_RTT_MS} ms)",
                self.rtt_ms
            ));
        }
        if !(self.jitter_sigma.is_finite() && (0.0..=2.0).contains(&self.jitter_sigma)) {
            return Err(format!(
                "jitter_sigma: {} is outside 0 to 2 (2 already puts p99 at 100 × the median)",
                self.jitter_sigma
            ));
        }
        if let Some(b) = self.bandwidth_bytes_per_s
            && !(b.is_finite() && b >= 1_000.0)
        {
            return Err(format!(
                "bandwidth_bytes_per_s: {b} is not a bandwidth (1000 or more)"
            ));
        }
        Ok(())
    }

    fn one_way(&self) -> Duration {
        Duration::from_secs_f64(self.rtt_ms / 2.0 / 1e3)
    }
}

/// The proxy's own lateness against the deadlines, over every chunk so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Overhead {
    /// Chunks delivered.
    pub chunks: u64,
    /// Median lateness, microseconds.
    pub p50_us: u64,
    /// 99th percentile lateness, microseconds.
    pub p99_us: u64,
}

impl Overhead {
    /// The worst of several proxies' figures (chunks summed): one hop's proxies.
    pub fn worst_of(all: &[Overhead]) -> Overhead {
        Overhead {
            chunks: all.iter().map(|o| o.chunks).sum(),
            p50_us: all.iter().map(|o| o.p50_us).max().unwrap_or(0),
            p99_us: all.iter().map(|o| o.p99_us).max().unwrap_or(0),
        }
    }
}

struct Shared {
    link: Link,
    upstream: SocketAddr,
    stop: AtomicBool,
    lateness: Mutex<Histogram<u64>>,
    /// Open connections (client and upstream ends), to close them on drop; each is
    /// removed when both its directions have ended.
    connections: Mutex<BTreeMap<u64, [TcpStream; 2]>>,
    next: AtomicU64,
}

/// A running proxy: listens on loopback, forwards to `upstream` with the link's delay.
pub struct DelayProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl DelayProxy {
    /// Starts a proxy in front of `upstream`.
    pub fn start(upstream: SocketAddr, link: Link) -> io::Result<Self> {
        link.check()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            link,
            upstream,
            stop: AtomicBool::new(false),
            lateness: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds")),
            connections: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
        });
        let for_thread = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("delay-proxy".into())
            .spawn(move || accept_loop(listener, for_thread))?;
        Ok(Self {
            address,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where the systems connect instead of the store.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The link it plays.
    pub fn link(&self) -> Link {
        self.shared.link
    }

    /// Lateness of the chunks delivered so far.
    pub fn overhead(&self) -> Overhead {
        let h = self.shared.lateness.lock().expect("lateness");
        Overhead {
            chunks: h.len(),
            p50_us: h.value_at_quantile(0.5),
            p99_us: h.value_at_quantile(0.99),
        }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_millis(200));
        let open = std::mem::take(&mut *self.shared.connections.lock().expect("connections"));
        for c in open.values().flatten() {
            let _ = c.shutdown(Shutdown::Both);
        }
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let accepted = Instant::now();
        let shared = shared.clone();
        // Connecting upstream may take a while (a store restarting): not on this thread.
        let _ = std::thread::Builder::new()
            .name("delay-proxy-conn".into())
            .spawn(move || {
                if let Err(e) = connect(client, accepted, &shared) {
                    tracing::debug!("delay proxy: {e}");
                }
            });
    }
}

/// Wires one client to a fresh upstream connection, a pump each way.
fn connect(client: TcpStream, accepted: Instant, shared: &Arc<Shared>) -> io::Result<()> {
    let upstream = TcpStream::connect(shared.upstream)?;
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)?;
    let id = shared.next.fetch_add(1, Ordering::Relaxed);
    shared
        .connections
        .lock()
        .expect("connections")
        .insert(id, [client.try_clone()?, upstream.try_clone()?]);
    let ends = Arc::new(AtomicU64::new(0));
    let seed = id * 2;
    // The client's bytes wait for the handshake's round trip; the server's do not
    // (it answers what already arrived).
    let handshake_done = accepted + shared.link.one_way() * 2;
    let connection = Connection {
        id,
        ends,
        shared: shared.clone(),
    };
    pump(
        client.try_clone()?,
        upstream.try_clone()?,
        handshake_done,
        seed,
        connection.clone(),
    )?;
    pump(upstream, client, accepted, seed + 1, connection)?;
    Ok(())
}

/// One proxied connection, as its pumps see it.
#[derive(Clone)]
struct Connection {
    id: u64,
    /// Directions that have ended.
    ends: Arc<AtomicU64>,
    shared: Arc<Shared>,
}

impl Connection {
    /// One direction is done; the second one forgets the connection.
    fn direction_ended(&self) {
        if self.ends.fetch_add(1, Ordering::SeqCst) == 1 {
            self.shared
                .connections
                .lock()
                .expect("connections")
                .remove(&self.id);
        }
    }
}

/// A chunk and when it may be written.
type Chunk = (Instant, Vec<u8>);

/// One direction: a reader thread stamps each chunk with its deadline, a writer
/// thread sleeps to it and writes.
fn pump(
    from: TcpStream,
    to: TcpStream,
    not_before: Instant,
    seed: u64,
    connection: Connection,
) -> io::Result<()> {
    let (sender, receiver) = sync_channel::<Option<Chunk>>(CHUNKS_IN_FLIGHT);
    let link = connection.shared.link;
    let reader_from = from.try_clone()?;
    std::thread::Builder::new()
        .name("delay-proxy-read".into())
        .spawn(move || read_side(reader_from, sender, not_before, link, seed))?;
    std::thread::Builder::new()
        .name("delay-proxy-write".into())
        .spawn(move || {
            // Without it each direction of a 1 ms round trip adds ~60 µs.
            crate::timer::tighten_timer_slack();
            write_side(from, to, receiver, &connection.shared);
            connection.direction_ended();
        })?;
    Ok(())
}

fn read_side(
    mut from: TcpStream,
    sender: SyncSender<Option<Chunk>>,
    not_before: Instant,
    link: Link,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let jitter = (link.jitter_sigma > 0.0)
        .then(|| LogNormal::new(0.0, link.jitter_sigma).expect("checked sigma"));
    let one_way = link.one_way();
    let mut last = not_before;
    let mut buffer = vec![0u8; CHUNK_BYTES];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => {
                let _ = sender.send(None);
                return;
            }
            Ok(n) => n,
        };
        let received = Instant::now();
        let delay = match &jitter {
            Some(j) => one_way.mul_f64(j.sample(&mut rng)),
            None => one_way,
        };
        // From its receive time, after the handshake, never before the chunk ahead.
        let deadline = (received.max(not_before) + delay).max(last);
        last = deadline;
        if sender.send(Some((deadline, buffer[..n].to_vec()))).is_err() {
            return;
        }
    }
}

fn write_side(
    from: TcpStream,
    mut to: TcpStream,
    receiver: Receiver<Option<Chunk>>,
    shared: &Shared,
) {
    let bandwidth = shared.link.bandwidth_bytes_per_s;
    let mut wire_free = Instant::now();
    while let Ok(Some((mut deadline, bytes))) = receiver.recv() {
        if let Some(rate) = bandwidth {
            // The bytes leave one after another at the link's rate.
            let start = deadline.max(wire_free);
            wire_free = start + Duration::from_secs_f64(bytes.len() as f64 / rate);
            deadline = wire_free;
        }
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        let late = Instant::now().saturating_duration_since(deadline);
        if to.write_all(&bytes).is_err() {
            break;
        }
        let _ = shared
            .lateness
            .lock()
            .expect("lateness")
            .record((late.as_micros() as u64).max(1));
    }
    // Either side gone: close this direction and unblock the reader of the other.
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_links_are_refused_naming_the_field() {
        let ok = Link {
            rtt_ms: 1.0,
            jitter_sigma: 0.2,
            bandwidth_bytes_per_s: None,
        };
        assert!(ok.check().is_ok());
        for (bad, field) in [
            (Link { rtt_ms: -1.0, ..ok }, "rtt_ms"),
            (
                Link {
                    rtt_ms: f64::NAN,
                    ..ok
                },
                "rtt_ms",
            ),
            (Link { rtt_ms: 1e9, ..ok }, "rtt_ms"),
            (
                Link {
                    jitter_sigma: -0.1,
                    ..ok
                },
                "jitter_sigma",
            ),
            (
                Link {
                    bandwidth_bytes_per_s: Some(0.0),
                    ..ok
                },
                "bandwidth_bytes_per_s",
            ),
        ] {
            let e = bad.check().unwrap_err();
            assert!(e.starts_with(field), "{e}");
        }
    }
}
