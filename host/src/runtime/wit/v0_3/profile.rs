//! The profile scopes, one interface each (`user-id` … `org-department`):
//! each `get` asks the gate first. They keep no state of their own: the
//! caller's profile is the gatekeeper's (the permission scopes read it too).

use super::AccessError;
use super::workbench::plugin::types::{Date, GenderKind, Position};
use super::workbench::plugin::{
    org_department, user_avatar, user_birthday, user_email, user_gender, user_id, user_name, user_nickname, user_phone,
    user_region,
};
use crate::model::audit::Action;
use crate::model::directory::{Gender, MemberProfile};
use crate::runtime::gatekeeper::Gatekeeper;
use crate::scope::Scope;

type Field<T> = wasmtime::Result<Result<T, AccessError>>;

impl Gatekeeper {
    /// Gate, audit, then pick the field from the caller's profile.
    pub(super) async fn field<T>(&mut self, scope: Scope, pick: impl FnOnce(&MemberProfile) -> T) -> Field<T> {
        if let Err(denial) = self.access(Action::Read, scope).await? {
            return Ok(Err(denial.into()));
        }
        let profile = self.profile().await?;
        Ok(Ok(pick(&profile)))
    }
}

fn date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    Some(Date {
        year: parts.next()?.parse().ok()?,
        month: parts.next()?.parse().ok()?,
        day: parts.next()?.parse().ok()?,
    })
}

impl user_id::Host for Gatekeeper {
    async fn get(&mut self) -> Field<String> {
        if let Err(denial) = self.access(Action::Read, Scope::UserId).await? {
            return Ok(Err(denial.into()));
        }
        Ok(Ok(self.open_id()))
    }
}

impl user_avatar::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserAvatar, |p| p.avatar.clone()).await
    }
}

impl user_nickname::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserNickname, |p| p.nickname.clone()).await
    }
}

impl user_name::Host for Gatekeeper {
    async fn get(&mut self) -> Field<String> {
        self.field(Scope::UserName, |p| p.name.clone()).await
    }
}

impl user_gender::Host for Gatekeeper {
    async fn get(&mut self) -> Field<GenderKind> {
        self.field(Scope::UserGender, |p| match p.gender {
            Gender::Male => GenderKind::Male,
            Gender::Female => GenderKind::Female,
            Gender::Undisclosed => GenderKind::Undisclosed,
        })
        .await
    }
}

impl user_birthday::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<Date>> {
        self.field(Scope::UserBirthday, |p| p.birthday.as_deref().and_then(date)).await
    }
}

impl user_region::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserRegion, |p| p.region.clone()).await
    }
}

impl user_email::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserEmail, |p| p.email.clone()).await
    }
}

impl user_phone::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserPhone, |p| p.phone.clone()).await
    }
}

impl org_department::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<Position>> {
        self.field(Scope::OrgDepartment, |p| {
            p.department.clone().map(|name| Position { name, title: p.title.clone().unwrap_or_default() })
        })
        .await
    }
}
