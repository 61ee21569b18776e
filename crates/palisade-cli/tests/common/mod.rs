//! What the CLI's integration tests share: running the built binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `command` with `stdin` as its standard input and collects its exit
/// status and output.
///
/// The input is written from another thread: an input larger than the pipe
/// would otherwise wait for output nobody reads yet. A run that exits before
/// reading its input (a refusal of its arguments, say) breaks the pipe; that
/// is not a failure of the test, whose assertions are on the status and the
/// output. Any other write error is.
pub(crate) fn run(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        if let Err(e) = pipe.write_all(&input) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}
