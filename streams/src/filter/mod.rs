//! Change-record filters in the syntax of Lambda's event-source-mapping `FilterCriteria`: the one
//! filter engine behind HTTP subscriptions, triggers and sinks.
//!
//! A pattern is a JSON object shaped like the change record (DynamoDB Streams JSON) whose leaves
//! are arrays of allowed values; fields AND, values in one array OR, `"$or"` ORs sub-patterns,
//! and a criteria ORs its filters. Patterns are checked once when built; matching cannot fail.
//! `docs/filters.md` describes the syntax with examples.
//!
//! ```
//! use eddy_streams::filter::FilterCriteria;
//! use serde_json::json;
//!
//! let filter = FilterCriteria::from_pattern(
//!     r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["open"]}}}}"#,
//! )?;
//! let record = json!({
//!     "eventName": "INSERT",
//!     "dynamodb": {"NewImage": {"status": {"S": "open"}, "n": {"N": "5"}}}
//! });
//! assert!(filter.matches(&record));
//! # Ok::<(), eddy_streams::filter::FilterError>(())
//! ```

mod error;
mod matching;
mod pattern;

#[cfg(test)]
mod aws_examples;
#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod tests;

use serde_json::Value;

pub use error::{FilterError, PatternProblem};

use matching::Options;
use pattern::Pattern;

/// Filters in one criteria. Lambda's default quota is five per event source mapping (raisable to
/// ten on request).
pub const FILTERS_MAX: usize = 5;

/// Characters in one pattern string, as Lambda's `Filter.Pattern` length constraint (4096).
pub const PATTERN_CHARS_MAX: usize = 4096;

/// Nesting of JSON objects and arrays in one pattern. Lambda states no figure; the deepest path
/// into a record (`dynamodb`, an image, then two levels per level of a 32-level DynamoDB
/// document) needs about 68, and the bound stays under serde_json's own recursion limit (128) so
/// that an over-deep pattern gets [`FilterError::PatternTooDeep`] rather than a parser error.
pub const PATTERN_DEPTH_MAX: usize = 80;

/// Parsed, validated filter criteria: a record passes if any filter's pattern matches it. With no
/// filters at all (`{}` or `{"Filters": []}`), every record passes, as in Lambda without
/// `FilterCriteria`.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterCriteria {
    patterns: Vec<Pattern>,
    options: Options,
}

impl FilterCriteria {
    /// Lambda's {"Filters":[{"Pattern":"..."}]} shape.
    pub fn from_json(value: &Value) -> Result<Self, FilterError> {
        let Value::Object(criteria) = value else {
            return Err(FilterError::CriteriaNotAnObject);
        };
        let filters = match criteria.get("Filters") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(filters)) => filters.as_slice(),
            Some(_) => return Err(FilterError::FiltersNotAnArray),
        };
        if filters.len() > FILTERS_MAX {
            return Err(FilterError::TooManyFilters { count: filters.len(), max: FILTERS_MAX });
        }
        let mut patterns = Vec::with_capacity(filters.len());
        for (index, filter) in filters.iter().enumerate() {
            let Value::Object(filter) = filter else {
                return Err(FilterError::FilterNotAnObject { filter: index });
            };
            let Some(Value::String(text)) = filter.get("Pattern") else {
                return Err(FilterError::PatternNotAString { filter: index });
            };
            patterns.push(Pattern::parse(text, index)?);
        }
        Ok(FilterCriteria { patterns, options: Options::default() })
    }

    /// One pattern given directly (the `filter=` query parameter of HTTP subscriptions).
    pub fn from_pattern(pattern: &str) -> Result<Self, FilterError> {
        Ok(FilterCriteria { patterns: vec![Pattern::parse(pattern, 0)?], options: Options::default() })
    }

    /// Eddy extension, off by default: let `numeric` compare the number strings of DynamoDB
    /// records (values under an `N` or `NS` key), so `{"N": [{"numeric": [">", 3]}]}` matches
    /// `{"N": "5"}`. Lambda documents that DynamoDB filtering does not support numeric operators
    /// because record numbers are strings; without this call Eddy behaves the same.
    #[must_use]
    pub fn with_dynamodb_numbers(mut self) -> Self {
        self.options.dynamodb_numbers = true;
        self
    }

    /// Number of filters; zero means every record matches.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether there are no filters, so that every record matches.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the change record (DynamoDB Streams JSON) passes: some filter matches it, or
    /// there are no filters.
    pub fn matches(&self, event: &Value) -> bool {
        self.patterns.is_empty()
            || self
                .patterns
                .iter()
                .any(|pattern| matching::fields_match(&pattern.root, Some(event), self.options))
    }
}
