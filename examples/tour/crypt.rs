//! Chapter 3: encryption at rest, with palisade-crypt.

use std::error::Error;
use std::path::Path;

use palisade_crypt::{
    Ciphertext, Context, Encrypted, Keyring, LocalKeyProvider, Normalizer, SubjectKeyStore,
    safe_index_bits,
};
use palisade_examples::{chapter, show, step};

fn short(token: &str) -> String {
    format!(
        "{}… ({} chars)",
        token.get(..40).unwrap_or(token),
        token.len()
    )
}

fn outcome<T>(result: Result<T, palisade_crypt::Error>) -> String {
    match result {
        Ok(_) => "decrypted".into(),
        Err(e) => format!("refused: {e}"),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CustomerRow {
    id: u64,
    email: Encrypted<String>,
    email_index: String,
}

pub(crate) fn run(workdir: &Path) -> Result<(), Box<dyn Error>> {
    chapter(
        3,
        "Encryption at rest",
        "customer data is encrypted in the database and in backups, keys rotate without \
         downtime, and a customer's data can be deleted on request",
    );

    // The keyring lives in an owner-only file.
    let path = workdir.join("keyring.json");
    let mut keyring = Keyring::generate()?;
    keyring.create_file(&path)?;
    step("a keyring is created in a file only its owner can read (0600)");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        show(
            "mode",
            format!(
                "{:o}",
                std::fs::metadata(&path)?.permissions().mode() & 0o777
            ),
        );
    }
    show("as logged", format!("{keyring:?}"));

    // A field, bound to its row.
    let row_42 = Context::field("customers", "email", "42").with("tenant", "acme");
    let ct = keyring.encrypt(b"alice@example.com", &row_42)?;
    step("alice's e-mail is encrypted for tenant acme, customers.email, row 42");
    show("token stored", short(&ct.to_token()));
    show("row 42 reads it", outcome(keyring.decrypt(&ct, &row_42)));
    let row_43 = Context::field("customers", "email", "43").with("tenant", "acme");
    step("an attacker with SQL access copies it into row 43, which is theirs");
    show("row 43 reads it", outcome(keyring.decrypt(&ct, &row_43)));
    let mut tampered = ct.as_bytes().to_vec();
    if let Some(byte) = tampered.get_mut(70) {
        *byte ^= 1;
    }
    show(
        "one bit flipped",
        outcome(Ciphertext::from_bytes(&tampered).and_then(|c| keyring.decrypt(&c, &row_42))),
    );

    // Search on the encrypted column with a blind index.
    let bits = *safe_index_bits(50_000, 0)?.end();
    let by_email = keyring.blind_index("customers.email", bits, Normalizer::CaseInsensitive)?;
    let row = CustomerRow {
        id: 42,
        email: Encrypted::seal(&keyring, &"alice@example.com".to_string(), &row_42)?,
        email_index: by_email.compute("alice@example.com").to_hex(),
    };
    step(format!(
        "the row as stored, with a {bits}-bit blind index (safe range for 50 000 customers: {:?})",
        safe_index_bits(50_000, 0)?
    ));
    let json = serde_json::to_string(&row)?;
    show("row", format!("{}…", json.get(..100).unwrap_or(&json)));
    let wanted = by_email.compute("  Alice@Example.COM");
    show(
        "login lookup for \"  Alice@Example.COM\"",
        format!(
            "WHERE email_index = '{wanted}' → matches: {}",
            wanted.to_hex() == row.email_index
        ),
    );
    let back: CustomerRow = serde_json::from_str(&json)?;
    show("decrypted field", back.email.open(&keyring, &row_42)?);

    // Rotation without downtime.
    keyring.rotate()?;
    keyring.save(&path)?;
    step("the key is rotated: new data uses key 2, old data stays readable");
    show(
        "old token under key 1",
        outcome(keyring.decrypt(&ct, &row_42)),
    );
    let rewrapped = keyring.rewrap(&ct, &row_42)?;
    show(
        "after rewrap",
        format!(
            "key {}, plaintext never left the library",
            rewrapped.key_id()
        ),
    );
    keyring.retire_below(2)?;
    keyring.trim_below(2)?;
    step("key 1 is retired, then trimmed once every row was rewrapped");
    show("old token", outcome(keyring.decrypt(&ct, &row_42)));
    show(
        "rewrapped token",
        outcome(keyring.decrypt(&rewrapped, &row_42)),
    );

    // Crypto-shredding.
    let kek = LocalKeyProvider::load(&path)?;
    let mut subjects = SubjectKeyStore::new();
    let alice = subjects.encrypt(
        &kek,
        "alice",
        b"12 Rue des Lilas",
        &Context::field("customers", "address", "42"),
    )?;
    let bob = subjects.encrypt(
        &kek,
        "bob",
        b"3 Elm Street",
        &Context::field("customers", "address", "43"),
    )?;
    step("each customer's data is also encrypted under a key of their own");
    subjects.shred("bob");
    step("bob asks to be forgotten: his key is shredded, wherever copies of his data are");
    show(
        "bob's address",
        outcome(subjects.decrypt(
            &kek,
            "bob",
            &bob,
            &Context::field("customers", "address", "43"),
        )),
    );
    show(
        "alice's address",
        outcome(subjects.decrypt(
            &kek,
            "alice",
            &alice,
            &Context::field("customers", "address", "42"),
        )),
    );

    // The nightly backup, streamed.
    let dump: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let backup_ctx = Context::new().with("backup", "db-nightly");
    let sealed_path = workdir.join("db-nightly.pcst");
    keyring.seal_stream(&backup_ctx, &dump[..], std::fs::File::create(&sealed_path)?)?;
    let sealed = std::fs::read(&sealed_path)?;
    step("the nightly dump is sealed in 64 KiB chunks, in constant memory");
    show(
        "sizes",
        format!("{} bytes → {} bytes", dump.len(), sealed.len()),
    );
    let mut restored = Vec::new();
    keyring.open_stream(&backup_ctx, &sealed[..], &mut restored)?;
    show(
        "restore",
        if restored == dump {
            "identical"
        } else {
            "DIFFERENT"
        },
    );
    let cut = sealed.get(..73 + 2 * (64 * 1024 + 16)).unwrap_or_default();
    show(
        "a backup cut short",
        outcome(keyring.open_stream(&backup_ctx, cut, std::io::sink())),
    );
    Ok(())
}
