//! The viewer's files (placeholder on the serve branch until the viewer branch lands).

pub struct Asset {
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

pub fn assets() -> &'static [Asset] {
    &[]
}

pub fn asset(path: &str) -> Option<&'static Asset> {
    assets().iter().find(|a| a.path == path)
}
