//! The PKCS#11 key provider against a real token: SoftHSM2, initialised by
//! the test (palisade-testkit's `SoftHsm`). SoftHSM2 reads its configuration
//! once per process, so each test runs its phases in child processes of this
//! binary; a phase that reopens a keyring is a new process, as a restarted
//! application would be. Without SoftHSM2 the tests skip, unless
//! `PALISADE_CI` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::path::PathBuf;
use std::sync::Arc;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use palisade_crypt::{
    Context, DataKey, Error, KeyProvider, Keyring, PinSource, Pkcs11Config, Pkcs11KeyProvider,
    Pkcs11Token, WrappedKey, WrappedKeyring,
};
use palisade_testkit::SoftHsm;

const KEK: &str = "palisade-kek";

fn config(hsm: &SoftHsm) -> Pkcs11Config {
    Pkcs11Config::new(
        hsm.module(),
        Pkcs11Token::Label(SoftHsm::TOKEN.into()),
        KEK,
        PinSource::File(hsm.pin_file()),
    )
}

fn wrapped_path(hsm: &SoftHsm) -> PathBuf {
    hsm.dir().join("keyring.wrapped.json")
}

/// Known key bytes, so the file can be searched for them.
fn keyring() -> Keyring {
    Keyring::from_key_bytes(&[(1, [0x3c; 32]), (2, [0xa7; 32])], [0x5e; 32]).unwrap()
}

fn field() -> (Context, &'static [u8]) {
    (
        Context::field("clients", "email", "42").with("tenant", "acme"),
        b"ada@example.com",
    )
}

/// Runs every phase of `test` in its own child process, in order, on one
/// throwaway token; `between` runs in the parent after each phase.
fn phases(test: &str, names: &[&str], between: impl Fn(&SoftHsm, &str)) {
    let Some(hsm) = SoftHsm::start_or_skip() else {
        return;
    };
    for name in names {
        hsm.run_phase(test, name);
        between(&hsm, name);
    }
}

#[test]
fn keyring_wrapped_on_the_token_reopens_in_a_new_process() {
    match SoftHsm::phase() {
        None => phases(
            "keyring_wrapped_on_the_token_reopens_in_a_new_process",
            &["setup", "reopen"],
            |_, _| {},
        ),
        Some((hsm, phase)) if phase == "setup" => {
            let provider = Pkcs11KeyProvider::generate_kek(&config(&hsm)).unwrap();
            assert_eq!(provider.kek_id(), "pkcs11:palisade-kek");
            let keyring = keyring();
            keyring
                .create_wrapped_file(&wrapped_path(&hsm), &provider)
                .unwrap();
            let (context, value) = field();
            let token = keyring.encrypt(value, &context).unwrap().to_token();
            std::fs::write(hsm.dir().join("token"), token).unwrap();

            // No key of the keyring is in the file, in any encoding.
            let bytes = std::fs::read(wrapped_path(&hsm)).unwrap();
            let json = keyring.to_json().unwrap();
            let plain: serde_json::Value = serde_json::from_slice(&json).unwrap();
            let mut secrets = vec![plain["index_key"].as_str().unwrap().to_owned()];
            for key in plain["keys"].as_array().unwrap() {
                secrets.push(key["key"].as_str().unwrap().to_owned());
            }
            assert_eq!(secrets.len(), 3);
            for secret in &secrets {
                assert!(!contains(&bytes, secret.as_bytes()), "{secret} in clear");
            }
            for raw in [[0x3c; 32], [0xa7; 32], [0x5e; 32]] {
                assert!(!contains(&bytes, &raw));
                assert!(!contains(&bytes, &[raw[0]; 8]), "a run of key bytes");
            }
            let file: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(file["wrapped_key"]["kek_id"], "pkcs11:palisade-kek");
        }
        Some((hsm, phase)) if phase == "reopen" => {
            // A new process: the module is loaded again, the key found by label.
            let provider = Pkcs11KeyProvider::open(&config(&hsm)).unwrap();
            let keyring = Keyring::load_wrapped(&wrapped_path(&hsm), &provider).unwrap();
            let token = std::fs::read_to_string(hsm.dir().join("token")).unwrap();
            let (context, value) = field();
            assert_eq!(
                &keyring.decrypt(&token.parse().unwrap(), &context).unwrap()[..],
                value
            );
            assert_eq!(keyring.primary_id(), 2);
            // Rotating and saving again works through the same provider.
            let mut keyring = keyring;
            keyring.rotate().unwrap();
            keyring
                .save_wrapped(&wrapped_path(&hsm), &provider)
                .unwrap();
            let again = Keyring::load_wrapped(&wrapped_path(&hsm), &provider).unwrap();
            assert_eq!(again.primary_id(), 3);
        }
        Some((_, phase)) => panic!("unknown phase {phase}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn wrong_pin_is_refused() {
    match SoftHsm::phase() {
        None => phases("wrong_pin_is_refused", &["wrong"], |_, _| {}),
        Some((hsm, _)) => {
            let pin = hsm.dir().join("wrong.pin");
            write_private(&pin, "not-the-pin\n");
            let config = Pkcs11Config::new(
                hsm.module(),
                Pkcs11Token::Label(SoftHsm::TOKEN.into()),
                KEK,
                PinSource::File(pin),
            );
            let error = Pkcs11KeyProvider::generate_kek(&config).unwrap_err();
            assert!(matches!(error, Error::PinIncorrect), "{error:?}");
            assert_eq!(error.to_string(), "the PKCS#11 token refused the PIN");
            let error = Pkcs11KeyProvider::open(&config).unwrap_err();
            assert!(matches!(error, Error::PinIncorrect), "{error:?}");
        }
    }
}

#[test]
fn removed_token_is_refused_at_start() {
    match SoftHsm::phase() {
        None => phases(
            "removed_token_is_refused_at_start",
            &["setup", "removed"],
            |hsm, phase| {
                if phase == "setup" {
                    hsm.remove_tokens().unwrap();
                }
            },
        ),
        Some((hsm, phase)) if phase == "setup" => {
            let provider = Pkcs11KeyProvider::generate_kek(&config(&hsm)).unwrap();
            keyring()
                .create_wrapped_file(&wrapped_path(&hsm), &provider)
                .unwrap();
        }
        Some((hsm, _)) => {
            let error = Pkcs11KeyProvider::open(&config(&hsm)).unwrap_err();
            assert!(matches!(error, Error::TokenAbsent(_)), "{error:?}");
            assert_eq!(
                error.to_string(),
                "no PKCS#11 token `palisade-test` is present: is the device connected and the token initialised?"
            );
            // The wrapped file is still there, and useless without the token.
            assert!(WrappedKeyring::load(&wrapped_path(&hsm)).is_ok());
            // By slot: SoftHSM2's free slot is 0 or 1; a made-up one is absent.
            let by_slot = Pkcs11Config::new(
                hsm.module(),
                Pkcs11Token::Slot(987_654),
                KEK,
                PinSource::File(hsm.pin_file()),
            );
            let error = Pkcs11KeyProvider::open(&by_slot).unwrap_err();
            assert!(matches!(error, Error::TokenAbsent(ref t) if t == "slot 987654"));
        }
    }
}

#[test]
fn unknown_token_label_and_key_label_are_told_apart() {
    match SoftHsm::phase() {
        None => phases(
            "unknown_token_label_and_key_label_are_told_apart",
            &["check"],
            |_, _| {},
        ),
        Some((hsm, _)) => {
            let other_token = Pkcs11Config::new(
                hsm.module(),
                Pkcs11Token::Label("no-such-token".into()),
                KEK,
                PinSource::File(hsm.pin_file()),
            );
            let error = Pkcs11KeyProvider::open(&other_token).unwrap_err();
            assert!(matches!(error, Error::TokenAbsent(ref t) if t == "no-such-token"));

            let error = Pkcs11KeyProvider::open(&config(&hsm)).unwrap_err();
            assert!(
                matches!(error, Error::KekUnknown(ref l) if l == KEK),
                "{error:?}"
            );
            assert_eq!(
                error.to_string(),
                "no key-encryption key labelled `palisade-kek` on the token"
            );
            Pkcs11KeyProvider::generate_kek(&config(&hsm)).unwrap();
            let error = Pkcs11KeyProvider::generate_kek(&config(&hsm)).unwrap_err();
            assert!(matches!(error, Error::KekExists(ref l) if l == KEK));
            Pkcs11KeyProvider::open(&config(&hsm)).unwrap();
        }
    }
}

#[test]
fn missing_module_and_missing_pin_are_typed_errors() {
    // No token needed: these fail before any device is used.
    let dir = tempfile::tempdir().unwrap();
    let pin = dir.path().join("pin");
    write_private(&pin, "1234\n");
    let missing = Pkcs11Config::new(
        "/nonexistent/libpkcs11.so",
        Pkcs11Token::Label("t".into()),
        KEK,
        PinSource::File(pin.clone()),
    );
    let error = Pkcs11KeyProvider::open(&missing).unwrap_err();
    assert!(
        matches!(error, Error::ModuleUnavailable { ref module, .. } if module == "/nonexistent/libpkcs11.so")
    );
    assert!(
        error
            .to_string()
            .starts_with("cannot load the PKCS#11 module `/nonexistent/libpkcs11.so`")
    );
    // A shared library that is not a PKCS#11 module.
    if let Some(libc) = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    {
        let not_pkcs11 = Pkcs11Config::new(
            libc,
            Pkcs11Token::Label("t".into()),
            KEK,
            PinSource::File(pin.clone()),
        );
        assert!(matches!(
            Pkcs11KeyProvider::open(&not_pkcs11),
            Err(Error::ModuleUnavailable { .. })
        ));
    }

    let unset = Pkcs11Config::new(
        "/nonexistent/libpkcs11.so",
        Pkcs11Token::Label("t".into()),
        KEK,
        PinSource::Env("PALISADE_TEST_PIN_THAT_IS_NEVER_SET".into()),
    );
    let error = Pkcs11KeyProvider::open(&unset).unwrap_err();
    assert!(matches!(error, Error::PinUnavailable(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("PALISADE_TEST_PIN_THAT_IS_NEVER_SET")
    );

    let empty = dir.path().join("empty.pin");
    write_private(&empty, "\n");
    let no_file = dir.path().join("absent.pin");
    let readable = dir.path().join("readable.pin");
    std::fs::write(&readable, "1234").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut causes = Vec::new();
    for file in [empty, no_file, readable] {
        let config = Pkcs11Config::new(
            "/nonexistent/libpkcs11.so",
            Pkcs11Token::Label("t".into()),
            KEK,
            PinSource::File(file.clone()),
        );
        let error = Pkcs11KeyProvider::open(&config).unwrap_err();
        assert!(
            matches!(error, Error::PinUnavailable(_)),
            "{file:?}: {error:?}"
        );
        causes.push(error);
    }
    // The causes are typed: the file's I/O error (under the file's name),
    // and this crate's own refusal of a file others can read.
    let [empty, absent, readable] = &causes[..] else {
        unreachable!()
    };
    assert!(
        empty.to_string().ends_with("empty.pin` is empty"),
        "{empty}"
    );
    let io = std::iter::successors(std::error::Error::source(absent), |e| e.source())
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .expect("an io::Error in the chain");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(
        absent
            .to_string()
            .starts_with("cannot read the PIN: cannot read `"),
        "{absent}"
    );
    #[cfg(unix)]
    {
        let source = std::error::Error::source(readable).unwrap();
        assert!(
            matches!(
                source.downcast_ref::<Error>(),
                Some(Error::FileInsecure { mode: 0o644, .. })
            ),
            "{source:?}"
        );
        assert!(
            readable.to_string().contains("run `chmod 600`"),
            "{readable}"
        );
    }
}

#[test]
fn wrapped_data_keys_are_bound_to_context_and_key() {
    match SoftHsm::phase() {
        None => phases(
            "wrapped_data_keys_are_bound_to_context_and_key",
            &["check"],
            |_, _| {},
        ),
        Some((hsm, _)) => {
            let provider = Pkcs11KeyProvider::generate_kek(&config(&hsm)).unwrap();
            let a = Context::field("t", "c", "1");
            let b = Context::field("t", "c", "2");
            let (key, wrapped) = provider.generate_data_key(&a).unwrap();
            assert_eq!(wrapped.ciphertext.len(), 61);
            let back = provider.unwrap_key(&wrapped, &a).unwrap();
            assert_eq!(key.expose_bytes(), back.expose_bytes());
            // Random IVs: the same key wraps differently each time.
            let twice = provider.wrap_key(&key, &a).unwrap();
            assert_ne!(twice.ciphertext, wrapped.ciphertext);

            let result = provider.unwrap_key(&wrapped, &b);
            assert!(matches!(result, Err(Error::Unauthenticated)), "{result:?}");
            for at in [0, 1, 12, 13, 44, 45, 60] {
                let mut bad = wrapped.clone();
                bad.ciphertext[at] ^= 0x01;
                let result = provider.unwrap_key(&bad, &a);
                assert!(
                    matches!(
                        result,
                        Err(Error::Unauthenticated | Error::VersionUnsupported(_))
                    ),
                    "byte {at}: {result:?}"
                );
            }
            let mut short = wrapped.clone();
            short.ciphertext.pop();
            assert!(matches!(
                provider.unwrap_key(&short, &a),
                Err(Error::CiphertextMalformed(_))
            ));
            let other = WrappedKey {
                kek_id: "pkcs11:another-key".into(),
                ..wrapped.clone()
            };
            let error = provider.unwrap_key(&other, &a).unwrap_err();
            assert!(
                error.to_string().contains("`pkcs11:another-key`"),
                "{error}"
            );
            // A second key on the token cannot unwrap what the first wrapped.
            let second = Pkcs11Config::new(
                hsm.module(),
                Pkcs11Token::Label(SoftHsm::TOKEN.into()),
                "second-kek",
                PinSource::File(hsm.pin_file()),
            );
            let second = Pkcs11KeyProvider::generate_kek(&second).unwrap();
            let relabelled = WrappedKey {
                kek_id: second.kek_id().into(),
                ..wrapped
            };
            assert!(matches!(
                second.unwrap_key(&relabelled, &a),
                Err(Error::Unauthenticated)
            ));
            // A local data key round trip through the provider's wrap.
            let fresh = DataKey::generate().unwrap();
            let wrapped = provider.wrap_key(&fresh, &b).unwrap();
            let ciphertext = fresh.encrypt(b"v", &b).unwrap();
            let unwrapped = provider.unwrap_key(&wrapped, &b).unwrap();
            assert_eq!(&unwrapped.decrypt(&ciphertext, &b).unwrap()[..], b"v");
        }
    }
}

/// The same module the provider loaded, for checks the provider's API does
/// not offer. The provider has initialised it and logged in (PKCS#11 logins
/// are per process), so this session is logged in too.
fn raw_session(hsm: &SoftHsm) -> Session {
    let module = Pkcs11::new(hsm.module()).unwrap();
    match module.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = module
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| module.get_token_info(*s).unwrap().label() == SoftHsm::TOKEN)
        .unwrap();
    module.open_rw_session(slot).unwrap()
}

fn find(session: &Session, label: &str) -> ObjectHandle {
    let found = session
        .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .unwrap();
    assert_eq!(found.len(), 1);
    found[0]
}

fn rv(result: Result<impl std::fmt::Debug, CkError>) -> RvError {
    match result {
        Err(CkError::Pkcs11(rv, _)) => rv,
        other => panic!("expected a refusal from the token, got {other:?}"),
    }
}

#[test]
fn key_encryption_key_never_leaves_the_token() {
    match SoftHsm::phase() {
        None => phases(
            "key_encryption_key_never_leaves_the_token",
            &["check"],
            |_, _| {},
        ),
        Some((hsm, _)) => {
            let _provider = Pkcs11KeyProvider::generate_kek(&config(&hsm)).unwrap();
            let session = raw_session(&hsm);
            let kek = find(&session, KEK);

            // Its value cannot be read: the attribute is withheld.
            let attributes = session
                .get_attributes(
                    kek,
                    &[
                        AttributeType::Value,
                        AttributeType::Sensitive,
                        AttributeType::Extractable,
                        AttributeType::NeverExtractable,
                        AttributeType::Token,
                        AttributeType::Wrap,
                        AttributeType::ValueLen,
                    ],
                )
                .unwrap();
            assert!(
                !attributes.iter().any(|a| matches!(a, Attribute::Value(_))),
                "CKA_VALUE was returned"
            );
            for expected in [
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::NeverExtractable(true),
                Attribute::Token(true),
                Attribute::Wrap(false),
                Attribute::ValueLen(32u64.into()),
            ] {
                assert!(
                    attributes.contains(&expected),
                    "{expected:?} in {attributes:?}"
                );
            }

            // It cannot be wrapped out under another key.
            let wrapping = session
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::AES),
                        Attribute::ValueLen(32u64.into()),
                        Attribute::Token(false),
                        Attribute::Wrap(true),
                        Attribute::Unwrap(true),
                        Attribute::Extractable(true),
                        Attribute::Sensitive(false),
                    ],
                )
                .unwrap();
            assert_eq!(
                rv(session.wrap_key(&Mechanism::AesKeyWrap, wrapping, kek)),
                RvError::KeyUnextractable
            );
            // Nor used to wrap a key that could then be decrypted with it
            // (the wrap-then-decrypt attack): CKA_WRAP is false.
            let victim = session
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::AES),
                        Attribute::ValueLen(32u64.into()),
                        Attribute::Token(false),
                        Attribute::Extractable(true),
                        Attribute::Sensitive(true),
                    ],
                )
                .unwrap();
            assert_eq!(
                rv(session.wrap_key(&Mechanism::AesKeyWrap, kek, victim)),
                RvError::KeyFunctionNotPermitted
            );
            // Nor made extractable or non-sensitive afterwards.
            for change in [Attribute::Extractable(true), Attribute::Sensitive(false)] {
                let refused = rv(session.update_attributes(kek, std::slice::from_ref(&change)));
                assert!(
                    matches!(
                        refused,
                        RvError::AttributeReadOnly | RvError::ActionProhibited
                    ),
                    "{change:?}: {refused:?}"
                );
            }
            let still = session
                .get_attributes(kek, &[AttributeType::Extractable, AttributeType::Sensitive])
                .unwrap();
            assert!(still.contains(&Attribute::Extractable(false)));
            assert!(still.contains(&Attribute::Sensitive(true)));
        }
    }
}

#[test]
fn keys_that_could_leave_the_token_are_refused_as_kek() {
    match SoftHsm::phase() {
        None => phases(
            "keys_that_could_leave_the_token_are_refused_as_kek",
            &["check"],
            |_, _| {},
        ),
        Some((hsm, _)) => {
            // Log in through the provider (the process's login), then plant
            // weak keys next to the real one.
            let _provider = Pkcs11KeyProvider::generate_kek(&config(&hsm)).unwrap();
            let session = raw_session(&hsm);
            let aes = |label: &str, extractable: bool, sensitive: bool| {
                session
                    .generate_key(
                        &Mechanism::AesKeyGen,
                        &[
                            Attribute::Class(ObjectClass::SECRET_KEY),
                            Attribute::KeyType(KeyType::AES),
                            Attribute::ValueLen(32u64.into()),
                            Attribute::Token(true),
                            Attribute::Private(true),
                            Attribute::Label(label.as_bytes().to_vec()),
                            Attribute::Encrypt(true),
                            Attribute::Decrypt(true),
                            Attribute::Extractable(extractable),
                            Attribute::Sensitive(sensitive),
                        ],
                    )
                    .unwrap()
            };
            aes("extractable", true, true);
            aes("not-sensitive", false, false);
            aes(KEK, false, true); // a second key with the KEK's label
            for (label, expected) in [
                ("extractable", "it can leave the token"),
                ("not-sensitive", "it can leave the token"),
                (KEK, "several keys carry this label"),
            ] {
                let config = Pkcs11Config::new(
                    hsm.module(),
                    Pkcs11Token::Label(SoftHsm::TOKEN.into()),
                    label,
                    PinSource::File(hsm.pin_file()),
                );
                let error = Pkcs11KeyProvider::open(&config).unwrap_err();
                assert!(
                    matches!(error, Error::KekUnsafe { reason, .. } if reason.contains(expected)),
                    "{label}: {error:?}"
                );
                assert!(error.to_string().contains(expected), "{error}");
            }
        }
    }
}

#[test]
fn token_provider_serves_async_code() {
    match SoftHsm::phase() {
        None => phases("token_provider_serves_async_code", &["check"], |_, _| {}),
        Some((hsm, _)) => {
            let provider = Arc::new(Pkcs11KeyProvider::generate_kek(&config(&hsm)).unwrap());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let keyring = runtime.block_on(async {
                let sealed = WrappedKeyring::seal_async(&keyring(), &provider)
                    .await
                    .unwrap();
                sealed.open_async(&provider).await.unwrap()
            });
            let (context, value) = field();
            let token = keyring.encrypt(value, &context).unwrap();
            assert_eq!(
                &self::keyring().decrypt(&token, &context).unwrap()[..],
                value
            );
        }
    }
}

fn write_private(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}
