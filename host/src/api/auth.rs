//! Bearer JWTs: the key is chosen by `kid`, each key accepts exactly one
//! algorithm, and `exp`, `nbf`, `iss`, `aud` and `sub` are required. The
//! caller's tenant and member come only from the token.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::config::{AuthConfig, JwtKeyConfig};
use crate::model::directory::Role;

/// The claims this host reads (the standard ones are checked by validation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Member id.
    pub sub: String,
    /// Tenant id.
    pub tid: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expires, seconds since the epoch.
    pub exp: u64,
    /// Not before.
    pub nbf: u64,
    /// Issued at.
    pub iat: u64,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Tenant.
    pub tenant: String,
    /// Member id.
    pub member: String,
    /// Roles: the token's, and once an extractor checked them against the
    /// directory, the call's effective roles.
    pub roles: Vec<Role>,
    /// When the token was issued (`iat`, seconds since the epoch).
    pub issued_at: u64,
}

impl Caller {
    /// The caller as the service layer's session checks see them.
    pub fn session(&self) -> crate::service::sessions::Session<'_> {
        crate::service::sessions::Session {
            tenant: &self.tenant,
            member: &self.member,
            roles: &self.roles,
            issued_at: self.issued_at,
        }
    }

    /// Ok when the caller has `role`, else 403.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.roles.contains(&role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this route needs the {} role", role.as_str())))
        }
    }
}

struct Key {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
}

/// The configured keys.
#[derive(Clone)]
pub struct JwtKeys {
    keys: Arc<HashMap<String, Key>>,
    issuer: String,
    audience: String,
    leeway_secs: u64,
    /// The company's identity provider, for tokens whose `kid` is not ours.
    provider: Option<Arc<super::provider::Provider>>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<_> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("JwtKeys").field("kids", &kids).field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// A key configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("auth key {kid}: {message}")]
pub struct KeyError {
    kid: String,
    message: String,
}

/// The kid of the key created under the data dir when none is configured.
pub const LOCAL_KID: &str = "local";

fn read(kid: &str, path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|e| KeyError { kid: kid.into(), message: format!("reading {}: {e}", path.display()) })
}

fn load_key(config: &JwtKeyConfig) -> Result<Key, KeyError> {
    let fail = |message: String| KeyError { kid: config.kid.clone(), message };
    let algorithm: Algorithm =
        config.algorithm.parse().map_err(|_| fail(format!("unknown algorithm {:?}", config.algorithm)))?;
    let jwt = |e: jsonwebtoken::errors::Error| fail(e.to_string());
    match algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let secret = match (&config.secret, &config.secret_file) {
                (Some(secret), None) => secret.as_bytes().to_vec(),
                (None, Some(path)) => read(&config.kid, path)?,
                _ => return Err(fail("an HMAC key needs exactly one of secret and secret_file".into())),
            };
            if secret.len() < 32 {
                return Err(fail("an HMAC secret must be at least 32 bytes".into()));
            }
            Ok(Key {
                algorithm,
                decoding: DecodingKey::from_secret(&secret),
                encoding: Some(EncodingKey::from_secret(&secret)),
            })
        }
        _ => {
            let public = config.public_key_file.as_ref().ok_or_else(|| fail("needs public_key_file".into()))?;
            let public = read(&config.kid, public)?;
            let private = config.private_key_file.as_ref().map(|p| read(&config.kid, p)).transpose()?;
            let (decoding, encoding) = match algorithm {
                Algorithm::EdDSA => (
                    DecodingKey::from_ed_pem(&public).map_err(jwt)?,
                    private.map(|p| EncodingKey::from_ed_pem(&p)).transpose().map_err(jwt)?,
                ),
                Algorithm::ES256 | Algorithm::ES384 => (
                    DecodingKey::from_ec_pem(&public).map_err(jwt)?,
                    private.map(|p| EncodingKey::from_ec_pem(&p)).transpose().map_err(jwt)?,
                ),
                _ => (
                    DecodingKey::from_rsa_pem(&public).map_err(jwt)?,
                    private.map(|p| EncodingKey::from_rsa_pem(&p)).transpose().map_err(jwt)?,
                ),
            };
            Ok(Key { algorithm, decoding, encoding })
        }
    }
}

fn valid_id(id: &str) -> bool {
    crate::service::directory::valid_member_id(id)
}

impl JwtKeys {
    /// The keys `config` names: `auth.keys`, or with none the local HS256
    /// key (see [`crate::config::KeysConfig`]).
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Self> {
        Self::load(&config.auth, || crate::service::keys::Secret::Token.load(config))
    }

    /// Loads the configured keys; with none, the HS256 key `local` gives
    /// (kid [`LOCAL_KID`]).
    pub fn load(config: &AuthConfig, local: impl FnOnce() -> anyhow::Result<[u8; 32]>) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        if config.keys.is_empty() {
            let secret = local()?;
            keys.insert(
                LOCAL_KID.to_owned(),
                Key {
                    algorithm: Algorithm::HS256,
                    decoding: DecodingKey::from_secret(&secret),
                    encoding: Some(EncodingKey::from_secret(&secret)),
                },
            );
        }
        for key in &config.keys {
            if keys.insert(key.kid.clone(), load_key(key)?).is_some() {
                anyhow::bail!("auth key {} is configured twice", key.kid);
            }
        }
        let provider = config.provider.clone().map(super::provider::Provider::new).transpose()?.map(Arc::new);
        Ok(Self {
            keys: Arc::new(keys),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway_secs: config.leeway_secs,
            provider,
        })
    }

    /// The identity provider, when one is configured.
    pub fn provider(&self) -> Option<&Arc<super::provider::Provider>> {
        self.provider.as_ref()
    }

    /// Validates a token into the caller: one of ours by its `kid`, else
    /// the identity provider's (its keys fetched when needed).
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::unauthorized("the bearer token is not a well-formed JWT"))?;
        let kid = header.kid.ok_or_else(|| ApiError::unauthorized("the token names no key (kid)"))?;
        match &self.provider {
            Some(provider) if !self.keys.contains_key(&kid) => {
                let identity = provider.verify(token, &kid, header.alg, self.leeway_secs).await?;
                Ok(Caller {
                    tenant: identity.tenant,
                    member: identity.member,
                    roles: identity.roles,
                    issued_at: identity.issued_at,
                })
            }
            _ => self.verify_local(token),
        }
    }

    /// Validates a token signed by one of the configured keys.
    pub fn verify_local(&self, token: &str) -> Result<Caller, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::unauthorized("the bearer token is not a well-formed JWT"))?;
        let kid = header.kid.ok_or_else(|| ApiError::unauthorized("the token names no key (kid)"))?;
        let key = self.keys.get(&kid).ok_or_else(|| ApiError::unauthorized("the token's key (kid) is not known"))?;
        if header.alg != key.algorithm {
            return Err(ApiError::unauthorized("the token's algorithm is not the one its key allows"));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_secs;
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(super::error::token_rejection)?;
        let claims = data.claims;
        if !valid_id(&claims.sub) || !valid_id(&claims.tid) {
            return Err(ApiError::unauthorized("the token's sub or tid is not a valid id"));
        }
        let roles = claims
            .roles
            .iter()
            .map(|r| {
                Role::parse(r).ok_or_else(|| ApiError::unauthorized(format!("the token has an unknown role {r:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Caller { tenant: claims.tid, member: claims.sub, roles, issued_at: claims.iat })
    }

    /// Issues a token with the first key that can sign (the configured
    /// order; the local key when none is configured).
    pub fn mint(&self, tenant: &str, member: &str, roles: &[Role], ttl: Duration) -> anyhow::Result<String> {
        let (kid, key) =
            self.keys.iter().filter(|(_, k)| k.encoding.is_some()).min_by_key(|(kid, _)| kid.as_str()).ok_or_else(
                || anyhow::anyhow!("no configured key can sign tokens (give one a secret or private_key_file)"),
            )?;
        if !valid_id(tenant) || !valid_id(member) {
            anyhow::bail!("tenant and member must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'");
        }
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: member.to_owned(),
            tid: tenant.to_owned(),
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ttl.as_secs(),
            nbf: now,
            iat: now,
        };
        let header = Header { kid: Some(kid.clone()), ..Header::new(key.algorithm) };
        let encoding = key.encoding.as_ref().ok_or_else(|| anyhow::anyhow!("key {kid} cannot sign"))?;
        Ok(jsonwebtoken::encode(&header, &claims, encoding)?)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("sign in: send Authorization: Bearer <token>"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be Bearer <token>"))?;
        state.keys.verify(token.trim()).await
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};

    use super::*;

    fn config(keys: Vec<JwtKeyConfig>) -> AuthConfig {
        AuthConfig { keys, ..AuthConfig::default() }
    }

    fn local(dir: &Path) -> impl FnOnce() -> anyhow::Result<[u8; 32]> + '_ {
        move || Ok(crate::service::keys::load_or_create(&dir.join("jwt-hs256.key"))?)
    }

    #[test]
    fn eddsa_keys_verify_their_own_tokens_and_refuse_other_algorithms() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let private = dir.path().join("ed.pem");
        let public = dir.path().join("ed.pub.pem");
        std::fs::write(&private, key.to_pkcs8_pem(Default::default()).expect("pem").as_bytes()).expect("write");
        std::fs::write(&public, key.verifying_key().to_public_key_pem(Default::default()).expect("pem"))
            .expect("write");
        let eddsa = JwtKeyConfig {
            kid: "prod-2026".into(),
            algorithm: "EdDSA".into(),
            secret: None,
            secret_file: None,
            public_key_file: Some(public.clone()),
            private_key_file: Some(private),
        };
        let keys = JwtKeys::load(&config(vec![eddsa.clone()]), local(dir.path())).expect("loads");
        let token = keys.mint("demo", "zhang.wei", &[Role::Member], Duration::from_secs(60)).expect("mint");
        let caller = keys.verify_local(&token).expect("valid");
        assert_eq!((caller.tenant.as_str(), caller.member.as_str()), ("demo", "zhang.wei"));

        // A verify-only deployment (public key, no private key) accepts it too, and cannot mint.
        let verify_only = JwtKeyConfig { private_key_file: None, ..eddsa };
        let replica = JwtKeys::load(&config(vec![verify_only]), local(dir.path())).expect("loads");
        assert!(replica.verify_local(&token).is_ok());
        assert!(replica.mint("demo", "x", &[Role::Member], Duration::from_secs(60)).is_err());

        // An HS256 token naming the EdDSA kid (key confusion) is refused.
        let hs = Header { kid: Some("prod-2026".into()), ..Header::new(Algorithm::HS256) };
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: "zhang.wei".into(),
            tid: "demo".into(),
            roles: vec!["member".into()],
            iss: "workbench".into(),
            aud: "workbench".into(),
            exp: now + 60,
            nbf: now,
            iat: now,
        };
        let public_pem = std::fs::read(&public).expect("read");
        let forged = jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(&public_pem)).expect("encode");
        assert_eq!(replica.verify_local(&forged).expect_err("confusion").status(), http::StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn bad_key_configurations_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hs = |secret: &str| JwtKeyConfig {
            kid: "k".into(),
            algorithm: "HS256".into(),
            secret: Some(secret.into()),
            secret_file: None,
            public_key_file: None,
            private_key_file: None,
        };
        let short = JwtKeys::load(&config(vec![hs("short")]), local(dir.path())).expect_err("short secret").to_string();
        assert!(short.contains("at least 32 bytes"), "{short}");
        let twice = vec![hs(&"s".repeat(32)), hs(&"t".repeat(32))];
        assert!(
            JwtKeys::load(&config(twice), local(dir.path())).expect_err("duplicate kid").to_string().contains("twice")
        );
        let none = JwtKeyConfig { algorithm: "none".into(), ..hs(&"s".repeat(32)) };
        assert!(
            JwtKeys::load(&config(vec![none]), local(dir.path()))
                .expect_err("alg none")
                .to_string()
                .contains("unknown algorithm")
        );
        let rsa = JwtKeyConfig { algorithm: "RS256".into(), secret: None, ..hs("") };
        assert!(
            JwtKeys::load(&config(vec![rsa]), local(dir.path()))
                .expect_err("no key")
                .to_string()
                .contains("public_key_file")
        );
    }
}
