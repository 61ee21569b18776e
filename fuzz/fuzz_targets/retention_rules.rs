//! The retention policy parser on arbitrary text: no panic, `parse` agrees
//! with `validate`, problems point inside the file, a policy accepts itself as
//! its own replacement, and planning with it never panics (extreme instants
//! included).

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_retention::{Policy, RecordBuf, Severity, Timestamp, Trigger};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let problems = Policy::validate(text);
    let lines = text.split('\n').count();
    for problem in &problems {
        if let Some(line) = problem.line {
            assert!((1..=lines).contains(&line), "line {line} of {lines}");
        }
    }
    let has_errors = problems.iter().any(|p| p.severity == Severity::Error);
    let Ok(policy) = Policy::from_toml(text) else {
        assert!(has_errors);
        return;
    };
    assert!(!has_errors);
    assert!(policy.replacement_problems(&policy).is_empty());

    let instants = [Timestamp::MIN, Timestamp::UNIX_EPOCH, Timestamp::MAX];
    let categories: Vec<String> = policy.categories().map(str::to_owned).collect();
    for category in categories.iter().map(String::as_str).chain(["not-declared"]) {
        for created in instants {
            let mut record = RecordBuf::new("r", category, created).with_subject("s").with_last_activity(created);
            for rule in policy.rules() {
                if let Trigger::Event(name) = rule.trigger() {
                    record = record.with_event(name.to_string(), created);
                }
            }
            let held = record.clone().with_hold("h");
            for now in instants {
                for item in policy.plan([&record, &held], now) {
                    let _ = item.reason().to_string();
                }
                for item in policy.erase([&record, &held], "s", now) {
                    let _ = item.reason().to_string();
                }
            }
        }
    }
});
