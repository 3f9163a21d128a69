//! Finds the credentials and region to sign with, in the order the AWS CLI uses: environment
//! variables, then a profile of the shared credentials file, then Eddy's documented dummy pair.

use std::path::PathBuf;

use super::ini::Ini;

/// The key pair used when no credentials are configured; an Eddy server started without
/// configured credentials accepts it.
pub const DUMMY_ACCESS_KEY_ID: &str = "eddy";
/// The secret of [`DUMMY_ACCESS_KEY_ID`].
pub const DUMMY_SECRET_ACCESS_KEY: &str = "eddy";
/// The region when none is configured, as the AWS SDKs' examples assume.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A resolved key pair and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Where the pair came from, for the run's header line.
    pub source: Source,
}

/// Where [`Credentials`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Environment,
    Profile { file: PathBuf, profile: String },
    Dummy,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Environment => f.write_str("environment"),
            Source::Profile { file, profile } => write!(f, "profile {profile} in {}", file.display()),
            Source::Dummy => write!(f, "dummy pair {DUMMY_ACCESS_KEY_ID}/{DUMMY_SECRET_ACCESS_KEY}"),
        }
    }
}

/// Resolves credentials from the process environment and the shared credentials file.
pub fn resolve() -> anyhow::Result<Credentials> {
    resolve_with(|name| std::env::var(name).ok())
}

/// Resolves the signing region from the process environment.
pub fn region() -> String {
    region_with(|name| std::env::var(name).ok())
}

fn region_with(env: impl Fn(&str) -> Option<String>) -> String {
    non_empty(env("AWS_REGION"))
        .or_else(|| non_empty(env("AWS_DEFAULT_REGION")))
        .unwrap_or_else(|| DEFAULT_REGION.to_string())
}

/// [`resolve`] with the environment given as a lookup function, so tests need not mutate the
/// process environment.
fn resolve_with(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Credentials> {
    let access = non_empty(env("AWS_ACCESS_KEY_ID"));
    let secret = non_empty(env("AWS_SECRET_ACCESS_KEY"));
    match (access, secret) {
        (Some(access_key_id), Some(secret_access_key)) => {
            return Ok(Credentials {
                access_key_id,
                secret_access_key,
                session_token: non_empty(env("AWS_SESSION_TOKEN")),
                source: Source::Environment,
            });
        }
        (Some(_), None) => anyhow::bail!("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
        (None, Some(_)) => anyhow::bail!("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
        (None, None) => {}
    }

    let explicit_profile = non_empty(env("AWS_PROFILE"));
    let profile = explicit_profile.clone().unwrap_or_else(|| "default".to_string());
    let file = non_empty(env("AWS_SHARED_CREDENTIALS_FILE"))
        .map(PathBuf::from)
        .or_else(|| non_empty(env("HOME")).map(|home| PathBuf::from(home).join(".aws").join("credentials")));
    let text = match &file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => anyhow::bail!("reading {}: {error}", path.display()),
        },
        None => None,
    };
    if let (Some(path), Some(text)) = (file, text) {
        let ini = Ini::parse(&text);
        if ini.has_section(&profile) {
            let access = ini.get(&profile, "aws_access_key_id").filter(|v| !v.is_empty());
            let secret = ini.get(&profile, "aws_secret_access_key").filter(|v| !v.is_empty());
            let (Some(access), Some(secret)) = (access, secret) else {
                anyhow::bail!(
                    "profile {profile} in {} lacks aws_access_key_id or aws_secret_access_key",
                    path.display()
                );
            };
            return Ok(Credentials {
                access_key_id: access.to_string(),
                secret_access_key: secret.to_string(),
                session_token: ini
                    .get(&profile, "aws_session_token")
                    .filter(|v| !v.is_empty())
                    .map(String::from),
                source: Source::Profile { file: path, profile },
            });
        }
    }
    // Like the AWS CLI, a profile asked for by name must exist; only the implicit default may be
    // absent.
    if let Some(profile) = explicit_profile {
        anyhow::bail!("AWS_PROFILE={profile} but no such profile in the shared credentials file");
    }
    Ok(Credentials {
        access_key_id: DUMMY_ACCESS_KEY_ID.to_string(),
        secret_access_key: DUMMY_SECRET_ACCESS_KEY.to_string(),
        session_token: None,
        source: Source::Dummy,
    })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use super::{Source, region_with, resolve_with};

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    /// A credentials file in a fresh temporary directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(text: &str) -> TempFile {
            let path = std::env::temp_dir().join(format!("eddy-bench-credentials-{}", uuid::Uuid::new_v4()));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }

        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    const FILE: &str = "[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = secdef\n\
                        [ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = secci\naws_session_token = tok\n";

    #[test]
    fn environment_wins_over_the_file() {
        let file = TempFile::new(FILE);
        let creds = resolve_with(env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "secenv"),
            ("AWS_SESSION_TOKEN", "tokenv"),
            ("AWS_SHARED_CREDENTIALS_FILE", file.path()),
        ]))
        .unwrap();
        assert_eq!(creds.access_key_id, "AKIDENV");
        assert_eq!(creds.secret_access_key, "secenv");
        assert_eq!(creds.session_token.as_deref(), Some("tokenv"));
        assert_eq!(creds.source, Source::Environment);
    }

    #[test]
    fn half_a_pair_in_the_environment_is_an_error() {
        assert!(resolve_with(env(&[("AWS_ACCESS_KEY_ID", "AKIDENV")])).is_err());
    }

    #[test]
    fn default_profile_then_named_profile() {
        let file = TempFile::new(FILE);
        let creds = resolve_with(env(&[("AWS_SHARED_CREDENTIALS_FILE", file.path())])).unwrap();
        assert_eq!((creds.access_key_id.as_str(), creds.session_token), ("AKIDDEF", None));

        let creds = resolve_with(env(&[("AWS_SHARED_CREDENTIALS_FILE", file.path()), ("AWS_PROFILE", "ci")]))
            .unwrap();
        assert_eq!(creds.access_key_id, "AKIDCI");
        assert_eq!(creds.secret_access_key, "secci");
        assert_eq!(creds.session_token.as_deref(), Some("tok"));
        assert!(matches!(creds.source, Source::Profile { ref profile, .. } if profile == "ci"));
    }

    #[test]
    fn home_directory_file_is_read() {
        let home = std::env::temp_dir().join(format!("eddy-bench-home-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(home.join(".aws")).unwrap();
        std::fs::write(home.join(".aws").join("credentials"), FILE).unwrap();
        let creds = resolve_with(env(&[("HOME", home.to_str().unwrap())])).unwrap();
        std::fs::remove_dir_all(&home).unwrap();
        assert_eq!(creds.access_key_id, "AKIDDEF");
    }

    #[test]
    fn missing_named_profile_is_an_error_but_missing_default_falls_back() {
        let file = TempFile::new("[ci]\naws_access_key_id = a\naws_secret_access_key = b\n");
        assert!(
            resolve_with(env(&[("AWS_SHARED_CREDENTIALS_FILE", file.path()), ("AWS_PROFILE", "nope")]))
                .is_err()
        );
        let creds = resolve_with(env(&[("AWS_SHARED_CREDENTIALS_FILE", file.path())])).unwrap();
        assert_eq!(creds.source, Source::Dummy);
        assert_eq!((creds.access_key_id.as_str(), creds.secret_access_key.as_str()), ("eddy", "eddy"));
    }

    #[test]
    fn nothing_configured_gives_the_dummy_pair() {
        let creds = resolve_with(env(&[("HOME", "/nonexistent-eddy-home")])).unwrap();
        assert_eq!(creds.source, Source::Dummy);
    }

    #[test]
    fn region_order() {
        assert_eq!(region_with(env(&[])), "us-east-1");
        assert_eq!(region_with(env(&[("AWS_DEFAULT_REGION", "eu-west-1")])), "eu-west-1");
        assert_eq!(
            region_with(env(&[("AWS_DEFAULT_REGION", "eu-west-1"), ("AWS_REGION", "ap-south-1")])),
            "ap-south-1"
        );
    }
}
