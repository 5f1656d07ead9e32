//! Rebuild when a migration changes: `sqlx::migrate!` embeds the migration files at compile time, and
//! on stable Rust a proc macro cannot tell Cargo which files it read.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
