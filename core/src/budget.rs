//! The isolate's memory budget: the bytes that requests in flight hold, in the JS heap and in
//! Wasm memory together, counted *before* they are allocated.
//!
//! An isolate has 128 MB for both, serves many requests at once, and is killed — with every
//! request in it — when it goes over; Wasm memory never shrinks, so a burst would also leave its
//! high-water mark for the isolate's life. So each request holds a [`Hold`] sized by the
//! estimate of the phase it is in ([`Phase`]), taken before the phase allocates, and a request
//! that would push the total over the limit is refused at once (503 with `Retry-After`).
//!
//! The estimates are upper bounds of what the code allocates, phase by phase; docs/operating.md's
//! "Memory" section gives the arithmetic and BENCHMARKS.md the measurements that check it.

use std::cell::Cell;
use std::rc::Rc;

use thiserror::Error;

use crate::config::ImageEncoding;
use crate::inputs::{InputValue, Normalized};
use crate::model::Input;

const MIB: u64 = 1024 * 1024;

/// What an isolate may hold in all, JS heap and Wasm memory together (Cloudflare's limit).
pub const ISOLATE_BYTES: u64 = 128 * MIB;
/// What an idle isolate of this Worker already holds: the Wasm module's memory after its first
/// requests, the JS glue, the runtime's own objects (measured: BENCHMARKS.md, "Memory").
pub const BASELINE_BYTES: u64 = 8 * MIB;
/// Room left for what is not counted per request: garbage the JS engine has not collected yet,
/// allocator fragmentation, the documents served from memory.
pub const HEADROOM_BYTES: u64 = 24 * MIB;
/// Working memory of one request besides its data and its parser: headers, small fields, the
/// answer's envelope.
pub const WORKING_BYTES: u64 = 128 * 1024;

/// The JSON parser's buffers for a body of `body` bytes: its window, the window the counting
/// pass reads through, and serde_json's read buffer (`crate::parse`), none larger than the body.
#[must_use]
pub fn parser_bytes(body: u64) -> u64 {
    let window = crate::parse::windowed::WINDOW as u64;
    2 * body.min(window) + body.min(64 * 1024)
}

/// The default budget: the isolate, less its baseline, the memory cache tier and headroom.
#[must_use]
pub fn default_budget(memory_cache_bytes: u64) -> u64 {
    ISOLATE_BYTES
        .saturating_sub(BASELINE_BYTES)
        .saturating_sub(memory_cache_bytes)
        .saturating_sub(HEADROOM_BYTES)
}

/// The largest body whose every phase fits in `budget` on its own, rounded down to a MiB: the
/// default `MAX_BODY_BYTES`.
#[must_use]
pub fn default_max_body(budget: u64) -> u64 {
    let fits = |body: u64| Phase::worst_reading(body).bytes() <= budget;
    let mut mib = budget / MIB;
    while mib > 0 && !fits(mib * MIB) {
        mib -= 1;
    }
    mib * MIB
}

/// A phase of a request, with what it holds at its peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and parsing a JSON body of `body` bytes by the fast path: the body in the JS heap,
    /// the decoded images in Wasm memory (at most 3/4 of the body: base64; arrays at most 1/2).
    /// Not counted here: when the engine decodes `image_b64` (`src/request_body.rs`), the rest
    /// of the body as a JS string, at most the body, for the parse's duration. The parse is
    /// synchronous, so one request at a time holds it: [`HEADROOM_BYTES`] is at least the
    /// default body limit (a test). Past the parse only a text kept to be sent to the model
    /// lives on (`InputImage::text`: the image's base64, at most 4 MiB, with at most 64 KiB
    /// after it in the body), counted here as part of the body, then as [`Phase::Run`]'s text.
    JsonFast { body: u64 },
    /// Parsing a JSON body that left the fast path: serde_json holds its longest string in a
    /// buffer that grows by doubling (2x), hands it over as a `String` (1x), and `image_b64` is
    /// then decoded (3/4).
    JsonWhole { body: u64 },
    /// A multipart or url-encoded body, parsed by the runtime: the body, the runtime's parts, and
    /// their copies in Wasm memory; a base64 text part is decoded too (3/4).
    Form { body: u64 },
    /// The model run: the input images (`image_bytes`, in Wasm memory), their text for `AI.run`
    /// and the binding's serialization of it (4/3 each as base64; as number arrays, the JS array
    /// at 8 bytes a number and its JSON at 4), and the answer, at most `output_bytes`.
    Run {
        image_bytes: u64,
        as_arrays: bool,
        output_bytes: u64,
    },
    /// The model run of a model that takes a form (FLUX.2): the input images (`image_bytes`,
    /// every reference image together, in Wasm memory), the body the runtime makes of them (a
    /// `Blob`: each image copied once) and what the binding reads of its stream to send (at most
    /// the body again), and the answer, at most `output_bytes`.
    FormRun { image_bytes: u64, output_bytes: u64 },
}

impl Phase {
    /// The phase of reading a body of `body` bytes that holds the most, whatever its shape.
    #[must_use]
    pub fn worst_reading(body: u64) -> Phase {
        [
            Phase::JsonFast { body },
            Phase::JsonWhole { body },
            Phase::Form { body },
        ]
        .into_iter()
        .max_by_key(|p| p.bytes())
        .unwrap_or(Phase::JsonWhole { body })
    }

    /// The bytes the phase holds at its peak.
    #[must_use]
    pub fn bytes(self) -> u64 {
        let three_quarters = |n: u64| n / 4 * 3 + 3;
        let data = match self {
            Phase::JsonFast { body } => body + three_quarters(body) + parser_bytes(body),
            Phase::JsonWhole { body } => {
                body + 3 * body + three_quarters(body) + parser_bytes(body)
            }
            Phase::Form { body } => 3 * body + three_quarters(body),
            Phase::Run {
                image_bytes,
                as_arrays,
                output_bytes,
            } => {
                let for_ai_run = if as_arrays {
                    image_bytes * (8 + 4)
                } else {
                    2 * (image_bytes / 3 * 4 + 4)
                };
                image_bytes + for_ai_run + output_bytes
            }
            Phase::FormRun {
                image_bytes,
                output_bytes,
            } => 3 * image_bytes + output_bytes,
        };
        data + WORKING_BYTES
    }
}

impl Phase {
    /// What the model run of `request` holds: every input image (all four of a FLUX.2 request
    /// with four, not the first), sent as `encoding` says or as a form, and the answer, at most
    /// an uncompressed image of the requested size (1024x1024 for a model that takes none).
    #[must_use]
    pub fn run_of(request: &Normalized, encoding: ImageEncoding) -> Phase {
        let image_bytes = request
            .inputs
            .iter()
            .filter_map(|(_, v)| match v {
                InputValue::Image(image) => Some(image.bytes.len() as u64),
                _ => None,
            })
            .sum();
        let side = |name| {
            request
                .inputs
                .integer(name)
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(1024)
        };
        let output_bytes = output_bound(side("width"), side("height"));
        match request.model.input {
            Input::Multipart => Phase::FormRun {
                image_bytes,
                output_bytes,
            },
            Input::Json => Phase::Run {
                image_bytes,
                as_arrays: encoding == ImageEncoding::Array,
                output_bytes,
            },
        }
    }
}

/// The most bytes a model's answer of `width` x `height` can take: the image models answer RGB
/// (PNG or JPEG), so an uncompressed RGB PNG, and room for its chunks. (A 1024x1024 answer of
/// SDXL-Lightning is typically 1.2-1.6 MB; this holds 3 MiB for it.)
#[must_use]
pub fn output_bound(width: u64, height: u64) -> u64 {
    width * height * 3 + 64 * 1024
}

/// Why a request was refused: what it needed and what was free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("this isolate is busy: the request needs {wanted} bytes of memory and {free} of {limit} are free")]
pub struct OverBudget {
    pub wanted: u64,
    pub free: u64,
    pub limit: u64,
}

/// The bytes held by requests in flight in one isolate.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    held: Cell<u64>,
    peak: Cell<u64>,
    refused: Cell<u64>,
}

impl MemoryBudget {
    #[must_use]
    pub fn new(limit: u64) -> Rc<MemoryBudget> {
        Rc::new(MemoryBudget {
            limit,
            held: Cell::new(0),
            peak: Cell::new(0),
            refused: Cell::new(0),
        })
    }

    #[must_use]
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes held now.
    #[must_use]
    pub fn held(&self) -> u64 {
        self.held.get()
    }

    /// The most bytes ever held at once.
    #[must_use]
    pub fn peak(&self) -> u64 {
        self.peak.get()
    }

    /// How many holds were refused.
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.refused.get()
    }

    /// Holds `bytes` for the phase `phase` of one request, if they fit.
    ///
    /// # Errors
    /// [`OverBudget`] when they do not; nothing is held then.
    pub fn hold(self: &Rc<Self>, phase: Phase) -> Result<Hold, OverBudget> {
        let mut hold = Hold {
            budget: Rc::clone(self),
            bytes: 0,
        };
        hold.resize(phase)?;
        Ok(hold)
    }

    fn take(&self, more: u64) -> Result<(), OverBudget> {
        let held = self.held.get();
        if held.saturating_add(more) > self.limit {
            self.refused.set(self.refused.get() + 1);
            return Err(OverBudget {
                wanted: more,
                free: self.limit.saturating_sub(held),
                limit: self.limit,
            });
        }
        self.held.set(held + more);
        self.peak.set(self.peak.get().max(held + more));
        Ok(())
    }

    fn give_back(&self, bytes: u64) {
        self.held.set(self.held.get().saturating_sub(bytes));
    }
}

/// One request's share of the budget; given back when dropped (the request ended, however).
#[derive(Debug)]
pub struct Hold {
    budget: Rc<MemoryBudget>,
    bytes: u64,
}

impl Hold {
    /// Moves to the next phase: gives back what the last one held beyond it, or takes what it
    /// needs more, if that fits.
    ///
    /// # Errors
    /// [`OverBudget`]; the hold then keeps what it had.
    pub fn resize(&mut self, phase: Phase) -> Result<(), OverBudget> {
        let wanted = phase.bytes();
        if wanted > self.bytes {
            self.budget.take(wanted - self.bytes)?;
        } else {
            self.budget.give_back(self.bytes - wanted);
        }
        self.bytes = wanted;
        Ok(())
    }

    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_refused_past_the_limit_and_given_back_on_drop() {
        let budget = MemoryBudget::new(10 * MIB);
        let first = budget.hold(Phase::JsonFast { body: 4 * MIB }).unwrap();
        assert_eq!(
            first.bytes(),
            4 * MIB + 3 * MIB + 3 + 2 * 256 * 1024 + 64 * 1024 + WORKING_BYTES
        );
        let refused = budget.hold(Phase::JsonFast { body: 4 * MIB }).unwrap_err();
        assert_eq!(refused.free, 10 * MIB - first.bytes());
        assert_eq!(budget.refused(), 1);
        assert_eq!(budget.held(), first.bytes(), "a refusal holds nothing");
        drop(first);
        assert_eq!(budget.held(), 0);
        assert!(budget.hold(Phase::JsonFast { body: 4 * MIB }).is_ok());
        assert_eq!(budget.held(), 0, "the hold above was dropped at once");
        assert_eq!(budget.peak(), first_bytes(4 * MIB));
    }

    fn first_bytes(body: u64) -> u64 {
        Phase::JsonFast { body }.bytes()
    }

    #[test]
    fn requests_without_images_hold_little() {
        // A text-only request for a 1024x1024 image: its answer and its working memory.
        let run = Phase::Run {
            image_bytes: 0,
            as_arrays: false,
            output_bytes: output_bound(1024, 1024),
        };
        assert!(run.bytes() < 3 * MIB + MIB / 4, "{}", run.bytes());
        assert!(Phase::JsonFast { body: 60 }.bytes() < WORKING_BYTES + 1024);
    }

    #[test]
    fn a_hold_moves_between_phases() {
        let budget = MemoryBudget::new(40 * MIB);
        let mut hold = budget.hold(Phase::JsonFast { body: 8 * MIB }).unwrap();
        let other = budget.hold(Phase::JsonFast { body: 2 * MIB }).unwrap();
        // Parsing left the fast path: 4.75x the body does not fit beside the other request.
        assert!(hold.resize(Phase::JsonWhole { body: 8 * MIB }).is_err());
        assert_eq!(hold.bytes(), Phase::JsonFast { body: 8 * MIB }.bytes());
        let run = Phase::Run {
            image_bytes: 2 * MIB,
            as_arrays: false,
            output_bytes: output_bound(1024, 1024),
        };
        hold.resize(run).unwrap();
        assert_eq!(budget.held(), run.bytes() + other.bytes());
    }

    #[test]
    fn the_default_body_limit_fits_its_worst_phase() {
        let budget = default_budget(16 * MIB);
        assert_eq!(budget, 80 * MIB);
        let max = default_max_body(budget);
        assert_eq!(max, 16 * MIB);
        assert!(Phase::worst_reading(max).bytes() <= budget);
        assert!(Phase::worst_reading(max + MIB).bytes() > budget);
        // The one transient no phase counts (see `Phase::JsonFast`) fits in the headroom.
        assert!(max <= HEADROOM_BYTES);
        // A max-size image_b64 request's run fits too: 3/4 of the body decoded, at 2048x2048.
        let run = Phase::Run {
            image_bytes: max / 4 * 3,
            as_arrays: false,
            output_bytes: output_bound(2048, 2048),
        };
        assert!(run.bytes() <= budget, "{} > {budget}", run.bytes());
    }

    #[test]
    fn every_reference_image_of_a_form_run_is_counted() {
        use crate::models::FLUX_2_DEV;
        const PNG: &[u8] = include_bytes!("../../tests/fixtures/photo-256.png");
        let one = vec![PNG; 1];
        let four = vec![PNG; 4];
        let run = |images: &[&[u8]]| {
            let b64 =
                |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
            let body = serde_json::json!({
                "prompt": "p", "width": 1920, "height": 1920,
                "images": images.iter().map(|i| b64(i)).collect::<Vec<_>>(),
            });
            let text = serde_json::to_vec(&body).unwrap();
            let n = crate::validate_json(&FLUX_2_DEV, &text, crate::Policy::default(), &mut || 1)
                .unwrap();
            Phase::run_of(&n, ImageEncoding::Base64)
        };
        let out = output_bound(1920, 1920);
        let len = PNG.len() as u64;
        assert_eq!(
            run(&one),
            Phase::FormRun {
                image_bytes: len,
                output_bytes: out
            }
        );
        assert_eq!(
            run(&four),
            Phase::FormRun {
                image_bytes: 4 * len,
                output_bytes: out
            }
        );
        assert_eq!(run(&four).bytes() - run(&one).bytes(), 3 * 3 * len);
        // Four reference images filling a maximum body between them, at the largest size: the
        // run fits the default budget, beside nothing else.
        let budget = default_budget(16 * MIB);
        let max = default_max_body(budget);
        let worst = Phase::FormRun {
            image_bytes: max,
            output_bytes: out,
        };
        assert!(worst.bytes() <= budget, "{} > {budget}", worst.bytes());
    }

    #[test]
    fn phase_estimates_grow_linearly_with_the_body() {
        for phase in [
            |b| Phase::JsonFast { body: b },
            |b| Phase::JsonWhole { body: b },
            |b| Phase::Form { body: b },
        ] {
            let (one, two) = (phase(MIB).bytes(), phase(2 * MIB).bytes());
            assert!(two - WORKING_BYTES <= 2 * (one - WORKING_BYTES) + 8);
        }
    }
}
