//! `workbench plugin new`: a project that builds and passes its own tests
//! as generated.

use std::path::Path;

use anyhow::{Context as _, bail};

use super::Language;
use crate::model::manifest::{Manifest, valid_plugin_id};

const MANIFEST: &str = include_str!("templates/plugin.toml");
const README: &str = include_str!("templates/README.md");
const GITIGNORE: &str = include_str!("templates/gitignore");
const RUST: [(&str, &str); 2] = [
    ("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
    ("src/lib.rs", include_str!("templates/rust/src/lib.rs")),
];
const PYTHON: [(&str, &str); 2] = [
    ("app.py", include_str!("templates/python/app.py")),
    ("tests/test_app.py", include_str!("templates/python/tests/test_app.py")),
];

/// The files of a new `language` project for plugin `id`, by path.
pub fn files(id: &str, language: Language) -> Vec<(&'static str, String)> {
    let fill = |text: &str| {
        let (lang, source, tests) = match language {
            Language::Rust => ("Rust", "`src/lib.rs`", "the tests at its end"),
            Language::Python => ("Python", "`app.py`", "`tests/test_app.py`"),
        };
        text.replace("__ID__", id)
            .replace("__SDK_VERSION__", super::rust::SDK_VERSION)
            .replace("__LANG__", lang)
            .replace("__SOURCE__", source)
            .replace("__TESTS__", tests)
    };
    let mut files = vec![("plugin.toml", fill(MANIFEST)), ("README.md", fill(README)), (".gitignore", fill(GITIGNORE))];
    let sources: &[(&'static str, &str)] = match language {
        Language::Rust => &RUST,
        Language::Python => &PYTHON,
    };
    files.extend(sources.iter().map(|(path, text)| (*path, fill(text))));
    files
}

/// Writes a new project for plugin `id` in `dir`, which must not exist or
/// be empty.
pub fn create(dir: &Path, id: &str, language: Language) -> anyhow::Result<()> {
    if !valid_plugin_id(id) {
        bail!(
            "{id:?} cannot be a plugin id: use 2 to 63 characters of a-z, 0-9 and -, starting with a letter \
             (for example site-inspection)"
        );
    }
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty; pick another name or --dir", dir.display());
    }
    for (path, text) in files(id, language) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    // The manifest as generated is one publishing accepts.
    Manifest::from_toml(&std::fs::read_to_string(dir.join("plugin.toml"))?)
        .context("the generated plugin.toml is not valid")?;
    if language == Language::Rust {
        super::rust::write_sdk(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_project_has_a_valid_manifest_and_no_placeholders() {
        for language in [Language::Rust, Language::Python] {
            let dir = tempfile::tempdir().expect("dir");
            let project = dir.path().join("site-inspection");
            create(&project, "site-inspection", language).expect("created");
            let manifest = super::super::read_manifest(&project).expect("valid");
            assert_eq!(manifest.id, "site-inspection");
            assert_eq!(Language::of(&project).expect("language"), language);
            for (path, text) in files("site-inspection", language) {
                for placeholder in ["__ID__", "__SDK_VERSION__", "__LANG__", "__SOURCE__", "__TESTS__"] {
                    assert!(!text.contains(placeholder), "{path} keeps {placeholder}");
                }
            }
            let again = create(&project, "site-inspection", language).expect_err("not over a project").to_string();
            assert!(again.contains("not empty"), "{again}");
        }
        let refused = create(Path::new("/nonexistent/x"), "Bad_Name", Language::Rust).expect_err("refused");
        assert!(refused.to_string().contains("a-z, 0-9 and -"), "{refused}");
    }
}
