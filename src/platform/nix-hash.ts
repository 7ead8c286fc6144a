/**
 * A Nix hash (`narHash` and the like) as the lowercase hex digest other tools want.
 * Nix writes one of: SRI `sha256-<base64>` (path-info of Nix 2.4 and later), or
 * `sha256:<digest>` with the digest in Nix's own base-32, base-16 or base-64 (older
 * Nix, and `nix hash` output). The encoding is told apart by length, as Nix does.
 */

/** Digest bytes of the algorithms Nix hashes with. */
const DIGEST_BYTES = { md5: 16, sha1: 20, sha256: 32, sha512: 64 } as const;

export type NixHashAlgorithm = keyof typeof DIGEST_BYTES;

/** Nix's base-32 alphabet: digits and lowercase letters without e, o, u, t. */
const NIX32 = '0123456789abcdfghijklmnpqrsvwxyz';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface HexDigest {
  algorithm: NixHashAlgorithm;
  hex: string;
}

/** The hex digest of `hash`, or undefined when it is no hash Nix writes (unknown algorithm, wrong length, a stray character). */
export function nixHashToHex(hash: string): HexDigest | undefined {
  const match = /^(md5|sha1|sha256|sha512)([-:])(.+)$/.exec(hash);
  if (!match) return undefined;
  const algorithm = match[1] as NixHashAlgorithm;
  const size = DIGEST_BYTES[algorithm];
  const digest = match[3]!;
  // SRI is always base-64; the `alg:` form says its encoding by its length only.
  const bytes =
    match[2] === '-'
      ? fromBase64(digest, size)
      : digest.length === size * 2
        ? fromBase16(digest)
        : digest.length === Math.ceil((size * 8) / 5)
          ? fromNix32(digest, size)
          : fromBase64(digest, size);
  return bytes && { algorithm, hex: bytes.toString('hex') };
}

function fromBase16(text: string): Buffer | undefined {
  return /^[0-9a-fA-F]*$/.test(text) ? Buffer.from(text, 'hex') : undefined;
}

function fromBase64(text: string, size: number): Buffer | undefined {
  if (text.length !== Math.ceil(size / 3) * 4 || !BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === size ? bytes : undefined;
}

/**
 * Nix's base-32 is little-endian from the last character: character n (counted from
 * the end) holds bits 5n…5n+4 of the digest. Bits past the digest's end must be zero.
 */
function fromNix32(text: string, size: number): Buffer | undefined {
  const bytes = Buffer.alloc(size);
  for (let n = 0; n < text.length; n++) {
    const digit = NIX32.indexOf(text[text.length - n - 1]!);
    if (digit < 0) return undefined;
    const bit = n * 5;
    const i = Math.floor(bit / 8);
    const j = bit % 8;
    bytes[i]! |= (digit << j) & 0xff;
    const carry = digit >> (8 - j);
    if (i < size - 1) bytes[i + 1]! |= carry;
    else if (carry !== 0) return undefined;
  }
  return bytes;
}
