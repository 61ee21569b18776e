//! Chapter 5: personal data and secrets, with palisade-pii.

use std::error::Error;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use palisade_examples::{chapter, show, step};
use palisade_pii::{
    Encryptor, HashKey, JsonMasker, Kind, Masker, Operator, PartialMask, Redacted,
    ScrubbingMakeWriter,
};

/// A `Write` that keeps what the log would have written, to show it.
#[derive(Clone, Default)]
struct LogFile(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn run(_workdir: &Path) -> Result<(), Box<dyn Error>> {
    chapter(
        5,
        "Masking personal data",
        "staff without the right see XX in place of client phone digits; passwords never reach \
         a log; customer ids from Poland, Brazil, Russia and Indonesia are recognised and protected",
    );

    // The client list as the database holds it.
    let clients = [
        (
            "Jan Kowalski",
            "+48 601 234 567",
            "PESEL 44051401359",
            "jan.kowalski@example.pl",
        ),
        (
            "Ana Souza",
            "+55 11 91234-5678",
            "CPF 111.444.777-35",
            "ana.souza@example.com.br",
        ),
        (
            "Ivan Petrov",
            "+7 912 345-67-89",
            "SNILS 112-233-445 95",
            "ivan@example.ru",
        ),
        (
            "Siti Rahma",
            "+62 812-3456-7890",
            "NIK 3171015708450001",
            "siti@example.co.id",
        ),
    ];
    // An operator without the right to see contact data: digits masked, the
    // country code and the last three kept so a caller can be told apart.
    let staff = Masker::new(Operator::Partial(PartialMask::default()));
    step("the client list as a support operator without the contact right sees it");
    for (name, phone, id, email) in clients {
        let line = format!("{name:<13} {phone:<18} {id:<22} {email}");
        show("operator", staff.mask(&line)?);
    }

    // The same people as a record exported to analytics: hash tokens join
    // rows about the same person without revealing who it is.
    let key = HashKey::new(b"tour-analytics-key-never-hardcode-this")?;
    let analytics = Masker::new(Operator::Hash(key));
    let mut record = serde_json::json!({
        "client": {"name": "Jan Kowalski", "phone": "+48 601 234 567", "email": "jan.kowalski@example.pl"},
        "orders": [{"id": 1017, "card": "4111 1111 1111 1111"}]
    });
    JsonMasker::new(&analytics)
        .path("client.name")?
        .mask(&mut record)?;
    step(
        "a record exported to analytics: name masked by path, the rest by content, as keyed tokens",
    );
    show("record", &record);

    // A support ticket kept for the fraud team: encrypted in place, readable
    // again only with the keyring and for this ticket.
    let keyring = Arc::new(palisade_crypt::Keyring::generate()?);
    let ticket = palisade_crypt::Context::field("tickets", "body", "T-1017");
    let sealed = Encryptor::new(Arc::clone(&keyring), ticket.clone());
    let fraud = Masker::new(Operator::Encrypt(sealed.clone()));
    let body = "chargeback on 4111 1111 1111 1111, customer PESEL 44051401359";
    let stored = fraud.mask(body)?;
    step("a fraud ticket stored with its card and PESEL encrypted in place (palisade-crypt)");
    show("stored", format!("{:.96}…", stored));
    show("revealed", sealed.reveal(&stored)?);
    let elsewhere = Encryptor::new(
        keyring,
        palisade_crypt::Context::field("tickets", "body", "T-1018"),
    );
    show(
        "pasted into T-1018",
        if elsewhere.reveal(&stored).is_err() {
            "refused"
        } else {
            "revealed (wrong!)"
        },
    );

    // A log line before and after: the tracing subscriber writes through the scrubber.
    let raw = "login ok user=jan.kowalski@example.pl password=\"hunter2\" from 10.20.30.40 \
               card=4111111111111111 token=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
    step("an application log line, as the code wrote it");
    show("before", raw);
    let file = LogFile::default();
    let sink = file.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(ScrubbingMakeWriter::new(
            Arc::new(Masker::default()),
            move || sink.clone(),
        ))
        .finish();
    tracing::subscriber::with_default(subscriber, || tracing::info!("{raw}"));
    let written = String::from_utf8_lossy(&file.0.lock().map_err(|_| "poisoned")?)
        .trim_end()
        .to_owned();
    show("after", written);

    // Values that must never be printed carry their own guard.
    let pesel = Redacted::with_kind(Kind::PlPesel, String::from("44051401359"));
    step("a PESEL held in a Redacted wrapper, formatted by mistake");
    show("{:?}", format!("{pesel:?}"));

    // Throughput, because this sits in front of every log line: what the
    // bench `pii_mask_short/palisade/1_thread` times, on a slice of its
    // corpus (lines of about 100 bytes, one in five with a value), streamed
    // on one thread as `palisade pii mask --threads 1` streams.
    let corpus = palisade_benches::pii_corpus::short_lines(10_000_000);
    let masker = Masker::default();
    let mut masked = Vec::with_capacity(corpus.len());
    let started = Instant::now();
    let summary = masker.mask_stream(corpus.as_bytes(), &mut masked)?;
    let secs = started.elapsed().as_secs_f64();
    step(format!(
        "masked {:.0} MB of short log lines ({} values) in {:.0} ms: {:.0} MB/s on one core \
         of this machine, this run (the bench's corpus; the bench times 100 MB)",
        corpus.len() as f64 / 1e6,
        summary.masked,
        secs * 1e3,
        corpus.len() as f64 / 1e6 / secs.max(1e-9)
    ));
    let first = String::from_utf8_lossy(&masked);
    show(
        "a masked line",
        first.lines().find(|l| l.contains('<')).unwrap_or_default(),
    );
    Ok(())
}
