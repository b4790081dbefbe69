//! A native mock host, so a plugin's logic is unit-tested with `cargo test`.
//!
//! Fields are denied ([`AccessError::NotConsented`]) until set with a
//! `with_*` method; [`MockHost::deny`] makes any scope fail with a chosen
//! reason, as the real host would after a withdrawal or a missing grant.
//!
//! ```
//! use workbench_sdk::testing::MockHost;
//! use workbench_sdk::{profile, AccessError, Plugin, PluginError, Request, Response};
//!
//! struct ShowPhone;
//! impl Plugin for ShowPhone {
//!     fn handle(_: Request) -> Result<Response, PluginError> {
//!         match profile::phone() {
//!             Ok(phone) => Ok(Response::text(200, phone.unwrap_or_default())),
//!             Err(denied) => Ok(Response::text(403, denied.code())),
//!         }
//!     }
//! }
//!
//! let host = MockHost::new().with_phone("13800000000");
//! assert_eq!(host.call::<ShowPhone>(Request::get("/")).unwrap().body_text(), "13800000000");
//!
//! let host = host.deny("user.phone", AccessError::ConsentWithdrawn);
//! assert_eq!(host.call::<ShowPhone>(Request::get("/")).unwrap().body_text(), "consent_withdrawn");
//! assert_eq!(host.accesses().len(), 2);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::log::Level;
use crate::permissions::{ApprovalPermission, CustomerPermission};
use crate::profile::{Date, Department, Gender};
use crate::storage::Bucket;
use crate::{AccessError, Plugin, PluginError, Request, Response};

/// What the mock host knows and has seen.
#[derive(Debug, Default)]
pub(crate) struct MockState {
    pub(crate) user_id: Option<String>,
    pub(crate) avatar: Option<Option<String>>,
    pub(crate) nickname: Option<Option<String>>,
    pub(crate) name: Option<String>,
    pub(crate) gender: Option<Gender>,
    pub(crate) birthday: Option<Option<Date>>,
    pub(crate) region: Option<Option<String>>,
    pub(crate) email: Option<Option<String>>,
    pub(crate) phone: Option<Option<String>>,
    pub(crate) department: Option<Option<Department>>,
    pub(crate) customers: Option<Vec<CustomerPermission>>,
    pub(crate) approvals: Option<Vec<ApprovalPermission>>,
    pub(crate) denials: HashMap<String, AccessError>,
    pub(crate) storage_granted: bool,
    pub(crate) quota_bytes: u64,
    pub(crate) storage: BTreeMap<(Bucket, String), Vec<u8>>,
    pub(crate) logs: Vec<(Level, String)>,
    /// Stubbed destinations: a URL prefix and what a request to it gets.
    pub(crate) destinations: Vec<(String, Result<crate::http::Reply, crate::http::HttpError>)>,
    /// Configuration values by key.
    pub(crate) config: Vec<(String, String)>,
    /// Every outgoing request so far.
    pub(crate) requests: Vec<crate::http::Outgoing>,
    pub(crate) accesses: Vec<(String, Result<(), AccessError>)>,
    /// Whether `notify` is granted and consented to.
    pub(crate) notify_granted: bool,
    /// Notifications sent: title, text, route.
    pub(crate) notifications: Vec<(String, String, String)>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<MockState>>>> = const { RefCell::new(None) };
}

/// A stand-in for the workbench host, for native unit tests of a plugin.
#[derive(Debug, Clone)]
pub struct MockHost {
    state: Rc<RefCell<MockState>>,
}

impl Default for MockHost {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $fn:ident, $field:ident, optional) => {
        $(#[$doc])*
        pub fn $fn(self, value: impl Into<String>) -> Self {
            self.state.borrow_mut().$field = Some(Some(value.into()));
            self
        }
    };
    ($(#[$doc:meta])* $fn:ident, $field:ident, required) => {
        $(#[$doc])*
        pub fn $fn(self, value: impl Into<String>) -> Self {
            self.state.borrow_mut().$field = Some(value.into());
            self
        }
    };
}

impl MockHost {
    /// A host where every field is unconsented and storage is not granted.
    pub fn new() -> Self {
        let state = MockState { quota_bytes: 1 << 20, ..MockState::default() };
        Self { state: Rc::new(RefCell::new(state)) }
    }

    setter!(
        /// Allows `user.id` with this open id.
        with_user_id, user_id, required);
    setter!(
        /// Allows `user.avatar` with this URL.
        with_avatar, avatar, optional);
    setter!(
        /// Allows `user.nickname`.
        with_nickname, nickname, optional);
    setter!(
        /// Allows `user.name`.
        with_name, name, required);
    setter!(
        /// Allows `user.region`.
        with_region, region, optional);
    setter!(
        /// Allows `user.email`.
        with_email, email, optional);
    setter!(
        /// Allows `user.phone`.
        with_phone, phone, optional);

    /// Allows `user.gender`.
    pub fn with_gender(self, gender: Gender) -> Self {
        self.state.borrow_mut().gender = Some(gender);
        self
    }

    /// Allows `user.birthday`.
    pub fn with_birthday(self, birthday: Date) -> Self {
        self.state.borrow_mut().birthday = Some(Some(birthday));
        self
    }

    /// Allows `org.department`.
    pub fn with_department(self, name: &str, title: &str) -> Self {
        self.state.borrow_mut().department = Some(Some(Department { name: name.into(), title: title.into() }));
        self
    }

    /// Allows `perm.customer` with these permissions.
    pub fn with_customers(self, customers: Vec<CustomerPermission>) -> Self {
        self.state.borrow_mut().customers = Some(customers);
        self
    }

    /// Allows `perm.approval` with these permissions.
    pub fn with_approvals(self, approvals: Vec<ApprovalPermission>) -> Self {
        self.state.borrow_mut().approvals = Some(approvals);
        self
    }

    /// Grants the `storage` capability with a per-bucket quota in bytes.
    pub fn with_storage(self, quota_bytes: u64) -> Self {
        {
            let mut state = self.state.borrow_mut();
            state.storage_granted = true;
            state.quota_bytes = quota_bytes;
        }
        self
    }

    /// Allows `notify`: notifications go to the mock inbox ([`MockHost::notifications`]).
    pub fn with_notify(self) -> Self {
        self.state.borrow_mut().notify_granted = true;
        self
    }

    /// Notifications sent so far: title, text, route.
    pub fn notifications(&self) -> Vec<(String, String, String)> {
        self.state.borrow().notifications.clone()
    }

    /// Delivers `event` to plugin `P` as the host would. Storage persists
    /// between calls and events.
    pub fn deliver<P: Plugin>(&self, event: crate::events::Event) -> Result<(), PluginError> {
        let previous = CURRENT.with(|current| current.replace(Some(Rc::clone(&self.state))));
        let result = P::on_event(event);
        CURRENT.with(|current| current.replace(previous));
        result
    }

    /// Makes `scope` (e.g. `"user.phone"`, `"storage"`) fail with `reason`.
    pub fn deny(self, scope: &str, reason: AccessError) -> Self {
        self.state.borrow_mut().denials.insert(scope.to_owned(), reason);
        self
    }

    /// Lifts a denial made by [`MockHost::deny`].
    pub fn allow(self, scope: &str) -> Self {
        self.state.borrow_mut().denials.remove(scope);
        self
    }

    /// Answers requests to `destination` (`https://visits.acme.example`, or
    /// any longer prefix) with `status` and `body` (a later stub covering a
    /// URL answers instead of an earlier one); a request no stub covers
    /// is refused ([`crate::http::HttpError::Refused`]), as the host refuses
    /// a destination that is not declared and approved.
    pub fn with_destination(self, destination: &str, status: u16, body: impl Into<Vec<u8>>) -> Self {
        let reply = crate::http::Reply { status, headers: Vec::new(), body: body.into() };
        self.state.borrow_mut().destinations.push((destination.trim_end_matches('/').to_owned(), Ok(reply)));
        self
    }

    /// Makes requests to `destination` fail with `error` (a timeout, an
    /// address the host refuses, …).
    pub fn with_failing_destination(self, destination: &str, error: crate::http::HttpError) -> Self {
        self.state.borrow_mut().destinations.push((destination.trim_end_matches('/').to_owned(), Err(error)));
        self
    }

    /// Sets configuration `key` to `value`, as the admin would (or as the
    /// manifest's default would).
    pub fn with_config(self, key: &str, value: &str) -> Self {
        {
            let mut state = self.state.borrow_mut();
            state.config.retain(|(k, _)| k != key);
            state.config.push((key.to_owned(), value.to_owned()));
        }
        self
    }

    /// Every outgoing request so far, in order.
    pub fn requests(&self) -> Vec<crate::http::Outgoing> {
        self.state.borrow().requests.clone()
    }

    /// Runs plugin `P` against this host. Storage persists between calls.
    pub fn call<P: Plugin>(&self, request: Request) -> Result<Response, PluginError> {
        let previous = CURRENT.with(|current| current.replace(Some(Rc::clone(&self.state))));
        let result = P::handle(request);
        CURRENT.with(|current| current.replace(previous));
        result
    }

    /// Every access attempt so far: scope and outcome.
    pub fn accesses(&self) -> Vec<(String, Result<(), AccessError>)> {
        self.state.borrow().accesses.clone()
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.state.borrow().logs.clone()
    }

    /// The stored value of `key` in `bucket`, if any.
    pub fn stored(&self, bucket: Bucket, key: &str) -> Option<Vec<u8>> {
        self.state.borrow().storage.get(&(bucket, key.to_owned())).cloned()
    }

    pub(crate) fn with_current<R>(f: impl FnOnce(&mut MockState) -> R) -> R {
        let state = CURRENT.with(|current| current.borrow().clone()).expect(
            "workbench-sdk: host functions were called outside MockHost::call on a native target; \
             run the plugin through MockHost::call in tests, or build for wasm32-wasip2",
        );
        let mut state = state.borrow_mut();
        f(&mut state)
    }
}
