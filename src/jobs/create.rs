//! `POST /v1/predictions` and `POST /v1/models/{owner}/{name}/predictions`: the request read
//! by its fields and its input validated by the model's table (a bad request is a 4xx here,
//! never a failed job), one key per image (the input and its seeds), the job stored in its
//! object, then one queue message per image.

use sdxl_core::budget::Phase;
use sdxl_core::inputs::seed_from_unit;
use sdxl_core::jobs::job::{Charged, Job, JobEvent, Status, Variant, Webhook};
use sdxl_core::jobs::message::{must_store, stored_input_key, InputRef, JobMessage};
use sdxl_core::jobs::request::{model_input, read_create, under_input, CreateRequest};
use sdxl_core::jobs::{images_bucket, Worker};
use sdxl_core::parse::{media_type_essence, ByteSource};
use sdxl_core::request_head::RequestHead;
use sdxl_core::{normalize, ApiError, Policy};
use worker::{Env, Request};

use super::{queued, store, webhook, QUEUE_BINDING};
use crate::bindings::queue::{self, SendError};
use crate::bindings::r2::R2Bucket;
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::request_body::read_body;
use crate::trace::now_ms;

pub async fn create(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    req: &Request,
    model_in_path: Option<&str>,
    (owner, caller): (&str, &str),
) -> Handled<Job> {
    let Gateway { env, config, .. } = *gateway;
    let content_type = head.content_type.clone().unwrap_or_default();
    let essence = media_type_essence(&content_type);
    if !(essence.is_empty() || essence == "application/json") {
        return Err(ApiError::UnsupportedMediaType {
            sent: content_type,
            accepted: "application/json",
        }
        .into());
    }
    let budget = crate::memory::budget(config);
    let (js_body, _hold) = read_body(
        req,
        head.content_length,
        config.max_body_bytes,
        &budget,
        &|body| Phase::JsonWhole { body },
    )
    .await?;
    // In Wasm memory once, read by its fields (none parsed whole), the input by the model's
    // table a window at a time: the `JsonWhole` phase holds all of it.
    let mut bytes = vec![0u8; js_body.len()];
    js_body.copy_to(0, &mut bytes);
    drop(js_body);
    let mut draw = || seed_from_unit(js_sys::Math::random());
    let insecure = config.allow_insecure_webhooks;
    let request = read_create(&bytes, model_in_path, insecure, &mut draw).map_err(|e| match e {
        // The model is named by the path: a path that names no model is no resource (404).
        ApiError::NoSuchModel(_) if model_in_path.is_some() => ApiError::NotFound {
            method: head.method.as_str().to_owned(),
            path: head.path.clone(),
        },
        other => other,
    })?;
    gateway.trace.log.model = Some(request.model.id);
    // Each image counts against the caller's rate limit, as `n` requests would: the request
    // itself counted one already (`handle`); the rest before anything is stored or queued.
    for _ in 1..request.images() {
        crate::access::rate_limit(gateway, caller.to_owned()).await?;
    }

    let permalinks = config
        .permalinks
        .as_ref()
        .map_err(|e| Failure::Misconfigured(e.to_string()))?;
    let webhook = match request.webhook.clone() {
        Some((url, events)) => {
            webhook::keys(env).map_err(Failure::Misconfigured)?;
            Some(Webhook::new(url, events))
        }
        None => None,
    };
    // As the native routes read it (`generate`): img2img sized by its input image. One
    // normalized input, its seed set per image: never a copy of its images per variant.
    let policy = Policy {
        size_from_input: true,
        ..config.policy
    };
    let raw = model_input(request.model, request.input.as_bytes(), request.seed_of(0))?;
    let mut normalized = normalize(request.model, raw, policy, &mut draw)
        .map_err(|v| under_input(ApiError::Invalid(v)))?;
    let mut variants = Vec::with_capacity(request.images());
    for variant in 0..request.images() {
        if let Some(seed) = request.seed_of(variant) {
            normalized.set_seed(seed);
        }
        let key = crate::digest::cache_key(&normalized).await?;
        variants.push(Variant {
            permalink: format!("/images/{}", permalinks.id_for(&key)),
            key,
            done: false,
            deliveries: 0,
        });
    }
    // What each image costs, before its (possibly large) input is let go of.
    let image_cost = sdxl_core::cost::cost_of(&normalized);
    drop(normalized);

    let id = store::new_id(env)?;
    // Within the caller's cap on queued images, counted until the job's deadline; given back if
    // the job is not queued after all.
    let queued_by = (config.max_queued_images > 0).then(|| caller.to_owned());
    if let Some(queued_by) = &queued_by {
        let until_ms = now_ms() + u64::from(config.job_deadline_s) * 1000;
        let images = u32::try_from(variants.len()).unwrap_or(u32::MAX);
        queued::admit_job(
            env,
            queued_by,
            &id,
            images,
            until_ms,
            config.max_queued_images,
        )
        .await?;
    }
    // Every image reserved against the caller's budget now, before anything is stored: a job
    // the budget cannot cover is refused here, not half-made. Settled by the images made when
    // the job ends (its object), given back if it is not queued after all.
    let charged = match crate::quota::metered(env, config)? {
        true => {
            let cost = image_cost.times(variants.len() as u64);
            let until_ms = now_ms() + u64::from(config.job_deadline_s) * 1000 + 60_000;
            let reserved =
                crate::quota::reserve(env, caller, request.model.id, cost, until_ms).await;
            match reserved {
                Ok(r) => Some(Charged {
                    caller: r.caller,
                    reservation: r.id,
                }),
                Err(refusal) => {
                    if let Some(queued_by) = &queued_by {
                        queued::settle(env, queued_by, &id, 0).await;
                    }
                    return Err(refusal);
                }
            }
        }
        false => None,
    };
    let job = Job {
        id: id.clone(),
        owner: owner.to_owned(),
        model: request.model.id.to_owned(),
        input: request.input_echo.clone(),
        origin: head.url_origin.clone(),
        status: Status::Starting,
        variants,
        deliveries: 0,
        error: None,
        created_ms: now_ms(),
        started_ms: None,
        completed_ms: None,
        webhook,
        input_key: None,
        queued_by: queued_by.clone(),
        charged: charged.clone(),
    };
    let made = store_and_queue(env, job, &request).await;
    if made.is_err() {
        if let Some(queued_by) = &queued_by {
            queued::settle(env, queued_by, &id, 0).await;
        }
        if let Some(charged) = charged {
            crate::quota::settle(env, charged.into(), 0).await;
        }
    }
    made
}

/// Stores the job's input (in R2 when too large for its messages), the job in its object, and
/// queues one message per image.
async fn store_and_queue(env: &Env, mut job: Job, request: &CreateRequest<'_>) -> Handled<Job> {
    let message = |variant: usize, input: InputRef| JobMessage {
        job: job.id.clone(),
        variant,
        key: job.variants[variant].key.clone(),
        seed: request.seed_of(variant),
        input,
    };
    // Sized without a copy: the input can be megabytes, and only a small one travels inline.
    let placeholder = InputRef::Stored {
        r2_key: String::new(),
    };
    let images = job.variants.len();
    let longest = message(images - 1, placeholder).len_with_inline(request.input);
    let input = if must_store(longest, images) {
        // Too large for the job's messages together: to R2 once, the job's own object, which
        // its object deletes when the job ends.
        // `jobs::handle` refused a Worker without the bucket already.
        let Some(bucket) = R2Bucket::from_env(env) else {
            let reason = images_bucket(Worker::Jobs, false).err().unwrap_or_default();
            return Err(Failure::Misconfigured(reason.to_owned()));
        };
        let r2_key = stored_input_key(&job.id);
        let bytes = js_sys::Uint8Array::from(request.input.as_bytes());
        bucket
            .put(&r2_key, &bytes, "application/json", None)
            .await?;
        InputRef::Stored { r2_key }
    } else {
        InputRef::Inline {
            body: request.input.to_owned(),
        }
    };
    let messages: Vec<String> = (0..images)
        .map(|variant| message(variant, input.clone()).to_json())
        .collect();

    job.input_key = match &input {
        InputRef::Stored { r2_key } => Some(r2_key.clone()),
        InputRef::Inline { .. } => None,
    };
    store::create(env, &job).await?;
    let sent = queue::send_batch(env, QUEUE_BINDING, messages).await;
    if let Err(e) = sent {
        // Stored but never queued: the job ends now, failed (its webhook says so), rather than
        // stay `starting` for ever; the caller learns it from this answer.
        // The answer names the job, which a retry would not find queued: it is failed.
        let failure = match e {
            SendError::Unbound(e) => Failure::Misconfigured(format!(
                "the {QUEUE_BINDING} binding: {e}; job {} was not queued, and is failed",
                job.id
            )),
            SendError::Thrown(e) => Failure::from(e),
        };
        let reason = "the job could not be queued".to_owned();
        if store::apply(env, &job.id, &JobEvent::Failed { reason })
            .await
            .is_err()
        {
            worker::console_error!("jobs: job {} could not be queued nor failed", job.id);
        }
        return Err(failure);
    }
    Ok(job)
}
