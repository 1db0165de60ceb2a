//! The body of `POST /v1/opt-outs`, checked field by field: every refusal names its field.
//!
//! ```json
//! {
//!   "identities": {"email": "alice@example.com", "phone": "+254700000000"},
//!   "scope": {
//!     "hubspot": {"topics": "all"},
//!     "mobivate": {"topics": ["c71e2c2ee68b410a82d6c5f910c2d428"]},
//!     "novu": {"topics": ["product"], "recipient": "user-123", "identifier": "sub-1"}
//!   },
//!   "legal_basis": {"basis": "CONSENT_WITH_NOTICE", "explanation": "Clicked unsubscribe"},
//!   "source": "preference-centre",
//!   "received_at": "2026-01-02T12:00:00Z"
//! }
//! ```
//!
//! Each provider takes its recipient from `scope.<provider>.recipient`, or else from the
//! identity of its kind: `email` (HubSpot), `phone` (Mobivate), `device` (Pushy),
//! `subscriber` (Novu, Migma).

use std::time::{Duration, SystemTime};

use optout_core::{LegalBasis, Provider, Recipient, Topics};
use serde_json::{Map, Value};

use crate::intake::{Channel, OptOut, Target};

/// A refused field: which one (a dotted path, e.g. `scope.hubspot.topics`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field.
    pub field: String,
    /// Why, and what is allowed.
    pub message: String,
}

impl FieldError {
    /// A refusal of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

const TOP: [&str; 5] = [
    "identities",
    "scope",
    "legal_basis",
    "source",
    "received_at",
];
const IDENTITIES: [&str; 4] = ["email", "phone", "device", "subscriber"];
const SCOPE: [&str; 3] = ["topics", "recipient", "identifier"];

/// How far in the future `received_at` may be (clock skew); later is refused, and anything
/// later than now is taken as now.
const SKEW: Duration = Duration::from_secs(300);

/// Longest `source`.
const MAX_SOURCE_LEN: usize = 200;

/// Parses and checks a JSON body into an [`OptOut`] (without idempotency key).
pub fn parse_opt_out(body: &[u8]) -> Result<OptOut, FieldError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| FieldError::new("body", format!("is not valid JSON: {e}")))?;
    let Value::Object(top) = value else {
        return Err(FieldError::new("body", "must be a JSON object"));
    };
    known_keys(&top, "", &TOP)?;

    let identities = match top.get("identities") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(FieldError::new("identities", "must be an object")),
    };
    known_keys(&identities, "identities.", &IDENTITIES)?;
    for (k, v) in &identities {
        if !v.is_string() {
            return Err(FieldError::new(
                format!("identities.{k}"),
                "must be a string",
            ));
        }
    }

    let scope = match top.get("scope") {
        Some(Value::Object(m)) if !m.is_empty() => m,
        Some(Value::Object(_)) => {
            return Err(FieldError::new(
                "scope",
                "names no provider; give at least one",
            ))
        }
        Some(_) => {
            return Err(FieldError::new(
                "scope",
                "must be an object keyed by provider",
            ))
        }
        None => {
            return Err(FieldError::new(
                "scope",
                "is missing; say what to unsubscribe from, per provider",
            ))
        }
    };
    let mut targets = Vec::with_capacity(scope.len());
    for (name, entry) in scope {
        let path = format!("scope.{name}");
        let provider: Provider = name.parse().map_err(|_| {
            FieldError::new(
                &path,
                "unknown provider; expected migma, novu, pushy, mobivate or hubspot",
            )
        })?;
        if targets.iter().any(|t: &Target| t.provider == provider) {
            return Err(FieldError::new(&path, "appears twice"));
        }
        let Value::Object(entry) = entry else {
            return Err(FieldError::new(&path, "must be an object with topics"));
        };
        known_keys(entry, &format!("{path}."), &SCOPE)?;
        targets.push(target(provider, &path, entry, &identities)?);
    }

    let legal_basis = match top.get("legal_basis") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            known_keys(m, "legal_basis.", &["basis", "explanation"])?;
            let basis = string(m, "legal_basis.basis", "basis")?
                .ok_or_else(|| FieldError::new("legal_basis.basis", "is missing"))?;
            let basis: LegalBasis = basis.parse().map_err(|e: optout_core::Error| {
                FieldError::new("legal_basis.basis", e.message().unwrap_or("unknown"))
            })?;
            let explanation = string(m, "legal_basis.explanation", "explanation")?
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| FieldError::new("legal_basis.explanation", "is missing; say why"))?;
            Some((basis, explanation.to_string()))
        }
        Some(_) => {
            return Err(FieldError::new(
                "legal_basis",
                "must be an object with basis and explanation",
            ))
        }
    };

    let source = match string(&top, "source", "source")? {
        None => "api".to_string(),
        Some(s)
            if s.trim().is_empty()
                || s.len() > MAX_SOURCE_LEN
                || s.chars().any(char::is_control) =>
        {
            return Err(FieldError::new(
                "source",
                format!("must be 1 to {MAX_SOURCE_LEN} bytes of text without control characters"),
            ))
        }
        Some(s) => s.to_string(),
    };

    let now = SystemTime::now();
    let received_at = match string(&top, "received_at", "received_at")? {
        None => now,
        Some(s) => {
            let t = humantime::parse_rfc3339_weak(s).map_err(|e| {
                FieldError::new(
                    "received_at",
                    format!("is not an RFC 3339 time ({e}); e.g. 2026-01-02T12:00:00Z"),
                )
            })?;
            if t > now + SKEW {
                return Err(FieldError::new("received_at", "is in the future"));
            }
            t.min(now)
        }
    };

    let mut opt_out = OptOut::new(targets, Channel::Api, source);
    opt_out.legal_basis = legal_basis;
    opt_out.received_at = received_at;
    Ok(opt_out)
}

fn target(
    provider: Provider,
    path: &str,
    entry: &Map<String, Value>,
    identities: &Map<String, Value>,
) -> Result<Target, FieldError> {
    let topics = match entry.get("topics") {
        None => {
            return Err(FieldError::new(
                format!("{path}.topics"),
                "is missing; a list of ids, or \"all\"",
            ))
        }
        Some(Value::String(s)) if s == "all" => Topics::All,
        Some(Value::Array(ids)) => {
            let mut out = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                let Value::String(id) = id else {
                    return Err(FieldError::new(
                        format!("{path}.topics[{i}]"),
                        "must be a string",
                    ));
                };
                out.push(id.clone());
            }
            Topics::Only(out)
        }
        Some(_) => {
            return Err(FieldError::new(
                format!("{path}.topics"),
                "must be a list of ids, or \"all\"",
            ))
        }
    };
    let kind = match provider {
        Provider::HubSpot => "email",
        Provider::Mobivate => "phone",
        Provider::Pushy => "device",
        _ => "subscriber",
    };
    let own = string(entry, &format!("{path}.recipient"), "recipient")?;
    let (value, field) = match own {
        Some(v) => (v, format!("{path}.recipient")),
        None => match identities.get(kind).and_then(Value::as_str) {
            Some(v) => (v, format!("identities.{kind}")),
            None => {
                return Err(FieldError::new(
                    format!("{path}.recipient"),
                    format!("is missing; {provider} needs identities.{kind} or {path}.recipient"),
                ))
            }
        },
    };
    let identifier = string(entry, &format!("{path}.identifier"), "identifier")?;
    let recipient = Recipient::for_provider(provider, value, identifier).map_err(|e| {
        let f = if e.field() == Some("identifier") {
            format!("{path}.identifier")
        } else {
            field.clone()
        };
        FieldError::new(f, e.message().unwrap_or("is not valid"))
    })?;
    Target::new(provider, recipient, topics).map_err(|e| {
        let f = match e.field() {
            Some("topics") => format!("{path}.topics"),
            _ => field.clone(),
        };
        FieldError::new(f, e.message().unwrap_or("is not valid"))
    })
}

fn known_keys(map: &Map<String, Value>, prefix: &str, allowed: &[&str]) -> Result<(), FieldError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(FieldError::new(
            format!("{prefix}{k}"),
            format!(
                "is not a known field; expected one of {}",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn string<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, FieldError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError::new(path, "must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> FieldError {
        parse_opt_out(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn a_full_body_parses() {
        let o = parse_opt_out(
            br#"{"identities":{"email":"a@example.com","phone":"+254 700 000000"},
                 "scope":{"hubspot":{"topics":"all"},"mobivate":{"topics":["c1","c1"]},
                          "novu":{"topics":["p"],"recipient":"u1","identifier":"s1"}},
                 "legal_basis":{"basis":"consent-with-notice","explanation":"asked"},
                 "source":"form","received_at":"2026-01-02T12:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(o.targets.len(), 3);
        assert_eq!(o.targets[1].topics, Topics::one("c1"));
        assert_eq!(
            o.targets[1].recipient,
            Recipient::phone("254700000000").unwrap()
        );
        assert_eq!(o.source, "form");
        assert_eq!(o.legal_basis.unwrap().0, LegalBasis::ConsentWithNotice);
    }

    #[test]
    fn each_malformed_body_names_its_field() {
        let cases = [
            ("not json", "body"),
            ("[]", "body"),
            (r#"{"scope":{}}"#, "scope"),
            (r#"{"identities":{}}"#, "scope"),
            (
                r#"{"scope":{"hubspot":{"topics":"all"}},"extra":1}"#,
                "extra",
            ),
            (
                r#"{"scope":{"mailchimp":{"topics":"all"}}}"#,
                "scope.mailchimp",
            ),
            (
                r#"{"scope":{"hubspot":{"topics":"all"}}}"#,
                "scope.hubspot.recipient",
            ),
            (
                r#"{"identities":{"email":"nope"},"scope":{"hubspot":{"topics":"all"}}}"#,
                "identities.email",
            ),
            (
                r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{}}}"#,
                "scope.hubspot.topics",
            ),
            (
                r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":[1]}}}"#,
                "scope.hubspot.topics[0]",
            ),
            (
                r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":[]}}}"#,
                "scope.hubspot.topics",
            ),
            (
                r#"{"identities":{"subscriber":"s"},"scope":{"novu":{"topics":"all"}}}"#,
                "scope.novu.topics",
            ),
            (
                r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":"all","identifier":"x"}}}"#,
                "scope.hubspot.identifier",
            ),
            (r#"{"identities":{"fax":"1"},"scope":{}}"#, "identities.fax"),
            (
                r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":"all"}},"legal_basis":{"basis":"gdpr","explanation":"x"}}"#,
                "legal_basis.basis",
            ),
            (
                r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":"all"}},"legal_basis":{"basis":"NON_GDPR"}}"#,
                "legal_basis.explanation",
            ),
            (
                r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":"all"}},"source":""}"#,
                "source",
            ),
            (
                r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":"all"}},"received_at":"yesterday"}"#,
                "received_at",
            ),
            (
                r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":"all"}},"received_at":"2999-01-01T00:00:00Z"}"#,
                "received_at",
            ),
        ];
        for (body, field) in cases {
            let e = err(body);
            assert_eq!(e.field, field, "{body}: {e:?}");
            assert!(!e.message.is_empty());
        }
    }
}
