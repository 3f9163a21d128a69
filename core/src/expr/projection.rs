//! Projection expressions: which parts of an item to return, keeping the nested structure of
//! the parts selected.

use std::collections::{BTreeMap, BTreeSet};

use super::parser;
use super::path::{DocumentPath, PathElement, check_disjoint};
use super::resolve::{PROJECTION_ORDER, Resolver};
use super::{ExprError, ExpressionKind, Placeholders};
use crate::value::{AttributeValue, Item};

/// A set of document paths to keep from an item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projection {
    paths: Vec<DocumentPath>,
}

/// Parses and checks a projection expression.
pub fn parse_projection(text: &str, ph: &mut Placeholders) -> Result<Projection, ExprError> {
    let raw = parser::parse_projection(text)?;
    let mut r = Resolver::new(ExpressionKind::Projection, ph);
    let paths: Vec<DocumentPath> = raw.iter().map(|p| r.path(p)).collect();
    if let Some(error) = r.first_error(PROJECTION_ORDER) {
        return Err(error);
    }
    check_disjoint(&paths.iter().collect::<Vec<_>>(), ExpressionKind::Projection)?;
    Ok(Projection { paths })
}

/// The selected parts while they are gathered: list elements keyed by index, so several
/// elements of one list come out in index order.
enum Node {
    Whole(AttributeValue),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

impl Node {
    fn into_value(self) -> AttributeValue {
        match self {
            Node::Whole(v) => v,
            Node::Map(m) => AttributeValue::M(m.into_iter().map(|(k, n)| (k, n.into_value())).collect()),
            Node::List(l) => AttributeValue::L(l.into_values().map(Node::into_value).collect()),
        }
    }

    /// Places `value` below this node along `rest`.
    fn insert(&mut self, rest: &[PathElement], value: &AttributeValue) {
        let Some((first, deeper)) = rest.split_first() else {
            *self = Node::Whole(value.clone());
            return;
        };
        let child = match (self, first) {
            // An enclosing part is already selected whole.
            (Node::Whole(_), _) => return,
            (Node::Map(map), PathElement::Attribute(key)) => {
                map.entry(key.clone()).or_insert_with(|| empty_for(deeper))
            }
            (Node::List(list), PathElement::Index(i)) => list.entry(*i).or_insert_with(|| empty_for(deeper)),
            // The item's shape decided the container, so a mismatch cannot happen.
            _ => return,
        };
        child.insert(deeper, value);
    }
}

/// The container a node needs when `rest` continues below it.
fn empty_for(rest: &[PathElement]) -> Node {
    match rest.first() {
        Some(PathElement::Index(_)) => Node::List(BTreeMap::new()),
        Some(PathElement::Attribute(_)) => Node::Map(BTreeMap::new()),
        None => Node::Map(BTreeMap::new()),
    }
}

impl Projection {
    /// A projection of whole top-level attributes (the older AttributesToGet parameter).
    pub fn from_attribute_names(names: impl IntoIterator<Item = String>) -> Projection {
        Projection { paths: names.into_iter().map(DocumentPath::attribute).collect() }
    }

    /// A projection of these paths.
    pub fn from_paths(paths: Vec<DocumentPath>) -> Projection {
        Projection { paths }
    }

    /// The selected paths, in the order written.
    pub fn paths(&self) -> &[DocumentPath] {
        &self.paths
    }

    /// The parts of `item` the projection selects, nested as in the item; absent paths are
    /// left out.
    pub fn apply(&self, item: &Item) -> Item {
        let mut top: BTreeMap<String, Node> = BTreeMap::new();
        for path in &self.paths {
            let Some(value) = path.get(item) else { continue };
            let rest = &path.elements()[1..];
            top.entry(path.top_level().to_string()).or_insert_with(|| empty_for(rest)).insert(rest, value);
        }
        top.into_iter().map(|(k, n)| (k, n.into_value())).collect()
    }

    /// The distinct top-level attributes the projection reads.
    pub fn top_level_attributes(&self) -> impl Iterator<Item = &str> {
        let mut seen = BTreeSet::new();
        self.paths.iter().map(DocumentPath::top_level).filter(move |name| seen.insert(*name))
    }
}
