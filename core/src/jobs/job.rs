//! One job's state and its transitions, as its Durable Object keeps them, and the prediction
//! JSON Replicate's clients read.
//!
//! A job is `starting` until a consumer takes one of its images, `processing` while images are
//! made, and ends `succeeded` (every image made), `failed` (one image failed: the reason is
//! kept) or `canceled`. An ended job never changes again: a run that finishes after a cancel is
//! stored in the cache but not reported.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::clock::iso8601;
use super::webhook::{Delivery, WebhookEvent};

/// Replicate's statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Starting,
    Processing,
    Succeeded,
    Failed,
    Canceled,
}

impl Status {
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Canceled)
    }
}

/// One image of a job (`n` in the input: seeds `seed + i`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// The image's cache key.
    pub key: String,
    /// Its permalink path, `/images/<id>`.
    pub permalink: String,
    pub done: bool,
    /// Deliveries of its queue message so far.
    #[serde(default)]
    pub deliveries: u32,
}

/// Where a job's webhook goes and how its delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub events: Vec<WebhookEvent>,
    /// Every attempt, in order.
    pub deliveries: Vec<Delivery>,
    /// True once delivered (2xx), given up, or refused for good (410).
    pub settled: bool,
}

/// A job as its Durable Object stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    /// Who may read and cancel it: `token:<id>`, or `anonymous` when the gateway allows anonymous
    /// access (then the unguessable id is the capability, as for permalinks).
    pub owner: String,
    pub model: String,
    /// The input as sent (long strings shortened: images are not echoed).
    pub input: Value,
    /// The gateway's origin, for absolute URLs.
    pub origin: String,
    pub status: Status,
    pub variants: Vec<Variant>,
    /// Queue deliveries taken so far, all images together.
    pub deliveries: u32,
    pub error: Option<String>,
    pub created_ms: u64,
    pub started_ms: Option<u64>,
    pub completed_ms: Option<u64>,
    pub webhook: Option<Webhook>,
}

/// What happens to a job. Externally tagged (serde's default): an internally tagged enum
/// buffers its input in serde's `Content`, which weighs in the Worker's bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobEvent {
    /// A consumer took image `variant` (a delivery of its message).
    Started { variant: usize },
    /// Image `variant` is made and stored.
    Made { variant: usize },
    /// The job cannot succeed.
    Failed { reason: String },
    /// Its owner canceled it.
    Canceled,
}

/// What an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// For `Started`: whether the consumer should make the image (false once the job ended or
    /// the image is made).
    pub proceed: bool,
    /// Whether this event ended the job (its `completed` webhook is due).
    pub ended: bool,
    /// For `Started`: which delivery of the image's message this is (1-based).
    pub delivery: u32,
}

impl Job {
    /// Applies `event` at `now_ms`.
    pub fn apply(&mut self, event: &JobEvent, now_ms: u64) -> Applied {
        let mut applied = Applied {
            proceed: false,
            ended: false,
            delivery: 0,
        };
        if self.status.is_terminal() {
            return applied;
        }
        match event {
            JobEvent::Started { variant } => {
                let Some(v) = self.variants.get_mut(*variant) else {
                    return applied;
                };
                if v.done {
                    return applied;
                }
                v.deliveries += 1;
                applied.delivery = v.deliveries;
                self.deliveries += 1;
                self.status = Status::Processing;
                self.started_ms.get_or_insert(now_ms);
                applied.proceed = true;
            }
            JobEvent::Made { variant } => {
                if let Some(v) = self.variants.get_mut(*variant) {
                    v.done = true;
                }
                if self.variants.iter().all(|v| v.done) {
                    self.end(Status::Succeeded, now_ms);
                    applied.ended = true;
                }
            }
            JobEvent::Failed { reason } => {
                self.error = Some(reason.clone());
                self.end(Status::Failed, now_ms);
                applied.ended = true;
            }
            JobEvent::Canceled => {
                self.end(Status::Canceled, now_ms);
                applied.ended = true;
            }
        }
        applied
    }

    fn end(&mut self, status: Status, now_ms: u64) {
        self.status = status;
        self.completed_ms = Some(now_ms);
    }

    /// Whether `caller` (`token:<id>` or `anonymous`) may read and cancel the job.
    #[must_use]
    pub fn belongs_to(&self, caller: &str) -> bool {
        self.owner == caller
    }

    /// The prediction answered when a `Prefer: wait` ran out before the job ended: a running job
    /// reads `starting`, because Replicate's clients take any other status of a waited answer
    /// for the end of the job (and poll `urls.get`, which tells the truth, only after
    /// `starting`).
    #[must_use]
    pub fn prediction_after_wait(&self) -> Value {
        let mut prediction = self.prediction();
        if !self.status.is_terminal() {
            prediction["status"] = json!(Status::Starting);
        }
        prediction
    }

    /// The prediction, as Replicate answers it: `output` is the images' absolute permalinks once
    /// the job succeeded.
    #[must_use]
    pub fn prediction(&self) -> Value {
        let get = format!("{}/v1/predictions/{}", self.origin, self.id);
        let output = (self.status == Status::Succeeded).then(|| {
            self.variants
                .iter()
                .map(|v| format!("{}{}", self.origin, v.permalink))
                .collect::<Vec<_>>()
        });
        let predict_time = match (self.started_ms, self.completed_ms) {
            (Some(s), Some(c)) => json!({ "predict_time": c.saturating_sub(s) as f64 / 1000.0 }),
            _ => json!({}),
        };
        json!({
            "id": self.id,
            "model": self.model.strip_prefix("@cf/").unwrap_or(&self.model),
            "version": self.model,
            "input": self.input,
            "status": self.status,
            "output": output,
            "error": self.error,
            "logs": "",
            "metrics": predict_time,
            "source": "api",
            "data_removed": false,
            "created_at": iso8601(self.created_ms),
            "started_at": self.started_ms.map(iso8601),
            "completed_at": self.completed_ms.map(iso8601),
            "urls": { "get": get, "cancel": format!("{get}/cancel"), "web": get },
            "webhook": self.webhook.as_ref().map(|w| &w.url),
            "webhook_events_filter": self.webhook.as_ref().map(|w| &w.events),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn job(variants: usize) -> Job {
        Job {
            id: "a".repeat(64),
            owner: "token:alpha".into(),
            model: "@cf/bytedance/stable-diffusion-xl-lightning".into(),
            input: json!({"prompt": "a cat"}),
            origin: "https://gw.example".into(),
            status: Status::Starting,
            variants: (0..variants)
                .map(|i| Variant {
                    key: format!("key{i}"),
                    permalink: format!("/images/key{i}-tag"),
                    done: false,
                    deliveries: 0,
                })
                .collect(),
            deliveries: 0,
            error: None,
            created_ms: 1_000,
            started_ms: None,
            completed_ms: None,
            webhook: None,
        }
    }

    #[test]
    fn starting_then_processing_then_succeeded_when_every_image_is_made() {
        let mut j = job(2);
        assert_eq!(j.prediction()["status"], "starting");
        assert!(j.apply(&JobEvent::Started { variant: 0 }, 2_000).proceed);
        assert_eq!(j.status, Status::Processing);
        let again = j.apply(&JobEvent::Started { variant: 1 }, 2_500);
        assert!(again.proceed);
        assert_eq!(again.delivery, 1);
        assert_eq!(
            j.apply(&JobEvent::Started { variant: 1 }, 2_600).delivery,
            2
        );
        assert_eq!(j.started_ms, Some(2_000));
        assert!(!j.apply(&JobEvent::Made { variant: 1 }, 3_000).ended);
        assert_eq!(j.prediction()["output"], Value::Null);
        assert!(j.apply(&JobEvent::Made { variant: 0 }, 4_000).ended);
        assert_eq!(j.status, Status::Succeeded);
        let p = j.prediction();
        assert_eq!(
            p["output"],
            json!([
                "https://gw.example/images/key0-tag",
                "https://gw.example/images/key1-tag"
            ])
        );
        assert_eq!(p["completed_at"], "1970-01-01T00:00:04.000Z");
        assert_eq!(p["metrics"]["predict_time"], 2.0);
        assert_eq!(j.deliveries, 3);
    }

    #[test]
    fn an_ended_job_never_changes() {
        let mut j = job(1);
        assert!(j.apply(&JobEvent::Canceled, 5).ended);
        let before = j.clone();
        for e in [
            JobEvent::Started { variant: 0 },
            JobEvent::Made { variant: 0 },
            JobEvent::Failed { reason: "x".into() },
            JobEvent::Canceled,
        ] {
            let a = j.apply(&e, 9);
            assert!(!a.proceed && !a.ended, "{e:?}");
        }
        assert_eq!(j, before);
        assert_eq!(j.prediction()["status"], "canceled");
        assert_eq!(j.prediction()["output"], Value::Null);
    }

    #[test]
    fn a_failure_keeps_its_reason() {
        let mut j = job(2);
        j.apply(&JobEvent::Started { variant: 0 }, 1);
        let a = j.apply(
            &JobEvent::Failed {
                reason: "3036: allocation spent".into(),
            },
            2,
        );
        assert!(a.ended);
        let p = j.prediction();
        assert_eq!(p["status"], "failed");
        assert_eq!(p["error"], "3036: allocation spent");
    }

    #[test]
    fn a_made_image_is_not_made_again_and_unknown_variants_are_ignored() {
        let mut j = job(2);
        j.apply(&JobEvent::Made { variant: 0 }, 1);
        assert!(!j.apply(&JobEvent::Started { variant: 0 }, 2).proceed);
        assert!(!j.apply(&JobEvent::Started { variant: 7 }, 2).proceed);
        assert_eq!(j.deliveries, 0);
        assert!(!j.apply(&JobEvent::Made { variant: 7 }, 2).ended);
        assert_eq!(j.status, Status::Starting);
    }

    #[test]
    fn a_wait_that_ran_out_reads_starting() {
        let mut j = job(1);
        j.apply(&JobEvent::Started { variant: 0 }, 1);
        assert_eq!(j.prediction()["status"], "processing");
        assert_eq!(j.prediction_after_wait()["status"], "starting");
        j.apply(&JobEvent::Made { variant: 0 }, 2);
        assert_eq!(j.prediction_after_wait()["status"], "succeeded");
    }

    #[test]
    fn only_the_owner_may_read() {
        let j = job(1);
        assert!(j.belongs_to("token:alpha"));
        assert!(!j.belongs_to("token:beta"));
        assert!(!j.belongs_to("anonymous"));
    }

    #[test]
    fn the_prediction_has_replicates_fields() {
        let p = job(1).prediction();
        for field in [
            "id",
            "model",
            "version",
            "input",
            "status",
            "output",
            "error",
            "created_at",
            "started_at",
            "completed_at",
            "urls",
        ] {
            assert!(p.get(field).is_some(), "{field}");
        }
        assert_eq!(p["model"], "bytedance/stable-diffusion-xl-lightning");
        assert_eq!(
            p["urls"]["cancel"],
            format!(
                "https://gw.example/v1/predictions/{}/cancel",
                "a".repeat(64)
            )
        );
    }
}
