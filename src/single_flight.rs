//! Concurrent identical requests in one isolate share one upstream run.
//!
//! Two workerd rules shape this. A request that waits only on a promise another request resolves
//! is cancelled as hung; and code woken by another request's I/O runs in that request's context,
//! where touching this request's I/O objects throws ("Cannot perform I/O on behalf of a different
//! request"). So followers never await the leader's future: they wake on timers of their own and
//! read the leader's result, plain data, from a shared slot.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use sdxl_core::ApiError;

use crate::model_output::ModelImage;

pub type RunResult = Result<ModelImage, Rc<ApiError>>;

/// How often a follower looks for the leader's result.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(20);

enum Slot {
    Running,
    Done(RunResult),
    /// The leading request went away before its run ended; a follower takes over.
    Abandoned,
}

thread_local! {
    static IN_FLIGHT: RefCell<HashMap<String, Rc<RefCell<Slot>>>> = RefCell::new(HashMap::new());
}

/// Runs `run` for `key` unless a run for `key` is already under way, in which case its result is
/// shared. Answers the result and whether this request ran the model itself.
pub async fn run_once<F, Fut>(key: &str, run: F) -> (RunResult, bool)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<ModelImage, ApiError>>,
{
    while let Some(slot) = IN_FLIGHT.with(|m| m.borrow().get(key).cloned()) {
        loop {
            worker::Delay::from(FOLLOW_INTERVAL).await;
            match &*slot.borrow() {
                Slot::Running => continue,
                Slot::Done(result) => return (result.clone(), false),
                Slot::Abandoned => break,
            }
        }
    }
    let slot = Rc::new(RefCell::new(Slot::Running));
    IN_FLIGHT.with(|m| m.borrow_mut().insert(key.to_owned(), slot.clone()));
    let mut lead = Lead {
        key,
        slot,
        done: false,
    };
    let result = run().await.map_err(Rc::new);
    lead.finish(result.clone());
    (result, true)
}

/// The leading request's hold on the slot; if it is dropped mid-run (the client went away), the
/// slot is marked abandoned so a follower runs the model instead of waiting forever.
struct Lead<'a> {
    key: &'a str,
    slot: Rc<RefCell<Slot>>,
    done: bool,
}

impl Lead<'_> {
    fn finish(&mut self, result: RunResult) {
        *self.slot.borrow_mut() = Slot::Done(result);
        self.done = true;
        // The next identical request goes to the cache, not to this run.
        IN_FLIGHT.with(|m| m.borrow_mut().remove(self.key));
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        if !self.done {
            *self.slot.borrow_mut() = Slot::Abandoned;
            IN_FLIGHT.with(|m| m.borrow_mut().remove(self.key));
        }
    }
}
