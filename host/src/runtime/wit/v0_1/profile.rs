//! `workbench:plugin/profile`: one host function per personal scope, each
//! asking the gate first. It keeps no state of its own: the caller's profile
//! is the gatekeeper's (permissions reads it too).

use super::AccessError;
use super::workbench::plugin::profile::{self, Date, GenderKind, Position};
use crate::model::audit::Action;
use crate::model::directory::{Gender, MemberProfile};
use crate::runtime::gatekeeper::Gatekeeper;
use crate::scope::Scope;

type Field<T> = wasmtime::Result<Result<T, AccessError>>;

impl Gatekeeper {
    /// Gate, audit, then pick the field from the caller's profile.
    async fn field<T>(&mut self, scope: Scope, pick: impl FnOnce(&MemberProfile) -> T) -> Field<T> {
        if let Err(denial) = self.access(Action::Read, scope)? {
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

impl profile::Host for Gatekeeper {
    async fn user_id(&mut self) -> Field<String> {
        if let Err(denial) = self.access(Action::Read, Scope::UserId)? {
            return Ok(Err(denial.into()));
        }
        Ok(Ok(self.open_id()))
    }

    async fn avatar(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserAvatar, |p| p.avatar.clone()).await
    }

    async fn nickname(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserNickname, |p| p.nickname.clone()).await
    }

    async fn name(&mut self) -> Field<String> {
        self.field(Scope::UserName, |p| p.name.clone()).await
    }

    async fn gender(&mut self) -> Field<GenderKind> {
        self.field(Scope::UserGender, |p| match p.gender {
            Gender::Male => GenderKind::Male,
            Gender::Female => GenderKind::Female,
            Gender::Undisclosed => GenderKind::Undisclosed,
        })
        .await
    }

    async fn birthday(&mut self) -> Field<Option<Date>> {
        self.field(Scope::UserBirthday, |p| p.birthday.as_deref().and_then(date)).await
    }

    async fn region(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserRegion, |p| p.region.clone()).await
    }

    async fn email(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserEmail, |p| p.email.clone()).await
    }

    async fn phone(&mut self) -> Field<Option<String>> {
        self.field(Scope::UserPhone, |p| p.phone.clone()).await
    }

    async fn department(&mut self) -> Field<Option<Position>> {
        self.field(Scope::OrgDepartment, |p| {
            p.department.clone().map(|name| Position { name, title: p.title.clone().unwrap_or_default() })
        })
        .await
    }
}
