//! The stand-in's memory: how many runs it has served, and the behaviours tests have armed.
//!
//! Behaviours are armed per prompt (a substring to match), so tests running side by side never
//! trip each other's faults, and counters are kept per prompt for the same reason.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::codec::OutputFormat;
use crate::multipart::Received;

/// What a run does instead of (or besides) answering normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Throw `3040: Capacity temporarily exceeded, please try again.`
    Capacity,
    /// Throw `3036: ...`: the account's daily allocation is spent (not worth retrying).
    Allocation,
    /// Throw `5006: ...` as if the service refused inputs the gateway accepted.
    BadInput,
    /// Wait `delay_ms`, then throw `3007: ...`.
    Timeout,
    /// Wait `delay_ms`, then answer normally (a slow model, for concurrency tests).
    Slow,
    /// Send the first half of the image, then fail the stream.
    CutShort,
    /// Send the first half of the image and close the stream as if it were all.
    Truncated,
    /// Answer bytes that are no image.
    NotImage,
    /// Answer JPEG whatever the configured format.
    Jpeg,
    /// Answer PNG whatever the configured format.
    Png,
}

impl Behaviour {
    #[must_use]
    pub fn format(self) -> Option<OutputFormat> {
        match self {
            Behaviour::Jpeg => Some(OutputFormat::Jpeg),
            Behaviour::Png => Some(OutputFormat::Png),
            _ => None,
        }
    }
}

/// `POST /__standin/arm` body.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ArmRequest {
    /// Runs whose prompt contains this text are affected.
    pub prompt_contains: String,
    pub behaviour: Behaviour,
    /// How many runs it affects; 0 means every run until disarmed. Default 1.
    #[serde(default = "one")]
    pub times: u32,
    /// For `timeout`: how long to hang first. Default 30 s.
    #[serde(default = "thirty_seconds")]
    pub delay_ms: u32,
}

fn one() -> u32 {
    1
}

fn thirty_seconds() -> u32 {
    30_000
}

/// What one run should do, decided when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunPlan {
    pub fault: Option<(Behaviour, u32)>,
    pub format: Option<OutputFormat>,
}

/// `GET /__standin/stats` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Every call of `run` that passed validation.
    pub runs: u64,
    /// Runs for the prompt asked about (0 when none was asked).
    pub prompt_runs: u64,
    /// The options argument (`{gateway: ...}`) of the prompt's last run, if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_options: Option<serde_json::Value>,
    /// What the prompt's last multipart run (FLUX.2) received, whether or not it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_multipart: Option<Received>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    runs: u64,
    runs_by_prompt: HashMap<String, u64>,
    options_by_prompt: HashMap<String, serde_json::Value>,
    multipart_by_prompt: HashMap<String, Received>,
    armed: Vec<ArmRequest>,
}

impl Ledger {
    pub fn arm(&mut self, request: ArmRequest) {
        self.armed.push(request);
    }

    pub fn disarm_all(&mut self) {
        self.armed.clear();
    }

    /// Keeps the options argument of a run for `prompt`, so tests can see what was passed.
    pub fn note_options(&mut self, prompt: &str, options: Option<serde_json::Value>) {
        match options {
            Some(options) => self.options_by_prompt.insert(prompt.to_owned(), options),
            None => self.options_by_prompt.remove(prompt),
        };
    }

    /// Keeps what a multipart run for `prompt` received, as soon as its form is read, so tests
    /// can see what was sent even when the run is refused.
    pub fn note_multipart(&mut self, prompt: &str, received: Received) {
        self.multipart_by_prompt.insert(prompt.to_owned(), received);
    }

    /// Counts a run for `prompt` and consumes the behaviours armed for it.
    pub fn start_run(&mut self, prompt: &str) -> RunPlan {
        self.runs += 1;
        *self.runs_by_prompt.entry(prompt.to_owned()).or_default() += 1;
        let mut plan = RunPlan::default();
        self.armed.retain_mut(|armed| {
            if !prompt.contains(armed.prompt_contains.as_str()) {
                return true;
            }
            let applied = match armed.behaviour.format() {
                Some(format) if plan.format.is_none() => {
                    plan.format = Some(format);
                    true
                }
                None if plan.fault.is_none() => {
                    plan.fault = Some((armed.behaviour, armed.delay_ms));
                    true
                }
                _ => false,
            };
            if applied && armed.times > 0 {
                armed.times -= 1;
                return armed.times > 0; // used up: drop it
            }
            true
        });
        plan
    }

    #[must_use]
    pub fn stats(&self, prompt: Option<&str>) -> Stats {
        Stats {
            runs: self.runs,
            prompt_runs: prompt
                .and_then(|p| self.runs_by_prompt.get(p))
                .copied()
                .unwrap_or(0),
            last_options: prompt.and_then(|p| self.options_by_prompt.get(p).cloned()),
            last_multipart: prompt.and_then(|p| self.multipart_by_prompt.get(p).cloned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(ledger: &mut Ledger, prompt_contains: &str, behaviour: Behaviour, times: u32) {
        ledger.arm(ArmRequest {
            prompt_contains: prompt_contains.into(),
            behaviour,
            times,
            delay_ms: 5,
        });
    }

    #[test]
    fn counts_runs_in_total_and_per_prompt() {
        let mut l = Ledger::default();
        l.start_run("a cat");
        l.start_run("a cat");
        l.start_run("a dog");
        assert_eq!(
            l.stats(Some("a cat")),
            Stats {
                runs: 3,
                prompt_runs: 2,
                last_options: None,
                last_multipart: None
            }
        );
        assert_eq!(
            l.stats(Some("a fox")),
            Stats {
                runs: 3,
                prompt_runs: 0,
                last_options: None,
                last_multipart: None
            }
        );
        assert_eq!(l.stats(None).prompt_runs, 0);
    }

    #[test]
    fn a_multipart_record_is_kept_per_prompt_and_replaced_by_the_next() {
        let mut l = Ledger::default();
        let received = |fields: &[&str]| Received {
            content_type: "multipart/form-data; boundary=b".into(),
            boundary: true,
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            files: Vec::new(),
        };
        l.note_multipart("a fox", received(&["prompt"]));
        l.note_multipart("a fox", received(&["prompt", "seed"]));
        l.note_multipart("a cat", received(&["prompt", "steps"]));
        let kept = l.stats(Some("a fox")).last_multipart.unwrap();
        assert_eq!(kept.fields, ["prompt", "seed"]);
        assert_eq!(l.stats(Some("a dog")).last_multipart, None);
        let json = serde_json::to_value(l.stats(Some("a cat"))).unwrap();
        assert_eq!(json["last_multipart"]["fields"][1], "steps");
        assert!(serde_json::to_value(l.stats(None))
            .unwrap()
            .get("last_multipart")
            .is_none());
    }

    #[test]
    fn armed_faults_hit_matching_prompts_only_and_wear_out() {
        let mut l = Ledger::default();
        arm(&mut l, "[fail-me]", Behaviour::Capacity, 1);
        assert_eq!(l.start_run("other").fault, None);
        assert_eq!(
            l.start_run("x [fail-me]").fault,
            Some((Behaviour::Capacity, 5))
        );
        assert_eq!(
            l.start_run("x [fail-me]").fault,
            None,
            "used up after one run"
        );
    }

    #[test]
    fn times_zero_lasts_until_disarmed() {
        let mut l = Ledger::default();
        arm(&mut l, "j", Behaviour::Jpeg, 0);
        for _ in 0..3 {
            assert_eq!(l.start_run("jpeg please").format, Some(OutputFormat::Jpeg));
        }
        l.disarm_all();
        assert_eq!(l.start_run("jpeg please").format, None);
    }

    #[test]
    fn a_format_and_a_fault_can_apply_together() {
        let mut l = Ledger::default();
        arm(&mut l, "p", Behaviour::Jpeg, 1);
        arm(&mut l, "p", Behaviour::CutShort, 1);
        let plan = l.start_run("p");
        assert_eq!(plan.format, Some(OutputFormat::Jpeg));
        assert_eq!(plan.fault, Some((Behaviour::CutShort, 5)));
    }

    #[test]
    fn arm_request_defaults() {
        let r: ArmRequest =
            serde_json::from_str(r#"{"prompt_contains":"x","behaviour":"not_image"}"#).unwrap();
        assert_eq!(
            (r.behaviour, r.times, r.delay_ms),
            (Behaviour::NotImage, 1, 30_000)
        );
        assert!(serde_json::from_str::<ArmRequest>(
            r#"{"prompt_contains":"x","behaviour":"nope"}"#
        )
        .is_err());
    }
}
