//! The fail-open bypass: while ringtap does not forward, the kernel does,
//! by a traffic-control redirect on each port's ingress (`clsact` qdisc, a
//! `u32` filter that matches every frame, action `mirred egress redirect`
//! to the other port), set up over rtnetlink as `tc` would:
//!
//! ```text
//! tc qdisc add dev A clsact
//! tc filter add dev A ingress prio 29300 protocol all u32 match u32 0 0 \
//!     action mirred egress redirect dev B        (and B -> A)
//! ```
//!
//! The redirect happens after packet sockets have seen the frame, so a
//! running bridge would also forward it: `ringtap bridge` turns the bypass
//! off before it takes frames. Frames keep their VLAN tags (the kernel
//! carries a stripped tag in the socket buffer and puts it back on
//! transmit) and link-local frames such as LLDP are redirected too (a Linux
//! bridge would drop most of them). It cannot pass frames longer than the
//! egress takes, nor the pause frames a NIC consumes itself, and it counts
//! nothing. The kernel needs `CONFIG_NET_SCH_INGRESS`,
//! `CONFIG_NET_CLS_U32`, `CONFIG_NET_CLS_ACT` and `CONFIG_NET_ACT_MIRRED`.
//!
//! The few netlink and tc structures are written here (see
//! docs/design-notes.md): a netlink crate with traffic control would be
//! larger than the rest of this crate.

use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use crate::error::{Error, Result};
use crate::netdev::Control;

/// The filter priority that marks ringtap's redirect ("rt").
pub const PRIO: u16 = 0x7274;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWQDISC: u16 = 36;
const RTM_NEWTFILTER: u16 = 44;
const RTM_DELTFILTER: u16 = 45;
const RTM_GETTFILTER: u16 = 46;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_U32_SEL: u16 = 5;
const TCA_U32_ACT: u16 = 7;
const TCA_ACT_KIND: u16 = 1;
const TCA_ACT_OPTIONS: u16 = 2;
const TCA_MIRRED_PARMS: u16 = 2;
const TC_U32_TERMINAL: u8 = 1;
const TC_ACT_STOLEN: u32 = 4;
const TCA_EGRESS_REDIR: u32 = 1;
/// `TC_H_CLSACT` (same value as `TC_H_INGRESS`).
const TC_H_CLSACT: u32 = 0xffff_fff1;
/// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`.
const CLSACT_INGRESS: u32 = 0xffff_fff2;
const ETH_P_ALL: u16 = 0x0003;
const NLMSG_HDRLEN: usize = 16;
const TCMSG_LEN: usize = 20;

/// Whether each direction of the bypass is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// Frames arriving on A leave on B.
    pub a_to_b: bool,
    /// Frames arriving on B leave on A.
    pub b_to_a: bool,
}

/// A netlink message being written.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16, ifindex: u32, handle: u32, parent: u32, info: u32) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
                                                    // struct tcmsg: family, two pad bytes, ifindex, handle, parent, info.
        buf.extend_from_slice(&[0, 0, 0, 0]);
        buf.extend_from_slice(&ifindex.to_ne_bytes());
        buf.extend_from_slice(&handle.to_ne_bytes());
        buf.extend_from_slice(&parent.to_ne_bytes());
        buf.extend_from_slice(&info.to_ne_bytes());
        Msg { buf }
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
    }

    /// An attribute holding the attributes `inner` writes.
    fn nest(&mut self, ty: u16, inner: impl FnOnce(&mut Msg)) {
        let at = self.buf.len();
        self.attr(ty, &[]);
        inner(self);
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// `struct tc_u32_sel` with one key that matches every frame (mask 0).
fn match_all() -> [u8; 32] {
    let mut sel = [0u8; 32];
    sel[0] = TC_U32_TERMINAL; // flags
    sel[2] = 1; // nkeys
                // offmask, off, offoff, hoff, hmask and the key (mask, val, off,
                // offmask) all zero.
    sel
}

/// `struct tc_mirred`: redirect to `ifindex`, the frame taken (STOLEN).
fn mirred(ifindex: u32) -> [u8; 28] {
    let mut p = [0u8; 28];
    // index, capab at 0 and 4; action at 8; refcnt, bindcnt at 12, 16.
    p[8..12].copy_from_slice(&TC_ACT_STOLEN.to_ne_bytes());
    p[20..24].copy_from_slice(&TCA_EGRESS_REDIR.to_ne_bytes());
    p[24..28].copy_from_slice(&ifindex.to_ne_bytes());
    p
}

fn filter_info() -> u32 {
    (u32::from(PRIO) << 16) | u32::from(ETH_P_ALL.to_be())
}

/// The messages that turn the redirect `from` -> `to` on.
fn redirect_on(from: u32, to: u32) -> [Vec<u8>; 2] {
    let mut qdisc = Msg::new(
        RTM_NEWQDISC,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        from,
        0xffff_0000,
        TC_H_CLSACT,
        0,
    );
    qdisc.attr(TCA_KIND, b"clsact\0");
    let mut filter = Msg::new(
        RTM_NEWTFILTER,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        from,
        0,
        CLSACT_INGRESS,
        filter_info(),
    );
    filter.attr(TCA_KIND, b"u32\0");
    filter.nest(TCA_OPTIONS, |m| {
        m.attr(TCA_U32_SEL, &match_all());
        m.nest(TCA_U32_ACT, |m| {
            m.nest(1, |m| {
                m.attr(TCA_ACT_KIND, b"mirred\0");
                m.nest(TCA_ACT_OPTIONS, |m| m.attr(TCA_MIRRED_PARMS, &mirred(to)));
            });
        });
    });
    [qdisc.finish(), filter.finish()]
}

fn redirect_off(from: u32) -> Vec<u8> {
    Msg::new(
        RTM_DELTFILTER,
        NLM_F_REQUEST | NLM_F_ACK,
        from,
        0,
        CLSACT_INGRESS,
        filter_info(),
    )
    .finish()
}

fn list_filters(from: u32) -> Vec<u8> {
    Msg::new(
        RTM_GETTFILTER,
        NLM_F_REQUEST | NLM_F_DUMP,
        from,
        0,
        CLSACT_INGRESS,
        0,
    )
    .finish()
}

/// An rtnetlink socket.
struct Rtnl {
    fd: OwnedFd,
}

impl Rtnl {
    fn open() -> Result<Rtnl> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| Error::new("socket", Some("AF_NETLINK"), e))?;
        Ok(Rtnl { fd })
    }

    /// Send `msg` and read replies until the acknowledgement (or the end
    /// of a dump); returns the other messages as `(type, payload)`.
    fn call(&self, msg: &[u8], what: &'static str) -> Result<Vec<(u16, Vec<u8>)>> {
        let err = |e| Error::new("netlink", Some(what), e);
        rustix::net::send(&self.fd, msg, SendFlags::empty()).map_err(err)?;
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 32 << 10];
        loop {
            let (n, _) = rustix::net::recv(&self.fd, &mut buf, RecvFlags::empty()).map_err(err)?;
            let mut at = 0;
            while at + NLMSG_HDRLEN <= n {
                let word = |o: usize| {
                    u32::from_ne_bytes(buf[at + o..at + o + 4].try_into().unwrap_or([0; 4]))
                };
                let len = word(0) as usize;
                let ty = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                if len < NLMSG_HDRLEN || at + len > n {
                    return Err(err(Errno::PROTO));
                }
                let payload = &buf[at + NLMSG_HDRLEN..at + len];
                match ty {
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap_or([0; 4])));
                        if code == 0 {
                            return Ok(replies);
                        }
                        return Err(err(Errno::from_raw_os_error(-code)));
                    }
                    NLMSG_DONE => return Ok(replies),
                    _ => replies.push((ty, payload.to_vec())),
                }
                at += (len + 3) & !3;
            }
        }
    }

    /// Whether `from` has ringtap's redirect filter.
    fn has_redirect(&self, from: u32) -> Result<bool> {
        let replies = match self.call(&list_filters(from), "RTM_GETTFILTER") {
            Ok(r) => r,
            // No clsact qdisc: no filter.
            Err(e) if matches!(e.errno(), Errno::INVAL | Errno::NOENT) => return Ok(false),
            Err(e) => return Err(e),
        };
        Ok(replies.iter().any(|(ty, p)| {
            *ty == RTM_NEWTFILTER
                && p.len() >= TCMSG_LEN
                && u32::from_ne_bytes([p[16], p[17], p[18], p[19]]) >> 16 == u32::from(PRIO)
        }))
    }

    fn set(&self, from: u32, to: u32, on: bool) -> Result<()> {
        let present = self.has_redirect(from)?;
        if on && !present {
            let [qdisc, filter] = redirect_on(from, to);
            match self.call(&qdisc, "RTM_NEWQDISC clsact") {
                Ok(_) => {}
                Err(e) if e.errno() == Errno::EXIST => {}
                Err(e) => return Err(e),
            }
            self.call(&filter, "RTM_NEWTFILTER u32 mirred")?;
        } else if !on && present {
            self.call(&redirect_off(from), "RTM_DELTFILTER")?;
        }
        Ok(())
    }
}

/// Turn the bypass between `a` and `b` on or off (both directions; needs
/// CAP_NET_ADMIN).
pub fn set(a: &str, b: &str, on: bool) -> Result<()> {
    let control = Control::open()?;
    let (ia, ib) = (control.ifindex(a)?, control.ifindex(b)?);
    let rtnl = Rtnl::open()?;
    rtnl.set(ia, ib, on)?;
    rtnl.set(ib, ia, on)
}

/// The bypass between `a` and `b` as the kernel has it.
pub fn state(a: &str, b: &str) -> Result<State> {
    let control = Control::open()?;
    let (ia, ib) = (control.ifindex(a)?, control.ifindex(b)?);
    let rtnl = Rtnl::open()?;
    Ok(State {
        a_to_b: rtnl.has_redirect(ia)?,
        b_to_a: rtnl.has_redirect(ib)?,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    #[test]
    fn test_messages_are_sized_and_nested() {
        let [qdisc, filter] = redirect_on(5, 7);
        for m in [&qdisc, &filter] {
            assert_eq!(
                u32::from_ne_bytes(m[..4].try_into().unwrap()) as usize,
                m.len()
            );
            assert_eq!(m.len() % 4, 0);
        }
        // The first attribute after nlmsghdr + tcmsg is the kind.
        let at = NLMSG_HDRLEN + TCMSG_LEN;
        assert_eq!(u16_at(&qdisc, at + 2), TCA_KIND);
        assert_eq!(&qdisc[at + 4..at + 11], b"clsact\0");
        assert_eq!(&filter[at + 4..at + 8], b"u32\0");
        // TCA_OPTIONS spans everything after the kind.
        let opts = at + 8;
        assert_eq!(u16_at(&filter, opts + 2), TCA_OPTIONS);
        assert_eq!(opts + usize::from(u16_at(&filter, opts)), filter.len());
        // The mirred parameters end the message, with the target's index.
        let tail = &filter[filter.len() - 4..];
        assert_eq!(u32::from_ne_bytes(tail.try_into().unwrap()), 7);
        assert_eq!(filter_info() >> 16, u32::from(PRIO));
    }
}
