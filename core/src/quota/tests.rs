use super::*;

const IMAGE: Cost = Cost {
    images: 1,
    tile_steps: 16,
    nano_usd: 633_600,
};

/// 2026-12-07T23:30:00Z.
const NOW: u64 = 1_796_686_200_000;

#[test]
fn quotas_read_from_json_with_a_default_and_callers() {
    let q = Quotas::parse(
        r#"{"default":{"images_per_day":100,"usd_per_month":5},
            "a1b2c3d4e5f60718":{"images_per_day":3,"in_flight":2,"usd_per_day":0.25}}"#,
    )
    .unwrap();
    assert_eq!(q.of("unknown").images_per_day, Some(100));
    assert_eq!(q.of("unknown").nano_usd_per_month, Some(5_000_000_000));
    let own = q.of("token:a1b2c3d4e5f60718");
    assert_eq!(own.images_per_day, Some(3));
    assert_eq!(own.in_flight, Some(2));
    assert_eq!(own.nano_usd_per_day, Some(250_000_000));
    assert_eq!(
        own.nano_usd_per_month, None,
        "a caller's own quota replaces the default"
    );
    assert!(Quotas::parse("").unwrap().is_unlimited());
    for bad in [
        "[]",
        "{",
        r#"{"default":3}"#,
        r#"{"default":{"images_per_day":-1}}"#,
        r#"{"default":{"usd_per_day":"1"}}"#,
        r#"{"default":{"images_a_day":1}}"#,
    ] {
        assert!(Quotas::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_run_is_allowed_up_to_each_limit_and_refused_past_it() {
    let quota = Quota {
        images_per_day: Some(2),
        nano_usd_per_day: Some(1_000_000),
        nano_usd_per_month: Some(1_500_000),
        in_flight: Some(1),
    };
    let mut spent = Spent::default();
    assert!(check(&quota, &spent, IMAGE, NOW).is_ok());
    spent.in_flight = 1;
    assert_eq!(
        check(&quota, &spent, IMAGE, NOW).unwrap_err().limit,
        Limit::InFlight
    );
    spent.in_flight = 0;
    spent.day = IMAGE;
    spent.month = IMAGE;
    // Two images would be 1,267,200 nano-USD: past the day's USD.
    let refused = check(&quota, &spent, IMAGE, NOW).unwrap_err();
    assert_eq!(refused.limit, Limit::UsdPerDay);
    assert_eq!(refused.retry_after_s, 30 * 60, "at midnight UTC");
    let free = Cost {
        nano_usd: 0,
        ..IMAGE
    };
    assert!(
        check(&quota, &spent, free, NOW).is_ok(),
        "a second free image fits"
    );
    spent.day = IMAGE.times(2);
    assert_eq!(
        check(&quota, &spent, free, NOW).unwrap_err().limit,
        Limit::ImagesPerDay
    );
    // A new day, the same month.
    spent.day = Cost::default();
    spent.month = Cost {
        nano_usd: 1_000_000,
        ..IMAGE
    };
    let monthly = check(&quota, &spent, IMAGE, NOW).unwrap_err();
    assert_eq!(monthly.limit, Limit::UsdPerMonth);
    assert_eq!(
        monthly.retry_after_s,
        24 * 3600 * 24 + 30 * 60,
        "at 2027-01-01T00:00Z"
    );
    assert!(check(&Quota::default(), &spent, IMAGE.times(1000), NOW).is_ok());
}

#[test]
fn windows_are_utc_days_and_months() {
    assert_eq!(day_of(NOW), 20_794);
    assert_eq!(month_of(NOW), (2026 - 1970) * 12 + 11);
    assert_eq!(month_of(0), 0);
    // 2024-02-29T12:00Z: a leap day, February's month; March begins 36 h later.
    let leap = 1_709_208_000_000;
    assert_eq!(month_of(leap), (2024 - 1970) * 12 + 1);
    assert_eq!(seconds_to_month_end(leap), 12 * 3600);
    assert_eq!(seconds_to_day_end(leap), 12 * 3600);
    assert_eq!(
        seconds_to_day_end(DAY_MS * 5),
        86_400,
        "at midnight: a whole day"
    );
}

#[test]
fn headers_follow_the_ietf_draft() {
    let quota = Quota {
        images_per_day: Some(10),
        nano_usd_per_month: Some(5_000_000_000),
        ..Quota::default()
    };
    let spent = Spent {
        day: IMAGE.times(3),
        month: IMAGE.times(40),
        in_flight: 0,
    };
    let (policy, state) = headers(&quota, &spent, NOW).unwrap();
    assert_eq!(
        policy,
        "\"images-per-day\";q=10;w=86400;qu=\"images\", \
         \"usd-per-month\";q=5000000000;w=2592000;qu=\"nano-usd\""
    );
    assert_eq!(
        state,
        format!(
            "\"images-per-day\";r=7;t=1800, \"usd-per-month\";r={};t={}",
            5_000_000_000_u64 - 40 * 633_600,
            seconds_to_month_end(NOW)
        )
    );
    assert_eq!(headers(&Quota::default(), &spent, NOW), None);
}

#[test]
fn usage_totals_its_models() {
    let quota = Quota {
        images_per_day: Some(10),
        ..Quota::default()
    };
    let day = vec![
        ("@cf/a".to_owned(), IMAGE),
        ("@cf/b".to_owned(), IMAGE.times(2)),
    ];
    let usage = usage_json(&quota, &day, &day);
    assert_eq!(usage["today"]["images"], 3);
    assert_eq!(usage["today"]["usd"], "0.001900");
    assert_eq!(usage["today"]["by_model"]["@cf/b"]["tile_steps"], 32);
    assert_eq!(usage["quota"]["images_per_day"], 10);
    assert_eq!(usage["quota"]["usd_per_day"], Value::Null);
}

#[test]
fn a_spent_budget_is_refused_in_each_doors_words_as_not_worth_retrying() {
    use crate::answer::{failure_answer, Refusal};
    use crate::openai::error::OpenAiError;
    use crate::route::Surface;
    let over = crate::ApiError::OverQuota {
        limit: Limit::ImagesPerDay,
        retry_after_s: 1800,
    };
    for surface in [Surface::Native, Surface::Rest, Surface::Jobs] {
        let answer = failure_answer(Refusal::Api(&over), "rid", surface);
        assert_eq!(answer.status, 429);
        let header = |name: &str| {
            answer
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("retry-after").as_deref(), Some("1800"));
        assert_eq!(header("x-should-retry").as_deref(), Some("false"));
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["errors"][0]["code"], crate::envelope::CODE_OVER_QUOTA);
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("retrying sooner will not help"));
        if surface == Surface::Jobs {
            assert_eq!(body["status"], 429);
        }
    }
    let openai = OpenAiError::from_api(&over);
    assert_eq!((openai.status, openai.kind), (429, "insufficient_quota"));
    assert!(openai.futile);
    let body: Value = serde_json::from_str(&openai.to_json(None)).unwrap();
    assert_eq!(body["error"]["code"], "insufficient_quota");
    // A rate limit is still worth retrying.
    let limited = crate::ApiError::RateLimited { retry_after_s: 3 };
    assert!(!limited.retry_is_futile());
    assert_eq!(OpenAiError::from_api(&limited).kind, "rate_limit_error");
}

#[test]
fn the_usage_route_answers_the_askers_own_or_with_an_admin_token_anyones() {
    let config = |vars: &[(&str, &str)]| {
        Config::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    };
    let guarded = config(&[("API_TOKENS", "user-token"), ("ADMIN_TOKENS", "ops-token")]);
    let mut head = RequestHead::new("GET", "https://h.example/usage");
    head.authorization = Some("Bearer user-token".into());
    let own = usage_subject(&head, &guarded).unwrap();
    assert!(own.caller.starts_with("token:"), "{own:?}");
    assert_eq!(own.rate_key, own.caller);

    // A caller's token does not read another's usage.
    let mut asking = RequestHead::new("GET", "https://h.example/usage?caller=token%3Aabc");
    asking.authorization = Some("Bearer user-token".into());
    assert_eq!(usage_subject(&asking, &guarded), Err(AuthError::Invalid));
    asking.authorization = Some("Bearer ops-token".into());
    let theirs = usage_subject(&asking, &guarded).unwrap();
    assert_eq!(theirs.caller, "token:abc");
    assert!(theirs.rate_key.starts_with("admin:"), "{theirs:?}");

    // No operator token configured: nobody reads another's usage, not even anonymously.
    let open = config(&[("ALLOW_ANONYMOUS", "true")]);
    let mut anonymous = RequestHead::new("GET", "https://h.example/usage?caller=ip:203.0.113.5");
    anonymous.authorization = Some("Bearer ops-token".into());
    assert_eq!(
        usage_subject(&anonymous, &open),
        Err(AuthError::NoAdminToken)
    );
}

/// Reserve, then settle: what is spent is the made images' share, the rest is refunded, and the
/// reservation stops counting in flight. Checked against the limits as the object does.
#[test]
fn a_reservation_is_spent_by_the_images_made_and_the_rest_refunded() {
    let quota = Quota {
        images_per_day: Some(4),
        in_flight: Some(4),
        ..Quota::default()
    };
    let four = IMAGE.times(4);
    let nothing = Spent::default();
    check(&quota, &nothing, four, NOW).unwrap();
    let reserved = nothing.reserving(four);
    assert_eq!((reserved.day.images, reserved.in_flight), (4, 4));
    // While it is reserved, nothing more fits.
    assert!(check(&quota, &reserved, IMAGE, NOW).is_err());

    // Two of the four made (two were cache hits): half is spent, half given back.
    let spent = settled(four, 2);
    assert_eq!(spent, IMAGE.times(2));
    let after = nothing.reserving(spent);
    let after = Spent {
        in_flight: 0,
        ..after
    };
    check(&quota, &after, IMAGE.times(2), NOW).unwrap();
    assert!(check(&quota, &after, IMAGE.times(3), NOW).is_err());

    // A failed run refunds everything; more made than reserved spends no more than reserved.
    assert_eq!(settled(IMAGE, 0), Cost::default());
    assert_eq!(settled(four, 9), four);
    // Shares round down: three images of a 10-unit reservation spend 7 units, not 7.5.
    let odd = Cost {
        images: 4,
        tile_steps: 10,
        nano_usd: 10,
    };
    assert_eq!(settled(odd, 3).nano_usd, 7);
    // A cost too large to multiply in u64 still divides exactly.
    let huge = Cost {
        images: 3,
        tile_steps: u64::MAX,
        nano_usd: u64::MAX / 2,
    };
    assert_eq!(settled(huge, 3), huge);
}
