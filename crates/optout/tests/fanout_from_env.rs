//! `FanOut::from_env`: every provider whose credentials are set, and why the others are not
//! there. One test, because the environment is shared by the whole process.
#![cfg(all(
    feature = "migma",
    feature = "novu",
    feature = "pushy",
    feature = "mobivate",
    feature = "hubspot"
))]

use optout::fanout::FanOut;
use optout::{ErrorKind, Provider};

const VARS: [&str; 10] = [
    "MIGMA_API_KEY",
    "MIGMA_PROJECT_ID",
    "NOVU_SECRET_KEY",
    "PUSHY_SECRET_API_KEY",
    "MOBIVATE_ACCOUNT_ID",
    "HUBSPOT_ACCESS_TOKEN",
    "HUBSPOT_CLIENT_ID",
    "HUBSPOT_CLIENT_SECRET",
    "HUBSPOT_REFRESH_TOKEN",
    "HUBSPOT_BASE_URL",
];

fn clear() {
    for var in VARS {
        std::env::remove_var(var);
    }
}

#[test]
fn from_env_builds_the_providers_whose_credentials_are_set_and_names_the_others() {
    clear();
    let error = FanOut::from_env().expect_err("no credentials at all");
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(
        error.to_string().contains("HUBSPOT_ACCESS_TOKEN"),
        "{error}"
    );

    std::env::set_var("HUBSPOT_ACCESS_TOKEN", "pat-test");
    std::env::set_var("PUSHY_SECRET_API_KEY", "pushy-test");
    let fanout = FanOut::from_env().expect("two providers configured");
    let providers: Vec<Provider> = fanout.providers().collect();
    assert_eq!(providers, [Provider::Pushy, Provider::HubSpot]);
    let left_out: Vec<Provider> = fanout.left_out().iter().map(|(p, _)| *p).collect();
    assert_eq!(
        left_out,
        [Provider::Migma, Provider::Novu, Provider::Mobivate]
    );
    let (_, why) = &fanout.left_out()[1];
    assert!(why.contains("NOVU_SECRET_KEY"), "{why}");

    // Credentials set but incomplete: loud, not quietly left out.
    std::env::set_var("MIGMA_API_KEY", "migma-test");
    let error = FanOut::from_env().expect_err("MIGMA_PROJECT_ID is missing");
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("MIGMA_PROJECT_ID"), "{error}");
    std::env::remove_var("MIGMA_API_KEY");

    // A bad base URL for a configured provider is an error too.
    std::env::set_var("HUBSPOT_BASE_URL", "not a url");
    let error = FanOut::from_env().expect_err("a bad HUBSPOT_BASE_URL");
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");
    clear();
}
