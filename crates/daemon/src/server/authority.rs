//! Any HTTP/2 `:authority` accepted on the Unix socket.
//!
//! On a Unix socket `:authority` carries no meaning, and clients send what they like: grpc-go
//! sends `localhost`, grpc-core (C++, Python, Ruby, PHP) the socket path percent-encoded
//! (`%2Fvar%2Fcredentials-fetcher%2Fsocket%2Fcredentials_fetcher.sock`), grpc-java the raw path.
//! The `h2` crate under tonic parses `:authority` as an RFC 3986 authority and resets the stream
//! with `PROTOCOL_ERROR` when it is not one (hyperium/h2 `server.rs`, `convert_poll_message`;
//! the fix, h2 PR #487, is not merged), which grpc-core reports as
//! `INTERNAL: Received RST_STREAM with error code 1`.
//!
//! [`AuthorityFix`] wraps each accepted connection below h2 and looks at what the client sends.
//! The connection's first header block (HEADERS + CONTINUATION frames) decides, read by
//! [`first_block_authority_ok`] (a walk over the HPACK representations that decodes only
//! `:authority`'s value), or HPACK-decoded when that cannot tell:
//! - when its `:authority` is a valid URI authority (grpc-go, the ECS agent, tonic: `localhost` or
//!   a host name), the block and everything after it pass through untouched, and the layer costs
//!   nothing more on that connection. A client keeps one `:authority` per channel; a later
//!   request on the same connection with an unacceptable one is reset by h2, as without this
//!   layer.
//! - otherwise (grpc-core, grpc-java: the socket path) every header block of the connection is
//!   decoded with the client's dynamic table, an `:authority` that is not a valid URI authority
//!   becomes `localhost`, and the block is re-encoded with literals only (no dynamic-table
//!   insertions, so h2's decoder table stays empty and in step).
//!
//! Every other frame, and everything the server sends, passes through unchanged. A connection
//! that does not start with the HTTP/2 preface is passed through as is.
//!
//! (Deciding once per connection, without a decoder, matters: loona-hpack's decoder builds a
//! Huffman table for every Huffman-coded string, which made decoding every block cost a warm lease
//! add about 0.4 ms, and then still cost every new connection its first block.)
//!
//! ```
//! use credentials_fetcherd::server::authority::rewrite_client_bytes;
//! // The HTTP/2 preface, then a HEADERS frame (stream 1, END_HEADERS) whose block is
//! // ":authority: a%2Fb" (literal, indexed name 1).
//! let mut input = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
//! let block = [0x01, 5, b'a', b'%', b'2', b'F', b'b'];
//! input.extend_from_slice(&[0, 0, block.len() as u8, 1, 4, 0, 0, 0, 1]);
//! input.extend_from_slice(&block);
//! let out = rewrite_client_bytes(&input).unwrap();
//! assert!(out.windows(9).any(|w| w == b"localhost"));
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, ReadBuf};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER_LEN: usize = 9;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The largest frame h2 accepts before SETTINGS say otherwise (tonic keeps the default).
const MAX_FRAME: usize = 16_384;
/// The largest header block (encoded, all fragments) and header list (decoded) this layer
/// handles; hyper's server refuses header lists over 16 KiB anyway.
const MAX_BLOCK: usize = 64 * 1024;
/// HPACK's initial dynamic table size (SETTINGS_HEADER_TABLE_SIZE, which h2 leaves at 4096).
const TABLE_SIZE: usize = 4096;
/// What replaces an `:authority` that is not a URI authority.
const REPLACEMENT: &[u8] = b"localhost";

/// A connection whose client-to-server HTTP/2 bytes get their `:authority` made acceptable to h2
/// (see the module documentation). Writes pass through.
pub struct AuthorityFix<S> {
    inner: S,
    rewriter: Rewriter,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<S> AuthorityFix<S> {
    /// Wraps an accepted connection.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            rewriter: Rewriter::new(),
            out: Vec::new(),
            out_pos: 0,
            eof: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthorityFix<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let mut tmp = [0u8; 8192];
            let mut rb = ReadBuf::new(&mut tmp);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                this.eof = true;
                // A truncated frame goes to h2 as it came, for h2 to judge.
                this.rewriter.flush_partial(&mut this.out);
                continue;
            }
            this.rewriter.feed(rb.filled(), &mut this.out)?;
        }
    }
}

forward_writes_to_inner!(AuthorityFix);

impl<S> std::fmt::Debug for AuthorityFix<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityFix").finish_non_exhaustive()
    }
}

/// Rewrites a whole client byte stream at once (for tests and examples).
pub fn rewrite_client_bytes(input: &[u8]) -> io::Result<Vec<u8>> {
    let mut r = Rewriter::new();
    let mut out = Vec::new();
    r.feed(input, &mut out)?;
    r.flush_partial(&mut out);
    Ok(out)
}

enum State {
    /// Matching the 24-byte client preface; `usize` bytes seen.
    Preface(usize),
    /// Between frames, or inside one.
    Frames,
    /// Not HTTP/2 with prior knowledge: bytes go through untouched.
    Passthrough,
}

/// A header block being collected across HEADERS and CONTINUATION frames.
struct Block {
    stream: u32,
    end_stream: bool,
    fragment: Vec<u8>,
    /// The frames as they came (kept only for the connection's first block, which goes out as
    /// it came when its `:authority` is acceptable).
    raw: Vec<u8>,
}

/// What happens to the connection's header blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocks {
    /// No header block seen yet: the first decides.
    Undecided,
    /// The first block's `:authority` was not acceptable: every block is re-encoded.
    Rewrite,
}

struct Rewriter {
    state: State,
    /// Bytes of an incomplete frame header, or of a whole HEADERS/CONTINUATION frame.
    pending: Vec<u8>,
    /// Payload bytes of the current pass-through frame still to forward.
    skip: usize,
    block: Option<Block>,
    blocks: Blocks,
    decoder: loona_hpack::Decoder<'static>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("HTTP/2: {}", msg.into()),
    )
}

impl Rewriter {
    fn new() -> Self {
        let mut decoder = loona_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(TABLE_SIZE);
        Self {
            state: State::Preface(0),
            pending: Vec::new(),
            skip: 0,
            block: None,
            blocks: Blocks::Undecided,
            decoder,
        }
    }

    /// On end of input: whatever is buffered goes out raw.
    fn flush_partial(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
    }

    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        while !input.is_empty() {
            match self.state {
                State::Passthrough => {
                    out.extend_from_slice(input);
                    return Ok(());
                }
                State::Preface(seen) => {
                    let n = (PREFACE.len() - seen).min(input.len());
                    if input[..n] != PREFACE[seen..seen + n] {
                        out.extend_from_slice(&PREFACE[..seen]);
                        self.state = State::Passthrough;
                        continue;
                    }
                    input = &input[n..];
                    if seen + n == PREFACE.len() {
                        out.extend_from_slice(PREFACE);
                        self.state = State::Frames;
                    } else {
                        self.state = State::Preface(seen + n);
                    }
                }
                State::Frames => {
                    if self.skip > 0 {
                        let n = self.skip.min(input.len());
                        out.extend_from_slice(&input[..n]);
                        self.skip -= n;
                        input = &input[n..];
                        continue;
                    }
                    if self.pending.len() < FRAME_HEADER_LEN {
                        let n = (FRAME_HEADER_LEN - self.pending.len()).min(input.len());
                        self.pending.extend_from_slice(&input[..n]);
                        input = &input[n..];
                        if self.pending.len() < FRAME_HEADER_LEN {
                            continue;
                        }
                    }
                    let h = &self.pending[..FRAME_HEADER_LEN];
                    let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                    let kind = h[3];
                    if kind != HEADERS && kind != CONTINUATION {
                        if self.block.is_some() {
                            return Err(bad(
                                "a frame other than CONTINUATION inside a header block",
                            ));
                        }
                        out.append(&mut self.pending);
                        self.skip = len;
                        continue;
                    }
                    if len > MAX_BLOCK {
                        return Err(bad(format!("a {len}-byte header frame")));
                    }
                    let have = self.pending.len() - FRAME_HEADER_LEN;
                    let n = (len - have).min(input.len());
                    self.pending.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if self.pending.len() == FRAME_HEADER_LEN + len {
                        let frame = std::mem::take(&mut self.pending);
                        self.header_frame(&frame, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// One whole HEADERS or CONTINUATION frame.
    fn header_frame(&mut self, frame: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let (kind, flags) = (frame[3], frame[4]);
        let stream = u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]) & 0x7fff_ffff;
        let mut payload = &frame[FRAME_HEADER_LEN..];
        if kind == HEADERS {
            if self.block.is_some() {
                return Err(bad("HEADERS inside a header block"));
            }
            if flags & PADDED != 0 {
                let (&pad, rest) = payload
                    .split_first()
                    .ok_or_else(|| bad("PADDED HEADERS without a pad length"))?;
                let keep = rest
                    .len()
                    .checked_sub(usize::from(pad))
                    .ok_or_else(|| bad("padding longer than the frame"))?;
                payload = &rest[..keep];
            }
            if flags & PRIORITY != 0 {
                payload = payload
                    .get(5..)
                    .ok_or_else(|| bad("PRIORITY HEADERS too short"))?;
            }
            self.block = Some(Block {
                stream,
                end_stream: flags & END_STREAM != 0,
                fragment: Vec::new(),
                raw: Vec::new(),
            });
        }
        let block = self
            .block
            .as_mut()
            .ok_or_else(|| bad("CONTINUATION without HEADERS"))?;
        if block.stream != stream {
            return Err(bad("CONTINUATION of another stream"));
        }
        if block.fragment.len() + payload.len() > MAX_BLOCK {
            return Err(bad("header block too large"));
        }
        block.fragment.extend_from_slice(payload);
        if self.blocks == Blocks::Undecided {
            // Empty CONTINUATION frames grow `raw` without growing `fragment`: bound it too.
            if block.raw.len() + frame.len() > 2 * MAX_BLOCK {
                return Err(bad("header block too large"));
            }
            block.raw.extend_from_slice(frame);
        }
        if flags & END_HEADERS == 0 {
            return Ok(());
        }
        let Some(block) = self.block.take() else {
            return Ok(());
        };
        self.reencode(&block, out)
    }

    /// Decodes a complete block, fixes `:authority`, writes HEADERS (+ CONTINUATION) frames.
    fn reencode(&mut self, block: &Block, out: &mut Vec<u8>) -> io::Result<()> {
        if self.blocks == Blocks::Undecided
            && first_block_authority_ok(&block.fragment) == Some(true)
        {
            // The common case (tonic, grpc-go, the ECS agent), told without decoding the block.
            out.extend_from_slice(&block.raw);
            self.state = State::Passthrough;
            return Ok(());
        }
        let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut size = 0usize;
        self.decoder
            .decode_with_cb(&block.fragment, |name, value| {
                size = size.saturating_add(name.len() + value.len() + 32);
                if size <= MAX_BLOCK {
                    fields.push((name.into_owned(), value.into_owned()));
                }
            })
            .map_err(|e| bad(format!("HPACK: {e:?}")))?;
        if size > MAX_BLOCK {
            return Err(bad(format!("a {size}-byte header list")));
        }
        if self.blocks == Blocks::Undecided {
            let acceptable = fields
                .iter()
                .all(|(name, value)| name != b":authority" || valid_authority(value));
            if acceptable {
                // h2 decodes this block and all that follow with the client's own dynamic
                // table: nothing more to look at on this connection.
                out.extend_from_slice(&block.raw);
                self.state = State::Passthrough;
                return Ok(());
            }
            self.blocks = Blocks::Rewrite;
        }
        let mut encoded = Vec::with_capacity(block.fragment.len() + 64);
        for (name, value) in &fields {
            let value: &[u8] = if name == b":authority" && !valid_authority(value) {
                tracing::debug!(
                    authority = %String::from_utf8_lossy(value),
                    "HTTP/2 :authority is not a URI authority; serving it as localhost"
                );
                REPLACEMENT
            } else {
                value
            };
            // Literal Header Field without Indexing, new name (RFC 7541 6.2.2), no Huffman.
            encoded.push(0);
            literal(name, &mut encoded);
            literal(value, &mut encoded);
        }
        let mut chunks = encoded.chunks(MAX_FRAME);
        let mut first = true;
        // An empty block still needs its HEADERS frame.
        let empty: &[u8] = &[];
        let mut next = chunks.next().or(Some(empty));
        while let Some(chunk) = next {
            next = chunks.next();
            let mut flags = 0;
            if next.is_none() {
                flags |= END_HEADERS;
            }
            let kind = if first {
                if block.end_stream {
                    flags |= END_STREAM;
                }
                HEADERS
            } else {
                CONTINUATION
            };
            first = false;
            let len = chunk.len();
            out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
            out.extend_from_slice(&block.stream.to_be_bytes());
            out.extend_from_slice(chunk);
        }
        Ok(())
    }
}

/// HPACK's static table (RFC 7541 Appendix A) has 61 entries; index 1 is `:authority`.
const STATIC_ENTRIES: usize = 61;
const AUTHORITY_INDEX: usize = 1;
/// The longest Huffman-coded `:authority` the quick look decodes (a DNS name is at most 253
/// octets); a longer one is left to the full decoder.
const MAX_QUICK_AUTHORITY: usize = 256;

/// Whether every `:authority` in a connection's first header block is acceptable to h2, told by
/// walking the HPACK representations (RFC 7541 6) and decoding only `:authority`'s value:
/// `Some(true)` when all are acceptable, `Some(false)` when one is not, `None` when the quick
/// look cannot tell (a dynamic-table reference, a malformed or truncated block, a long
/// Huffman-coded `:authority`). Only `Some(true)` is acted on; the rest goes to the full decoder.
///
/// In a connection's first block the dynamic table is empty, so a field that names
/// `:authority` does it by static index 1 or by a literal name; the other fields' strings are
/// skipped without being decoded. (A decoder per connection would build loona-hpack's Huffman
/// table for every Huffman-coded string of the block.)
#[doc(hidden)]
pub fn first_block_authority_ok(mut block: &[u8]) -> Option<bool> {
    let mut ok = true;
    while let Some(&first) = block.first() {
        let name_index = if first & 0x80 != 0 {
            // Indexed Header Field (6.1): a whole static entry; `:authority`'s has no value.
            match hpack_int(&mut block, 7)? {
                0 => return None,
                AUTHORITY_INDEX => ok &= valid_authority(b""),
                i if i > STATIC_ENTRIES => return None,
                _ => {}
            }
            continue;
        } else if first & 0xc0 == 0x40 {
            // Literal with Incremental Indexing (6.2.1).
            hpack_int(&mut block, 6)?
        } else if first & 0xe0 == 0x20 {
            // Dynamic Table Size Update (6.3); one above the allowed size is the decoder's to refuse.
            if hpack_int(&mut block, 5)? > TABLE_SIZE {
                return None;
            }
            continue;
        } else {
            // Literal without Indexing / Never Indexed (6.2.2, 6.2.3).
            hpack_int(&mut block, 4)?
        };
        let is_authority = match name_index {
            0 => {
                let (huffman, name) = hpack_string(&mut block)?;
                if huffman {
                    // `:authority` is 10 octets; its Huffman code is at least 7.
                    name.len() <= 10 && huffman_decode(name)? == b":authority"
                } else {
                    name == b":authority"
                }
            }
            AUTHORITY_INDEX => true,
            i if i > STATIC_ENTRIES => return None,
            _ => false,
        };
        let (huffman, value) = hpack_string(&mut block)?;
        if is_authority {
            ok &= if huffman {
                if value.len() > MAX_QUICK_AUTHORITY {
                    return None;
                }
                valid_authority(&huffman_decode(value)?)
            } else {
                valid_authority(value)
            };
        }
    }
    Some(ok)
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 5.1); `None` when truncated or too large.
fn hpack_int(block: &mut &[u8], n: u8) -> Option<usize> {
    let (&first, rest) = block.split_first()?;
    *block = rest;
    let max = (1usize << n) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Some(value);
    }
    for shift in [0u32, 7, 14, 21] {
        let (&b, rest) = block.split_first()?;
        *block = rest;
        value += usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// An HPACK string literal (RFC 7541 5.2): whether it is Huffman-coded, and its octets.
fn hpack_string<'a>(block: &mut &'a [u8]) -> Option<(bool, &'a [u8])> {
    let huffman = block.first()? & 0x80 != 0;
    let len = hpack_int(block, 7)?;
    if len > block.len() {
        return None;
    }
    let (s, rest) = block.split_at(len);
    *block = rest;
    Some((huffman, s))
}

fn huffman_decode(s: &[u8]) -> Option<Vec<u8>> {
    thread_local! {
        // Built once per thread, not once per string.
        static HUFFMAN: std::cell::RefCell<loona_hpack::huffman::HuffmanDecoder> =
            std::cell::RefCell::new(loona_hpack::huffman::HuffmanDecoder::new());
    }
    HUFFMAN.with(|d| d.borrow_mut().decode(s).ok())
}

fn literal(s: &[u8], out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = loona_hpack::encoder::encode_integer_into(s.len(), 7, 0, out);
    out.extend_from_slice(s);
}

/// Whether h2 accepts `v` as `:authority` (the `http` crate's parser, which h2 uses).
fn valid_authority(v: &[u8]) -> bool {
    tonic::codegen::http::uri::Authority::try_from(v).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    type Fields = Vec<(Vec<u8>, Vec<u8>)>;

    /// (type, flags, stream, decoded header list or the raw payload as one field name).
    fn decode_frames(bytes: &[u8]) -> Vec<(u8, u8, u32, Fields)> {
        let mut d = loona_hpack::Decoder::new();
        let mut rest = bytes.strip_prefix(PREFACE).unwrap();
        let mut out = Vec::new();
        let mut block = Vec::new();
        while !rest.is_empty() {
            let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            let (kind, flags) = (rest[3], rest[4]);
            let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]);
            let payload = &rest[9..9 + len];
            if kind == HEADERS || kind == CONTINUATION {
                block.extend_from_slice(payload);
                if flags & END_HEADERS != 0 {
                    out.push((kind, flags, stream, d.decode(&block).unwrap()));
                    block.clear();
                }
            } else {
                out.push((kind, flags, stream, vec![(payload.to_vec(), Vec::new())]));
            }
            rest = &rest[9 + len..];
        }
        out
    }

    #[test]
    fn grpc_core_authority_becomes_localhost_and_the_dynamic_table_stays_in_step() {
        // Two requests as grpc-core encodes them: the first inserts its fields into the
        // dynamic table, the second refers to them by index.
        let path: &[u8] = b"/credentialsfetcher.CredentialsFetcherService/HealthCheck";
        let authority: &[u8] = b"%2Ftmp%2Fcf.sock";
        let fields: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path),
            (b":authority", authority),
        ];
        // :method POST and :scheme http from the static table, then :path and :authority as
        // literals with incremental indexing (indexed names 4 and 1, so dynamic entries 63, 62).
        let mut b1 = vec![0x83, 0x86, 0x44, path.len() as u8];
        b1.extend_from_slice(path);
        b1.extend_from_slice(&[0x41, authority.len() as u8]);
        b1.extend_from_slice(authority);
        let b2 = [0x83, 0x86, 0x80 | 63, 0x80 | 62];
        let mut input = PREFACE.to_vec();
        input.extend(frame(0x4, 0, 0, &[])); // SETTINGS
        // The first block split over HEADERS (padded, with priority) and a CONTINUATION.
        let mut p = vec![2u8, 0, 0, 0, 0, 16];
        p.extend_from_slice(&b1[..5]);
        p.extend_from_slice(&[0, 0]);
        input.extend(frame(HEADERS, PADDED | PRIORITY, 1, &p));
        input.extend(frame(CONTINUATION, END_HEADERS, 1, &b1[5..]));
        input.extend(frame(0x0, END_STREAM, 1, b"\0\0\0\0\0")); // DATA
        input.extend(frame(HEADERS, END_HEADERS | END_STREAM, 3, &b2));
        // Fed byte by byte: frame boundaries anywhere.
        let mut r = Rewriter::new();
        let mut out = Vec::new();
        for b in &input {
            r.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        let frames = decode_frames(&out);
        assert_eq!(frames.len(), 4);
        let want: Fields = fields
            .iter()
            .map(|(n, v)| {
                let v: &[u8] = if *n == b":authority" { b"localhost" } else { v };
                (n.to_vec(), v.to_vec())
            })
            .collect();
        assert_eq!(frames[1].0, HEADERS);
        assert_eq!(frames[1].1, END_HEADERS);
        assert_eq!(frames[1].3, want);
        assert_eq!(frames[2].0, 0);
        assert_eq!(frames[3].1, END_HEADERS | END_STREAM);
        assert_eq!(frames[3].2, 3);
        assert_eq!(frames[3].3, want);
    }

    /// Huffman codes (RFC 7541 Appendix B) of strings the tests need; checked against
    /// loona-hpack's decoder in `huffman_vectors`.
    const HUFFMAN_LOCALHOST: &[u8] = &[0xa0, 0xe4, 0x1d, 0x13, 0x9d, 0x09];
    const HUFFMAN_SOCKET_PATH: &[u8] = &[
        0x54, 0x58, 0x53, 0x4d, 0x6a, 0x8b, 0x09, 0x25, 0x5d, 0x07, 0x27, 0x5f,
    ];
    const HUFFMAN_AUTHORITY_NAME: &[u8] = &[0xb8, 0x3b, 0x53, 0x39, 0xec, 0x32, 0x7d, 0x7f];

    #[test]
    fn huffman_vectors() {
        assert_eq!(huffman_decode(HUFFMAN_LOCALHOST).unwrap(), b"localhost");
        assert_eq!(
            huffman_decode(HUFFMAN_SOCKET_PATH).unwrap(),
            b"%2Ftmp%2Fcf.sock"
        );
        assert_eq!(
            huffman_decode(HUFFMAN_AUTHORITY_NAME).unwrap(),
            b":authority"
        );
    }

    /// The quick look agrees with the full decoder wherever it answers.
    fn quick_and_full(block: &[u8]) -> Option<bool> {
        let quick = first_block_authority_ok(block);
        let full = loona_hpack::Decoder::new()
            .decode(block)
            .ok()
            .map(|fields| {
                fields
                    .iter()
                    .all(|(n, v)| n != b":authority" || valid_authority(v))
            });
        if quick.is_some() {
            assert_eq!(quick, full, "{block:02x?}");
        }
        quick
    }

    #[test]
    fn the_first_block_is_judged_without_a_decoder() {
        // RFC 7541 C.4.1: GET http://www.example.com/, :authority Huffman-coded (literal with
        // incremental indexing, indexed name 1).
        let rfc = [
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff,
        ];
        assert_eq!(quick_and_full(&rfc), Some(true));
        // The C.4.2 request refers to the dynamic table: not the quick look's to judge.
        assert_eq!(
            quick_and_full(&[0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8]),
            None
        );
        let huffman = |prefix: &[u8], name: Option<&[u8]>, value: &[u8]| {
            let mut b = prefix.to_vec();
            if let Some(name) = name {
                b.extend_from_slice(&[0x80 | name.len() as u8]);
                b.extend_from_slice(name);
            }
            b.push(0x80 | value.len() as u8);
            b.extend_from_slice(value);
            b
        };
        let n = Some(HUFFMAN_AUTHORITY_NAME);
        for (block, want) in [
            // grpc-go: literal with indexing, indexed name, Huffman "localhost".
            (
                huffman(&[0x83, 0x86, 0x41], None, HUFFMAN_LOCALHOST),
                Some(true),
            ),
            // grpc-core: the socket path, Huffman-coded.
            (
                huffman(&[0x83, 0x41], None, HUFFMAN_SOCKET_PATH),
                Some(false),
            ),
            // Literal names (Huffman-coded), without indexing and never indexed.
            (huffman(&[0x00], n, HUFFMAN_LOCALHOST), Some(true)),
            (huffman(&[0x10], n, HUFFMAN_SOCKET_PATH), Some(false)),
            (huffman(&[0x20, 0x40], n, HUFFMAN_SOCKET_PATH), Some(false)),
            // Indexed field 1: `:authority` with an empty value.
            (vec![0x81], Some(false)),
            // No `:authority` at all, only static entries and a table size update.
            (vec![0x3f, 0xe1, 0x1f, 0x82, 0x84, 0x86], Some(true)),
            // Truncated value, Huffman padding over 7 bits, table size over 4096.
            (vec![0x41, 0x85, 0xa0], None),
            (
                huffman(&[0x41], None, &[0xa0, 0xe4, 0x1d, 0x13, 0x9d, 0x09, 0xff]),
                None,
            ),
            (vec![0x3f, 0xe2, 0x1f], None),
        ] {
            assert_eq!(quick_and_full(&block), want, "{block:02x?}");
        }
        // Through the rewriter: the quick "yes" passes the connection through as it came, the
        // "no" rewrites it.
        let mut input = PREFACE.to_vec();
        input.extend(frame(HEADERS, END_HEADERS, 1, &rfc));
        assert_eq!(rewrite_client_bytes(&input).unwrap(), input);
        let mut input = PREFACE.to_vec();
        let core = huffman(&[0x83, 0x86, 0x84, 0x41], None, HUFFMAN_SOCKET_PATH);
        input.extend(frame(HEADERS, END_HEADERS, 1, &core));
        let frames = decode_frames(&rewrite_client_bytes(&input).unwrap());
        assert!(
            frames[0]
                .3
                .contains(&(b":authority".to_vec(), b"localhost".to_vec()))
        );
    }

    #[test]
    fn the_authorities_h2_refuses() {
        // What grpc-core 1.85 sends for unix:/tmp/.tmpX/sock/cf.sock, and grpc-java's raw path.
        assert!(!valid_authority(b"tmp%2F.tmpX%2Fsock%2Fcf.sock"));
        assert!(!valid_authority(b"/var/run/cf.sock"));
        assert!(valid_authority(b"localhost"));
        assert!(valid_authority(b"127.0.0.1:50051"));
    }

    #[test]
    fn valid_authority_kept_and_other_bytes_untouched() {
        let mut enc = loona_hpack::Encoder::new();
        let b = enc.encode(vec![(&b":authority"[..], &b"localhost:50051"[..])]);
        let mut input = PREFACE.to_vec();
        input.extend(frame(HEADERS, END_HEADERS, 1, &b));
        // A later block, even one h2 will refuse, goes through as it came: the first block
        // decided that this connection needs no rewriting.
        let b2 = enc.encode(vec![(&b":authority"[..], &b"%2Fx"[..])]);
        input.extend(frame(HEADERS, END_HEADERS, 3, &b2));
        assert_eq!(rewrite_client_bytes(&input).unwrap(), input);
        // Not HTTP/2: untouched.
        let h1 = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(rewrite_client_bytes(h1).unwrap(), h1);
    }

    #[test]
    fn a_rewritten_long_header_list_is_split_into_continuation_frames() {
        let big = vec![b'a'; 20_000];
        let b = loona_hpack::Encoder::new().encode(vec![
            (&b":authority"[..], &b"%2Fs"[..]),
            (&b"x-big"[..], &big[..]),
        ]);
        let mut input = PREFACE.to_vec();
        input.extend(frame(HEADERS, 0, 1, &b[..10_000]));
        input.extend(frame(CONTINUATION, END_HEADERS, 1, &b[10_000..]));
        let out = rewrite_client_bytes(&input).unwrap();
        let frames = decode_frames(&out);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].3[0].1, b"localhost");
        assert_eq!(frames[0].3[1].1, big);
        let first_len =
            usize::from(out[24]) << 16 | usize::from(out[25]) << 8 | usize::from(out[26]);
        assert_eq!(first_len, MAX_FRAME);
    }

    #[test]
    fn empty_continuation_frames_do_not_grow_the_first_block_without_bound() {
        let mut input = PREFACE.to_vec();
        input.extend(frame(HEADERS, 0, 1, &[0x82]));
        for _ in 0..(2 * MAX_BLOCK / FRAME_HEADER_LEN + 1) {
            input.extend(frame(CONTINUATION, 0, 1, &[]));
        }
        assert!(rewrite_client_bytes(&input).is_err());
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        for payload in [
            vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // integer overflow
            vec![0xbf],                               // index out of range
            vec![0x3f, 0xff, 0xff, 0x7f],             // table size over 4096
            vec![0x00, 0x7f],                         // truncated string
        ] {
            let mut input = PREFACE.to_vec();
            input.extend(frame(HEADERS, END_HEADERS, 1, &payload));
            assert!(rewrite_client_bytes(&input).is_err(), "{payload:?}");
        }
        let mut input = PREFACE.to_vec();
        input.extend(frame(HEADERS, PADDED | END_HEADERS, 1, &[200, 1, 2]));
        assert!(rewrite_client_bytes(&input).is_err());
        let mut input = PREFACE.to_vec();
        input.extend(frame(CONTINUATION, END_HEADERS, 1, &[0x82]));
        assert!(rewrite_client_bytes(&input).is_err());
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(&[0x10, 0, 0, HEADERS, 0, 0, 0, 0, 1]);
        assert!(rewrite_client_bytes(&input).is_err(), "1 MiB header frame");
        // An indexed-field bomb: 4 KiB entry referenced 100 times per block.
        let mut enc = loona_hpack::Encoder::new();
        let v = vec![b'v'; 4000];
        let mut b = enc.encode(vec![(&b"x"[..], &v[..])]);
        b.extend(std::iter::repeat_n(0x80 | 62, 100));
        let mut input = PREFACE.to_vec();
        input.extend(frame(HEADERS, END_HEADERS, 1, &b));
        assert!(rewrite_client_bytes(&input).is_err());
    }
}
