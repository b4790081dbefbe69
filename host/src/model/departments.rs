//! A tenant's departments as a tree, and a plugin's visible range as rules
//! over it: everyone, departments (with their sub-departments), members,
//! and a deny list of departments and members that wins. The range is
//! evaluated when a member calls, against the directory as it is then.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// A department: an id, its name, and the department it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// Department id (1 to 64 of a-z, 0-9, `.`, `_`, `-`).
    #[schema(example = "eng.site")]
    pub id: String,
    /// Its name as people read it.
    #[schema(example = "工地项目部")]
    pub name: String,
    /// The department it is part of; none for a top-level department.
    #[serde(default)]
    #[schema(example = "eng")]
    pub parent: Option<String>,
}

/// How deep a tree may go: a parent chain longer than this is refused when
/// it is made, and never followed further when read.
pub const MAX_DEPTH: usize = 32;

/// The departments of a tenant, by id, for finding each one's ancestors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepartmentTree {
    parents: HashMap<String, Option<String>>,
}

impl DepartmentTree {
    /// A tree of `(id, parent)` pairs.
    pub fn new(departments: impl IntoIterator<Item = (String, Option<String>)>) -> Self {
        Self { parents: departments.into_iter().collect() }
    }

    /// Whether a department of that id exists.
    pub fn contains(&self, id: &str) -> bool {
        self.parents.contains_key(id)
    }

    /// `ids` with every department each belongs to, up to the top (a
    /// member of 工地项目部 is a member of 工程部 too).
    pub fn with_ancestors<'a>(&self, ids: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let mut all = BTreeSet::new();
        for id in ids {
            let mut next = Some(id.clone());
            for _ in 0..=MAX_DEPTH {
                let Some(current) = next.take() else { break };
                next = self.parents.get(&current).cloned().flatten();
                if !all.insert(current) {
                    break;
                }
            }
        }
        all.into_iter().collect()
    }

    /// The chain from `parent` up, as far as [`MAX_DEPTH`]: what a
    /// department under `parent` would have above it.
    pub fn chain_from(&self, parent: &str) -> Vec<String> {
        let mut chain = Vec::new();
        let mut next = Some(parent.to_owned());
        while let Some(current) = next.take() {
            if chain.contains(&current) || chain.len() > MAX_DEPTH {
                break;
            }
            next = self.parents.get(&current).cloned().flatten();
            chain.push(current);
        }
        chain
    }
}

/// Who sees an installed plugin: rules evaluated at each call. A member
/// is in range when no deny rule names them or one of their departments
/// (with its ancestors), and `everyone` is set or a rule names them or one
/// of their departments (with its ancestors).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisibleRange {
    /// Everyone in the tenant.
    #[serde(default)]
    pub everyone: bool,
    /// Members of these departments and of their sub-departments.
    #[serde(default)]
    pub departments: Vec<String>,
    /// These members.
    #[serde(default)]
    pub members: Vec<String>,
    /// Never members of these departments or their sub-departments.
    #[serde(default)]
    pub deny_departments: Vec<String>,
    /// Never these members.
    #[serde(default)]
    pub deny_members: Vec<String>,
}

impl VisibleRange {
    /// Everyone in the tenant.
    pub fn everyone() -> Self {
        Self { everyone: true, ..Self::default() }
    }

    /// Exactly these members.
    pub fn only(members: Vec<String>) -> Self {
        Self { members, ..Self::default() }
    }

    /// Whether `member`, who belongs to `departments` (each with its
    /// ancestors: see [`DepartmentTree::with_ancestors`]), is in range.
    pub fn admits(&self, member: &str, departments: &[String]) -> bool {
        let named = |list: &[String]| departments.iter().any(|d| list.contains(d));
        if self.deny_members.iter().any(|m| m == member) || named(&self.deny_departments) {
            return false;
        }
        self.everyone || self.members.iter().any(|m| m == member) || named(&self.departments)
    }

    /// Whether any rule names a department (evaluating it needs the tree).
    pub fn uses_departments(&self) -> bool {
        !self.departments.is_empty() || !self.deny_departments.is_empty()
    }

    /// The rules in a line, for the audit log.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.everyone {
            parts.push("everyone".to_owned());
        }
        for (label, list) in [
            ("departments", &self.departments),
            ("members", &self.members),
            ("except departments", &self.deny_departments),
            ("except members", &self.deny_members),
        ] {
            if !list.is_empty() {
                parts.push(format!("{label} {}", list.join(", ")));
            }
        }
        if parts.is_empty() { "nobody".to_owned() } else { parts.join("; ") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> DepartmentTree {
        DepartmentTree::new([
            ("eng".to_owned(), None),
            ("eng.site".to_owned(), Some("eng".to_owned())),
            ("eng.site.north".to_owned(), Some("eng.site".to_owned())),
            ("finance".to_owned(), None),
        ])
    }

    #[test]
    fn a_member_of_a_sub_department_is_in_every_department_above_it() {
        let north = vec!["eng.site.north".to_owned()];
        assert_eq!(tree().with_ancestors(&north), ["eng", "eng.site", "eng.site.north"]);
        // A cycle written straight into the store is not followed forever.
        let cycle =
            DepartmentTree::new([("a".to_owned(), Some("b".to_owned())), ("b".to_owned(), Some("a".to_owned()))]);
        assert_eq!(cycle.with_ancestors(&vec!["a".to_owned()]), ["a", "b"]);
        assert_eq!(tree().chain_from("eng.site"), ["eng.site", "eng"]);
    }

    #[test]
    fn deny_rules_win_and_departments_include_their_sub_departments() {
        let range = VisibleRange {
            departments: vec!["eng".into()],
            members: vec!["wang.fang".into()],
            deny_departments: vec!["eng.site.north".into()],
            deny_members: vec!["li.na".into()],
            ..VisibleRange::default()
        };
        let t = tree();
        let of = |ids: &[&str]| t.with_ancestors(&ids.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(range.admits("zhang.wei", &of(&["eng.site"])));
        assert!(!range.admits("zhao.lei", &of(&["eng.site.north"])), "a denied sub-department");
        assert!(!range.admits("li.na", &of(&["eng"])), "a denied member of an allowed department");
        assert!(range.admits("wang.fang", &of(&["finance"])), "named as a member");
        assert!(!range.admits("chen.jing", &of(&["finance"])));
        assert!(VisibleRange::everyone().admits("x", &[]) && !VisibleRange::default().admits("x", &[]));
        let everyone_but = VisibleRange { deny_members: vec!["x".into()], ..VisibleRange::everyone() };
        assert!(!everyone_but.admits("x", &[]) && everyone_but.admits("y", &[]));
        assert_eq!(
            range.describe(),
            "departments eng; members wang.fang; except departments eng.site.north; except members li.na"
        );
        assert_eq!(VisibleRange::default().describe(), "nobody");
    }
}
