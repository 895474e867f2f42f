//! The async broker (feature `tokio`): `pass::tokio::Broker` introducing a Python child and an
//! async Rust child, parity with the blocking broker (the same operations give the same
//! results, errors and introductions), cancel safety of `Control::recv`, and no descriptor
//! leaked by a dead member or a cancelled `introduce`.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::task::Poll;
use std::time::Duration;

use procwire::child::{Command, StderrTo};
use procwire::pass::tokio as apass;
use procwire::pass::{self, CONTROL_ENV, Channel, Kind, MAX_NAME, MemberId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::broker::{PY_CHILD, PY_COUNTER, assert_one_fewer};
use crate::in_own_process;
use crate::spawn_fds::helper;
use crate::support::{HELPER_OK, in_helper};
use crate::tokio_forms::{guard, rt};

/// An async child's stdout to its end, then its exit, which must be a success.
async fn output(mut child: procwire::child::tokio::Child) -> String {
    let mut out = Vec::new();
    child.read_to_end(&mut out).await.unwrap();
    let exit = child.wait().await.unwrap();
    let stdout = String::from_utf8_lossy(&out).into_owned();
    assert!(exit.success(), "{exit:?}: {stdout}");
    stdout
}

/// The async Rust child: takes its control socket with the async `Control`, then, as the
/// Python child's "two", reads the greeting to its end and answers.
#[test]
fn async_rust_member() {
    if !in_helper() {
        return;
    }
    // Outside a runtime: refused before anything is taken over, so the next call can.
    let e = apass::Control::from_env().unwrap_err();
    assert!(e.to_string().contains("tokio runtime"), "{e}");
    assert_eq!(std::env::var(CONTROL_ENV).unwrap(), "3");
    rt().block_on(guard(async {
        let control = apass::Control::from_env().unwrap();
        assert!(procwire::fd::is_cloexec(control.channel()).unwrap());
        let again = apass::Control::from_env().unwrap_err();
        assert_eq!(again.kind(), ErrorKind::NotFound);
        assert!(again.to_string().contains("already"), "{again}");
        let intro = control.recv().await.unwrap().expect("an introduction");
        assert!(procwire::fd::is_cloexec(&intro.fd).unwrap());
        let peer = intro.peer.clone();
        let std = intro.into_stream();
        std.set_nonblocking(true).unwrap();
        let mut s = tokio::net::UnixStream::from_std(std).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        let mut answer = b"answer to ".to_vec();
        answer.extend_from_slice(&got);
        s.write_all(&answer).await.unwrap();
        drop(s);
        // The broker drops its end after the introduction: end of file, nothing else queued.
        assert!(control.recv().await.unwrap().is_none());
        println!(
            "async got '{}' from {}#{}",
            String::from_utf8_lossy(&got),
            peer.name,
            peer.id
        );
    }));
    println!("{HELPER_OK}");
}

#[test]
fn an_async_broker_introduces_a_python_child_and_an_async_rust_child() {
    rt().block_on(guard(async {
        let mut broker = apass::Broker::new();
        let mut py = Command::new("python3");
        py.args(["-c", PY_CHILD, "one"]).stderr(StderrTo::Inherit);
        let one = broker.attach(&mut py, "one").unwrap();
        let mut rust = helper("tokio_broker::async_rust_member");
        rust.stderr(StderrTo::Inherit);
        let two = broker.attach(&mut rust, "two").unwrap();
        let py = py.spawn_async().unwrap();
        let rust = rust.spawn_async().unwrap();
        broker.introduce(one, two).await.unwrap();
        drop(broker);
        assert_eq!(
            output(py).await,
            "one got 'answer to coucou from one' from two#1\n"
        );
        let rust = output(rust).await;
        assert!(
            rust.contains("async got 'coucou from one' from one#0") && rust.contains(HELPER_OK),
            "{rust}"
        );
    }));
}

/// A result as the parity transcript records it.
fn outcome<T>(r: std::io::Result<T>, ok: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => format!("{:?}: {e}", e.kind()),
    }
}

/// What the parity scenario does: the same steps for both brokers, the driver's `introduce`
/// and `send` being the only difference.
#[derive(Clone, Copy, Debug)]
enum Step {
    Introduce(usize, usize),
    /// A message that is not an introduction, on a member's control channel.
    Foreign(usize),
    Remove(usize),
}

/// Members a, b, c, d, e (e's control end closed at once: a dead member), and an id from
/// another broker that is not one of ours.
const STEPS: [Step; 12] = [
    Step::Introduce(0, 1),
    Step::Introduce(0, 0),
    Step::Introduce(0, 5),
    Step::Introduce(2, 0),
    Step::Introduce(0, 4),
    Step::Introduce(4, 0),
    Step::Foreign(1),
    Step::Introduce(1, 2),
    Step::Remove(3),
    Step::Introduce(1, 3),
    Step::Introduce(3, 1),
    Step::Introduce(2, 3),
];

/// The members' control ends, and the ids (the sixth from another broker).
struct Cast {
    ids: Vec<MemberId>,
    ends: Vec<OwnedFd>,
}

/// Adds a..e through `add`, closes e's end, and records the adds (and one refused name).
fn cast(
    add: &mut dyn FnMut(String) -> std::io::Result<(MemberId, OwnedFd)>,
    log: &mut Vec<String>,
) -> Cast {
    let mut ids = Vec::new();
    let mut ends = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        let (id, end) = add(name.into()).unwrap();
        log.push(format!("add {name} -> {id}"));
        ids.push(id);
        ends.push(end);
    }
    drop(ends.pop());
    log.push(outcome(add("x".repeat(MAX_NAME + 1)), |(id, _)| {
        format!("long name -> {id}")
    }));
    // An id past ours: the tenth member of another broker.
    let mut other = pass::Broker::new();
    let foreign = (0..10).map(|_| other.add("f").unwrap().0).last().unwrap();
    ids.push(foreign);
    Cast { ids, ends }
}

/// What each control received until the broker was gone: introductions (checked close-on-exec)
/// and errors.
fn transcript_of(received: Vec<Vec<std::io::Result<pass::Introduction>>>) -> Vec<String> {
    let mut log = Vec::new();
    for (i, got) in received.into_iter().enumerate() {
        for r in got {
            log.push(format!(
                "member {i} got {}",
                outcome(r, |intro| {
                    assert!(procwire::fd::is_cloexec(&intro.fd).unwrap());
                    format!("{}#{}", intro.peer.name, intro.peer.id)
                })
            ));
        }
    }
    log
}

/// A removal's outcome: the channel given back (and dropped here).
fn removed<C>(channel: Option<C>) -> std::io::Result<()> {
    assert!(channel.is_some());
    Ok(())
}

fn sync_transcript() -> Vec<String> {
    let mut log = Vec::new();
    let mut broker = pass::Broker::new();
    let Cast { ids, ends } = cast(&mut |n| broker.add(n), &mut log);
    for step in STEPS {
        let r = match step {
            Step::Introduce(a, b) => broker.introduce(ids[a], ids[b]),
            Step::Foreign(m) => broker.channel(ids[m]).unwrap().send(b"X", &[]),
            Step::Remove(m) => removed(broker.remove(ids[m])),
        };
        log.push(format!("{step:?}: {}", outcome(r, |()| "ok".into())));
    }
    drop(broker);
    let received = ends
        .into_iter()
        .map(|end| {
            let control = pass::Control::new(Channel::from_fd(end).unwrap());
            let mut got = Vec::new();
            loop {
                match control.recv().transpose() {
                    None => return got,
                    Some(r) => got.push(r),
                }
            }
        })
        .collect();
    log.extend(transcript_of(received));
    log
}

async fn async_transcript() -> Vec<String> {
    let mut log = Vec::new();
    let mut broker = apass::Broker::new();
    let Cast { ids, ends } = cast(&mut |n| broker.add(n), &mut log);
    for step in STEPS {
        let r = match step {
            Step::Introduce(a, b) => broker.introduce(ids[a], ids[b]).await,
            Step::Foreign(m) => broker.channel(ids[m]).unwrap().send(b"X", &[]).await,
            Step::Remove(m) => removed(broker.remove(ids[m])),
        };
        log.push(format!("{step:?}: {}", outcome(r, |()| "ok".into())));
    }
    drop(broker);
    let mut received = Vec::new();
    for end in ends {
        let control =
            apass::Control::from_sync(pass::Control::new(Channel::from_fd(end).unwrap())).unwrap();
        let mut got = Vec::new();
        while let Some(r) = control.recv().await.transpose() {
            got.push(r);
        }
        received.push(got);
    }
    log.extend(transcript_of(received));
    log
}

#[test]
fn the_sync_and_async_brokers_give_identical_results_errors_and_introductions() {
    let sync = sync_transcript();
    let asynchronous = rt().block_on(guard(async_transcript()));
    assert_eq!(sync, asynchronous);
    let text = sync.join("\n");
    // The scenario reaches every outcome: not vacuous.
    for want in [
        "Introduce(0, 1): ok",
        "Introduce(0, 0): InvalidInput",
        "Introduce(0, 5): NotFound",
        "Introduce(0, 4): BrokenPipe: Broker::introduce: member 4 (\"e\") is gone",
        "Introduce(4, 0): BrokenPipe",
        "Introduce(1, 3): NotFound: Broker: member 3 (\"d\") was removed",
        "InvalidInput: Broker: a member name of 1025 bytes",
        "member 0 got b#1",
        "member 0 got c#2",
        "member 1 got a#0",
        "member 1 got InvalidData",
        "member 1 got c#2",
        "member 2 got a#0",
        "member 2 got b#1",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    assert!(!text.contains("member 3 got"), "{text}");
    assert!(!text.contains("member 4 got"), "{text}");
}

/// The two ends of an introduction are connected: a byte written into one reads from the
/// other.
fn assert_connected(x: pass::Introduction, y: pass::Introduction) {
    let (mut x, mut y) = (x.into_stream(), y.into_stream());
    x.write_all(b"!").unwrap();
    let mut got = [0u8; 1];
    y.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"!");
}

#[test]
fn a_control_recv_cancelled_again_and_again_loses_no_introduction_and_no_descriptor() {
    if !in_own_process(
        "tokio_broker::a_control_recv_cancelled_again_and_again_loses_no_introduction_and_no_descriptor",
    ) {
        return;
    }
    const N: usize = 64;
    rt().block_on(guard(async {
        let before = procwire::fd::open_fds().unwrap();
        {
            let mut broker = apass::Broker::new();
            let (a, end_a) = broker.add("a").unwrap();
            let (b, end_b) = broker.add("b").unwrap();
            let ca =
                apass::Control::from_sync(pass::Control::new(Channel::from_fd(end_a).unwrap()))
                    .unwrap();
            let cb = pass::Control::new(Channel::from_fd(end_b).unwrap());
            let introducer = tokio::spawn(async move {
                for _ in 0..N {
                    broker.introduce(a, b).await.unwrap();
                    tokio::task::yield_now().await;
                }
            });
            let mut got = Vec::new();
            let mut cancelled = 0usize;
            while got.len() < N {
                // Polled once, then dropped if it did not complete on that poll.
                let mut recv = std::pin::pin!(ca.recv());
                let once = std::future::poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await;
                match once {
                    Poll::Ready(r) => got.push(r.unwrap().expect("an introduction")),
                    Poll::Pending => {
                        cancelled += 1;
                        tokio::task::yield_now().await;
                    }
                }
            }
            introducer.await.unwrap();
            // The first receive ran before the introducer did (nothing queued yet): at least
            // one was cancelled.
            assert!(cancelled > 0);
            // The broker went with the task: nothing more, then end of file.
            assert!(ca.recv().await.unwrap().is_none());
            for x in got {
                assert_eq!((x.peer.id, x.peer.name.as_str()), (b, "b"));
                let y = cb.recv().unwrap().expect("b's side");
                assert_eq!(y.peer.id, a);
                assert_connected(x, y);
            }
            assert!(cb.recv().unwrap().is_none());
        }
        assert_eq!(procwire::fd::open_fds().unwrap(), before);
    }));
    println!("{HELPER_OK}");
}

#[test]
fn a_control_recv_cancelled_mid_frame_on_a_stream_channel_keeps_the_part_and_its_descriptor() {
    if !in_own_process(
        "tokio_broker::a_control_recv_cancelled_mid_frame_on_a_stream_channel_keeps_the_part_and_its_descriptor",
    ) {
        return;
    }
    rt().block_on(guard(async {
        let (ours, theirs) = Channel::pair_of(Kind::Stream).unwrap();
        let control = apass::Control::from_sync(pass::Control::new(theirs)).unwrap();
        // An introduction by hand: length, 'I', peer id 7, name; the descriptor on byte 0.
        let mut frame = Vec::new();
        let body = [&b"I"[..], &7u32.to_le_bytes(), b"seven"].concat();
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(&body);
        let (mut mine, passed) = std::os::unix::net::UnixStream::pair().unwrap();
        let sent = pass::send_fds(
            &ours,
            &[std::io::IoSlice::new(&frame[..3])],
            &[passed.as_fd()],
        )
        .unwrap();
        assert_eq!(sent, 3);
        drop(passed);
        let with_passed_in_flight = procwire::fd::open_fds().unwrap();
        // The receive takes the 3 bytes and the descriptor, then waits for the rest, which
        // does not come: cancelled there.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), control.recv())
                .await
                .is_err()
        );
        // The descriptor is held by the channel's partial frame: one more open here.
        let held = procwire::fd::open_fds().unwrap();
        assert_eq!(held.len(), with_passed_in_flight.len() + 1, "{held:?}");
        crate::write_to(&ours, &frame[3..]);
        let intro = control.recv().await.unwrap().expect("the introduction");
        assert_eq!(intro.peer.id.get(), 7);
        assert_eq!(intro.peer.name, "seven");
        let mut s = intro.into_stream();
        s.write_all(b"whole").unwrap();
        drop(s);
        let mut got = Vec::new();
        mine.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"whole");
        assert_eq!(procwire::fd::open_fds().unwrap(), with_passed_in_flight);
    }));
    println!("{HELPER_OK}");
}

#[test]
fn an_async_broker_reports_a_dead_member_by_name_and_leaks_nothing() {
    if !in_own_process(
        "tokio_broker::an_async_broker_reports_a_dead_member_by_name_and_leaks_nothing",
    ) {
        return;
    }
    rt().block_on(guard(async {
        let mut broker = apass::Broker::new();
        let mut short = Command::new("true");
        short.stderr(StderrTo::Inherit);
        let dead = broker.attach(&mut short, "short-lived").unwrap();
        assert!(short.spawn_async().unwrap().wait().await.unwrap().success());
        let mut counter = Command::new("python3");
        counter.args(["-c", PY_COUNTER]).stderr(StderrTo::Inherit);
        let live = broker.attach(&mut counter, "counter").unwrap();
        let counter = counter.spawn_async().unwrap();

        let before = procwire::fd::open_fds().unwrap();
        for (a, b) in [(live, dead), (dead, live), (live, dead)] {
            let e = broker.introduce(a, b).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
            assert!(e.to_string().contains("(\"short-lived\") is gone"), "{e}");
        }
        // The dead member's channel was closed at the first error: one fewer, nothing more.
        assert_one_fewer(&before);
        assert!(broker.channel(dead).is_none());
        assert!(broker.channel(live).is_some());
        // The live member was told nothing.
        drop(broker);
        assert_eq!(output(counter).await, "introductions: 0\n");
    }));
    println!("{HELPER_OK}");
}

/// Fills `channel`'s socket until the kernel refuses more (nobody reads the other end).
fn fill(channel: &apass::Channel) {
    loop {
        match rustix::net::send(channel, b"F", rustix::net::SendFlags::DONTWAIT) {
            Ok(_) => {}
            Err(rustix::io::Errno::AGAIN) => return,
            Err(e) => panic!("filling the control socket: {e}"),
        }
    }
}

#[test]
fn a_cancelled_introduce_leaves_the_told_member_at_end_of_file_and_leaks_nothing() {
    if !in_own_process(
        "tokio_broker::a_cancelled_introduce_leaves_the_told_member_at_end_of_file_and_leaks_nothing",
    ) {
        return;
    }
    rt().block_on(guard(async {
        let mut broker = apass::Broker::new();
        let (a, end_a) = broker.add("a").unwrap();
        let (b, end_b) = broker.add("b").unwrap();
        let ca = pass::Control::new(Channel::from_fd(end_a).unwrap());
        fill(broker.channel(b).unwrap());
        let before = procwire::fd::open_fds().unwrap();
        // a is told at once; b's socket has no room and nobody reads it: the send to b waits
        // until the timeout drops the future.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), broker.introduce(a, b))
                .await
                .is_err()
        );
        assert_eq!(procwire::fd::open_fds().unwrap(), before);
        let intro = ca.recv().unwrap().expect("a was told");
        assert_eq!(intro.peer.id, b);
        let mut got = Vec::new();
        intro.into_stream().read_to_end(&mut got).unwrap();
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(procwire::fd::open_fds().unwrap(), before);
        // The broker still works, and b has only the filler (no introduction) queued.
        let cb = pass::Control::new(Channel::from_fd(end_b).unwrap());
        assert_eq!(cb.recv().unwrap_err().kind(), ErrorKind::InvalidData);
        drop(broker);
    }));
    println!("{HELPER_OK}");
}

#[test]
fn an_async_broker_from_a_blocking_one_keeps_its_members() {
    rt().block_on(guard(async {
        let mut sync = pass::Broker::new();
        let (a, end_a) = sync.add("a").unwrap();
        let (b, end_b) = sync.add("b").unwrap();
        let (c, _end_c) = sync.add("c").unwrap();
        assert!(sync.remove(c).is_some());
        let mut broker = apass::Broker::from_sync(sync).unwrap();
        assert_eq!((broker.name(a), broker.name(b)), (Some("a"), Some("b")));
        assert!(broker.channel(c).is_none());
        assert_eq!(
            broker.introduce(a, c).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        broker.introduce(b, a).await.unwrap();
        let ca = pass::Control::new(Channel::from_fd(end_a).unwrap());
        let cb = pass::Control::new(Channel::from_fd(end_b).unwrap());
        let x = ca.recv().unwrap().unwrap();
        let y = cb.recv().unwrap().unwrap();
        assert_eq!((x.peer.name.as_str(), y.peer.name.as_str()), ("b", "a"));
        assert_connected(x, y);
    }));
}
