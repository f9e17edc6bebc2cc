//! Asynchronous image jobs in Replicate's prediction shape (docs/jobs.md): `POST /v1/predictions`,
//! `POST /v1/models/{owner}/{name}/predictions`, `GET /v1/predictions/{id}`,
//! `POST /v1/predictions/{id}/cancel`. Pure parts only: the routes, reading a create request
//! into per-image bodies, the job's state machine and its JSON, the queue message, when a
//! failed run is retried and how long after, `Prefer: wait`, and webhook signing and schedule.
//! The Worker (`src/jobs/`) holds each job in a Durable Object and runs it from a Queue.

pub mod backoff;
pub mod clock;
pub mod job;
pub mod json;
pub mod message;
pub mod openapi;
pub mod prefer;
pub mod queued;
pub mod request;
pub mod webhook;

/// A path under `/v1` that names a prediction route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobsRoute {
    /// `POST /v1/predictions`: the model named in the body (`version` or `model`).
    Create,
    /// `POST /v1/models/{owner}/{name}/predictions`: the model `@cf/{owner}/{name}` (a path of
    /// another shape names no model: 404).
    CreateFor { model: String },
    /// `GET /v1/predictions/{id}`.
    Get { id: String },
    /// `POST /v1/predictions/{id}/cancel`.
    Cancel { id: String },
    /// `GET /v1/webhooks/default/secret`: the caller's own webhook signing secret, as Replicate
    /// answers it (`{"key": "whsec_..."}`).
    WebhookSecret,
}

impl JobsRoute {
    /// The prediction route of `rest` (the path after `/v1`), or `None` for any other path.
    #[must_use]
    pub fn parse(rest: &str) -> Option<JobsRoute> {
        if rest == "/predictions" {
            return Some(JobsRoute::Create);
        }
        if rest == "/webhooks/default/secret" {
            return Some(JobsRoute::WebhookSecret);
        }
        if let Some(tail) = rest.strip_prefix("/predictions/") {
            let (id, cancel) = match tail.strip_suffix("/cancel") {
                Some(id) => (id, true),
                None => (tail, false),
            };
            if id.is_empty() || id.contains('/') {
                return None;
            }
            let id = id.to_owned();
            return Some(if cancel {
                JobsRoute::Cancel { id }
            } else {
                JobsRoute::Get { id }
            });
        }
        // `{owner}/{name}` is what Replicate's clients can express; any other shape names no
        // model and is refused as one (404), not left to the OpenAI routes.
        let model = rest
            .strip_prefix("/models/")?
            .strip_suffix("/predictions")?;
        if model.is_empty() {
            return None;
        }
        Some(JobsRoute::CreateFor {
            model: format!("@cf/{model}"),
        })
    }

    /// Whether the route creates a job.
    #[must_use]
    pub fn creates(&self) -> bool {
        matches!(self, JobsRoute::Create | JobsRoute::CreateFor { .. })
    }
}

/// A job id: the hex id of its Durable Object (64 lowercase hex digits, unguessable).
#[must_use]
pub fn is_job_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Which of the two Workers asks whether it can serve jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    /// The gateway (`wrangler.toml`): it serves the permalinks in a job's output.
    Gateway,
    /// The jobs Worker (`jobs.wrangler.toml`): it makes and stores a job's images.
    Jobs,
}

/// Whether `worker` can serve jobs with (`bound`) or without its `IMAGES` bucket; without it,
/// why not and what to bind (a misconfiguration: 500).
///
/// A job's images are made by the jobs Worker and served by the gateway's `/images/<id>`
/// permalinks, so they must be stored where both Workers read: R2, the only store they share.
/// The jobs Worker has no zone, so its Cache API is not the gateway's: an image it kept there
/// would be a permalink that 404s. So both Workers must bind the same bucket as `IMAGES`; the
/// gateway's other routes run without one (results then cached with the Cache API alone).
///
/// # Errors
/// The reason, naming the binding and the config it goes in, when the bucket is not bound.
// Inlined, so that each Worker's bundle holds its own reason only (the gateway's stays within
// its size budget).
#[inline]
pub fn images_bucket(worker: Worker, bound: bool) -> Result<(), &'static str> {
    match (bound, worker) {
        (true, _) => Ok(()),
        (false, Worker::Jobs) => Err(
            "no IMAGES binding: a job's images are stored in R2 for the gateway's permalinks to \
             read (this Worker's own cache is not the gateway's); bind the gateway's bucket as \
             IMAGES ([[r2_buckets]] in jobs.wrangler.toml)",
        ),
        (false, Worker::Gateway) => Err(
            "no IMAGES binding: jobs' permalinks are read from it; bind the jobs Worker's bucket \
             as IMAGES ([[r2_buckets]] in wrangler.toml)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_need_the_images_bucket_on_both_workers() {
        for (worker, config) in [
            (Worker::Jobs, "jobs.wrangler.toml"),
            (Worker::Gateway, "wrangler.toml"),
        ] {
            assert_eq!(images_bucket(worker, true), Ok(()));
            let reason = images_bucket(worker, false).unwrap_err();
            assert!(
                reason.contains("bucket as IMAGES ([[r2_buckets]] in "),
                "{reason}"
            );
            assert!(reason.ends_with(&format!(" {config})")), "{reason}");
        }
    }

    #[test]
    fn prediction_routes() {
        assert_eq!(JobsRoute::parse("/predictions"), Some(JobsRoute::Create));
        assert_eq!(
            JobsRoute::parse("/predictions/abc"),
            Some(JobsRoute::Get { id: "abc".into() })
        );
        assert_eq!(
            JobsRoute::parse("/predictions/abc/cancel"),
            Some(JobsRoute::Cancel { id: "abc".into() })
        );
        assert_eq!(
            JobsRoute::parse("/models/bytedance/stable-diffusion-xl-lightning/predictions"),
            Some(JobsRoute::CreateFor {
                model: "@cf/bytedance/stable-diffusion-xl-lightning".into()
            })
        );
        // Shapes no model has are still this API's, so they are refused as no such model.
        assert_eq!(
            JobsRoute::parse("/models/a/b/c/predictions"),
            Some(JobsRoute::CreateFor {
                model: "@cf/a/b/c".into()
            })
        );
    }

    #[test]
    fn other_paths_are_not_prediction_routes() {
        for path in [
            "/predictions/",
            "/predictions/a/b",
            "/predictions//cancel",
            "/models//predictions",
            "/models/@cf/bytedance/stable-diffusion-xl-lightning",
            "/images/generations",
        ] {
            assert_eq!(JobsRoute::parse(path), None, "{path}");
        }
    }

    #[test]
    fn job_ids_are_object_ids() {
        assert!(is_job_id(&"a1".repeat(32)));
        assert!(!is_job_id("abc"));
        assert!(!is_job_id(&"A1".repeat(32)));
        assert!(!is_job_id(&"g1".repeat(32)));
    }
}
