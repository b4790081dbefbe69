//! `workbench:plugin/notify`: a notification in the inbox of the person the
//! call is about. The gate asks for the `notify` scope (granted by the
//! admin, consented to by the person); the notification is then a change
//! the audit writer applies in the transaction of its record, where the
//! person's consents are read again (a withdrawal since the call began
//! refuses it) and the per-person and per-plugin hourly limits are counted.

use super::workbench::plugin::notify::{self, Notification, NotifyError};
use crate::model::audit::Action;
use crate::model::notifications::{self as inbox, Draft};
use crate::runtime::gatekeeper::Gatekeeper;
use crate::scope::Scope;
use crate::store::{StorageChange, StorageOp, StorageOutcome};

impl notify::Host for Gatekeeper {
    async fn send(&mut self, notification: Notification) -> wasmtime::Result<Result<String, NotifyError>> {
        if let Err(denial) = self.gate(Action::NotifySend, Scope::Notify).await? {
            return Ok(Err(NotifyError::Denied(denial.into())));
        }
        let draft = Draft { title: notification.title, text: notification.text, route: notification.route };
        if let Err(problem) = inbox::check(&draft) {
            self.record(
                Action::NotifySend,
                Some(Scope::Notify),
                crate::model::audit::Outcome::Failed,
                Some(format!("invalid: {problem}")),
            );
            return Ok(Err(NotifyError::Invalid(problem)));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let limits = &self.services.limits;
        let change = StorageChange {
            tenant: self.call.tenant.clone(),
            plugin: self.call.manifest.id.clone(),
            person: Some(self.call.member.clone()),
            key: id.clone(),
            op: StorageOp::Notify {
                draft,
                now_ms: crate::now_ms(),
                per_person_hour: limits.notify_per_person_hour,
                per_plugin_hour: limits.notify_per_plugin_hour,
            },
            consents_seen: std::sync::Arc::clone(&self.consents_at_start),
        };
        let outcome = self
            .effect(Action::NotifySend, Scope::Notify, change)
            .await
            .map_err(|e| wasmtime::format_err!("the notification's record was not written: {e}"))?;
        Ok(match outcome {
            StorageOutcome::Set => Ok(id),
            StorageOutcome::RateLimited(seconds) => Err(NotifyError::RateLimited(seconds)),
            StorageOutcome::Refused(denial) => Err(NotifyError::Denied(denial.into())),
            StorageOutcome::OverQuota(_) | StorageOutcome::Deleted(_) => {
                Err(NotifyError::Denied(crate::gate::Denial::QuotaExceeded.into()))
            }
        })
    }
}
