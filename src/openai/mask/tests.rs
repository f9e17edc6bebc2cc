//! Masks converted through the runtime's zlib streams (Node's here, which wasm-bindgen-test runs
//! in; workerd's in the end-to-end tests): the pieces, the reads between them, the refusals.

use js_sys::Uint8Array;
use sdxl_core::crc32;
use sdxl_core::openai::mask::{MaskError, MaskLimits, MaskReader};
use wasm_bindgen_test::wasm_bindgen_test;

use super::convert;
use crate::bindings::compression::{Next, ZlibPump};

const ANY: MaskLimits = MaskLimits {
    max_pixels: u64::MAX,
    max_side: u32::MAX,
    image: None,
};

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32::hash(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// An 8-bit RGBA PNG of `width` x `height` whose image data is `zlib`, in IDAT chunks of at most
/// `chunk_len` bytes.
fn rgba_png(width: u32, height: u32, zlib: &[u8], chunk_len: usize) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    for data in zlib.chunks(chunk_len) {
        chunk(&mut png, b"IDAT", data);
    }
    chunk(&mut png, b"IEND", &[]);
    png
}

/// The filter bytes and pixels of a `width` x `height` RGBA image, transparent where
/// `transparent(x, y)`; its rows alternate filters none and up, so unfiltering is exercised.
fn rgba_rows(width: u32, height: u32, transparent: impl Fn(u32, u32) -> bool) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut above = vec![0u8; width as usize * 4];
    for y in 0..height {
        let row: Vec<u8> = (0..width)
            .flat_map(|x| [200, 10, 10, if transparent(x, y) { 0 } else { 255 }])
            .collect();
        if y % 2 == 0 {
            raw.push(0);
            raw.extend_from_slice(&row);
        } else {
            raw.push(2);
            raw.extend(row.iter().zip(&above).map(|(r, a)| r.wrapping_sub(*a)));
        }
        above = row;
    }
    raw
}

/// `raw` in a zlib stream of stored blocks (built here, not by the codec under test).
fn zlib_stored(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap();
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&(b << 16 | a).to_be_bytes());
    out
}

/// Everything a pump makes of `input`, written whole.
async fn through(pump: ZlibPump, input: &[u8]) -> Vec<u8> {
    pump.write(input);
    Uint8Array::new(&pump.read_to_end().await.unwrap()).to_vec()
}

/// The grey pixels of a converted mask (one IDAT chunk, as the writer makes it).
async fn grey_of(png: &[u8], width: u32, height: u32) -> Vec<u8> {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        &png[16..24],
        [width.to_be_bytes(), height.to_be_bytes()].concat()
    );
    assert_eq!(&png[24..29], [8, 0, 0, 0, 0], "8-bit greyscale");
    let len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
    assert_eq!(&png[37..41], b"IDAT");
    assert_eq!(png.len(), 41 + len + 4 + 12, "IHDR, one IDAT, IEND");
    let rows = through(ZlibPump::decompressor().unwrap(), &png[41..41 + len]).await;
    assert_eq!(rows.len(), (height * (width + 1)) as usize);
    rows.chunks_exact(width as usize + 1)
        .flat_map(|row| {
            assert_eq!(row[0], 0, "filter type none");
            row[1..].to_vec()
        })
        .collect()
}

async fn converted(png: &[u8]) -> Result<Vec<u8>, MaskError> {
    let reader = MaskReader::new(png, &ANY)?;
    convert(reader)
        .await
        .unwrap_or_else(|_| panic!("the runtime's streams failed"))
}

#[wasm_bindgen_test]
async fn a_mask_with_a_hole_becomes_white_in_the_hole_only() {
    let (w, h) = (40, 30);
    let hole = |x: u32, y: u32| (5..20).contains(&x) && (8..25).contains(&y);
    // IDAT chunks of 7 bytes: pieces gather many of them.
    let png = rgba_png(w, h, &zlib_stored(&rgba_rows(w, h, hole)), 7);
    let out = converted(&png).await.unwrap();
    let grey = grey_of(&out, w, h).await;
    for y in 0..h {
        for x in 0..w {
            let want = if hole(x, y) { 255 } else { 0 };
            assert_eq!(grey[(y * w + x) as usize], want, "pixel ({x}, {y})");
        }
    }
}

#[wasm_bindgen_test]
async fn a_large_flat_mask_goes_through_in_many_pieces_and_reads() {
    // 1024 x 1024 RGBA: 4 MiB of image data, deflated by the runtime to a few KiB, so each
    // 4 KiB piece inflates to megabytes, read out before the next piece is written.
    let (w, h) = (1024, 1024);
    let raw = rgba_rows(w, h, |x, _| x < 512);
    let zlib = through(ZlibPump::compressor().unwrap(), &raw).await;
    assert!(zlib.len() < raw.len() / 100, "{} bytes", zlib.len());
    let out = converted(&rgba_png(w, h, &zlib, 1000)).await.unwrap();
    let grey = grey_of(&out, w, h).await;
    assert!(grey
        .chunks_exact(w as usize)
        .all(|row| row[..512].iter().all(|&g| g == 255) && row[512..].iter().all(|&g| g == 0)));
}

#[wasm_bindgen_test]
async fn a_decompression_bomb_is_refused() {
    // A 2 x 2 header: 18 bytes of image data; the stream inflates to 32 MiB.
    let zlib = through(ZlibPump::compressor().unwrap(), &vec![0; 32 << 20]).await;
    let refused = converted(&rgba_png(2, 2, &zlib, 1 << 20)).await;
    assert!(
        matches!(&refused, Err(MaskError::Unreadable(why)) if why.contains("more image data")),
        "{refused:?}"
    );
}

#[wasm_bindgen_test]
async fn invalid_or_short_image_data_is_refused() {
    let (w, h) = (9, 4);
    let raw = rgba_rows(w, h, |x, _| x == 3);
    let stream = zlib_stored(&raw);
    let reason = |outcome: Result<Vec<u8>, MaskError>| match outcome {
        Err(MaskError::Unreadable(why)) => why,
        other => panic!("not refused: {other:?}"),
    };
    let mut corrupt = stream.clone();
    corrupt[3] ^= 0xff; // the stored block's length no longer matches its complement
    assert!(reason(converted(&rgba_png(w, h, &corrupt, 64)).await).contains("not a valid zlib"));
    let cut = &stream[..stream.len() / 2];
    assert!(reason(converted(&rgba_png(w, h, cut, 64)).await).contains("not a valid zlib"));
    // A wrong Adler-32: the runtime drops what the failing write inflated, so the last rows may
    // not arrive and the refusal says the stream is invalid rather than naming its check.
    let mut adler = stream.clone();
    *adler.last_mut().unwrap() ^= 1;
    let why = reason(converted(&rgba_png(w, h, &adler, 64)).await);
    assert!(
        why.contains("not a valid zlib") || why.contains("Adler-32"),
        "{why}"
    );
    // A whole stream of three rows out of four.
    let three_rows = zlib_stored(&raw[..3 * (1 + 9 * 4)]);
    assert!(reason(converted(&rgba_png(w, h, &three_rows, 64)).await)
        .contains("ends before its last row"));
    // Whole, the same mask converts.
    assert!(converted(&rgba_png(w, h, &stream, 64)).await.is_ok());
}

#[wasm_bindgen_test]
async fn a_pump_reads_what_one_write_made_then_waits_for_more() {
    let raw: Vec<u8> = (0..300_000u32).map(|i| (i / 1000 % 256) as u8).collect();
    let zlib = zlib_stored(&raw);
    let mut pump = ZlibPump::decompressor().unwrap();
    let mut out = Vec::new();
    for piece in zlib.chunks(100_000) {
        pump.write(piece);
        loop {
            let value = pump.read(true).await.unwrap();
            match pump.bytes_of(&value) {
                Next::Bytes(bytes) => out.extend_from_slice(bytes),
                Next::Nothing => break,
                Next::End => panic!("ended before the close"),
            }
        }
    }
    out.extend(Uint8Array::new(&pump.read_to_end().await.unwrap()).to_vec());
    assert_eq!(out, raw);
}
