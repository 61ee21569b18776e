//! `palisade crypt …` run as a user would: the built binary, its output and
//! exit status (0 ok, 1 does not authenticate, 2 malformed).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use palisade_crypt::{Ciphertext, Context, Keyring};

fn palisade(args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command.args(args);
    common::run(command, stdin)
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }
    fn keyring(&self) -> PathBuf {
        let path = self.0.path().join("keyring.json");
        if !path.exists() {
            let out = palisade(&["crypt", "keygen", "--keyring", s(&path)], b"");
            assert_eq!(code(&out), 0, "{}", text(&out.stderr));
            assert_eq!(text(&out.stdout), "primary key 1\n");
        }
        path
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

const CTX: &str = "tenant=acme,table=users,column=email,row=42";

fn encrypt(keyring: &Path, context: &str, plaintext: &[u8]) -> String {
    let out = palisade(
        &[
            "crypt",
            "encrypt",
            "--keyring",
            s(keyring),
            "--context",
            context,
        ],
        plaintext,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let token = text(&out.stdout);
    assert!(token.starts_with("pcrypt:") && token.ends_with('\n') && token.lines().count() == 1);
    token
}

#[test]
fn keygen_creates_an_owner_only_keyring_and_refuses_to_overwrite() {
    let dir = Dir::new();
    let keyring = dir.keyring();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&keyring).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let again = palisade(&["crypt", "keygen", "--keyring", s(&keyring)], b"");
    assert_eq!(code(&again), 2);
    // The file is a library keyring.
    assert_eq!(Keyring::load(&keyring).unwrap().primary_id(), 1);
}

#[cfg(unix)]
#[test]
fn a_keyring_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    let keyring = dir.keyring();
    std::fs::set_permissions(&keyring, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = palisade(&["crypt", "encrypt", "--keyring", s(&keyring)], b"x");
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("chmod 600"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn encrypt_decrypt_round_trip_and_exit_codes() {
    let dir = Dir::new();
    let keyring = dir.keyring();
    let plaintext = b"alice@example.com\n\x00binary";
    let token = encrypt(&keyring, CTX, plaintext);
    // The library reads what the CLI wrote, with the same context.
    let ct: Ciphertext = token.trim().parse().unwrap();
    let library = Keyring::load(&keyring).unwrap();
    let context = Context::parse(CTX).unwrap();
    assert_eq!(&library.decrypt(&ct, &context).unwrap()[..], plaintext);

    let ok = palisade(
        &[
            "crypt",
            "decrypt",
            "--keyring",
            s(&keyring),
            "--context",
            CTX,
        ],
        token.as_bytes(),
    );
    assert_eq!(code(&ok), 0);
    assert_eq!(ok.stdout, plaintext);

    // Wrong context (another row): 1.
    let other_row = palisade(
        &[
            "crypt",
            "decrypt",
            "--keyring",
            s(&keyring),
            "--context",
            "tenant=acme,table=users,column=email,row=43",
        ],
        token.as_bytes(),
    );
    assert_eq!(code(&other_row), 1);
    assert!(other_row.stdout.is_empty());
    assert_eq!(
        text(&other_row.stderr),
        "palisade: ciphertext does not authenticate\n"
    );

    // Wrong key: another keyring, 1.
    let other = Dir::new();
    let wrong_key = palisade(
        &[
            "crypt",
            "decrypt",
            "--keyring",
            s(&other.keyring()),
            "--context",
            CTX,
        ],
        token.as_bytes(),
    );
    assert_eq!(code(&wrong_key), 1);

    // Tampered token (one base64 character changed): 1.
    let mut tampered = token.trim().to_string().into_bytes();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let out = palisade(
        &[
            "crypt",
            "decrypt",
            "--keyring",
            s(&keyring),
            "--context",
            CTX,
        ],
        &tampered,
    );
    assert_eq!(code(&out), 1);

    // Malformed: 2.
    for bad in [&b"not a token"[..], b"pcrypt:!!!", b"pcrypt:AQ", b""] {
        let out = palisade(
            &[
                "crypt",
                "decrypt",
                "--keyring",
                s(&keyring),
                "--context",
                CTX,
            ],
            bad,
        );
        assert_eq!(code(&out), 2, "{:?}", text(bad));
    }
    // A malformed context: 2.
    let out = palisade(
        &[
            "crypt",
            "decrypt",
            "--keyring",
            s(&keyring),
            "--context",
            "row",
        ],
        token.as_bytes(),
    );
    assert_eq!(code(&out), 2);
}

#[test]
fn rotate_keeps_old_tokens_and_rewrap_moves_them() {
    let dir = Dir::new();
    let keyring = dir.keyring();
    let old = encrypt(&keyring, CTX, b"v1");
    let out = palisade(&["crypt", "rotate", "--keyring", s(&keyring)], b"");
    assert_eq!(
        (code(&out), text(&out.stdout)),
        (0, "primary key 2\n".into())
    );
    let decrypted = palisade(
        &[
            "crypt",
            "decrypt",
            "--keyring",
            s(&keyring),
            "--context",
            CTX,
        ],
        old.as_bytes(),
    );
    assert_eq!(decrypted.stdout, b"v1");

    // Lines with the default context, and `CONTEXT<TAB>TOKEN` lines.
    let other = encrypt(&keyring, "row=7", b"seven");
    let input = format!("{old}row=7\t{other}");
    let out = palisade(
        &[
            "crypt",
            "rewrap",
            "--keyring",
            s(&keyring),
            "--context",
            CTX,
        ],
        input.as_bytes(),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2);
    let library = Keyring::load(&keyring).unwrap();
    let first: Ciphertext = lines[0].parse().unwrap();
    assert_eq!(first.key_id(), 2);
    assert_eq!(
        &library
            .decrypt(&first, &Context::parse(CTX).unwrap())
            .unwrap()[..],
        b"v1"
    );
    let (ctx, token) = lines[1].split_once('\t').unwrap();
    assert_eq!(ctx, "row=7");
    let second: Ciphertext = token.parse().unwrap();
    assert_eq!(
        &library
            .decrypt(&second, &Context::parse("row=7").unwrap())
            .unwrap()[..],
        b"seven"
    );

    // One bad line: nothing printed, exit 1, the line named.
    let input = format!("{old}{other}");
    let out = palisade(
        &[
            "crypt",
            "rewrap",
            "--keyring",
            s(&keyring),
            "--context",
            CTX,
        ],
        input.as_bytes(),
    );
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );

    // Retire and trim: the old token stops decrypting.
    let out = palisade(
        &["crypt", "retire", "--keyring", s(&keyring), "--below", "2"],
        b"",
    );
    assert_eq!(code(&out), 0);
    let refused = palisade(
        &[
            "crypt",
            "decrypt",
            "--keyring",
            s(&keyring),
            "--context",
            CTX,
        ],
        old.as_bytes(),
    );
    assert_eq!(code(&refused), 1);
    let out = palisade(
        &["crypt", "trim", "--keyring", s(&keyring), "--below", "2"],
        b"",
    );
    assert_eq!(
        (code(&out), text(&out.stdout)),
        (0, "deleted 1 keys\n".into())
    );
    let out = palisade(
        &["crypt", "trim", "--keyring", s(&keyring), "--below", "3"],
        b"",
    );
    assert_eq!(code(&out), 2);
}

#[test]
fn seal_and_open_streams_with_exit_codes() {
    let dir = Dir::new();
    let keyring = dir.keyring();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let sealed = palisade(
        &[
            "crypt",
            "seal",
            "--keyring",
            s(&keyring),
            "--context",
            "backup=nightly",
        ],
        &data,
    );
    assert_eq!(code(&sealed), 0, "{}", text(&sealed.stderr));
    // Not a terminal: no progress display.
    assert!(sealed.stderr.is_empty());
    assert_eq!(sealed.stdout.len(), 73 + data.len() + 5 * 16);
    let opened = palisade(
        &[
            "crypt",
            "open",
            "--keyring",
            s(&keyring),
            "--context",
            "backup=nightly",
        ],
        &sealed.stdout,
    );
    assert_eq!(code(&opened), 0);
    assert_eq!(opened.stdout, data);

    let open = |bytes: &[u8], ctx: &str| {
        palisade(
            &["crypt", "open", "--keyring", s(&keyring), "--context", ctx],
            bytes,
        )
    };
    // Truncated at a chunk boundary.
    let out = open(&sealed.stdout[..73 + 2 * (65536 + 16)], "backup=nightly");
    assert_eq!(code(&out), 1);
    assert!(
        text(&out.stderr).contains("truncated"),
        "{}",
        text(&out.stderr)
    );
    // Wrong context.
    assert_eq!(code(&open(&sealed.stdout, "backup=weekly")), 1);
    // A flipped bit in the middle.
    let mut flipped = sealed.stdout.clone();
    flipped[150_000] ^= 0x20;
    assert_eq!(code(&open(&flipped, "backup=nightly")), 1);
    // Not a sealed stream.
    assert_eq!(
        code(&open(b"hello, this is not sealed at all", "backup=nightly")),
        2
    );
}

#[test]
fn any_thread_count_seals_and_opens_the_same_stream() {
    let dir = Dir::new();
    let keyring = dir.keyring();
    // 40 chunks: several batches whatever the thread count.
    let data: Vec<u8> = (0..40 * 65_536u32).map(|i| (i * 13 % 251) as u8).collect();
    let run = |verb: &str, threads: &str, input: &[u8]| {
        palisade(
            &[
                "crypt",
                verb,
                "--keyring",
                s(&keyring),
                "--threads",
                threads,
            ],
            input,
        )
    };
    for (seal_threads, open_threads) in [("1", "3"), ("3", "1"), ("2", "2")] {
        let sealed = run("seal", seal_threads, &data);
        assert_eq!(code(&sealed), 0, "{}", text(&sealed.stderr));
        assert_eq!(sealed.stdout.len(), 73 + data.len() + 40 * 16);
        let opened = run("open", open_threads, &sealed.stdout);
        assert_eq!(code(&opened), 0, "{}", text(&opened.stderr));
        assert!(opened.stdout == data, "{seal_threads} -> {open_threads}");
        // Cut after 30 chunks: 29 are released, then the verdict.
        let cut = run(
            "open",
            open_threads,
            &sealed.stdout[..73 + 30 * (65_536 + 16)],
        );
        assert_eq!(code(&cut), 1);
        assert!(cut.stdout == data[..29 * 65_536], "{open_threads} threads");
    }
    assert_eq!(code(&run("seal", "0", b"x")), 2);
}

#[test]
fn blind_index_normalizes_and_plans() {
    let dir = Dir::new();
    let keyring = dir.keyring();
    let index = |value: &str, extra: &[&str]| {
        let mut args = vec![
            "crypt",
            "blind-index",
            "--keyring",
            s(&keyring),
            "--index",
            "users.email",
        ];
        args.extend_from_slice(extra);
        let out = palisade(&args, value.as_bytes());
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let a = index("Alice@Example.com\n", &["--normalize", "lowercase"]);
    assert_eq!(
        a,
        index("  alice@example.com  \n", &["--normalize", "lowercase"])
    );
    assert_eq!(a.trim().len(), 4, "16 bits by default");
    assert_ne!(a, index("bob@example.com\n", &["--normalize", "lowercase"]));
    // The library computes the same value.
    let library = Keyring::load(&keyring).unwrap();
    let expected = library
        .blind_index(
            "users.email",
            16,
            palisade_crypt::Normalizer::CaseInsensitive,
        )
        .unwrap()
        .compute("alice@example.com");
    assert_eq!(a.trim(), expected.to_hex());
    // --rows picks the largest safe size: 14 bits for 50 000 rows.
    let sized = index("x\n", &["--rows", "50000"]);
    assert_eq!(sized.trim().len(), 4);
    assert_eq!(
        index("123-45-6789\n", &["--normalize", "last4"]),
        index("6789\n", &["--normalize", "last4"])
    );
    let out = palisade(&["crypt", "plan-index", "--rows", "50000"], b"");
    assert_eq!(text(&out.stdout), "8..=14 bits (prefer 14)\n");
    let out = palisade(
        &[
            "crypt",
            "blind-index",
            "--keyring",
            s(&keyring),
            "--index",
            "i",
            "--bits",
            "0",
        ],
        b"x\n",
    );
    assert_eq!(code(&out), 2);
}
