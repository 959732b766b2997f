//! Goal: the string to sign and the signature reproduce AWS's published SigV2 examples byte
//! for byte, and the parsers reject what AWS rejects with the same codes. Method: table tests
//! over `fixtures/sigv2/`, then targeted cases for the resource, the amz headers and the
//! date rules.

use super::super::sigv4::test_vectors::{Fixture, SECRET, decode_query};
use super::*;

const HEADER_EXAMPLES: [&str; 6] = [
    include_str!("../../../../fixtures/sigv2/get_object.txt"),
    include_str!("../../../../fixtures/sigv2/put_object.txt"),
    include_str!("../../../../fixtures/sigv2/list_objects.txt"),
    include_str!("../../../../fixtures/sigv2/get_bucket_acl.txt"),
    include_str!("../../../../fixtures/sigv2/list_buckets.txt"),
    include_str!("../../../../fixtures/sigv2/unicode_key.txt"),
];
const PRESIGNED_GET_OBJECT: &str =
    include_str!("../../../../fixtures/sigv2/presigned_get_object.txt");
const UPLOAD_WITH_METADATA: &str =
    include_str!("../../../../fixtures/sigv2/upload_with_metadata.txt");

/// The fixture's strings to sign, reading it as a header-form (`expires: None`) request.
fn fixture_strings(f: &Fixture, expires: Option<&str>) -> Vec<String> {
    let headers = f.headers();
    let query = f.query_pairs();
    let vhost = Some(f.get("vhost_bucket")).filter(|b| !b.is_empty());
    strings_to_sign(&SigningInput {
        method: f.get("method"),
        raw_path: f.get("raw_path"),
        raw_query: f.get("query"),
        query: &query,
        headers: &headers,
        vhost_bucket: vhost,
        expires,
    })
}

/// A header-form input over owned parts, for targeted cases.
fn input<'a>(
    method: &'a str,
    raw_path: &'a str,
    raw_query: &'a str,
    headers: &'a [(String, String)],
) -> SigningInput<'a> {
    SigningInput {
        method,
        raw_path,
        raw_query,
        query: &[],
        headers,
        vhost_bucket: None,
        expires: None,
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn header_examples_reproduce_string_to_sign_and_signature() {
    for text in HEADER_EXAMPLES {
        let f = Fixture::parse(text);
        let strings = fixture_strings(&f, None);
        assert_eq!(strings[0], f.get("string_to_sign"), "{}", text.lines().next().unwrap());
        let auth = parse_authorization(f.get("authorization")).unwrap();
        assert_eq!(auth.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        let computed = signature(SECRET, &strings[0]);
        assert_eq!(computed, auth.signature);
        assert!(signatures_match(&computed, &auth.signature));
    }
}

#[test]
fn presigned_example_reproduces_the_signature() {
    let f = Fixture::parse(PRESIGNED_GET_OBJECT);
    let p = parse_presigned(&f.query_pairs()).unwrap().unwrap();
    assert_eq!(p.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(p.expires_epoch_secs, 1_175_139_620);
    assert_eq!(p.signature, f.get("signature"));
    let strings = fixture_strings(&f, Some(&p.expires));
    assert_eq!(strings[0], f.get("string_to_sign"));
    assert!(signatures_match(&signature(SECRET, &strings[0]), &p.signature));
}

#[test]
fn upload_example_reproduces_the_string_to_sign() {
    let f = Fixture::parse(UPLOAD_WITH_METADATA);
    assert_eq!(fixture_strings(&f, None)[0], f.get("string_to_sign"));
}

#[test]
fn sub_resources_are_sorted_for_binary_search() {
    assert!(SUB_RESOURCES.is_sorted());
}

#[test]
fn resource_keeps_sub_resources_sorted_and_drops_other_parameters() {
    let form = ResourceForm { reencode_path: false, decode_values: true, bucket_slash: false };
    let r = canonical_resource(
        None,
        "/b/k",
        "uploadId=abc&partNumber=2&x-id=UploadPart&max-keys=5&prefix=a",
        form,
    );
    assert_eq!(r, "/b/k?partNumber=2&uploadId=abc");
    // `versionId` < `versioning` < `versions` in byte order.
    let r = canonical_resource(None, "/b", "versions&versioning&versionId=1", form);
    assert_eq!(r, "/b?versionId=1&versioning&versions");
    // Valueless and empty-valued sub-resources render as sent.
    assert_eq!(canonical_resource(None, "/b", "acl=", form), "/b?acl=");
    assert_eq!(canonical_resource(None, "/b", "delete", form), "/b?delete");
    // Virtual-hosted: the bucket prefixes the path, including the bucket root.
    assert_eq!(canonical_resource(Some("b"), "/", "", form), "/b/");
    // Query names are compared as sent, case-sensitively.
    assert_eq!(canonical_resource(None, "/b", "ACL&Tagging", form), "/b");
}

#[test]
fn response_override_values_are_decoded_first_then_offered_as_sent() {
    let headers = pairs(&[("date", "Tue, 27 Mar 2007 19:36:42 +0000")]);
    let i = input("GET", "/b/k", "response-content-disposition=attachment%3B%20x.txt", &headers);
    let strings = strings_to_sign(&i);
    assert_eq!(strings.len(), 2, "{strings:?}");
    assert!(strings[0].ends_with("/b/k?response-content-disposition=attachment; x.txt"));
    assert!(strings[1].ends_with("/b/k?response-content-disposition=attachment%3B%20x.txt"));
}

#[test]
fn path_is_signed_as_sent_first_then_reencoded() {
    let headers = pairs(&[("date", "Tue, 27 Mar 2007 19:36:42 +0000")]);
    let strings = strings_to_sign(&input("GET", "/b/a%2cb!c", "", &headers));
    assert_eq!(strings.len(), 2, "{strings:?}");
    assert!(strings[0].ends_with("\n/b/a%2cb!c"));
    assert!(strings[1].ends_with("\n/b/a%2Cb%21c"));
    // Nothing to re-read: one candidate.
    assert_eq!(strings_to_sign(&input("GET", "/b/plain", "", &headers)).len(), 1);
}

#[test]
fn bucket_only_path_is_also_read_with_a_trailing_slash() {
    let headers = pairs(&[("date", "Tue, 27 Mar 2007 19:36:42 +0000")]);
    let strings = strings_to_sign(&input("PUT", "/bucket", "acl", &headers));
    assert_eq!(strings.len(), 2, "{strings:?}");
    assert!(strings[0].ends_with("\n/bucket?acl"));
    assert!(strings[1].ends_with("\n/bucket/?acl"));
    // Neither the service root nor an object path changes.
    assert_eq!(strings_to_sign(&input("GET", "/", "", &headers)).len(), 1);
    assert_eq!(strings_to_sign(&input("GET", "/bucket/key", "", &headers)).len(), 1);
}

#[test]
fn amz_headers_are_lowercased_sorted_trimmed_and_joined() {
    let headers = pairs(&[
        ("X-Amz-Meta-B", "  two  words "),
        ("x-amz-meta-a", "1"),
        ("x-amz-meta-b", "second"),
        ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
        ("content-type", " text/plain "),
        ("range", "bytes=0-1"),
    ]);
    let s = &strings_to_sign(&input("PUT", "/b/k", "", &headers))[0];
    assert_eq!(
        s,
        "PUT\n\ntext/plain\nTue, 27 Mar 2007 19:36:42 +0000\nx-amz-meta-a:1\nx-amz-meta-b:two  words,second\n/b/k"
    );
}

#[test]
fn date_line_is_empty_when_x_amz_date_is_present() {
    let headers = pairs(&[
        ("date", "Tue, 27 Mar 2007 21:20:27 +0000"),
        ("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"),
    ]);
    let s = &strings_to_sign(&input("DELETE", "/b/k", "", &headers))[0];
    assert_eq!(s, "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/b/k");
}

#[test]
fn query_form_signs_expires_and_fields_moved_into_the_query() {
    // What botocore's presigner produces for a PUT with ContentType and an x-amz-acl.
    let raw_query =
        "content-type=text%2Fplain&x-amz-acl=private&AWSAccessKeyId=AK&Signature=s&Expires=100";
    let query = decode_query(raw_query);
    let headers = pairs(&[("date", "Tue, 27 Mar 2007 21:20:27 +0000")]);
    let strings = strings_to_sign(&SigningInput {
        method: "PUT",
        raw_path: "/b/k",
        raw_query,
        query: &query,
        headers: &headers,
        vhost_bucket: None,
        expires: Some("100"),
    });
    assert_eq!(strings[0], "PUT\n\ntext/plain\n100\nx-amz-acl:private\n/b/k");
    // The header form ignores query fields.
    let strings = strings_to_sign(&SigningInput {
        expires: None,
        ..input("PUT", "/b/k", raw_query, &headers)
    });
    assert_eq!(strings[0], "PUT\n\n\nTue, 27 Mar 2007 21:20:27 +0000\n/b/k");
}

#[test]
fn authorization_header_parses_or_is_invalid_argument() {
    let a = parse_authorization("AWS AKID:abc/def+ghi=").unwrap();
    assert_eq!(
        a,
        AuthorizationV2 { access_key_id: "AKID".into(), signature: "abc/def+ghi=".into() }
    );
    for bad in ["AWS AKID", "AWS :sig", "AWS AKID:", "AWS ", "AWSAKID:sig"] {
        let e = parse_authorization(bad).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{bad}");
    }
}

#[test]
fn presigned_parameters_parse_or_are_access_denied() {
    let q = |s: &str| decode_query(s);
    assert_eq!(parse_presigned(&q("prefix=a&acl")).unwrap(), None);
    let p =
        parse_presigned(&q("AWSAccessKeyId=AK&Expires=42&Signature=a%2Bb%3D")).unwrap().unwrap();
    assert_eq!(p.signature, "a+b=");
    assert_eq!(p.expires, "42");
    for bad in [
        "AWSAccessKeyId=AK&Signature=s",
        "Expires=1&Signature=s",
        "AWSAccessKeyId=AK&Expires=soon&Signature=s",
        "AWSAccessKeyId=AK&Expires=1&Signature=s&Signature=t",
        "AWSAccessKeyId=&Expires=1&Signature=s",
    ] {
        let e = parse_presigned(&q(bad)).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::AccessDenied, "{bad}");
    }
}

#[test]
fn dates_parse_in_the_forms_clients_send() {
    let expected = DateTime::parse_from_rfc3339("2007-03-27T19:36:42Z").unwrap();
    for value in [
        "Tue, 27 Mar 2007 19:36:42 +0000",
        "Tue, 27 Mar 2007 19:36:42 GMT",
        "Tuesday, 27-Mar-07 19:36:42 GMT",
        "Tue Mar 27 19:36:42 2007",
        "20070327T193642Z",
        "Wed, 27 Mar 2007 19:36:42 GMT",
    ] {
        assert_eq!(parse_date(value), Some(expected.with_timezone(&Utc)), "{value}");
    }
    assert_eq!(parse_date("yesterday"), None);
    assert_eq!(parse_date("Tue, 32 Mar 2007 19:36:42 GMT"), None);
    assert_eq!(parse_date("Tue, 07 Jul 1950 21:53:04 GMT"), None, "before the epoch");
}

#[test]
fn wrong_secret_or_tampered_string_does_not_match() {
    let f = Fixture::parse(HEADER_EXAMPLES[0]);
    let auth = parse_authorization(f.get("authorization")).unwrap();
    let sts = f.get("string_to_sign");
    assert!(!signatures_match(&signature("another secret", sts), &auth.signature));
    let tampered = sts.replace("puppy", "kitten");
    assert!(!signatures_match(&signature(SECRET, &tampered), &auth.signature));
}

#[test]
fn string_to_sign_bytes_are_spaced_hex() {
    assert_eq!(string_to_sign_bytes("GET\n/"), "47 45 54 0a 2f");
}
