//! Schedules: each approved `[[schedules]]` entry of an enabled
//! installation fires at the slots of its cron expression, in its time
//! zone. A slot is an event whose id names the schedule and the slot
//! (`schedule:NAME:SLOT`, and the member for a tick about each member), so
//! the outbox accepts it once however many replicas reach it: each slot
//! fires once. Slots up to [`CATCH_UP`] old still fire (a restart just
//! after 18:00 does not lose the reminder); older ones are gone.

use std::sync::Arc;

use super::{ServiceError, ServiceResult, Workbench};
use crate::model::events::{EventKind, SchedulePer};
use crate::model::installation::InstallationState;
use crate::model::schedules::Cron;
use crate::store::NewEvent;

/// How late a slot may still fire.
pub const CATCH_UP_MS: i64 = 10 * 60 * 1000;

impl Workbench {
    /// Fires every slot in `(now - CATCH_UP, now]` of every approved
    /// schedule of every enabled installation (once: see the module); how
    /// many events were new.
    pub async fn tick_schedules(&self, now_ms: i64) -> ServiceResult<usize> {
        let mut fired = 0;
        for (tenant, _) in self.store.retention_tenants().await? {
            for installation in self.store.installations(&tenant).await? {
                let scheduled = installation.subscriptions.iter().any(|s| s.starts_with("schedule:"));
                if installation.state != InstallationState::Enabled || !scheduled {
                    continue;
                }
                let manifest =
                    Arc::clone(&self.load_version(&installation.plugin, &installation.version).await?.manifest);
                let mut events = Vec::new();
                for schedule in &manifest.schedules {
                    if !installation.subscriptions.contains(&format!("schedule:{}", schedule.name)) {
                        continue;
                    }
                    let cron = match Cron::parse(&schedule.cron, &schedule.timezone) {
                        Ok(cron) => cron,
                        Err(problem) => {
                            tracing::error!(%tenant, plugin = %installation.plugin, %problem, "a published schedule does not parse");
                            continue;
                        }
                    };
                    let mut after = now_ms - CATCH_UP_MS;
                    let mut subjects: Option<Vec<Option<String>>> = None;
                    while let Some(slot) = cron.next_after(after).filter(|slot| *slot <= now_ms) {
                        after = slot;
                        if subjects.is_none() {
                            subjects = Some(match schedule.per {
                                SchedulePer::Plugin => vec![None],
                                SchedulePer::Member => self
                                    .members_in_range(&tenant, &installation.range)
                                    .await?
                                    .into_iter()
                                    .map(Some)
                                    .collect(),
                            });
                        }
                        for subject in subjects.iter().flatten().cloned() {
                            events.push(tick(&installation.plugin, &schedule.name, &cron, slot, subject));
                        }
                    }
                }
                if events.is_empty() {
                    continue;
                }
                let accepted = self.store.accept_events(&tenant, &events, now_ms).await?;
                fired += accepted.iter().filter(|a| !a.duplicate).count();
            }
        }
        if fired > 0 {
            self.deliveries_due.notify_one();
        }
        Ok(fired)
    }

    /// Fires schedule `name` of `plugin`'s installation in `tenant` once,
    /// now, outside its cron slots (for `workbench plugin run --event`): about
    /// `subject` for a schedule `per = "member"` (who must be in the
    /// plugin's range), about nobody for one `per = "plugin"`. The event's id.
    pub async fn fire_schedule(
        &self,
        tenant: &str,
        plugin: &str,
        name: &str,
        subject: &str,
        now_ms: i64,
    ) -> ServiceResult<String> {
        let installation = self
            .store
            .installation(tenant, plugin)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("{plugin} is not installed in this workbench")))?;
        let manifest = Arc::clone(&self.load_version(&installation.plugin, &installation.version).await?.manifest);
        let Some(schedule) = manifest.schedules.iter().find(|s| s.name == name) else {
            let declared: Vec<&str> = manifest.schedules.iter().map(|s| s.name.as_str()).collect();
            return Err(ServiceError::BadRequest(format!(
                "{plugin} declares no schedule {name:?}; it declares {}",
                if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
            )));
        };
        if !installation.subscriptions.contains(&format!("schedule:{name}")) {
            return Err(ServiceError::BadRequest(format!("schedule {name:?} was not approved at install")));
        }
        let subject = match schedule.per {
            SchedulePer::Plugin => None,
            SchedulePer::Member => {
                if !self.members_in_range(tenant, &installation.range).await?.iter().any(|m| m == subject) {
                    return Err(ServiceError::BadRequest(format!("{subject} is not a member in {plugin}'s range")));
                }
                Some(subject.to_owned())
            }
        };
        let cron = Cron::parse(&schedule.cron, &schedule.timezone).map_err(ServiceError::BadRequest)?;
        let event = tick(plugin, name, &cron, now_ms, subject);
        let id = event.id.clone();
        self.store.accept_events(tenant, &[event], now_ms).await?;
        self.deliveries_due.notify_one();
        Ok(id)
    }

    /// Ticks the schedules every `every` until the process ends.
    pub fn spawn_schedules(self: &Arc<Self>, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let workbench = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(workbench) = workbench.upgrade() else { return };
                if let Err(error) = workbench.tick_schedules(crate::now_ms()).await {
                    tracing::error!(%error, "ticking the schedules failed; trying again next tick");
                }
            }
        })
    }
}

/// The event of one tick of schedule `name` of `plugin` at `slot`, about
/// `subject` (a member, for `per = "member"`) or nobody: its id names the
/// plugin, the schedule, the slot and the member, so the outbox takes it once.
fn tick(plugin: &str, name: &str, cron: &Cron, slot: i64, subject: Option<String>) -> NewEvent {
    let mut id = format!("schedule:{plugin}:{name}:{slot}");
    if let Some(member) = &subject {
        id = format!("{id}:{member}");
    }
    NewEvent {
        id,
        kind: EventKind::Schedule,
        subject,
        occurred_at_ms: slot,
        payload: serde_json::json!({ "schedule": name, "slot": cron.label(slot) }).to_string(),
        plugin: Some(plugin.to_owned()),
        source: "host",
    }
}
