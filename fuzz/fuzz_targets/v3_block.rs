//! The input is one TPACKET_V3 block, as the kernel would hand it over:
//! walk every packet and read every byte the walk hands out. A read outside
//! the input is an out-of-bounds panic (or an ASan report); the asserts
//! check the walk's own promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringtap_core::frame::{ll, v3};

fuzz_target!(|block: &[u8]| {
    let Ok(d) = v3::BlockDescriptor::new_checked(block) else {
        assert!(block.len() < v3::BLOCK_HEADER_LEN);
        return;
    };
    let _ = (
        d.version(),
        d.offset_to_priv(),
        d.block_status(),
        d.seq_num(),
    );
    let _ = (d.ts_first_pkt(), d.ts_last_pkt(), d.offset_to_first_pkt());
    let (num_pkts, blk_len) = (u64::from(d.num_pkts()), d.blk_len() as usize);
    let Ok(packets) = d.packets() else {
        return;
    };
    assert!(blk_len <= block.len());
    let used = block[..blk_len].as_ptr_range();
    let mut count = 0u64;
    let mut last_end = 0usize;
    let mut sum = 0u8;
    for p in packets {
        let Ok(p) = p else {
            break;
        };
        count += 1;
        assert!(count <= num_pkts, "more packets than num_pkts");
        let data = p.data.as_ptr_range();
        assert!(
            used.start <= data.start && data.end <= used.end,
            "data outside blk_len"
        );
        let offset = p.offset as usize;
        assert!(offset >= last_end, "packet overlaps the previous one");
        assert!(
            offset + v3::ADDR_OFFSET + ll::LEN <= blk_len,
            "header past blk_len"
        );
        last_end = data.end as usize - used.start as usize;
        for &b in p.data {
            sum = sum.wrapping_add(b);
        }
        let h = &p.header;
        let _ = (h.tp_next_offset(), h.tp_len(), h.tp_status(), h.tp_net());
        let _ = (
            h.tp_rxhash(),
            h.tp_vlan_tci(),
            h.tp_vlan_tpid(),
            h.timestamp(),
        );
        let _ = ll::Repr::parse(&h.addr());
        assert_eq!(h.packet().ok(), Some(p.data));
    }
    std::hint::black_box(sum);
});
