//! Times the gateway's own work per request natively: parse, validate, cache key.
//!
//! ```sh
//! cargo run --release --manifest-path bench/native/Cargo.toml -- \
//!   --seconds 2 array=bench/.cache/img2img-array.json b64=bench/.cache/img2img-b64.json
//! ```
//!
//! Prints one JSON object: per body, the median and mean milliseconds of each step.

use std::time::{Duration, Instant};

fn main() {
    let mut seconds = 2.0_f64;
    let mut bodies = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--seconds" {
            seconds = args
                .next()
                .and_then(|s| s.parse().ok())
                .expect("--seconds takes a number");
        } else if let Some((label, path)) = arg.split_once('=') {
            let body = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            bodies.push((label.to_owned(), body));
        } else {
            panic!("arguments: [--seconds S] label=path...");
        }
    }

    let mut out = Vec::new();
    for (label, body) in &bodies {
        let budget = Duration::from_secs_f64(seconds);
        let (mut parse, mut validate, mut key, mut total) = (vec![], vec![], vec![], vec![]);
        let started = Instant::now();
        // At least 5 runs, and as many more as fit in the time budget; the first is a warm-up.
        let mut runs = 0;
        while runs < 6 || started.elapsed() < budget {
            let t0 = Instant::now();
            let raw = sdxl_bench_native::parse(body).expect("the body parses");
            let t1 = Instant::now();
            let normalized = sdxl_bench_native::validate(raw).expect("the body is valid");
            let t2 = Instant::now();
            let k = sdxl_bench_native::key(&normalized);
            let t3 = Instant::now();
            assert_eq!(k.len(), 64);
            std::hint::black_box((&normalized, &k));
            if runs > 0 {
                parse.push(ms(t1 - t0));
                validate.push(ms(t2 - t1));
                key.push(ms(t3 - t2));
                total.push(ms(t3 - t0));
            }
            runs += 1;
        }
        out.push(format!(
            "\"{label}\":{{\"runs\":{},\"bodyBytes\":{},\"parse\":{},\"validate\":{},\"key\":{},\"total\":{}}}",
            total.len(),
            body.len(),
            summary(&mut parse),
            summary(&mut validate),
            summary(&mut key),
            summary(&mut total),
        ));
    }
    println!("{{{}}}", out.join(","));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `{"median":..,"mean":..}` in milliseconds.
fn summary(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    #[allow(clippy::cast_precision_loss)]
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    format!("{{\"median\":{median:.3},\"mean\":{mean:.3}}}")
}
