//! Each caller's budget (`sdxl_core::quota`), kept by a Durable Object of its own (`QUOTA`,
//! class `QuotaObject`, one per caller by name): strongly consistent, so concurrent runs of one
//! caller are checked against each other. A run reserves its cost before `AI.run` and settles it
//! after (spent when it ran, given back when it failed); cache hits and joined requests never
//! reach it (only `pipeline::AiModel::run` calls it).
//!
//! The class itself is declared by the gateway's crate (workers/gateway) over [`QuotaObject`].

use std::cell::RefCell;

use futures_util::future::LocalBoxFuture;

use sdxl_core::cost::Cost;
use sdxl_core::quota::{self, check, day_of, month_of, settled, Limit, Quota, Spent};
use sdxl_core::ApiError;
use worker::{Env, Request, Response, Result, State};

use crate::bindings::durable_object::{self, first_row, whole, ObjectCall};
use crate::failure::{Failure, Handled};

/// The Durable Object namespace of callers' budgets.
pub const QUOTA_BINDING: &str = "QUOTA";
/// A run's reservation never settled (its isolate died mid-run) stops counting after this long:
/// far past `AI_TIMEOUT_MS` and its retries. A job's counts until its deadline.
pub const RUN_RESERVATION_MS: u64 = 10 * 60 * 1000;

thread_local! {
    /// What each caller had spent and reserved when this isolate last asked its object: the
    /// `RateLimit` header of answers that did not ask (cache hits) says what was last known,
    /// rather than pay the object a round trip per hit.
    static LAST_SEEN: RefCell<Vec<(String, Spent)>> = const { RefCell::new(Vec::new()) };
}

/// What a caller's object does.
pub struct QuotaObject {
    state: State,
    env: Env,
}

impl QuotaObject {
    #[must_use]
    pub fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for table in [
            "CREATE TABLE IF NOT EXISTS spent (window TEXT NOT NULL, model TEXT NOT NULL, \
             images INTEGER NOT NULL, tile_steps INTEGER NOT NULL, nano_usd INTEGER NOT NULL, \
             PRIMARY KEY (window, model))",
            "CREATE TABLE IF NOT EXISTS reserved (id INTEGER PRIMARY KEY AUTOINCREMENT, \
             model TEXT NOT NULL, images INTEGER NOT NULL, tile_steps INTEGER NOT NULL, \
             nano_usd INTEGER NOT NULL, until_ms INTEGER NOT NULL)",
        ] {
            if let Err(e) = sql.exec(table, None) {
                worker::console_error!("quota table: {e}");
            }
        }
        QuotaObject { state, env }
    }

    /// `/reserve?caller&model&images&tile_steps&nano_usd&until_ms` (200 with the reservation's
    /// id and the spent counts; 429 with the limit and its reset), `/settle?id&made` (the images
    /// of the reservation that were made: their share of it is spent, the rest given back) and
    /// `/usage?caller` (JSON).
    ///
    /// # Errors
    /// When the object's storage fails.
    pub async fn fetch(&self, req: Request) -> Result<Response> {
        let call = ObjectCall::of(&req);
        let (param, number) = (|name| call.param(name), |name| call.number(name));
        let now = crate::trace::now_ms();
        let sql = self.state.storage().sql();
        match call.path.as_str() {
            "/reserve" => {
                let quota = self.quota_of(&param("caller"));
                let cost = Cost {
                    images: number("images"),
                    tile_steps: number("tile_steps"),
                    nano_usd: number("nano_usd"),
                };
                // No `await` from the read to the insert: concurrent runs are counted in turn.
                sql.exec(
                    "DELETE FROM reserved WHERE until_ms < ?",
                    vec![(now as f64).into()],
                )?;
                let spent = self.spent(now)?;
                if let Err(over) = check(&quota, &spent, cost, now) {
                    return Response::error(
                        format!("{} {}", over.limit.name(), over.retry_after_s),
                        429,
                    );
                }
                sql.exec(
                    "INSERT INTO reserved (model, images, tile_steps, nano_usd, until_ms) \
                     VALUES (?, ?, ?, ?, ?)",
                    vec![
                        param("model").into(),
                        (cost.images as f64).into(),
                        (cost.tile_steps as f64).into(),
                        (cost.nano_usd as f64).into(),
                        (number("until_ms") as f64).into(),
                    ],
                )?;
                let id = one_number(sql.exec("SELECT last_insert_rowid() AS n", None)?)?;
                Response::ok(format!("{id} {}", spent_text(&spent.reserving(cost))))
            }
            "/settle" => {
                let id = number("id") as f64;
                let mut reserved = sql.exec(
                    "SELECT model, images, tile_steps, nano_usd FROM reserved WHERE id = ?",
                    vec![id.into()],
                )?;
                // Gone already (settled twice, or expired): nothing to spend.
                if let Some(row) = Iterator::next(&mut reserved).transpose()? {
                    let model = js_sys::Reflect::get(&row, &"model".into())?
                        .as_string()
                        .unwrap_or_default();
                    let cost = Cost {
                        images: whole(&row, "images"),
                        tile_steps: whole(&row, "tile_steps"),
                        nano_usd: whole(&row, "nano_usd"),
                    };
                    let spent = settled(cost, number("made"));
                    if spent.images > 0 {
                        for window in [format!("d{}", day_of(now)), format!("m{}", month_of(now))] {
                            sql.exec(
                                "INSERT INTO spent (window, model, images, tile_steps, nano_usd) \
                                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (window, model) DO UPDATE SET \
                                 images = images + excluded.images, \
                                 tile_steps = tile_steps + excluded.tile_steps, \
                                 nano_usd = nano_usd + excluded.nano_usd",
                                vec![
                                    window.into(),
                                    model.clone().into(),
                                    (spent.images as f64).into(),
                                    (spent.tile_steps as f64).into(),
                                    (spent.nano_usd as f64).into(),
                                ],
                            )?;
                        }
                    }
                }
                sql.exec("DELETE FROM reserved WHERE id = ?", vec![id.into()])?;
                Response::ok(spent_text(&self.spent(now)?))
            }
            "/usage" => {
                let quota = self.quota_of(&param("caller"));
                let by_model = |window: String| -> Result<Vec<(String, Cost)>> {
                    let rows = sql.exec(
                        "SELECT model, images, tile_steps, nano_usd FROM spent WHERE window = ? \
                         ORDER BY model",
                        vec![window.into()],
                    )?;
                    rows.map(|row| {
                        let row = row?;
                        let get = |name| whole(&row, name);
                        let model = js_sys::Reflect::get(&row, &"model".into())?
                            .as_string()
                            .unwrap_or_default();
                        Ok((
                            model,
                            Cost {
                                images: get("images"),
                                tile_steps: get("tile_steps"),
                                nano_usd: get("nano_usd"),
                            },
                        ))
                    })
                    .collect()
                };
                let day = by_model(format!("d{}", day_of(now)))?;
                let month = by_model(format!("m{}", month_of(now)))?;
                Response::from_json(&quota::usage_json(&quota, &day, &month))
            }
            _ => Response::error("no such operation", 404),
        }
    }

    fn quota_of(&self, caller: &str) -> Quota {
        crate::config::cached(&self.env)
            .as_ref()
            .as_ref()
            .map(|c| c.quotas.of(caller))
            .unwrap_or_default()
    }

    /// Spent today and this month, the reservations under way counted in.
    fn spent(&self, now: u64) -> Result<Spent> {
        let sql = self.state.storage().sql();
        let sum = |window: String| -> Result<Cost> {
            let rows = sql.exec(
                "SELECT COALESCE(SUM(images), 0) AS images, COALESCE(SUM(nano_usd), 0) AS nano_usd \
                 FROM (SELECT images, nano_usd FROM spent WHERE window = ? \
                 UNION ALL SELECT images, nano_usd FROM reserved)",
                vec![window.into()],
            )?;
            let (images, nano_usd) = two_numbers(rows)?;
            Ok(Cost {
                images,
                tile_steps: 0,
                nano_usd,
            })
        };
        // Images under way: a job's reserved images count until they are made.
        let in_flight =
            one_number(sql.exec("SELECT COALESCE(SUM(images), 0) AS n FROM reserved", None)?)?;
        Ok(Spent {
            day: sum(format!("d{}", day_of(now)))?,
            month: sum(format!("m{}", month_of(now)))?,
            in_flight,
        })
    }
}

fn one_number(cursor: worker::SqlCursor) -> Result<u64> {
    Ok(whole(&first_row(cursor)?, "n"))
}

fn two_numbers(cursor: worker::SqlCursor) -> Result<(u64, u64)> {
    let row = first_row(cursor)?;
    Ok((whole(&row, "images"), whole(&row, "nano_usd")))
}

/// `images_day nano_usd_day images_month nano_usd_month in_flight`.
fn spent_text(spent: &Spent) -> String {
    format!(
        "{} {} {} {} {}",
        spent.day.images,
        spent.day.nano_usd,
        spent.month.images,
        spent.month.nano_usd,
        spent.in_flight
    )
}

fn spent_of<'a>(words: impl Iterator<Item = &'a str>) -> Option<Spent> {
    let n: Vec<u64> = words.map(|w| w.parse().ok()).collect::<Option<_>>()?;
    let [images_day, nano_usd_day, images_month, nano_usd_month, in_flight] = n[..] else {
        return None;
    };
    let cost = |images, nano_usd| Cost {
        images,
        tile_steps: 0,
        nano_usd,
    };
    Some(Spent {
        day: cost(images_day, nano_usd_day),
        month: cost(images_month, nano_usd_month),
        in_flight,
    })
}

/// One call to `caller`'s object. Boxed, as are [`reserve`] and [`settle`]: the run that awaits
/// them (`pipeline::AiModel::run`) then holds a pointer, not their state machines inlined into
/// its own, which weighed ~20 KiB of the gateway's bundle.
fn call(
    env: &Env,
    caller: String,
    query: String,
) -> LocalBoxFuture<'static, Handled<(u16, String)>> {
    let env = env.clone();
    Box::pin(async move {
        let req = crate::bindings::fetch::post(&format!("https://quota/{query}"), None, None)?;
        let response = durable_object::fetch_named(&env, QUOTA_BINDING, &caller, req.inner())
            .await
            .map_err(|thrown| match thrown {
                None => Failure::Misconfigured(format!(
                    "no {QUOTA_BINDING} binding (each caller's budget, QUOTAS: the jobs Worker's \
                     QuotaObject)"
                )),
                Some(e) => Failure::from(worker::Error::from(e)),
            })?;
        let status = response.status();
        let text = crate::bindings::fetch::body_text(response.text()).await?;
        Ok((status, text))
    })
}

/// Whether runs are charged: when the `QUOTA` binding is there (runs are then counted, limited
/// or not, so every caller can read its usage).
///
/// # Errors
/// `QUOTAS` sets limits but nothing could keep them: a misconfiguration, said at once rather
/// than leave every caller unlimited.
pub fn metered(env: &Env, config: &sdxl_core::config::Config) -> Handled<bool> {
    let bound = crate::bindings::binding(env, QUOTA_BINDING).is_some();
    if !bound && !config.quotas.is_unlimited() {
        return Err(Failure::Misconfigured(format!(
            "QUOTAS sets budgets, but there is no {QUOTA_BINDING} binding (the QuotaObject \
             Durable Object) to keep them"
        )));
    }
    Ok(bound)
}

/// A cost reserved against a caller's budget.
pub struct Reservation {
    pub caller: String,
    pub id: u64,
}

impl From<sdxl_core::jobs::job::Charged> for Reservation {
    fn from(charged: sdxl_core::jobs::job::Charged) -> Reservation {
        Reservation {
            caller: charged.caller,
            id: charged.reservation,
        }
    }
}

/// Reserves `cost` (one run, or a job's images) of `model` for `caller` until `until_ms`, or
/// refuses it (429, not worth retrying before its window resets).
pub fn reserve(
    env: &Env,
    caller: &str,
    model: &str,
    cost: Cost,
    until_ms: u64,
) -> LocalBoxFuture<'static, Handled<Reservation>> {
    let query = format!(
        "reserve?caller={}&model={}&images={}&tile_steps={}&nano_usd={}&until_ms={until_ms}",
        encode(caller),
        encode(model),
        cost.images,
        cost.tile_steps,
        cost.nano_usd
    );
    let answer = call(env, caller.to_owned(), query);
    let caller = caller.to_owned();
    Box::pin(async move {
        let (status, text) = answer.await?;
        let mut words = text.split(' ');
        let first = words.next().unwrap_or("");
        match status {
            200 => {
                remember(&caller, spent_of(words));
                Ok(Reservation {
                    id: first.parse().unwrap_or(0),
                    caller,
                })
            }
            429 => {
                let limit = [
                    Limit::ImagesPerDay,
                    Limit::UsdPerDay,
                    Limit::UsdPerMonth,
                    Limit::InFlight,
                ]
                .into_iter()
                .find(|l| first == l.name())
                .unwrap_or(Limit::ImagesPerDay);
                let retry_after_s = words.next().and_then(|w| w.parse().ok()).unwrap_or(60);
                Err(ApiError::OverQuota {
                    limit,
                    retry_after_s,
                }
                .into())
            }
            status => Err(Failure::Internal(format!(
                "the caller's budget answered {status}: {text}"
            ))),
        }
    })
}

/// Counts the `made` images of a reservation as spent and gives the rest back. A failure is
/// logged: the reservation stops counting at its `until_ms`.
pub fn settle(env: &Env, reservation: Reservation, made: u64) -> LocalBoxFuture<'static, ()> {
    let query = format!("settle?id={}&made={made}", reservation.id);
    let answer = call(env, reservation.caller.clone(), query);
    Box::pin(async move {
        match answer.await {
            Ok((200, text)) => remember(&reservation.caller, spent_of(text.split(' '))),
            _ => worker::console_error!("quota: reservation {} not settled", reservation.id),
        }
    })
}

/// `caller`'s usage, as `GET /v1/usage` answers it.
pub async fn usage(env: &Env, caller: &str) -> Handled<String> {
    let query = format!("usage?caller={}", encode(caller));
    let (status, text) = call(env, caller.to_owned(), query).await?;
    if status != 200 {
        return Err(Failure::Internal(format!(
            "the caller's budget answered {status}"
        )));
    }
    Ok(text)
}

/// Callers remembered in [`LAST_SEEN`]: the most recent first (a linear scan; a map's code
/// would weigh more than the callers one isolate sees at once).
const REMEMBERED: usize = 64;

fn remember(caller: &str, spent: Option<Spent>) {
    let Some(spent) = spent else { return };
    LAST_SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        seen.retain(|(c, _)| c != caller);
        seen.insert(0, (caller.to_owned(), spent));
        seen.truncate(REMEMBERED);
    });
}

/// The `RateLimit-Policy` and `RateLimit` headers of `caller`'s quota, as last seen here
/// (unspent when this isolate has not asked its object yet).
pub fn headers(quota: &Quota, caller: &str) -> Option<(String, String)> {
    let spent = LAST_SEEN.with(|seen| {
        seen.borrow()
            .iter()
            .find(|(c, _)| c == caller)
            .map(|(_, s)| *s)
            .unwrap_or_default()
    });
    quota::headers(quota, &spent, crate::trace::now_ms())
}

/// `text` for a URL's query: the few characters callers' ids and model ids hold are kept.
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
