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
/// starts at a byte that is itself out of range). Each byte is checked in its own lane, so
/// the lanes' order does not matter; the bytes after the last whole word are checked as the
/// last eight bytes (overlapping bytes already checked) when there are eight, else in a word
/// padded with spaces built in a register.
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
        // Not a copy of `rest` into a padded array: the byte-wise copy (a call to memcpy)
        // and the eight-byte load right after it stalled on store forwarding, half of this
        // function's time in a bulk run's profile.
        let last_eight = bytes.get(bytes.len().saturating_sub(8)..);
        let w = match last_eight.and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(last) => u64::from_ne_bytes(last),
            None => rest.iter().enumerate().fold(SPACES, |w, (i, &b)| {
                let lane = 8 * i as u32;
                (w & !(0xff << lane)) | (u64::from(b) << lane)
            }),
        };
        if !check(w) {
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
mod tests;
