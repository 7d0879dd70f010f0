/**
 * The Node version the README names is the one every installed package accepts: `package.json`'s `engines.node`,
 * the README's "You need Node N or later", the running Node, and the `engines.node` of every package under
 * node_modules/ (direct or transitive) agree. npm only warns (EBADENGINE) when a dependency needs a newer Node,
 * so this test is what keeps a Node-22-only package out of a project that promises Node 20.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Manifest {
  name?: string;
  version?: string;
  engines?: { node?: string };
}

/** Every package.json of an installed package under `dir` (a node_modules folder), nested ones included. */
function installedManifests(dir: string, found: Array<{ path: string; manifest: Manifest }> = []): typeof found {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      installedManifests(path, found);
      continue;
    }
    const manifestPath = join(path, 'package.json');
    if (existsSync(manifestPath)) {
      found.push({ path, manifest: JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest });
    }
    installedManifests(join(path, 'node_modules'), found);
  }
  return found;
}

const projectEngines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest).engines?.node ?? '';
const readmeMajor = /You need Node (\d+) or later/.exec(readFileSync(join(root, 'README.md'), 'utf8'))?.[1];

describe('Node version', () => {
  it('package.json engines and the README name the same oldest Node, and the running Node satisfies it', () => {
    expect(readmeMajor, 'README: "You need Node N or later"').toBeDefined();
    expect(semver.minVersion(projectEngines)?.major).toBe(Number(readmeMajor));
    expect(semver.satisfies(process.version, projectEngines)).toBe(true);
  });

  it('every installed package accepts the running Node (no EBADENGINE)', () => {
    const manifests = installedManifests(join(root, 'node_modules'));
    expect(manifests.length).toBeGreaterThan(50);
    const refusing = manifests
      .filter(({ manifest }) => manifest.engines?.node && semver.validRange(manifest.engines.node))
      .filter(({ manifest }) => !semver.satisfies(process.version, manifest.engines!.node!, { includePrerelease: true }))
      .map(({ path, manifest }) => `${path.slice(root.length)}@${manifest.version} needs node ${manifest.engines!.node}`);
    expect(refusing).toEqual([]);
  });
});
