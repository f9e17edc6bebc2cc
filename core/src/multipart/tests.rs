//! The body read back by a small reader written from RFC 7578 (not from the builder), and
//! checked against the form the FLUX.2 models take.

use base64::Engine;
use serde_json::json;

use super::{form_body, FormBody, Piece};
use crate::cache_key::cache_key;
use crate::models::{FLUX_2_DEV, FLUX_2_KLEIN_4B};
use crate::{validate_json, ModelSpec, Normalized, Policy};

const PNG_256: &[u8] = include_bytes!("../../../tests/fixtures/photo-256.png");
const JPEG: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.jpg");

fn normalized(spec: &'static ModelSpec, body: &serde_json::Value) -> Normalized {
    let text = serde_json::to_vec(body).unwrap();
    validate_json(spec, &text, Policy::default(), &mut || 7).unwrap()
}

fn bytes_of(body: &FormBody<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in &body.pieces {
        match piece {
            Piece::Text(t) => out.extend_from_slice(t.as_bytes()),
            Piece::Image(b) => out.extend_from_slice(b),
        }
    }
    out
}

/// One part: its name, its filename and content type when it has them, its content.
#[derive(Debug, PartialEq)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    content: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads a `multipart/form-data` body by the boundary its content type names: the body must be
/// `--b CRLF part (CRLF --b CRLF part)* CRLF --b-- CRLF` exactly, each part `headers CRLF CRLF
/// content`, each header line `Name: value`.
fn read_form(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("the content type names the boundary");
    assert!(!boundary.is_empty() && boundary.len() <= 70, "RFC 2046");
    let open = format!("--{boundary}\r\n");
    let next = format!("\r\n--{boundary}");
    assert!(
        body.starts_with(open.as_bytes()),
        "starts with the boundary"
    );
    let mut rest = &body[open.len()..];
    let mut parts = Vec::new();
    loop {
        let end = find(rest, next.as_bytes()).expect("each part is closed by a boundary");
        let part = &rest[..end];
        let head_end = find(part, b"\r\n\r\n").expect("headers end with an empty line");
        let head = std::str::from_utf8(&part[..head_end]).unwrap();
        let mut read = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            content: part[head_end + 4..].to_vec(),
        };
        for line in head.split("\r\n") {
            let (header, value) = line.split_once(": ").expect("a header line");
            match header.to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    let mut params = value.split("; ");
                    assert_eq!(params.next(), Some("form-data"));
                    for param in params {
                        let (k, v) = param.split_once('=').unwrap();
                        let v = v.strip_prefix('"').unwrap().strip_suffix('"').unwrap();
                        match k {
                            "name" => read.name = v.to_owned(),
                            "filename" => read.filename = Some(v.to_owned()),
                            other => panic!("unexpected parameter {other}"),
                        }
                    }
                }
                "content-type" => read.content_type = Some(value.to_owned()),
                other => panic!("unexpected header {other}"),
            }
        }
        parts.push(read);
        rest = &rest[end + next.len()..];
        if rest == b"--\r\n" {
            return parts;
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .expect("a boundary line ends in CRLF");
    }
}

fn texts(parts: &[Part]) -> Vec<(&str, &str)> {
    parts
        .iter()
        .filter(|p| p.filename.is_none())
        .map(|p| (p.name.as_str(), std::str::from_utf8(&p.content).unwrap()))
        .collect()
}

const KEY: &str = "16a1b117bf0732d6c7967a689d4847f0ebdcaa76e32238bb099692f33c65918c";

#[test]
fn a_prompt_alone_is_one_text_piece_in_the_exact_form() {
    let n = normalized(&FLUX_2_KLEIN_4B, &json!({"prompt": "a fox", "seed": 42}));
    let body = form_body(&n, KEY);
    let b = "sdxl-gateway-16a1b117bf0732d6c7967a689d4847f0";
    assert_eq!(body.boundary, b);
    assert_eq!(
        body.content_type,
        format!("multipart/form-data; boundary={b}")
    );
    let expected = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na fox\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"width\"\r\n\r\n1024\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"height\"\r\n\r\n768\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"seed\"\r\n\r\n42\r\n\
         --{b}--\r\n"
    );
    assert_eq!(body.pieces, [Piece::Text(expected.clone())]);
    assert_eq!(body.len(), expected.len());
}

#[test]
fn reference_images_are_file_parts_under_the_models_names_in_order() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(JPEG);
    let n = normalized(
        &FLUX_2_DEV,
        &json!({
            "prompt": "the same fox, in winter",
            "input_image_0": PNG_256,
            "input_image_1_b64": format!("data:image/jpeg;base64,{b64}"),
            "input_image_2": PNG_256,
            "guidance": 3.5,
            "seed": 9,
        }),
    );
    let body = form_body(&n, KEY);
    // Images are borrowed from the normalized inputs, not copied.
    let images: Vec<&[u8]> = body
        .pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Image(b) => Some(*b),
            Piece::Text(_) => None,
        })
        .collect();
    assert_eq!(images.len(), 3);
    let first = n.inputs.image("input_image_0").unwrap();
    assert!(std::ptr::eq(images[0].as_ptr(), first.bytes.as_ptr()));

    let parts = read_form(&body.content_type, &bytes_of(&body));
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prompt",
            "input_image_0",
            "input_image_1",
            "input_image_2",
            "steps",
            "guidance",
            "width",
            "height",
            "seed"
        ]
    );
    assert!(names.iter().all(|n| !n.ends_with("_b64")));
    let file = |name: &str| parts.iter().find(|p| p.name == name).unwrap();
    for (name, filename, media_type, content) in [
        ("input_image_0", "input_image_0.png", "image/png", PNG_256),
        ("input_image_1", "input_image_1.jpg", "image/jpeg", JPEG),
        ("input_image_2", "input_image_2.png", "image/png", PNG_256),
    ] {
        let part = file(name);
        assert_eq!(part.filename.as_deref(), Some(filename));
        assert_eq!(part.content_type.as_deref(), Some(media_type));
        assert_eq!(part.content, content, "{name}: the bytes, whole");
    }
    assert_eq!(
        texts(&parts),
        [
            ("prompt", "the same fox, in winter"),
            ("steps", "25"),
            ("guidance", "3.5"),
            ("width", "1024"),
            ("height", "768"),
            ("seed", "9")
        ]
    );
}

#[test]
fn a_prompt_holding_the_boundary_moves_it_and_survives_whole() {
    let base = "sdxl-gateway-16a1b117bf0732d6c7967a689d4847f0";
    let prompt = format!("line one\r\n--{base}\r\n\"quoted\" and {base}-1 too");
    let n = normalized(&FLUX_2_KLEIN_4B, &json!({"prompt": prompt}));
    let body = form_body(&n, KEY);
    assert_eq!(body.boundary, format!("{base}-2"));
    let parts = read_form(&body.content_type, &bytes_of(&body));
    assert_eq!(texts(&parts)[0], ("prompt", prompt.as_str()));
}

#[test]
fn one_request_is_one_body_and_its_key_does_not_depend_on_it() {
    let n = normalized(
        &FLUX_2_KLEIN_4B,
        &json!({"prompt": "p", "input_image_0": PNG_256}),
    );
    let key = cache_key(&n);
    assert_eq!(
        bytes_of(&form_body(&n, &key)),
        bytes_of(&form_body(&n, &key))
    );
    // The key is of the inputs alone: computed before any body, the same after.
    assert_eq!(cache_key(&n), key);
    assert!(form_body(&n, &key).boundary.ends_with(&key[..32]));
}
