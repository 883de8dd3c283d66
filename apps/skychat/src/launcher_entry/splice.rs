//! Where things are in a JSON text, so that an app entry can be added to (or replace one in)
//! `launcher.apps` by editing the text in place: every other byte of the file, its field order,
//! its formatting and its numbers as written, stays as it was.
//!
//! The text is assumed valid JSON (the caller parsed it first); anything this scanner does not
//! expect yields `None`, never a panic.

use std::ops::Range;

/// One member of an object: its key (as written between the quotes) and where its value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key's text between the quotes.
    pub key: String,
    /// Where the key starts (its opening quote).
    pub key_start: usize,
    /// The value's bytes.
    pub value: Range<usize>,
}

/// The bytes of a JSON text, scanned by offset.
pub struct Scanner<'a> {
    text: &'a [u8],
}

impl<'a> Scanner<'a> {
    /// Scans `text`.
    pub fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.text.get(i).copied()
    }

    /// The first offset at or after `i` that is not JSON whitespace.
    pub fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }

    /// The offset just past the value that starts at `i` (after whitespace).
    pub fn value_end(&self, i: usize) -> Option<usize> {
        let i = self.skip_ws(i);
        match self.at(i)? {
            b'"' => self.string_end(i),
            b'{' => self.members(i).map(|(_, close)| close + 1),
            b'[' => self.elements(i).map(|(_, close)| close + 1),
            _ => {
                let mut j = i;
                while let Some(b) = self.at(j) {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    j += 1;
                }
                (j > i).then_some(j)
            }
        }
    }

    fn string_end(&self, start: usize) -> Option<usize> {
        let mut j = start + 1;
        loop {
            match self.at(j)? {
                b'\\' => j += 2,
                b'"' => return Some(j + 1),
                _ => j += 1,
            }
        }
    }

    /// The members of the object whose `{` is at `open`, and the offset of its `}`.
    pub fn members(&self, open: usize) -> Option<(Vec<Member>, usize)> {
        if self.at(open)? != b'{' {
            return None;
        }
        let mut out = Vec::new();
        let mut i = self.skip_ws(open + 1);
        if self.at(i)? == b'}' {
            return Some((out, i));
        }
        loop {
            let key_start = i;
            let key_end = self.string_end(key_start)?;
            let key = std::str::from_utf8(self.text.get(key_start + 1..key_end - 1)?)
                .ok()?
                .to_string();
            let colon = self.skip_ws(key_end);
            if self.at(colon)? != b':' {
                return None;
            }
            let value_start = self.skip_ws(colon + 1);
            let value_end = self.value_end(value_start)?;
            out.push(Member {
                key,
                key_start,
                value: value_start..value_end,
            });
            i = self.skip_ws(value_end);
            match self.at(i)? {
                b',' => i = self.skip_ws(i + 1),
                b'}' => return Some((out, i)),
                _ => return None,
            }
        }
    }

    /// The elements of the array whose `[` is at `open`, and the offset of its `]`.
    pub fn elements(&self, open: usize) -> Option<(Vec<Range<usize>>, usize)> {
        if self.at(open)? != b'[' {
            return None;
        }
        let mut out = Vec::new();
        let mut i = self.skip_ws(open + 1);
        if self.at(i)? == b']' {
            return Some((out, i));
        }
        loop {
            let end = self.value_end(i)?;
            out.push(i..end);
            i = self.skip_ws(end);
            match self.at(i)? {
                b',' => i = self.skip_ws(i + 1),
                b']' => return Some((out, i)),
                _ => return None,
            }
        }
    }

    /// The last member named `key` of the object at `open` (JSON decoders keep the last of
    /// duplicate keys).
    pub fn member(&self, open: usize, key: &str) -> Option<Member> {
        self.members(open)?
            .0
            .into_iter()
            .rev()
            .find(|m| m.key == key)
    }

    /// The whitespace that starts the line holding offset `i`.
    pub fn line_indent(&self, i: usize) -> &'a str {
        let line_start = self.text[..i.min(self.text.len())]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let mut end = line_start;
        while matches!(self.at(end), Some(b' ' | b'\t')) {
            end += 1;
        }
        std::str::from_utf8(&self.text[line_start..end]).unwrap_or("")
    }
}

/// `value` as pretty JSON whose lines after the first start with `indent`, nesting by `unit`.
pub fn render<T: serde::Serialize>(value: &T, indent: &str, unit: &str) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    // The values rendered here (strings, lists of strings, a bool, a number) always
    // serialize, and the writer is a Vec.
    value
        .serialize(&mut serializer)
        .expect("an app entry serializes");
    String::from_utf8_lossy(&out).replace('\n', &format!("\n{indent}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_members_and_elements_past_strings_that_look_like_syntax() {
        let text = r#"{"a": "x}\"]", "launcher": {"apps": [1, {"b": [2]}, "]"], "n": null}}"#;
        let s = Scanner::new(text);
        let launcher = s.member(0, "launcher").expect("launcher");
        let apps = s.member(launcher.value.start, "apps").expect("apps");
        let (elements, close) = s.elements(apps.value.start).expect("elements");
        let shown: Vec<&str> = elements.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(shown, ["1", r#"{"b": [2]}"#, r#""]""#]);
        assert_eq!(&text[close..=close], "]");
        let n = s.member(launcher.value.start, "n").expect("n");
        assert_eq!(&text[n.value], "null");
    }

    #[test]
    fn the_last_of_duplicate_keys_wins() {
        let text = r#"{"k": 1, "k": 2}"#;
        let s = Scanner::new(text);
        assert_eq!(&text[s.member(0, "k").expect("k").value], "2");
    }

    #[test]
    fn truncated_text_gives_none() {
        let text = r#"{"k": [1, 2"#;
        let s = Scanner::new(text);
        assert_eq!(s.member(0, "k"), None);
    }

    #[test]
    fn renders_with_the_files_indentation() {
        let value = serde_json::json!({"name": "x", "args": ["a"]});
        assert_eq!(
            render(&value, "\t\t", "\t"),
            "{\n\t\t\t\"args\": [\n\t\t\t\t\"a\"\n\t\t\t],\n\t\t\t\"name\": \"x\"\n\t\t}"
        );
    }

    #[test]
    fn line_indent_is_the_leading_whitespace() {
        let text = "{\n\t\t\"apps\": []\n}";
        let s = Scanner::new(text);
        let at = text.find("\"apps\"").expect("apps");
        assert_eq!(s.line_indent(at), "\t\t");
    }
}
