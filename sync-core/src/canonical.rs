//! The canonical byte encoding of an event: what is hashed and signed.
//!
//! It is the JSON Canonicalization Scheme (RFC 8785) applied to a deliberately small subset of
//! JSON, so that any JCS library — or a few lines of JavaScript — produces the same bytes:
//!
//! - objects: members sorted by key, compared as UTF-16 code units (RFC 8785 §3.2.3); keys must
//!   be ASCII, so this is plain byte order too;
//! - no whitespace anywhere;
//! - strings: as ECMAScript `JSON.stringify` writes them — `"` and `\` escaped, control
//!   characters below U+0020 as `\b \t \n \f \r` or `\u00xx` (lower-case hex), everything else,
//!   Chinese included, as literal UTF-8;
//! - numbers: integers only, from −(2^53−1) to 2^53−1, in shortest decimal form; fractions and
//!   exponents are refused (a location is sent in micro-degrees, a time in milliseconds);
//! - `true`, `false`, `null` as themselves; arrays keep their order.
//!
//! Refusing floats is what keeps the subset exact: JCS number formatting for fractions needs the
//! ECMAScript shortest-round-trip algorithm, and two implementations that disagree in one digit
//! would disagree on every signature.

use std::fmt::Write as _;

use serde_json::Value;

/// The largest integer that is exact in an IEEE double, and so in JavaScript.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Why a value has no canonical form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A number with a fraction or exponent, or outside ±(2^53−1).
    #[error(
        "`{path}` is not an integer between -(2^53-1) and 2^53-1; send fractions as integers (micro-degrees, milliseconds)"
    )]
    Number {
        /// Where, as a JSON path.
        path: String,
    },
    /// An object key with characters outside ASCII.
    #[error("the key `{path}` is not ASCII")]
    Key {
        /// Where, as a JSON path.
        path: String,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 32;

/// The canonical bytes of `value`.
pub fn to_canonical(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = String::new();
    write_value(&mut out, value, &Path::Root, 0)?;
    Ok(out.into_bytes())
}

/// The canonical bytes of an object given as its members, in any order: for a caller that holds
/// the members apart (an event body and its payload) and need not build one tree of them.
pub fn object_to_canonical(members: &mut [(&str, &Value)]) -> Result<Vec<u8>, CanonicalError> {
    let mut out = String::new();
    write_members(&mut out, members, &Path::Root, 0)?;
    Ok(out.into_bytes())
}

/// Where a value sits, as a JSON path; written out only when an error names it.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => f.write_str("$"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn write_value(
    out: &mut String,
    value: &Value,
    path: &Path<'_>,
    depth: usize,
) -> Result<(), CanonicalError> {
    if depth > MAX_DEPTH {
        return Err(CanonicalError::TooDeep);
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let int = n
                .as_i64()
                .filter(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER as u64)
                .or_else(|| {
                    n.as_u64()
                        .filter(|u| *u <= MAX_SAFE_INTEGER as u64)
                        .map(|u| u as i64)
                });
            match int {
                Some(int) => {
                    let _ = write!(out, "{int}");
                }
                None => {
                    return Err(CanonicalError::Number {
                        path: path.to_string(),
                    });
                }
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, &Path::Index(path, i), depth.saturating_add(1))?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&str, &Value)> =
                map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            write_members(out, &mut members, path, depth)?;
        }
    }
    Ok(())
}

/// Writes an object of `members`, sorted by key.
fn write_members(
    out: &mut String,
    members: &mut [(&str, &Value)],
    path: &Path<'_>,
    depth: usize,
) -> Result<(), CanonicalError> {
    if let Some((key, _)) = members.iter().find(|(key, _)| !key.is_ascii()) {
        return Err(CanonicalError::Key {
            path: Path::Key(path, key).to_string(),
        });
    }
    // ASCII keys: UTF-16 code-unit order is byte order.
    members.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value, &Path::Key(path, key), depth.saturating_add(1))?;
    }
    out.push('}');
    Ok(())
}

/// Writes a string as ECMAScript `JSON.stringify` does.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(value: Value) -> String {
        String::from_utf8(to_canonical(&value).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        assert_eq!(
            canon(json!({"b": 1, "a": [true, null, {"d": "x", "c": -7}], "A": {}})),
            r#"{"A":{},"a":[true,null,{"c":-7,"d":"x"}],"b":1}"#
        );
    }

    #[test]
    fn strings_are_escaped_like_json_stringify() {
        assert_eq!(
            canon(json!("隐患 \"q\" \\ \n\t\u{1}\u{7f}")),
            "\"隐患 \\\"q\\\" \\\\ \\n\\t\\u0001\u{7f}\""
        );
        assert_eq!(canon(json!("\u{2028}😀")), "\"\u{2028}😀\"");
    }

    #[test]
    fn only_safe_integers() {
        assert_eq!(canon(json!(9_007_199_254_740_991_i64)), "9007199254740991");
        assert_eq!(
            canon(json!(-9_007_199_254_740_991_i64)),
            "-9007199254740991"
        );
        for bad in [
            json!(9_007_199_254_740_992_i64),
            json!(1.5),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(i64::MAX),
            json!({"lat": 30.1}),
        ] {
            assert!(
                matches!(to_canonical(&bad), Err(CanonicalError::Number { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            to_canonical(&json!({"键": 1})),
            Err(CanonicalError::Key { .. })
        ));
    }

    #[test]
    fn depth_is_bounded() {
        let mut value = json!(1);
        for _ in 0..40 {
            value = json!([value]);
        }
        assert_eq!(to_canonical(&value), Err(CanonicalError::TooDeep));
    }
}
