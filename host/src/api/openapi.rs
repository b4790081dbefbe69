//! The OpenAPI document's frame: its info and bearer scheme, and the error
//! answers every operation can give, added where an operation's own
//! annotation does not list them.

use utoipa::OpenApi;

/// The document's info and security.
#[derive(OpenApi)]
#[openapi(
    info(title = "Workbench", description = "Runs third-party workbench plugins as sandboxed WebAssembly components."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    // Named by a query parameter only, which utoipa does not collect.
    components(schemas(
        crate::model::audit::Action,
        // The payloads of the platform's events (`POST /events`), by kind.
        crate::model::events::EventKind,
        crate::model::events::ApprovalSubmitted,
        crate::model::events::ApprovalDecided,
        crate::model::events::CustomerAssigned,
        crate::model::events::MemberChanged
    ))
)]
pub(super) struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// Adds the error answers every API operation can give, where its own
/// annotation does not list them already: the document names every status
/// the server sends, with the one error body.
pub(super) fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
        RefOr::T(ResponseBuilder::new().description(description).content("application/json", content).build())
    };
    let always = [
        ("400", "bad_request: malformed JSON, query or path"),
        (
            "401",
            "unauthorized: no valid bearer token; session_ended: the member signed out everywhere (or a member admin ended their sessions) after this token was issued",
        ),
        ("403", "forbidden: the token's roles do not allow this"),
        ("404", "not_found"),
        ("422", "invalid_input: well-formed but not acceptable; the message names the problem"),
        (
            "503",
            "audit_unavailable, overloaded, not_ready or identity_unavailable (the identity provider's keys cannot be fetched): the server cannot answer now; try again later",
        ),
    ];
    let with_body = [
        ("413", "payload_too_large: the body is over the limit"),
        ("415", "unsupported_media_type: the body is not of the documented type"),
    ];
    for item in doc.paths.paths.values_mut() {
        for operation in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            let has_body = operation.request_body.is_some();
            let responses = &mut operation.responses.responses;
            for (status, description) in always.iter().chain(with_body.iter().filter(|_| has_body)) {
                responses.entry((*status).to_owned()).or_insert_with(|| error(description));
            }
        }
    }
}

/// Adds the request timeout's 504 to every operation, the operational
/// routes' too: the timeout applies to every request.
pub(super) fn document_timeout(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
    for item in doc.paths.paths.values_mut() {
        for operation in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            operation.responses.responses.entry("504".to_owned()).or_insert_with(|| {
                let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
                RefOr::T(
                    ResponseBuilder::new()
                        .description("timeout: the request took longer than the server's request timeout")
                        .content("application/json", content)
                        .build(),
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every `$ref` in `value`, with where it was found.
    fn refs(value: &serde_json::Value, at: &str, found: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    if key == "$ref" {
                        found.push((at.to_owned(), inner.as_str().unwrap_or_default().to_owned()));
                    } else {
                        refs(inner, &format!("{at}/{key}"), found);
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    refs(inner, &format!("{at}/{i}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_in_the_document_resolves() {
        let doc = serde_json::to_value(super::super::openapi()).expect("the document");
        let mut found = Vec::new();
        refs(&doc, "", &mut found);
        assert!(found.len() > 20, "the document has too few references to be the real one: {}", found.len());
        let dangling: Vec<_> = found
            .iter()
            .filter(|(_, target)| {
                let pointer = target.strip_prefix('#').unwrap_or("\u{0}");
                doc.pointer(pointer).is_none()
            })
            .collect();
        assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
    }
}
