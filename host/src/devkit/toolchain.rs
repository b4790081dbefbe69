//! The toolchain that builds Rust plugins for `wasm32-wasip2`: rustup's
//! target when it is installed, else Debian's `rustc-web` toolchain building
//! `std` from source. Standard library only: the xtask includes this file
//! too (`xtask/src/lib.rs`), so the repository's own build and
//! `workbench plugin build` pick the same toolchain the same way.

use std::path::Path;
use std::process::Command;

/// The target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Debian's packages that give a working `wasm32-wasip2` toolchain.
pub const DEBIAN_PACKAGES: [&str; 6] =
    ["rustc-web", "cargo-web", "rust-web-src", "rust-web-llvm", "lld-22", "wasi-libc"];

/// Debian's wasi-libc, which `std` links against when built from source.
const DEBIAN_WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

/// A toolchain that builds `wasm32-wasip2` components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    /// rustup's toolchain with the `wasm32-wasip2` target installed.
    Rustup,
    /// Debian's `rustc-web` toolchain, building `std` from source.
    Debian,
}

impl Toolchain {
    /// The toolchain installed here, if any: rustup's target first.
    pub fn installed() -> Option<Self> {
        if rustup_has_target() {
            Some(Self::Rustup)
        } else if ["/usr/bin/cargo", "/usr/bin/rustc", DEBIAN_WASI_LIBC, "/usr/lib/rustlib/src/rust/library"]
            .iter()
            .all(|path| Path::new(path).exists())
        {
            Some(Self::Debian)
        } else {
            None
        }
    }

    /// What to run when no toolchain is installed.
    pub fn missing() -> String {
        format!(
            "no toolchain for {TARGET}: run `rustup target add {TARGET}`, or where rustup cannot download targets \
             (Debian, Ubuntu), `apt-get install {}`",
            DEBIAN_PACKAGES.join(" ")
        )
    }

    /// `cargo build --release --target wasm32-wasip2` for the crate or
    /// workspace in `dir`, into `target_dir`.
    pub fn cargo_build(&self, dir: &Path, target_dir: &Path) -> Command {
        let mut command = match self {
            Self::Rustup => native_cargo(),
            Self::Debian => clean_cargo("/usr/bin/cargo".as_ref()),
        };
        command.current_dir(dir).args(["build", "--release", "--target", TARGET, "--target-dir"]).arg(target_dir);
        if *self == Self::Debian {
            command
                .env("RUSTC", "/usr/bin/rustc")
                .env("RUSTC_BOOTSTRAP", "1")
                .env("RUSTFLAGS", format!("-L {DEBIAN_WASI_LIBC}"))
                .arg("-Zbuild-std=std,panic_abort");
        }
        command
    }
}

/// The machine's own cargo (the one running us when there is one), with
/// nothing a parent cargo left in the environment.
pub fn native_cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    clean_cargo(Path::new(&cargo))
}

/// `cargo` without the settings a parent cargo (tests, benches, an xtask)
/// leaves in the environment: they must not leak into another build.
fn clean_cargo(cargo: &Path) -> Command {
    let mut command = Command::new(cargo);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") || key.starts_with("RUSTC") || key == "RUSTFLAGS" || key == "RUSTUP_TOOLCHAIN" {
            command.env_remove(key.as_ref());
        }
    }
    command
}

fn rustup_has_target() -> bool {
    let Ok(output) = Command::new("rustup").args(["target", "list", "--installed"]).output() else {
        return false;
    };
    output.status.success() && String::from_utf8_lossy(&output.stdout).lines().any(|line| line.trim() == TARGET)
}
