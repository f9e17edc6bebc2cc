//! Each caller's queued images (`sdxl_core::jobs::queued`), kept by a Durable Object of its own
//! (`CALLERS`, class `CallerObject`, one per caller by name): a create asks it to admit the job's
//! images, and the job's object tells it how many the job has still to make as images are made
//! and when the job ends. A row counts until the job's deadline only, so a report that never
//! arrives cannot hold a caller's queue full.
//!
//! The class itself is declared by the jobs Worker's crate (workers/jobs) over [`CallerObject`],
//! as the job's object is.

use sdxl_core::jobs::queued::admit;
use sdxl_core::ApiError;
use worker::{Env, Request, Response, Result, State};

use crate::bindings::durable_object::{self, first_row, whole, ObjectCall};
use crate::failure::{Failure, Handled};
use crate::trace::now_ms;

/// The Durable Object namespace of callers' queues.
pub const CALLERS_BINDING: &str = "CALLERS";

/// What a caller's object does.
pub struct CallerObject {
    state: State,
}

impl CallerObject {
    #[must_use]
    pub fn new(state: State, _env: Env) -> Self {
        if let Err(e) = state.storage().sql().exec(
            "CREATE TABLE IF NOT EXISTS queued (job TEXT PRIMARY KEY, images INTEGER NOT NULL, \
             until_ms INTEGER NOT NULL)",
            None,
        ) {
            worker::console_error!("queued table: {e}");
        }
        CallerObject { state }
    }

    /// `/admit?job&images&until_ms&cap` (200, or 429 with the images queued) and
    /// `/settle?job&images` (the images the job has still to make; 0 removes it).
    ///
    /// # Errors
    /// When the object's storage fails.
    pub async fn fetch(&self, req: Request) -> Result<Response> {
        let call = ObjectCall::of(&req);
        let (param, number) = (|name| call.param(name), |name| call.number(name));
        let sql = self.state.storage().sql();
        let now = now_ms();
        match call.path.as_str() {
            "/admit" => {
                // No `await` between the count and the insert: two creates cannot both pass.
                sql.exec(
                    "DELETE FROM queued WHERE until_ms <= ?",
                    vec![(now as f64).into()],
                )?;
                let queued = self.queued()?;
                let images = u32::try_from(number("images")).unwrap_or(u32::MAX);
                let cap = u32::try_from(number("cap")).unwrap_or(u32::MAX);
                if admit(queued, images, cap).is_err() {
                    return Response::error(queued.to_string(), 429);
                }
                sql.exec(
                    "INSERT OR REPLACE INTO queued (job, images, until_ms) VALUES (?, ?, ?)",
                    vec![
                        param("job").into(),
                        f64::from(images).into(),
                        (number("until_ms") as f64).into(),
                    ],
                )?;
                Response::ok("")
            }
            "/settle" => {
                if number("images") == 0 {
                    sql.exec(
                        "DELETE FROM queued WHERE job = ?",
                        vec![param("job").into()],
                    )?;
                } else {
                    sql.exec(
                        "UPDATE queued SET images = ? WHERE job = ?",
                        vec![(number("images") as f64).into(), param("job").into()],
                    )?;
                }
                Response::ok("")
            }
            _ => Response::error("no such operation", 404),
        }
    }

    /// The images queued now (rows past their deadline deleted first).
    fn queued(&self) -> Result<u64> {
        let sql = self.state.storage().sql();
        let row = first_row(sql.exec("SELECT COALESCE(SUM(images), 0) AS n FROM queued", None)?)?;
        Ok(whole(&row, "n"))
    }
}

async fn call(env: &Env, caller: &str, query: &str) -> Handled<web_sys::Response> {
    let req = crate::bindings::fetch::post(&format!("https://caller/{query}"), None, None)?;
    durable_object::fetch_named(env, CALLERS_BINDING, caller, req.inner())
        .await
        .map_err(|thrown| match thrown {
            None => Failure::Misconfigured(format!(
                "no {CALLERS_BINDING} binding (each caller's queued images, MAX_QUEUED_IMAGES)"
            )),
            Some(e) => Failure::from(worker::Error::from(e)),
        })
}

/// Admits `images` of job `job` to `caller`'s queue until `until_ms`, or refuses them (429).
pub async fn admit_job(
    env: &Env,
    caller: &str,
    job: &str,
    images: u32,
    until_ms: u64,
    cap: u32,
) -> Handled<()> {
    let query = format!("admit?job={job}&images={images}&until_ms={until_ms}&cap={cap}");
    let response = call(env, caller, &query).await?;
    match response.status() {
        200 => Ok(()),
        429 => {
            let queued = crate::bindings::fetch::body_text(response.text()).await?;
            Err(ApiError::QueueFull {
                queued: queued.parse().unwrap_or(u64::from(cap)),
                adding: images,
                cap,
            }
            .into())
        }
        status => Err(Failure::Internal(format!(
            "the caller's queue answered {status}"
        ))),
    }
}

/// Tells `caller`'s queue that `job` has `images` still to make (0: none, it ended). A failure is
/// logged: the row stops counting at the job's deadline anyway.
pub async fn settle(env: &Env, caller: &str, job: &str, images: u32) {
    let query = format!("settle?job={job}&images={images}");
    if call(env, caller, &query).await.is_err() {
        worker::console_error!("jobs: the caller's queue was not told of job {job}");
    }
}
