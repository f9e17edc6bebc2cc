//! The `mask_convert` and `prediction_create` harnesses without libFuzzer (stable, no
//! sanitizer): every committed seed and regression, then random mutations of them. Also writes
//! the mask seeds, which are built with the `png` crate rather than kept as opaque files.
//!
//! ```sh
//! cargo test --release --manifest-path fuzz/Cargo.toml --test replay
//! FUZZ_SKIP_KNOWN=1 FUZZ_MUTATIONS=200000 cargo test --release --manifest-path fuzz/Cargo.toml --test replay
//! REPLAY=fuzz/regressions/<target>/<file> cargo test --manifest-path fuzz/Cargo.toml --test replay replay_one
//! cargo test --manifest-path fuzz/Cargo.toml --test replay -- --ignored write_mask_seeds
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use sdxl_core_fuzz::{mask, prediction};

fn files(dirs: &[&str]) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let bytes = fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out
}

/// xorshift64*: fixed cases, varied enough to mutate with.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A libFuzzer-like mutation: byte flips, inserts, deletes, copies within the input, splices
/// from another input, dictionary words, interesting numbers.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], words: &[&[u8]]) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = rng.next() as u8;
            }
            2 => {
                let at = rng.below(len + 1);
                data.insert(at, rng.next() as u8);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                data.drain(at..at + n);
            }
            4 if len > 0 => {
                let from = rng.below(len);
                let n = 1 + rng.below((len - from).min(32));
                let piece = data[from..from + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, piece);
            }
            5 if !other.is_empty() => {
                let from = rng.below(other.len());
                let n = 1 + rng.below((other.len() - from).min(64));
                let at = rng.below(len + 1);
                data.splice(at..at, other[from..from + n].iter().copied());
            }
            6 => {
                let word = words[rng.below(words.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, word.iter().copied());
            }
            _ if len >= 4 => {
                let at = rng.below(len - 3);
                let v: u32 = [
                    0,
                    1,
                    0x7f,
                    0xff,
                    0x100,
                    0xffff,
                    0x7fff_ffff,
                    u32::MAX,
                    4096,
                    4097,
                ][rng.below(10)];
                data[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
            _ => {}
        }
    }
}

fn mutations() -> usize {
    std::env::var("FUZZ_MUTATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

fn drive(target: &str, run: fn(&[u8]), words: &[&[u8]]) {
    let seeds = files(&[&format!("corpus/{target}")]);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    for (path, bytes) in &seeds {
        eprintln!("{target}: {}", path.display());
        run(bytes);
    }
    // Regressions of open findings fail until they are fixed (or under FUZZ_SKIP_KNOWN=1); the
    // mutations run anyway, and the failures are reported at the end.
    let regressions = files(&[&format!("regressions/{target}")]);
    let mut failing = Vec::new();
    for (path, bytes) in &regressions {
        if std::panic::catch_unwind(|| run(bytes)).is_err() {
            failing.push(path.display().to_string());
        }
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
    let mut pool: Vec<Vec<u8>> = seeds
        .into_iter()
        .chain(regressions)
        .map(|(_, b)| b)
        .collect();
    let n = mutations();
    for i in 0..n {
        let mut data = pool[rng.below(pool.len())].clone();
        let other = pool[rng.below(pool.len())].clone();
        mutate(&mut rng, &mut data, &other, words);
        data.truncate(64 * 1024);
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        let outcome = std::panic::catch_unwind(|| run(&data));
        if outcome.is_err() {
            panic!("{target}: mutation {i} panics; input (hex): {hex}");
        }
        // Keep a few mutants to mutate further, as a corpus would (no coverage to choose by).
        if rng.below(16) == 0 && pool.len() < 4096 {
            pool.push(data);
        }
    }
    eprintln!("{target}: {n} mutations, no panic");
    assert!(
        failing.is_empty(),
        "{target}: regressions fail: {failing:?}"
    );
}

/// `REPLAY=<file> cargo test --test replay replay_one -- --nocapture`: one input, through the
/// harness its directory names (`.../mask_convert/...` or `.../prediction_create/...`).
#[test]
fn replay_one() {
    let Ok(path) = std::env::var("REPLAY") else {
        return;
    };
    let bytes = fs::read(&path).unwrap();
    if path.contains("mask_convert") {
        mask::run(&bytes);
    } else {
        prediction::run(&bytes);
    }
    eprintln!("{path}: no panic");
}

#[test]
fn mask_convert() {
    let words: &[&[u8]] = &[
        mask::SEP,
        b"|CK|IHDR",
        b"|CK|IDAT",
        b"|CK|IEND",
        b"|CK|tRNS",
        b"|CK|PLTE",
        b"|CK|tEXt",
        b"\x78\x01",
        b"\x78\x9c",
        b"\x00\x00\xff\xff",
    ];
    drive("mask_convert", mask::run, words);
}

#[test]
fn prediction_create() {
    let words: &[&[u8]] = &[
        b"\"input\":",
        b"\"version\":",
        b"\"model\":",
        b"\"n\":",
        b"\"seed\":",
        b"\"webhook\":\"https://a\"",
        b"\"webhook_events_filter\":[\"start\"]",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b"\"",
        b"1e15",
        b"-0",
        b"7.0",
        b"9007199254740991",
        b"null",
    ];
    drive("prediction_create", prediction::run, words);
}

/// A PNG from the `png` crate.
fn encode(
    (width, height): (u32, u32),
    color: png::ColorType,
    depth: png::BitDepth,
    extra: impl FnOnce(&mut png::Encoder<'_, &mut Vec<u8>>),
    data: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(depth);
    extra(&mut encoder);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    out
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// `png` with its one IDAT chunk cut in two.
fn two_idats(png: &[u8]) -> Vec<u8> {
    let mut out = png[..8].to_vec();
    let mut rest = &png[8..];
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let (kind, data) = (&rest[4..8], &rest[8..8 + len]);
        if kind == b"IDAT" {
            let (a, b) = data.split_at(len / 2);
            for part in [a, b] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                let start = out.len();
                out.extend_from_slice(b"IDAT");
                out.extend_from_slice(part);
                let crc = crc32fast::hash(&out[start..]);
                out.extend_from_slice(&crc.to_be_bytes());
            }
        } else {
            out.extend_from_slice(&rest[..12 + len]);
        }
        rest = &rest[12 + len..];
    }
    out
}

/// Writes `corpus/mask_convert/`: the flags byte picks the limits (bits 0-1), the image's size
/// (bits 2-3), the Adler-32 fix (bits 4-5, any set) and a cut or bad CRC (bits 6-7).
#[test]
#[ignore = "writes the seed corpus"]
fn write_mask_seeds() {
    use png::{BitDepth as D, ColorType as C, Compression, Filter};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/mask_convert");
    fs::create_dir_all(&dir).unwrap();
    let hole = |w: u32, h: u32| -> Vec<u8> {
        let mut px = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let inside = x >= w / 4 && x < w * 3 / 4 && y >= h / 4 && y < h * 3 / 4;
                px.extend_from_slice(if inside {
                    &[0, 0, 255, 0]
                } else {
                    &[255, 0, 0, 255]
                });
            }
        }
        px
    };
    let palette = noise(7, 16 * 3);
    let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        (
            "rgba8-64x48-hole",
            0b0001_0001,
            encode((64, 48), C::Rgba, D::Eight, |_| {}, &hole(64, 48)),
        ),
        (
            "rgba8-64x48-hole-image-size",
            0b0001_1001,
            encode((64, 48), C::Rgba, D::Eight, |_| {}, &hole(64, 48)),
        ),
        (
            "rgba8-16x16-stored-two-idats",
            0b0001_0000,
            two_idats(&encode(
                (16, 16),
                C::Rgba,
                D::Eight,
                |e| e.set_compression(Compression::NoCompression),
                &hole(16, 16),
            )),
        ),
        (
            "grey-alpha16-7x5-paeth-noise",
            0b0010_0000,
            encode(
                (7, 5),
                C::GrayscaleAlpha,
                D::Sixteen,
                |e| {
                    e.set_filter(Filter::Paeth);
                    e.set_compression(Compression::High);
                },
                &noise(3, 7 * 5 * 4),
            ),
        ),
        (
            "grey2-trns-13x9-sub",
            0b0011_0000,
            encode(
                (13, 9),
                C::Grayscale,
                D::Two,
                |e| {
                    e.set_trns(vec![0, 2]);
                    e.set_filter(Filter::Sub);
                },
                &noise(5, 4 * 9),
            ),
        ),
        (
            "indexed4-plte-trns-17x3-avg",
            0b0001_0000,
            encode(
                (17, 3),
                C::Indexed,
                D::Four,
                |e| {
                    e.set_palette(palette.clone());
                    e.set_trns(vec![9, 0, 0, 255, 0]);
                    e.set_filter(Filter::Avg);
                },
                &noise(11, 9 * 3),
            ),
        ),
        (
            "rgb16-trns-9x9-up",
            0b0001_0000,
            encode(
                (9, 9),
                C::Rgb,
                D::Sixteen,
                |e| {
                    e.set_trns(vec![0, 0, 0, 0, 0, 0]);
                    e.set_filter(Filter::Up);
                },
                &noise(13, 9 * 9 * 6)
                    .iter()
                    .map(|b| b & 1)
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "rgba8-300x20-noise-dynamic-huffman",
            0b0001_0001,
            encode(
                (300, 20),
                C::Rgba,
                D::Eight,
                |e| e.set_compression(Compression::High),
                &noise(17, 300 * 20 * 4)
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| if i % 4 == 3 { b & 1 } else { b })
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "rgb8-opaque-no-alpha",
            0b0001_0000,
            encode((4, 4), C::Rgb, D::Eight, |_| {}, &[200; 48]),
        ),
        (
            "rgba16-4097x1-side-too-long",
            0b0001_0011,
            encode((4097, 1), C::Rgba, D::Sixteen, |_| {}, &vec![0; 4097 * 8]),
        ),
    ];
    for (name, flags, png) in seeds {
        let input = mask::fuzz_input_of(flags, &png);
        // The harness gives back the PNG the seed was made from (CRCs and Adler-32 rebuilt).
        if (flags >> 6) < 2 {
            assert_eq!(mask::build(&input).png, png, "{name}");
        }
        mask::run(&input);
        fs::write(dir.join(format!("{name}.bin")), input).unwrap();
    }
    // The stored mask with one pixel byte changed and its Adler-32 left as it was (flags 0): the
    // inflater's checksum refusal, which mutations of the other seeds rarely reach.
    let mut wrong = fs::read(dir.join("rgba8-16x16-stored-two-idats.bin")).unwrap();
    wrong[0] = 0;
    let data = wrong.windows(4).position(|w| w == b"IDAT").unwrap() + 4;
    // Past the zlib header (2 bytes) and the stored block's header (5).
    wrong[data + 2 + 5 + 40] ^= 1;
    mask::run(&wrong);
    fs::write(dir.join("rgba8-16x16-stored-adler-wrong.bin"), wrong).unwrap();
}

/// `TALLY=corpus-run/mask_convert cargo test --release --test replay tally -- --nocapture`: how
/// a grown corpus ends (converted, or each refusal), to see how deep the fuzzer got.
#[test]
fn tally() {
    let Ok(dir) = std::env::var("TALLY") else {
        return;
    };
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let bytes = fs::read(entry.unwrap().path()).unwrap();
        let outcome = if dir.contains("mask_convert") {
            let case = mask::build(&bytes);
            match mask::convert_png(&case.png, &case.limits) {
                Ok(_) => "converted".to_owned(),
                Err(sdxl_core::openai::mask::MaskError::Unreadable(why)) => why.to_owned(),
                Err(e) => format!("{e:?}")
                    .split([' ', '{', '('])
                    .next()
                    .unwrap()
                    .to_owned(),
            }
        } else {
            match sdxl_core::jobs::request::read_create(&bytes, None, false, &mut || 1) {
                Ok(r) => format!("read, {} images", r.images()),
                Err(sdxl_core::ApiError::Invalid(v)) => format!("invalid {}", v[0].path),
                Err(e) => format!("{e:?}").chars().take(40).collect(),
            }
        };
        *counts.entry(outcome).or_default() += 1;
    }
    for (outcome, n) in counts {
        eprintln!("{n:6}  {outcome}");
    }
}
