//! Budgets per caller (`QUOTAS`): images per day, USD per day and per month, runs in flight.
//! A run is charged before it starts and settled after it: the budget's object (one per caller,
//! strongly consistent) checks what was spent and what is reserved against the caller's quota,
//! reserves the run's cost, and on settling counts it as spent, or gives it back when the run
//! failed. Windows are UTC days and months: they reset at 00:00 UTC, as Workers AI's daily
//! allocation does.
//!
//! Only runs are charged: a cache hit and a request that joined another's run cost nothing.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::access::AuthError;
use crate::config::Config;
use crate::cost::Cost;
use crate::request_head::RequestHead;

const DAY_MS: u64 = 86_400_000;

/// One caller's limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    pub images_per_day: Option<u64>,
    pub nano_usd_per_day: Option<u64>,
    pub nano_usd_per_month: Option<u64>,
    /// Runs under way at once.
    pub in_flight: Option<u64>,
}

/// What `QUOTAS` sets: a default, and quotas of named callers (a token's id, as logs name it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quotas {
    pub default: Quota,
    pub callers: Vec<(String, Quota)>,
}

/// A `QUOTAS` that does not read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("QUOTAS: {0}")]
pub struct QuotasError(String);

impl Quotas {
    /// `QUOTAS`: a JSON object whose members are `"default"` and callers' ids, each an object
    /// of `images_per_day`, `usd_per_day`, `usd_per_month`, `in_flight` (each optional).
    /// Empty: no limits.
    ///
    /// # Errors
    /// Not such an object.
    pub fn parse(text: &str) -> Result<Quotas, QuotasError> {
        if text.trim().is_empty() {
            return Ok(Quotas::default());
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| QuotasError(format!("not JSON: {e}")))?;
        let Value::Object(members) = value else {
            return Err(QuotasError("must be a JSON object".into()));
        };
        let mut quotas = Quotas::default();
        for (name, limits) in &members {
            let quota = quota_of(name, limits)?;
            if name == "default" {
                quotas.default = quota;
            } else {
                quotas.callers.push((name.clone(), quota));
            }
        }
        Ok(quotas)
    }

    /// The quota of `caller` (`token:<id>`, named in `QUOTAS` by its id; or `ip:<address>`,
    /// named as is): its own, else the default.
    #[must_use]
    pub fn of(&self, caller: &str) -> Quota {
        let name = caller.strip_prefix("token:").unwrap_or(caller);
        self.callers
            .iter()
            .find(|(n, _)| n == name)
            .map_or(self.default, |(_, q)| *q)
    }

    #[must_use]
    pub fn is_unlimited(&self) -> bool {
        self.default == Quota::default() && self.callers.is_empty()
    }
}

fn quota_of(name: &str, limits: &Value) -> Result<Quota, QuotasError> {
    let Value::Object(limits) = limits else {
        return Err(QuotasError(format!("{name:?} must be an object")));
    };
    let whole = |field: &str| -> Result<Option<u64>, QuotasError> {
        match limits.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| QuotasError(format!("{name}.{field} must be a whole number"))),
        }
    };
    let usd = |field: &str| -> Result<Option<u64>, QuotasError> {
        match limits.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Some(usd) if usd >= 0.0 && usd.is_finite() => Ok(Some((usd * 1e9).round() as u64)),
                _ => Err(QuotasError(format!(
                    "{name}.{field} must be a number of USD"
                ))),
            },
        }
    };
    if let Some(unknown) = limits.keys().find(|k| {
        ![
            "images_per_day",
            "usd_per_day",
            "usd_per_month",
            "in_flight",
        ]
        .contains(&k.as_str())
    }) {
        return Err(QuotasError(format!("{name}.{unknown} is no limit")));
    }
    Ok(Quota {
        images_per_day: whole("images_per_day")?,
        nano_usd_per_day: usd("usd_per_day")?,
        nano_usd_per_month: usd("usd_per_month")?,
        in_flight: whole("in_flight")?,
    })
}

/// What a caller has spent and reserved, in the current day and month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    pub day: Cost,
    pub month: Cost,
    /// Runs reserved and not yet settled.
    pub in_flight: u64,
}

impl Spent {
    /// What a caller's object reads once `cost` is reserved: counted in both windows, and its
    /// images in flight, until it is settled.
    #[must_use]
    pub fn reserving(self, cost: Cost) -> Spent {
        Spent {
            day: self.day.plus(cost),
            month: self.month.plus(cost),
            in_flight: self.in_flight + cost.images,
        }
    }
}

/// What a reservation of `reserved` spends when `made` of its images were made: each image its
/// equal share (the images of a job or of an OpenAI request all cost the same), rounded down;
/// the rest is given back. Nothing made (a failed run, a cache hit) spends nothing.
#[must_use]
pub fn settled(reserved: Cost, made: u64) -> Cost {
    let made = made.min(reserved.images);
    if made == 0 {
        return Cost::default();
    }
    let share = |total: u64| {
        u64::try_from(u128::from(total) * u128::from(made) / u128::from(reserved.images))
            .unwrap_or(u64::MAX)
    };
    Cost {
        images: made,
        tile_steps: share(reserved.tile_steps),
        nano_usd: share(reserved.nano_usd),
    }
}

/// Which limit a run would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    ImagesPerDay,
    UsdPerDay,
    UsdPerMonth,
    InFlight,
}

impl Limit {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Limit::ImagesPerDay => "images-per-day",
            Limit::UsdPerDay => "usd-per-day",
            Limit::UsdPerMonth => "usd-per-month",
            Limit::InFlight => "in-flight",
        }
    }
}

/// A run the quota does not allow: the limit, and when it is worth trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverQuota {
    pub limit: Limit,
    pub retry_after_s: u32,
}

/// Seconds a caller over its in-flight limit is told to wait: a run takes seconds.
pub const IN_FLIGHT_RETRY_AFTER_S: u32 = 5;

/// Whether `quota` allows a run costing `cost` (`spent` counting the reservations under way), at
/// `now_ms`.
///
/// # Errors
/// The first limit it would pass, with the seconds until that limit's window resets.
pub fn check(quota: &Quota, spent: &Spent, cost: Cost, now_ms: u64) -> Result<(), OverQuota> {
    let over = |limit: Option<u64>, used: u64, adding: u64| {
        limit.is_some_and(|l| used.saturating_add(adding) > l)
    };
    let day_reset = seconds_to_day_end(now_ms);
    let refusal = if over(quota.in_flight, spent.in_flight, 1) {
        Some((Limit::InFlight, IN_FLIGHT_RETRY_AFTER_S))
    } else if over(quota.images_per_day, spent.day.images, cost.images) {
        Some((Limit::ImagesPerDay, day_reset))
    } else if over(quota.nano_usd_per_day, spent.day.nano_usd, cost.nano_usd) {
        Some((Limit::UsdPerDay, day_reset))
    } else if over(
        quota.nano_usd_per_month,
        spent.month.nano_usd,
        cost.nano_usd,
    ) {
        Some((Limit::UsdPerMonth, seconds_to_month_end(now_ms)))
    } else {
        None
    };
    match refusal {
        Some((limit, retry_after_s)) => Err(OverQuota {
            limit,
            retry_after_s,
        }),
        None => Ok(()),
    }
}

/// The UTC day of `ms` (days since 1970-01-01).
#[must_use]
pub fn day_of(ms: u64) -> u64 {
    ms / DAY_MS
}

/// The UTC month of `ms` (months since January 1970).
#[must_use]
pub fn month_of(ms: u64) -> u64 {
    let (year, month) = year_month(day_of(ms));
    (year - 1970) * 12 + (month - 1)
}

/// Seconds until the next 00:00 UTC.
#[must_use]
pub fn seconds_to_day_end(ms: u64) -> u32 {
    let left = DAY_MS - ms % DAY_MS;
    u32::try_from(left.div_ceil(1000)).unwrap_or(u32::MAX)
}

/// Seconds until 00:00 UTC on the first of next month.
#[must_use]
pub fn seconds_to_month_end(ms: u64) -> u32 {
    let next = month_of(ms) + 1;
    let start = days_from_civil(1970 + next / 12, next % 12 + 1) * DAY_MS;
    u32::try_from((start - ms).div_ceil(1000)).unwrap_or(u32::MAX)
}

/// (year, month 1-12) of a day since 1970-01-01 (Howard Hinnant's civil-from-days).
fn year_month(days: u64) -> (u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month)
}

/// Days since 1970-01-01 of the first of `month` (1-12) in `year`.
fn days_from_civil(year: u64, month: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The IETF `RateLimit-Policy` and `RateLimit` header values of `quota` given `spent`
/// (draft-ietf-httpapi-ratelimit-headers): one item per limit set. `None` when none is.
#[must_use]
pub fn headers(quota: &Quota, spent: &Spent, now_ms: u64) -> Option<(String, String)> {
    let day = seconds_to_day_end(now_ms);
    let items = [
        (
            Limit::ImagesPerDay,
            quota.images_per_day,
            spent.day.images,
            86_400,
            day,
            "images",
        ),
        (
            Limit::UsdPerDay,
            quota.nano_usd_per_day,
            spent.day.nano_usd,
            86_400,
            day,
            "nano-usd",
        ),
        (
            Limit::UsdPerMonth,
            quota.nano_usd_per_month,
            spent.month.nano_usd,
            2_592_000,
            seconds_to_month_end(now_ms),
            "nano-usd",
        ),
    ];
    let mut policy = String::new();
    let mut state = String::new();
    for (limit, quota, used, window, reset, unit) in items {
        let Some(quota) = quota else { continue };
        if !policy.is_empty() {
            policy.push_str(", ");
            state.push_str(", ");
        }
        let name = limit.name();
        let _ = write!(policy, "\"{name}\";q={quota};w={window};qu=\"{unit}\"");
        let _ = write!(
            state,
            "\"{name}\";r={};t={reset}",
            quota.saturating_sub(used)
        );
    }
    (!policy.is_empty()).then_some((policy, state))
}

/// Whose usage `GET /usage` answers, and under which key its asker is rate limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSubject {
    pub caller: String,
    pub rate_key: String,
}

/// The asker's own usage; or, with `?caller=<caller>` (`token:<id>` as the log line and the
/// analytics name it, or `ip:<address>`) and a bearer token of `ADMIN_TOKENS`, that caller's:
/// how the operator reads any token's spending without a code change. Budgets themselves are set
/// in configuration (`QUOTAS`).
///
/// # Errors
/// The asker's credentials do not allow it.
pub fn usage_subject(head: &RequestHead, config: &Config) -> Result<UsageSubject, AuthError> {
    let asked = head.query.as_deref().and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "caller")
            .map(|(_, caller)| caller.into_owned())
    });
    let Some(caller) = asked else {
        let caller = head.caller(config)?;
        return Ok(UsageSubject {
            rate_key: caller.clone(),
            caller,
        });
    };
    if config.admin_tokens.is_empty() {
        return Err(AuthError::NoAdminToken);
    }
    let admin = config.admin_tokens.check(head.authorization.as_deref())?;
    Ok(UsageSubject {
        caller,
        rate_key: format!("admin:{admin}"),
    })
}

/// A caller's usage as the usage route answers it: its quota, and what it spent today and this
/// month, by model.
#[must_use]
pub fn usage_json(quota: &Quota, day: &[(String, Cost)], month: &[(String, Cost)]) -> Value {
    let total = |rows: &[(String, Cost)]| rows.iter().fold(Cost::default(), |a, (_, c)| a.plus(*c));
    let window = |rows: &[(String, Cost)]| {
        let mut by_model = Map::new();
        for (model, cost) in rows {
            by_model.insert(model.clone(), cost_json(*cost));
        }
        let mut w = match cost_json(total(rows)) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        w.insert("by_model".into(), Value::Object(by_model));
        Value::Object(w)
    };
    let usd = |n: Option<u64>| {
        n.map_or(Value::Null, |n| {
            Value::String(
                Cost {
                    nano_usd: n,
                    ..Cost::default()
                }
                .usd(),
            )
        })
    };
    serde_json::json!({
        "quota": {
            "images_per_day": quota.images_per_day,
            "usd_per_day": usd(quota.nano_usd_per_day),
            "usd_per_month": usd(quota.nano_usd_per_month),
            "in_flight": quota.in_flight,
        },
        "today": window(day),
        "this_month": window(month),
        "resets": "00:00 UTC (days and months)",
    })
}

fn cost_json(cost: Cost) -> Value {
    serde_json::json!({
        "images": cost.images,
        "tile_steps": cost.tile_steps,
        "usd": cost.usd(),
    })
}

#[cfg(test)]
mod tests;
