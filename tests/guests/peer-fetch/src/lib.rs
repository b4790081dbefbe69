//! The egress benchmark's peer: what a user would run with `wasmtime serve`
//! for one outbound call per request — a wasi:http component that GETs
//! `http://AUTHORITY/` for a request to `/AUTHORITY` and answers with the
//! upstream's status and body, as the `fetch` plugin does.

use wasi::http::outgoing_handler;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam, Scheme,
};

struct PeerFetch;

fn fetch(authority: &str) -> Result<(u16, Vec<u8>), String> {
    let request = OutgoingRequest::new(Fields::new());
    request.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "authority")?;
    request.set_path_with_query(Some("/")).map_err(|()| "path")?;
    let body = request.body().map_err(|()| "body")?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    let response = loop {
        match future.get() {
            Some(answer) => break answer.map_err(|()| "taken twice")?.map_err(|e| format!("{e:?}"))?,
            None => future.subscribe().block(),
        }
    };
    let status = response.status();
    let incoming = response.consume().map_err(|()| "consumed")?;
    let stream = incoming.stream().map_err(|()| "stream")?;
    let mut received = Vec::new();
    loop {
        match stream.blocking_read(65536) {
            Ok(bytes) => received.extend(bytes),
            Err(wasi::io::streams::StreamError::Closed) => break,
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok((status, received))
}

impl wasi::exports::http::incoming_handler::Guest for PeerFetch {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let (status, body) = fetch(path.trim_start_matches('/')).unwrap_or_else(|e| (502, e.into_bytes()));
        let headers =
            Fields::from_list(&[("content-type".to_owned(), b"text/plain".to_vec())]).unwrap_or_else(|_| Fields::new());
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(status);
        let Ok(out) = response.body() else { return };
        ResponseOutparam::set(response_out, Ok(response));
        if let Ok(stream) = out.write() {
            let _ = stream.blocking_write_and_flush(&body);
        }
        let _ = OutgoingBody::finish(out, None);
    }
}

wasi::http::proxy::export!(PeerFetch);
