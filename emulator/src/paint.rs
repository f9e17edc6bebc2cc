//! The stand-in's deterministic "diffusion model": it draws a picture from a hash of the request.
//!
//! Nothing here is random at run time. The same request always yields the same pixels, on every
//! platform and build, so tests and clients can rely on exact output. The picture is a two-colour
//! gradient with a handful of translucent circles and rectangles; its layout is stored as
//! fractions of the canvas, so the same request at another size gives the same scene rescaled.

use std::borrow::Cow;
use std::fmt;

/// Largest side this module will allocate. The caller already limits sizes (256..=2048); this
/// only keeps `width * height * 3` from overflowing `usize` on wasm32 if a caller forgets.
const MAX_SIDE: u32 = 4096;

/// An 8-bit RGB image: `pixels` is row-major, 3 bytes per pixel, `width * height * 3` long.
#[derive(Clone, PartialEq, Eq)]
pub struct Rgb8Image {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

// Hand-written so that a failing `assert_eq!` prints the size, not millions of bytes.
impl fmt::Debug for Rgb8Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rgb8Image")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("pixels_len", &self.pixels.len())
            .finish()
    }
}

/// Everything the model would be given. Size and inputs have already been validated.
#[derive(Debug, Clone, Copy)]
pub struct PaintRequest<'a> {
    pub prompt: &'a str,
    pub negative_prompt: Option<&'a str>,
    /// Output size, already decided by the caller (256..=2048).
    pub width: u32,
    pub height: u32,
    pub num_steps: u32,
    pub guidance: f64,
    /// How far img2img moves away from the input: 0 keeps it, 1 replaces it.
    pub strength: f64,
    pub seed: u64,
    /// Decoded img2img input, any size.
    pub image: Option<&'a Rgb8Image>,
    /// Decoded inpainting mask, the same size as `image`; white (luma >= 128) marks what may change.
    pub mask: Option<&'a Rgb8Image>,
    /// SHA-256 of each reference image's bytes (FLUX.2's `input_image_0..3`), in the order the
    /// model reads them: they shape the picture, so a test can tell which images arrived, and in
    /// which order.
    pub references: &'a [[u8; 32]],
}

/// Paints the picture for `req`.
///
/// Without `image` this is text-to-image. With `image`, the input is resized (nearest neighbour)
/// to the output size and blended with the generated picture by `strength`; with a `mask` too,
/// only pixels under white mask pixels are blended. A mask without an image is ignored, and so is
/// an `image` or `mask` whose buffer does not match its stated size (it cannot be sampled safely).
/// A side over 4096 is clamped to 4096; the returned image always states its real size.
pub fn paint(req: &PaintRequest) -> Rgb8Image {
    let width = req.width.min(MAX_SIDE);
    let height = req.height.min(MAX_SIDE);
    // The blend below is done in place in the generated picture, saving a full-size copy.
    let mut out = generate(&mut SplitMix64(request_hash(req)), width, height);
    let Some(input) = req.image.filter(|img| is_well_formed(img)) else {
        return out;
    };
    let input = fit(input, width, height);
    let mask = req
        .mask
        .filter(|m| is_well_formed(m))
        .map(|m| fit(m, width, height));
    // NaN counts as 0: an unusable strength must not destroy the input.
    let strength = if req.strength.is_nan() {
        0.0
    } else {
        req.strength.clamp(0.0, 1.0)
    };
    let table = blend_table(strength);
    let blend = |dst: &mut [u8], src: &[u8]| {
        for (d, &i) in dst.iter_mut().zip(src) {
            *d = table[usize::from(i) << 8 | usize::from(*d)];
        }
    };
    match mask {
        None => blend(&mut out.pixels, &input.pixels),
        Some(mask) => {
            let pixels = out
                .pixels
                .chunks_exact_mut(3)
                .zip(input.pixels.chunks_exact(3));
            for ((dst, src), m) in pixels.zip(mask.pixels.chunks_exact(3)) {
                if is_white(m) {
                    blend(dst, src);
                } else {
                    dst.copy_from_slice(src);
                }
            }
        }
    }
    out
}

/// `round(input*(1-s) + generated*s)` for every (input, generated) byte pair, indexed by
/// `input << 8 | generated`. 64 KiB computed once is about three times faster than float math
/// on every channel of every pixel. Both terms are >= 0, so adding 0.5 and truncating rounds;
/// s = 0 yields exactly the input and s = 1 exactly the generated value.
fn blend_table(strength: f64) -> Vec<u8> {
    let keep = 1.0 - strength;
    (0..=255u8)
        .flat_map(|i| {
            (0..=255u8).map(move |g| (f64::from(i) * keep + f64::from(g) * strength + 0.5) as u8)
        })
        .collect()
}

/// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over every input that
/// shapes the picture, except `strength`, which only mixes the picture with the input image.
/// Reference digests are written only when there are some, so every picture drawn without them
/// stays what it was.
///
/// FNV-1a is fixed by its spec, so the hash is the same on every platform, build and Rust
/// version (std's `DefaultHasher` promises none of that). Strings are length-prefixed and the
/// negative prompt is tagged, so `("ab", None)`, `("a", Some("b"))` and `("ab", Some(""))` differ.
fn request_hash(req: &PaintRequest) -> u64 {
    let mut h = Fnv1a::new();
    h.write_str(req.prompt);
    match req.negative_prompt {
        None => h.write(&[0]),
        Some(neg) => {
            h.write(&[1]);
            h.write_str(neg);
        }
    }
    h.write(&req.num_steps.to_le_bytes());
    h.write(&req.guidance.to_bits().to_le_bytes());
    h.write(&req.seed.to_le_bytes());
    if !req.references.is_empty() {
        h.write(&(req.references.len() as u64).to_le_bytes());
        for digest in req.references {
            h.write(digest);
        }
    }
    h.0
}

struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_str(&mut self, s: &str) {
        self.write(&(s.len() as u64).to_le_bytes());
        self.write(s.as_bytes());
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014), seeded with the FNV hash. Its output mixing turns the
/// FNV value, whose low bits barely change between similar inputs, into well-spread draws.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `lo..=hi` (multiply-shift; the tiny bias is irrelevant for drawing).
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi - lo) + 1;
        lo + (((self.next() >> 32) * span) >> 32) as u32
    }
}

/// Positions and sizes are drawn in 1/4096ths of the canvas so the scene scales with it.
const FRAC: u32 = 4096;

fn generate(rng: &mut SplitMix64, width: u32, height: u32) -> Rgb8Image {
    let mut img = Rgb8Image {
        width,
        height,
        pixels: vec![0; width as usize * height as usize * 3],
    };
    // A light and a dark colour a third of the wheel or more apart, so backgrounds of different
    // requests differ almost everywhere, not only under the shapes.
    let hue = rng.range(0, 1535);
    let light = hsv(hue, rng.range(90, 200), rng.range(190, 255));
    let dark = hsv(
        hue + rng.range(384, 1152),
        rng.range(120, 230),
        rng.range(40, 130),
    );
    fill_gradient(&mut img, light, dark, rng.range(0, 3));

    let side = width.min(height);
    for _ in 0..rng.range(4, 10) {
        let colour = hsv(rng.range(0, 1535), rng.range(140, 255), rng.range(120, 255));
        let alpha = rng.range(140, 230);
        let cx = scale(rng.range(0, FRAC), width);
        let cy = scale(rng.range(0, FRAC), height);
        if rng.range(0, 1) == 0 {
            let r = scale(rng.range(160, 1000), side);
            fill_circle(&mut img, cx, cy, r, colour, alpha);
        } else {
            let hw = scale(rng.range(200, 1200), side);
            let hh = scale(rng.range(200, 1200), side);
            fill_rect(&mut img, cx - hw, cy - hh, cx + hw, cy + hh, colour, alpha);
        }
    }
    img
}

fn scale(frac: u32, len: u32) -> i64 {
    i64::from(frac) * i64::from(len) / i64::from(FRAC)
}

/// Integer HSV to RGB: hue in 0..1536 (6 sectors of 256, wraps), saturation and value 0..=255.
fn hsv(hue: u32, sat: u32, val: u32) -> [u8; 3] {
    let hue = hue % 1536;
    let f = hue % 256;
    let p = val * (255 - sat) / 255;
    let q = val * (255 * 256 - sat * f) / (255 * 256);
    let t = val * (255 * 256 - sat * (256 - f)) / (255 * 256);
    let [r, g, b] = match hue / 256 {
        0 => [val, t, p],
        1 => [q, val, p],
        2 => [p, val, t],
        3 => [p, q, val],
        4 => [t, p, val],
        _ => [val, p, q],
    };
    // Each value is <= val <= 255, so the casts cannot truncate.
    [r as u8, g as u8, b as u8]
}

/// Fills the canvas with a gradient from `a` to `b` in one of four directions (vertical,
/// horizontal, two diagonals). The 513 possible colours are computed once, so each pixel
/// costs two table look-ups and a copy.
fn fill_gradient(img: &mut Rgb8Image, a: [u8; 3], b: [u8; 3], direction: u32) {
    let lut: Vec<[u8; 3]> = (0..=512u32)
        .map(|t| {
            let mix =
                |x: u8, y: u8| ((u32::from(x) * (512 - t) + u32::from(y) * t + 256) / 512) as u8;
            [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
        })
        .collect();
    // Position along each axis in 0..=256.
    let ramp = |n: u32| -> Vec<u32> {
        let span = n.saturating_sub(1).max(1);
        (0..n).map(|i| i * 256 / span).collect()
    };
    let (tx, ty) = (ramp(img.width), ramp(img.height));
    let row_len = img.width as usize * 3;
    if row_len == 0 {
        return;
    }
    for (row, &y) in img.pixels.chunks_exact_mut(row_len).zip(&ty) {
        for (px, &x) in row.chunks_exact_mut(3).zip(&tx) {
            let t = match direction {
                0 => 2 * y,
                1 => 2 * x,
                2 => x + y,
                _ => 256 - x + y,
            };
            px.copy_from_slice(&lut[t as usize]);
        }
    }
}

/// Blends `colour` over the pixels of columns `x0..=x1` in row `y`, clipped to the canvas.
/// `alpha` is out of 256.
fn blend_span(img: &mut Rgb8Image, y: i64, x0: i64, x1: i64, colour: [u8; 3], alpha: u32) {
    if y < 0 || y >= i64::from(img.height) {
        return;
    }
    let x0 = x0.max(0);
    let x1 = x1.min(i64::from(img.width) - 1);
    if x0 > x1 {
        return;
    }
    // All three values are inside the canvas here, so they fit in usize.
    let row = y as usize * img.width as usize * 3;
    let span = &mut img.pixels[row + x0 as usize * 3..row + (x1 as usize + 1) * 3];
    for px in span.chunks_exact_mut(3) {
        for (d, &c) in px.iter_mut().zip(&colour) {
            *d = ((u32::from(c) * alpha + u32::from(*d) * (256 - alpha) + 128) >> 8) as u8;
        }
    }
}

fn fill_circle(img: &mut Rgb8Image, cx: i64, cy: i64, r: i64, colour: [u8; 3], alpha: u32) {
    // One integer square root per row gives the span; no per-pixel distance test.
    for dy in -r..=r {
        let half = (r * r - dy * dy).unsigned_abs().isqrt() as i64;
        blend_span(img, cy + dy, cx - half, cx + half, colour, alpha);
    }
}

fn fill_rect(img: &mut Rgb8Image, x0: i64, y0: i64, x1: i64, y1: i64, colour: [u8; 3], alpha: u32) {
    let (y0, y1) = (y0.max(0), y1.min(i64::from(img.height) - 1));
    for y in y0..=y1 {
        blend_span(img, y, x0, x1, colour, alpha);
    }
}

fn is_well_formed(img: &Rgb8Image) -> bool {
    img.width > 0
        && img.height > 0
        && (img.width as usize)
            .checked_mul(img.height as usize)
            .and_then(|n| n.checked_mul(3))
            == Some(img.pixels.len())
}

/// `img` at the output size: borrowed unchanged when it already fits, else resized.
fn fit(img: &Rgb8Image, width: u32, height: u32) -> Cow<'_, Rgb8Image> {
    if img.width == width && img.height == height {
        Cow::Borrowed(img)
    } else {
        Cow::Owned(resize_nearest(img, width, height))
    }
}

/// Nearest-neighbour resize. `src` must be well formed (see `is_well_formed`).
fn resize_nearest(src: &Rgb8Image, width: u32, height: u32) -> Rgb8Image {
    // Source column (as a byte offset) for each output column, computed once.
    let cols: Vec<usize> = (0..u64::from(width))
        .map(|x| (x * u64::from(src.width) / u64::from(width)) as usize * 3)
        .collect();
    let src_row_len = src.width as usize * 3;
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..u64::from(height) {
        let sy = (y * u64::from(src.height) / u64::from(height)) as usize;
        let src_row = &src.pixels[sy * src_row_len..(sy + 1) * src_row_len];
        for &c in &cols {
            pixels.extend_from_slice(&src_row[c..c + 3]);
        }
    }
    Rgb8Image {
        width,
        height,
        pixels,
    }
}

/// A mask pixel is white when its luma (BT.601 weights, integer) is at least 128.
fn is_white(px: &[u8]) -> bool {
    let luma = (77 * u32::from(px[0]) + 150 * u32::from(px[1]) + 29 * u32::from(px[2])) >> 8;
    luma >= 128
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(prompt: &str, seed: u64) -> PaintRequest<'_> {
        PaintRequest {
            prompt,
            negative_prompt: None,
            width: 256,
            height: 256,
            num_steps: 4,
            guidance: 7.5,
            strength: 1.0,
            seed,
            image: None,
            mask: None,
            references: &[],
        }
    }

    /// Share of pixels (not bytes) that differ between two images of the same size.
    fn differing_share(a: &Rgb8Image, b: &Rgb8Image) -> f64 {
        assert_eq!((a.width, a.height), (b.width, b.height));
        let differ = a
            .pixels
            .chunks_exact(3)
            .zip(b.pixels.chunks_exact(3))
            .filter(|(p, q)| p != q)
            .count();
        differ as f64 / (a.width as f64 * a.height as f64)
    }

    /// A deterministic input image unrelated to the generated pictures.
    fn checkerboard(width: u32, height: u32) -> Rgb8Image {
        let mut pixels = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let v = if (x / 8 + y / 8) % 2 == 0 { 30 } else { 220 };
                pixels.extend_from_slice(&[v, (x % 256) as u8, (y % 256) as u8]);
            }
        }
        Rgb8Image {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn same_request_same_pixels() {
        let a = paint(&request("a red fox", 42));
        let b = paint(&request("a red fox", 42));
        assert_eq!(a, b);
    }

    #[test]
    fn hash_is_pinned() {
        // Guards against accidental changes to the hash input layout, which would silently
        // change every picture the stand-in has ever produced.
        let pinned = PaintRequest {
            negative_prompt: Some("blurry"),
            ..request("a red fox", 42)
        };
        assert_eq!(request_hash(&pinned), 0x1e86_4628_6094_149a);
        let mut h = Fnv1a::new();
        h.write(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c); // published FNV-1a 64 test vector for "a"
    }

    #[test]
    fn different_seed_changes_most_pixels() {
        for seed in 0..20 {
            let a = paint(&request("a red fox", seed));
            let b = paint(&request("a red fox", seed + 1));
            let share = differing_share(&a, &b);
            assert!(
                share > 0.2,
                "seeds {seed}/{}: only {share} differ",
                seed + 1
            );
        }
    }

    #[test]
    fn different_prompt_changes_most_pixels() {
        let prompts = [
            "a red fox",
            "a red fox.",
            "A red fox",
            "a blue whale",
            "",
            " ",
        ];
        for (i, p) in prompts.iter().enumerate() {
            for q in &prompts[i + 1..] {
                let share = differing_share(&paint(&request(p, 7)), &paint(&request(q, 7)));
                assert!(share > 0.2, "{p:?} vs {q:?}: only {share} differ");
            }
        }
    }

    #[test]
    fn other_inputs_change_the_picture() {
        let base = paint(&request("x", 1));
        let variants = [
            PaintRequest {
                negative_prompt: Some("blurry"),
                ..request("x", 1)
            },
            PaintRequest {
                negative_prompt: Some(""),
                ..request("x", 1)
            },
            PaintRequest {
                num_steps: 5,
                ..request("x", 1)
            },
            PaintRequest {
                guidance: 7.25,
                ..request("x", 1)
            },
        ];
        for v in &variants {
            assert!(differing_share(&base, &paint(v)) > 0.2, "{v:?}");
        }
        // Strength only matters with an input image.
        let no_strength = PaintRequest {
            strength: 0.3,
            ..request("x", 1)
        };
        assert_eq!(base, paint(&no_strength));
    }

    #[test]
    fn reference_images_and_their_order_change_the_picture() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let base = paint(&request("x", 1));
        let with = |references: &[[u8; 32]]| {
            paint(&PaintRequest {
                references,
                ..request("x", 1)
            })
        };
        let one = with(&[a]);
        let ab = with(&[a, b]);
        let ba = with(&[b, a]);
        for (name, x, y) in [
            ("none / one", &base, &one),
            ("one / two", &one, &ab),
            ("a,b / b,a", &ab, &ba),
        ] {
            assert!(differing_share(x, y) > 0.2, "{name}");
        }
        assert_eq!(ab, with(&[a, b]), "the same references, the same picture");
    }

    #[test]
    fn output_has_requested_size() {
        for (w, h) in [(256, 512), (1024, 1024), (2048, 256), (257, 1031)] {
            let img = paint(&PaintRequest {
                width: w,
                height: h,
                ..request("size", 3)
            });
            assert_eq!((img.width, img.height), (w, h));
            assert_eq!(img.pixels.len(), w as usize * h as usize * 3);
        }
    }

    #[test]
    fn picture_is_not_flat() {
        let img = paint(&request("variety", 9));
        let mut colours: Vec<&[u8]> = img.pixels.chunks_exact(3).collect();
        colours.sort_unstable();
        colours.dedup();
        assert!(colours.len() > 50, "only {} colours", colours.len());
    }

    #[test]
    fn strength_zero_keeps_input_exactly() {
        let input = checkerboard(256, 256);
        let out = paint(&PaintRequest {
            strength: 0.0,
            image: Some(&input),
            ..request("fox", 1)
        });
        assert_eq!(out, input);
    }

    #[test]
    fn strength_one_gives_generated_picture() {
        let input = checkerboard(300, 200);
        let out = paint(&PaintRequest {
            strength: 1.0,
            image: Some(&input),
            ..request("fox", 1)
        });
        assert_eq!(out, paint(&request("fox", 1)));
    }

    #[test]
    fn strength_half_lies_between() {
        let input = checkerboard(256, 256);
        let generated = paint(&request("fox", 1));
        let out = paint(&PaintRequest {
            strength: 0.5,
            image: Some(&input),
            ..request("fox", 1)
        });
        let mut strictly_between = 0;
        for ((&o, &i), &g) in out.pixels.iter().zip(&input.pixels).zip(&generated.pixels) {
            assert!(
                i.min(g) <= o && o <= i.max(g),
                "{o} not between {i} and {g}"
            );
            let expected = (f64::from(i) + f64::from(g)) / 2.0;
            assert!((f64::from(o) - expected).abs() <= 0.5);
            if o != i && o != g {
                strictly_between += 1;
            }
        }
        assert!(strictly_between > out.pixels.len() / 2);
    }

    #[test]
    fn input_is_resized_to_output_size() {
        let input = checkerboard(64, 32);
        let out = paint(&PaintRequest {
            width: 512,
            height: 256,
            strength: 0.0,
            image: Some(&input),
            ..request("fox", 1)
        });
        assert_eq!((out.width, out.height), (512, 256));
        // 8x upscale: output pixel (8x+k, 8y+k) comes from input pixel (x, y).
        for (x, y) in [(0u32, 0u32), (5, 3), (63, 31)] {
            let o = ((y * 8 * 512 + x * 8) * 3) as usize;
            let i = ((y * 64 + x) * 3) as usize;
            assert_eq!(out.pixels[o..o + 3], input.pixels[i..i + 3]);
        }
    }

    #[test]
    fn inpainting_changes_only_white_mask_pixels() {
        let input = checkerboard(256, 256);
        // Left half black, right half white.
        let mut mask = Rgb8Image {
            width: 256,
            height: 256,
            pixels: vec![0; 256 * 256 * 3],
        };
        for px in mask
            .pixels
            .chunks_exact_mut(3)
            .enumerate()
            .filter(|(i, _)| i % 256 >= 128)
        {
            px.1.fill(255);
        }
        let out = paint(&PaintRequest {
            strength: 0.8,
            image: Some(&input),
            mask: Some(&mask),
            ..request("fox", 1)
        });
        let mut changed_under_white = 0;
        for (i, (o, inp)) in out
            .pixels
            .chunks_exact(3)
            .zip(input.pixels.chunks_exact(3))
            .enumerate()
        {
            if i % 256 < 128 {
                assert_eq!(o, inp, "pixel {i} under black mask changed");
            } else if o != inp {
                changed_under_white += 1;
            }
        }
        assert!(changed_under_white > 128 * 256 / 2, "{changed_under_white}");
    }

    #[test]
    fn mask_without_image_is_ignored() {
        let mask = checkerboard(256, 256);
        let out = paint(&PaintRequest {
            mask: Some(&mask),
            ..request("fox", 1)
        });
        assert_eq!(out, paint(&request("fox", 1)));
    }

    #[test]
    fn malformed_input_does_not_panic() {
        let bad = Rgb8Image {
            width: 10,
            height: 10,
            pixels: vec![1, 2, 3],
        };
        let out = paint(&PaintRequest {
            strength: f64::NAN,
            image: Some(&bad),
            mask: Some(&bad),
            ..request("fox", 1)
        });
        assert_eq!(out, paint(&request("fox", 1)));
        let empty = paint(&PaintRequest {
            width: 0,
            height: 0,
            ..request("fox", 1)
        });
        assert!(empty.pixels.is_empty());
    }

    #[test]
    fn nan_strength_keeps_input() {
        let input = checkerboard(256, 256);
        let out = paint(&PaintRequest {
            strength: f64::NAN,
            image: Some(&input),
            ..request("fox", 1)
        });
        assert_eq!(out, input);
    }
}
