//! Chapter: passwords (placeholder until palisade-password lands).

use std::error::Error;

pub(crate) fn run() -> Result<(), Box<dyn Error>> {
    palisade_examples::chapter(
        1,
        "Passwords",
        "passwords are hashed and never appear in logs",
    );
    Ok(())
}
