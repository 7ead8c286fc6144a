import hcl2 from 'hcl2-parser';

/** A file that is not valid HCL2; the message names the file and, when it can tell, the line. */
export class HclParseError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: not valid HCL: ${detail}`);
    this.name = 'HclParseError';
  }
}

export type HclBody = Record<string, unknown>;

/**
 * Parses HCL2 text into hcl2json's JSON shape (labelled blocks are maps of arrays,
 * unlabelled blocks arrays, expressions stay text). hcl2-parser reports failures
 * without a message, so a small scan of braces and quotes points at the likely line.
 */
export function parseHcl(text: string, file: string): HclBody {
  let result: [unknown, unknown];
  try {
    result = hcl2.parseToObject(text) as [unknown, unknown];
  } catch (error) {
    throw new HclParseError(file, error instanceof Error ? error.message : String(error));
  }
  const [body, error] = result;
  if (error || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HclParseError(file, locateProblem(text) ?? 'check braces, quotes and that each attribute is on its own line');
  }
  return body as HclBody;
}

/** Finds an unclosed `{`, a stray `}` or an unterminated string; undefined when the structure looks fine. */
function locateProblem(text: string): string | undefined {
  const open: number[] = [];
  const lines = text.split('\n');
  let heredoc: string | undefined;
  for (const [index, line] of lines.entries()) {
    const lineNo = index + 1;
    if (heredoc !== undefined) {
      if (line.trim() === heredoc) heredoc = undefined;
      continue;
    }
    let inString = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '#' || (c === '/' && line[i + 1] === '/')) break;
      if (c === '"') inString = true;
      else if (c === '{') open.push(lineNo);
      else if (c === '}' && open.pop() === undefined) return `line ${lineNo}: "}" closes no block`;
      else if (c === '<' && line[i + 1] === '<') {
        const match = /^<<-?([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(line.slice(i));
        if (match) {
          heredoc = match[1];
          break;
        }
      }
    }
    if (inString) return `line ${lineNo}: string not closed on its line`;
  }
  if (heredoc !== undefined) return `heredoc <<${heredoc} is never closed`;
  if (open.length > 0) return `line ${open[open.length - 1]}: "{" is never closed`;
  return undefined;
}

/** Labelled blocks (`job "x" { … }`) as [label, body] pairs; hcl2json nests them as { label: [body, …] }. */
export function labelledBlocks(body: HclBody, type: string): Array<[string, HclBody]> {
  const value = body[type];
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([label, bodies]) =>
    (Array.isArray(bodies) ? bodies : [bodies]).map((b) => [label, b as HclBody] as [string, HclBody]),
  );
}

/** Unlabelled blocks (`capability { … }`) as a list of bodies. */
export function blocks(body: HclBody, type: string): HclBody[] {
  const value = body[type];
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).filter((b): b is HclBody => typeof b === 'object' && b !== null);
}

export function stringAttr(body: HclBody, name: string): string | undefined {
  const value = body[name];
  return typeof value === 'string' ? value : undefined;
}
