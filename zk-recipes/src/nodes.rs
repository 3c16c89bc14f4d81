//! Building blocks on paths: create with missing parents, make sure a path exists, delete a
//! subtree while others change it.

use std::future::Future;
use std::pin::Pin;

use zk_client::ops::{
    Create, CreateError, Created, Delete, DeleteError, Error, GetChildren, GetChildrenError,
};
use zk_client::proto::CreateMode;

use crate::client::Zk;

/// How the missing parents of a path are created (empty, with an open ACL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parents {
    /// Persistent nodes: they stay until deleted.
    #[default]
    Persistent,
    /// Container nodes: the server deletes each once its last child is gone (3.6+).
    Container,
}

impl Parents {
    fn mode(self) -> CreateMode {
        match self {
            Parents::Persistent => CreateMode::Persistent,
            Parents::Container => CreateMode::Container,
        }
    }
}

/// How many times a create is tried again after its parent vanished under it (a concurrent
/// delete between creating the parent and the node).
const PARENT_RACES: usize = 8;

/// The parent of `path` (`None` for `/` and top-level nodes' parent `/`).
fn parent_of(path: &str) -> Option<&str> {
    match path.rfind('/') {
        Some(0) | None => None,
        Some(i) => Some(&path[..i]),
    }
}

/// Creates `create`, first creating its missing parents as `parents`. A parent created
/// concurrently by someone else is fine; the node itself existing is an error
/// (`NodeExists`), as for a plain create.
pub async fn create_all<C: Zk>(zk: &C, create: Create, parents: Parents) -> Result<Created, Error> {
    let mut races = 0;
    loop {
        match zk.call(create.clone()).await {
            Err(e) if *e.kind() == CreateError::NoNode && races < PARENT_RACES => {
                races += 1;
                if let Some(parent) = parent_of(&create.path) {
                    ensure_path(zk, parent, parents).await?;
                }
            }
            other => return other.map_err(Error::from),
        }
    }
}

/// Makes sure `path` exists, creating it and its missing ancestors as `parents`; nothing
/// happens to nodes that exist.
pub fn ensure_path<'a, C: Zk>(
    zk: &'a C,
    path: &'a str,
    parents: Parents,
) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
    Box::pin(async move {
        let mut races = 0;
        loop {
            let create = Create::new(path, Vec::new()).mode(parents.mode());
            match zk.call(create).await {
                Ok(_) => return Ok(()),
                Err(e) if *e.kind() == CreateError::NodeExists => return Ok(()),
                Err(e) if *e.kind() == CreateError::NoNode && races < PARENT_RACES => {
                    races += 1;
                    if let Some(parent) = parent_of(path) {
                        ensure_path(zk, parent, parents).await?;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    })
}

/// Deletes `path` and everything under it. Nodes others delete meanwhile are fine; children
/// others add meanwhile are deleted too (it tries until the node is gone). A node already
/// gone is success.
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::{create_all, delete_all, Parents};
/// use zk_tokio::ops::Create;
///
/// create_all(&client, Create::new("/tmp/a/b/c", Vec::new()), Parents::Persistent).await?;
/// delete_all(&client, "/tmp").await?;
/// assert!(client.exists("/tmp").await?.is_none());
/// # Ok(()) });
/// ```
pub fn delete_all<'a, C: Zk>(
    zk: &'a C,
    path: &'a str,
) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
    Box::pin(async move {
        loop {
            match zk.call(Delete::new(path)).await {
                Ok(()) => return Ok(()),
                Err(e) if *e.kind() == DeleteError::NoNode => return Ok(()),
                Err(e) if *e.kind() == DeleteError::NotEmpty => {
                    let children = match zk.call(GetChildren::new(path)).await {
                        Ok((children, _)) => children,
                        Err(e) if *e.kind() == GetChildrenError::NoNode => return Ok(()),
                        Err(e) => return Err(e.into()),
                    };
                    for child in children {
                        let child_path = if path == "/" {
                            format!("/{child}")
                        } else {
                            format!("{path}/{child}")
                        };
                        delete_all(zk, &child_path).await?;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::parent_of;

    #[test]
    fn parents_of_paths() {
        assert_eq!(parent_of("/a/b/c"), Some("/a/b"));
        assert_eq!(parent_of("/a"), None);
        assert_eq!(parent_of("/"), None);
    }
}
