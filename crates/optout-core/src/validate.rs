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
    // Nearly every value is printable ASCII, which one scan of its bytes confirms (eight at a
    // time): then it is blank only if all spaces, and has no control character. Anything else
    // (a tab, a new line, a non-ASCII letter) is judged by the Unicode rules. Several times
    // cheaper per row in bulk runs than `trim` plus separate scans for ASCII and for control
    // characters.
    let (blank, control) = match printable_ascii(value.as_bytes()) {
        Some(all_spaces) => (all_spaces, false),
        None => (value.trim().is_empty(), value.chars().any(char::is_control)),
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

/// `Some(whether all are spaces)` when every byte is printable ASCII (`' '` to `'~'`), else
/// `None`. Eight bytes at a time: a byte below `' '` or above `'~'` sets its top bit in
/// `(w - 0x20..) & !w` or in `(w + 0x01..) | w` (exact as a yes or no: a borrow or carry only
/// starts at a byte that is itself out of range). The last word is padded with spaces.
fn printable_ascii(bytes: &[u8]) -> Option<bool> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut all_spaces = true;
    let mut check = |w: u64| {
        let below = w.wrapping_sub(SPACES) & !w & HIGH;
        let above = (w.wrapping_add(ONES) | w) & HIGH;
        all_spaces &= w == SPACES;
        below | above == 0
    };
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        if !check(u64::from_ne_bytes(w)) {
            return None;
        }
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [b' '; 8];
        if let Some(head) = w.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        if !check(u64::from_ne_bytes(w)) {
            return None;
        }
    }
    Some(all_spaces)
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

/// An example of the international form, for messages.
const PHONE_EXAMPLE: &str = "+254 700 000000";

/// Reads a phone number as written by a person and answers its MSISDN: the E.164 digits
/// (country code and national number) without the `+`, as Mobivate takes it.
///
/// Numbers are parsed with libphonenumber's metadata (the `phonenumber` crate), not by
/// stripping characters, so that the trunk prefix of the national form is dropped where the
/// country drops it (`+44 (0)20 7946 0000` is `442079460000`) and a number that no country
/// allocates is refused. What is accepted:
///
/// - the international form: `+` or `00`, the country code, the number (`+254 700 000000`,
///   `00254700000000`);
/// - an MSISDN as sent: 6 to 15 digits, nothing else, not starting with `0` (`254700000000`);
/// - the national form (`0700 000000`), only with a `default_region` (an ISO 3166-1 alpha-2
///   code such as `KE`): without one the country is unknown and the number is refused.
///
/// Digits may be grouped with spaces, `-`, `.` and brackets; nothing else is allowed (no
/// letters, no extension). With a `default_region`, digits only that read both as an MSISDN
/// and as a national number of that region, and mean two different numbers, are refused as
/// ambiguous. Every error names `field`, says what was wrong and what is allowed.
///
/// ```
/// # mod optout { pub mod provider_kit { pub use optout_core::validate; } }
/// use optout::provider_kit::validate::phone;
/// assert_eq!(phone("recipient", "+44 (0)20 7946 0000", None)?, "442079460000");
/// assert_eq!(phone("recipient", "00254700000000", None)?, "254700000000");
/// assert_eq!(phone("recipient", "0700 000000", Some("KE"))?, "254700000000");
/// assert!(phone("recipient", "0700 000000", None).is_err());
/// # Ok::<(), optout_core::Error>(())
/// ```
pub fn phone(field: &str, value: &str, default_region: Option<&str>) -> Result<String, Error> {
    non_empty(field, value)?;
    let text = value.trim();
    let refuse = |why: String| Error::invalid_input(field, format!("{text:?} {why}"));
    if let Some((_, c)) = text.char_indices().find(|&(i, c)| {
        !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')') || (c == '+' && i == 0))
    }) {
        return Err(refuse(format!(
            "is not a phone number: {c:?} is not allowed; allowed: digits grouped with spaces, \
             '-', '.' or brackets, after an optional leading + (no letters, no extension), \
             e.g. {PHONE_EXAMPLE}"
        )));
    }
    let region = default_region.map(|r| region_id(field, r)).transpose()?;
    let international = text.strip_prefix('+').or_else(|| text.strip_prefix("00"));
    let number = if let Some(rest) = international {
        parse_international(rest).map_err(refuse)?
    } else if text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0') {
        // The MSISDN form: digits with the country code, no `+`.
        let as_msisdn = parse_international(text);
        match region {
            None => as_msisdn.map_err(refuse)?,
            Some(region) => {
                let as_national = phonenumber::parse(Some(region), text)
                    .ok()
                    .filter(|n| n.is_valid())
                    .map(|n| e164_digits(&n));
                match (as_msisdn, as_national) {
                    (Ok(msisdn), Some(national)) if msisdn != national => {
                        return Err(refuse(format!(
                            "is ambiguous: as an MSISDN it is +{msisdn}, as a national number \
                             of {} it is +{national}; write it with + or 00 and the country code",
                            region.as_ref()
                        )))
                    }
                    (Ok(msisdn), _) => msisdn,
                    (Err(_), Some(national)) => national,
                    (Err(why), None) => return Err(refuse(why)),
                }
            }
        }
    } else {
        let Some(region) = region else {
            return Err(refuse(format!(
                "is a national number: it has no country code, so the country is unknown; \
                 write it with + or 00 and the country code (e.g. {PHONE_EXAMPLE}), or set a \
                 default region (MOBIVATE_DEFAULT_REGION, or Recipient::phone_in_region)"
            )));
        };
        let number = phonenumber::parse(Some(region), text)
            .map_err(|e| refuse(format!("is not a phone number of {}: {e}", region.as_ref())))?;
        checked(number).map_err(refuse)?
    };
    Ok(number)
}

/// Checks a region code for national phone numbers and answers it in upper case: an ISO
/// 3166-1 alpha-2 code that libphonenumber knows, such as `KE`, `GB` or `US`.
pub fn phone_region(field: &str, value: &str) -> Result<String, Error> {
    region_id(field, value).map(|id| id.as_ref().to_string())
}

fn region_id(field: &str, value: &str) -> Result<phonenumber::country::Id, Error> {
    let code = value.trim().to_ascii_uppercase();
    // `Id` also parses numeric codes such as "001" (non-geographic numbers): not a region.
    match code.parse::<phonenumber::country::Id>() {
        Ok(id) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) => Ok(id),
        _ => Err(Error::invalid_input(
            field,
            format!(
                "default region {value:?} is not a region code; expected an ISO 3166-1 alpha-2 \
                 code such as KE, GB or US (GB, not UK)"
            ),
        )),
    }
}

/// `+` and what follows it: parsed without a region, then checked.
fn parse_international(rest: &str) -> Result<String, String> {
    let number = phonenumber::parse(None, format!("+{rest}")).map_err(|e| match e {
        phonenumber::ParseError::InvalidCountryCode => {
            "is not a phone number: it does not start with a country calling code".to_string()
        }
        other => format!("is not a phone number: {other}"),
    })?;
    checked(number)
}

/// The E.164 digits of a parsed number, if libphonenumber's metadata says it is one a
/// country has allocated; otherwise what is wrong with it.
fn checked(number: phonenumber::PhoneNumber) -> Result<String, String> {
    if number.extension().is_some() {
        return Err("is not a phone number: it has an extension; give the number alone".into());
    }
    let digits = e164_digits(&number);
    if number.is_valid() {
        return Ok(digits);
    }
    let code = number.code().value();
    let national_len = digits.len() - code.to_string().len();
    let mut lengths: Vec<u16> = phonenumber::metadata::DATABASE
        .by_code(&code)
        .unwrap_or_default()
        .iter()
        .flat_map(|m| {
            // The general descriptor's lengths are empty in this metadata: take every type's.
            let d = m.descriptors();
            [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            .flat_map(|desc| desc.possible_length().iter().copied())
            .collect::<Vec<_>>()
        })
        .collect();
    lengths.sort_unstable();
    lengths.dedup();
    let listed = lengths
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    Err(
        if !lengths.is_empty() && !lengths.contains(&(national_len as u16)) {
            format!(
                "is not a valid phone number: {national_len} digits follow the country code \
                 +{code}, where numbers have {listed} digits"
            )
        } else {
            format!(
                "is not a valid phone number: +{digits} is in no number range that country code \
                 +{code} uses (libphonenumber metadata)"
            )
        },
    )
}

fn e164_digits(number: &phonenumber::PhoneNumber) -> String {
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    e164.trim_start_matches('+').to_string()
}

/// Normalizes a phone number to an MSISDN: [`phone`] without a default region (the
/// international form or an MSISDN; a national number is refused).
pub fn normalize_msisdn(field: &str, value: &str) -> Result<String, Error> {
    phone(field, value, None)
}

/// An MSISDN as sent: the E.164 digits of a valid number, without `+`, exactly as [`phone`]
/// writes them (so `4402079460000`, which keeps the UK trunk prefix `0`, is refused: it is
/// `442079460000`).
pub fn msisdn(field: &str, value: &str) -> Result<(), Error> {
    let shape_ok = value.bytes().all(|b| b.is_ascii_digit()) && (6..=15).contains(&value.len());
    if !shape_ok {
        return Err(Error::invalid_input(
            field,
            format!(
                "{value:?} is not an MSISDN; expected 6 to 15 digits in international format \
                 (country code first, no +), e.g. 254700000000"
            ),
        ));
    }
    match parse_international(value) {
        Ok(digits) if digits == value => Ok(()),
        Ok(digits) => Err(Error::invalid_input(
            field,
            format!(
                "{value:?} is not an MSISDN as sent: the number it reads as is {digits} \
                 (a national trunk prefix is not part of an MSISDN)"
            ),
        )),
        Err(why) => Err(Error::invalid_input(field, format!("{value:?} {why}"))),
    }
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
}
