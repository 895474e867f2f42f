//! `procwire bench --compare A.json B.json`: the matrix of two result files side by side,
//! with B's figure over A's in every cell that has one in both (two machines, two kernels, a
//! before and an after).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::matrix::{KNOWN_SCHEMAS, Matrix, matrix_of};

/// Reads a result file: it must exist, be JSON, and have a schema this build knows.
pub fn load(path: &Path) -> Result<Value, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("cannot read {name}: {e}; give a file written by `procwire bench --json FILE`")
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        format!("{name} is not JSON ({e}); give a file written by `procwire bench --json FILE`")
    })?;
    match v.get("schema").and_then(Value::as_str) {
        Some(s) if KNOWN_SCHEMAS.contains(&s) => Ok(v),
        Some(s) => Err(format!(
            "{name} has schema {s:?}, which this procwire does not know (it reads {}); \
             compare it with the procwire that wrote it",
            KNOWN_SCHEMAS.join(" and ")
        )),
        None => Err(format!(
            "{name} has no \"schema\" field: it is not a `procwire bench --json` result"
        )),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a != 0.0 && a.is_finite() && b.is_finite() => {
            format!("B/A {:.2}x", b / a)
        }
        _ => "B/A -".to_string(),
    }
}

/// The two matrices side by side; `a` and `b` name the files.
pub fn render(a: &str, ma: &Matrix, b: &str, mb: &Matrix) -> String {
    let mut out = format!("\nThe audit's decision matrix, A = {a}, B = {b}:\n");
    for da in &ma.dimensions {
        let db = mb.dimensions.iter().find(|d| d.name == da.name);
        let _ = writeln!(out, "\n{}", da.name);
        let mut labels: Vec<&str> = da.figures.iter().map(|f| f.label.as_str()).collect();
        for f in db.map_or(&[][..], |d| &d.figures[..]) {
            if !labels.contains(&f.label.as_str()) {
                labels.push(&f.label);
            }
        }
        for label in labels {
            let fa = da.figures.iter().find(|f| f.label == label);
            let fb = db.and_then(|d| d.figures.iter().find(|f| f.label == label));
            let _ = writeln!(
                out,
                "  {label}: {}",
                ratio(fa.and_then(|f| f.value), fb.and_then(|f| f.value))
            );
            for (side, f) in [("A", fa), ("B", fb)] {
                let text = f.map_or("not in this file", |f| f.text.as_str());
                let _ = writeln!(out, "    {side} {text}");
            }
        }
    }
    let _ = writeln!(out, "\nWorkloads:");
    for wa in &ma.workloads {
        let wb = mb.workloads.iter().find(|w| w.workload == wa.workload);
        let same = wb.is_some_and(|wb| wb.winner == wa.winner);
        let cell = if same {
            ratio(wa.value, wb.and_then(|w| w.value))
        } else {
            "winner changed".to_string()
        };
        let _ = writeln!(out, "  {}: {cell}", wa.workload);
        let _ = writeln!(out, "    A {}", wa.text);
        let _ = writeln!(
            out,
            "    B {}",
            wb.map_or("not in this file", |w| w.text.as_str())
        );
    }
    out
}

/// `--compare`: loads both files and renders them.
pub fn compare(a: &Path, b: &Path) -> Result<String, String> {
    let (va, vb) = (load(a)?, load(b)?);
    Ok(render(
        &a.display().to_string(),
        &matrix_of(&va),
        &b.display().to_string(),
        &matrix_of(&vb),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::matrix::tests::{ALL_SECTIONS, RECORDED, parse};
    use super::*;

    #[test]
    fn two_files_side_by_side_with_ratios_per_cell() {
        let (a, mut b) = (parse(RECORDED), parse(RECORDED));
        // B: twice the queue of every kind, the same everything else.
        for q in b["matrix"]["checks"]["queue"].as_array_mut().unwrap() {
            q["queued"] = serde_json::json!(q["queued"].as_u64().unwrap() * 2);
        }
        let text = render("a.json", &matrix_of(&a), "b.json", &matrix_of(&b));
        assert!(text.contains("A = a.json, B = b.json"), "{text}");
        assert_eq!(text.matches("  pipes: B/A 2.00x").count(), 1, "{text}");
        assert!(text.contains("  socketpair: B/A 2.00x"), "{text}");
        assert!(text.contains("bulk transfer: B/A 1.00x"), "{text}");
        assert!(text.contains("    A ancillary") || text.contains("    A pipes: not possible"));
    }

    #[test]
    fn families_only_one_file_has_are_shown_as_absent_in_the_other() {
        let text = render(
            "old.json",
            &matrix_of(&parse(RECORDED)),
            "new.json",
            &matrix_of(&parse(ALL_SECTIONS)),
        );
        assert!(
            text.contains("    A file edge: not measured in this run"),
            "{text}"
        );
        assert!(text.contains("    A not in this file"), "{text}");
        assert!(text.contains("relaying: winner changed"), "{text}");
    }

    #[test]
    fn missing_bad_and_unknown_files_are_clear_errors() {
        let dir = std::env::temp_dir().join(format!("procwire-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("nope.json");
        let e = load(&missing).unwrap_err();
        assert!(
            e.starts_with(&format!("cannot read {}", missing.display())),
            "{e}"
        );
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();
        let e = load(&bad).unwrap_err();
        assert!(e.contains("bad.json is not JSON"), "{e}");
        let old = dir.join("old.json");
        std::fs::write(&old, r#"{"schema": "procwire-bench/1"}"#).unwrap();
        let e = load(&old).unwrap_err();
        assert!(
            e.contains("schema \"procwire-bench/1\", which this procwire does not know"),
            "{e}"
        );
        let none = dir.join("none.json");
        std::fs::write(&none, r#"{"rows": []}"#).unwrap();
        assert!(load(&none).unwrap_err().contains("no \"schema\" field"));
        let good = dir.join("good.json");
        std::fs::write(&good, ALL_SECTIONS).unwrap();
        assert!(compare(&good, &good).unwrap().contains("B/A 1.00x"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
