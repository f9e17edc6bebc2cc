//! One job's state and its transitions, as its Durable Object keeps them, and the prediction
//! JSON Replicate's clients read.
//!
//! A job is `starting` until a consumer takes one of its images, `processing` while images are
//! made, and ends `succeeded` (every image made), `failed` (one image failed: the reason is
//! kept) or `canceled`. An ended job never changes again: a run that finishes after a cancel is
//! stored in the cache but not reported.

//!
//! Their JSON is written and read by hand (`super::json`, which says why); the tests compare it
//! with what serde's derives, kept for the tests only, write and read.

#[cfg(test)]
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::clock::iso8601;
use super::json::{
    array, boolean, get, get_opt, object, opt_string, opt_whole, parse_object, push_array,
    push_bool, push_opt_str, push_opt_u64, push_str, push_u64, string, variant, whole, JsonError,
    ObjectWriter, Read,
};
pub use super::webhook::Webhook;
use super::webhook::{Attempt, WebhookEvent};

/// Replicate's statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize), serde(rename_all = "snake_case"))]
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

    /// Its name in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Processing => "processing",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Canceled => "canceled",
        }
    }

    fn named(name: &str) -> Option<Status> {
        [
            Status::Starting,
            Status::Processing,
            Status::Succeeded,
            Status::Failed,
            Status::Canceled,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// One image of a job (`n` in the input: seeds `seed + i`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Variant {
    /// The image's cache key.
    pub key: String,
    /// Its permalink path, `/images/<id>`.
    pub permalink: String,
    pub done: bool,
    /// Deliveries of its queue message so far (0 when missing).
    #[cfg_attr(test, serde(default))]
    pub deliveries: u32,
}

/// A job as its Durable Object stores it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
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
    /// The R2 key of its input, when the input was too large to travel in its messages: deleted
    /// when the job ends.
    pub input_key: Option<String>,
    /// The caller whose queued images it counts among (`super::queued`), when a cap applies.
    pub queued_by: Option<String>,
    /// The caller whose budget its images were reserved against at create, and the
    /// reservation's id (`crate::quota`): settled by the images made when the job ends.
    pub charged: Option<Charged>,
}

/// A job's images reserved against a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct Charged {
    pub caller: String,
    pub reservation: u64,
}

/// How long a job lives: `JOB_DEADLINE_S` while it runs, `JOB_RETENTION_S` after it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub deadline_s: u32,
    pub retention_s: u32,
}

/// What happens to a job. In JSON externally tagged (serde's default for enums):
/// `{"started":{"variant":0}}`, `"canceled"`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize), serde(rename_all = "snake_case"))]
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
    /// Whether this event made a webhook message due (its `webhook_events_filter` asks for it).
    pub webhook_due: bool,
}

impl Applied {
    const NOTHING: Applied = Applied {
        proceed: false,
        ended: false,
        delivery: 0,
        webhook_due: false,
    };
}

impl Job {
    /// Applies `event` at `now_ms`.
    pub fn apply(&mut self, event: &JobEvent, now_ms: u64) -> Applied {
        let mut applied = Applied::NOTHING;
        if self.status.is_terminal() {
            return applied;
        }
        let was = self.status;
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
        // Replicate's events: `start` when the first image begins, `output` when an image is
        // made and more are to come, `completed` when the job ends (which replaces any message
        // still due: each message is the prediction as it is when sent). `logs` never: a job
        // has none.
        let event = if applied.ended {
            Some(WebhookEvent::Completed)
        } else if matches!(event, JobEvent::Made { .. }) {
            Some(WebhookEvent::Output)
        } else if was == Status::Starting && self.status == Status::Processing {
            Some(WebhookEvent::Start)
        } else {
            None
        };
        if let (Some(event), Some(hook)) = (event, self.webhook.as_mut()) {
            applied.webhook_due = hook.raise(event);
        }
        applied
    }

    /// When the job, if still running, is failed by its object (`JOB_DEADLINE_S` after its
    /// creation).
    #[must_use]
    pub fn deadline_ms(&self, deadline_s: u32) -> u64 {
        self.created_ms + u64::from(deadline_s) * 1000
    }

    /// Fails the job if it is still running at `now_ms`, past its deadline: no job stays
    /// `starting` or `processing` for ever, whatever was lost on the way (a message, a send, an
    /// unreachable object).
    pub fn expire(&mut self, now_ms: u64, deadline_s: u32) -> Applied {
        if self.status.is_terminal() || now_ms < self.deadline_ms(deadline_s) {
            return Applied::NOTHING;
        }
        let reason = format!("the job did not end within {deadline_s} s of its creation");
        self.apply(&JobEvent::Failed { reason }, now_ms)
    }

    /// The images it made.
    #[must_use]
    pub fn images_made(&self) -> u64 {
        self.variants.iter().filter(|v| v.done).count() as u64
    }

    /// The images it has still to make: none once it ended.
    #[must_use]
    pub fn images_to_make(&self) -> u32 {
        if self.status.is_terminal() {
            return 0;
        }
        let left = self.variants.iter().filter(|v| !v.done).count();
        u32::try_from(left).unwrap_or(u32::MAX)
    }

    /// When the job's data is deleted: `retention_s` after it ended, once no webhook message is
    /// still due (a receiver that is down keeps it until its retries are over).
    #[must_use]
    pub fn purge_at_ms(&self, retention_s: u32) -> Option<u64> {
        let webhook_due = self.webhook.as_ref().is_some_and(|w| w.due.is_some());
        match self.completed_ms {
            Some(completed) if self.status.is_terminal() && !webhook_due => {
                Some(completed + u64::from(retention_s) * 1000)
            }
            _ => None,
        }
    }

    /// When the job's object must wake next, `now_ms` being now: at the deadline while the job
    /// runs; when a due webhook message is to be sent (`webhook_retry_ms` from now after a failed
    /// attempt, else now); once it ended and its webhooks are settled, when its data is deleted.
    #[must_use]
    pub fn next_alarm_ms(
        &self,
        now_ms: u64,
        lifetime: Lifetime,
        webhook_retry_ms: Option<u64>,
    ) -> Option<u64> {
        let deadline =
            (!self.status.is_terminal()).then(|| self.deadline_ms(lifetime.deadline_s).max(now_ms));
        let webhook = self
            .webhook
            .as_ref()
            .filter(|w| w.due.is_some())
            .map(|_| now_ms + webhook_retry_ms.unwrap_or(0));
        let purge = self
            .purge_at_ms(lifetime.retention_s)
            .map(|at| at.max(now_ms));
        [deadline, webhook, purge].into_iter().flatten().min()
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
    pub fn prediction_after_wait(&self) -> String {
        let status = if self.status.is_terminal() {
            self.status
        } else {
            Status::Starting
        };
        self.prediction_with(status)
    }

    /// The prediction's JSON, as Replicate answers it: `output` is the images' absolute
    /// permalinks once the job succeeded.
    #[must_use]
    pub fn prediction(&self) -> String {
        self.prediction_with(self.status)
    }

    /// Keys in sorted order: the order serde_json's `Value` (a `BTreeMap`) wrote them in when
    /// the prediction was built as one.
    fn prediction_with(&self, status: Status) -> String {
        let get = format!("{}/v1/predictions/{}", self.origin, self.id);
        let mut out = String::with_capacity(1024);
        let mut o = ObjectWriter::new(&mut out);
        push_opt_str(
            o.field("completed_at"),
            self.completed_ms.map(iso8601).as_deref(),
        );
        push_str(o.field("created_at"), &iso8601(self.created_ms));
        push_bool(o.field("data_removed"), false);
        push_opt_str(o.field("error"), self.error.as_deref());
        push_str(o.field("id"), &self.id);
        crate::json_text::push(o.field("input"), &self.input);
        push_str(o.field("logs"), "");
        let metrics = o.field("metrics");
        match (self.started_ms, self.completed_ms) {
            (Some(s), Some(c)) => {
                // As serde_json writes an `f64`: `2.0`, `0.25`.
                #[allow(clippy::cast_precision_loss)]
                let seconds = Value::from(c.saturating_sub(s) as f64 / 1000.0);
                metrics.push_str("{\"predict_time\":");
                crate::json_text::push(metrics, &seconds);
                metrics.push('}');
            }
            _ => metrics.push_str("{}"),
        }
        push_str(
            o.field("model"),
            self.model.strip_prefix("@cf/").unwrap_or(&self.model),
        );
        // Every image once it succeeded; while it runs, those made so far (what an `output`
        // webhook reports), as Replicate lists a running prediction's outputs.
        let output = o.field("output");
        let made: Vec<&Variant> = self.variants.iter().filter(|v| v.done).collect();
        if self.status == Status::Succeeded
            || (self.status == Status::Processing && !made.is_empty())
        {
            push_array(output, &made, |out, v| {
                push_str(out, &format!("{}{}", self.origin, v.permalink));
            });
        } else {
            output.push_str("null");
        }
        push_str(o.field("source"), "api");
        push_opt_str(
            o.field("started_at"),
            self.started_ms.map(iso8601).as_deref(),
        );
        push_str(o.field("status"), status.name());
        let mut urls = ObjectWriter::new(o.field("urls"));
        push_str(urls.field("cancel"), &format!("{get}/cancel"));
        push_str(urls.field("get"), &get);
        push_str(urls.field("web"), &get);
        urls.end();
        push_str(o.field("version"), &self.model);
        let hook = self.webhook.as_ref();
        push_opt_str(o.field("webhook"), hook.map(|w| w.url.as_str()));
        let filter = o.field("webhook_events_filter");
        match hook {
            Some(w) => push_array(filter, &w.events, |out, e| push_str(out, e.name())),
            None => filter.push_str("null"),
        }
        o.end();
        out
    }

    /// The job as its object stores it.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(512);
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        push_str(o.field("id"), &self.id);
        push_str(o.field("owner"), &self.owner);
        push_str(o.field("model"), &self.model);
        crate::json_text::push(o.field("input"), &self.input);
        push_str(o.field("origin"), &self.origin);
        push_str(o.field("status"), self.status.name());
        push_array(o.field("variants"), &self.variants, |out, v| {
            let mut o = ObjectWriter::new(out);
            push_str(o.field("key"), &v.key);
            push_str(o.field("permalink"), &v.permalink);
            push_bool(o.field("done"), v.done);
            push_u64(o.field("deliveries"), v.deliveries.into());
            o.end();
        });
        push_u64(o.field("deliveries"), self.deliveries.into());
        push_opt_str(o.field("error"), self.error.as_deref());
        push_u64(o.field("created_ms"), self.created_ms);
        push_opt_u64(o.field("started_ms"), self.started_ms);
        push_opt_u64(o.field("completed_ms"), self.completed_ms);
        let webhook = o.field("webhook");
        match &self.webhook {
            Some(w) => {
                let mut o = ObjectWriter::new(webhook);
                push_str(o.field("url"), &w.url);
                push_array(o.field("events"), &w.events, |out, e| {
                    push_str(out, e.name())
                });
                push_array(o.field("deliveries"), &w.deliveries, |out, d| {
                    let mut o = ObjectWriter::new(out);
                    push_u64(o.field("at_ms"), d.at_ms);
                    push_opt_u64(o.field("status"), d.status.map(u64::from));
                    push_opt_str(o.field("error"), d.error.as_deref());
                    o.end();
                });
                push_opt_str(o.field("due"), w.due.map(WebhookEvent::name));
                push_u64(o.field("messages"), w.messages.into());
                push_u64(o.field("attempts"), w.attempts.into());
                o.end();
            }
            None => webhook.push_str("null"),
        }
        push_opt_str(o.field("input_key"), self.input_key.as_deref());
        push_opt_str(o.field("queued_by"), self.queued_by.as_deref());
        let charged = o.field("charged");
        match &self.charged {
            Some(c) => {
                let mut o = ObjectWriter::new(charged);
                push_str(o.field("caller"), &c.caller);
                push_u64(o.field("reservation"), c.reservation);
                o.end();
            }
            None => charged.push_str("null"),
        }
        o.end();
    }

    /// Reads a job as [`Job::to_json`] writes it.
    ///
    /// # Errors
    /// Not JSON, or a field missing or of the wrong type.
    pub fn from_json(bytes: &[u8]) -> Read<Job> {
        Job::read(&parse_object(bytes, "job")?)
    }

    fn read(map: &Map<String, Value>) -> Read<Job> {
        let status = get(map, "status")?
            .as_str()
            .and_then(Status::named)
            .ok_or(JsonError::Field("status"))?;
        let variants = array(map, "variants")?
            .iter()
            .map(|v| {
                let v = object(v, "variants")?;
                Ok(Variant {
                    key: string(v, "key")?,
                    permalink: string(v, "permalink")?,
                    done: boolean(v, "done")?,
                    deliveries: opt_whole(v, "deliveries")?.unwrap_or(0),
                })
            })
            .collect::<Read<_>>()?;
        let webhook = match get_opt(map, "webhook") {
            None => None,
            Some(w) => {
                let w = object(w, "webhook")?;
                let events: Vec<WebhookEvent> = array(w, "events")?
                    .iter()
                    .map(|e| {
                        e.as_str()
                            .and_then(WebhookEvent::named)
                            .ok_or(JsonError::Field("events"))
                    })
                    .collect::<Read<_>>()?;
                let deliveries = array(w, "deliveries")?
                    .iter()
                    .map(|d| {
                        let d = object(d, "deliveries")?;
                        Ok(Attempt {
                            at_ms: whole(d, "at_ms")?,
                            status: opt_whole(d, "status")?,
                            error: opt_string(d, "error")?,
                        })
                    })
                    .collect::<Read<_>>()?;
                let due = match get_opt(w, "due") {
                    Some(due) => Some(
                        due.as_str()
                            .and_then(WebhookEvent::named)
                            .ok_or(JsonError::Field("due"))?,
                    ),
                    // A row written before `due` (only `completed` was sent then).
                    None if get_opt(w, "settled").is_some_and(|s| s == false)
                        && status.is_terminal()
                        && events.contains(&WebhookEvent::Completed) =>
                    {
                        Some(WebhookEvent::Completed)
                    }
                    None => None,
                };
                Some(Webhook {
                    url: string(w, "url")?,
                    events,
                    attempts: opt_whole(w, "attempts")?.unwrap_or(0),
                    messages: opt_whole(w, "messages")?.unwrap_or(u32::from(due.is_some())),
                    deliveries,
                    due,
                })
            }
        };
        Ok(Job {
            id: string(map, "id")?,
            owner: string(map, "owner")?,
            model: string(map, "model")?,
            input: get(map, "input")?.clone(),
            origin: string(map, "origin")?,
            status,
            variants,
            deliveries: whole(map, "deliveries")?,
            error: opt_string(map, "error")?,
            created_ms: whole(map, "created_ms")?,
            started_ms: opt_whole(map, "started_ms")?,
            completed_ms: opt_whole(map, "completed_ms")?,
            webhook,
            input_key: opt_string(map, "input_key")?,
            queued_by: opt_string(map, "queued_by")?,
            charged: match get_opt(map, "charged") {
                Some(c) => {
                    let c = object(c, "charged")?;
                    Some(Charged {
                        caller: string(c, "caller")?,
                        reservation: whole(c, "reservation")?,
                    })
                }
                None => None,
            },
        })
    }
}

impl JobEvent {
    /// The event as the Worker sends it to the job's object.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        let (name, field) = match self {
            JobEvent::Canceled => {
                push_str(&mut out, "canceled");
                return out;
            }
            JobEvent::Started { .. } => ("started", "variant"),
            JobEvent::Made { .. } => ("made", "variant"),
            JobEvent::Failed { .. } => ("failed", "reason"),
        };
        let mut o = ObjectWriter::new(&mut out);
        let mut inner = ObjectWriter::new(o.field(name));
        let value = inner.field(field);
        match self {
            JobEvent::Started { variant } | JobEvent::Made { variant } => {
                push_u64(value, *variant as u64);
            }
            JobEvent::Failed { reason } => push_str(value, reason),
            JobEvent::Canceled => {}
        }
        inner.end();
        o.end();
        out
    }

    /// Reads an event as [`JobEvent::to_json`] writes it.
    ///
    /// # Errors
    /// Not JSON, or no event.
    pub fn from_json(bytes: &[u8]) -> Read<JobEvent> {
        let value: Value = serde_json::from_slice(bytes)?;
        let (name, content) = variant(&value, "event")?;
        let fields = || object(content.ok_or(JsonError::Field("event"))?, "event");
        match name {
            "started" => Ok(JobEvent::Started {
                variant: whole(fields()?, "variant")?,
            }),
            "made" => Ok(JobEvent::Made {
                variant: whole(fields()?, "variant")?,
            }),
            "failed" => Ok(JobEvent::Failed {
                reason: string(fields()?, "reason")?,
            }),
            "canceled" if content.is_none_or(Value::is_null) => Ok(JobEvent::Canceled),
            _ => Err(JsonError::Field("event")),
        }
    }
}

/// What the job's object answers to an event.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub struct AppliedJob {
    pub job: Job,
    /// For `Started`: make the image.
    pub proceed: bool,
    /// For `Started`: which delivery of the image's message this is.
    pub delivery: u32,
}

impl AppliedJob {
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(512);
        let mut o = ObjectWriter::new(&mut out);
        self.job.write(o.field("job"));
        push_bool(o.field("proceed"), self.proceed);
        push_u64(o.field("delivery"), self.delivery.into());
        o.end();
        out
    }

    /// Reads the answer as [`AppliedJob::to_json`] writes it.
    ///
    /// # Errors
    /// Not JSON, or a field missing or of the wrong type.
    pub fn from_json(bytes: &[u8]) -> Read<AppliedJob> {
        let map = parse_object(bytes, "applied")?;
        Ok(AppliedJob {
            job: Job::read(object(get(&map, "job")?, "job")?)?,
            proceed: boolean(&map, "proceed")?,
            delivery: whole(&map, "delivery")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pv(prediction: String) -> Value {
        serde_json::from_str(&prediction).unwrap()
    }

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
            input_key: None,
            queued_by: None,
            charged: None,
        }
    }

    const LIFE: Lifetime = Lifetime {
        deadline_s: 10,
        retention_s: 60,
    };

    #[test]
    fn a_job_still_running_past_its_deadline_fails_and_an_ended_one_is_left_alone() {
        let mut j = job(2);
        // Created at 1 s, a 10 s deadline: at 11 s.
        assert_eq!(j.deadline_ms(10), 11_000);
        assert_eq!(j.next_alarm_ms(2_000, LIFE, None), Some(11_000));
        assert!(!j.expire(10_999, 10).ended, "not yet");
        assert!(!j.status.is_terminal());
        j.apply(&JobEvent::Started { variant: 0 }, 3_000);
        let expired = j.expire(11_000, 10);
        assert!(expired.ended, "its webhook is due");
        assert_eq!(j.status, Status::Failed);
        assert!(j
            .error
            .as_deref()
            .unwrap()
            .contains("did not end within 10 s"));
        // Ended at 11 s: the deadline no longer wakes it; its deletion, 60 s later, does.
        assert_eq!(j.next_alarm_ms(12_000, LIFE, None), Some(71_000));
        assert_eq!(j.purge_at_ms(60), Some(71_000));
        let mut done = job(1);
        done.apply(&JobEvent::Made { variant: 0 }, 2_000);
        assert!(!done.expire(99_000, 10).ended);
        assert_eq!(done.status, Status::Succeeded);
    }

    #[test]
    fn starting_then_processing_then_succeeded_when_every_image_is_made() {
        let mut j = job(2);
        assert_eq!(pv(j.prediction())["status"], "starting");
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
        assert_eq!(
            pv(j.prediction())["output"],
            Value::Null,
            "nothing made yet"
        );
        assert_eq!(j.images_to_make(), 2);
        assert!(!j.apply(&JobEvent::Made { variant: 1 }, 3_000).ended);
        assert_eq!(j.images_to_make(), 1);
        // Running: the images made so far, as an `output` webhook reports them.
        assert_eq!(
            pv(j.prediction())["output"],
            json!(["https://gw.example/images/key1-tag"])
        );
        assert!(j.apply(&JobEvent::Made { variant: 0 }, 4_000).ended);
        assert_eq!(j.status, Status::Succeeded);
        assert_eq!(j.images_to_make(), 0);
        let p = pv(j.prediction());
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

    fn hooked(variants: usize, events: &[WebhookEvent]) -> Job {
        let mut j = job(variants);
        j.webhook = Some(Webhook::new(
            "https://hooks.example/h".into(),
            events.to_vec(),
        ));
        j
    }

    fn due(j: &Job) -> Option<WebhookEvent> {
        j.webhook.as_ref().unwrap().due
    }

    fn attempt(j: &mut Job, status: u16) -> super::super::webhook::Next {
        j.webhook.as_mut().unwrap().record(Attempt {
            at_ms: 0,
            status: Some(status),
            error: None,
        })
    }

    #[test]
    fn webhook_messages_follow_the_filter_start_output_completed() {
        use WebhookEvent::{Completed, Output, Start};
        let mut j = hooked(3, &[Start, Output, Completed]);
        assert!(j.apply(&JobEvent::Started { variant: 0 }, 2).webhook_due);
        assert_eq!(due(&j), Some(Start));
        let first_id = j.webhook.as_ref().unwrap().message_id(&j.id);
        // Another image begins: no new message.
        assert!(!j.apply(&JobEvent::Started { variant: 1 }, 3).webhook_due);
        // A failed attempt keeps the message and its id; a 2xx settles it.
        assert!(matches!(
            attempt(&mut j, 500),
            super::super::webhook::Next::RetryAfterMs(_)
        ));
        assert_eq!(j.webhook.as_ref().unwrap().message_id(&j.id), first_id);
        attempt(&mut j, 204);
        assert_eq!(due(&j), None);
        assert!(j.apply(&JobEvent::Made { variant: 0 }, 4).webhook_due);
        assert_eq!(due(&j), Some(Output));
        assert_ne!(j.webhook.as_ref().unwrap().message_id(&j.id), first_id);
        // Not delivered yet: the next output replaces it (one message, the newest state).
        assert!(j.apply(&JobEvent::Made { variant: 1 }, 5).webhook_due);
        assert_eq!(j.webhook.as_ref().unwrap().messages, 3);
        let ended = j.apply(&JobEvent::Made { variant: 2 }, 6);
        assert!(ended.ended && ended.webhook_due);
        assert_eq!(due(&j), Some(Completed));
        // Nothing replaces `completed`, and an ended job raises nothing.
        assert!(!j.webhook.as_mut().unwrap().raise(Output));
        assert!(!j.apply(&JobEvent::Canceled, 7).webhook_due);
        assert_eq!(due(&j), Some(Completed));
    }

    #[test]
    fn only_the_events_the_filter_names_are_sent() {
        let mut j = hooked(2, &[WebhookEvent::Completed]);
        assert!(!j.apply(&JobEvent::Started { variant: 0 }, 2).webhook_due);
        assert!(!j.apply(&JobEvent::Made { variant: 0 }, 3).webhook_due);
        assert_eq!(due(&j), None);
        assert!(
            j.apply(&JobEvent::Failed { reason: "x".into() }, 4)
                .webhook_due
        );
        assert_eq!(due(&j), Some(WebhookEvent::Completed));
        let mut quiet = hooked(1, &[WebhookEvent::Start]);
        quiet.apply(&JobEvent::Started { variant: 0 }, 2);
        attempt(&mut quiet, 200);
        assert!(!quiet.apply(&JobEvent::Made { variant: 0 }, 3).webhook_due);
        // `logs` is accepted and never sent.
        let mut logs = hooked(1, &[WebhookEvent::Logs]);
        assert!(!logs.apply(&JobEvent::Started { variant: 0 }, 2).webhook_due);
        assert!(!logs.apply(&JobEvent::Made { variant: 0 }, 3).webhook_due);
    }

    #[test]
    fn an_ended_job_is_deleted_after_its_retention_once_its_webhook_settled() {
        let mut j = hooked(1, &[WebhookEvent::Completed]);
        assert_eq!(j.purge_at_ms(60), None, "running");
        j.apply(&JobEvent::Made { variant: 0 }, 5_000);
        // Its `completed` message is due: sent now, and the job kept until it settles.
        assert_eq!(j.purge_at_ms(60), None);
        assert_eq!(j.next_alarm_ms(5_000, LIFE, None), Some(5_000));
        attempt(&mut j, 503);
        assert_eq!(j.next_alarm_ms(5_100, LIFE, Some(5_000)), Some(10_100));
        attempt(&mut j, 200);
        assert_eq!(j.purge_at_ms(60), Some(65_000));
        assert_eq!(j.next_alarm_ms(6_000, LIFE, None), Some(65_000));
        // Late: due now.
        assert_eq!(j.next_alarm_ms(99_000, LIFE, None), Some(99_000));
        // Running with a message due: the message first, then the deadline.
        let mut r = hooked(2, &[WebhookEvent::Start]);
        r.apply(&JobEvent::Started { variant: 0 }, 2_000);
        assert_eq!(r.next_alarm_ms(2_000, LIFE, None), Some(2_000));
        attempt(&mut r, 200);
        assert_eq!(r.next_alarm_ms(2_000, LIFE, None), Some(11_000));
    }

    #[test]
    fn a_row_written_before_webhook_messages_reads_with_its_completed_message_due() {
        let mut j = hooked(1, &[WebhookEvent::Completed]);
        j.apply(&JobEvent::Made { variant: 0 }, 5);
        let mut row: Value = serde_json::from_str(&j.to_json()).unwrap();
        let hook = row["webhook"].as_object_mut().unwrap();
        for field in ["due", "messages", "attempts"] {
            hook.remove(field);
        }
        hook.insert("settled".into(), json!(false));
        row.as_object_mut().unwrap().remove("input_key");
        let read = Job::from_json(row.to_string().as_bytes()).unwrap();
        assert_eq!(due(&read), Some(WebhookEvent::Completed));
        row["webhook"]["settled"] = json!(true);
        let read = Job::from_json(row.to_string().as_bytes()).unwrap();
        assert_eq!(due(&read), None);
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
        assert_eq!(pv(j.prediction())["status"], "canceled");
        assert_eq!(pv(j.prediction())["output"], Value::Null);
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
        let p = pv(j.prediction());
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
        assert_eq!(pv(j.prediction())["status"], "processing");
        assert_eq!(pv(j.prediction_after_wait())["status"], "starting");
        j.apply(&JobEvent::Made { variant: 0 }, 2);
        assert_eq!(pv(j.prediction_after_wait())["status"], "succeeded");
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
        let p = pv(job(1).prediction());
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

    /// The prediction as it was built before it was written by hand: a `json!` value.
    fn reference_prediction(j: &Job, status: Status) -> String {
        let get = format!("{}/v1/predictions/{}", j.origin, j.id);
        let made: Vec<String> = j
            .variants
            .iter()
            .filter(|v| v.done)
            .map(|v| format!("{}{}", j.origin, v.permalink))
            .collect();
        let running_with_output = j.status == Status::Processing && !made.is_empty();
        let output = (j.status == Status::Succeeded || running_with_output).then_some(made);
        let predict_time = match (j.started_ms, j.completed_ms) {
            (Some(s), Some(c)) => json!({ "predict_time": c.saturating_sub(s) as f64 / 1000.0 }),
            _ => json!({}),
        };
        json!({
            "id": j.id,
            "model": j.model.strip_prefix("@cf/").unwrap_or(&j.model),
            "version": j.model,
            "input": j.input,
            "status": status,
            "output": output,
            "error": j.error,
            "logs": "",
            "metrics": predict_time,
            "source": "api",
            "data_removed": false,
            "created_at": iso8601(j.created_ms),
            "started_at": j.started_ms.map(iso8601),
            "completed_at": j.completed_ms.map(iso8601),
            "urls": { "get": get, "cancel": format!("{get}/cancel"), "web": get },
            "webhook": j.webhook.as_ref().map(|w| &w.url),
            "webhook_events_filter": j.webhook.as_ref().map(|w| &w.events),
        })
        .to_string()
    }

    /// Jobs in every state, with strings that need escaping and every optional field both ways.
    fn samples() -> Vec<Job> {
        let mut jobs = Vec::new();
        let mut j = job(2);
        jobs.push(j.clone());
        j.input = json!({"prompt": "quote \" back \\ tab\t nl\n \u{1} \u{1f} é 猫 🐈", "n": 2,
            "strength": 0.25, "nested": {"a": [1, -2, 3.5e-7, null, true]}});
        j.origin = "https://gw.example:8443".into();
        j.owner = "token:\"odd\"\u{7f}".into();
        j.apply(&JobEvent::Started { variant: 1 }, 1_234);
        jobs.push(j.clone());
        j.webhook = Some(Webhook {
            url: "https://hooks.example/a?b=c&d=\"e\"".into(),
            events: vec![WebhookEvent::Start, WebhookEvent::Completed],
            deliveries: vec![
                Attempt {
                    at_ms: 9,
                    status: Some(500),
                    error: None,
                },
                Attempt {
                    at_ms: u64::MAX,
                    status: None,
                    error: Some("no answer within 10 s\r\n".into()),
                },
            ],
            due: None,
            messages: 3,
            attempts: 0,
        });
        jobs.push(j.clone());
        let mut made = j.clone();
        made.apply(&JobEvent::Made { variant: 0 }, 2_000);
        jobs.push(made.clone());
        made.apply(&JobEvent::Made { variant: 1 }, 3_001);
        jobs.push(made);
        let mut failed = j.clone();
        failed.apply(
            &JobEvent::Failed {
                reason: "3036: \"spent\"\u{0}".into(),
            },
            1_700_000_000_123,
        );
        jobs.push(failed);
        let mut canceled = job(1);
        canceled.webhook = Some(Webhook::new("http://h".into(), vec![]));
        canceled.input_key = Some("job-inputs/x".into());
        canceled.queued_by = Some("token:alpha".into());
        canceled.charged = Some(Charged {
            caller: "token:alpha".into(),
            reservation: 9_007_199_254_740_991,
        });
        canceled.apply(&JobEvent::Canceled, 5);
        jobs.push(canceled);
        jobs
    }

    #[test]
    fn the_prediction_is_the_bytes_the_json_value_wrote() {
        for j in samples() {
            assert_eq!(j.prediction(), reference_prediction(&j, j.status), "{j:?}");
            let waited = if j.status.is_terminal() {
                j.status
            } else {
                Status::Starting
            };
            assert_eq!(j.prediction_after_wait(), reference_prediction(&j, waited));
        }
    }

    #[test]
    fn a_job_is_written_as_serde_wrote_it_and_read_back() {
        for j in samples() {
            let text = j.to_json();
            assert_eq!(text, serde_json::to_string(&j).unwrap());
            assert_eq!(Job::from_json(text.as_bytes()).unwrap(), j);
            let applied = AppliedJob {
                job: j.clone(),
                proceed: true,
                delivery: 7,
            };
            let text = applied.to_json();
            assert_eq!(text, serde_json::to_string(&applied).unwrap());
            assert_eq!(AppliedJob::from_json(text.as_bytes()).unwrap(), applied);
        }
    }

    #[test]
    fn a_job_reads_as_serde_read_it() {
        let j = &samples()[2];
        let mut value = serde_json::to_value(j).unwrap();
        // Unknown fields are ignored, a missing variant's `deliveries` is 0 (`serde(default)`),
        // missing options are `None`.
        value["extra"] = json!({"x": 1});
        value["variants"][0]
            .as_object_mut()
            .unwrap()
            .remove("deliveries");
        value.as_object_mut().unwrap().remove("completed_ms");
        let text = value.to_string();
        let ours = Job::from_json(text.as_bytes()).unwrap();
        assert_eq!(ours, serde_json::from_str::<Job>(&text).unwrap());
        assert_eq!(ours.variants[0].deliveries, 0);
        // What serde refused, we refuse.
        for broken in [
            json!({"status": "done"}),
            json!({"deliveries": -1}),
            json!({"deliveries": 1.5}),
            json!({"created_ms": "1"}),
            json!({"variants": [{"key": "k"}]}),
            json!({"webhook": {"url": "u"}}),
            json!({"id": null}),
        ] {
            let mut value = serde_json::to_value(j).unwrap();
            for (k, v) in broken.as_object().unwrap() {
                value[k] = v.clone();
            }
            let text = value.to_string();
            assert!(serde_json::from_str::<Job>(&text).is_err(), "{broken}");
            assert!(Job::from_json(text.as_bytes()).is_err(), "{broken}");
        }
        let mut missing = serde_json::to_value(j).unwrap();
        missing.as_object_mut().unwrap().remove("input");
        let text = missing.to_string();
        assert!(serde_json::from_str::<Job>(&text).is_err());
        assert!(Job::from_json(text.as_bytes()).is_err());
        assert!(Job::from_json(b"[]").is_err());
        assert!(Job::from_json(b"{\"id\":").is_err());
    }

    #[test]
    fn events_are_written_as_serde_wrote_them_and_read_back() {
        for e in [
            JobEvent::Started { variant: 0 },
            JobEvent::Started { variant: 4_000_000 },
            JobEvent::Made { variant: 3 },
            JobEvent::Failed {
                reason: "a \"b\" \\ \u{1b} ünï".into(),
            },
            JobEvent::Canceled,
        ] {
            let text = e.to_json();
            assert_eq!(text, serde_json::to_string(&e).unwrap());
            assert_eq!(JobEvent::from_json(text.as_bytes()).unwrap(), e);
        }
        for junk in [
            "\"started\"",
            "{\"started\":{}}",
            "{\"made\":{\"variant\":-1}}",
            "{\"failed\":{\"reason\":1}}",
            "\"done\"",
            "{\"made\":{\"variant\":1},\"failed\":{\"reason\":\"x\"}}",
            "7",
        ] {
            assert!(serde_json::from_str::<JobEvent>(junk).is_err(), "{junk}");
            assert!(JobEvent::from_json(junk.as_bytes()).is_err(), "{junk}");
        }
    }
}
