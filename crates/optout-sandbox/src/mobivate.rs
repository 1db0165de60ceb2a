//! Mobivate: `POST /subscriptions/v1/{campaign_id}/unsubscribe`, body
//! `{"msisdn","signature","keyword"?}` where `signature` is the lower-case hex
//! `MD5(account_id + campaign_id + msisdn)` (the docs' worked example is authoritative).
//!
//! Every answer is the documented envelope, in JSON (the docs print `True`/`Null`):
//! `{"authenticated","valid_msisdn","valid_campaign","campaign_status","campaign_name",
//! "campaign_service","state","error","reference"}`. A repeat is `unsubscribed` again.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::Value;

use crate::util::{self, random_hex, Segment};
use crate::{Api, Shared};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/subscriptions/v1/{campaign_id}/unsubscribe",
        post(unsubscribe),
    )
}

/// The answer envelope; `None` is JSON `null`.
#[derive(Serialize, Default)]
struct Envelope {
    authenticated: Option<bool>,
    valid_msisdn: Option<bool>,
    valid_campaign: Option<bool>,
    campaign_status: Option<&'static str>,
    campaign_name: Option<String>,
    campaign_service: Option<&'static str>,
    state: Option<&'static str>,
    error: Option<String>,
    reference: String,
}

impl Envelope {
    fn reply(mut self, status: StatusCode) -> Response {
        self.reference = format!("AP:{}-{}-{}", random_hex(7), random_hex(9), random_hex(8));
        let body = serde_json::to_vec(&self).unwrap_or_default();
        util::raw(status, Bytes::from(body))
    }

    fn fail(mut self, status: StatusCode, error: &str) -> Response {
        self.error = Some(error.to_owned());
        self.reply(status)
    }
}

/// Mobivate's answer to an injected 429 or 503.
pub(crate) fn fault(status: StatusCode) -> Response {
    let error = if status == StatusCode::TOO_MANY_REQUESTS {
        "Too many requests"
    } else {
        "Service temporarily unavailable"
    };
    Envelope::default().fail(status, error)
}

/// Lower-case hex `MD5(account_id + campaign_id + msisdn)`.
fn signature(account_id: &str, campaign_id: &str, msisdn: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(account_id.as_bytes());
    md5.update(campaign_id.as_bytes());
    md5.update(msisdn.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

async fn unsubscribe(
    State(shared): State<Arc<Shared>>,
    Segment(campaign): Segment,
    body: Bytes,
) -> Response {
    let envelope = Envelope::default();
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return envelope.fail(
            StatusCode::BAD_REQUEST,
            "The request body must be a JSON object with msisdn and signature",
        );
    };
    // Lenient: an MSISDN sent as a JSON number is read as its digits.
    let msisdn = match body.get("msisdn") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let expected = signature(&shared.mobivate_account_id, &campaign, &msisdn);
    let signed = body
        .get("signature")
        .and_then(Value::as_str)
        .is_some_and(|given| given.trim().eq_ignore_ascii_case(&expected));
    if !signed {
        let envelope = Envelope {
            authenticated: Some(false),
            ..envelope
        };
        return envelope.fail(
            StatusCode::UNAUTHORIZED,
            "Invalid signature: expected md5(account_id + campaign_id + msisdn)",
        );
    }
    let mut envelope = Envelope {
        authenticated: Some(true),
        ..envelope
    };
    let valid_msisdn =
        (6..=15).contains(&msisdn.len()) && msisdn.bytes().all(|b| b.is_ascii_digit());
    envelope.valid_msisdn = Some(valid_msisdn);
    if !valid_msisdn {
        return envelope.fail(
            StatusCode::BAD_REQUEST,
            "Invalid MSISDN: expected 6 to 15 digits in international format, without '+'",
        );
    }
    let world = shared.world.api(Api::Mobivate);
    if !world.topic_exists(&campaign) {
        envelope.valid_campaign = Some(false);
        return envelope.fail(StatusCode::NOT_FOUND, "Campaign not found");
    }
    envelope.valid_campaign = Some(true);
    envelope.campaign_status = Some("active");
    envelope.campaign_service = Some("12345");
    envelope.campaign_name = Some(format!("Campaign {campaign}"));
    world.unsubscribe(&msisdn, &campaign);
    envelope.state = Some("unsubscribed");
    envelope.reply(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_signature_vector() {
        assert_eq!(
            super::signature(
                crate::DEFAULT_MOBIVATE_ACCOUNT_ID,
                "c71e2c2ee68b410a82d6c5f910c2d428",
                "254700000000"
            ),
            "1af289e14aa593c843da7cd869a8e2f7"
        );
    }
}
