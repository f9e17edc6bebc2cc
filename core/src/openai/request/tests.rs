use serde_json::json;

use super::*;

fn json_body(value: Value) -> Body {
    match value {
        Value::Object(map) => Body::Json(map),
        _ => unreachable!("tests pass objects"),
    }
}

fn generate(value: Value) -> Result<ImagesRequest, ApiError> {
    read(
        Endpoint::Generations,
        &json_body(value),
        Policy::default(),
        &mut || 1000,
    )
}

fn violations(result: Result<ImagesRequest, ApiError>) -> Vec<(String, Rule)> {
    match result {
        Err(ApiError::Invalid(v)) => v.into_iter().map(|v| (v.path, v.rule)).collect(),
        Err(other) => panic!("not a violation: {other}"),
        Ok(_) => panic!("accepted"),
    }
}

fn normalized(request: &ImagesRequest, i: usize) -> Normalized {
    normalize(
        request.model,
        request.raw_for(i),
        Policy::default(),
        &mut || panic!("every image has its seed"),
    )
    .unwrap()
}

fn png(width: u32, height: u32, color: png::ColorType, pixel: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    let data: Vec<u8> = pixel
        .iter()
        .copied()
        .cycle()
        .take(pixel.len() * (width * height) as usize)
        .collect();
    writer.write_image_data(&data).unwrap();
    writer.finish().unwrap();
    out
}

#[test]
fn defaults_one_image_of_the_default_model() {
    let request = generate(json!({"prompt": "a cat"})).unwrap();
    assert_eq!(request.model.id, models::ALL[0].id);
    assert_eq!(request.n, 1);
    assert_eq!(request.seeds, [1000]);
    assert!(request.seed_drawn);
    assert_eq!(
        request.size,
        Some((1024, 1024)),
        "the model's default, never null"
    );
    assert_eq!(request.response_format, ResponseFormat::B64Json);
    assert_eq!(request.output_format, None);
}

#[test]
fn n_images_get_consecutive_seeds_and_their_own_inputs() {
    let request =
        generate(json!({"prompt": "a cat", "n": 3, "seed": 42, "size": "1001x767"})).unwrap();
    assert_eq!(request.seeds, [42, 43, 44]);
    assert!(!request.seed_drawn);
    assert_eq!(request.images(), 3);
    // Rounded to the grid as width and height are.
    assert_eq!(request.size, Some((1000, 768)));
    for i in 0..3 {
        let inputs = normalized(&request, i).inputs;
        assert_eq!(inputs.integer("seed"), Some(42 + i as i64));
        assert_eq!(inputs.integer("width"), Some(1000));
        assert_eq!(inputs.integer("height"), Some(768));
    }
}

#[test]
fn size_gives_the_same_inputs_as_width_and_height() {
    let request = generate(json!({"prompt": "p", "seed": 1, "size": "768x512"})).unwrap();
    let native = normalize(
        models::ALL[0],
        crate::parse_json(
            models::ALL[0],
            br#"{"prompt":"p","seed":1,"width":768,"height":512}"#,
        )
        .unwrap(),
        Policy::default(),
        &mut || 0,
    )
    .unwrap();
    assert_eq!(normalized(&request, 0).inputs, native.inputs);
}

#[test]
fn every_violation_is_listed_openai_fields_first() {
    let found = violations(generate(json!({
        "prompt": "",
        "n": 9,
        "size": "big",
        "response_format": "link",
        "num_steps": 50,
    })));
    assert_eq!(
        found,
        [
            ("/n".to_owned(), Rule::Maximum),
            ("/size".to_owned(), Rule::Type),
            ("/response_format".to_owned(), Rule::Type),
            ("/prompt".to_owned(), Rule::MinLength),
            ("/num_steps".to_owned(), Rule::Maximum),
        ]
    );
    assert_eq!(
        violations(generate(json!({"prompt": "p", "size": "4096x1024"}))),
        [("/size".to_owned(), Rule::Maximum)]
    );
    assert_eq!(
        violations(generate(json!({"prompt": "p", "n": 2.5}))),
        [("/n".to_owned(), Rule::Integer)]
    );
    assert_eq!(
        violations(generate(json!({"prompt": "p", "n": "2"}))),
        [("/n".to_owned(), Rule::Type)]
    );
    assert_eq!(
        violations(generate(json!({"prompt": "p", "width": 512}))),
        [("/width".to_owned(), Rule::Type)]
    );
}

#[test]
fn an_unknown_model_is_not_found() {
    assert!(matches!(
        generate(json!({"prompt": "p", "model": "dall-e-3"})),
        Err(ApiError::NoSuchModel(id)) if id == "dall-e-3"
    ));
    let flux =
        generate(json!({"prompt": "p", "model": "@cf/black-forest-labs/flux-1-schnell"})).unwrap();
    assert_eq!(flux.seeds, Vec::<i64>::new());
    assert_eq!(flux.images(), 1);
    assert_eq!(
        violations(generate(json!({
            "prompt": "p", "n": 2, "model": "@cf/black-forest-labs/flux-1-schnell"
        }))),
        [("/n".to_owned(), Rule::Maximum)]
    );
}

#[test]
fn openai_only_fields_are_ignored_and_named_unknown_ones_follow_the_policy() {
    let request = generate(json!({
        "prompt": "p", "style": "vivid", "user": "u1", "moderation": "low",
        "input_fidelity": "high", "partial_images": 2, "stream": false, "typo": 1
    }))
    .unwrap();
    assert_eq!(
        request.ignored,
        [
            "input_fidelity",
            "moderation",
            "partial_images",
            "style",
            "user",
            "typo"
        ]
    );
    assert!(!request.stream);
    let strict = Policy {
        unknown_fields: crate::UnknownFields::Reject,
        ..Policy::default()
    };
    let refused = read(
        Endpoint::Generations,
        &json_body(json!({"prompt": "p", "style": "natural", "typo": 1})),
        strict,
        &mut || 0,
    );
    assert_eq!(
        violations(refused),
        [("/typo".to_owned(), Rule::UnknownField)]
    );
}

#[test]
fn accepted_fields_still_refuse_values_they_do_not_have() {
    assert_eq!(
        violations(generate(json!({
            "prompt": "p", "moderation": "none", "style": 3, "partial_images": 4, "stream": "yes"
        }))),
        [
            ("/stream".to_owned(), Rule::Type),
            ("/partial_images".to_owned(), Rule::Type),
            ("/moderation".to_owned(), Rule::Type),
            ("/style".to_owned(), Rule::Type),
        ]
    );
}

#[test]
fn quality_chooses_the_steps_unless_the_request_sends_its_own() {
    let steps = |request: &ImagesRequest| normalized(request, 0).inputs.integer("num_steps");
    let low = generate(json!({"prompt": "p", "quality": "low"})).unwrap();
    assert_eq!(steps(&low), Some(5));
    assert_eq!(low.quality, Some(Quality::Low));
    assert!(low.ignored.is_empty());
    let hd = generate(json!({"prompt": "p", "quality": "hd"})).unwrap();
    assert_eq!(steps(&hd), Some(20));
    assert_eq!(hd.quality, Some(Quality::High));
    // The model's own field wins, and the quality is named as ignored.
    let own = generate(json!({"prompt": "p", "quality": "low", "num_steps": 7})).unwrap();
    assert_eq!(steps(&own), Some(7));
    assert_eq!(own.quality, None);
    assert_eq!(own.ignored, ["quality"]);
    // auto: the table's default, nothing ignored.
    let auto = generate(json!({"prompt": "p", "quality": "auto"})).unwrap();
    assert_eq!(steps(&auto), Some(20));
    assert_eq!(auto.quality, None);
    assert!(auto.ignored.is_empty());
    let flux = generate(json!({"prompt": "p", "quality": "high",
        "model": "@cf/black-forest-labs/flux-1-schnell"}))
    .unwrap();
    assert_eq!(normalized(&flux, 0).inputs.integer("steps"), Some(8));
    assert_eq!(
        violations(generate(json!({"prompt": "p", "quality": "ultra"}))),
        [("/quality".to_owned(), Rule::Type)]
    );
}

#[test]
fn transparency_and_compression_are_refused_with_their_reasons() {
    for ok in [
        json!({"prompt": "p", "background": "opaque", "output_compression": 100}),
        json!({"prompt": "p", "background": "auto", "output_compression": null}),
    ] {
        assert!(generate(ok).unwrap().ignored.is_empty());
    }
    let Err(ApiError::Invalid(refused)) = generate(json!({
        "prompt": "p", "background": "transparent", "output_compression": 80
    })) else {
        panic!("accepted")
    };
    assert_eq!(refused[0].path, "/background");
    assert_eq!(refused[0].rule, Rule::Unsupported);
    assert!(refused[0].message.contains("opaque images only"));
    assert_eq!(refused[1].path, "/output_compression");
    assert!(refused[1].message.contains("does not re-encode"));
}

#[test]
fn a_stream_answers_base64() {
    let request = generate(json!({"prompt": "p", "stream": true, "partial_images": 0})).unwrap();
    assert!(request.stream);
    assert!(request.ignored.is_empty(), "no partial images asked for");
    assert_eq!(
        violations(generate(
            json!({"prompt": "p", "stream": true, "response_format": "url"})
        )),
        [("/response_format".to_owned(), Rule::Unsupported)]
    );
    let form = edit(vec![
        ("prompt", text("p")),
        (
            "image",
            FormPart::File(png(64, 64, png::ColorType::Rgb, &[1, 2, 3])),
        ),
        ("stream", text("true")),
        ("model", text("@cf/runwayml/stable-diffusion-v1-5-img2img")),
    ]);
    assert!(form.unwrap().stream);
}

#[test]
fn output_format_must_be_the_models_own() {
    let png = generate(json!({"prompt": "p", "output_format": "png"})).unwrap();
    assert_eq!(png.output_format, Some(ImageFormat::Png));
    for other in ["jpeg", "webp", "gif"] {
        assert_eq!(
            violations(generate(json!({"prompt": "p", "output_format": other}))),
            [("/output_format".to_owned(), Rule::Type)],
            "{other}"
        );
    }
}

#[test]
fn the_last_seed_must_stay_exact() {
    let max = crate::model::MAX_SAFE_INTEGER;
    assert_eq!(
        violations(generate(json!({"prompt": "p", "n": 2, "seed": max}))),
        [("/seed".to_owned(), Rule::Maximum)]
    );
    assert!(generate(json!({"prompt": "p", "n": 2, "seed": max - 1})).is_ok());
}

fn edit(parts: Vec<(&str, FormPart)>) -> Result<ImagesRequest, ApiError> {
    let parts = parts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    read(
        Endpoint::Edits,
        &Body::Form(parts),
        Policy::default(),
        &mut || 5,
    )
}

fn text(s: &str) -> FormPart {
    FormPart::Text(s.to_owned())
}

#[test]
fn an_edit_takes_the_image_size_and_a_default_strength() {
    let image = png(643, 477, png::ColorType::Rgb, &[10, 20, 30]);
    let request = edit(vec![
        ("prompt", text("night")),
        ("image", FormPart::File(image.clone())),
        ("n", text("2")),
    ])
    .unwrap();
    assert_eq!(request.size, Some((640, 480)));
    assert_eq!(request.seeds, [5, 6]);
    let inputs = normalized(&request, 1).inputs;
    assert_eq!(inputs.number("strength"), Some(EDIT_STRENGTH));
    assert_eq!(&*inputs.image("image").unwrap().bytes, &image[..]);
    // `image[]` (the SDKs' array naming) with one file is the same request.
    let bracketed = edit(vec![
        ("prompt", text("night")),
        ("image[]", FormPart::File(image.clone())),
        ("n", text("2")),
    ])
    .unwrap();
    assert_eq!(normalized(&bracketed, 1), normalized(&request, 1));
    // A strength sent is kept.
    let strong = edit(vec![
        ("prompt", text("night")),
        ("image", FormPart::File(image)),
        ("strength", text("0.3")),
    ])
    .unwrap();
    assert_eq!(normalized(&strong, 0).inputs.number("strength"), Some(0.3));
}

#[test]
fn an_edit_needs_exactly_one_image_file() {
    let image = png(256, 256, png::ColorType::Rgb, &[1, 2, 3]);
    assert_eq!(
        violations(edit(vec![("prompt", text("p"))])),
        [("/image".to_owned(), Rule::Required)]
    );
    assert_eq!(
        violations(edit(vec![
            ("prompt", text("p")),
            ("image[]", FormPart::File(image.clone())),
            ("image[]", FormPart::File(image)),
        ])),
        [("/image".to_owned(), Rule::Maximum)]
    );
    assert_eq!(
        violations(edit(vec![
            ("prompt", text("p")),
            ("image", text("cat.png"))
        ])),
        [("/image".to_owned(), Rule::Type)]
    );
}

#[test]
fn an_edit_of_a_flux2_model_takes_up_to_four_images_as_its_references_in_order() {
    let [a, b, c] = [[200, 0, 0], [0, 200, 0], [0, 0, 200]]
        .map(|pixel| png(300, 200, png::ColorType::Rgb, &pixel));
    let klein = "@cf/black-forest-labs/flux-2-klein-4b";
    let request = edit(vec![
        ("model", text(klein)),
        ("prompt", text("the three together")),
        ("image[]", FormPart::File(a.clone())),
        ("image[]", FormPart::File(b.clone())),
        ("image[]", FormPart::File(c.clone())),
    ])
    .unwrap();
    assert_eq!(request.model.id, klein);
    let inputs = normalized(&request, 0).inputs;
    for (name, bytes) in [
        ("input_image_0", &a),
        ("input_image_1", &b),
        ("input_image_2", &c),
    ] {
        assert_eq!(&*inputs.image(name).unwrap().bytes, &bytes[..], "{name}");
    }
    assert!(inputs.image("input_image_3").is_none());
    assert!(
        inputs.number("strength").is_none(),
        "FLUX.2 has no strength"
    );

    let five: Vec<(&str, FormPart)> = [("model", text(klein)), ("prompt", text("p"))]
        .into_iter()
        .chain((0..5).map(|_| ("image[]", FormPart::File(a.clone()))))
        .collect();
    assert_eq!(
        violations(edit(five)),
        [("/image".to_owned(), Rule::Maximum)]
    );
    // These models take no mask.
    let masked = violations(edit(vec![
        ("model", text(klein)),
        ("prompt", text("p")),
        ("image[]", FormPart::File(a)),
        (
            "mask",
            FormPart::File(png(300, 200, png::ColorType::Rgba, &[0, 0, 0, 0])),
        ),
    ]));
    assert_eq!(masked, [("/mask".to_owned(), Rule::UnknownField)]);
}

#[test]
fn an_edit_mask_is_converted_to_white_for_repaint() {
    let image = png(256, 256, png::ColorType::Rgb, &[1, 2, 3]);
    // Fully transparent: everything is repainted, so the converted mask is all white.
    let mask = png(256, 256, png::ColorType::Rgba, &[0, 0, 0, 0]);
    let request = edit(vec![
        ("prompt", text("p")),
        ("image", FormPart::File(image.clone())),
        ("mask", FormPart::File(mask)),
    ])
    .unwrap();
    let inputs = normalized(&request, 0).inputs;
    // With a mask, the table's strength (1) applies.
    assert_eq!(inputs.number("strength"), Some(1.0));
    let converted: &[u8] = &inputs.image("mask").unwrap().bytes;
    let mut reader = png::Decoder::new(std::io::Cursor::new(converted))
        .read_info()
        .unwrap();
    let mut grey = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut grey).unwrap();
    assert!(grey.iter().all(|g| *g == 255));

    let wrong_size = png(128, 128, png::ColorType::Rgba, &[0, 0, 0, 0]);
    assert_eq!(
        violations(edit(vec![
            ("prompt", text("p")),
            ("image", FormPart::File(image.clone())),
            ("mask", FormPart::File(wrong_size)),
        ])),
        [("/mask".to_owned(), Rule::SameDimensions)]
    );
    let opaque = png(256, 256, png::ColorType::Rgb, &[0, 0, 0]);
    assert_eq!(
        violations(edit(vec![
            ("prompt", text("p")),
            ("image", FormPart::File(image)),
            ("mask", FormPart::File(opaque)),
        ])),
        [("/mask".to_owned(), Rule::Image)]
    );
}

#[test]
fn the_mask_conversion_is_sized_from_the_header() {
    let mask = png(300, 200, png::ColorType::Rgba, &[0, 0, 0, 0]);
    let body = Body::Form(vec![("mask".to_owned(), FormPart::File(mask))]);
    let policy = Policy::default();
    assert_eq!(
        mask_conversion_bytes(&body, policy),
        converted_bound(300, 200)
    );
    assert_eq!(
        mask_conversion_bytes(&json_body(json!({"mask": 1})), policy),
        0
    );
}

#[test]
fn generations_refuse_images_and_native_size_fields() {
    let found = violations(generate(json!({
        "prompt": "p", "image_b64": "AAAA", "mask": [1], "height": 512
    })));
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/mask", "/height", "/image_b64"]);
}

#[test]
fn a_mask_claiming_a_huge_size_is_refused_naming_mask_with_or_without_an_image() {
    let long = crate::openai::mask::claimed_png(16_777_216, 1);
    assert_eq!(
        mask_conversion_bytes(
            &Body::Form(vec![("mask".to_owned(), FormPart::File(long.clone()))]),
            Policy::default()
        ),
        0,
        "nothing is held for a mask refused on its header"
    );
    let image = png(64, 64, png::ColorType::Rgb, &[9, 9, 9]);
    let with_image = violations(edit(vec![
        ("prompt", text("p")),
        ("image", FormPart::File(image)),
        ("mask", FormPart::File(long.clone())),
    ]));
    assert_eq!(with_image, [("/mask".to_owned(), Rule::Image)]);
    let alone = violations(edit(vec![
        ("prompt", text("p")),
        ("mask", FormPart::File(long)),
    ]));
    assert!(
        alone.contains(&("/mask".to_owned(), Rule::Image)),
        "{alone:?}"
    );
    assert!(
        alone.contains(&("/image".to_owned(), Rule::Required)),
        "{alone:?}"
    );
}

#[test]
fn a_generations_body_is_read_by_fields_and_a_large_field_is_refused_by_name() {
    let sent = json!({"prompt": "p", "n": 2, "size": "512x512", "user": {"id": [1, 2]}});
    let bytes = serde_json::to_vec(&sent).unwrap();
    let Body::Json(map) = Body::from_json(&bytes).unwrap() else {
        panic!("a JSON body");
    };
    assert_eq!(Value::Object(map), sent);

    let padded = format!(
        r#"{{"prompt": "p", "padding": [{}0]}}"#,
        "0,".repeat(100_000)
    );
    let Err(ApiError::Invalid(found)) = Body::from_json(padded.as_bytes()) else {
        panic!("refused");
    };
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, "/padding");
    assert!(matches!(
        Body::from_json(b"[1]"),
        Err(ApiError::Body(crate::BodyError::NotAnObject("an array")))
    ));
}
