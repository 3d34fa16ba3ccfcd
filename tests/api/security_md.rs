//! SECURITY.md maps every row of the security checklist to the tests that assert it. This
//! keeps the table honest: every `path::fn_name` in its Test(s) column must name a file in
//! the repository that defines that function, and the row ids must run A1, A2, … without
//! a gap or a repeat in each letter (the checklist itself lives outside the repository, so
//! the table is checked against its own ids, not a hard-coded list).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const STATUSES: &[&str] = &["tested", "partial:", "gap", "waits:"];

struct Row {
    id: String,
    tests: String,
    status: String,
}

/// The table rows of SECURITY.md whose first cell is a row id such as `A1`.
fn rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|line| {
            let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
            let cells: Vec<&str> = inner.split('|').map(str::trim).collect();
            let id = cells.first()?;
            let mut chars = id.chars();
            let is_id = chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && !chars.as_str().is_empty()
                && chars.as_str().chars().all(|c| c.is_ascii_digit());
            if !is_id {
                return None;
            }
            Some(Row {
                id: id.to_string(),
                tests: cells.get(2).copied().unwrap_or_default().to_string(),
                status: cells.get(3..).map(|rest| rest.join("|")).unwrap_or_default(),
            })
        })
        .collect()
}

/// The `path::fn_name` references in a Test(s) cell; anything else with `::` in it is
/// returned as malformed.
fn references(cell: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut found = Vec::new();
    let mut malformed = Vec::new();
    for word in cell
        .replace("<br>", " ")
        .split(|c: char| c.is_whitespace() || ",;`()".contains(c))
    {
        if !word.contains("::") {
            continue;
        }
        match word.split_once(".rs::") {
            Some((path, name))
                if !path.is_empty()
                    && !name.is_empty()
                    && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
                    && !path.split('/').any(|part| part == ".." || part.is_empty()) =>
            {
                found.push((format!("{path}.rs"), name.to_string()))
            }
            _ => malformed.push(word.to_string()),
        }
    }
    (found, malformed)
}

#[test]
fn every_test_named_in_security_md_exists_and_the_row_ids_have_no_gaps() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("SECURITY.md")).expect("SECURITY.md at the repository root");
    let rows = rows(&text);
    assert!(!rows.is_empty(), "no checklist rows found in the SECURITY.md table");

    let mut problems = Vec::new();
    let mut sources: BTreeMap<String, Option<String>> = BTreeMap::new();
    for row in &rows {
        let (refs, malformed) = references(&row.tests);
        for word in malformed {
            problems.push(format!(
                "{}: malformed test reference {word:?} (want path/to/file.rs::fn_name)",
                row.id
            ));
        }
        if !STATUSES.iter().any(|s| row.status.starts_with(s)) {
            problems.push(format!(
                "{}: status {:?} is not one of {STATUSES:?}",
                row.id, row.status
            ));
        }
        if (row.status.starts_with("tested") || row.status.starts_with("partial:")) && refs.is_empty() {
            problems.push(format!("{}: status {:?} but no test is named", row.id, row.status));
        }
        for (path, name) in refs {
            let source = sources
                .entry(path.clone())
                .or_insert_with(|| std::fs::read_to_string(root.join(&path)).ok());
            match source {
                None => problems.push(format!("{}: {path}::{name}: no file {path}", row.id)),
                Some(code) if !code.contains(&format!("fn {name}(")) => {
                    problems.push(format!("{}: {path}::{name}: {path} has no `fn {name}(`", row.id))
                }
                Some(_) => {}
            }
        }
    }

    // Row ids: no repeats, and within each letter 1..=max with no hole; letters from A on.
    let mut seen = BTreeSet::new();
    let mut by_letter: BTreeMap<char, BTreeSet<u32>> = BTreeMap::new();
    for row in &rows {
        if !seen.insert(row.id.clone()) {
            problems.push(format!("row {} appears more than once", row.id));
        }
        let letter = row.id.chars().next().unwrap_or('?');
        match row.id[1..].parse::<u32>() {
            Ok(number) if number > 0 => {
                by_letter.entry(letter).or_default().insert(number);
            }
            _ => problems.push(format!("row {}: numbers start at 1", row.id)),
        }
    }
    for (letter, numbers) in &by_letter {
        let max = numbers.iter().max().copied().unwrap_or(0);
        let missing: Vec<String> = (1..=max)
            .filter(|n| !numbers.contains(n))
            .map(|n| format!("{letter}{n}"))
            .collect();
        if !missing.is_empty() {
            problems.push(format!("rows {letter}1..{letter}{max}: missing {}", missing.join(", ")));
        }
    }
    let letters: Vec<char> = by_letter.keys().copied().collect();
    let expected: Vec<char> = ('A'..).take(letters.len()).collect();
    if letters != expected {
        problems.push(format!("row letters {letters:?} do not run on from A without a gap"));
    }

    assert!(
        problems.is_empty(),
        "SECURITY.md does not match the repository ({} problem(s)):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
