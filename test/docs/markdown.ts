// Just enough Markdown for the docs tests: fenced code blocks, ATX headings with
// GitHub's anchors, and links. Not a Markdown parser; what it reads is what the
// docs use, and test/docs/markdown.test.ts pins each rule.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** The word in a fence's info string that marks a block the docs test runs. */
export const RUNNABLE = 'runnable';

export interface FencedBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** First word of the info string (the language), '' when none. */
  lang: string;
  /** The other words of the info string, e.g. ['runnable']. */
  attributes: string[];
  /** The block's text, its fence's indentation removed. */
  body: string;
}

export interface Link {
  line: number;
  target: string;
}

const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})(.*)$/;

interface Fence {
  line: number;
  indent: number;
  marker: string;
  info: string;
  lines: string[];
}

/** Splits text into fenced blocks and the prose lines outside them (1-based line numbers). */
function scan(text: string): { blocks: FencedBlock[]; prose: Array<{ line: number; text: string }> } {
  const blocks: FencedBlock[] = [];
  const prose: Array<{ line: number; text: string }> = [];
  let open: Fence | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (open) {
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(raw);
      if (close && close[1]![0] === open.marker[0] && close[1]!.length >= open.marker.length) {
        const [lang = '', ...attributes] = open.info.trim().split(/\s+/).filter((word) => word !== '');
        blocks.push({ line: open.line, lang, attributes, body: open.lines.join('\n') });
        open = undefined;
      } else {
        const indent = Math.min(open.indent, /^\s*/.exec(raw)![0].length);
        open.lines.push(raw.slice(indent));
      }
      return;
    }
    const fence = FENCE_OPEN.exec(raw);
    // A backtick fence's info string cannot hold a backtick (CommonMark); such a line is inline code.
    if (fence && !(fence[2]![0] === '`' && fence[3]!.includes('`'))) {
      open = { line, indent: fence[1]!.length, marker: fence[2]!, info: fence[3]!, lines: [] };
      return;
    }
    prose.push({ line, text: raw });
  });
  if (open) throw new Error(`line ${open.line}: fence ${open.marker} is never closed`);
  return { blocks, prose };
}

export function fencedBlocks(text: string): FencedBlock[] {
  return scan(text).blocks;
}

export function isRunnable(block: FencedBlock): boolean {
  return block.attributes.includes(RUNNABLE);
}

/** Inline code spans removed, so `[a](b)` written as code is not a link. */
function withoutCodeSpans(text: string): string {
  return text.replace(/(`+)[\s\S]*?\1/g, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** Every anchor a file's headings give, duplicates numbered as GitHub does (x, x-1, x-2). */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text: line } of scan(text).prose) {
    const heading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Inline links and images, and reference definitions, outside code. */
export function links(text: string): Link[] {
  const result: Link[] = [];
  for (const { line, text: raw } of scan(text).prose) {
    const prose = withoutCodeSpans(raw);
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*(?:<([^>]*)>|([^)\s]*))(?:\s+"[^"]*")?\s*\)/g)) {
      result.push({ line, target: match[1] ?? match[2]! });
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(prose);
    if (definition) result.push({ line, target: definition[1]! });
  }
  return result;
}

/** A link this repository can check: no scheme (http:, mailto:…), not protocol-relative. */
export function isRelative(target: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('//');
}

/** The Markdown files the docs tests cover, relative to the repository: README.md and docs/*.md. */
export function docFiles(): string[] {
  const docs = readdirSync(join(REPO, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

export function readDoc(file: string): string {
  return readFileSync(join(REPO, file), 'utf8');
}
