//! The consent property, through real HTTP on SQLite and PostgreSQL.
//!
//! Random sequences of admin grants, member consents (sensitive scopes with
//! and without their separate consent, scopes the admin never granted,
//! capabilities), withdrawals (some or all), consents that lapse, and an
//! upgrade that rewords two purposes, across three plugins and three members
//! of a fresh tenant. Between and after the steps, members invoke the hostile
//! guest's `/probe`, which calls every import. The fields it receives are
//! exactly the ones an independent model of the rules allows; a required
//! scope the model refuses stops the call with exactly the missing list; and
//! every attempt is one audit record carrying the model's denial.
//!
//! `PROPTEST_CASES` sets the number of sequences per database (default 12).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::audit::{AuditRecord, Outcome};
use workbench_host::model::directory::Role;
use workbench_host::scope::Scope;

use crate::server::{Db, Server};
use crate::support::HOSTILE_MANIFEST;

const PLUGINS: [&str; 3] = ["probe-a", "probe-b", "probe-c"];
const MEMBERS: [(&str, &str); 3] = [("m1", "甲一"), ("m2", "乙二"), ("m3", "丙三")];
/// `probe-b` cannot run without these.
const REQUIRED_B: [Scope; 2] = [Scope::UserId, Scope::Storage];
/// The scopes whose purpose `probe-c` 0.2.0 rewords.
const REWORDED: [Scope; 2] = [Scope::UserName, Scope::UserPhone];
/// What `/probe` tries, in its order: every scope but `log` and `notify`.
fn probed() -> impl Iterator<Item = Scope> {
    Scope::ALL.into_iter().filter(|s| !matches!(s, Scope::Log | Scope::Notify))
}

/// One step of a sequence. Masks are bit sets over `Scope::ALL`.
#[derive(Debug, Clone)]
enum Step {
    /// The admin re-grants a plugin (required scopes are always added).
    Grant { plugin: usize, mask: u16 },
    /// A member consents. Without `stray` the list is cut down to granted
    /// personal scopes first; with it, it is sent as drawn.
    Consent { member: usize, plugin: usize, mask: u16, separate: bool, stray: bool },
    /// A member withdraws the listed personal scopes, or everything.
    Withdraw { member: usize, plugin: usize, mask: Option<u16> },
    /// Some of a member's consents lapse (their expiry passes).
    Lapse { member: usize, plugin: usize, mask: u16 },
    /// The admin upgrades `probe-c` to 0.2.0 (a grant when already there).
    Upgrade,
    /// A member invokes a plugin's probe.
    Probe { member: usize, plugin: usize },
}

#[derive(Debug, Clone)]
struct Sequence {
    grants: [u16; 3],
    steps: Vec<Step>,
}

fn step() -> impl Strategy<Value = Step> {
    let member = 0..MEMBERS.len();
    let plugin = 0..PLUGINS.len();
    prop_oneof![
        2 => (plugin.clone(), any::<u16>()).prop_map(|(plugin, mask)| Step::Grant { plugin, mask }),
        6 => (member.clone(), plugin.clone(), any::<u16>(), prop::bool::weighted(0.7), prop::bool::weighted(0.2))
            .prop_map(|(member, plugin, mask, separate, stray)| Step::Consent { member, plugin, mask, separate, stray }),
        2 => (member.clone(), plugin.clone(), prop::option::weighted(0.7, any::<u16>()))
            .prop_map(|(member, plugin, mask)| Step::Withdraw { member, plugin, mask }),
        1 => (member.clone(), plugin.clone(), any::<u16>()).prop_map(|(member, plugin, mask)| Step::Lapse { member, plugin, mask }),
        1 => Just(Step::Upgrade),
        2 => (member, plugin).prop_map(|(member, plugin)| Step::Probe { member, plugin }),
    ]
}

fn sequence() -> impl Strategy<Value = Sequence> {
    (any::<[u16; 3]>(), prop::collection::vec(step(), 0..24)).prop_map(|(grants, steps)| Sequence { grants, steps })
}

/// The probes declare every scope but `notify`.
fn scopes(mask: u16) -> Vec<Scope> {
    Scope::ALL.iter().copied().filter(|s| *s != Scope::Notify && mask & (1 << s.index()) != 0).collect()
}

fn mask_of(scopes: &[Scope]) -> u16 {
    scopes.iter().fold(0, |mask, s| mask | (1 << s.index()))
}

fn names(scopes: &[Scope]) -> Vec<&'static str> {
    scopes.iter().map(|s| s.as_str()).collect()
}

/// A consent as the model remembers it.
#[derive(Debug, Clone, Copy)]
struct Row {
    /// The plugin's version (1 or 2) when it was given: its purposes.
    version: u8,
    withdrawn: bool,
    lapsed: bool,
}

/// The rules of PRODUCT.md, written independently of the host's gate.
#[derive(Debug, Default)]
struct Model {
    granted: [u16; 3],
    version_c: u8,
    rows: HashMap<(usize, usize, Scope), Row>,
}

impl Model {
    fn version(&self, plugin: usize) -> u8 {
        if plugin == 2 { self.version_c } else { 1 }
    }

    /// The wording of `scope`'s purpose in `plugin` at `version`.
    fn purpose(plugin: usize, scope: Scope, version: u8) -> u8 {
        if plugin == 2 && REWORDED.contains(&scope) { version } else { 1 }
    }

    fn grant(plugin: usize, mask: u16) -> u16 {
        let required = if plugin == 1 { mask_of(&REQUIRED_B) } else { 0 };
        (mask & ((1 << Scope::ALL.len()) - 1) & !(1 << Scope::Notify.index())) | required
    }

    fn granted(&self, plugin: usize, scope: Scope) -> bool {
        self.granted[plugin] & (1 << scope.index()) != 0
    }

    /// `Ok` when the plugin may read `scope` of `member`, else the denial code.
    fn decide(&self, member: usize, plugin: usize, scope: Scope) -> Result<(), &'static str> {
        if !self.granted(plugin, scope) {
            return Err("not_granted");
        }
        if !scope.is_personal() {
            return Ok(());
        }
        let row = self.rows.get(&(member, plugin, scope)).ok_or("not_consented")?;
        if row.withdrawn {
            return Err("consent_withdrawn");
        }
        if row.lapsed {
            return Err("consent_expired");
        }
        if Self::purpose(plugin, scope, row.version) != Self::purpose(plugin, scope, self.version(plugin)) {
            return Err("purpose_changed");
        }
        Ok(())
    }

    fn missing_required(&self, member: usize, plugin: usize) -> Vec<(Scope, &'static str)> {
        if plugin != 1 {
            return vec![];
        }
        REQUIRED_B.iter().filter_map(|&s| self.decide(member, plugin, s).err().map(|d| (s, d))).collect()
    }
}

fn manifest(plugin: usize, version: &str) -> String {
    let mut text = HOSTILE_MANIFEST.replace("id = \"hostile\"", &format!("id = \"{}\"", PLUGINS[plugin]));
    text = text.replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
    if plugin == 1 {
        text = text.replace("purpose = \"probe the id\"\n", "purpose = \"probe the id\"\nrequired = true\n");
        text = text.replace("purpose = \"probe storage\"\n", "purpose = \"probe storage\"\nrequired = true\n");
    }
    if plugin == 2 && version == "0.2.0" {
        text = text.replace("probe the name", "profile the name for marketing");
        text = text.replace("probe the phone", "call the phone for marketing");
    }
    text
}

/// Runs sequences against one server; each sequence gets its own tenant.
struct Harness {
    server: Server,
    next_tenant: AtomicUsize,
}

impl Harness {
    async fn start(db: Db) -> Self {
        let server = Server::empty(db).await;
        let dev = server.token("mallory-inc", "mallory", &[Role::Developer]);
        let component = std::fs::read(xtask::guests().component("hostile")).expect("hostile built");
        for (plugin, version) in [(0, "0.1.0"), (1, "0.1.0"), (2, "0.1.0"), (2, "0.2.0")] {
            let published = server.publish(&dev, &manifest(plugin, version), component.clone(), None).await;
            assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        }
        Self { server, next_tenant: AtomicUsize::new(0) }
    }

    async fn run(&self, sequence: &Sequence) -> Result<(), TestCaseError> {
        let tenant = format!("prop-{}", self.next_tenant.fetch_add(1, Ordering::Relaxed));
        let admin = self.server.token(&tenant, "boss", &[Role::Admin]);
        let mut model = Model { version_c: 1, ..Model::default() };
        for (id, name) in MEMBERS {
            let add = json!({ "id": id, "profile": { "name": name, "roles": ["member"] } });
            let added = self.server.call(Method::POST, "/api/v1/members", Some(&admin), Some(add)).await;
            prop_assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        }
        for (plugin, &mask) in sequence.grants.iter().enumerate() {
            self.grant(&admin, &mut model, plugin, mask, "0.1.0").await?;
        }
        for step in &sequence.steps {
            self.step(&tenant, &admin, &mut model, step).await?;
        }
        for member in 0..MEMBERS.len() {
            for plugin in 0..PLUGINS.len() {
                self.probe(&tenant, &model, member, plugin).await?;
            }
        }
        Ok(())
    }

    async fn grant(
        &self,
        admin: &str,
        model: &mut Model,
        plugin: usize,
        mask: u16,
        version: &str,
    ) -> Result<(), TestCaseError> {
        let granted = Model::grant(plugin, mask);
        let body = json!({ "version": version, "granted_scopes": names(&scopes(granted)) });
        let path = format!("/api/v1/workbench/plugins/{}", PLUGINS[plugin]);
        let reply = self.server.call(Method::PUT, &path, Some(admin), Some(body)).await;
        prop_assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        model.granted[plugin] = granted;
        Ok(())
    }

    async fn step(&self, tenant: &str, admin: &str, model: &mut Model, step: &Step) -> Result<(), TestCaseError> {
        match *step {
            Step::Grant { plugin, mask } => {
                let version = if plugin == 2 && model.version_c == 2 { "0.2.0" } else { "0.1.0" };
                self.grant(admin, model, plugin, mask, version).await?;
            }
            Step::Upgrade => {
                let granted = model.granted[2];
                self.grant(admin, model, 2, granted, "0.2.0").await?;
                model.version_c = 2;
            }
            Step::Consent { member, plugin, mask, separate, stray } => {
                let mask = if stray { mask } else { mask & model.granted[plugin] };
                let listed: Vec<Scope> = scopes(mask).into_iter().filter(|s| stray || s.is_personal()).collect();
                let sensitive: Vec<Scope> =
                    if separate { listed.iter().copied().filter(|s| s.is_sensitive()).collect() } else { vec![] };
                let allowed = !listed.is_empty()
                    && listed.iter().all(|&s| s.is_personal() && model.granted(plugin, s))
                    && (separate || !listed.iter().any(|s| s.is_sensitive()));
                let token = self.server.token(tenant, MEMBERS[member].0, &[Role::Member]);
                let body = json!({ "scopes": names(&listed), "sensitive": names(&sensitive) });
                let path = format!("/api/v1/me/plugins/{}/consent", PLUGINS[plugin]);
                let reply = self.server.call(Method::PUT, &path, Some(&token), Some(body)).await;
                if allowed {
                    prop_assert_eq!(reply.status, StatusCode::OK, "{:?} -> {}", listed, reply.text);
                    let version = model.version(plugin);
                    for scope in listed {
                        model.rows.insert((member, plugin, scope), Row { version, withdrawn: false, lapsed: false });
                    }
                } else {
                    prop_assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?} -> {}", listed, reply.text);
                    prop_assert_eq!(&reply.body["error"], "invalid_input");
                }
            }
            Step::Withdraw { member, plugin, mask } => {
                let listed = mask.map(|m| scopes(m).into_iter().filter(|s| s.is_personal()).collect::<Vec<_>>());
                let listed = listed.filter(|l| !l.is_empty());
                let token = self.server.token(tenant, MEMBERS[member].0, &[Role::Member]);
                let mut path = format!("/api/v1/me/plugins/{}/consent", PLUGINS[plugin]);
                if let Some(list) = &listed {
                    path.push_str(&format!("?scopes={}", names(list).join(",")));
                }
                let reply = self.server.call(Method::DELETE, &path, Some(&token), None).await;
                prop_assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
                for ((m, p, scope), row) in &mut model.rows {
                    if *m == member && *p == plugin && listed.as_ref().is_none_or(|l| l.contains(scope)) {
                        row.withdrawn = true;
                    }
                }
            }
            Step::Lapse { member, plugin, mask } => {
                let store = &self.server.store;
                let id = MEMBERS[member].0;
                let current = store.consents(tenant, id, PLUGINS[plugin]).await.expect("consents");
                let past = workbench_host::now_ms() - 60_000;
                let lapsing: Vec<_> = scopes(mask)
                    .into_iter()
                    .filter_map(|s| {
                        current
                            .get(s)
                            .map(|c| (s, workbench_host::model::consent::Consent { expires_at_ms: Some(past), ..*c }))
                    })
                    .collect();
                let signer = self.server.chain_signer();
                let event = workbench_host::model::audit::AuditEvent {
                    subject: Some(id.to_owned()),
                    reason: Some("lapsed by the test".into()),
                    ..workbench_host::model::audit::AuditEvent::new(
                        tenant,
                        "workbench:test".into(),
                        workbench_host::model::audit::Action::ConsentGrant,
                        Outcome::Allowed,
                    )
                };
                let record = workbench_host::store::ChangeRecord { event, chaining: &signer, receipt: None };
                store.put_consents(tenant, id, PLUGINS[plugin], &lapsing, record).await.expect("consents lapse");
                for (scope, _) in lapsing {
                    if let Some(row) = model.rows.get_mut(&(member, plugin, scope)) {
                        row.lapsed = true;
                    }
                }
            }
            Step::Probe { member, plugin } => self.probe(tenant, model, member, plugin).await?,
        }
        Ok(())
    }

    /// Invokes `/probe` and checks the answer and the audit records against the model.
    async fn probe(&self, tenant: &str, model: &Model, member: usize, plugin: usize) -> Result<(), TestCaseError> {
        let (id, name) = MEMBERS[member];
        let token = self.server.token(tenant, id, &[Role::Member]);
        let path = format!("/api/v1/me/plugins/{}/invoke", PLUGINS[plugin]);
        let reply = self.server.call(Method::POST, &path, Some(&token), Some(json!({ "path": "/probe" }))).await;
        let records = self.server.store.audit_records(tenant, 0, 1_000_000).await.expect("audit");
        let missing = model.missing_required(member, plugin);
        if !missing.is_empty() {
            prop_assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
            let want: Vec<Value> = missing.iter().map(|(s, d)| json!({ "scope": s.as_str(), "reason": d })).collect();
            prop_assert_eq!(&reply.body["missing"], &Value::Array(want));
            let last = records.last().expect("the refusal is audited");
            prop_assert_eq!(last.event.action.as_str(), "invoke");
            prop_assert_eq!(last.event.outcome, Outcome::Denied);
            prop_assert_eq!(last.event.subject.as_deref(), Some(id));
            let reasons: Vec<String> = missing.iter().map(|(s, d)| format!("{s}:{d}")).collect();
            prop_assert_eq!(last.event.reason.clone(), Some(format!("consent_required: {}", reasons.join(", "))));
            return Ok(());
        }
        prop_assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let invocation = reply.body["invocation"].as_str().expect("invocation id").to_owned();
        let fields: Value = serde_json::from_str(reply.body["body"].as_str().expect("text body")).expect("probe JSON");
        let mine: Vec<&AuditRecord> =
            records.iter().filter(|r| r.event.invocation.as_deref() == Some(invocation.as_str())).collect();
        prop_assert_eq!(mine.len(), probed().count(), "one record per attempt: {:?}", mine);
        for (scope, record) in probed().zip(mine) {
            let got = &fields[scope.as_str()];
            let expected = model.decide(member, plugin, scope);
            match expected {
                Ok(()) => prop_assert!(got.get("ok").is_some(), "{}: expected the field, got {}", scope, got),
                Err(denial) => prop_assert_eq!(&got["denied"], denial, "{}: {}", scope, got),
            }
            if scope == Scope::UserName && expected.is_ok() {
                prop_assert_eq!(&got["ok"], name, "the caller's own name, no one else's");
            }
            prop_assert_eq!(record.event.scope.as_deref(), Some(scope.as_str()));
            prop_assert_eq!(record.event.subject.as_deref(), Some(id));
            prop_assert_eq!(record.event.outcome == Outcome::Allowed, expected.is_ok(), "{}", scope);
            if let Err(denial) = expected {
                prop_assert_eq!(record.event.reason.as_deref(), Some(denial), "{}", scope);
            }
        }
        Ok(())
    }
}

fn property(db: Db) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let harness = runtime.block_on(Harness::start(db));
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(12);
    let config = ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() };
    let result = TestRunner::new(config).run(&sequence(), |sequence| runtime.block_on(harness.run(&sequence)));
    runtime.block_on(harness.server.stop());
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn fields_received_are_exactly_the_allowed_set_on_sqlite() {
    property(Db::Sqlite);
}

#[test]
fn fields_received_are_exactly_the_allowed_set_on_postgres() {
    property(Db::Postgres);
}
