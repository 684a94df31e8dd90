//! The C tests named in `GOTHOOK_MUTANTS_CTEST` (space-separated ctest names, each also the name
//! of its CMake target), built against this source tree and run; a no-op when it is unset.
//! `tests-c/mutation/run.sh` sets it so that cargo-mutants judges each mutant by the C suite too.

use std::path::Path;
use std::process::Command;

fn run(what: &str, cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what} failed: {status}");
}

#[test]
fn named_c_tests_pass_against_this_tree() {
    let Ok(names) = std::env::var("GOTHOOK_MUTANTS_CTEST") else {
        return;
    };
    let names: Vec<&str> = names.split_whitespace().collect();
    if names.is_empty() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let build = root.join("build-mutants");
    if !build.join("CMakeCache.txt").exists() {
        run(
            "cmake configure",
            Command::new("cmake")
                .arg("-S")
                .arg(root)
                .arg("-B")
                .arg(&build)
                .args(["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=ON"]),
        );
    }
    // The library's own release build (about 10 s after a one-file change), then only the
    // executables of the named tests.
    let mut b = Command::new("cmake");
    b.arg("--build")
        .arg(&build)
        .args(["-j1", "--target"])
        .args(&names)
        .env_remove("CARGO_TARGET_DIR");
    run("cmake --build", &mut b);
    let regex = format!("^({})$", names.join("|"));
    run(
        "ctest",
        Command::new("ctest").arg("--test-dir").arg(&build).args([
            "-j1",
            "--output-on-failure",
            "-R",
            &regex,
        ]),
    );
}
