//! Tests of the input checks: every field's rules, the messages they give, and the fast paths
//! against byte-by-byte scans.

use super::*;
use crate::ErrorKind;

#[test]
fn printable_ascii_agrees_with_a_byte_by_byte_scan() {
    // Every byte value at every position of values 0 to 17 bytes long (across the 8-byte
    // words and the padded tail), amid printable characters and amid spaces.
    let by_bytes = |v: &[u8]| {
        v.iter()
            .all(|b| (b' '..=b'~').contains(b))
            .then(|| v.iter().all(|b| *b == b' '))
    };
    for fill in [b'x', b' ', b'~', b'!'] {
        for len in 0..18 {
            let base = vec![fill; len];
            assert_eq!(printable_ascii(&base), by_bytes(&base), "{base:?}");
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut v = base.clone();
                    if let Some(b) = v.get_mut(at) {
                        *b = byte;
                    }
                    assert_eq!(printable_ascii(&v), by_bytes(&v), "{v:?}");
                }
            }
        }
    }
}

#[test]
fn the_ascii_fast_paths_agree_with_the_unicode_rules() {
    // Every ASCII character, and a few others, in the middle of a value: refused exactly
    // when `char::is_control` (any field) or `char::is_whitespace` (an email) says so.
    let others = ['\u{85}', '\u{a0}', '\u{2028}', '\u{3000}', 'é'];
    for c in (0u8..128).map(char::from).chain(others) {
        let value = format!("a{c}b@example.com");
        assert_eq!(non_empty("f", &value).is_err(), c.is_control(), "{c:?}");
        assert_eq!(
            email("f", &value).is_err(),
            c.is_control() || c.is_whitespace(),
            "{c:?}"
        );
    }
}

#[test]
fn an_empty_value_is_told_apart_from_a_control_character_as_the_unicode_rules_say() {
    // The reference: what `non_empty` did before its ASCII fast path.
    let reference = |v: &str| {
        if v.trim().is_empty() {
            Some("must not be empty")
        } else if v.chars().any(char::is_control) {
            Some("contains a control character (new line, tab, ...); none are allowed")
        } else {
            None
        }
    };
    let others = ['\u{85}', '\u{a0}', '\u{2028}', 'é'];
    for c in (0u8..128).map(char::from).chain(others) {
        for value in [c.to_string(), format!(" {c}{c} "), format!("\t{c}x")] {
            let got = non_empty("f", &value).err();
            assert_eq!(
                got.as_ref().and_then(Error::message),
                reference(&value),
                "{value:?}"
            );
        }
    }
}

fn field_of(e: Error) -> String {
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    e.field().unwrap().to_string()
}

#[test]
fn emails_need_a_local_part_and_a_domain() {
    assert!(email("recipient", "alice@example.com").is_ok());
    assert!(email("recipient", "a+tag@sub.example.co.uk").is_ok());
    for bad in [
        "",
        "   ",
        "alice",
        "@example.com",
        "alice@",
        "a b@c.d",
        "a@.com",
    ] {
        let err = email("recipient", bad).unwrap_err();
        assert!(err.to_string().contains("recipient"), "{err}");
        assert_eq!(field_of(err), "recipient");
    }
}

fn refused(value: &str, region: Option<&str>) -> String {
    let err = phone("recipient", value, region).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{value:?}");
    assert_eq!(err.field(), Some("recipient"), "{value:?}");
    err.to_string()
}

#[test]
fn international_numbers_are_sent_as_e164_digits_without_the_plus() {
    for (given, sent) in [
        ("+254 700 000000", "254700000000"),
        ("+254700000000", "254700000000"),
        ("00254700000000", "254700000000"),
        ("00 254 700 000 000", "254700000000"),
        ("+254 (700) 000-000", "254700000000"),
        ("+44 20 7946 0000", "442079460000"),
        ("+1 202 555 0123", "12025550123"),
        // The MSISDN form, as Mobivate takes it.
        ("254700000000", "254700000000"),
        (" 254700000000 ", "254700000000"),
    ] {
        assert_eq!(phone("recipient", given, None).unwrap(), sent, "{given:?}");
        assert_eq!(
            normalize_msisdn("recipient", given).unwrap(),
            sent,
            "{given:?}"
        );
    }
}

#[test]
fn the_trunk_prefix_in_brackets_is_dropped_not_sent() {
    // Was sent as 4402079460000: someone else's number, reported as done.
    assert_eq!(
        phone("recipient", "+44 (0)20 7946 0000", None).unwrap(),
        "442079460000"
    );
    assert_eq!(
        phone("recipient", "+44 (0) 20 7946 0000", None).unwrap(),
        "442079460000"
    );
    assert_eq!(
        phone("recipient", "0044 (0)20 7946 0000", None).unwrap(),
        "442079460000"
    );
}

#[test]
fn a_national_number_is_refused_without_a_default_region() {
    // Was sent as 0700000000.
    for national in [
        "0700 000000",
        "0700000000",
        "020 7946 0000",
        "254 700 000000",
    ] {
        let err = refused(national, None);
        assert!(err.contains("national number"), "{err}");
        assert!(err.contains("country code"), "{err}");
        assert!(err.contains("default region"), "{err}");
    }
}

#[test]
fn a_national_number_is_read_in_the_default_region() {
    assert_eq!(
        phone("recipient", "0700 000000", Some("KE")).unwrap(),
        "254700000000"
    );
    assert_eq!(
        phone("recipient", "020 7946 0000", Some("gb")).unwrap(),
        "442079460000"
    );
    assert_eq!(
        phone("recipient", "(202) 555-0123", Some("US")).unwrap(),
        "12025550123"
    );
    // International forms ignore the region.
    assert_eq!(
        phone("recipient", "+254 700 000000", Some("GB")).unwrap(),
        "254700000000"
    );
    // An MSISDN that is also the national reading in its own region.
    assert_eq!(
        phone("recipient", "254700000000", Some("KE")).unwrap(),
        "254700000000"
    );
    // Digits only that are no MSISDN but a national number of the region.
    assert_eq!(
        phone("recipient", "2025550123", Some("US")).unwrap(),
        "12025550123"
    );
    let err = phone("recipient", "0700 000000", Some("UK")).unwrap_err();
    assert!(err.to_string().contains("alpha-2"), "{err}");
    assert!(phone_region("region", "ke").unwrap() == "KE");
    assert!(phone_region("region", "001").is_err());
}

#[test]
fn impossible_numbers_are_refused_and_say_why() {
    let err = refused("+44 20 7946 000", None);
    assert!(err.contains("not a valid phone number"), "{err}");
    let err = refused("+44 2079", None);
    assert!(
        err.contains("4 digits follow the country code +44"),
        "{err}"
    );
    let err = refused("+999 1234567", None);
    assert!(err.contains("country calling code"), "{err}");
    let err = refused("+1 555 555 5555", None);
    assert!(err.contains("no number range"), "{err}");
    let err = refused("+254 700 abc", None);
    assert!(err.contains("'a' is not allowed"), "{err}");
    let err = refused("+44 20 7946 0000 ext. 12", None);
    assert!(err.contains("not allowed"), "{err}");
    for bad in [
        "",
        "   ",
        "++254700000000",
        "+",
        "12345",
        "1234567890123456",
        "+25470000000000000",
    ] {
        let err = phone("recipient", bad, None).unwrap_err();
        assert_eq!(field_of(err), "recipient", "{bad:?}");
    }
}

#[test]
fn msisdn_accepts_only_what_phone_writes() {
    assert!(msisdn("msisdn", "254700000000").is_ok());
    assert!(msisdn("msisdn", "442079460000").is_ok());
    let err = msisdn("msisdn", "4402079460000").unwrap_err().to_string();
    assert!(err.contains("442079460000"), "{err}");
    for bad in [
        "+254700000000",
        "0700000000",
        "12345",
        "25470000000a",
        "999123456",
    ] {
        let err = msisdn("msisdn", bad).unwrap_err();
        assert_eq!(field_of(err), "msisdn", "{bad:?}");
    }
}

#[test]
fn ids_must_be_usable_as_one_path_segment() {
    assert!(path_segment("topic", "a b/c?d").is_ok());
    assert!(path_segment("topic", "..").is_err());
    assert!(path_segment("topic", "").is_err());
    assert!(path_segment("topic", "a\nb").is_err());
    assert!(path_segment("topic", &"x".repeat(MAX_FIELD_LEN + 1)).is_err());
}

#[test]
fn topic_ids_refuse_all_and_empty_and_drop_repeats() {
    let err = topic_ids(Provider::Migma, "topic", &Topics::All).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(err.provider(), Some(Provider::Migma));
    let err = topic_ids(Provider::Migma, "topic", &Topics::Only(vec![])).unwrap_err();
    assert_eq!(field_of(err), "topic");
    assert_eq!(
        *topic_ids(Provider::Migma, "topic", &Topics::only(["a", "b", "a"])).unwrap(),
        ["a", "b"]
    );
    assert!(matches!(
        topic_ids(Provider::Migma, "topic", &Topics::only(["a", "b"])).unwrap(),
        Cow::Borrowed(_)
    ));
}
