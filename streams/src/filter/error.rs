//! Why a filter criteria or pattern was refused. Every refusal happens when the criteria is
//! built, never while matching: a built [`FilterCriteria`](super::FilterCriteria) cannot fail.

use thiserror::Error;

/// A refused `FilterCriteria` or filter pattern. Messages follow Lambda's wording
/// ("Invalid filter pattern definition.") and then say exactly what is wrong and where.
///
/// `filter` is the zero-based position in `Filters` (always 0 for a single pattern); `path`
/// is the dotted field path inside the pattern, as in `dynamodb.NewImage.status.S`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The criteria is not a JSON object.
    #[error(
        "Invalid FilterCriteria: expected an object such as {{\"Filters\": [{{\"Pattern\": \"...\"}}]}}."
    )]
    CriteriaNotAnObject,
    /// `Filters` is present but is not an array.
    #[error("Invalid FilterCriteria: \"Filters\" must be an array.")]
    FiltersNotAnArray,
    /// An entry of `Filters` is not an object.
    #[error("Invalid FilterCriteria: Filters[{filter}] must be an object with a \"Pattern\" string.")]
    FilterNotAnObject {
        /// Position in `Filters`.
        filter: usize,
    },
    /// An entry of `Filters` has no `Pattern`, or its `Pattern` is not a string.
    #[error("Invalid FilterCriteria: Filters[{filter}].Pattern must be a string holding a JSON pattern.")]
    PatternNotAString {
        /// Position in `Filters`.
        filter: usize,
    },
    /// More filters than [`FILTERS_MAX`](super::FILTERS_MAX).
    #[error("Invalid FilterCriteria: {count} filters given, at most {max} are allowed.")]
    TooManyFilters {
        /// Filters given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The pattern string is longer than [`PATTERN_CHARS_MAX`](super::PATTERN_CHARS_MAX).
    #[error(
        "1 validation error detected: Value at 'filterCriteria.filters.{}.member.pattern' failed to \
         satisfy constraint: Member must have length less than or equal to {max} (got {chars}).",
        filter + 1
    )]
    PatternTooLong {
        /// Position in `Filters`.
        filter: usize,
        /// Characters in the pattern.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The pattern is not well-formed JSON.
    #[error("Invalid filter pattern definition. Filters[{filter}] is not valid JSON: {reason}.")]
    PatternNotJson {
        /// Position in `Filters`.
        filter: usize,
        /// The JSON parser's description, with line and column.
        reason: String,
    },
    /// The pattern nests objects and arrays deeper than
    /// [`PATTERN_DEPTH_MAX`](super::PATTERN_DEPTH_MAX).
    #[error("Invalid filter pattern definition. Filters[{filter}] nests deeper than {max} levels.")]
    PatternTooDeep {
        /// Position in `Filters`.
        filter: usize,
        /// The limit.
        max: usize,
    },
    /// The pattern is valid JSON but breaks the pattern grammar.
    #[error("Invalid filter pattern definition. Filters[{filter}] at `{path}`: {problem}.")]
    InvalidPattern {
        /// Position in `Filters`.
        filter: usize,
        /// Dotted field path of the offending value; empty for the pattern itself.
        path: String,
        /// What is wrong there.
        problem: PatternProblem,
    },
}

/// What is wrong at one place of a pattern that is valid JSON.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PatternProblem {
    /// The pattern itself is not a JSON object.
    #[error("a pattern must be a JSON object")]
    NotAnObject,
    /// An object with no fields.
    #[error("empty objects are not allowed")]
    EmptyObject,
    /// A field whose list of allowed values is empty.
    #[error("empty arrays are not allowed")]
    EmptyArray,
    /// A field value that is neither a list of allowed values nor a nested object.
    #[error("a field must map to an array of allowed values or to a nested object")]
    NotArrayOrObject,
    /// An array inside a list of allowed values.
    #[error("arrays are not allowed inside a list of allowed values")]
    NestedArray,
    /// A matcher object with no key or with more than one key.
    #[error("a matcher object must have exactly one key, found {keys}")]
    OperatorCount {
        /// Keys found.
        keys: usize,
    },
    /// A matcher that no EventBridge or Lambda pattern defines.
    #[error("unrecognized match type {operator}")]
    UnknownOperator {
        /// The key used.
        operator: String,
    },
    /// A matcher EventBridge defines for event buses but Lambda event filtering does not accept.
    #[error("match type {operator} is not supported by Lambda event filtering")]
    UnsupportedOperator {
        /// The matcher, as written (`wildcard`, `cidr`, `anything-but/prefix`, ...).
        operator: String,
    },
    /// A matcher given a value of the wrong kind.
    #[error("value of {operator} must be {expected}")]
    InvalidOperand {
        /// The matcher.
        operator: &'static str,
        /// What it takes.
        expected: &'static str,
    },
    /// `anything-but` given a list that mixes strings and numbers.
    #[error("anything-but lists must hold only strings or only numbers")]
    MixedAnythingBut,
    /// A `numeric` comparison other than `<`, `<=`, `=`, `>`, `>=`.
    #[error("unrecognized numeric comparison {comparison:?}")]
    NumericComparison {
        /// The comparison as written.
        comparison: String,
    },
    /// A `numeric` comparison not followed by a number.
    #[error("numeric comparison {comparison} must be followed by a number")]
    NumericOperand {
        /// The comparison.
        comparison: &'static str,
    },
    /// A `numeric` bound outside what Lambda compares.
    #[error("numeric values must lie between -5.0e9 and 5.0e9 inclusive")]
    NumericOutOfRange,
    /// A `numeric` list that is not one `=`, or one lower and/or one upper bound.
    #[error("numeric takes [\"=\", n], or one lower bound (> or >=) and/or one upper bound (< or <=)")]
    NumericShape,
    /// A `numeric` range whose lower bound is not below its upper bound.
    #[error("numeric lower bound must be less than upper bound")]
    NumericEmptyRange,
}
