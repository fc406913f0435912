//! The acc log reader against a real Kamailio 5.6.3 log (`tests/fixtures/kamailio-5.6.3/`:
//! the log and the configuration that wrote it, with sipp calls: one ended by BYE, one refused
//! 486 Busy Here, one ended by the dialog's timeout).

use minutely_formats::acc::{Ended, ProxyRecord, parse};

const LOG: &str = include_str!("../fixtures/kamailio-5.6.3/acc-sample.log");

fn record(
    line: usize,
    call_id: &str,
    answered: Option<(i64, i32)>,
    duration_s: u64,
    ended: Ended,
) -> ProxyRecord {
    ProxyRecord {
        line,
        tenant: "contoso".to_string(),
        call_id: call_id.to_string(),
        answered_at: answered.map(|(s, ms)| jiff::Timestamp::new(s, ms * 1_000_000).unwrap()),
        duration_s,
        ended,
    }
}

#[test]
fn a_real_kamailio_log_gives_one_record_per_call_c38() {
    let records = parse(LOG, 100).expect("the real log reads");
    let at = |needle: &str| {
        LOG.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    let expected = vec![
        // Ended by BYE: answered at start_time, 2.307 s rounded down (C38).
        record(
            at("duration=2.307"),
            "1-8823@127.0.0.1",
            Some((1796577237, 448)),
            2,
            Ended::Hangup,
        ),
        // 486 Busy Here: three lines of Kamailio, one call of 0 s, never answered.
        record(
            at("ACC: call missed"),
            "1-8901@127.0.0.1",
            None,
            0,
            Ended::Failed,
        ),
        // Ended by the dialog's timeout (the proxy's granted deadline).
        record(
            at("duration=4.359"),
            "1-8903@127.0.0.1",
            Some((1796577239, 979)),
            4,
            Ended::Hangup,
        ),
    ];
    assert_eq!(records, expected);
}
