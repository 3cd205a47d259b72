//! Keypair material: fingerprints of imported SSH keys and X.509
//! certificates as Nova computes them, and keys and certificates generated
//! for users who send none (before microversion 2.92).

use base64::Engine;
use md5::{Digest, Md5};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Nova's fingerprint of an OpenSSH public key: the MD5 of its blob, in
/// colon-separated hex.
pub fn ssh_fingerprint(public_key: &str) -> Option<String> {
    let mut parts = public_key.split_whitespace();
    let kind = parts.next()?;
    if !(kind.starts_with("ssh-") || kind.starts_with("ecdsa-sha2-") || kind.starts_with("sk-")) {
        return None;
    }
    let blob = B64.decode(parts.next()?).ok()?;
    // The blob starts with the key type again: a cheap check it is a key.
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    if blob.get(4..4 + len)? != kind.as_bytes() {
        return None;
    }
    Some(colon_hex(&Md5::digest(&blob)))
}

/// Nova's fingerprint of a PEM certificate: the SHA-1 of its DER.
pub fn x509_fingerprint(pem: &str) -> Option<String> {
    let body = pem.trim().strip_prefix("-----BEGIN CERTIFICATE-----")?.strip_suffix("-----END CERTIFICATE-----")?;
    let der = B64.decode(body.split_whitespace().collect::<String>()).ok()?;
    // A certificate is a DER SEQUENCE of its parts; anything else is not one.
    if der.first() != Some(&0x30) || der.len() < 64 {
        return None;
    }
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    Some(colon_hex(digest.as_ref()))
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// A new SSH key pair: the public key in OpenSSH's one-line form and the
/// private key in OpenSSH's format, which the user gets once and Nova
/// never stores. Ed25519: small, fast to make, and read by every OpenSSH
/// and dropbear a guest has.
pub fn generate_ssh(comment: &str) -> Result<(String, String), String> {
    let seed: [u8; 32] = rand::random();
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| e.to_string())?;
    let public = ring::signature::KeyPair::public_key(&pair).as_ref().to_vec();

    let mut blob = Vec::new();
    ssh_string(&mut blob, b"ssh-ed25519");
    ssh_string(&mut blob, &public);

    let check: u32 = rand::random();
    let mut private = Vec::new();
    private.extend(check.to_be_bytes());
    private.extend(check.to_be_bytes());
    ssh_string(&mut private, b"ssh-ed25519");
    ssh_string(&mut private, &public);
    ssh_string(&mut private, &[seed.as_slice(), public.as_slice()].concat());
    ssh_string(&mut private, comment.as_bytes());
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }

    let mut file = b"openssh-key-v1\0".to_vec();
    ssh_string(&mut file, b"none");
    ssh_string(&mut file, b"none");
    ssh_string(&mut file, b"");
    file.extend(1u32.to_be_bytes());
    ssh_string(&mut file, &blob);
    ssh_string(&mut file, &private);
    // OpenSSH writes its key files 70 characters a line.
    let pem = armour("OPENSSH PRIVATE KEY", &file, 70);
    Ok((format!("ssh-ed25519 {} {comment}", B64.encode(&blob)), pem))
}

fn ssh_string(out: &mut Vec<u8>, data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(data);
}

/// A new X.509 keypair as Nova makes one for WinRM: an RSA-2048 key and a
/// self-signed certificate for `CN=<user id>`, for client authentication,
/// naming the user's principal `<user id>@localhost`, valid ten years.
/// Answers the certificate and the private key (PKCS#8), both PEM.
pub fn generate_x509(user_id: &str) -> Result<(String, String), String> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
    use rsa::signature::{RandomizedSigner, SignatureEncoding};

    let mut rng = rand::thread_rng();
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| e.to_string())?;
    let spki = key.to_public_key().to_public_key_der().map_err(|e| e.to_string())?;
    let private = key.to_pkcs8_der().map_err(|e| e.to_string())?;

    let sha256_with_rsa = seq(&[oid(&[1, 2, 840, 113549, 1, 1, 11]), der(0x05, &[])]);
    let name = seq(&[der(0x31, &seq(&[oid(&[2, 5, 4, 3]), der(0x0c, user_id.as_bytes())]))]);
    let now = chrono::Utc::now();
    let validity = seq(&[der_time(now), der_time(now + chrono::Duration::days(3650))]);
    // A positive serial of 16 random bytes, never with a leading zero.
    let mut serial: [u8; 16] = rand::random();
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let client_auth = seq(&[oid(&[2, 5, 29, 37]), der(0x04, &seq(&[oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2])]))]);
    // subjectAltName: otherName [0] { UPN, [0] UTF8String }.
    let upn =
        [oid(&[1, 3, 6, 1, 4, 1, 311, 20, 2, 3]), der(0xa0, &der(0x0c, format!("{user_id}@localhost").as_bytes()))];
    let alt_name = seq(&[oid(&[2, 5, 29, 17]), der(0x04, &seq(&[der(0xa0, &upn.concat())]))]);
    let tbs = seq(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &serial),
        sha256_with_rsa.clone(),
        name.clone(),
        validity,
        name,
        spki.as_bytes().to_vec(),
        der(0xa3, &seq(&[client_auth, alt_name])),
    ]);
    let signature = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key).sign_with_rng(&mut rng, &tbs).to_vec();
    let cert = seq(&[tbs, sha256_with_rsa, der(0x03, &[&[0u8][..], &signature].concat())]);
    Ok((armour("CERTIFICATE", &cert, 64), armour("PRIVATE KEY", private.as_bytes(), 64)))
}

/// `data` in base64 between `-----BEGIN <label>-----` and its END line,
/// `width` characters a line (PEM's 64, OpenSSH's 70).
fn armour(label: &str, data: &[u8], width: usize) -> String {
    let encoded = B64.encode(data);
    let lines: Vec<&str> =
        encoded.as_bytes().chunks(width).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// One DER value: tag, definite length, content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend(&bytes[skip..]);
    }
    out.extend(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        body.extend(groups.iter().rev());
    }
    der(0x06, &body)
}

/// RFC 5280: UTCTime through 2049, GeneralizedTime after.
fn der_time(t: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    use chrono::Datelike;
    if t.year() < 2050 {
        der(0x17, t.format("%y%m%d%H%M%SZ").to_string().as_bytes())
    } else {
        der(0x18, t.format("%Y%m%d%H%M%SZ").to_string().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_md5_of_the_key_blob() {
        // ssh-ed25519 blob: type string, then a 32-byte key of zeros.
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 32]);
        blob.extend_from_slice(&[0u8; 32]);
        let key = format!("ssh-ed25519 {} me@host", B64.encode(&blob));
        let fp = ssh_fingerprint(&key).unwrap();
        assert_eq!(fp.len(), 47);
        assert_eq!(fp, Md5::digest(&blob).iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"));
        assert!(ssh_fingerprint("ssh-rsa notbase64!").is_none());
        assert!(ssh_fingerprint("hello world").is_none());
    }

    #[test]
    fn generated_keys_fingerprint_and_frame() {
        let (public, private) = generate_ssh("Generated-by-Nova").unwrap();
        assert!(public.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5") && public.ends_with(" Generated-by-Nova"));
        assert_eq!(ssh_fingerprint(&public).unwrap().len(), 47);
        assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA"));
        let (other, _) = generate_ssh("x").unwrap();
        assert_ne!(public.split(' ').nth(1), other.split(' ').nth(1));
    }

    #[test]
    fn der_encodings() {
        assert_eq!(oid(&[1, 2, 840, 113549, 1, 1, 11]), [6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11]);
        assert_eq!(der(0x04, &[7; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(der(0x04, &[7; 300])[..4], [0x04, 0x82, 1, 44]);
        let t = chrono::DateTime::parse_from_rfc3339("2036-11-30T01:02:03Z").unwrap().to_utc();
        assert_eq!(der_time(t), der(0x17, b"361130010203Z"));
        let t = chrono::DateTime::parse_from_rfc3339("2050-01-01T00:00:00Z").unwrap().to_utc();
        assert_eq!(der_time(t), der(0x18, b"20500101000000Z"));
    }

    #[test]
    fn generated_certificates_are_signed_by_their_key() {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::signature::Verifier;

        let (cert, private) = generate_x509("0123456789abcdef").unwrap();
        assert_eq!(x509_fingerprint(&cert).unwrap().len(), 59);
        let body = |pem: &str| B64.decode(pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()).unwrap();
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&body(&private)).unwrap();
        let der = body(&cert);
        // The certificate's three parts: its signed body, the algorithm, the signature.
        assert_eq!(der[..2], [0x30, 0x82]);
        let (tbs, rest) = split_der(&der[4..]);
        let (_, bits) = split_der(rest);
        // BIT STRING, two length bytes, no unused bits, then the 256-byte signature.
        assert_eq!(bits[..5], [0x03, 0x82, 0x01, 0x01, 0x00]);
        let signature = rsa::pkcs1v15::Signature::try_from(&bits[5..]).unwrap();
        let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.to_public_key());
        verifier.verify(tbs, &signature).unwrap();
        let text = String::from_utf8_lossy(tbs);
        assert!(text.contains("0123456789abcdef@localhost"));
    }

    /// The first DER value of `bytes` and what follows it.
    fn split_der(bytes: &[u8]) -> (&[u8], &[u8]) {
        let (len, head) = match bytes[1] {
            n if n < 0x80 => (n as usize, 2),
            n => {
                let k = (n & 0x7f) as usize;
                (bytes[2..2 + k].iter().fold(0usize, |a, b| a << 8 | *b as usize), 2 + k)
            }
        };
        bytes.split_at(head + len)
    }

    #[test]
    fn certificates_only() {
        assert_eq!(x509_fingerprint("ssh-rsa AAAA"), None);
        assert_eq!(x509_fingerprint("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"), None);
    }
}
