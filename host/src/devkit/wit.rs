//! The contract as files, and a world per plugin.
//!
//! Rust with wit-bindgen imports only the functions a plugin calls, so it
//! builds against the whole `workbench:plugin/plugin` world. Toolchains that
//! import every interface of their world (componentize-py, componentize-js)
//! build against the world [`world_for`] writes from `plugin.toml`: only the
//! interfaces of the scopes it declares, so the component imports exactly
//! those and the publish check passes without declaring scopes nobody reads.

use std::path::Path;

use crate::model::manifest::Manifest;
use crate::runtime::wit::CURRENT;

/// The files of the current contract (`wit/`), by name.
pub const CONTRACT: [(&str, &str); 9] = [
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("profile.wit", include_str!("../../../wit/profile.wit")),
    ("permissions.wit", include_str!("../../../wit/permissions.wit")),
    ("storage.wit", include_str!("../../../wit/storage.wit")),
    ("log.wit", include_str!("../../../wit/log.wit")),
    ("handler.wit", include_str!("../../../wit/handler.wit")),
    ("events.wit", include_str!("../../../wit/events.wit")),
    ("notify.wit", include_str!("../../../wit/notify.wit")),
    ("world.wit", include_str!("../../../wit/world.wit")),
];

/// The WASI packages a world that sends requests needs (`wasi:http` and
/// what it uses), at the version the host links: package and file text.
pub const WASI: [(&str, &str); 7] = [
    ("cli", include_str!("wasi/cli.wit")),
    ("clocks", include_str!("wasi/clocks.wit")),
    ("filesystem", include_str!("wasi/filesystem.wit")),
    ("http", include_str!("wasi/http.wit")),
    ("io", include_str!("wasi/io.wit")),
    ("random", include_str!("wasi/random.wit")),
    ("sockets", include_str!("wasi/sockets.wit")),
];

/// The outgoing-handler interface a world imports when its plugin declares
/// destinations.
pub const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

/// The configuration interface a world imports when its plugin declares
/// `[[config]]` keys, and its package's text.
pub const CONFIG_STORE: (&str, &str) = (crate::runtime::config::INTERFACE, include_str!("wasi/config.wit"));

/// The name of the world [`world_for`] writes.
pub const WORLD: &str = "plugin";

/// The WIT text of a world that imports the interfaces of the scopes
/// `manifest` declares, in catalogue order, and exports the handler (and
/// `events` when it subscribes to events or schedules).
pub fn world_for(manifest: &Manifest) -> String {
    let mut scopes: Vec<_> = manifest.scopes.iter().map(|d| d.scope).collect();
    scopes.sort();
    let mut text = format!(
        "// Written by `workbench plugin wit` from the plugin.toml of {id}: the\n\
         // interfaces of the scopes it declares, and nothing else. Write it again\n\
         // after changing the scopes.\n\
         package local:{WORLD};\n\n\
         world {WORLD} {{\n",
        id = manifest.id
    );
    for scope in scopes {
        text.push_str(&format!("    import workbench:plugin/{}@{CURRENT};\n", scope.interface()));
    }
    if !manifest.egress.is_empty() {
        // Requests to the destinations of `[[egress]]`.
        text.push_str(&format!("    import {OUTGOING_HANDLER};\n"));
    }
    if !manifest.config.is_empty() {
        // The values of `[[config]]`.
        text.push_str(&format!("    import {};\n", CONFIG_STORE.0));
    }
    text.push_str(&format!("\n    export workbench:plugin/handler@{CURRENT};\n"));
    if !manifest.subscriptions().is_empty() {
        // The events and ticks of `[[events]]` and `[[schedules]]`.
        text.push_str(&format!("    export workbench:plugin/events@{CURRENT};\n"));
    }
    text.push_str("}\n");
    text
}

/// Writes the world for `manifest` to `dir/world.wit` and the contract it
/// uses to `dir/deps/workbench-plugin/` (and, when it declares destinations,
/// the WASI packages to `dir/deps/wasi-NAME/`; when it declares
/// configuration, `wasi:config` to `dir/deps/wasi-config/`), replacing what
/// an earlier run wrote.
pub fn write(dir: &Path, manifest: &Manifest) -> std::io::Result<()> {
    for (name, text) in WASI {
        let deps = dir.join("deps").join(format!("wasi-{name}"));
        if deps.exists() {
            std::fs::remove_dir_all(&deps)?;
        }
        if !manifest.egress.is_empty() {
            std::fs::create_dir_all(&deps)?;
            std::fs::write(deps.join(format!("{name}.wit")), text)?;
        }
    }
    let deps = dir.join("deps").join("wasi-config");
    if deps.exists() {
        std::fs::remove_dir_all(&deps)?;
    }
    if !manifest.config.is_empty() {
        std::fs::create_dir_all(&deps)?;
        std::fs::write(deps.join("config.wit"), CONFIG_STORE.1)?;
    }
    let deps = dir.join("deps").join("workbench-plugin");
    if deps.exists() {
        std::fs::remove_dir_all(&deps)?;
    }
    std::fs::create_dir_all(&deps)?;
    for (name, text) in CONTRACT {
        std::fs::write(deps.join(name), text)?;
    }
    std::fs::write(dir.join("world.wit"), world_for(manifest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Scope;

    fn manifest(scopes: &[&str]) -> Manifest {
        let mut text = String::from(
            "id = \"notes\"\nname = \"Notes\"\nversion = \"1.0.0\"\n[developer]\nname = \"A\"\ncontact = \"a@b.example\"\n",
        );
        for scope in scopes {
            text.push_str(&format!("[[scopes]]\nscope = \"{scope}\"\npurpose = \"because we need it\"\n"));
        }
        Manifest::from_toml(&text).expect("a valid manifest")
    }

    #[test]
    fn a_plugin_that_declares_destinations_imports_the_outgoing_handler_with_its_packages() {
        let mut sending = manifest(&["user.id"]);
        assert!(!world_for(&sending).contains("wasi:http"), "no destination, no wasi:http");
        sending.egress = vec![crate::model::egress::EgressDeclaration {
            destination: "https://api.acme.example".parse().expect("valid"),
            purpose: "send the visits".into(),
        }];
        let world = world_for(&sending);
        assert!(world.contains(&format!("import {OUTGOING_HANDLER};")), "{world}");
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &sending).expect("writes");
        assert!(dir.path().join("deps/wasi-http/http.wit").is_file());
        assert!(
            std::fs::read_to_string(dir.path().join("deps/wasi-http/http.wit"))
                .expect("reads")
                .starts_with(&format!("package {};", OUTGOING_HANDLER.replace("/outgoing-handler", "")))
        );
        // Written again without destinations, the WASI packages go.
        write(dir.path(), &manifest(&["user.id"])).expect("writes");
        assert!(!dir.path().join("deps/wasi-http").exists());
    }

    #[test]
    fn the_world_imports_exactly_the_declared_scopes_in_catalogue_order() {
        let world = world_for(&manifest(&["storage", "user.id", "user.phone"]));
        let imports: Vec<_> = world.lines().filter(|l| l.trim_start().starts_with("import ")).map(str::trim).collect();
        assert_eq!(
            imports,
            [
                "import workbench:plugin/user-id@0.3.0;",
                "import workbench:plugin/user-phone@0.3.0;",
                "import workbench:plugin/storage@0.3.0;"
            ]
        );
        assert!(world.contains("export workbench:plugin/handler@0.3.0;"));
        assert!(world_for(&manifest(&[])).lines().all(|l| !l.contains("import ")));
    }

    #[test]
    fn a_plugin_that_declares_configuration_imports_the_config_store_with_its_package() {
        let mut configured = manifest(&["user.id"]);
        assert!(!world_for(&configured).contains("wasi:config"), "no key, no wasi:config");
        configured.config = vec![crate::model::plugin_config::ConfigDeclaration {
            key: "visits_url".into(),
            description: "the service's base URL".into(),
            default: None,
            required: true,
        }];
        let world = world_for(&configured);
        assert!(world.contains("import wasi:config/store@0.2.0-draft;"), "{world}");
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &configured).expect("writes");
        let package = std::fs::read_to_string(dir.path().join("deps/wasi-config/config.wit")).expect("reads");
        assert!(package.starts_with("package wasi:config@0.2.0-draft;"), "{package}");
        assert!(!dir.path().join("deps/wasi-http").exists(), "no destination, no wasi:http");
        write(dir.path(), &manifest(&["user.id"])).expect("writes");
        assert!(!dir.path().join("deps/wasi-config").exists());
    }

    #[test]
    fn every_scope_has_its_interface_in_the_contract() {
        let contract: String = CONTRACT.iter().map(|(_, text)| *text).collect();
        for scope in Scope::ALL {
            assert!(contract.contains(&format!("interface {} {{", scope.interface())), "{scope}");
            assert!(contract.contains(&format!("    import {};", scope.interface())), "{scope} in the world");
        }
        assert!(contract.contains(&format!("package workbench:plugin@{CURRENT};")));
    }
}
