//! DIGEST-MD5 (RFC 2831) as ZooKeeper's servers speak it: the server's realm is
//! `zk-sasl-md5`, the digest URI `zookeeper/zk-sasl-md5`, quality of protection `auth` (no
//! security layer). The client sends an empty first token; the server challenges; the client
//! answers with the digest of its password; the server proves it knows the password too
//! (`rspauth`), which the client checks.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;
use md5::{Digest, Md5};

use super::{SaslExchange, SaslMechanism, SaslStep};

/// The digest URI ZooKeeper's servers expect.
const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";
/// The realm when the server's challenge names none.
const DEFAULT_REALM: &str = "zk-sasl-md5";

/// DIGEST-MD5 with a user name and password (a `DigestLoginModule` user of the servers' JAAS
/// `Server` section).
#[derive(Clone)]
pub struct DigestMd5 {
    user: String,
    password: String,
}

impl std::fmt::Debug for DigestMd5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestMd5")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl DigestMd5 {
    /// The mechanism for `user` with `password`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> DigestMd5 {
        DigestMd5 {
            user: user.into(),
            password: password.into(),
        }
    }
}

impl SaslMechanism for DigestMd5 {
    fn name(&self) -> &str {
        "DIGEST-MD5"
    }

    fn start(&self, _host: &str) -> Result<Box<dyn SaslExchange>, String> {
        Ok(Box::new(Exchange {
            user: self.user.clone(),
            password: self.password.clone(),
            cnonce: random_hex(),
            expected_rspauth: None,
        }))
    }
}

/// One DIGEST-MD5 exchange.
struct Exchange {
    user: String,
    password: String,
    cnonce: String,
    /// After the response: the `rspauth` the server must send.
    expected_rspauth: Option<String>,
}

impl SaslExchange for Exchange {
    fn initial_response(&mut self) -> Result<Bytes, String> {
        Ok(Bytes::new())
    }

    fn step(&mut self, challenge: &[u8]) -> Result<SaslStep, String> {
        let text = std::str::from_utf8(challenge)
            .map_err(|_| "the server's DIGEST-MD5 token is not text".to_owned())?;
        let fields = parse(text)?;
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        if let Some(expected) = self.expected_rspauth.take() {
            return match get("rspauth") {
                Some(rspauth) if rspauth == expected => Ok(SaslStep::Done),
                Some(_) => Err("the server's proof (rspauth) does not match the password: \
                                not the server it claims to be"
                    .into()),
                None => Err(format!(
                    "expected the server's proof (rspauth), got {text:?}"
                )),
            };
        }
        let nonce = get("nonce").ok_or("the server's challenge has no nonce")?;
        if let Some(qop) = get("qop") {
            if !qop.split(',').any(|q| q.trim() == "auth") {
                return Err(format!(
                    "the server offers no `auth` protection (qop={qop})"
                ));
            }
        }
        if get("algorithm") != Some("md5-sess") {
            return Err("the server's challenge does not ask for md5-sess".into());
        }
        let realm = get("realm").unwrap_or(DEFAULT_REALM).to_owned();
        let ha1 = {
            let mut secret = Md5::new();
            secret.update(latin1_or_utf8(&self.user));
            secret.update(b":");
            secret.update(latin1_or_utf8(&realm));
            secret.update(b":");
            secret.update(latin1_or_utf8(&self.password));
            let mut a1 = Md5::new();
            a1.update(secret.finalize());
            a1.update(format!(":{nonce}:{}", self.cnonce));
            hex(&a1.finalize())
        };
        let proof = |a2: &str| {
            let ha2 = hex(&Md5::digest(a2.as_bytes()));
            hex(&Md5::digest(
                format!("{ha1}:{nonce}:00000001:{}:auth:{ha2}", self.cnonce).as_bytes(),
            ))
        };
        let response = proof(&format!("AUTHENTICATE:{DIGEST_URI}"));
        self.expected_rspauth = Some(proof(&format!(":{DIGEST_URI}")));
        let token = format!(
            "charset=utf-8,username=\"{}\",realm=\"{}\",nonce=\"{nonce}\",nc=00000001,\
             cnonce=\"{}\",digest-uri=\"{DIGEST_URI}\",maxbuf=65536,response={response},qop=auth",
            quote(&self.user),
            quote(&realm),
            self.cnonce
        );
        Ok(SaslStep::Respond(Bytes::from(token)))
    }
}

/// The directives of a DIGEST-MD5 token: `key=value` or `key="quoted value"`, comma-separated.
fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut fields = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("a DIGEST-MD5 directive without a value in {text:?}"))?;
        let key = key.trim().to_owned();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => {
                        if let Some((_, c)) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("an unterminated quoted value in {text:?}")),
                }
            };
            (value, &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        fields.push((key, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(fields)
}

/// `text` quoted for a DIGEST-MD5 quoted string.
fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// What Java's DIGEST-MD5 hashes: ISO 8859-1 when every character fits, UTF-8 otherwise.
fn latin1_or_utf8(text: &str) -> Vec<u8> {
    if text.chars().all(|c| (c as u32) < 256) {
        text.chars().map(|c| c as u8).collect()
    } else {
        text.as_bytes().to_vec()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A client nonce: 128 bits from the process's random hasher keys and the time.
fn random_hex() -> String {
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(i);
        if let Ok(since) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(since.as_nanos());
        }
        *word = hasher.finish();
    }
    format!("{:016x}{:016x}", words[0], words[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831's example, section 4 (IMAP: digest-uri imap/elwood.innosoft.com), computed by
    /// the same steps, checks the digest arithmetic.
    #[test]
    fn the_rfc_example_digest() {
        let (user, realm, pass) = ("chris", "elwood.innosoft.com", "secret");
        let (nonce, cnonce) = ("OA6MG9tEQGm2hh", "OA6MHXh6VqTrRk");
        let mut secret = Md5::new();
        secret.update(format!("{user}:{realm}:{pass}"));
        let mut a1 = Md5::new();
        a1.update(secret.finalize());
        a1.update(format!(":{nonce}:{cnonce}"));
        let ha1 = hex(&a1.finalize());
        let ha2 = hex(&Md5::digest(b"AUTHENTICATE:imap/elwood.innosoft.com"));
        let response = hex(&Md5::digest(
            format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}").as_bytes(),
        ));
        assert_eq!(response, "d388dad90d4bbd760a152321f2143af7");
        let rsp = hex(&Md5::digest(
            format!(
                "{ha1}:{nonce}:00000001:{cnonce}:auth:{}",
                hex(&Md5::digest(b":imap/elwood.innosoft.com"))
            )
            .as_bytes(),
        ));
        assert_eq!(rsp, "ea40f60335c427b5527b84dbabcdfffd");
    }

    #[test]
    fn an_exchange_answers_the_challenge_and_checks_the_proof() {
        let mechanism = DigestMd5::new("bob", "secret");
        let mut exchange = mechanism.start("localhost").expect("start");
        assert!(exchange.initial_response().expect("first").is_empty());
        let challenge = br#"realm="zk-sasl-md5",nonce="abc123",charset=utf-8,algorithm=md5-sess"#;
        let SaslStep::Respond(token) = exchange.step(challenge).expect("answer") else {
            panic!("a response");
        };
        let token = std::str::from_utf8(&token).expect("text");
        let fields = parse(token).expect("parses");
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("username").as_deref(), Some("bob"));
        assert_eq!(get("digest-uri").as_deref(), Some(DIGEST_URI));
        assert_eq!(get("qop").as_deref(), Some("auth"));
        assert_eq!(get("response").map(|r| r.len()), Some(32));
        assert!(
            exchange.step(b"rspauth=0123").is_err(),
            "a wrong proof is refused"
        );

        // The proof a server that knows the password sends is accepted.
        let mut honest = Exchange {
            user: "bob".into(),
            password: "secret".into(),
            cnonce: "fixed".into(),
            expected_rspauth: None,
        };
        let _ = honest.step(challenge).expect("answer");
        let expected = honest
            .expected_rspauth
            .clone()
            .expect("a proof is expected");
        assert_eq!(
            honest.step(format!("rspauth={expected}").as_bytes()),
            Ok(SaslStep::Done)
        );
    }

    #[test]
    fn directives_parse_with_quotes_escapes_and_spaces() {
        let fields = parse(r#"a=1, b="x,y", c="q\"uote" ,d=z"#).expect("parses");
        assert_eq!(
            fields,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x,y".to_owned()),
                ("c".to_owned(), "q\"uote".to_owned()),
                ("d".to_owned(), "z".to_owned())
            ]
        );
        assert!(parse("novalue").is_err());
        assert!(parse(r#"a="open"#).is_err());
    }
}
