//! Members: the avatar a plugin's page shows. The page names the image it
//! wants; the host hands over the member's own avatar, and only when the
//! member has consented to `user.avatar` for that plugin and the page
//! named exactly that URL (a page can learn nothing through it: without
//! consent every URL gets the same refusal, with consent it already has the
//! URL). The host fetches it (`runtime::avatar`), never the browser, so
//! the avatar's host learns nothing of the member's browser or that a page
//! is open. Each image handed over, and each refusal by the gate, is an
//! audit record (`page.avatar`) before the answer leaves.

use super::{ServiceError, ServiceResult, Workbench};
use crate::gate;
use crate::model::audit::{Action, AuditEvent, Outcome};
use crate::runtime::avatar::Image;
use crate::scope::Scope;

impl Workbench {
    /// `member`'s avatar for `plugin`'s page, if `src` is its URL; the
    /// member's token was issued at `issued_at` (an ended session is
    /// refused).
    pub async fn avatar(
        &self,
        tenant: &str,
        member: &str,
        issued_at: u64,
        plugin: &str,
        src: &str,
    ) -> ServiceResult<Image> {
        if let Err(refusal) = self.admission.check_rate(tenant, member) {
            return Err(ServiceError::Refused(refusal));
        }
        let context = self.store.invocation_context(tenant, member, plugin).await?;
        let Some(profile) = context.profile else {
            return Err(ServiceError::not_a_member());
        };
        if !crate::model::directory::session_open(context.sessions_ended_at_ms, issued_at) {
            return Err(ServiceError::SessionEnded);
        }
        let installation = super::usable(context.installation, member, plugin)?;
        let loaded = self.load_version(plugin, &installation.version).await?;
        let policy = loaded.manifest.policy(installation.granted, &installation.egress);
        let purpose = loaded.manifest.declaration(Scope::UserAvatar).map(|d| d.purpose.primary().to_owned());
        let event = |outcome, reason: Option<String>| AuditEvent {
            subject: Some(member.to_owned()),
            scope: Some(Scope::UserAvatar.as_str().to_owned()),
            purpose: purpose.clone(),
            reason,
            ..AuditEvent::new(tenant, loaded.actor.clone(), Action::PageAvatar, outcome)
        };
        if let Err(denial) = gate::decide(Scope::UserAvatar, &policy, &context.consents, crate::now_ms()) {
            self.audit.append(vec![event(Outcome::Denied, Some(denial.code().to_owned()))]).await?;
            return Err(ServiceError::Forbidden(format!(
                "this plugin may not show your avatar ({}): consent to user.avatar first",
                denial.code()
            )));
        }
        // Compared only once the gate allowed it: no URL is an oracle.
        if profile.avatar.as_deref() != Some(src) {
            return Err(ServiceError::NotFound(
                "that image is not your avatar; a page can show only your avatar".into(),
            ));
        }
        match self.runtime.avatars().image(src).await {
            Ok(image) => {
                self.audit.append(vec![event(Outcome::Allowed, None)]).await?;
                Ok(image)
            }
            Err(reason) => {
                tracing::info!(tenant, plugin, %reason, "an avatar could not be fetched");
                Err(ServiceError::Unavailable(
                    "your avatar could not be fetched from where your profile says it is".into(),
                ))
            }
        }
    }
}
