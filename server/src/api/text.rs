//! [`Text`]: a string field that must be a JSON string.
//!
//! poem-openapi's `String` accepts `123` and `true` and turns them into text, so a client bug
//! that sends a number for a username would create a user called "123". Request fields that
//! are text use [`Text`] instead: anything but a JSON string is a `malformed-body` error. In the
//! spec it is a plain `string`, and length validators apply to it as to `String`.

use std::borrow::Cow;

use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromXML, ParseFromYAML, ParseResult, ToJSON, ToXML, ToYAML,
    Type,
};
use serde_json::Value;

/// A request string that refuses numbers and booleans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl Type for Text {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        String::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        String::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

fn parse(value: Option<Value>) -> ParseResult<Text> {
    match value {
        Some(Value::String(text)) => Ok(Text(text)),
        other => Err(ParseError::expected_type(other.unwrap_or_default())),
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        parse(value)
    }
}

impl ParseFromXML for Text {
    fn parse_from_xml(value: Option<Value>) -> ParseResult<Self> {
        parse(value)
    }
}

impl ParseFromYAML for Text {
    fn parse_from_yaml(value: Option<Value>) -> ParseResult<Self> {
        parse(value)
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl ToXML for Text {
    fn to_xml(&self) -> Option<Value> {
        self.to_json()
    }
}

impl ToYAML for Text {
    fn to_yaml(&self) -> Option<Value> {
        self.to_json()
    }
}

impl From<Text> for String {
    fn from(text: Text) -> String {
        text.0
    }
}
