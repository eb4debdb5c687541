//! `.ci/deps` decides what a new machine lacks by what the build loads, not by a package name:
//! a Debian image ships `libclang-cpp.so.14`, which bindgen cannot use, and an earlier check that
//! matched any `libclang` name let such a machine skip the install and fail inside
//! `libsqlite3-sys`'s build script. These tests run the script's detection (`--check --root`)
//! against fake library trees.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh fake root directory holding the given empty files.
fn fake_root(name: &str, files: &[&str]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("edgesim-deps-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for file in files {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
    }
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// Runs `.ci/deps --check --root ROOT` plus `extra`; returns the exit code and standard error.
fn check(root: &Path, extra: &[&str]) -> (i32, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/deps");
    let out = Command::new("bash")
        .arg(script)
        .args(["--check", "--root"])
        .arg(root)
        .args(extra)
        .env_remove("LIBCLANG_PATH")
        .output()
        .expect("bash runs .ci/deps");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into())
}

const HEADERS: [&str; 2] =
    ["usr/lib/llvm-14/lib/clang/14.0.6/include/stddef.h", "usr/lib/llvm-14/lib/clang/14.0.6/include/stdarg.h"];

#[test]
fn libclang_cpp_alone_is_reported_missing() {
    let root = fake_root(
        "cpp-only",
        &[
            "usr/lib/x86_64-linux-gnu/libclang-cpp.so.14",
            "usr/lib/llvm-14/lib/libclang-cpp.so.14",
            HEADERS[0],
            HEADERS[1],
        ],
    );
    let (code, stderr) = check(&root, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("missing libclang-dev: no loadable libclang.so"), "{stderr}");
}

#[test]
fn a_versioned_libclang_with_headers_is_enough_to_build() {
    let root = fake_root("versioned", &["usr/lib/x86_64-linux-gnu/libclang-14.so.1", HEADERS[0], HEADERS[1]]);
    let (code, stderr) = check(&root, &[]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn libclang_without_clang_headers_is_reported_missing() {
    let root = fake_root("no-headers", &["usr/lib/llvm-14/lib/libclang.so"]);
    let (code, stderr) = check(&root, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("stddef.h"), "{stderr}");
}

#[test]
fn the_browser_is_a_test_need_only() {
    let root = fake_root("no-browser", &["usr/lib/llvm-14/lib/libclang-14.so.1", HEADERS[0], HEADERS[1]]);
    assert_eq!(check(&root, &[]).0, 0, "the build does not need chromium");
    let (code, stderr) = check(&root, &["--test"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("missing chromium"), "{stderr}");
}

#[test]
fn an_unknown_argument_is_refused() {
    let root = fake_root("bad-arg", &[]);
    let (code, stderr) = check(&root, &["--tests"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown argument '--tests'"), "{stderr}");
}
