//! Concurrent identical requests in one isolate share one cache lookup and at most one model run.
//!
//! Two workerd rules shape this. A request that waits only on a promise another request resolves
//! is cancelled as hung; and code woken by another request's I/O runs in that request's context,
//! where touching this request's I/O objects throws ("Cannot perform I/O on behalf of a different
//! request"). So followers never await the leader's future: they wake on timers of their own and
//! read the leader's result, plain data, from a shared slot.
//!
//! Exactly one run per key in flight follows from three choices:
//! - **The slot comes before the cache.** A request joins (or opens) the key's slot before it
//!   looks in any tier that needs I/O (the memory tier, checked just before with no `await`
//!   between, is part of the same atomic step), and checking for a slot and opening one happen
//!   with no `await` between them, so in one isolate's single thread no two requests can both
//!   find "no slot". The leader then looks the key up, and runs the model only on a miss;
//!   everyone else waits for what it finds or makes.
//! - **The slot outlives the run.** A finished run stays in the slot, joinable, until its result
//!   is stored: the leader puts it in the memory tier (synchronously) before it marks the slot
//!   done, and the slot is only removed after the Cache API (and R2) writes that follow the
//!   response. A request arriving in between takes the result from the slot; one arriving after
//!   finds it in a tier. (Removing it after the memory write alone would leave a gap when the
//!   memory tier is off or the image is larger than its budget.) Holding the result there costs
//!   nothing: the deferred write holds the same bytes until then anyway.
//! - **A leader that goes away hands over.** If the leading request is dropped before it
//!   finishes (its client went away), its slot is marked abandoned and removed; a waiting
//!   follower opens a new one and leads.
//!
//! Failures are shared with the requests already waiting, then the slot is removed at once: the
//! next request asks the model again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use sdxl_core::ApiError;

use crate::cache_tiers::Stored;

pub type Shared = Result<Stored, Rc<ApiError>>;

/// How often a follower looks for the leader's result.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(20);

enum Slot {
    /// The leader is looking the key up, or running the model.
    Running,
    /// The leader's answer, and whether it was made by a fresh model run (not read from a tier).
    Done { result: Shared, fresh: bool },
    /// The leading request went away before it finished; a follower takes over.
    Abandoned,
}

type SlotRef = Rc<RefCell<Slot>>;

thread_local! {
    static IN_FLIGHT: RefCell<HashMap<String, SlotRef>> = RefCell::new(HashMap::new());
}

/// What joining the key's slot gave this request.
pub enum Joined {
    /// This request leads: it looks the key up and, on a miss, runs the model, then reports
    /// with [`Lead::share_hit`], [`Lead::share_run`] or [`Lead::share_failure`].
    Lead(Lead),
    /// Another request in this isolate led; this is what it found or made.
    Followed {
        result: Shared,
        /// Whether the image already existed when this request joined: the leader had found it
        /// in a tier, or its run had already finished. (For `If-None-Match: *`: a request that
        /// waited for a run arrived before the image existed.)
        existed: bool,
    },
}

/// Joins the slot for `key`, or opens one that this request leads. With `wants_fresh` (the
/// client said `no-cache`) a result read from a tier is not taken: such a request leads a run of
/// its own unless a run is already under way.
pub async fn join(key: &str, wants_fresh: bool) -> Joined {
    loop {
        // No `await` from this lookup to opening a slot: that is what makes it atomic.
        let existing = IN_FLIGHT.with(|m| m.borrow().get(key).cloned());
        let Some(slot) = existing else {
            return Joined::Lead(Lead::open(key));
        };
        if let Slot::Done { result, fresh } = &*slot.borrow() {
            if *fresh || !wants_fresh {
                return Joined::Followed {
                    result: result.clone(),
                    existed: true,
                };
            }
        }
        if !matches!(&*slot.borrow(), Slot::Running) {
            // A finished lookup this request may not use, or an abandoned run: lead anew.
            return Joined::Lead(Lead::open(key));
        }
        loop {
            worker::Delay::from(FOLLOW_INTERVAL).await;
            match &*slot.borrow() {
                Slot::Running => continue,
                Slot::Done { result, fresh } if *fresh || !wants_fresh => {
                    return Joined::Followed {
                        result: result.clone(),
                        existed: !*fresh,
                    }
                }
                // Abandoned, or a cached result this request may not take: look again.
                Slot::Done { .. } | Slot::Abandoned => break,
            }
        }
    }
}

/// Removes `slot` from the in-flight map if it is still the one there (a newer leader may have
/// replaced it).
fn remove_if_current(key: &str, slot: &SlotRef) {
    IN_FLIGHT.with(|m| {
        let mut map = m.borrow_mut();
        if map.get(key).is_some_and(|s| Rc::ptr_eq(s, slot)) {
            map.remove(key);
        }
    });
}

/// The leading request's hold on the slot. If it is dropped before it reports (the client went
/// away), the slot is marked abandoned so a follower leads instead of waiting forever.
pub struct Lead {
    key: String,
    slot: SlotRef,
    reported: bool,
}

impl Lead {
    fn open(key: &str) -> Lead {
        let slot = Rc::new(RefCell::new(Slot::Running));
        IN_FLIGHT.with(|m| m.borrow_mut().insert(key.to_owned(), slot.clone()));
        Lead {
            key: key.to_owned(),
            slot,
            reported: false,
        }
    }

    fn report(&mut self, result: Shared, fresh: bool) {
        *self.slot.borrow_mut() = Slot::Done { result, fresh };
        self.reported = true;
    }

    /// The lookup found `stored` in a tier (which also put it in the memory tier): waiting
    /// followers take it, and the next request finds it where this one did.
    pub fn share_hit(mut self, stored: &Stored) {
        self.report(Ok(stored.clone()), false);
        remove_if_current(&self.key, &self.slot);
    }

    /// The run failed: waiting followers get the same failure; the next request runs again.
    pub fn share_failure(mut self, error: Rc<ApiError>) {
        self.report(Err(error), true);
        remove_if_current(&self.key, &self.slot);
    }

    /// The run made `stored`, which the caller has already put in the memory tier. The slot
    /// stays joinable until the returned [`Retire`] is dropped: after the writes to the other
    /// tiers.
    #[must_use]
    pub fn share_run(mut self, stored: &Stored) -> Retire {
        self.report(Ok(stored.clone()), true);
        Retire {
            key: std::mem::take(&mut self.key),
            slot: self.slot.clone(),
        }
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        if !self.reported {
            *self.slot.borrow_mut() = Slot::Abandoned;
            remove_if_current(&self.key, &self.slot);
        }
    }
}

/// Keeps a finished run's slot joinable; dropping it removes the slot (once the result is in
/// the tiers, or if the deferred write is itself dropped).
pub struct Retire {
    key: String,
    slot: SlotRef,
}

impl Drop for Retire {
    fn drop(&mut self) {
        remove_if_current(&self.key, &self.slot);
    }
}
