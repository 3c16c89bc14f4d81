//! What a cache keeps: its root, what of each node, how deep, which paths.

use std::sync::Arc;

/// Which paths a cache keeps: `true` to keep a node (and look at its children).
pub(super) type Filter = dyn Fn(&str) -> bool + Send + Sync;

/// What a cache keeps.
#[derive(Clone)]
pub(super) struct Options {
    pub(super) root: String,
    pub(super) data: bool,
    pub(super) stat: bool,
    pub(super) max_depth: Option<usize>,
    pub(super) filter: Option<Arc<Filter>>,
    pub(super) event_capacity: usize,
}

impl Options {
    /// `path` relative to the root (`""` for the root), when it is in the subtree.
    pub(super) fn relative<'a>(&self, path: &'a str) -> Option<&'a str> {
        if path == self.root {
            return Some("");
        }
        let rest = if self.root == "/" {
            path.strip_prefix('/')
        } else {
            path.strip_prefix(self.root.as_str())?.strip_prefix('/')
        }?;
        (!rest.is_empty()).then_some(rest)
    }

    /// The depth of `path` below the root, when it is in the subtree.
    pub(super) fn depth(&self, path: &str) -> Option<usize> {
        let rest = self.relative(path)?;
        Some(if rest.is_empty() {
            0
        } else {
            rest.split('/').count()
        })
    }

    /// Whether the cache keeps `path`: in the subtree, within the depth limit, and it and
    /// every ancestor below the root pass the filter.
    pub(super) fn keeps(&self, path: &str) -> bool {
        let Some(depth) = self.depth(path) else {
            return false;
        };
        if self.max_depth.is_some_and(|max| depth > max) {
            return false;
        }
        let Some(filter) = &self.filter else {
            return true;
        };
        if depth == 0 {
            return true;
        }
        let start = if self.root == "/" {
            1
        } else {
            self.root.len() + 1
        };
        path[start..]
            .match_indices('/')
            .map(|(i, _)| &path[..start + i])
            .chain(std::iter::once(path))
            .all(|p| filter(p))
    }

    /// Whether the cache looks at the children of `path`.
    pub(super) fn descends(&self, path: &str) -> bool {
        match (self.depth(path), self.max_depth) {
            (None, _) => false,
            (Some(depth), Some(max)) => depth < max,
            (Some(_), None) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_keep_by_depth_and_filter_on_every_ancestor() {
        let mut options = Options {
            root: "/r".into(),
            data: true,
            stat: true,
            max_depth: Some(2),
            filter: Some(Arc::new(|p: &str| !p.ends_with("/skip"))),
            event_capacity: 0,
        };
        assert!(options.keeps("/r"));
        assert!(options.keeps("/r/a/b"));
        assert!(!options.keeps("/r/a/b/c"), "too deep");
        assert!(!options.keeps("/r/skip/b"), "an ancestor is refused");
        assert!(!options.keeps("/rx/a"), "not in the subtree");
        assert!(options.descends("/r/a") && !options.descends("/r/a/b"));
        options.root = "/".into();
        options.max_depth = None;
        assert!(options.keeps("/x/y") && !options.keeps("/skip/y"));
        assert_eq!(options.depth("/x/y"), Some(2));
    }
}
