//! What both capture-file targets check on one input file: the slice
//! reader never panics, hands out packet data only from inside the input,
//! stops at its first error, whose offset lies inside the input; and the
//! stream reader (buffer longer than the input) says exactly the same,
//! record for record.

use ringtap_core::pcapng::{CaptureReader, CaptureStreamReader, Record, StreamError};

pub fn check(file: &[u8]) {
    let inside_input = |offset: u64| offset < file.len().max(1) as u64;
    let mut slice = match CaptureReader::new(file) {
        Ok(r) => r,
        Err(e) => {
            assert!(
                inside_input(e.offset),
                "{e} (input of {} bytes)",
                file.len()
            );
            return;
        }
    };
    let mut buf = vec![0u8; file.len() + 1];
    let mut stream =
        CaptureStreamReader::new(file, &mut buf).expect("the stream reader accepts the magic");
    let input = file.as_ptr_range();
    let mut sum = 0u8;
    loop {
        match (slice.next_record(), stream.next_record()) {
            (None, None) => break,
            (Some(Ok(a)), Some(Ok(b))) => {
                assert_eq!(a, b);
                if let Record::Packet { data, .. } = a {
                    let d = data.as_ptr_range();
                    assert!(
                        input.start <= d.start && d.end <= input.end,
                        "data outside the input"
                    );
                    sum = data.iter().fold(sum, |s, &x| s.wrapping_add(x));
                }
            }
            (Some(Err(a)), Some(Err(StreamError::Capture(b)))) => {
                assert_eq!(a, b);
                assert!(
                    inside_input(a.offset),
                    "{a} (input of {} bytes)",
                    file.len()
                );
                assert!(
                    slice.next_record().is_none(),
                    "the reader goes on after an error"
                );
                break;
            }
            (a, b) => panic!("slice reader: {a:?}, stream reader: {b:?}"),
        }
    }
    std::hint::black_box(sum);
}
