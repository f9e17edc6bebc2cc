//! What a run costs, known before it runs: Workers AI prices its image models per 512x512 tile
//! of the output and per step (and bills in neurons, $0.011 per 1,000), so the normalized
//! request decides its cost. Counted in nano-USD (integers: the per-tile prices are fractions of
//! a cent), and in images and tiles x steps as well, which still mean something for the models
//! priced 0 while in beta.

use crate::inputs::{InputValue, Normalized};

/// Where the per-model figures come from.
pub const PRICING_PAGE: &str =
    "Workers AI's pricing page (developers.cloudflare.com/workers-ai/platform/pricing/), 2026-09";

/// A model's published price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Price {
    /// In beta: the catalog lists it at 0 USD per step. Its images and tiles x steps count all
    /// the same (a budget of images applies to it).
    Beta,
    /// Per 512x512 tile of the output plus per step.
    TilesAndSteps {
        tile_nano_usd: u64,
        step_nano_usd: u64,
        /// Where the figures come from.
        source: &'static str,
    },
    /// Per 512x512 tile of each input image and of the output, each per step when `per_step`
    /// (FLUX.2 [dev]) or once (the klein models, fixed at 4 steps).
    InputAndOutputTiles {
        input_tile_nano_usd: u64,
        output_tile_nano_usd: u64,
        per_step: bool,
        source: &'static str,
    },
    /// No published price (yet): images and tiles x steps count, dollars do not.
    Unpublished { source: &'static str },
}

/// The side assumed when neither the request, its input image nor the model's table says how
/// large the image is (FLUX.1 [schnell] always answers 1024x1024).
const ASSUMED_SIDE: u32 = 1024;
/// Steps assumed when the request and the table are silent.
const ASSUMED_STEPS: u32 = 4;

/// What runs cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub images: u64,
    /// 512x512 tiles x steps: the work, whatever its price.
    pub tile_steps: u64,
    pub nano_usd: u64,
}

impl Cost {
    /// `n` runs of this cost.
    #[must_use]
    pub fn times(self, n: u64) -> Cost {
        Cost {
            images: self.images * n,
            tile_steps: self.tile_steps * n,
            nano_usd: self.nano_usd * n,
        }
    }

    /// Both together.
    #[must_use]
    pub fn plus(self, other: Cost) -> Cost {
        Cost {
            images: self.images + other.images,
            tile_steps: self.tile_steps + other.tile_steps,
            nano_usd: self.nano_usd + other.nano_usd,
        }
    }

    /// The cost in USD, for people (6 decimals: a tile of FLUX.1 [schnell] is $0.0000528).
    #[must_use]
    pub fn usd(self) -> String {
        format!(
            "{}.{:06}",
            self.nano_usd / 1_000_000_000,
            (self.nano_usd % 1_000_000_000) / 1000
        )
    }
}

/// The cost of one run of `request`: its output's tiles (its `width` and `height`, else the
/// model's implied size, else its input image's, else 1024x1024) and its steps (`num_steps` or
/// `steps`, filled from the table's default when absent).
#[must_use]
pub fn cost_of(request: &Normalized) -> Cost {
    let (width, height) = output_size(request);
    let tiles = tiles_of(width, height);
    let steps = ["num_steps", "steps"]
        .iter()
        .find_map(|name| request.inputs.integer(name))
        .and_then(|s| u32::try_from(s).ok())
        .unwrap_or(ASSUMED_STEPS);
    let nano_usd = match request.model.price {
        Price::Beta | Price::Unpublished { .. } => 0,
        Price::InputAndOutputTiles {
            input_tile_nano_usd,
            output_tile_nano_usd,
            per_step,
            ..
        } => {
            let times = if per_step { u64::from(steps) } else { 1 };
            (input_tiles(request) * input_tile_nano_usd + tiles * output_tile_nano_usd) * times
        }
        Price::TilesAndSteps {
            tile_nano_usd,
            step_nano_usd,
            ..
        } => tiles * tile_nano_usd + u64::from(steps) * step_nano_usd,
    };
    Cost {
        images: 1,
        tile_steps: tiles * u64::from(steps),
        nano_usd,
    }
}

/// Tiles of 512x512 of every input image (the reference images of FLUX.2).
fn input_tiles(request: &Normalized) -> u64 {
    request
        .inputs
        .iter()
        .filter_map(|(_, v)| match v {
            InputValue::Image(image) => Some(tiles_of(image.info.width, image.info.height)),
            _ => None,
        })
        .sum()
}

fn tiles_of(width: u32, height: u32) -> u64 {
    u64::from(width.div_ceil(512)) * u64::from(height.div_ceil(512))
}

fn output_size(request: &Normalized) -> (u32, u32) {
    let side = |name: &str| {
        request
            .inputs
            .integer(name)
            .or(request.implied_side())
            .and_then(|v| u32::try_from(v).ok())
    };
    let image = request.inputs.iter().find_map(|(_, v)| match v {
        InputValue::Image(image) => Some((image.info.width, image.info.height)),
        _ => None,
    });
    match (side("width"), side("height"), image) {
        (Some(w), Some(h), _) => (w, h),
        (w, h, Some((iw, ih))) => (w.unwrap_or(iw), h.unwrap_or(ih)),
        (w, h, None) => (w.unwrap_or(ASSUMED_SIDE), h.unwrap_or(ASSUMED_SIDE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{models, normalize, parse_json, Policy};

    fn cost(model: &str, body: &str) -> Cost {
        let spec = models::by_id(model).unwrap();
        let raw = parse_json(spec, body.as_bytes()).unwrap();
        let normalized = normalize(spec, raw, Policy::default(), &mut || 7).unwrap();
        cost_of(&normalized)
    }

    /// The pricing page's own example: a 1024x1024 image in 4 steps.
    #[test]
    fn flux_schnell_costs_four_tiles_and_four_steps() {
        let c = cost("@cf/black-forest-labs/flux-1-schnell", r#"{"prompt":"a"}"#);
        assert_eq!(c.nano_usd, 4 * 52_800 + 4 * 105_600);
        assert_eq!(c.usd(), "0.000633");
        assert_eq!(c.tile_steps, 16);
        let eight = cost(
            "@cf/black-forest-labs/flux-1-schnell",
            r#"{"prompt":"a","steps":8}"#,
        );
        assert_eq!(eight.nano_usd, 4 * 52_800 + 8 * 105_600);
    }

    #[test]
    fn phoenix_is_priced_by_its_tiles_mostly() {
        // 1024x1024 by default, 25 steps.
        let c = cost("@cf/leonardo/phoenix-1.0", r#"{"prompt":"a"}"#);
        assert_eq!(c.nano_usd, 4 * 5_800_000 + 25 * 110_000);
        // 1025 wide is three tiles across.
        let wide = cost(
            "@cf/leonardo/phoenix-1.0",
            r#"{"prompt":"a","width":1032,"height":512,"num_steps":10}"#,
        );
        assert_eq!(wide.tile_steps, 3 * 10);
        assert_eq!(wide.nano_usd, 3 * 5_800_000 + 10 * 110_000);
    }

    #[test]
    fn beta_models_cost_nothing_but_count_their_work() {
        let c = cost(
            "@cf/bytedance/stable-diffusion-xl-lightning",
            r#"{"prompt":"a","num_steps":4}"#,
        );
        // The implied 1024x1024: four tiles, four steps.
        assert_eq!(
            c,
            Cost {
                images: 1,
                tile_steps: 16,
                nano_usd: 0
            }
        );
        assert_eq!(c.times(3).images, 3);
        assert_eq!(c.plus(c).tile_steps, 32);
    }

    /// FLUX.2 [dev]'s page prices input and output tiles per step: a 1024x768 answer is four
    /// output tiles; 25 steps by the gateway's default.
    #[test]
    fn flux2_dev_charges_output_and_input_tiles_per_step() {
        let dev = "@cf/black-forest-labs/flux-2-dev";
        let c = cost(dev, r#"{"prompt":"a"}"#);
        assert_eq!(c.nano_usd, 4 * 410_000 * 25);
        assert_eq!(c.usd(), "0.041000");
        assert_eq!(c.tile_steps, 4 * 25);
        // Two 256x256 reference images: one input tile each, per step.
        let photo = include_bytes!("../../tests/fixtures/photo-256.png");
        let bytes = format!("{:?}", photo.as_slice()).replace(' ', "");
        let body = format!(
            r#"{{"prompt":"a","steps":10,"input_image_0":{bytes},"input_image_1":{bytes}}}"#
        );
        let with_inputs = cost(dev, &body);
        assert_eq!(with_inputs.nano_usd, (2 * 210_000 + 4 * 410_000) * 10);
    }

    /// The klein models run a fixed 4 steps and are priced per tile, not per step; 9B has no
    /// published price, so only its work counts.
    #[test]
    fn flux2_klein_charges_tiles_once() {
        let c = cost(
            "@cf/black-forest-labs/flux-2-klein-4b",
            r#"{"prompt":"a","width":1024,"height":1024}"#,
        );
        assert_eq!(c.nano_usd, 4 * 287_000);
        assert_eq!(c.tile_steps, 16);
        let nine = cost("@cf/black-forest-labs/flux-2-klein-9b", r#"{"prompt":"a"}"#);
        assert_eq!((nine.nano_usd, nine.tile_steps, nine.images), (0, 16, 1));
    }
}
