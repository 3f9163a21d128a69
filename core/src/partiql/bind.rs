//! Binds `?` parameters and turns PartiQL expressions into the store's condition operands,
//! conditions and update actions.

use std::collections::BTreeSet;

use super::PartiqlError;
use super::ast::Expr;
use crate::error::Error;
use crate::expr::{
    Comparator, Condition, DocumentPath, IN_OPERANDS_MAX, Operand, UpdateAction, UpdateOperand,
};
use crate::key::KeySchema;
use crate::value::{AttributeValue, ValueType};

/// The parameters of one statement and the key schema of its table.
pub(super) struct Binder<'a> {
    pub parameters: &'a [AttributeValue],
    pub schema: &'a KeySchema,
}

pub(super) fn is_value(expr: &Expr) -> bool {
    matches!(expr, Expr::Literal(_) | Expr::Parameter(_) | Expr::Map(_) | Expr::List(_) | Expr::Set(_))
}

impl Binder<'_> {
    pub(super) fn value(&self, expr: &Expr) -> Result<AttributeValue, PartiqlError> {
        Ok(match expr {
            Expr::Literal(v) => v.clone(),
            Expr::Parameter(i) => self.parameters.get(*i).cloned().ok_or_else(|| {
                PartiqlError::new("Number of parameters in request and statement don't match.")
            })?,
            Expr::Map(entries) => AttributeValue::M(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.value(v)?)))
                    .collect::<Result<_, PartiqlError>>()?,
            ),
            Expr::List(items) => {
                AttributeValue::L(items.iter().map(|v| self.value(v)).collect::<Result<_, _>>()?)
            }
            Expr::Set(items) => self.set(items)?,
            Expr::Missing => return Err(PartiqlError::unsupported("MISSING as a value")),
            _ => return Err(PartiqlError::syntax("Expected a literal value or a parameter")),
        })
    }

    fn set(&self, items: &[Expr]) -> Result<AttributeValue, PartiqlError> {
        let values: Vec<AttributeValue> = items.iter().map(|v| self.value(v)).collect::<Result<_, _>>()?;
        let invalid = || {
            PartiqlError::new(
                "One or more parameter values were invalid: A set must contain only strings, only numbers or only binaries",
            )
        };
        match values.first() {
            None => Err(PartiqlError::new(
                "One or more parameter values were invalid: An empty set is not allowed",
            )),
            Some(AttributeValue::S(_)) => {
                let mut set = BTreeSet::new();
                for v in values {
                    let AttributeValue::S(s) = v else { return Err(invalid()) };
                    set.insert(s);
                }
                Ok(AttributeValue::Ss(set))
            }
            Some(AttributeValue::N(_)) => {
                let mut set = BTreeSet::new();
                for v in values {
                    let AttributeValue::N(n) = v else { return Err(invalid()) };
                    set.insert(n);
                }
                Ok(AttributeValue::Ns(set))
            }
            Some(AttributeValue::B(_)) => {
                let mut set = BTreeSet::new();
                for v in values {
                    let AttributeValue::B(b) = v else { return Err(invalid()) };
                    set.insert(b);
                }
                Ok(AttributeValue::Bs(set))
            }
            Some(_) => Err(invalid()),
        }
    }

    pub(super) fn operand(&self, expr: &Expr) -> Result<Operand, PartiqlError> {
        match expr {
            Expr::Path(p) => Ok(Operand::Path(p.clone())),
            Expr::Call(name, args) if name == "size" => match args.as_slice() {
                [inner] => Ok(Operand::Size(Box::new(self.operand(inner)?))),
                _ => Err(arity(name, args.len())),
            },
            Expr::Call(name, _) => Err(PartiqlError::unsupported(format!("function {name} used as a value"))),
            Expr::Arithmetic { .. } => Err(PartiqlError::unsupported("arithmetic in a WHERE clause")),
            e if is_value(e) || matches!(e, Expr::Missing) => self.value(e).map(Operand::Value),
            _ => Err(PartiqlError::syntax("Expected a value but found a condition")),
        }
    }

    fn path_operand(&self, expr: &Expr, function: &str) -> Result<DocumentPath, PartiqlError> {
        match expr {
            Expr::Path(p) => Ok(p.clone()),
            _ => Err(PartiqlError::syntax(format!(
                "{function} requires a document path as its first argument"
            ))),
        }
    }

    pub(super) fn condition(&self, expr: &Expr) -> Result<Condition, PartiqlError> {
        Ok(match expr {
            Expr::Compare(op, a, b) => match (a.as_ref(), b.as_ref(), op) {
                (Expr::Path(p), Expr::Missing, Comparator::Eq) => Condition::AttributeNotExists(p.clone()),
                (Expr::Path(p), Expr::Missing, Comparator::Ne) => Condition::AttributeExists(p.clone()),
                _ => Condition::Compare(*op, self.operand(a)?, self.operand(b)?),
            },
            Expr::Between(s, low, high) => {
                Condition::Between(self.operand(s)?, self.operand(low)?, self.operand(high)?)
            }
            Expr::In(s, list) => {
                if list.len() > IN_OPERANDS_MAX {
                    return Err(PartiqlError::new(format!(
                        "The IN operator is provided with too many operands; number of operands: {}",
                        list.len()
                    )));
                }
                let list = list.iter().map(|o| self.operand(o)).collect::<Result<_, _>>()?;
                Condition::In(self.operand(s)?, list)
            }
            Expr::Is { subject, missing: true, negated } => {
                let path = self.path_operand(subject, "IS MISSING")?;
                if *negated { Condition::AttributeExists(path) } else { Condition::AttributeNotExists(path) }
            }
            Expr::Is { subject, missing: false, negated } => {
                let is_null = Condition::AttributeType(self.operand(subject)?, ValueType::Null);
                if *negated { Condition::Not(Box::new(is_null)) } else { is_null }
            }
            Expr::Call(name, args) => self.function(name, args)?,
            Expr::Not(inner) => Condition::Not(Box::new(self.condition(inner)?)),
            Expr::And(items) => {
                Condition::And(items.iter().map(|c| self.condition(c)).collect::<Result<_, _>>()?)
            }
            Expr::Or(items) => {
                Condition::Or(items.iter().map(|c| self.condition(c)).collect::<Result<_, _>>()?)
            }
            _ => return Err(PartiqlError::syntax("Expected a condition in the WHERE clause")),
        })
    }

    fn function(&self, name: &str, args: &[Expr]) -> Result<Condition, PartiqlError> {
        let expected = match name {
            "attribute_exists" | "attribute_not_exists" => 1,
            "begins_with" | "contains" | "attribute_type" => 2,
            "size" => return Err(PartiqlError::syntax("size() is a value, not a condition")),
            "exists" => {
                return Err(PartiqlError::unsupported("EXISTS is only supported in ExecuteTransaction"));
            }
            other => return Err(PartiqlError::unsupported(format!("function {other}"))),
        };
        if args.len() != expected {
            return Err(arity(name, args.len()));
        }
        Ok(match name {
            "attribute_exists" => Condition::AttributeExists(self.path_operand(&args[0], name)?),
            "attribute_not_exists" => Condition::AttributeNotExists(self.path_operand(&args[0], name)?),
            "begins_with" => Condition::BeginsWith(self.operand(&args[0])?, self.operand(&args[1])?),
            "contains" => Condition::Contains(self.operand(&args[0])?, self.operand(&args[1])?),
            _ => {
                let type_name = match self.value(&args[1])? {
                    AttributeValue::S(s) => s,
                    _ => return Err(PartiqlError::syntax("attribute_type requires a type name string")),
                };
                let value_type = ValueType::parse(&type_name).ok_or_else(|| {
                    PartiqlError::new(format!(
                        "Invalid attribute type name found; type: {type_name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                    ))
                })?;
                Condition::AttributeType(self.operand(&args[0])?, value_type)
            }
        })
    }

    /// `key = value` (either way round) on a top-level key attribute.
    pub(super) fn set_action(&self, path: &DocumentPath, value: &Expr) -> Result<UpdateAction, Error> {
        if let Expr::Call(name, args) = value
            && (name == "set_add" || name == "set_delete")
        {
            let [target, operand] = args.as_slice() else { return Err(arity(name, args.len()).into()) };
            if !matches!(target, Expr::Path(p) if p == path) {
                return Err(PartiqlError::unsupported(format!(
                    "{name} must name the attribute being set as its first argument"
                ))
                .into());
            }
            let operand = self.value(operand)?;
            if !matches!(operand.value_type(), ValueType::Ss | ValueType::Ns | ValueType::Bs) {
                return Err(PartiqlError::new(format!(
                    "Incorrect operand type for operator or function; operator or function: {name}, operand type: {}",
                    operand.value_type()
                ))
                .into());
            }
            return Ok(if name == "set_add" {
                UpdateAction::Add(path.clone(), operand)
            } else {
                UpdateAction::Delete(path.clone(), operand)
            });
        }
        Ok(UpdateAction::Set(path.clone(), self.update_operand(value)?))
    }

    fn update_operand(&self, expr: &Expr) -> Result<UpdateOperand, PartiqlError> {
        Ok(match expr {
            Expr::Path(p) => UpdateOperand::Path(p.clone()),
            Expr::Arithmetic { plus, left, right } => {
                let (a, b) = (Box::new(self.update_operand(left)?), Box::new(self.update_operand(right)?));
                if *plus { UpdateOperand::Plus(a, b) } else { UpdateOperand::Minus(a, b) }
            }
            Expr::Call(name, args) if name == "list_append" => match args.as_slice() {
                [a, b] => UpdateOperand::ListAppend(
                    Box::new(self.update_operand(a)?),
                    Box::new(self.update_operand(b)?),
                ),
                _ => return Err(arity(name, args.len())),
            },
            Expr::Call(name, args) if name == "if_not_exists" => match args.as_slice() {
                [Expr::Path(p), fallback] => {
                    UpdateOperand::IfNotExists(p.clone(), Box::new(self.update_operand(fallback)?))
                }
                [_, _] => {
                    return Err(PartiqlError::syntax(
                        "if_not_exists requires a document path as its first argument",
                    ));
                }
                _ => return Err(arity(name, args.len())),
            },
            Expr::Call(name, _) => return Err(PartiqlError::unsupported(format!("function {name} in SET"))),
            e if is_value(e) => UpdateOperand::Value(self.value(e)?),
            _ => return Err(PartiqlError::syntax("Expected a value in SET")),
        })
    }
}

pub(super) fn arity(name: &str, count: usize) -> PartiqlError {
    PartiqlError::new(format!(
        "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {count}"
    ))
}
