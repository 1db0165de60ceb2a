//! Tests of the rate governor: parsing and printing limits, spacing request starts, and pausing
//! after a 429 or on a provider's rate headers.

use super::*;
use reqwest::header::HeaderValue;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

const MAX_PAUSE: Duration = Duration::from_secs(30);

#[test]
fn limits_parse_and_print() {
    for (text, n, secs) in [
        ("190/10s", 190, 10.0),
        ("800/min", 800, 60.0),
        ("800/1m", 800, 60.0),
        (" 5 / s ", 5, 1.0),
        ("100/500ms", 100, 0.5),
        ("1000000/day", 1_000_000, 86_400.0),
    ] {
        let limit: RateLimit = text.parse().unwrap();
        assert_eq!(limit.requests(), n, "{text}");
        assert_eq!(limit.period().as_secs_f64(), secs, "{text}");
    }
    for bad in [
        "",
        "190",
        "0/10s",
        "x/10s",
        "10/",
        "10/0s",
        "10/fortnight",
        "-1/s",
    ] {
        let err = bad.parse::<RateLimit>().unwrap_err();
        assert_eq!(err.field(), Some("rate"), "{bad}");
    }
    assert_eq!(
        RateLimit::per(800, Duration::from_secs(60)).to_string(),
        "800/1m"
    );
    assert_eq!(
        RateLimit::published(Provider::HubSpot),
        Some(RateLimit::per(190, Duration::from_secs(10)))
    );
    assert_eq!(RateLimit::published(Provider::Migma), None);
}

/// The (paused) time at which each of `n` acquisitions got through, in ms from the start.
async fn starts(g: std::sync::Arc<Governor>, n: usize) -> Vec<u128> {
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            g.acquire().await;
            t0.elapsed().as_millis()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out.sort_unstable();
    out
}

#[tokio::test(start_paused = true)]
async fn a_limit_spaces_every_start_across_all_tasks() {
    let g = std::sync::Arc::new(Governor::new(
        Provider::HubSpot,
        Some(RateLimit::per(5, Duration::from_secs(1))),
        MAX_PAUSE,
    ));
    let got = starts(g, 11).await;
    assert_eq!(
        got,
        // 200 ms apart, and the 2% margin.
        [0, 204, 408, 612, 816, 1020, 1224, 1428, 1632, 1836, 2040]
    );
}

#[tokio::test(start_paused = true)]
async fn no_limit_lets_everything_through_until_a_429_pauses_the_client() {
    let g = std::sync::Arc::new(Governor::new(Provider::Migma, None, MAX_PAUSE));
    assert_eq!(starts(g.clone(), 3).await, [0, 0, 0]);
    let e = Error::api(Provider::Migma, 429).with_retry_after(Duration::from_secs(2));
    g.observe(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), Some(&e));
    assert_eq!(starts(g.clone(), 3).await, [2000, 2000, 2000]);
    // A 429 that cannot be retried (HubSpot's daily limit) pauses nothing.
    let daily = Error::api(Provider::Migma, 429).with_retryable(false);
    g.observe(
        StatusCode::TOO_MANY_REQUESTS,
        &HeaderMap::new(),
        Some(&daily),
    );
    assert_eq!(starts(g, 1).await, [0]);
}

#[tokio::test(start_paused = true)]
async fn a_pause_is_clamped_and_requests_behind_it_stay_spaced() {
    let g = std::sync::Arc::new(Governor::new(
        Provider::Pushy,
        Some(RateLimit::per(10, Duration::from_secs(1))),
        Duration::from_secs(5),
    ));
    let e = Error::api(Provider::Pushy, 429).with_retry_after(Duration::from_secs(3600));
    g.observe(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), Some(&e));
    assert_eq!(starts(g, 3).await, [5000, 5102, 5204]);
}

#[tokio::test(start_paused = true)]
async fn a_pause_that_starts_while_waiting_for_a_slot_holds_the_request() {
    let g = std::sync::Arc::new(Governor::new(
        Provider::Pushy,
        Some(RateLimit::per(1, Duration::from_secs(1))),
        MAX_PAUSE,
    ));
    g.acquire().await; // slot 0; the next is at 1 s
    let waiting = tokio::spawn({
        let g = g.clone();
        async move {
            let t0 = Instant::now();
            g.acquire().await;
            t0.elapsed().as_millis()
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let e = Error::api(Provider::Pushy, 429).with_retry_after(Duration::from_secs(3));
    g.observe(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), Some(&e));
    assert_eq!(waiting.await.unwrap(), 3500);
}

#[tokio::test(start_paused = true)]
async fn hubspot_headers_lower_the_rate_and_a_429_waits_for_the_window() {
    let g = std::sync::Arc::new(Governor::new(
        Provider::HubSpot,
        RateLimit::published(Provider::HubSpot),
        MAX_PAUSE,
    ));
    // 52.63 ms, and the 2% margin.
    assert_eq!(g.interval(), Duration::from_nanos(53_684_208));
    // A Starter account: 100 per 10 s.
    let starter = headers(&[
        ("x-hubspot-ratelimit-max", "100"),
        ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        ("x-hubspot-ratelimit-remaining", "42"),
    ]);
    g.observe(StatusCode::OK, &starter, None);
    assert_eq!(g.interval(), Duration::from_millis(102));
    // A higher limit never speeds it up beyond what was configured or learned.
    let enterprise = headers(&[
        ("x-hubspot-ratelimit-max", "1000"),
        ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
    ]);
    g.observe(StatusCode::OK, &enterprise, None);
    assert_eq!(g.interval(), Duration::from_millis(102));
    assert_eq!(starts(g.clone(), 2).await, [0, 102]);

    // TEN_SECONDLY_ROLLING without Retry-After: the whole window.
    let e = Error::api(Provider::HubSpot, 429);
    let limited = headers(&[
        ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        ("x-hubspot-ratelimit-remaining", "0"),
    ]);
    g.observe(StatusCode::TOO_MANY_REQUESTS, &limited, Some(&e));
    let got = starts(g.clone(), 2).await;
    assert!(got[0] >= 10_000 && got[1] - got[0] == 102, "{got:?}");

    // Nothing left in the rolling window on a success: one slot more.
    let g = std::sync::Arc::new(Governor::new(Provider::HubSpot, None, MAX_PAUSE));
    let spent = headers(&[
        ("x-hubspot-ratelimit-max", "190"),
        ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        ("x-hubspot-ratelimit-remaining", "0"),
    ]);
    g.observe(StatusCode::OK, &spent, None);
    // 53.7 ms (52.6 and the margin), on tokio's 1 ms timer.
    let got = starts(g, 1).await;
    assert!((53..=54).contains(&got[0]), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn novu_remaining_zero_pauses_until_the_reset() {
    let g = std::sync::Arc::new(Governor::new(Provider::Novu, None, MAX_PAUSE));
    let spent = headers(&[
        ("ratelimit-limit", "60"),
        ("ratelimit-remaining", "0"),
        ("ratelimit-reset", "4"),
    ]);
    g.observe(StatusCode::OK, &spent, None);
    assert_eq!(starts(g.clone(), 2).await, [4000, 4000]);
    let left = headers(&[("ratelimit-remaining", "3"), ("ratelimit-reset", "4")]);
    g.observe(StatusCode::OK, &left, None);
    assert_eq!(starts(g, 1).await, [0]);
}
