//! The n-fold operation of RFC 3961 §5.1.

/// Folds `input` to `out_len_bytes` bytes (RFC 3961 §5.1 "n-fold", with n = 8·`out_len_bytes`).
///
/// The input is repeated, each copy rotated right by 13 bits more than the previous one, until
/// the length is a common multiple of the input and output lengths; the output-sized chunks
/// are then added with one's-complement (end-around carry) addition.
///
/// Memory use is `O(out_len_bytes)`; time is `O(lcm(input.len(), out_len_bytes))`. An empty
/// input folds to all zero bytes.
///
/// ```
/// use krb5_proto::crypto::nfold;
///
/// assert_eq!(nfold(b"012345", 8), [0xbe, 0x07, 0x26, 0x31, 0x27, 0x6b, 0x19, 0x55]);
/// ```
pub fn nfold(input: &[u8], out_len_bytes: usize) -> Vec<u8> {
    let l = input.len();
    let n = out_len_bytes;
    let mut acc = vec![0u8; n];
    if l == 0 || n == 0 {
        return acc;
    }
    let total = lcm(l, n);
    let mut chunk = vec![0u8; n];
    let mut pos = 0usize;
    while pos < total {
        for (off, b) in chunk.iter_mut().enumerate() {
            let p = pos + off;
            *b = rotated_byte(input, p / l, p % l);
        }
        ones_complement_add(&mut acc, &chunk);
        pos += n;
    }
    acc
}

/// Byte `k` of `input` rotated right by `13 * copy` bits (as one big-endian bit string).
fn rotated_byte(input: &[u8], copy: usize, k: usize) -> u8 {
    let l = input.len();
    let bits = 8 * l;
    // Reduce the rotation modulo the bit length first to avoid any overflow.
    let r = (13 * (copy % bits)) % bits;
    let q = r / 8;
    let s = r % 8;
    let hi = input.get((k + l - q) % l).copied().unwrap_or(0);
    let lo = input.get((k + 2 * l - q - 1) % l).copied().unwrap_or(0);
    if s == 0 {
        hi
    } else {
        (hi >> s) | (lo << (8 - s))
    }
}

/// `acc += x` as big-endian numbers in one's-complement arithmetic (end-around carry).
fn ones_complement_add(acc: &mut [u8], x: &[u8]) {
    let mut carry = 0u16;
    for (a, b) in acc.iter_mut().zip(x).rev() {
        let s = u16::from(*a) + u16::from(*b) + carry;
        *a = (s & 0xff) as u8;
        carry = s >> 8;
    }
    while carry != 0 {
        for a in acc.iter_mut().rev() {
            let s = u16::from(*a) + carry;
            *a = (s & 0xff) as u8;
            carry = s >> 8;
            if carry == 0 {
                break;
            }
        }
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

fn lcm(a: usize, b: usize) -> usize {
    (a / gcd(a, b)).saturating_mul(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3961_examples() {
        assert_eq!(
            nfold(b"kerberos", 32),
            [
                0x6b, 0x65, 0x72, 0x62, 0x65, 0x72, 0x6f, 0x73, 0x7b, 0x9b, 0x5b, 0x2b, 0x93, 0x13,
                0x2b, 0x93, 0x5c, 0x9b, 0xdc, 0xda, 0xd9, 0x5c, 0x98, 0x99, 0xc4, 0xca, 0xe4, 0xde,
                0xe6, 0xd6, 0xca, 0xe4
            ]
        );
        assert_eq!(nfold(b"", 4), [0, 0, 0, 0]);
        assert!(nfold(b"abc", 0).is_empty());
    }
}
