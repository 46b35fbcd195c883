//! Filter expressions on the command line, as a user gives them: `ringtap
//! filter`, and the trailing words, `-F FILE` and `--filter FILE` of
//! `capture` and `bridge`. Bad input exits 2 with the column and what was
//! expected, before any socket is opened (no privileges needed here).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{ringtap, text};

/// A scratch directory for this test process.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ringtap-filter-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Expressions that do not compile, and the column ringtap must name.
const MALFORMED: &[(&str, usize)] = &[
    ("tcp port", 9),
    ("tcp port 80 and", 16),
    ("host", 5),
    ("not", 4),
    ("tcp and 80", 9),
    ("(tcp", 5),
    ("tcp)", 4),
    ("tcp udp", 5),
    ("ip[0 = 1", 6),
    ("ip[0] =", 8),
    ("src or tcp", 8),
    ("less", 5),
    ("port 70000", 6),
    ("vlan 4096", 6),
    ("mpls 1048576", 6),
    ("net 10.0.0.0/33", 14),
    ("net 10.0.0.1/8", 5),
    ("host 10.0.0.0/8", 6),
    ("host 10.0.0.256", 6),
    ("ip6 host 10.0.0.1", 10),
    ("udp port http", 10),
    ("host example.com", 6),
    ("ether host router", 12),
    ("ip proto \\foo", 10),
    ("src 02:00:00:00:00:01", 5),
    ("ip[0:3] = 1", 6),
    ("ah[0] = 1", 1),
    ("ip[0] / 0 = 1", 7),
    ("ip[0] << 32 = 1", 7),
    ("mpls and vlan", 10),
    ("mpls and arp", 10),
    ("tcp broadcast", 5),
    ("gateway 10.0.0.1", 1),
    ("pppoes and tcp", 1),
    ("host 1::2::3", 6),
    ("port 09", 6),
    ("ip[0] = 99999999999", 9),
    ("host #", 6),
];

#[test]
fn malformed_expressions_exit_2_naming_the_column() {
    assert!(MALFORMED.len() >= 30);
    for &(expr, column) in MALFORMED {
        let out = ringtap(&["filter", expr]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "'{expr}': {stderr}");
        assert!(out.stdout.is_empty(), "'{expr}' printed a program");
        let mut lines = stderr.lines();
        let first = lines.next().unwrap_or_default();
        assert!(
            first.starts_with(&format!(
                "ringtap filter: the expression: column {column}: expected"
            )),
            "'{expr}': {stderr}"
        );
        // The expression, then a caret under the column.
        assert_eq!(lines.next(), Some(format!("  {expr}").as_str()), "{stderr}");
        let marks = lines.next().unwrap_or_default();
        assert_eq!(marks.find('^'), Some(2 + column - 1), "'{expr}': {stderr}");
    }
}

#[test]
fn capture_and_bridge_refuse_a_bad_expression_before_anything_else() {
    for args in [
        vec![
            "capture",
            "-i",
            "ringtap-no-such-if",
            "-w",
            "/dev/null",
            "tcp",
            "port",
        ],
        vec![
            "bridge",
            "-i",
            "ringtap-no-a",
            "-o",
            "ringtap-no-b",
            "vlan",
            "5000",
        ],
    ] {
        let out = ringtap(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(": the expression: column "),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("no such interface"), "{args:?}: {stderr}");
    }
}

#[test]
fn dump_formats_are_tcpdumps() {
    let ip = |flag: &str| text(&ringtap(&["filter", flag, "ip"]).stdout);
    assert_eq!(
        ip("-d"),
        "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n\
         (002) ret      #262144\n(003) ret      #0\n"
    );
    assert_eq!(
        ip("-dd"),
        "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000800 },\n\
         { 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n"
    );
    assert_eq!(
        ip("-ddd"),
        "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n"
    );
    // Without -d: the assembly, as -d. Words are joined by spaces.
    let words = ringtap(&["filter", "tcp", "port", "80"]);
    assert_eq!(words.status.code(), Some(0));
    assert_eq!(
        text(&words.stdout),
        text(&ringtap(&["filter", "-d", "tcp port 80"]).stdout)
    );
    // An empty expression accepts everything, as with tcpdump.
    assert_eq!(
        text(&ringtap(&["filter", "-ddd"]).stdout),
        "1\n6 0 0 262144\n"
    );
    // Where tcpdump is installed, the same program prints the same.
    if let Ok(tcpdump) = Command::new("tcpdump")
        .args(["-y", "EN10MB", "-ddd", "ip"])
        .output()
    {
        if tcpdump.status.success() {
            assert_eq!(ip("-ddd"), text(&tcpdump.stdout));
        }
    }
}

#[test]
fn expression_files() {
    let dir = scratch("files");
    let file = dir.join("web.filter");
    std::fs::write(
        &file,
        "# web traffic\ntcp port 80   # plain\n  or tcp port 443\n",
    )
    .unwrap();
    let from_file = ringtap(&["filter", "-ddd", "-F", path(&file)]);
    assert_eq!(
        from_file.status.code(),
        Some(0),
        "{}",
        text(&from_file.stderr)
    );
    let from_words = ringtap(&["filter", "-ddd", "tcp port 80 or tcp port 443"]);
    assert_eq!(from_file.stdout, from_words.stdout);

    // An error in a file names the file and a column of its text.
    std::fs::write(&file, "tcp port 80 # comment\nor port x-y\n").unwrap();
    let out = ringtap(&["filter", "-F", path(&file)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "-F {}: column 31: expected a port number",
            path(&file)
        )),
        "{stderr}"
    );

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["-F".into(), path(&dir).into()],
            "a directory, not a regular file",
        ),
        (
            vec!["-F".into(), path(&dir.join("missing")).into()],
            "cannot read the file",
        ),
        (
            vec!["-F".into(), path(&file).into(), "tcp".into()],
            "both give a filter",
        ),
    ];
    for (args, want) in cases {
        let mut argv = vec!["filter"];
        argv.extend(args.iter().map(String::as_str));
        let out = ringtap(&argv);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {stderr}");
        assert!(stderr.contains(want), "{argv:?}: {stderr}");
    }

    let big = dir.join("big.filter");
    std::fs::write(&big, "ip or ".repeat(20_000) + "ip").unwrap();
    let out = ringtap(&["filter", "-F", path(&big)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("larger than 65536 bytes"),
        "{}",
        text(&out.stderr)
    );

    let binary = dir.join("binary.filter");
    std::fs::write(&binary, b"tcp \xff").unwrap();
    let out = ringtap(&["filter", "-F", path(&binary)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not UTF-8 text (invalid byte at offset 4)"));

    // A FIFO nobody writes to: refused at once, never waited on.
    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo");
    let start = std::time::Instant::now();
    let out = ringtap(&["capture", "-i", "lo", "-w", "/dev/null", "-F", path(&fifo)]);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("a FIFO, not a regular file"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_filter_per_run() {
    let dir = scratch("one");
    let program = dir.join("ip.bpf");
    std::fs::write(
        &program,
        "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n",
    )
    .unwrap();
    let out = ringtap(&[
        "capture",
        "-i",
        "lo",
        "-w",
        "/dev/null",
        "--filter",
        path(&program),
        "tcp",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--filter and the expression both give a filter"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `tcpdump -ddd -y EN10MB 'vlan and tcp'` program tests the tag as
/// bytes of the frame, which the ring does not show: a warning says so
/// and how to fix it.
#[test]
fn offline_vlan_programs_are_flagged() {
    let dir = scratch("vlan");
    let program = dir.join("vlan.bpf");
    std::fs::write(
        &program,
        "16\n40 0 0 12\n21 2 0 33024\n21 1 0 34984\n21 0 11 37120\n40 0 0 16\n21 0 2 2048\n\
         48 0 0 27\n21 6 7 6\n21 0 6 34525\n48 0 0 24\n21 3 0 6\n21 0 3 44\n48 0 0 58\n\
         21 0 1 6\n6 0 0 262144\n6 0 0 0\n",
    )
    .unwrap();
    let out = ringtap(&[
        "capture",
        "-i",
        "ringtap-no-such-if",
        "-w",
        "/dev/null",
        "--filter",
        path(&program),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("instruction 1 looks for an 802.1Q/802.1ad tag in the frame at offset 12"),
        "{stderr}"
    );
    assert!(stderr.contains("tcpdump -i IF -ddd"), "{stderr}");
    // The same expression compiled by ringtap draws no warning.
    let ours = ringtap(&["filter", "-ddd", "vlan and tcp"]);
    std::fs::write(&program, &ours.stdout).unwrap();
    let out = ringtap(&[
        "capture",
        "-i",
        "ringtap-no-such-if",
        "-w",
        "/dev/null",
        "--filter",
        path(&program),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("looks for an 802.1Q"), "{stderr}");
    assert!(stderr.contains("no such interface"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn short_options_of_tcpdump_users() {
    // tcpdump's -C counts millions of bytes; ringtap's counts bytes and
    // says so.
    let out = ringtap(&["capture", "-i", "lo", "-w", "/tmp/x", "-C", "16", "-W", "2"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--rotate-size 16: must be at least 4096 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("-C 16M"), "{stderr}");
    for (mode, flags) in [
        (
            "capture",
            &["-i,", "-w,", "-c,", "-s,", "-F <FILE>", "-C,", "-W,"][..],
        ),
        ("bridge", &["-i,", "-o,", "-F <FILE>"][..]),
        ("replay", &["-o,", "-r,"][..]),
        ("filter", &["-d...", "-F <FILE>"][..]),
    ] {
        let help = text(&ringtap(&[mode, "--help"]).stdout);
        for flag in flags {
            assert!(help.contains(flag), "{mode} --help lacks {flag}: {help}");
        }
        assert!(!help.is_empty());
    }
}
