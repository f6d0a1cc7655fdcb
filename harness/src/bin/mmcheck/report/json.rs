//! Reading the report's JSON inputs with serde_json: the typed getters the report uses,
//! and JSON-lines reading that tolerates what logs contain (a truncated last line, blank or
//! foreign lines).

pub use serde_json::Value;

/// Typed member access on a JSON object (`None`/empty for a missing key or another type).
pub trait Fields {
    /// `key` as a string.
    fn str_of(&self, key: &str) -> Option<&str>;
    /// `key` as a finite number.
    fn f64_of(&self, key: &str) -> Option<f64>;
    /// `key` as a non-negative integer (a float is rounded toward zero).
    fn u64_of(&self, key: &str) -> Option<u64>;
    /// `key` as an array of strings (non-strings skipped).
    fn strs_of(&self, key: &str) -> Vec<String>;
}

impl Fields for Value {
    fn str_of(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    fn f64_of(&self, key: &str) -> Option<f64> {
        self.get(key)
            .and_then(Value::as_f64)
            .filter(|n| n.is_finite())
    }

    fn u64_of(&self, key: &str) -> Option<u64> {
        let v = self.get(key)?;
        v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n as u64)
        })
    }

    fn strs_of(&self, key: &str) -> Vec<String> {
        self.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Parses `text` as exactly one JSON value.
pub fn parse(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Parses every line of a JSON-lines text that holds an object; returns them and the number
/// of non-blank lines that did not (malformed, truncated, or not an object).
pub fn parse_lines(text: &str) -> (Vec<Value>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        match parse(line) {
            Ok(v) if v.is_object() => out.push(v),
            _ => bad += 1,
        }
    }
    (out, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters_are_typed() {
        let v = parse(r#"{"a":1,"b":-2.5e1,"c":"x","d":["p",1,"q"],"f":3.9}"#).unwrap();
        assert_eq!(v.u64_of("a"), Some(1));
        assert_eq!(v.f64_of("b"), Some(-25.0));
        assert_eq!(v.u64_of("b"), None, "negative is not a count");
        assert_eq!(v.u64_of("f"), Some(3));
        assert_eq!(v.str_of("c"), Some("x"));
        assert_eq!(v.str_of("a"), None);
        assert_eq!(v.strs_of("d"), vec!["p".to_string(), "q".to_string()]);
        assert!(v.strs_of("missing").is_empty());
    }

    #[test]
    fn json_lines_skip_blank_bad_and_non_object_lines() {
        let (vals, bad) = parse_lines("{\"k\":1}\n\n[1]\n{\"k\":2}\n{\"k\":3,\"tr");
        assert_eq!(vals.len(), 2);
        assert_eq!(vals[1].u64_of("k"), Some(2));
        assert_eq!(bad, 2, "the array line and the truncated last line");
    }
}
