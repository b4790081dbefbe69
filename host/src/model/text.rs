//! Texts a plugin shows people — its name, its description and each scope's
//! purpose — given once, or once per language, and the languages a caller
//! reads (from `Accept-Language`).
//!
//! In `plugin.toml` a text is a string, or a table from language tag to
//! string: `name = { zh = "工程日报", en = "Site daily report" }`. The first
//! language listed is the text's primary one: shown when the caller reads
//! none of the languages given, and written into audit records.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most languages one text may be given in.
pub const MAX_LANGUAGES: usize = 16;

/// Whether `tag` is a language tag as a manifest may use it: a primary
/// language of 2 or 3 letters, then subtags of 1 to 8 letters or digits
/// (`zh`, `en`, `zh-Hant`, `pt-BR`), at most 35 characters.
pub fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    tag.len() <= 35
        && (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// A text given once for every language, or once per language (in the
/// manifest's order; the first is the primary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(Vec<(String, String)>);

impl Text {
    /// One text for every language.
    pub fn plain(text: impl Into<String>) -> Self {
        Self(vec![(String::new(), text.into())])
    }

    /// One text per language, the first the primary. `None` when `texts` is
    /// empty, a tag is not a language tag or is given twice.
    pub fn by_language<L: Into<String>, T: Into<String>>(texts: impl IntoIterator<Item = (L, T)>) -> Option<Self> {
        let texts: Vec<(String, String)> = texts.into_iter().map(|(l, t)| (l.into(), t.into())).collect();
        let mut tags: Vec<String> = texts.iter().map(|(l, _)| l.to_ascii_lowercase()).collect();
        tags.sort();
        tags.dedup();
        let valid = !texts.is_empty()
            && texts.len() <= MAX_LANGUAGES
            && tags.len() == texts.len()
            && texts.iter().all(|(l, _)| valid_language(l));
        valid.then_some(Self(texts))
    }

    /// Whether the text is given once for every language.
    pub fn is_plain(&self) -> bool {
        self.0.len() == 1 && self.0[0].0.is_empty()
    }

    /// The text in its primary language (the plain text, or the first listed).
    pub fn primary(&self) -> &str {
        &self.0[0].1
    }

    /// The languages it is given in, in the manifest's order (none when plain).
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(l, _)| l.as_str()).filter(|l| !l.is_empty())
    }

    /// Each language (empty when plain) with its text.
    pub fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(l, t)| (l.as_str(), t.as_str()))
    }

    /// The text in `language` (compared without regard to case), else the primary.
    pub fn get(&self, language: &str) -> &str {
        self.0.iter().find(|(l, _)| l.eq_ignore_ascii_case(language)).map_or_else(|| self.primary(), |(_, t)| t)
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self::plain(text)
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self::plain(text)
    }
}

impl Default for Text {
    fn default() -> Self {
        Self::plain("")
    }
}

impl PartialEq<str> for Text {
    /// A plain text equal to `other`.
    fn eq(&self, other: &str) -> bool {
        self.is_plain() && self.primary() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_plain() {
            serializer.serialize_str(self.primary())
        } else {
            serializer.collect_map(self.0.iter().map(|(l, t)| (l, t)))
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, or a table of language tag to string (zh = \"…\", en = \"…\")")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Text, E> {
                Ok(Text::plain(value))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Text, E> {
                Ok(Text::plain(value))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                let mut texts: Vec<(String, String)> = Vec::new();
                while let Some((language, text)) = map.next_entry::<String, String>()? {
                    if !valid_language(&language) {
                        return Err(de::Error::custom(format!(
                            "{language:?} is not a language tag (like zh, en, zh-Hant or pt-BR)"
                        )));
                    }
                    if texts.iter().any(|(l, _)| l.eq_ignore_ascii_case(&language)) {
                        return Err(de::Error::custom(format!("language {language} is given twice")));
                    }
                    texts.push((language, text));
                }
                if texts.len() > MAX_LANGUAGES {
                    return Err(de::Error::custom(format!("a text may be given in at most {MAX_LANGUAGES} languages")));
                }
                Text::by_language(texts)
                    .ok_or_else(|| de::Error::custom("a table of texts needs at least one language"))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// The languages a caller reads, best first: from an `Accept-Language`
/// header (`zh-CN,zh;q=0.9,en;q=0.8`). Entries that are not language tags,
/// `*` and `q=0` are left out; an empty list prefers nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Languages(Vec<String>);

impl Languages {
    /// The languages an `Accept-Language` header names, best first (equal
    /// weights keep their order). Never fails: what cannot be read is left out.
    pub fn parse(header: &str) -> Self {
        let mut weighted: Vec<(u16, String)> = header
            .split(',')
            .take(32)
            .filter_map(|entry| {
                let mut parts = entry.split(';');
                let tag = parts.next()?.trim();
                let mut weight = 1000;
                for parameter in parts {
                    let (name, value) = parameter.split_once('=')?;
                    if name.trim().eq_ignore_ascii_case("q") {
                        let q: f32 = value.trim().parse().ok().filter(|q| (0.0..=1.0).contains(q))?;
                        weight = (q * 1000.0).round() as u16;
                    }
                }
                (weight > 0 && valid_language(tag)).then(|| (weight, tag.to_owned()))
            })
            .collect();
        weighted.sort_by_key(|(weight, _)| std::cmp::Reverse(*weight));
        Self(weighted.into_iter().map(|(_, tag)| tag).collect())
    }

    /// Just `language`.
    pub fn only(language: &str) -> Self {
        Self(vec![language.to_owned()])
    }

    /// The best of `available` for this caller: the first preference given
    /// exactly (without regard to case), else one sharing its primary
    /// language (`zh-CN` reads `zh`, `zh` reads `zh-Hans`); `None` when the
    /// caller reads none of them.
    pub fn pick<'a>(&self, available: &[&'a str]) -> Option<&'a str> {
        let primary = |tag: &str| tag.split('-').next().unwrap_or_default().to_ascii_lowercase();
        self.0.iter().find_map(|wanted| {
            available
                .iter()
                .find(|a| a.eq_ignore_ascii_case(wanted))
                .or_else(|| available.iter().find(|a| primary(a) == primary(wanted)))
                .copied()
        })
    }
}

/// A text as one caller is shown it: a single string, in the language
/// [`Shown::show`] chose (the primary until then). Response types hold
/// these, so that a response never carries a table of languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    text: Text,
    language: Option<String>,
}

impl Shown {
    /// `text`, shown in its primary language.
    pub fn new(text: &Text) -> Self {
        Self { text: text.clone(), language: None }
    }

    /// Shows the text in `language` (its primary when it is not given in it).
    pub fn show(&mut self, language: Option<&str>) {
        self.language = language.map(str::to_owned);
    }

    /// The text shown.
    pub fn as_str(&self) -> &str {
        self.language.as_deref().map_or_else(|| self.text.primary(), |l| self.text.get(l))
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Shown {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Shown {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A response that shows a plugin's texts, in the language a caller reads.
pub trait ShowIn {
    /// Shows every text in the language of the plugin's `prefs` picks, or
    /// the plugin's primary language when the caller reads none of them.
    fn show_in(&mut self, prefs: &Languages);
}

impl<T: ShowIn> ShowIn for Vec<T> {
    fn show_in(&mut self, prefs: &Languages) {
        self.iter_mut().for_each(|item| item.show_in(prefs));
    }
}

/// Of a plugin's `languages` (primary first), the one to show a caller
/// with `prefs`: their best, else the primary; `None` when the plugin's
/// texts name no language.
pub fn choose<'a>(languages: &'a [String], prefs: &Languages) -> Option<&'a str> {
    let available: Vec<&str> = languages.iter().map(String::as_str).collect();
    prefs.pick(&available).or(available.first().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_a_string_or_a_table_in_order() {
        #[derive(Deserialize, Serialize)]
        struct Doc {
            name: Text,
        }
        let plain: Doc = toml::from_str(r#"name = "工程日报""#).expect("plain");
        assert!(plain.name.is_plain());
        assert_eq!(plain.name.get("en"), "工程日报");
        let both: Doc = toml::from_str(r#"name = { en = "Daily report", zh = "工程日报" }"#).expect("table");
        assert_eq!(both.name.primary(), "Daily report", "the first listed is primary");
        assert_eq!(both.name.get("ZH"), "工程日报");
        assert_eq!(both.name.get("fr"), "Daily report");
        assert_eq!(both.name.languages().collect::<Vec<_>>(), ["en", "zh"]);
        // Stored as JSON and read back, the order and every language stay.
        let json = serde_json::to_string(&both).expect("json");
        assert_eq!(json, r#"{"name":{"en":"Daily report","zh":"工程日报"}}"#);
        let back: Doc = serde_json::from_str(&json).expect("back");
        assert_eq!(back.name, both.name);
        assert_eq!(serde_json::to_string(&plain).expect("json"), r#"{"name":"工程日报"}"#);
    }

    #[test]
    fn a_bad_table_is_refused_with_its_reason() {
        #[derive(Debug, Deserialize)]
        struct Doc {
            #[expect(dead_code, reason = "only parsed")]
            name: Text,
        }
        for (source, expected) in [
            (r#"name = { chinese = "x" }"#, "\"chinese\" is not a language tag"),
            (r#"name = { zh = "x", ZH = "y" }"#, "language ZH is given twice"),
            ("name = {}", "at least one language"),
            ("name = 3", "a string, or a table of language tag to string"),
            (r#"name = { zh = 3 }"#, "invalid type"),
        ] {
            let error = toml::from_str::<Doc>(source).expect_err(source).to_string();
            assert!(error.contains(expected), "{source}: {error}");
        }
    }

    #[test]
    fn language_tags() {
        for good in ["zh", "en", "zh-Hant", "pt-BR", "zh-Hans-CN", "yue"] {
            assert!(valid_language(good), "{good}");
        }
        for bad in ["", "z", "chinese", "zh_CN", "zh-", "-zh", "zh-toolongsubtag", "中文", "*"] {
            assert!(!valid_language(bad), "{bad}");
        }
    }

    #[test]
    fn the_callers_language_is_picked_from_accept_language() {
        let available = ["zh", "en"];
        let pick = |header: &str| Languages::parse(header).pick(&available);
        assert_eq!(pick("en-US,en;q=0.9"), Some("en"));
        assert_eq!(pick("zh-CN,zh;q=0.9,en;q=0.8"), Some("zh"));
        assert_eq!(pick("fr;q=0.9, en;q=0.5, zh;q=0.7"), Some("zh"), "by weight, not by order");
        assert_eq!(pick("fr, de"), None);
        assert_eq!(pick("en;q=0, zh;q=0.1"), Some("zh"), "q=0 means not this one");
        assert_eq!(pick("*"), None);
        assert_eq!(pick(""), None);
        assert_eq!(pick("garbage;;;q=x, ,,\u{0}"), None, "what cannot be read is left out");
        assert_eq!(Languages::parse("zh").pick(&["en", "zh-Hans"]), Some("zh-Hans"), "zh reads zh-Hans");
        assert_eq!(Languages::parse("ZH-cn").pick(&["en", "zh-CN", "zh"]), Some("zh-CN"), "exact before primary");
    }
}
