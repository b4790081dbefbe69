//! `0.1.0` onto `0.3.0`: each old function calls the new one and converts
//! the types, which have the same shapes in both versions.

use super::super::v0_3::{self, workbench::plugin as new};
use super::workbench::plugin::{log, permissions, profile, storage, types};
use super::{AccessError, PluginError, Request, Response};
use crate::runtime::gatekeeper::Gatekeeper;

forward_common!();

impl profile::Host for Gatekeeper {
    async fn user_id(&mut self) -> Field<String> {
        old(new::user_id::Host::get(self).await, |v| v)
    }

    async fn avatar(&mut self) -> Field<Option<String>> {
        old(new::user_avatar::Host::get(self).await, |v| v)
    }

    async fn nickname(&mut self) -> Field<Option<String>> {
        old(new::user_nickname::Host::get(self).await, |v| v)
    }

    async fn name(&mut self) -> Field<String> {
        old(new::user_name::Host::get(self).await, |v| v)
    }

    async fn gender(&mut self) -> Field<profile::GenderKind> {
        old(new::user_gender::Host::get(self).await, |gender| match gender {
            new::types::GenderKind::Male => profile::GenderKind::Male,
            new::types::GenderKind::Female => profile::GenderKind::Female,
            new::types::GenderKind::Undisclosed => profile::GenderKind::Undisclosed,
        })
    }

    async fn birthday(&mut self) -> Field<Option<profile::Date>> {
        old(new::user_birthday::Host::get(self).await, |date| {
            date.map(|d| profile::Date { year: d.year, month: d.month, day: d.day })
        })
    }

    async fn region(&mut self) -> Field<Option<String>> {
        old(new::user_region::Host::get(self).await, |v| v)
    }

    async fn email(&mut self) -> Field<Option<String>> {
        old(new::user_email::Host::get(self).await, |v| v)
    }

    async fn phone(&mut self) -> Field<Option<String>> {
        old(new::user_phone::Host::get(self).await, |v| v)
    }

    async fn department(&mut self) -> Field<Option<profile::Position>> {
        old(new::org_department::Host::get(self).await, |position| {
            position.map(|p| profile::Position { name: p.name, title: p.title })
        })
    }
}

impl permissions::Host for Gatekeeper {
    async fn customers(&mut self) -> Field<Vec<permissions::CustomerPermission>> {
        old(new::perm_customer::Host::get(self).await, |list| {
            list.into_iter()
                .map(|c| permissions::CustomerPermission {
                    customer_id: c.customer_id,
                    customer_name: c.customer_name,
                    access: match c.access {
                        new::types::CustomerAccess::View => permissions::CustomerAccess::View,
                        new::types::CustomerAccess::Edit => permissions::CustomerAccess::Edit,
                        new::types::CustomerAccess::Manage => permissions::CustomerAccess::Manage,
                    },
                })
                .collect()
        })
    }

    async fn approvals(&mut self) -> Field<Vec<permissions::ApprovalPermission>> {
        old(new::perm_approval::Host::get(self).await, |list| {
            list.into_iter()
                .map(|a| permissions::ApprovalPermission {
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
