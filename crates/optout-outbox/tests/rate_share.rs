//! The PostgreSQL store's shared rate limit against a real server (a throwaway cluster; skipped
//! loudly where PostgreSQL is not installed, failing with CI=true): two stores opened on one
//! database, as two worker processes would, hand out request slots that never put more than
//! `n` in any window of `period`. The slot times the store answers are checked, not the wall
//! clock.

use std::sync::Arc;
use std::time::Duration;

use optout_core::{RateShare, SharedSlot};
use optout_outbox::Outbox;

/// `n` slots `spacing` apart, per key, from each of `shares` at once.
async fn take(
    shares: &[Arc<dyn RateShare>],
    key: &'static str,
    spacing: Duration,
    each: usize,
) -> Vec<SharedSlot> {
    let mut tasks = Vec::new();
    for share in shares {
        // Two tasks per store: the pool's connections race each other too.
        for _ in 0..2 {
            let share = share.clone();
            tasks.push(tokio::spawn(async move {
                let mut slots = Vec::new();
                for _ in 0..each {
                    slots.push(share.next_slot(key, spacing).await.unwrap());
                }
                slots
            }));
        }
    }
    let mut slots = Vec::new();
    for t in tasks {
        slots.extend(t.await.unwrap());
    }
    slots.sort_by_key(|s| s.start);
    slots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_database_never_exceed_the_limit() {
    let Some(cluster) = optout_testkit::pg::shared() else {
        return;
    };
    let url = cluster.create_database("rate");
    let shares: Vec<Arc<dyn RateShare>> = vec![
        Outbox::open(&url).await.unwrap().rate_share().unwrap(),
        Outbox::open(&url).await.unwrap().rate_share().unwrap(),
    ];
    // 10 per second, spaced 100 ms (the governor adds its margin; the store adds none).
    let (n, period) = (10usize, Duration::from_secs(1));
    let spacing = period / n as u32;
    let (hubspot, pushy) = tokio::join!(
        take(&shares, "hubspot:0123456789abcdef", spacing, 25),
        take(&shares, "pushy:fedcba9876543210", spacing, 10),
    );
    assert_eq!(hubspot.len(), 100);
    assert_eq!(pushy.len(), 40);
    for slots in [&hubspot, &pushy] {
        for s in slots.iter() {
            assert!(s.start >= s.now, "a slot never starts in the past: {s:?}");
        }
        for pair in slots.windows(2) {
            assert!(
                pair[1].start - pair[0].start >= spacing,
                "two slots closer than {spacing:?}: {pair:?}"
            );
        }
        // The limit itself: the slot n places on starts a whole period later, so no window
        // of `period` holds more than n.
        for w in slots.windows(n + 1) {
            assert!(w[n].start - w[0].start >= period, "{w:?}");
        }
    }
    // Slots are taken from the database's clock: 100 slots 100 ms apart reach ~10 s ahead,
    // though taking them took far less.
    let ahead = hubspot.last().unwrap().start - hubspot[0].start;
    assert!(ahead >= spacing * 99, "{ahead:?}");
    // A fresh key is not held up by another key's queue.
    let other = shares[1]
        .next_slot("pushy:another-account", spacing)
        .await
        .unwrap();
    assert_eq!(other.wait(), Duration::ZERO);
}

/// A pause one worker learned holds every worker's next slot, and never pulls a later slot
/// earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_from_one_store_holds_the_other() {
    let Some(cluster) = optout_testkit::pg::shared() else {
        return;
    };
    let url = cluster.create_database("rate");
    let (a, b) = (
        Outbox::open(&url).await.unwrap().rate_share().unwrap(),
        Outbox::open(&url).await.unwrap().rate_share().unwrap(),
    );
    let key = "hubspot:0123456789abcdef";
    let spacing = Duration::from_millis(100);
    // A fresh key: paused before any slot was taken.
    a.pause(key, Duration::from_secs(3600)).await.unwrap();
    let held = b.next_slot(key, spacing).await.unwrap();
    assert!(held.wait() > Duration::from_secs(3590), "{held:?}");
    // A shorter pause leaves the later slot where it is.
    a.pause(key, Duration::from_secs(10)).await.unwrap();
    let next = b.next_slot(key, spacing).await.unwrap();
    assert_eq!(next.start, held.start + spacing, "{held:?} then {next:?}");
    // Another key is not held.
    let other = b
        .next_slot("pushy:fedcba9876543210", spacing)
        .await
        .unwrap();
    assert_eq!(other.wait(), Duration::ZERO);
}

#[tokio::test]
async fn sqlite_does_not_share() {
    let dir = std::env::temp_dir().join(format!("optout-rate-{:016x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("o.db").display());
    let outbox = Outbox::open(&url).await.unwrap();
    assert!(outbox.rate_share().is_none());
    drop(outbox);
    let _ = std::fs::remove_dir_all(dir);
}
