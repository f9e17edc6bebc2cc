//! The queue consumer: each message is one image of a job, its input read by the model's table
//! and made by the pipeline (`crate::pipeline`: cache tiers first, then `AI.run`, verification,
//! storage, awaited) and reported to the job's object. Each message is acknowledged or retried on its own and the handler never
//! fails: a failed handler would retry the whole batch and reset the Wasm instance.
//!
//! Messages on the dead-letter queue (`*-dlq`) mark their job failed.

use futures_util::future::join_all;
use sdxl_core::answer::{CachePlan, CacheStatus, Tier};
use sdxl_core::budget::Phase;
use sdxl_core::headers::ClientCaching;
use sdxl_core::jobs::backoff::{disposition, Disposition};
use sdxl_core::jobs::job::JobEvent;
use sdxl_core::jobs::message::{InputRef, JobMessage};
use sdxl_core::jobs::request::model_input;
use sdxl_core::jobs::{images_bucket, Worker};
use sdxl_core::models;
use sdxl_core::pipeline::{Ask, Tiers as _, Writes};
use sdxl_core::request_head::RequestHead;
use sdxl_core::ApiError;
use worker::{
    console_error, console_warn, Context, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder,
    RawMessage,
};

use super::store::{self, AppliedJob};
use crate::bindings::r2::R2Bucket;
use crate::cache_tiers::Tiers;
use crate::config::Config;
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::generate::prepare;
use crate::pipeline::{made, produce};
use crate::trace::Trace;

/// Seconds before a message is delivered again when the job's object could not be reached.
const OBJECT_UNREACHABLE_RETRY_S: u32 = 5;

pub async fn consume(batch: MessageBatch<String>, env: Env, ctx: Context) {
    let dead_letters = batch.queue().ends_with("-dlq");
    let config = crate::config::cached(&env);
    let messages: Vec<RawMessage> = batch.raw_iter().collect();
    let config = match config.as_ref() {
        Ok(config) => config,
        Err(reason) => {
            console_error!("jobs: the settings are unreadable: {reason}");
            for m in &messages {
                m.retry_with_options(&delay(OBJECT_UNREACHABLE_RETRY_S));
            }
            return;
        }
    };
    join_all(
        messages
            .iter()
            .map(|m| one(&env, &ctx, config, m, dead_letters)),
    )
    .await;
}

fn delay(seconds: u32) -> worker::QueueRetryOptions {
    QueueRetryOptionsBuilder::new()
        .with_delay_seconds(seconds)
        .build()
}

async fn one(env: &Env, ctx: &Context, config: &Config, raw: &RawMessage, dead_letters: bool) {
    let Some(message) = raw
        .body()
        .as_string()
        .and_then(|text| JobMessage::from_json(text.as_bytes()).ok())
    else {
        console_error!("jobs: a message that is no job message was dropped");
        raw.ack();
        return;
    };
    if dead_letters {
        let reason = "the image's message was dead-lettered: it could not be processed".to_owned();
        match store::apply(env, &message.job, &JobEvent::Failed { reason }).await {
            Ok(_) => raw.ack(),
            Err(_) => raw.retry_with_options(&delay(OBJECT_UNREACHABLE_RETRY_S)),
        }
        return;
    }
    let started = store::apply(
        env,
        &message.job,
        &JobEvent::Started {
            variant: message.variant,
        },
    )
    .await;
    let started = match started {
        Ok(Some(started)) => started,
        // The job is gone (deleted after its retention): nothing to make.
        Ok(None) => return raw.ack(),
        Err(_) => return raw.retry_with_options(&delay(OBJECT_UNREACHABLE_RETRY_S)),
    };
    if !started.proceed {
        // Ended (canceled, failed) or this image is made already.
        return raw.ack();
    }
    let event = match make(env, ctx, config, &started, &message).await {
        Ok(()) => JobEvent::Made {
            variant: message.variant,
        },
        Err(Failure::Api(error)) => {
            match disposition(&error, started.delivery, js_sys::Math::random()) {
                Disposition::RetryAfter(seconds) => {
                    return raw.retry_with_options(&delay(seconds));
                }
                Disposition::Fail(reason) => JobEvent::Failed { reason },
            }
        }
        Err(Failure::Misconfigured(reason)) => JobEvent::Failed {
            reason: format!("the gateway is misconfigured: {reason}"),
        },
        Err(Failure::Internal(reason)) => {
            console_error!("jobs: job {} failed: {reason}", message.job);
            JobEvent::Failed {
                reason: "the gateway failed".to_owned(),
            }
        }
    };
    match store::apply(env, &message.job, &event).await {
        Ok(_) => raw.ack(),
        // Delivered again: a made image is then found in the cache.
        Err(_) => raw.retry_with_options(&delay(OBJECT_UNREACHABLE_RETRY_S)),
    }
}

/// Makes one image through the pipeline, from the job's input read as the native routes read a
/// body, and makes sure it is in the durable tiers before the job can say it is made.
async fn make(
    env: &Env,
    ctx: &Context,
    config: &Config,
    started: &AppliedJob,
    message: &JobMessage,
) -> Handled<()> {
    // Stored anywhere else, the image would be a permalink that 404s: the job fails, saying why.
    images_bucket(Worker::Jobs, R2Bucket::from_env(env).is_some())
        .map_err(|reason| Failure::Misconfigured(reason.to_owned()))?;
    let job = &started.job;
    let spec = models::by_id(&job.model).ok_or_else(|| ApiError::NoSuchModel(job.model.clone()))?;
    let input = match &message.input {
        InputRef::Inline { body } => body.clone(),
        InputRef::Stored { r2_key } => stored_body(env, r2_key).await?,
    };
    // The log line names the model's native route, as the image's request would.
    let head = RequestHead::new("POST", &format!("{}/ai/run/{}", job.origin, job.model));
    let mut trace = Trace::start(&head, None);
    let mut gateway = Gateway {
        env,
        ctx,
        config,
        trace: &mut trace,
    };
    let made = make_image(&mut gateway, spec, input, message, &job.origin).await;
    trace.finish(if made.is_ok() { 200 } else { 500 });
    made
}

async fn make_image(
    gateway: &mut Gateway<'_>,
    spec: &'static sdxl_core::ModelSpec,
    input: String,
    message: &JobMessage,
    origin: &str,
) -> Handled<()> {
    let budget = crate::memory::budget(gateway.config);
    // Read as a native JSON body is read (a window at a time, images decoded once).
    let hold = budget
        .hold(Phase::JsonWhole {
            body: input.len() as u64,
        })
        .map_err(ApiError::from)?;
    let raw = model_input(spec, input.as_bytes(), message.seed)?;
    // The run's phase does not count the input's text: it goes before the hold shrinks to it.
    drop(input);
    let (normalized, key) = prepare(gateway, spec, raw, false).await?;
    if key != message.key {
        // The job's permalinks name the key it was created with: the image goes there.
        console_warn!(
            "jobs: job {} image {} keys as {key} now, {} at create",
            message.job,
            message.variant,
            message.key
        );
    }
    let ask = Ask {
        key: &message.key,
        plan: CachePlan::new(STORE, false, false),
        lookup_only: false,
        held: false,
    };
    let (outcome, _hold) = produce(gateway, &normalized, ask, hold, origin).await?;
    let (image, status, after) = made(outcome)?;
    // The job's URLs must work the moment it says `succeeded`, from any isolate: its image's
    // stores are awaited here, and an image found only in this isolate (its memory, a joined
    // run whose stores are still under way) is written to the durable tiers.
    if let Some(after) = after {
        after.await;
    }
    // The gateway serves the job's permalinks from R2 (this Worker's Cache API is not its): the
    // image must be there before the job may say it is made. A store that fails (the tiers then
    // write this Worker's Cache API instead) is retried with the message, never reported made.
    let tiers = Tiers::new(gateway.env, gateway.config.memory_tier_bytes(), origin);
    if status != CacheStatus::Hit(Tier::R2) && !tiers.in_r2(&message.key).await {
        tiers.put(&message.key, &image, Writes::Fresh).await;
        if !tiers.in_r2(&message.key).await {
            return Err(ApiError::NotStored(format!(
                "the IMAGES bucket does not hold image {}",
                message.key
            ))
            .into());
        }
    }
    Ok(())
}

/// A job's image is read from the tiers and stored, whatever caching a client could ask for.
const STORE: ClientCaching = ClientCaching {
    read: true,
    store: true,
};

async fn stored_body(env: &Env, r2_key: &str) -> Handled<String> {
    let bucket = R2Bucket::from_env(env)
        .ok_or_else(|| Failure::Misconfigured("the IMAGES bucket is not bound".to_owned()))?;
    let object = bucket
        .get(r2_key)
        .await?
        .ok_or_else(|| Failure::Internal(format!("the job's input {r2_key} is gone")))?;
    String::from_utf8(object.bytes.to_vec()).map_err(|e| Failure::Internal(e.to_string()))
}
