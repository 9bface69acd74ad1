//! The network device end to end: Launchers in separate processes on a named network,
//! a TAP interface in a network namespace, and Guests that misuse the device. Each test
//! gets its own network directory (`LGUEST_NET_DIR`), so tests run in parallel; they
//! synchronise on the lines Guests print (`net_guest: up ...`), never on sleeps.

mod common;
use common::session::Session;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};

/// A Launcher running a `net_guest` in the background, its output collected as it comes:
/// `lguest run net_guest --net lab --guestid ID --cmdline CMDLINE` on the networks in `dir`.
fn start(dir: &Path, id: u16, cmdline: &str) -> Session {
    let mut cmd = lguest();
    cmd.env("LGUEST_NET_DIR", dir).arg("run").arg(guest_path("net_guest")).args([
        "--net",
        "lab",
        "--guestid",
        &id.to_string(),
        "--cmdline",
        cmdline,
    ]);
    Session::with_stdin(cmd, Stdio::null())
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn two_guests_on_one_named_network_ping_each_other_both_ways() {
    let dir = net_dir("ping");
    let a = start(&dir, 1, "mode=pinger ip=10.0.0.1 peer=10.0.0.2 count=3 serve=3");
    a.wait_for_line("net_guest: up mac 02:00:01:00:00:00");
    let b = start(&dir, 2, "mode=pinger ip=10.0.0.2 peer=10.0.0.1 count=3 serve=3");
    let (b, a) = (b.finish(), a.finish());
    for (r, peer) in [(&a, "10.0.0.2"), (&b, "10.0.0.1")] {
        assert_eq!(r.status, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
        assert_eq!(count(&r.stdout, &format!("reply from {peer} seq=")), 3, "stdout: {}", r.stdout);
        assert!(r.stdout.contains("answered 3 pings"), "stdout: {}", r.stdout);
    }
}

#[test]
fn a_broadcast_frame_reaches_every_guest_on_the_network() {
    let dir = net_dir("broadcast");
    let l1 = start(&dir, 0x101, "mode=listen until=hello");
    let l2 = start(&dir, 0x102, "mode=listen until=hello");
    l1.wait_for_line("net_guest: up");
    l2.wait_for_line("net_guest: up");
    let s = start(&dir, 0x103, "mode=send send=bcast:hello").finish();
    assert_eq!(s.status, 0, "stderr: {}", s.stderr);
    for l in [l1.finish(), l2.finish()] {
        assert_eq!(l.status, 0, "stderr: {}", l.stderr);
        assert!(
            l.stdout.contains("got 'hello' from 02:00:03:01:00:00 to ff:ff:ff:ff:ff:ff"),
            "stdout: {}",
            l.stdout
        );
    }
}

#[test]
fn unicast_to_another_mac_is_seen_by_a_promiscuous_guest_but_not_by_a_plain_one() {
    let dir = net_dir("promisc");
    let to = start(&dir, 11, "mode=listen until=end");
    let plain = start(&dir, 12, "mode=listen until=end");
    let promisc = start(&dir, 13, "mode=listen promisc=1 until=end");
    for l in [&to, &plain, &promisc] {
        l.wait_for_line("net_guest: up");
    }
    let s = start(&dir, 14, "mode=send send=id11:secret,bcast:end").finish();
    assert_eq!(s.status, 0, "stderr: {}", s.stderr);
    let (to, plain, promisc) = (to.finish(), plain.finish(), promisc.finish());
    let secret = "got 'secret' from 02:00:0e:00:00:00 to 02:00:0b:00:00:00";
    assert!(to.stdout.contains(secret), "the addressee: {}", to.stdout);
    assert!(promisc.stdout.contains(secret), "the promiscuous guest: {}", promisc.stdout);
    assert!(!plain.stdout.contains("secret"), "the plain guest saw it: {}", plain.stdout);
    // All three saw the broadcast that ended the test, after the unicast.
    for r in [&to, &plain, &promisc] {
        assert_eq!(r.status, 0, "stderr: {}", r.stderr);
        assert!(r.stdout.contains("got 'end'"), "stdout: {}", r.stdout);
    }
}

#[test]
fn a_stopped_receiver_does_not_block_the_sender_which_drops_and_counts_frames() {
    let dir = net_dir("stopped");
    let r = start(&dir, 21, "mode=listen until=never");
    r.wait_for_line("net_guest: up");
    r.signal(libc::SIGSTOP);
    let s = start(&dir, 22, "mode=flood to=id21 count=2000 len=200").finish();
    r.signal(libc::SIGCONT);
    assert_eq!(s.status, 0, "stdout: {}\nstderr: {}", s.stdout, s.stderr);
    assert!(s.stdout.contains("sent 2000 frames"), "stdout: {}", s.stdout);
    let line =
        s.stderr.lines().find(|l| l.contains("not taken (receiver busy or down)")).expect("a drop report");
    let busy: u64 = line
        .split("dropped: ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a count of frames the busy receiver did not take");
    assert!(busy >= 1000, "only {busy} frames dropped, though the receiver was stopped: {line}");
}

#[test]
fn a_killed_receiver_does_not_block_or_kill_the_sender_and_its_stale_socket_is_removed() {
    let dir = net_dir("killed");
    let r = start(&dir, 31, "mode=listen until=never");
    r.wait_for_line("net_guest: up");
    r.signal(libc::SIGKILL);
    let _ = r.finish();
    let stale = dir.join("lab/02:00:1f:00:00:00");
    assert!(stale.exists(), "SIGKILL leaves the socket file behind");
    let s = start(&dir, 32, "mode=flood to=id31 count=100 len=100").finish();
    assert_eq!(s.status, 0, "stdout: {}\nstderr: {}", s.stdout, s.stderr);
    assert!(s.stdout.contains("sent 100 frames"), "stdout: {}", s.stdout);
    assert!(s.stderr.contains("1 to a dead receiver"), "stderr: {}", s.stderr);
    assert!(!stale.exists(), "the sender removes a dead receiver's socket file");
}

#[test]
fn a_launcher_stopped_by_a_signal_leaves_the_network() {
    let dir = net_dir("leave");
    let l = start(&dir, 41, "mode=listen until=never");
    l.wait_for_line("net_guest: up");
    let socket = dir.join("lab/02:00:29:00:00:00");
    assert!(socket.exists(), "the Launcher's socket is in the network directory");
    l.signal(libc::SIGTERM);
    let r = l.finish();
    assert_eq!(r.status, 130, "stderr: {}", r.stderr);
    assert!(!socket.exists(), "the socket file is removed on the way out");
}

#[test]
fn a_second_guest_with_the_same_guestid_cannot_join() {
    let dir = net_dir("same-id");
    let first = start(&dir, 51, "mode=listen until=never");
    first.wait_for_line("net_guest: up");
    let second = start(&dir, 51, "mode=listen until=never").finish();
    assert_eq!(second.status, 64, "stderr: {}", second.stderr);
    assert!(
        second.stderr.contains("a Guest with MAC 02:00:33:00:00:00 is already on network lab"),
        "stderr: {}",
        second.stderr
    );
}

#[test]
fn a_bad_network_name_is_a_usage_error() {
    let r = run_guest("net_guest", &["--net", "../etc"]);
    assert_eq!(r.status, 64, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("is not a network name"), "stderr: {}", r.stderr);
}

#[test]
fn a_frame_sent_from_a_dma_section_crossing_a_page_kills_the_guest() {
    let dir = net_dir("bad-send");
    let r = start(&dir, 61, "mode=bad_send").finish();
    assert_eq!(r.status, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.last_err_line().starts_with("lguest: killed guest: "), "stderr: {}", r.stderr);
    assert!(r.stderr.contains("crosses a page boundary"), "stderr: {}", r.stderr);
}

#[test]
fn a_frame_for_a_receive_buffer_outside_memory_kills_only_the_receiving_guest() {
    let dir = net_dir("bad-bind");
    let bad = start(&dir, 71, "mode=bad_bind");
    bad.wait_for_line("net_guest: up mac 02:00:47:00:00:00 (hostile, bound=true)");
    let s = start(&dir, 72, "mode=send send=bcast:boom").finish();
    assert_eq!(s.status, 0, "the sender is unharmed: {}", s.stderr);
    let r = bad.finish();
    assert_eq!(r.status, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("is outside guest memory"), "stderr: {}", r.stderr);
}

// ---- TAP ----

#[test]
fn a_guest_reaches_a_tap_interface_in_a_network_namespace() {
    if let Some(why) = tap_unavailable() {
        println!("SKIPPED a_guest_reaches_a_tap_interface_in_a_network_namespace: {why}");
        return;
    }
    // In a fresh user and network namespace: make and configure the TAP, run the Guest on
    // it (it pings the host's side three times), and ping the Guest from the host's side
    // if this machine has ping(8).
    let script = r#"
        ip link set lo up
        err=$(ip tuntap add dev lgtap0 mode tap 2>&1) || { echo "cannot create a TAP: $err" >&2; exit 77; }
        ip addr add 10.0.9.1/24 dev lgtap0 && ip link set lgtap0 up || exit 77
        serve=0
        command -v ping >/dev/null && serve=1
        "$1" run "$2" --net tap:lgtap0 --guestid 9 \
            --cmdline "mode=pinger ip=10.0.9.2 peer=10.0.9.1 count=3 serve=$serve timeout=30" &
        guest=$!
        if [ $serve = 1 ]; then
            for i in $(seq 30); do
                ping -c 1 -W 1 10.0.9.2 >/dev/null 2>&1 && { echo "host: the guest answered ping"; break; }
            done
        fi
        wait $guest
    "#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-rn", "sh", "-c", script, "sh"])
        .arg(env!("CARGO_BIN_EXE_lguest"))
        .arg(guest_path("net_guest"));
    let l = Session::with_stdin(cmd, Stdio::null());
    let r = l.finish();
    if r.status == TAP_SKIP {
        println!("SKIPPED a_guest_reaches_a_tap_interface_in_a_network_namespace: {}", r.stderr.trim());
        return;
    }
    assert_eq!(r.status, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(count(&r.stdout, "reply from 10.0.9.1 seq="), 3, "stdout: {}", r.stdout);
    if r.stdout.contains("answered 1 pings") {
        assert!(r.stdout.contains("host: the guest answered ping"), "stdout: {}", r.stdout);
    } else {
        println!("(no ping(8) here: only the guest pinged the host)");
    }
}
