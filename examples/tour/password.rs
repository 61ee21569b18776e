//! Chapter: passwords (placeholder until palisade-password lands).

use std::error::Error;
use std::path::Path;

pub(crate) fn run(_workdir: &Path) -> Result<(), Box<dyn Error>> {
    palisade_examples::chapter(
        1,
        "Passwords",
        "passwords are hashed and never appear in logs",
    );
    Ok(())
}
