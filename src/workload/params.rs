//! Typed, validated workload parameters: each kind declares its parameters once (name, type,
//! default, help) and both the spec file and `--param k=v` are checked against that list, so an
//! unknown or ill-typed parameter is refused with the accepted names in the message.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::error::SpecError;

/// The type a parameter accepts; also how a `--param k=v` string is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Int,
    Float,
    Bool,
    Str,
    /// A size in bytes: a number, or a string such as "4KiB", "1MB", "512".
    Size,
    /// A list of strings (e.g. command arguments).
    StrList,
    /// A list of lines (e.g. HTTP headers): each `--param name=…` gives one whole entry, commas
    /// and spaces kept, and repeating the flag adds entries.
    Lines,
    /// A table of string → string (e.g. HTTP headers).
    StrMap,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Int => f.write_str("integer"),
            ParamType::Float => f.write_str("number"),
            ParamType::Bool => f.write_str("true/false"),
            ParamType::Str => f.write_str("string"),
            ParamType::Size => f.write_str("size (e.g. 64KiB)"),
            ParamType::StrList => f.write_str("list of strings"),
            ParamType::Lines => f.write_str("list of strings, one per use"),
            ParamType::StrMap => f.write_str("table of strings"),
            ParamType::Choice(words) => write!(f, "one of {}", words.join("|")),
        }
    }
}

/// One declared parameter of a workload kind.
#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: &'static str,
    pub ty: ParamType,
    /// The default as it would be written in a spec file; `None` means required or "unset".
    pub default: Option<&'static str>,
    pub help: &'static str,
}

impl ParamDef {
    pub const fn new(
        name: &'static str,
        ty: ParamType,
        default: Option<&'static str>,
        help: &'static str,
    ) -> Self {
        ParamDef {
            name,
            ty,
            default,
            help,
        }
    }
}

/// Validated parameter values of one workload, with the declared defaults filled in.
#[derive(Debug, Clone)]
pub struct Params {
    kind: String,
    values: BTreeMap<String, Value>,
}

impl Params {
    /// Checks `given` against `defs`: every name must be declared and every value of the declared
    /// type. Defaults are filled in for what is missing.
    pub fn validate(
        kind: &str,
        defs: &[ParamDef],
        given: &BTreeMap<String, Value>,
    ) -> Result<Params, SpecError> {
        let mut values = BTreeMap::new();
        for (name, value) in given {
            let def =
                defs.iter()
                    .find(|d| d.name == name)
                    .ok_or_else(|| SpecError::UnknownParam {
                        kind: kind.to_string(),
                        param: name.clone(),
                        accepted: accepted_names(defs),
                    })?;
            let typed = coerce(def, value).map_err(|why| SpecError::BadParam {
                kind: kind.to_string(),
                param: name.clone(),
                why,
            })?;
            values.insert(name.clone(), typed);
        }
        for def in defs {
            if values.contains_key(def.name) {
                continue;
            }
            if let Some(default) = def.default {
                let parsed = parse_cli_value(def, default).expect("declared default must parse");
                values.insert(def.name.to_string(), parsed);
            }
        }
        Ok(Params {
            kind: kind.to_string(),
            values,
        })
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn values(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn u64(&self, name: &str) -> Result<u64, SpecError> {
        match self.values.get(name) {
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
            _ => Err(self.missing(name, "a non-negative integer")),
        }
    }

    pub fn f64(&self, name: &str) -> Result<f64, SpecError> {
        self.values
            .get(name)
            .and_then(Value::as_f64)
            .ok_or_else(|| self.missing(name, "a number"))
    }

    pub fn opt_f64(&self, name: &str) -> Option<f64> {
        self.values.get(name).and_then(Value::as_f64)
    }

    pub fn bool(&self, name: &str) -> Result<bool, SpecError> {
        self.values
            .get(name)
            .and_then(Value::as_bool)
            .ok_or_else(|| self.missing(name, "true or false"))
    }

    pub fn str(&self, name: &str) -> Result<&str, SpecError> {
        self.values
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| self.missing(name, "a string"))
    }

    pub fn opt_str(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(Value::as_str)
    }

    pub fn str_list(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn str_map(&self, name: &str) -> Vec<(String, String)> {
        match self.values.get(name) {
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A parameter that must be a positive duration in milliseconds.
    pub fn millis(&self, name: &str) -> Result<Duration, SpecError> {
        let ms = self.f64(name)?;
        if !ms.is_finite() || !(0.0..=86_400_000.0).contains(&ms) {
            return Err(SpecError::BadParam {
                kind: self.kind.clone(),
                param: name.to_string(),
                why: format!("expects milliseconds between 0 and 86400000, got {ms}"),
            });
        }
        Ok(Duration::from_secs_f64(ms / 1000.0))
    }

    /// The error for a parameter that a workload's own checks refuse.
    pub fn invalid(&self, name: &str, why: impl Into<String>) -> SpecError {
        SpecError::BadParam {
            kind: self.kind.clone(),
            param: name.to_string(),
            why: why.into(),
        }
    }

    fn missing(&self, name: &str, expected: &str) -> SpecError {
        SpecError::BadParam {
            kind: self.kind.clone(),
            param: name.to_string(),
            why: format!("missing; expects {expected}"),
        }
    }
}

pub(crate) fn accepted_names(defs: &[ParamDef]) -> String {
    defs.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
}

/// Reads a `--param k=v` value according to the declared type of `k`.
pub fn parse_cli_value(def: &ParamDef, text: &str) -> Result<Value, String> {
    let value = match def.ty {
        ParamType::Int => Value::from(
            text.trim()
                .parse::<u64>()
                .map_err(|_| format!("expects a non-negative integer, got '{text}'"))?,
        ),
        ParamType::Float => {
            let x: f64 = text
                .trim()
                .parse()
                .map_err(|_| format!("expects a number, got '{text}'"))?;
            serde_json::Number::from_f64(x)
                .map(Value::Number)
                .ok_or_else(|| format!("expects a finite number, got '{text}'"))?
        }
        ParamType::Bool => Value::Bool(match text.trim() {
            "true" | "yes" | "1" | "on" => true,
            "false" | "no" | "0" | "off" => false,
            _ => return Err(format!("expects true or false, got '{text}'")),
        }),
        ParamType::Size => Value::from(parse_size(text)?),
        ParamType::StrList => Value::Array(
            text.split_whitespace()
                .map(|s| Value::from(s.to_string()))
                .collect(),
        ),
        ParamType::Lines => Value::Array(vec![Value::from(text.to_string())]),
        ParamType::StrMap => {
            let mut map = serde_json::Map::new();
            for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
                let (k, v) = pair.split_once(':').ok_or_else(|| {
                    format!("expects 'Name: value' pairs separated by commas, got '{pair}'")
                })?;
                map.insert(k.trim().to_string(), Value::from(v.trim().to_string()));
            }
            Value::Object(map)
        }
        ParamType::Str | ParamType::Choice(_) => Value::from(text.to_string()),
    };
    coerce(def, &value)
}

/// Checks (and normalises) a value from a spec file against its declared type.
fn coerce(def: &ParamDef, value: &Value) -> Result<Value, String> {
    let wrong = || format!("expects {}, got {}", def.ty, short(value));
    match def.ty {
        ParamType::Int => value.as_u64().map(Value::from).ok_or_else(wrong),
        ParamType::Float => match value.as_f64() {
            Some(x) if x.is_finite() => Ok(value.clone()),
            _ => Err(wrong()),
        },
        ParamType::Bool => value.as_bool().map(Value::Bool).ok_or_else(wrong),
        ParamType::Str => value
            .as_str()
            .map(|s| Value::from(s.to_string()))
            .ok_or_else(wrong),
        ParamType::Size => match value {
            Value::Number(n) => n.as_u64().map(Value::from).ok_or_else(wrong),
            Value::String(s) => parse_size(s).map(Value::from),
            _ => Err(wrong()),
        },
        ParamType::StrList | ParamType::Lines => match value {
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(value.clone()),
            Value::String(s) => Ok(Value::Array(vec![Value::from(s.clone())])),
            _ => Err(wrong()),
        },
        ParamType::StrMap => match value {
            Value::Object(map) if map.values().all(Value::is_string) => Ok(value.clone()),
            _ => Err(wrong()),
        },
        ParamType::Choice(words) => match value.as_str() {
            Some(s) if words.contains(&s) => Ok(Value::from(s.to_string())),
            _ => Err(wrong()),
        },
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// Parses "4096", "4KiB", "4kb", "1MiB", "1M", "2GB" into bytes (K/M/G are powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expects a size such as 4096 or 64KiB, got '{text}'"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown size unit in '{text}' (use B, KiB, MiB or GiB)"
            ))
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("size '{text}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &[ParamDef] = &[
        ParamDef::new("ms", ParamType::Float, Some("10"), "latency"),
        ParamDef::new("mode", ParamType::Choice(&["a", "b"]), Some("a"), "mode"),
        ParamDef::new("size", ParamType::Size, Some("4KiB"), "bytes"),
    ];

    #[test]
    fn defaults_are_filled_and_given_values_kept() {
        let mut given = BTreeMap::new();
        given.insert("ms".to_string(), Value::from(25));
        let p = Params::validate("k", DEFS, &given).unwrap();
        assert_eq!(p.f64("ms").unwrap(), 25.0);
        assert_eq!(p.str("mode").unwrap(), "a");
        assert_eq!(p.u64("size").unwrap(), 4096);
    }

    #[test]
    fn unknown_parameter_names_the_accepted_ones() {
        let mut given = BTreeMap::new();
        given.insert("msec".to_string(), Value::from(25));
        let err = Params::validate("k", DEFS, &given).unwrap_err().to_string();
        assert!(
            err.contains("msec") && err.contains("ms, mode, size"),
            "{err}"
        );
    }

    #[test]
    fn ill_typed_parameter_is_refused() {
        let mut given = BTreeMap::new();
        given.insert("mode".to_string(), Value::from("c"));
        let err = Params::validate("k", DEFS, &given).unwrap_err().to_string();
        assert!(err.contains("one of a|b"), "{err}");
    }

    #[test]
    fn a_line_keeps_its_commas_and_a_file_may_give_one_or_many() {
        let def = ParamDef::new("header", ParamType::Lines, None, "a header");
        assert_eq!(
            parse_cli_value(&def, "Accept-Encoding: gzip, deflate").unwrap(),
            serde_json::json!(["Accept-Encoding: gzip, deflate"])
        );
        let mut given = BTreeMap::new();
        given.insert("header".to_string(), Value::from("A: 1"));
        let defs = [def];
        let p = Params::validate("k", &defs, &given).unwrap();
        assert_eq!(p.str_list("header"), vec!["A: 1"]);
        given.insert("header".to_string(), serde_json::json!(["A: 1", "B: 2, 3"]));
        let p = Params::validate("k", &defs, &given).unwrap();
        assert_eq!(p.str_list("header"), vec!["A: 1", "B: 2, 3"]);
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("64KiB").unwrap(), 65536);
        assert_eq!(parse_size("1M").unwrap(), 1 << 20);
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }
}
