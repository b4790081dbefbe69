//! The manifest parser never panics, and what it accepts is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workbench_host::model::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(manifest) = Manifest::from_toml(text) else { return };
    let declared = manifest.declared();
    let policy = manifest.policy(declared, &manifest.destinations());
    assert!(policy.required.difference(policy.declared).is_empty(), "required scopes are declared");
    for declaration in &manifest.scopes {
        assert!(declaration.purpose.texts().all(|(_, text)| !text.trim().is_empty()), "every scope has a purpose");
        assert!(manifest.declaration(declaration.scope).is_some());
    }
});
