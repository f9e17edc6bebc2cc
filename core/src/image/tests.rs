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
