//! Items run in this process: a worker's runner, and the guard that turns a panic inside an
//! item into a failed item that keeps what the panic said.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use futures_lite::FutureExt as _;

use super::{Attempt, ItemEnd, WARMUP_ITEM};
use crate::workload::{ItemError, ItemResult, Runner, Transfer, Workload};

/// What a panic said: its message when it was given one, as `panic!` gives a `&str` or a
/// `String`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked without a message".to_string())
}

fn panicked(payload: &(dyn Any + Send)) -> ItemError {
    ItemError::new("panic", panic_message(payload))
}

/// Runs one item; a panic inside the workload is a failed item, not a dead worker.
#[inline]
fn run_guarded(runner: &mut dyn Runner, item: u64) -> ItemResult {
    match catch_unwind(AssertUnwindSafe(|| runner.run(item))) {
        Ok(outcome) => outcome,
        Err(payload) => Err(panicked(&*payload)),
    }
}

/// A panic inside an item's future is a failed item, not a dead task.
pub(crate) async fn guarded<F: Future<Output = ItemResult>>(future: F) -> ItemResult {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(payload) => Err(panicked(&*payload)),
    }
}

/// A worker's runner, or why it could not be built: then every item fails with kind `setup`,
/// and is not retried (it would fail the same way).
pub(crate) struct LocalRunner(Result<Box<dyn Runner>, ItemError>);

impl LocalRunner {
    pub(crate) fn build(workload: &dyn Workload) -> Self {
        LocalRunner::from_built(workload.runner().map_err(|e| e.to_string()))
    }

    /// A runner built elsewhere (a worker process rebuilds the workload from its spec).
    pub(crate) fn from_built(built: Result<Box<dyn Runner>, String>) -> Self {
        LocalRunner(built.map_err(|why| ItemError::new("setup", why)))
    }

    /// The runner, if it was built.
    pub(crate) fn runner(&mut self) -> Option<&mut dyn Runner> {
        match &mut self.0 {
            Ok(r) => Some(r.as_mut()),
            Err(_) => None,
        }
    }

    /// Runs warm-up items while `more` says so, then drops the bytes they moved: they are not
    /// the point's. A runner that was not built runs none, leaving them to the others.
    pub(crate) fn warm_up(&mut self, mut more: impl FnMut() -> bool) {
        if let Some(r) = self.runner() {
            while more() {
                let _ = run_guarded(r, WARMUP_ITEM);
            }
            let _ = r.take_transfer();
        }
    }

    /// `warm_up` on the runner's async path.
    pub(crate) async fn warm_up_async(&mut self, mut more: impl FnMut() -> bool) {
        if let Some(r) = self.runner() {
            while more() {
                let _ = guarded(r.run_async(WARMUP_ITEM)).await;
            }
            let _ = r.take_transfer();
        }
    }

    /// The bytes moved since the last call (`Runner::take_transfer`).
    pub(crate) fn take_transfer(&mut self) -> Option<Transfer> {
        self.runner().and_then(|r| r.take_transfer())
    }
}

impl Attempt for LocalRunner {
    /// Runs to the end: a thread cannot be cut, so the deadline is its watchdog's to enforce.
    #[inline]
    fn attempt(&mut self, item: u64, _deadline: Option<Instant>) -> ItemEnd {
        ItemEnd::Ran(match &mut self.0 {
            Ok(r) => run_guarded(r.as_mut(), item),
            Err(setup) => Err(setup.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_message_is_read_from_either_kind_of_payload() {
        let owned: Box<dyn std::any::Any + Send> = Box::new(String::from("owned"));
        let borrowed: Box<dyn std::any::Any + Send> = Box::new("borrowed");
        let other: Box<dyn std::any::Any + Send> = Box::new(7u32);
        assert_eq!(panic_message(&*owned), "owned");
        assert_eq!(panic_message(&*borrowed), "borrowed");
        assert_eq!(panic_message(&*other), "panicked without a message");
    }
}
