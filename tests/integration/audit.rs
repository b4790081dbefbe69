//! The audit chain verifies, and names the first bad record after a row is
//! altered, deleted, reordered or the table truncated.

use workbench_host::audit::verify::ChainBreak;

use crate::support::{Host, raw_db};

/// A demo host with some plugin traffic, stopped; returns its data dir.
async fn host_with_history() -> (Host, i64) {
    let host = Host::demo().await;
    for _ in 0..3 {
        host.get("zhang.wei", "site-daily-report", "/report.json").await.expect("runs");
        host.get("zhang.wei", "approval-helper", "/summary.json").await.expect("runs");
    }
    let reports = host.workbench.verify_audit(Some("demo")).await.expect("verifies");
    assert!(reports[0].ok(), "{:?}", reports[0].error);
    let records = reports[0].records;
    assert!(records > 10);
    (host, records)
}

async fn verify_after(sql: &str) -> Option<ChainBreak> {
    let (host, _) = host_with_history().await;
    let db = raw_db(&host.database()).await;
    sqlx::query(sql).execute(&db).await.expect("tamper");
    db.close().await;
    let reports = host.workbench.verify_audit(Some("demo")).await.expect("verify runs");
    reports[0].error.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untouched_chain_verifies_and_every_call_is_in_it() {
    let (host, records) = host_with_history().await;
    // 4 publishes (3 examples + hostile) + 3 installs + 4 consents + 3 x (user.name, user.id,
    // storage.get in the daily report; perm.approval, user.nickname in the approval helper)
    assert_eq!(records, 4 + 3 + 4 + 3 * (3 + 2));
    let dir = host.stop().await;
    assert!(dir.path().join("workbench.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_row_is_named() {
    let error = verify_after("UPDATE audit_records SET outcome = 'denied' WHERE tenant = 'demo' AND seq = 9").await;
    assert_eq!(error, Some(ChainBreak::Altered { seq: 9 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_row_is_named() {
    let error = verify_after("DELETE FROM audit_records WHERE tenant = 'demo' AND seq = 12").await;
    assert_eq!(error, Some(ChainBreak::Missing { seq: 12, found: 13 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_rows_are_named() {
    // Swap the content of records 10 and 11, keeping their seq numbers.
    let error = verify_after(
        "UPDATE audit_records SET seq = CASE seq WHEN 10 THEN -11 WHEN 11 THEN -10 END WHERE tenant = 'demo' AND seq IN (10, 11); \
         UPDATE audit_records SET seq = -seq WHERE tenant = 'demo' AND seq < 0",
    )
    .await;
    assert_eq!(error.as_ref().and_then(ChainBreak::seq), Some(10), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_tail_is_caught_by_the_signed_checkpoint() {
    let error = verify_after("DELETE FROM audit_records WHERE tenant = 'demo' AND seq > 15").await;
    assert!(matches!(error, Some(ChainBreak::Truncated { last: 15, checkpoint }) if checkpoint > 15), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_table_is_caught_by_the_signed_checkpoint() {
    let error = verify_after("DELETE FROM audit_records").await;
    assert!(matches!(error, Some(ChainBreak::Truncated { last: 0, .. })), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_checkpoint_is_refused() {
    let error = verify_after("UPDATE audit_checkpoints SET seq = seq + 1000 WHERE tenant = 'demo'").await;
    assert!(matches!(error, Some(ChainBreak::BadCheckpoint(_))), "{error:?}");
}
