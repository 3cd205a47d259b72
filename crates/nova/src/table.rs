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
    print_dict_wrapped(entries, 0)
}

/// `utils.print_dict(d, wrap=N)`: with a wrap, every value is Python's
/// `str()` of it (so null is `None`), filled to lines of at most N.
pub fn print_dict_wrapped<'a>(entries: impl IntoIterator<Item = (&'a String, &'a Value)>, wrap: usize) {
    let mut entries: Vec<(&String, &Value)> = entries.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut table = Table::new(&["Property", "Value"]);
    for (k, v) in entries {
        let text = match v {
            Value::Array(_) | Value::Object(_) => Some(json_dumps(v)),
            Value::Null if wrap == 0 => None,
            other => Some(py_str(other)),
        };
        let text = match text {
            Some(t) if wrap > 0 => fill(&t, wrap),
            Some(t) => t,
            None => "-".to_string(),
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

/// Python's `textwrap.fill(text, width)`: words greedily on lines of at most
/// `width`, words longer than a line cut.
pub fn fill(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        loop {
            let room = if line.is_empty() { width } else { width.saturating_sub(line.chars().count() + 1) };
            if word.chars().count() <= room {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if !line.is_empty() && word.chars().count() <= width {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than what is left: cut it to fill the line.
            let cut: String = word.chars().take(room.max(1)).collect();
            word = word.chars().skip(cut.chars().count()).collect();
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&cut);
            lines.push(std::mem::take(&mut line));
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.join("\n")
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

/// A column of `utils.print_list`: the attribute named by the column's title
/// lowercased, `_` for spaces; an absent one prints empty.
pub fn field(o: &Value, column: &str) -> String {
    cell(o.get(column.to_lowercase().replace(' ', "_")))
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

/// Python's `pprint.pformat(v)` (width 80, dict keys sorted): the repr
/// when it fits, else one item per line, long strings cut at spaces.
pub fn pformat(v: &Value) -> String {
    let mut out = String::new();
    pformat_into(v, &mut out, 0, 0, 0);
    out
}

const PPRINT_WIDTH: usize = 80;

fn sorted_repr(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut items: Vec<(&String, &Value)> = map.iter().collect();
            items.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String((*k).clone())), sorted_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(sorted_repr).collect::<Vec<_>>().join(", ")),
        other => py_repr(other),
    }
}

fn pformat_into(v: &Value, out: &mut String, indent: usize, allowance: usize, level: usize) {
    let rep = sorted_repr(v);
    if rep.chars().count() <= PPRINT_WIDTH.saturating_sub(indent + allowance) {
        out.push_str(&rep);
        return;
    }
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            let inner = indent + 1;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                    out.push_str(&" ".repeat(inner));
                }
                let last = i == items.len() - 1;
                pformat_into(item, out, inner, if last { allowance + 1 } else { 1 }, level + 1);
            }
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            let inner = indent + 1;
            let mut items: Vec<(&String, &Value)> = map.iter().collect();
            items.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (k, item)) in items.iter().enumerate() {
                let key = py_repr(&Value::String((*k).clone()));
                out.push_str(&key);
                out.push_str(": ");
                let last = i == items.len() - 1;
                let width = key.chars().count();
                pformat_into(item, out, inner + width + 2, if last { allowance + 1 } else { 1 }, level + 1);
                if !last {
                    out.push_str(",\n");
                    out.push_str(&" ".repeat(inner));
                }
            }
            out.push('}');
        }
        Value::String(text) if !text.is_empty() => pformat_str(text, out, indent, allowance, level + 1),
        _ => out.push_str(&rep),
    }
}

/// `PrettyPrinter._pprint_str`: a long string as adjacent literals, cut
/// after runs of spaces.
fn pformat_str(text: &str, out: &mut String, mut indent: usize, mut allowance: usize, level: usize) {
    let repr = |s: &str| py_repr(&Value::String(s.to_string()));
    let len = |s: &str| repr(s).chars().count();
    if level == 1 {
        indent += 1;
        allowance += 1;
    }
    let max_width = PPRINT_WIDTH.saturating_sub(indent);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut chunks = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let last_line = i == lines.len() - 1;
        let max_width1 = if last_line { max_width.saturating_sub(allowance) } else { max_width };
        if len(line) <= max_width1 {
            chunks.push(repr(line));
            continue;
        }
        // Alternating runs: non-space characters then the spaces after them.
        let mut parts: Vec<String> = Vec::new();
        let mut current_part = String::new();
        let mut in_space = false;
        for c in line.chars() {
            if !c.is_whitespace() && in_space {
                parts.push(std::mem::take(&mut current_part));
                in_space = false;
            }
            if c.is_whitespace() {
                in_space = true;
            }
            current_part.push(c);
        }
        parts.push(current_part);
        let mut current = String::new();
        for (j, part) in parts.iter().enumerate() {
            let candidate = format!("{current}{part}");
            let max_width2 =
                if j == parts.len() - 1 && last_line { max_width.saturating_sub(allowance) } else { max_width };
            if len(&candidate) > max_width2 {
                if !current.is_empty() {
                    chunks.push(repr(&current));
                }
                current = part.clone();
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            chunks.push(repr(&current));
        }
    }
    if chunks.len() == 1 {
        out.push_str(&repr(text));
        return;
    }
    if level == 1 {
        out.push('(');
    }
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(chunk);
    }
    if level == 1 {
        out.push(')');
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

    #[test]
    fn fill_as_textwrap() {
        assert_eq!(fill(&"a".repeat(50), 40), format!("{}\n{}", "a".repeat(40), "a".repeat(10)));
        assert_eq!(
            fill("hello world this is a rather long sentence with words", 20),
            "hello world this is\na rather long\nsentence with words"
        );
        assert_eq!(fill("None", 40), "None");
    }

    #[test]
    fn pformat_as_python() {
        assert_eq!(pformat(&json!([{"b": 1, "a": null}])), "[{'a': None, 'b': 1}]");
        let events = json!([{"event": "compute_start_instance", "start_time": "2026-11-25T20:51:10.000000",
            "finish_time": "2026-11-25T20:51:10.000000", "result": "Success", "traceback": null}]);
        assert_eq!(
            pformat(&events),
            "[{'event': 'compute_start_instance',\n  'finish_time': '2026-11-25T20:51:10.000000',\n  'result': 'Success',\n  'start_time': '2026-11-25T20:51:10.000000',\n  'traceback': None}]"
        );
        let long = json!(["a ".repeat(60), {"k": "word ".repeat(30)}]);
        assert_eq!(
            pformat(&long),
            format!(
                "['{}'\n '{}',\n {{'k': '{}'\n       '{}'\n       '{}'}}]",
                "a ".repeat(38),
                "a ".repeat(22),
                "word ".repeat(14),
                "word ".repeat(14),
                "word ".repeat(2)
            )
        );
    }
}
