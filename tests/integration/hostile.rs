//! Hostile guests: each attack ends in a typed trap or error, is audited,
//! and the next normal call (same and other tenant) succeeds; on SQLite and
//! on PostgreSQL.

use workbench_host::model::audit::Outcome;
use workbench_host::runtime::{CallError, TrapKind};
use workbench_host::scope::Scope;
use workbench_host::service::ServiceError;

use crate::server::{Db, on_both_databases};
use crate::support::{Host, body, json};

async fn hostile_host(db: Db) -> Host {
    hostile_host_with(db, crate::support::test_limits()).await
}

async fn hostile_host_with(db: Db, limits: workbench_host::runtime::RuntimeLimits) -> Host {
    let host = Host::demo_with(db, limits).await;
    host.install_hostile("demo", &[Scope::UserId, Scope::Storage, Scope::Log]).await;
    host.workbench
        .consent("demo", "zhang.wei", "hostile", &[Scope::UserId], &[], &Default::default())
        .await
        .expect("consent");
    host.store.upsert_tenant("other", "Other Co").await.expect("tenant");
    let profile = workbench_host::model::directory::MemberProfile { name: "Other".into(), ..Default::default() };
    host.store.upsert_member("other", "o.member", &profile).await.expect("member");
    host.install_hostile("other", &[Scope::Storage]).await;
    host
}

async fn expect_trap(host: &Host, path: &str, kind: TrapKind) {
    match host.get("zhang.wei", "hostile", path).await {
        Err(ServiceError::Plugin { invocation, error: CallError::Trap { kind: got, message } }) => {
            assert_eq!(got, kind, "{path}: {message}");
            crate::support::assert_trap_audited(host, &invocation, kind.code(), path).await;
        }
        other => panic!("{path}: expected a {kind:?} trap, got {other:?}"),
    }
    // The host and everyone else carry on.
    let normal =
        host.get("zhang.wei", "site-daily-report", "/report.json").await.expect("normal call after the attack");
    assert_eq!(json(&normal)["reporter"], "张伟");
    let other = host.get_in("other", "o.member", "hostile", "/read-key?key=x").await.expect("other tenant unaffected");
    assert_eq!(body(&other), "None");
}

on_both_databases! {
    async fn infinite_loop_hits_the_deadline(db: Db) {
        let host = hostile_host(db).await;
        expect_trap(&host, "/loop", TrapKind::Deadline).await;
        host.stop().await;
    }
}

on_both_databases! {
    async fn a_throttled_loop_still_ends_at_its_wall_clock_deadline(db: Db) {
        // Throttled after 10 ms of compute, the loop then sleeps 9 ticks per tick it runs.
        // Counting only the ticks it ran, a 300 ms deadline would take about 3 s of wall
        // time; the deadline counts wall time, so it ends near 300 ms. The bound allows
        // 5x that for a loaded machine: it checks which clock the deadline uses, not speed.
        let limits = workbench_host::runtime::RuntimeLimits {
            deadline_ms: 300,
            cpu_budget_ms: 10,
            throttle_ticks: 9,
            ..crate::support::test_limits()
        };
        let host = hostile_host_with(db, limits).await;
        let started = std::time::Instant::now();
        let result = host.get("zhang.wei", "hostile", "/loop").await;
        let took = started.elapsed();
        assert!(
            matches!(&result, Err(ServiceError::Plugin { error: CallError::Trap { kind: TrapKind::Deadline, .. }, .. })),
            "{result:?}"
        );
        assert!(took < std::time::Duration::from_millis(1500), "the deadline is wall clock: took {took:?}");
        expect_trap(&host, "/loop", TrapKind::Deadline).await;
        host.stop().await;
    }
}

on_both_databases! {
    async fn memory_bomb_hits_the_memory_limit(db: Db) {
        let host = hostile_host(db).await;
        expect_trap(&host, "/memory", TrapKind::Memory).await;
        host.stop().await;
    }
}

on_both_databases! {
    async fn deep_recursion_hits_the_stack_limit(db: Db) {
        let host = hostile_host(db).await;
        expect_trap(&host, "/recurse", TrapKind::Stack).await;
        host.stop().await;
    }
}

on_both_databases! {
    async fn huge_response_hits_the_output_cap(db: Db) {
        let host = hostile_host(db).await;
        expect_trap(&host, "/huge-response", TrapKind::ResponseTooLarge).await;
        host.stop().await;
    }
}

on_both_databases! {
    async fn host_call_flood_hits_the_hostcall_limit(db: Db) {
        let host = hostile_host(db).await;
        expect_trap(&host, "/hostcalls", TrapKind::Hostcalls).await;
        let records = host.store.audit_records("demo", 0, 100_000).await.expect("records");
        let reads =
            records.iter().filter(|r| r.event.actor.starts_with("plugin:hostile") && r.event.action == "read").count();
        assert_eq!(
            reads,
            workbench_host::runtime::RuntimeLimits::default().hostcalls as usize,
            "each allowed call audited, no more"
        );
        host.stop().await;
    }
}

on_both_databases! {
    async fn panic_is_a_trap(db: Db) {
        let host = hostile_host(db).await;
        expect_trap(&host, "/panic", TrapKind::Panic).await;
        host.stop().await;
    }
}

on_both_databases! {
    async fn bad_keys_and_huge_values_are_typed_errors(db: Db) {
        let host = hostile_host(db).await;
        let out = body(&host.get("zhang.wei", "hostile", "/bad-keys").await.expect("runs"));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("Err(InvalidKey(\"keys may not be empty"), "{out}");
        assert!(lines[1].starts_with("Err(InvalidKey(\"keys are at most 256 bytes"), "{out}");
        assert!(lines[2].starts_with("Err(InvalidKey(\"keys may not contain control"), "{out}");
        assert_eq!(lines[3], "Ok(())", "a path-like key is just a key in the plugin's own bucket");
        assert!(lines[4].starts_with("Err(ValueTooLarge(65536))"), "{out}");
        host.stop().await;
    }
}

on_both_databases! {
    async fn storage_quota_is_enforced_and_other_tenants_never_see_the_data(db: Db) {
        let host = hostile_host(db).await;
        let flood = host.get("zhang.wei", "hostile", "/storage-flood").await.expect("runs");
        assert_eq!(flood.response.status, 507, "{}", body(&flood));
        assert!(body(&flood).contains("quota exceeded"), "{}", body(&flood));
        let denied = flood.audit.iter().filter(|r| r.event.reason.as_deref() == Some("quota_exceeded")).count();
        assert_eq!(denied, 1);
        let mine = host.get("zhang.wei", "hostile", "/read-key?key=flood/0").await.expect("runs");
        assert!(body(&mine).starts_with("Some("), "{}", body(&mine));
        let theirs = host.get_in("other", "o.member", "hostile", "/read-key?key=flood/0").await.expect("runs");
        assert_eq!(body(&theirs), "None");
        host.stop().await;
    }
}

on_both_databases! {
    async fn log_floods_are_capped(db: Db) {
        let host = hostile_host(db).await;
        // Thousands of lines run into the host call limit like any other flood.
        expect_trap(&host, "/log-flood", TrapKind::Hostcalls).await;
        // Under it, lines past the per-call limit are dropped and long lines truncated.
        let logged = host.get("zhang.wei", "hostile", "/log-flood?n=500").await.expect("runs");
        let limits = workbench_host::runtime::RuntimeLimits::default();
        assert_eq!(logged.logs.len(), limits.log_lines as usize);
        assert!(logged.logs.iter().all(|l| l.message.len() <= limits.log_line_bytes));
        host.stop().await;
    }
}

on_both_databases! {
    async fn a_trap_after_a_write_keeps_the_audited_write(db: Db) {
        let host = hostile_host(db).await;
        match host.get("zhang.wei", "hostile", "/trap-after-write").await {
            Err(ServiceError::Plugin { invocation, error: CallError::Trap { kind: TrapKind::Panic, .. } }) => {
                let records = host.store.audit_records("demo", 0, 100_000).await.expect("records");
                let actions: Vec<_> = records
                    .iter()
                    .filter(|r| r.event.invocation.as_deref() == Some(invocation.as_str()))
                    .map(|r| (r.event.action.as_str(), r.event.outcome))
                    .collect();
                assert_eq!(actions, [("storage.set", Outcome::Allowed), ("invoke", Outcome::Trapped)]);
            }
            other => panic!("expected a panic trap, got {other:?}"),
        }
        host.stop().await;
    }
}

on_both_databases! {
    async fn a_call_never_sees_what_an_earlier_call_left_in_its_memory(db: Db) {
        let host = hostile_host(db).await;
        let found = |reply: workbench_host::service::Invoked| -> usize {
            body(&reply).parse().unwrap_or_else(|_| panic!("a count, got {}", body(&reply)))
        };
        // The scan finds the pattern where it is: in the static and on the heap.
        let check = host.get("zhang.wei", "hostile", "/residue/check?seed=7").await.expect("runs");
        let seen = found(check);
        assert!(seen >= 2, "the scan sees the pattern its own call left ({seen})");
        // A call leaves the pattern; the calls after it, which reuse its
        // instance slot and the pages kept resident between calls, in the
        // same tenant and in another, find none of it.
        let left = host.get("zhang.wei", "hostile", "/residue/leave?seed=42").await.expect("runs");
        assert!(found(left) >= 2);
        for _ in 0..4 {
            let mine = host.get("zhang.wei", "hostile", "/residue/scan?seed=42").await.expect("runs");
            assert_eq!(found(mine), 0, "an earlier call's memory showed through");
            let theirs = host.get_in("other", "o.member", "hostile", "/residue/scan?seed=42").await.expect("runs");
            assert_eq!(found(theirs), 0, "another tenant's call's memory showed through");
        }
        host.stop().await;
    }
}

on_both_databases! {
    async fn a_call_past_its_write_budget_is_denied_quota_exceeded(db: Db) {
        let host = hostile_host(db).await;
        let reply = host.get("zhang.wei", "hostile", "/write-budget").await.expect("runs");
        let text = body(&reply);
        let (writes, error) = text.split_once(' ').expect("count and error");
        let writes: u64 = writes.parse().expect("count");
        let budget = workbench_host::runtime::RuntimeLimits::default().storage_call_write_bytes;
        let size = 60 * 1024 + "budget/0".len() as u64;
        assert_eq!(writes, budget / size, "the writes that fit the budget went through");
        assert_eq!(error, "Denied(QuotaExceeded)", "{text}");
        let denied: Vec<_> = reply.audit.iter().filter(|r| r.event.outcome == Outcome::Denied).collect();
        assert_eq!(denied.len(), 1);
        assert!(denied[0].event.reason.as_deref().unwrap_or_default().starts_with("quota_exceeded: a call may write"));
        // The next call has a budget of its own.
        let again = host.get("zhang.wei", "hostile", "/write-budget").await.expect("runs");
        assert!(body(&again).starts_with(&writes.to_string()), "{}", body(&again));
        host.stop().await;
    }
}
