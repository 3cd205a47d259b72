//! Output exactly as python-novaclient prints it: PrettyTable borders with
//! left-aligned columns, and values rendered the way Python's `str()` and
//! `json.dumps()` render the decoded JSON. Scripts parse these tables, so the
//! byte-for-byte shape is part of the interface.

use serde_json::Value;

/// A table of rows under a header, rendered as PrettyTable renders it.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        Table { header: header.iter().map(|h| h.as_ref().to_string()).collect(), rows: Vec::new() }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Rows ordered by one column, stably, as PrettyTable's `sortby` does.
    pub fn sort_by_column(&mut self, column: usize) {
        self.rows.sort_by(|a, b| a[column].cmp(&b[column]));
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                for line in cell.split('\n') {
                    widths[i] = widths[i].max(width(line));
                }
            }
        }
        let border = {
            let mut s = String::from("+");
            for w in &widths {
                s.push_str(&"-".repeat(w + 2));
                s.push('+');
            }
            s
        };
        let mut out = vec![border.clone(), line_of(&self.header, &widths), border.clone()];
        for row in &self.rows {
            let lines: Vec<Vec<&str>> = row.iter().map(|c| c.split('\n').collect()).collect();
            let height = lines.iter().map(Vec::len).max().unwrap_or(1);
            for n in 0..height {
                let cells: Vec<&str> = lines.iter().map(|l| l.get(n).copied().unwrap_or("")).collect();
                out.push(line_of(&cells, &widths));
            }
        }
        out.push(border);
        out.join("\n")
    }

    pub fn print(&self) {
        println!("{}", self.render());
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn line_of<S: AsRef<str>>(cells: &[S], widths: &[usize]) -> String {
    let mut s = String::from("|");
    for (cell, w) in cells.iter().zip(widths) {
        let cell = cell.as_ref();
        s.push(' ');
        s.push_str(cell);
        s.push_str(&" ".repeat(w - width(cell)));
        s.push_str(" |");
    }
    s
}

/// `utils.print_dict`: a Property/Value table sorted by key; lists and dicts
/// as JSON, null as `-`, and a value holding a literal `\n` spread over rows.
pub fn print_dict<'a>(entries: impl IntoIterator<Item = (&'a String, &'a Value)>) {
    print_dict_titled(entries, "Property", "Value")
}

pub fn print_dict_titled<'a>(entries: impl IntoIterator<Item = (&'a String, &'a Value)>, key: &str, value: &str) {
    let mut entries: Vec<(&String, &Value)> = entries.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut table = Table::new(&[key, value]);
    for (k, v) in entries {
        let text = match v {
            Value::Null => "-".to_string(),
            Value::Array(_) | Value::Object(_) => json_dumps(v),
            other => py_str(other),
        };
        if text.contains("\\n") || text.contains('\r') {
            let text = text.replace('\r', "");
            let mut first = true;
            for line in text.trim().split("\\n") {
                table.push(vec![if first { k.clone() } else { String::new() }, line.to_string()]);
                first = false;
            }
        } else {
            table.push(vec![k.clone(), text]);
        }
    }
    table.print();
}

/// A cell of `utils.print_list`: null prints as `-`, anything else as
/// Python's `str()` of it.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::Null) => "-".to_string(),
        Some(v) => py_str(v).replace('\r', ""),
    }
}

/// Python's `str()` of a decoded JSON value.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a decoded JSON value (`{'a': True, 'b': None}`).
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
            let mut out = String::from(quote);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c)
                    }
                    c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push(quote);
            out
        }
        Value::Array(items) => format!("[{}]", items.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `json.dumps(v, ensure_ascii=False)`: `", "` and `": "` separators.
pub fn json_dumps(v: &Value) -> String {
    match v {
        Value::Array(items) => format!("[{}]", items.iter().map(json_dumps).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), json_dumps(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_table_has_header_and_borders() {
        let t = Table::new(&["ID", "Name"]);
        assert_eq!(t.render(), "+----+------+\n| ID | Name |\n+----+------+\n+----+------+");
    }

    #[test]
    fn cells_are_left_aligned_and_multiline_cells_spread() {
        let mut t = Table::new(&["Name", "Value"]);
        t.push(vec!["b".into(), "one\ntwo".into()]);
        t.push(vec!["alpha".into(), "x".into()]);
        t.sort_by_column(0);
        assert_eq!(
            t.render(),
            "+-------+-------+\n| Name  | Value |\n+-------+-------+\n| alpha | x     |\n| b     | one   |\n|       | two   |\n+-------+-------+"
        );
    }

    #[test]
    fn values_render_as_python_does() {
        assert_eq!(py_str(&json!(1.0)), "1.0");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!({"a": [null, false, "it's"]})), "{'a': [None, False, \"it's\"]}");
        assert_eq!(json_dumps(&json!({"a": [1, "x"], "b": {}})), "{\"a\": [1, \"x\"], \"b\": {}}");
        assert_eq!(cell(Some(&Value::Null)), "-");
        assert_eq!(cell(None), "");
    }
}
