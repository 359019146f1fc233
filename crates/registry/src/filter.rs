//! MLflow's search-filter grammar: `metrics.acc > 0.9 and params.model = 'rf'`.
//!
//! A filter is clauses joined by `AND` (MLflow has no `OR`). A clause is an
//! identifier, a comparator and a value. Identifiers are `metrics.KEY`,
//! `params.KEY`, `tags.KEY` or `attributes.KEY` (with MLflow's aliases such
//! as `metric.` and `attr.`), or a bare attribute name where the search
//! allows it (`name = 'iris'` for registered models); a key with spaces
//! or dots is quoted with backticks or double quotes. Values are numbers,
//! quoted strings, or parenthesised lists for `IN` / `NOT IN`. The parser
//! only builds a syntax tree; [`crate::store::search`] turns it into parameterised
//! SQL, so a value never becomes SQL text.

use crate::error::{Result, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
}

impl Comparator {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "!=",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Like => "LIKE",
            Comparator::ILike => "ILIKE",
            Comparator::In => "IN",
            Comparator::NotIn => "NOT IN",
        }
    }

    pub(crate) fn is_ordering(self) -> bool {
        matches!(self, Comparator::Lt | Comparator::Le | Comparator::Gt | Comparator::Ge)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Number(f64),
    Text(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    pub entity: Entity,
    pub key: String,
    pub comparator: Comparator,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Number(f64),
    Op(Comparator),
    Open,
    Close,
    Comma,
}

/// Parses a filter; an empty or blank filter has no clauses.
pub(crate) fn parse(filter: &str) -> Result<Vec<Clause>> {
    let tokens = tokenize(filter)?;
    let mut clauses = Vec::new();
    let mut at = 0;
    let fail = |message: String| Err(StoreError::invalid(format!("invalid filter \"{filter}\": {message}")));
    while at < tokens.len() {
        if !clauses.is_empty() {
            match &tokens[at] {
                Token::Word(w) if w.eq_ignore_ascii_case("and") => at += 1,
                Token::Word(w) if w.eq_ignore_ascii_case("or") => {
                    return fail("OR is not supported; clauses can only be joined with AND".into());
                }
                other => return fail(format!("expected AND between clauses, found {}", describe(other))),
            }
        }
        let Some(Token::Word(identifier)) = tokens.get(at) else {
            return fail(format!(
                "expected an identifier such as metrics.accuracy, found {}",
                tokens.get(at).map_or("the end".into(), describe)
            ));
        };
        let (entity, key) = identifier_parts(identifier, tokens.get(at + 1))
            .map_err(|m| StoreError::invalid(format!("invalid filter \"{filter}\": {m}")))?;
        at += if identifier.ends_with('.') { 2 } else { 1 };
        let comparator = match tokens.get(at) {
            Some(Token::Op(c)) => *c,
            other => {
                return fail(format!(
                    "expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN) after '{identifier}', found {}",
                    other.map_or("the end".into(), describe)
                ));
            }
        };
        at += 1;
        let value = match (comparator, tokens.get(at)) {
            (Comparator::In | Comparator::NotIn, Some(Token::Open)) => {
                let mut items = Vec::new();
                at += 1;
                loop {
                    match tokens.get(at) {
                        Some(Token::Quoted(s)) => items.push(s.clone()),
                        Some(Token::Number(n)) => items.push(format_number(*n)),
                        other => {
                            return fail(format!(
                                "expected a quoted value in the list, found {}",
                                other.map_or("the end".into(), describe)
                            ));
                        }
                    }
                    at += 1;
                    match tokens.get(at) {
                        Some(Token::Comma) => at += 1,
                        Some(Token::Close) => break,
                        other => {
                            return fail(format!(
                                "expected ',' or ')' in the list, found {}",
                                other.map_or("the end".into(), describe)
                            ));
                        }
                    }
                }
                Value::List(items)
            }
            (Comparator::In | Comparator::NotIn, other) => {
                return fail(format!(
                    "{} takes a parenthesised list such as ('a', 'b'), found {}",
                    comparator.sql(),
                    other.map_or("the end".into(), describe)
                ));
            }
            (_, Some(Token::Number(n))) => Value::Number(*n),
            (_, Some(Token::Quoted(s))) => Value::Text(s.clone()),
            (_, other) => {
                return fail(format!(
                    "expected a number or a quoted string after '{identifier} {}', found {}",
                    comparator.sql(),
                    other.map_or("the end".into(), describe)
                ));
            }
        };
        at += 1;
        clauses.push(Clause { entity, key, comparator, value });
    }
    Ok(clauses)
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("'{w}'"),
        Token::Quoted(s) => format!("'{s}'"),
        Token::Number(n) => n.to_string(),
        Token::Op(c) => format!("'{}'", c.sql()),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::Comma => "','".into(),
    }
}

/// Splits `metrics.acc` (or `metrics.` followed by a quoted key) into
/// entity and key; a bare word is an attribute.
fn identifier_parts(word: &str, next: Option<&Token>) -> Result<(Entity, String), String> {
    let Some((prefix, rest)) = word.split_once('.') else {
        return Ok((Entity::Attribute, word.to_owned()));
    };
    let entity = match prefix.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Entity::Metric,
        "param" | "params" | "parameter" | "parameters" => Entity::Param,
        "tag" | "tags" => Entity::Tag,
        "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
        _ => {
            return Err(format!(
                "unknown entity '{prefix}' in '{word}'; expected metrics., params., tags. or attributes."
            ));
        }
    };
    let key = if rest.is_empty() {
        match next {
            Some(Token::Quoted(k)) => k.clone(),
            _ => {
                return Err(format!("'{word}' needs a key, e.g. {prefix}.accuracy or {prefix}.`my key`"));
            }
        }
    } else {
        rest.to_owned()
    };
    Ok((entity, key))
}

fn tokenize(filter: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = filter.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let fail = |at: usize, m: &str| {
        Err(StoreError::invalid(format!("invalid filter \"{filter}\": {m} at position {}", at + 1)))
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' || c == '`' {
            let mut text = String::new();
            let start = i;
            i += 1;
            loop {
                match chars.get(i) {
                    None => return fail(start, "unterminated quote"),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        text.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            tokens.push(Token::Quoted(text));
        } else if c == '(' {
            tokens.push(Token::Open);
            i += 1;
        } else if c == ')' {
            tokens.push(Token::Close);
            i += 1;
        } else if c == ',' {
            tokens.push(Token::Comma);
            i += 1;
        } else if "=!<>".contains(c) {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let (op, len) = match two.as_str() {
                "!=" => (Comparator::Ne, 2),
                "<=" => (Comparator::Le, 2),
                ">=" => (Comparator::Ge, 2),
                "==" => (Comparator::Eq, 2),
                _ => match c {
                    '=' => (Comparator::Eq, 1),
                    '<' => (Comparator::Lt, 1),
                    '>' => (Comparator::Gt, 1),
                    _ => return fail(i, "'!' must be followed by '='"),
                },
            };
            if matches!(chars.get(i + len), Some('=' | '<' | '>' | '!')) {
                let bad: String = chars[i..(i + len + 1).min(chars.len())].iter().collect();
                return fail(i, &format!("invalid comparator '{bad}'"));
            }
            tokens.push(Token::Op(op));
            i += len;
        } else if c.is_ascii_digit()
            || ((c == '-' || c == '+' || c == '.')
                && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit() || *d == '.'))
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            match text.parse::<f64>() {
                Ok(n) if n.is_finite() => tokens.push(Token::Number(n)),
                _ => return fail(start, &format!("'{text}' is not a number")),
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_.-:/".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let lower = word.to_ascii_lowercase();
            match lower.as_str() {
                "like" => tokens.push(Token::Op(Comparator::Like)),
                "ilike" => tokens.push(Token::Op(Comparator::ILike)),
                "in" => tokens.push(Token::Op(Comparator::In)),
                "not" => {
                    // Only NOT IN exists.
                    let rest: String = chars[i..].iter().collect();
                    let trimmed = rest.trim_start();
                    if trimmed.len() >= 2 && trimmed[..2].eq_ignore_ascii_case("in") {
                        i += rest.len() - trimmed.len() + 2;
                        tokens.push(Token::Op(Comparator::NotIn));
                    } else {
                        return fail(start, "NOT must be followed by IN");
                    }
                }
                _ => tokens.push(Token::Word(word)),
            }
        } else {
            return fail(i, &format!("unexpected character '{c}'"));
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(entity: Entity, key: &str, comparator: Comparator, value: Value) -> Clause {
        Clause { entity, key: key.into(), comparator, value }
    }

    #[test]
    fn parses_mlflow_filters() {
        assert_eq!(parse("  ").unwrap(), vec![]);
        assert_eq!(
            parse("metrics.acc > 0.9 and params.model = 'rf'").unwrap(),
            vec![
                clause(Entity::Metric, "acc", Comparator::Gt, Value::Number(0.9)),
                clause(Entity::Param, "model", Comparator::Eq, Value::Text("rf".into())),
            ]
        );
        assert_eq!(
            parse("tags.`mlflow.runName` LIKE \"%iris%\" AND attributes.status IN ('FINISHED', 'FAILED')")
                .unwrap(),
            vec![
                clause(Entity::Tag, "mlflow.runName", Comparator::Like, Value::Text("%iris%".into())),
                clause(
                    Entity::Attribute,
                    "status",
                    Comparator::In,
                    Value::List(vec!["FINISHED".into(), "FAILED".into()])
                ),
            ]
        );
        assert_eq!(
            parse("metric.\"log loss\" <= -1e-3 AND attr.run_name not in ('a') and name ILIKE 'x'").unwrap(),
            vec![
                clause(Entity::Metric, "log loss", Comparator::Le, Value::Number(-1e-3)),
                clause(Entity::Attribute, "run_name", Comparator::NotIn, Value::List(vec!["a".into()])),
                clause(Entity::Attribute, "name", Comparator::ILike, Value::Text("x".into())),
            ]
        );
        assert_eq!(
            parse("params.a != 'it''s'").unwrap(),
            vec![clause(Entity::Param, "a", Comparator::Ne, Value::Text("it's".into()))]
        );
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        let err = |f: &str| parse(f).unwrap_err().message;
        assert!(err("metrics.acc >>> 1").contains("invalid comparator '>>'"), "{}", err("metrics.acc >>> 1"));
        assert!(err("metrics.acc > 1 or metrics.b < 2").contains("OR is not supported"));
        assert!(err("metrics.acc 1").contains("expected a comparator"));
        assert!(err("metrics.acc > ").contains("expected a number or a quoted string"));
        assert!(err("params.a = 'x").contains("unterminated quote"));
        assert!(err("foo.a = 'x'").contains("unknown entity 'foo'"));
        assert!(err("params.a IN 'x'").contains("parenthesised list"));
        assert!(err("params.a = 'x' params.b = 'y'").contains("expected AND"));
        assert!(err("params.a = 'x'; drop table runs").contains("unexpected character ';'"));
        assert_eq!(parse("metrics.a >> 1").unwrap_err().code, crate::ErrorCode::InvalidParameterValue);
        assert!(parse("metrics.a > 1").is_ok());
    }
}
