//! Goal: every document is byte-for-byte what we decided S3 sends, and parses back.
//! Method: golden files in `fixtures/xml/` written by hand (not generated from this code),
//! round trips through `from_xml`, and a property test over hostile key strings.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn golden(text: &str) -> &str {
    // Fixture files may end with a newline that S3 does not send.
    text.strip_suffix('\n').unwrap_or(text)
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + chrono::Duration::milliseconds(ms.into())
}

fn owner() -> Owner {
    Owner { id: "ringvault-owner-id".into(), display_name: "ringvault".into() }
}

fn object(key: &str, size: u64) -> ObjectEntry {
    ObjectEntry {
        key: key.into(),
        last_modified: at(2009, 10, 12, 17, 50, 30, 0),
        etag: "\"fba9dede5f27731c9771645a39863328\"".into(),
        checksum_algorithm: None,
        checksum_type: None,
        size,
        owner: None,
        storage_class: "STANDARD".into(),
    }
}

fn version(
    key: &str,
    id: &str,
    latest: bool,
    secs: u32,
    etag: &str,
    size: u64,
) -> VersionListEntry {
    VersionListEntry::Version(ObjectVersionEntry {
        key: key.into(),
        version_id: id.into(),
        is_latest: latest,
        last_modified: at(2024, 5, 1, 0, 0, secs, 0),
        etag: format!("\"{etag}\""),
        checksum_algorithm: None,
        checksum_type: None,
        size,
        storage_class: "STANDARD".into(),
        owner: owner(),
    })
}

fn marker(key: &str, id: &str, latest: bool, secs: u32) -> VersionListEntry {
    VersionListEntry::DeleteMarker(DeleteMarkerEntry {
        key: key.into(),
        version_id: id.into(),
        is_latest: latest,
        last_modified: at(2024, 5, 1, 0, 0, secs, 0),
        owner: owner(),
    })
}

fn sample_buckets() -> ListAllMyBucketsResult {
    ListAllMyBucketsResult {
        owner: owner(),
        buckets: Buckets {
            bucket: vec![
                BucketEntry {
                    name: "alpha".into(),
                    creation_date: at(2009, 10, 12, 17, 50, 30, 0),
                    bucket_region: "us-east-1".into(),
                },
                BucketEntry {
                    name: "beta".into(),
                    creation_date: at(2024, 2, 29, 23, 59, 59, 123),
                    bucket_region: "eu-west-1".into(),
                },
            ],
        },
        prefix: None,
        continuation_token: None,
    }
}

fn sample_v2() -> ListObjectsV2Result {
    let mut first = object("2024/a.jpg", 434_234);
    first.checksum_algorithm = Some("CRC32".into());
    first.checksum_type = Some("FULL_OBJECT".into());
    let mut second = object("2024/b.jpg", 0);
    second.last_modified = at(2010, 1, 2, 3, 4, 5, 6);
    second.etag = "\"9b2cf535f27731c974343645a3985328-2\"".into();
    ListObjectsV2Result {
        name: "photos".into(),
        prefix: "2024/".into(),
        continuation_token: Some("opaque-in".into()),
        next_continuation_token: Some("opaque-out".into()),
        start_after: None,
        key_count: 3,
        max_keys: 3,
        delimiter: Some("/".into()),
        encoding_type: None,
        is_truncated: true,
        contents: vec![first, second],
        common_prefixes: vec![CommonPrefix { prefix: "2024/jan/".into() }],
    }
}

fn sample_v1() -> ListObjectsResult {
    let mut entry = object("2024.txt", 12);
    entry.owner = Some(owner());
    ListObjectsResult {
        name: "photos".into(),
        prefix: String::new(),
        marker: "2023/z.jpg".into(),
        next_marker: Some("2024/".into()),
        max_keys: 2,
        delimiter: Some("/".into()),
        encoding_type: None,
        is_truncated: true,
        contents: vec![entry],
        common_prefixes: vec![CommonPrefix { prefix: "2024/".into() }],
    }
}

fn sample_versions() -> ListVersionsResult {
    ListVersionsResult {
        name: "docs".into(),
        prefix: String::new(),
        key_marker: String::new(),
        version_id_marker: String::new(),
        next_key_marker: Some("b.txt".into()),
        next_version_id_marker: Some("v-b1".into()),
        max_keys: 4,
        delimiter: None,
        encoding_type: None,
        is_truncated: true,
        entries: vec![
            version("a.txt", "v-a3", true, 3, "aaaa", 3),
            marker("a.txt", "v-a2", false, 2),
            version("a.txt", "v-a1", false, 1, "bbbb", 1),
            marker("b.txt", "v-b2", true, 4),
        ],
        common_prefixes: vec![CommonPrefix { prefix: "c/".into() }],
    }
}

#[test]
fn iso8601_always_has_milliseconds_and_z() {
    assert_eq!(iso8601(at(2009, 10, 12, 17, 50, 30, 0)), "2009-10-12T17:50:30.000Z");
    assert_eq!(iso8601(at(2024, 2, 29, 23, 59, 59, 123)), "2024-02-29T23:59:59.123Z");
    // Sub-millisecond precision is truncated, not rounded up into the next second.
    let t = at(2024, 1, 1, 0, 0, 0, 999) + chrono::Duration::microseconds(900);
    assert_eq!(iso8601(t), "2024-01-01T00:00:00.999Z");
}

#[test]
fn list_buckets_matches_golden() {
    let xml = sample_buckets().to_xml();
    assert_eq!(xml, golden(include_str!("../../../fixtures/xml/list_all_my_buckets.xml")));
}

#[test]
fn list_buckets_with_no_buckets_keeps_the_wrapper() {
    let result = ListAllMyBucketsResult {
        owner: owner(),
        buckets: Buckets::default(),
        prefix: Some("al".into()),
        continuation_token: Some("token-1".into()),
    };
    let xml = result.to_xml();
    assert_eq!(xml, golden(include_str!("../../../fixtures/xml/list_all_my_buckets_empty.xml")));
    assert_eq!(from_xml::<ListAllMyBucketsResult>(xml.as_bytes()).unwrap(), result);
}

#[test]
fn list_objects_v2_matches_golden() {
    let xml = sample_v2().to_xml();
    assert_eq!(xml, golden(include_str!("../../../fixtures/xml/list_objects_v2.xml")));
}

#[test]
fn list_objects_v2_empty_listing_omits_contents() {
    let result = ListObjectsV2Result {
        name: "photos".into(),
        prefix: String::new(),
        continuation_token: None,
        next_continuation_token: None,
        start_after: Some("zzz".into()),
        key_count: 0,
        max_keys: 1000,
        delimiter: None,
        encoding_type: Some("url".into()),
        is_truncated: false,
        contents: Vec::new(),
        common_prefixes: Vec::new(),
    };
    let xml = result.to_xml();
    assert_eq!(xml, golden(include_str!("../../../fixtures/xml/list_objects_v2_empty.xml")));
    assert_eq!(from_xml::<ListObjectsV2Result>(xml.as_bytes()).unwrap(), result);
}

#[test]
fn list_objects_v1_matches_golden() {
    let xml = sample_v1().to_xml();
    assert_eq!(xml, golden(include_str!("../../../fixtures/xml/list_objects_v1.xml")));
}

#[test]
fn list_versions_interleaves_versions_and_delete_markers_in_given_order() {
    let xml = sample_versions().to_xml();
    assert_eq!(xml, golden(include_str!("../../../fixtures/xml/list_versions.xml")));
}

#[test]
fn location_constraint_matches_golden() {
    assert_eq!(
        location_constraint_xml("eu-west-1"),
        golden(include_str!("../../../fixtures/xml/location_constraint_eu_west_1.xml"))
    );
    assert_eq!(
        location_constraint_xml("us-east-1"),
        golden(include_str!("../../../fixtures/xml/location_constraint_us_east_1.xml"))
    );
}

#[test]
fn error_body_matches_golden_and_has_no_namespace() {
    let extra = [("Key", "a&b.txt".to_owned()), ("BucketName", "docs".to_owned())];
    let xml = error_xml(
        "NoSuchKey",
        "The specified key does not exist.",
        Some("/docs/a&b.txt"),
        "4442587FB7D0A2F9",
        &extra,
    );
    assert_eq!(xml, golden(include_str!("../../../fixtures/xml/error_no_such_key.xml")));
    assert!(!xml.contains("xmlns"));
}

#[test]
fn error_body_from_s3_error_omits_missing_resource() {
    let err = S3Error::from(S3ErrorCode::InvalidRange).with("ActualObjectSize", "0");
    let xml = s3_error_xml(&err, "req-1");
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidRange</Code>\
         <Message>The requested range is not satisfiable</Message><RequestId>req-1</RequestId>\
         <ActualObjectSize>0</ActualObjectSize></Error>"
    );
}

#[test]
fn error_body_escapes_every_special_character() {
    let xml = error_xml("InvalidArgument", "bad <'\"&> \u{e9}\u{1f600}", None, "r", &[]);
    assert!(xml.contains("<Message>bad &lt;&apos;&quot;&amp;&gt; \u{e9}\u{1f600}</Message>"));
}

#[test]
fn listings_round_trip() {
    let v2 = sample_v2();
    assert_eq!(from_xml::<ListObjectsV2Result>(v2.to_xml().as_bytes()).unwrap(), v2);
    let v1 = sample_v1();
    assert_eq!(from_xml::<ListObjectsResult>(v1.to_xml().as_bytes()).unwrap(), v1);
    let buckets = sample_buckets();
    assert_eq!(from_xml::<ListAllMyBucketsResult>(buckets.to_xml().as_bytes()).unwrap(), buckets);
    let lc = LocationConstraint { region: "eu-west-1".into() };
    assert_eq!(from_xml::<LocationConstraint>(lc.to_xml().as_bytes()).unwrap(), lc);
}

#[test]
fn list_versions_round_trip_keeps_interleaving() {
    let versions = sample_versions();
    let parsed: ListVersionsResult = from_xml(versions.to_xml().as_bytes()).unwrap();
    assert_eq!(parsed, versions);
}

#[test]
fn keys_with_markup_characters_are_escaped_and_round_trip() {
    let key = "a&b <c> \"d\" 'e' \u{e9}t\u{e9}/\u{65e5}\u{672c}/\u{1f600}";
    let mut result = sample_v2();
    result.contents = vec![object(key, 1)];
    result.common_prefixes = vec![CommonPrefix { prefix: "x&y/".into() }];
    let xml = result.to_xml();
    assert!(xml.contains(
        "<Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; \u{e9}t\u{e9}/\u{65e5}\u{672c}/\u{1f600}</Key>"
    ));
    assert!(xml.contains("<Prefix>x&amp;y/</Prefix>"));
    assert_eq!(from_xml::<ListObjectsV2Result>(xml.as_bytes()).unwrap(), result);
}

#[test]
fn keys_with_surrounding_whitespace_survive_parsing() {
    let mut result = sample_v1();
    result.contents = vec![object("  padded key  ", 1)];
    let parsed: ListObjectsResult = from_xml(result.to_xml().as_bytes()).unwrap();
    assert_eq!(parsed.contents[0].key, "  padded key  ");
}

#[test]
fn create_bucket_configuration_reads_location_and_ignores_directory_elements() {
    let body = include_str!("../../../fixtures/xml/create_bucket_configuration.xml");
    let config = CreateBucketConfiguration::parse(body.as_bytes()).unwrap();
    assert_eq!(config.location_constraint.as_deref(), Some("eu-west-1"));
}

#[test]
fn create_bucket_configuration_without_location_is_default() {
    let body = b"<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>";
    assert_eq!(
        CreateBucketConfiguration::parse(body).unwrap(),
        CreateBucketConfiguration::default()
    );
    let body = b"<CreateBucketConfiguration></CreateBucketConfiguration>";
    assert_eq!(
        CreateBucketConfiguration::parse(body).unwrap(),
        CreateBucketConfiguration::default()
    );
}

#[test]
fn create_bucket_configuration_with_wrong_root_is_malformed() {
    let body = b"<Configuration><LocationConstraint>eu-west-1</LocationConstraint></Configuration>";
    let err = CreateBucketConfiguration::parse(body).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::MalformedXML);
}

#[test]
fn malformed_bodies_are_malformed_xml() {
    let bodies: [&[u8]; 10] = [
        b"",
        b"not xml at all",
        b"<CreateBucketConfiguration>",
        b"<CreateBucketConfiguration><LocationConstraint>x</Wrong></CreateBucketConfiguration>",
        b"<CreateBucketConfiguration><LocationConstraint>&bogus;</LocationConstraint></CreateBucketConfiguration>",
        b"<CreateBucketConfiguration></CreateBucketConfiguration><Second/>",
        b"<CreateBucketConfiguration>\xff\xfe</CreateBucketConfiguration>",
        b"<?xml version=\"1.0\"?>",
        b"<CreateBucketConfiguration/>trailing text",
        b"leading text<CreateBucketConfiguration/>",
    ];
    for body in bodies {
        let result = CreateBucketConfiguration::parse(body);
        assert!(
            matches!(&result, Err(e) if e.code == S3ErrorCode::MalformedXML),
            "{:?} -> {result:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn wrong_value_types_are_malformed_xml() {
    let mut xml = sample_v2().to_xml();
    xml = xml.replace("<KeyCount>3</KeyCount>", "<KeyCount>three</KeyCount>");
    let err = from_xml::<ListObjectsV2Result>(xml.as_bytes()).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::MalformedXML);
    let xml = sample_v2().to_xml().replace("2009-10-12T17:50:30.000Z", "yesterday");
    let err = from_xml::<ListObjectsV2Result>(xml.as_bytes()).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::MalformedXML);
}

/// Characters XML 1.0 can carry: keys made of these must round-trip exactly.
fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        1 => proptest::sample::select(vec!['\r', '\n', '\t', '\u{85}', '\u{2028}']),
        1 => proptest::char::range('\u{a0}', '\u{d7ff}'),
        1 => proptest::char::range('\u{10000}', '\u{10ffff}'),
    ]
}

proptest! {
    #[test]
    fn any_printable_key_round_trips(key in proptest::collection::vec(xml_char(), 1..64)) {
        let key: String = key.into_iter().collect();
        let mut result = sample_v2();
        result.contents = vec![object(&key, 7)];
        result.prefix = key.clone();
        let parsed: ListObjectsV2Result = from_xml(result.to_xml().as_bytes()).unwrap();
        prop_assert_eq!(parsed, result);
    }
}
