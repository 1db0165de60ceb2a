//! The sending engine: requests in, answers out, with bounded concurrency over one client,
//! batches where the provider has them ([`Unsubscriber::batch_size`]) and the latency of every
//! call. It reads no file and writes no journal: a bulk run (`optout::bulk`) feeds it rows
//! from a CSV file and journals what comes out; a durable outbox feeds it what it stored.
//!
//! Items go in through a bounded [`mpsc`] channel, in chunks (`Vec<Item<T>>`); each carries a
//! tag of the caller's (a line number, a key) that comes back with its answer. An item without
//! a request passes through unsent, in its place (a row refused before sending, one already
//! done). `concurrency` senders each take one batch at a time: at most `concurrency` calls
//! in flight, every sender busy while items are ready, no task spawned per item. A batch goes
//! out short when no more items are ready, so no item waits for others to fill its batch.
//!
//! ```no_run
//! # mod optout { pub use optout_core::*; pub mod provider_kit { pub use optout_core::engine; } }
//! # async fn run(client: std::sync::Arc<dyn optout::Unsubscriber>,
//! #              requests: Vec<optout::Unsubscribe>) {
//! use optout::provider_kit::engine::{Engine, Item, Options};
//! use tokio::sync::mpsc;
//!
//! let (tx, rx) = mpsc::channel(4);
//! let mut engine = Engine::start(client, &Options::new().concurrency(8), rx);
//! tokio::spawn(async move {
//!     let items = requests.into_iter().enumerate();
//!     let chunk = items.map(|(id, r)| Item { tag: id, request: Some(r) }).collect();
//!     let _ = tx.send(chunk).await; // dropping `tx` ends the input
//! });
//! while let Some(answers) = engine.recv().await {
//!     for sent in answers {
//!         println!("{}: {:?}", sent.tag, sent.answer.map(|a| a.is_ok()));
//!     }
//! }
//! if let Some(why) = engine.stopped_by() {
//!     eprintln!("stopped: {why}");
//! }
//! println!("{}", engine.finish().await.latency());
//! # }
//! ```

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::{Error, ErrorKind, Receipt, Unsubscribe, Unsubscriber};

mod latency;
pub use latency::{Histogram, Latency};

/// One unit of work: the caller's `tag`, and the request to send.
#[derive(Debug)]
pub struct Item<T> {
    /// What the caller needs back with the answer (a line, a key, a row id).
    pub tag: T,
    /// The request; `None` passes the item through unsent, in its place.
    pub request: Option<Unsubscribe>,
}

/// An item that has been through the engine.
#[derive(Debug)]
pub struct Sent<T> {
    /// The item's tag.
    pub tag: T,
    /// The provider's answer (after the client's retries); `None` if nothing was sent: the
    /// item had no request, or the engine had stopped (see [`Engine::stopped_by`]).
    pub answer: Option<Result<Receipt, Error>>,
}

/// How the engine runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Calls in flight at once (at least 1; default 8).
    pub concurrency: usize,
    /// Stop after this many answers in a row that the credentials were refused (401, 403):
    /// no retry and no other item can fix those. 0 never stops. Default 3.
    pub stop_after_refusals: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 8,
            stop_after_refusals: 3,
        }
    }
}

impl Options {
    /// Concurrency 8, stop after 3 refused credentials in a row.
    pub fn new() -> Self {
        Options::default()
    }

    /// Sets the calls in flight at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets how many refused credentials in a row stop the engine (0: never).
    pub fn stop_after_refusals(mut self, n: u32) -> Self {
        self.stop_after_refusals = n;
        self
    }
}

/// The most items worth handing the engine in one chunk for a client of batch size `batch`:
/// whole batches, about 1,024 items. Bigger chunks wake the engine less often.
pub fn chunk_items(batch: usize) -> usize {
    let batch = batch.max(1);
    batch * (CHUNK_ITEMS / batch).max(1)
}

/// A capacity for the input channel that keeps every sender fed: about `concurrency * 2`
/// batches in chunks of `chunk` items, never fewer than two chunks.
pub fn queue_capacity(concurrency: usize, batch: usize, chunk: usize) -> usize {
    (concurrency.max(1) * 2 * batch.max(1))
        .div_ceil(chunk.max(1))
        .max(2)
}

const CHUNK_ITEMS: usize = 1024;
/// The most answered items a sender keeps before handing them over (at least
/// [`RESULT_BATCHES`] calls' worth), and the longest an answered item waits for it.
const RESULT_ITEMS: usize = 64;
/// Calls whose answers a sender of batches keeps before handing them over: with batches of
/// 100, handing over every call woke the receiver (a thread switch) once per call, as many
/// switches again as the calls themselves.
const RESULT_BATCHES: usize = 8;
const HAND_OVER_EVERY: Duration = Duration::from_millis(20);

/// How many answered items one of `concurrency` senders of batches of `batch` keeps before
/// handing them over: [`RESULT_BATCHES`] calls' worth across the senders (at least one call's
/// each, and [`RESULT_ITEMS`]). Not that many per sender: at concurrency 32, eight calls of
/// 100 each kept 25,600 answered rows waiting (and a 165 KB buffer per sender), which cost
/// more in memory traffic than the receiver's wake-ups they saved; with many senders the
/// receiver is rarely asleep anyway.
fn hand_over_at(batch: usize, concurrency: usize) -> usize {
    let calls = RESULT_BATCHES.div_ceil(concurrency.max(1));
    RESULT_ITEMS.max(batch.saturating_mul(calls))
}

/// A running engine: its senders, and the answers on their way out.
pub struct Engine<T> {
    answers: mpsc::Receiver<Vec<Sent<T>>>,
    senders: Vec<Spawned<Histogram>>,
    stop: Arc<Stop>,
}

impl<T> std::fmt::Debug for Engine<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("senders", &self.senders.len())
            .field("stopped", &self.stop.stopped.load(Ordering::Relaxed))
            .finish()
    }
}

/// Why and whether the senders stop.
#[derive(Default)]
struct Stop {
    stopped: AtomicBool,
    refusals: AtomicU32,
    limit: u32,
    why: Mutex<Option<Error>>,
}

impl Stop {
    fn is_set(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Counts a refusal of the credentials in a row, or starts counting again.
    fn saw(&self, answer: &Result<Receipt, Error>) {
        match answer {
            Err(e) if e.kind() == ErrorKind::Unauthorized => {
                let n = self.refusals.fetch_add(1, Ordering::Relaxed) + 1;
                if self.limit > 0 && n >= self.limit {
                    let mut why = self.why.lock().unwrap_or_else(|p| p.into_inner());
                    why.get_or_insert_with(|| e.clone());
                    self.stopped.store(true, Ordering::Relaxed);
                }
            }
            _ => {
                if self.refusals.load(Ordering::Relaxed) != 0 {
                    self.refusals.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

impl<T: Send + 'static> Engine<T> {
    /// Starts the senders on the current runtime, taking items from `items` until it is
    /// closed and empty (or the engine stops). Every item comes out of [`recv`](Self::recv)
    /// once, with its tag.
    pub fn start(
        client: Arc<dyn Unsubscriber>,
        options: &Options,
        items: mpsc::Receiver<Vec<Item<T>>>,
    ) -> Self {
        let concurrency = options.concurrency.max(1);
        let batch = client.batch_size().max(1);
        let queue = Arc::new(tokio::sync::Mutex::new(Queue {
            chunks: items,
            chunk: Vec::new().into_iter(),
        }));
        let stop = Arc::new(Stop {
            limit: options.stop_after_refusals,
            ..Stop::default()
        });
        let (answers_tx, answers) = mpsc::channel(concurrency * 2);
        let senders = (0..concurrency)
            .map(|_| {
                let sender = Sender::new(answers_tx.clone(), batch, concurrency, stop.clone());
                Spawned(tokio::spawn(sender.run(client.clone(), queue.clone())))
            })
            .collect();
        Engine {
            answers,
            senders,
            stop,
        }
    }

    /// The next answered items (a handful at a time, at least every 20 ms while items are
    /// answered); `None` when every item is out.
    pub async fn recv(&mut self) -> Option<Vec<Sent<T>>> {
        self.answers.recv().await
    }

    /// Stops sending: calls in flight finish, and every item not yet sent comes out with no
    /// answer. The input channel is closed, so its sender sees the engine gone.
    pub fn stop(&self) {
        self.stop.stopped.store(true, Ordering::Relaxed);
    }

    /// The answer that stopped the engine on its own (the credentials refused
    /// [`Options::stop_after_refusals`] times in a row), if it did.
    pub fn stopped_by(&self) -> Option<Error> {
        self.stop
            .why
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits for the senders to end (call it after [`recv`](Self::recv) answered `None`)
    /// and answers how long their calls took. A panic in a sender is resumed here.
    pub async fn finish(self) -> Histogram {
        let mut latency = Histogram::new();
        for sender in self.senders {
            if let Some(timed) = sender.await {
                latency.merge(&timed);
            }
        }
        latency
    }
}

/// A spawned task: aborted when dropped (so dropping the engine, or whatever holds it, stops
/// everything); a panic inside is resumed in the caller; `None` only when the runtime shuts
/// down under it. The engine's senders are held this way, and so is bulk's driver.
pub struct Spawned<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for Spawned<T> {
    type Output = Option<T>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| match joined {
                Ok(output) => Some(output),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => None,
            })
    }
}

/// Sends one item with `unsubscribe`: what `unsubscribe_many` does for a provider without
/// batches (`batch_size` 1), minus its list of one request and one answer.
async fn send_one<T>(
    client: &dyn Unsubscriber,
    item: Item<T>,
    latency: &mut Histogram,
    stop: &Stop,
) -> Sent<T> {
    let answer = match item.request {
        Some(request) if !stop.is_set() => {
            let answer = latency.time(client.unsubscribe(&request)).await;
            stop.saw(&answer);
            Some(answer)
        }
        _ => None,
    };
    Sent {
        tag: item.tag,
        answer,
    }
}

/// Sends the items of one batch that have a request in one `unsubscribe_owned` call, and
/// appends every item of the batch, with its answer, to `done` (in the batch's order). The
/// requests are moved into the call, not copied; the call is timed into `latency`.
async fn send_batch<T>(
    client: &dyn Unsubscriber,
    items: impl Iterator<Item = Item<T>>,
    done: &mut Vec<Sent<T>>,
    latency: &mut Histogram,
    stop: &Stop,
) {
    let mut requests = Vec::with_capacity(items.size_hint().0);
    // Where each request's item is in `done`: its answer is filled in from the call's.
    let mut waiting = Vec::with_capacity(items.size_hint().0);
    let stopped = stop.is_set();
    for item in items {
        if let (Some(request), false) = (item.request, stopped) {
            waiting.push(done.len());
            requests.push(request);
        }
        done.push(Sent {
            tag: item.tag,
            answer: None,
        });
    }
    if requests.is_empty() {
        return;
    }
    let answers = latency.time(client.unsubscribe_owned(requests)).await;
    let mut answers = answers.into_iter();
    for at in waiting {
        let Some(item) = done.get_mut(at) else {
            continue;
        };
        // A client that answers fewer results than requests must not lose an item: it was
        // sent, and nothing says how it ended.
        let answer = answers.next().unwrap_or_else(|| {
            Err(Error::unconfirmed(
                client.provider(),
                "the client's answer to a batch has no result for this row, which was sent",
            ))
        });
        stop.saw(&answer);
        item.answer = Some(answer);
    }
}

/// The senders' side of the input: chunks from the caller, taken a batch at a time.
struct Queue<T> {
    chunks: mpsc::Receiver<Vec<Item<T>>>,
    /// What is left of the chunk being taken.
    chunk: std::vec::IntoIter<Item<T>>,
}

/// Whether more items may come after those [`Queue::take_ready`] took.
#[derive(Debug, PartialEq, Eq)]
enum Ready {
    /// More may come: the input is still open.
    Later,
    /// The input is done and every item taken.
    Ended,
}

impl<T> Queue<T> {
    /// Moves up to `n` items into `into`, without waiting: from the chunk being taken, then
    /// from the chunks already sent. A batch is cut short only when no more items are ready
    /// (the input is slow, or ended), so an item never waits for others to fill its batch.
    fn take_ready(&mut self, into: &mut Vec<Item<T>>, n: usize) -> Ready {
        while into.len() < n {
            if self.chunk.len() == 0 {
                match self.chunks.try_recv() {
                    Ok(chunk) => self.chunk = chunk.into_iter(),
                    Err(mpsc::error::TryRecvError::Empty) => return Ready::Later,
                    Err(mpsc::error::TryRecvError::Disconnected) => return Ready::Ended,
                }
            }
            into.extend(self.chunk.by_ref().take(n - into.len()));
        }
        Ready::Later
    }

    /// Like [`take_ready`](Self::take_ready), but waits for the input when no item is
    /// ready; takes nothing only when the input is done.
    async fn take(&mut self, into: &mut Vec<Item<T>>, n: usize) {
        while self.take_ready(into, n) == Ready::Later && into.is_empty() {
            match self.chunks.recv().await {
                Some(chunk) => self.chunk = chunk.into_iter(),
                None => return,
            }
        }
    }
}

/// One of the engine's senders: the items it takes at once, its answered items on their way
/// out, and how long its calls took.
struct Sender<T> {
    /// Items per call: the provider's batch size.
    batch: usize,
    /// Answered items kept before they are handed over ([`hand_over_at`]).
    hand_over_at: usize,
    answers: mpsc::Sender<Vec<Sent<T>>>,
    results: Vec<Sent<T>>,
    /// When the results were last handed over.
    since: tokio::time::Instant,
    latency: Histogram,
    stop: Arc<Stop>,
}

impl<T: Send + 'static> Sender<T> {
    fn new(
        answers: mpsc::Sender<Vec<Sent<T>>>,
        batch: usize,
        concurrency: usize,
        stop: Arc<Stop>,
    ) -> Self {
        let hand_over_at = hand_over_at(batch, concurrency);
        Sender {
            batch,
            hand_over_at,
            answers,
            results: Vec::with_capacity(hand_over_at + batch),
            since: tokio::time::Instant::now(),
            latency: Histogram::new(),
            stop,
        }
    }

    /// Takes a batch at a time from `queue` and sends it with `client`, handing the answers
    /// over as it goes, until the input is done (or the engine is gone). Answers the latency
    /// of its calls; [`Engine::finish`] adds up every sender's.
    async fn run(
        mut self,
        client: Arc<dyn Unsubscriber>,
        queue: Arc<tokio::sync::Mutex<Queue<T>>>,
    ) -> Histogram {
        let batch = self.batch;
        let mut items = Vec::with_capacity(batch);
        loop {
            // Take what is ready; if nothing is, hand over the results first, then
            // wait (behind the sender already waiting for the input, if any).
            let ready = match queue.try_lock() {
                Ok(mut queue) => {
                    if self.stop.is_set() {
                        // Stopped: no more input, and what is queued comes out unsent.
                        queue.chunks.close();
                    }
                    queue.take_ready(&mut items, batch)
                }
                Err(_) => Ready::Later,
            };
            if items.is_empty() {
                if ready == Ready::Ended || !self.hand_over().await {
                    break;
                }
                let mut queue = queue.lock().await;
                if self.stop.is_set() {
                    queue.chunks.close();
                }
                queue.take(&mut items, batch).await;
                drop(queue);
                if items.is_empty() {
                    break; // the input is done
                }
            }
            if batch == 1 {
                for item in items.drain(..) {
                    let done = send_one(client.as_ref(), item, &mut self.latency, &self.stop).await;
                    self.results.push(done);
                }
            } else {
                send_batch(
                    client.as_ref(),
                    items.drain(..),
                    &mut self.results,
                    &mut self.latency,
                    &self.stop,
                )
                .await;
            }
            // The answers go out `hand_over_at` at a time, or every HAND_OVER_EVERY if calls
            // are slow: one wake-up of the receiver per handful of items, not per request.
            if (self.results.len() >= self.hand_over_at || self.since.elapsed() >= HAND_OVER_EVERY)
                && !self.hand_over().await
            {
                break;
            }
        }
        self.hand_over().await;
        self.latency
    }

    /// Hands the answers over; `false` if the receiver is gone (the engine was dropped).
    async fn hand_over(&mut self) -> bool {
        self.since = tokio::time::Instant::now();
        if self.results.is_empty() {
            return true;
        }
        let next = Vec::with_capacity(self.results.capacity());
        let results = std::mem::replace(&mut self.results, next);
        self.answers.send(results).await.is_ok()
    }
}
