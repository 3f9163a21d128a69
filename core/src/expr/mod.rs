//! DynamoDB expression languages.
