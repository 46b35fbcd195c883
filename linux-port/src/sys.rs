//! The raw system calls rustix has no form for: `setsockopt` and
//! `getsockopt` with an arbitrary option struct, and `seccomp(2)`. They go
//! through the `syscalls` crate (no libc, no hand-written assembly);
//! nothing else in this crate makes a raw call.
#![allow(unsafe_code)]

use core::mem::size_of;
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;
use syscalls::{syscall, Sysno};

fn errno(e: syscalls::Errno) -> Errno {
    Errno::from_raw_os_error(e.into_raw())
}

/// `setsockopt(fd, level, name, value, sizeof(*value))`.
///
/// `T` must be a plain `#[repr(C)]` value with no padding the kernel cares
/// about (ints and the uapi structs from linux-raw-sys).
pub(crate) fn set<T: Copy>(
    fd: BorrowedFd<'_>,
    level: u32,
    name: u32,
    value: &T,
) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe `*value`, which lives across
    // the call; the kernel only reads `size_of::<T>()` bytes from it.
    unsafe {
        syscall!(
            Sysno::setsockopt,
            fd.as_raw_fd(),
            level,
            name,
            value as *const T,
            size_of::<T>()
        )
    }
    .map(drop)
    .map_err(errno)
}

/// `setsockopt` with a byte buffer as the value (e.g. a `sock_fprog`).
pub(crate) fn set_raw(
    fd: BorrowedFd<'_>,
    level: u32,
    name: u32,
    value: *const u8,
    len: usize,
) -> Result<(), Errno> {
    // SAFETY: the caller passes a pointer valid for `len` bytes that stays
    // alive across the call (see `PacketSocket::attach_filter`).
    unsafe { syscall!(Sysno::setsockopt, fd.as_raw_fd(), level, name, value, len) }
        .map(drop)
        .map_err(errno)
}

/// `getsockopt(fd, level, name, &value, &len)` into a zeroed `T`; returns the
/// value and the length the kernel wrote.
pub(crate) fn get<T: Copy + Default>(
    fd: BorrowedFd<'_>,
    level: u32,
    name: u32,
) -> Result<(T, usize), Errno> {
    get_from(fd, level, name, T::default())
}

/// [`get`] with `value` as what the kernel reads first (options such as
/// `PACKET_HDRLEN` take their question in the buffer they answer in).
pub(crate) fn get_from<T: Copy>(
    fd: BorrowedFd<'_>,
    level: u32,
    name: u32,
    mut value: T,
) -> Result<(T, usize), Errno> {
    let mut len: u32 = size_of::<T>() as u32;
    // SAFETY: `value` and `len` are live locals; the kernel reads and writes
    // at most `len` bytes of `value` and updates `len`.
    unsafe {
        syscall!(
            Sysno::getsockopt,
            fd.as_raw_fd(),
            level,
            name,
            &mut value as *mut T,
            &mut len as *mut u32
        )
    }
    .map_err(errno)?;
    Ok((value, len as usize))
}

/// `SECCOMP_SET_MODE_FILTER`.
const SECCOMP_SET_MODE_FILTER: usize = 1;
/// `SECCOMP_FILTER_FLAG_TSYNC`: every thread of the process gets it.
const SECCOMP_FILTER_FLAG_TSYNC: usize = 1;

/// `struct sock_fprog` for `seccomp(2)`.
#[repr(C)]
struct Fprog {
    len: u16,
    filter: *const ringtap_core::bpf::Instruction,
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog)`.
/// Needs `no_new_privs` (or CAP_SYS_ADMIN).
pub(crate) fn install_seccomp(program: &[ringtap_core::bpf::Instruction]) -> Result<(), Errno> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::INVAL)?;
    let prog = Fprog {
        len,
        filter: program.as_ptr(),
    };
    // SAFETY: `prog` points at `len` instructions laid out as `struct
    // sock_filter` (`Instruction` is `repr(C)` with the same fields), and
    // both live across the call; the kernel copies the program.
    unsafe {
        syscall!(
            Sysno::seccomp,
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_TSYNC,
            &prog as *const Fprog
        )
    }
    .map(drop)
    .map_err(errno)
}
