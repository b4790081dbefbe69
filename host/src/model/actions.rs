//! What an audit record says was attempted ([`Action`]): one name per kind
//! of access or change, stored, exported and filtered on.

use serde::{Deserialize, Serialize};

/// What an audit record says was attempted. The names are stored, exported
/// and filtered on; they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Action {
    /// A plugin read a personal field or a capability.
    #[serde(rename = "read")]
    Read,
    /// A plugin was invoked (or refused before it ran).
    #[serde(rename = "invoke")]
    Invoke,
    /// An invocation refused by a rate limit or a full host.
    #[serde(rename = "invoke.refused")]
    InvokeRefused,
    /// A member consented.
    #[serde(rename = "consent.grant")]
    ConsentGrant,
    /// A member withdrew consent.
    #[serde(rename = "consent.withdraw")]
    ConsentWithdraw,
    /// A developer published a version.
    #[serde(rename = "plugin.publish")]
    PluginPublish,
    /// An admin installed a plugin.
    #[serde(rename = "plugin.install")]
    PluginInstall,
    /// An admin moved an installation to another version.
    #[serde(rename = "plugin.upgrade")]
    PluginUpgrade,
    /// An admin changed an installation's grant or visible range.
    #[serde(rename = "plugin.grant")]
    PluginGrant,
    /// An admin enabled an installation.
    #[serde(rename = "plugin.enable")]
    PluginEnable,
    /// An admin disabled an installation.
    #[serde(rename = "plugin.disable")]
    PluginDisable,
    /// An admin uninstalled a plugin.
    #[serde(rename = "plugin.uninstall")]
    PluginUninstall,
    /// An admin previewed what a plugin would see of a member.
    #[serde(rename = "admin.preview")]
    AdminPreview,
    /// A member was added to the directory.
    #[serde(rename = "member.add")]
    MemberAdd,
    /// A member's profile changed.
    #[serde(rename = "member.update")]
    MemberUpdate,
    /// A member was removed with their data.
    #[serde(rename = "member.remove")]
    MemberRemove,
    /// A member's sessions were ended (signed out everywhere), by
    /// themselves or by a member admin.
    #[serde(rename = "session.end")]
    SessionEnd,
    /// A department was created or changed (name, parent).
    #[serde(rename = "department.put")]
    DepartmentPut,
    /// A department was removed.
    #[serde(rename = "department.remove")]
    DepartmentRemove,
    /// An app admin set what members may do with a plugin.
    #[serde(rename = "selfservice.set")]
    SelfServiceSet,
    /// A plugin was opened for a member by self-service.
    #[serde(rename = "plugin.open")]
    PluginOpen,
    /// A member asked for a plugin.
    #[serde(rename = "plugin.request")]
    PluginRequest,
    /// An app admin approved or declined a member's request.
    #[serde(rename = "request.decide")]
    RequestDecide,
    /// An app admin ended a plugin opened for a member.
    #[serde(rename = "opening.end")]
    OpeningEnd,
    /// An app admin declined a newer version (the installed one keeps running).
    #[serde(rename = "upgrade.decline")]
    UpgradeDecline,
    /// An app admin chose whether versions that widen nothing apply themselves.
    #[serde(rename = "upgrade.settings")]
    UpgradeSettings,
    /// A plugin read a storage key.
    #[serde(rename = "storage.get")]
    StorageGet,
    /// A plugin wrote a storage key.
    #[serde(rename = "storage.set")]
    StorageSet,
    /// A plugin deleted a storage key.
    #[serde(rename = "storage.delete")]
    StorageDelete,
    /// A plugin listed storage keys.
    #[serde(rename = "storage.list")]
    StorageList,
    /// A plugin wrote a log line (audited when refused).
    #[serde(rename = "log.write")]
    LogWrite,
    /// An admin changed the tenant's retention.
    #[serde(rename = "settings.retention")]
    SettingsRetention,
    /// A plugin sent a request to another service (or was refused).
    #[serde(rename = "http.request")]
    HttpRequest,
    /// A plugin's page showed the member their avatar (fetched by the host).
    #[serde(rename = "page.avatar")]
    PageAvatar,
    /// The retention purge deleted what outlived the tenant's periods.
    #[serde(rename = "retention.purge")]
    RetentionPurge,
    /// A plugin put a notification in a person's inbox (or was refused).
    #[serde(rename = "notify.send")]
    NotifySend,
    /// An event was delivered to a plugin (one record per attempt).
    #[serde(rename = "event.deliver")]
    EventDeliver,
    /// An app admin replayed a dead letter.
    #[serde(rename = "event.replay")]
    EventReplay,
}

impl Action {
    /// Every action, in the order the page lists them.
    pub const ALL: [Action; 38] = [
        Action::Read,
        Action::Invoke,
        Action::InvokeRefused,
        Action::ConsentGrant,
        Action::ConsentWithdraw,
        Action::PluginPublish,
        Action::PluginInstall,
        Action::PluginUpgrade,
        Action::PluginGrant,
        Action::PluginEnable,
        Action::PluginDisable,
        Action::PluginUninstall,
        Action::AdminPreview,
        Action::MemberAdd,
        Action::MemberUpdate,
        Action::MemberRemove,
        Action::SessionEnd,
        Action::DepartmentPut,
        Action::DepartmentRemove,
        Action::SelfServiceSet,
        Action::PluginOpen,
        Action::PluginRequest,
        Action::RequestDecide,
        Action::OpeningEnd,
        Action::UpgradeDecline,
        Action::UpgradeSettings,
        Action::StorageGet,
        Action::StorageSet,
        Action::StorageDelete,
        Action::StorageList,
        Action::LogWrite,
        Action::SettingsRetention,
        Action::HttpRequest,
        Action::PageAvatar,
        Action::RetentionPurge,
        Action::NotifySend,
        Action::EventDeliver,
        Action::EventReplay,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Invoke => "invoke",
            Action::InvokeRefused => "invoke.refused",
            Action::ConsentGrant => "consent.grant",
            Action::ConsentWithdraw => "consent.withdraw",
            Action::PluginPublish => "plugin.publish",
            Action::PluginInstall => "plugin.install",
            Action::PluginUpgrade => "plugin.upgrade",
            Action::PluginGrant => "plugin.grant",
            Action::PluginEnable => "plugin.enable",
            Action::PluginDisable => "plugin.disable",
            Action::PluginUninstall => "plugin.uninstall",
            Action::AdminPreview => "admin.preview",
            Action::MemberAdd => "member.add",
            Action::MemberUpdate => "member.update",
            Action::MemberRemove => "member.remove",
            Action::SessionEnd => "session.end",
            Action::DepartmentPut => "department.put",
            Action::DepartmentRemove => "department.remove",
            Action::SelfServiceSet => "selfservice.set",
            Action::PluginOpen => "plugin.open",
            Action::PluginRequest => "plugin.request",
            Action::RequestDecide => "request.decide",
            Action::OpeningEnd => "opening.end",
            Action::UpgradeDecline => "upgrade.decline",
            Action::UpgradeSettings => "upgrade.settings",
            Action::StorageGet => "storage.get",
            Action::StorageSet => "storage.set",
            Action::StorageDelete => "storage.delete",
            Action::StorageList => "storage.list",
            Action::LogWrite => "log.write",
            Action::SettingsRetention => "settings.retention",
            Action::HttpRequest => "http.request",
            Action::PageAvatar => "page.avatar",
            Action::RetentionPurge => "retention.purge",
            Action::NotifySend => "notify.send",
            Action::EventDeliver => "event.deliver",
            Action::EventReplay => "event.replay",
        }
    }

    /// Parses [`Action::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
