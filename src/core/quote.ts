/**
 * Bounded quoting of user input in messages. A status message that quotes a 1 MB
 * value is never delivered by grpc-js (it exceeds the client's header limit) and
 * stalls every other call on the connection, which kubelet shares per driver.
 */

/** At most this many characters of one value appear in a message. */
export const QUOTE_MAX_CHARS = 256;
/** At most this many entries of a list appear in a message. */
export const LIST_MAX_ENTRIES = 10;

/** UTF-8 length of `text`, without encoding it (values may be megabytes). */
export function utf8Length(text: string): number {
  let total = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) total += 1;
    else if (code < 0x800) total += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        total += 4;
        i += 1;
      } else total += 3;
    } else total += 3;
  }
  return total;
}

const byteLength = utf8Length;

/** The first `max` characters of `text`, never splitting a surrogate pair. */
function head(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/**
 * `value` in double quotes with control characters escaped (JSON style, so a NUL shows as
 * \u0000); when longer than `max` characters it is cut and the cut says what was left out:
 * `"abc…" (1048576 bytes, 1048320 not shown)`.
 */
export function quote(value: string, max = QUOTE_MAX_CHARS): string {
  const shown = head(value, max);
  if (shown.length === value.length) return JSON.stringify(value);
  const total = byteLength(value);
  const hidden = total - byteLength(shown);
  return `${JSON.stringify(shown).slice(0, -1)}…" (${total} bytes, ${hidden} not shown)`;
}

/** At most `max` entries, each quoted, then "and N more". */
export function quoteList(values: readonly string[], max = LIST_MAX_ENTRIES): string {
  const shown = values.slice(0, max).map((value) => quote(value));
  const rest = values.length - shown.length;
  return rest > 0 ? `${shown.join(', ')} and ${rest} more` : shown.join(', ');
}

/**
 * Cuts a whole message to at most `maxBytes` UTF-8 bytes, marking the cut. The last
 * resort at the gRPC edge, for messages built from input nobody bounded.
 */
export function boundMessage(message: string, maxBytes: number): string {
  const total = byteLength(message);
  if (total <= maxBytes) return message;
  const marker = (hidden: number) => `… (message cut: ${total} bytes, ${hidden} not shown)`;
  // The marker is at most ~60 bytes; keep characters while the total fits.
  const room = maxBytes - byteLength(marker(total));
  let keep = Math.min(message.length, room);
  let kept = head(message, keep);
  while (byteLength(kept) > room && keep > 0) {
    keep = Math.max(0, keep - Math.ceil((byteLength(kept) - room) / 4) - 1);
    kept = head(message, keep);
  }
  return `${kept}${marker(total - byteLength(kept))}`;
}
