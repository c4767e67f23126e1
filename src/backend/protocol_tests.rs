use super::*;

fn decode_all<T: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    want: &[T],
    decode: fn(&[u8]) -> io::Result<T>,
) {
    let mut r = FrameReader::new(bytes);
    for want in want {
        match r.next(decode).unwrap() {
            Next::Frame(got) => assert_eq!(&got, want),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(r.next(decode).unwrap(), Next::Closed));
}

#[test]
fn frames_round_trip() {
    let mut out = Vec::new();
    let to = [
        ToWorker::Start {
            spec_json: b"{\"kind\":\"noop\"}".to_vec(),
            warmup: 3,
            retry: RetryPolicy {
                retries: 4,
                backoff: Duration::from_millis(25),
            },
        },
        ToWorker::Item(42),
        ToWorker::Finish,
    ];
    to.iter().for_each(|f| f.encode(&mut out));
    let from = [
        FromWorker::Ready {
            pid: 7,
            setup_error: None,
            protocol: PROTOCOL_VERSION,
            setup_cpu_us: 1234,
            resident: 5_500_000,
        },
        FromWorker::Done(ItemDone::once(
            9,
            100,
            250,
            Some(("exit-1".into(), "exit code 1".into())),
        )),
        FromWorker::Done(ItemDone::once(10, 300, 301, None)),
        FromWorker::Done(ItemDone {
            item: 11,
            begin_ns: 400,
            end_ns: 900,
            error: None,
            attempts: 3,
            failed_attempts: vec![
                ("simulated".into(), "first".into()),
                ("exit-1".into(), String::new()),
            ],
        }),
        FromWorker::Done(ItemDone {
            item: 12,
            begin_ns: 1000,
            end_ns: 2000,
            error: Some(("down".into(), "third".into())),
            attempts: 2,
            failed_attempts: vec![("down".into(), "first".into())],
        }),
        FromWorker::Stats {
            histogram: vec![1, 2, 3],
            peak_rss: 4096,
            transfer: None,
        },
        FromWorker::Stats {
            histogram: vec![4],
            peak_rss: 8192,
            transfer: Some(crate::workload::Transfer {
                rx: 1 << 40,
                tx: 77,
            }),
        },
    ];
    let mut back = Vec::new();
    from.iter().for_each(|f| f.encode(&mut back));
    decode_all(&out, &to, ToWorker::decode);
    decode_all(&back, &from, FromWorker::decode);
}

#[test]
fn frames_of_the_first_version_read_as_no_retries() {
    // Start, Ready and Done as a version-1 peer wrote them: nothing after the old fields.
    let mut start = vec![TO_START];
    start.extend_from_slice(&5u64.to_le_bytes());
    put_bytes(&mut start, b"{}");
    let mut ready = vec![FROM_READY];
    ready.extend_from_slice(&7u32.to_le_bytes());
    put_bytes(&mut ready, b"");
    let mut done = vec![FROM_DONE];
    [1u64, 2, 3]
        .iter()
        .for_each(|v| done.extend_from_slice(&v.to_le_bytes()));
    done.push(0);
    assert_eq!(
        ToWorker::decode(&start).unwrap(),
        ToWorker::Start {
            spec_json: b"{}".to_vec(),
            warmup: 5,
            retry: RetryPolicy::none(),
        }
    );
    assert_eq!(
        FromWorker::decode(&ready).unwrap(),
        FromWorker::Ready {
            pid: 7,
            setup_error: None,
            protocol: 1,
            setup_cpu_us: 0,
            resident: 0,
        }
    );
    assert_eq!(
        FromWorker::decode(&done).unwrap(),
        FromWorker::Done(ItemDone::once(1, 2, 3, None))
    );
}

#[test]
fn a_stats_frame_with_bytes_reads_as_the_old_one_to_an_old_reader() {
    let mut out = Vec::new();
    FromWorker::Stats {
        histogram: vec![9, 9],
        peak_rss: 5,
        transfer: Some(crate::workload::Transfer { rx: 3, tx: 4 }),
    }
    .encode(&mut out);
    // What a reader of the first version took from the frame: the old fields, in order, first.
    let frame = &out[4..];
    assert_eq!(frame[0], FROM_STATS);
    assert_eq!(u64::from_le_bytes(frame[1..9].try_into().unwrap()), 5);
    assert_eq!(&frame[9..15], &[2, 0, 0, 0, 9, 9]);
    assert_eq!(frame.len(), 15 + 16, "the byte counts come after them");
}

#[test]
fn a_done_frame_with_a_false_attempt_count_is_refused() {
    let mut out = Vec::new();
    encode_done(&mut out, &ItemDone::once(1, 2, 3, None));
    let mut frame = out[4..].to_vec();
    frame.extend_from_slice(&2u32.to_le_bytes());
    frame.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(FromWorker::decode(&frame).is_err());
}

#[test]
fn long_attempt_messages_are_cut_on_a_character_boundary() {
    let long = "é".repeat(MAX_ATTEMPT_MESSAGE);
    let cut = cap_message(long);
    assert!(cut.len() <= MAX_ATTEMPT_MESSAGE, "{}", cut.len());
    assert!(cut.ends_with('…'));
    assert_eq!(cap_message("short".into()), "short");
}

#[test]
fn item_frames_are_small() {
    let mut out = Vec::new();
    ToWorker::Item(1).encode(&mut out);
    assert_eq!(out.len(), 13);
    out.clear();
    encode_done(&mut out, &ItemDone::once(1, 2, 3, None));
    assert_eq!(out.len(), 30, "one attempt costs nothing extra");
}
