//! Rebuilds the host when a migration or a file of the page is added or
//! changed: `sqlx::migrate!` embeds the migration folders and rust-embed the
//! page's folder at compile time (a new file is in no include the compiler
//! tracks).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=ui");
}
