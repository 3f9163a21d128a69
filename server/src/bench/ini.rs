//! A minimal INI reader for the AWS shared credentials file: `[section]` headers, `key = value`
//! lines, `#` and `;` comment lines. Enough for `~/.aws/credentials`, not a general INI parser.

use std::collections::HashMap;

/// Sections of an INI text by name, each a map of its keys to values.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ini {
    sections: HashMap<String, HashMap<String, String>>,
}

impl Ini {
    /// Parses `text`. Lines that are neither a header, a key-value pair nor a comment are skipped,
    /// as are pairs before the first header, the way the AWS CLI tolerates them.
    pub fn parse(text: &str) -> Ini {
        let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
        let mut current: Option<String> = None;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                // A header; anything after the closing bracket (a trailing comment) is ignored.
                if let Some(end) = rest.find(']') {
                    let name = rest[..end].trim().to_string();
                    sections.entry(name.clone()).or_default();
                    current = Some(name);
                }
                continue;
            }
            let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
                continue;
            };
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            sections.entry(section.clone()).or_default().insert(key.to_string(), value.trim().to_string());
        }
        Ini { sections }
    }

    /// The value of `key` in `section`, if both exist.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section)?.get(key).map(String::as_str)
    }

    /// Whether `section` appears in the text.
    pub fn has_section(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Ini;

    #[test]
    fn reads_sections_keys_and_skips_comments() {
        let ini = Ini::parse(
            "# top comment\n\
             orphan = ignored\n\
             [default]\n\
             aws_access_key_id = AKIDDEFAULT\n\
             aws_secret_access_key=secret/with=equals\n\
             ; another comment\n\
             \n\
             [ other ] # trailing\n\
             aws_access_key_id =  AKIDOTHER  \r\n\
             not a pair\n",
        );
        assert_eq!(ini.get("default", "aws_access_key_id"), Some("AKIDDEFAULT"));
        assert_eq!(ini.get("default", "aws_secret_access_key"), Some("secret/with=equals"));
        assert_eq!(ini.get("other", "aws_access_key_id"), Some("AKIDOTHER"));
        assert_eq!(ini.get("default", "orphan"), None);
        assert!(ini.has_section("other"));
        assert!(!ini.has_section("missing"));
    }

    #[test]
    fn later_values_override_earlier_ones_and_sections_merge() {
        let ini = Ini::parse("[a]\nk = 1\n[b]\nk = 2\n[a]\nk = 3\nj = 4\n");
        assert_eq!(ini.get("a", "k"), Some("3"));
        assert_eq!(ini.get("a", "j"), Some("4"));
        assert_eq!(ini.get("b", "k"), Some("2"));
    }

    #[test]
    fn empty_text_has_no_sections() {
        assert_eq!(Ini::parse(""), Ini::default());
    }
}
