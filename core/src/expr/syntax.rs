//! The syntax tree of an expression as written: names and values are still placeholders and
//! nothing beyond the grammar has been checked.

/// One step of a path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawElement {
    /// A bare name (checked against the reserved words later).
    Word(String),
    /// An expression attribute name placeholder, `#n`.
    Name(String),
    /// A list index.
    Index(usize),
}

/// A path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawPath {
    pub elements: Vec<RawElement>,
}

/// An operand as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawOperand {
    Path(RawPath),
    /// An expression attribute value placeholder, `:v`.
    Value(String),
    Call {
        name: String,
        args: Vec<RawOperand>,
    },
    /// `left + right` (`plus`) or `left - right`; update expressions only.
    Arithmetic {
        plus: bool,
        left: Box<RawOperand>,
        right: Box<RawOperand>,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparator {
    pub(crate) fn parse(symbol: &str) -> Option<Comparator> {
        Some(match symbol {
            "=" => Comparator::Eq,
            "<>" => Comparator::Ne,
            "<" => Comparator::Lt,
            "<=" => Comparator::Le,
            ">" => Comparator::Gt,
            ">=" => Comparator::Ge,
            _ => return None,
        })
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }
}

/// A condition as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawCondition {
    Compare {
        op: Comparator,
        left: RawOperand,
        right: RawOperand,
    },
    Between {
        subject: RawOperand,
        low: RawOperand,
        high: RawOperand,
    },
    In {
        subject: RawOperand,
        list: Vec<RawOperand>,
    },
    /// A function used as a whole condition (`attribute_exists(a)`).
    Call {
        name: String,
        args: Vec<RawOperand>,
    },
    Not(Box<RawCondition>),
    And(Vec<RawCondition>),
    Or(Vec<RawCondition>),
}

/// The clause an update action sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clause {
    Set,
    Remove,
    Add,
    Delete,
}

impl Clause {
    pub fn keyword(self) -> &'static str {
        match self {
            Clause::Set => "SET",
            Clause::Remove => "REMOVE",
            Clause::Add => "ADD",
            Clause::Delete => "DELETE",
        }
    }
}

/// An update action as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawAction {
    Set(RawPath, RawOperand),
    Remove(RawPath),
    Add(RawPath, String),
    Delete(RawPath, String),
}

/// A parsed update expression: its actions in order, and the first clause written twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawUpdate {
    pub actions: Vec<RawAction>,
    pub repeated_clause: Option<Clause>,
}

/// What a parse produced besides the tree.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ParseNotes {
    /// A pair of parentheses directly around another pair was seen.
    pub redundant_parentheses: bool,
}
