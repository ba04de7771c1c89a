#!/usr/bin/python3
"""Cross-check a fetched msDS-ManagedPassword blob against Samba's exported gMSA keytab.

    /usr/bin/python3 check_gmsa_keys.py BLOB.bin KEYTAB SALT

Derives RC4-HMAC (MD4 of the UTF-16LE password), AES256 and AES128 (RFC 3962: PBKDF2-HMAC-SHA1,
4096 iterations, then DK(tkey, "kerberos")) from the blob's CURRENT password and compares them with
the keytab's entries. The password is UTF-16LE and may hold unpaired surrogates: those become
U+FFFD before UTF-8 encoding (as Windows and Samba do). Exit 0 iff every keytab enctype matches.

A test-environment helper only (uses python3-cryptography and Samba's md4); the project's own
implementation is Rust.
"""

import hashlib
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from samba.crypto import md4_hash_blob

ENCTYPES = {18: "aes256-cts-hmac-sha1-96", 17: "aes128-cts-hmac-sha1-96", 23: "rc4-hmac"}


def parse_blob(b: bytes) -> bytes:
    """Return the current password bytes (UTF-16LE, without the terminating NUL)."""
    version, _res, length, cur_off = struct.unpack_from("<HHIH", b)
    if version != 1 or length != len(b) or not 16 <= cur_off < len(b):
        raise SystemExit(f"not an MSDS-MANAGEDPASSWORD_BLOB (version {version}, length {length})")
    end = cur_off
    while end + 1 < len(b) and b[end:end + 2] != b"\0\0":
        end += 2
    return b[cur_off:end]


def parse_keytab(data: bytes):
    """Yield (principal, kvno, enctype, key) from an MIT keytab (format 0x0502)."""
    if data[:2] != b"\x05\x02":
        raise SystemExit("unsupported keytab format")
    pos = 2
    while pos + 4 <= len(data):
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if size <= 0:
            pos += -size
            continue
        rec = data[pos:pos + size]
        pos += size
        p = 0
        (ncomp,) = struct.unpack_from(">H", rec, p)
        p += 2
        (rlen,) = struct.unpack_from(">H", rec, p)
        p += 2
        realm = rec[p:p + rlen].decode()
        p += rlen
        comps = []
        for _ in range(ncomp):
            (clen,) = struct.unpack_from(">H", rec, p)
            p += 2
            comps.append(rec[p:p + clen].decode())
            p += clen
        p += 4 + 4  # name type, timestamp
        kvno8 = rec[p]
        p += 1
        (etype, klen) = struct.unpack_from(">HH", rec, p)
        p += 4
        key = rec[p:p + klen]
        p += klen
        kvno = struct.unpack_from(">I", rec, p)[0] if p + 4 <= len(rec) else kvno8
        yield "/".join(comps) + "@" + realm, kvno, etype, key


def nfold(data: bytes, nbytes: int) -> bytes:
    """RFC 3961 n-fold."""
    def rot13(b: bytes, nbits: int) -> bytes:
        n = len(b) * 8
        v = int.from_bytes(b, "big")
        nbits %= n
        v = ((v >> nbits) | (v << (n - nbits))) & ((1 << n) - 1)
        return v.to_bytes(len(b), "big")

    from math import gcd
    lcm = nbytes * len(data) // gcd(nbytes, len(data))
    big = b"".join(rot13(data, 13 * i) for i in range(lcm // len(data)))
    out = [0] * nbytes
    for off in range(0, lcm, nbytes):
        carry = 0
        chunk = big[off:off + nbytes]
        for i in range(nbytes - 1, -1, -1):
            s = out[i] + chunk[i] + carry
            out[i] = s & 0xFF
            carry = s >> 8
        # end-around carry
        i = nbytes - 1
        while carry:
            s = out[i] + carry
            out[i] = s & 0xFF
            carry = s >> 8
            i = (i - 1) % nbytes
    return bytes(out)


def aes_key(password_utf8: bytes, salt: bytes, keylen: int) -> bytes:
    tkey = hashlib.pbkdf2_hmac("sha1", password_utf8, salt, 4096, keylen)
    enc = Cipher(algorithms.AES(tkey), modes.ECB()).encryptor()
    block = nfold(b"kerberos", 16)
    out = b""
    while len(out) < keylen:
        block = enc.update(block)
        out += block
    return out[:keylen]


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    blob = open(sys.argv[1], "rb").read()
    pw16 = parse_blob(blob)
    lone = 0
    units = struct.unpack(f"<{len(pw16) // 2}H", pw16)
    i = 0
    while i < len(units):
        if 0xD800 <= units[i] <= 0xDBFF and i + 1 < len(units) and 0xDC00 <= units[i + 1] <= 0xDFFF:
            i += 2
            continue
        if 0xD800 <= units[i] <= 0xDFFF:
            lone += 1
        i += 1
    pw8 = pw16.decode("utf-16-le", errors="replace").encode("utf-8")
    salt = sys.argv[3].encode()
    derived = {
        23: md4_hash_blob(pw16),
        18: aes_key(pw8, salt, 32),
        17: aes_key(pw8, salt, 16),
    }
    print(f"blob: {len(blob)} bytes, password {len(pw16)} bytes UTF-16LE, "
          f"{lone} unpaired surrogate(s)")
    ok = True
    seen = 0
    for princ, kvno, etype, key in parse_keytab(open(sys.argv[2], "rb").read()):
        if etype not in derived:
            continue
        seen += 1
        match = derived[etype] == key
        ok &= match
        print(f"{princ} kvno {kvno} {ENCTYPES[etype]}: {'MATCH' if match else 'DIFFERENT'}")
    return 0 if ok and seen else 1


if __name__ == "__main__":
    sys.exit(main())
