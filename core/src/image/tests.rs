use super::*;

const PNG: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.png");
const JPEG: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.jpg");
const WEBP: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.webp");

#[test]
fn sniffs_each_real_format() {
    assert_eq!(sniff(PNG), Some(ImageFormat::Png));
    assert_eq!(sniff(JPEG), Some(ImageFormat::Jpeg));
    assert_eq!(sniff(WEBP), Some(ImageFormat::Webp));
    assert_eq!(sniff(&PNG[..SNIFF_LEN]), Some(ImageFormat::Png));
    assert_eq!(sniff(&WEBP[..SNIFF_LEN]), Some(ImageFormat::Webp));
}

#[test]
fn sniff_refuses_near_misses() {
    assert_eq!(sniff(b""), None);
    assert_eq!(sniff(&PNG[..7]), None, "7 of the 8 PNG signature bytes");
    assert_eq!(sniff(&[0xFF, 0xD8]), None, "JPEG SOI without a marker");
    assert_eq!(
        sniff(b"RIFF\0\0\0\0WAVEfmt "),
        None,
        "a RIFF that is not WebP"
    );
    assert_eq!(sniff(b"GIF89a\x01\x00\x01\x00"), None);
    assert_eq!(sniff(b"{\"errors\":[]}"), None);
}

#[test]
fn inspect_reads_dimensions_of_every_format() {
    for (bytes, format) in [
        (PNG, ImageFormat::Png),
        (JPEG, ImageFormat::Jpeg),
        (WEBP, ImageFormat::Webp),
    ] {
        assert_eq!(
            inspect(bytes),
            Ok(ImageInfo {
                format,
                width: 64,
                height: 48
            })
        );
    }
}

#[test]
fn inspect_refuses_truncated_and_fake_images() {
    assert_eq!(inspect(b""), Err(ImageError::Empty));
    assert_eq!(
        inspect(b"hello world, not an image"),
        Err(ImageError::UnknownFormat)
    );
    // A bare signature carries no dimensions.
    assert_eq!(inspect(&PNG[..8]), Err(ImageError::BadHeader("PNG")));
    assert_eq!(inspect(&PNG[..20]), Err(ImageError::BadHeader("PNG")));
    assert_eq!(inspect(&JPEG[..4]), Err(ImageError::BadHeader("JPEG")));
    assert_eq!(inspect(&WEBP[..14]), Err(ImageError::BadHeader("WebP")));
}

#[test]
fn inspect_refuses_files_cut_short_after_a_good_header() {
    assert_eq!(
        inspect(&PNG[..PNG.len() - 1]),
        Err(ImageError::Truncated("PNG"))
    );
    assert_eq!(inspect(&PNG[..40]), Err(ImageError::Truncated("PNG")));
    assert_eq!(
        inspect(&JPEG[..JPEG.len() / 2]),
        Err(ImageError::Truncated("JPEG"))
    );
    assert_eq!(
        inspect(&WEBP[..WEBP.len() - 1]),
        Err(ImageError::Truncated("WebP"))
    );
}

#[test]
fn content_types() {
    assert_eq!(ImageFormat::Png.content_type(), "image/png");
    assert_eq!(ImageFormat::Jpeg.content_type(), "image/jpeg");
    assert_eq!(ImageFormat::Webp.content_type(), "image/webp");
}

#[test]
fn ends_whole_judges_from_head_tail_and_length_alone() {
    for (bytes, format) in [
        (PNG, ImageFormat::Png),
        (JPEG, ImageFormat::Jpeg),
        (WEBP, ImageFormat::Webp),
    ] {
        let head = &bytes[..SNIFF_LEN];
        let tail = &bytes[bytes.len() - TAIL_LEN..];
        assert!(ends_whole(format, head, tail, bytes.len()));
        let cut = &bytes[..bytes.len() * 2 / 3];
        let cut_tail = &cut[cut.len() - TAIL_LEN..];
        assert!(!ends_whole(format, head, cut_tail, cut.len()), "{format:?}");
    }
    assert!(
        !ends_whole(ImageFormat::Webp, b"RIFF", &[], 4),
        "short head"
    );
}

#[test]
fn jpegs_with_two_frame_headers_are_refused() {
    // Found by fuzzing: a lossless SOF7 frame saying 64x48, then a baseline SOF0 saying
    // 8000x8000. Header readers take the first, decoders the second.
    let forged = include_bytes!(
        "../../../fuzz/regressions/image_dims/jpeg-sof7-64x48-then-sof0-8000x8000.jpg"
    );
    assert!(matches!(
        inspect(forged),
        Err(ImageError::UnsupportedJpeg(_))
    ));
    // A real JPEG with its SOF0 duplicated right after itself.
    let sof = JPEG.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let len = usize::from(u16::from_be_bytes([JPEG[sof + 2], JPEG[sof + 3]]));
    let mut doubled = JPEG[..sof + 2 + len].to_vec();
    doubled.extend_from_slice(&JPEG[sof..]);
    assert_eq!(
        inspect(&doubled),
        Err(ImageError::UnsupportedJpeg("more than one frame header"))
    );
    assert!(inspect(JPEG).is_ok(), "one frame is fine");
}

/// `photo-64x48.png` with one byte of its `IDAT` data changed: the signature, `IHDR` and `IEND`
/// are intact, so the header reads and the end marker is there; only the chunk's CRC tells.
const PNG_CORRUPT_BODY: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48-corrupt.png");

#[test]
fn inspect_refuses_a_png_whose_body_fails_its_crc() {
    assert_eq!(PNG_CORRUPT_BODY.len(), PNG.len());
    assert_eq!(
        &PNG_CORRUPT_BODY[..33],
        &PNG[..33],
        "signature and IHDR intact"
    );
    assert!(
        is_complete(ImageFormat::Png, PNG_CORRUPT_BODY),
        "IEND intact"
    );
    assert_eq!(
        inspect(PNG_CORRUPT_BODY),
        Err(ImageError::BadChunkCrc {
            chunk: "IDAT".to_owned(),
            offset: 33
        })
    );
    let message = inspect(PNG_CORRUPT_BODY).unwrap_err().to_string();
    assert!(
        message.contains("'IDAT'") && message.contains("CRC"),
        "{message}"
    );
}

#[test]
fn png_chunk_walk_checks_every_chunk_and_its_bounds() {
    assert_eq!(check_png_chunks(PNG), Ok(()));
    // A damaged IHDR CRC (bytes 29..33) is caught too, though the header's size still reads.
    let mut bad_header = PNG.to_vec();
    bad_header[30] ^= 1;
    assert_eq!(
        inspect(&bad_header),
        Err(ImageError::BadChunkCrc {
            chunk: "IHDR".to_owned(),
            offset: 8
        })
    );
    // A chunk length pointing past the end is a truncated file, not a panic.
    let mut too_long = PNG.to_vec();
    too_long[33..37].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        check_png_chunks(&too_long),
        Err(ImageError::Truncated("PNG"))
    );
    // Cut just before IEND: the walk runs out of bytes.
    assert_eq!(
        check_png_chunks(&PNG[..PNG.len() - 12]),
        Err(ImageError::Truncated("PNG"))
    );
}
