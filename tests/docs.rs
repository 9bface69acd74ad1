//! The guided tour (docs/tour.md) points into the code; these tests keep it from rotting:
//! every link names a file that exists, and every linked item (`[`name`](file)`) is still
//! defined in that file.

use std::path::Path;

/// `(text, target)` of every Markdown link in `doc`.
fn links(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find("](") else { break };
        let text = rest[..close].to_string();
        let after = &rest[close + 2..];
        let Some(end) = after.find(')') else { break };
        out.push((text, after[..end].to_string()));
        rest = &after[end..];
    }
    out
}

#[test]
fn every_link_in_the_tour_names_a_file_that_exists() {
    let doc = std::fs::read_to_string("docs/tour.md").expect("docs/tour.md");
    let links = links(&doc);
    assert!(links.len() > 30, "the tour should link to the code it describes");
    for (_, target) in links.iter().filter(|(_, t)| !t.starts_with("http")) {
        let path = Path::new("docs").join(target);
        assert!(path.exists(), "docs/tour.md links to {target}, which does not exist");
    }
}

#[test]
fn every_item_the_tour_names_is_still_defined_where_it_points() {
    let doc = std::fs::read_to_string("docs/tour.md").expect("docs/tour.md");
    for (text, target) in links(&doc) {
        let Some(name) = text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) else { continue };
        if target.starts_with("http")
            || !target.ends_with(".rs")
            || name.contains('/')
            || name.ends_with(".rs")
        {
            continue;
        }
        // `Type::method` or `module::item`: the last segment is what the file defines.
        let item = name.rsplit("::").next().unwrap_or(name).trim_end_matches("()");
        let code = std::fs::read_to_string(Path::new("docs").join(&target)).expect("linked file");
        let is_the_module = Path::new(&target).file_stem().is_some_and(|s| s == item);
        let defined = is_the_module
            || ["fn ", "struct ", "enum ", "trait ", "mod ", "type ", "const ", "static ", "macro_rules! "]
                .iter()
                .any(|kw| code.contains(&format!("{kw}{item}")))
            || code.contains(&format!("{item}:"))
            || code.contains(&format!("    {item}"))
            || code.contains(&format!("{item} ("));
        assert!(defined, "docs/tour.md names `{name}` in {target}, which no longer defines it");
    }
}
