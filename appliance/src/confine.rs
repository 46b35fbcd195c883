//! After set-up, ringtap gives up what it no longer needs (the calls are
//! `ringtap_linux::sandbox`'s): every capability but the ones its mode
//! still uses, its user when `--user` says so, the right to gain
//! privileges, and every system call but the ones it makes from then on.

use clap::Args;
use ringtap_linux::sandbox::{self, CapabilitySet, Confinement};

use crate::Failure;

/// Options every mode that opens rings shares.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfineArgs {
    /// After set-up, run as this user (name, UID or UID:GID), keeping only the capabilities still needed
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Do not install the seccomp allow-list (to find a system call it lacks: the audit log names the one that ended ringtap)
    #[arg(long)]
    pub no_seccomp: bool,
}

/// The user to become, checked before any socket is opened.
pub fn user(args: &ConfineArgs) -> Result<Option<(u32, u32)>, Failure> {
    args.user
        .as_deref()
        .map(|u| sandbox::lookup_user(u).map_err(|e| Failure::Usage(format!("--user {e}"))))
        .transpose()
}

/// Give up everything but `keep`, as `args` says (`netlink`: rtnetlink
/// sockets stay allowed, for the bypass); `mode` names ringtap's mode in
/// the log line.
pub fn apply(
    args: &ConfineArgs,
    user: Option<(u32, u32)>,
    keep: CapabilitySet,
    netlink: bool,
    mode: &str,
) -> Result<(), Failure> {
    sandbox::confine(&Confinement {
        keep,
        user,
        seccomp: !args.no_seccomp,
        netlink,
    })
    .map_err(|e| {
        Failure::Runtime(format!(
            "cannot give up privileges after set-up: {e}; give ringtap CAP_SETPCAP, and with \
             --user CAP_SETUID and CAP_SETGID, or run it as root"
        ))
    })?;
    let (effective, _) = sandbox::capabilities()
        .map_err(|e| Failure::Runtime(format!("cannot read our capabilities: {e}")))?;
    crate::log::info(format_args!(
        "{mode}: running{} with {}; no_new_privs{}",
        match user {
            Some((uid, gid)) => format!(" as uid {uid} gid {gid}"),
            None => String::new(),
        },
        sandbox::capability_names(effective),
        if args.no_seccomp {
            ""
        } else {
            ", seccomp allow-list"
        }
    ));
    Ok(())
}
