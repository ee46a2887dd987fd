//! Short fingerprints of file contents (64-bit FNV-1a), written into a model's `training`
//! section so that `eval` can say when a file changed since the model was trained. Not a
//! cryptographic hash: it detects edits, not forgeries.

/// A running fingerprint: feed it bytes in any chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(u64);

impl Default for Fingerprint {
    fn default() -> Fingerprint {
        Fingerprint(0xcbf2_9ce4_8422_2325)
    }
}

impl Fingerprint {
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// `fnv1a64:` and 16 hex digits.
    pub fn text(&self) -> String {
        format!("fnv1a64:{:016x}", self.0)
    }
}

/// The fingerprint of `bytes`.
pub fn of(bytes: &[u8]) -> String {
    let mut f = Fingerprint::default();
    f.update(bytes);
    f.text()
}

/// A reader that fingerprints what passes through it.
pub struct Reading<R> {
    inner: R,
    pub fingerprint: Fingerprint,
}

impl<R> Reading<R> {
    pub fn new(inner: R) -> Reading<R> {
        Reading {
            inner,
            fingerprint: Fingerprint::default(),
        }
    }
}

impl<R: std::io::Read> std::io::Read for Reading<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.fingerprint.update(buf.get(..n).unwrap_or(&[]));
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn chunks_do_not_matter() {
        let mut r = Reading::new(&b"hello, world"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(r.fingerprint.text(), of(b"hello, world"));
        assert_eq!(of(b""), "fnv1a64:cbf29ce484222325");
        assert_ne!(of(b"a"), of(b"b"));
    }
}
