//! Building a client: region, environment, base URL and key.

use super::*;

#[test]
fn the_region_chooses_the_default_base_url_and_an_override_wins() {
    let url =
        |b: optout_novu::NovuBuilder| b.secret_key("k").build().unwrap().base_url().to_string();
    assert_eq!(url(Novu::builder()), "https://api.novu.co/");
    assert_eq!(
        url(Novu::builder().region(Region::Us)),
        "https://api.novu.co/"
    );
    assert_eq!(
        url(Novu::builder().region(Region::Eu)),
        "https://eu.api.novu.co/"
    );
    assert_eq!(
        url(Novu::builder()
            .base_url("http://127.0.0.1:8025")
            .region(Region::Eu)),
        "http://127.0.0.1:8025/"
    );
    assert_eq!("EU".parse::<Region>().unwrap(), Region::Eu);
    assert_eq!(" us ".parse::<Region>().unwrap(), Region::Us);
    assert_eq!(
        "ap".parse::<Region>().unwrap_err().kind(),
        ErrorKind::Config
    );
}

/// The only test that touches the environment (tests share it).
#[test]
fn from_env_reads_key_region_and_base_url() {
    std::env::remove_var("NOVU_SECRET_KEY");
    let err = Novu::from_env().unwrap_err();
    assert!(err.to_string().contains("NOVU_SECRET_KEY"), "{err}");

    std::env::set_var("NOVU_SECRET_KEY", KEY);
    std::env::set_var("NOVU_REGION", "eu");
    std::env::remove_var("NOVU_BASE_URL");
    assert_eq!(
        Novu::from_env().unwrap().base_url().as_str(),
        "https://eu.api.novu.co/"
    );

    std::env::set_var("NOVU_BASE_URL", "http://127.0.0.1:8025");
    assert_eq!(
        Novu::from_env().unwrap().base_url().as_str(),
        "http://127.0.0.1:8025/"
    );

    std::env::set_var("NOVU_REGION", "mars");
    let err = Novu::from_env().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("NOVU_REGION"), "{err}");
    assert!(!err.to_string().contains(KEY));

    for var in ["NOVU_SECRET_KEY", "NOVU_REGION", "NOVU_BASE_URL"] {
        std::env::remove_var(var);
    }
}

#[test]
fn building_needs_a_key_and_a_usable_base_url() {
    let err = Novu::builder().build().unwrap_err();
    assert!(err.to_string().contains("NOVU_SECRET_KEY"), "{err}");
    let err = Novu::builder()
        .secret_key("k")
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = Novu::builder().secret_key("bad\nkey").build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(!err.to_string().contains("bad"), "{err}");
}
