//! Concurrent identical requests in one isolate share one cache lookup and at most one model run.
//!
//! Two workerd rules shape this. A request that waits only on a promise another request resolves
//! is cancelled as hung; and code woken by another request's I/O runs in that request's context,
//! where touching this request's I/O objects throws ("Cannot perform I/O on behalf of a different
//! request"). So followers never await the leader's future: they wake on timers of their own
//! ([`super::Clock::sleep`]) and read the leader's result, plain data, from a shared slot.
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
//!   done, and the slot is only removed after the writes to the other tiers that follow the
//!   response ([`Retire`]). A request arriving in between takes the result from the slot; one
//!   arriving after finds it in a tier.
//! - **A leader that goes away hands over.** If the leading request is dropped before it
//!   finishes (its client went away), its slot is marked abandoned and removed; a waiting
//!   follower opens a new one and leads.
//!
//! Failures are shared with the requests already waiting, then the slot is removed at once: the
//! next request asks the model again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::ApiError;

use super::Clock;

/// What a run or a lookup gave the requests that waited for it.
pub type Shared<I> = Result<I, Rc<ApiError>>;

/// How often, in milliseconds, a follower looks for the leader's result.
pub const FOLLOW_INTERVAL_MS: u64 = 20;

enum Slot<I> {
    /// The leader is looking the key up, or running the model.
    Running,
    /// The leader's answer, and whether it was made by a fresh model run (not read from a tier).
    Done { result: Shared<I>, fresh: bool },
    /// The leading request went away before it finished; a follower takes over.
    Abandoned,
}

type SlotRef<I> = Rc<RefCell<Slot<I>>>;

/// The slots of the keys in flight in one isolate (cheap to clone: one shared map).
pub struct SingleFlight<I> {
    slots: Rc<RefCell<HashMap<String, SlotRef<I>>>>,
}

impl<I> Clone for SingleFlight<I> {
    fn clone(&self) -> Self {
        SingleFlight {
            slots: self.slots.clone(),
        }
    }
}

impl<I> Default for SingleFlight<I> {
    fn default() -> Self {
        SingleFlight {
            slots: Rc::default(),
        }
    }
}

/// What joining the key's slot gave this request.
pub enum Joined<I> {
    /// This request leads: it looks the key up and, on a miss, runs the model, then reports
    /// with [`Lead::share_hit`], [`Lead::share_run`] or [`Lead::share_failure`].
    Lead(Lead<I>),
    /// Another request in this isolate led; this is what it found or made.
    Followed {
        result: Shared<I>,
        /// Whether the image already existed when this request joined: the leader had found it
        /// in a tier, or its run had already finished. (For `If-None-Match: *`: a request that
        /// waited for a run arrived before the image existed.)
        existed: bool,
    },
}

impl<I: Clone> SingleFlight<I> {
    /// How many keys are in flight.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.borrow().len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Joins the slot for `key`, or opens one that this request leads. With `wants_fresh` (the
    /// client said `no-cache`) a result read from a tier is not taken: such a request leads a
    /// run of its own unless a run is already under way.
    pub async fn join(&self, key: &str, wants_fresh: bool, clock: &impl Clock) -> Joined<I> {
        loop {
            // No `await` from this lookup to opening a slot: that is what makes it atomic.
            let existing = self.slots.borrow().get(key).cloned();
            let Some(slot) = existing else {
                return Joined::Lead(self.open(key));
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
                return Joined::Lead(self.open(key));
            }
            loop {
                clock.sleep(FOLLOW_INTERVAL_MS).await;
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

    fn open(&self, key: &str) -> Lead<I> {
        let slot = Rc::new(RefCell::new(Slot::Running));
        self.slots.borrow_mut().insert(key.to_owned(), slot.clone());
        Lead {
            flights: self.clone(),
            key: key.to_owned(),
            slot,
            reported: false,
        }
    }
}

impl<I> SingleFlight<I> {
    /// Removes `slot` from the map if it is still the one there (a newer leader may have
    /// replaced it).
    fn remove_if_current(&self, key: &str, slot: &SlotRef<I>) {
        let mut map = self.slots.borrow_mut();
        if map.get(key).is_some_and(|s| Rc::ptr_eq(s, slot)) {
            map.remove(key);
        }
    }
}

/// The leading request's hold on the slot. If it is dropped before it reports (the client went
/// away), the slot is marked abandoned so a follower leads instead of waiting forever.
pub struct Lead<I> {
    flights: SingleFlight<I>,
    key: String,
    slot: SlotRef<I>,
    reported: bool,
}

impl<I: Clone> Lead<I> {
    fn report(&mut self, result: Shared<I>, fresh: bool) {
        *self.slot.borrow_mut() = Slot::Done { result, fresh };
        self.reported = true;
    }

    /// The lookup found `image` in a tier (which also put it in the memory tier): waiting
    /// followers take it, and the next request finds it where this one did.
    pub fn share_hit(mut self, image: &I) {
        self.report(Ok(image.clone()), false);
        self.flights.remove_if_current(&self.key, &self.slot);
    }

    /// The run failed: waiting followers get the same failure; the next request runs again.
    pub fn share_failure(mut self, error: Rc<ApiError>) {
        self.report(Err(error), true);
        self.flights.remove_if_current(&self.key, &self.slot);
    }

    /// The run made `image`, which the caller has already put in the memory tier. The slot
    /// stays joinable until the returned [`Retire`] is dropped: after the writes to the other
    /// tiers.
    #[must_use]
    pub fn share_run(mut self, image: &I) -> Retire<I> {
        self.report(Ok(image.clone()), true);
        Retire {
            flights: self.flights.clone(),
            key: std::mem::take(&mut self.key),
            slot: self.slot.clone(),
        }
    }
}

impl<I> Drop for Lead<I> {
    fn drop(&mut self) {
        if !self.reported {
            *self.slot.borrow_mut() = Slot::Abandoned;
            self.flights.remove_if_current(&self.key, &self.slot);
        }
    }
}

/// Keeps a finished run's slot joinable; dropping it removes the slot (once the result is in
/// the tiers, or if the deferred write is itself dropped).
pub struct Retire<I> {
    flights: SingleFlight<I>,
    key: String,
    slot: SlotRef<I>,
}

impl<I> Drop for Retire<I> {
    fn drop(&mut self) {
        self.flights.remove_if_current(&self.key, &self.slot);
    }
}
