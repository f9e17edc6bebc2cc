use super::*;

/// Plans hold an `ApiError` (not comparable): compared by their debug form.
macro_rules! assert_plan {
    ($got:expr, $want:expr) => {
        assert_eq!(
            format!("{:?}", $got),
            format!("{:?}", Ok::<Plan, ApiError>($want))
        )
    };
}

/// The debug form of the plan for `head`.
fn planned(head: &RequestHead, local_admin: bool) -> String {
    format!("{:?}", plan(head, local_admin))
}

const SDXL: &str = "@cf/bytedance/stable-diffusion-xl-lightning";
const FLUX: &str = "@cf/black-forest-labs/flux-1-schnell";
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn head(method: &str, url: &str, accept: Option<&str>) -> RequestHead {
    let mut head = RequestHead::new(method, &format!("https://gw.example{url}"));
    head.accept = accept.map(str::to_owned);
    head
}

fn status(method: &str, url: &str) -> Option<(u16, Option<String>)> {
    match plan(&head(method, url, None), false) {
        Ok(_) => None,
        Err(error) => {
            let allow = match &error {
                ApiError::MethodNotAllowed { allow, .. } => Some(allow.clone()),
                _ => None,
            };
            Some((error.status(), allow))
        }
    }
}

#[test]
fn every_route_takes_its_methods_and_refuses_others_with_allow() {
    let run = format!("/ai/run/{SDXL}");
    let rest = format!("/client/v4/accounts/acc/ai/run/{SDXL}");
    let model = format!("/v1/models/{SDXL}");
    let table: [(&str, &str); 15] = [
        ("/", "GET, HEAD, POST"),
        (&run, "GET, HEAD, POST"),
        (&rest, "POST"),
        ("/images/abc", "GET, HEAD"),
        ("/models", "GET, HEAD"),
        ("/openapi.json", "GET, HEAD"),
        ("/usage", "GET, HEAD"),
        ("/v1/images/generations", "POST"),
        ("/v1/images/edits", "POST"),
        ("/v1/models", "GET, HEAD"),
        (&model, "GET, HEAD"),
        ("/v1/predictions", "POST"),
        ("/v1/predictions/abc", "GET, HEAD"),
        ("/v1/predictions/abc/cancel", "POST"),
        (
            "/v1/models/bytedance/stable-diffusion-xl-lightning/predictions",
            "POST",
        ),
    ];
    for (path, allowed) in table {
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"] {
            let refused = status(method, path);
            if allowed.split(", ").any(|m| m == method) {
                assert_eq!(refused, None, "{method} {path}");
            } else {
                assert_eq!(
                    refused,
                    Some((405, Some(allowed.to_owned()))),
                    "{method} {path}"
                );
            }
        }
    }
    assert_eq!(status("GET", "/nope"), Some((404, None)));
    assert_eq!(status("POST", "/nope"), Some((404, None)));
    assert_eq!(status("POST", "/v1/images/variations"), Some((404, None)));
    assert_eq!(status("GET", "/v1/models/"), Some((404, None)));
    assert_plan!(
        plan(&head("POST", "/v1/images/edits", None), false),
        Plan::OpenAi(OpenAiRoute::Edits)
    );
    // OPTIONS is a preflight wherever it is sent.
    assert_plan!(
        plan(&head("OPTIONS", "/nope", None), false),
        Plan::Preflight
    );
}

#[test]
fn delivery_is_negotiated_on_own_routes_and_fixed_on_the_rest_drop_in() {
    let generate = |method: &str, url: &str, accept: Option<&str>| match plan(
        &head(method, url, accept),
        false,
    )
    .unwrap()
    {
        Plan::Generate {
            model,
            delivery,
            fields,
        } => (model.map(|m| m.id).ok(), delivery, fields),
        other => panic!("{method} {url}: {other:?}"),
    };
    let json = Some("application/json");
    assert_eq!(
        generate("POST", "/", None),
        (Some(SDXL), Delivery::Image, Fields::Body)
    );
    assert_eq!(
        generate("GET", "/?prompt=a", json),
        (Some(SDXL), Delivery::Envelope, Fields::Query)
    );
    assert_eq!(
        generate("HEAD", &format!("/ai/run/{FLUX}?prompt=a"), None),
        (Some(FLUX), Delivery::Image, Fields::Query)
    );
    // The REST drop-in answers as Workers AI does, whatever `Accept` says.
    let rest = |model: &str| format!("/client/v4/accounts/acc/ai/run/{model}");
    assert_eq!(
        generate("POST", &rest(SDXL), json),
        (Some(SDXL), Delivery::Image, Fields::Body)
    );
    assert_eq!(
        generate("POST", &rest(FLUX), None),
        (Some(FLUX), Delivery::RestEnvelope, Fields::Body)
    );
    // An unknown model is refused later, after authorization.
    assert_eq!(generate("POST", "/ai/run/@cf/none", None).0, None);
}

#[test]
fn browsers_get_the_playground_only_at_a_bare_root() {
    let browse = |method: &str, url: &str| planned(&head(method, url, Some(BROWSER)), false);
    assert_eq!(browse("GET", "/"), "Ok(Playground)");
    assert_eq!(browse("HEAD", "/"), "Ok(Playground)");
    assert!(browse("GET", "/?prompt=a").starts_with("Ok(Generate"));
    assert!(browse("POST", "/").starts_with("Ok(Generate"));
    assert!(matches!(
        plan(&head("GET", "/", None), false),
        Ok(Plan::Generate { .. })
    ));
}

#[test]
fn permalinks_negotiate_too() {
    assert_plan!(
        plan(&head("GET", "/images/k-t", Some("application/json")), false),
        Plan::Permalink {
            id: "k-t",
            delivery: Delivery::Envelope
        }
    );
    assert_plan!(
        plan(&head("GET", "/images/k-t", None), false),
        Plan::Permalink {
            id: "k-t",
            delivery: Delivery::Image
        }
    );
}

#[test]
fn admin_routes_exist_only_when_local_admin_is_on() {
    let admin_plan = |method: &str, url: &str, on: bool| planned(&head(method, url, None), on);
    assert_eq!(
        admin_plan("POST", "/__standin/arm", true),
        "Ok(Admin(StandIn))"
    );
    assert_eq!(
        admin_plan("GET", "/__admin/memory", true),
        "Ok(Admin(Memory))"
    );
    assert_eq!(
        admin_plan("DELETE", "/__admin/cache-api/abc", true),
        "Ok(Admin(ForgetLocally { key: \"abc\" }))"
    );
    assert_eq!(admin_plan("POST", "/__admin/trap", true), "Ok(Admin(Trap))");
    assert_eq!(
        admin_plan("GET", "/__admin/r2/job-inputs/ab", true),
        "Ok(Admin(Stored { key: \"job-inputs/ab\" }))"
    );
    for (method, url, on) in [
        ("POST", "/__standin/arm", false),
        ("GET", "/__admin/memory", false),
        ("DELETE", "/__admin/cache-api/abc", false),
        ("POST", "/__admin/trap", false),
        ("GET", "/__admin/trap", true),
        ("GET", "/__admin/cache-api/abc", true),
        ("GET", "/__admin/r2/job-inputs/ab", false),
        ("DELETE", "/__admin/r2/job-inputs/ab", true),
    ] {
        let refused = plan(&head(method, url, None), on).err().map(|e| e.status());
        assert_eq!(refused, Some(404), "{method} {url}");
    }
}

#[test]
fn entity_tags_differ_by_representation() {
    assert_eq!(Delivery::Image.entity_tag("k"), "k");
    assert_eq!(Delivery::Envelope.entity_tag("k"), "k.json");
    assert_eq!(Delivery::RestEnvelope.entity_tag("k"), "k.rest.json");
}

#[test]
fn prediction_routes_are_planned_before_openais() {
    assert_plan!(
        plan(&head("POST", "/v1/predictions", None), false),
        Plan::Jobs(JobsRoute::Create)
    );
    assert_plan!(
        plan(
            &head(
                "POST",
                "/v1/models/bytedance/stable-diffusion-xl-lightning/predictions",
                None
            ),
            false
        ),
        Plan::Jobs(JobsRoute::CreateFor {
            model: SDXL.to_owned()
        })
    );
    assert_plan!(
        plan(&head("GET", "/v1/predictions/abc", None), false),
        Plan::Jobs(JobsRoute::Get { id: "abc".into() })
    );
    // The OpenAI model route is unchanged.
    assert_plan!(
        plan(&head("GET", &format!("/v1/models/{SDXL}"), None), false),
        Plan::OpenAi(OpenAiRoute::Model(SDXL.to_owned()))
    );
}
