//! Keypair material: fingerprints of imported SSH keys and X.509
//! certificates as Nova computes them, and keys generated for users who
//! send none (before microversion 2.92).

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
    let encoded = B64.encode(&file);
    let lines: Vec<&str> = encoded.as_bytes().chunks(70).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    let pem = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n", lines.join("\n"));
    Ok((format!("ssh-ed25519 {} {comment}", B64.encode(&blob)), pem))
}

fn ssh_string(out: &mut Vec<u8>, data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(data);
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
    fn certificates_only() {
        assert_eq!(x509_fingerprint("ssh-rsa AAAA"), None);
        assert_eq!(x509_fingerprint("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"), None);
    }
}
