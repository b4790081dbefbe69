//! The benchmark's peer: what a user would run per request with
//! `wasmtime serve` — a wasi:http component answering every request with
//! "ok", the same body the `noop` plugin returns.

use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Hello;

impl wasi::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let headers =
            Fields::from_list(&[("content-type".to_owned(), b"text/plain".to_vec())]).unwrap_or_else(|_| Fields::new());
        let response = OutgoingResponse::new(headers);
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(response_out, Ok(response));
        if let Ok(out) = body.write() {
            let _ = out.blocking_write_and_flush(b"ok");
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

wasi::http::proxy::export!(Hello);
