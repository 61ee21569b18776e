//! The one-pass serializer against the reference `Value` walk: for generated
//! values and generated field rights (visible, masked, hidden; nested types
//! readable or not), the same JSON text and the same audit mark.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::request::Parts;
use palisade_audit::Event;
use palisade_pii::{HashKey, Masker, Operator, PartialMask};
use palisade_rbac::Policy;
use proptest::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::Stream;
use crate::guard::GuardedMark;
use crate::principal::{BoxFuture, DecisionLog, PolicySource, SessionLookup};
use crate::protect::{Field, Guarded, Protected};
use crate::{Guard, Kind, Principal, Refusal};

struct Nobody;
impl SessionLookup for Nobody {
    fn principal<'a>(&'a self, _: &'a Parts) -> BoxFuture<'a, Result<Option<Principal>, Refusal>> {
        Box::pin(async { Ok(None) })
    }
    fn end_sessions<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

struct NoPolicy;
impl PolicySource for NoPolicy {
    fn policy<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Arc<Policy>, Refusal>> {
        Box::pin(async { Err(Refusal::Internal) })
    }
}

struct NoLog;
impl DecisionLog for NoLog {
    fn record<'a>(&'a self, _: &'a str, _: Event) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async { Ok(()) })
    }
}

// Types whose fields are declared in another order than they serialize
// (`Invoice`, `Client`): the audit notes must still come in the walk's order.

#[derive(Clone, Debug, Serialize)]
struct Invoice {
    id: String,
    amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    memo: Option<String>,
}

impl Protected for Invoice {
    const TYPE: &'static str = "Invoice";
    const FIELDS: &'static [Field] = &[
        Field::personal("memo", Kind::Custom("NOTE")),
        Field::plain("amount"),
        Field::plain("id"),
    ];
}

#[derive(Clone, Debug, Serialize)]
struct Attachment {
    name: String,
    size: u64,
}

impl Protected for Attachment {
    const TYPE: &'static str = "Attachment";
    const FIELDS: &'static [Field] = &[
        Field::personal("name", Kind::Custom("FILE")),
        Field::plain("size"),
    ];
}

#[derive(Clone, Debug, Serialize)]
struct Meta {
    source: String,
    level: u8,
}

#[derive(Clone, Debug, Serialize)]
enum Tier {
    Basic,
    Gold(String),
}

#[derive(Clone, Debug, Serialize)]
struct Email(String);

#[derive(Clone, Debug, Serialize)]
struct Client {
    id: String,
    name: Option<String>,
    phone: String,
    email: Email,
    age: Option<i64>,
    score: f64,
    vip: bool,
    tags: Vec<String>,
    meta: Meta,
    tier: Tier,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoices: Option<Vec<Invoice>>,
    attachment: Option<Attachment>,
    labels: Vec<String>,
}

impl Protected for Client {
    const TYPE: &'static str = "Client";
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::nested("invoices", "Invoice", Invoice::FIELDS),
        Field::personal("phone", Kind::Phone),
        Field::personal("name", Kind::Custom("NAME")),
        Field::personal("email", Kind::Email),
        Field::personal("age", Kind::Custom("AGE")),
        Field::plain("score"),
        Field::plain("vip"),
        Field::plain("tags"),
        Field::plain("meta"),
        Field::plain("tier"),
        Field::nested("attachment", "Attachment", Attachment::FIELDS),
        // A nested list of bare values: a type without fields.
        Field::nested("labels", "Label", &[]),
    ];
    fn subjects(&self, out: &mut palisade_audit::Subjects) {
        out.push_id("client", &self.id);
    }
}

#[derive(Clone, Debug, Serialize)]
struct Page {
    clients: Vec<Client>,
    offset: i64,
    note: Option<String>,
}

impl Protected for Page {
    const TYPE: &'static str = "Client";
    const FIELDS: &'static [Field] = &[
        Field::plain("offset"),
        Field::personal("note", Kind::Custom("NOTE")),
        Field::nested("clients", "Client", Client::FIELDS),
    ];
    fn subjects(&self, out: &mut palisade_audit::Subjects) {
        self.clients.subjects(out);
    }
}

/// Shapes the serializer leaves to the walk: it must give up, not write
/// them differently.
#[derive(Clone, Debug, Serialize)]
struct Odd {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<BTreeMap<String, i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    big: Option<u128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<String>,
}

impl Protected for Odd {
    const TYPE: &'static str = "Client";
    // `extra` is serialized but not declared: refused.
    const FIELDS: &'static [Field] = &[
        Field::plain("id"),
        Field::plain("ratio"),
        Field::personal("counts", Kind::Custom("COUNTS")),
        Field::plain("big"),
        Field::plain("raw"),
    ];
}

const CLIENT_FIELDS: &[&str] = &[
    "id", "name", "phone", "email", "age", "score", "vip", "tags", "meta", "tier", "invoices",
    "counts", "ratio", "big", "raw", "offset", "note",
];
const INVOICE_FIELDS: &[&str] = &["id", "amount", "memo"];
const ATTACHMENT_FIELDS: &[&str] = &["name", "size"];

/// A field right as the policy file writes it; `None`: no right (visible).
fn right() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some("visible")),
        2 => Just(Some("masked")),
        1 => Just(Some("hidden")),
    ]
}

#[derive(Clone, Debug)]
struct Rights {
    client: Vec<Option<&'static str>>,
    invoice: Vec<Option<&'static str>>,
    attachment: Vec<Option<&'static str>>,
    invoices_readable: bool,
    attachments_readable: bool,
    labels_readable: bool,
    masker: u8,
}

fn rights() -> impl Strategy<Value = Rights> {
    (
        prop::collection::vec(right(), CLIENT_FIELDS.len()),
        prop::collection::vec(right(), INVOICE_FIELDS.len()),
        prop::collection::vec(right(), ATTACHMENT_FIELDS.len()),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0u8..6,
    )
        .prop_map(|(client, invoice, attachment, i, a, l, masker)| Rights {
            client,
            invoice,
            attachment,
            invoices_readable: i,
            attachments_readable: a,
            labels_readable: l,
            masker,
        })
}

fn policy(rights: &Rights) -> Policy {
    let list = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut allow = vec!["\"Client:read\""];
    if rights.invoices_readable {
        allow.push("\"Invoice:read\"");
    }
    if rights.attachments_readable {
        allow.push("\"Attachment:read\"");
    }
    if rights.labels_readable {
        allow.push("\"Label:read\"");
    }
    let mut fields = Vec::new();
    for (ty, names, given) in [
        ("Client", CLIENT_FIELDS, &rights.client),
        ("Invoice", INVOICE_FIELDS, &rights.invoice),
        ("Attachment", ATTACHMENT_FIELDS, &rights.attachment),
    ] {
        for (name, right) in names.iter().zip(given) {
            if let Some(right) = right {
                fields.push(format!("\"{ty}.{name}\" = \"{right}\""));
            }
        }
    }
    let toml = format!(
        r#"
[types.Client]
actions = ["read"]
fields = [{client}]
[types.Invoice]
actions = ["read"]
fields = [{invoice}]
[types.Attachment]
actions = ["read"]
fields = [{attachment}]
[types.Label]
actions = ["read"]
[roles.Reader]
allow = [{allow}]
fields = {{ {fields} }}
[tenants.acme]
owners = ["u"]
owner_role = "Reader"
[users.u]
tenants = {{ acme = ["Reader"] }}
"#,
        client = list(CLIENT_FIELDS),
        invoice = list(INVOICE_FIELDS),
        attachment = list(ATTACHMENT_FIELDS),
        allow = allow.join(", "),
        fields = fields.join(", "),
    );
    Policy::from_toml(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"))
}

fn guard(masker: u8) -> Guard {
    let operator = match masker {
        0 => Operator::Partial(PartialMask::default()),
        1 => Operator::Partial(PartialMask::new('•', 1).unwrap().ignore(['-'])),
        2 => Operator::Label,
        // A mask character JSON writes as it is (the value's own text is
        // then not looked at again), and one it escapes.
        3 => Operator::Partial(PartialMask::new('*', 2).unwrap().keep_country_code(false)),
        4 => Operator::Partial(PartialMask::new('"', 3).unwrap()),
        _ => Operator::Hash(HashKey::new(&[9; 32]).unwrap()),
    };
    Guard::builder(Nobody, NoPolicy, NoLog)
        .with_masker(Arc::new(Masker::new(operator)))
        .build()
}

/// Text as it comes from a database: names with any character (quotes,
/// backslashes, control characters, non-ASCII), phones, e-mail addresses.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,10}",
        "\\+[0-9]{1,3} [0-9 ]{3,12}",
        "[a-z.]{1,8}@[a-z]{1,6}\\.[a-z]{2,3}",
        "[\"\\\\\\x00-\\x1f a-zA-Zł]{0,8}",
    ]
}

prop_compose! {
    fn invoice()(id in "[a-z0-9-]{1,6}", amount in any::<i64>(), memo in prop::option::of(text())) -> Invoice {
        Invoice { id, amount, memo }
    }
}

prop_compose! {
    fn client()(
        id in "c-[0-9]{1,4}",
        name in prop::option::of(text()),
        phone in text(),
        email in text(),
        age in prop::option::of(any::<i64>()),
        score in prop_oneof![any::<f64>(), Just(f64::NAN), Just(0.1), Just(-0.0)],
        vip in any::<bool>(),
        tags in prop::collection::vec(text(), 0..3),
        meta in (text(), any::<u8>()).prop_map(|(source, level)| Meta { source, level }),
        tier in prop_oneof![Just(Tier::Basic), text().prop_map(Tier::Gold)],
        invoices in prop::option::of(prop::collection::vec(invoice(), 0..3)),
        attachment in prop::option::of((text(), any::<u64>()).prop_map(|(name, size)| Attachment { name, size })),
        labels in prop::collection::vec(text(), 0..2),
    ) -> Client {
        Client { id, name, phone, email: Email(email), age, score, vip, tags, meta, tier, invoices, attachment, labels }
    }
}

prop_compose! {
    fn page()(clients in prop::collection::vec(client(), 0..4), offset in any::<i64>(), note in prop::option::of(text())) -> Page {
        Page { clients, offset, note }
    }
}

/// Whether this build's `serde_json::Map` keeps insertion order (feature
/// `preserve_order`): then the reference writes keys in serialization
/// order, as the serializer does, and the texts must be equal byte for
/// byte. Otherwise the reference sorts keys, and the values must be equal.
fn map_keeps_order() -> bool {
    let mut map = serde_json::Map::new();
    map.insert("b".into(), Value::Null);
    map.insert("a".into(), Value::Null);
    map.keys().next().map(String::as_str) == Some("b")
}

/// The reference answer: the `Value` walk, written.
fn reference<T: Protected + Clone>(
    value: &T,
    policy: &Arc<Policy>,
    guard: &Guard,
) -> Result<(Vec<u8>, GuardedMark), Refusal> {
    let guarded = Guarded::new(
        value.clone(),
        Principal::new("u", "acme"),
        Arc::clone(policy),
        guard.clone(),
        None,
    );
    let (value, mark) = guarded.protect()?;
    Ok((serde_json::to_vec(&value).unwrap(), mark))
}

/// The serializer's answer (`None`: it gave up).
fn streamed<T: Protected>(
    value: &T,
    policy: &Policy,
    guard: &Guard,
) -> Option<(Vec<u8>, GuardedMark)> {
    let principal = Principal::new("u", "acme");
    let mut stream = Stream::new(policy, &principal, guard, None);
    stream.write(value, T::TYPE, T::FIELDS).ok()?;
    let (json, mut mark) = stream.finish();
    value.subjects(&mut mark.subjects);
    Some((json, mark))
}

/// What `Guarded` answers: the serializer, or the walk where it gives up.
fn answered<T: Protected + Clone>(
    value: &T,
    policy: &Arc<Policy>,
    guard: &Guard,
) -> Result<(Vec<u8>, GuardedMark), Refusal> {
    // As `Authorized::respond` answers a route allowed to read every
    // `T::TYPE`: its nested values of that type not decided again.
    let principal = Principal::new("u", "acme");
    let whole = crate::authorized::decide(policy, &principal, "read", T::TYPE, None, false);
    Guarded::new(
        value.clone(),
        principal,
        Arc::clone(policy),
        guard.clone(),
        whole.then_some(T::TYPE),
    )
    .protect_json()
}

fn same_text(streamed: &[u8], reference: &[u8]) -> Result<(), TestCaseError> {
    if map_keeps_order() {
        prop_assert_eq!(
            String::from_utf8_lossy(streamed),
            String::from_utf8_lossy(reference)
        );
    } else {
        let s: Value = serde_json::from_slice(streamed).unwrap();
        let r: Value = serde_json::from_slice(reference).unwrap();
        prop_assert_eq!(s, r);
    }
    Ok(())
}

/// The streamed answer is the reference's, and the serializer did not give
/// up on a shape it streams.
fn check<T: Protected + Clone>(value: &T, rights: &Rights) -> Result<(), TestCaseError> {
    let policy = Arc::new(policy(rights));
    let guard = guard(rights.masker);
    let (reference, reference_mark) = reference(value, &policy, &guard).unwrap();
    let (json, mark) = streamed(value, &policy, &guard).expect("the serializer gave up");
    same_text(&json, &reference)?;
    prop_assert_eq!(mark, reference_mark);
    let (answer, answer_mark) = answered(value, &policy, &guard).unwrap();
    prop_assert_eq!(answer, json);
    prop_assert_eq!(answer_mark.masked, mark_masked(&reference));
    Ok(())
}

/// The top object's `masked` list, as the client reads it.
fn mark_masked(json: &[u8]) -> Vec<String> {
    match serde_json::from_slice::<Value>(json).unwrap() {
        Value::Object(map) => map
            .get("masked")
            .map(|m| serde_json::from_value(m.clone()).unwrap())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn a_page_streams_as_the_walk_writes_it(value in page(), rights in rights()) {
        check(&value, &rights)?;
    }

    #[test]
    fn a_client_streams_as_the_walk_writes_it(value in client(), rights in rights()) {
        check(&value, &rights)?;
    }

    #[test]
    fn a_list_streams_as_the_walk_writes_it(
        value in prop::collection::vec(client(), 0..3),
        rights in rights(),
    ) {
        let policy = Arc::new(policy(&rights));
        let guard = guard(rights.masker);
        let (reference, reference_mark) = reference(&value, &policy, &guard).unwrap();
        let (json, mark) = streamed(&value, &policy, &guard).expect("the serializer gave up");
        same_text(&json, &reference)?;
        prop_assert_eq!(mark, reference_mark);
    }

    /// Shapes left to the walk: the answer is the walk's (or its refusal).
    #[test]
    fn shapes_left_to_the_walk_are_answered_by_it(
        ratio in prop::option::of(prop_oneof![Just(0.1f32), any::<f32>()]),
        counts in prop::option::of(prop::collection::btree_map("[a-c]{1,2}", any::<i64>(), 0..3)),
        big in prop::option::of(prop_oneof![Just(u128::MAX), any::<u64>().prop_map(u128::from)]),
        raw in prop::option::of(prop_oneof![
            Just(serde_json::json!({"b": 1, "a": [1, 2]})),
            Just(serde_json::json!(1.5)),
        ]),
        extra in prop::option::of(text()),
        rights in rights(),
    ) {
        let value = Odd { id: "o-1".into(), ratio, counts, big, raw, extra };
        let policy = Arc::new(policy(&rights));
        let guard = guard(rights.masker);
        let reference = reference(&value, &policy, &guard);
        let answer = answered(&value, &policy, &guard);
        match (&reference, &answer) {
            (Ok((r, rm)), Ok((a, am))) => {
                same_text(a, r)?;
                prop_assert_eq!(rm, am);
            }
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "{reference:?} / {answer:?}"),
        }
        // Streamed unless one of those shapes is written as is or hidden
        // (checked as the walk would serialize it) rather than masked whole,
        // a masked number is beyond 64 bits (it has no `Value`: refused), or
        // a field is not declared.
        let masked = |name: &str| {
            let i = CLIENT_FIELDS.iter().position(|f| *f == name).unwrap();
            rights.client[i] == Some("masked")
        };
        let left = (value.ratio.is_some() && !masked("ratio"))
            || (value.counts.is_some() && !masked("counts"))
            || value.big.is_some_and(|b| !masked("big") || u64::try_from(b).is_err())
            || (value.raw.as_ref().is_some_and(Value::is_object) && !masked("raw"))
            || value.extra.is_some();
        prop_assert_eq!(streamed(&value, &policy, &guard).is_none(), left);
    }
}

/// Fields serialized in another order than declared: the audit notes (and
/// the client's `masked` list) follow the declaration order, as the walk's.
#[test]
fn notes_follow_the_declaration_order() {
    let rights = Rights {
        client: CLIENT_FIELDS
            .iter()
            .map(|f| match *f {
                "phone" | "name" | "note" => Some("masked"),
                "vip" | "tags" => Some("hidden"),
                _ => None,
            })
            .collect(),
        invoice: vec![None, None, Some("masked")],
        attachment: vec![None, None],
        invoices_readable: true,
        attachments_readable: false,
        labels_readable: true,
        masker: 0,
    };
    let value = Page {
        clients: vec![Client {
            id: "c-1".into(),
            name: Some("Jan Kowalski".into()),
            phone: "+48 601 234 567".into(),
            email: Email("jan@example.com".into()),
            age: Some(40),
            score: 1.5,
            vip: true,
            tags: vec!["a".into()],
            meta: Meta {
                source: "web".into(),
                level: 2,
            },
            tier: Tier::Gold("since 2020".into()),
            invoices: Some(vec![Invoice {
                id: "i-1".into(),
                amount: 100,
                memo: Some("paid".into()),
            }]),
            attachment: Some(Attachment {
                name: "scan.pdf".into(),
                size: 10,
            }),
            labels: vec!["x".into()],
        }],
        offset: 0,
        note: Some("first page".into()),
    };
    let policy = Arc::new(policy(&rights));
    let guard = guard(0);
    let (json, mark) = streamed(&value, &policy, &guard).unwrap();
    let (reference, reference_mark) = reference(&value, &policy, &guard).unwrap();
    assert_eq!(mark, reference_mark);
    // The walk: `note` (page), then in the client `invoices` (its `memo`),
    // `phone`, `name`; serialized, `name` and `phone` come before `memo`.
    assert_eq!(mark.masked, ["note", "memo", "phone", "name"]);
    assert_eq!(mark.hidden, ["vip", "tags"]);
    assert_eq!(mark.shown, ["email", "age"]);
    assert_eq!(mark.withheld, ["clients.attachment"]);
    assert_eq!(mark.subjects, ["client:c-1"]);
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(
        text.ends_with(r#""masked":["note","memo","phone","name"]}"#),
        "{text}"
    );
    assert!(text.contains(r#""phone":"+48 XXX XXX 567""#), "{text}");
    let streamed: Value = serde_json::from_slice(&json).unwrap();
    let reference: Value = serde_json::from_slice(&reference).unwrap();
    assert_eq!(streamed, reference);
}

/// The word-at-a-time test of text written as it is agrees with the
/// byte-by-byte definition, for every length and position of every byte
/// value that needs escaping (or is beyond ASCII).
#[test]
fn json_verbatim_agrees_with_the_bytewise_definition() {
    let plain = |b: u8| (0x20..0x80).contains(&b) && b != b'"' && b != b'\\';
    for len in 0..=20 {
        let base: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        assert!(super::json_verbatim(&base), "{base:?}");
        for at in 0..len {
            for b in 0..=255u8 {
                let mut text = base.clone();
                text[at] = b;
                assert_eq!(super::json_verbatim(&text), plain(b), "{text:?}");
            }
        }
    }
}

proptest! {
    #[test]
    fn json_verbatim_agrees_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let plain = bytes.iter().all(|&b| (0x20..0x80).contains(&b) && b != b'"' && b != b'\\');
        prop_assert_eq!(super::json_verbatim(&bytes), plain);
    }
}

/// Names compared by their ends agree with byte-by-byte equality: equal
/// names of every length up to 20, and names differing in one byte at
/// every place.
#[test]
fn same_name_agrees_with_equality() {
    for len in 0..=20usize {
        let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        let a = String::from_utf8(a).unwrap();
        let b = a.clone();
        assert!(super::same_name(&a, &b), "{a:?}");
        for place in 0..len {
            let mut c = a.clone().into_bytes();
            c[place] = b'-';
            let c = String::from_utf8(c).unwrap();
            assert!(!super::same_name(&a, &c), "{a:?} {c:?}");
            assert!(!super::same_name(&c, &a), "{c:?} {a:?}");
        }
        assert!(!super::same_name(&a, &format!("{a}x")));
    }
}

/// The same for text that only needs no escaping (beyond ASCII is fine).
#[test]
fn json_plain_text_agrees_with_the_bytewise_definition() {
    let plain = |b: u8| b >= 0x20 && b != b'"' && b != b'\\';
    for len in 0..=20 {
        let base: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        for at in 0..len {
            for b in 0..=255u8 {
                let mut text = base.clone();
                text[at] = b;
                assert_eq!(super::json_plain_text(&text), plain(b), "{text:?}");
                // Beyond ASCII around it changes nothing.
                text.insert(0, 0xC3);
                text.push(0xFF);
                assert_eq!(super::json_plain_text(&text), plain(b), "{text:?}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Answers of every size written at once through one guard (which
    /// sizes each buffer from the last answer any thread wrote) are the
    /// ones each writes alone with a guard of its own.
    #[test]
    fn concurrent_answers_of_any_size_are_each_their_own(
        pages in prop::collection::vec(page(), 1..8),
        rights in rights(),
    ) {
        let policy = Arc::new(policy(&rights));
        let alone: Vec<_> = pages
            .iter()
            .map(|p| streamed(p, &policy, &guard(rights.masker)))
            .collect();
        prop_assert!(alone.iter().all(Option::is_some), "the serializer gave up");
        let shared = guard(rights.masker);
        let together: Vec<Vec<_>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let (pages, policy, shared) = (&pages, &policy, &shared);
                    s.spawn(move || {
                        // Each thread goes through the pages from its own
                        // end, so large and small answers interleave.
                        (0..pages.len())
                            .map(|i| if t % 2 == 0 { i } else { pages.len() - 1 - i })
                            .map(|i| (i, streamed(&pages[i], policy, shared)))
                            .collect()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for answers in together {
            for (i, answer) in answers {
                prop_assert_eq!(&answer, &alone[i]);
            }
        }
    }
}

proptest! {
    /// What `Guard::mask_keeps_json_text` relies on: a partial mask with a
    /// character JSON writes as it is, given text JSON writes as it is,
    /// writes text JSON writes as it is, in every kind; and the guard says
    /// so for exactly those masks.
    #[test]
    fn a_plain_mask_keeps_json_text_plain(
        text in "[ !#-\\[\\]-~]{0,30}",
        mask in prop_oneof![Just('X'), Just('*'), Just('#'), Just('~'), Just(' '), Just('"'), Just('\\'), Just('•'), Just('\t')],
        keep in 0usize..5,
        kind in prop_oneof![
            Just(Kind::Phone), Just(Kind::Email), Just(Kind::Iban), Just(Kind::Secret),
            Just(Kind::PaymentCard), Just(Kind::PlPesel), Just(Kind::Custom("NAME")),
        ],
    ) {
        let operator = Operator::Partial(PartialMask::new(mask, keep).unwrap());
        let guard = Guard::builder(Nobody, NoPolicy, NoLog)
            .with_masker(Arc::new(Masker::new(operator.clone())))
            .build();
        let plain_mask = mask.is_ascii() && mask >= ' ' && mask != '"' && mask != '\\';
        prop_assert_eq!(guard.mask_keeps_json_text(), plain_mask);
        prop_assert!(super::json_verbatim(text.as_bytes()));
        let mut out = Vec::new();
        operator.apply_into(kind, &text, &mut out).unwrap();
        if plain_mask {
            prop_assert!(super::json_verbatim(&out), "{:?} -> {:?}", text, String::from_utf8_lossy(&out));
        }
    }
}
