//! Secret variables as a user meets them: stored encrypted, shown as
//! `***`, clear only for the task that renders them (and masked in its
//! log), and still readable after `retrain secrets rotate-key`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{read, retrain, write};

/// Whether any file of the SQLite database (with its write-ahead log)
/// holds `needle`.
fn database_holds(d: &Path, needle: &str) -> bool {
    fs::read_dir(d.join(".retrain")).unwrap().flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.starts_with("retrain.db")
            && fs::read(e.path()).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[test]
fn secret_variables_are_encrypted_masked_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        let mut cmd = retrain(d);
        cmd.env_remove("RETRAIN_SECRET_KEY").args(args);
        cmd
    };
    run(&["init"]).assert().success();
    fs::remove_dir_all(d.join("pipelines")).unwrap();
    write(
        d,
        "pipelines/uses_secret.yaml",
        "name: uses_secret
start_date: 2026-11-01
tasks:
  show: {op: shell, command: 'printf %s \"{{ var.DB_PASSWORD }}\" > password.txt; echo the password is {{ var.DB_PASSWORD }}'}
",
    );
    run(&["variables", "set", "DB_PASSWORD", "s3cret-value"])
        .assert()
        .success()
        .stdout(contains("encrypted"));
    run(&["variables", "set", "endpoint", "https://internal.example", "--secret"]).assert().success();
    run(&["variables", "set", "note", "hello"]).assert().success();

    let list = run(&["variables", "list"]).assert().success().get_output().stdout.clone();
    let list = String::from_utf8(list).unwrap();
    assert!(list.contains("DB_PASSWORD = ***") && list.contains("endpoint = ***"), "{list}");
    assert!(list.contains("note = hello"), "{list}");
    assert!(!list.contains("s3cret-value") && !list.contains("internal.example"), "{list}");
    run(&["variables", "get", "DB_PASSWORD"]).assert().success().stdout("***\n");
    run(&["variables", "get", "DB_PASSWORD", "--reveal"]).assert().success().stdout("s3cret-value\n");

    assert!(!database_holds(d, "s3cret-value"));
    assert!(!database_holds(d, "internal.example"));
    let key_file = d.join(".retrain/secret_key");
    assert_eq!(fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);

    // The task gets the clear value; its log shows it masked.
    run(&["pipelines", "run", "uses_secret"]).assert().success();
    assert_eq!(read(d, "password.txt"), "s3cret-value");
    let runs = d.join("logs/uses_secret");
    let run_dir = fs::read_dir(&runs).unwrap().flatten().next().unwrap().path();
    assert_eq!(read(&run_dir, "show/1.log").trim(), "the password is ***");

    let old_key = fs::read_to_string(&key_file).unwrap();
    run(&["secrets", "rotate-key"]).assert().success().stdout(contains("2 secret variable(s) re-encrypted"));
    assert_ne!(fs::read_to_string(&key_file).unwrap(), old_key);
    assert_eq!(fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!d.join(".retrain/secret_key.new").exists());
    run(&["variables", "get", "endpoint", "--reveal"])
        .assert()
        .success()
        .stdout("https://internal.example\n");
    fs::remove_file(d.join("password.txt")).unwrap();
    run(&["task", "run", "uses_secret", "show", "--ds", "2026-11-02"])
        .assert()
        .success()
        .stdout("the password is ***\n");
    assert_eq!(read(d, "password.txt"), "s3cret-value");

    // The old key no longer decrypts, and says what to look at.
    run(&["variables", "get", "DB_PASSWORD", "--reveal"])
        .env("RETRAIN_SECRET_KEY", old_key.trim())
        .assert()
        .code(2)
        .stderr(contains("another key").and(contains("retrain secrets rotate-key")));
    // A key from the environment is not retrain's to rotate; a malformed one is named.
    run(&["secrets", "rotate-key"])
        .env("RETRAIN_SECRET_KEY", old_key.trim())
        .assert()
        .code(2)
        .stderr(contains("RETRAIN_SECRET_KEY, which retrain cannot rewrite"));
    run(&["variables", "get", "DB_PASSWORD", "--reveal"])
        .env("RETRAIN_SECRET_KEY", "not-a-key")
        .assert()
        .code(2)
        .stderr(contains("RETRAIN_SECRET_KEY is not a Fernet key"));
}
