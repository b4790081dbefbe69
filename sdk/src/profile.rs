//! The calling person's basic information, one function per scope.
//!
//! Each function returns [`AccessError`] unless the scope is declared in the
//! manifest, granted by the tenant admin and consented to by the person.
//! Every call is audited, so read a field once per request, not in a loop.

use crate::{AccessError, host};

/// Gender as the person entered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Not disclosed.
    Undisclosed,
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day, 1 to 31.
    pub day: u8,
}

/// Department and job title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// Department name.
    pub name: String,
    /// Job title.
    pub title: String,
}

/// Scope `user.id`: the person's open id for this plugin (never the internal id).
pub fn user_id() -> Result<String, AccessError> {
    host::user_id()
}

/// Scope `user.avatar`: avatar URL, if set.
pub fn avatar() -> Result<Option<String>, AccessError> {
    host::avatar()
}

/// Scope `user.nickname`: nickname, if set.
pub fn nickname() -> Result<Option<String>, AccessError> {
    host::nickname()
}

/// Scope `user.name`: real name.
pub fn name() -> Result<String, AccessError> {
    host::name()
}

/// Scope `user.gender`.
pub fn gender() -> Result<Gender, AccessError> {
    host::gender()
}

/// Scope `user.birthday` (sensitive).
pub fn birthday() -> Result<Option<Date>, AccessError> {
    host::birthday()
}

/// Scope `user.region`: work region, if known.
pub fn region() -> Result<Option<String>, AccessError> {
    host::region()
}

/// Scope `user.email` (sensitive): enterprise email, if any.
pub fn email() -> Result<Option<String>, AccessError> {
    host::email()
}

/// Scope `user.phone` (sensitive): mobile number, if any.
pub fn phone() -> Result<Option<String>, AccessError> {
    host::phone()
}

/// Scope `org.department`: department and title, if assigned.
pub fn department() -> Result<Option<Department>, AccessError> {
    host::department()
}
