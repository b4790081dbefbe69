//! Developers: publish a plugin version (validated against the contract and
//! its own manifest) and read the catalogue.

use std::sync::Arc;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Actor, ServiceError, ServiceResult, Workbench};
use crate::model::audit::Action;
use crate::model::egress::{HostPattern, Scheme};
use crate::model::manifest::{Developer, Manifest, ScopeDeclaration};
use crate::model::registry::{PluginRelease, PluginVersion, Publisher};
use crate::model::text::{Languages, ShowIn, Shown, choose};
use crate::runtime::cache::Import;
use crate::scope::{Scope, ScopeSet};

/// An Ed25519 signature over [`signing_message`]: the manifest and the
/// component together, so that neither can be swapped under a signature.
#[derive(Debug, Clone)]
pub struct ComponentSignature {
    /// The developer's public key, 32 bytes.
    pub public_key: Vec<u8>,
    /// The signature, 64 bytes.
    pub signature: Vec<u8>,
}

/// A published version, as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Published {
    /// Plugin id.
    pub id: String,
    /// Version.
    pub version: String,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// Declared scopes.
    pub scopes: Vec<Scope>,
    /// Declared destinations (`https://api.acme.example`).
    pub destinations: Vec<String>,
    /// The `workbench:plugin` contract version the component was built
    /// against, e.g. `0.2.0`.
    pub contract: String,
    /// What the component imports, per interface.
    #[schema(value_type = Vec<Object>)]
    pub imports: Vec<Import>,
    /// Fingerprint of the signing key, when signed.
    pub signed_by: Option<String>,
}

/// One scope a plugin version declares, as the catalogue and a disclosure
/// show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeclaredScope {
    /// The scope.
    pub scope: Scope,
    /// The field it gives.
    pub field: &'static str,
    /// basic_info, basic_permissions or capability.
    pub category: &'static str,
    /// Why the plugin asks (in the language of the response's `lang`).
    #[schema(value_type = String)]
    pub purpose: Shown,
    /// Without it the plugin does not run.
    pub required: bool,
    /// Needs separate consent.
    pub sensitive: bool,
    /// Days a consent lasts before the person is asked again; absent: until withdrawn.
    pub consent_days: Option<u32>,
}

/// One destination a plugin version declares: where the member's data may
/// be sent (the recipient's servers), and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeclaredDestination {
    /// Scheme, host (or `*.suffix`) and port: `https://api.acme.example`.
    pub destination: String,
    /// What is sent there and why (in the language of the response's `lang`).
    #[schema(value_type = String)]
    pub purpose: Shown,
}

/// The destinations of a manifest as responses show them.
pub(crate) fn declared_destinations(manifest: &Manifest) -> Vec<DeclaredDestination> {
    manifest
        .egress
        .iter()
        .map(|d| DeclaredDestination { destination: d.destination.to_string(), purpose: Shown::new(&d.purpose) })
        .collect()
}

/// A configuration key as responses show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeclaredConfig {
    /// The key the plugin reads: `visits_url`.
    pub key: String,
    /// What the value is (in the language of the response's `lang`).
    #[schema(value_type = String)]
    pub description: Shown,
    /// The value when the admin sets none.
    pub default: Option<String>,
    /// The admin must set a value (there is no default).
    pub required: bool,
}

/// The configuration keys of a manifest as responses show them.
pub(crate) fn declared_config(manifest: &Manifest) -> Vec<DeclaredConfig> {
    manifest
        .config
        .iter()
        .map(|d| DeclaredConfig {
            key: d.key.clone(),
            description: Shown::new(&d.description),
            default: d.default.clone(),
            required: d.required && d.default.is_none(),
        })
        .collect()
}

/// One published version in the catalogue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CatalogueVersion {
    /// Version.
    pub version: String,
    /// SHA-256 of the component.
    pub digest: String,
    /// Component size.
    pub size_bytes: u64,
    /// Fingerprint of the signing key, when signed.
    pub signed_by: Option<String>,
    /// Published at, ms since the epoch.
    pub published_at_ms: i64,
    /// The scopes it asks for.
    pub scopes: Vec<DeclaredScope>,
    /// Where it sends requests.
    pub destinations: Vec<DeclaredDestination>,
    /// What the admin configures at install.
    pub config: Vec<DeclaredConfig>,
    /// The languages its texts are given in, primary first (empty: one
    /// text for every language).
    pub languages: Vec<String>,
    /// The language its purposes are shown in (`null`: one text for every language).
    pub lang: Option<String>,
}

/// A plugin in the catalogue: its latest version's details and every version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CatalogueEntry {
    /// Plugin id.
    pub id: String,
    /// Display name (latest version).
    #[schema(value_type = String)]
    pub name: Shown,
    /// What it does (latest version).
    #[schema(value_type = String)]
    pub description: Shown,
    /// Who receives the data.
    #[schema(value_type = Object)]
    pub developer: Developer,
    /// The latest version.
    pub latest: String,
    /// Every version, oldest first.
    pub versions: Vec<CatalogueVersion>,
    /// The languages the latest version's texts are given in, primary
    /// first (empty: one text for every language).
    pub languages: Vec<String>,
    /// The language `name` and `description` are shown in (`null`: one
    /// text for every language).
    pub lang: Option<String>,
}

impl ShowIn for CatalogueEntry {
    fn show_in(&mut self, prefs: &Languages) {
        let lang = choose(&self.languages, prefs);
        self.name.show(lang);
        self.description.show(lang);
        self.lang = lang.map(str::to_owned);
        self.versions.show_in(prefs);
    }
}

impl ShowIn for CatalogueVersion {
    fn show_in(&mut self, prefs: &Languages) {
        let lang = choose(&self.languages, prefs);
        for scope in &mut self.scopes {
            scope.purpose.show(lang);
        }
        for destination in &mut self.destinations {
            destination.purpose.show(lang);
        }
        for key in &mut self.config {
            key.description.show(lang);
        }
        self.lang = lang.map(str::to_owned);
    }
}

/// A manifest's languages, primary first, as responses carry them.
pub(crate) fn languages(manifest: &Manifest) -> Vec<String> {
    manifest.languages().into_iter().map(str::to_owned).collect()
}

impl DeclaredScope {
    /// How `declaration` is shown.
    pub fn of(declaration: &ScopeDeclaration) -> Self {
        let scope = declaration.scope;
        Self {
            scope,
            field: scope.field(),
            category: scope.category(),
            purpose: Shown::new(&declaration.purpose),
            required: declaration.required,
            sensitive: scope.is_sensitive(),
            consent_days: declaration.consent_days,
        }
    }
}

/// The scopes of a manifest as the catalogue shows them.
pub(crate) fn catalogue_scopes(manifest: &Manifest) -> Vec<DeclaredScope> {
    manifest.scopes.iter().map(DeclaredScope::of).collect()
}

fn entry(releases: Vec<PluginRelease>) -> Option<CatalogueEntry> {
    let latest = releases.iter().max_by(|a, b| a.manifest.version.cmp(&b.manifest.version))?.manifest.clone();
    let latest_languages = languages(&latest);
    Some(CatalogueEntry {
        id: latest.id.clone(),
        name: Shown::new(&latest.name),
        description: Shown::new(&latest.description),
        lang: latest_languages.first().cloned(),
        languages: latest_languages,
        developer: latest.developer.clone(),
        latest: latest.version.to_string(),
        versions: releases
            .iter()
            .map(|r| CatalogueVersion {
                version: r.manifest.version.to_string(),
                digest: r.digest.clone(),
                size_bytes: r.size_bytes,
                signed_by: r.signed_by.clone(),
                published_at_ms: r.published_at_ms,
                scopes: catalogue_scopes(&r.manifest),
                destinations: declared_destinations(&r.manifest),
                config: declared_config(&r.manifest),
                lang: r.manifest.languages().first().map(|l| (*l).to_owned()),
                languages: languages(&r.manifest),
            })
            .collect(),
    })
}

/// The scopes the imports need that the manifest does not declare, each
/// with the first import that needs it.
fn undeclared_imports(imports: &[Import], declared: ScopeSet) -> Vec<(Scope, String)> {
    let mut missing: Vec<(Scope, String)> = Vec::new();
    for import in imports {
        for function in &import.functions {
            if let Some(scope) = Scope::for_import(&import.interface, function)
                && !declared.contains(scope)
                && !missing.iter().any(|(s, _)| *s == scope)
            {
                missing.push((scope, format!("{}#{function}", import.interface)));
            }
        }
    }
    missing
}

impl Workbench {
    /// Validates and stores a plugin version published by `developer` of
    /// `tenant`: the manifest, the component's size, that it fits the
    /// contract, that every interface it imports is declared, and the
    /// signature if there is one.
    pub async fn publish(
        &self,
        tenant: &str,
        developer: &str,
        manifest_toml: &str,
        component: Vec<u8>,
        signature: Option<ComponentSignature>,
    ) -> ServiceResult<Published> {
        let manifest = Manifest::from_toml(manifest_toml)?;
        let rules = self.runtime.egress_config();
        let plain = manifest.egress.iter().map(|d| &d.destination).find(|d| {
            d.scheme == Scheme::Http && !matches!(&d.host, HostPattern::Exact(host) if rules.plain_http_allowed(host))
        });
        if let Some(destination) = plain {
            return Err(ServiceError::BadRequest(format!(
                "destination {destination} uses plain http, which this host allows only to {}; use https",
                match rules.plain_http_hosts.as_slice() {
                    [] => "no host".to_owned(),
                    hosts => hosts.join(", "),
                }
            )));
        }
        if component.len() > self.max_component_bytes {
            return Err(ServiceError::BadRequest(format!(
                "the component is {} bytes; the limit is {}",
                component.len(),
                self.max_component_bytes
            )));
        }
        let digest: [u8; 32] = Sha256::digest(&component).into();
        let signed_by = signature
            .map(|s| verify_signature(&s, &signing_message(manifest_toml.as_bytes(), &component)))
            .transpose()?;
        let runtime = Arc::clone(&self.runtime);
        let (checked, component) = tokio::task::spawn_blocking(move || (runtime.check(&component), component))
            .await
            .map_err(|e| ServiceError::Internal(format!("component validation task: {e}")))?;
        let crate::runtime::cache::Checked { contract, imports, events } = checked?;
        if !events && !manifest.subscriptions().is_empty() {
            return Err(ServiceError::BadRequest(format!(
                "plugin.toml subscribes to {} but the component does not export workbench:plugin/events@{} \
                 (built against workbench:plugin@{contract}); export it to be told of events and ticks",
                manifest.subscriptions().join(", "),
                crate::runtime::wit::CURRENT
            )));
        }
        let undeclared = undeclared_imports(&imports, manifest.declared());
        if !undeclared.is_empty() {
            let list: Vec<_> = undeclared.iter().map(|(s, import)| format!("{s} (imported as {import})")).collect();
            return Err(ServiceError::BadRequest(format!(
                "the component imports functions of scopes the manifest does not declare: {}; declare them in \
                 plugin.toml or stop importing them (a toolchain that imports every interface of its world, such \
                 as componentize-py, builds against the world `workbench plugin wit` writes from plugin.toml)",
                list.join(", ")
            )));
        }
        let earlier = self.store.plugin_releases(Some(&manifest.id)).await?;
        if let Some(same) = earlier.iter().find(|r| r.manifest.version == manifest.version) {
            // A version is one manifest and one component, for good: the
            // same again is a no-op, anything else is refused by name.
            let reference = manifest.reference();
            if same.digest != hex::encode(digest) {
                return Err(ServiceError::Conflict(format!(
                    "{reference} is already published with another component; publish a new version"
                )));
            }
            let differs = manifest_differences(&same.manifest, &manifest);
            if !differs.is_empty() {
                return Err(ServiceError::Conflict(format!(
                    "{reference} is already published with this component and another manifest ({}); publish a \
                     new version to change it",
                    differs.join("; ")
                )));
            }
        }
        if let Some(pinned) = earlier.iter().find_map(|r| r.signed_by.as_deref())
            && signed_by.as_deref() != Some(pinned)
        {
            return Err(ServiceError::Conflict(format!(
                "earlier versions of {} are signed by key {pinned}; sign this version with the same key",
                manifest.id
            )));
        }
        let published = Published {
            id: manifest.id.clone(),
            version: manifest.version.to_string(),
            digest: hex::encode(digest),
            scopes: manifest.scopes.iter().map(|d| d.scope).collect(),
            destinations: manifest.destinations(),
            contract: contract.to_owned(),
            imports,
            signed_by: signed_by.clone(),
        };
        let version = PluginVersion {
            release: PluginRelease {
                size_bytes: component.len() as u64,
                manifest,
                digest: published.digest.clone(),
                publisher: Publisher { tenant: tenant.to_owned(), member: developer.to_owned() },
                signed_by,
                published_at_ms: crate::now_ms(),
            },
            component,
        };
        self.ensure_tenant(tenant).await?;
        let reason = format!("{}@{} sha256:{}", published.id, published.version, published.digest);
        let record = self.record(tenant, Actor::Developer(developer), None, Action::PluginPublish, reason);
        self.store.put_plugin_version(&version, record).await?;
        tracing::info!(plugin = %published.id, version = %published.version, "published");
        self.apply_narrowing_upgrades(&published.id, &published.version).await;
        Ok(published)
    }

    /// The catalogue: every plugin with its versions.
    pub async fn catalogue(&self) -> ServiceResult<Vec<CatalogueEntry>> {
        let releases = self.store.plugin_releases(None).await?;
        let mut entries = Vec::new();
        let mut group: Vec<PluginRelease> = Vec::new();
        for release in releases {
            if group.first().is_some_and(|r| r.manifest.id != release.manifest.id) {
                entries.extend(entry(std::mem::take(&mut group)));
            }
            group.push(release);
        }
        entries.extend(entry(group));
        Ok(entries)
    }

    /// One plugin of the catalogue.
    pub async fn catalogue_entry(&self, plugin: &str) -> ServiceResult<CatalogueEntry> {
        let releases = self.store.plugin_releases(Some(plugin)).await?;
        entry(releases).ok_or_else(|| ServiceError::NotFound(format!("no plugin {plugin} is published")))
    }
}

/// What a publisher signs: a domain tag, then the SHA-256 of the manifest
/// (the `plugin.toml` bytes as uploaded) and of the component.
pub fn signing_message(manifest: &[u8], component: &[u8]) -> Vec<u8> {
    let mut message = b"workbench.plugin.signature.v1\0".to_vec();
    message.extend_from_slice(&Sha256::digest(manifest));
    message.extend_from_slice(&Sha256::digest(component));
    message
}

/// What differs between two manifests of one version, field by field.
fn manifest_differences(stored: &Manifest, new: &Manifest) -> Vec<String> {
    let mut differs = Vec::new();
    let mut field = |name: &str, same: bool| {
        if !same {
            differs.push(format!("{name} differs"));
        }
    };
    field("name", stored.name == new.name);
    field("description", stored.description == new.description);
    field("developer", stored.developer == new.developer);
    field("events and schedules", stored.events == new.events && stored.schedules == new.schedules);
    for old in &stored.scopes {
        match new.scopes.iter().find(|d| d.scope == old.scope) {
            None => differs.push(format!("scope {} is no longer declared", old.scope)),
            Some(d) if d.purpose != old.purpose => differs.push(format!("the purpose of {} differs", old.scope)),
            Some(d) if d.required != old.required => differs.push(format!("whether {} is required differs", old.scope)),
            Some(_) => {}
        }
    }
    for added in new.scopes.iter().filter(|d| !stored.scopes.iter().any(|o| o.scope == d.scope)) {
        differs.push(format!("scope {} is newly declared", added.scope));
    }
    if differs.is_empty() && stored != new {
        differs.push("the order of the scopes differs".into());
    }
    differs
}

fn verify_signature(signature: &ComponentSignature, message: &[u8]) -> ServiceResult<String> {
    let key: [u8; 32] = signature
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| ServiceError::BadRequest("the public key must be 32 bytes (Ed25519)".into()))?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| ServiceError::BadRequest("the public key is not a valid Ed25519 key".into()))?;
    let bytes: [u8; 64] = signature
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| ServiceError::BadRequest("the signature must be 64 bytes (Ed25519)".into()))?;
    key.verify(message, &Signature::from_bytes(&bytes)).map_err(|_| {
        ServiceError::BadRequest(
            "the signature does not verify: sign \"workbench.plugin.signature.v1\\0\" followed by the SHA-256 of \
             plugin.toml and the SHA-256 of the component (raw bytes), with the same manifest and component as \
             uploaded"
                .into(),
        )
    })?;
    Ok(crate::audit::chain::key_id(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_of_undeclared_scopes_are_named() {
        let imports = vec![
            Import { interface: "wasi:io/streams@0.2.6".into(), functions: vec!["read".into()] },
            Import {
                interface: "workbench:plugin/profile@0.1.0".into(),
                functions: vec!["name".into(), "phone".into()],
            },
            Import { interface: "workbench:plugin/storage@0.1.0".into(), functions: vec!["get".into(), "set".into()] },
        ];
        let declared: ScopeSet = [Scope::UserName].into_iter().collect();
        let missing = undeclared_imports(&imports, declared);
        assert_eq!(
            missing,
            vec![
                (Scope::UserPhone, "workbench:plugin/profile@0.1.0#phone".to_owned()),
                (Scope::Storage, "workbench:plugin/storage@0.1.0#get".to_owned()),
            ]
        );
        let all: ScopeSet = [Scope::UserName, Scope::UserPhone, Scope::Storage].into_iter().collect();
        assert!(undeclared_imports(&imports, all).is_empty());
    }
}
