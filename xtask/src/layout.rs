//! `cargo xtask layout`: the host crate's shape, checked from its source.
//!
//! - **Layers**: each top-level module of `host/src` has a place in
//!   [`LAYERS`], and may name (in `use` items or paths) only modules below
//!   it. The crate root's own items (`crate::now_ms`) are below everything.
//! - **No circles among siblings**: inside any module, the files and
//!   folders beside each other (`store/kv.rs`, `store/backend.rs`, …) never
//!   import each other in a circle. A parent's `mod.rs` may use its children
//!   and they may use its items.
//! - **Small files**: no file of `host/src` is over [`MAX_LINES`] lines.
//!
//! The same check runs as a test of this crate (`cargo test --workspace`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The host's top-level modules, lowest first: a module may import only the
/// modules before it. See "Layers" in `docs/ARCHITECTURE.md`.
pub const LAYERS: &[&[&str]] = &[
    &["scope", "pace"],
    &["model"],
    &["gate", "openid"],
    &["store"],
    &["audit"],
    &["runtime"],
    &["config"],
    &["service"],
    &["demo"],
    &["api"],
    &["devkit"],
];

/// The most lines a file of `host/src` may have.
pub const MAX_LINES: usize = 500;

/// A module path inside the crate (`["store", "kv"]`; `[]` is the root).
type ModPath = Vec<String>;

/// One rule broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// `from` imports `to`, which is not below it.
    Upward { file: String, from: String, to: String, line: usize },
    /// These siblings import each other in a circle.
    Circle { parent: String, members: Vec<String> },
    /// The file is too long.
    TooLong { file: String, lines: usize },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Upward { file, from, to, line } => {
                write!(f, "{file}:{line}: `{from}` imports `{to}`, which is not below it in the layers")
            }
            Violation::Circle { parent, members } => {
                write!(f, "circle in `{parent}`: {} import each other", members.join(", "))
            }
            Violation::TooLong { file, lines } => write!(f, "{file} has {lines} lines (at most {MAX_LINES})"),
        }
    }
}

/// A source file: its module path and its text.
struct Source {
    file: String,
    module: ModPath,
    text: String,
}

/// Checks `src` (a crate's `src` folder) and returns every rule it breaks.
pub fn check(src: &Path) -> anyhow::Result<Vec<Violation>> {
    let sources = read_sources(src)?;
    let modules: BTreeSet<ModPath> = sources.iter().map(|s| s.module.clone()).collect();
    let rank = |top: &str| LAYERS.iter().position(|layer| layer.contains(&top));
    let mut violations = Vec::new();
    // Sibling edges, by parent module.
    let mut edges: BTreeMap<ModPath, BTreeSet<(String, String)>> = BTreeMap::new();
    for source in &sources {
        let lines = source.text.lines().count();
        if lines > MAX_LINES {
            violations.push(Violation::TooLong { file: source.file.clone(), lines });
        }
        for (line, path) in references(&source.text, &source.module) {
            let target = resolve(&modules, &path);
            let (Some(from_top), Some(to_top)) = (source.module.first(), target.first()) else { continue };
            if from_top != to_top {
                let ok = match (rank(from_top), rank(to_top)) {
                    (Some(from), Some(to)) => to < from,
                    _ => false,
                };
                let reported = violations
                    .iter()
                    .any(|v| matches!(v, Violation::Upward { file, to, .. } if *file == source.file && to == to_top));
                if !ok && !reported {
                    violations.push(Violation::Upward {
                        file: source.file.clone(),
                        from: from_top.clone(),
                        to: to_top.clone(),
                        line,
                    });
                }
            }
            // The nearest common ancestor, and the two children of it the
            // edge runs between (none when one is inside the other).
            let common = source.module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if let (Some(from), Some(to)) = (source.module.get(common), target.get(common)) {
                edges.entry(source.module[..common].to_vec()).or_default().insert((from.clone(), to.clone()));
            }
        }
    }
    for (parent, edges) in edges {
        for members in circles(&edges) {
            violations.push(Violation::Circle { parent: display(&parent), members });
        }
    }
    Ok(violations)
}

fn display(module: &[String]) -> String {
    if module.is_empty() { "crate".to_owned() } else { module.join("::") }
}

fn read_sources(src: &Path) -> anyhow::Result<Vec<Source>> {
    let mut files = Vec::new();
    collect(src, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(src).expect("under src");
            let mut module: ModPath = relative.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            let last = module.pop().unwrap_or_default();
            let stem = last.trim_end_matches(".rs");
            if !matches!(stem, "mod" | "lib" | "main") {
                module.push(stem.to_owned());
            }
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let file = Path::new("host/src").join(relative).display().to_string();
            Ok(Source { file, module, text })
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    Ok(())
}

/// The longest prefix of `path` that is a module (the rest names items).
fn resolve(modules: &BTreeSet<ModPath>, path: &[String]) -> ModPath {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|prefix| modules.contains(prefix)).unwrap_or_default()
}

/// Every crate-internal path the code of a file names, absolute, with its
/// line: `use` trees expanded, and `crate::…`, `super::…` and `self::…` paths
/// in code. Comments are skipped; `mod` declarations are not imports.
fn references(text: &str, module: &ModPath) -> Vec<(usize, ModPath)> {
    let mut found = Vec::new();
    let mut statement = String::new();
    let mut statement_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        let trimmed = line.trim_start();
        if statement.is_empty() {
            let rest = trimmed.strip_prefix("pub(crate) ").or_else(|| trimmed.strip_prefix("pub(super) "));
            let rest = rest.or_else(|| trimmed.strip_prefix("pub ")).unwrap_or(trimmed);
            if let Some(tree) = rest.strip_prefix("use ") {
                statement_line = index + 1;
                statement.push_str(tree);
            } else {
                for path in inline_paths(line) {
                    if let Some(absolute) = absolute(&path, module) {
                        found.push((index + 1, absolute));
                    }
                }
                continue;
            }
        } else {
            statement.push(' ');
            statement.push_str(trimmed);
        }
        if let Some(end) = statement.find(';') {
            // `x as y` keeps `x`: the alias is marked, then spaces go.
            let tree = statement[..end].split_whitespace().collect::<Vec<_>>().join(" ").replace(" as ", "@");
            let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
            for path in expand(&tree) {
                if let Some(absolute) = absolute(&path, module) {
                    found.push((statement_line, absolute));
                }
            }
            statement.clear();
        }
    }
    found
}

fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with("//") {
        return "";
    }
    // A `//` after code, outside a string (good enough: strings with `//`
    // in them, like URLs, hold no crate paths).
    match line.find(" //") {
        Some(at) if !line[..at].contains('"') => &line[..at],
        _ => line,
    }
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e` (spaces removed,
/// aliases marked `@`).
fn expand(tree: &str) -> Vec<Vec<String>> {
    let Some(open) = tree.find('{') else {
        let path = tree.split('@').next().unwrap_or(tree);
        return vec![path.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect()];
    };
    let prefix: Vec<String> = tree[..open].split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.is_empty())
        .flat_map(|item| {
            expand(item).into_iter().map(|rest| {
                let mut path = prefix.clone();
                path.extend(rest.into_iter().filter(|s| s != "self"));
                path
            })
        })
        .collect()
}

/// `crate::…`, `super::…` and `self::…` paths in a line of code.
fn inline_paths(line: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes = line.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = line[from..].find(start).map(|i| i + from) {
            from = at + start.len();
            let boundary =
                at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':');
            if !boundary {
                continue;
            }
            let end = line[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(line.len(), |i| i + at);
            paths.push(line[at..end].split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect());
        }
    }
    paths
}

/// `path` from the crate root, if it is inside the crate.
fn absolute(path: &[String], module: &ModPath) -> Option<ModPath> {
    let (first, rest) = path.split_first()?;
    let mut base = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => {
            let mut base = module.clone();
            base.pop();
            let mut rest = rest;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            return Some(base);
        }
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The circles (strongly connected parts of more than one node) of a graph.
fn circles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    let reaches = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            for (a, b) in edges {
                if a == node && seen.insert(b) {
                    stack.push(b);
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<&String>> = nodes.iter().map(|n| (*n, reaches(n))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for node in &nodes {
        if done.contains(node) || !reach[node].contains(node) {
            continue;
        }
        let part: Vec<String> = nodes
            .iter()
            .filter(|m| reach[node].contains(*m) && reach[*m].contains(*node))
            .map(|m| (*m).clone())
            .collect();
        done.extend(nodes.iter().filter(|m| part.contains(m)).copied());
        found.push(part);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
    }

    #[test]
    fn the_host_keeps_its_layers_has_no_circles_and_no_long_files() {
        let violations = check(&crate::repo_root().join("host/src")).expect("read host/src");
        let report: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert!(report.is_empty(), "host/src breaks the layout rules:\n{}", report.join("\n"));
    }

    #[test]
    fn an_upward_import_a_circle_and_a_long_file_are_each_reported() {
        let dir = std::env::temp_dir().join(format!("layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let long = "fn f() {}\n".repeat(MAX_LINES + 1);
        write(
            &dir,
            &[
                ("lib.rs", "pub mod model;\npub mod store;\n"),
                ("model/mod.rs", "//! uses crate::store in a comment only\npub mod a;\n"),
                ("model/a.rs", "use crate::{scope, store::{kv::Kv, Store}};\n"),
                ("store/mod.rs", "mod kv;\nmod backend;\nuse crate::model::a::X;\n"),
                ("store/kv.rs", "use super::backend::SqlStore;\n"),
                ("store/backend.rs", &format!("fn g() {{ super::kv::put(); }}\n{long}")),
            ],
        );
        let violations = check(&dir).expect("check");
        let _ = std::fs::remove_dir_all(&dir);
        let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert!(
            violations.contains(&Violation::Upward {
                file: "host/src/model/a.rs".into(),
                from: "model".into(),
                to: "store".into(),
                line: 1
            }),
            "{text:?}"
        );
        assert!(
            violations
                .contains(&Violation::Circle { parent: "store".into(), members: vec!["backend".into(), "kv".into()] }),
            "{text:?}"
        );
        assert!(
            violations.contains(&Violation::TooLong { file: "host/src/store/backend.rs".into(), lines: MAX_LINES + 2 }),
            "{text:?}"
        );
        // The upward import also makes a circle of the two layers; it is
        // reported once per file. store → model is downward, and the comment
        // in model/mod.rs is no import.
        assert!(
            violations
                .contains(&Violation::Circle { parent: "crate".into(), members: vec!["model".into(), "store".into()] }),
            "{text:?}"
        );
        assert_eq!(violations.len(), 4, "{text:?}");
    }
}
