//! Writes the served documents (`sdxl_core::documents`) into a directory of the Worker's static
//! assets: `cargo run -p sdxl-core --bin documents -- <dir>`. Run by scripts/build-worker.sh.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: documents <directory>");
        std::process::exit(2)
    }));
    std::fs::create_dir_all(&dir)?;
    for (name, text) in sdxl_core::documents::files() {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}
