//! Whole flows through the pipeline against in-memory fakes: three tiers that count their reads
//! and writes, a model that counts its runs and takes a few turns of the executor to answer, and
//! a clock whose sleep yields once.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::executor::LocalPool;
use futures::future::join_all;
use futures::task::LocalSpawnExt;

use super::*;
use crate::headers::ClientCaching;

/// A future that is pending `turns` times, then ready: another request's turn in between.
struct Turns(u32);

impl Future for Turns {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[derive(Default)]
struct FakeClock {
    now: Cell<f64>,
}

impl Clock for FakeClock {
    fn now_ms(&self) -> f64 {
        let now = self.now.get() + 1.0;
        self.now.set(now);
        now
    }
    fn sleep(&self, _ms: u64) -> impl Future<Output = ()> {
        Turns(1)
    }
}

/// One tier's entries and how often it was read and written.
#[derive(Default)]
struct Shelf {
    entries: HashMap<String, String>,
    reads: u32,
    writes: u32,
}

#[derive(Default)]
struct Stores {
    memory: Shelf,
    cache_api: Shelf,
    r2: Shelf,
}

/// Three tiers in memory, as the Worker's: a fresh result goes to R2, an R2 hit is copied to
/// the Cache API, every hit is remembered in memory.
#[derive(Clone, Default)]
struct FakeTiers(Rc<RefCell<Stores>>);

impl FakeTiers {
    fn count(&self, tier: Tier) -> (usize, u32, u32) {
        let stores = self.0.borrow();
        let shelf = match tier {
            Tier::Memory => &stores.memory,
            Tier::CacheApi => &stores.cache_api,
            Tier::R2 => &stores.r2,
        };
        (shelf.entries.len(), shelf.reads, shelf.writes)
    }
}

impl Tiers for FakeTiers {
    type Image = String;

    fn in_memory(&self, key: &str) -> Option<String> {
        let mut stores = self.0.borrow_mut();
        stores.memory.reads += 1;
        stores.memory.entries.get(key).cloned()
    }

    fn remember(&self, key: &str, image: &String) {
        let mut stores = self.0.borrow_mut();
        stores.memory.writes += 1;
        stores.memory.entries.insert(key.to_owned(), image.clone());
    }

    async fn get(&self, key: &str) -> Option<(String, Tier)> {
        if let Some(image) = self.in_memory(key) {
            return Some((image, Tier::Memory));
        }
        Turns(2).await;
        let found = {
            let mut stores = self.0.borrow_mut();
            stores.cache_api.reads += 1;
            let cached = stores.cache_api.entries.get(key).cloned();
            match cached {
                Some(image) => Some((image, Tier::CacheApi)),
                None => {
                    stores.r2.reads += 1;
                    stores.r2.entries.get(key).cloned().map(|i| (i, Tier::R2))
                }
            }
        };
        if let Some((image, _)) = &found {
            self.remember(key, image);
        }
        found
    }

    async fn put(&self, key: &str, image: &String, writes: Writes) {
        Turns(2).await;
        let mut stores = self.0.borrow_mut();
        let shelf = match writes {
            Writes::Fresh => &mut stores.r2,
            Writes::CacheApiOnly => &mut stores.cache_api,
        };
        shelf.writes += 1;
        shelf.entries.insert(key.to_owned(), image.clone());
    }
}

/// A model that answers `image-<n>` for its n-th run, after a few turns; or fails.
#[derive(Default)]
struct FakeModel {
    runs: Cell<u32>,
    fail: Cell<bool>,
}

impl Model for FakeModel {
    type Image = String;
    type Error = &'static str;

    async fn run(&self) -> Result<String, RunFailure<&'static str>> {
        self.runs.set(self.runs.get() + 1);
        Turns(5).await;
        if self.fail.get() {
            return Err(RunFailure::Shared(Rc::new(ApiError::Deadline { ms: 1 })));
        }
        Ok(format!("image-{}", self.runs.get()))
    }
}

/// One isolate: its single flight, tiers, model and clock.
#[derive(Default)]
struct Isolate {
    flights: SingleFlight<String>,
    tiers: FakeTiers,
    model: FakeModel,
    clock: FakeClock,
}

const STORE: ClientCaching = ClientCaching {
    read: true,
    store: true,
};

fn ask(key: &str, caching: ClientCaching) -> Ask<'_> {
    Ask {
        key,
        plan: CachePlan::new(caching, false, false),
        lookup_only: false,
        held: false,
    }
}

impl Isolate {
    /// One request, its stores done after it (as `waitUntil` does them).
    async fn request(&self, ask: Ask<'_>) -> Result<(Option<String>, Option<CacheStatus>), ()> {
        let mut timings = Timings::default();
        let outcome = produce(
            ask,
            &self.flights,
            &self.tiers,
            &self.model,
            &self.clock,
            &mut timings,
        )
        .await
        .map_err(|_| ())?;
        Ok(match outcome {
            Outcome::NotModified => (None, None),
            Outcome::NotGenerated => (None, None),
            Outcome::Image {
                image,
                status,
                after,
            } => {
                if let Some(after) = after {
                    after.await;
                }
                (Some(image), Some(status))
            }
        })
    }

    fn run<T>(&self, f: impl Future<Output = T>) -> T {
        futures::executor::block_on(f)
    }
}

#[test]
fn a_miss_runs_and_stores_then_the_same_key_is_a_hit() {
    let isolate = Isolate::default();
    let first = isolate.run(isolate.request(ask("k", STORE))).unwrap();
    assert_eq!(
        first,
        (Some("image-1".into()), Some(CacheStatus::Miss)),
        "a miss runs the model"
    );
    assert_eq!(
        isolate.tiers.count(Tier::R2),
        (1, 1, 1),
        "stored in R2 once"
    );
    assert!(
        isolate.flights.is_empty(),
        "the slot closed after the store"
    );
    let second = isolate.run(isolate.request(ask("k", STORE))).unwrap();
    assert_eq!(
        second,
        (Some("image-1".into()), Some(CacheStatus::Hit(Tier::Memory)))
    );
    assert_eq!(
        isolate.model.runs.get(),
        1,
        "the same request never pays twice"
    );
}

#[test]
fn thirty_two_concurrent_identical_requests_make_one_run() {
    let isolate = Rc::new(Isolate::default());
    let mut pool = LocalPool::new();
    let results = Rc::new(RefCell::new(Vec::new()));
    for _ in 0..32 {
        let (isolate, results) = (isolate.clone(), results.clone());
        pool.spawner()
            .spawn_local(async move {
                let got = isolate.request(ask("hot", STORE)).await;
                results.borrow_mut().push(got);
            })
            .unwrap();
    }
    pool.run();
    let results = results.borrow();
    assert_eq!(results.len(), 32);
    assert_eq!(isolate.model.runs.get(), 1, "one run for 32 requests");
    let misses = results
        .iter()
        .filter(|r| r.as_ref().unwrap().1 == Some(CacheStatus::Miss))
        .count();
    assert_eq!(misses, 1);
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap().0.as_deref() == Some("image-1")));
    assert_eq!(isolate.tiers.count(Tier::R2).2, 1, "one store");
}

#[test]
fn head_answers_from_the_tiers_and_never_runs() {
    let isolate = Isolate::default();
    let head = Ask {
        lookup_only: true,
        ..ask("k", STORE)
    };
    let before = isolate.run(produce_outcome(&isolate, head));
    assert!(matches!(before, Outcome::NotGenerated));
    assert_eq!(isolate.model.runs.get(), 0);
    isolate.run(isolate.request(ask("k", STORE))).unwrap();
    let after = isolate.run(produce_outcome(&isolate, head));
    assert!(matches!(
        after,
        Outcome::Image {
            status: CacheStatus::Hit(Tier::Memory),
            ..
        }
    ));
    assert_eq!(isolate.model.runs.get(), 1);
}

#[test]
fn a_held_tag_and_if_none_match_star_answer_304() {
    let isolate = Isolate::default();
    let held = Ask {
        held: true,
        ..ask("k", STORE)
    };
    assert!(matches!(
        isolate.run(produce_outcome(&isolate, held)),
        Outcome::NotModified
    ));
    assert_eq!(isolate.tiers.count(Tier::Memory).1, 0, "no lookup at all");
    let star = Ask {
        plan: CachePlan::new(STORE, true, false),
        ..ask("k", STORE)
    };
    // Not made yet: `*` runs it; made: `*` is a 304.
    assert!(matches!(
        isolate.run(produce_outcome(&isolate, star)),
        Outcome::Image {
            status: CacheStatus::Miss,
            ..
        }
    ));
    assert!(matches!(
        isolate.run(produce_outcome(&isolate, star)),
        Outcome::NotModified
    ));
    assert_eq!(isolate.model.runs.get(), 1);
}

#[test]
fn no_store_runs_every_time_and_touches_no_tier() {
    let isolate = Isolate::default();
    let bypass = ask(
        "k",
        ClientCaching {
            read: false,
            store: false,
        },
    );
    for n in 1..=2 {
        let got = isolate.run(isolate.request(bypass)).unwrap();
        assert_eq!(got, (Some(format!("image-{n}")), Some(CacheStatus::Bypass)));
    }
    for tier in [Tier::Memory, Tier::CacheApi, Tier::R2] {
        assert_eq!(isolate.tiers.count(tier), (0, 0, 0), "{tier:?}");
    }
}

#[test]
fn a_failure_is_shared_never_stored_and_the_next_request_runs_again() {
    let isolate = Rc::new(Isolate::default());
    isolate.model.fail.set(true);
    let mut pool = LocalPool::new();
    let failed = Rc::new(Cell::new(0));
    for _ in 0..4 {
        let (isolate, failed) = (isolate.clone(), failed.clone());
        pool.spawner()
            .spawn_local(async move {
                if isolate.request(ask("k", STORE)).await.is_err() {
                    failed.set(failed.get() + 1);
                }
            })
            .unwrap();
    }
    pool.run();
    assert_eq!(failed.get(), 4, "those waiting share the failure");
    assert_eq!(isolate.model.runs.get(), 1);
    for tier in [Tier::Memory, Tier::CacheApi, Tier::R2] {
        assert_eq!(isolate.tiers.count(tier).0, 0, "nothing stored in {tier:?}");
    }
    isolate.model.fail.set(false);
    let again = isolate.run(isolate.request(ask("k", STORE))).unwrap();
    assert_eq!(again.1, Some(CacheStatus::Miss));
    assert_eq!(isolate.model.runs.get(), 2, "a failure is not cached");
}

#[test]
fn a_hit_in_r2_backfills_the_cache_api_and_memory() {
    let isolate = Isolate::default();
    isolate
        .tiers
        .0
        .borrow_mut()
        .r2
        .entries
        .insert("k".into(), "durable".into());
    let got = isolate.run(isolate.request(ask("k", STORE))).unwrap();
    assert_eq!(
        got,
        (Some("durable".into()), Some(CacheStatus::Hit(Tier::R2)))
    );
    assert_eq!(isolate.tiers.count(Tier::CacheApi), (1, 1, 1), "backfilled");
    assert_eq!(isolate.tiers.count(Tier::Memory).0, 1, "remembered");
    assert_eq!(isolate.model.runs.get(), 0);
    let next = isolate.run(isolate.request(ask("k", STORE))).unwrap();
    assert_eq!(next.1, Some(CacheStatus::Hit(Tier::Memory)));
}

#[test]
fn a_leader_that_goes_away_hands_over_to_a_follower() {
    let isolate = Isolate::default();
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut leader = Box::pin(isolate.request(ask("k", STORE)));
    while isolate.model.runs.get() == 0 {
        assert!(leader.as_mut().poll(&mut cx).is_pending());
    }
    let mut follower = Box::pin(isolate.request(ask("k", STORE)));
    assert!(
        follower.as_mut().poll(&mut cx).is_pending(),
        "waiting on the run"
    );
    // The leader's client went away mid-run: the follower leads a run of its own.
    drop(leader);
    let got = isolate.run(follower).unwrap();
    assert_eq!(got, (Some("image-2".into()), Some(CacheStatus::Miss)));
    assert_eq!(isolate.model.runs.get(), 2);
}

async fn produce_outcome(isolate: &Isolate, ask: Ask<'_>) -> Outcome<String> {
    let mut timings = Timings::default();
    let outcome = produce(
        ask,
        &isolate.flights,
        &isolate.tiers,
        &isolate.model,
        &isolate.clock,
        &mut timings,
    )
    .await;
    match outcome {
        Ok(Outcome::Image {
            image,
            status,
            after,
        }) => {
            if let Some(after) = after {
                after.await;
            }
            Outcome::Image {
                image,
                status,
                after: None,
            }
        }
        Ok(other) => other,
        Err(_) => panic!("the fake model fails only when told"),
    }
}

#[test]
fn join_all_of_distinct_keys_runs_each_once() {
    let isolate = Isolate::default();
    let keys = ["a", "b", "c"];
    let results = isolate.run(join_all(
        keys.iter().map(|k| isolate.request(ask(k, STORE))),
    ));
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap().1 == Some(CacheStatus::Miss)));
    assert_eq!(isolate.model.runs.get(), 3);
}
