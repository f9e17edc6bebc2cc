use super::*;

// 0xFB 0xFF 0xBF encodes to "+/+/" in the standard alphabet and "-_-_" in the URL-safe one.
const AWKWARD: &[u8] = &[0xFB, 0xFF, 0xBF];

#[test]
fn standard_and_url_safe_alphabets() {
    assert_eq!(decode("+/+/").unwrap(), AWKWARD);
    assert_eq!(decode("-_-_").unwrap(), AWKWARD);
}

#[test]
fn padding_is_optional() {
    assert_eq!(decode("aGk=").unwrap(), b"hi");
    assert_eq!(decode("aGk").unwrap(), b"hi");
    assert_eq!(decode("aA==").unwrap(), b"h");
    assert_eq!(decode("aA").unwrap(), b"h");
}

#[test]
fn data_urls() {
    assert_eq!(decode("data:image/png;base64,aGk=").unwrap(), b"hi");
    assert_eq!(
        decode("DATA:image/jpeg;charset=utf-8;base64,aGk").unwrap(),
        b"hi"
    );
    assert_eq!(decode("data:;base64,aGk=").unwrap(), b"hi");
    assert_eq!(
        decode("data:image/png,aGk="),
        Err(Base64Error::DataUrlNotBase64)
    );
    assert_eq!(
        decode("data:image/png;base64"),
        Err(Base64Error::DataUrlNotBase64)
    );
    assert_eq!(decode("data:image/png;base64,"), Err(Base64Error::Empty));
}

#[test]
fn line_breaks_are_ignored() {
    assert_eq!(decode("aGVs\r\nbG8=\n").unwrap(), b"hello");
}

#[test]
fn refusals() {
    assert_eq!(decode(""), Err(Base64Error::Empty));
    assert_eq!(decode("  \n"), Err(Base64Error::Empty));
    assert_eq!(decode("+/-_"), Err(Base64Error::MixedAlphabets));
    assert_eq!(
        decode("aGk*"),
        Err(Base64Error::InvalidByte {
            offset: 3,
            byte: '*'
        })
    );
    assert_eq!(decode("aGVsb"), Err(Base64Error::InvalidLength));
    assert_eq!(decode("a=Gk"), Err(Base64Error::Padding));
}

#[test]
fn non_ascii_is_refused_not_panicking() {
    assert!(matches!(
        decode("aGk€"),
        Err(Base64Error::InvalidByte { .. })
    ));
    // A multi-byte character straddling the 5-byte data-URL probe must not panic on slicing.
    assert!(decode("data€xyz").is_err());
}
