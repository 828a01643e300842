//! UMAP against umap-learn, without Python: tests/fixtures/umap_reference.json
//! (written by benches/reference/umap_compare.py, versions inside) holds
//! each dataset's points and umap-learn's trustworthiness over seeds 0–4,
//! plus one umap-learn embedding with scikit-learn's trustworthiness of it.

use ndarray::Array2;
use serde_json::Value;
use vaerun::cluster::{trustworthiness::trustworthiness, umap::umap};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/umap_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Rows of float32 values stored in their shortest decimal form.
fn matrix(v: &Value) -> Array2<f32> {
    let rows = v.as_array().unwrap();
    let d = rows[0].as_array().unwrap().len();
    let flat: Vec<f32> = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect();
    Array2::from_shape_vec((rows.len(), d), flat).unwrap()
}

#[test]
fn trustworthiness_equals_scikit_learns() {
    let f = fixture();
    let check = &f["trust_check"];
    let x = matrix(&f["datasets"][check["dataset"].as_str().unwrap()]["x"]);
    let y = matrix(&check["embedding"]);
    let ours = trustworthiness(&x, &y, f["k"].as_u64().unwrap() as usize).unwrap();
    let theirs = check["trustworthiness"].as_f64().unwrap();
    // The penalty is a sum of integers: the only difference is the last
    // rounding of the normalisation.
    assert!(
        (ours - theirs).abs() < 1e-12,
        "{ours} vs scikit-learn {theirs}"
    );
}

#[test]
fn umap_is_as_trustworthy_as_umap_learn() {
    let f = fixture();
    let k = f["k"].as_u64().unwrap() as usize;
    for (name, d) in f["datasets"].as_object().unwrap() {
        let x = matrix(&d["x"]);
        let ours = trustworthiness(&x, &umap(&x, 15, 0.1, None, 0).unwrap(), k).unwrap();
        let theirs = d["umap_learn_mean"].as_f64().unwrap();
        // The bar: within 0.02 of umap-learn's mean over seeds 0–4.
        // One seed of ours keeps the test short: the spread over seeds is
        // about 0.002 on either side, far inside the margin.
        assert!(
            ours >= theirs - 0.02,
            "{name}: trustworthiness {ours:.4} vs umap-learn {theirs:.4}"
        );
        eprintln!("{name}: vaerun {ours:.4}, umap-learn {theirs:.4}");
    }
}
