//! The audit chain verifies, and names the first bad record after a row is
//! altered, deleted, reordered or the table truncated, straight in the
//! database, on SQLite and on PostgreSQL.

use workbench_host::audit::verify::ChainBreak;

use crate::server::{Db, execute_raw, on_both_databases};
use crate::support::Host;

/// A demo host with some plugin traffic; returns it and its record count.
async fn host_with_history(db: Db) -> (Host, i64) {
    let host = Host::demo_on(db).await;
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

async fn verify_after(db: Db, sql: &str) -> Option<ChainBreak> {
    let (host, _) = host_with_history(db).await;
    execute_raw(&host.database_url, sql).await;
    let reports = host.workbench.verify_audit(Some("demo")).await.expect("verify runs");
    host.stop().await;
    reports[0].error.clone()
}

on_both_databases! {
    async fn an_untouched_chain_verifies_and_every_call_is_in_it(db: Db) {
        let (host, records) = host_with_history(db).await;
        // 4 publishes (3 examples + hostile) + 3 installs + 4 consents + 3 x (user.name, user.id,
        // storage.get in the daily report; perm.approval, user.nickname in the approval helper)
        assert_eq!(records, 4 + 3 + 4 + 3 * (3 + 2));
        host.stop().await;    }
}

on_both_databases! {
    async fn an_altered_row_is_named(db: Db) {
        let error = verify_after(db, "UPDATE audit_records SET outcome = 'denied' WHERE tenant = 'demo' AND seq = 9").await;
        assert_eq!(error, Some(ChainBreak::Altered { seq: 9 }));    }
}

on_both_databases! {
    async fn a_deleted_row_is_named(db: Db) {
        let error = verify_after(db, "DELETE FROM audit_records WHERE tenant = 'demo' AND seq = 12").await;
        assert_eq!(error, Some(ChainBreak::Missing { seq: 12, found: 13 }));    }
}

on_both_databases! {
    async fn reordered_rows_are_named(db: Db) {
        // Swap the content of records 10 and 11, keeping their seq numbers.
        let error = verify_after(db,
            "UPDATE audit_records SET seq = CASE seq WHEN 10 THEN -11 WHEN 11 THEN -10 END WHERE tenant = 'demo' AND seq IN (10, 11); \
             UPDATE audit_records SET seq = -seq WHERE tenant = 'demo' AND seq < 0",
        )
        .await;
        assert_eq!(error.as_ref().and_then(ChainBreak::seq), Some(10), "{error:?}");    }
}

on_both_databases! {
    async fn a_truncated_tail_is_caught_by_the_signed_checkpoint(db: Db) {
        let error = verify_after(db, "DELETE FROM audit_records WHERE tenant = 'demo' AND seq > 15").await;
        assert!(matches!(error, Some(ChainBreak::Truncated { last: 15, checkpoint }) if checkpoint > 15), "{error:?}");    }
}

on_both_databases! {
    async fn a_truncated_table_is_caught_by_the_signed_checkpoint(db: Db) {
        let error = verify_after(db, "DELETE FROM audit_records").await;
        assert!(matches!(error, Some(ChainBreak::Truncated { last: 0, .. })), "{error:?}");    }
}

on_both_databases! {
    async fn a_forged_checkpoint_is_refused(db: Db) {
        let error = verify_after(db, "UPDATE audit_checkpoints SET seq = seq + 1000 WHERE tenant = 'demo'").await;
        assert!(matches!(error, Some(ChainBreak::BadCheckpoint(_))), "{error:?}");    }
}
