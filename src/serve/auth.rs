//! Serve's shared secret: a delivery carries `--token` in its query string
//! (`?token=…`, for a postback URL configured on the platform) or in an
//! `Authorization: Bearer …` header, and it is compared in constant time.

use std::borrow::Cow;

use hyper::Request;
use hyper::header::AUTHORIZATION;

/// Whether `request` carries `token`, in its query string or its `Authorization` header.
pub fn authorized<B>(request: &Request<B>, token: &str) -> bool {
    let expected = token.as_bytes();
    let in_query = request
        .uri()
        .query()
        .and_then(|query| query_param(query, "token"))
        .is_some_and(|given| same_secret(&given, expected));
    let in_header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
        .is_some_and(|given| same_secret(given, expected));
    in_query | in_header
}

/// The decoded value of the first `name=` parameter of a query string
/// (`application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte).
pub fn query_param<'q>(query: &'q str, name: &str) -> Option<Cow<'q, [u8]>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> Cow<'_, [u8]> {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|b| *b == b'%' || *b == b'+') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&first, tail)) = rest.split_first() {
        let escaped = match (first, tail) {
            (b'%', [high, low, ..]) => hex(*high).zip(hex(*low)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                rest = tail.get(2..).unwrap_or_default();
            }
            None => {
                out.push(if first == b'+' { b' ' } else { first });
                rest = tail;
            }
        }
    }
    Cow::Owned(out)
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Compare secrets in time that depends only on their lengths, so that timing the
/// answers does not reveal how much of a guess was right.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = u8::from(given.len() != expected.len());
    for (index, byte) in given.iter().enumerate() {
        let other = expected.get(index % expected.len().max(1)).copied();
        difference |= byte ^ other.unwrap_or(0);
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, authorization: Option<&str>) -> Request<()> {
        let mut builder = Request::builder().uri(uri);
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_token_is_taken_from_the_query_or_a_bearer_header() {
        let token = "s3cr3t+/=";
        assert!(authorized(
            &request("/postback?token=s3cr3t%2B%2F%3D", None),
            token
        ));
        assert!(authorized(
            &request("/postback?a=1&token=s3cr3t%2b%2f=", None),
            token
        ));
        assert!(authorized(
            &request("/postback", Some("Bearer s3cr3t+/=")),
            token
        ));
        assert!(!authorized(&request("/postback", None), token));
        assert!(!authorized(&request("/postback?token=s3cr3t", None), token));
        assert!(!authorized(
            &request("/postback?token=s3cr3t+/=", None),
            token
        ));
        assert!(!authorized(
            &request("/postback?xtoken=s3cr3t%2B%2F%3D", None),
            token
        ));
        assert!(!authorized(
            &request("/postback", Some("Basic s3cr3t+/=")),
            token
        ));
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(&*percent_decode("a+b%20c"), b"a b c");
        assert_eq!(&*percent_decode("100%"), b"100%");
        assert_eq!(&*percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(&*percent_decode("%FF"), [0xff]);
        assert_eq!(query_param("token", "token").as_deref(), Some(&b""[..]));
    }

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"abcabc", b"abc"));
        assert!(!same_secret(b"", b"abc"));
        assert!(same_secret(b"", b""));
    }
}
