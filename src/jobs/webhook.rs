//! A job's webhook messages (`start`, `output`, `completed`, as its filter asks), sent from its
//! object's alarm: signed (Standard Webhooks) with its owner's key under every key of
//! `WEBHOOK_SECRETS`, each attempt recorded on the job, retried on `sdxl_core::jobs::webhook`'s
//! schedule until a 2xx or a 410.

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use sdxl_core::jobs::webhook::{owner_keys, parse_secrets, signature, Attempt, Next};
use worker::{Delay, Env, Result};

use super::object::JobObject;
use crate::trace::now_ms;

/// The setting that holds the signing secrets.
pub const SECRETS: &str = "WEBHOOK_SECRETS";
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The signing keys, or why there are none.
pub fn keys(env: &Env) -> std::result::Result<Vec<Vec<u8>>, String> {
    // As every setting is read (a secret, else a var): one copy of that glue in the bundle.
    let text = crate::config::lookup(env, SECRETS)
        .ok_or_else(|| format!("{SECRETS} is not set: webhooks cannot be signed"))?;
    let keys = parse_secrets(&text).map_err(|e| e.to_string())?;
    if keys.is_empty() {
        return Err(format!("{SECRETS} is empty: webhooks cannot be signed"));
    }
    Ok(keys)
}

/// One attempt at the job's webhook message due, if one is, recorded on it. Answers when to try
/// again (milliseconds from now), if ever.
pub async fn deliver(object: &JobObject) -> Result<Option<u64>> {
    let Some(mut job) = object.job()? else {
        return Ok(None);
    };
    let Some(hook) = job.webhook.as_ref().filter(|h| h.due.is_some()) else {
        return Ok(None);
    };
    let url = hook.url.clone();
    let message_id = hook.message_id(&job.id);
    let body = job.prediction();
    let at_ms = now_ms();
    // Signed with the job's owner's keys: its receiver can verify no other owner's webhooks.
    let outcome = match keys(object.env()) {
        Ok(masters) => {
            let keys = owner_keys(&masters, &job.owner);
            send(&url, &message_id, at_ms / 1000, &body, &keys).await
        }
        Err(reason) => Err(reason),
    };
    let (status, error) = match outcome {
        Ok(status) => (Some(status), None),
        Err(reason) => (None, Some(reason)),
    };
    let Some(hook) = job.webhook.as_mut() else {
        return Ok(None);
    };
    let next = hook.record(Attempt {
        at_ms,
        status,
        error,
    });
    object.save(&job)?;
    Ok(match next {
        Next::Settled => None,
        Next::RetryAfterMs(ms) => Some(ms),
    })
}

/// POSTs the signed body; the receiver's status, or why there was none.
async fn send(
    url: &str,
    id: &str,
    timestamp_s: u64,
    body: &str,
    keys: &[Vec<u8>],
) -> std::result::Result<u16, String> {
    let attempt = async {
        let headers = web_sys::Headers::new()?;
        headers.set("content-type", "application/json")?;
        headers.set("webhook-id", id)?;
        headers.set("webhook-timestamp", &timestamp_s.to_string())?;
        headers.set("webhook-signature", &signature(keys, id, timestamp_s, body))?;
        let request = crate::bindings::fetch::post(url, Some(body), Some(&headers))?;
        let response = crate::bindings::fetch::fetch(request.inner()).await?;
        Ok::<u16, worker::Error>(response.status())
    };
    let deadline = Delay::from(ATTEMPT_TIMEOUT);
    pin_mut!(attempt);
    match select(attempt, deadline).await {
        Either::Left((Ok(status), _)) => Ok(status),
        Either::Left((Err(e), _)) => Err(e.to_string()),
        Either::Right(((), _)) => Err(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
    }
}
