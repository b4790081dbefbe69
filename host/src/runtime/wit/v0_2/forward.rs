//! `0.2.0` onto `0.3.0`: each old function calls the new one and converts
//! the types, which have the same shapes in both versions (0.3.0 only adds
//! `notify` and the `events` export).

use super::super::v0_3::{self, workbench::plugin as new};
use super::workbench::plugin::{
    log, org_department, perm_approval, perm_customer, storage, types, user_avatar, user_birthday, user_email,
    user_gender, user_id, user_name, user_nickname, user_phone, user_region,
};
use super::{AccessError, PluginError, Request, Response};
use crate::runtime::gatekeeper::Gatekeeper;

forward_common!();

/// A scope whose value has the same type in both versions.
macro_rules! same {
    ($($scope:ident: $ty:ty),* $(,)?) => {$(
        impl $scope::Host for Gatekeeper {
            async fn get(&mut self) -> Field<$ty> {
                old(new::$scope::Host::get(self).await, |v| v)
            }
        }
    )*};
}

same!(
    user_id: String,
    user_avatar: Option<String>,
    user_nickname: Option<String>,
    user_name: String,
    user_region: Option<String>,
    user_email: Option<String>,
    user_phone: Option<String>,
);

impl user_gender::Host for Gatekeeper {
    async fn get(&mut self) -> Field<types::GenderKind> {
        old(new::user_gender::Host::get(self).await, |gender| match gender {
            new::types::GenderKind::Male => types::GenderKind::Male,
            new::types::GenderKind::Female => types::GenderKind::Female,
            new::types::GenderKind::Undisclosed => types::GenderKind::Undisclosed,
        })
    }
}

impl user_birthday::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<types::Date>> {
        old(new::user_birthday::Host::get(self).await, |date| {
            date.map(|d| types::Date { year: d.year, month: d.month, day: d.day })
        })
    }
}

impl org_department::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<types::Position>> {
        old(new::org_department::Host::get(self).await, |position| {
            position.map(|p| types::Position { name: p.name, title: p.title })
        })
    }
}

impl perm_customer::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Vec<types::CustomerPermission>> {
        old(new::perm_customer::Host::get(self).await, |list| {
            list.into_iter()
                .map(|c| types::CustomerPermission {
                    customer_id: c.customer_id,
                    customer_name: c.customer_name,
                    access: match c.access {
                        new::types::CustomerAccess::View => types::CustomerAccess::View,
                        new::types::CustomerAccess::Edit => types::CustomerAccess::Edit,
                        new::types::CustomerAccess::Manage => types::CustomerAccess::Manage,
                    },
                })
                .collect()
        })
    }
}

impl perm_approval::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Vec<types::ApprovalPermission>> {
        old(new::perm_approval::Host::get(self).await, |list| {
            list.into_iter()
                .map(|a| types::ApprovalPermission {
                    process_id: a.process_id,
                    process_name: a.process_name,
                    can_approve: a.can_approve,
                    can_initiate: a.can_initiate,
                    max_amount_cents: a.max_amount_cents,
                })
                .collect()
        })
    }
}
