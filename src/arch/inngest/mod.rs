//! An emulation of Inngest's execution model — not Inngest. What it reproduces is what
//! the cost model and the latency picture need: events are sent over real HTTP to an
//! ingest endpoint, queued, and each function triggered by an event runs as a *run*
//! whose every *step* is a separate HTTP request to the app's function endpoint (with
//! the outputs of earlier steps sent along, as Inngest's step memoisation does).
//! Inngest bills each run and each step as an execution: a run with 5 steps is 6.
//!
//! Delivery is at least once: a failing step is retried with backoff, and a run whose
//! step keeps failing lands in a dead-letter list that the measurements report.
//! Not emulated: durable persistence of the queue across restarts, concurrency keys,
//! throttling, and Inngest's own network distance (it runs on loopback here).
//!
//! Faults: the emulator runs inside archbench, so a fault cannot signal it. Killed, it
//! closes its ingest listener (new connections are refused; a request on a connection
//! opened before is answered 503) and its workers stop taking steps; started again, it
//! listens on the same address and the queue it held goes on, as Inngest's durable
//! queue would. Paused, every request and step waits until it is continued.

mod server;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Notify, watch};

pub use server::{AppEndpoint, StepHandler};

/// A function: which event triggers it and its steps, in order.
#[derive(Debug, Clone)]
pub struct FunctionDef {
    /// Function id, e.g. `v02-project-blocks`.
    pub id: &'static str,
    /// Events that trigger it.
    pub triggers: &'static [&'static str],
    /// Step ids, in order.
    pub steps: &'static [&'static str],
}

/// An event as sent to the ingest endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// Event name, e.g. `v02/entity.created`.
    pub name: String,
    /// Payload.
    pub data: serde_json::Value,
}

/// What the emulator sends to the app for one step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRequest {
    /// Run id.
    pub run_id: u64,
    /// Function id.
    pub function: String,
    /// Step id.
    pub step: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The triggering event.
    pub event: Event,
    /// Outputs of the steps already done (memoised).
    pub previous: BTreeMap<String, serde_json::Value>,
}

/// A run that exhausted its retries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Function id.
    pub function: String,
    /// The step that kept failing.
    pub step: String,
    /// Event name.
    pub event: String,
    /// The last error.
    pub error: String,
}

/// Counts as Inngest would bill them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExecutionCounts {
    /// Events accepted by the ingest endpoint.
    pub events: u64,
    /// Function runs started.
    pub runs: u64,
    /// Step executions, retries included.
    pub steps: u64,
    /// Runs + steps: what Inngest bills.
    pub executions: u64,
    /// Step attempts that failed and were retried.
    pub retries: u64,
    /// Runs given up after the last attempt.
    pub dead_letters: u64,
    /// Executions per triggering event name.
    pub executions_by_event: BTreeMap<String, u64>,
}

/// Retry policy.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per step, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled after each further failure.
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            first_backoff: Duration::from_millis(20),
        }
    }
}

struct Run {
    id: u64,
    function: FunctionDef,
    event: Event,
}

/// Whether the emulator serves (faults set the other two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serving {
    Up,
    Paused,
    Down,
}

struct State {
    serving: watch::Sender<Serving>,
    functions: Vec<FunctionDef>,
    queue: Mutex<VecDeque<Run>>,
    wake: Notify,
    in_flight: AtomicUsize,
    next_run: AtomicU64,
    app_url: String,
    http: reqwest::Client,
    retry: RetryPolicy,
    counts: std::sync::Mutex<ExecutionCounts>,
    dead: std::sync::Mutex<Vec<DeadLetter>>,
}

/// A running emulator: an ingest server and executor workers.
pub struct Emulator {
    state: Arc<State>,
    ingest_url: String,
    control: Arc<EmulatorControl>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// Kills, pauses and restarts an emulator (the fault rig's handle on it).
pub struct EmulatorControl {
    state: Arc<State>,
    address: std::net::SocketAddr,
    server: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Emulator {
    /// Starts the ingest endpoint on a free loopback port and `workers` executors that
    /// call `app_url` (the app's function endpoint) for every step.
    pub async fn start(
        functions: Vec<FunctionDef>,
        app_url: String,
        workers: usize,
        retry: RetryPolicy,
    ) -> std::io::Result<Self> {
        let state = Arc::new(State {
            serving: watch::Sender::new(Serving::Up),
            functions,
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            in_flight: AtomicUsize::new(0),
            next_run: AtomicU64::new(1),
            app_url,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(workers.max(1))
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(std::io::Error::other)?,
            retry,
            counts: Default::default(),
            dead: Default::default(),
        });
        let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let (address, server_task) = server::serve_ingest(state.clone(), any_port).await?;
        let workers = (0..workers.max(1))
            .map(|_| {
                let st = state.clone();
                tokio::spawn(async move { worker(st).await })
            })
            .collect();
        let control = Arc::new(EmulatorControl {
            state: state.clone(),
            address,
            server: std::sync::Mutex::new(Some(server_task)),
        });
        Ok(Self {
            state,
            ingest_url: format!("http://{address}/e/archbench"),
            control,
            workers,
        })
    }

    /// The handle that kills, pauses and restarts it.
    pub fn control(&self) -> Arc<EmulatorControl> {
        self.control.clone()
    }

    /// Where events are POSTed (`{url}` with a JSON event or array of events).
    pub fn ingest_url(&self) -> &str {
        &self.ingest_url
    }

    /// Counts so far.
    pub fn counts(&self) -> ExecutionCounts {
        self.state.counts.lock().expect("counts lock").clone()
    }

    /// Runs that exhausted their retries.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.state.dead.lock().expect("dead lock").clone()
    }

    /// Zeroes the counts and the dead-letter list.
    pub fn clear(&self) {
        *self.state.counts.lock().expect("counts lock") = ExecutionCounts::default();
        self.state.dead.lock().expect("dead lock").clear();
    }

    /// Whether nothing is queued or running.
    pub async fn idle(&self) -> bool {
        self.state.queue.lock().await.is_empty() && self.state.in_flight.load(SeqCst) == 0
    }

    /// Waits until idle, or returns false after `timeout`.
    pub async fn settle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.idle().await {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.control.stop_listening();
        for t in &self.workers {
            t.abort();
        }
    }
}

impl EmulatorControl {
    fn stop_listening(&self) {
        if let Some(server) = self.server.lock().expect("server lock").take() {
            server.abort();
        }
    }

    /// Stops serving: the listener closes and the workers stop taking steps.
    pub fn kill(&self) {
        self.state.serving.send_replace(Serving::Down);
        self.stop_listening();
    }

    /// Holds every request and step until [`EmulatorControl::resume`].
    pub fn pause(&self) {
        self.state.serving.send_replace(Serving::Paused);
    }

    /// Serves again: after a kill, on the same address (retrying while the old
    /// listener is being closed, up to 5 s).
    pub async fn resume(&self) -> std::io::Result<()> {
        if self.server.lock().expect("server lock").is_none() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            let task = loop {
                match server::serve_ingest(self.state.clone(), self.address).await {
                    Ok((_, task)) => break task,
                    Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            *self.server.lock().expect("server lock") = Some(task);
        }
        self.state.serving.send_replace(Serving::Up);
        Ok(())
    }
}

impl State {
    /// Waits while paused; whether the emulator serves.
    async fn wait_serving(&self) -> bool {
        let mut serving = self.serving.subscribe();
        match serving.wait_for(|s| *s != Serving::Paused).await {
            Ok(s) => *s == Serving::Up,
            Err(_) => false,
        }
    }

    /// Waits until the emulator serves (neither paused nor down).
    async fn wait_up(&self) {
        let mut serving = self.serving.subscribe();
        let _ = serving.wait_for(|s| *s == Serving::Up).await;
    }

    /// Accepts one event: one run per function it triggers.
    async fn accept(&self, event: Event) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut q = self.queue.lock().await;
        for f in self
            .functions
            .iter()
            .filter(|f| f.triggers.contains(&event.name.as_str()))
        {
            let id = self.next_run.fetch_add(1, SeqCst);
            ids.push(id);
            q.push_back(Run {
                id,
                function: f.clone(),
                event: event.clone(),
            });
        }
        drop(q);
        self.counts.lock().expect("counts lock").events += 1;
        for _ in &ids {
            self.wake.notify_one();
        }
        ids
    }

    fn count(&self, event: &str, runs: u64, steps: u64, retries: u64) {
        let mut c = self.counts.lock().expect("counts lock");
        c.runs += runs;
        c.steps += steps;
        c.executions += runs + steps;
        c.retries += retries;
        *c.executions_by_event.entry(event.to_string()).or_insert(0) += runs + steps;
    }
}

async fn worker(state: Arc<State>) {
    loop {
        state.wait_up().await;
        let run = {
            let mut q = state.queue.lock().await;
            let r = q.pop_front();
            if r.is_some() {
                // Counted in flight before the queue lock is released, so that
                // `idle` never sees an empty queue and nothing running mid-handoff.
                state.in_flight.fetch_add(1, SeqCst);
            }
            r
        };
        match run {
            Some(run) => {
                execute(&state, run).await;
                state.in_flight.fetch_sub(1, SeqCst);
            }
            None => state.wake.notified().await,
        }
    }
}

async fn execute(state: &State, run: Run) {
    state.count(&run.event.name, 1, 0, 0);
    let mut previous = BTreeMap::new();
    for step in run.function.steps {
        let mut attempt = 1;
        let mut backoff = state.retry.first_backoff;
        loop {
            state.wait_up().await;
            state.count(&run.event.name, 0, 1, 0);
            let req = StepRequest {
                run_id: run.id,
                function: run.function.id.to_string(),
                step: step.to_string(),
                attempt,
                event: run.event.clone(),
                previous: previous.clone(),
            };
            match call_step(state, &req).await {
                Ok(output) => {
                    previous.insert(step.to_string(), output);
                    break;
                }
                Err(error) if attempt >= state.retry.max_attempts => {
                    state.counts.lock().expect("counts lock").dead_letters += 1;
                    state.dead.lock().expect("dead lock").push(DeadLetter {
                        function: run.function.id.to_string(),
                        step: step.to_string(),
                        event: run.event.name.clone(),
                        error,
                    });
                    return;
                }
                Err(_) => {
                    state.count(&run.event.name, 0, 0, 1);
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }
}

async fn call_step(state: &State, req: &StepRequest) -> Result<serde_json::Value, String> {
    let resp = state
        .http
        .post(&state.app_url)
        .json(req)
        .send()
        .await
        .map_err(|e| format!("calling the app: {e}"))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| format!("reading the app's answer: {e}"))?;
    if !status.is_success() {
        return Err(format!("app answered {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("app answered invalid JSON: {e}"))
}

/// Sends events to an ingest URL over HTTP.
#[derive(Clone)]
pub struct IngestClient {
    http: reqwest::Client,
    url: String,
}

impl IngestClient {
    /// A client for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.into(),
        }
    }

    /// POSTs one event; returns the run ids it started.
    pub async fn send(&self, event: &Event) -> Result<Vec<u64>, String> {
        let resp = self
            .http
            .post(&self.url)
            .json(event)
            .send()
            .await
            .map_err(|e| format!("POST {}: {e}", self.url))?;
        if !resp.status().is_success() {
            return Err(format!("POST {}: {}", self.url, resp.status()));
        }
        #[derive(Deserialize)]
        struct Ack {
            ids: Vec<u64>,
        }
        resp.json::<Ack>()
            .await
            .map(|a| a.ids)
            .map_err(|e| format!("ingest answer: {e}"))
    }
}

#[async_trait::async_trait]
impl crate::rig::faults::Breakable for EmulatorControl {
    async fn kill(&self) -> Result<(), String> {
        EmulatorControl::kill(self);
        Ok(())
    }

    async fn pause(&self) -> Result<(), String> {
        EmulatorControl::pause(self);
        Ok(())
    }

    async fn restore(&self, _: crate::rig::faults::FaultAction) -> Result<(), String> {
        self.resume()
            .await
            .map_err(|e| format!("listening on {} again: {e}", self.address))
    }
}
