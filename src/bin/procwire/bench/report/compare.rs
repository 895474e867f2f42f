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
