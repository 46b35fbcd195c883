//! pcap-filter expressions (`tcp port 80`, `vlan 10 and host 10.0.0.1`)
//! compiled to classic BPF for the ring's view of an Ethernet frame,
//! without libpcap, into a fixed buffer.
//!
//! The language is the one of pcap-filter(7) as libpcap 1.10 implements it
//! (`grammar.y`, `scanner.l`, `gencode.c`), and the program tests what
//! libpcap's tests for a live Linux Ethernet socket (`DLT_EN10MB` on a
//! packet socket): the outer VLAN tag, which the kernel moves out of the
//! frame into the ring header, is read from the ancillary data
//! (`SKF_AD_VLAN_TAG_PRESENT`, `SKF_AD_VLAN_TAG`); if it is still in the
//! frame, the offsets of every test written after the first `vlan` move by
//! 4 at run time, and later `vlan`s look for inner tags in the frame. The
//! verdicts are libpcap's, frame for frame, including where it surprises:
//! `vlan` moves the offsets of all that follows it (also across `or`), a
//! load past the end of a truncated frame rejects it even under `not`,
//! and `a op b` keeps only the protocol checks of `a`.
//!
//! Supported: `ether`/`host`/`net`/`port`/`portrange`/`src`/`dst`/`proto`
//! with IPv4 and IPv6 addresses, networks (`/len`, `mask`) and Ethernet
//! addresses; `ip`, `ip6`, `arp`, `rarp`, `tcp`, `udp`, `icmp`, `icmp6`,
//! `sctp`, `igmp`, `igrp`, `pim`, `vrrp`, `carp`, `ah`, `esp`; `vlan [ID]`
//! (nested for 802.1ad/QinQ), `mpls [LABEL]`; `broadcast`, `multicast`
//! (`ether`, `ip`, `ip6`); `less`, `greater`, `len`; `inbound`,
//! `outbound`, `ifindex`; `proto[expr:size]` with `+ - * / % & | ^ << >>`
//! and unary `-`, compared with `= != < <= > >=`; the named constants
//! (`tcpflags`, `tcp-syn`, `icmp-echo`, `icmp6-echo`, ...); `and`, `or`,
//! `not` and parentheses.
//!
//! Not supported, with an error that says so: anything that needs name
//! resolution (host, network and Ethernet names, `/etc/services` port
//! names, protocol names beyond a built-in table), and the keywords of
//! other link types or of features libpcap has there (`wlan type`, `llc`,
//! `pppoes`, `geneve`, `protochain`, `gateway`, ...). `ip broadcast` uses
//! the netmask libpcap has for an interface without an IPv4 address (0):
//! it matches destinations 0.0.0.0 and 255.255.255.255.
//!
//! ```no_run
//! use ringtap_core::filter::Program;
//!
//! let mut program = Program::new();
//! let instructions = program.compile("vlan 10 and tcp dst port 80").unwrap();
//! assert!(ringtap_core::bpf::validate(instructions).is_ok());
//!
//! let error = program.compile("tcp port 80 and").unwrap_err();
//! assert_eq!(error.column, 16);
//! assert_eq!(
//!     error.to_string(),
//!     "column 16: expected a primitive (such as `host 10.0.0.1`, `tcp port 80`, \
//!      `vlan 10` or `ip[0] = 0x45`), found the end of the expression"
//! );
//! ```

mod ast;
mod error;
mod gen;
mod lex;
mod parse;
#[cfg(test)]
mod test;

pub use error::{ErrorKind, Expected, FilterError, Found, Unsupported};
pub use gen::ACCEPT;
pub use parse::{MAX_DEPTH, MAX_NODES};

use crate::bpf::{self, Instruction, BPF_K, BPF_MAXINSNS, BPF_RET};
use ast::Node;

/// A compiled program, in a fixed buffer of [`BPF_MAXINSNS`] instructions
/// (32 KiB).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Program {
    instructions: heapless::Vec<Instruction, BPF_MAXINSNS>,
}

impl Default for Program {
    fn default() -> Program {
        Program::new()
    }
}

impl Program {
    /// An empty program, to compile into.
    pub const fn new() -> Program {
        Program {
            instructions: heapless::Vec::new(),
        }
    }

    /// Compiles `expression` into this buffer and returns the program,
    /// which [`bpf::validate`] accepts. An empty expression (or only white
    /// space) accepts every frame, as with tcpdump. A frame the program
    /// accepts gets [`ACCEPT`], more than any frame's length.
    ///
    /// On an error the buffer is left empty.
    pub fn compile(&mut self, expression: &str) -> Result<&[Instruction], FilterError> {
        self.instructions.clear();
        let whole = |kind| FilterError {
            column: 1,
            len: expression.chars().count().max(1),
            kind,
        };
        let ast = parse::parse(expression)?;
        let node = |at: u16| ast.nodes[usize::from(at)];
        match ast.root {
            Some(root) if !matches!(node(root), Node::Const(_)) => {
                gen::generate(&ast.nodes, root, ast.vlan, &mut self.instructions).map_err(
                    |kind| {
                        self.instructions.clear();
                        whole(kind)
                    },
                )?;
            }
            root => {
                // Decided without looking at the frame (``, `1 = 1`).
                let holds = root.is_none_or(|r| node(r) == Node::Const(true));
                let verdict = if holds { ACCEPT } else { 0 };
                // Cannot fail: the buffer is empty.
                let _ = self
                    .instructions
                    .push(Instruction::stmt(BPF_RET | BPF_K, verdict));
            }
        }
        if let Err(e) = bpf::validate(&self.instructions) {
            self.instructions.clear();
            return Err(whole(ErrorKind::Invalid(e)));
        }
        Ok(&self.instructions)
    }

    /// The program last compiled (empty before the first or after a
    /// failure).
    pub fn instructions(&self) -> &[Instruction] {
        &self.instructions
    }
}
