//! Where a capture's frames go: a file (rotated, or started anew on
//! SIGHUP) or standard output, in whole records.
//!
//! [`RecordSink`] buffers the encoders' output and remembers where each
//! record ends. When a write fails (a full disk, an I/O error) it cuts the
//! file back to the end of the last record that reached it whole, so the
//! file is always one that readers take to its last complete record, and
//! says how many frames that is. [`Output`] knows the files: the first one
//! is created before the capture socket and only replaces an older file
//! once the capture runs; a frame larger than what a rotated file may
//! still hold is cut to fit (and counted), so no file exceeds the limit.

use std::fs::File;
use std::io::Write as _;

use embedded_io_adapters::std::FromStd;
use ringtap_core::loss::LossLedger;
use ringtap_core::pcap::{self, PcapWriter, LINKTYPE_ETHERNET};
use ringtap_core::pcapng::{self, PcapngWriter};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;

use super::Format;
use crate::files::{FileError, FileId, FileMode, Pending, Target};
use crate::log;

/// Output buffer: large enough that the kernel sees few, large writes.
const OUTPUT_BUFFER: usize = 1 << 20;

/// Where the bytes go.
#[derive(Debug)]
enum Dest {
    File(File),
    Stdout,
}

impl Dest {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Dest::File(f) => f.as_fd(),
            Dest::Stdout => rustix::stdio::stdout(),
        }
    }
}

/// The end of a record in the buffer, and whether the record is a frame.
#[derive(Debug, Clone, Copy)]
struct Mark {
    end: usize,
    frame: bool,
}

/// Whole records on their way to a file descriptor (see the module).
#[derive(Debug)]
pub struct RecordSink {
    dest: Dest,
    /// Where the file was when the capture began writing to it, and
    /// whether it can be cut back (a regular file; a pipe cannot).
    base: u64,
    truncatable: bool,
    buf: Vec<u8>,
    marks: Vec<Mark>,
    /// Bytes that reached the file descriptor.
    on_disk: u64,
    /// Where the last whole record on disk ends.
    boundary: u64,
    frames_on_disk: u64,
    failed: bool,
}

impl RecordSink {
    fn new(dest: Dest) -> RecordSink {
        let fd = dest.fd();
        let truncatable = rustix::fs::fstat(fd).is_ok_and(|s| {
            rustix::fs::FileType::from_raw_mode(s.st_mode) == rustix::fs::FileType::RegularFile
        });
        let base = if truncatable {
            rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0)).unwrap_or(0)
        } else {
            0
        };
        RecordSink {
            dest,
            base,
            truncatable,
            buf: Vec::with_capacity(OUTPUT_BUFFER),
            marks: Vec::with_capacity(OUTPUT_BUFFER / 64),
            on_disk: 0,
            boundary: 0,
            frames_on_disk: 0,
            failed: false,
        }
    }

    /// A record ends here.
    fn mark(&mut self, frame: bool) {
        self.marks.push(Mark {
            end: self.buf.len(),
            frame,
        });
    }

    /// Write out what is buffered. On failure the file is cut back to the
    /// last whole record, and everything buffered is dropped.
    fn write_out(&mut self) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::Error::other("the output already failed"));
        }
        let mut done = 0;
        let mut failure = None;
        while done < self.buf.len() {
            match rustix::io::write(self.dest.fd(), &self.buf[done..]) {
                Ok(0) => {
                    failure = Some(std::io::Error::from(std::io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => done += n,
                Err(Errno::INTR) => {}
                Err(e) => {
                    failure = Some(std::io::Error::from(e));
                    break;
                }
            }
        }
        let whole = self.marks.partition_point(|m| m.end <= done);
        self.frames_on_disk += self.marks[..whole].iter().filter(|m| m.frame).count() as u64;
        if let Some(last) = whole.checked_sub(1) {
            self.boundary = self.on_disk + self.marks[last].end as u64;
        }
        self.on_disk += done as u64;
        self.buf.clear();
        self.marks.clear();
        match failure {
            None => Ok(()),
            Some(e) => {
                self.failed = true;
                if self.truncatable && self.boundary < self.on_disk {
                    // A record cut in the middle would be all readers see
                    // of the end: take it back.
                    if rustix::fs::ftruncate(self.dest.fd(), self.base + self.boundary).is_ok() {
                        self.on_disk = self.boundary;
                    }
                }
                Err(e)
            }
        }
    }

    /// Bytes in the file (after a failure: up to the last whole record, if
    /// it could be cut back there).
    pub fn file_len(&self) -> u64 {
        self.on_disk
    }

    /// Whether the file ends on a record boundary.
    pub fn ends_whole(&self) -> bool {
        self.on_disk == self.boundary
    }
}

impl std::io::Write for RecordSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.buf.capacity() {
            self.write_out()?;
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.write_out()
    }
}

type Out = FromStd<RecordSink>;

/// One file's encoder.
enum Writer {
    Pcapng(PcapngWriter<Out>),
    Pcap(PcapWriter<Out>),
}

impl Writer {
    fn sink(&mut self) -> &mut RecordSink {
        match self {
            Writer::Pcapng(w) => w.get_mut().inner_mut(),
            Writer::Pcap(w) => w.get_mut().inner_mut(),
        }
    }

    fn sink_ref(&self) -> &RecordSink {
        match self {
            Writer::Pcapng(w) => w.get_ref().inner(),
            Writer::Pcap(w) => w.get_ref().inner(),
        }
    }

    fn bytes_written(&self) -> u64 {
        match self {
            Writer::Pcapng(w) => w.bytes_written(),
            Writer::Pcap(w) => w.bytes_written(),
        }
    }
}

/// The file being written.
struct Current {
    writer: Writer,
    /// Its name, for messages and the stats file.
    name: String,
    /// Which file it is (to see whether SIGHUP finds it moved away).
    id: Option<FileId>,
    /// Bytes of the headers (a file holding only these has no frame).
    header_len: u64,
}

/// Why the output took no more frames, with where the file ends.
#[derive(Debug)]
pub struct OutputError {
    /// What failed.
    pub message: String,
    /// A name refused before anything was written (exit status 2).
    pub usage: bool,
}

impl OutputError {
    fn io(name: &str, what: &str, e: std::io::Error) -> OutputError {
        OutputError {
            message: format!("{what} {name}: {e}"),
            usage: false,
        }
    }

    fn file(e: FileError) -> OutputError {
        let usage = e.errno().is_none();
        OutputError {
            message: e.to_string(),
            usage,
        }
    }
}

/// What the capture writes to, and how.
#[derive(Debug)]
pub struct Settings {
    /// pcapng or pcap.
    pub format: Format,
    /// The snap length the headers declare.
    pub snaplen: u32,
    /// The interface name for the pcapng IDB.
    pub ifname: String,
    /// `--write PATH` (None: standard output).
    pub base: Option<Target>,
    /// `--rotate-size`, `--rotate-files`.
    pub rotate: Option<(u64, u32)>,
    /// Mode of new files.
    pub mode: FileMode,
}

/// The capture's files (see the module).
pub struct Output {
    s: Settings,
    index: u32,
    files: Vec<String>,
    current: Option<Current>,
    /// Frames in files already finished.
    written_before: u64,
    cut_to_fit: u64,
}

impl Output {
    /// No file yet; [`Output::start`] makes the first.
    pub fn new(s: Settings) -> Output {
        Output {
            s,
            index: 0,
            files: Vec::new(),
            current: None,
            written_before: 0,
            cut_to_fit: 0,
        }
    }

    /// The file the next one goes to: PATH, or PATH.INDEX when rotating.
    fn target(&self) -> Option<Target> {
        let base = self.s.base.as_ref()?;
        Some(match self.s.rotate {
            Some(_) => {
                let mut name = base.name().to_owned();
                name.push(format!(".{}", self.index));
                base.sibling(&name)
            }
            None => base.clone(),
        })
    }

    /// The file names a rotating capture writes, for `files` of them.
    pub fn rotation_names(base: &Target, files: u32) -> impl Iterator<Item = Target> + '_ {
        (0..files).map(move |i| {
            let mut name = base.name().to_owned();
            name.push(format!(".{i}"));
            base.sibling(&name)
        })
    }

    /// Headers, written and flushed, so a file that cannot be written
    /// fails here.
    fn begin(&self, dest: Dest, name: &str) -> Result<Writer, OutputError> {
        let out = FromStd::new(RecordSink::new(dest));
        let failed = |e: std::io::Error| OutputError::io(name, "cannot write the headers of", e);
        let mut writer = match self.s.format {
            Format::Pcapng => {
                let app = concat!("ringtap ", env!("CARGO_PKG_VERSION"));
                let mut w = PcapngWriter::new(out, app).map_err(failed)?;
                w.get_mut().inner_mut().mark(false);
                w.add_interface(&self.s.ifname, LINKTYPE_ETHERNET as u16, self.s.snaplen)
                    .map_err(failed)?;
                Writer::Pcapng(w)
            }
            Format::Pcap => Writer::Pcap(
                PcapWriter::new(out, self.s.snaplen, LINKTYPE_ETHERNET).map_err(failed)?,
            ),
        };
        let sink = writer.sink();
        sink.mark(false);
        sink.flush().map_err(failed)?;
        Ok(writer)
    }

    /// The first file, before the capture socket exists: for a file, its
    /// temporary name holds the headers until [`Output::commit`] renames it
    /// over PATH (an older file stays untouched until then).
    pub fn start(&mut self) -> Result<Option<Pending>, OutputError> {
        let Some(target) = self.target() else {
            let writer = self.begin(Dest::Stdout, "standard output")?;
            let header_len = writer.bytes_written();
            self.current = Some(Current {
                writer,
                name: "-".into(),
                id: None,
                header_len,
            });
            return Ok(None);
        };
        let (pending, file) = target.create(self.s.mode).map_err(OutputError::file)?;
        let id = FileId::of(&file);
        let name = target.path().display().to_string();
        let writer = self.begin(Dest::File(file), &name)?;
        let header_len = writer.bytes_written();
        self.current = Some(Current {
            writer,
            name,
            id,
            header_len,
        });
        Ok(Some(pending))
    }

    /// The capture runs: the first file takes its name.
    pub fn commit(&mut self, pending: Option<Pending>) -> Result<(), OutputError> {
        if let Some(p) = pending {
            p.commit().map_err(OutputError::file)?;
        }
        if let Some(c) = &self.current {
            if !self.files.contains(&c.name) {
                self.files.push(c.name.clone());
            }
        }
        Ok(())
    }

    /// A new file at once (rotation, SIGHUP).
    fn next_file(&mut self) -> Result<(), OutputError> {
        let Some(pending) = self.start()? else {
            return Ok(());
        };
        self.commit(Some(pending))
    }

    /// Finish the current file: the statistics block (pcapng), flush.
    fn close(&mut self, ts_ns: u64, ledger: &LossLedger) -> Result<(), OutputError> {
        let Some(mut c) = self.current.take() else {
            return Ok(());
        };
        let failed = |e: std::io::Error| OutputError::io(&c.name, "cannot finish", e);
        let result = match &mut c.writer {
            Writer::Pcapng(w) => w
                .write_statistics(0, ts_ns, ledger.received(), ledger.dropped())
                .map(drop),
            Writer::Pcap(_) => Ok(()),
        }
        .and_then(|()| {
            let sink = c.writer.sink();
            sink.mark(false);
            sink.flush()
        });
        match result {
            Ok(()) => {
                self.written_before += c.writer.sink_ref().frames_on_disk;
                Ok(())
            }
            Err(e) => {
                let e = failed(e);
                // Kept, for the summary of where it ends.
                self.current = Some(c);
                Err(e)
            }
        }
    }

    /// Bytes the file needs after its last frame.
    fn closing_len(&self) -> u64 {
        match self.s.format {
            Format::Pcapng => pcapng::INTERFACE_STATISTICS_LEN,
            Format::Pcap => 0,
        }
    }

    fn record_len(&self, data: usize, dropcount: bool) -> u64 {
        match self.s.format {
            Format::Pcapng => pcapng::enhanced_packet_len(data, dropcount),
            Format::Pcap => pcap::record_len(data),
        }
    }

    fn max_data(&self, room: u64, dropcount: bool) -> usize {
        match self.s.format {
            Format::Pcapng => pcapng::max_packet_data(room, dropcount),
            Format::Pcap => pcap::max_record_data(room),
        }
    }

    /// Write one frame; with rotation, into a new file when this one would
    /// grow past the limit, and cut to fit when even a new file cannot
    /// hold it whole.
    pub fn packet(
        &mut self,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
        dropped_before: Option<u64>,
        ledger: &LossLedger,
    ) -> Result<(), OutputError> {
        let mut data = data;
        if let Some((limit, files)) = self.s.rotate {
            let dropcount = dropped_before.is_some();
            let need = self.record_len(data.len(), dropcount) + self.closing_len();
            let (len, fresh) = self.current.as_ref().map_or((0, true), |c| {
                (
                    c.writer.bytes_written(),
                    c.writer.bytes_written() == c.header_len,
                )
            });
            if len + need > limit && !fresh {
                self.close(ts_ns, ledger)?;
                self.index = (self.index + 1) % files;
                self.next_file()?;
            }
            let len = self
                .current
                .as_ref()
                .map_or(0, |c| c.writer.bytes_written());
            let most = self.max_data(limit.saturating_sub(len + self.closing_len()), dropcount);
            if data.len() > most {
                data = &data[..most];
                self.cut_to_fit += 1;
            }
        }
        let Some(c) = self.current.as_mut() else {
            return Ok(());
        };
        let result = match &mut c.writer {
            Writer::Pcapng(w) => w
                .write_packet(0, ts_ns, orig_len, data, dropped_before)
                .map(drop),
            Writer::Pcap(w) => w.write_packet(ts_ns, orig_len, data).map(drop),
        };
        c.writer.sink().mark(true);
        result.map_err(|e| OutputError::io(&c.name, "cannot write to", e))
    }

    /// SIGHUP: a rotating capture moves on to its next file; a capture to
    /// PATH starts a new PATH when the old one was moved away (logrotate),
    /// and otherwise keeps writing where it is.
    pub fn reopen(&mut self, ts_ns: u64, ledger: &LossLedger) -> Result<(), OutputError> {
        let Some((id, name)) = self.current.as_ref().map(|c| (c.id, c.name.clone())) else {
            return Ok(());
        };
        let Some(base) = &self.s.base else {
            log::info(format_args!("SIGHUP: standard output cannot be reopened"));
            return Ok(());
        };
        let moved = base.existing().map_err(OutputError::file)? != id;
        if let Some((_, files)) = self.s.rotate {
            self.close(ts_ns, ledger)?;
            self.index = (self.index + 1) % files;
        } else if moved {
            self.close(ts_ns, ledger)?;
        } else {
            log::info(format_args!(
                "SIGHUP: {name} was not moved; still writing to it"
            ));
            return Ok(());
        }
        self.next_file()?;
        let name = self.current.as_ref().map_or("", |c| c.name.as_str());
        log::info(format_args!("SIGHUP: now writing {name}"));
        Ok(())
    }

    /// Write out what is buffered (once a second, so a slow capture's file
    /// grows and a full disk shows within a second).
    pub fn flush(&mut self) -> Result<(), OutputError> {
        let Some(c) = self.current.as_mut() else {
            return Ok(());
        };
        c.writer
            .sink()
            .flush()
            .map_err(|e| OutputError::io(&c.name, "cannot write to", e))
    }

    /// End of the capture: finish the last file.
    pub fn finish(&mut self, ts_ns: u64, ledger: &LossLedger) -> Result<(), OutputError> {
        self.close(ts_ns, ledger)
    }

    /// Frames in the files (on disk, whole).
    pub fn written(&self) -> u64 {
        self.written_before
            + self
                .current
                .as_ref()
                .map_or(0, |c| c.writer.sink_ref().frames_on_disk)
    }

    /// Frames cut to fit the rotation size.
    pub fn cut_to_fit(&self) -> u64 {
        self.cut_to_fit
    }

    /// Every file written, oldest first.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// After a failure: where the current file ends, in words.
    pub fn where_it_ends(&self) -> String {
        let Some(c) = &self.current else {
            return String::new();
        };
        let sink = c.writer.sink_ref();
        let whole = if sink.ends_whole() {
            "on a record boundary"
        } else if sink.truncatable {
            "inside a record: it could not be cut back"
        } else {
            "inside a record: a pipe cannot be cut back"
        };
        format!(
            "{} ends at byte {}, {whole}, after its frame #{}",
            c.name,
            sink.file_len(),
            sink.frames_on_disk
        )
    }
}
