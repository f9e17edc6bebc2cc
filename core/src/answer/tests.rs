use super::*;
use crate::access::AuthError;
use crate::budget::OverBudget;
use crate::route::Surface;

fn header<'h>(headers: &'h HeaderList, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

const REP: Representation<'static> = Representation {
    tag: "k",
    permalink: Some("k-t"),
    seed: Some("42"),
    vary: VARY,
};

#[test]
fn the_cache_plan_follows_the_clients_headers() {
    let caching = |cache_control: &str| ClientCaching::from_headers(Some(cache_control), None);
    // (cache-control, If-None-Match: *, seed drawn) -> (look up, store, wants fresh)
    let cases = [
        ("", false, false, (true, true, false)),
        ("", false, true, (false, true, false)),
        ("no-cache", false, false, (false, true, true)),
        ("no-cache", true, false, (true, true, true)),
        ("no-store", false, false, (false, false, true)),
        ("no-store", true, true, (false, false, true)),
    ];
    for (cache_control, star, drawn, (look_up, store, wants_fresh)) in cases {
        let plan = CachePlan::new(caching(cache_control), star, drawn);
        assert_eq!(
            (
                plan.look_up,
                plan.store,
                plan.wants_fresh,
                plan.unless_exists
            ),
            (look_up, store, wants_fresh, star),
            "{cache_control:?} star={star} drawn={drawn}"
        );
    }
}

#[test]
fn only_no_store_answers_to_unconditional_requests_go_without_the_permalink() {
    let plan = |cache_control: &str, star: bool| {
        CachePlan::new(
            ClientCaching::from_headers(Some(cache_control), None),
            star,
            false,
        )
    };
    assert!(plan("", false).may_carry_permalink(false));
    assert!(plan("no-cache", false).may_carry_permalink(false));
    assert!(!plan("no-store", false).may_carry_permalink(false));
    // A 304 carries it, even under no-store.
    assert!(plan("no-store", false).may_carry_permalink(true));
    assert!(plan("no-store", true).may_carry_permalink(true));
    // What the plan leaves out is what a no-store answer never shows.
    let bypass = image_headers(&REP, Delivery::Image, "image/png", CacheStatus::Bypass, &[]);
    assert_eq!(header(&bypass, "content-location"), None);
    let not_generated = not_generated_headers(&REP, &[]);
    assert_eq!(header(&not_generated, "content-location"), None);
}

#[test]
fn cache_statuses_name_their_tier() {
    let all = [
        (CacheStatus::Hit(Tier::Memory), "HIT", Some("memory")),
        (CacheStatus::Hit(Tier::CacheApi), "HIT", Some("cache-api")),
        (CacheStatus::Hit(Tier::R2), "HIT", Some("r2")),
        (CacheStatus::Joined, "HIT", Some("in-flight")),
        (CacheStatus::Miss, "MISS", None),
        (CacheStatus::Bypass, "BYPASS", None),
    ];
    for (status, label, tier) in all {
        assert_eq!((status.label(), status.tier()), (label, tier), "{status:?}");
    }
}

#[test]
fn a_stored_answer_is_immutable_with_its_permalink_and_a_no_store_one_is_neither() {
    let requested = vec![("x-requested-width", "512".to_owned())];
    let miss = image_headers(
        &REP,
        Delivery::Image,
        "image/png",
        CacheStatus::Miss,
        &requested,
    );
    assert_eq!(header(&miss, "content-type"), Some("image/png"));
    assert_eq!(header(&miss, "etag"), Some("\"k\""));
    assert_eq!(header(&miss, "cache-control"), Some(IMMUTABLE));
    assert_eq!(header(&miss, "content-location"), Some("/images/k-t"));
    assert_eq!(header(&miss, "x-seed"), Some("42"));
    assert_eq!(header(&miss, "vary"), Some("accept"));
    assert_eq!(header(&miss, "x-cache"), Some("MISS"));
    assert_eq!(header(&miss, "x-cache-tier"), None);
    assert_eq!(header(&miss, "x-requested-width"), Some("512"));

    let bypass = image_headers(
        &REP,
        Delivery::Envelope,
        "image/png",
        CacheStatus::Bypass,
        &[],
    );
    assert_eq!(header(&bypass, "content-type"), Some("application/json"));
    assert_eq!(header(&bypass, "cache-control"), Some("no-store"));
    assert_eq!(header(&bypass, "content-location"), None);
    assert_eq!(header(&bypass, "x-cache"), Some("BYPASS"));

    let hit = image_headers(
        &REP,
        Delivery::Image,
        "image/jpeg",
        CacheStatus::Joined,
        &[],
    );
    assert_eq!(header(&hit, "x-cache-tier"), Some("in-flight"));

    let no_permalink = Representation {
        permalink: None,
        ..REP
    };
    let miss = image_headers(
        &no_permalink,
        Delivery::Image,
        "image/png",
        CacheStatus::Miss,
        &[],
    );
    assert_eq!(header(&miss, "content-location"), None);
}

#[test]
fn a_held_tag_is_named_by_if_none_match() {
    assert!(REP.is_held(Some("\"k\"")));
    assert!(REP.is_held(Some("W/\"x\", \"k\"")));
    assert!(!REP.is_held(Some("\"k.json\"")));
    assert!(!REP.is_held(Some("*")));
    assert!(!REP.is_held(None));
}

#[test]
fn a_304_repeats_the_entity_headers_and_vary() {
    let headers = not_modified_headers(&REP);
    assert_eq!(header(&headers, "etag"), Some("\"k\""));
    assert_eq!(header(&headers, "vary"), Some("accept"));
    assert_eq!(header(&headers, "content-location"), Some("/images/k-t"));
    assert_eq!(header(&headers, "content-type"), None);
}

#[test]
fn a_head_before_generating_promises_nothing_stored() {
    let headers = not_generated_headers(&REP, &[]);
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&headers, "content-location"), None);
    assert_eq!(header(&headers, "x-cache"), Some("MISS"));
    assert_eq!(header(&headers, "etag"), Some("\"k\""));
}

#[test]
fn envelopes_of_images() {
    let parse = |body: Option<String>| -> serde_json::Value {
        serde_json::from_str(&body.unwrap()).unwrap()
    };
    assert_eq!(
        parse(image_envelope(
            Delivery::Envelope,
            "QUJD",
            "image/png",
            Some("7")
        )),
        json!({"success": true, "errors": [], "messages": [],
               "result": {"image": "QUJD", "content_type": "image/png", "seed": 7}})
    );
    assert_eq!(
        parse(image_envelope(
            Delivery::RestEnvelope,
            "QUJD",
            "image/jpeg",
            Some("7")
        )),
        json!({"success": true, "errors": [], "messages": [], "result": {"image": "QUJD"}})
    );
    assert_eq!(
        image_envelope(Delivery::Image, "QUJD", "image/png", None),
        None
    );
}

#[test]
fn failures_map_to_status_headers_and_an_envelope() {
    let parse = |answer: &FailureAnswer| -> serde_json::Value {
        serde_json::from_str(&answer.body).unwrap()
    };
    let not_allowed = ApiError::MethodNotAllowed {
        method: "PUT".into(),
        path: "/".into(),
        allow: "GET, HEAD, POST".into(),
    };
    let answer = failure_answer(Refusal::Api(&not_allowed), "r1", Surface::Native);
    assert_eq!(answer.status, 405);
    assert_eq!(header(&answer.headers, "allow"), Some("GET, HEAD, POST"));
    assert_eq!(header(&answer.headers, "cache-control"), Some("no-store"));
    assert_eq!(parse(&answer)["result"], serde_json::Value::Null);
    assert_eq!(parse(&answer)["request_id"], "r1");

    // The REST drop-in says `"result": {}`, as Workers AI does.
    let answer = failure_answer(Refusal::Api(&not_allowed), "r1", Surface::Rest);
    assert_eq!(parse(&answer)["result"], json!({}));

    let unauthorized = ApiError::Unauthorized(AuthError::Missing);
    let answer = failure_answer(Refusal::Api(&unauthorized), "r2", Surface::Native);
    assert_eq!(answer.status, 401);
    assert_eq!(header(&answer.headers, "www-authenticate"), Some("Bearer"));

    let busy = ApiError::OverBudget(OverBudget {
        wanted: 2,
        free: 1,
        limit: 3,
    });
    let answer = failure_answer(Refusal::Api(&busy), "r3", Surface::Native);
    assert_eq!(answer.status, 503);
    assert_eq!(header(&answer.headers, "retry-after"), Some("1"));

    let answer = failure_answer(
        Refusal::Misconfigured("AI is not bound"),
        "r4",
        Surface::Rest,
    );
    assert_eq!(answer.status, 500);
    let body = parse(&answer);
    assert_eq!(
        body["errors"][0]["message"],
        "the gateway is misconfigured: AI is not bound"
    );
    assert_eq!(body["success"], false);
    assert_eq!(body["result"], json!({}));

    let answer = failure_answer(Refusal::Internal, "r5", Surface::Native);
    assert_eq!(answer.status, 500);
    assert_eq!(
        parse(&answer)["errors"][0]["message"],
        "the gateway failed; report the request id"
    );
}

#[test]
fn cors_headers_say_vary_origin_once() {
    let list = CorsPolicy::parse("https://app.example");
    let preflight = preflight_headers(&list, Some("https://app.example"));
    assert_eq!(
        header(&preflight, "access-control-allow-origin"),
        Some("https://app.example")
    );
    // Every answer then gets the CORS headers: a preflight's `Vary` stays one `origin`.
    let added = cors_headers(
        &list,
        Some("https://app.example"),
        header(&preflight, "vary"),
    );
    assert_eq!(header(&added, "vary"), Some("origin"));
    let added = cors_headers(&list, None, Some("accept"));
    assert_eq!(header(&added, "vary"), Some("accept, origin"));
    assert_eq!(header(&added, "access-control-allow-origin"), None);
    // Any origin: the answer does not depend on it.
    let any = CorsPolicy::parse("*");
    let added = cors_headers(&any, None, Some("accept"));
    assert_eq!(header(&added, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&added, "vary"), None);
    let refused = preflight_headers(&list, Some("https://evil.example"));
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
}

#[test]
fn requested_sizes_and_ignored_fields_are_echoed() {
    let spec = crate::models::ALL[0];
    let raw = crate::parse_json(spec, br#"{"prompt":"a","width":512,"zzz":1}"#).unwrap();
    let normalized = crate::normalize(spec, raw, crate::Policy::default(), &mut || 1).unwrap();
    let headers = requested_headers(&normalized);
    assert_eq!(header(&headers, "x-requested-width"), Some("512"));
    assert_eq!(header(&headers, "x-ignored-fields"), Some("zzz"));
    assert_eq!(
        cache_api_url("https://h.example", "k"),
        "https://h.example/images/k"
    );
}

#[test]
fn a_prediction_refusal_carries_replicates_problem_fields() {
    let invalid = ApiError::Invalid(vec![crate::violation::Violation::new(
        "/input/n",
        crate::violation::Rule::Maximum,
        "must be a whole number from 1 to 8",
    )]);
    let answer = failure_answer(Refusal::Api(&invalid), "r6", Surface::Jobs);
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(answer.status, 400);
    assert_eq!(body["status"], 400);
    assert_eq!(body["title"], "Invalid input");
    assert!(
        body["detail"].as_str().unwrap().contains("from 1 to 8"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["path"], "/input/n", "the v4 fields stay");
    let native = failure_answer(Refusal::Api(&invalid), "r6", Surface::Native);
    assert!(!native.body.contains("\"title\""));
}

#[test]
fn each_path_has_one_surface() {
    for (path, surface) in [
        ("/", Surface::Native),
        ("/ai/run/@cf/x/y", Surface::Native),
        ("/client/v4/accounts/a/ai/run/@cf/x/y", Surface::Rest),
        ("/v1/images/generations", Surface::OpenAi),
        ("/v1/predictions", Surface::Jobs),
        ("/v1/predictions/abc", Surface::Jobs),
    ] {
        assert_eq!(Surface::of(path), surface, "{path}");
    }
}
