//! Reading secrets and documents from standard input.

use std::io::{self, BufRead, IsTerminal, Read};

use zeroize::Zeroizing;

use crate::Failure;

/// Reads a secret: at a terminal, asked for with `prompt` and typed without
/// echo (on the terminal itself, not standard output); otherwise the first
/// line of standard input without its line ending (`\n` or `\r\n`). The
/// buffer is wiped when dropped.
pub(crate) fn secret_line(prompt: &str) -> Result<Zeroizing<String>, Failure> {
    if io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| Failure::input(format_args!("cannot read from the terminal: {e}")));
    }
    let mut line = Zeroizing::new(String::new());
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::input(format_args!("cannot read standard input: {e}")))?;
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(line)
}

/// Reads all of standard input as bytes.
#[allow(
    dead_code,
    reason = "used by the subcommands that read whole documents"
)]
pub(crate) fn all_bytes() -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .map_err(|e| Failure::input(format_args!("cannot read standard input: {e}")))?;
    Ok(buf)
}
