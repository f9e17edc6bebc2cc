//! A job's Durable Object (SQLite-backed): the job's one row, the transitions
//! (`sdxl_core::jobs::job`) applied with no `await` between reading and writing it, and its
//! webhook delivered from the alarm.
//!
//! The class itself (`#[durable_object]`, which exports it to JS) is declared by the jobs
//! Worker's crate (workers/jobs) over this [`JobObject`]: declared here, its export would be
//! linked into the gateway's bundle too.

use sdxl_core::config::{DEFAULT_JOB_DEADLINE_S, DEFAULT_JOB_RETENTION_S};
use sdxl_core::jobs::job::{AppliedJob, Job, JobEvent, Lifetime};
use sdxl_core::jobs::json::JsonError;
use worker::{Env, Request, Response, Result, State};

use crate::bindings::r2::R2Bucket;
use crate::trace::now_ms;

/// What a job's object does on its two events (its fetch and its alarm).
pub struct JobObject {
    state: State,
    env: Env,
}

impl JobObject {
    fn sql(&self) -> worker::SqlStorage {
        self.state.storage().sql()
    }

    fn load(&self) -> Result<Option<Job>> {
        // The row read as a plain JS object: `to_array` would bring serde_wasm_bindgen's
        // deserializer into the bundle for one string.
        let mut cursor = self
            .sql()
            .exec("SELECT state FROM job WHERE id = 1", None)?;
        let Some(row) = Iterator::next(&mut cursor) else {
            return Ok(None);
        };
        let state = js_sys::Reflect::get(&row?, &"state".into())?
            .as_string()
            .ok_or_else(|| worker::Error::RustError("the job's row has no state".into()))?;
        Ok(Some(Job::from_json(state.as_bytes()).map_err(unreadable)?))
    }

    pub(super) fn save(&self, job: &Job) -> Result<()> {
        let text = job.to_json();
        self.sql().exec(
            "INSERT INTO job (id, state) VALUES (1, ?) \
             ON CONFLICT(id) DO UPDATE SET state = excluded.state",
            vec![text.into()],
        )?;
        Ok(())
    }

    pub(super) fn env(&self) -> &Env {
        &self.env
    }

    pub(super) fn job(&self) -> Result<Option<Job>> {
        self.load()
    }
}

impl JobObject {
    #[must_use]
    pub fn new(state: State, env: Env) -> Self {
        // One row: the job as JSON. Its webhook attempts are part of it.
        if let Err(e) = state.storage().sql().exec(
            "CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)",
            None,
        ) {
            worker::console_error!("job table: {e}");
        }
        JobObject { state, env }
    }

    /// The jobs Worker's calls (`store.rs`): create, get, and an event to apply.
    ///
    /// # Errors
    /// When the object's storage fails or a call's body does not read.
    pub async fn fetch(&self, req: Request) -> Result<Response> {
        let path = req.path();
        match path.as_str() {
            "/create" => {
                let text = crate::bindings::fetch::body_text(req.inner().text()).await?;
                let job = Job::from_json(text.as_bytes()).map_err(unreadable)?;
                if self.load()?.is_none() {
                    self.save(&job)?;
                    // Woken at its deadline, whatever happens to its messages.
                    self.wake_for(&job, None).await?;
                }
                Response::ok("")
            }
            "/get" => match self.load()? {
                Some(job) => json(job.to_json()),
                None => Response::error("no such job", 404),
            },
            "/event" => {
                let text = crate::bindings::fetch::body_text(req.inner().text()).await?;
                let event = JobEvent::from_json(text.as_bytes()).map_err(unreadable)?;
                let Some(mut job) = self.load()? else {
                    return Response::error("no such job", 404);
                };
                let applied = job.apply(&event, now_ms());
                self.save(&job)?;
                if applied.ended || matches!(event, JobEvent::Made { .. }) {
                    self.report_queued(&job).await;
                }
                if applied.ended {
                    self.delete_input(&job).await;
                }
                if applied.ended || applied.webhook_due {
                    // A message due is sent now; an ended job is deleted after its retention.
                    self.wake_for(&job, None).await?;
                }
                json(
                    AppliedJob {
                        job,
                        proceed: applied.proceed,
                        delivery: applied.delivery,
                    }
                    .to_json(),
                )
            }
            _ => Response::error("no such operation", 404),
        }
    }

    /// The job's deadline first (a job still running is failed, its webhook then due), then the
    /// webhook message due, then its deletion once its retention is over; it wakes again for
    /// whichever of these comes next (`Job::next_alarm_ms`).
    ///
    /// # Errors
    /// When the object's storage fails.
    pub async fn alarm(&self) -> Result<Response> {
        let lifetime = self.lifetime();
        if let Some(mut job) = self.load()? {
            if job.expire(now_ms(), lifetime.deadline_s).ended {
                self.save(&job)?;
                self.report_queued(&job).await;
                self.delete_input(&job).await;
            }
        }
        let retry_ms = super::webhook::deliver(self).await?;
        let Some(job) = self.load()? else {
            return Response::ok("");
        };
        if job
            .purge_at_ms(lifetime.retention_s)
            .is_some_and(|at| at <= now_ms())
        {
            // Its retention is over: the job is gone (404), its images stay in the cache.
            self.delete_input(&job).await;
            self.sql().exec("DELETE FROM job", None)?;
            return Response::ok("");
        }
        self.wake_for(&job, retry_ms).await?;
        Response::ok("")
    }
}

impl JobObject {
    /// `JOB_DEADLINE_S` and `JOB_RETENTION_S` (their defaults when the settings are
    /// unreadable: a job must still end, and its data still go).
    fn lifetime(&self) -> Lifetime {
        let config = crate::config::cached(&self.env);
        match config.as_ref() {
            Ok(c) => Lifetime {
                deadline_s: c.job_deadline_s,
                retention_s: c.job_retention_s,
            },
            Err(_) => Lifetime {
                deadline_s: DEFAULT_JOB_DEADLINE_S,
                retention_s: DEFAULT_JOB_RETENTION_S,
            },
        }
    }

    /// Sets the object's one alarm for what the job waits for next (`webhook_retry_ms` from now
    /// for a message whose attempt failed), or none.
    async fn wake_for(&self, job: &Job, webhook_retry_ms: Option<u64>) -> Result<()> {
        let now = now_ms();
        let storage = self.state.storage();
        match job.next_alarm_ms(now, self.lifetime(), webhook_retry_ms) {
            Some(at) => {
                let offset = i64::try_from(at.saturating_sub(now)).unwrap_or(i64::MAX);
                storage.set_alarm(offset).await
            }
            None => storage.delete_alarm().await,
        }
    }

    /// Tells the caller's queue how many images the job has still to make (`super::queued`);
    /// once it ended, settles its budget's reservation by the images it made.
    async fn report_queued(&self, job: &Job) {
        if let Some(caller) = &job.queued_by {
            super::queued::settle(&self.env, caller, &job.id, job.images_to_make()).await;
        }
        if let (true, Some(charged)) = (job.status.is_terminal(), job.charged.clone()) {
            crate::quota::settle(&self.env, charged.into(), job.images_made()).await;
        }
    }

    /// Deletes the job's stored input, if it has one: once the job ended no image needs it. A
    /// failure is logged, not fatal: the bucket's lifecycle rule is the backstop
    /// (docs/operating.md).
    async fn delete_input(&self, job: &Job) {
        let (Some(key), Some(bucket)) = (&job.input_key, R2Bucket::from_env(&self.env)) else {
            return;
        };
        if let Err(e) = bucket.delete(key).await {
            worker::console_error!("jobs: job {}'s input {key} not deleted: {e:?}", job.id);
        }
    }
}

/// A JSON answer, as `Response::from_json` made it (the text is written by hand: its serializer
/// would bring serde's code for the job back).
fn json(text: String) -> Result<Response> {
    let mut response = Response::ok(text)?;
    response
        .headers_mut()
        .set("content-type", "application/json")?;
    Ok(response)
}

/// A job's JSON that does not read: as serde_json's errors were, a `worker::Error`.
fn unreadable(e: JsonError) -> worker::Error {
    worker::Error::RustError(e.to_string())
}
