//! `workbench:plugin/permissions`: the caller's customer and approval
//! permissions, each behind its scope.

use super::AccessError;
use super::workbench::plugin::permissions::{self, ApprovalPermission, CustomerAccess, CustomerPermission};
use crate::model::audit::Action;
use crate::model::directory;
use crate::runtime::gatekeeper::Gatekeeper;
use crate::scope::Scope;

impl permissions::Host for Gatekeeper {
    async fn customers(&mut self) -> wasmtime::Result<Result<Vec<CustomerPermission>, AccessError>> {
        if let Err(denial) = self.access(Action::Read, Scope::PermCustomer)? {
            return Ok(Err(denial.into()));
        }
        let profile = self.profile().await?;
        Ok(Ok(profile
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
            .collect()))
    }

    async fn approvals(&mut self) -> wasmtime::Result<Result<Vec<ApprovalPermission>, AccessError>> {
        if let Err(denial) = self.access(Action::Read, Scope::PermApproval)? {
            return Ok(Err(denial.into()));
        }
        let profile = self.profile().await?;
        Ok(Ok(profile
            .approvals
            .iter()
            .map(|a| ApprovalPermission {
                process_id: a.process_id.clone(),
                process_name: a.process_name.clone(),
                can_approve: a.can_approve,
                can_initiate: a.can_initiate,
                max_amount_cents: a.max_amount_cents,
            })
            .collect()))
    }
}
