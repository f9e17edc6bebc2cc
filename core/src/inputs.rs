//! Normalized inputs: every default explicit, every image decoded once, in table order.

use std::any::Any;
use std::fmt;
use std::rc::Rc;

use crate::image::ImageInfo;
use crate::model::ModelSpec;

/// A decoded input image and what its header says.
#[derive(Debug, Clone, PartialEq)]
pub struct InputImage {
    /// Shared, not copied, by the variants of one request (`n` images differ only by seed); an
    /// `Rc<Vec>`, so the decoded bytes are moved in, not copied as into an `Rc<[u8]>`.
    pub bytes: Rc<Vec<u8>>,
    pub info: ImageInfo,
    /// The client's own text of these bytes, when the body's source kept one that is exactly
    /// their standard, padded base64 (what the model is sent), so they are not encoded again.
    pub text: Option<SourceText>,
}

impl InputImage {
    /// Decoded `bytes`, moved in, with what their header says and the client's own text.
    #[must_use]
    pub fn new(bytes: Vec<u8>, info: ImageInfo, text: Option<SourceText>) -> InputImage {
        InputImage {
            bytes: Rc::new(bytes),
            info,
            text,
        }
    }
}

/// A text held where the body lives (opaque here: in the Worker, a JS string), given by a
/// [`crate::parse::ByteSource`] only when it is exactly the standard, padded base64 of the bytes
/// decoded from it. It says nothing the bytes do not: images are equal whatever text came with
/// them.
#[derive(Clone)]
pub struct SourceText(pub Rc<dyn Any>);

impl PartialEq for SourceText {
    fn eq(&self, _: &SourceText) -> bool {
        true
    }
}

impl fmt::Debug for SourceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SourceText(..)")
    }
}

/// One normalized value.
#[derive(Debug, Clone, PartialEq)]
pub enum InputValue {
    Text(String),
    Integer(i64),
    Number(f64),
    Image(InputImage),
}

/// The inputs to forward, by their forwarded names, in the model table's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    values: Vec<(&'static str, InputValue)>,
}

impl Inputs {
    pub(crate) fn push(&mut self, name: &'static str, value: InputValue) {
        self.values.push((name, value));
    }

    /// Every forwarded `(name, value)` in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &InputValue)> {
        self.values.iter().map(|(n, v)| (*n, v))
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&InputValue> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    #[must_use]
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            InputValue::Text(s) => Some(s),
            _ => None,
        }
    }

    #[must_use]
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            InputValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    #[must_use]
    pub fn number(&self, name: &str) -> Option<f64> {
        match self.get(name)? {
            InputValue::Number(n) => Some(*n),
            _ => None,
        }
    }

    #[must_use]
    pub fn image(&self, name: &str) -> Option<&InputImage> {
        match self.get(name)? {
            InputValue::Image(i) => Some(i),
            _ => None,
        }
    }
}

/// A request that met the contract, ready to forward.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub model: &'static ModelSpec,
    pub inputs: Inputs,
    /// Fields the model does not have: accepted, not forwarded, reported to the client.
    pub ignored_fields: Vec<String>,
    /// True when the client sent no seed and the gateway drew one.
    pub seed_drawn: bool,
}

impl Normalized {
    /// The seed forwarded to the model (always present: given or drawn).
    #[must_use]
    pub fn seed(&self) -> Option<i64> {
        self.inputs.integer("seed")
    }

    /// The side the model gives an image whose `width` or `height` is not sent: its documented
    /// default (`ModelSpec::default_side`) for a text-to-image request; `None` with an input
    /// image (its sides then decide, or the model does) or for a model with no documented size.
    #[must_use]
    pub fn implied_side(&self) -> Option<i64> {
        let has_image = self
            .inputs
            .iter()
            .any(|(_, v)| matches!(v, InputValue::Image(_)));
        self.model.default_side.filter(|_| !has_image)
    }

    /// The same request with another seed, for a variant of it (`n` images of one request:
    /// one normalized request and its seeds, never a copy of its images per variant). Nothing
    /// changes for a model without a seed.
    pub fn set_seed(&mut self, seed: i64) {
        if let Some((_, value)) = self.inputs.values.iter_mut().find(|(n, _)| *n == "seed") {
            *value = InputValue::Integer(seed);
        }
    }
}

/// A seed drawn from `unit`, a uniform random number in `[0, 1)` (JS `Math.random()`): 32-bit,
/// so it suits any backend (the contract allows up to 2^53-1). Out-of-range input is clamped,
/// never a panic.
#[must_use]
pub fn seed_from_unit(unit: f64) -> i64 {
    const SEEDS: f64 = 4_294_967_296.0;
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.0
    };
    #[allow(clippy::cast_possible_truncation)] // at most 2^32 - 1 after the floor and the min
    let seed = (unit * SEEDS).floor().min(SEEDS - 1.0) as i64;
    seed
}

#[cfg(test)]
mod seed_tests {
    use super::seed_from_unit;

    #[test]
    fn seeds_span_32_bits_and_never_leave_them() {
        assert_eq!(seed_from_unit(0.0), 0);
        assert_eq!(seed_from_unit(0.5), 2_147_483_648);
        assert_eq!(seed_from_unit(0.999_999_999_999), 4_294_967_295);
        assert_eq!(seed_from_unit(1.0), 4_294_967_295);
        assert_eq!(seed_from_unit(-3.0), 0);
        assert_eq!(seed_from_unit(f64::NAN), 0);
        assert_eq!(seed_from_unit(f64::INFINITY), 0);
    }
}
