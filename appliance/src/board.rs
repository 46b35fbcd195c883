//! The board profile a mode's `--board NAME` or `--config FILE` names:
//! ringtap-board's loader, with profile files read the way the appliance
//! reads every input file (a regular file of bounded size, never a FIFO
//! that would block).

use std::path::Path;

use ringtap_board::{Board, BoardError, MAX_PROFILE_BYTES};

/// The profile `--board NAME` or `--config FILE` names, if either; a
/// profile that cannot be loaded is a usage error.
pub fn from_options(
    name: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<Board>, crate::Failure> {
    match (name, file) {
        (Some(name), _) => Board::named(name).map(Some),
        (None, Some(path)) => from_file(path).map(Some),
        (None, None) => Ok(None),
    }
    .map_err(|e| crate::Failure::Usage(e.to_string()))
}

/// A profile from a file of the `board.toml` format (a regular file of at
/// most [`MAX_PROFILE_BYTES`]).
pub fn from_file(path: &Path) -> Result<Board, BoardError> {
    let text = crate::files::read_text(path, MAX_PROFILE_BYTES).map_err(|e| BoardError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Board::parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn unreadable_files_are_named() {
        let e = from_file(Path::new("/nonexistent/board.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read board file /nonexistent/board.toml: "),
            "{e}"
        );
    }
}
