//! The queue consumer: each message is one image of a job, made by the native pipeline
//! (`generate::from_body`: cache tiers first, then `AI.run`, verification, storage) and reported
//! to the job's object. Each message is acknowledged or retried on its own and the handler never
//! fails: a failed handler would retry the whole batch and reset the Wasm instance.
//!
//! Messages on the dead-letter queue (`*-dlq`) mark their job failed.

use futures_util::future::join_all;
use sdxl_core::answer::Tier;
use sdxl_core::dispatch::Delivery;
use sdxl_core::jobs::backoff::{disposition, Disposition};
use sdxl_core::jobs::job::JobEvent;
use sdxl_core::jobs::message::{InputRef, JobMessage};
use sdxl_core::models;
use sdxl_core::request_head::RequestHead;
use sdxl_core::ApiError;
use worker::{
    console_error, Context, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder, RawMessage,
};

use super::store::{self, AppliedJob};
use crate::cache_tiers::{Tiers, Writes};
use crate::config::Config;
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::r2_binding::R2Bucket;
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
        Ok(started) => started,
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

/// Makes one image through the native pipeline, as a `POST /ai/run/<model>` of its body, and
/// makes sure it is in the durable tiers before the job can say it is made.
async fn make(
    env: &Env,
    ctx: &Context,
    config: &Config,
    started: &AppliedJob,
    message: &JobMessage,
) -> Handled<()> {
    let job = &started.job;
    let spec = models::by_id(&job.model).ok_or_else(|| ApiError::NoSuchModel(job.model.clone()))?;
    let body = match &message.input {
        InputRef::Inline { body } => body.clone(),
        InputRef::Stored { r2_key } => stored_body(env, r2_key).await?,
    };
    let url = format!("{}/ai/run/{}", job.origin, job.model);
    let mut head = RequestHead::new("POST", &url);
    head.content_type = Some("application/json".to_owned());
    head.content_length = Some(body.len() as u64);
    let req = super::post(&url, Some(&body), None)?;
    let mut trace = Trace::start(&head, None);
    let mut gateway = Gateway {
        env,
        ctx,
        config,
        trace: &mut trace,
    };
    let made = crate::generate::from_body(&mut gateway, &head, req, spec, Delivery::Image).await;
    let response = match made {
        Ok(response) => response,
        Err(failure) => {
            trace.finish(500);
            return Err(failure);
        }
    };
    trace.finish(response.status_code());
    // A fresh image reaches the Cache API and R2 after the pipeline's answer; the job's URLs
    // must work the moment it says `succeeded`, from any isolate, so the write is awaited here.
    let durable = [Tier::CacheApi.name(), Tier::R2.name()];
    let tier = response.headers().get("x-cache-tier")?.unwrap_or_default();
    if !durable.contains(&tier.as_str()) {
        if let Some(stored) = Tiers::in_memory(&message.key) {
            let tiers = Tiers::new(env, config.memory_tier_bytes(), &job.origin);
            tiers.put(&message.key, &stored, Writes::Fresh).await;
        }
    }
    Ok(())
}

async fn stored_body(env: &Env, r2_key: &str) -> Handled<String> {
    let bucket = R2Bucket::from_env(env)
        .ok_or_else(|| Failure::Misconfigured("the IMAGES bucket is not bound".to_owned()))?;
    let object = bucket
        .get(r2_key)
        .await?
        .ok_or_else(|| Failure::Internal(format!("the job's input {r2_key} is gone")))?;
    String::from_utf8(object.bytes.to_vec()).map_err(|e| Failure::Internal(e.to_string()))
}
