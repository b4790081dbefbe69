//! The company's identity provider, trusted through its published key set
//! (JWKS, found by OIDC discovery from the issuer or given as a URL). Keys
//! are fetched at start and every `refresh_secs`, and again when a token
//! names an unknown `kid` (at most every `unknown_kid_refresh_secs`). While
//! the provider cannot be reached the keys last fetched keep working for
//! `keys_valid_secs`; past that its tokens get 503 `identity_unavailable`,
//! never a 500. Only asymmetric keys are taken (RSA, EC, Ed25519): a
//! published secret would be no secret. The tenant, member and roles come
//! from the configured claims (only the tenants listed, when a list is
//! given; never the deployment's `operator` role); the token then speaks
//! for its caller exactly as the host's own do.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::error::ApiError;
use crate::config::ProviderConfig;
use crate::model::directory::Role;

/// How long one fetch of the key set (or the discovery document) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

struct KeySet {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    fetched: Instant,
}

/// Whom one of the provider's tokens speaks for.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Tenant.
    pub tenant: String,
    /// Member id.
    pub member: String,
    /// Roles known here (others ignored).
    pub roles: Vec<Role>,
    /// `iat`, seconds since the epoch (0 without one).
    pub issued_at: u64,
}

/// The identity provider's keys, cached.
pub struct Provider {
    config: ProviderConfig,
    client: reqwest::Client,
    keys: RwLock<Option<KeySet>>,
    /// When the key set was last asked for; held while it is fetched, so
    /// one fetch runs at a time however many tokens wait for it.
    last_attempt: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("issuer", &self.config.issuer).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

/// The algorithm a published key is used with.
fn algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    if let Some(declared) = &jwk.common.key_algorithm {
        return declared
            .to_string()
            .parse()
            .ok()
            .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        AlgorithmParameters::OctetKey(_) => None,
    }
}

impl Provider {
    /// The provider `config` names (nothing is fetched yet).
    pub fn new(config: ProviderConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?;
        Ok(Self { config, client, keys: RwLock::new(None), last_attempt: Mutex::new(None) })
    }

    async fn jwks_url(&self) -> Result<String, String> {
        if let Some(url) = &self.config.jwks_url {
            return Ok(url.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer.trim_end_matches('/'));
        let response = self.client.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: {}", response.status()));
        }
        Ok(response.json::<Discovery>().await.map_err(|e| format!("{url}: {e}"))?.jwks_uri)
    }

    /// Fetches the key set; false (with the reason logged) when it could not.
    pub async fn refresh(&self) -> bool {
        let mut last_attempt = self.last_attempt.lock().await;
        self.fetch(&mut last_attempt).await
    }

    /// Fetches the key set, the attempt's time held by the caller.
    async fn fetch(&self, last_attempt: &mut Option<Instant>) -> bool {
        *last_attempt = Some(Instant::now());
        let fetched = async {
            let url = self.jwks_url().await?;
            let response = self.client.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{url}: {}", response.status()));
            }
            response.json::<JwkSet>().await.map_err(|e| format!("{url}: {e}"))
        };
        match fetched.await {
            Ok(set) => {
                let mut keys = HashMap::new();
                for jwk in &set.keys {
                    if matches!(jwk.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)) {
                        continue;
                    }
                    let (Some(kid), Some(algorithm)) = (jwk.common.key_id.clone(), algorithm(jwk)) else { continue };
                    match DecodingKey::from_jwk(jwk) {
                        Ok(key) => {
                            keys.insert(kid, (algorithm, key));
                        }
                        Err(error) => tracing::warn!(%kid, %error, "a key of the identity provider is unusable"),
                    }
                }
                tracing::debug!(keys = keys.len(), "identity provider keys fetched");
                *self.keys.write().await = Some(KeySet { keys, fetched: Instant::now() });
                true
            }
            Err(error) => {
                tracing::warn!(%error, "the identity provider's keys could not be fetched; the last ones stay in use");
                metrics::counter!("workbench_identity_refresh_failures_total").increment(1);
                false
            }
        }
    }

    /// Fetches the key set every `refresh_secs` while the returned task runs.
    pub fn spawn_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let provider = Arc::downgrade(self);
        let every = Duration::from_secs(self.config.refresh_secs.max(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(provider) = provider.upgrade() else { return };
                provider.refresh().await;
            }
        })
    }

    /// The key `kid`, fetching the set again when it is unknown (rate-limited).
    async fn key(&self, kid: &str) -> Result<(Algorithm, DecodingKey), ApiError> {
        let valid = Duration::from_secs(self.config.keys_valid_secs);
        let lookup = |set: &Option<KeySet>| -> Option<Result<(Algorithm, DecodingKey), ()>> {
            let set = set.as_ref()?;
            if set.fetched.elapsed() > valid {
                return None;
            }
            Some(set.keys.get(kid).cloned().ok_or(()))
        };
        if let Some(Ok(key)) = lookup(&*self.keys.read().await) {
            return Ok(key);
        }
        let again = Duration::from_secs(self.config.unknown_kid_refresh_secs);
        {
            // One fetch at a time; a token that waited for another's fetch
            // looks again before asking for one of its own.
            let mut last_attempt = self.last_attempt.lock().await;
            if let Some(Ok(key)) = lookup(&*self.keys.read().await) {
                return Ok(key);
            }
            if last_attempt.is_none_or(|at| at.elapsed() >= again) {
                self.fetch(&mut last_attempt).await;
            }
        }
        match lookup(&*self.keys.read().await) {
            Some(Ok(key)) => Ok(key),
            Some(Err(())) => Err(ApiError::unauthorized("the token's key (kid) is not known")),
            None => Err(ApiError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "identity_unavailable",
                "the identity provider's keys cannot be fetched now; try again later",
            )
            .retry_after(again.max(Duration::from_secs(1)))),
        }
    }

    /// Validates one of the provider's tokens into who it speaks for.
    pub async fn verify(&self, token: &str, kid: &str, alg: Algorithm, leeway_secs: u64) -> Result<Identity, ApiError> {
        let (algorithm, key) = self.key(kid).await?;
        if alg != algorithm {
            return Err(ApiError::unauthorized("the token's algorithm is not the one its key allows"));
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = leeway_secs;
        let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(super::error::token_rejection)?
            .claims;
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(tenant), Some(member)) = (text(&self.config.tenant_claim), text(&self.config.member_claim)) else {
            return Err(ApiError::unauthorized(format!(
                "the token lacks the {} or {} claim",
                self.config.tenant_claim, self.config.member_claim
            )));
        };
        let valid_id = crate::service::directory::valid_member_id;
        if !valid_id(&tenant) || !valid_id(&member) {
            return Err(ApiError::unauthorized("the token's tenant or member is not a valid id"));
        }
        if !self.config.tenants.is_empty() && !self.config.tenants.contains(&tenant) {
            return Err(ApiError::unauthorized("the identity provider does not speak for this tenant"));
        }
        let names: Vec<String> = match claims.get(&self.config.roles_claim) {
            Some(serde_json::Value::Array(list)) => list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            Some(serde_json::Value::String(list)) => list.split_whitespace().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        // The deployment's operator is not any company's to name.
        let mut roles: Vec<Role> = names
            .iter()
            .filter_map(|name| Role::parse(name))
            .filter(|role| !matches!(role, Role::Operator | Role::Platform))
            .collect();
        roles.dedup();
        let issued_at = claims.get("iat").and_then(serde_json::Value::as_u64).unwrap_or(0);
        Ok(Identity { tenant, member, roles, issued_at })
    }
}
