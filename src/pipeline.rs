//! `sdxl_core::pipeline` over the runtime: the tiers (`cache_tiers`), the AI binding and
//! workerd's timers. Every surface hands a normalized, keyed request to [`produce`] (or a key to
//! [`look_up`]) and renders the typed outcome in its own shape.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use sdxl_core::answer::CacheStatus;
use sdxl_core::budget::{Hold, Phase};
use sdxl_core::config::Config;
use sdxl_core::pipeline::{
    AfterAnswer, Ask, Clock, Model, Outcome, RunFailure, SingleFlight, Timings,
};
use sdxl_core::{ApiError, Normalized};
use wasm_bindgen::JsValue;
use worker::{Context, Delay, Env};

use crate::ai_inputs::RunInputs;
use crate::bindings::ai::{run_options, AiBinding};
use crate::cache_tiers::{Stored, Tiers};
use crate::failure::Failure;
use crate::gateway::Gateway;
use crate::model_output::{read_image, ModelImage};
use crate::quota;

thread_local! {
    /// The keys in flight in this isolate.
    static FLIGHTS: SingleFlight<Stored> = SingleFlight::default();
}

/// workerd's clock and timers.
struct WorkerClock;

impl Clock for WorkerClock {
    fn now_ms(&self) -> f64 {
        crate::trace::now()
    }

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        Delay::from(Duration::from_millis(ms))
    }
}

/// One image of `normalized` from the AI binding. Only the request that runs the model calls
/// it, so only that one grows its hold to the run's and encodes the inputs. A lookup has no
/// model to ask (no binding, no request): one type for both, so the pipeline is compiled once
/// into the bundle, not once per caller.
struct AiModel<'a> {
    /// The binding, the request and its cache key.
    run: Option<(AiBinding, &'a Normalized, &'a str)>,
    options: JsValue,
    config: &'a Config,
    hold: RefCell<Option<Hold>>,
    attempts: Cell<u32>,
    /// Whose budget a run is charged to, when runs are metered (`crate::quota`).
    charge: Option<(&'a Env, &'a str)>,
    /// The request reserved its runs beforehand (`Trace::prepaid`).
    prepaid: bool,
    /// What the run cost, once it ran (for the log line and analytics), whether charged here or
    /// beforehand (`Trace::prepaid`: the request settles its reservation by these).
    charged_nano_usd: Cell<Option<u64>>,
}

impl Model for AiModel<'_> {
    type Image = Stored;
    type Error = Failure;

    async fn run(&self) -> Result<Stored, RunFailure<Failure>> {
        let Some((ai, normalized, key)) = &self.run else {
            return Err(RunFailure::Alone(Failure::Internal(
                "a lookup asked for a model run".into(),
            )));
        };
        // Metered: charged here, or beforehand by the request (`prepaid`); either way its cost
        // goes to the log line once it ran.
        let cost =
            (self.charge.is_some() || self.prepaid).then(|| sdxl_core::cost::cost_of(normalized));
        // Charged before it runs; a refusal is this caller's alone: another caller waiting on
        // the same image runs it on its own budget.
        let reservation = match (self.charge, cost) {
            (Some((env, caller)), Some(cost)) => {
                let until = crate::trace::now_ms() + quota::RUN_RESERVATION_MS;
                let reserved = quota::reserve(env, caller, normalized.model.id, cost, until).await;
                Some((env, reserved.map_err(RunFailure::Alone)?))
            }
            _ => None,
        };
        let ran = self.run_charged(ai, normalized, key).await;
        if let Some((env, reservation)) = reservation {
            quota::settle(env, reservation, u64::from(ran.is_ok())).await;
        }
        if ran.is_ok() {
            self.charged_nano_usd.set(cost.map(|c| c.nano_usd));
        }
        ran
    }
}

impl AiModel<'_> {
    async fn run_charged(
        &self,
        ai: &AiBinding,
        normalized: &Normalized,
        key: &str,
    ) -> Result<Stored, RunFailure<Failure>> {
        // Over the budget: those waiting on this run would need the same memory.
        let shared = |e: ApiError| RunFailure::Shared(Rc::new(e));
        if let Some(hold) = self.hold.borrow_mut().as_mut() {
            hold.resize(Phase::run_of(normalized, self.config.image_encoding))
                .map_err(|e| shared(e.into()))?;
        }
        // A runtime failure is this request's alone: a follower runs instead.
        let inputs = RunInputs::of(normalized, key, self.config.image_encoding)
            .map_err(|e| RunFailure::Alone(e.into()))?;
        let image = run_model(self, ai, normalized.model.id, &inputs)
            .await
            .map_err(shared)?;
        Ok(Stored {
            image,
            seed: normalized.seed().map(|s| s.to_string()),
        })
    }
}

/// `normalized`, keyed `ask.key`, through the pipeline; `hold` is the request's, grown to the
/// run's if this request runs the model, and handed back to be kept until the answer is made.
/// The trace gets the timings and where the image came from. The caller renders the outcome
/// and does (or awaits) its stores.
///
/// # Errors
/// The model run's failure (this request's, or the one it joined), or a missing AI binding.
pub async fn produce(
    gateway: &mut Gateway<'_>,
    normalized: &Normalized,
    ask: Ask<'_>,
    hold: Hold,
    url_origin: &str,
) -> Result<(Outcome<Stored>, Hold), Failure> {
    let Gateway {
        env,
        config,
        ref mut trace,
        ..
    } = *gateway;
    let ai = AiBinding::from_env(env, "AI").map_err(Failure::Misconfigured)?;
    // A run with no caller (a job's image, made by the queue consumer) is not charged, nor one
    // the request paid for beforehand.
    let caller = trace.caller.clone().filter(|_| !trace.prepaid);
    let charge = match caller.as_deref() {
        Some(caller) => quota::metered(env, config)?.then_some((env, caller)),
        None => None,
    };
    let model = AiModel {
        run: Some((ai, normalized, ask.key)),
        // AI Gateway takes no stream ("AI Gateway does not support ReadableStreams yet", the
        // binding throws): a form's run goes straight to Workers AI.
        options: run_options(
            config
                .ai_gateway_id
                .as_deref()
                .filter(|_| normalized.model.input == sdxl_core::model::Input::Json),
            ask.key,
        ),
        config,
        hold: RefCell::new(Some(hold)),
        attempts: Cell::new(0),
        charge,
        prepaid: trace.prepaid,
        charged_nano_usd: Cell::new(None),
    };
    let tiers = Tiers::new(env, config.memory_tier_bytes(), url_origin);
    let mut timings = Timings::default();
    let flights = FLIGHTS.with(Clone::clone);
    let outcome =
        sdxl_core::pipeline::produce(ask, &flights, &tiers, &model, &WorkerClock, &mut timings)
            .await;
    trace.log.upstream_attempts = model.attempts.get();
    trace.log.charged_nano_usd = model.charged_nano_usd.get();
    note(trace, &timings, outcome.as_ref().ok());
    let outcome = outcome.map_err(failure)?;
    let hold = model.hold.into_inner();
    Ok((
        outcome,
        hold.ok_or_else(|| Failure::Internal("the request's memory hold was lost".into()))?,
    ))
}

/// The image stored under `ask.key`, from the tiers alone (a permalink).
///
/// # Errors
/// Never in practice: a lookup does not run the model.
pub async fn look_up(
    gateway: &mut Gateway<'_>,
    ask: Ask<'_>,
    url_origin: &str,
) -> Result<Outcome<Stored>, Failure> {
    let tiers = Tiers::new(gateway.env, gateway.config.memory_tier_bytes(), url_origin);
    let mut timings = Timings::default();
    let flights = FLIGHTS.with(Clone::clone);
    let ask = Ask {
        lookup_only: true,
        ..ask
    };
    let no_run = AiModel {
        run: None,
        options: JsValue::UNDEFINED,
        config: gateway.config,
        hold: RefCell::new(None),
        attempts: Cell::new(0),
        charge: None,
        prepaid: false,
        charged_nano_usd: Cell::new(None),
    };
    let outcome =
        sdxl_core::pipeline::produce(ask, &flights, &tiers, &no_run, &WorkerClock, &mut timings)
            .await;
    note(gateway.trace, &timings, outcome.as_ref().ok());
    outcome.map_err(failure)
}

/// The stores still to do after an answer, handed to `waitUntil`.
pub fn after_answer(ctx: &Context, after: Option<AfterAnswer>) {
    if let Some(after) = after {
        ctx.wait_until(after);
    }
}

/// The image of the outcome of a request that asked for one to be made (no conditional, not
/// a lookup): anything else is the gateway's own mistake.
///
/// # Errors
/// An outcome without an image.
pub fn made(
    outcome: Outcome<Stored>,
) -> Result<(Stored, CacheStatus, Option<AfterAnswer>), Failure> {
    match outcome {
        Outcome::Image {
            image,
            status,
            after,
        } => Ok((image, status, after)),
        Outcome::NotModified | Outcome::NotGenerated => Err(Failure::Internal(
            "the pipeline made no image for a request that asked for one".into(),
        )),
    }
}

fn note(trace: &mut crate::trace::Trace, timings: &Timings, outcome: Option<&Outcome<Stored>>) {
    trace.log.ms.cache += timings.cache_ms;
    trace.log.ms.ai += timings.ai_ms;
    if let Some(Outcome::Image { status, .. }) = outcome {
        trace.log.cache = Some(status.label());
        trace.memory_hit =
            *status == sdxl_core::answer::CacheStatus::Hit(sdxl_core::answer::Tier::Memory);
    }
}

fn failure(failed: RunFailure<Failure>) -> Failure {
    match failed {
        RunFailure::Shared(error) => Failure::Api(error),
        RunFailure::Alone(failure) => failure,
    }
}

/// One model run as a client can rely on it: capacity failures retried a bounded number of times
/// with backoff, the whole bounded by `AI_TIMEOUT_MS`, and the answer verified as a whole image.
async fn run_model(
    model: &AiModel<'_>,
    ai: &AiBinding,
    id: &str,
    inputs: &RunInputs,
) -> Result<ModelImage, ApiError> {
    let config = model.config;
    let work = async {
        let mut retry = 0;
        loop {
            model.attempts.set(model.attempts.get() + 1);
            let attempt = inputs
                .for_attempt()
                .map_err(|e| ApiError::Upstream(crate::js_error::read_error(&e)))?;
            match ai.run(id, &attempt, &model.options).await {
                Ok(output) => return read_image(output).await,
                Err(error) => {
                    retry += 1;
                    let jitter = js_sys::Math::random();
                    match config.retry.delay_before(retry, &error, jitter) {
                        Some(ms) => Delay::from(Duration::from_millis(u64::from(ms))).await,
                        None => return Err(ApiError::Upstream(error)),
                    }
                }
            }
        }
    };
    let deadline = Delay::from(Duration::from_millis(u64::from(config.ai_timeout_ms)));
    pin_mut!(work);
    match select(work, deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(ApiError::Deadline {
            ms: config.ai_timeout_ms,
        }),
    }
}
