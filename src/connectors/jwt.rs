//! RS256 JSON Web Tokens signed with `ring` (no OpenSSL): Snowflake's key-pair login and
//! Google's service-account token grant both need one. Keys come as PKCS#8 PEM
//! (`-----BEGIN PRIVATE KEY-----`), which is what `openssl genpkey`, Snowflake's docs and
//! Google's key files produce.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};

/// An RSA private key ready to sign.
pub struct Signer {
    key: RsaKeyPair,
}

impl Signer {
    /// Reads a PKCS#8 PEM private key. Encrypted keys and PKCS#1 (`BEGIN RSA PRIVATE KEY`)
    /// are refused with the command that converts them.
    pub fn from_pem(pem: &str) -> Result<Signer, String> {
        if pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err("the private key is encrypted; decrypt it first (openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.p8)".into());
        }
        if pem.contains("BEGIN RSA PRIVATE KEY") {
            return Err("the private key is PKCS#1; convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.p8)".into());
        }
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----") && !l.is_empty())
            .collect();
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| "the private key is not PEM (expected -----BEGIN PRIVATE KEY-----)")?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("the private key is not a usable RSA key in PKCS#8: {e}"))?;
        Ok(Signer { key })
    }

    /// `header.claims.signature`, each part base64url without padding.
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{body}");
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "signing the token failed".to_string())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// The public key as DER SubjectPublicKeyInfo (what `openssl rsa -pubout` writes):
    /// Snowflake names a key by the SHA-256 of these bytes.
    #[cfg(feature = "snowflake")]
    pub fn public_key_spki(&self) -> Vec<u8> {
        // rsaEncryption OID with NULL parameters.
        const ALG: &[u8] = &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let pkcs1 = self.key.public().as_ref();
        let mut bits = vec![0u8];
        bits.extend_from_slice(pkcs1);
        let mut inner = ALG.to_vec();
        inner.extend(der(0x03, &bits));
        der(0x30, &inner)
    }
}

/// One DER element: tag, definite length, contents.
#[cfg(feature = "snowflake")]
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_pkcs8_are_refused_with_the_fix() {
        let e = Signer::from_pem(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
        )
        .err()
        .unwrap();
        assert!(e.contains("openssl pkcs8 -topk8"), "{e}");
        let e = Signer::from_pem("not a key").err().unwrap();
        assert!(e.contains("PKCS#8") || e.contains("PEM"), "{e}");
    }

    #[test]
    #[cfg(feature = "snowflake")]
    fn der_lengths_use_the_long_form_above_127_bytes() {
        assert_eq!(der(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = der(0x04, &[0u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }
}
