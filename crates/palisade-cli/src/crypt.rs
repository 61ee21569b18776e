//! `palisade crypt …`: keyrings, field tokens, rewrapping, streaming
//! seal/open of files and backups, blind indexes.
//!
//! Keys live only in the keyring file (mode 0600, refused when group or
//! others can read it), or, with `--hsm-module`, in a wrapped keyring file
//! whose key-encryption key never leaves a PKCS#11 token (the PIN from a
//! file or an environment variable). Plaintexts come from standard input, never from
//! arguments. Exit status: 0 success, 1 a ciphertext that does not
//! authenticate (wrong key, context, tampered, truncated), 2 malformed input.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use palisade_crypt::{
    Ciphertext, Context, Error, Keyring, Normalizer, PinSource, Pkcs11Config, Pkcs11KeyProvider,
    Pkcs11Token, WrappedKeyring, safe_index_bits,
};
use zeroize::Zeroizing;

use crate::{CliResult, Failure, input};

/// Encryption subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a new keyring file (mode 0600) with one key; refuses to overwrite
    Keygen(KeyringArg),
    /// Create the key-encryption key on a PKCS#11 token (AES-256, never extractable)
    KekGenerate(HsmArgs),
    /// Write a plain keyring file's keys as a wrapped keyring file (--hsm-* required)
    Wrap {
        /// The plain keyring file to read
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The wrapped keyring file to create, and the token that wraps it
        #[command(flatten)]
        keyring: KeyringArg,
    },
    /// Add a new primary key; older keys keep decrypting
    Rotate(KeyringArg),
    /// Refuse decryption with keys below a version (reversible)
    Retire {
        #[command(flatten)]
        keyring: KeyringArg,
        /// Minimum decryption version
        #[arg(long, value_name = "VERSION")]
        below: u32,
    },
    /// Delete keys below a version for good (only retired keys)
    Trim {
        #[command(flatten)]
        keyring: KeyringArg,
        /// Keys with a lower id are deleted
        #[arg(long, value_name = "VERSION")]
        below: u32,
    },
    /// Encrypt standard input (bytes, as is) and print one text token
    Encrypt(FieldArgs),
    /// Decrypt the token on standard input and write the plaintext
    Decrypt(FieldArgs),
    /// Re-encrypt tokens (one per line, or `CONTEXT<TAB>TOKEN`) under the primary key
    Rewrap(FieldArgs),
    /// Encrypt a file or standard input, in 64 KiB chunks, to a file or standard output (files, backups)
    Seal(StreamArgs),
    /// Decrypt a sealed stream from a file or standard input to a file or standard output
    Open(StreamArgs),
    /// Print the blind index (hex) of the first line of standard input
    BlindIndex {
        #[command(flatten)]
        keyring: KeyringArg,
        /// Index name, e.g. `customers.email` (each name has its own key)
        #[arg(long, value_name = "NAME")]
        index: String,
        /// Index size in bits (default 16: safe for 131 072 rows and more)
        #[arg(long, value_name = "N", conflicts_with = "rows")]
        bits: Option<u32>,
        /// Choose the largest safe size for this many rows instead of --bits
        #[arg(long, value_name = "N")]
        rows: Option<u64>,
        /// Normalizer: exact, lowercase, digits, or lastN (e.g. last4)
        #[arg(long, value_name = "HOW", default_value = "exact")]
        normalize: String,
    },
    /// Print the safe blind index sizes for a column of about N rows
    PlanIndex {
        /// Expected number of rows
        #[arg(long, value_name = "N")]
        rows: u64,
        /// Bits of the blind indexes the column already has
        #[arg(long, value_name = "BITS", default_value_t = 0)]
        existing_bits: u32,
    },
}

/// The keyring file, and the token that wraps it if any.
#[derive(Debug, Args)]
pub(crate) struct KeyringArg {
    /// Keyring file (JSON, mode 0600); with --hsm-module, a wrapped keyring file
    #[arg(long, value_name = "FILE", env = "PALISADE_KEYRING")]
    keyring: PathBuf,
    #[command(flatten)]
    hsm: HsmArgs,
}

/// The PKCS#11 token holding the key-encryption key.
#[derive(Debug, Args)]
pub(crate) struct HsmArgs {
    /// PKCS#11 module of the token holding the key-encryption key (e.g.
    /// /usr/lib/softhsm/libsofthsm2.so); the keyring file is then wrapped
    #[arg(long, value_name = "LIB")]
    hsm_module: Option<PathBuf>,
    /// Label of the token
    #[arg(long, value_name = "LABEL", requires = "hsm_module")]
    hsm_token: Option<String>,
    /// Slot id of the token, instead of its label
    #[arg(
        long,
        value_name = "ID",
        requires = "hsm_module",
        conflicts_with = "hsm_token"
    )]
    hsm_slot: Option<u64>,
    /// Label of the key-encryption key on the token
    #[arg(long, value_name = "LABEL", default_value = "palisade-kek")]
    hsm_key: String,
    /// File holding the token's user PIN (mode 0600)
    #[arg(long, value_name = "FILE", requires = "hsm_module")]
    hsm_pin_file: Option<PathBuf>,
    /// Environment variable holding the token's user PIN
    #[arg(
        long,
        value_name = "VAR",
        requires = "hsm_module",
        conflicts_with = "hsm_pin_file"
    )]
    hsm_pin_env: Option<String>,
}

impl HsmArgs {
    /// The token's configuration, or `None` without `--hsm-module`.
    fn config(&self) -> Result<Option<Pkcs11Config>, Failure> {
        let Some(module) = &self.hsm_module else {
            return Ok(None);
        };
        let token = match (&self.hsm_token, self.hsm_slot) {
            (Some(label), _) => Pkcs11Token::Label(label.clone()),
            (None, Some(slot)) => Pkcs11Token::Slot(slot),
            (None, None) => {
                return Err(Failure::input(
                    "--hsm-module needs --hsm-token LABEL or --hsm-slot ID",
                ));
            }
        };
        let pin = match (&self.hsm_pin_file, &self.hsm_pin_env) {
            (Some(file), _) => PinSource::File(file.clone()),
            (None, Some(var)) => PinSource::Env(var.clone()),
            (None, None) => {
                return Err(Failure::input(
                    "--hsm-module needs --hsm-pin-file FILE or --hsm-pin-env VAR (never the PIN itself)",
                ));
            }
        };
        Ok(Some(Pkcs11Config::new(
            module.clone(),
            token,
            self.hsm_key.clone(),
            pin,
        )))
    }

    fn provider(&self) -> Result<Option<Pkcs11KeyProvider>, Failure> {
        self.config()?
            .map(|config| Pkcs11KeyProvider::open(&config).map_err(Failure::input))
            .transpose()
    }
}

/// A keyring and the context ciphertexts are bound to.
#[derive(Debug, Args)]
pub(crate) struct FieldArgs {
    #[command(flatten)]
    keyring: KeyringArg,
    /// Where the data belongs, as `label=value,label=value` (e.g.
    /// `table=users,column=email,row=42`); empty by default
    #[arg(long, value_name = "CTX", default_value = "")]
    context: String,
}

/// A keyring, a context and how many threads seal or open the chunks.
#[derive(Debug, Args)]
pub(crate) struct StreamArgs {
    #[command(flatten)]
    field: FieldArgs,
    /// The input file (default: standard input)
    #[arg(value_name = "INPUT")]
    input: Option<PathBuf>,
    /// Write to this file (created with mode 0600, replaced if it exists)
    /// instead of standard output; a terminal is refused as output
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Threads that seal or open chunks (default: one per core); the output
    /// is the same for any number
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
}

impl StreamArgs {
    fn threads(&self) -> NonZeroUsize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }
}

/// Maps library errors to exit codes: authentication failures are verdicts
/// (1), everything else is malformed input or usage (2).
fn failure(error: Error) -> Failure {
    match error {
        Error::IoFailed(e) if e.kind() == io::ErrorKind::BrokenPipe => Failure::output(&e),
        error if is_verdict(&error) => Failure::verdict(error),
        error => Failure::input(error),
    }
}

fn is_verdict(error: &Error) -> bool {
    matches!(
        error,
        Error::Unauthenticated
            | Error::KeyUnknown(_)
            | Error::KeyRetired(_)
            | Error::StreamTruncated
            | Error::StreamTrailingData
    )
}

/// The same, for one line of a batch.
fn failure_at(line: usize, error: Error) -> Failure {
    if is_verdict(&error) {
        Failure::verdict(format_args!("line {line}: {error}"))
    } else {
        Failure::input(format_args!("line {line}: {error}"))
    }
}

/// A loaded keyring and the token that wraps it, if any: saving goes
/// through the same token.
struct Loaded {
    keyring: Keyring,
    provider: Option<Pkcs11KeyProvider>,
}

impl std::ops::Deref for Loaded {
    type Target = Keyring;
    fn deref(&self) -> &Keyring {
        &self.keyring
    }
}

impl Loaded {
    fn save(&self, arg: &KeyringArg) -> Result<(), Failure> {
        match &self.provider {
            Some(provider) => self.keyring.save_wrapped(&arg.keyring, provider),
            None => self.keyring.save(&arg.keyring),
        }
        .map_err(|e| keyring_failure(&arg.keyring, e))
    }
}

fn load(arg: &KeyringArg) -> Result<Loaded, Failure> {
    let provider = arg.hsm.provider()?;
    let keyring = match &provider {
        Some(provider) => Keyring::load_wrapped(&arg.keyring, provider),
        None => Keyring::load(&arg.keyring).map_err(|e| {
            if matches!(e, Error::KeyFileInvalid(_))
                && WrappedKeyring::load(&arg.keyring).is_ok()
            {
                Error::KeyFileInvalid(
                    "it is a wrapped keyring: give its token with --hsm-module, --hsm-token and --hsm-pin-file".into(),
                )
            } else {
                e
            }
        }),
    }
    .map_err(|e| keyring_failure(&arg.keyring, e))?;
    Ok(Loaded { keyring, provider })
}

fn keyring_failure(path: &Path, error: Error) -> Failure {
    match error {
        Error::IoFailed(e) => {
            Failure::input(format_args!("cannot use keyring `{}`: {e}", path.display()))
        }
        other => Failure::input(other),
    }
}

fn context(args: &FieldArgs) -> Result<Context, Failure> {
    Context::parse(&args.context).map_err(Failure::input)
}

/// The input and output of a stream command, and the input's size when it
/// is known (a file, or standard input redirected from one).
struct StreamIo {
    input: Box<dyn Read>,
    output: Box<dyn Write>,
    input_len: Option<u64>,
}

/// Input and output for `seal` and `open`: the named files, or standard
/// input and output. On Unix, standard input and output are plain files on
/// duplicates of the two descriptors: no 8 KiB read buffer and no line
/// buffering (which split each chunk's write in two) between the stream and
/// the system, and one vectored read and one vectored write per batch of
/// chunks. The stream reads and writes whole batches, so it needs no buffer.
///
/// Like age, the output is never a terminal: the stream is binary.
fn stream_io(args: &StreamArgs) -> Result<StreamIo, Failure> {
    let (input, input_len): (Box<dyn Read>, Option<u64>) = match &args.input {
        Some(path) if path != Path::new("-") => {
            let file = std::fs::File::open(path).map_err(|e| {
                Failure::input(format_args!("cannot read `{}`: {e}", path.display()))
            })?;
            let len = file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            (Box::new(file), len)
        }
        _ => standard_input()?,
    };
    let output: Box<dyn Write> = match &args.output {
        Some(path) if path != Path::new("-") => Box::new(private_file(path)?),
        _ => {
            if io::stdout().is_terminal() {
                return Err(Failure::input(
                    "refusing to write a binary stream to a terminal: use `-o FILE` or redirect standard output",
                ));
            }
            standard_output()?
        }
    };
    Ok(StreamIo {
        input,
        output,
        input_len,
    })
}

#[cfg(unix)]
fn standard_input() -> Result<(Box<dyn Read>, Option<u64>), Failure> {
    use std::os::fd::AsFd;
    let file = io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .map_err(|e| Failure::input(format_args!("cannot use standard input: {e}")))?;
    let len = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    Ok((Box::new(file), len))
}

#[cfg(not(unix))]
fn standard_input() -> Result<(Box<dyn Read>, Option<u64>), Failure> {
    Ok((Box::new(io::stdin().lock()), None))
}

#[cfg(unix)]
fn standard_output() -> Result<Box<dyn Write>, Failure> {
    use std::os::fd::AsFd;
    io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(|fd| Box::new(std::fs::File::from(fd)) as Box<dyn Write>)
        .map_err(|e| Failure::input(format_args!("cannot use standard output: {e}")))
}

#[cfg(not(unix))]
fn standard_output() -> Result<Box<dyn Write>, Failure> {
    Ok(Box::new(io::stdout().lock()))
}

/// The output file: created or replaced, readable by its owner only (an
/// opened stream is plaintext).
fn private_file(path: &Path) -> Result<std::fs::File, Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| Failure::input(format_args!("cannot write `{}`: {e}", path.display())))
}

fn write_out(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::output(&e))
}

pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Keygen(arg) => {
            let keyring = Keyring::generate().map_err(failure)?;
            match arg.hsm.provider()? {
                Some(provider) => keyring.create_wrapped_file(&arg.keyring, &provider),
                None => keyring.create_file(&arg.keyring),
            }
            .map_err(|e| keyring_failure(&arg.keyring, e))?;
            println!("primary key {}", keyring.primary_id());
        }
        Command::KekGenerate(hsm) => {
            let config = hsm.config()?.ok_or_else(|| {
                Failure::input("kek-generate needs --hsm-module, --hsm-token and --hsm-pin-file")
            })?;
            let provider = Pkcs11KeyProvider::generate_kek(&config).map_err(Failure::input)?;
            println!("created {}", provider.kek_id());
        }
        Command::Wrap { from, keyring: arg } => {
            let provider = arg.hsm.provider()?.ok_or_else(|| {
                Failure::input("wrap needs --hsm-module, --hsm-token and --hsm-pin-file")
            })?;
            let keyring = Keyring::load(&from).map_err(|e| keyring_failure(&from, e))?;
            keyring
                .create_wrapped_file(&arg.keyring, &provider)
                .map_err(|e| keyring_failure(&arg.keyring, e))?;
            println!("wrapped under {}", provider.kek_id());
        }
        Command::Rotate(arg) => {
            let mut loaded = load(&arg)?;
            let id = loaded.keyring.rotate().map_err(failure)?;
            loaded.save(&arg)?;
            println!("primary key {id}");
        }
        Command::Retire {
            keyring: arg,
            below,
        } => {
            let mut loaded = load(&arg)?;
            loaded.keyring.retire_below(below).map_err(failure)?;
            loaded.save(&arg)?;
            println!("minimum decryption version {below}");
        }
        Command::Trim {
            keyring: arg,
            below,
        } => {
            let mut loaded = load(&arg)?;
            let removed = loaded.keyring.trim_below(below).map_err(failure)?;
            loaded.save(&arg)?;
            println!("deleted {removed} keys");
        }
        Command::Encrypt(args) => {
            let keyring = load(&args.keyring)?;
            let context = context(&args)?;
            let plaintext = Zeroizing::new(input::all_bytes()?);
            let ciphertext = keyring.encrypt(&plaintext, &context).map_err(failure)?;
            println!("{ciphertext}");
        }
        Command::Decrypt(args) => {
            let keyring = load(&args.keyring)?;
            let context = context(&args)?;
            let text = input::all_bytes()?;
            let token = std::str::from_utf8(&text)
                .map_err(|_| Failure::input("the token is not text"))?
                .trim();
            let ciphertext: Ciphertext = token.parse().map_err(failure)?;
            let plaintext = keyring.decrypt(&ciphertext, &context).map_err(failure)?;
            write_out(&plaintext)?;
        }
        Command::Rewrap(args) => return rewrap(&args),
        Command::Seal(args) => {
            let keyring = load(&args.field.keyring)?;
            let context = context(&args.field)?;
            let io = stream_io(&args)?;
            keyring
                .seal_stream_parallel(
                    &context,
                    Progress::new(io.input, "sealing", io.input_len),
                    io.output,
                    args.threads(),
                )
                .map_err(failure)?;
        }
        Command::Open(args) => {
            let keyring = load(&args.field.keyring)?;
            let context = context(&args.field)?;
            let io = stream_io(&args)?;
            keyring
                .open_stream_parallel(
                    &context,
                    Progress::new(io.input, "opening", io.input_len),
                    io.output,
                    args.threads(),
                )
                .map_err(failure)?;
        }
        Command::BlindIndex {
            keyring: arg,
            index,
            bits,
            rows,
            normalize,
        } => {
            let keyring = load(&arg)?;
            let normalizer: Normalizer = normalize.parse().map_err(Failure::input)?;
            let bits = match (bits, rows) {
                (Some(bits), _) => bits,
                (None, Some(rows)) => *safe_index_bits(rows, 0).map_err(Failure::input)?.end(),
                (None, None) => 16,
            };
            let index = keyring
                .blind_index(&index, bits, normalizer)
                .map_err(Failure::input)?;
            let value = input::secret_line("Value to index: ")?;
            println!("{}", index.compute(&value));
        }
        Command::PlanIndex {
            rows,
            existing_bits,
        } => {
            let range = safe_index_bits(rows, existing_bits).map_err(Failure::input)?;
            println!(
                "{}..={} bits (prefer {})",
                range.start(),
                range.end(),
                range.end()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Rewraps every line; prints nothing unless all lines succeed.
fn rewrap(args: &FieldArgs) -> CliResult {
    let keyring = load(&args.keyring)?;
    let default_context = context(args)?;
    let mut output = String::new();
    for (number, line) in io::stdin().lock().lines().enumerate() {
        let line =
            line.map_err(|e| Failure::input(format_args!("cannot read standard input: {e}")))?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            output.push('\n');
            continue;
        }
        let at = |e: Error| failure_at(number + 1, e);
        let (context, token, prefix) = match line.split_once('\t') {
            Some((ctx, token)) => (Context::parse(ctx).map_err(at)?, token, Some(ctx)),
            None => (default_context.clone(), line, None),
        };
        let ciphertext: Ciphertext = token.trim().parse().map_err(at)?;
        let rewrapped = keyring.rewrap(&ciphertext, &context).map_err(at)?;
        if let Some(prefix) = prefix {
            output.push_str(prefix);
            output.push('\t');
        }
        output.push_str(&rewrapped.to_token());
        output.push('\n');
    }
    write_out(output.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Counts bytes read and, when standard error is a terminal, shows a
/// progress bar: with the total and an ETA when the input's size is known,
/// bytes and speed otherwise.
struct Progress<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R> Progress<R> {
    fn new(inner: R, label: &'static str, total: Option<u64>) -> Self {
        let bar = io::stderr().is_terminal().then(|| {
            let (bar, template) = match total {
                Some(len) => (
                    ProgressBar::new(len),
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                ),
                None => (
                    ProgressBar::no_length(),
                    "{prefix} {bytes} {binary_bytes_per_sec}",
                ),
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label);
            bar
        });
        Self { inner, bar }
    }

    fn count(&mut self, n: usize) {
        if let Some(bar) = &self.bar {
            if n == 0 {
                bar.finish();
            } else {
                bar.inc(n as u64);
            }
        }
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(n);
        Ok(n)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let n = self.inner.read_vectored(bufs)?;
        self.count(n);
        Ok(n)
    }
}
