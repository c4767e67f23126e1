//! The folders under `src/` are the steps of one flow (spec → plan → points → analysis →
//! reports), each importing only the steps below it: no import circle crosses folders.
//!
//! Read from the source text, as a reader would: every `use` declaration and every path through
//! `crate::`, `super::` or (in the crate root) a module's own name. `src/*.rs` is one folder;
//! each folder right under `src/` is one more, with its own subfolders, and `src/x.rs` belongs
//! to the folder `src/x/` when there is one (Rust's two spellings of one module).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = "src/*.rs";

#[test]
fn no_import_circle_crosses_folders() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = Graph::of(&read_tree(&src), |first| src.join(first).is_dir());
    // A reader that found nothing would pass any tree: the flow's own steps must be seen.
    for (from, to) in [
        ("sweep", "backend"),
        ("analysis", "results"),
        ("report", "analysis"),
    ] {
        assert!(
            graph.edges.contains_key(&(from.into(), to.into())),
            "no import {from} -> {to} found: the reader misses imports"
        );
    }
    let circles = graph.circles();
    assert!(
        circles.is_empty(),
        "import circles across folders:\n{}",
        circles.join("\n")
    );
}

#[test]
fn a_circle_through_use_trees_super_and_the_crate_root_is_found() {
    let files = vec![
        (
            PathBuf::from("lib.rs"),
            "mod a;\nmod b;\npub use a::Thing;\n".to_string(),
        ),
        (
            PathBuf::from("a/mod.rs"),
            "mod inner;\nuse crate::{b::{self, Other}, c::g as h};\npub struct Thing;\n".into(),
        ),
        (
            PathBuf::from("a/inner.rs"),
            "use super::Thing; // crate::c::Never (a comment)\n".into(),
        ),
        (
            PathBuf::from("b/mod.rs"),
            "fn f() { let s = \"crate::c::Never\"; super::c::g(s) }\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n}\n"
                .into(),
        ),
        (
            PathBuf::from("c/mod.rs"),
            "pub fn g() { crate::a::Thing; }\n".into(),
        ),
    ];
    let graph = Graph::of(&files, |first| ["a", "b", "c"].contains(&first));
    let edges: BTreeSet<(String, String)> = graph.edges.keys().cloned().collect();
    let expected: BTreeSet<(String, String)> =
        [(ROOT, "a"), ("a", "b"), ("a", "c"), ("b", "c"), ("c", "a")]
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect();
    assert_eq!(edges, expected);
    let circles = graph.circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert!(
        circles[0].starts_with("a, b, c:") && circles[0].contains("c/mod.rs: crate::a::Thing"),
        "{}",
        circles[0]
    );
}

/// Folder → folder imports, each with the files and paths that make it.
struct Graph {
    edges: BTreeMap<(String, String), Vec<String>>,
}

impl Graph {
    /// `files`: paths relative to `src/` with their text; `is_folder(name)`: whether `src/name/`
    /// is a folder.
    fn of(files: &[(PathBuf, String)], is_folder: impl Fn(&str) -> bool) -> Graph {
        let folder_of = |module: &[String]| match module.first() {
            Some(first) if is_folder(first) => first.clone(),
            _ => ROOT.to_string(),
        };
        let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (path, text) in files {
            let module = module_of(path);
            let here = folder_of(&module);
            for target in imports(path, &module, text) {
                let there = folder_of(&target);
                if there != here {
                    edges
                        .entry((here.clone(), there))
                        .or_default()
                        .push(format!("{}: crate::{}", path.display(), target.join("::")));
                }
            }
        }
        Graph { edges }
    }

    /// Every strongly connected set of folders, with the imports inside it.
    fn circles(&self) -> Vec<String> {
        let folders: BTreeSet<&String> = self.edges.keys().flat_map(|(a, b)| [a, b]).collect();
        let reaches = |from: &String| {
            let mut seen = BTreeSet::from([from.clone()]);
            let mut todo = vec![from.clone()];
            while let Some(f) = todo.pop() {
                for (a, b) in self.edges.keys() {
                    if *a == f && seen.insert(b.clone()) {
                        todo.push(b.clone());
                    }
                }
            }
            seen
        };
        let reach: BTreeMap<&String, BTreeSet<String>> =
            folders.iter().map(|f| (*f, reaches(f))).collect();
        let mut circles = Vec::new();
        let mut placed = BTreeSet::new();
        for f in &folders {
            if placed.contains(*f) {
                continue;
            }
            let circle: Vec<&String> = folders
                .iter()
                .copied()
                .filter(|g| reach[f].contains(*g) && reach[g].contains(*f))
                .collect();
            placed.extend(circle.iter().map(|g| (*g).clone()));
            if circle.len() < 2 {
                continue;
            }
            let names: Vec<&str> = circle.iter().map(|s| s.as_str()).collect();
            let mut text = format!("{}:", names.join(", "));
            for ((a, b), why) in &self.edges {
                if circle.contains(&a) && circle.contains(&b) {
                    text.push_str(&format!("\n  {a} -> {b}: {}", why.join("; ")));
                }
            }
            circles.push(text);
        }
        circles
    }
}

fn read_tree(src: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path.strip_prefix(src).unwrap().to_path_buf(), text));
            }
        }
    }
    files
}

/// `analysis/scaling/solver.rs` → analysis::scaling::solver; `lib.rs`, `main.rs` → the root.
fn module_of(path: &Path) -> Vec<String> {
    let mut parts: Vec<String> = path
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// The modules a file names, as paths from the crate root (`crate::` left off).
fn imports(path: &Path, module: &[String], text: &str) -> Vec<Vec<String>> {
    let mut code = strip_comments_and_literals(text);
    if path == Path::new("main.rs") {
        // The binary reaches the library by its name.
        code = code.replace("throttlebench::", "crate::");
    }
    let children: Vec<String> = words(&code)
        .windows(3)
        .filter(|w| w[0].1 == "mod" && w[2].1 == ";")
        .map(|w| w[1].1.clone())
        .collect();
    let mut found = Vec::new();
    let mut rest = String::new();
    let mut at = 0;
    // `use` declarations, tree by tree; what is left is searched for paths.
    while let Some(start) = find_word(&code, "use", at) {
        let end = code[start..].find(';').map_or(code.len(), |n| start + n);
        rest.push_str(&code[at..start]);
        let scope = scope_at(&code, start, module);
        for tree in expand(&code[start + 3..end]) {
            found.extend(resolve(&tree, &scope, &children, module));
        }
        at = (end + 1).min(code.len());
    }
    rest.push_str(&code[at..]);
    let tokens = words(&rest);
    for (i, (offset, word)) in tokens.iter().enumerate() {
        let opens_path = (word == "crate" || word == "super" || children.contains(word))
            && !(i >= 2 && tokens[i - 1].1 == ":" && tokens[i - 2].1 == ":")
            && tokens.get(i + 1).is_some_and(|t| t.1 == ":");
        if opens_path {
            let scope = scope_at(&rest, *offset, module);
            found.extend(resolve(&segments(&tokens[i..]), &scope, &children, module));
        }
    }
    found
}

/// `a :: b :: c (` → [a, b, c]: the identifiers of a path, up to where it ends.
fn segments(tokens: &[(usize, String)]) -> Vec<String> {
    let mut path = Vec::new();
    let mut i = 0;
    while let Some((_, word)) = tokens.get(i) {
        if !word.chars().all(|c| c.is_alphanumeric() || c == '_') {
            break;
        }
        path.push(word.clone());
        let joined = tokens.get(i + 1).is_some_and(|t| t.1 == ":")
            && tokens.get(i + 2).is_some_and(|t| t.1 == ":");
        if !joined {
            break;
        }
        i += 3;
    }
    path
}

/// Resolves a path as written in `scope` (the module, inside any inline `mod x { … }`).
fn resolve(
    path: &[String],
    scope: &[String],
    children: &[String],
    module: &[String],
) -> Option<Vec<String>> {
    let first = path.first()?;
    if first == "crate" {
        return Some(path[1..].to_vec());
    }
    if first == "super" || first == "self" {
        let mut base = scope.to_vec();
        let mut rest = path;
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        if rest.first().is_some_and(|s| s == "self") {
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        return Some(base);
    }
    // A relative path starting with a child module of the file's own module.
    (scope.len() == module.len() && children.contains(first)).then(|| {
        let mut p = module.to_vec();
        p.extend(path.iter().cloned());
        p
    })
}

/// The module at byte `at`: the file's module, plus the inline `mod x {` blocks open there.
fn scope_at(code: &str, at: usize, module: &[String]) -> Vec<String> {
    let mut scope = module.to_vec();
    let mut open: Vec<(usize, bool)> = Vec::new();
    let tokens = words(&code[..at]);
    let mut depth = 0;
    for (i, (_, w)) in tokens.iter().enumerate() {
        match w.as_str() {
            "{" => {
                let is_mod = i >= 2 && tokens[i - 2].1 == "mod";
                if is_mod {
                    scope.push(tokens[i - 1].1.clone());
                }
                depth += 1;
                open.push((depth, is_mod));
            }
            "}" => {
                if let Some((_, is_mod)) = open.pop() {
                    if is_mod {
                        scope.pop();
                    }
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    scope
}

/// `crate::{a::{self, B}, c}` → [crate, a], [crate, a, B], [crate, c].
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tokens: Vec<String> = words(tree).into_iter().map(|(_, w)| w).collect();
    let mut out = Vec::new();
    let mut i = 0;
    one_tree(&tokens, &mut i, &[], &mut out);
    out
}

/// One path of a use tree, from token `i`, up to the `,` or `}` that ends it (not taken).
fn one_tree(tokens: &[String], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    while let Some(t) = tokens.get(*i) {
        match t.as_str() {
            "," | "}" => break,
            "{" => {
                *i += 1;
                // The list's paths, each under this one.
                while tokens.get(*i).is_some_and(|t| t != "}") {
                    one_tree(tokens, i, &path, out);
                    if tokens.get(*i).is_some_and(|t| t == ",") {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            "as" => *i += 2,
            "self" if !prefix.is_empty() => *i += 1,
            word if word.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                path.push(word.to_string());
                *i += 1;
            }
            _ => *i += 1,
        }
    }
    if !path.is_empty() {
        out.push(path);
    }
}

/// Identifiers and punctuation with their byte offsets.
fn words(code: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_') {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            out.push((i, code[i..end].to_string()));
        } else if !c.is_whitespace() {
            out.push((i, c.to_string()));
        }
    }
    out
}

/// Where the word `word` next stands alone, from byte `from`.
fn find_word(code: &str, word: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = code[at..].find(word) {
        let start = at + found;
        let end = start + word.len();
        let before = code[..start].chars().last();
        let after = code[end..].chars().next();
        let alone = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        if alone(before) && after.is_some_and(char::is_whitespace) {
            return Some(start);
        }
        at = end;
    }
    None
}

/// The code with comments blanked and string and character literals emptied, so that a path in
/// a doc comment or a message is not taken for an import. Byte offsets stay where they were.
fn strip_comments_and_literals(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    // Line breaks stay, so that nothing joins across them; a multi-byte character becomes as
    // many spaces as it had bytes.
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut out[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
                blank(&mut out, i, end);
                i = end;
            }
            b'r' if (bytes.get(i + 1) == Some(&b'"') || bytes.get(i + 1) == Some(&b'#'))
                && !text[..i]
                    .chars()
                    .last()
                    .is_some_and(|c| (c.is_alphanumeric() || c == '_') && c != 'b') =>
            {
                let hashes = bytes[i + 1..].iter().take_while(|&&b| b == b'#').count();
                if bytes.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let body = i + 2 + hashes;
                let end = text[body..].find(&close).map_or(bytes.len(), |n| body + n);
                blank(&mut out, body, end);
                i = end + close.len();
            }
            b'"' => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, i + 1, j.min(bytes.len()));
                i = j + 1;
            }
            b'\'' => {
                // A character literal ('x', '\n', '"'), not a lifetime ('a).
                let rest = &text[i + 1..];
                let len = if rest.starts_with('\\') {
                    rest.find('\'').map(|n| n + 1)
                } else {
                    rest.chars()
                        .next()
                        .filter(|c| rest[c.len_utf8()..].starts_with('\''))
                        .map(|c| c.len_utf8() + 1)
                };
                match len {
                    Some(n) => {
                        blank(&mut out, i + 1, i + n);
                        i += n + 1;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    String::from_utf8(out).expect("blanking replaces whole characters")
}
