//! What every module of the CLI's tests uses: the binary in a directory,
//! files in and out of it, and a free port.

use std::fs;
use std::net::TcpListener;
use std::path::Path;

use assert_cmd::Command;

/// `retrain` in `dir`, quiet, and with no tracking server inherited from
/// the environment of whoever runs the tests.
pub(crate) fn retrain(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("retrain").unwrap();
    cmd.current_dir(dir).env("RUST_LOG", "warn").env_remove("MLFLOW_TRACKING_URI");
    cmd
}

/// Writes `text` to `dir/name`, making the directories on the way.
pub(crate) fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// The text of `dir/name`.
pub(crate) fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A port nothing listens on at the moment.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
