//! Tests of link tokens: signing, verifying, key rotation, damaged tokens, the scopes each
//! provider allows, and the link with its headers.

use super::*;
use optout_core::{Provider, Recipient, Topics};

const K1: &str = "k1:0123456789abcdef0123456789abcdef";
const K2: &str = "k2:fedcba9876543210fedcba9876543210";

fn keys(spec: &str) -> LinkKeys {
    LinkKeys::parse(spec).unwrap()
}

fn hubspot() -> Scope {
    Scope::new(
        Provider::HubSpot,
        Recipient::email("alice@example.com").unwrap(),
        Topics::only(["12345", "678"]),
    )
    .unwrap()
    .issued_at(1_700_000_000)
}

#[test]
fn a_signed_token_verifies_and_gives_the_scope_back() {
    let keys = keys(K1);
    let token = keys.sign(&hubspot()).unwrap();
    assert!(token.starts_with("v1.k1."), "{token}");
    let verified = keys.verify(&token).unwrap();
    assert_eq!(verified.scope, hubspot());
    assert_eq!(verified.kid, "k1");
}

#[test]
fn the_same_scope_and_time_give_the_same_token_and_idempotency_key() {
    let keys = keys(K1);
    let (a, b) = (
        keys.sign(&hubspot()).unwrap(),
        keys.sign(&hubspot()).unwrap(),
    );
    assert_eq!(a, b);
    let later = keys.sign(&hubspot().issued_at(1_700_000_001)).unwrap();
    assert_ne!(a, later, "another mail's link is another opt-out");
    assert_ne!(
        keys.verify(&a).unwrap().idempotency_key(),
        keys.verify(&later).unwrap().idempotency_key()
    );
}

#[test]
fn rotation_the_first_key_signs_and_every_key_verifies() {
    let old = keys(K1).sign(&hubspot()).unwrap();
    let rotated = keys(&format!("{K2},{K1}"));
    let new = rotated.sign(&hubspot()).unwrap();
    assert!(new.starts_with("v1.k2."));
    assert_eq!(rotated.verify(&old).unwrap().kid, "k1");
    // Re-signed with another key, the same payload is the same opt-out.
    assert_eq!(
        rotated.verify(&old).unwrap().idempotency_key(),
        rotated.verify(&new).unwrap().idempotency_key()
    );
    // Once k1 is retired, its links are refused.
    assert_eq!(keys(K2).verify(&old), Err(TokenError::UnknownKey));
}

#[test]
fn a_token_re_keyed_under_another_kid_is_refused() {
    let token = keys(K1).sign(&hubspot()).unwrap();
    // The same MAC presented as if k2 had made it.
    let rekeyed = token.replacen("v1.k1.", "v1.k2.", 1);
    assert_eq!(
        keys(&format!("{K1},{K2}")).verify(&rekeyed),
        Err(TokenError::BadSignature)
    );
    // The same secret under another id: the kid is inside the MAC.
    let same_secret = keys(&format!("{K1},k3:{}", &K1[3..]));
    let rekeyed = token.replacen("v1.k1.", "v1.k3.", 1);
    assert_eq!(same_secret.verify(&rekeyed), Err(TokenError::BadSignature));
}

#[test]
fn forged_truncated_and_oversized_tokens_are_refused() {
    let keys = keys(K1);
    let token = keys.sign(&hubspot()).unwrap();
    // Forged: a payload of our choosing with a MAC made with another secret.
    let forged = LinkKeys::parse("k1:ffffffffffffffffffffffffffffffff")
        .unwrap()
        .sign(&hubspot())
        .unwrap();
    assert_eq!(keys.verify(&forged), Err(TokenError::BadSignature));
    // Another recipient's payload with our MAC.
    let mut parts: Vec<&str> = token.split('.').collect();
    let other = Scope::new(
        Provider::HubSpot,
        Recipient::email("bob@example.com").unwrap(),
        Topics::All,
    )
    .unwrap();
    let other_payload = URL_SAFE_NO_PAD.encode(other.encode());
    parts[2] = &other_payload;
    assert_eq!(keys.verify(&parts.join(".")), Err(TokenError::BadSignature));
    // Truncated anywhere.
    for cut in 0..token.len() {
        assert!(keys.verify(&token[..cut]).is_err(), "cut at {cut}");
    }
    // Oversized.
    let big = format!("{token}{}", "A".repeat(MAX_TOKEN_LEN));
    assert_eq!(keys.verify(&big), Err(TokenError::TooLong));
    // Other versions and shapes.
    assert_eq!(
        keys.verify(&token.replacen("v1.", "v2.", 1)),
        Err(TokenError::UnknownVersion)
    );
    assert_eq!(
        keys.verify(&format!("{token}.x")),
        Err(TokenError::Malformed)
    );
    assert_eq!(keys.verify(""), Err(TokenError::Malformed));
}

#[test]
fn a_mac_over_a_non_canonical_payload_is_still_refused() {
    // Signed correctly, but with a leading zero in a length: not what `encode` writes.
    let keys = keys(K1);
    let payload = b"10:1700000000:1:7:hubspot17:alice@example.com0:03:all".to_vec();
    assert!(Scope::decode(&payload).is_none());
    let canonical = b"10:17000000001:17:hubspot17:alice@example.com0:3:all".to_vec();
    assert!(Scope::decode(&canonical).is_some());
    let mut mac = keys.mac("k1").unwrap();
    mac.update(&payload);
    let token = format!(
        "v1.k1.{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(keys.verify(&token), Err(TokenError::Malformed));
}

#[test]
fn short_secrets_bad_ids_and_duplicates_are_refused_without_showing_secrets() {
    for spec in [
        "k1:short",
        "k1",
        ":0123456789abcdef0123456789abcdef",
        "k.1:0123456789abcdef0123456789abcdef",
        "k1:0123456789abcdef0123456789abcdef,k1:fedcba9876543210fedcba9876543210",
        "",
    ] {
        let err = LinkKeys::parse(spec).unwrap_err().to_string();
        assert!(!err.contains("0123456789abcdef"), "{err}");
        assert!(!err.contains("short"), "{err}");
    }
    let keys = keys(&format!("{K1},{K2}"));
    let debug = format!("{keys:?}");
    assert!(
        debug.contains("k1") && !debug.contains("0123456789abcdef"),
        "{debug}"
    );
}

#[test]
fn the_scope_must_fit_the_provider() {
    let email = Recipient::email("a@example.com").unwrap();
    assert!(Scope::new(Provider::Mobivate, email.clone(), Topics::one("c")).is_err());
    assert!(Scope::new(
        Provider::Novu,
        Recipient::subscriber("s").unwrap(),
        Topics::All
    )
    .is_err());
    assert!(Scope::new(Provider::HubSpot, email.clone(), Topics::Only(vec![])).is_err());
    let scope = Scope::new(Provider::HubSpot, email.clone(), Topics::All)
        .unwrap()
        .and(
            Provider::Pushy,
            Recipient::device("dev").unwrap(),
            Topics::one("news"),
        )
        .unwrap();
    assert!(scope
        .clone()
        .and(Provider::HubSpot, email, Topics::All)
        .is_err());
    let keys = keys(K1);
    assert_eq!(
        keys.verify(&keys.sign(&scope).unwrap()).unwrap().scope,
        scope
    );
}

#[test]
fn novu_identifiers_and_phone_numbers_round_trip() {
    let scope = Scope::new(
        Provider::Novu,
        Recipient::subscriber_with_identifier("sub-1", "sub-ident").unwrap(),
        Topics::one("product"),
    )
    .unwrap()
    .and(
        Provider::Mobivate,
        Recipient::phone("+254 700 000000").unwrap(),
        Topics::one("c1"),
    )
    .unwrap();
    let keys = keys(K1);
    assert_eq!(
        keys.verify(&keys.sign(&scope).unwrap()).unwrap().scope,
        scope
    );
}

#[test]
fn a_link_is_base_u_token_with_both_headers() {
    let keys = keys(K1);
    let link = keys.link("https://unsub.example.com/", &hubspot()).unwrap();
    assert_eq!(
        link.url,
        format!("https://unsub.example.com/u/{}", link.token)
    );
    let json = serde_json::to_value(&link).unwrap();
    assert_eq!(json["url"], link.url.as_str());
    assert_eq!(
        json["headers"]["List-Unsubscribe"],
        format!("<{}>", link.url)
    );
    assert_eq!(
        json["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    assert!(keys.link("http://127.0.0.1:8080", &hubspot()).is_ok());
    for bad in [
        "http://unsub.example.com",
        "ftp://x",
        "https://",
        "https://x.example/?q=1",
        "https://x.example/#f",
        "unsub.example.com",
    ] {
        assert!(keys.link(bad, &hubspot()).is_err(), "{bad}");
    }
}

#[test]
fn too_many_topics_make_no_link() {
    let ids: Vec<String> = (0..200).map(|i| format!("topic-number-{i}")).collect();
    let scope = Scope::new(
        Provider::HubSpot,
        Recipient::email("a@example.com").unwrap(),
        Topics::Only(ids),
    )
    .unwrap();
    let err = keys(K1).sign(&scope).unwrap_err();
    assert_eq!(err.field(), Some("topic"));
}
