//! Every `gatehouse.toml` example in the README loads as written: each ```toml block goes
//! through the same `Config::load` as `gatehouse serve`, so a renamed or misspelt key in
//! the docs fails here. Secret files the examples name (`/run/secrets/…`) are the
//! operator's own; the test writes a stand-in at a temp path instead.

use gatehouse::config::{Config, Overrides};

/// The ```toml blocks of the README, each with its indentation removed.
fn toml_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<String>)> = None;
    for line in readme.lines() {
        let trimmed = line.trim_start();
        match &mut current {
            None if trimmed.starts_with("```toml") => current = Some((line.len() - trimmed.len(), Vec::new())),
            Some((_, lines)) if trimmed.starts_with("```") => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            Some((indent, lines)) => lines.push(line.get(*indent..).unwrap_or("").to_string()),
            None => {}
        }
    }
    blocks
}

#[test]
fn every_toml_example_in_the_readme_loads() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = toml_blocks(&readme);
    assert!(blocks.len() >= 4, "found {} toml blocks", blocks.len());
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    for (i, block) in blocks.iter().enumerate() {
        let text = block.replace("/run/secrets/google", secret.to_str().unwrap());
        let path = dir.path().join(format!("example-{i}.toml"));
        std::fs::write(&path, &text).unwrap();
        if let Err(e) = Config::load(Some(&path), Overrides::default()) {
            panic!("README toml block {i} does not load: {e:#}\n{text}");
        }
    }
}
