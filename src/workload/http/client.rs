//! One keep-alive HTTP/1.1 connection per in-flight slot, driven by the slot itself. On the
//! async backend it runs on the backend's runtime; on the thread backend (and in worker
//! processes) each runner uses a blocking socket on its own thread — a write, then a read that
//! sleeps until the answer comes, as a blocking client does, with no event loop in between.
//! Nothing is shared on the hot path. The bytes on the wire are `wire`'s business; where a
//! redirect leads, `redirect`'s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use hyper::StatusCode;

use super::connection::{request, Connection, Driver};
use super::redirect::Hops;
use super::target::Target;
use super::wire::Answer;
use crate::workload::{BoxFuture, ItemError, ItemResult, Runner, Transfer};

/// Connections to origins other than the URL's, which redirects lead to: one kept, for the
/// origin last visited, since a chain usually goes to one other place and back.
#[derive(Default)]
struct Elsewhere {
    hops: Hops,
    origin: String,
    connection: Option<Connection>,
}

/// The runner: one connection to the URL's origin, made on first use and replaced after an
/// error, and what it has moved since the count was last taken.
pub(crate) struct Client {
    target: Arc<Target>,
    /// A TCP connection made before the clock started, not yet handed to a runtime.
    preconnected: Option<std::net::TcpStream>,
    connection: Option<Connection>,
    moved: Transfer,
    /// Only once a redirect is followed.
    elsewhere: Option<Box<Elsewhere>>,
    /// The async answer deadline, kept from item to item: moving a registered timer later is
    /// an atomic store, where a fresh timer per request costs a timer-wheel insert and removal.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Client {
    pub fn new(target: Arc<Target>) -> Client {
        let preconnected = target
            .origin
            .connect_blocking(target.settings.timeout)
            .ok()
            .filter(|s| s.set_nonblocking(true).is_ok());
        Client {
            target,
            preconnected,
            connection: None,
            moved: Transfer::default(),
            elsewhere: None,
            deadline: None,
        }
    }

    /// One item on the async runtime, cut short by a timer at the limit.
    async fn item(&mut self) -> ItemResult {
        let due = tokio::time::Instant::now() + self.target.settings.timeout;
        let mut deadline = match self.deadline.take() {
            Some(mut sleep) => {
                sleep.as_mut().reset(due);
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(due)),
        };
        let outcome = {
            let exchange = std::pin::pin!(self.exchange(Driver::Ambient, due.into_std()));
            Deadline {
                work: exchange,
                deadline: deadline.as_mut(),
                armed: false,
            }
            .await
        };
        self.deadline = Some(deadline);
        match outcome {
            Some(outcome) => outcome,
            None => {
                self.connection = None;
                if let Some(elsewhere) = self.elsewhere.as_mut() {
                    elsewhere.connection = None;
                }
                Err(self.timed_out())
            }
        }
    }

    fn timed_out(&self) -> ItemError {
        ItemError::new(
            "timeout",
            format!(
                "no complete answer within {} ms",
                self.target.settings.timeout.as_millis()
            ),
        )
    }

    /// The item: the request, the redirects it is told to follow, and the verdict on the
    /// final status.
    async fn exchange(&mut self, driver: Driver, due: Instant) -> ItemResult {
        let mut answer = request(
            &mut self.connection,
            self.preconnected.take(),
            &self.target,
            driver,
            due,
            &mut self.moved,
        )
        .await?;
        if answer.location.is_some() {
            answer = self.follow(answer, driver, due).await?;
        }
        if self.target.settings.accept.contains(answer.status) {
            return Ok(());
        }
        let reason = StatusCode::from_u16(answer.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        Err(ItemError::new(
            format!("http-{}", answer.status),
            format!("status {} {reason}", answer.status)
                .trim_end()
                .to_string(),
        ))
    }

    /// Follows `answer`'s redirects, up to `follow_redirects` hops, each on the connection to
    /// its origin; a request seen before in the chain is a loop. Boxed: it is rare, and its
    /// future is large.
    fn follow(
        &mut self,
        mut answer: Answer,
        driver: Driver,
        due: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<Answer, ItemError>> + Send + '_>> {
        Box::pin(async move {
            let elsewhere = self.elsewhere.get_or_insert_with(Default::default);
            let limit = self.target.settings.follow;
            let mut chain = vec![self.target.clone()];
            while let Some(location) = answer.location.take() {
                let from = chain.last().cloned().unwrap_or_else(|| self.target.clone());
                if chain.len() > limit as usize {
                    return Err(ItemError::new(
                        "redirect",
                        format!("more than {limit} redirects (the last to '{location}')"),
                    ));
                }
                let next = elsewhere.hops.next(&from, answer.status, &location)?;
                if chain.iter().any(|seen| seen.key == next.key) {
                    return Err(ItemError::new(
                        "redirect",
                        format!("redirect loop: {} leads back to {}", from.key, next.key),
                    ));
                }
                answer = if next.origin.key == self.target.origin.key {
                    request(
                        &mut self.connection,
                        None,
                        &next,
                        driver,
                        due,
                        &mut self.moved,
                    )
                    .await?
                } else {
                    if elsewhere.origin != next.origin.key {
                        elsewhere.origin.clone_from(&next.origin.key);
                        elsewhere.connection = None;
                    }
                    let slot = &mut elsewhere.connection;
                    request(slot, None, &next, driver, due, &mut self.moved).await?
                };
                chain.push(next);
            }
            Ok(answer)
        })
    }
}

/// `work`, or `None` once the deadline passes first.
struct Deadline<'a, F> {
    work: Pin<&'a mut F>,
    deadline: Pin<&'a mut tokio::time::Sleep>,
    /// The timer holds this task's waker: later polls only read its state.
    armed: bool,
}

impl<F: Future> Future for Deadline<'_, F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(out) = self.work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        // A request wakes its task several times; registering with the timer once is enough,
        // since an item's future stays in the one task that polls it.
        if self.armed {
            return match self.deadline.is_elapsed() {
                true => Poll::Ready(None),
                false => Poll::Pending,
            };
        }
        let fired = self.deadline.as_mut().poll(cx).is_ready();
        self.armed = true;
        match fired {
            true => Poll::Ready(None),
            false => Poll::Pending,
        }
    }
}

impl Runner for Client {
    fn run(&mut self, _item: u64) -> ItemResult {
        let due = Instant::now() + self.target.settings.timeout;
        // Every socket call below blocks, bounded by `due`: the future never waits on a waker.
        match futures_lite::future::block_on(self.exchange(Driver::Blocking, due)) {
            Err(e) if e.kind == "timeout" => Err(self.timed_out()),
            outcome => outcome,
        }
    }

    fn run_async(&mut self, _item: u64) -> BoxFuture<'_, ItemResult> {
        Box::pin(self.item())
    }

    fn take_transfer(&mut self) -> Option<Transfer> {
        Some(std::mem::take(&mut self.moved))
    }
}
