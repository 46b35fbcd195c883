//! The files ringtap writes and reads, and how.
//!
//! **Writing** (stats files, capture files and their rotations): a
//! [`Target`] is a name in a directory opened once; every later call is
//! made relative to that directory (`openat`, `renameat`, `unlinkat`), so
//! symbolic links in the directory part are followed once, when the target
//! is named, and never again.
//!
//! - New contents are written to a temporary file `.NAME.tmp` beside the
//!   target, created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`): whatever
//!   sits at that name is never opened. A regular file there (left by a run
//!   that was killed) is removed and the creation tried once more; anything
//!   else there is refused, by name.
//! - The temporary file is then renamed over `NAME`, which must be absent
//!   or a regular file: a symbolic link, device node, FIFO, socket or
//!   directory there is refused, never replaced and never followed.
//! - Modes: [`FileMode::Default`] (0640 for stats files, 0600 for
//!   captures) less what the process umask removes, or exactly the mode
//!   `--mode` gives.
//!
//! **Reading** (board profiles, filter programs, stats files):
//! [`read_input`] opens with `O_NONBLOCK`, so a FIFO never blocks the
//! open, takes only regular files, and only up to a size bound.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, CWD};
use rustix::io::Errno;

use crate::Failure;

/// Mode of the stats (and metrics) files by default.
pub const STATS_MODE: u32 = 0o640;
/// Mode of capture files by default: captured traffic is private.
pub const CAPTURE_MODE: u32 = 0o600;

/// The permissions a new file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// This mode less what the umask removes.
    Default(u32),
    /// Exactly this mode (`--mode`), whatever the umask.
    Exact(u32),
}

impl FileMode {
    /// `--mode OCTAL` when given, else `default` (less the umask).
    pub fn from_option(text: Option<&str>, default: u32) -> Result<FileMode, Failure> {
        let Some(text) = text else {
            return Ok(FileMode::Default(default));
        };
        let digits = text.strip_prefix("0o").unwrap_or(text);
        match u32::from_str_radix(digits, 8) {
            Ok(mode) if !digits.is_empty() && mode <= 0o777 => Ok(FileMode::Exact(mode)),
            _ => Err(Failure::Usage(format!(
                "--mode {text}: not a file mode [rule: octal permission bits, 0 to 0777, \
                 e.g. 0640; no set-id or sticky bits]"
            ))),
        }
    }
}

/// What is in the way of a file ringtap writes, or the call that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file (as given, or its temporary name beside it).
    pub path: PathBuf,
    /// What went wrong.
    pub kind: FileErrorKind,
}

/// Why a file could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileErrorKind {
    /// Something other than a regular file is at the name.
    NotRegular(&'static str),
    /// The name has no file part (`/`, `..`).
    NoName,
    /// The directory the file is to go in cannot be opened.
    Directory(Errno),
    /// A system call failed.
    Call(&'static str, Errno),
}

impl FileError {
    fn new(path: PathBuf, kind: FileErrorKind) -> FileError {
        FileError { path, kind }
    }

    /// The errno behind the failure, if a call failed.
    pub fn errno(&self) -> Option<Errno> {
        match self.kind {
            FileErrorKind::Directory(e) | FileErrorKind::Call(_, e) => Some(e),
            _ => None,
        }
    }

    /// A bad name (what is at it, or where it points) is a usage error
    /// (exit status 2); a failing system call is a runtime one (1).
    pub fn into_failure(self, option: &str) -> Failure {
        let text = format!("{option} {self}");
        match self.kind {
            FileErrorKind::NotRegular(_) | FileErrorKind::NoName | FileErrorKind::Directory(_) => {
                Failure::Usage(text)
            }
            FileErrorKind::Call(..) => Failure::Runtime(text),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match self.kind {
            FileErrorKind::NotRegular(what) => write!(
                f,
                "{path}: refusing to replace {what} [rule: ringtap writes only new or regular \
                 files, never through a symbolic link]; remove it or choose another name"
            ),
            FileErrorKind::NoName => write!(f, "{path}: not a file name"),
            FileErrorKind::Directory(e) => write!(
                f,
                "{path}: cannot open the directory it goes in: {}",
                std::io::Error::from(e)
            ),
            FileErrorKind::Call(call, e) => {
                write!(f, "{path}: {call} failed: {}", std::io::Error::from(e))
            }
        }
    }
}

impl std::error::Error for FileError {}

/// A file type, in words.
fn kind_name(stat: &Stat) -> &'static str {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "a file of unknown type",
    }
}

fn is_regular(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
}

/// Which file a directory entry is: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of an open file.
    pub fn of(fd: impl AsFd) -> Option<FileId> {
        rustix::fs::fstat(fd).ok().map(|s| FileId::from(&s))
    }
}

impl From<&Stat> for FileId {
    // `st_dev` and `st_ino` are u64 on some targets, `c_ulong` on others.
    #[allow(clippy::unnecessary_cast)]
    fn from(s: &Stat) -> FileId {
        FileId {
            dev: s.st_dev as u64,
            ino: s.st_ino as u64,
        }
    }
}

/// A file ringtap writes: a name in a directory opened once.
#[derive(Debug, Clone)]
pub struct Target {
    dir: Arc<OwnedFd>,
    name: OsString,
    path: PathBuf,
}

impl Target {
    /// The file `path` names. The directory part is opened now (following
    /// symbolic links: it is the caller's choice); the name is only looked
    /// up in that directory, later, without following anything.
    pub fn new(path: &Path) -> Result<Target, FileError> {
        let name = path
            .file_name()
            .ok_or_else(|| FileError::new(path.to_path_buf(), FileErrorKind::NoName))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let fd = rustix::fs::openat(
            CWD,
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| FileError::new(path.to_path_buf(), FileErrorKind::Directory(e)))?;
        Ok(Target {
            dir: Arc::new(fd),
            name: name.to_owned(),
            path: path.to_path_buf(),
        })
    }

    /// Another name in the same directory (a rotation, a temporary file).
    pub fn sibling(&self, name: &OsStr) -> Target {
        Target {
            dir: Arc::clone(&self.dir),
            name: name.to_owned(),
            path: self.path.with_file_name(name),
        }
    }

    /// The path as given, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name in its directory.
    pub fn name(&self) -> &OsStr {
        &self.name
    }

    fn error(&self, kind: FileErrorKind) -> FileError {
        FileError::new(self.path.clone(), kind)
    }

    /// What is at the name now, not following a symbolic link there.
    fn stat(&self) -> Result<Option<Stat>, FileError> {
        match rustix::fs::statat(&*self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(s) => Ok(Some(s)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.error(FileErrorKind::Call("fstatat", e))),
        }
    }

    /// The file at the name, if there is one, whatever it is.
    pub fn existing(&self) -> Result<Option<FileId>, FileError> {
        Ok(self.stat()?.as_ref().map(FileId::from))
    }

    /// Whether two targets are in the same directory (by device and
    /// inode, whatever path led there).
    pub fn same_dir(&self, other: &Target) -> bool {
        FileId::of(&*self.dir) == FileId::of(&*other.dir)
    }

    /// Ok when the name is free or holds a regular file, which a new file
    /// may replace.
    pub fn check_replaceable(&self) -> Result<(), FileError> {
        match self.stat()? {
            Some(s) if !is_regular(&s) => Err(self.error(FileErrorKind::NotRegular(kind_name(&s)))),
            _ => Ok(()),
        }
    }

    /// The temporary name new contents are written under: `.NAME.tmp`.
    pub fn temp(&self) -> Target {
        let mut name = OsString::from(".");
        name.push(&self.name);
        name.push(".tmp");
        self.sibling(&name)
    }

    /// Create the temporary file for new contents, exclusively, with
    /// `mode`: the file to write, and the guard that renames it over the
    /// target (or removes it when dropped).
    pub fn create(&self, mode: FileMode) -> Result<(Pending, File), FileError> {
        self.check_replaceable()?;
        let temp = self.temp();
        let flags = OFlags::WRONLY
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::NOCTTY
            | OFlags::CLOEXEC;
        let bits = match mode {
            FileMode::Default(m) | FileMode::Exact(m) => m,
        };
        let mut retried = false;
        let fd = loop {
            match rustix::fs::openat(&*temp.dir, &temp.name, flags, Mode::from_raw_mode(bits)) {
                Ok(fd) => break fd,
                Err(Errno::EXIST) if !retried => {
                    // A regular file: left by a run that was killed before
                    // its rename. Anything else is not ours to remove.
                    match temp.stat()? {
                        Some(s) if is_regular(&s) => {
                            rustix::fs::unlinkat(&*temp.dir, &temp.name, AtFlags::empty())
                                .map_err(|e| temp.error(FileErrorKind::Call("unlinkat", e)))?;
                        }
                        Some(s) => return Err(temp.error(FileErrorKind::NotRegular(kind_name(&s)))),
                        None => {}
                    }
                    retried = true;
                }
                Err(e) => return Err(temp.error(FileErrorKind::Call("openat", e))),
            }
        };
        let pending = Pending {
            target: self.clone(),
            temp,
            done: false,
        };
        if let FileMode::Exact(m) = mode {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(m))
                .map_err(|e| pending.temp.error(FileErrorKind::Call("fchmod", e)))?;
        }
        Ok((pending, File::from(fd)))
    }

    /// Replace the file with `contents`, atomically: a reader sees the old
    /// file or the new one, and a failure leaves the old one (and no
    /// temporary file) behind.
    pub fn replace_with(&self, contents: &[u8], mode: FileMode) -> Result<(), FileError> {
        let (pending, mut file) = self.create(mode)?;
        std::io::Write::write_all(&mut file, contents).map_err(|e| {
            let errno = Errno::from_io_error(&e).unwrap_or(Errno::IO);
            pending.temp.error(FileErrorKind::Call("write", errno))
        })?;
        drop(file);
        pending.commit()
    }
}

/// A temporary file beside its target, not yet renamed over it; removed
/// when dropped uncommitted.
#[derive(Debug)]
pub struct Pending {
    target: Target,
    temp: Target,
    done: bool,
}

impl Pending {
    /// Rename the temporary file over the target, if what is at the target
    /// now may be replaced.
    pub fn commit(mut self) -> Result<(), FileError> {
        self.target.check_replaceable()?;
        rustix::fs::renameat(
            &*self.temp.dir,
            &self.temp.name,
            &*self.target.dir,
            &self.target.name,
        )
        .map_err(|e| self.target.error(FileErrorKind::Call("renameat", e)))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            let _ = rustix::fs::unlinkat(&*self.temp.dir, &self.temp.name, AtFlags::empty());
        }
    }
}

/// Why an input file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// Not a regular file (a FIFO, a device, a directory...).
    NotRegular(&'static str),
    /// Larger than the bound.
    TooLarge {
        /// The bound in bytes.
        limit: u64,
    },
    /// Opening or reading failed.
    Io(String),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::NotRegular(what) => {
                write!(f, "it is {what}, not a regular file [rule: a regular file]")
            }
            InputError::TooLarge { limit } => {
                write!(f, "larger than {limit} bytes [rule: at most {limit} bytes]")
            }
            InputError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Read the regular file at `path`, of at most `limit` bytes, without ever
/// blocking in `open` (a FIFO or a device is refused, not waited for).
pub fn read_input(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let fd = rustix::fs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InputError::Io(std::io::Error::from(e).to_string()))?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| InputError::Io(e.to_string()))?;
    if !is_regular(&stat) {
        return Err(InputError::NotRegular(kind_name(&stat)));
    }
    if stat.st_size as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(stat.st_size as usize);
    // The file may grow while it is read: one byte more than the bound
    // tells.
    File::from(fd)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::Io(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    Ok(bytes)
}

/// [`read_input`] for text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, InputError> {
    String::from_utf8(read_input(path, limit)?).map_err(|e| {
        InputError::Io(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Standard output, closed when ringtap started: the Rust runtime then
/// opens /dev/null in its place, where output would vanish without an
/// error, so this is noted before the runtime starts.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_closed_stdout() {
    // SAFETY: this runs from .init_array, before main and before the Rust
    // runtime replaces a closed fd 1, with no other thread that could open
    // or close it. F_GETFD on a descriptor number that is not open only
    // returns EBADF; it reads and changes nothing.
    #[allow(unsafe_code)]
    let fd = unsafe { BorrowedFd::borrow_raw(1) };
    if rustix::io::fcntl_getfd(fd) == Err(Errno::BADF) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

// SAFETY: an `extern "C" fn()` in .init_array is called once by the C
// runtime (glibc and musl, static or dynamic) before main; it only makes
// one system call and stores an atomic.
#[allow(unsafe_code)]
#[used]
#[link_section = ".init_array"]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;

/// Whether standard output was closed when the process started.
pub fn stdout_was_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod test {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ringtap-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn test_mode_option() {
        assert_eq!(
            FileMode::from_option(None, 0o640).unwrap(),
            FileMode::Default(0o640)
        );
        for (text, mode) in [("0640", 0o640), ("600", 0o600), ("0o644", 0o644), ("0", 0)] {
            assert_eq!(
                FileMode::from_option(Some(text), 0o600).unwrap(),
                FileMode::Exact(mode)
            );
        }
        for bad in ["", "0o", "8", "1777", "4755", "-1", "rw-r-----", "0x1ff"] {
            let e = FileMode::from_option(Some(bad), 0o600).unwrap_err();
            assert!(
                matches!(&e, Failure::Usage(m) if m.starts_with("--mode")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn test_replace_never_follows_or_replaces_non_files() {
        let dir = scratch("replace");
        let victim = dir.join("victim");
        std::fs::write(&victim, "secret").unwrap();
        let path = dir.join("stats.json");
        let target = Target::new(&path).unwrap();

        // A new file, then a replacement, with the default mode.
        target.replace_with(b"one", FileMode::Exact(0o640)).unwrap();
        target.replace_with(b"two", FileMode::Exact(0o640)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(mode_of(&path), 0o640);
        assert!(!dir.join(".stats.json.tmp").exists());

        // A symlink at the target: refused, not followed, not replaced.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let e = target
            .replace_with(b"three", FileMode::Exact(0o640))
            .unwrap_err();
        assert_eq!(e.kind, FileErrorKind::NotRegular("a symbolic link"));
        assert!(matches!(
            e.clone().into_failure("--stats-file"),
            Failure::Usage(_)
        ));
        assert_eq!(std::fs::read(&victim).unwrap(), b"secret");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
        std::fs::remove_file(&path).unwrap();

        // A symlink at the temporary name: refused, not followed.
        let temp = dir.join(".stats.json.tmp");
        std::os::unix::fs::symlink(&victim, &temp).unwrap();
        let e = target
            .replace_with(b"four", FileMode::Exact(0o640))
            .unwrap_err();
        assert_eq!(e.path, temp);
        assert_eq!(e.kind, FileErrorKind::NotRegular("a symbolic link"));
        assert_eq!(std::fs::read(&victim).unwrap(), b"secret");
        assert!(!path.exists());
        std::fs::remove_file(&temp).unwrap();

        // A regular file at the temporary name (a killed run): replaced.
        std::fs::write(&temp, "stale").unwrap();
        target
            .replace_with(b"five", FileMode::Exact(0o600))
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"five");
        assert_eq!(mode_of(&path), 0o600);
        assert!(!temp.exists());

        // A directory at the target.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let e = target
            .replace_with(b"six", FileMode::Exact(0o640))
            .unwrap_err();
        assert_eq!(e.kind, FileErrorKind::NotRegular("a directory"));
        assert!(!temp.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_pending_removed_unless_committed() {
        let dir = scratch("pending");
        let path = dir.join("cap.pcapng");
        std::fs::write(&path, "old capture").unwrap();
        let target = Target::new(&path).unwrap();
        let (pending, file) = target.create(FileMode::Default(0o600)).unwrap();
        drop(file);
        assert!(dir.join(".cap.pcapng.tmp").exists());
        drop(pending);
        assert!(!dir.join(".cap.pcapng.tmp").exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"old capture");
        let (pending, mut file) = target.create(FileMode::Default(0o600)).unwrap();
        std::io::Write::write_all(&mut file, b"new").unwrap();
        pending.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_same_dir_and_identity() {
        let dir = scratch("same");
        std::fs::create_dir(dir.join("real")).unwrap();
        std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
        let a = Target::new(&dir.join("real/x")).unwrap();
        let b = Target::new(&dir.join("link/x")).unwrap();
        let c = Target::new(&dir.join("real/y")).unwrap();
        assert!(a.same_dir(&b) && a.name() == b.name());
        assert!(a.same_dir(&c) && a.name() != c.name());
        assert!(!a.same_dir(&Target::new(&dir.join("x")).unwrap()));
        assert_eq!(a.existing().unwrap(), None);
        std::fs::write(dir.join("real/x"), "").unwrap();
        std::fs::hard_link(dir.join("real/x"), dir.join("real/y")).unwrap();
        assert_eq!(a.existing().unwrap(), c.existing().unwrap());
        assert!(a.existing().unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_read_input_bounds_and_kinds() {
        let dir = scratch("input");
        let file = dir.join("board.toml");
        std::fs::write(&file, "0123456789").unwrap();
        assert_eq!(read_input(&file, 10).unwrap(), b"0123456789");
        assert_eq!(
            read_input(&file, 9).unwrap_err(),
            InputError::TooLarge { limit: 9 }
        );
        assert_eq!(
            read_input(&dir, 100).unwrap_err(),
            InputError::NotRegular("a directory")
        );
        // A FIFO with no writer: refused at once, not waited for.
        let fifo = dir.join("fifo");
        rustix::fs::mknodat(CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        assert_eq!(
            read_input(&fifo, 100).unwrap_err(),
            InputError::NotRegular("a FIFO")
        );
        assert_eq!(
            read_input(Path::new("/dev/zero"), 100).unwrap_err(),
            InputError::NotRegular("a character device")
        );
        assert!(matches!(
            read_input(&dir.join("missing"), 100),
            Err(InputError::Io(_))
        ));
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_text(&file, 10), Err(InputError::Io(m)) if m.contains("UTF-8")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
