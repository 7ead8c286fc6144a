import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { readDoc, REPO } from '../docs/markdown.js';

// docs/adapters.md is the SDK's reference: every member of the types an adapter author
// writes or reads has a row in the table under its heading, and nothing else does. The
// members are read from the declaration files the package publishes, which must declare
// these types within the SDK itself (an outsider cannot read internal paths).

const SDK_DTS = join(REPO, 'dist/src/sdk');
const DOCUMENTED = [
  'VolumeSpec', 'NodeIdentity', 'ParsedVolumeContext', 'ReplayVolume', 'ReplayStep',
  'KitOptions', 'ReplayOptions', 'AdapterKitOptions', 'PluginOptions',
] as const;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.d.ts') ? [path] : [];
  });
}

function memberNames(members: ts.NodeArray<ts.TypeElement>): string[] {
  return members.flatMap((member) => (member.name && (ts.isIdentifier(member.name) || ts.isStringLiteral(member.name)) ? [member.name.text] : []));
}

/** Each type's members as the SDK's declaration files declare them; a union of `kind`s gives `kind: fields`. */
function declared(): Map<string, { file: string; members: string[] }> {
  const found = new Map<string, { file: string; members: string[] }>();
  for (const file of files(SDK_DTS)) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    for (const statement of source.statements) {
      const where = relative(REPO, file);
      if (ts.isInterfaceDeclaration(statement)) found.set(statement.name.text, { file: where, members: memberNames(statement.members) });
      if (ts.isTypeAliasDeclaration(statement) && ts.isUnionTypeNode(statement.type)) {
        const kinds = statement.type.types.filter(ts.isTypeLiteralNode).map((literal) => {
          const kind = literal.members.find((member) => member.name && ts.isIdentifier(member.name) && member.name.text === 'kind') as ts.PropertySignature | undefined;
          const value = kind?.type && ts.isLiteralTypeNode(kind.type) && ts.isStringLiteral(kind.type.literal) ? kind.type.literal.text : '?';
          return `${value}: ${memberNames(literal.members).filter((name) => name !== 'kind').sort().join(', ')}`;
        });
        if (kinds.length > 0) found.set(statement.name.text, { file: where, members: kinds });
      }
    }
  }
  return found;
}

/** The rows of the table below the heading naming `type` (`### \`Type\``): first cells, or `kind: fields` for a union. */
function documented(doc: string, type: string): string[] | undefined {
  const lines = doc.split('\n');
  const start = lines.findIndex((line) => /^#{2,6} /.test(line) && line.includes(`\`${type}\``));
  if (start < 0) return undefined;
  const end = lines.findIndex((line, index) => index > start && /^#{1,6} /.test(line));
  const rows = lines.slice(start + 1, end < 0 ? undefined : end).filter((line) => line.startsWith('| `'));
  return rows.map((row) => {
    const cells = row.split('|').slice(1, -1).map((cell) => cell.trim());
    const name = /^`([^`]+)`/.exec(cells[0]!)![1]!.replace(/\?$/, '');
    if (type !== 'ReplayStep') return name;
    const fields = [...cells[1]!.matchAll(/`([^`]+)`/g)].map((match) => match[1]!.replace(/\?$/, '')).sort();
    return `${name}: ${fields.join(', ')}`;
  });
}

test('docs/adapters.md documents every member of the SDK\'s types and of the kit\'s options, declared within the SDK', (t) => {
  const doc = readDoc('docs/adapters.md');
  const types = declared();
  for (const type of DOCUMENTED) {
    const declaration = types.get(type);
    if (!declaration) {
      t.fail(`${type} is not declared in the SDK's declaration files (dist/src/sdk): an adapter author cannot read it`);
      continue;
    }
    const rows = documented(doc, type);
    if (!rows) {
      t.fail(`docs/adapters.md has no heading naming \`${type}\` (declared in ${declaration.file})`);
      continue;
    }
    t.deepEqual([...rows].sort(), [...declaration.members].sort(), `${type}: the table under its heading against ${declaration.file}`);
  }
});

test('the SDK entry\'s declarations name its types from the SDK\'s own files, not from internal paths', (t) => {
  const index = readFileSync(join(SDK_DTS, 'index.d.ts'), 'utf8');
  for (const type of ['OrchestratorAdapter', 'NodeIdentity', 'ParsedVolumeContext', 'VolumeSpec', 'ReplayStep', 'AdapterModule']) {
    const line = index.split('\n').find((candidate) => candidate.startsWith('export type') && new RegExp(`\\b${type}\\b`).test(candidate));
    t.regex(line ?? '', /from '\.\/[^/']+'/, `${type}: ${line ?? 'not exported as a type'}`);
  }
});
