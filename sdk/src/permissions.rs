//! The calling person's customer and approval permissions.

use crate::{AccessError, host};

/// Level of access to one enterprise customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CustomerAccess {
    /// May see the customer.
    View,
    /// May also edit it and log visits.
    Edit,
    /// May also assign and close it.
    Manage,
}

/// The person's permission on one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerPermission {
    /// Customer id in the tenant.
    pub customer_id: String,
    /// Display name.
    pub customer_name: String,
    /// Level of access.
    pub access: CustomerAccess,
}

/// The person's permission on one approval process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPermission {
    /// Process id, e.g. `expense`.
    pub process_id: String,
    /// Display name, e.g. `费用报销`.
    pub process_name: String,
    /// May approve requests.
    pub can_approve: bool,
    /// May start requests.
    pub can_initiate: bool,
    /// Highest approvable amount in cents; `None` when unlimited or not applicable.
    pub max_amount_cents: Option<u64>,
}

/// Scope `perm.customer`: the customers the person has access to.
pub fn customers() -> Result<Vec<CustomerPermission>, AccessError> {
    host::customers()
}

/// Scope `perm.approval`: the approval processes the person takes part in.
pub fn approvals() -> Result<Vec<ApprovalPermission>, AccessError> {
    host::approvals()
}
