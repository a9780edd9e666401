//! How records and tables are printed: kcat-like `--format` strings, JSON
//! lines, and plain aligned tables.

use logpond::Record;
use serde_json::{json, Value};

/// Bytes as text: UTF-8 as it is, anything else lossily.
fn text(bytes: Option<&[u8]>) -> String {
    bytes.map_or_else(String::new, |b| String::from_utf8_lossy(b).into_owned())
}

/// A record through a kcat-like format: `%t` topic, `%p` partition, `%o`
/// offset, `%k` key, `%s` value, `%T` timestamp (ms), `%h` headers
/// (`name=value` joined by `,`), `%%` a percent sign; `\n`, `\t`, `\\`
/// escapes. Anything else is printed as it is.
pub fn format_record(format: &str, r: &Record) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('t') => out.push_str(&r.topic),
                Some('p') => out.push_str(&r.partition.to_string()),
                Some('o') => out.push_str(&r.offset.to_string()),
                Some('k') => out.push_str(&text(r.key.as_deref())),
                Some('s') => out.push_str(&text(r.value.as_deref())),
                Some('T') => out.push_str(&r.timestamp_ms.to_string()),
                Some('h') => {
                    let pairs: Vec<String> =
                        r.headers.iter().map(|(n, v)| format!("{n}={}", text(Some(v)))).collect();
                    out.push_str(&pairs.join(","));
                }
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            },
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// A record as one JSON object (key, value and header values as text).
pub fn record_json(r: &Record) -> Value {
    let headers: Vec<Value> = r.headers.iter().map(|(n, v)| json!([n, text(Some(v))])).collect();
    json!({
        "topic": &*r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp_ms": r.timestamp_ms,
        "key": r.key.as_deref().map(|k| text(Some(k))),
        "value": r.value.as_deref().map(|v| text(Some(v))),
        "headers": headers,
    })
}

/// A list of items, each a JSON object and a table row: a JSON array of
/// the objects (one line), or the rows as a table under `header`.
pub fn listing(json: bool, header: &[&str], items: Vec<(Value, Vec<String>)>) -> String {
    let (values, rows): (Vec<Value>, Vec<Vec<String>>) = items.into_iter().unzip();
    if json {
        format!("{}\n", Value::Array(values))
    } else {
        table(header, &rows)
    }
}

/// Rows under a header, columns padded to their widest cell; columns of
/// numbers right-aligned, header included.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    let mut numeric = vec![!rows.is_empty(); header.len()];
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(header.len()) {
            widths[i] = widths[i].max(cell.chars().count());
            numeric[i] &= cell.parse::<f64>().is_ok();
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let w = widths[i];
                if numeric[i] {
                    format!("{cell:>w$}")
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).take(header.len()).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes_free::record;

    mod bytes_free {
        use logpond::{NewRecord, Pond, Record, TopicConfig};

        pub fn record() -> Record {
            let pond = Pond::memory();
            pond.create_topic("t", TopicConfig::default()).unwrap();
            let r = NewRecord::keyed(b"k", b"v 1").with_header("a", b"x").with_header("b", b"y");
            pond.send("t", r.with_timestamp(5)).unwrap();
            pond.read("t", 0, 0, logpond::ReadLimits::default()).unwrap().remove(0)
        }
    }

    #[test]
    fn kcat_formats() {
        let r = record();
        assert_eq!(format_record("%t/%p@%o %k=%s %T [%h]\\n", &r), "t/0@0 k=v 1 5 [a=x,b=y]\n");
        assert_eq!(format_record("100%% %x \\q %", &r), "100% %x \\q %");
    }

    #[test]
    fn tables_align() {
        let t = table(&["name", "n"], &[vec!["a".into(), "10".into()], vec!["long".into(), "2".into()]]);
        assert_eq!(t, "name   n\na     10\nlong   2\n");
    }
}
