//! Shares, the queue, overrides and rates.

use super::*;

fn admission(config: AdmissionConfig, slots: u32) -> Arc<Admission> {
    let limits = RuntimeLimits { max_concurrent_instances: slots, ..RuntimeLimits::default() };
    Admission::new(config, &limits)
}

fn key(tenant: &str, plugin: &str, member: &str) -> CallKey {
    CallKey::new(tenant, plugin, member)
}

#[tokio::test]
async fn shares_hold_and_a_waiter_gets_the_slot_given_back() {
    let config = AdmissionConfig { per_member: 2, queue_ms: 2_000, ..AdmissionConfig::default() };
    let admission = admission(config, 16);
    let a = admission.admit(key("t", "p", "m")).await.expect("first");
    let _b = admission.admit(key("t", "p", "m")).await.expect("second");
    // The third waits; another member is admitted meanwhile.
    let waiting = tokio::spawn({
        let admission = Arc::clone(&admission);
        async move { admission.admit(key("t", "p", "m")).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "the member's third call waits");
    let _other = admission.admit(key("t", "p", "n")).await.expect("another member is not held up");
    drop(a);
    let third = waiting.await.expect("task").expect("admitted once a slot is given back");
    assert_eq!(admission.running(), 3);
    drop(third);
    assert_eq!(admission.running(), 2);
}

#[tokio::test]
async fn past_the_queue_a_call_is_refused_naming_its_limit() {
    let config = AdmissionConfig { per_member: 1, queue_ms: 20, queue_per_member: 1, ..AdmissionConfig::default() };
    let admission = admission(config, 16);
    let _held = admission.admit(key("t", "p", "m")).await.expect("first");
    let (waited, refused) = tokio::join!(admission.admit(key("t", "p", "m")), admission.admit(key("t", "p", "m")));
    let refused = refused.expect_err("the queue holds one");
    assert!(matches!(refused, Refusal::Caller { .. }), "{refused:?}");
    assert!(refused.limit().contains("a member may run 1"), "{refused}");
    assert!(matches!(waited.expect_err("timed out"), Refusal::Caller { .. }));
    assert_eq!(admission.running(), 1);
}

#[tokio::test]
async fn a_tenant_holds_at_most_its_share_and_the_host_at_most_its_budget() {
    let config = AdmissionConfig {
        per_member: 100,
        per_plugin: 100,
        tenant_share_percent: 50,
        queue_ms: 0,
        memory_budget_bytes: 6 * (128 << 20),
        ..AdmissionConfig::default()
    };
    // 16 slots, but memory for 6 instances of 128 MiB: 6 run at once, 3 per tenant.
    let admission = admission(config, 16);
    assert_eq!(admission.slots(), 6);
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(admission.admit(key("a", "p", &format!("m{i}"))).await.expect("within the share"));
    }
    let refused = admission.admit(key("a", "p", "m9")).await.expect_err("over the tenant's share");
    assert!(refused.limit().contains("this workbench may run 3"), "{refused}");
    for i in 0..3 {
        held.push(admission.admit(key("b", "p", &format!("m{i}"))).await.expect("the other tenant"));
    }
    let refused = admission.admit(key("c", "p", "m")).await.expect_err("the host is full");
    assert!(matches!(refused, Refusal::Host { .. }), "{refused:?}");
    held.clear();
    assert_eq!(admission.running(), 0);
}

#[tokio::test]
async fn a_tenant_override_replaces_the_share_and_the_per_member_limit() {
    let mut config = AdmissionConfig { queue_ms: 0, ..AdmissionConfig::default() };
    config.tenants.insert(
        "big".into(),
        TenantAdmission { max_instances: Some(12), per_member: Some(12), ..TenantAdmission::default() },
    );
    let admission = admission(config, 32);
    let mut held = Vec::new();
    for _ in 0..12 {
        held.push(admission.admit(key("big", "p", "m")).await.expect("within the override"));
    }
    let refused = admission.admit(key("big", "p", "n")).await.expect_err("over the override");
    assert!(refused.limit().contains("this workbench may run 12"), "{refused}");
    // Others keep the defaults: 8 per member.
    for _ in 0..8 {
        held.push(admission.admit(key("small", "p", "m")).await.expect("the default share"));
    }
    let refused = admission.admit(key("small", "p", "m")).await.expect_err("over the default per member");
    assert!(refused.limit().contains("a member may run 8"), "{refused}");
}

#[test]
fn rates_are_per_member_and_per_tenant_with_overrides() {
    let mut config = AdmissionConfig { member_rate_per_sec: 1, member_burst: 2, ..AdmissionConfig::default() };
    config.tenants.insert("big".into(), TenantAdmission { member_burst: Some(5), ..TenantAdmission::default() });
    let admission = admission(config, 16);
    assert!(admission.check_rate("t", "m").is_ok());
    assert!(admission.check_rate("t", "m").is_ok());
    let refused = admission.check_rate("t", "m").expect_err("the bucket is empty");
    assert!(refused.retry_after() > Duration::ZERO && refused.retry_after() <= Duration::from_secs(1));
    assert!(admission.check_rate("t", "other").is_ok(), "another member has a bucket of its own");
    for _ in 0..5 {
        assert!(admission.check_rate("big", "m").is_ok(), "the override's burst");
    }
    assert!(admission.check_rate("big", "m").is_err());
}

#[tokio::test]
async fn a_waiter_whose_request_goes_away_leaves_the_queue_and_holds_no_slot() {
    let config = AdmissionConfig { per_member: 1, queue_ms: 5_000, queue_per_member: 1, ..AdmissionConfig::default() };
    let admission = admission(config, 16);
    let held = admission.admit(key("t", "p", "m")).await.expect("first");
    let waiting = tokio::spawn({
        let admission = Arc::clone(&admission);
        async move { admission.admit(key("t", "p", "m")).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The queue's one place for the member is taken.
    let full = admission.admit(key("t", "p", "m")).await.expect_err("the member's queue is full");
    assert!(matches!(full, Refusal::Caller { .. }), "{full:?}");
    waiting.abort();
    let _ = waiting.await;
    // Its place in the queue is free again: another call of the member waits
    // there (a stale waiter would have it refused at once) and gets the slot.
    let next = tokio::spawn({
        let admission = Arc::clone(&admission);
        async move { admission.admit(key("t", "p", "m")).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!next.is_finished(), "the next call waits in the freed place");
    drop(held);
    let permit = next.await.expect("task").expect("the slot goes to the waiter still there");
    assert_eq!(admission.running(), 1);
    drop(permit);
    assert_eq!(admission.running(), 0);
}

/// Every share as the counts hold it now, checked against the limits.
fn assert_within_shares(admission: &Admission, per_member: u32, per_plugin: u32) {
    let counts = admission.lock();
    assert!(counts.running <= admission.slots, "{} running on {} slots", counts.running, admission.slots);
    let members: u32 = counts.members.values().sum();
    let plugins: u32 = counts.plugins.values().sum();
    let tenants: u32 = counts.tenants.values().sum();
    assert_eq!((members, plugins, tenants), (counts.running, counts.running, counts.running), "shares add up");
    assert!(counts.members.values().all(|n| *n <= per_member), "a member past its share: {:?}", counts.members);
    assert!(counts.plugins.values().all(|n| *n <= per_plugin), "a plugin past its share: {:?}", counts.plugins);
}

/// Waiters cancelled at random instants while slots are released on other
/// threads: every slot is given back exactly once, the shares hold at every
/// moment, and the counts return to zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_waiters_never_give_a_slot_back_twice() {
    use rand::Rng;
    let config = AdmissionConfig {
        per_member: 2,
        per_plugin: 6,
        queue_ms: 50,
        queue_total: 64,
        queue_per_member: 16,
        ..AdmissionConfig::default()
    };
    let admission = admission(config, 8);
    let running = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let checker = tokio::spawn({
        let admission = Arc::clone(&admission);
        async move {
            for _ in 0..2_000 {
                assert_within_shares(&admission, 2, 6);
                tokio::task::yield_now().await;
            }
        }
    });
    let tasks: Vec<_> = (0..4_000)
        .map(|i| {
            let admission = Arc::clone(&admission);
            let running = Arc::clone(&running);
            tokio::spawn(async move {
                let (cancel_after, hold) = {
                    let mut rng = rand::thread_rng();
                    (rng.gen_range(0..400), rng.gen_range(0..300))
                };
                let key = key("t", &format!("p{}", i % 3), &format!("m{}", i % 7));
                let admit = admission.admit(key);
                // Cancelled at a random instant: before, while or after a slot is granted.
                if let Ok(Ok(permit)) = tokio::time::timeout(Duration::from_micros(cancel_after), admit).await {
                    let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    assert!(now <= admission.slots(), "{now} permits held on {} slots", admission.slots());
                    tokio::time::sleep(Duration::from_micros(hold)).await;
                    running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    drop(permit);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no task panicked");
    }
    checker.await.expect("the shares held throughout");
    let counts = admission.lock();
    assert_eq!(counts.running, 0, "every slot came back once");
    assert!(counts.members.is_empty() && counts.plugins.is_empty() && counts.tenants.is_empty(), "{counts:?}");
    assert!(counts.waiting.is_empty() && counts.waiting_members.is_empty(), "{counts:?}");
}
