//! Input checks shared by every provider. Each returns a field-level
//! [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error that says which field, what
//! was wrong and what is allowed, so that bad input is refused before anything is sent.

use std::borrow::Cow;

use crate::{Error, Provider, Topics};

/// Longest id, key or token we accept in one field. No provider documents a longer one, and
/// a bound keeps a runaway input from building a huge request.
pub const MAX_FIELD_LEN: usize = 1024;

/// Refuses an empty (or all-white-space) value, a value with control characters, and one
/// longer than [`MAX_FIELD_LEN`].
pub fn non_empty(field: &str, value: &str) -> Result<(), Error> {
    // Nearly every value is printable ASCII, which one scan of its bytes confirms: then it is
    // blank only if all spaces, and has no control character. Anything else (a tab, a new
    // line, a non-ASCII letter) is judged by the Unicode rules. Several times cheaper per row
    // in bulk runs than `trim` plus separate scans for ASCII and for control characters.
    let printable = value.bytes().all(|b| (b' '..=b'~').contains(&b));
    let (blank, control) = if printable {
        (value.bytes().all(|b| b == b' '), false)
    } else {
        (value.trim().is_empty(), value.chars().any(char::is_control))
    };
    if blank {
        return Err(Error::invalid_input(field, "must not be empty"));
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(Error::invalid_input(
            field,
            format!(
                "is {} bytes long; at most {MAX_FIELD_LEN} are allowed",
                value.len()
            ),
        ));
    }
    if control {
        return Err(Error::invalid_input(
            field,
            "contains a control character (new line, tab, ...); none are allowed",
        ));
    }
    Ok(())
}

/// An id that goes into a URL path as one segment: non-empty, and not `.` or `..` (which a
/// URL would read as "this folder" or "the parent folder" however it is encoded).
pub fn path_segment(field: &str, value: &str) -> Result<(), Error> {
    non_empty(field, value)?;
    if value == "." || value == ".." {
        return Err(Error::invalid_input(
            field,
            format!("{value:?} cannot be used as an id in a URL path"),
        ));
    }
    Ok(())
}

/// An email address: a local part, one `@`, a domain; no white space; at most 254 bytes.
///
/// Deliberately lenient beyond that (the provider is the judge of deliverability): we only
/// refuse what cannot be an address at all.
pub fn email(field: &str, value: &str) -> Result<(), Error> {
    non_empty(field, value)?;
    let bad = |why: &str| {
        Error::invalid_input(
            field,
            format!("{value:?} is not an email address ({why}); expected local-part@domain"),
        )
    };
    if value.len() > 254 {
        return Err(bad("longer than 254 bytes"));
    }
    let white = if value.is_ascii() {
        value
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'\x0b')
    } else {
        value.chars().any(char::is_whitespace)
    };
    if white {
        return Err(bad("it contains white space"));
    }
    match value.rsplit_once('@') {
        None => Err(bad("no @")),
        Some(("", _)) => Err(bad("no local part before the @")),
        Some((_, domain))
            if domain.is_empty() || domain.starts_with('.') || domain.ends_with('.') =>
        {
            Err(bad("no domain after the @"))
        }
        Some(_) => Ok(()),
    }
}

/// Normalizes a phone number to an MSISDN: drops spaces, dashes, dots, brackets and one
/// leading `+`; what remains must be 6 to 15 digits (E.164 allows at most 15).
pub fn normalize_msisdn(field: &str, value: &str) -> Result<String, Error> {
    let trimmed = value.trim();
    let rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    msisdn(field, &digits)?;
    Ok(digits)
}

/// An MSISDN as sent: 6 to 15 ASCII digits and nothing else.
pub fn msisdn(field: &str, value: &str) -> Result<(), Error> {
    if !value.bytes().all(|b| b.is_ascii_digit()) || !(6..=15).contains(&value.len()) {
        return Err(Error::invalid_input(
            field,
            format!(
                "{value:?} is not a phone number; expected an MSISDN of 6 to 15 digits in \
                 international format, e.g. 254700000000"
            ),
        ));
    }
    Ok(())
}

/// The topic ids of a request for a provider that needs them listed: refuses
/// [`Topics::All`] (`Unsupported`), an empty list, and an empty or malformed id. Repeated ids
/// are dropped, keeping the first, so that no topic is sent twice. Borrowed from `topics`
/// unless there were repeats.
pub fn topic_ids<'a>(
    provider: Provider,
    field: &str,
    topics: &'a Topics,
) -> Result<Cow<'a, [String]>, Error> {
    let ids = topics.ids().ok_or_else(|| {
        Error::unsupported(
            provider,
            format!("unsubscribe from all topics at once; name the {field}s"),
        )
    })?;
    listed_ids(field, ids)
}

/// Checks a non-empty list of ids, each usable as one URL path segment, and drops repeats.
pub fn listed_ids<'a>(field: &str, ids: &'a [String]) -> Result<Cow<'a, [String]>, Error> {
    at_least_one(field, ids)?;
    for id in ids {
        path_segment(field, id)?;
    }
    Ok(first_of_each(ids))
}

/// Checks a non-empty list of non-empty ids and drops repeats, keeping the first of each.
/// Borrowed unless there were repeats (one id, the common case, is never copied).
pub fn unique<'a>(field: &str, ids: &'a [String]) -> Result<Cow<'a, [String]>, Error> {
    at_least_one(field, ids)?;
    for id in ids {
        non_empty(field, id)?;
    }
    Ok(first_of_each(ids))
}

fn at_least_one(field: &str, ids: &[String]) -> Result<(), Error> {
    if ids.is_empty() {
        return Err(Error::invalid_input(
            field,
            "no topic given; name at least one",
        ));
    }
    Ok(())
}

/// `ids` without repeats, keeping the first of each; borrowed unless there were repeats.
fn first_of_each(ids: &[String]) -> Cow<'_, [String]> {
    if ids.len() == 1 {
        return Cow::Borrowed(ids);
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    if ids.iter().all(|id| seen.insert(id.as_str())) {
        return Cow::Borrowed(ids);
    }
    seen.clear();
    Cow::Owned(
        ids.iter()
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

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

    #[test]
    fn msisdn_is_6_to_15_digits_after_normalizing() {
        assert_eq!(
            normalize_msisdn("recipient", "+254 700-000.000").unwrap(),
            "254700000000"
        );
        assert_eq!(normalize_msisdn("recipient", "123456").unwrap(), "123456");
        for bad in [
            "12345",
            "1234567890123456",
            "25470000000a",
            "",
            "++254700000000",
        ] {
            let err = normalize_msisdn("recipient", bad).unwrap_err();
            assert!(err.to_string().contains("6 to 15 digits"), "{err}");
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
}
