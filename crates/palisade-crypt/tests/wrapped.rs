//! The wrapped keyring file, the async provider over blocking ones, and the
//! check that keeps a key file out of the data folder. The PKCS#11 provider
//! has its own suite (`pkcs11.rs`); these use the local provider.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use palisade_crypt::{
    AsyncKeyProvider, Context, DataKey, Error, KeyProvider, Keyring, LocalKeyProvider, WrappedKey,
    WrappedKeyring, ensure_outside,
};

const KEY_1: [u8; 32] = [0x11; 32];
const KEY_2: [u8; 32] = [
    0x5a, 0x01, 0xf2, 0x33, 0x94, 0x15, 0xe6, 0x77, 0x08, 0xc9, 0x2a, 0x4b, 0x6c, 0x8d, 0xae, 0xcf,
    0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f,
];
const INDEX_KEY: [u8; 32] = [0x22; 32];

fn keyring() -> Keyring {
    Keyring::from_key_bytes(&[(1, KEY_1), (2, KEY_2)], INDEX_KEY).unwrap()
}

fn kek() -> LocalKeyProvider {
    LocalKeyProvider::new(Keyring::generate().unwrap())
}

/// Every encoding of a key that a careless file format could hold.
fn encodings(key: &[u8; 32]) -> Vec<Vec<u8>> {
    let hex = data_encoding::HEXLOWER.encode(key);
    vec![
        key.to_vec(),
        URL_SAFE_NO_PAD.encode(key).into_bytes(),
        STANDARD.encode(key).into_bytes(),
        hex.into_bytes(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn wrapped_keyring_round_trips_and_holds_no_key_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.wrapped.json");
    let kek = kek();
    let keyring = keyring();
    let context = Context::field("clients", "name", "7");
    let token = keyring.encrypt(b"Ada Lovelace", &context).unwrap();

    keyring.create_wrapped_file(&path, &kek).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for key in [KEY_1, KEY_2, INDEX_KEY] {
        for encoding in encodings(&key) {
            assert!(
                !contains(&bytes, &encoding),
                "a key is in the file in clear"
            );
        }
    }
    // The plain keyring file, by contrast, does hold them: the check can fail.
    let plain = keyring.to_json().unwrap();
    assert!(contains(&plain, &encodings(&KEY_2)[1]));

    let reopened = Keyring::load_wrapped(&path, &kek).unwrap();
    assert_eq!(
        &reopened.decrypt(&token, &context).unwrap()[..],
        b"Ada Lovelace"
    );
    assert_eq!(reopened.primary_id(), 2);
    assert!(
        keyring.create_wrapped_file(&path, &kek).is_err(),
        "overwrote"
    );

    // Saving again seals under a fresh data key; the old file's bytes differ.
    keyring.save_wrapped(&path, &kek).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(
        &Keyring::load_wrapped(&path, &kek)
            .unwrap()
            .decrypt(&token, &context)
            .unwrap()[..],
        b"Ada Lovelace"
    );
}

#[cfg(unix)]
#[test]
fn wrapped_keyring_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    keyring().create_wrapped_file(&path, &kek()).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn wrapped_keyring_needs_the_right_key_encryption_key() {
    let wrapped = WrappedKeyring::seal(&keyring(), &kek()).unwrap();
    let other = kek();
    assert!(matches!(
        wrapped.open(&other),
        Err(Error::Unauthenticated | Error::KeyUnknown(_))
    ));
}

#[test]
fn tampered_wrapped_keyring_is_refused() {
    let kek = kek();
    let json = WrappedKeyring::seal(&keyring(), &kek)
        .unwrap()
        .to_json()
        .unwrap();
    let text = String::from_utf8(json.clone()).unwrap();
    // Change one character of the sealed keyring's token and of the wrapped
    // key: both must fail to authenticate, neither may panic.
    for field in ["\"keyring\": \"pcrypt:", "\"ciphertext\": \""] {
        let at = text.find(field).unwrap() + field.len() + 20;
        let mut bytes = json.clone();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let parsed = WrappedKeyring::from_json(&bytes).unwrap();
        assert!(
            matches!(parsed.open(&kek), Err(Error::Unauthenticated)),
            "{field}"
        );
    }
}

#[test]
fn wrapped_keyring_parser_is_strict() {
    let kek = kek();
    let json = WrappedKeyring::seal(&keyring(), &kek)
        .unwrap()
        .to_json()
        .unwrap();
    let text = String::from_utf8(json).unwrap();
    let cases = [
        text.replacen("\"version\": 1", "\"version\": 2", 1),
        text.replacen(
            "palisade-crypt wrapped keyring",
            "palisade-crypt keyring",
            1,
        ),
        text.replacen("\"version\": 1", "\"version\": 1, \"extra\": 0", 1),
        text.replacen("pcrypt:", "", 1),
        String::new(),
        "{}".into(),
        // A plain keyring file is not a wrapped one.
        String::from_utf8(keyring().to_json().unwrap().to_vec()).unwrap(),
    ];
    for case in cases {
        assert!(
            matches!(
                WrappedKeyring::from_json(case.as_bytes()),
                Err(Error::KeyFileInvalid(_))
            ),
            "accepted: {case}"
        );
    }
    // The JSON parser's error is kept as the cause (the file holds no key
    // in clear).
    let err = WrappedKeyring::from_json(b"{\"format\": 7}").unwrap_err();
    let parser = std::iter::successors(std::error::Error::source(&err), |e| e.source())
        .find_map(|e| e.downcast_ref::<serde_json::Error>())
        .expect("serde_json's error in the chain");
    assert!(parser.is_data(), "{parser}");
    assert!(
        err.to_string()
            .starts_with("invalid key file: wrapped keyring: invalid type"),
        "{err}"
    );
    let huge = vec![b' '; (4 << 20) + 1];
    assert!(matches!(
        WrappedKeyring::from_json(&huge),
        Err(Error::KeyFileInvalid(_))
    ));
    // The error message never quotes a key: there is none to quote.
    let parsed = WrappedKeyring::from_json(text.as_bytes()).unwrap();
    assert_eq!(
        WrappedKeyring::from_json(&parsed.to_json().unwrap()).unwrap(),
        parsed
    );
    assert!(parsed.wrapped_key().kek_id.starts_with("local:"));
}

/// A provider that answers for another context than asked: the sealed
/// keyring must still be refused, since the keyring's own envelope binds
/// its purpose.
struct WrongContext(LocalKeyProvider);

impl KeyProvider for WrongContext {
    fn wrap_key(&self, key: &DataKey, _: &Context) -> palisade_crypt::Result<WrappedKey> {
        self.0.wrap_key(key, &Context::new())
    }
    fn unwrap_key(&self, wrapped: &WrappedKey, _: &Context) -> palisade_crypt::Result<DataKey> {
        self.0.unwrap_key(wrapped, &Context::new())
    }
}

#[test]
fn wrapped_key_is_bound_to_the_keyring_purpose() {
    let inner = kek();
    let wrapped = WrappedKeyring::seal(&keyring(), &inner).unwrap();
    // Unwrapping the data key for another purpose than `keyring-key` fails.
    let wrong = WrongContext(inner);
    assert!(matches!(wrapped.open(&wrong), Err(Error::Unauthenticated)));
}

/// A provider whose service is down: its own error reaches the caller as
/// the source of `ProviderFailed`, not flattened into text.
struct Unreachable;

impl KeyProvider for Unreachable {
    fn wrap_key(&self, _: &DataKey, _: &Context) -> palisade_crypt::Result<WrappedKey> {
        Err(Error::ProviderFailed(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "kms.eu-west-1.amazonaws.com refused the connection",
        ))))
    }
    fn unwrap_key(&self, _: &WrappedKey, _: &Context) -> palisade_crypt::Result<DataKey> {
        unreachable!("nothing was wrapped")
    }
}

#[test]
fn a_provider_failure_keeps_its_cause() {
    let err = WrappedKeyring::seal(&keyring(), &Unreachable).unwrap_err();
    assert_eq!(
        err.to_string(),
        "key provider failed: kms.eu-west-1.amazonaws.com refused the connection"
    );
    let source = std::error::Error::source(&err).expect("the cause is kept");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("as the provider's type");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_provider_serves_async_code() {
    let kek = Arc::new(kek());
    let keyring = keyring();
    let wrapped = WrappedKeyring::seal_async(&keyring, &kek).await.unwrap();
    // Async and blocking paths read each other's files.
    let reopened = wrapped.open(&*kek).unwrap();
    let context = Context::field("t", "c", "1");
    let token = keyring.encrypt(b"x", &context).unwrap();
    assert_eq!(&reopened.decrypt(&token, &context).unwrap()[..], b"x");
    let blocking = WrappedKeyring::seal(&keyring, &*kek).unwrap();
    let again = blocking.open_async(&kek).await.unwrap();
    assert_eq!(&again.decrypt(&token, &context).unwrap()[..], b"x");

    let (key, wrapped_key) = AsyncKeyProvider::generate_data_key(&kek, &context)
        .await
        .unwrap();
    let unwrapped = AsyncKeyProvider::unwrap_key(&kek, &wrapped_key, &context)
        .await
        .unwrap();
    assert_eq!(key.expose_bytes(), unwrapped.expose_bytes());
    let other = Context::field("t", "c", "2");
    assert!(matches!(
        AsyncKeyProvider::unwrap_key(&kek, &wrapped_key, &other).await,
        Err(Error::Unauthenticated)
    ));
}

#[test]
fn async_provider_without_a_runtime_is_an_error_not_a_panic() {
    use std::future::Future;
    use std::task::{Context as TaskContext, Poll, Waker};
    let kek = Arc::new(kek());
    let key = DataKey::generate().unwrap();
    let context = Context::new();
    let mut future = std::pin::pin!(AsyncKeyProvider::wrap_key(&kek, &key, &context));
    let mut cx = TaskContext::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Err(Error::ProviderFailed(cause))) => {
            let message = cause.to_string();
            assert!(message.contains("tokio runtime"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn key_file_inside_the_data_folder_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let keys = root.path().join("keys");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::create_dir(&keys).unwrap();

    let inside = [
        data.join("keyring.json"),
        data.join("sub/keyring.json"),
        data.join("missing/dir/keyring.json"),
        keys.join("../data/keyring.json"),
        data.join("./keyring.json"),
    ];
    for file in &inside {
        let error = ensure_outside(file, &data).unwrap_err();
        assert!(matches!(error, Error::KeyFileInsideData { .. }), "{file:?}");
        assert!(error.to_string().contains("inside the data folder"));
    }
    let outside = [
        keys.join("keyring.json"),
        data.join("../keys/keyring.json"),
        root.path().join("data-keyring.json"), // a sibling whose name starts alike
    ];
    for file in &outside {
        ensure_outside(file, &data).unwrap();
    }
    // The data folder need not exist yet (first start).
    ensure_outside(&keys.join("k.json"), &root.path().join("new-data")).unwrap();
    assert!(
        ensure_outside(
            &root.path().join("new-data/k.json"),
            &root.path().join("new-data")
        )
        .is_err()
    );
}

#[cfg(unix)]
#[test]
fn key_file_reached_through_a_symlink_is_judged_by_where_it_is() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let keys = root.path().join("keys");
    std::fs::create_dir(&data).unwrap();
    std::fs::create_dir(&keys).unwrap();
    std::fs::write(data.join("keyring.json"), b"{}").unwrap();
    // A link outside the folder pointing into it: the key is inside.
    std::os::unix::fs::symlink(data.join("keyring.json"), keys.join("link.json")).unwrap();
    assert!(ensure_outside(&keys.join("link.json"), &data).is_err());
    // The data folder named through a link to it.
    std::os::unix::fs::symlink(&data, root.path().join("data-link")).unwrap();
    assert!(ensure_outside(&data.join("keyring.json"), &root.path().join("data-link")).is_err());
    // A directory link inside the key's path.
    std::os::unix::fs::symlink(&data, keys.join("d")).unwrap();
    assert!(ensure_outside(&keys.join("d/new.json"), Path::new(&data)).is_err());
}
