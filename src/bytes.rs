//! Little-endian byte reading and writing for the compact binary forms: the compiled model
//! ([`crate::model::binary`]), the visitor state and the events the browser hands to the kernel.
//!
//! The reader never panics and never reads past its input. A read past the end, or a value out of
//! bounds, marks the reader failed and gives a default value; [`Reader::finish`] tells whether
//! everything read was sound. (Reading on with defaults instead of returning early keeps the
//! browser's kernel small: no early-exit path has to drop half-built values.)

use alloc::string::String;
use alloc::vec::Vec;

/// Reads values from the front of a byte slice.
pub struct Reader<'a> {
    rest: &'a [u8],
    failed: bool,
    /// Texts are known to be UTF-8 (see [`Reader::trusted`]).
    trusted: bool,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: bytes,
            failed: false,
            trusted: false,
        }
    }

    /// A reader over bytes that a reader of [`Reader::new`] already read without failing, with
    /// the same sequence of reads from the same start: every text it reads is one that was
    /// found to be UTF-8, so texts are not checked again.
    ///
    /// # Safety
    ///
    /// Every text read through the returned reader must lie where such an earlier, checked
    /// read found UTF-8 (the bytes cannot have changed since: they are borrowed).
    pub unsafe fn trusted(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: bytes,
            failed: false,
            trusted: true,
        }
    }

    /// True when a read went past the end or found a value out of bounds.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Marks the input as unsound (a value out of bounds).
    pub fn fail(&mut self) {
        self.failed = true;
        self.rest = &[];
    }

    /// True when every read was sound and every byte was read.
    pub fn finish(self) -> bool {
        !self.failed && self.rest.is_empty()
    }

    /// The next `n` bytes (empty, and failed, when fewer are left).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        match (self.rest.get(..n), self.rest.get(n..)) {
            (Some(head), Some(tail)) => {
                self.rest = tail;
                head
            }
            _ => {
                self.fail();
                &[]
            }
        }
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        self.take(N).try_into().unwrap_or([0; N])
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        let [b] = self.array();
        b
    }

    /// A `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// A `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// An `i32`.
    pub fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.array())
    }

    /// An `i64`.
    pub fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.array())
    }

    /// An `f64`.
    pub fn f64(&mut self) -> f64 {
        f64::from_le_bytes(self.array())
    }

    /// A boolean written as one byte, 0 or 1.
    pub fn bool(&mut self) -> bool {
        match self.u8() {
            0 => false,
            1 => true,
            _ => {
                self.fail();
                false
            }
        }
    }

    /// Text: a `u16` byte length, then UTF-8, borrowed from the bytes.
    pub fn text_ref(&mut self) -> &'a str {
        let n = usize::from(self.u16());
        let bytes = self.take(n);
        if self.trusted && !self.failed {
            // SAFETY: a trusted reader reads only texts that a checked read found to be UTF-8
            // (see `Reader::trusted`), and `take` gave exactly those bytes: it has not failed.
            return unsafe { core::str::from_utf8_unchecked(bytes) };
        }
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(_) => {
                self.fail();
                ""
            }
        }
    }

    /// Text: a `u16` byte length, then UTF-8.
    pub fn text(&mut self) -> String {
        String::from(self.text_ref())
    }

    /// A value present when the flag byte before it is 1.
    pub fn optional<T>(&mut self, read: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.bool() {
            Some(read(self))
        } else {
            None
        }
    }

    /// A list: a `u16` count, then the items. A count larger than the bytes left fails at once,
    /// so that a damaged count cannot ask for a huge allocation.
    pub fn list<T>(&mut self, read: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = usize::from(self.u16());
        self.items(n, read)
    }

    /// `n` items (at most one per byte left).
    pub fn items<T>(&mut self, n: usize, mut read: impl FnMut(&mut Self) -> T) -> Vec<T> {
        if n > self.rest.len() {
            self.fail();
            return Vec::new();
        }
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(read(self));
        }
        items
    }
}

/// Appends values to a byte vector, in the layout [`Reader`] reads.
#[derive(Default)]
pub struct Writer {
    /// The bytes written so far.
    pub bytes: Vec<u8>,
    /// Set when a text or a list was too long for its length field (it was cut).
    pub overflow: bool,
}

impl Writer {
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    /// A `u16`.
    pub fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// A `u32`.
    pub fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// An `i32`.
    pub fn i32(&mut self, v: i32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// An `i64`.
    pub fn i64(&mut self, v: i64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// An `f64`.
    pub fn f64(&mut self, v: f64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// A boolean as one byte.
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    /// Text: a `u16` byte length, then UTF-8, cut to 65,535 bytes on a character boundary
    /// (and [`Writer::overflow`] set).
    pub fn text(&mut self, s: &str) {
        self.overflow |= s.len() > usize::from(u16::MAX);
        let mut end = s.len().min(usize::from(u16::MAX));
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let s = s.get(..end).unwrap_or_default();
        self.u16(end as u16);
        self.bytes.extend_from_slice(s.as_bytes());
    }

    /// An optional value: a flag byte, then the value when present.
    pub fn optional<T>(&mut self, v: Option<T>, write: impl FnOnce(&mut Self, T)) {
        self.bool(v.is_some());
        if let Some(v) = v {
            write(self, v);
        }
    }

    /// A list of at most 65,535 items: a `u16` count, then the items (more are cut, and
    /// [`Writer::overflow`] set).
    pub fn list<'a, T: 'a>(
        &mut self,
        items: impl ExactSizeIterator<Item = &'a T>,
        mut write: impl FnMut(&mut Self, &'a T),
    ) {
        self.overflow |= items.len() > usize::from(u16::MAX);
        let n = items.len().min(usize::from(u16::MAX));
        self.u16(n as u16);
        for item in items.take(n) {
            write(self, item);
        }
    }
}

/// FNV-1a, 32 bits: the compiled model's checksum.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
