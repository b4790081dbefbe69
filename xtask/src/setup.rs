//! What the demo and the tests need from the machine beyond Rust: a
//! wasm32-wasip2 toolchain, and for the tests Chromium, Node.js and `psql`.
//! [`ensure`] installs what is missing from Debian's packages when it runs as
//! root where `apt-get` is, and otherwise stops with the one command to run.

use std::path::Path;
use std::process::Command;

use anyhow::bail;

/// Something the machine must have, and the Debian packages that give it.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// What it is, for messages.
    pub what: &'static str,
    /// Whether the machine has it.
    pub present: fn() -> bool,
    /// The Debian packages that provide it.
    pub packages: &'static [&'static str],
}

/// A wasm32-wasip2 toolchain: rustup's target, or Debian's Rust with std from
/// source (docs/ARCHITECTURE.md, "Building guests").
pub const WASM_TOOLCHAIN: Need = Need {
    what: "a wasm32-wasip2 toolchain",
    present: || crate::Toolchain::installed().is_some(),
    packages: &crate::toolchain::DEBIAN_PACKAGES,
};

/// Chromium for the browser tests (`CHROMIUM` may name another binary).
pub const CHROMIUM: Need = Need {
    what: "Chromium (for the browser tests)",
    present: || Path::new(&chromium()).exists(),
    packages: &["chromium"],
};

/// The Chromium binary the browser tests drive: `CHROMIUM`, else Debian's.
pub fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// A CJK font, so that the browser tests' screenshots show the Chinese text.
pub const CJK_FONT: Need = Need {
    what: "a CJK font (for the browser tests' screenshots)",
    present: || Path::new("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc").exists(),
    packages: &["fonts-wqy-microhei"],
};

/// Node.js, which runs the browser tests.
pub const NODE: Need =
    Need { what: "Node.js (runs the browser tests)", present: || on_path("node"), packages: &["nodejs", "npm"] };

/// `psql`, which makes and drops the tests' PostgreSQL schemas.
pub const PSQL: Need = Need {
    what: "psql (the tests' PostgreSQL schemas)",
    present: || on_path("psql"),
    packages: &["postgresql-client"],
};

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// What to do about the needs not met.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Everything is there.
    Nothing,
    /// Install these packages with apt-get.
    Install(Vec<&'static str>),
    /// Cannot install here: the message says what to run.
    Tell(String),
}

/// The plan for `missing` needs on a machine where we are root or not and
/// apt-get is there or not.
pub fn plan(missing: &[Need], root: bool, apt: bool) -> Plan {
    if missing.is_empty() {
        return Plan::Nothing;
    }
    let mut packages: Vec<&'static str> = missing.iter().flat_map(|need| need.packages.iter().copied()).collect();
    packages.dedup();
    if root && apt {
        return Plan::Install(packages);
    }
    let what: Vec<&str> = missing.iter().map(|need| need.what).collect();
    let command = format!("{}apt-get install {}", if root { "" } else { "sudo " }, packages.join(" "));
    let how = if apt { format!("run `{command}`") } else { format!("install them (on Debian: `{command}`)") };
    Plan::Tell(format!("this machine lacks {}: {how}, then run the command again", what.join(", ")))
}

/// Makes sure the machine has every one of `needs`, installing what is
/// missing when it can (see the module's documentation).
pub fn ensure(needs: &[Need]) -> anyhow::Result<()> {
    let missing: Vec<Need> = needs.iter().copied().filter(|need| !(need.present)()).collect();
    let root =
        Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    let apt = Path::new("/usr/bin/apt-get").exists();
    match plan(&missing, root, apt) {
        Plan::Nothing => Ok(()),
        Plan::Tell(message) => bail!(message),
        Plan::Install(packages) => {
            println!(
                "installing {} ({})",
                packages.join(" "),
                missing.iter().map(|n| n.what).collect::<Vec<_>>().join(", ")
            );
            let update = Command::new("apt-get").args(["update", "-qq"]).status()?;
            if !update.success() {
                bail!("apt-get update failed ({update})");
            }
            let install = Command::new("apt-get")
                .args(["install", "-y", "-qq"])
                .args(&packages)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()?;
            if !install.success() {
                bail!("apt-get install {} failed ({install})", packages.join(" "));
            }
            let still: Vec<&str> = missing.iter().filter(|need| !(need.present)()).map(|need| need.what).collect();
            if !still.is_empty() {
                bail!("still missing after apt-get install: {}", still.join(", "));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_missing_is_installed_as_root_with_apt_and_told_otherwise() {
        assert_eq!(plan(&[], false, false), Plan::Nothing);
        assert_eq!(plan(&[NODE, PSQL], true, true), Plan::Install(vec!["nodejs", "npm", "postgresql-client"]));
        let Plan::Tell(message) = plan(&[WASM_TOOLCHAIN], false, true) else { panic!("told") };
        assert!(message.contains("a wasm32-wasip2 toolchain"), "{message}");
        assert!(
            message.contains("`sudo apt-get install rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc`"),
            "{message}"
        );
        let Plan::Tell(message) = plan(&[CHROMIUM], true, false) else { panic!("told") };
        assert!(message.contains("on Debian: `apt-get install chromium`"), "{message}");
    }
}
