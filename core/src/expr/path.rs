//! Document paths (`a.b[3].c`): reading a value out of an item, and the overlap and conflict
//! rules DynamoDB applies between the paths of one update or projection expression.

use std::fmt;

use super::{ExprError, ExpressionKind};
use crate::value::{AttributeValue, Item};

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A map key (or, first in a path, a top-level attribute name).
    Attribute(String),
    /// A list index.
    Index(usize),
}

/// A path into an item. The first element is always an attribute name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentPath {
    elements: Vec<PathElement>,
}

impl DocumentPath {
    /// A path to the top-level attribute `name`.
    pub fn attribute(name: impl Into<String>) -> Self {
        DocumentPath { elements: vec![PathElement::Attribute(name.into())] }
    }

    /// Builds a path from its elements; `None` when empty or not starting with a name.
    pub fn from_elements(elements: Vec<PathElement>) -> Option<Self> {
        match elements.first() {
            Some(PathElement::Attribute(_)) => Some(DocumentPath { elements }),
            _ => None,
        }
    }

    /// The path's elements, first to last.
    pub fn elements(&self) -> &[PathElement] {
        &self.elements
    }

    /// The top-level attribute the path starts at.
    pub fn top_level(&self) -> &str {
        match self.elements.first() {
            Some(PathElement::Attribute(name)) => name,
            // Unreachable by construction; an empty name matches no attribute.
            _ => "",
        }
    }

    /// True for a path naming a top-level attribute only.
    pub fn is_top_level(&self) -> bool {
        self.elements.len() == 1
    }

    /// The value at this path in `item`, if every step exists and has the right type.
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let mut current = item.get(self.top_level())?;
        for element in &self.elements[1..] {
            current = match (element, current) {
                (PathElement::Attribute(key), AttributeValue::M(map)) => map.get(key)?,
                (PathElement::Index(i), AttributeValue::L(list)) => list.get(*i)?,
                _ => return None,
            };
        }
        Some(current)
    }
}

/// DynamoDB's rendering in overlap messages: `[a, b, [3]]`.
impl fmt::Display for DocumentPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, element) in self.elements.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match element {
                PathElement::Attribute(name) => f.write_str(name)?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        f.write_str("]")
    }
}

/// How two paths of one expression relate.
enum Clash {
    /// One path is a prefix of (or equal to) the other.
    Overlap,
    /// At the same depth one path takes a map key and the other a list index.
    Conflict,
}

fn clash(one: &DocumentPath, two: &DocumentPath) -> Option<Clash> {
    for (a, b) in one.elements.iter().zip(&two.elements) {
        match (a, b) {
            (PathElement::Attribute(x), PathElement::Attribute(y)) if x != y => return None,
            (PathElement::Index(x), PathElement::Index(y)) if x != y => return None,
            (PathElement::Attribute(_), PathElement::Index(_))
            | (PathElement::Index(_), PathElement::Attribute(_)) => return Some(Clash::Conflict),
            _ => {}
        }
    }
    Some(Clash::Overlap)
}

/// Rejects two paths that overlap or conflict; an overlap anywhere is reported before a
/// conflict, as DynamoDB does.
pub(crate) fn check_disjoint(paths: &[&DocumentPath], kind: ExpressionKind) -> Result<(), ExprError> {
    let mut conflict: Option<ExprError> = None;
    for (j, two) in paths.iter().enumerate() {
        for one in &paths[..j] {
            match clash(one, two) {
                Some(Clash::Overlap) => {
                    return Err(ExprError::invalid(
                        kind,
                        format!(
                            "Two document paths overlap with each other; must remove or rewrite one of \
                             these paths; path one: {one}, path two: {two}"
                        ),
                    ));
                }
                Some(Clash::Conflict) if conflict.is_none() => {
                    conflict = Some(ExprError::invalid(
                        kind,
                        format!(
                            "Two document paths conflict with each other; must remove or rewrite one of \
                             these paths; path one: {one}, path two: {two}"
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    conflict.map_or(Ok(()), Err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::number::Number;
    use std::collections::BTreeMap;

    fn path(elements: &[PathElement]) -> DocumentPath {
        DocumentPath::from_elements(elements.to_vec()).unwrap_or_else(|| DocumentPath::attribute("?"))
    }

    fn attr(name: &str) -> PathElement {
        PathElement::Attribute(name.to_string())
    }

    #[test]
    fn get_follows_maps_and_lists() {
        let mut inner = BTreeMap::new();
        inner.insert("c".to_string(), AttributeValue::N(Number::zero()));
        let mut item = Item::new();
        item.insert(
            "a".into(),
            AttributeValue::L(vec![AttributeValue::Null, AttributeValue::M(inner.clone())]),
        );
        let p = path(&[attr("a"), PathElement::Index(1), attr("c")]);
        assert_eq!(p.get(&item), Some(&AttributeValue::N(Number::zero())));
        assert_eq!(path(&[attr("a"), PathElement::Index(2)]).get(&item), None);
        assert_eq!(path(&[attr("a"), attr("c")]).get(&item), None);
        assert_eq!(path(&[attr("a"), PathElement::Index(1)]).get(&item), Some(&AttributeValue::M(inner)));
    }

    #[test]
    fn display_renders_indexes_in_brackets() {
        let p = path(&[attr("lst"), PathElement::Index(0), attr("ok")]);
        assert_eq!(p.to_string(), "[lst, [0], ok]");
    }

    #[test]
    fn overlap_is_reported_before_conflict() {
        let a_b = path(&[attr("a"), attr("b")]);
        let a_0 = path(&[attr("a"), PathElement::Index(0)]);
        let c = path(&[attr("c")]);
        let c_d = path(&[attr("c"), attr("d")]);
        let err = check_disjoint(&[&a_b, &a_0, &c, &c_d], ExpressionKind::Update).unwrap_err();
        assert_eq!(
            err.message(),
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite \
             one of these paths; path one: [c], path two: [c, d]"
        );
        let err = check_disjoint(&[&a_b, &a_0], ExpressionKind::Update).unwrap_err();
        assert_eq!(
            err.message(),
            "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite \
             one of these paths; path one: [a, b], path two: [a, [0]]"
        );
        let a_1 = path(&[attr("a"), PathElement::Index(1)]);
        assert!(check_disjoint(&[&a_0, &a_1, &c], ExpressionKind::Update).is_ok());
    }
}
