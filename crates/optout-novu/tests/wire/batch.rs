//! Batching (`unsubscribe_many`): up to 100 subscriptions of one topic per DELETE.

use super::*;

/// Answers per item, by the subscriber id's prefix: `gone-` is SUBSCRIPTION_NOT_FOUND (already
/// unsubscribed), `ghost-` is SUBSCRIBER_NOT_FOUND, `silent-` gets no entry at all, anything
/// else is deleted with `_id` `sub-{id}` (and its identifier echoed).
struct Batch;

impl Respond for Batch {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let items = subscriptions(request);
        let (mut data, mut errors) = (Vec::new(), Vec::new());
        for item in &items {
            let id = item["subscriberId"].as_str().unwrap();
            let code = if id.starts_with("gone-") {
                "SUBSCRIPTION_NOT_FOUND"
            } else if id.starts_with("ghost-") {
                "SUBSCRIBER_NOT_FOUND"
            } else if id.starts_with("silent-") {
                continue;
            } else {
                let identifier = item.get("identifier").and_then(Value::as_str);
                let sub = format!("sub-{id}");
                data.push(entry(&sub, &topic_of(request), Some(id), identifier));
                continue;
            };
            errors.push(
                json!({"subscriberId": id, "code": code, "message": format!("{code} for {id}")}),
            );
        }
        result(items.len(), data, errors)
    }
}

pub(crate) fn one(id: &str, topic: &str) -> Unsubscribe {
    Unsubscribe::new(Recipient::subscriber(id).unwrap(), Topics::one(topic))
}

fn ids_in(r: &Request) -> Vec<String> {
    subscriptions(r)
        .iter()
        .map(|i| i["subscriberId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn many_requests_for_one_topic_share_deletes_of_up_to_100() {
    let server = MockServer::start().await;
    mount(&server, Batch, 2).await;
    mount_at(&server, "/v2/topics/other/subscriptions", Batch, 1).await;
    // 150 for TOPIC with 3 for `other` mixed in.
    let mut requests: Vec<Unsubscribe> = (0..150).map(|i| one(&format!("s{i}"), TOPIC)).collect();
    for (at, i) in [(0, 0), (70, 1), (153, 2)] {
        requests.insert(at.min(requests.len()), one(&format!("o{i}"), "other"));
    }
    let novu = client(&server);
    assert_eq!(novu.batch_size(), 100);
    let results = novu.unsubscribe_many(&requests).await;

    assert_eq!(results.len(), requests.len());
    for (request, result) in requests.iter().zip(&results) {
        let receipt = result.as_ref().unwrap();
        let Recipient::Subscriber { id, .. } = &request.recipient else {
            unreachable!()
        };
        assert_eq!(receipt.recipient, request.recipient);
        assert_eq!(receipt.topics, request.topics);
        assert_eq!(receipt.outcome, Outcome::Unsubscribed);
        assert_eq!(receipt.reference.as_deref(), Some(&*format!("sub-{id}")));
    }
    let sent = received(&server).await;
    assert_eq!(sent.len(), 3);
    let topic: Vec<&Request> = sent.iter().filter(|r| r.url.path() == TOPIC_PATH).collect();
    let expected: Vec<String> = (0..150).map(|i| format!("s{i}")).collect();
    let items = |ids: &[String]| -> Value {
        json!({"subscriptions": ids.iter().map(|id| json!({"subscriberId": id})).collect::<Vec<_>>()})
    };
    assert_request(topic[0], TOPIC_PATH, None, items(&expected[..100]));
    assert_request(topic[1], TOPIC_PATH, None, items(&expected[100..]));
    let other = sent
        .iter()
        .find(|r| r.url.path() == "/v2/topics/other/subscriptions")
        .unwrap();
    let others: Vec<String> = (0..3).map(|i| format!("o{i}")).collect();
    assert_request(
        other,
        "/v2/topics/other/subscriptions",
        None,
        items(&others),
    );
}

#[tokio::test]
async fn each_request_gets_its_own_item_of_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(TOPIC_PATH))
        .respond_with(Batch)
        .mount(&server)
        .await;
    let with_identifier = Unsubscribe::new(
        Recipient::subscriber_with_identifier("new-2", "tk=x:si=new-2").unwrap(),
        Topics::one(TOPIC),
    );
    let requests = vec![
        one("new-1", TOPIC),
        one("gone-1", TOPIC),
        one("ghost-1", TOPIC),
        one("silent-1", TOPIC),
        one("new-1", TOPIC), // the same subscriber again: sent once, same outcome
        with_identifier,
        one("gone-1", TOPIC),
    ];
    let results = client(&server).unsubscribe_many(&requests).await;
    assert_eq!(results.len(), 7);

    let sent = received(&server).await;
    assert_eq!(sent.len(), 1, "one DELETE for the whole group");
    assert_request(
        &sent[0],
        TOPIC_PATH,
        None,
        json!({"subscriptions": [
            {"subscriberId": "new-1"}, {"subscriberId": "gone-1"}, {"subscriberId": "ghost-1"},
            {"subscriberId": "silent-1"}, {"subscriberId": "new-2", "identifier": "tk=x:si=new-2"}
        ]}),
    );

    for i in [0, 4] {
        let r = results[i].as_ref().unwrap();
        assert_eq!(r.outcome, Outcome::Unsubscribed);
        assert_eq!(r.reference.as_deref(), Some("sub-new-1"));
        assert_eq!(r.recipient, requests[i].recipient);
    }
    for i in [1, 6] {
        let r = results[i].as_ref().unwrap();
        assert_eq!(r.outcome, Outcome::AlreadyUnsubscribed);
        assert_eq!(r.reference, None);
    }
    let ghost = results[2].as_ref().unwrap_err();
    assert_eq!(ghost.kind(), ErrorKind::NotFound);
    assert_eq!(ghost.code(), Some("SUBSCRIBER_NOT_FOUND"));
    assert!(!ghost.is_retryable());
    assert!(ghost.to_string().contains("ghost-1"), "{ghost}");
    let silent = results[3].as_ref().unwrap_err();
    assert!(
        silent.to_string().contains("nothing is confirmed")
            && silent.to_string().contains("silent-1"),
        "{silent}"
    );
    let r = results[5].as_ref().unwrap();
    assert_eq!(r.outcome, Outcome::Unsubscribed);
    assert_eq!(r.reference.as_deref(), Some("sub-new-2"));
    assert_eq!(r.recipient, requests[5].recipient);
}

#[tokio::test]
async fn an_item_for_another_identifier_does_not_confirm_a_request() {
    let server = MockServer::start().await;
    // Novu's answer names the subscriber but another subscription identifier.
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "data": [entry("s1", TOPIC, Some("user-123"), Some("other"))],
            "meta": {"totalCount": 1, "successful": 1, "failed": 0}
        })),
        1,
    )
    .await;
    let request = Unsubscribe::new(
        Recipient::subscriber_with_identifier("user-123", "mine").unwrap(),
        Topics::one(TOPIC),
    );
    let results = client(&server).unsubscribe_many(&[request]).await;
    let error = results[0].as_ref().unwrap_err();
    assert!(
        error.to_string().contains("nothing is confirmed"),
        "{error}"
    );
}

#[tokio::test]
async fn a_subscription_of_a_deleted_subscriber_is_matched_by_its_identifier() {
    let server = MockServer::start().await;
    // `subscriber: null` (the subscriber no longer exists): only the identifier says whose
    // subscription it was. Entries are matched wherever they are in the answer, and a
    // request's references keep the answer's order.
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                entry("s-b", TOPIC, Some("b"), Some("id-b")),
                entry("s-a2", TOPIC, None, Some("id-a")),
                entry("s-c", TOPIC, Some("c"), None),
                entry("s-a1", TOPIC, Some("a"), Some("id-a")),
                entry("s-x", TOPIC, None, Some("id-x"))
            ],
            "meta": {"totalCount": 3, "successful": 5, "failed": 0}
        })),
        1,
    )
    .await;
    let with = |id: &str, identifier: &str| {
        Unsubscribe::new(
            Recipient::subscriber_with_identifier(id, identifier).unwrap(),
            Topics::one(TOPIC),
        )
    };
    let requests = [with("a", "id-a"), with("b", "id-b"), one("c", TOPIC)];
    let results = client(&server).unsubscribe_many(&requests).await;
    let reference = |i: usize| results[i].as_ref().unwrap().reference.clone();
    assert_eq!(reference(0).as_deref(), Some("s-a2,s-a1"));
    assert_eq!(reference(1).as_deref(), Some("s-b"));
    assert_eq!(reference(2).as_deref(), Some("s-c"));
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn requests_that_cannot_share_a_delete_go_one_by_one() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(Batch)
        .mount(&server)
        .await;
    let requests = vec![
        one("a", TOPIC),
        // Two topics: its own DELETE per topic.
        Unsubscribe::new(
            Recipient::subscriber("b").unwrap(),
            Topics::only(["t1", "t2"]),
        ),
        // An idempotency key cannot cover a shared body.
        one("c", TOPIC).idempotency_key("key-c"),
        // The same subscriber with an identifier, beside the one without.
        Unsubscribe::new(
            Recipient::subscriber_with_identifier("a", "i").unwrap(),
            Topics::one(TOPIC),
        ),
        // Bad input is refused with nothing sent.
        Unsubscribe::new(Recipient::subscriber("d").unwrap(), Topics::one("")),
        Unsubscribe::new(
            Recipient::email("e@example.com").unwrap(),
            Topics::one(TOPIC),
        ),
        one("f", TOPIC),
    ];
    let results = client(&server).unsubscribe_many(&requests).await;
    assert_eq!(results.len(), 7);
    for i in [0, 1, 2, 3, 6] {
        assert!(results[i].is_ok(), "{i}: {:?}", results[i]);
    }
    assert_eq!(
        results[4].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        results[5].as_ref().unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        results[1].as_ref().unwrap().topics,
        Topics::only(["t1", "t2"])
    );

    let sent = received(&server).await;
    let bodies: Vec<(String, Vec<String>, Option<String>)> = sent
        .iter()
        .map(|r| {
            (
                r.url.path().to_owned(),
                ids_in(r),
                header(r, "idempotency-key"),
            )
        })
        .collect();
    assert_eq!(sent.len(), 5, "{bodies:?}");
    assert!(bodies.contains(&(TOPIC_PATH.into(), vec!["a".into(), "f".into()], None)));
    assert!(bodies.contains(&("/v2/topics/t1/subscriptions".into(), vec!["b".into()], None)));
    assert!(bodies.contains(&("/v2/topics/t2/subscriptions".into(), vec!["b".into()], None)));
    assert!(bodies.contains(&(TOPIC_PATH.into(), vec!["c".into()], Some("key-c".into()))));
    assert!(bodies.contains(&(TOPIC_PATH.into(), vec!["a".into()], None)));
}

#[tokio::test]
async fn a_delete_that_fails_whole_fails_every_request_of_its_group_retryably() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(503)
            .insert_header("Retry-After", "0")
            .set_body_json(json!({
                "statusCode": 503, "message": "Service Unavailable", "error": "Service Unavailable",
                "errorId": "e-1"
            })),
        4, // the first attempt and 3 retries
    )
    .await;
    mount_at(&server, "/v2/topics/other/subscriptions", Batch, 1).await;
    let requests = vec![
        one("a", TOPIC),
        one("x", "other"),
        one("b", TOPIC),
        one("c", TOPIC),
        one("b", TOPIC),
    ];
    let results = client(&server).unsubscribe_many(&requests).await;
    assert_eq!(results[1].as_ref().unwrap().outcome, Outcome::Unsubscribed);
    for i in [0, 2, 3, 4] {
        let e = results[i].as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server, "{i}: {e}");
        assert_eq!(e.status(), Some(503));
        assert_eq!(e.code(), None, "an HTTP reason phrase is not Novu's code");
        assert!(e.is_retryable(), "{i}: {e}");
        assert!(e.message().unwrap().contains("errorId e-1"), "{i}: {e}");
        assert!(e.to_string().contains("4 attempts"), "{i}: {e}");
    }
    // Not one request of the failed group is reported as done.
    assert!(results.iter().filter(|r| r.is_ok()).count() == 1);
}

#[tokio::test]
async fn a_topic_named_twice_is_one_topic_and_shares_the_delete() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(Batch)
        .mount(&server)
        .await;
    let twice = Unsubscribe::new(
        Recipient::subscriber("b").unwrap(),
        Topics::only([TOPIC, TOPIC]),
    );
    let results = client(&server)
        .unsubscribe_many(&[one("a", TOPIC), twice])
        .await;
    for result in &results {
        let receipt = result.as_ref().unwrap();
        assert_eq!(receipt.outcome, Outcome::Unsubscribed);
        assert_eq!(receipt.topics, Topics::one(TOPIC));
    }
    let sent = received(&server).await;
    assert_eq!(sent.len(), 1);
    assert_request(
        &sent[0],
        TOPIC_PATH,
        None,
        json!({"subscriptions": [{"subscriberId": "a"}, {"subscriberId": "b"}]}),
    );
}

#[tokio::test]
async fn escaped_strings_in_the_answer_match_their_requests() {
    // The answer's strings are read in place unless they hold JSON escapes; these do.
    let server = MockServer::start().await;
    let body = r#"{"data":[
        {"_id":"sub-\"1\"","identifier":"tk=t:si=caf\u00e9","subscriber":{"subscriberId":"caf\u00e9"},
         "topic":{"key":"a b/c?d"}},
        {"_id":"sub-2","subscriber":{"subscriberId":"say \"hi\""},"topic":{"key":"a b\/c?d"}},
        {"_id":"sub-3","identifier":"tk=t:si=gone\\1","subscriber":null,"topic":{"key":"a\u0020b/c?d"}}
    ],"meta":{"totalCount":3,"successful":3,"failed":0}}"#;
    let answer = ResponseTemplate::new(200).set_body_raw(body, "application/json");
    mount(&server, answer, 2).await;
    let requests = [
        Unsubscribe::new(
            Recipient::subscriber_with_identifier("café", "tk=t:si=café").unwrap(),
            Topics::one(TOPIC),
        ),
        one("say \"hi\"", TOPIC),
        Unsubscribe::new(
            Recipient::subscriber_with_identifier("gone", "tk=t:si=gone\\1").unwrap(),
            Topics::one(TOPIC),
        ),
    ];
    let novu = client(&server);
    let references = |results: &[Result<optout_core::Receipt, optout_core::Error>]| {
        results
            .iter()
            .map(|r| r.as_ref().unwrap().reference.clone().unwrap())
            .collect::<Vec<_>>()
    };
    let batched = novu.unsubscribe_many(&requests).await;
    assert_eq!(references(&batched), ["sub-\"1\"", "sub-2", "sub-3"]);
    let sent = received(&server).await;
    assert_request(
        &sent[0],
        TOPIC_PATH,
        None,
        json!({"subscriptions": [
            {"subscriberId": "café", "identifier": "tk=t:si=café"},
            {"subscriberId": "say \"hi\""},
            {"subscriberId": "gone", "identifier": "tk=t:si=gone\\1"}
        ]}),
    );
    // One by one, the same answer is matched the same way: only the request's own entry.
    let single = novu.unsubscribe(&requests[1]).await.unwrap();
    assert_eq!(single.reference.as_deref(), Some("sub-2"));
}

/// What a batch call says of one request, without the time of its receipt.
fn summary(result: &Result<Receipt, Error>) -> String {
    match result {
        Ok(r) => format!(
            "{} {:?} {:?} {:?}",
            r.recipient, r.topics, r.outcome, r.reference
        ),
        Err(e) => format!("error {e}"),
    }
}

#[tokio::test]
async fn the_owned_call_sends_the_same_deletes_and_answers_the_same() {
    // `unsubscribe_owned` (what the engine calls) moves each request's recipient and topics
    // into its receipt; it must send what `unsubscribe_many` sends and answer what it answers.
    let requests = vec![
        one("new-1", TOPIC),
        one("gone-1", TOPIC),
        one("ghost-1", TOPIC),
        one("silent-1", TOPIC),
        one("new-1", TOPIC), // again: sent once, both get the outcome
        Unsubscribe::new(
            Recipient::subscriber_with_identifier("new-2", "tk=x:si=new-2").unwrap(),
            Topics::Only(vec![TOPIC.into(), TOPIC.into()]), // a repeat, dropped: topics [TOPIC]
        ),
        one("new-3", TOPIC).idempotency_key("k-1"), // sent on its own, with its key
        one("o-1", "other"),
    ];
    let mut answers = Vec::new();
    let mut calls = Vec::new();
    for owned in [false, true] {
        let server = MockServer::start().await;
        Mock::given(method("DELETE"))
            .respond_with(Batch)
            .mount(&server)
            .await;
        let novu = client(&server);
        let results = if owned {
            novu.unsubscribe_owned(requests.clone()).await
        } else {
            novu.unsubscribe_many(&requests).await
        };
        answers.push(results.iter().map(summary).collect::<Vec<_>>());
        calls.push(
            received(&server)
                .await
                .iter()
                .map(|r| {
                    let key = r
                        .headers
                        .get("idempotency-key")
                        .map(|v| v.as_bytes().to_vec());
                    (r.url.path().to_owned(), key, ids_in(r))
                })
                .collect::<Vec<_>>(),
        );
        if owned {
            // One time for every receipt one DELETE confirmed: the answer's.
            let at: Vec<_> = [0, 1, 4, 5]
                .iter()
                .map(|&i| results[i].as_ref().unwrap().completed_at)
                .collect();
            assert!(at.windows(2).all(|w| w[0] == w[1]), "{at:?}");
        }
    }
    assert_eq!(calls[0], calls[1]);
    assert_eq!(calls[0].len(), 3, "{:?}", calls[0]);
    assert_eq!(answers[0], answers[1]);
    let topic = format!("{:?}", Topics::one(TOPIC));
    assert!(answers[1][5].contains(&topic), "{}", answers[1][5]);
    assert!(answers[1][3].starts_with("error "), "{}", answers[1][3]);
}
