//! Invoke request decoding never panics; what it accepts is a request the
//! runtime can take, and what it refuses is a 4xx.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match workbench_host::api::decode_invoke_body(data) {
        Ok(request) => {
            assert!(!request.method.is_empty() && request.method.len() <= 16);
            assert!(request.method.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(request.path.starts_with('/') && request.path.len() <= 2048 && !request.path.contains('?'));
            assert!(request.headers.len() <= 64);
            assert!(request.headers.iter().all(|(name, _)| *name == name.to_ascii_lowercase()));
        }
        Err(error) => assert!(error.status().is_client_error(), "{:?}", error.status()),
    }
});
