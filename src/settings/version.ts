import { readFileSync } from 'node:fs';

/** nixmount's version, from package.json (dist/src/settings/ is three levels below it). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
