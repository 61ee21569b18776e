//! RFC 6962 known answers and transparency-dev/merkle's proof test vectors.
//!
//! Sources: `tests/data/rfc6962-reference-tree.json` (the certificate-
//! transparency reference tree) and `tests/data/transparency-dev-merkle/`
//! (see its SOURCE.md).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use palisade_audit::format::{MerkleTree, empty_root, leaf_hash};
use palisade_audit::{Hash, verify_consistency, verify_inclusion};
use serde_json::Value;

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A base64 value as a hash; `None` when it is not 32 bytes (garbage).
fn hash(v: &Value) -> Option<Hash> {
    let bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
    Hash::from_slice(&bytes).ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        other => panic!("bad proof {other}"),
    }
}

fn reference_tree() -> (Vec<Hash>, Vec<Hash>) {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(data("rfc6962-reference-tree.json")).unwrap(),
    )
    .unwrap();
    let leaves = v["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| leaf_hash(&unhex(l.as_str().unwrap())))
        .collect();
    let roots = v["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Hash::from_slice(&unhex(r.as_str().unwrap())).unwrap())
        .collect();
    assert_eq!(
        empty_root().as_bytes().to_vec(),
        unhex(v["empty_root"].as_str().unwrap())
    );
    (leaves, roots)
}

fn vector_files(kind: &str) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let dir = data("transparency-dev-merkle").join(kind);
    for case in std::fs::read_dir(dir).unwrap() {
        for file in std::fs::read_dir(case.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            out.push((path, v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn rfc6962_reference_roots() {
    let (leaves, roots) = reference_tree();
    let tree = MerkleTree::from_leaves(leaves.iter().copied());
    for (i, root) in roots.iter().enumerate() {
        assert_eq!(&tree.root(i as u64 + 1).unwrap(), root, "size {}", i + 1);
    }
    assert_eq!(tree.root(0).unwrap(), empty_root());
}

fn check_inclusion(v: &Value) -> bool {
    let (Some(leaf), Some(root), Some(proof)) =
        (hash(&v["leafHash"]), hash(&v["root"]), proof(&v["proof"]))
    else {
        return false;
    };
    let index = v["leafIdx"].as_i64().unwrap();
    let size = v["treeSize"].as_i64().unwrap();
    let (Ok(index), Ok(size)) = (u64::try_from(index), u64::try_from(size)) else {
        return false;
    };
    verify_inclusion(index, size, &leaf, &proof, &root).is_ok()
}

fn check_consistency(v: &Value) -> bool {
    let (Some(r1), Some(r2), Some(proof)) =
        (hash(&v["root1"]), hash(&v["root2"]), proof(&v["proof"]))
    else {
        return false;
    };
    let (Ok(s1), Ok(s2)) = (
        u64::try_from(v["size1"].as_i64().unwrap()),
        u64::try_from(v["size2"].as_i64().unwrap()),
    ) else {
        return false;
    };
    verify_consistency(s1, s2, &r1, &r2, &proof).is_ok()
}

#[test]
fn transparency_dev_inclusion_vectors() {
    let (leaves, _) = reference_tree();
    let tree = MerkleTree::from_leaves(leaves.iter().copied());
    let files = vector_files("inclusion");
    assert!(files.len() >= 14);
    for (path, v) in &files {
        let want_err = v["wantErr"].as_bool().unwrap();
        assert_eq!(check_inclusion(v), !want_err, "{}", path.display());
        if !want_err {
            // Our prover produces exactly the reference proof.
            let index = v["leafIdx"].as_u64().unwrap();
            let size = v["treeSize"].as_u64().unwrap();
            assert_eq!(
                Some(tree.inclusion_proof(index, size).unwrap()),
                proof(&v["proof"]),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn transparency_dev_consistency_vectors() {
    let (leaves, _) = reference_tree();
    let tree = MerkleTree::from_leaves(leaves.iter().copied());
    let files = vector_files("consistency");
    assert!(files.len() >= 13);
    for (path, v) in &files {
        let want_err = v["wantErr"].as_bool().unwrap();
        assert_eq!(check_consistency(v), !want_err, "{}", path.display());
        if !want_err {
            let s1 = v["size1"].as_u64().unwrap();
            let s2 = v["size2"].as_u64().unwrap();
            assert_eq!(
                Some(tree.consistency_proof(s1, s2).unwrap()),
                proof(&v["proof"]),
                "{}",
                path.display()
            );
        }
    }
}

/// The same mutations transparency-dev/merkle's generator applies, to every
/// happy path: each must be rejected.
#[test]
fn mutated_happy_paths_are_rejected() {
    let mut checked = 0;
    for (path, v) in vector_files("inclusion") {
        if v["wantErr"].as_bool().unwrap() {
            continue;
        }
        let mut mutants = Vec::new();
        for (field, f) in [
            ("leafIdx", (|x: i64| x + 1) as fn(i64) -> i64),
            ("leafIdx", |x| x - 1),
            ("leafIdx", |x| x ^ 2),
            ("treeSize", |x| x * 2),
            ("treeSize", |x| x / 2),
        ] {
            let mut m = v.clone();
            m[field] = f(v[field].as_i64().unwrap()).into();
            if m != v {
                mutants.push(m);
            }
        }
        for (field, value) in [
            ("root", STANDARD.encode(empty_root())),
            ("root", STANDARD.encode([7u8; 32])),
            ("leafHash", STANDARD.encode(b"WrongLeaf")),
        ] {
            let mut m = v.clone();
            m[field] = value.into();
            mutants.push(m);
        }
        let p = v["proof"].as_array().cloned().unwrap_or_default();
        for i in 0..p.len() {
            let mut bytes = STANDARD.decode(p[i].as_str().unwrap()).unwrap();
            bytes[0] ^= 8;
            let mut m = v.clone();
            m["proof"][i] = STANDARD.encode(bytes).into();
            mutants.push(m);
        }
        for extra in [
            STANDARD.encode([0u8; 32]),
            STANDARD.encode(empty_root()),
            v["root"].as_str().unwrap().to_owned(),
        ] {
            let mut m = v.clone();
            let mut longer = p.clone();
            longer.push(extra.clone().into());
            m["proof"] = longer.into();
            mutants.push(m);
            let mut m = v.clone();
            let mut longer = vec![Value::from(extra)];
            longer.extend(p.iter().cloned());
            m["proof"] = longer.into();
            mutants.push(m);
        }
        for m in &mutants {
            assert!(!check_inclusion(m), "{}: {m}", path.display());
            checked += 1;
        }
    }
    for (path, v) in vector_files("consistency") {
        if v["wantErr"].as_bool().unwrap() {
            continue;
        }
        let mut mutants = Vec::new();
        for (field, f) in [
            ("size1", (|x: i64| x + 1) as fn(i64) -> i64),
            ("size1", |x| x - 1),
            ("size2", |x| x * 2),
            ("size2", |x| x / 2),
        ] {
            let mut m = v.clone();
            m[field] = f(v[field].as_i64().unwrap()).into();
            // Every tree extends the empty tree: size1 = 0 with an empty
            // proof is a valid statement, not a mutant.
            if m["size1"] != 0 {
                mutants.push(m);
            }
        }
        let mut swapped = v.clone();
        swapped["root1"] = v["root2"].clone();
        swapped["root2"] = v["root1"].clone();
        if swapped != v {
            mutants.push(swapped);
        }
        for field in ["root1", "root2"] {
            let mut m = v.clone();
            m[field] = STANDARD.encode([9u8; 32]).into();
            mutants.push(m);
        }
        let p = v["proof"].as_array().cloned().unwrap_or_default();
        for i in 0..p.len() {
            let mut bytes = STANDARD.decode(p[i].as_str().unwrap()).unwrap();
            bytes[0] ^= 16;
            let mut m = v.clone();
            m["proof"][i] = STANDARD.encode(bytes).into();
            mutants.push(m);
        }
        if !p.is_empty() {
            let mut m = v.clone();
            m["proof"] = p[..p.len() - 1].to_vec().into();
            mutants.push(m);
            let mut m = v.clone();
            let mut longer = p.clone();
            longer.push(STANDARD.encode([0u8; 32]).into());
            m["proof"] = longer.into();
            mutants.push(m);
        }
        for m in &mutants {
            assert!(!check_consistency(m), "{}: {m}", path.display());
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} mutants");
}
