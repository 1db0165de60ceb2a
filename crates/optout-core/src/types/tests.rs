//! Tests of the model: parsing providers, legal bases and national phone numbers, topics and
//! receipts as JSON, and merging outcomes.

use super::*;

#[test]
fn legal_basis_parses_both_spellings_and_lists_the_allowed_ones() {
    assert_eq!(
        "consent-with-notice".parse::<LegalBasis>().unwrap(),
        LegalBasis::ConsentWithNotice
    );
    assert_eq!(
        "NON_GDPR".parse::<LegalBasis>().unwrap(),
        LegalBasis::NonGdpr
    );
    let err = "gdpr".parse::<LegalBasis>().unwrap_err().to_string();
    assert!(err.contains("legal_basis"), "{err}");
    assert!(err.contains("PROCESS_AND_STORE"), "{err}");
}

#[test]
fn receipt_round_trips_through_json() {
    let receipt = Receipt::new(
        Provider::HubSpot,
        Recipient::email("a@example.com").unwrap(),
        Topics::only(["1", "2"]),
        Outcome::AlreadyUnsubscribed,
        Some("ref".into()),
    );
    let json = serde_json::to_value(&receipt).unwrap();
    assert_eq!(json["provider"], "hubspot");
    assert_eq!(json["recipient"]["kind"], "email");
    assert_eq!(json["topics"], serde_json::json!(["1", "2"]));
    assert_eq!(json["outcome"], "already_unsubscribed");
    let back: Receipt = serde_json::from_value(json).unwrap();
    assert_eq!(back.topics, receipt.topics);
    assert_eq!(back.outcome, receipt.outcome);
}

#[test]
fn topics_all_serializes_as_the_word_all() {
    assert_eq!(serde_json::to_value(Topics::All).unwrap(), "all");
    let t: Topics = serde_json::from_str("\"all\"").unwrap();
    assert_eq!(t, Topics::All);
    assert!(serde_json::from_str::<Topics>("\"some\"").is_err());
}

#[test]
fn provider_names_round_trip() {
    for p in Provider::ALL {
        assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
        assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
    }
    assert!("mailchimp".parse::<Provider>().is_err());
}

#[test]
fn a_mobivate_recipient_reads_national_numbers_in_mobivate_default_region() {
    // The only test in this binary that touches MOBIVATE_DEFAULT_REGION.
    let phone = |v: &str| Recipient::for_provider(Provider::Mobivate, v, None);
    std::env::remove_var(PHONE_REGION_VAR);
    let err = phone("0700 000000").unwrap_err();
    assert_eq!(err.field(), Some("recipient"));
    assert!(err.to_string().contains("MOBIVATE_DEFAULT_REGION"), "{err}");
    assert_eq!(
        phone("+44 (0)20 7946 0000").unwrap(),
        Recipient::Phone {
            msisdn: "442079460000".into()
        }
    );
    std::env::set_var(PHONE_REGION_VAR, "KE");
    assert_eq!(
        phone("0700 000000").unwrap(),
        Recipient::Phone {
            msisdn: "254700000000".into()
        }
    );
    std::env::set_var(PHONE_REGION_VAR, "Kenya");
    let err = phone("0700 000000").unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("MOBIVATE_DEFAULT_REGION"), "{err}");
    std::env::remove_var(PHONE_REGION_VAR);
}

#[test]
fn outcome_merge_reports_a_change_if_any_topic_changed() {
    use Outcome::*;
    assert_eq!(AlreadyUnsubscribed.merge(Unsubscribed), Unsubscribed);
    assert_eq!(
        AlreadyUnsubscribed.merge(AlreadyUnsubscribed),
        AlreadyUnsubscribed
    );
}
