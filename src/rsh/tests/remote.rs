//! [`parse_remote`]: the spec forms and the refusals.

use super::*;

// ---- parse_remote ---------------------------------------------------------------------------

fn remote(spec: &str) -> (Option<String>, String, String) {
    match parse_remote(spec) {
        Ok(r) => (r.user, r.host, r.path),
        Err(e) => panic!("parse_remote({spec:?}) failed: {e}"),
    }
}

#[test]
fn remote_spec_forms() {
    let s = |x: &str| x.to_string();
    assert_eq!(remote("host:path"), (None, s("host"), s("path")));
    assert_eq!(remote("u@host:/a/b"), (Some(s("u")), s("host"), s("/a/b")));
    assert_eq!(remote("host:"), (None, s("host"), s("")));
    assert_eq!(remote("host:a:b"), (None, s("host"), s("a:b")));
    assert_eq!(remote("[::1]:/x"), (None, s("::1"), s("/x")));
    assert_eq!(
        remote("u@[fe80::1%eth0]:x y"),
        (Some(s("u")), s("fe80::1%eth0"), s("x y"))
    );
}

#[test]
fn remote_spec_refusals() {
    for (spec, kind) in [
        ("/local/a:b", RshErrorKind::Spec),
        ("dir/a:b", RshErrorKind::Spec),
        ("host", RshErrorKind::Spec),
        ("[::1]", RshErrorKind::Spec),
        ("[::1/x]:p", RshErrorKind::Spec),
        ("host::module", RshErrorKind::Spec),
        (":path", RshErrorKind::Host),
        ("-oProxyCommand=x:p", RshErrorKind::Host),
        ("-x@h:p", RshErrorKind::User),
        ("[nope]:p", RshErrorKind::Host),
    ] {
        match parse_remote(spec) {
            Ok(r) => panic!("parse_remote({spec:?}) should fail, gave {r:?}"),
            Err(e) => assert_eq!(e.kind(), kind, "{spec:?}: {e}"),
        }
    }
}
