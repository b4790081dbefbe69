//! The permission scopes, one interface each (`perm-customer`,
//! `perm-approval`).

use super::AccessError;
use super::workbench::plugin::types::{ApprovalPermission, CustomerAccess, CustomerPermission};
use super::workbench::plugin::{perm_approval, perm_customer};
use crate::model::directory;
use crate::runtime::gatekeeper::Gatekeeper;
use crate::scope::Scope;

type Field<T> = wasmtime::Result<Result<T, AccessError>>;

impl perm_customer::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Vec<CustomerPermission>> {
        self.field(Scope::PermCustomer, |profile| {
            profile
                .customers
                .iter()
                .map(|c| CustomerPermission {
                    customer_id: c.customer_id.clone(),
                    customer_name: c.customer_name.clone(),
                    access: match c.access {
                        directory::CustomerAccess::View => CustomerAccess::View,
                        directory::CustomerAccess::Edit => CustomerAccess::Edit,
                        directory::CustomerAccess::Manage => CustomerAccess::Manage,
                    },
                })
                .collect()
        })
        .await
    }
}

impl perm_approval::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Vec<ApprovalPermission>> {
        self.field(Scope::PermApproval, |profile| {
            profile
                .approvals
                .iter()
                .map(|a| ApprovalPermission {
                    process_id: a.process_id.clone(),
                    process_name: a.process_name.clone(),
                    can_approve: a.can_approve,
                    can_initiate: a.can_initiate,
                    max_amount_cents: a.max_amount_cents,
                })
                .collect()
        })
        .await
    }
}
