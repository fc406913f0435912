use super::*;

const MASTER_CSV: &str = include_str!("../../../../examples/cdr/Master.csv");
const ASTERISK_MAPPING: &str = include_str!("../../../../examples/cdr-mapping-asterisk.toml");
const FREESWITCH_CSV: &str = include_str!("../../../../examples/cdr/freeswitch.csv");
const FREESWITCH_MAPPING: &str = include_str!("../../../../examples/cdr-mapping-freeswitch.toml");
const KAMAILIO_LOG: &str = include_str!("../../../../examples/cdr/kamailio-acc.log");
const KAMAILIO_MAPPING: &str = include_str!("../../../../examples/cdr-mapping-kamailio.toml");

fn mapping(text: &str, format: Format) -> Mapping {
    Mapping::parse(text, format).expect("a good mapping")
}

/// (line, reason code) of every skipped record.
fn skipped(c: &Converted) -> Vec<(usize, &'static str)> {
    c.skipped
        .iter()
        .map(|s| (s.line, s.reason.code()))
        .collect()
}

/// (line, column) of every malformed line, and the whole error text.
fn malformed(text: &str, mapping: &Mapping) -> (Vec<(usize, String)>, String) {
    let err = read(text, mapping).expect_err("a malformed file");
    let named = err.errors.iter().map(|e| (e.line, e.column.clone()));
    (named.collect(), err.to_string())
}

fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[test]
fn asterisk_answered_pstn_legs_are_billed_from_the_answer_in_the_switchs_zone() {
    let m = mapping(ASTERISK_MAPPING, Format::Asterisk);
    let c = read(MASTER_CSV, &m).unwrap();
    let lines: Vec<usize> = c.records.iter().map(|r| r.line).collect();
    assert_eq!(lines, [1, 3, 6]);
    let out = &c.records[0].record;
    assert_eq!(c.records[0].tenant, "contoso");
    assert_eq!(out.call_id, "1772442000.1");
    assert_eq!(out.organizer, "chloe.bernard@contoso.example");
    assert_eq!(out.conference_id, "m-100");
    assert_eq!(out.direction, Direction::DialOut);
    assert_eq!(out.destination_number, "+33144556677");
    assert_eq!(out.service_number, "+33186950000");
    // Rang from 10:00:00 Paris, answered 10:00:20 (09:00:20Z), billsec 125: ringing is never
    // charged (C5, C38).
    assert_eq!(out.start, utc("2026-03-02T09:00:20Z"));
    assert_eq!(out.end, utc("2026-03-02T09:02:25Z"));
    let dial_in = &c.records[1].record;
    assert_eq!(dial_in.direction, Direction::DialIn);
    assert_eq!(dial_in.caller_number, "+14165550100");
    assert_eq!(dial_in.service_number, "+33186950000");
    let toll_free = &c.records[2].record;
    assert_eq!(toll_free.service_number, "+33805980000");
    assert_eq!(toll_free.start, utc("2026-03-02T09:05:15Z"));
    assert_eq!(toll_free.end, utc("2026-03-02T09:10:15Z"));
    assert_eq!(
        skipped(&c),
        [
            (2, "unanswered"),
            (4, "not_pstn_leg"),
            (5, "no_tenant"),
            (7, "no_organizer")
        ]
    );
    assert!(c.skipped[0].detail.contains("NO ANSWER"), "{:?}", c.skipped);
    assert!(
        c.skipped[2].detail.contains("accountcode"),
        "{:?}",
        c.skipped
    );
}

#[test]
fn asterisk_columns_follow_the_csv_options_and_a_digest_stands_for_a_missing_uniqueid() {
    let text = ASTERISK_MAPPING
        .replace("loguniqueid = true", "loguniqueid = false")
        .replace("usegmtime = false", "usegmtime = true")
        .replace("timezone = \"Europe/Paris\"", "");
    let m = mapping(&text, Format::Asterisk);
    let line = r#""contoso","+33186950000","0144556677","conf-dialout","","PJSIP/b-1","PJSIP/pstn-2","Dial","","2026-03-02 10:00:00","2026-03-02 10:00:20","2026-03-02 10:02:25",145,125,"ANSWERED","BILLING","organizer=ana@x.example""#;
    let c = read(line, &m).unwrap();
    let record = &c.records[0].record;
    assert_eq!(record.start, utc("2026-03-02T10:00:20Z"), "usegmtime: UTC");
    assert_eq!(record.call_id, line_call_id(line));
    assert!(record.call_id.starts_with("cdr-") && record.call_id.len() == 36);
    assert!(ident::call_id("call_id", &record.call_id).is_ok());
    assert_eq!(read(line, &m).unwrap().records[0].record, *record, "stable");
    // With newcdrcolumns, a channel's records share a uniqueid and differ by sequence.
    let joined = ASTERISK_MAPPING
        .replace("newcdrcolumns = false", "newcdrcolumns = true")
        .replace(
            "# call_id = \"uniqueid\"",
            "call_id = [\"uniqueid\", \"sequence\"]",
        );
    let j = mapping(&joined, Format::Asterisk);
    let first = MASTER_CSV.lines().next().unwrap();
    let two = format!("{first},\"\",\"1772442000.0\",7\n{first},\"\",\"1772442000.0\",8\n");
    let ids: Vec<String> = read(&two, &j)
        .unwrap()
        .records
        .into_iter()
        .map(|r| r.record.call_id)
        .collect();
    assert_eq!(ids, ["1772442000.1-7", "1772442000.1-8"]);
    let bad = joined.replace("\"sequence\"]", "\"seq\"]");
    let bad = Mapping::parse(&bad, Format::Asterisk)
        .unwrap_err()
        .to_string();
    assert!(
        bad.contains("fields.call_id: asterisk records have no field \"seq\""),
        "{bad}"
    );
    // The same record with the uniqueid column is one field too many for this layout.
    let longer = line.replace(",\"organizer", ",\"1.1\",\"organizer");
    let (named, text) = malformed(&longer, &m);
    assert_eq!(named, [(1, String::new())]);
    assert!(text.contains("18 fields") && text.contains("17"), "{text}");
}

#[test]
fn freeswitch_stock_templates_are_read_without_escaping() {
    let example = r#""Ana "the boss" Silva","+33186950000","+33144556677","conf-dialout","2026-03-02 10:00:00","2026-03-02 10:00:20","2026-03-02 10:02:25","145","125","NORMAL_CLEARING","u-1","","contoso","PCMA","PCMA""#;
    let sql = r#"INSERT INTO cdr VALUES ("Ana","+33186950000","+33144556677","conf-dialout","2026-03-02 10:00:00","2026-03-02 10:00:20","2026-03-02 10:02:25","145","125","NORMAL_CLEARING","u-1","", "contoso");"#;
    let asterisk = r#""contoso","+33186950000","+33144556677","conf-dialout","Ana <+33186950000>","sofia/external/0144556677","","bridge","sofia/gateway/pstn/0144556677","2026-03-02 10:00:00","2026-03-02 10:00:20","2026-03-02 10:02:25","145","125","NORMAL_CLEARING","default","u-1","ana@x.example""#;
    for (template, line, organizer) in [
        ("example", example, "caller_id_name"),
        ("sql", sql, "caller_id_name"),
        ("asterisk", asterisk, "userfield"),
    ] {
        let text = format!(
            "timezone = \"Europe/Paris\"\n[freeswitch]\ntemplate = \"{template}\"\n\
             [fields]\ntenant = \"accountcode\"\norganizer = \"{organizer}\"\n\
             [[legs]]\ndirection = \"dial_out\"\ndestination = \"destination_number\"\n"
        );
        let m = mapping(&text, Format::FreeSwitch);
        let c = read(line, &m).unwrap_or_else(|e| panic!("{template}: {e}"));
        assert_eq!(c.records.len(), 1, "{template}: {:?}", c.skipped);
        let r = &c.records[0].record;
        assert_eq!(
            (r.call_id.as_str(), r.start),
            ("u-1", utc("2026-03-02T09:00:20Z"))
        );
        assert_eq!(r.end, utc("2026-03-02T09:02:25Z"), "{template}");
        assert_eq!(r.destination_number, "+33144556677");
        if template == "example" {
            assert_eq!(r.organizer, "Ana \"the boss\" Silva");
        }
    }
}

#[test]
fn freeswitch_custom_template_reports_an_unanswered_leg() {
    let m = mapping(FREESWITCH_MAPPING, Format::FreeSwitch);
    let c = read(FREESWITCH_CSV, &m).unwrap();
    let ids: Vec<&str> = c
        .records
        .iter()
        .map(|r| r.record.call_id.as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(c.records[1].record.direction, Direction::DialIn);
    assert_eq!(c.records[1].record.caller_number, "+14165550100");
    assert_eq!(skipped(&c), [(3, "unanswered")]);
    assert!(c.skipped[0].detail.contains("NO_ANSWER"), "{:?}", c.skipped);
}

#[test]
fn kamailio_cdrs_are_calls_and_a_failed_invite_is_reported_once() {
    let m = mapping(KAMAILIO_MAPPING, Format::KamailioAcc);
    let c = read(KAMAILIO_LOG, &m).unwrap();
    assert_eq!(c.records.len(), 2);
    let out = &c.records[0].record;
    assert_eq!(out.call_id, "a84b4c76e66710@bridge.example");
    assert_eq!(out.start.as_millisecond(), 1772442020120);
    // 125.680 s: whole seconds, rounded down (C38).
    assert_eq!(out.end.as_millisecond(), 1772442145120);
    assert_eq!(out.destination_number, "+33144556677");
    assert_eq!(c.records[1].record.direction, Direction::DialIn);
    assert_eq!(c.records[1].record.service_number, "+33186950000");
    assert_eq!(skipped(&c), [(3, "unanswered")]);
}

#[test]
fn malformed_lines_are_named_with_field_and_value() {
    let m = mapping(ASTERISK_MAPPING, Format::Asterisk);
    let mut lines: Vec<String> = MASTER_CSV.lines().map(String::from).collect();
    lines[0] = lines[0].replace("\"2026-03-02 10:00:20\"", "\"02/03/2026 10:00\"");
    lines[2] = lines[2].replace(",61,", ",sixty,");
    lines[3] = lines[3].replace(",\"DOCUMENTATION\"", "");
    lines[5] = lines[5].replace("\"2026-03-02 10:05:15\"", "\"2026-03-29 02:30:00\"");
    let (named, text) = malformed(&lines.join("\n"), &m);
    let expected = [(1, "answer"), (3, "billsec"), (4, ""), (6, "answer")];
    let expected: Vec<(usize, String)> =
        expected.iter().map(|(l, c)| (*l, c.to_string())).collect();
    assert_eq!(named, expected, "{text}");
    assert!(text.contains("\"02/03/2026 10:00\""), "{text}");
    assert!(text.contains("\"sixty\""), "{text}");
    assert!(
        text.contains("clock change"),
        "a skipped local time: {text}"
    );
    let long = MASTER_CSV.replace("m-100\"", &format!("{}\"", "m".repeat(MAX_FIELD_BYTES)));
    let (named, _) = malformed(&long, &m);
    assert!(named.contains(&(1, "userfield".to_string())), "{named:?}");
    let k = mapping(KAMAILIO_MAPPING, Format::KamailioAcc);
    let bad = KAMAILIO_LOG.replace("start_time=1772442182.000", "start_time=soon");
    let (named, _) = malformed(&bad, &k);
    assert_eq!(named, [(5, "start_time".to_string())]);
    let bad = KAMAILIO_LOG.replace("method=INVITE;", "");
    let (named, _) = malformed(&bad, &k);
    assert_eq!(named, [(3, "method".to_string())]);
    let long = KAMAILIO_LOG.replace(
        "mt_conference=m-100; mt_from=+14",
        &format!(
            "mt_conference={}; mt_from=+14",
            "m".repeat(MAX_FIELD_BYTES + 1)
        ),
    );
    let (named, _) = malformed(&long, &k);
    assert_eq!(named, [(5, "mt_conference".to_string())]);
    let f = mapping(
        "timezone = \"UTC\"\n[freeswitch]\ntemplate = \"sql\"\n[fields]\n\
         tenant = \"accountcode\"\norganizer = \"caller_id_name\"\n[[legs]]\n\
         direction = \"dial_out\"\ndestination = \"destination_number\"\n",
        Format::FreeSwitch,
    );
    let (named, _) = malformed("INSERT INTO cdr (\"a\");\n", &f);
    assert_eq!(named, [(1, String::new())]);
}

#[test]
fn a_repeated_local_time_is_the_earlier_instant() {
    let m = mapping(ASTERISK_MAPPING, Format::Asterisk);
    let line = MASTER_CSV
        .lines()
        .next()
        .unwrap()
        .replace("\"2026-03-02 10:00:20\"", "\"2026-10-25 02:30:00\"");
    let c = read(&line, &m).unwrap();
    assert_eq!(c.records[0].record.start, utc("2026-10-25T00:30:00Z"));
}

#[test]
fn a_mapping_is_checked_whole() {
    let text = ASTERISK_MAPPING
        .replace("timezone = \"Europe/Paris\"", "")
        .replace("\"userfield:organizer\"", "\"usrfield:organizer\"")
        .replace("direction = \"dial_out\"", "direction = \"out\"")
        .replace("destination = \"dst\"", "")
        .replace("country_code = \"33\"", "");
    let problems = Mapping::parse(&text, Format::Asterisk)
        .unwrap_err()
        .problems;
    let joined = problems.join("\n");
    for expected in [
        "timezone:",
        "fields.organizer: asterisk records have no field \"usrfield\"",
        "legs[0].direction: \"out\"",
        "national_prefix and country_code go together",
    ] {
        assert!(joined.contains(expected), "{expected} in {joined}");
    }
    let wrong = Mapping::parse(KAMAILIO_MAPPING, Format::Asterisk).unwrap_err();
    assert!(
        wrong
            .to_string()
            .contains("the mapping is for \"kamailio-acc\""),
        "{wrong}"
    );
    let zoned = format!("timezone = \"UTC\"\n{KAMAILIO_MAPPING}");
    let zoned = Mapping::parse(&zoned, Format::KamailioAcc).unwrap_err();
    assert!(zoned.to_string().contains("remove timezone"), "{zoned}");
    let unknown = format!("{KAMAILIO_MAPPING}\n[extra]\nx = 1\n");
    assert!(Mapping::parse(&unknown, Format::KamailioAcc).is_err());
    let no_out = KAMAILIO_MAPPING.replace("destination = \"mt_to\"", "");
    let no_out = Mapping::parse(&no_out, Format::KamailioAcc).unwrap_err();
    assert!(
        no_out
            .to_string()
            .contains("legs[0]: a dial_out rule needs destination"),
        "{no_out}"
    );
}

#[test]
fn numbers_become_e164_by_the_mappings_prefixes() {
    let numbers = Numbers {
        international_prefix: Some("00".into()),
        national_prefix: Some("0".into()),
        country_code: Some("33".into()),
        assume_international: false,
    };
    let check = |input: &str, expected: &str| assert_eq!(normalize(input, &numbers), expected);
    check("0033144556677", "+33144556677");
    check("0144556677", "+33144556677");
    check("+1 212 555 0199", "+1 212 555 0199");
    check("1001", "1001");
    check("sip:1001@pbx", "sip:1001@pbx");
    let plain = Numbers {
        assume_international: true,
        ..Numbers::default()
    };
    assert_eq!(normalize("14165550100", &plain), "+14165550100");
}

/// Bytes of the shipped samples flipped, cut and repeated (a fixed xorshift sequence, 3,000
/// variants in all): every reader answers, never panics, and names lines inside the file.
#[test]
fn mutated_samples_never_panic_and_name_lines_inside_the_file() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let samples = [
        (MASTER_CSV, mapping(ASTERISK_MAPPING, Format::Asterisk)),
        (
            FREESWITCH_CSV,
            mapping(FREESWITCH_MAPPING, Format::FreeSwitch),
        ),
        (KAMAILIO_LOG, mapping(KAMAILIO_MAPPING, Format::KamailioAcc)),
    ];
    let alphabet = b"\",;=:\n\r 0123456789-+.\\ANSWERED";
    for (sample, m) in &samples {
        for _ in 0..1000 {
            let mut bytes = sample.as_bytes().to_vec();
            for _ in 0..(next() % 8 + 1) {
                let at = (next() as usize) % bytes.len().max(1);
                match next() % 3 {
                    0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                    1 => bytes.truncate(at),
                    _ => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            let lines = text.split('\n').count();
            match read(text, m) {
                Ok(c) => {
                    let all = c.records.iter().map(|r| r.line);
                    assert!(
                        all.chain(c.skipped.iter().map(|s| s.line))
                            .all(|l| (1..=lines).contains(&l))
                    );
                    for r in &c.records {
                        assert!(r.record.end >= r.record.start, "C38: {r:?}");
                    }
                }
                Err(e) => {
                    assert!(!e.errors.is_empty());
                    assert!(
                        e.errors.iter().all(|r| (1..=lines).contains(&r.line)),
                        "{e}"
                    );
                }
            }
        }
    }
}

#[test]
fn tenant_values_fixed_values_and_pairs_are_mapped_as_written() {
    let text = r#"
format = "kamailio-acc"
[fields]
tenant = "acct"
organizer = "extra:org"
conference = { value = "all-hands" }
[tenants]
"4711" = "contoso"
[[legs]]
direction = "dial_in"
when = [{ field = "ctx", one_of = ["pstn-a", "pstn-b"] }]
caller = "from"
service_number = { value = "+33 805 98 00 00" }
[[legs]]
direction = "dial_out"
when = [{ field = "ctx", prefix = "out-" }]
destination = "to"
"#;
    let m = mapping(text, Format::KamailioAcc);
    let cdr = |i: usize, extra: &str| {
        format!("CDR: start_time=1772442020; duration=60; call_id=c-{i}; {extra}\n")
    };
    let log = [
        cdr(
            1,
            "acct=4711; extra=org=ana@x.example; ctx=pstn-b; from=+14165550100",
        ),
        cdr(2, "acct=9999; extra=org=ana@x.example; ctx=pstn-a"),
        cdr(3, "acct=4711; extra=org=ana@x.example; ctx=out-1; to="),
        cdr(4, "acct=4711; extra=org=ana@x.example; ctx=internal"),
        cdr(5, "acct=4711; extra=conf=1; ctx=pstn-a"),
    ]
    .concat();
    let c = read(&log, &m).unwrap();
    assert_eq!(c.records.len(), 1);
    let r = &c.records[0];
    assert_eq!((r.line, r.tenant.as_str()), (1, "contoso"));
    assert_eq!(r.record.organizer, "ana@x.example");
    assert_eq!(r.record.conference_id, "all-hands");
    assert_eq!(r.record.service_number, "+33 805 98 00 00");
    assert_eq!(r.record.end.as_second() - r.record.start.as_second(), 60);
    assert_eq!(
        skipped(&c),
        [
            (2, "no_tenant"),
            (3, "no_number"),
            (4, "not_pstn_leg"),
            (5, "no_organizer")
        ]
    );
    assert!(
        c.skipped[0].detail.contains("\"9999\" is not in [tenants]"),
        "{:?}",
        c.skipped
    );
}

#[test]
fn an_organizer_or_conference_a_call_record_file_cannot_hold_is_skipped_not_imported() {
    // Characters of 2 bytes: within the identifier rules' 256 (organizer) and 128 (conference)
    // characters, but more bytes than a call-record file (`minutely ingest`) holds.
    let m = mapping(KAMAILIO_MAPPING, Format::KamailioAcc);
    let cdr = "acc [acc_cdr.c:395]: log_write_cdr(): start_time=1772442020; end_time=1772442145; duration=125; call_id=c1@h; mt_tenant=contoso; mt_direction=dial_out; mt_from=+33186950000; mt_to=+33144556677";
    let (wide, half) = ("é".repeat(200), "é".repeat(100));
    let log = format!(
        "{cdr}; mt_organizer={wide}@x.example\n{}; mt_organizer=o@x.example; mt_conference={half}\n{}; mt_organizer=o@x.example\n",
        cdr.replace("c1@h", "c2@h"),
        cdr.replace("c1@h", "c3@h"),
    );
    let c = read(&log, &m).unwrap();
    assert_eq!(skipped(&c), [(1, "no_organizer"), (2, "bad_value")]);
    assert!(c.skipped[0].detail.contains("256 bytes"), "{:?}", c.skipped);
    assert!(c.skipped[1].detail.contains("128 bytes"), "{:?}", c.skipped);
    let lines: Vec<usize> = c.records.iter().map(|r| r.line).collect();
    assert_eq!(lines, [3]);
}

#[test]
fn a_call_outside_the_instants_a_call_record_holds_is_skipped_not_imported() {
    // Call records keep instants as 64-bit nanoseconds: 2262-04-11 is the last day.
    let m = mapping(ASTERISK_MAPPING, Format::Asterisk);
    let first = MASTER_CSV.lines().next().unwrap();
    let text = format!("{}\n{first}\n", first.replace("2026-03-02", "2300-03-02"));
    let c = read(&text, &m).unwrap();
    assert_eq!(skipped(&c), [(1, "bad_value")]);
    assert!(
        c.skipped[0].detail.contains("2262-04-11"),
        "{:?}",
        c.skipped
    );
    assert_eq!(c.records.len(), 1);
    assert_eq!(c.records[0].line, 2);
}

#[test]
fn a_kamailio_log_past_the_line_limit_is_refused_at_a_line_it_has() {
    let m = mapping(KAMAILIO_MAPPING, Format::KamailioAcc);
    let long = "x\n".repeat(acc::MAX_LINES);
    let (named, text) = malformed(&long, &m);
    assert_eq!(named, [(acc::MAX_LINES + 1, String::new())]);
    assert!(text.contains("refused"), "{text}");
}
