//! The order every surface's image goes through, once its request is read and keyed: the
//! conditional exits, the memory tier, the key's single flight, the other tiers, the model run,
//! and the stores after the answer. Generic over the few things the runtime supplies
//! ([`Tiers`], [`Model`], [`Clock`]): the Worker implements them over the Cache API, R2, the AI
//! binding and its timers (`src/pipeline.rs`); the tests here run whole flows against in-memory
//! fakes (`tests.rs`).
//!
//! The result is typed ([`Outcome`]): each surface renders it in its own shape, and nothing
//! reads an answer's headers back.

pub mod single_flight;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use crate::answer::{CachePlan, CacheStatus, Tier};
use crate::ApiError;

pub use single_flight::{Joined, SingleFlight};

/// Time, as the runtime keeps it.
pub trait Clock {
    /// Milliseconds since some fixed point (for the log's timings).
    fn now_ms(&self) -> f64;
    /// Resolves after `ms` milliseconds (a follower's own timer: see [`single_flight`]).
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
}

/// Which tiers a write goes to (the memory tier is always written at once:
/// [`Tiers::remember`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// A fresh result: the store of record (R2 when bound, else the Cache API).
    Fresh,
    /// A result read from R2: the Cache API only, as R2 already has it.
    CacheApiOnly,
}

/// Where results are kept: this isolate's memory, then slower tiers. A tier that fails is a
/// miss, never a failed request: the model can always be asked again.
pub trait Tiers: Clone + 'static {
    /// A stored result (cheap to clone: a handle to its bytes).
    type Image: Clone + 'static;
    /// The result in this isolate's memory, with no I/O and no `await`.
    fn in_memory(&self, key: &str) -> Option<Self::Image>;
    /// Keeps a result in this isolate's memory, at once.
    fn remember(&self, key: &str, image: &Self::Image);
    /// Looks `key` up in every tier, fastest first; a hit is also remembered.
    fn get(&self, key: &str) -> impl Future<Output = Option<(Self::Image, Tier)>>;
    /// Writes a result to the tiers `writes` names.
    fn put(&self, key: &str, image: &Self::Image, writes: Writes) -> impl Future<Output = ()>;
}

/// Why a model run failed, for the requests waiting on it.
pub enum RunFailure<E> {
    /// A failure those waiting would meet too (the model's, or the memory budget's): shared.
    Shared(Rc<ApiError>),
    /// A failure of this request alone (its runtime): those waiting lead a run of their own.
    Alone(E),
}

/// The model, asked for one image. Only the request that runs it calls it, so only that one
/// holds the run's memory.
pub trait Model {
    type Image;
    type Error;
    fn run(&self) -> impl Future<Output = Result<Self::Image, RunFailure<Self::Error>>>;
}

/// Work left after the answer (the stores): the Worker hands it to `waitUntil`; the jobs
/// consumer awaits it, so a job says `succeeded` only when its image is durable.
pub type AfterAnswer = Pin<Box<dyn Future<Output = ()>>>;

/// What the request asks of the pipeline, decided from its head and its inputs.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub key: &'a str,
    pub plan: CachePlan,
    /// Answered from the tiers, never by a run: a `HEAD` (it asks about the image, it does not
    /// order one) and a permalink (it names an image made before).
    pub lookup_only: bool,
    /// The client's `If-None-Match` names this image's tag: it holds this exact answer.
    pub held: bool,
}

/// What the pipeline did for a request.
pub enum Outcome<I> {
    /// 304: the client holds it, or (`If-None-Match: *`) it exists.
    NotModified,
    /// `HEAD` of an image not made yet.
    NotGenerated,
    /// The image, where it came from, and the stores still to do.
    Image {
        image: I,
        status: CacheStatus,
        after: Option<AfterAnswer>,
    },
}

/// Where the pipeline's time went, for the log line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Looking the key up and waiting on another request's run.
    pub cache_ms: f64,
    /// The model run.
    pub ai_ms: f64,
}

/// Runs the pipeline for one keyed request.
///
/// # Errors
/// A failure of the model run, this request's or one it joined.
pub async fn produce<T, M, C>(
    ask: Ask<'_>,
    flights: &SingleFlight<T::Image>,
    tiers: &T,
    model: &M,
    clock: &C,
    timings: &mut Timings,
) -> Result<Outcome<T::Image>, RunFailure<M::Error>>
where
    T: Tiers,
    M: Model<Image = T::Image>,
    C: Clock,
{
    let Ask {
        key,
        plan,
        lookup_only,
        held,
    } = ask;
    if held {
        return Ok(Outcome::NotModified);
    }
    let hit = |image, status| Outcome::Image {
        image,
        status,
        after: None,
    };
    if lookup_only {
        let started = clock.now_ms();
        let found = if plan.look_up {
            tiers.get(key).await
        } else {
            None
        };
        timings.cache_ms += clock.now_ms() - started;
        return Ok(match found {
            Some(_) if plan.unless_exists => Outcome::NotModified,
            Some((image, tier)) => Outcome::Image {
                after: backfill(tiers, tier, key, &image),
                image,
                status: CacheStatus::Hit(tier),
            },
            None => Outcome::NotGenerated,
        });
    }
    if !plan.store {
        // `no-store`: neither read nor stored, so not shared either.
        let started = clock.now_ms();
        let made = model.run().await;
        timings.ai_ms += clock.now_ms() - started;
        return Ok(hit(made?, CacheStatus::Bypass));
    }

    // The memory tier, then the key's slot, with no `await` between them (so nothing can change
    // in between); only the slot's leader looks in the other tiers and runs the model. A result
    // reaches memory before its slot is marked done, so the memory check first just answers
    // hot keys sooner.
    let started = clock.now_ms();
    if plan.look_up {
        if let Some(image) = tiers.in_memory(key) {
            if plan.unless_exists {
                return Ok(Outcome::NotModified);
            }
            return Ok(hit(image, CacheStatus::Hit(Tier::Memory)));
        }
    }
    let lead = match flights.join(key, plan.wants_fresh, clock).await {
        Joined::Followed { result, existed } => {
            timings.cache_ms += clock.now_ms() - started;
            let image = result.map_err(RunFailure::Shared)?;
            if plan.unless_exists && existed {
                return Ok(Outcome::NotModified);
            }
            return Ok(hit(image, CacheStatus::Joined));
        }
        Joined::Lead(lead) => lead,
    };
    if plan.look_up {
        let found = tiers.get(key).await;
        timings.cache_ms += clock.now_ms() - started;
        if let Some((image, tier)) = found {
            lead.share_hit(&image);
            if plan.unless_exists {
                return Ok(Outcome::NotModified);
            }
            return Ok(Outcome::Image {
                after: backfill(tiers, tier, key, &image),
                image,
                status: CacheStatus::Hit(tier),
            });
        }
    }

    let started = clock.now_ms();
    let made = model.run().await;
    timings.ai_ms += clock.now_ms() - started;
    let image = match made {
        Ok(image) => image,
        Err(RunFailure::Shared(error)) => {
            lead.share_failure(error.clone());
            return Err(RunFailure::Shared(error));
        }
        // The slot is abandoned (the lead dropped): a follower runs instead.
        Err(alone) => return Err(alone),
    };
    // Only whole, verified images reach this point. Into memory first, synchronously, so the
    // result is in a tier before the slot can close; the slot closes after the other tiers are
    // written, after the answer.
    tiers.remember(key, &image);
    let retire = lead.share_run(&image);
    let (tiers, written, key) = (tiers.clone(), image.clone(), key.to_owned());
    let after: AfterAnswer = Box::pin(async move {
        tiers.put(&key, &written, Writes::Fresh).await;
        drop(retire);
    });
    Ok(Outcome::Image {
        image,
        status: CacheStatus::Miss,
        after: Some(after),
    })
}

/// After an R2 hit, the entry is copied into this data centre's Cache API (the memory tier has
/// it already: [`Tiers::get`]).
fn backfill<T: Tiers>(tiers: &T, tier: Tier, key: &str, image: &T::Image) -> Option<AfterAnswer> {
    (tier == Tier::R2).then(|| {
        let (tiers, image, key) = (tiers.clone(), image.clone(), key.to_owned());
        Box::pin(async move { tiers.put(&key, &image, Writes::CacheApiOnly).await }) as AfterAnswer
    })
}

#[cfg(test)]
mod tests;
