//! The postcard wire encoding of a batch entry, written out by hand for
//! speed. It produces and accepts exactly the bytes `postcard` gives for
//! the entry struct (tests check this against postcard itself):
//! LEB128 varints for unsigned integers and lengths, zigzag varints for
//! signed ones, `0`/`1` tags for `Option`, length-prefixed bytes and str.

/// Appends `v` as a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub fn put_opt_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            put_bytes(out, b);
        }
    }
}

/// A cursor over encoded bytes. Every read is bounds-checked and returns
/// `None` on malformed input.
pub struct Wire<'a> {
    pub rest: &'a [u8],
}

impl<'a> Wire<'a> {
    pub fn new(buf: &'a [u8]) -> Wire<'a> {
        Wire { rest: buf }
    }

    /// A varint of a `bits`-bit unsigned integer (32 or 64).
    fn varint(&mut self, bits: u32) -> Option<u64> {
        let max_bytes = bits.div_ceil(7) as usize;
        // Most varints here (deltas, short lengths) are one byte.
        if let Some((&b, rest)) = self.rest.split_first() {
            if b < 0x80 {
                self.rest = rest;
                return Some(u64::from(b));
            }
        }
        let mut v = 0u64;
        for i in 0..max_bytes {
            let (&b, rest) = self.rest.split_first()?;
            self.rest = rest;
            // The last byte may only carry the bits the type has left
            // (postcard refuses more, and so do we).
            if i == max_bytes - 1 && u32::from(b) >= 1 << (bits - 7 * i as u32) {
                return None;
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    pub fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint(32)?).ok()
    }

    pub fn u64(&mut self) -> Option<u64> {
        self.varint(64)
    }

    pub fn i64(&mut self) -> Option<i64> {
        let z = self.u64()?;
        Some(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u64()?).ok()?;
        if len > self.rest.len() {
            return None;
        }
        let (b, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(b)
    }

    pub fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    pub fn opt_bytes(&mut self) -> Option<Option<&'a [u8]>> {
        let (&tag, rest) = self.rest.split_first()?;
        self.rest = rest;
        match tag {
            0 => Some(None),
            1 => Some(Some(self.bytes()?)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_postcard() {
        for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, postcard::to_allocvec(&v).unwrap(), "{v}");
            assert_eq!(Wire::new(&out).u64(), Some(v));
        }
        for v in [0i64, -1, 1, -64, 64, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            put_zigzag(&mut out, v);
            assert_eq!(out, postcard::to_allocvec(&v).unwrap(), "{v}");
            assert_eq!(Wire::new(&out).i64(), Some(v));
        }
    }

    #[test]
    fn malformed_input_is_none_not_a_panic() {
        assert_eq!(Wire::new(&[0x80; 11]).u64(), None);
        assert_eq!(Wire::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]).u32(), None);
        assert_eq!(Wire::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]).u32(), Some(u32::MAX));
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(Wire::new(&too_big).u64(), None);
        too_big[9] = 0x01;
        assert_eq!(Wire::new(&too_big).u64(), Some(u64::MAX));
        assert_eq!(Wire::new(&[5, 1, 2]).bytes(), None);
        assert_eq!(Wire::new(&[2, 0xff, 0xfe]).str(), None);
        assert_eq!(Wire::new(&[2]).opt_bytes(), None);
        assert_eq!(Wire::new(&[]).opt_bytes(), None);
    }
}
