use super::*;
use optout_core::{Provider, Topics};

#[test]
fn a_plan_has_one_task_per_provider_and_recipient() {
    let o = OptOut::default()
        .email("a@example.com")
        .device("t1")
        .device("t2")
        .subscriber(Provider::Novu, "sub-1")
        .topics(Provider::HubSpot, Topics::All)
        .topics(Provider::Pushy, Topics::one("news"))
        .topics(Provider::Novu, Topics::one("k"));
    let plan = o.plan().unwrap();
    assert_eq!(plan.len(), 4);
}

#[test]
fn a_plan_refuses_what_could_never_be_sent() {
    let none = OptOut::default().email("a@example.com");
    assert!(none.plan().is_err());
    let no_identity = OptOut::default().topics(Provider::HubSpot, Topics::one("1"));
    assert!(no_identity.plan().is_err());
    let all_novu = OptOut::default()
        .subscriber(Provider::Novu, "s")
        .topics(Provider::Novu, Topics::All);
    assert!(all_novu.plan().is_err());
    let bad_email = OptOut::default()
        .email("nope")
        .topics(Provider::HubSpot, Topics::one("1"));
    assert!(bad_email.plan().is_err());
}

#[test]
fn the_json_shape_round_trips() {
    let json = r#"{"email":"a@example.com","topics":{"hubspot":["1"],"pushy":"all"},
        "devices":["t"],"legal_basis":"CONSENT_WITH_NOTICE","legal_basis_explanation":"x",
        "received_at":"2026-12-01T10:00:00Z"}"#;
    let o: OptOut = serde_json::from_str(json).unwrap();
    assert_eq!(o.plan().unwrap().len(), 2);
    let back: OptOut = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
    assert_eq!(back, o);
}
