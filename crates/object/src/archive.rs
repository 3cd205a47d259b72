//! Tar archives, plain or gzip'd, read as they arrive (extract-archive's
//! input): a push parser that turns the bytes of an upload into each
//! regular file's path and data in order. It holds no more than what one
//! piece of input inflates to and a header's worth of the archive, so an
//! archive of any size streams through; what it cannot read is an error
//! rather than a guess.

use std::io::Write;

use bytes::{Bytes, BytesMut};

const BLOCK: usize = 512;
/// The largest GNU long name or pax header read (both only name a file).
const MAX_META: u64 = 64 << 10;
/// How much compressed input is inflated at a time: deflate grows data at
/// most about a thousandfold, so one step holds a few MiB at worst.
const INFLATE_STEP: usize = 4 << 10;

/// What an archive holds, as the parser meets it.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A regular file begins: its path and size.
    File { path: String, size: u64 },
    /// Some of the current file's data.
    Data(Bytes),
    /// The current file is whole.
    FileEnd,
}

#[derive(Debug)]
enum State {
    Header,
    /// A member's content: `left` bytes, then padding to the block; given
    /// out when it is a regular file's, else skipped.
    Content {
        left: u64,
        pad: u64,
        file: bool,
    },
    /// A GNU long name (`L`) or a pax header (`x`): read whole.
    Meta {
        kind: u8,
        left: u64,
        pad: u64,
        data: Vec<u8>,
    },
    /// The end-of-archive block was read; the rest is ignored.
    End,
}

pub struct TarReader {
    gzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    buf: BytesMut,
    state: State,
    long_name: Option<String>,
    pax_path: Option<String>,
    pax_size: Option<u64>,
}

impl TarReader {
    pub fn new(gzip: bool) -> TarReader {
        TarReader {
            gzip: gzip.then(|| flate2::write::GzDecoder::new(Vec::new())),
            buf: BytesMut::new(),
            state: State::Header,
            long_name: None,
            pax_path: None,
            pax_size: None,
        }
    }

    /// Takes the next piece of the upload; the events it completes go to
    /// `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        match &mut self.gzip {
            None => {
                self.buf.extend_from_slice(input);
                self.parse(out)
            }
            Some(_) => {
                for step in input.chunks(INFLATE_STEP) {
                    let gz = self.gzip.as_mut().expect("a gzip decoder");
                    gz.write_all(step).map_err(|e| format!("not a gzip stream: {e}"))?;
                    let inflated = std::mem::take(gz.get_mut());
                    self.buf.extend_from_slice(&inflated);
                    self.parse(out)?;
                }
                Ok(())
            }
        }
    }

    /// The upload is over: an error if the archive stopped part-way.
    pub fn finish(&mut self, out: &mut Vec<Event>) -> Result<(), String> {
        if let Some(gz) = &mut self.gzip {
            gz.try_finish().map_err(|e| format!("the gzip stream is cut short: {e}"))?;
            let inflated = std::mem::take(gz.get_mut());
            self.buf.extend_from_slice(&inflated);
            self.parse(out)?;
        }
        match self.state {
            State::End => Ok(()),
            State::Header if self.buf.is_empty() => Ok(()),
            _ => Err("unexpected end of data".into()),
        }
    }

    fn parse(&mut self, out: &mut Vec<Event>) -> Result<(), String> {
        loop {
            match &mut self.state {
                State::End => {
                    self.buf.clear();
                    return Ok(());
                }
                State::Header => {
                    if self.buf.len() < BLOCK {
                        return Ok(());
                    }
                    let block = self.buf.split_to(BLOCK);
                    self.state = self.header(&block, out)?;
                }
                State::Content { left, pad, file } => {
                    if *left > 0 {
                        if self.buf.is_empty() {
                            return Ok(());
                        }
                        let n = (*left).min(self.buf.len() as u64) as usize;
                        let data = self.buf.split_to(n).freeze();
                        *left -= n as u64;
                        if *file {
                            out.push(Event::Data(data));
                        }
                        if *left > 0 {
                            continue;
                        }
                        if *file {
                            out.push(Event::FileEnd);
                        }
                    }
                    if (self.buf.len() as u64) < *pad {
                        return Ok(());
                    }
                    let _ = self.buf.split_to(*pad as usize);
                    self.state = State::Header;
                }
                State::Meta { kind, left, pad, data } => {
                    let n = (*left + *pad).min(self.buf.len() as u64) as usize;
                    let taken = self.buf.split_to(n);
                    let keep = (*left as usize).min(n);
                    data.extend_from_slice(&taken[..keep]);
                    *left -= keep as u64;
                    *pad -= (n - keep) as u64;
                    if *left > 0 || *pad > 0 {
                        return Ok(());
                    }
                    let (kind, data) = (*kind, std::mem::take(data));
                    self.meta(kind, &data)?;
                    self.state = State::Header;
                }
            }
        }
    }

    /// A header block: what comes after it.
    fn header(&mut self, block: &[u8], out: &mut Vec<Event>) -> Result<State, String> {
        if block.iter().all(|b| *b == 0) {
            return Ok(State::End);
        }
        let stored = octal(&block[148..156]).ok_or("invalid header checksum")?;
        let sum: u64 =
            block.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { b' ' as u64 } else { *b as u64 }).sum();
        if stored != sum {
            return Err("checksum mismatch in a header".into());
        }
        let mut size = number(&block[124..136]).ok_or("invalid size in a header")?;
        let kind = block[156];
        let pad_of = |size: u64| (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        if matches!(kind, b'L' | b'x') {
            if size > MAX_META {
                return Err("an extended header is too large".into());
            }
            return Ok(State::Meta { kind, left: size, pad: pad_of(size), data: vec![] });
        }
        let file = matches!(kind, b'0' | 0 | b'7');
        let long_name = self.long_name.take();
        let pax_path = self.pax_path.take();
        if let Some(s) = self.pax_size.take() {
            size = s;
        }
        if file {
            let path = match pax_path.or(long_name) {
                Some(p) => p,
                None => {
                    let name = text(&block[0..100]);
                    let prefix = if &block[257..262] == b"ustar" { text(&block[345..500]) } else { String::new() };
                    if prefix.is_empty() {
                        name
                    } else {
                        format!("{prefix}/{name}")
                    }
                }
            };
            out.push(Event::File { path, size });
            if size == 0 {
                out.push(Event::FileEnd);
            }
        }
        Ok(State::Content { left: size, pad: pad_of(size), file })
    }

    /// A GNU long name names the next member; a pax header's `path` and
    /// `size` apply to it.
    fn meta(&mut self, kind: u8, data: &[u8]) -> Result<(), String> {
        if kind == b'L' {
            self.long_name = Some(text(data));
            return Ok(());
        }
        // Records of `<length> <key>=<value>\n`, the length counting all.
        let mut rest = data;
        while !rest.is_empty() {
            let space = rest.iter().position(|b| *b == b' ').ok_or("an invalid pax header")?;
            let len: usize = std::str::from_utf8(&rest[..space])
                .ok()
                .and_then(|l| l.parse().ok())
                .filter(|l| *l > space && *l <= rest.len())
                .ok_or("an invalid pax header")?;
            let record = &rest[space + 1..len];
            let record = record.strip_suffix(b"\n").unwrap_or(record);
            if let Some(eq) = record.iter().position(|b| *b == b'=') {
                let value = String::from_utf8_lossy(&record[eq + 1..]).into_owned();
                match &record[..eq] {
                    b"path" => self.pax_path = Some(value),
                    b"size" => self.pax_size = Some(value.parse().map_err(|_| "an invalid pax size")?),
                    _ => {}
                }
            }
            rest = &rest[len..];
        }
        Ok(())
    }
}

/// A NUL-terminated header field.
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// An octal header field (spaces and NULs around it).
fn octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// A size: octal, or GNU's base-256 for sizes past 8 GiB.
fn number(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut n: u64 = (field[0] & 0x7f) as u64;
        for b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(*b as u64)?;
        }
        return Some(n);
    }
    octal(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header for `name` of `size` bytes.
    fn header(name: &str, size: usize, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn member(out: &mut Vec<u8>, name: &str, data: &[u8], kind: u8) {
        out.extend(header(name, data.len(), kind));
        out.extend(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }

    fn archive() -> Vec<u8> {
        let mut a = vec![];
        member(&mut a, "dir/", b"", b'5');
        member(&mut a, "dir/a.txt", b"hello", b'0');
        let long = format!("dir/{}.bin", "n".repeat(150));
        member(&mut a, "././@LongLink", format!("{long}\0").as_bytes(), b'L');
        member(&mut a, "ignored", &[7u8; 1000], b'0');
        member(&mut a, "pax", b"20 path=dir/pax.txt\n", b'x');
        member(&mut a, "short", b"", b'0');
        member(&mut a, "link", b"", b'2');
        a.extend([0u8; BLOCK * 2]);
        a
    }

    fn read(bytes: &[u8], gzip: bool, piece: usize) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut r = TarReader::new(gzip);
        let mut events = vec![];
        for p in bytes.chunks(piece) {
            r.push(p, &mut events)?;
        }
        r.finish(&mut events)?;
        let mut files: Vec<(String, Vec<u8>)> = vec![];
        let mut open = false;
        for e in events {
            match e {
                Event::File { path, .. } => {
                    assert!(!open);
                    open = true;
                    files.push((path, vec![]));
                }
                Event::Data(d) => files.last_mut().unwrap().1.extend_from_slice(&d),
                Event::FileEnd => open = false,
            }
        }
        assert!(!open);
        Ok(files)
    }

    #[test]
    fn files_come_out_whole_however_the_input_is_cut() {
        let a = archive();
        let long = format!("dir/{}.bin", "n".repeat(150));
        let want =
            vec![("dir/a.txt".to_owned(), b"hello".to_vec()), (long, vec![7u8; 1000]), ("dir/pax.txt".into(), vec![])];
        for piece in [1, 7, 512, 100_000] {
            assert_eq!(read(&a, false, piece).unwrap(), want, "pieces of {piece}");
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&a).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(read(&gz, true, 13).unwrap(), want);
    }

    #[test]
    fn broken_archives_are_errors() {
        let mut a = archive();
        a[148] ^= 1;
        assert!(read(&a, false, 512).unwrap_err().contains("checksum"));
        let a = archive();
        assert!(read(&a[..1100], false, 512).is_err(), "cut inside a file");
        assert!(read(b"not gzip at all", true, 4).is_err());
        assert_eq!(read(&[], false, 1).unwrap(), vec![]);
    }
}
