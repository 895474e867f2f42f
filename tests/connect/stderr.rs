//! The programs' stderr: inherited byte for byte, or in whole prefixed lines.

use crate::{WIRES, connect};

/// Floods stderr with `LINES` numbered lines of `WIDTH` bytes, each line written in three
/// pieces (so a line is never one write), then a last line without a newline.
const FLOOD: &str = r#"
import os, sys
tag, n, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    line = ("%s%06d" % (tag, i)).ljust(width, tag).encode() + b"\n"
    third = len(line) // 3
    for piece in (line[:third], line[third:2 * third], line[2 * third:]):
        os.write(2, piece)
os.write(2, ("tail-" + tag).encode())
"#;

const LINES: usize = 2000;
const WIDTH: usize = 3000;

/// Checks procwire's stderr: every line is `[label] ` + a whole line of one program, each
/// program's lines all there and in order, its unterminated last line printed too.
fn check_flood(err: &[u8], labels: [(&str, char); 2]) {
    let text = std::str::from_utf8(err).expect("the lines are ASCII");
    let mut next = [0usize; 2];
    let mut tails = [false; 2];
    for line in text.lines() {
        let (k, body) = labels
            .iter()
            .enumerate()
            .find_map(|(k, (label, _))| line.strip_prefix(&format!("[{label}] ")).map(|b| (k, b)))
            .unwrap_or_else(|| panic!("a line without a label: {:.80}", line));
        let tag = labels[k].1;
        if body == format!("tail-{tag}") {
            assert_eq!(next[k], LINES, "{tag}'s tail comes last");
            tails[k] = true;
            continue;
        }
        let want = format!("{tag}{:06}", next[k]);
        assert!(
            body.len() == WIDTH
                && body.starts_with(&want)
                && body[want.len()..].chars().all(|c| c == tag),
            "line {} of {tag} is mixed or cut: {:.80}...",
            next[k],
            body
        );
        next[k] += 1;
    }
    assert_eq!(next, [LINES; 2]);
    assert_eq!(tails, [true; 2], "both unterminated last lines printed");
}

fn flood_args<'a>(
    wire: &'a str,
    names: &[&'a str],
    lines: &'a str,
    width: &'a str,
) -> Vec<&'a str> {
    let mut args = vec!["--wire", wire, "--stderr", "lines"];
    args.extend_from_slice(names);
    args.extend(["--", "python3", "-c", FLOOD, "a", lines, width]);
    args.extend(["--", "python3", "-c", FLOOD, "b", lines, width]);
    args
}

#[test]
fn lines_are_prefixed_and_never_mixed() {
    let (lines, width) = (LINES.to_string(), WIDTH.to_string());
    for wire in WIRES {
        let out = connect(&flood_args(wire, &[], &lines, &width));
        assert!(out.status.success(), "{wire}: {:?}", out.status);
        check_flood(&out.stderr, [("A", 'a'), ("B", 'b')]);
    }
}

#[test]
fn names_label_the_lines_and_imply_lines_mode() {
    let (lines, width) = (LINES.to_string(), WIDTH.to_string());
    let mut args = flood_args(
        "socketpair",
        &["--name-a", "left", "--name-b", "right"],
        &lines,
        &width,
    );
    // Labels alone imply --stderr lines.
    args.drain(2..4);
    let out = connect(&args);
    assert!(out.status.success(), "{:?}", out.status);
    check_flood(&out.stderr, [("left", 'a'), ("right", 'b')]);
}

#[test]
fn raw_is_byte_for_byte() {
    let out = connect(&["--", "sh", "-c", r"printf '\377raw' >&2", "--", "true"]);
    assert!(out.status.success());
    assert_eq!(out.stderr, b"\xffraw");
}
