//! Property tests of link tokens: the parser never panics, and never accepts a token that
//! differs from one we signed.

use optout_core::{Provider, Recipient, Topics};
use optout_serve::link::{LinkKeys, Scope};
use proptest::prelude::*;

fn keys() -> LinkKeys {
    LinkKeys::parse("k2:fedcba9876543210fedcba9876543210,k1:0123456789abcdef0123456789abcdef")
        .unwrap()
}

fn scope() -> impl Strategy<Value = Scope> {
    (
        "[a-z]{1,12}@[a-z]{1,8}\\.com",
        proptest::collection::vec("[A-Za-z0-9._|:-]{1,16}", 0..5),
        any::<u32>(),
        proptest::option::of("[a-z0-9]{1,20}"),
    )
        .prop_map(|(email, topics, at, device)| {
            let topics = if topics.is_empty() {
                Topics::All
            } else {
                Topics::Only(topics)
            };
            let scope = Scope::new(Provider::HubSpot, Recipient::email(email).unwrap(), topics)
                .unwrap()
                .issued_at(u64::from(at));
            match device {
                Some(d) => scope
                    .and(
                        Provider::Pushy,
                        Recipient::device(d).unwrap(),
                        Topics::one("news"),
                    )
                    .unwrap(),
                None => scope,
            }
        })
}

/// One change to a token: replace, insert or delete a character.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, char),
    Insert(usize, char),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop_oneof![
        proptest::char::range('a', 'z'),
        proptest::char::range('A', 'Z'),
        proptest::char::range('0', '9'),
        Just('-'),
        Just('_'),
        Just('.'),
        Just('='),
        any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<usize>(), c).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(token: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    for e in edits {
        match *e {
            Edit::Replace(i, c) if !chars.is_empty() => {
                let i = i % chars.len();
                chars[i] = c;
            }
            Edit::Insert(i, c) => {
                let i = i % (chars.len() + 1);
                chars.insert(i, c);
            }
            Edit::Delete(i) if !chars.is_empty() => {
                let i = i % chars.len();
                chars.remove(i);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn the_parser_never_panics(s in "\\PC{0,300}") {
        let _ = keys().verify(&s);
    }

    #[test]
    fn the_parser_never_panics_on_token_shaped_input(
        s in "v1\\.[a-z0-9]{0,4}\\.[A-Za-z0-9_-]{0,120}\\.[A-Za-z0-9_-]{0,50}"
    ) {
        prop_assert!(keys().verify(&s).is_err());
    }

    #[test]
    fn an_altered_token_is_never_accepted(scope in scope(), edits in proptest::collection::vec(edit(), 1..4)) {
        let keys = keys();
        let token = keys.sign(&scope).unwrap();
        prop_assert_eq!(&keys.verify(&token).unwrap().scope, &scope);
        let altered = apply(&token, &edits);
        if altered != token {
            prop_assert!(keys.verify(&altered).is_err(), "accepted {altered:?} altered from {token:?}");
        }
    }
}
