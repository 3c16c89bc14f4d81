//! Client paths, chroot prefixes and their validation.

use std::fmt;

/// Why a path was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is empty.
    #[error("path is empty")]
    Empty,
    /// The path does not start with `/`.
    #[error("path {0:?} must start with '/'")]
    NotAbsolute(String),
    /// The path ends with `/` (only the root may).
    #[error("path {0:?} must not end with '/'")]
    TrailingSlash(String),
    /// The path has an empty, `.` or `..` segment.
    #[error("path {0:?} has an empty, '.' or '..' segment")]
    BadSegment(String),
    /// The path holds a character ZooKeeper refuses (NUL, controls, surrogates, non-characters).
    #[error("path {0:?} holds a character ZooKeeper refuses")]
    BadCharacter(String),
}

/// Checks a path the way the server's `PathUtils.validatePath` does, so a bad path is refused
/// locally with a clear error instead of costing a round trip (or, for some, a connection).
///
/// `sequential` allows a trailing `/` (the server then appends the sequence number).
pub fn validate_path(path: &str, sequential: bool) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute(path.to_owned()));
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') && !sequential {
        return Err(PathError::TrailingSlash(path.to_owned()));
    }
    let body = if sequential {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    for segment in body[1..].split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(PathError::BadSegment(path.to_owned()));
        }
    }
    let bad_char = |c: char| {
        c == '\0'
            || ('\u{1}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || ('\u{e000}'..='\u{f8ff}').contains(&c)
            || ('\u{fff0}'..='\u{ffff}').contains(&c)
            || c > '\u{ffff}'
    };
    if path.chars().any(bad_char) {
        return Err(PathError::BadCharacter(path.to_owned()));
    }
    Ok(())
}

/// A chroot: the server path every client path is relative to (`/app` in `h:2181/app`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Chroot {
    // Empty for no chroot; otherwise a validated path without trailing slash.
    prefix: String,
}

impl Chroot {
    /// No chroot.
    pub fn none() -> Chroot {
        Chroot::default()
    }

    /// A chroot at `prefix`, validated; `/` means none.
    pub fn new(prefix: &str) -> Result<Chroot, PathError> {
        validate_path(prefix, false)?;
        if prefix == "/" {
            Ok(Chroot::none())
        } else {
            Ok(Chroot {
                prefix: prefix.to_owned(),
            })
        }
    }

    /// The prefix, empty when there is none.
    pub fn as_str(&self) -> &str {
        &self.prefix
    }

    /// Whether there is a chroot.
    pub fn is_some(&self) -> bool {
        !self.prefix.is_empty()
    }

    /// The server path for a client path.
    pub fn to_server(&self, client_path: &str) -> String {
        if self.prefix.is_empty() {
            client_path.to_owned()
        } else if client_path == "/" {
            self.prefix.clone()
        } else {
            let mut s = String::with_capacity(self.prefix.len() + client_path.len());
            s.push_str(&self.prefix);
            s.push_str(client_path);
            s
        }
    }

    /// The client path for a server path, or `None` when it lies outside the chroot.
    pub fn to_client<'a>(&self, server_path: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            return Some(server_path);
        }
        let rest = server_path.strip_prefix(self.prefix.as_str())?;
        if rest.is_empty() {
            Some("/")
        } else if rest.starts_with('/') {
            Some(rest)
        } else {
            None
        }
    }

    /// Writes the server path for a client path into `out`.
    pub fn write_server(&self, client_path: &str, out: &mut String) {
        out.push_str(&self.prefix);
        if self.prefix.is_empty() || client_path != "/" {
            out.push_str(client_path);
        }
    }

    /// Strips the chroot from an owned server path in place (paths outside it are kept whole).
    pub fn strip_owned(&self, server_path: String) -> String {
        match self.to_client(&server_path) {
            Some(client) if client.len() != server_path.len() => client.to_owned(),
            _ => server_path,
        }
    }
}

impl fmt::Debug for Chroot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chroot({:?})", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_validated_like_the_server() {
        assert!(validate_path("/", false).is_ok());
        assert!(validate_path("/a/b", false).is_ok());
        assert!(validate_path("/a/b/", true).is_ok());
        assert!(validate_path("/a/", true).is_ok());
        assert_eq!(validate_path("", false), Err(PathError::Empty));
        assert!(matches!(
            validate_path("a", false),
            Err(PathError::NotAbsolute(_))
        ));
        assert!(matches!(
            validate_path("/a/", false),
            Err(PathError::TrailingSlash(_))
        ));
        assert!(matches!(
            validate_path("/a//b", false),
            Err(PathError::BadSegment(_))
        ));
        assert!(matches!(
            validate_path("/a/./b", false),
            Err(PathError::BadSegment(_))
        ));
        assert!(matches!(
            validate_path("/a/..", false),
            Err(PathError::BadSegment(_))
        ));
        assert!(matches!(
            validate_path("/a\0", false),
            Err(PathError::BadCharacter(_))
        ));
        assert!(matches!(
            validate_path("/😀", false),
            Err(PathError::BadCharacter(_))
        ));
        assert!(validate_path("/é", false).is_ok());
    }

    #[test]
    fn chroot_is_prepended_and_stripped() {
        let c = Chroot::new("/app").unwrap();
        assert_eq!(c.to_server("/"), "/app");
        assert_eq!(c.to_server("/x"), "/app/x");
        assert_eq!(c.to_client("/app"), Some("/"));
        assert_eq!(c.to_client("/app/x"), Some("/x"));
        assert_eq!(c.to_client("/apple"), None);
        assert_eq!(c.to_client("/other"), None);
        assert_eq!(Chroot::new("/").unwrap(), Chroot::none());
        assert_eq!(Chroot::none().to_server("/x"), "/x");
    }
}
