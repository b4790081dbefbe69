//! The company's identity provider: a local OIDC provider started by the
//! test publishes its keys; its tokens (with its own claim names) work like
//! the host's own; a rotated key is picked up on its first token; an
//! unknown `kid` is refused (and refetches at most once per period); while
//! the provider is down the cached keys keep working until they expire,
//! then 503 `identity_unavailable`, never a 500; published secrets and
//! algorithm confusion are refused.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::config::ProviderConfig;

use crate::server::{Server, on_both_databases};

const AUDIENCE: &str = "workbench-idp";

/// The provider: its discovery document and key set, switched up and down.
struct Idp {
    base: String,
    keys: Arc<Mutex<Vec<Value>>>,
    up: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

async fn start_idp() -> Idp {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let keys = Arc::new(Mutex::new(Vec::new()));
    let up = Arc::new(AtomicBool::new(true));
    let fetches = Arc::new(AtomicUsize::new(0));
    let discovery = json!({ "issuer": base, "jwks_uri": format!("{base}/keys") });
    let (set, online, count) = (keys.clone(), up.clone(), fetches.clone());
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(move || async move { axum::Json(discovery) }))
        .route(
            "/keys",
            get(move || async move {
                count.fetch_add(1, Ordering::SeqCst);
                if !online.load(Ordering::SeqCst) {
                    return Err(StatusCode::SERVICE_UNAVAILABLE);
                }
                let keys = set.lock().expect("keys").clone();
                Ok(axum::Json(json!({ "keys": keys })))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("provider serves") });
    Idp { base, keys, up, fetches }
}

/// An Ed25519 key: how to sign with it, and its published form.
fn ed25519(seed: u8, kid: &str) -> (EncodingKey, Value) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let der = key.to_pkcs8_der().expect("pkcs8");
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig" });
    (EncodingKey::from_ed_der(der.as_bytes()), jwk)
}

fn token(key: &EncodingKey, kid: &str, alg: Algorithm, claims: Value) -> String {
    let header = Header { kid: Some(kid.to_owned()), ..Header::new(alg) };
    jsonwebtoken::encode(&header, &claims, key).expect("signs")
}

fn claims(idp: &Idp, member: &str, groups: &[&str]) -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({ "iss": idp.base, "aud": AUDIENCE, "exp": now + 600, "iat": now, "org": "demo", "preferred_username": member, "groups": groups })
}

async fn status(server: &Server, path: &str, token: &str) -> (StatusCode, String) {
    let reply = server.call(Method::GET, path, Some(token), None).await;
    (reply.status, reply.body["error"].as_str().unwrap_or_default().to_owned())
}

on_both_databases! {
    async fn tokens_of_the_company_identity_provider_work_like_the_hosts_own(db: Db) {
        let idp = start_idp().await;
        let (k1, jwk1) = ed25519(11, "k1");
        idp.keys.lock().expect("keys").push(jwk1);
        // A published HMAC secret is no secret: never taken.
        idp.keys.lock().expect("keys").push(json!({ "kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "kid": "shared", "alg": "HS256" }));
        let provider = ProviderConfig {
            issuer: idp.base.clone(),
            jwks_url: None,
            audience: AUDIENCE.into(),
            tenant_claim: "org".into(),
            member_claim: "preferred_username".into(),
            roles_claim: "groups".into(),
            refresh_secs: 3600,
            keys_valid_secs: 3,
            unknown_kid_refresh_secs: 1,
            tenants: vec!["demo".into()],
        };
        let server = Server::demo_configured(db, |config| config.auth.provider = Some(provider)).await;

        // The member and the admin, by the provider's claims; unknown groups are ignored.
        let member = token(&k1, "k1", Algorithm::EdDSA, claims(&idp, "zhang.wei", &["member", "staff"]));
        assert_eq!(status(&server, "/api/v1/me/plugins", &member).await.0, StatusCode::OK);
        let admin = token(&k1, "k1", Algorithm::EdDSA, claims(&idp, "admin", &["admin", "member"]));
        assert_eq!(status(&server, "/api/v1/audit/verify", &admin).await.0, StatusCode::OK);
        assert_eq!(status(&server, "/api/v1/audit/verify", &member).await.0, StatusCode::FORBIDDEN);
        // The host's own tokens still work beside them.
        assert_eq!(status(&server, "/api/v1/me/plugins", &server.demo_token("zhang.wei", &[workbench_host::model::directory::Role::Member])).await.0, StatusCode::OK);

        // Refused: another audience or issuer, a missing claim, algorithm
        // confusion, a token signed with the published secret.
        let mut wrong = claims(&idp, "zhang.wei", &["member"]);
        wrong["aud"] = json!("someone-else");
        assert_eq!(status(&server, "/api/v1/me/plugins", &token(&k1, "k1", Algorithm::EdDSA, wrong)).await.0, StatusCode::UNAUTHORIZED);
        let mut wrong = claims(&idp, "zhang.wei", &["member"]);
        wrong["iss"] = json!("https://impostor.example");
        assert_eq!(status(&server, "/api/v1/me/plugins", &token(&k1, "k1", Algorithm::EdDSA, wrong)).await.0, StatusCode::UNAUTHORIZED);
        let mut wrong = claims(&idp, "zhang.wei", &["member"]);
        wrong.as_object_mut().expect("claims").remove("org");
        let reply = server.call(Method::GET, "/api/v1/me/plugins", Some(&token(&k1, "k1", Algorithm::EdDSA, wrong)), None).await;
        assert!(reply.status == StatusCode::UNAUTHORIZED && reply.text.contains("org"), "{}", reply.text);
        // Another tenant than the one the provider speaks for; the operator
        // role is not the provider's to give.
        let mut elsewhere = claims(&idp, "zhang.wei", &["member"]);
        elsewhere["org"] = json!("beta");
        assert_eq!(status(&server, "/api/v1/me/plugins", &token(&k1, "k1", Algorithm::EdDSA, elsewhere)).await.0, StatusCode::UNAUTHORIZED);
        let operator = token(&k1, "k1", Algorithm::EdDSA, claims(&idp, "admin", &["operator", "admin"]));
        assert_eq!(status(&server, "/api/v1/status", &operator).await.0, StatusCode::FORBIDDEN);
        let secret = EncodingKey::from_secret(b"secret-secret-secret-secret");
        let confused = token(&secret, "k1", Algorithm::HS256, claims(&idp, "zhang.wei", &["member"]));
        assert_eq!(status(&server, "/api/v1/me/plugins", &confused).await.0, StatusCode::UNAUTHORIZED);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let shared = token(&secret, "shared", Algorithm::HS256, claims(&idp, "zhang.wei", &["member"]));
        let reply = server.call(Method::GET, "/api/v1/me/plugins", Some(&shared), None).await;
        assert!(reply.status == StatusCode::UNAUTHORIZED && reply.text.contains("not known"), "{}", reply.text);

        // Rotation: the provider publishes k2 instead of k1; the first k2
        // token fetches the set again; k1 is then unknown.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (k2, jwk2) = ed25519(12, "k2");
        *idp.keys.lock().expect("keys") = vec![jwk2];
        let rotated = token(&k2, "k2", Algorithm::EdDSA, claims(&idp, "zhang.wei", &["member"]));
        assert_eq!(status(&server, "/api/v1/me/plugins", &rotated).await.0, StatusCode::OK);
        assert_eq!(status(&server, "/api/v1/me/plugins", &member).await, (StatusCode::UNAUTHORIZED, "unauthorized".to_owned()));

        // Unknown kids refetch at most once per period, however many arrive.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let before = idp.fetches.load(Ordering::SeqCst);
        for n in 0..20 {
            let stray = token(&k2, &format!("stray-{n}"), Algorithm::EdDSA, claims(&idp, "zhang.wei", &["member"]));
            assert_eq!(status(&server, "/api/v1/me/plugins", &stray).await.0, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(idp.fetches.load(Ordering::SeqCst) - before, 1, "one fetch for twenty unknown kids");

        // The provider goes down: the cached keys keep working until they
        // expire, then a clear 503 (never a 500); back up, back in.
        idp.up.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(status(&server, "/api/v1/me/plugins", &rotated).await.0, StatusCode::OK, "cached keys still work");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let reply = server.call(Method::GET, "/api/v1/me/plugins", Some(&rotated), None).await;
        assert_eq!((reply.status, reply.body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("identity_unavailable")), "{}", reply.text);
        assert!(reply.headers.get("retry-after").is_some());
        idp.up.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(status(&server, "/api/v1/me/plugins", &rotated).await.0, StatusCode::OK);
        server.stop().await;
    }
}
